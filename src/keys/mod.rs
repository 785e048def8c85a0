//! Key backends: key I/O and nothing else.
//!
//! A [`KeyBackend`] knows its secp256k1 public key and turns a 32-byte digest
//! into a raw ECDSA `(r, s)`. It never hashes, never normalises `s` and never
//! computes a recovery id: the [`crate::signer::Signer`] owns those rules.

use async_trait::async_trait;
use k256::ecdsa::{Signature, VerifyingKey};

use crate::config::{BackendKind, Invalid, KeyConfig};

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

    /// [`KeyBackend::sign_digest`] plus, when the signing library computed
    /// it anyway, the parity of `R.y` as a hint (`Some(y_odd)`). The hint
    /// only orders the Signer's trial: the Signer still derives `v` by
    /// verifying each candidate, so a wrong hint costs time, never a wrong
    /// signature. Default: no hint.
    async fn sign_digest_hinted(&self, digest: &[u8; 32]) -> Result<(Signature, Option<bool>), BackendError> {
        Ok((self.sign_digest(digest).await?, None))
    }

    /// A cheap liveness probe (session ping, `GetPublicKey`, …). Backends
    /// that cannot fail after opening return `Ok(())`.
    async fn probe(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// What went wrong in a backend: the backend's own typed error (kept as the
/// source) and its [`BackendError::kind`], the metrics label. Messages name
/// the source and what to do; they never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] Invalid),
    /// The keystore backend failed.
    #[error(transparent)]
    Keystore(#[from] keystore::KeystoreError),
    /// The PKCS#11 backend failed.
    #[cfg(feature = "pkcs11")]
    #[error(transparent)]
    Pkcs11(#[from] pkcs11::Pkcs11Error),
    /// The AWS KMS backend failed.
    #[cfg(feature = "aws-kms")]
    #[error(transparent)]
    AwsKms(#[from] aws_kms::AwsKmsError),
    /// The key is not the one `[key] expected_address` pins.
    #[error(
        "{key} holds the key of {found}, but [key] expected_address is {expected}: \
         the configured key changed (a repointed alias, another HSM key, another key file); \
         fix the key reference or, if the new identity is intended, expected_address"
    )]
    AddressMismatch {
        /// The backend's description of the key.
        key: String,
        /// Its address.
        found: crate::eth::Address,
        /// `[key] expected_address`.
        expected: crate::eth::Address,
    },
    /// The backend was left out of this build.
    #[error("this build has no {backend} support: rebuild with `--features {feature}`")]
    NotBuilt {
        /// `PKCS#11` or `AWS KMS`.
        backend: &'static str,
        /// The cargo feature.
        feature: &'static str,
    },
    /// A blocking task running backend I/O panicked or was cancelled.
    #[error("the {what} task failed (a panic or a shutdown, not a key problem): see the log above; if it was not a shutdown, restart the signer and report the log")]
    Task {
        /// What the task did.
        what: &'static str,
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A failure that makes the key unusable *now*, whatever its own kind
    /// (a probe seeing a disabled or repointed key): kind `unavailable`.
    #[error(transparent)]
    Unready(Box<BackendError>),
}

impl BackendError {
    /// A stable label for metrics: `config`, `denied`, `unavailable`,
    /// `timeout` or `malformed`.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::Config(_)
            | BackendError::AddressMismatch { .. }
            | BackendError::NotBuilt { .. } => "config",
            BackendError::Keystore(e) => e.kind(),
            #[cfg(feature = "pkcs11")]
            BackendError::Pkcs11(e) => e.kind(),
            #[cfg(feature = "aws-kms")]
            BackendError::AwsKms(e) => e.kind(),
            BackendError::Task { .. } | BackendError::Unready(_) => "unavailable",
        }
    }

    /// Marks `e` as making the key unusable now (kind `unavailable`).
    pub fn unready(e: BackendError) -> BackendError {
        match e.kind() {
            "unavailable" => e,
            _ => BackendError::Unready(Box::new(e)),
        }
    }

    /// A failed blocking task.
    pub fn task(what: &'static str, source: tokio::task::JoinError) -> BackendError {
        BackendError::Task { what, source }
    }
}

/// Opens the backend selected by `[key] backend` and, when
/// `[key] expected_address` is set, checks that the key has that address.
pub async fn open(config: &KeyConfig) -> Result<Box<dyn KeyBackend>, BackendError> {
    let backend = open_backend(config).await?;
    if let Some(expected) = config.expected_address {
        let found = crate::eth::Address::from_public_key(backend.public_key());
        if found != expected {
            return Err(BackendError::AddressMismatch {
                key: backend.describe(),
                found,
                expected,
            });
        }
    }
    Ok(backend)
}

async fn open_backend(config: &KeyConfig) -> Result<Box<dyn KeyBackend>, BackendError> {
    match config.backend {
        BackendKind::Keystore => Ok(Box::new(
            keystore::KeystoreBackend::open(config.keystore()?).await?,
        )),
        #[cfg(feature = "pkcs11")]
        BackendKind::Pkcs11 => Ok(Box::new(pkcs11::Pkcs11Backend::open(config.pkcs11()?).await?)),
        #[cfg(not(feature = "pkcs11"))]
        BackendKind::Pkcs11 => Err(BackendError::NotBuilt {
            backend: "PKCS#11",
            feature: "pkcs11",
        }),
        #[cfg(feature = "aws-kms")]
        BackendKind::AwsKms => Ok(Box::new(aws_kms::AwsKmsBackend::open(config.aws_kms()?).await?)),
        #[cfg(not(feature = "aws-kms"))]
        BackendKind::AwsKms => Err(BackendError::NotBuilt {
            backend: "AWS KMS",
            feature: "aws-kms",
        }),
    }
}
