//! PKCS#11 backend (issue 3): not implemented yet.

use async_trait::async_trait;
use k256::ecdsa::{Signature, VerifyingKey};

use crate::config::Pkcs11Config;
use crate::keys::{BackendError, KeyBackend};

/// A key inside a PKCS#11 token.
#[derive(Debug)]
pub struct Pkcs11Backend {
    public_key: VerifyingKey,
}

impl Pkcs11Backend {
    /// Opens the token and finds the key.
    pub async fn open(_config: &Pkcs11Config) -> Result<Self, BackendError> {
        Err(BackendError::Config(
            "the pkcs11 backend is not implemented yet".into(),
        ))
    }
}

#[async_trait]
impl KeyBackend for Pkcs11Backend {
    fn kind(&self) -> &'static str {
        "pkcs11"
    }
    fn describe(&self) -> String {
        "pkcs11".into()
    }
    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }
    async fn sign_digest(&self, _digest: &[u8; 32]) -> Result<Signature, BackendError> {
        Err(BackendError::Unavailable("not implemented".into()))
    }
}
