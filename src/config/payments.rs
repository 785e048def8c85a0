//! `[payments]`: the limits and ceilings of `POST /generate-live-payment`
//! (go-livepeer's `-maxTicketEV`, `-maxTotalEV`, `-depositMultiplier`,
//! `-maxPricePerUnit` / `-pixelsPerUnit`, `-maxPricePerCapability`,
//! `-remoteSignerWebhookUrl` / `-remoteSignerWebhookHeaders`).
//!
//! ```toml
//! [payments]                          # on when [chain] is configured
//! max_ticket_ev = "3000000000000"     # wei
//! max_total_ev = "20000000000000"     # wei per request
//! deposit_multiplier = 1
//! max_price_per_unit = "1/3"          # optional: wei per unit, integer or "a/b"
//!
//! [[payments.max_price_per_capability]]
//! pipeline = "live-video-to-video"
//! model = "default"
//! price_per_unit = 1
//! pixels_per_unit = 1
//!
//! [payments.webhook]
//! url = "https://auth.example.com/authorize"
//! headers_file = "/etc/livepeer-signer/webhook-headers"
//! timeout_ms = 5000
//! ```

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Duration;

use alloy_primitives::U256;
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer};

use super::{de_wei, Invalid};
use crate::livepeer::payment::params::{DEFAULT_MAX_TICKET_EV_WEI, DEFAULT_MAX_TOTAL_EV_WEI};
use crate::livepeer::payment::{Limits, Rat};
use crate::secret::{self, SecretError};

/// `[payments]`. Every key is optional; the defaults are go-livepeer's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Largest accepted EV of one ticket, wei (decimal string).
    #[serde(default = "default_max_ticket_ev", deserialize_with = "de_wei")]
    pub max_ticket_ev: U256,
    /// Largest accepted EV of one request's tickets, wei (decimal string).
    #[serde(default = "default_max_total_ev", deserialize_with = "de_wei")]
    pub max_total_ev: U256,
    /// A ticket's face value may be at most `deposit / deposit_multiplier`.
    #[serde(default = "default_deposit_multiplier")]
    pub deposit_multiplier: NonZeroU64,
    /// Global price ceiling, wei per unit (an integer, or `"a/b"`).
    #[serde(default, deserialize_with = "de_opt_price")]
    pub max_price_per_unit: Option<Rat>,
    /// `[[payments.max_price_per_capability]]`
    #[serde(default)]
    pub max_price_per_capability: Vec<CapabilityPrice>,
    /// `[payments.webhook]`: the auth webhook asked before anything is signed.
    pub webhook: Option<WebhookConfig>,
    /// A file of 32+ random bytes shared by every replica: new states then
    /// carry an HMAC-SHA256 tag instead of a signature by the key (one key
    /// operation less per continuing payment; go-livepeer signers cannot
    /// read such states). Off by default.
    pub state_mac_key_file: Option<PathBuf>,
}

fn default_max_ticket_ev() -> U256 {
    U256::from(DEFAULT_MAX_TICKET_EV_WEI)
}
fn default_max_total_ev() -> U256 {
    U256::from(DEFAULT_MAX_TOTAL_EV_WEI)
}
fn default_deposit_multiplier() -> NonZeroU64 {
    NonZeroU64::MIN
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            max_ticket_ev: default_max_ticket_ev(),
            max_total_ev: default_max_total_ev(),
            deposit_multiplier: default_deposit_multiplier(),
            max_price_per_unit: None,
            max_price_per_capability: Vec::new(),
            webhook: None,
            state_mac_key_file: None,
        }
    }
}

/// One `[[payments.max_price_per_capability]]` entry: the ceiling for a
/// (pipeline, model) pair, `price_per_unit / pixels_per_unit` wei per unit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityPrice {
    /// go-livepeer pipeline name (`live-video-to-video`, `text-to-image`, …).
    pub pipeline: String,
    /// Model id; `"default"` covers every model of the pipeline without its own entry.
    pub model: String,
    /// Wei (an integer, or `"a/b"`), > 0.
    #[serde(deserialize_with = "de_price")]
    pub price_per_unit: Rat,
    /// Units the price is for (default 1), > 0.
    #[serde(default = "one", deserialize_with = "de_price")]
    pub pixels_per_unit: Rat,
}

fn one() -> Rat {
    Rat::from_integer(1)
}

/// `[payments.webhook]`: go-livepeer's remote-signer auth webhook. `Debug`
/// shows header names only (their values may be credentials).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Absolute `http://` or `https://` URL; it receives `POST {"headers", "state"}`.
    pub url: String,
    /// Headers sent with every call (may hold credentials: prefer `headers_file`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A file of `Name: value` lines, one header each (read at startup and on
    /// SIGHUP is not supported: restart to change it).
    pub headers_file: Option<PathBuf>,
    /// Time a webhook call may take, in milliseconds (go-livepeer: 5000).
    #[serde(default = "default_webhook_timeout_ms")]
    pub timeout_ms: u64,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("headers_file", &self.headers_file)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

fn default_webhook_timeout_ms() -> u64 {
    5000
}

/// go-livepeer's pipeline names and capability ids (`core.Capability`):
/// `PipelineToCapability` matches `"Live video to video"` etc.; the wire
/// carries the id.
pub const PIPELINES: [(&str, u32); 11] = [
    ("text-to-image", 27),
    ("image-to-image", 28),
    ("image-to-video", 29),
    ("upscale", 30),
    ("audio-to-text", 31),
    ("segment-anything-2", 32),
    ("llm", 33),
    ("image-to-text", 34),
    ("live-video-to-video", 35),
    ("text-to-speech", 36),
    ("byoc", 37),
];

/// The capability id of a go-livepeer pipeline name.
pub fn pipeline_capability(pipeline: &str) -> Option<u32> {
    PIPELINES.iter().find(|(p, _)| *p == pipeline).map(|(_, id)| *id)
}

fn parse_price(text: &str) -> Result<Rat, String> {
    let r = Rat::parse(text.trim()).map_err(|e| e.to_string())?;
    if !r.is_positive() {
        return Err(format!("{text:?} is not positive"));
    }
    Ok(r)
}

/// An integer or a `"a/b"` / decimal string, > 0.
fn de_price<'de, D: Deserializer<'de>>(d: D) -> Result<Rat, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Text(String),
        Float(f64),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Int(i) => i.to_string(),
        Raw::Text(s) => s,
        Raw::Float(f) => {
            return Err(serde::de::Error::custom(format!(
                "{f} is a float: floats are inexact; write the price as a string, e.g. \"1/2\" or \"0.5\""
            )))
        }
    };
    parse_price(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "{e}: give a positive number of wei, an integer or a string such as \"1/3\""
        ))
    })
}

pub(crate) fn de_opt_price<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Rat>, D::Error> {
    de_price(d).map(Some)
}

/// Why the webhook headers cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebhookHeadersError {
    /// The file cannot be read.
    #[error("[payments.webhook] headers_file: {0}")]
    File(SecretError),
    /// A line is not `Name: value`.
    #[error("[payments.webhook] headers_file {file}: line {line} is not `Name: value`")]
    Line {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// A name or value HTTP cannot carry.
    #[error("[payments.webhook] header {name:?}: not a valid HTTP header name or value")]
    Invalid {
        /// The header name.
        name: String,
    },
}

impl WebhookConfig {
    /// The URL (absolute http/https), the timeout (> 0), at most one header source.
    pub fn validate(&self) -> Result<(), Invalid> {
        let parsed = url::Url::parse(&self.url).map_err(|e| {
            Invalid::new(format!(
                "[payments.webhook] url = {:?} is not an absolute URL ({e}); give e.g. \"https://auth.example.com/authorize\"",
                self.url
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(Invalid::new(format!(
                "[payments.webhook] url = {:?}: only http:// and https:// URLs with a host are allowed",
                self.url
            )));
        }
        if self.timeout_ms == 0 {
            return Err(Invalid::new("[payments.webhook] timeout_ms must be > 0"));
        }
        if !self.headers.is_empty() && self.headers_file.is_some() {
            return Err(Invalid::new(
                "[payments.webhook]: set `headers` or `headers_file`, not both",
            ));
        }
        for name in self.headers.keys() {
            check_header(name, "x")?;
        }
        Ok(())
    }

    /// `http://` to a host that is not a loopback address or `localhost`.
    pub fn is_plain_http_off_loopback(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.url) else {
            return false;
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        url.scheme() == "http" && !loopback
    }

    /// The call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The headers to send: `headers`, or the `Name: value` lines of
    /// `headers_file` (blank lines and `#` comments skipped). Values are
    /// secrets: errors name the file and line, never a value.
    pub fn load_headers(&self) -> Result<Vec<(String, String)>, WebhookHeadersError> {
        let Some(file) = &self.headers_file else {
            return self
                .headers
                .iter()
                .map(|(k, v)| {
                    check_header(k, v).map_err(|_| WebhookHeadersError::Invalid { name: k.clone() })?;
                    Ok((k.clone(), v.clone()))
                })
                .collect();
        };
        let text = secret::read_file(file).map_err(WebhookHeadersError::File)?;
        let mut out = Vec::new();
        for (i, line) in text.expose_secret().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(WebhookHeadersError::Line {
                    file: file.display().to_string(),
                    line: i + 1,
                });
            };
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            check_header(&name, &value).map_err(|_| WebhookHeadersError::Invalid { name: name.clone() })?;
            out.push((name, value));
        }
        Ok(out)
    }
}

fn check_header(name: &str, value: &str) -> Result<(), Invalid> {
    let ok = reqwest_alloy::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && reqwest_alloy::header::HeaderValue::from_str(value).is_ok();
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(format!(
            "[payments.webhook] header {name:?}: not a valid HTTP header name or value"
        )))
    }
}

impl PaymentsConfig {
    /// Limits > 0, known pipelines, one entry per (pipeline, model), a valid webhook.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.max_ticket_ev.is_zero() || self.max_total_ev.is_zero() {
            return Err(Invalid::new(
                "[payments] max_ticket_ev and max_total_ev must be > 0 wei (go-livepeer defaults: \"3000000000000\" and \"20000000000000\")",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.max_price_per_capability.iter().enumerate() {
            let at = format!("[[payments.max_price_per_capability]] #{}", i + 1);
            if pipeline_capability(&c.pipeline).is_none() {
                let known: Vec<&str> = PIPELINES.iter().map(|(p, _)| *p).collect();
                return Err(Invalid::new(format!(
                    "{at}: pipeline = {:?} is not a go-livepeer pipeline; use one of {}",
                    c.pipeline,
                    known.join(", ")
                )));
            }
            if c.model.trim().is_empty() {
                return Err(Invalid::new(format!(
                    "{at}: model is empty; give a model id or \"default\""
                )));
            }
            if !seen.insert((c.pipeline.as_str(), c.model.as_str())) {
                return Err(Invalid::new(format!(
                    "{at}: pipeline {:?} model {:?} is listed twice",
                    c.pipeline, c.model
                )));
            }
        }
        if let Some(w) = &self.webhook {
            w.validate()?;
        }
        Ok(())
    }

    /// The ticket-validation limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_ticket_ev: Rat::from_u256(self.max_ticket_ev),
            max_total_ev: Rat::from_u256(self.max_total_ev),
            deposit_multiplier: self.deposit_multiplier,
        }
    }

    /// The configured ceiling for the request's capabilities (go-livepeer
    /// `GetCapabilitiesMaxPrice`): the sum over every (capability, model)
    /// pair of its entry (model-specific, else the pipeline's `"default"`);
    /// when that sum is 0 (no pairs, no entries), the global
    /// `max_price_per_unit`. `None`: no ceiling.
    pub fn max_price_for<'a>(&self, pairs: impl IntoIterator<Item = (u32, &'a str)>) -> Option<Rat> {
        let mut sum = Rat::zero();
        for (cap, model) in pairs {
            let entries = self
                .max_price_per_capability
                .iter()
                .filter(|c| pipeline_capability(&c.pipeline) == Some(cap));
            let mut default = None;
            let mut exact = None;
            for e in entries {
                if e.model == model {
                    exact = Some(e);
                } else if e.model == "default" {
                    default = Some(e);
                }
            }
            if let Some(price) = exact
                .or(default)
                .and_then(|e| &e.price_per_unit / &e.pixels_per_unit)
            {
                sum = &sum + &price;
            }
        }
        if sum.is_zero() {
            self.max_price_per_unit.clone()
        } else {
            Some(sum)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PaymentsConfig, String> {
        toml::from_str::<PaymentsConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_go_livepeers() {
        let c = parse("").unwrap();
        assert_eq!(c, PaymentsConfig::default());
        assert_eq!(c.limits(), Limits::default());
        assert_eq!(c.max_price_for([]), None);
    }

    #[test]
    fn prices_integer_or_fraction() {
        let c = parse(
            "max_price_per_unit = \"1/3\"\n\
             [[max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"default\"\nprice_per_unit = 200\n\
             [[max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"m2\"\nprice_per_unit = \"7/2\"\npixels_per_unit = 7\n\
             [[max_price_per_capability]]\npipeline = \"text-to-image\"\nmodel = \"sd\"\nprice_per_unit = 5\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.max_price_for([]), Some(Rat::parse("1/3").unwrap()));
        // Model-specific first, else the pipeline default; summed over pairs.
        assert_eq!(c.max_price_for([(35, "m1")]), Some(Rat::from_integer(200)));
        assert_eq!(c.max_price_for([(35, "m2")]), Some(Rat::parse("1/2").unwrap()));
        assert_eq!(
            c.max_price_for([(35, "m2"), (27, "sd")]),
            Some(Rat::parse("11/2").unwrap())
        );
        // No entry for text-to-image/other: the sum is 0 → the global ceiling.
        assert_eq!(c.max_price_for([(27, "other")]), Some(Rat::parse("1/3").unwrap()));
    }

    #[test]
    fn bad_values_are_named() {
        for (text, needle) in [
            ("max_price_per_unit = \"-1\"", "not positive"),
            ("max_price_per_unit = \"abc\"", "not a number"),
            ("max_ticket_ev = \"1.5\"", "not a decimal number of wei"),
            ("deposit_multiplier = 0", "nonzero"),
            ("bogus = 1", "unknown field"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        for (text, needle) in [
            (
                "[[max_price_per_capability]]\npipeline = \"live-video\"\nmodel = \"default\"\nprice_per_unit = 1",
                "not a go-livepeer pipeline",
            ),
            (
                "[[max_price_per_capability]]\npipeline = \"llm\"\nmodel = \"a\"\nprice_per_unit = 1\n[[max_price_per_capability]]\npipeline = \"llm\"\nmodel = \"a\"\nprice_per_unit = 2",
                "listed twice",
            ),
            ("[webhook]\nurl = \"auth.example.com\"", "not an absolute URL"),
            ("[webhook]\nurl = \"ftp://auth.example.com\"", "only http://"),
            ("[webhook]\nurl = \"http://a\"\ntimeout_ms = 0", "timeout_ms"),
            (
                "[webhook]\nurl = \"http://a\"\nheaders_file = \"/x\"\nheaders = { A = \"b\" }",
                "not both",
            ),
            ("[webhook]\nurl = \"http://a\"\nheaders = { \"A B\" = \"b\" }", "not a valid HTTP header"),
            ("max_total_ev = \"0\"", "must be > 0"),
        ] {
            let e = parse(text).unwrap().validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn debug_hides_header_values() {
        let c = parse(
            "[webhook]\nurl = \"http://127.0.0.1:1/a\"\nheaders = { Authorization = \"Bearer s3cret\" }",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("Authorization") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn headers_file_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("h");
        std::fs::write(
            &f,
            "# comment\nAuthorization: Bearer abc\n\nX-API-Key:secret:with:colons\n",
        )
        .unwrap();
        let w = WebhookConfig {
            url: "http://127.0.0.1:1/a".into(),
            headers: BTreeMap::new(),
            headers_file: Some(f.clone()),
            timeout_ms: 5000,
        };
        assert_eq!(
            w.load_headers().unwrap(),
            vec![
                ("Authorization".to_string(), "Bearer abc".to_string()),
                ("X-API-Key".to_string(), "secret:with:colons".to_string())
            ]
        );
        std::fs::write(&f, "Authorization Bearer abc\n").unwrap();
        let e = w.load_headers().unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("abc"), "{e}");
    }
}
