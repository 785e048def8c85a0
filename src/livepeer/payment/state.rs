//! `RemotePaymentState`, the signed session blob of `/generate-live-payment`
//! (spec §3.3), with exactly go-livepeer's JSON.
//!
//! What is signed: the compact JSON bytes of [`RemotePaymentState::to_json`]
//! with go-livepeer's `Eth.Sign`, i.e. ECDSA over
//! [`RemotePaymentState::digest`] = `TextHash(json)` (EIP-191, the length
//! field being the decimal byte length of the JSON, typically 3 digits).
//! The response carries `{"State": base64(json), "Sig": base64(r‖s‖v)}`.
//!
//! The JSON is what Go's `json.Marshal` emits for the untagged struct: keys
//! are the Go field names in declaration order, no whitespace, strings
//! escaped as Go escapes them (`<`, `>`, `&`, U+2028, U+2029 as `\u003c`,
//! `\u003e`, `\u0026`, `\u2028`, `\u2029`; `\b \f \n \r \t` short forms,
//! other control characters `\u00XX`), `LastUpdate` as RFC 3339 with up to
//! nine fractional digits (trailing zeros trimmed) and `Z` for UTC,
//! `OrchestratorAddress` as `0x` + 40 lowercase hex, `Balance` a
//! `big.Rat.RatString()`.
//!
//! Parsing follows Go's `json.Unmarshal` into the struct: keys match
//! case-insensitively (ASCII case folding), unknown keys are ignored,
//! missing keys and `null` values leave the zero value, a repeated key's
//! last value wins, trailing non-whitespace is an error.

use std::fmt::Write as _;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

use super::rat::Rat;
use crate::eth::{hex, text_hash, Address};

/// A `time.Time` as Go's JSON encodes it; the default is Go's zero time
/// (`0001-01-01T00:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GoTime(pub OffsetDateTime);

impl Default for GoTime {
    fn default() -> Self {
        GoTime::ZERO
    }
}

/// Why a `LastUpdate` string is not Go's RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 time")]
pub struct TimeParseError(pub String);

impl GoTime {
    /// Go's zero `time.Time`: 0001-01-01T00:00:00Z.
    pub const ZERO: GoTime = GoTime(
        match Date::from_ordinal_date(1, 1) {
            Ok(d) => d,
            Err(_) => panic!("0001-01-01 is a date"),
        }
        .with_time(Time::MIDNIGHT)
        .assume_offset(UtcOffset::UTC),
    );

    /// Go's `IsZero`: the instant is the zero time, whatever the offset.
    pub fn is_zero(&self) -> bool {
        self.0 == GoTime::ZERO.0
    }

    /// `time.Time.MarshalJSON`'s text, without quotes:
    /// `2006-01-02T15:04:05.999999999Z07:00`.
    pub fn format(&self) -> String {
        let t = self.0;
        let mut out = String::with_capacity(35);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let nanos = t.nanosecond();
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        let off = t.offset();
        if off.is_utc() {
            out.push('Z');
        } else {
            let total = off.whole_seconds();
            let sign = if total < 0 { '-' } else { '+' };
            let abs = total.unsigned_abs();
            let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60);
        }
        out
    }

    /// Parses RFC 3339 as Go's `time.Time.UnmarshalJSON` does: `T` and `Z`
    /// upper case, an optional fraction of any length (digits beyond the
    /// ninth are truncated), `Z` or `±hh:mm`. The offset is kept.
    pub fn parse(s: &str) -> Result<Self, TimeParseError> {
        let err = || TimeParseError(s.to_string());
        let b = s.as_bytes();
        // RFC 3339 is ASCII; checking it first also keeps the byte slicing below on char boundaries.
        if !s.is_ascii()
            || b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, TimeParseError> {
            let part = &s[r];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| err())
            } else {
                Err(err())
            }
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start {
                return Err(err());
            }
            let digits = &s[start..end.min(start + 9)];
            nanos = format!("{digits:0<9}").parse().map_err(|_| err())?;
            i = end;
        }
        let offset = match &s[i..] {
            "Z" => UtcOffset::UTC,
            rest if rest.len() == 6
                && (rest.starts_with('+') || rest.starts_with('-'))
                && &rest[3..4] == ":" =>
            {
                let h = num(i + 1..i + 3)?;
                let m = num(i + 4..i + 6)?;
                if h > 23 || m > 59 {
                    return Err(err());
                }
                let secs = (h * 3600 + m * 60) as i32;
                UtcOffset::from_whole_seconds(if rest.starts_with('-') { -secs } else { secs })
                    .map_err(|_| err())?
            }
            _ => return Err(err()),
        };
        let month = Month::try_from(u8::try_from(month).map_err(|_| err())?).map_err(|_| err())?;
        let date = Date::from_calendar_date(year as i32, month, u8::try_from(day).map_err(|_| err())?)
            .map_err(|_| err())?;
        let time = Time::from_hms_nano(hour as u8, minute as u8, second as u8, nanos).map_err(|_| err())?;
        Ok(GoTime(date.with_time(time).assume_offset(offset)))
    }
}

/// `s` as a Go `json.Marshal` string literal, quotes included.
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The signed session state, field for field go-livepeer's struct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemotePaymentState {
    /// `StateID`: random 8-hex-char session id.
    pub state_id: String,
    /// `PMSessionID`: `0x` + 64 lowercase hex of the last batch's `recipient_rand_hash`.
    pub pm_session_id: String,
    /// `LastUpdate`: time of the last successful signing.
    pub last_update: GoTime,
    /// `OrchestratorAddress`, written as `0x` + 40 lowercase hex.
    pub orchestrator_address: Address,
    /// `App`.
    pub app: String,
    /// `AuthExpiry`: Unix seconds until which the webhook may be skipped.
    pub auth_expiry: i64,
    /// `SenderNonce`: last nonce used with `pm_session_id`.
    pub sender_nonce: u32,
    /// `Balance`: a `big.Rat` string in wei, kept verbatim.
    pub balance: String,
    /// `InitialPricePerUnit`.
    pub initial_price_per_unit: i64,
    /// `InitialPixelsPerUnit`.
    pub initial_pixels_per_unit: i64,
    /// `Type`: job type.
    pub job_type: String,
    /// `SequenceNumber`.
    pub sequence_number: u64,
    /// `AuthID`.
    pub auth_id: String,
}

/// Why state JSON does not decode (the HTTP layer answers `invalid state`).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not JSON, not an object, or trailing data.
    #[error("state is not a JSON object: {0}")]
    Json(#[from] serde_json::Error),
    /// A field of the wrong JSON type or out of range.
    #[error("state field {field} has an invalid value")]
    Field {
        /// The Go field name.
        field: &'static str,
    },
}

/// The Go field names, in declaration order.
pub const FIELDS: [&str; 13] = [
    "StateID",
    "PMSessionID",
    "LastUpdate",
    "OrchestratorAddress",
    "App",
    "AuthExpiry",
    "SenderNonce",
    "Balance",
    "InitialPricePerUnit",
    "InitialPixelsPerUnit",
    "Type",
    "SequenceNumber",
    "AuthID",
];

impl RemotePaymentState {
    /// The exact bytes go-livepeer's `json.Marshal(state)` produces (no
    /// trailing newline). These bytes are what is signed.
    pub fn to_json(&self) -> Vec<u8> {
        let s = |v: &str| go_json_string(v);
        format!(
            "{{\"StateID\":{},\"PMSessionID\":{},\"LastUpdate\":\"{}\",\"OrchestratorAddress\":\"{}\",\"App\":{},\
             \"AuthExpiry\":{},\"SenderNonce\":{},\"Balance\":{},\"InitialPricePerUnit\":{},\
             \"InitialPixelsPerUnit\":{},\"Type\":{},\"SequenceNumber\":{},\"AuthID\":{}}}",
            s(&self.state_id),
            s(&self.pm_session_id),
            self.last_update.format(),
            self.orchestrator_address.to_lower_hex(),
            s(&self.app),
            self.auth_expiry,
            self.sender_nonce,
            s(&self.balance),
            self.initial_price_per_unit,
            self.initial_pixels_per_unit,
            s(&self.job_type),
            self.sequence_number,
            s(&self.auth_id),
        )
        .into_bytes()
    }

    /// The 32-byte digest the key signs for `state_json`:
    /// `TextHash(state_json)` (go-livepeer `Eth.Sign(stateBytes)`).
    pub fn digest(state_json: &[u8]) -> [u8; 32] {
        text_hash(state_json)
    }

    /// Parses state JSON as go-livepeer's `json.Unmarshal` does (module docs).
    pub fn from_json(bytes: &[u8]) -> Result<Self, StateError> {
        let entries: Entries = serde_json::from_slice(bytes)?;
        let mut st = RemotePaymentState::default();
        for (key, value) in entries.0 {
            let Some(field) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&key)) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            let bad = || StateError::Field { field };
            let string = || value.as_str().map(str::to_string).ok_or_else(bad);
            let int = || value.as_i64().ok_or_else(bad);
            match *field {
                "StateID" => st.state_id = string()?,
                "PMSessionID" => st.pm_session_id = string()?,
                "LastUpdate" => {
                    st.last_update = GoTime::parse(value.as_str().ok_or_else(bad)?).map_err(|_| bad())?
                }
                "OrchestratorAddress" => {
                    st.orchestrator_address =
                        parse_go_address(value.as_str().ok_or_else(bad)?).ok_or_else(bad)?
                }
                "App" => st.app = string()?,
                "AuthExpiry" => st.auth_expiry = int()?,
                "SenderNonce" => {
                    st.sender_nonce = value
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(bad)?
                }
                "Balance" => st.balance = string()?,
                "InitialPricePerUnit" => st.initial_price_per_unit = int()?,
                "InitialPixelsPerUnit" => st.initial_pixels_per_unit = int()?,
                "Type" => st.job_type = string()?,
                "SequenceNumber" => st.sequence_number = value.as_u64().ok_or_else(bad)?,
                "AuthID" => st.auth_id = string()?,
                _ => unreachable!("every name in FIELDS is matched"),
            }
        }
        Ok(st)
    }

    /// `Balance` as a rational; empty or unparseable counts as 0 (step 12).
    pub fn balance_rat(&self) -> Rat {
        Rat::parse(&self.balance).unwrap_or_default()
    }

    /// Sets `Balance` to `RatString(balance)`.
    pub fn set_balance(&mut self, balance: &Rat) {
        self.balance = balance.rat_string();
    }
}

/// go-ethereum's `Address.UnmarshalJSON`: `""` is the zero address,
/// otherwise `0x`/`0X` + exactly 40 hex digits.
fn parse_go_address(s: &str) -> Option<Address> {
    if s.is_empty() {
        return Some(Address::ZERO);
    }
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if digits.len() != 40 {
        return None;
    }
    hex::decode_array::<20>(digits).ok().map(Address::from_bytes)
}

/// A JSON object's entries in document order (duplicates kept); `null` is
/// no entries, as Go's `Unmarshal` of `null` into a struct is a no-op.
pub(crate) struct Entries(pub(crate) Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Entries, E> {
                Ok(Entries(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    out.push((key, map.next_value::<Value>()?));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's §3.3 example with the elided PMSessionID filled in (A6's hash).
    const EXAMPLE: &str = "{\"StateID\":\"a1b2c3d4\",\"PMSessionID\":\"0xc65a7bb8d6351c1cf70c95a316cc6a92839c986682d98bc35f958f4883f9d2a8\",\"LastUpdate\":\"2026-01-02T03:04:05.123456789Z\",\"OrchestratorAddress\":\"0x73aed7b5deb30222fa896f399d46cc99c7bee57f\",\"App\":\"\",\"AuthExpiry\":0,\"SenderNonce\":2,\"Balance\":\"125/7\",\"InitialPricePerUnit\":150,\"InitialPixelsPerUnit\":175,\"Type\":\"lv2v\",\"SequenceNumber\":0,\"AuthID\":\"\"}";

    fn example() -> RemotePaymentState {
        RemotePaymentState {
            state_id: "a1b2c3d4".into(),
            pm_session_id: "0xc65a7bb8d6351c1cf70c95a316cc6a92839c986682d98bc35f958f4883f9d2a8".into(),
            last_update: GoTime::parse("2026-01-02T03:04:05.123456789Z").unwrap(),
            orchestrator_address: "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F".parse().unwrap(),
            app: String::new(),
            auth_expiry: 0,
            sender_nonce: 2,
            balance: "125/7".into(),
            initial_price_per_unit: 150,
            initial_pixels_per_unit: 175,
            job_type: "lv2v".into(),
            sequence_number: 0,
            auth_id: String::new(),
        }
    }

    #[test]
    fn serialises_the_spec_example_byte_for_byte() {
        assert_eq!(String::from_utf8(example().to_json()).unwrap(), EXAMPLE);
        assert_eq!(
            RemotePaymentState::from_json(EXAMPLE.as_bytes()).unwrap(),
            example()
        );
        assert_eq!(example().balance_rat().rat_string(), "125/7");
        assert_eq!(
            RemotePaymentState::digest(EXAMPLE.as_bytes()),
            text_hash(EXAMPLE.as_bytes())
        );
    }

    #[test]
    fn zero_state_matches_go() {
        let zero = "{\"StateID\":\"\",\"PMSessionID\":\"\",\"LastUpdate\":\"0001-01-01T00:00:00Z\",\"OrchestratorAddress\":\"0x0000000000000000000000000000000000000000\",\"App\":\"\",\"AuthExpiry\":0,\"SenderNonce\":0,\"Balance\":\"\",\"InitialPricePerUnit\":0,\"InitialPixelsPerUnit\":0,\"Type\":\"\",\"SequenceNumber\":0,\"AuthID\":\"\"}";
        let st = RemotePaymentState::default();
        assert_eq!(String::from_utf8(st.to_json()).unwrap(), zero);
        assert!(st.last_update.is_zero());
        assert_eq!(st.balance_rat(), Rat::zero());
        assert_eq!(RemotePaymentState::from_json(zero.as_bytes()).unwrap(), st);
        assert_eq!(RemotePaymentState::from_json(b"{}").unwrap(), st);
        assert_eq!(RemotePaymentState::from_json(b"null").unwrap(), st);
    }

    #[test]
    fn go_escaping() {
        let mut st = example();
        st.app = "<a href=\"x\">&</a>\\\n\r\t\u{8}\u{c}\u{1}\u{7f}\u{2028}\u{2029}é".into();
        let json = String::from_utf8(st.to_json()).unwrap();
        assert!(json.contains(
            "\"App\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\\\\\\n\\r\\t\\b\\f\\u0001\u{7f}\\u2028\\u2029é\""
        ));
        assert_eq!(RemotePaymentState::from_json(json.as_bytes()).unwrap(), st);
    }

    #[test]
    fn times_like_go() {
        for (s, back) in [
            ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
            ("2026-01-02T03:04:05.5Z", "2026-01-02T03:04:05.5Z"),
            ("2026-01-02T03:04:05.120000000Z", "2026-01-02T03:04:05.12Z"),
            ("2026-01-02T03:04:05.000000000Z", "2026-01-02T03:04:05Z"),
            (
                "2026-01-02T03:04:05.1234567891Z",
                "2026-01-02T03:04:05.123456789Z",
            ),
            ("2026-01-02T03:04:05.25-05:00", "2026-01-02T03:04:05.25-05:00"),
            ("2026-01-02T03:04:05+05:30", "2026-01-02T03:04:05+05:30"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ] {
            assert_eq!(GoTime::parse(s).unwrap().format(), back, "{s}");
        }
        // Same instant in another zone is not zero-offset but compares equal as an instant.
        let a = GoTime::parse("2026-01-02T08:04:05Z").unwrap();
        let b = GoTime::parse("2026-01-02T03:04:05-05:00").unwrap();
        assert_eq!(a.0, b.0);
        assert!(GoTime::parse("0000-12-31T19:00:00-05:00").unwrap().is_zero());
        for bad in [
            "",
            "2026-01-02",
            "2026-01-02 03:04:05Z",
            "2026-01-02t03:04:05Z",
            "2026-01-02T03:04:05z",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05.Z",
            "2026-02-30T03:04:05Z",
            "2026-13-02T03:04:05Z",
            "2026-01-02T24:04:05Z",
            "2026-01-02T03:04:05+0500",
            "2026-01-02T03:04:05+24:00",
            "2026-01-02T03:04:05Z ",
            "2026-01-02T03:04:0\u{e9}Z",
            "2026-01-02T03:04:05+0\u{e9}:0",
            "2026-01-02T03:04:05.1\u{e9}",
        ] {
            assert!(GoTime::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_minted_state_parses_leniently() {
        // Lower-case and mixed-case keys, unknown keys, missing keys (pre-App/Type state),
        // upper-case hex address, nulls, duplicate keys (last wins), an offset time.
        let go = br#"{"stateid":"deadbeef","pmsessionID":"0x01","LASTUPDATE":"2026-01-02T03:04:05.1-05:00",
            "orchestratorAddress":"0X73AED7B5DEB30222FA896F399D46CC99C7BEE57F","AuthExpiry":17,
            "SenderNonce":4294967295,"Balance":"10","Balance":"5","Extra":{"x":[1,2]},
            "InitialPricePerUnit":-3,"InitialPixelsPerUnit":null,"sequencenumber":18446744073709551615,"AuthID":"u"}"#;
        let st = RemotePaymentState::from_json(go).unwrap();
        assert_eq!(st.state_id, "deadbeef");
        assert_eq!(st.pm_session_id, "0x01");
        assert_eq!(st.last_update.format(), "2026-01-02T03:04:05.1-05:00");
        assert_eq!(st.orchestrator_address, example().orchestrator_address);
        assert_eq!(st.app, "");
        assert_eq!(st.auth_expiry, 17);
        assert_eq!(st.sender_nonce, u32::MAX);
        assert_eq!(st.balance, "5");
        assert_eq!(st.initial_price_per_unit, -3);
        assert_eq!(st.initial_pixels_per_unit, 0);
        assert_eq!(st.job_type, "");
        assert_eq!(st.sequence_number, u64::MAX);
        assert_eq!(st.auth_id, "u");
        let mut empty_addr = example();
        empty_addr.orchestrator_address = Address::ZERO;
        let json = String::from_utf8(example().to_json())
            .unwrap()
            .replace("0x73aed7b5deb30222fa896f399d46cc99c7bee57f", "");
        assert_eq!(
            RemotePaymentState::from_json(json.as_bytes()).unwrap(),
            empty_addr
        );
    }

    #[test]
    fn invalid_state_json_is_refused() {
        for bad in [
            &br#"{"StateID":1}"#[..],
            br#"{"SenderNonce":4294967296}"#,
            br#"{"SenderNonce":-1}"#,
            br#"{"SenderNonce":1.5}"#,
            br#"{"AuthExpiry":1e3}"#,
            br#"{"AuthExpiry":"1"}"#,
            br#"{"AuthExpiry":9223372036854775808}"#,
            br#"{"SequenceNumber":-1}"#,
            br#"{"LastUpdate":"yesterday"}"#,
            br#"{"LastUpdate":0}"#,
            br#"{"OrchestratorAddress":"73aed7b5deb30222fa896f399d46cc99c7bee57f"}"#,
            br#"{"OrchestratorAddress":"0x73aed7"}"#,
            br#"{"OrchestratorAddress":"0xzzaed7b5deb30222fa896f399d46cc99c7bee57f"}"#,
            br#"{"Balance":5}"#,
            b"[]",
            b"\"x\"",
            b"{} x",
            b"{",
            b"",
        ] {
            assert!(
                RemotePaymentState::from_json(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // Trailing whitespace is fine, as with json.Unmarshal.
        assert!(RemotePaymentState::from_json(b"{} \n").is_ok());
    }

    #[test]
    fn mutated_states_never_panic() {
        // Every one-byte substitution and deletion of the example, including
        // multi-byte UTF-8 inserted in the middle of times and numbers.
        let base = EXAMPLE.as_bytes();
        for i in 0..base.len() {
            for sub in [&b"0"[..], b"-", b".", b":", b"Z", b"\xc3\xa9", b"\"", b"e", b""] {
                let mut m = base[..i].to_vec();
                m.extend_from_slice(sub);
                m.extend_from_slice(&base[i + 1..]);
                if let Ok(st) = RemotePaymentState::from_json(&m) {
                    let _ = st.balance_rat();
                    let again =
                        RemotePaymentState::from_json(&st.to_json()).expect("re-encoded state parses");
                    assert_eq!(again, st);
                }
            }
        }
    }

    #[test]
    fn balance_helpers() {
        let mut st = RemotePaymentState::default();
        st.set_balance(&Rat::from_frac(500, 1).unwrap());
        assert_eq!(st.balance, "500");
        st.balance = "garbage".into();
        assert_eq!(st.balance_rat(), Rat::zero());
        st.balance = "250/14".into();
        assert_eq!(st.balance_rat().rat_string(), "125/7");
    }
}
