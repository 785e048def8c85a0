//! [`AwsKmsError`]: every way the KMS backend fails, each naming the key and
//! what to do, and its [`AwsKmsError::kind`] (the metrics label).

use super::{REQUIRED_KEY_SPEC, REQUIRED_KEY_USAGE};
use crate::eth::Address;

/// Why a KMS key cannot be opened or used. Every message names the key (as
/// configured in `[key.aws_kms] key_id`) and what to do. Never contains
/// credentials.
#[derive(Debug, thiserror::Error)]
pub enum AwsKmsError {
    /// No region in the config, the environment or the profile.
    #[error(
        "AWS KMS key {key_id}: no region: set [key.aws_kms] region, AWS_REGION, or a region in \
         the AWS profile"
    )]
    NoRegion {
        /// The configured key id.
        key_id: String,
    },
    /// The key is not secp256k1.
    #[error(
        "AWS KMS key {key_id} is a {key_spec} key, not {REQUIRED_KEY_SPEC} (secp256k1): Ethereum \
         signatures need a key created with --key-spec {REQUIRED_KEY_SPEC} --key-usage \
         {REQUIRED_KEY_USAGE}"
    )]
    WrongKeySpec {
        /// The configured key id.
        key_id: String,
        /// What KMS says the key is.
        key_spec: String,
    },
    /// The key is not a signing key.
    #[error(
        "AWS KMS key {key_id} has key usage {key_usage}, not {REQUIRED_KEY_USAGE}: use a key \
         created with --key-spec {REQUIRED_KEY_SPEC} --key-usage {REQUIRED_KEY_USAGE}"
    )]
    WrongKeyUsage {
        /// The configured key id.
        key_id: String,
        /// What KMS says the key usage is.
        key_usage: String,
    },
    /// KMS refuses the operation for this kind of key (a symmetric key, a
    /// key usage that does not allow `Sign`, …).
    #[error(
        "AWS KMS key {key_id} does not support kms:{operation} ({code}: {message}): it must be an \
         asymmetric {REQUIRED_KEY_SPEC} {REQUIRED_KEY_USAGE} key"
    )]
    UnsupportedKey {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// The KMS error code.
        code: String,
        /// The KMS error message.
        message: String,
    },
    /// `AccessDeniedException`: the IAM identity lacks the permission.
    #[error(
        "AccessDenied on kms:{operation} for key {key_id}: grant kms:{operation} on this key to \
         the IAM role or user the signer runs as (IAM policy and key policy; see docs/aws-kms.md)\
         {message}"
    )]
    AccessDenied {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// KMS's message, prefixed with `: ` (empty when there is none).
        message: String,
    },
    /// The credentials themselves were refused (unknown access key, bad
    /// signature, expired token).
    #[error(
        "AWS rejected the credentials calling kms:{operation} for key {key_id} ({code}): check the \
         credential chain (environment, profile, web identity / IRSA, ECS, instance role), the \
         account and the system clock"
    )]
    BadCredentials {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// The AWS error code.
        code: String,
    },
    /// `NotFoundException`.
    #[error(
        "AWS KMS key {key_id} not found in region {region}: check [key.aws_kms] key_id, region \
         and that the credentials belong to the key's account{message}"
    )]
    NotFound {
        /// The configured key id.
        key_id: String,
        /// The region asked.
        region: String,
        /// KMS's message, prefixed with `: `.
        message: String,
    },
    /// `DisabledException`.
    #[error(
        "AWS KMS key {key_id} is disabled: enable it (aws kms enable-key --key-id {key_id}) or \
         configure another key"
    )]
    Disabled {
        /// The configured key id.
        key_id: String,
    },
    /// `KMSInvalidStateException`: pending deletion, pending import, …
    #[error(
        "AWS KMS key {key_id} is not in a usable state for kms:{operation} ({message}): if it is \
         pending deletion, cancel it (aws kms cancel-key-deletion --key-id {key_id}) and enable \
         it; otherwise check its KeyState (aws kms describe-key)"
    )]
    InvalidState {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// KMS's message.
        message: String,
    },
    /// `ThrottlingException` after every retry.
    #[error(
        "AWS KMS throttled kms:{operation} for key {key_id} on every one of {attempts} attempts: \
         request a higher KMS quota for asymmetric Sign or lower the request rate"
    )]
    Throttled {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// `max_attempts`.
        attempts: u32,
    },
    /// No answer within the timeout.
    #[error(
        "AWS KMS at {endpoint} did not answer kms:{operation} for key {key_id} in time ({detail}); \
         check the network path to KMS; the limits are [key.aws_kms] connect_timeout_ms = \
         {connect_timeout_ms} and operation_timeout_ms = {operation_timeout_ms}"
    )]
    Timeout {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// The endpoint.
        endpoint: String,
        /// Connect timeout in ms.
        connect_timeout_ms: u64,
        /// Operation timeout in ms.
        operation_timeout_ms: u64,
        /// The SDK's description.
        detail: String,
    },
    /// Transport failure: connection refused, DNS, TLS, …
    #[error(
        "cannot reach AWS KMS at {endpoint} for kms:{operation} on key {key_id}: {detail}; check \
         the network path, proxy or VPC endpoint and [key.aws_kms] endpoint_url / region"
    )]
    Unreachable {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// The endpoint.
        endpoint: String,
        /// The SDK's description.
        detail: String,
    },
    /// No credentials could be loaded from the chain (or the configured provider).
    #[error(
        "no AWS credentials for kms:{operation} on key {key_id}: {detail}; provide them through \
         the SDK's chain (environment, [key.aws_kms] profile, web identity / IRSA, ECS task role, \
         EC2 instance role); they are never read from this config file"
    )]
    NoCredentials {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// What the credential providers said.
        detail: String,
    },
    /// The request failed before reaching KMS for another reason.
    #[error(
        "kms:{operation} for key {key_id} failed before reaching KMS: {detail}; if this is about \
         credentials, check the chain (environment, [key.aws_kms] profile, web identity / IRSA, \
         ECS, instance role)"
    )]
    Request {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// The SDK's description.
        detail: String,
    },
    /// Any other KMS error (internal errors, unavailable key material, …).
    #[error("AWS KMS failed kms:{operation} for key {key_id}: {code}: {message}; retry later")]
    Service {
        /// The configured key id.
        key_id: String,
        /// `GetPublicKey` or `Sign`.
        operation: &'static str,
        /// The KMS error code.
        code: String,
        /// The KMS error message.
        message: String,
    },
    /// KMS answered with something unusable.
    #[error("AWS KMS returned an unusable {what} for key {key_id}: {detail}")]
    Malformed {
        /// The configured key id.
        key_id: String,
        /// `public key`, `signature`, `response`.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The public key changed since startup (an alias was repointed).
    #[error(
        "AWS KMS key {key_id} now has a different public key (address {now}) than at startup \
         ({was}): the alias was repointed; restart the signer after checking which key is meant"
    )]
    KeyChanged {
        /// The configured key id.
        key_id: String,
        /// The address at startup.
        was: Address,
        /// The address now.
        now: Address,
    },
}

impl AwsKmsError {
    /// A stable label for metrics: `config`, `denied`, `unavailable`,
    /// `timeout` or `malformed`.
    pub fn kind(&self) -> &'static str {
        match self {
            AwsKmsError::NoRegion { .. }
            | AwsKmsError::WrongKeySpec { .. }
            | AwsKmsError::WrongKeyUsage { .. }
            | AwsKmsError::UnsupportedKey { .. }
            | AwsKmsError::NotFound { .. } => "config",
            AwsKmsError::AccessDenied { .. }
            | AwsKmsError::BadCredentials { .. }
            | AwsKmsError::NoCredentials { .. } => "denied",
            AwsKmsError::Disabled { .. }
            | AwsKmsError::InvalidState { .. }
            | AwsKmsError::Throttled { .. }
            | AwsKmsError::Unreachable { .. }
            | AwsKmsError::Request { .. }
            | AwsKmsError::Service { .. }
            | AwsKmsError::KeyChanged { .. } => "unavailable",
            AwsKmsError::Timeout { .. } => "timeout",
            AwsKmsError::Malformed { .. } => "malformed",
        }
    }
}
