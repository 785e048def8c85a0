//! AWS KMS backend: an asymmetric `ECC_SECG_P256K1` / `SIGN_VERIFY` KMS key,
//! used through `aws-sdk-kms` with the caller's IAM identity.
//!
//! * **Startup** ([`AwsKmsBackend::open`]): one `GetPublicKey`. The key must
//!   be `KeySpec = ECC_SECG_P256K1` and `KeyUsage = SIGN_VERIFY`; its DER
//!   `SubjectPublicKeyInfo` is parsed into the secp256k1 public key and the
//!   Ethereum address is derived and logged. An alias works but is logged as
//!   a warning (an alias can be repointed to another key).
//! * **Signing** ([`KeyBackend::sign_digest`]): `Sign` with
//!   `MessageType = DIGEST`, `SigningAlgorithm = ECDSA_SHA_256` and the
//!   32-byte digest as the message, so KMS signs the digest as is (no
//!   hashing). KMS answers a DER `ECDSA-Sig-Value`; it is parsed into a raw
//!   `(r, s)` and returned unchanged: `s` may be high, there is no recovery
//!   id. The [`crate::signer::Signer`] normalises, finds `v` and self-checks,
//!   so a KMS (or emulator) that hashes the digest again, or an alias
//!   repointed to another key, fails closed there
//!   ([`crate::signer::SignError::NotOurKey`]).
//! * **Resilience**: connect and operation timeouts, bounded retries with
//!   exponential backoff and jitter (the SDK's standard retry strategy: it
//!   retries throttling, transient service errors, timeouts and transport
//!   errors). Each attempt gets a share of the operation timeout, so one
//!   stalled connection does not use up the whole budget.
//!   KMS errors map to distinct [`AwsKmsError`]s that name the key, the
//!   permission or key state that is missing, and what to do.
//! * **Credentials** come from the SDK's standard chain in production
//!   (environment, shared profile, web identity / IRSA, ECS, EC2 instance
//!   role); never from our TOML. [`AwsKmsBackend::open_with_credentials`]
//!   takes an explicit provider and reads no AWS environment at all.
//!
//! The HTTP client is the smithy hyper client on rustls + ring (no aws-lc);
//! it speaks `https://` and, for local emulators, `http://`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_kms::config::{BehaviorVersion, Region, SharedHttpClient};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::get_public_key::GetPublicKeyOutput;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use k256::ecdsa::{Signature, VerifyingKey};
use k256::pkcs8::DecodePublicKey;

use crate::config::AwsKmsConfig;
use crate::eth::Address;
use crate::keys::{BackendError, KeyBackend};

/// The key spec Ethereum needs (secp256k1).
pub const REQUIRED_KEY_SPEC: &str = "ECC_SECG_P256K1";
/// The key usage signing needs.
pub const REQUIRED_KEY_USAGE: &str = "SIGN_VERIFY";

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

impl From<AwsKmsError> for BackendError {
    fn from(e: AwsKmsError) -> Self {
        let msg = e.to_string();
        match e {
            AwsKmsError::NoRegion { .. }
            | AwsKmsError::WrongKeySpec { .. }
            | AwsKmsError::WrongKeyUsage { .. }
            | AwsKmsError::UnsupportedKey { .. }
            | AwsKmsError::NotFound { .. } => BackendError::Config(msg),
            AwsKmsError::AccessDenied { .. }
            | AwsKmsError::BadCredentials { .. }
            | AwsKmsError::NoCredentials { .. } => BackendError::Denied(msg),
            AwsKmsError::Disabled { .. }
            | AwsKmsError::InvalidState { .. }
            | AwsKmsError::Throttled { .. }
            | AwsKmsError::Unreachable { .. }
            | AwsKmsError::Request { .. }
            | AwsKmsError::Service { .. }
            | AwsKmsError::KeyChanged { .. } => BackendError::Unavailable(msg),
            AwsKmsError::Timeout { .. } => BackendError::Timeout(msg),
            AwsKmsError::Malformed { .. } => BackendError::Malformed(msg),
        }
    }
}

/// A KMS signing key: the SDK client, the configured key id and the public
/// key read at startup.
pub struct AwsKmsBackend {
    client: aws_sdk_kms::Client,
    target: Target,
    key_arn: String,
    public_key: VerifyingKey,
    address: Address,
}

impl fmt::Debug for AwsKmsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsBackend")
            .field("key_id", &self.target.key_id)
            .field("key_arn", &self.key_arn)
            .field("region", &self.target.region)
            .field("endpoint", &self.target.endpoint)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Which key, where, and the limits: what error messages name.
#[derive(Debug, Clone)]
struct Target {
    key_id: String,
    region: String,
    endpoint: String,
    connect_timeout_ms: u64,
    operation_timeout_ms: u64,
    max_attempts: u32,
}

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

fn is_alias(key_id: &str) -> bool {
    key_id.starts_with("alias/") || (key_id.starts_with("arn:") && key_id.contains(":alias/"))
}

impl AwsKmsBackend {
    /// Opens the key for production: region, credentials and profile come
    /// from the SDK's standard chains (`[key.aws_kms] region` / `profile` /
    /// `endpoint_url` take precedence), then [`AwsKmsBackend::open_client`]
    /// checks the key.
    pub async fn open(config: &AwsKmsConfig) -> Result<Self, AwsKmsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .timeout_config(timeout_config(config))
            .retry_config(retry_config(config));
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let region = sdk.region().cloned().ok_or_else(|| AwsKmsError::NoRegion {
            key_id: config.key_id.clone(),
        })?;
        Self::open_client(aws_sdk_kms::Client::new(&sdk), config, region).await
    }

    /// Opens the key with explicit credentials and no AWS environment: no
    /// credential or region chain runs, no profile file is read, nothing
    /// probes instance metadata. `[key.aws_kms] region` is required and
    /// `profile` is ignored. For tests, benches and embedding.
    pub async fn open_with_credentials(
        config: &AwsKmsConfig,
        credentials: impl ProvideCredentials + 'static,
    ) -> Result<Self, AwsKmsError> {
        let region = Region::new(config.region.clone().ok_or_else(|| AwsKmsError::NoRegion {
            key_id: config.key_id.clone(),
        })?);
        let mut builder = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(credentials)
            .http_client(http_client())
            .timeout_config(timeout_config(config))
            .retry_config(retry_config(config));
        if let Some(url) = &config.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        Self::open_client(aws_sdk_kms::Client::from_conf(builder.build()), config, region).await
    }

    /// Checks the key behind `client` with one `GetPublicKey`: `KeySpec` must
    /// be `ECC_SECG_P256K1` and `KeyUsage` `SIGN_VERIFY`; the DER
    /// `SubjectPublicKeyInfo` is parsed and the address derived and logged.
    pub async fn open_client(
        client: aws_sdk_kms::Client,
        config: &AwsKmsConfig,
        region: Region,
    ) -> Result<Self, AwsKmsError> {
        let target = Target {
            key_id: config.key_id.trim().to_string(),
            region: region.to_string(),
            endpoint: config
                .endpoint_url
                .clone()
                .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com")),
            connect_timeout_ms: config.connect_timeout_ms,
            operation_timeout_ms: config.operation_timeout_ms,
            max_attempts: config.max_attempts,
        };
        let out = target.get_public_key(&client).await?;
        let (key_arn, public_key) = target.check_public_key(&out)?;
        let address = Address::from_public_key(&public_key);
        if is_alias(&target.key_id) {
            tracing::warn!(
                key_id = %target.key_id,
                key = %key_arn,
                "[key.aws_kms] key_id is an alias: an alias can be repointed to another key \
                 (signing then fails closed); prefer the key id or key ARN"
            );
        }
        tracing::info!(
            key_id = %target.key_id,
            key = %key_arn,
            region = %target.region,
            %address,
            "AWS KMS key ready ({REQUIRED_KEY_SPEC}, {REQUIRED_KEY_USAGE})"
        );
        Ok(AwsKmsBackend {
            client,
            target,
            key_arn,
            public_key,
            address,
        })
    }

    /// The key id as configured (id, ARN or alias).
    pub fn key_id(&self) -> &str {
        &self.target.key_id
    }

    /// The key id or ARN KMS returned at startup (the key an alias pointed to).
    pub fn key_arn(&self) -> &str {
        &self.key_arn
    }

    /// The Ethereum address of the key.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The SDK client (the same timeouts, retries and credentials).
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    /// Signs `digest` as is with KMS (`MessageType = DIGEST`,
    /// `ECDSA_SHA_256`) and returns the raw `(r, s)` from KMS's DER.
    pub async fn sign_raw(&self, digest: &[u8; 32]) -> Result<Signature, AwsKmsError> {
        let out = self
            .client
            .sign()
            .key_id(&self.target.key_id)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| self.target.map_sdk_error("Sign", e))?;
        let der = out.signature().ok_or_else(|| AwsKmsError::Malformed {
            key_id: self.target.key_id.clone(),
            what: "signature",
            detail: "Sign returned no Signature".into(),
        })?;
        parse_signature(der.as_ref()).map_err(|detail| AwsKmsError::Malformed {
            key_id: self.target.key_id.clone(),
            what: "signature",
            detail,
        })
    }

    /// `GetPublicKey` again; the key must be unchanged.
    pub async fn check(&self) -> Result<(), AwsKmsError> {
        let out = self.target.get_public_key(&self.client).await?;
        let (_, public_key) = self.target.check_public_key(&out)?;
        if public_key != self.public_key {
            return Err(AwsKmsError::KeyChanged {
                key_id: self.target.key_id.clone(),
                was: self.address,
                now: Address::from_public_key(&public_key),
            });
        }
        Ok(())
    }
}

impl Target {
    async fn get_public_key(&self, client: &aws_sdk_kms::Client) -> Result<GetPublicKeyOutput, AwsKmsError> {
        client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| self.map_sdk_error("GetPublicKey", e))
    }

    /// Validates KeyUsage, KeySpec and the DER SPKI; returns (key id/ARN, key).
    fn check_public_key(&self, out: &GetPublicKeyOutput) -> Result<(String, VerifyingKey), AwsKmsError> {
        let key_id = self.key_id.clone();
        let usage = out.key_usage().map(|u| u.as_str().to_string());
        if out.key_usage() != Some(&KeyUsageType::SignVerify) {
            return Err(AwsKmsError::WrongKeyUsage {
                key_id,
                key_usage: usage.unwrap_or_else(|| "(none)".into()),
            });
        }
        // Some KMS implementations (moto ≤ 5.2) only send the deprecated
        // CustomerMasterKeySpec; real KMS sends both.
        #[allow(deprecated)]
        let spec = out
            .key_spec()
            .map(|s| s.as_str().to_string())
            .or_else(|| out.customer_master_key_spec().map(|s| s.as_str().to_string()));
        if spec.as_deref() != Some(KeySpec::EccSecgP256K1.as_str()) {
            return Err(AwsKmsError::WrongKeySpec {
                key_id,
                key_spec: spec.unwrap_or_else(|| "(none)".into()),
            });
        }
        let der = out.public_key().ok_or_else(|| AwsKmsError::Malformed {
            key_id: key_id.clone(),
            what: "public key",
            detail: "GetPublicKey returned no PublicKey".into(),
        })?;
        let public_key = parse_public_key(der.as_ref()).map_err(|detail| AwsKmsError::Malformed {
            key_id: key_id.clone(),
            what: "public key",
            detail,
        })?;
        let arn = out.key_id().unwrap_or(&self.key_id).to_string();
        Ok((arn, public_key))
    }

    fn map_sdk_error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> AwsKmsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let key_id = self.key_id.clone();
        let endpoint = self.endpoint.clone();
        let timeout = |detail: String| AwsKmsError::Timeout {
            key_id: key_id.clone(),
            operation,
            endpoint: endpoint.clone(),
            connect_timeout_ms: self.connect_timeout_ms,
            operation_timeout_ms: self.operation_timeout_ms,
            detail,
        };
        match &err {
            SdkError::TimeoutError(_) => timeout(error_chain(&err)),
            SdkError::DispatchFailure(d) if d.is_timeout() => timeout(error_chain(&err)),
            SdkError::DispatchFailure(d) if d.is_io() => AwsKmsError::Unreachable {
                key_id,
                operation,
                endpoint,
                detail: error_chain(&err),
            },
            _ if credentials_error(&err).is_some() => AwsKmsError::NoCredentials {
                key_id,
                operation,
                detail: credentials_error(&err).map(error_chain).unwrap_or_default(),
            },
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => AwsKmsError::Request {
                key_id,
                operation,
                detail: error_chain(&err),
            },
            SdkError::ResponseError(_) => AwsKmsError::Malformed {
                key_id,
                what: "response",
                detail: error_chain(&err),
            },
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().unwrap_or("(no error code)").to_string();
                let message = e.message().unwrap_or_default().to_string();
                let suffix = if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                };
                match code.as_str() {
                    "AccessDeniedException" => AwsKmsError::AccessDenied {
                        key_id,
                        operation,
                        message: suffix,
                    },
                    "NotFoundException" => AwsKmsError::NotFound {
                        key_id,
                        region: self.region.clone(),
                        message: suffix,
                    },
                    "DisabledException" => AwsKmsError::Disabled { key_id },
                    "KMSInvalidStateException" => AwsKmsError::InvalidState {
                        key_id,
                        operation,
                        message,
                    },
                    "ThrottlingException" => AwsKmsError::Throttled {
                        key_id,
                        operation,
                        attempts: self.max_attempts,
                    },
                    "UnsupportedOperationException" | "InvalidKeyUsageException" => {
                        AwsKmsError::UnsupportedKey {
                            key_id,
                            operation,
                            code,
                            message,
                        }
                    }
                    "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "IncompleteSignature"
                    | "MissingAuthenticationToken"
                    | "ExpiredTokenException"
                    | "InvalidClientTokenId" => AwsKmsError::BadCredentials {
                        key_id,
                        operation,
                        code,
                    },
                    _ => AwsKmsError::Service {
                        key_id,
                        operation,
                        code,
                        message,
                    },
                }
            }
            _ => AwsKmsError::Request {
                key_id,
                operation,
                detail: error_chain(&err),
            },
        }
    }
}

/// `Display` of an error and its sources, joined with `: ` (no `Debug` dumps).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = e.source();
    }
    out
}

/// The credentials error somewhere in `err`'s sources, if any.
fn credentials_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<CredentialsError>().is_some() {
            return Some(e);
        }
        cur = e.source();
    }
    None
}

/// Parses a DER `SubjectPublicKeyInfo` holding a secp256k1 point.
pub fn parse_public_key(der: &[u8]) -> Result<VerifyingKey, String> {
    k256::PublicKey::from_public_key_der(der)
        .map(VerifyingKey::from)
        .map_err(|e| format!("not a DER secp256k1 SubjectPublicKeyInfo: {e}"))
}

/// Parses KMS's DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`
/// into a raw `(r, s)`. Integers may be shorter than 32 bytes or carry the
/// leading zero DER requires when the top bit is set. `s` is left as is.
pub fn parse_signature(der: &[u8]) -> Result<Signature, String> {
    Signature::from_der(der).map_err(|e| format!("not a DER ECDSA signature: {e}"))
}

#[async_trait]
impl KeyBackend for AwsKmsBackend {
    fn kind(&self) -> &'static str {
        "aws-kms"
    }

    fn describe(&self) -> String {
        let t = &self.target;
        if self.key_arn == t.key_id {
            format!("AWS KMS key {} ({})", t.key_id, t.region)
        } else {
            format!("AWS KMS key {} → {} ({})", t.key_id, self.key_arn, t.region)
        }
    }

    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    /// KMS `Sign` with `MessageType = DIGEST` and `ECDSA_SHA_256` over the
    /// 32-byte digest as given; returns KMS's `(r, s)` unchanged (`s` may be
    /// high, no recovery id).
    async fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, BackendError> {
        Ok(self.sign_raw(digest).await?)
    }

    /// One `GetPublicKey` (needs only `kms:GetPublicKey`): `Denied` or
    /// `Timeout` as such, anything else that makes the key unusable now
    /// (outage, disabled, deleted, the key behind an alias changed) as
    /// `Unavailable`.
    async fn probe(&self) -> Result<(), BackendError> {
        self.check().await.map_err(|e| match BackendError::from(e) {
            e @ (BackendError::Denied(_) | BackendError::Timeout(_) | BackendError::Unavailable(_)) => e,
            other => BackendError::Unavailable(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER INTEGER body for a positive big-endian value (minimal, with a
    /// leading zero when the top bit is set).
    fn der_int(v: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }

    fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
        let body: Vec<u8> = [der_int(r), der_int(s)].concat();
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn der_signature_short_integers_and_leading_zero() {
        // r = 0x00ff…: shorter than 32 bytes once minimal (31 bytes, top bit set → leading zero).
        let mut r = [0u8; 32];
        r[1..].fill(0xff);
        // s = 1 … 0x80…: 32 bytes with the top bit set → 33-byte INTEGER with a leading zero.
        let mut s = [0u8; 32];
        s[0] = 0x7f;
        s[31] = 0x01;
        let mut s_high = [0u8; 32];
        s_high[0] = 0x80;
        s_high[31] = 0x01;
        let sig = parse_signature(&der_sig(&r, &s)).unwrap();
        assert_eq!(sig.r().to_bytes().as_slice(), &r);
        assert_eq!(sig.s().to_bytes().as_slice(), &s);
        // A high s is returned as is, not normalised.
        let sig = parse_signature(&der_sig(&[0x05], &s_high)).unwrap();
        assert_eq!(sig.s().to_bytes().as_slice(), &s_high);
        assert!(sig.normalize_s().is_some());
        let mut five = [0u8; 32];
        five[31] = 5;
        assert_eq!(sig.r().to_bytes().as_slice(), &five);
        assert!(parse_signature(b"\x30\x00").is_err());
        assert!(parse_signature(&[0u8; 64]).is_err());
    }

    #[test]
    fn der_public_key_round_trip_and_wrong_curve() {
        use k256::pkcs8::EncodePublicKey;
        let sk = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let der = k256::PublicKey::from(sk.verifying_key())
            .to_public_key_der()
            .unwrap();
        assert_eq!(&parse_public_key(der.as_bytes()).unwrap(), sk.verifying_key());
        // A P-256 SPKI (OID prime256v1) is refused.
        let mut p256 = der.as_bytes().to_vec();
        let k1_oid = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
        let pos = p256.windows(7).position(|w| w == k1_oid).unwrap();
        p256.splice(
            pos..pos + 7,
            [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        );
        assert!(parse_public_key(&p256).is_err());
    }

    #[test]
    fn aliases_are_recognised() {
        assert!(is_alias("alias/livepeer"));
        assert!(is_alias("arn:aws:kms:us-east-1:123456789012:alias/livepeer"));
        assert!(!is_alias(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!is_alias("1234abcd-12ab-34cd-56ef-1234567890ab"));
    }

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
