//! The `/generate-live-payment` request body (`RemotePaymentRequest`, spec
//! §3.1) decoded as go-livepeer's `json.NewDecoder(r.Body).Decode` does
//! (§1.4): the first JSON value only (trailing bytes ignored), object keys
//! matched case-insensitively (an exact match preferred), unknown keys
//! ignored, `[]byte` fields as padded standard base64 (`\r`/`\n` ignored,
//! `null` = empty). Errors carry Go-shaped messages (HTTP 400).
//!
//! Nothing here is signed.

use base64::Engine;
use serde_json::Value;

use super::price::MaxPrice;
use super::state::Entries;

/// A decoded request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentRequest {
    /// `state.State`: the previous state's JSON bytes (empty on a first call).
    pub state: Vec<u8>,
    /// `state.Sig`: its 65-byte signature (empty on a first call).
    pub state_sig: Vec<u8>,
    /// `orchestrator`: protobuf `net.OrchestratorInfo`.
    pub orchestrator: Vec<u8>,
    /// `ManifestID`.
    pub manifest_id: String,
    /// `app`.
    pub app: String,
    /// `inPixels`: billable units of an untyped request.
    pub in_pixels: i64,
    /// `type`: `""`, `lv2v`, `live`, `fixed` (anything else is refused later).
    pub job_type: String,
    /// `maxPrice`, when present and not `null`.
    pub max_price: Option<MaxPrice>,
    /// `capabilities`: protobuf `net.Capabilities`.
    pub capabilities: Vec<u8>,
}

/// Why the body is not a request; `Display` is the 400 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

const FIELDS: [&str; 8] = [
    "state",
    "orchestrator",
    "ManifestID",
    "app",
    "inPixels",
    "type",
    "maxPrice",
    "capabilities",
];

/// Go's field lookup: the exact name, else a case-insensitive match.
pub(crate) fn field_of<'a>(fields: &[&'a str], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(key)))
        .copied()
}

fn type_error(what: &str, field: &str, go_type: &str) -> DecodeError {
    DecodeError(format!(
        "json: cannot unmarshal {what} into Go struct field {field} of type {go_type}"
    ))
}

fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// Go's `[]byte` decoding: `null` → empty, else padded standard base64.
fn bytes(v: &Value, field: &str) -> Result<Vec<u8>, DecodeError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => {
            let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|e| {
                    let at = match e {
                        base64::DecodeError::InvalidByte(i, _)
                        | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                        _ => cleaned.len(),
                    };
                    DecodeError(format!("illegal base64 data at input byte {at}"))
                })
        }
        other => Err(type_error(&json_kind(other), field, "[]uint8")),
    }
}

fn string(v: &Value, field: &str) -> Result<String, DecodeError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        other => Err(type_error(&json_kind(other), field, "string")),
    }
}

/// A JSON number literal (RFC 8259 §6), the rule of Go's `isValidNumber`.
pub(crate) fn is_number_literal(s: &str) -> bool {
    let b = s.as_bytes();
    // Where the run of digits starting at `i` ends.
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(b.first() == Some(&b'-'));
    i = match b.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i + 1),
        _ => return false,
    };
    if b.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return false;
        }
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return false;
        }
        i = end;
    }
    i == b.len()
}

/// `json.Number`: a JSON number, or a string holding valid JSON number text.
pub(super) fn json_number(v: &Value, field: &str) -> Result<String, DecodeError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) if is_number_literal(s) => Ok(s.clone()),
        Value::String(s) => Err(DecodeError(format!(
            "json: invalid number literal, trying to unmarshal {:?} into Number",
            format!("\"{s}\"")
        ))),
        other => Err(type_error(&json_kind(other), field, "json.Number")),
    }
}

fn max_price(v: &Value) -> Result<Option<MaxPrice>, DecodeError> {
    let entries = match v {
        Value::Null => return Ok(None),
        Value::Object(_) => object_entries(v),
        other => {
            return Err(type_error(
                &json_kind(other),
                "RemotePaymentRequest.maxPrice",
                "runner.LiveRunnerPriceInfo",
            ))
        }
    };
    let mut out = MaxPrice::default();
    for (key, value) in entries {
        match field_of(&["price", "currency", "unit"], &key) {
            Some("price") => out.price = json_number(&value, "RemotePaymentRequest.maxPrice.price")?,
            Some("currency") => out.currency = string(&value, "RemotePaymentRequest.maxPrice.currency")?,
            Some("unit") => out.unit = string(&value, "RemotePaymentRequest.maxPrice.unit")?,
            _ => {}
        }
    }
    Ok(Some(out))
}

/// A nested object's entries (`state`, `maxPrice`). Duplicate keys inside
/// them collapse to the last value, as Go's decoder also lets the last win.
fn object_entries(v: &Value) -> Vec<(String, Value)> {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

/// Maps serde_json's syntax messages to Go's `encoding/json` wording.
fn syntax_message(body: &[u8], e: &serde_json::Error) -> String {
    if e.is_eof() {
        return if body.iter().all(u8::is_ascii_whitespace) {
            "EOF".into()
        } else {
            "unexpected EOF".into()
        };
    }
    // serde_json's line/column point at the offending character (1-based).
    let mut offset = 0usize;
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        if i + 1 == e.line() {
            offset += e.column().saturating_sub(1);
            break;
        }
        offset += line.len() + 1;
    }
    let detail = e.to_string();
    let detail = detail.split(" at line ").next().unwrap_or(&detail).to_string();
    let context = match detail.as_str() {
        "key must be a string" => "looking for beginning of object key string".to_string(),
        "expected value" => "looking for beginning of value".to_string(),
        "expected `:`" => "after object key".to_string(),
        "expected `,` or `}`" => "after object key:value pair".to_string(),
        "expected `,` or `]`" => "after array element".to_string(),
        other => format!("({other})"),
    };
    match body.get(offset) {
        Some(&c) if c.is_ascii_graphic() => format!("invalid character '{}' {context}", c as char),
        Some(&c) => format!("invalid character {:?} {context}", c as char),
        None => "unexpected EOF".into(),
    }
}

impl PaymentRequest {
    /// Decodes a request body as go-livepeer does (module docs).
    pub fn decode(body: &[u8]) -> Result<PaymentRequest, DecodeError> {
        let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Entries>();
        let entries = match stream.next() {
            None => return Err(DecodeError("EOF".into())),
            Some(Ok(e)) => e.0,
            Some(Err(e)) if e.is_data() => {
                // A JSON value that is not an object (array, string, number, bool).
                let value = serde_json::Deserializer::from_slice(body)
                    .into_iter::<Value>()
                    .next()
                    .and_then(Result::ok);
                let kind = value.as_ref().map_or("value".into(), json_kind);
                let kind = kind.split(' ').next().unwrap_or("value").to_string();
                return Err(DecodeError(format!(
                    "json: cannot unmarshal {kind} into Go value of type server.RemotePaymentRequest"
                )));
            }
            Some(Err(e)) => return Err(DecodeError(syntax_message(body, &e))),
        };
        let mut req = PaymentRequest::default();
        // Go keeps decoding after a type error and reports the first one.
        let mut first_error: Option<DecodeError> = None;
        for (key, value) in entries {
            let Some(field) = field_of(&FIELDS, &key) else {
                continue;
            };
            let path = format!("RemotePaymentRequest.{field}");
            let result = match field {
                "state" => match &value {
                    Value::Null => Ok(()),
                    Value::Object(_) => {
                        for (k, v) in object_entries(&value) {
                            match field_of(&["State", "Sig"], &k) {
                                Some("State") => match bytes(&v, "RemotePaymentRequest.state.State") {
                                    Ok(b) => req.state = b,
                                    Err(e) => {
                                        first_error.get_or_insert(e);
                                    }
                                },
                                Some("Sig") => match bytes(&v, "RemotePaymentRequest.state.Sig") {
                                    Ok(b) => req.state_sig = b,
                                    Err(e) => {
                                        first_error.get_or_insert(e);
                                    }
                                },
                                _ => {}
                            }
                        }
                        Ok(())
                    }
                    other => Err(type_error(
                        &json_kind(other),
                        &path,
                        "server.RemotePaymentStateData",
                    )),
                },
                "orchestrator" => bytes(&value, &path).map(|b| req.orchestrator = b),
                "capabilities" => bytes(&value, &path).map(|b| req.capabilities = b),
                "ManifestID" => string(&value, &path).map(|s| req.manifest_id = s),
                "app" => string(&value, &path).map(|s| req.app = s),
                "type" => string(&value, &path).map(|s| req.job_type = s),
                "inPixels" => match &value {
                    Value::Null => Ok(()),
                    Value::Number(n) => match n.as_i64() {
                        Some(i) if !n.to_string().contains(['.', 'e', 'E']) => {
                            req.in_pixels = i;
                            Ok(())
                        }
                        _ => Err(type_error(&format!("number {n}"), &path, "int64")),
                    },
                    other => Err(type_error(&json_kind(other), &path, "int64")),
                },
                "maxPrice" => max_price(&value).map(|m| req.max_price = m),
                _ => Ok(()),
            };
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(req),
        }
    }

    /// A request with a previous state (`State` or `Sig` non-empty).
    pub fn has_state(&self) -> bool {
        !self.state.is_empty() || !self.state_sig.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        PaymentRequest::decode(body.as_bytes()).unwrap_err().0
    }

    #[test]
    fn decodes_what_the_go_gateway_sends() {
        let body = r#"{"state":{"State":"eyJhIjoxfQ==","Sig":"AAE="},"orchestrator":"CgF4","ManifestID":"m1","inPixels":0,"type":"lv2v","capabilities":null}"#;
        let r = PaymentRequest::decode(body.as_bytes()).unwrap();
        assert_eq!(r.state, br#"{"a":1}"#);
        assert_eq!(r.state_sig, [0, 1]);
        assert_eq!(r.orchestrator, [0x0a, 0x01, b'x']);
        assert_eq!(r.manifest_id, "m1");
        assert_eq!(r.job_type, "lv2v");
        assert!(r.capabilities.is_empty() && r.max_price.is_none() && r.has_state());
        let first = r#"{"state":{"State":null,"Sig":null},"orchestrator":"CgF4","ManifestID":"","inPixels":0,"type":"lv2v","capabilities":null}"#;
        assert!(!PaymentRequest::decode(first.as_bytes()).unwrap().has_state());
    }

    #[test]
    fn keys_are_case_insensitive_exact_first_last_wins() {
        let r = PaymentRequest::decode(
            br#"{"manifestId":"a","MANIFESTID":"b","State":{"state":"AA==","SIG":"AQ=="},"TYPE":"live","inpixels":7,"App":"x","MaxPrice":{"Price":"1e3","CURRENCY":"wei","unit":"seconds"}} trailing"#,
        )
        .unwrap();
        assert_eq!(r.manifest_id, "b");
        assert_eq!(
            (r.state.as_slice(), r.state_sig.as_slice()),
            (&[0u8][..], &[1u8][..])
        );
        assert_eq!(
            (r.job_type.as_str(), r.in_pixels, r.app.as_str()),
            ("live", 7, "x")
        );
        let m = r.max_price.unwrap();
        assert_eq!(
            (m.price.as_str(), m.currency.as_str(), m.unit.as_str()),
            ("1e3", "wei", "seconds")
        );
        // Keys apply in document order: the last one wins, exact or folded.
        let r = PaymentRequest::decode(br#"{"ManifestID":"exact","manifestid":"folded"}"#).unwrap();
        assert_eq!(r.manifest_id, "folded");
        let r = PaymentRequest::decode(br#"{"maxPrice":{"price":80}}"#).unwrap();
        assert_eq!(r.max_price.unwrap().price, "80");
    }

    #[test]
    fn go_shaped_errors() {
        assert_eq!(
            err("{not-json"),
            "invalid character 'n' looking for beginning of object key string"
        );
        assert_eq!(err(""), "EOF");
        assert_eq!(err("{\"orchestrator\":"), "unexpected EOF");
        assert_eq!(
            err("[1]"),
            "json: cannot unmarshal array into Go value of type server.RemotePaymentRequest"
        );
        assert_eq!(
            err(r#"{"orchestrator":"not base64!"}"#),
            "illegal base64 data at input byte 3"
        );
        // URL-safe and unpadded base64 are refused.
        assert!(err(r#"{"orchestrator":"-_8"}"#).starts_with("illegal base64 data"));
        assert!(err(r#"{"orchestrator":"AAE"}"#).starts_with("illegal base64 data"));
        assert_eq!(
            err(r#"{"inPixels":1.5}"#),
            "json: cannot unmarshal number 1.5 into Go struct field RemotePaymentRequest.inPixels of type int64"
        );
        assert_eq!(
            err(r#"{"orchestrator":5}"#),
            "json: cannot unmarshal number 5 into Go struct field RemotePaymentRequest.orchestrator of type []uint8"
        );
        assert!(err(r#"{"maxPrice":{"price":"wat"}}"#).contains("invalid number literal"));
        // Go's isValidNumber refuses "" too (absent or null is the zero value).
        assert_eq!(
            err(r#"{"maxPrice":{"price":""}}"#),
            r#"json: invalid number literal, trying to unmarshal "\"\"" into Number"#
        );
        // \r and \n inside base64 are ignored.
        let r = PaymentRequest::decode(b"{\"orchestrator\":\"Cg\\r\\nF4\"}").unwrap();
        assert_eq!(r.orchestrator, [0x0a, 0x01, b'x']);
        // null is an empty request (Go: no-op), then "missing orchestrator" downstream.
        assert_eq!(
            PaymentRequest::decode(b"null").unwrap(),
            PaymentRequest::default()
        );
    }
}
