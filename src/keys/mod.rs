//! Key backends: key I/O and nothing else.
//!
//! A [`KeyBackend`] knows its secp256k1 public key and turns a 32-byte digest
//! into a raw ECDSA `(r, s)`. It never hashes, never normalises `s` and never
//! computes a recovery id: the [`crate::signer::Signer`] owns those rules.

use async_trait::async_trait;
use k256::ecdsa::{Signature, VerifyingKey};

use crate::config::{BackendKind, KeyConfig};

#[cfg(feature = "aws-kms")]
pub mod aws_kms;
pub mod keystore;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;

/// A source of raw secp256k1 ECDSA signatures.
#[async_trait]
pub trait KeyBackend: Send + Sync + 'static {
    /// Short backend name for logs and metrics: `keystore`, `pkcs11`, `aws-kms`.
    fn kind(&self) -> &'static str;

    /// Where the key lives, for logs (a file path, token/key label, KMS key id).
    /// Never contains secrets.
    fn describe(&self) -> String;

    /// The public key of the signing key.
    fn public_key(&self) -> &VerifyingKey;

    /// Signs `digest` exactly as given (no hashing) with ECDSA over secp256k1
    /// and returns `(r, s)`. `s` may be high; there is no recovery id.
    async fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, BackendError>;

    /// A cheap liveness probe (session ping, `GetPublicKey`, …). Backends
    /// that cannot fail after opening return `Ok(())`.
    async fn probe(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// What went wrong in a backend. Messages name the source and what to do;
/// they never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The configuration cannot work (missing file, wrong curve, bad key id…).
    #[error("{0}")]
    Config(String),
    /// Credentials were refused (wrong password, wrong PIN, access denied…).
    #[error("{0}")]
    Denied(String),
    /// The backend is not reachable or not ready now; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// The backend did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The backend answered with something unusable.
    #[error("{0}")]
    Malformed(String),
}

impl BackendError {
    /// A stable label for metrics: `config`, `denied`, `unavailable`, `timeout`, `malformed`.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::Config(_) => "config",
            BackendError::Denied(_) => "denied",
            BackendError::Unavailable(_) => "unavailable",
            BackendError::Timeout(_) => "timeout",
            BackendError::Malformed(_) => "malformed",
        }
    }
}

/// Opens the backend selected by `[key] backend` and, when
/// `[key] expected_address` is set, checks that the key has that address.
pub async fn open(config: &KeyConfig) -> Result<Box<dyn KeyBackend>, BackendError> {
    let backend = open_backend(config).await?;
    if let Some(expected) = config.expected_address {
        let found = crate::eth::Address::from_public_key(backend.public_key());
        if found != expected {
            return Err(BackendError::Config(format!(
                "{} holds the key of {found}, but [key] expected_address is {expected}: \
                 the configured key changed (a repointed alias, another HSM key, another key file); \
                 fix the key reference or, if the new identity is intended, expected_address",
                backend.describe()
            )));
        }
    }
    Ok(backend)
}

async fn open_backend(config: &KeyConfig) -> Result<Box<dyn KeyBackend>, BackendError> {
    match config.backend {
        BackendKind::Keystore => {
            let cfg = config.keystore.as_ref().ok_or_else(|| {
                BackendError::Config("[key] backend = \"keystore\" needs a [key.keystore] section".into())
            })?;
            Ok(Box::new(keystore::KeystoreBackend::open(cfg).await?))
        }
        #[cfg(feature = "pkcs11")]
        BackendKind::Pkcs11 => {
            let cfg = config.pkcs11.as_ref().ok_or_else(|| {
                BackendError::Config("[key] backend = \"pkcs11\" needs a [key.pkcs11] section".into())
            })?;
            Ok(Box::new(pkcs11::Pkcs11Backend::open(cfg).await?))
        }
        #[cfg(not(feature = "pkcs11"))]
        BackendKind::Pkcs11 => Err(BackendError::Config(
            "this build has no PKCS#11 support: rebuild with `--features pkcs11`".into(),
        )),
        #[cfg(feature = "aws-kms")]
        BackendKind::AwsKms => {
            let cfg = config.aws_kms.as_ref().ok_or_else(|| {
                BackendError::Config("[key] backend = \"aws-kms\" needs a [key.aws_kms] section".into())
            })?;
            Ok(Box::new(aws_kms::AwsKmsBackend::open(cfg).await?))
        }
        #[cfg(not(feature = "aws-kms"))]
        BackendKind::AwsKms => Err(BackendError::Config(
            "this build has no AWS KMS support: rebuild with `--features aws-kms`".into(),
        )),
    }
}
