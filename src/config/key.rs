//! `[key]` and its backend sections. Each section validates itself, and the
//! rules are the typed accessors the backends use ([`Pkcs11Config::token`],
//! [`Pkcs11Config::key`], [`Pkcs11Config::pin`],
//! [`KeystoreConfig::password`], [`KeyConfig::keystore`], …), so validation
//! and use cannot drift apart.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::Invalid;
use crate::eth::{hex, Address};
use crate::secret::SecretSource;

/// `[key]`: which backend holds the Ethereum key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// `keystore`, `pkcs11` or `aws-kms`.
    pub backend: BackendKind,
    /// Refuse to start unless the backend's key has this address (pins the
    /// identity against a repointed KMS alias or a relabelled HSM key).
    pub expected_address: Option<Address>,
    /// `[key.keystore]`
    pub keystore: Option<KeystoreConfig>,
    /// `[key.pkcs11]`
    pub pkcs11: Option<Pkcs11Config>,
    /// `[key.aws_kms]`
    pub aws_kms: Option<AwsKmsConfig>,
}

impl KeyConfig {
    /// Every section present is valid, and the selected backend has its
    /// section (for `pkcs11`, with a key label or id).
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(k) = &self.keystore {
            k.validate()?;
        }
        if let Some(p) = &self.pkcs11 {
            p.validate()?;
        }
        if let Some(a) = &self.aws_kms {
            a.validate()?;
        }
        match self.backend {
            BackendKind::Keystore => self.keystore().map(drop),
            BackendKind::Pkcs11 => self.pkcs11()?.key()?.require_some(),
            BackendKind::AwsKms => self.aws_kms().map(drop),
        }
    }

    /// `[key.keystore]`, required by `backend = "keystore"`.
    pub fn keystore(&self) -> Result<&KeystoreConfig, Invalid> {
        self.keystore.as_ref().ok_or_else(|| {
            Invalid::new("[key] backend = \"keystore\" needs a [key.keystore] section with `path` and `password_file` or `password_env`")
        })
    }

    /// `[key.pkcs11]`, required by `backend = "pkcs11"`.
    pub fn pkcs11(&self) -> Result<&Pkcs11Config, Invalid> {
        self.pkcs11
            .as_ref()
            .ok_or_else(|| Invalid::new("[key] backend = \"pkcs11\" needs a [key.pkcs11] section"))
    }

    /// `[key.aws_kms]`, required by `backend = "aws-kms"`.
    pub fn aws_kms(&self) -> Result<&AwsKmsConfig, Invalid> {
        self.aws_kms.as_ref().ok_or_else(|| {
            Invalid::new("[key] backend = \"aws-kms\" needs a [key.aws_kms] section with `key_id`")
        })
    }
}

/// The key backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BackendKind {
    /// A geth/go-livepeer V3 keystore file or directory.
    #[serde(rename = "keystore")]
    Keystore,
    /// A PKCS#11 token (HSM).
    #[serde(rename = "pkcs11")]
    Pkcs11,
    /// An AWS KMS `ECC_SECG_P256K1` key.
    #[serde(rename = "aws-kms")]
    AwsKms,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Keystore => "keystore",
            BackendKind::Pkcs11 => "pkcs11",
            BackendKind::AwsKms => "aws-kms",
        })
    }
}

/// The one rule for a secret given as `<x>_file` or `<x>_env`: exactly one.
fn secret_source(
    section: &str,
    (file_key, file): (&str, &Option<PathBuf>),
    (env_key, env, origin): (&str, &Option<String>, &'static str),
    holding: &str,
) -> Result<SecretSource, Invalid> {
    match (file, env) {
        (Some(_), Some(_)) => Err(Invalid::new(format!(
            "{section}: set only one of `{file_key}` and `{env_key}`"
        ))),
        (None, None) => Err(Invalid::new(format!(
            "{section}: set `{file_key}` (a file holding {holding}) or `{env_key}` (a variable holding it)"
        ))),
        (Some(f), None) => Ok(SecretSource::File(f.clone())),
        (None, Some(var)) => Ok(SecretSource::Env {
            var: var.clone(),
            origin,
        }),
    }
}

/// `[key.keystore]`: a Web3 Secret Storage (V3) key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreConfig {
    /// A V3 key file, or a directory in geth layout.
    pub path: PathBuf,
    /// Which key of a directory to use; default: the first by file name.
    pub address: Option<Address>,
    /// File holding the password (surrounding whitespace is trimmed).
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password (trimmed the same way).
    pub password_env: Option<String>,
    /// Create a key (and a random password file, mode 0600) when `path`
    /// holds none. For development only.
    #[serde(default)]
    pub create_if_missing: bool,
}

impl KeystoreConfig {
    /// Where the password comes from.
    pub fn password(&self) -> Result<SecretSource, Invalid> {
        secret_source(
            "[key.keystore]",
            ("password_file", &self.password_file),
            ("password_env", &self.password_env, "[key.keystore] password_env"),
            "the password",
        )
    }

    /// The password file `create_if_missing = true` writes (or reads): it
    /// needs `password_file`.
    pub fn development_password_file(&self) -> Result<&PathBuf, Invalid> {
        self.password_file.as_ref().ok_or_else(|| {
            Invalid::new("[key.keystore]: `create_if_missing = true` writes a random password and needs `password_file`, not `password_env`")
        })
    }

    /// One password source; `create_if_missing` needs a file.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.password()?;
        if self.create_if_missing {
            self.development_password_file()?;
        }
        Ok(())
    }
}

/// Which token: `[key.pkcs11] token_label` or `slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// `CK_TOKEN_INFO.label` (trailing blanks ignored).
    Label(String),
    /// A slot id.
    Slot(u64),
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "token {l:?}"),
            TokenSelector::Slot(s) => write!(f, "slot {s}"),
        }
    }
}

/// Which key: `CKA_LABEL` and/or `CKA_ID`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySelector {
    /// `CKA_LABEL`.
    pub label: Option<String>,
    /// `CKA_ID` bytes.
    pub id: Option<Vec<u8>>,
}

impl fmt::Display for KeySelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.label, &self.id) {
            (Some(l), Some(id)) => write!(f, "label {l:?} and id {}", hex::encode(id)),
            (Some(l), None) => write!(f, "label {l:?}"),
            (None, Some(id)) => write!(f, "id {}", hex::encode(id)),
            (None, None) => f.write_str("any label and id"),
        }
    }
}

impl KeySelector {
    /// A signing key must be named by label, id or both.
    pub fn require_some(&self) -> Result<(), Invalid> {
        if self.label.is_none() && self.id.is_none() {
            return Err(Invalid::new(
                "[key.pkcs11]: set `key_label`, `key_id` (hex CKA_ID), or both",
            ));
        }
        Ok(())
    }
}

/// `[key.pkcs11]`: a key inside a PKCS#11 token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// Path of the vendor's PKCS#11 module (`.so`).
    pub module: PathBuf,
    /// Token label (one of `token_label` / `slot`).
    pub token_label: Option<String>,
    /// Slot id (one of `token_label` / `slot`).
    pub slot: Option<u64>,
    /// `CKA_LABEL` of the key (with or instead of `key_id`).
    pub key_label: Option<String>,
    /// `CKA_ID` of the key as hex (with or instead of `key_label`).
    pub key_id: Option<String>,
    /// File holding the user PIN (surrounding whitespace is trimmed).
    pub pin_file: Option<PathBuf>,
    /// Environment variable holding the user PIN (trimmed the same way).
    pub pin_env: Option<String>,
    /// Number of logged-in sessions in the pool.
    #[serde(default = "default_sessions")]
    pub sessions: usize,
}

fn default_sessions() -> usize {
    4
}

impl Pkcs11Config {
    /// The token: exactly one of `token_label` and `slot`.
    pub fn token(&self) -> Result<TokenSelector, Invalid> {
        match (&self.token_label, self.slot) {
            (Some(l), None) => Ok(TokenSelector::Label(l.clone())),
            (None, Some(s)) => Ok(TokenSelector::Slot(s)),
            (Some(_), Some(_)) => Err(Invalid::new(
                "[key.pkcs11]: set only one of `token_label` and `slot`",
            )),
            (None, None) => Err(Invalid::new(
                "[key.pkcs11]: set `token_label` (preferred: slot ids can change) or `slot`",
            )),
        }
    }

    /// The key: `key_label` and/or `key_id` (hex). Both may be absent here
    /// (the key-management commands need no key);
    /// [`KeySelector::require_some`] is the rule for signing.
    pub fn key(&self) -> Result<KeySelector, Invalid> {
        let id = match &self.key_id {
            Some(s) => Some(
                hex::decode(s)
                    .map_err(|e| Invalid::new(format!("[key.pkcs11] key_id = {s:?} is not hex: {e}")))?,
            ),
            None => None,
        };
        Ok(KeySelector {
            label: self.key_label.clone(),
            id,
        })
    }

    /// Where the user PIN comes from.
    pub fn pin(&self) -> Result<SecretSource, Invalid> {
        secret_source(
            "[key.pkcs11]",
            ("pin_file", &self.pin_file),
            ("pin_env", &self.pin_env, "[key.pkcs11] pin_env"),
            "the user PIN",
        )
    }

    /// Token, key id and PIN source rules; 1 to 256 sessions.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.token()?;
        self.key()?;
        self.pin()?;
        if self.sessions == 0 || self.sessions > 256 {
            return Err(Invalid::new(format!(
                "[key.pkcs11] sessions = {}: allowed 1 to 256",
                self.sessions
            )));
        }
        Ok(())
    }
}

/// `[key.aws_kms]`: an AWS KMS `ECC_SECG_P256K1` / `SIGN_VERIFY` key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKmsConfig {
    /// Key id, key ARN, or alias (`alias/…`, logged as a warning).
    pub key_id: String,
    /// Region; default: the SDK's region chain.
    pub region: Option<String>,
    /// Endpoint override (VPC/FIPS endpoints, emulators).
    pub endpoint_url: Option<String>,
    /// Named profile from the shared AWS config files.
    pub profile: Option<String>,
    /// TCP connect timeout.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Whole-operation timeout, retries included.
    #[serde(default = "default_operation_timeout_ms")]
    pub operation_timeout_ms: u64,
    /// Attempts per operation (1 = no retry).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_connect_timeout_ms() -> u64 {
    3000
}
fn default_operation_timeout_ms() -> u64 {
    10_000
}
fn default_max_attempts() -> u32 {
    3
}

impl AwsKmsConfig {
    /// A key id, 1 to 10 attempts, non-zero timeouts, an http(s) endpoint.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.key_id.trim().is_empty() {
            return Err(Invalid::new(
                "[key.aws_kms] key_id is empty: give the key id or ARN",
            ));
        }
        if self.max_attempts == 0 || self.max_attempts > 10 {
            return Err(Invalid::new(format!(
                "[key.aws_kms] max_attempts = {}: allowed 1 to 10",
                self.max_attempts
            )));
        }
        if self.connect_timeout_ms == 0 || self.operation_timeout_ms == 0 {
            return Err(Invalid::new(
                "[key.aws_kms]: connect_timeout_ms and operation_timeout_ms must be > 0",
            ));
        }
        if let Some(url) = &self.endpoint_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Invalid::new(format!("[key.aws_kms] endpoint_url = {url:?}: must start with https:// (or http:// for a local emulator)")));
            }
        }
        Ok(())
    }
}
