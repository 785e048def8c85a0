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
//!
//! Layout: [`error`] the error enum, [`client`] the transport, timeouts and
//! retries, `open` the startup checks, `sdk_error` the SDK error mapping,
//! [`der`] the DER parsers; this file the backend and signing.

pub mod client;
pub mod der;
mod error;
mod open;
mod sdk_error;

pub use client::{http_client, retry_config, timeout_config};
pub use der::{parse_public_key, parse_signature, DerError};
pub use error::AwsKmsError;

use std::fmt;

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use k256::ecdsa::{Signature, VerifyingKey};

use crate::eth::Address;
use crate::keys::{BackendError, KeyBackend};
use sdk_error::Target;

/// The key spec Ethereum needs (secp256k1).
pub const REQUIRED_KEY_SPEC: &str = "ECC_SECG_P256K1";
/// The key usage signing needs.
pub const REQUIRED_KEY_USAGE: &str = "SIGN_VERIFY";

/// A KMS signing key: the SDK client, the configured key id and the public
/// key read at startup.
pub struct AwsKmsBackend {
    client: aws_sdk_kms::Client,
    target: Target,
    key_arn: String,
    public_key: VerifyingKey,
    address: Address,
    in_flight: tokio::sync::Semaphore,
}

/// `Sign` calls in flight at once per process. A payment signs its tickets
/// concurrently; without a cap, a burst of payments opens one connection
/// per signature and runs into KMS's request quota (or a connection
/// backlog) all at once. Calls beyond the cap wait their turn; their SDK
/// timeout starts when they are sent. 32 calls at KMS's 20–50 ms latency
/// is 640–1,600 signatures/s, above AWS's default asymmetric-signing quota.
pub const MAX_IN_FLIGHT: usize = 32;

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

impl AwsKmsBackend {
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
        // Never closed, so acquiring cannot fail.
        let _permit = self.in_flight.acquire().await.ok();
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
        parse_signature(der.as_ref()).map_err(|e| AwsKmsError::Malformed {
            key_id: self.target.key_id.clone(),
            what: "signature",
            detail: e.to_string(),
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

    /// One `GetPublicKey` (needs only `kms:GetPublicKey`): `denied` or
    /// `timeout` as such, anything else that makes the key unusable now
    /// (outage, disabled, deleted, the key behind an alias changed) as
    /// `unavailable`.
    async fn probe(&self) -> Result<(), BackendError> {
        self.check().await.map_err(|e| match e.kind() {
            "denied" | "timeout" | "unavailable" => BackendError::from(e),
            _ => BackendError::unready(e.into()),
        })
    }
}
