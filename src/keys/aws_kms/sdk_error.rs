//! Mapping aws-sdk-kms errors to [`AwsKmsError`]: timeouts, transport,
//! credentials and every KMS error code an operator can act on.

use crate::net::error_chain;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};

use super::AwsKmsError;

/// Which key, where, and the limits: what error messages name.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) key_id: String,
    pub(super) region: String,
    pub(super) endpoint: String,
    pub(super) connect_timeout_ms: u64,
    pub(super) operation_timeout_ms: u64,
    pub(super) max_attempts: u32,
}

impl Target {
    /// Maps an SDK error of `operation` to the [`AwsKmsError`] that says what to do.
    pub(super) fn map_sdk_error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> AwsKmsError
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
