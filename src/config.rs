//! Typed configuration: a TOML file (or the embedded development default)
//! plus environment overrides `LIVEPEER_SIGNER__<SECTION>__<KEY>`.
//!
//! Keys are spelled the same in TOML, in environment overrides and in the
//! docs: `[key.keystore] password_file` is `LIVEPEER_SIGNER__KEY__KEYSTORE__PASSWORD_FILE`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::eth::Address;

/// The embedded development default: identical to `config/livepeer-signer.toml`.
pub const EMBEDDED_DEFAULT: &str = include_str!("../config/livepeer-signer.toml");

/// Environment variable prefix for overrides (followed by `__`).
pub const ENV_PREFIX: &str = "LIVEPEER_SIGNER";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
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
}

/// `[server]`: where and how the HTTP API listens.
#[derive(Debug, Clone, Deserialize)]
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

/// `[auth]`: bearer tokens for the signing endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Allow serving without tokens on a non-loopback address.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// `[[auth.tokens]]`
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

/// One `[[auth.tokens]]` entry: a name and the token's SHA-256 or a file holding the token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Shown in logs and metrics (never the token).
    pub name: String,
    /// Hex SHA-256 of the token.
    pub sha256: Option<String>,
    /// File holding the token (surrounding whitespace trimmed).
    pub file: Option<PathBuf>,
    /// What the token may do; default `["orchestrator-info"]`.
    pub scopes: Option<Vec<Scope>>,
}

/// A permission a bearer token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Scope {
    /// `POST /sign-orchestrator-info`.
    #[serde(rename = "orchestrator-info")]
    OrchestratorInfo,
    /// JSON-RPC `eth_sign` (EIP-191 personal messages: tickets, payment state).
    #[serde(rename = "eth_sign")]
    EthSign,
    /// JSON-RPC `eth_signTypedData` / `eth_signTypedData_v4` (EIP-712).
    #[serde(rename = "eth_signTypedData")]
    EthSignTypedData,
    /// JSON-RPC `eth_signTransaction`.
    #[serde(rename = "eth_signTransaction")]
    EthSignTransaction,
    /// `POST /api/v1/eth1/sign/{identifier}`: any 32-byte hash.
    #[serde(rename = "raw_sign")]
    RawSign,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] = [
        Scope::OrchestratorInfo,
        Scope::EthSign,
        Scope::EthSignTypedData,
        Scope::EthSignTransaction,
        Scope::RawSign,
    ];

    /// The spelling used in config and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrchestratorInfo => "orchestrator-info",
            Scope::EthSign => "eth_sign",
            Scope::EthSignTypedData => "eth_signTypedData",
            Scope::EthSignTransaction => "eth_signTransaction",
            Scope::RawSign => "raw_sign",
        }
    }
}

/// `[web3signer]`: the Web3Signer-compatible `eth_*` API and its signing policy.
#[derive(Debug, Clone, Deserialize)]
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
    /// Largest `value` per transaction, in wei, as a decimal string.
    #[serde(default = "default_max_value_wei")]
    pub max_value_wei: String,
    /// Allow transactions without `to` (contract creation).
    #[serde(default)]
    pub allow_contract_creation: bool,
    /// Enable `POST /api/v1/eth1/sign/{identifier}` (signs any hash).
    #[serde(default)]
    pub allow_raw_sign: bool,
}

fn default_max_value_wei() -> String {
    "0".into()
}

impl Default for Web3SignerConfig {
    fn default() -> Self {
        Web3SignerConfig {
            enabled: false,
            chain_ids: Vec::new(),
            allowed_to: Vec::new(),
            max_value_wei: default_max_value_wei(),
            allow_contract_creation: false,
            allow_raw_sign: false,
        }
    }
}

/// `[health]`: the background backend probe behind `/readyz`.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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

/// `[key]`: which backend holds the Ethereum key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// `keystore`, `pkcs11` or `aws-kms`.
    pub backend: BackendKind,
    /// Refuse to start unless the backend's key has this address (pins the
    /// identity against a repointed KMS alias or a relabelled HSM key).
    pub expected_address: Option<Address>,
    /// `[key.keystore]`
    pub keystore: Option<KeystoreConfig>,
    /// `[key.pkcs11]`
    pub pkcs11: Option<Pkcs11Config>,
    /// `[key.aws_kms]`
    pub aws_kms: Option<AwsKmsConfig>,
}

/// The key backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BackendKind {
    /// A geth/go-livepeer V3 keystore file or directory.
    #[serde(rename = "keystore")]
    Keystore,
    /// A PKCS#11 token (HSM).
    #[serde(rename = "pkcs11")]
    Pkcs11,
    /// An AWS KMS `ECC_SECG_P256K1` key.
    #[serde(rename = "aws-kms")]
    AwsKms,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Keystore => "keystore",
            BackendKind::Pkcs11 => "pkcs11",
            BackendKind::AwsKms => "aws-kms",
        })
    }
}

/// `[key.keystore]`: a Web3 Secret Storage (V3) key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreConfig {
    /// A V3 key file, or a directory in geth layout.
    pub path: PathBuf,
    /// Which key of a directory to use; default: the first by file name.
    pub address: Option<Address>,
    /// File holding the password (surrounding whitespace is trimmed).
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// Create a key (and a random password file, mode 0600) when `path`
    /// holds none. For development only.
    #[serde(default)]
    pub create_if_missing: bool,
}

/// `[key.pkcs11]`: a key inside a PKCS#11 token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// Path of the vendor's PKCS#11 module (`.so`).
    pub module: PathBuf,
    /// Token label (one of `token_label` / `slot`).
    pub token_label: Option<String>,
    /// Slot id (one of `token_label` / `slot`).
    pub slot: Option<u64>,
    /// `CKA_LABEL` of the key (with or instead of `key_id`).
    pub key_label: Option<String>,
    /// `CKA_ID` of the key as hex (with or instead of `key_label`).
    pub key_id: Option<String>,
    /// File holding the user PIN (surrounding whitespace is trimmed).
    pub pin_file: Option<PathBuf>,
    /// Environment variable holding the user PIN.
    pub pin_env: Option<String>,
    /// Number of logged-in sessions in the pool.
    #[serde(default = "default_sessions")]
    pub sessions: usize,
}

fn default_sessions() -> usize {
    4
}

/// `[key.aws_kms]`: an AWS KMS `ECC_SECG_P256K1` / `SIGN_VERIFY` key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKmsConfig {
    /// Key id, key ARN, or alias (`alias/…`, logged as a warning).
    pub key_id: String,
    /// Region; default: the SDK's region chain.
    pub region: Option<String>,
    /// Endpoint override (VPC/FIPS endpoints, emulators).
    pub endpoint_url: Option<String>,
    /// Named profile from the shared AWS config files.
    pub profile: Option<String>,
    /// TCP connect timeout.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Whole-operation timeout, retries included.
    #[serde(default = "default_operation_timeout_ms")]
    pub operation_timeout_ms: u64,
    /// Attempts per operation (1 = no retry).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_connect_timeout_ms() -> u64 {
    3000
}
fn default_operation_timeout_ms() -> u64 {
    10_000
}
fn default_max_attempts() -> u32 {
    3
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
        config.validate().map_err(|m| ConfigError::new(source, m))?;
        Ok(config)
    }

    /// Cross-field rules that serde cannot express.
    fn validate(&self) -> Result<(), String> {
        let k = &self.key;
        match k.backend {
            BackendKind::Keystore => {
                let ks = k
                    .keystore
                    .as_ref()
                    .ok_or("[key] backend = \"keystore\" needs a [key.keystore] section with `path` and `password_file` or `password_env`")?;
                match (&ks.password_file, &ks.password_env) {
                    (Some(_), Some(_)) => {
                        return Err("[key.keystore]: set only one of `password_file` and `password_env`".into())
                    }
                    (None, None) => {
                        return Err("[key.keystore]: set `password_file` (a file holding the password) or `password_env` (a variable holding it)".into())
                    }
                    _ => {}
                }
                if ks.create_if_missing && ks.password_env.is_some() {
                    return Err("[key.keystore]: `create_if_missing = true` writes a random password and needs `password_file`, not `password_env`".into());
                }
            }
            BackendKind::Pkcs11 => {
                let p = k
                    .pkcs11
                    .as_ref()
                    .ok_or("[key] backend = \"pkcs11\" needs a [key.pkcs11] section")?;
                match (&p.token_label, &p.slot) {
                    (Some(_), Some(_)) => {
                        return Err("[key.pkcs11]: set only one of `token_label` and `slot`".into())
                    }
                    (None, None) => {
                        return Err(
                            "[key.pkcs11]: set `token_label` (preferred: slot ids can change) or `slot`"
                                .into(),
                        )
                    }
                    _ => {}
                }
                if p.key_label.is_none() && p.key_id.is_none() {
                    return Err("[key.pkcs11]: set `key_label`, `key_id` (hex CKA_ID), or both".into());
                }
                if let Some(id) = &p.key_id {
                    crate::eth::hex::decode(id)
                        .map_err(|e| format!("[key.pkcs11] key_id = {id:?} is not hex: {e}"))?;
                }
                match (&p.pin_file, &p.pin_env) {
                    (Some(_), Some(_)) => return Err("[key.pkcs11]: set only one of `pin_file` and `pin_env`".into()),
                    (None, None) => return Err("[key.pkcs11]: set `pin_file` (a file holding the user PIN) or `pin_env` (a variable holding it)".into()),
                    _ => {}
                }
                if p.sessions == 0 || p.sessions > 256 {
                    return Err(format!(
                        "[key.pkcs11] sessions = {}: allowed 1 to 256",
                        p.sessions
                    ));
                }
            }
            BackendKind::AwsKms => {
                let a = k
                    .aws_kms
                    .as_ref()
                    .ok_or("[key] backend = \"aws-kms\" needs a [key.aws_kms] section with `key_id`")?;
                if a.key_id.trim().is_empty() {
                    return Err("[key.aws_kms] key_id is empty: give the key id or ARN".into());
                }
                if a.max_attempts == 0 || a.max_attempts > 10 {
                    return Err(format!(
                        "[key.aws_kms] max_attempts = {}: allowed 1 to 10",
                        a.max_attempts
                    ));
                }
                if a.connect_timeout_ms == 0 || a.operation_timeout_ms == 0 {
                    return Err(
                        "[key.aws_kms]: connect_timeout_ms and operation_timeout_ms must be > 0".into(),
                    );
                }
                if let Some(url) = &a.endpoint_url {
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(format!("[key.aws_kms] endpoint_url = {url:?}: must start with https:// (or http:// for a local emulator)"));
                    }
                }
            }
        }
        self.validate_server()?;
        // tracing-subscriber 0.3's directive parser panics on some non-ASCII
        // input (it slices at a fixed byte index): refuse it here instead.
        if !self.log.level.is_ascii() || self.log.level.chars().any(|c| c.is_ascii_control()) {
            return Err(format!(
                "[log] level = {:?}: only ASCII is allowed; use trace, debug, info, warn, error or a filter such as \"info,livepeer_signer=debug\"",
                self.log.level
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            format!(
                "[log] level = {:?} is not a valid filter: {e}; use trace, debug, info, warn or error",
                self.log.level
            )
        })?;
        Ok(())
    }
}

impl Config {
    fn validate_server(&self) -> Result<(), String> {
        let s = &self.server;
        if s.max_connections == 0 {
            return Err("[server] max_connections must be > 0".into());
        }
        if s.body_limit_bytes == 0 {
            return Err("[server] body_limit_bytes must be > 0".into());
        }
        if s.request_timeout_ms == 0 {
            return Err("[server] request_timeout_ms must be > 0".into());
        }
        if s.metrics_listen == Some(s.listen) && s.listen.port() != 0 {
            return Err("[server] metrics_listen must differ from listen (or be left out to serve /metrics on listen)".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, t) in self.auth.tokens.iter().enumerate() {
            let at = format!("[[auth.tokens]] #{} (name = {:?})", i + 1, t.name);
            if t.name.trim().is_empty() {
                return Err(format!(
                    "{at}: `name` is empty; it identifies the token in logs and metrics"
                ));
            }
            if !names.insert(t.name.as_str()) {
                return Err(format!("{at}: the name is used twice; names must be unique"));
            }
            match (&t.sha256, &t.file) {
                (Some(_), Some(_)) => return Err(format!("{at}: set only one of `sha256` and `file`")),
                (None, None) => {
                    return Err(format!(
                        "{at}: set `sha256` (hex SHA-256 of the token, see `livepeer-signer token new`) or `file`"
                    ))
                }
                (Some(h), None) => {
                    crate::eth::hex::decode_array::<32>(h)
                        .map_err(|e| format!("{at}: sha256 must be 64 hex digits: {e}"))?;
                }
                (None, Some(_)) => {}
            }
        }
        let w = &self.web3signer;
        if w.max_value_wei.is_empty()
            || !w.max_value_wei.bytes().all(|b| b.is_ascii_digit())
            || w.max_value_wei.len() > 78
        {
            return Err(format!(
                "[web3signer] max_value_wei = {:?}: a decimal number of wei, e.g. \"1000000000000000000\" for 1 ETH",
                w.max_value_wei
            ));
        }
        if self.health.probe_interval_s == 0 || self.health.probe_timeout_ms == 0 {
            return Err("[health] probe_interval_s and probe_timeout_ms must be > 0".into());
        }
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
