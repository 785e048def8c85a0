//! AWS KMS backend (issue 4): not implemented yet.

use async_trait::async_trait;
use k256::ecdsa::{Signature, VerifyingKey};

use crate::config::AwsKmsConfig;
use crate::keys::{BackendError, KeyBackend};

/// A KMS key.
#[derive(Debug)]
pub struct AwsKmsBackend {
    public_key: VerifyingKey,
}

impl AwsKmsBackend {
    /// Opens the KMS key.
    pub async fn open(_config: &AwsKmsConfig) -> Result<Self, BackendError> {
        Err(BackendError::Config(
            "the aws-kms backend is not implemented yet".into(),
        ))
    }
}

#[async_trait]
impl KeyBackend for AwsKmsBackend {
    fn kind(&self) -> &'static str {
        "aws-kms"
    }
    fn describe(&self) -> String {
        "aws-kms".into()
    }
    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }
    async fn sign_digest(&self, _digest: &[u8; 32]) -> Result<Signature, BackendError> {
        Err(BackendError::Unavailable("not implemented".into()))
    }
}
