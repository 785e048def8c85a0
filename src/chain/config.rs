//! `[chain]`: where the chain is and how often it is read.
//!
//! ```toml
//! [chain]
//! rpc_url = "https://arb1.arbitrum.io/rpc"
//! controller = "0xD8E8328501E9645d16Cf49539efC04f734606ee4"
//! chain_id = 42161
//! poll_interval_ms = 5000
//! request_timeout_ms = 20000
//! max_staleness_ms = 60000
//! ```

use std::time::Duration;

use alloy_primitives::{address, Address};
use serde::Deserialize;

/// Livepeer's Controller on Arbitrum One (the default `controller`).
pub const ARBITRUM_ONE_CONTROLLER: Address = address!("D8E8328501E9645d16Cf49539efC04f734606ee4");

/// Chain ids whose blocks carry an Arbitrum `l1BlockNumber` (Arbitrum One,
/// Arbitrum Sepolia): a block without one is an error there.
pub const ARBITRUM_CHAIN_IDS: [u64; 2] = [42161, 421614];

/// The `[chain]` section.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Ethereum JSON-RPC endpoint, `http://` or `https://`. It may embed an
    /// API key; errors and logs show it through [`ChainConfig::redacted_rpc_url`].
    pub rpc_url: String,
    /// Livepeer Controller address (default: Arbitrum One's).
    #[serde(default = "default_controller")]
    pub controller: Address,
    /// When set, refuse to run if the node reports another chain id.
    #[serde(default)]
    pub chain_id: Option<u64>,
    /// When set, the TicketBroker the Controller names must be this address:
    /// reads and deposit transactions are refused otherwise (pins the
    /// contract that funds are sent to against a lying node; a Livepeer
    /// upgrade then needs this key updated).
    #[serde(default)]
    pub ticket_broker: Option<Address>,
    /// How often the chain is read (go-livepeer's `-blockPollingInterval`).
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Per-request timeout for every JSON-RPC call.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// A chain view older than this is stale: payments are refused and
    /// `/readyz` answers 503.
    #[serde(default = "default_max_staleness_ms")]
    pub max_staleness_ms: u64,
}

fn default_controller() -> Address {
    ARBITRUM_ONE_CONTROLLER
}
fn default_poll_interval_ms() -> u64 {
    5000
}
fn default_request_timeout_ms() -> u64 {
    20000
}
fn default_max_staleness_ms() -> u64 {
    60000
}

/// A `[chain]` value that cannot be used; names the key and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[chain] {key}: {problem}")]
pub struct ChainConfigError {
    /// The offending key, as spelled in TOML.
    pub key: &'static str,
    /// What is wrong and what is allowed.
    pub problem: String,
}

fn bad(key: &'static str, problem: impl Into<String>) -> ChainConfigError {
    ChainConfigError {
        key,
        problem: problem.into(),
    }
}

/// `rpc_url` is shown redacted: its path and query may hold an API key.
impl std::fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainConfig")
            .field("rpc_url", &self.redacted_rpc_url())
            .field("controller", &self.controller)
            .field("chain_id", &self.chain_id)
            .field("ticket_broker", &self.ticket_broker)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("max_staleness_ms", &self.max_staleness_ms)
            .finish()
    }
}

impl ChainConfig {
    /// A config for `rpc_url` with every other key at its default.
    pub fn new(rpc_url: impl Into<String>) -> ChainConfig {
        ChainConfig {
            rpc_url: rpc_url.into(),
            controller: default_controller(),
            chain_id: None,
            ticket_broker: None,
            poll_interval_ms: default_poll_interval_ms(),
            request_timeout_ms: default_request_timeout_ms(),
            max_staleness_ms: default_max_staleness_ms(),
        }
    }

    /// Checks every key; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ChainConfigError> {
        self.parsed_rpc_url()?;
        if self.controller == Address::ZERO {
            return Err(bad(
                "controller",
                "must be a non-zero address (the Livepeer Controller contract)",
            ));
        }
        if self.ticket_broker == Some(Address::ZERO) {
            return Err(bad(
                "ticket_broker",
                "must be the TicketBroker's non-zero address, or be left out",
            ));
        }
        if self.chain_id == Some(0) {
            return Err(bad(
                "chain_id",
                "must be a positive chain id (e.g. 42161 for Arbitrum One), or be left out",
            ));
        }
        if !(100..=3_600_000).contains(&self.poll_interval_ms) {
            return Err(bad(
                "poll_interval_ms",
                format!(
                    "{} is out of range: allowed 100 to 3600000 (milliseconds)",
                    self.poll_interval_ms
                ),
            ));
        }
        if !(100..=600_000).contains(&self.request_timeout_ms) {
            return Err(bad(
                "request_timeout_ms",
                format!(
                    "{} is out of range: allowed 100 to 600000 (milliseconds)",
                    self.request_timeout_ms
                ),
            ));
        }
        if self.max_staleness_ms <= self.poll_interval_ms || self.max_staleness_ms > 86_400_000 {
            return Err(bad(
                "max_staleness_ms",
                format!(
                    "{} must be greater than poll_interval_ms ({}) and at most 86400000, or every view would be stale",
                    self.max_staleness_ms, self.poll_interval_ms
                ),
            ));
        }
        Ok(())
    }

    /// The parsed `rpc_url` (checked: `http` or `https`, with a host).
    pub fn parsed_rpc_url(&self) -> Result<url::Url, ChainConfigError> {
        let url = url::Url::parse(&self.rpc_url).map_err(|e| {
            bad(
                "rpc_url",
                format!("not a URL ({e}); expected http(s)://host[:port]/path"),
            )
        })?;
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(bad(
                    "rpc_url",
                    format!(
                        "scheme `{other}` is not supported: allowed http:// or https:// (JSON-RPC over HTTP)"
                    ),
                ))
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("rpc_url", "has no host; expected http(s)://host[:port]/path"));
        }
        Ok(url)
    }

    /// `rpc_url` without path, query or credentials (`https://host:port`),
    /// for errors and logs: RPC URLs often carry an API key.
    pub fn redacted_rpc_url(&self) -> String {
        match url::Url::parse(&self.rpc_url) {
            Ok(u) => match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
                (Some(h), None) => format!("{}://{h}", u.scheme()),
                _ => "<invalid rpc_url>".into(),
            },
            Err(_) => "<invalid rpc_url>".into(),
        }
    }

    /// `poll_interval_ms` as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// `request_timeout_ms` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// `max_staleness_ms` as a duration.
    pub fn max_staleness(&self) -> Duration {
        Duration::from_millis(self.max_staleness_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c: ChainConfig = toml::from_str("rpc_url = \"https://arb1.arbitrum.io/rpc\"").unwrap();
        assert_eq!(c, ChainConfig::new("https://arb1.arbitrum.io/rpc"));
        assert_eq!(c.controller, ARBITRUM_ONE_CONTROLLER);
        assert_eq!(
            (c.poll_interval_ms, c.request_timeout_ms, c.max_staleness_ms),
            (5000, 20000, 60000)
        );
        assert_eq!(c.chain_id, None);
        c.validate().unwrap();
        let e = toml::from_str::<ChainConfig>("rpc_url = \"http://x\"\npoll_interval = 1").unwrap_err();
        assert!(e.to_string().contains("unknown field `poll_interval`"), "{e}");
    }

    #[test]
    fn the_documented_section() {
        let c: ChainConfig = toml::from_str(
            r#"
rpc_url = "https://arb1.arbitrum.io/rpc"
controller = "0xD8E8328501E9645d16Cf49539efC04f734606ee4"
chain_id = 42161
poll_interval_ms = 5000
request_timeout_ms = 20000
max_staleness_ms = 60000
"#,
        )
        .unwrap();
        let mut expected = ChainConfig::new("https://arb1.arbitrum.io/rpc");
        expected.chain_id = Some(42161);
        assert_eq!(c, expected);
        c.validate().unwrap();
        assert_eq!(c.poll_interval(), Duration::from_secs(5));
        assert_eq!(c.request_timeout(), Duration::from_secs(20));
        assert_eq!(c.max_staleness(), Duration::from_secs(60));
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = ChainConfig::new("ws://127.0.0.1:8545");
        assert_eq!(c.validate().unwrap_err().key, "rpc_url");
        c.rpc_url = "not a url".into();
        assert_eq!(c.validate().unwrap_err().key, "rpc_url");
        c.rpc_url = "http://127.0.0.1:8545".into();
        c.validate().unwrap();
        c.controller = Address::ZERO;
        assert_eq!(c.validate().unwrap_err().key, "controller");
        c.controller = ARBITRUM_ONE_CONTROLLER;
        c.chain_id = Some(0);
        assert_eq!(c.validate().unwrap_err().key, "chain_id");
        c.chain_id = Some(42161);
        c.max_staleness_ms = 5000;
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "max_staleness_ms");
        assert!(
            e.to_string()
                .starts_with("[chain] max_staleness_ms: 5000 must be greater"),
            "{e}"
        );
        c.max_staleness_ms = 60000;
        c.poll_interval_ms = 0;
        assert_eq!(c.validate().unwrap_err().key, "poll_interval_ms");
        c.poll_interval_ms = 5000;
        c.request_timeout_ms = 0;
        assert_eq!(c.validate().unwrap_err().key, "request_timeout_ms");
    }

    #[test]
    fn redaction_drops_path_and_credentials() {
        let c = ChainConfig::new("https://user:pw@arb-mainnet.example.com/v2/SECRETKEY?x=1");
        assert_eq!(c.redacted_rpc_url(), "https://arb-mainnet.example.com");
        let c = ChainConfig::new("http://127.0.0.1:8545/");
        assert_eq!(c.redacted_rpc_url(), "http://127.0.0.1:8545");
    }
}
