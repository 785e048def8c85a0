//! Typed configuration: a TOML file (or the embedded development default)
//! plus environment overrides `LIVEPEER_SIGNER__<SECTION>__<KEY>`.
//!
//! Keys are spelled the same in TOML, in environment overrides and in the
//! docs: `[key.keystore] password_file` is `LIVEPEER_SIGNER__KEY__KEYSTORE__PASSWORD_FILE`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use serde::{Deserialize, Deserializer};

use crate::eth::Address;

mod discovery;
mod key;
mod payments;

pub use crate::access::{AuthConfig, Scope, TokenConfig};
pub use discovery::{DiscoveryConfig, DiscoverySource};
pub use key::{
    AwsKmsConfig, BackendKind, KeyConfig, KeySelector, KeystoreConfig, Pkcs11Config, TokenSelector,
};
pub use payments::{
    pipeline_capability, CapabilityPrice, PaymentsConfig, WebhookConfig, WebhookHeadersError, PIPELINES,
};

/// The embedded development default: identical to `config/livepeer-signer.toml`.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/livepeer-signer.toml");

/// Environment variable prefix for overrides (followed by `__`).
pub const ENV_PREFIX: &str = "LIVEPEER_SIGNER";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`
    #[serde(default)]
    pub server: ServerConfig,
    /// `[key]`
    pub key: KeyConfig,
    /// `[log]`
    #[serde(default)]
    pub log: LogConfig,
    /// `[auth]`
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[health]`
    #[serde(default)]
    pub health: HealthConfig,
    /// `[web3signer]`
    #[serde(default)]
    pub web3signer: Web3SignerConfig,
    /// `[chain]`: the Ethereum JSON-RPC node and the Livepeer contracts.
    /// Without it, payments and the deposit commands are off.
    pub chain: Option<crate::chain::ChainConfig>,
    /// `[admin]`: the CLI-API-compatible listener for deposit management
    /// (needs `[chain]`). Off unless present.
    pub admin: Option<AdminConfig>,
    /// `[payments]`: limits, ceilings and the auth webhook of
    /// `/generate-live-payment` (on whenever `[chain]` is set; defaults are
    /// go-livepeer's).
    pub payments: Option<PaymentsConfig>,
    /// `[discovery]`: `GET /discover-orchestrators` (go-livepeer's
    /// `-remoteDiscovery`). Off unless present.
    pub discovery: Option<DiscoveryConfig>,
}

/// `[admin]`: a listener compatible with the subset of go-livepeer's CLI
/// HTTP API that clearinghouses use to fund a sender.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Socket address; go-livepeer's CLI port for a signer node is 3935.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
}

fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3935))
}

/// `[server]`: where and how the HTTP API listens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Socket address, e.g. `127.0.0.1:8935` (go-livepeer's default port).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Serve `/metrics` on this separate address instead of `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// HTTP worker threads; 0 = one per CPU core.
    #[serde(default)]
    pub workers: usize,
    /// Maximum open connections in total (spread over the workers).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Largest request body accepted; larger gets `413`.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Time a client has to send the request head, in milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Idle keep-alive time, in seconds (0 disables keep-alive).
    #[serde(default = "default_keep_alive_s")]
    pub keep_alive_s: u64,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    #[serde(default = "default_shutdown_timeout_s")]
    pub shutdown_timeout_s: u64,
    /// `[server.tls]`: serve HTTPS (and optionally require client certificates).
    pub tls: Option<TlsConfig>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8935))
}
fn default_max_connections() -> usize {
    1024
}
fn default_body_limit() -> usize {
    64 * 1024
}
fn default_request_timeout_ms() -> u64 {
    5000
}
fn default_keep_alive_s() -> u64 {
    75
}
fn default_shutdown_timeout_s() -> u64 {
    30
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            metrics_listen: None,
            workers: 0,
            max_connections: default_max_connections(),
            body_limit_bytes: default_body_limit(),
            request_timeout_ms: default_request_timeout_ms(),
            keep_alive_s: default_keep_alive_s(),
            shutdown_timeout_s: default_shutdown_timeout_s(),
            tls: None,
        }
    }
}

/// `[server.tls]`: PEM files, re-read on SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA bundle (PEM). When set, clients must present a certificate it signed (mTLS).
    pub client_ca_file: Option<PathBuf>,
}

/// `[web3signer]`: the Web3Signer-compatible `eth_*` API and its signing policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Web3SignerConfig {
    /// Serve `POST /` (JSON-RPC), `/upcheck`, `/api/v1/eth1/*`. Off by default.
    #[serde(default)]
    pub enabled: bool,
    /// Chains `eth_signTransaction` may sign for (empty: none).
    #[serde(default)]
    pub chain_ids: Vec<u64>,
    /// Allowed recipients of transactions (empty: any).
    #[serde(default)]
    pub allowed_to: Vec<Address>,
    /// Largest `value` per transaction, in wei (a decimal string in TOML).
    #[serde(default, deserialize_with = "de_wei")]
    pub max_value_wei: U256,
    /// Allow transactions without `to` (contract creation).
    #[serde(default)]
    pub allow_contract_creation: bool,
    /// Enable `POST /api/v1/eth1/sign/{identifier}` (signs any hash).
    #[serde(default)]
    pub allow_raw_sign: bool,
}

/// A decimal number of wei, given as a string (TOML integers cannot hold 2^256).
pub(crate) fn de_wei<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
    let s = String::deserialize(d)?;
    crate::eth::units::parse_wei(&s).map_err(|_| {
        serde::de::Error::custom(format!(
            "{s:?} is not a decimal number of wei, e.g. \"1000000000000000000\" for 1 ETH"
        ))
    })
}

impl Default for Web3SignerConfig {
    fn default() -> Self {
        Web3SignerConfig {
            enabled: false,
            chain_ids: Vec::new(),
            allowed_to: Vec::new(),
            max_value_wei: U256::ZERO,
            allow_contract_creation: false,
            allow_raw_sign: false,
        }
    }
}

/// `[health]`: the background backend probe behind `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Seconds between probes.
    #[serde(default = "default_probe_interval_s")]
    pub probe_interval_s: u64,
    /// Time a probe may take before it counts as failed, in milliseconds.
    #[serde(default = "default_probe_timeout_ms")]
    pub probe_timeout_ms: u64,
}

fn default_probe_interval_s() -> u64 {
    10
}
fn default_probe_timeout_ms() -> u64 {
    5000
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            probe_interval_s: default_probe_interval_s(),
            probe_timeout_ms: default_probe_timeout_ms(),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `trace`, `debug`, `info`, `warn`, `error`, or a `tracing` filter
    /// directive such as `info,livepeer_signer=debug`. `RUST_LOG` wins if set.
    #[serde(default = "default_level")]
    pub level: String,
    /// `text` (human) or `json` (one object per line).
    #[serde(default)]
    pub format: LogFormat,
}

fn default_level() -> String {
    "info".into()
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_level(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The development default compiled into the binary.
    Embedded,
    /// A file given with `--config` / `LIVEPEER_SIGNER_CONFIG`.
    File(PathBuf),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Embedded => f.write_str("the embedded development config"),
            ConfigSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A broken config rule: the message names the section and key and says
/// what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

impl Invalid {
    /// A broken rule, described.
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }
}

/// A configuration that cannot be used. The message names the source, the
/// key and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("config error in {source_name}: {message}")]
pub struct ConfigError {
    source_name: String,
    message: String,
}

impl ConfigError {
    fn new(source: &ConfigSource, message: impl Into<String>) -> Self {
        ConfigError {
            source_name: source.to_string(),
            message: message.into(),
        }
    }
}

impl Config {
    /// Loads `path` (or the embedded default when `None`), applies
    /// `LIVEPEER_SIGNER__…` overrides from the process environment, and
    /// validates the result.
    pub fn load(path: Option<&Path>) -> Result<(Config, ConfigSource), ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// [`Config::load`] with an explicit environment (for tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, ConfigSource), ConfigError> {
        let (text, source) = match path {
            Some(p) => {
                let src = ConfigSource::File(p.to_path_buf());
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ConfigError::new(
                        &src,
                        format!("cannot read the file: {e}; check --config / LIVEPEER_SIGNER_CONFIG"),
                    )
                })?;
                (text, src)
            }
            None => (EMBEDDED_DEFAULT.to_string(), ConfigSource::Embedded),
        };
        let config = Self::from_toml_with_env(&text, &source, env)?;
        Ok((config, source))
    }

    /// Parses TOML text, applies overrides from `env`, validates.
    pub fn from_toml_with_env(
        text: &str,
        source: &ConfigSource,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        // Parse with `toml` first: its errors carry line and column.
        toml::from_str::<toml::Value>(text)
            .map_err(|e| ConfigError::new(source, format!("invalid TOML: {e}")))?;

        let prefix = format!("{ENV_PREFIX}__");
        let overrides: config::Map<String, String> =
            env.into_iter().filter(|(k, _)| k.starts_with(&prefix)).collect();
        let overridden: Vec<String> = overrides.keys().cloned().collect();
        let built = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .source(Some(overrides)),
            )
            .build()
            .map_err(|e| ConfigError::new(source, e.to_string()))?;
        let config: Config = built.try_deserialize().map_err(|e| {
            let mut msg = describe_serde_error(&e.to_string());
            if !overridden.is_empty() {
                msg.push_str(&format!(
                    " (environment overrides in effect: {})",
                    overridden.join(", ")
                ));
            }
            ConfigError::new(source, msg)
        })?;
        config
            .validate()
            .map_err(|m| ConfigError::new(source, m.to_string()))?;
        Ok(config)
    }

    /// Every section's rules (those serde cannot express). The key
    /// backends, the admin commands and `check --offline` rely on these.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.key.validate()?;
        self.server.validate()?;
        self.auth.validate()?;
        self.health.validate()?;
        self.log.validate()?;
        if let Some(chain) = &self.chain {
            chain.validate().map_err(|e| Invalid::new(e.to_string()))?;
        }
        if let Some(payments) = &self.payments {
            if self.chain.is_none() {
                return Err(Invalid::new(
                    "[payments] needs [chain]: payments read the sender's deposit, reserve and rounds from the chain; add [chain] rpc_url",
                ));
            }
            payments.validate()?;
        }
        if let Some(discovery) = &self.discovery {
            discovery.validate()?;
            if discovery.source() == DiscoverySource::Chain && self.chain.is_none() {
                return Err(Invalid::new(
                    "[discovery] without `orchestrators` or `webhook_url` reads the on-chain pool (BondingManager and ServiceRegistry), which needs [chain] rpc_url; add [chain] or list the orchestrators",
                ));
            }
        }
        if let Some(admin) = &self.admin {
            if self.chain.is_none() {
                return Err(Invalid::new(
                    "[admin] needs [chain]: its routes read the sender info and send TicketBroker transactions; add [chain] rpc_url",
                ));
            }
            let taken = [Some(self.server.listen), self.server.metrics_listen];
            if admin.listen.port() != 0 && taken.contains(&Some(admin.listen)) {
                return Err(Invalid::new(format!(
                    "[admin] listen = {} is already [server] listen or metrics_listen: give the admin listener its own address",
                    admin.listen
                )));
            }
        }
        Ok(())
    }
}

impl ServerConfig {
    /// Non-zero limits; a separate metrics listener differs from `listen`.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.max_connections == 0 {
            return Err(Invalid::new("[server] max_connections must be > 0"));
        }
        if self.body_limit_bytes == 0 {
            return Err(Invalid::new("[server] body_limit_bytes must be > 0"));
        }
        if self.request_timeout_ms == 0 {
            return Err(Invalid::new("[server] request_timeout_ms must be > 0"));
        }
        if self.metrics_listen == Some(self.listen) && self.listen.port() != 0 {
            return Err(Invalid::new("[server] metrics_listen must differ from listen (or be left out to serve /metrics on listen)"));
        }
        Ok(())
    }
}

impl HealthConfig {
    /// Non-zero interval and timeout.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.probe_interval_s == 0 || self.probe_timeout_ms == 0 {
            return Err(Invalid::new(
                "[health] probe_interval_s and probe_timeout_ms must be > 0",
            ));
        }
        Ok(())
    }
}

impl LogConfig {
    /// An ASCII `tracing` filter.
    pub fn validate(&self) -> Result<(), Invalid> {
        // tracing-subscriber 0.3's directive parser panics on some non-ASCII
        // input (it slices at a fixed byte index): refuse it here instead.
        if !self.level.is_ascii() || self.level.chars().any(|c| c.is_ascii_control()) {
            return Err(Invalid::new(format!(
                "[log] level = {:?}: only ASCII is allowed; use trace, debug, info, warn, error or a filter such as \"info,livepeer_signer=debug\"",
                self.level
            )));
        }
        tracing_subscriber::EnvFilter::try_new(&self.level).map_err(|e| {
            Invalid::new(format!(
                "[log] level = {:?} is not a valid filter: {e}; use trace, debug, info, warn or error",
                self.level
            ))
        })?;
        Ok(())
    }
}

/// Adds what is allowed to the `config` crate's terse serde messages.
fn describe_serde_error(msg: &str) -> String {
    let mut out = msg.to_string();
    if msg.contains("missing configuration field") {
        out.push_str(
            "; add it to the file (see config/*.example.toml) or set it with a LIVEPEER_SIGNER__… variable",
        );
    }
    if msg.contains("invalid socket address") {
        out.push_str(
            "; give IP:PORT, e.g. \"127.0.0.1:8935\" or \"[::1]:8935\" (host names are not resolved)",
        );
    }
    if msg.contains("key.backend") {
        out.push_str("; allowed backends: keystore, pkcs11, aws-kms");
    }
    if msg.contains("log.format") {
        out.push_str("; allowed formats: text, json");
    }
    if msg.contains("unknown field") {
        out.push_str("; check the spelling against config/*.example.toml");
    }
    out
}
