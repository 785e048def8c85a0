//! The SDK client's transport and limits: the HTTP client (rustls + ring),
//! connect / per-attempt / operation timeouts, and the retry strategy.

use std::time::Duration;

use aws_sdk_kms::config::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::config::AwsKmsConfig;

/// The HTTP client every KMS call goes through: hyper on rustls with the
/// ring provider (no aws-lc), trusting the platform's roots; `http://`
/// endpoints (local emulators) work too.
pub fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// Connect, per-attempt and whole-operation timeouts from the config. Each
/// attempt gets `operation_timeout_ms / max_attempts` (at least 1 s, at most
/// the whole budget), so a stalled connection is abandoned and retried.
pub fn timeout_config(config: &AwsKmsConfig) -> TimeoutConfig {
    let operation = config.operation_timeout_ms;
    let attempt = (operation / u64::from(config.max_attempts.max(1)))
        .max(1000)
        .min(operation);
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
        .operation_attempt_timeout(Duration::from_millis(attempt))
        .operation_timeout(Duration::from_millis(operation))
        .build()
}

/// The SDK's standard retry strategy (exponential backoff with jitter;
/// retries throttling, transient errors, timeouts and transport errors) with
/// `max_attempts` attempts in all.
pub fn retry_config(config: &AwsKmsConfig) -> RetryConfig {
    RetryConfig::standard().with_max_attempts(config.max_attempts.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_timeout_is_a_share_of_the_operation_timeout() {
        let mut c = AwsKmsConfig {
            key_id: "k".into(),
            region: None,
            endpoint_url: None,
            profile: None,
            connect_timeout_ms: 3000,
            operation_timeout_ms: 10_000,
            max_attempts: 3,
        };
        let t = timeout_config(&c);
        assert_eq!(t.operation_timeout(), Some(Duration::from_millis(10_000)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_millis(3333)));
        assert_eq!(t.connect_timeout(), Some(Duration::from_millis(3000)));
        c.operation_timeout_ms = 500;
        assert_eq!(
            timeout_config(&c).operation_attempt_timeout(),
            Some(Duration::from_millis(500))
        );
    }
}
