//! Opening a KMS key: the SDK client (production chains, or explicit
//! credentials for tests), one `GetPublicKey`, and the checks on its answer
//! (`SIGN_VERIFY`, `ECC_SECG_P256K1`, a DER secp256k1 point).

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_kms::config::{BehaviorVersion, Region};
use aws_sdk_kms::operation::get_public_key::GetPublicKeyOutput;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use k256::ecdsa::VerifyingKey;

use super::client::{http_client, retry_config, timeout_config};
use super::der::parse_public_key;
use super::sdk_error::Target;
use super::{AwsKmsBackend, AwsKmsError, REQUIRED_KEY_SPEC, REQUIRED_KEY_USAGE};
use crate::config::AwsKmsConfig;
use crate::eth::Address;

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
            in_flight: tokio::sync::Semaphore::new(super::MAX_IN_FLIGHT),
        })
    }
}

impl Target {
    pub(super) async fn get_public_key(
        &self,
        client: &aws_sdk_kms::Client,
    ) -> Result<GetPublicKeyOutput, AwsKmsError> {
        client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| self.map_sdk_error("GetPublicKey", e))
    }

    /// Validates KeyUsage, KeySpec and the DER SPKI; returns (key id/ARN, key).
    pub(super) fn check_public_key(
        &self,
        out: &GetPublicKeyOutput,
    ) -> Result<(String, VerifyingKey), AwsKmsError> {
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
        let public_key = parse_public_key(der.as_ref()).map_err(|e| AwsKmsError::Malformed {
            key_id: key_id.clone(),
            what: "public key",
            detail: e.to_string(),
        })?;
        let arn = out.key_id().unwrap_or(&self.key_id).to_string();
        Ok((arn, public_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_recognised() {
        assert!(is_alias("alias/livepeer"));
        assert!(is_alias("arn:aws:kms:us-east-1:123456789012:alias/livepeer"));
        assert!(!is_alias(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!is_alias("1234abcd-12ab-34cd-56ef-1234567890ab"));
    }
}
