//! Runner records: an orchestrator's `GET /discovery` answer (go-livepeer
//! `ai/runner.LiveRunnerDiscoveryRunner`), how each record is checked
//! (spec §4.3), and how a kept record is written back out. Only the fields
//! modelled here are ever re-emitted; anything else an orchestrator sends
//! is dropped.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::livepeer::payment::request::{field_of, is_number_literal};
use crate::livepeer::payment::state::go_json_string;
use crate::livepeer::payment::Rat;

/// Largest `metadata`, bytes (go-livepeer `maxMetadataBytes`).
pub const MAX_METADATA_BYTES: usize = 1024;

/// One `{address, runners}` element of a `/discovery` answer. Other fields
/// (`score`, `capabilities`, …) are ignored, as go-livepeer does.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// A node's service URI.
    pub address: String,
    /// Its runners.
    pub runners: Vec<Runner>,
}

/// A runner's GPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gpu {
    /// `id`
    pub id: String,
    /// `name`
    pub name: String,
    /// `vram_mb`
    pub vram_mb: i64,
}

/// A runner's price: `price` is a JSON number kept as written (Go's
/// `json.Number`), `""` when absent or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceInfo {
    /// The number literal.
    pub price: String,
    /// `currency`
    pub currency: String,
    /// `unit`
    pub unit: String,
}

/// One runner record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runner {
    /// `url`: the orchestrator's proxy URL for this runner.
    pub url: String,
    /// `gpu`
    pub gpu: Option<Gpu>,
    /// `app`: `pipeline/model`, becomes a capability.
    pub app: String,
    /// `version`
    pub version: String,
    /// `metadata`
    pub metadata: String,
    /// `mode`
    pub mode: String,
    /// `capacity`
    pub capacity: i64,
    /// `capacity_used`
    pub capacity_used: i64,
    /// `capacity_available`
    pub capacity_available: i64,
    /// `price_info`
    pub price_info: Option<PriceInfo>,
}

/// A JSON object decoded the way Go's `encoding/json` fills a struct: keys
/// in document order, each matched to a field exactly or case-insensitively
/// (so the last one wins), unknown keys skipped, `null` leaving a field at
/// its zero value. A value of the wrong type fails the whole document, as
/// the error Go returns makes go-livepeer drop it.
trait GoObject: Default {
    /// The JSON names of the fields.
    const FIELDS: &'static [&'static str];
    /// What the object is, for errors.
    const WHAT: &'static str;
    /// Reads the value of `field` (one of `FIELDS`) from `map`.
    fn set<'de, A: MapAccess<'de>>(&mut self, field: &str, map: &mut A) -> Result<(), A::Error>;
}

/// The next value; `null` is the type's zero value.
fn zero_or<'de, A: MapAccess<'de>, T: Deserialize<'de> + Default>(map: &mut A) -> Result<T, A::Error> {
    Ok(map.next_value::<Option<T>>()?.unwrap_or_default())
}

struct GoVisitor<T>(PhantomData<T>);

impl<'de, T: GoObject> Visitor<'de> for GoVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(key) = map.next_key::<String>()? {
            match field_of(T::FIELDS, &key) {
                Some(field) => out.set(field, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

macro_rules! go_object {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map(GoVisitor::<$t>(PhantomData))
            }
        }
    };
}

impl GoObject for Entry {
    const FIELDS: &'static [&'static str] = &["address", "runners"];
    const WHAT: &'static str = "a /discovery entry object";
    fn set<'de, A: MapAccess<'de>>(&mut self, field: &str, map: &mut A) -> Result<(), A::Error> {
        if field == "address" {
            self.address = zero_or(map)?;
        } else {
            let runners: Vec<Option<Runner>> = zero_or(map)?;
            self.runners = runners.into_iter().map(Option::unwrap_or_default).collect();
        }
        Ok(())
    }
}
go_object!(Entry);

impl GoObject for Gpu {
    const FIELDS: &'static [&'static str] = &["id", "name", "vram_mb"];
    const WHAT: &'static str = "a gpu object";
    fn set<'de, A: MapAccess<'de>>(&mut self, field: &str, map: &mut A) -> Result<(), A::Error> {
        match field {
            "id" => self.id = zero_or(map)?,
            "name" => self.name = zero_or(map)?,
            _ => self.vram_mb = zero_or(map)?,
        }
        Ok(())
    }
}
go_object!(Gpu);

impl GoObject for PriceInfo {
    const FIELDS: &'static [&'static str] = &["price", "currency", "unit"];
    const WHAT: &'static str = "a price_info object";
    fn set<'de, A: MapAccess<'de>>(&mut self, field: &str, map: &mut A) -> Result<(), A::Error> {
        match field {
            "price" => self.price = json_number(map.next_value::<Option<Box<RawValue>>>()?)?,
            "currency" => self.currency = zero_or(map)?,
            _ => self.unit = zero_or(map)?,
        }
        Ok(())
    }
}
go_object!(PriceInfo);

impl GoObject for Runner {
    const FIELDS: &'static [&'static str] = &[
        "url",
        "gpu",
        "app",
        "version",
        "metadata",
        "mode",
        "capacity",
        "capacity_used",
        "capacity_available",
        "price_info",
    ];
    const WHAT: &'static str = "a runner record object";
    fn set<'de, A: MapAccess<'de>>(&mut self, field: &str, map: &mut A) -> Result<(), A::Error> {
        match field {
            "url" => self.url = zero_or(map)?,
            "gpu" => self.gpu = map.next_value()?,
            "app" => self.app = zero_or(map)?,
            "version" => self.version = zero_or(map)?,
            "metadata" => self.metadata = zero_or(map)?,
            "mode" => self.mode = zero_or(map)?,
            "capacity" => self.capacity = zero_or(map)?,
            "capacity_used" => self.capacity_used = zero_or(map)?,
            "capacity_available" => self.capacity_available = zero_or(map)?,
            _ => self.price_info = map.next_value()?,
        }
        Ok(())
    }
}
go_object!(Runner);

/// Go's `json.Number`: a number literal, or a string holding one (the
/// string's content is kept); `null` is `""`. Anything else, `""` included,
/// fails the whole document, as it does in Go (`isValidNumber`).
fn json_number<E: serde::de::Error>(raw: Option<Box<RawValue>>) -> Result<String, E> {
    let Some(raw) = raw else {
        return Ok(String::new());
    };
    let text = raw.get();
    if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(E::custom)?;
        if !is_number_literal(&s) {
            return Err(E::custom(format!("invalid number literal {s:?} for price")));
        }
        return Ok(s);
    }
    if is_number_literal(text) {
        Ok(text.to_string())
    } else {
        Err(E::custom(format!("price is not a number: {text}")))
    }
}

/// `\uXXXX` escapes of UTF-16 surrogates that do not form a pair become
/// `\ufffd`, which is how Go's decoder reads them (serde_json refuses them).
fn replace_lone_surrogates(text: &str) -> std::borrow::Cow<'_, str> {
    fn escape_at(b: &[u8], i: usize) -> Option<u16> {
        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(b.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    }
    if !text.contains("\\u") {
        return text.into();
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                let lone = match escape_at(b, i) {
                    Some(0xD800..=0xDBFF) => match escape_at(b, i + 6) {
                        Some(0xDC00..=0xDFFF) => {
                            i += 12;
                            continue;
                        }
                        _ => true,
                    },
                    Some(0xDC00..=0xDFFF) => true,
                    Some(_) => false,
                    None => {
                        // Any other escape: two bytes (`\"`, `\\`, `\n`, …).
                        i += 2;
                        continue;
                    }
                };
                if lone {
                    out.push_str(&text[copied..i]);
                    out.push_str("\\ufffd");
                    copied = i + 6;
                }
                i += 6;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out.into()
}

/// Parses a `/discovery` body: a JSON array of entries, read the way Go's
/// `json.Unmarshal` reads it into go-livepeer's structs (`null` is no
/// entries). Invalid UTF-8 and unpaired surrogate escapes become U+FFFD
/// first, as in Go, so such metadata is then refused by [`Runner::check`]
/// without losing the rest of the document. `None` when the body is not
/// such an array; go-livepeer then ignores the whole answer.
pub fn parse_entries(body: &[u8]) -> Option<Vec<Entry>> {
    let text = String::from_utf8_lossy(body);
    let text = replace_lone_surrogates(&text);
    let entries: Option<Vec<Option<Entry>>> = serde_json::from_str(&text).ok()?;
    Some(
        entries
            .unwrap_or_default()
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
    )
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
        assert!(parse_entries(b"[{\"runners\":[{\"price_info\":{\"price\":\"\"}}]}]").is_none());
        assert!(parse_entries(b"not json").is_none());
        // null everywhere is Go's zero value; unknown fields are ignored.
        let e = parse_entries(br#"[{"address":null,"runners":null,"score":9},{"address":"a","runners":[{"url":null,"capacity":null,"price_info":{"price":null},"x":1}]}]"#).unwrap();
        assert_eq!(e[0].address, "");
        assert!(e[0].runners.is_empty());
        assert_eq!(e[1].runners[0].price_info.as_ref().unwrap().price, "");
    }

    #[test]
    fn go_decoding_rules() {
        // Keys match case-insensitively, the last one wins, nulls are zero values.
        let e = parse_entries(
            br#"[{"ADDRESS":"a","runners":[{"url":"first","URL":"twice","App":"x","price_info":{"Price":"7","price":8}},null]},null]"#,
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].address, "a");
        assert_eq!(e[0].runners[0].url, "twice");
        assert_eq!(e[0].runners[0].app, "x");
        assert_eq!(e[0].runners[0].price_info.as_ref().unwrap().price, "8");
        assert_eq!(e[0].runners[1], Runner::default());
        assert_eq!(e[1].address, "");
        // An unpaired surrogate is U+FFFD (metadata refused), a pair is kept,
        // an escaped backslash is not an escape.
        let e = parse_entries(
            br#"[{"address":"a","runners":[{"url":"u","app":"x","metadata":"x\ud800y\udc00z"},{"url":"v","app":"\ud83d\ude00","metadata":"\\ud800"}]}]"#,
        )
        .unwrap();
        assert_eq!(e[0].runners[0].metadata, "x\u{FFFD}y\u{FFFD}z");
        assert_eq!(e[0].runners[0].check(None), Err(Rejection::Metadata));
        assert_eq!(e[0].runners[1].app, "\u{1F600}");
        assert_eq!(e[0].runners[1].metadata, "\\ud800");
        // A null document is no entries, as in Go.
        assert_eq!(parse_entries(b"null").unwrap().len(), 0);
        assert_eq!(parse_entries(b"[]").unwrap().len(), 0);
    }

    #[test]
    fn number_literals() {
        for ok in [
            "0", "-0", "80", "1.5", "1e3", "1E+3", "2.5e-1", "-7", "0.0", "10", "1e-0",
        ] {
            assert!(is_number_literal(ok), "{ok}");
        }
        for bad in [
            "", "01", "00", "1.", ".5", "+1", "1e", "1e+", "1.e3", "1.5.2", "0x10", "1/2", " 1", "1 ", "-",
            "--1", "NaN",
        ] {
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
