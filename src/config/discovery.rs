//! `[discovery]`: `GET /discover-orchestrators`, go-livepeer's
//! `-remoteDiscovery` (spec §4). Off unless the section is present.
//!
//! ```toml
//! [discovery]
//! orchestrators = ["https://orch-1.example.com:8935"]  # go-livepeer -orchAddr, or:
//! # webhook_url = "https://discovery.example.com/orchestrators"  # -orchWebhookUrl
//! # neither: the on-chain pool (BondingManager + ServiceRegistry, needs [chain])
//! refresh_interval_s = 1500      # -liveAICapReportInterval
//! extra_nodes = 0                # -extraNodes
//! max_price_per_unit = "1/3"     # optional; else the [payments] ceilings
//! timeout_ms = 3000              # one orchestrator's GetOrchestrator call
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::payments::de_opt_price;
use super::Invalid;
use crate::livepeer::payment::Rat;

/// `[discovery]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// A static list of orchestrator service URIs (go-livepeer `-orchAddr`).
    /// `host:port` without a scheme means `https://host:port`.
    #[serde(default)]
    pub orchestrators: Vec<String>,
    /// An orchestrator webhook (go-livepeer `-orchWebhookUrl`): `GET` answers
    /// `[{"address": "https://…", "score": …}]`.
    pub webhook_url: Option<String>,
    /// How long a non-empty snapshot is served before it is rebuilt, seconds
    /// (go-livepeer `-liveAICapReportInterval`, 25 min).
    #[serde(default = "default_refresh_interval_s")]
    pub refresh_interval_s: u64,
    /// How many of the nodes an orchestrator advertises (`OrchestratorInfo.nodes`)
    /// are polled too (go-livepeer `-extraNodes`).
    #[serde(default)]
    pub extra_nodes: u32,
    /// The price ceiling of discovery, wei per unit (integer or `"a/b"`):
    /// when set it is the only one; else `[payments]` `max_price_per_capability`
    /// with `max_price_per_unit` as fallback.
    #[serde(default, deserialize_with = "de_opt_price")]
    pub max_price_per_unit: Option<Rat>,
    /// Time one orchestrator's `GetOrchestrator` call may take, connection
    /// included, in milliseconds (go-livepeer: 3000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_refresh_interval_s() -> u64 {
    1500
}
fn default_timeout_ms() -> u64 {
    3000
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            orchestrators: Vec::new(),
            webhook_url: None,
            refresh_interval_s: default_refresh_interval_s(),
            extra_nodes: 0,
            max_price_per_unit: None,
            timeout_ms: default_timeout_ms(),
        }
    }
}

/// Where the candidate orchestrators come from (go-livepeer's precedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoverySource {
    /// `webhook_url`.
    Webhook,
    /// `orchestrators`.
    Static,
    /// BondingManager's pool with ServiceRegistry URIs (needs `[chain]`).
    Chain,
}

impl DiscoverySource {
    /// `webhook`, `static` or `chain` (metrics and audit lines).
    pub fn as_str(self) -> &'static str {
        match self {
            DiscoverySource::Webhook => "webhook",
            DiscoverySource::Static => "static",
            DiscoverySource::Chain => "chain",
        }
    }
}

impl DiscoveryConfig {
    /// The source in use: the webhook, else the static list, else the chain.
    pub fn source(&self) -> DiscoverySource {
        if self.webhook_url.is_some() {
            DiscoverySource::Webhook
        } else if !self.orchestrators.is_empty() {
            DiscoverySource::Static
        } else {
            DiscoverySource::Chain
        }
    }

    /// Every URI parses, the interval and timeout are > 0, and the two
    /// explicit sources are not both set (one of them would be ignored).
    /// Whether the chain source has a `[chain]` is checked by the caller.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.webhook_url.is_some() && !self.orchestrators.is_empty() {
            return Err(Invalid::new(
                "[discovery]: set `orchestrators` or `webhook_url`, not both (go-livepeer would use the webhook and ignore the list)",
            ));
        }
        if let Some(url) = &self.webhook_url {
            crate::livepeer::discovery::http_url(url).map_err(|e| {
                Invalid::new(format!(
                    "[discovery] webhook_url = {url:?}: {e}; give e.g. \"https://discovery.example.com/orchestrators\""
                ))
            })?;
        }
        for (i, text) in self.orchestrators.iter().enumerate() {
            crate::livepeer::discovery::candidate_uri(text).map_err(|e| {
                Invalid::new(format!(
                    "[discovery] orchestrators[{i}] = {text:?}: {e}; give e.g. \"https://orch.example.com:8935\""
                ))
            })?;
        }
        if self.refresh_interval_s == 0 {
            return Err(Invalid::new(
                "[discovery] refresh_interval_s must be > 0 (go-livepeer's default is 1500)",
            ));
        }
        if self.timeout_ms == 0 {
            return Err(Invalid::new("[discovery] timeout_ms must be > 0 (default 3000)"));
        }
        Ok(())
    }

    /// `refresh_interval_s`.
    pub fn refresh_interval(&self) -> Duration {
        Duration::from_secs(self.refresh_interval_s)
    }

    /// `timeout_ms`.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DiscoveryConfig, String> {
        let c: DiscoveryConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_are_go_livepeers() {
        let c = parse("").unwrap();
        assert_eq!(c, DiscoveryConfig::default());
        assert_eq!(c.refresh_interval(), Duration::from_secs(1500));
        assert_eq!(c.timeout(), Duration::from_secs(3));
        assert_eq!(c.source(), DiscoverySource::Chain);
    }

    #[test]
    fn sources_in_go_livepeers_order() {
        let c = parse("orchestrators = [\"orch.example.com:8935\"]").unwrap();
        assert_eq!(c.source(), DiscoverySource::Static);
        let c = parse("webhook_url = \"http://127.0.0.1:9/o\"").unwrap();
        assert_eq!(c.source(), DiscoverySource::Webhook);
    }

    #[test]
    fn bad_values_are_named() {
        for (text, needle) in [
            (
                "orchestrators = [\"https://a:1\"]\nwebhook_url = \"https://b/\"",
                "not both",
            ),
            ("webhook_url = \"discovery\"", "not an absolute URL"),
            ("webhook_url = \"ftp://x/\"", "is not http or https"),
            ("orchestrators = [\"https://\"]", "orchestrators[0]"),
            ("orchestrators = [\"ftp://o:1\"]", "orchestrators[0]"),
            ("refresh_interval_s = 0", "refresh_interval_s must be > 0"),
            ("timeout_ms = 0", "timeout_ms must be > 0"),
            ("max_price_per_unit = 0.5", "float"),
            ("max_price_per_unit = \"0\"", "not positive"),
            ("pool = 1", "unknown field"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
