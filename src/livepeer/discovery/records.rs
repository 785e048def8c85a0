//! Runner records: an orchestrator's `GET /discovery` answer (go-livepeer
//! `ai/runner.LiveRunnerDiscoveryRunner`), how each record is checked
//! (spec §4.3), and how a kept record is written back out. Only the fields
//! modelled here are ever re-emitted; anything else an orchestrator sends
//! is dropped.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::livepeer::payment::state::go_json_string;
use crate::livepeer::payment::Rat;

/// Largest `metadata`, bytes (go-livepeer `maxMetadataBytes`).
pub const MAX_METADATA_BYTES: usize = 1024;

/// One `{address, runners}` element of a `/discovery` answer. Other fields
/// (`score`, `capabilities`, …) are ignored, as go-livepeer does.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Entry {
    /// A node's service URI.
    #[serde(default, deserialize_with = "nullable")]
    pub address: String,
    /// Its runners.
    #[serde(default, deserialize_with = "nullable")]
    pub runners: Vec<Runner>,
}

/// A runner's GPU.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Gpu {
    /// `id`
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// `name`
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `vram_mb`
    #[serde(default, deserialize_with = "nullable")]
    pub vram_mb: i64,
}

/// A runner's price: `price` is a JSON number kept as written (Go's
/// `json.Number`), `""` when absent or null.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PriceInfo {
    /// The number literal.
    #[serde(default, deserialize_with = "json_number")]
    pub price: String,
    /// `currency`
    #[serde(default, deserialize_with = "nullable")]
    pub currency: String,
    /// `unit`
    #[serde(default, deserialize_with = "nullable")]
    pub unit: String,
}

/// One runner record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Runner {
    /// `url`: the orchestrator's proxy URL for this runner.
    #[serde(default, deserialize_with = "nullable")]
    pub url: String,
    /// `gpu`
    #[serde(default)]
    pub gpu: Option<Gpu>,
    /// `app`: `pipeline/model`, becomes a capability.
    #[serde(default, deserialize_with = "nullable")]
    pub app: String,
    /// `version`
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// `metadata`
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: String,
    /// `mode`
    #[serde(default, deserialize_with = "nullable")]
    pub mode: String,
    /// `capacity`
    #[serde(default, deserialize_with = "nullable")]
    pub capacity: i64,
    /// `capacity_used`
    #[serde(default, deserialize_with = "nullable")]
    pub capacity_used: i64,
    /// `capacity_available`
    #[serde(default, deserialize_with = "nullable")]
    pub capacity_available: i64,
    /// `price_info`
    #[serde(default)]
    pub price_info: Option<PriceInfo>,
}

/// Go leaves a field at its zero value for JSON `null`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Go's `json.Number`: a number literal, or a string holding one (the
/// string's content is kept); `null` is `""`. Anything else fails the
/// whole document, as it does in Go.
fn json_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = Option::<Box<RawValue>>::deserialize(d)?;
    let Some(raw) = raw else {
        return Ok(String::new());
    };
    let text = raw.get();
    if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(serde::de::Error::custom)?;
        if !is_number_literal(&s) {
            return Err(serde::de::Error::custom(format!(
                "invalid number literal {s:?} for price"
            )));
        }
        return Ok(s);
    }
    if is_number_literal(text) {
        Ok(text.to_string())
    } else {
        Err(serde::de::Error::custom(format!("price is not a number: {text}")))
    }
}

/// A JSON number literal (RFC 8259 §6), the rule of Go's `isValidNumber`.
fn is_number_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Parses a `/discovery` body: a JSON array of entries. Invalid UTF-8 is
/// replaced by U+FFFD first, as Go's decoder does (so such metadata is then
/// refused by [`Runner::check`], not the whole document). `None` when the
/// body is not such an array; go-livepeer then ignores the whole answer.
pub fn parse_entries(body: &[u8]) -> Option<Vec<Entry>> {
    let text = String::from_utf8_lossy(body);
    serde_json::from_str::<Vec<Entry>>(&text).ok()
}

/// Why a runner record is not kept (the metric label and the log reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `url` is empty.
    MissingUrl,
    /// `app` is blank.
    MissingApp,
    /// `metadata` is over 1024 bytes or holds U+FFFD.
    Metadata,
    /// `price_info` is missing, or its price is not a number > 0.
    InvalidPrice,
    /// `currency` is not `wei`.
    UnsupportedCurrency,
    /// `unit` is not `seconds`, `720p-pixel-seconds` or `fixed`.
    UnsupportedUnit,
    /// The price is above the global ceiling.
    AboveMaxPrice,
}

impl Rejection {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::MissingUrl => "missing_url",
            Rejection::MissingApp => "missing_app",
            Rejection::Metadata => "metadata",
            Rejection::InvalidPrice => "invalid_price",
            Rejection::UnsupportedCurrency => "unsupported_currency",
            Rejection::UnsupportedUnit => "unsupported_unit",
            Rejection::AboveMaxPrice => "above_max_price",
        }
    }
}

impl Runner {
    /// go-livepeer's `validateRunner`, in its order: a URL, an app, metadata
    /// ≤ 1024 bytes without U+FFFD, a price > 0 in `wei` per `seconds`,
    /// `720p-pixel-seconds` or `fixed`, and at most `global_max` when one is
    /// set (per-capability ceilings do not apply to runners).
    pub fn check(&self, global_max: Option<&Rat>) -> Result<(), Rejection> {
        if self.url.is_empty() {
            return Err(Rejection::MissingUrl);
        }
        if self.app.trim().is_empty() {
            return Err(Rejection::MissingApp);
        }
        if self.metadata.len() > MAX_METADATA_BYTES || self.metadata.contains('\u{FFFD}') {
            return Err(Rejection::Metadata);
        }
        let Some(info) = &self.price_info else {
            return Err(Rejection::InvalidPrice);
        };
        let price = match Rat::parse(info.price.trim()) {
            Ok(p) if p.is_positive() => p,
            _ => return Err(Rejection::InvalidPrice),
        };
        if !info.currency.trim().eq_ignore_ascii_case("wei") {
            return Err(Rejection::UnsupportedCurrency);
        }
        let unit = info.unit.trim().to_ascii_lowercase();
        if !matches!(unit.as_str(), "seconds" | "720p-pixel-seconds" | "fixed") {
            return Err(Rejection::UnsupportedUnit);
        }
        if global_max.is_some_and(|max| &price > max) {
            return Err(Rejection::AboveMaxPrice);
        }
        Ok(())
    }

    /// Two records of one URL agree when they differ at most in
    /// `capacity_used` / `capacity_available` (those move between polls).
    pub fn same_as(&self, other: &Runner) -> bool {
        let strip = |r: &Runner| Runner {
            capacity_used: 0,
            capacity_available: 0,
            ..r.clone()
        };
        strip(self) == strip(other)
    }

    /// The record as go-livepeer's `json.Encoder` writes it: field order of
    /// the Go struct, `omitempty` where Go has it, `<>&` escaped.
    pub fn write_json(&self, out: &mut String) {
        out.push_str("{\"url\":");
        out.push_str(&go_json_string(&self.url));
        if let Some(gpu) = &self.gpu {
            out.push_str(",\"gpu\":{");
            let mut sep = "";
            if !gpu.id.is_empty() {
                out.push_str("\"id\":");
                out.push_str(&go_json_string(&gpu.id));
                sep = ",";
            }
            if !gpu.name.is_empty() {
                out.push_str(sep);
                out.push_str("\"name\":");
                out.push_str(&go_json_string(&gpu.name));
                sep = ",";
            }
            if gpu.vram_mb != 0 {
                out.push_str(sep);
                out.push_str(&format!("\"vram_mb\":{}", gpu.vram_mb));
            }
            out.push('}');
        }
        out.push_str(",\"app\":");
        out.push_str(&go_json_string(&self.app));
        for (name, value) in [
            ("version", &self.version),
            ("metadata", &self.metadata),
            ("mode", &self.mode),
        ] {
            if !value.is_empty() {
                out.push_str(&format!(",\"{name}\":"));
                out.push_str(&go_json_string(value));
            }
        }
        out.push_str(&format!(
            ",\"capacity\":{},\"capacity_used\":{},\"capacity_available\":{}",
            self.capacity, self.capacity_used, self.capacity_available
        ));
        if let Some(p) = &self.price_info {
            out.push_str(",\"price_info\":{\"price\":");
            out.push_str(if p.price.is_empty() { "0" } else { &p.price });
            if !p.currency.is_empty() {
                out.push_str(",\"currency\":");
                out.push_str(&go_json_string(&p.currency));
            }
            if !p.unit.is_empty() {
                out.push_str(",\"unit\":");
                out.push_str(&go_json_string(&p.unit));
            }
            out.push('}');
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(json: &str) -> Runner {
        serde_json::from_str(json).unwrap()
    }

    fn priced(price: &str, currency: &str, unit: &str) -> Runner {
        runner(&format!(
            r#"{{"url":"u","app":"a","price_info":{{"price":{price},"currency":"{currency}","unit":"{unit}"}}}}"#
        ))
    }

    #[test]
    fn b5_global_max_rules() {
        // vectors B5, go-livepeer lines 1861-1911: global max 200.
        let max = Rat::from_integer(200);
        assert_eq!(
            priced("199", "wei", "720p-pixel-seconds").check(Some(&max)),
            Ok(())
        );
        assert_eq!(priced("200", "wei", "seconds").check(Some(&max)), Ok(()));
        assert_eq!(
            priced("201", "wei", "720p-pixel-seconds").check(Some(&max)),
            Err(Rejection::AboveMaxPrice)
        );
        assert_eq!(
            priced("1", "usd", "seconds").check(Some(&max)),
            Err(Rejection::UnsupportedCurrency)
        );
        assert_eq!(
            runner(r#"{"url":"u","app":"a"}"#).check(Some(&max)),
            Err(Rejection::InvalidPrice)
        );
        assert_eq!(
            runner(r#"{"url":"u","app":"a","price_info":{"price":1,"unit":"seconds"}}"#).check(None),
            Err(Rejection::UnsupportedCurrency)
        );
        assert_eq!(
            runner(r#"{"url":"u","app":"a","price_info":{"price":1,"currency":"wei"}}"#).check(None),
            Err(Rejection::UnsupportedUnit)
        );
        assert_eq!(
            priced("0", "wei", "seconds").check(None),
            Err(Rejection::InvalidPrice)
        );
        assert_eq!(
            priced("-3", "wei", "seconds").check(None),
            Err(Rejection::InvalidPrice)
        );
        assert_eq!(
            runner(r#"{"url":"u","app":"  ","price_info":{"price":1,"currency":"wei","unit":"fixed"}}"#)
                .check(None),
            Err(Rejection::MissingApp)
        );
        assert_eq!(
            runner(r#"{"app":"a","price_info":{"price":1,"currency":"wei","unit":"fixed"}}"#).check(None),
            Err(Rejection::MissingUrl)
        );
        // Case and spaces are forgiven in currency and unit, as in Go.
        assert_eq!(priced("0.5", "WEI ", " Seconds").check(None), Ok(()));
        assert_eq!(priced("\"2.5e1\"", "wei", "fixed").check(None), Ok(()));
    }

    #[test]
    fn b5_metadata_rules() {
        // vectors B5, go-livepeer lines 2009-2041.
        let mut r = priced("1", "wei", "seconds");
        r.metadata = "x".repeat(1024);
        assert_eq!(r.check(None), Ok(()));
        r.metadata = "x".repeat(1025);
        assert_eq!(r.check(None), Err(Rejection::Metadata));
        r.metadata = "ok \u{FFFD}".to_string();
        assert_eq!(r.check(None), Err(Rejection::Metadata));
        // Invalid UTF-8 in the body becomes U+FFFD, as Go's decoder makes it.
        let mut body =
            br#"[{"address":"https://o:1","runners":[{"url":"u","app":"a","metadata":"bad "#.to_vec();
        body.push(0xff);
        body.extend_from_slice(br#"","price_info":{"price":1,"currency":"wei","unit":"seconds"}}]}]"#);
        let entries = parse_entries(&body).unwrap();
        assert_eq!(entries[0].runners[0].check(None), Err(Rejection::Metadata));
    }

    #[test]
    fn b5_duplicates_differ_only_in_usage() {
        // vectors B5, go-livepeer lines 1958-1985.
        let a = runner(r#"{"url":"u","app":"a","capacity":1,"capacity_used":0}"#);
        let b = runner(r#"{"url":"u","app":"a","capacity":1,"capacity_used":1,"capacity_available":7}"#);
        assert!(a.same_as(&b));
        let c = runner(r#"{"url":"u","app":"a","capacity":2}"#);
        assert!(!a.same_as(&c));
        let d = runner(r#"{"url":"u","app":"a","capacity":1,"metadata":"m"}"#);
        assert!(!a.same_as(&d));
    }

    #[test]
    fn documents_go_would_refuse_are_refused_whole() {
        assert!(parse_entries(b"{}").is_none());
        assert!(parse_entries(b"[{\"runners\":[{\"capacity\":1.5}]}]").is_none());
        assert!(parse_entries(b"[{\"runners\":[{\"price_info\":{\"price\":\"abc\"}}]}]").is_none());
        assert!(parse_entries(b"[{\"runners\":[{\"price_info\":{\"price\":true}}]}]").is_none());
        assert!(parse_entries(b"not json").is_none());
        // null everywhere is Go's zero value; unknown fields are ignored.
        let e = parse_entries(br#"[{"address":null,"runners":null,"score":9},{"address":"a","runners":[{"url":null,"capacity":null,"price_info":{"price":null},"x":1}]}]"#).unwrap();
        assert_eq!(e[0].address, "");
        assert!(e[0].runners.is_empty());
        assert_eq!(e[1].runners[0].price_info.as_ref().unwrap().price, "");
    }

    #[test]
    fn number_literals() {
        for ok in ["0", "-0", "80", "1.5", "1e3", "1E+3", "2.5e-1", "-7"] {
            assert!(is_number_literal(ok), "{ok}");
        }
        for bad in ["", "01", "1.", ".5", "+1", "1e", "0x10", "1/2", " 1", "NaN"] {
            assert!(!is_number_literal(bad), "{bad}");
        }
    }

    #[test]
    fn written_as_go_writes_it() {
        let r = runner(
            r#"{"unknown_field":"must-not-leak","url":"https://o/<x>","gpu":{"id":"0","vram_mb":24576,"extra":1},"app":"live-video-to-video/m","metadata":"a&b","capacity":2,"capacity_used":1,"price_info":{"price":"80.50","currency":"wei","unit":"seconds","extra":2}}"#,
        );
        let mut out = String::new();
        r.write_json(&mut out);
        assert_eq!(
            out,
            r#"{"url":"https://o/\u003cx\u003e","gpu":{"id":"0","vram_mb":24576},"app":"live-video-to-video/m","metadata":"a\u0026b","capacity":2,"capacity_used":1,"capacity_available":0,"price_info":{"price":80.50,"currency":"wei","unit":"seconds"}}"#
        );
        let mut out = String::new();
        runner(r#"{"url":"u","app":"a","gpu":{}}"#).write_json(&mut out);
        assert_eq!(
            out,
            r#"{"url":"u","gpu":{},"app":"a","capacity":0,"capacity_used":0,"capacity_available":0}"#
        );
    }
}
