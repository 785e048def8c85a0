//! The remote-signer auth webhook (spec §3.12, go-livepeer
//! `-remoteSignerWebhookUrl`): `POST {"headers": …, "state": …}` before a
//! payment is signed, and its answer.
//!
//! Here it runs **before** any signature (go-livepeer signs the tickets
//! first and throws them away on a refusal): a refused caller reaches no key.

use std::time::{Duration, Instant};

use reqwest_alloy::header::{HeaderName, HeaderValue, CONTENT_TYPE};

use super::plan::Refusal;
use super::price::MaxPrice;
use super::request::{field_of, json_number, DecodeError};
use super::state::{go_json_string, Entries, RemotePaymentState};
use crate::config::{WebhookConfig, WebhookHeadersError};
use crate::metrics::METRICS;

/// The largest webhook answer read.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// A configured webhook client.
pub struct Webhook {
    client: reqwest_alloy::Client,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be credentials: names only.
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why the payment service (its webhook client, its threads) cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    /// The headers cannot be read.
    #[error(transparent)]
    Headers(#[from] WebhookHeadersError),
    /// TLS or HTTP client setup failed.
    #[error("[payments.webhook]: cannot set up the HTTP client: {0}")]
    Client(String),
    /// The payment threads cannot be started.
    #[error("{0}")]
    Runtime(String),
    /// `[payments] state_mac_key_file` cannot be used.
    #[error(transparent)]
    StateMac(#[from] super::mac::StateMacKeyError),
}

/// A `200` answer with `status: 200`: what the caller may carry on with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Approval {
    /// `expiry`: the webhook may be skipped until this Unix time (0: always call).
    pub expiry: i64,
    /// `auth_id`: the identity bound to the session, if any.
    pub auth_id: String,
    /// `maxPrice`: a price ceiling for this call, if any.
    pub max_price: Option<MaxPrice>,
}

/// Go's `textproto.CanonicalMIMEHeaderKey` for the token characters HTTP
/// header names use: upper case at the start and after `-`, lower elsewhere.
pub fn canonical_header_name(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// The request body: `{"headers":{Name:[values]},"state":<state JSON>}`,
/// header names canonical and sorted, `Host` removed, Go's escaping.
pub fn request_body(headers: &[(String, String)], state: &RemotePaymentState) -> Vec<u8> {
    let mut map: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for (name, value) in headers {
        let name = canonical_header_name(name);
        if name == "Host" {
            continue;
        }
        map.entry(name).or_default().push(value);
    }
    let mut out = String::from("{\"headers\":{");
    for (i, (name, values)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&go_json_string(name));
        out.push_str(":[");
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&go_json_string(v));
        }
        out.push(']');
    }
    out.push_str("},\"state\":");
    let mut body = out.into_bytes();
    body.extend_from_slice(&state.to_json());
    body.push(b'}');
    body
}

fn failure(kind: &'static str, detail: String) -> Refusal {
    METRICS.webhook_failures.with_label_values(&[kind]).inc();
    tracing::warn!(kind, error = %detail, "auth webhook failed: answering 500; check [payments.webhook] and the webhook service");
    Refusal::new(500, "webhook_failed", format!("signer auth {kind}: {detail}"))
}

/// Parses a webhook answer body (go-livepeer `authResponse`, keys
/// case-insensitive): `Ok(approval)` for `status: 200`, otherwise the
/// refusal to send the caller.
pub fn parse_answer(body: &[u8]) -> Result<Approval, Refusal> {
    let entries: Entries = serde_json::from_slice(body)
        .map_err(|e| failure("invalid_response", format!("invalid response: {e}")))?;
    let mut status: Option<i64> = None;
    let mut reason = String::new();
    let mut approval = Approval::default();
    let bad = |field: &str| {
        failure(
            "invalid_response",
            format!("invalid response: field {field} has the wrong type"),
        )
    };
    for (key, value) in entries.0 {
        let Some(field) = field_of(&["status", "reason", "expiry", "auth_id", "maxPrice"], &key) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match field {
            "status" => status = Some(value.as_i64().ok_or_else(|| bad("status"))?),
            "reason" => reason = value.as_str().ok_or_else(|| bad("reason"))?.to_string(),
            "expiry" => approval.expiry = value.as_i64().ok_or_else(|| bad("expiry"))?,
            "auth_id" => approval.auth_id = value.as_str().ok_or_else(|| bad("auth_id"))?.to_string(),
            "maxPrice" => {
                let obj = value.as_object().ok_or_else(|| bad("maxPrice"))?;
                let mut m = MaxPrice::default();
                for (k, v) in obj {
                    match field_of(&["price", "currency", "unit"], k) {
                        Some("price") => {
                            m.price = json_number(v, "authResponse.maxPrice.price")
                                .map_err(|DecodeError(e)| failure("invalid_response", e))?
                        }
                        Some("currency") => {
                            m.currency = v.as_str().ok_or_else(|| bad("maxPrice.currency"))?.into()
                        }
                        Some("unit") => m.unit = v.as_str().ok_or_else(|| bad("maxPrice.unit"))?.into(),
                        _ => {}
                    }
                }
                approval.max_price = Some(m);
            }
            _ => {}
        }
    }
    let status = match status {
        Some(s) if s > 0 => s,
        _ => return Err(failure("invalid_status", "invalid status".into())),
    };
    if status == 200 {
        return Ok(approval);
    }
    METRICS.webhook_failures.with_label_values(&["rejected"]).inc();
    if reason.is_empty() {
        reason = format!("signer auth rejected request with status {status}");
    }
    // A status HTTP cannot carry is answered 500 (go-livepeer would panic).
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (100..=599).contains(s))
        .unwrap_or(500);
    Err(Refusal::new(status, "webhook_rejected", reason))
}

impl Webhook {
    /// The client for `config`: rustls on ring with the platform's roots,
    /// the configured timeout, the headers read now.
    pub fn new(config: &WebhookConfig) -> Result<Webhook, WebhookSetupError> {
        let headers = config
            .load_headers()?
            .into_iter()
            .map(|(n, v)| {
                let name = HeaderName::from_bytes(n.as_bytes())
                    .map_err(|_| WebhookHeadersError::Invalid { name: n.clone() })?;
                let mut value = HeaderValue::from_str(&v)
                    .map_err(|_| WebhookHeadersError::Invalid { name: n.clone() })?;
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, WebhookHeadersError>>()?;
        let tls = crate::net::platform_tls().map_err(|e| WebhookSetupError::Client(e.to_string()))?;
        let client = reqwest_alloy::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout())
            .connect_timeout(config.timeout())
            .redirect(reqwest_alloy::redirect::Policy::none())
            .build()
            .map_err(|e| WebhookSetupError::Client(e.to_string()))?;
        Ok(Webhook {
            client,
            url: config.url.clone(),
            headers,
            timeout: config.timeout(),
        })
    }

    /// Asks the webhook about `state` (steps 22 of §3.4) with the caller's
    /// request headers. Transport errors, a non-200 HTTP answer and a
    /// malformed body are 500 (masked); `status != 200` is that status
    /// with the webhook's `reason`.
    pub async fn authorize(
        &self,
        headers: &[(String, String)],
        state: &RemotePaymentState,
    ) -> Result<Approval, Refusal> {
        let started = Instant::now();
        let mut req = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(request_body(headers, state));
        for (n, v) in &self.headers {
            req = req.header(n.clone(), v.clone());
        }
        let result = async {
            let resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    failure("timeout", format!("no answer within {:?}", self.timeout))
                } else {
                    failure("transport", crate::net::transport_text(&e))
                }
            })?;
            let status = resp.status();
            let mut body = Vec::new();
            let mut resp = resp;
            while let Some(chunk) = resp.chunk().await.map_err(|e| {
                if e.is_timeout() {
                    failure("timeout", format!("no answer within {:?}", self.timeout))
                } else {
                    failure("transport", crate::net::transport_text(&e))
                }
            })? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(failure("invalid_response", "answer larger than 1 MiB".into()));
                }
                body.extend_from_slice(&chunk);
            }
            if status != reqwest_alloy::StatusCode::OK {
                return Err(failure(
                    "http_status",
                    format!("error status {}", status.as_u16()),
                ));
            }
            parse_answer(&body)
        }
        .await;
        METRICS.webhook_duration.observe(started.elapsed().as_secs_f64());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_header_name("x-request-id"), "X-Request-Id");
        assert_eq!(canonical_header_name("signer-auth-id"), "Signer-Auth-Id");
        assert_eq!(canonical_header_name("CONTENT-TYPE"), "Content-Type");
    }

    #[test]
    fn body_is_go_shaped() {
        let st = RemotePaymentState {
            state_id: "s".into(),
            ..Default::default()
        };
        let headers = vec![
            ("x-request-id".to_string(), "req-123".to_string()),
            ("host".to_string(), "h".to_string()),
            ("authorization".to_string(), "Bearer <a&b>".to_string()),
            ("x-multi".to_string(), "1".to_string()),
            ("x-multi".to_string(), "2".to_string()),
        ];
        let body = String::from_utf8(request_body(&headers, &st)).unwrap();
        let expected_state = String::from_utf8(st.to_json()).unwrap();
        assert_eq!(
            body,
            format!(
                "{{\"headers\":{{\"Authorization\":[\"Bearer \\u003ca\\u0026b\\u003e\"],\"X-Multi\":[\"1\",\"2\"],\"X-Request-Id\":[\"req-123\"]}},\"state\":{expected_state}}}"
            )
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["state"]["StateID"], "s");
    }

    #[test]
    fn answers_as_b4_says() {
        let ok = parse_answer(br#"{"status":200,"expiry":123,"auth_id":"a","maxPrice":{"price":0.5,"currency":"wei","unit":"fixed"}}"#).unwrap();
        assert_eq!((ok.expiry, ok.auth_id.as_str()), (123, "a"));
        assert_eq!(ok.max_price.unwrap().price, "0.5");
        assert_eq!(parse_answer(br#"{"Status":200}"#).unwrap(), Approval::default());
        let r = parse_answer(br#"{"expiry":123}"#).unwrap_err();
        assert_eq!(r.status, 500);
        let r = parse_answer(br#"{"status":0}"#).unwrap_err();
        assert_eq!(r.status, 500);
        let r = parse_answer(br#"{"status":403,"reason":"denied"}"#).unwrap_err();
        assert_eq!((r.status, r.message.as_str()), (403, "denied"));
        let r = parse_answer(br#"{"status":429}"#).unwrap_err();
        assert_eq!(
            (r.status, r.message.as_str()),
            (429, "signer auth rejected request with status 429")
        );
        assert_eq!(parse_answer(br#"{"status":1000}"#).unwrap_err().status, 500);
        assert_eq!(parse_answer(b"denied").unwrap_err().status, 500);
        // An empty price string is not a json.Number: Go's decode of the whole
        // answer fails (500), it is not an invalid maxPrice (502).
        let r = parse_answer(br#"{"status":200,"maxPrice":{"price":"","currency":"wei","unit":"fixed"}}"#)
            .unwrap_err();
        assert_eq!(r.status, 500);
        assert!(r.message.contains("invalid number literal"), "{}", r.message);
    }
}
