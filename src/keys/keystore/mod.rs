//! Keystore backend: a geth / go-livepeer V3 key file, decrypted at startup
//! and kept in memory (zeroized on drop).
//!
//! `path` is a key file or a directory in geth layout. Directory scanning
//! follows geth: names starting with `.` or ending with `~`, subdirectories
//! and unparsable files are skipped (with a warning); accounts are ordered by
//! file name (oldest first for `UTC--…` names); `address` selects one,
//! otherwise the first is used. Unlike geth, a symlink to a regular file is
//! followed, because Kubernetes Secret volumes are made of symlinks.

pub mod v3;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Invalid, KeystoreConfig};
use crate::eth::{hex, Address};
use crate::keys::{BackendError, KeyBackend};
use crate::secret::{self, SecretError};
pub use v3::{KeyFile, ScryptStrength, V3Error};

/// Why the keystore could not be opened. Never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The path is missing or unreadable.
    #[error("keystore path {}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// A directory with no usable key file.
    #[error("keystore directory {} holds no usable key file{}; create one with `livepeer-signer keystore new --dir {}` or set create_if_missing = true for development", dir.display(), skipped_hint(*skipped), dir.display())]
    Empty {
        /// The directory.
        dir: PathBuf,
        /// How many files were skipped.
        skipped: usize,
    },
    /// `address` is set but no file holds it.
    #[error("no key for {address} in keystore {} (it holds: {found}); fix [key.keystore] address", dir.display())]
    AddressNotFound {
        /// The directory.
        dir: PathBuf,
        /// The configured address.
        address: Address,
        /// Addresses present.
        found: String,
    },
    /// MAC mismatch.
    #[error("wrong password for keystore {}: check [key.keystore] password_file / password_env", file.display())]
    WrongPassword {
        /// The key file.
        file: PathBuf,
    },
    /// A key file that cannot be used.
    #[error("keystore {}: {error}", file.display())]
    Invalid {
        /// The key file.
        file: PathBuf,
        /// What is wrong.
        error: V3Error,
    },
    /// The key file holds another address than configured.
    #[error("keystore {} holds {found}, but [key.keystore] address is {expected}", file.display())]
    WrongAddress {
        /// The key file.
        file: PathBuf,
        /// Configured address.
        expected: Address,
        /// Address in the file.
        found: Address,
    },
    /// The config names no usable password source.
    #[error(transparent)]
    Config(#[from] Invalid),
    /// The password source failed.
    #[error("password: {0}")]
    Password(SecretError),
    /// The key file was readable at startup and no longer is (the key is in
    /// memory; a restart would fail).
    #[error("key file {} is no longer readable ({error}); signing continues from memory, but a restart would fail", file.display())]
    Unreadable {
        /// The key file.
        file: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// The in-memory key failed to sign (cannot happen for a valid key).
    #[error("local ECDSA signing failed: {0}")]
    Sign(k256::ecdsa::Error),
    /// The blocking task (KDF, file I/O) panicked or was cancelled.
    #[error("the keystore task failed (a panic or a shutdown, not a wrong password): see the log above; if it was not a shutdown, retry and report the log")]
    Task(#[source] tokio::task::JoinError),
}

impl From<SecretError> for KeystoreError {
    fn from(e: SecretError) -> Self {
        KeystoreError::Password(e)
    }
}

impl KeystoreError {
    /// A stable label for metrics: a wrong password is `denied`, a key file
    /// gone after startup or a failed task `unavailable`, the rest `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeystoreError::WrongPassword { .. } => "denied",
            KeystoreError::Unreadable { .. } | KeystoreError::Task(_) => "unavailable",
            KeystoreError::Sign(_) => "malformed",
            _ => "config",
        }
    }
}

fn skipped_hint(skipped: usize) -> String {
    if skipped == 0 {
        String::new()
    } else {
        format!(" ({skipped} file(s) skipped, see the warnings above)")
    }
}

/// One key file found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The key file.
    pub path: PathBuf,
    /// Its `address` field.
    pub address: Address,
}

/// The result of scanning a keystore directory.
#[derive(Debug, Default)]
pub struct Scan {
    /// Usable key files, ordered by path.
    pub accounts: Vec<Account>,
    /// Files passed over, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Lists the key files of a geth-layout directory, as geth's account cache
/// does (see the module docs for the rules).
pub fn scan_dir(dir: &Path) -> io::Result<Scan> {
    let mut scan = Scan::default();
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        // fs::metadata follows symlinks: a link to a regular file counts.
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => continue,
            Err(e) => {
                scan.skipped.push((path, format!("unreadable: {e}")));
                continue;
            }
        }
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                scan.skipped.push((path, format!("unreadable: {e}")));
                continue;
            }
        };
        match KeyFile::parse(&bytes) {
            Ok(file) => match file.address() {
                Some(address) => scan.accounts.push(Account { path, address }),
                None => scan.skipped.push((path, "missing or zero address".into())),
            },
            Err(e) => scan.skipped.push((path, e.to_string())),
        }
    }
    Ok(scan)
}

/// An unlocked key from a V3 key file.
pub struct KeystoreBackend {
    key: SecretScalar,
    public_key: VerifyingKey,
    file: PathBuf,
}

/// The private key as libsecp256k1 holds it, erased on drop.
struct SecretScalar(secp256k1::SecretKey);

impl Drop for SecretScalar {
    fn drop(&mut self) {
        self.0.non_secure_erase();
    }
}

impl std::fmt::Debug for KeystoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoreBackend")
            .field("file", &self.file)
            .field("address", &Address::from_public_key(&self.public_key))
            .finish_non_exhaustive()
    }
}

impl KeystoreBackend {
    /// Opens (and if configured, creates) the key. Runs the KDF on a
    /// blocking thread.
    pub async fn open(config: &KeystoreConfig) -> Result<Self, KeystoreError> {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(&config))
            .await
            .unwrap_or_else(|e| Err(KeystoreError::Task(e)))
    }

    /// [`KeystoreBackend::open`] on the current thread.
    pub fn open_blocking(config: &KeystoreConfig) -> Result<Self, KeystoreError> {
        let file = match select_file(config)? {
            Some(file) => file,
            None => return create_development_key(config),
        };
        let password = config.password()?.read()?;
        let backend = Self::unlock(&file, &password)?;
        if let Some(expected) = config.address {
            let found = Address::from_public_key(&backend.public_key);
            if found != expected {
                return Err(KeystoreError::WrongAddress {
                    file,
                    expected,
                    found,
                });
            }
        }
        Ok(backend)
    }

    /// Decrypts one key file with `password`.
    pub fn unlock(file: &Path, password: &SecretString) -> Result<Self, KeystoreError> {
        let bytes = fs::read(file).map_err(|source| KeystoreError::Io {
            path: file.to_path_buf(),
            error: source,
        })?;
        let parsed = KeyFile::parse(&bytes).map_err(|source| KeystoreError::Invalid {
            file: file.to_path_buf(),
            error: source,
        })?;
        let key = parsed
            .decrypt(password.expose_secret().as_bytes())
            .map_err(|source| match source {
                V3Error::WrongPassword => KeystoreError::WrongPassword {
                    file: file.to_path_buf(),
                },
                source => KeystoreError::Invalid {
                    file: file.to_path_buf(),
                    error: source,
                },
            })?;
        Ok(Self::from_signing_key(key, file.to_path_buf()))
    }

    /// Wraps an in-memory key (tests and benchmarks).
    pub fn from_signing_key(key: SigningKey, file: PathBuf) -> Self {
        let public_key = *key.verifying_key();
        let bytes = zeroize::Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
        let secret = secp256k1::SecretKey::from_byte_array(*bytes)
            .expect("a k256 signing key is a valid non-zero scalar");
        KeystoreBackend {
            key: SecretScalar(secret),
            public_key,
            file,
        }
    }

    /// The key file this key came from.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

#[async_trait]
impl KeyBackend for KeystoreBackend {
    fn kind(&self) -> &'static str {
        "keystore"
    }

    fn describe(&self) -> String {
        format!("keystore {}", self.file.display())
    }

    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    /// RFC 6979 deterministic ECDSA over the digest as given, by
    /// libsecp256k1 as go-ethereum signs: low `s`, byte-identical to
    /// go-ethereum (and to k256's RFC 6979) for the same key and digest.
    async fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, BackendError> {
        self.sign_digest_hinted(digest).await.map(|(sig, _)| sig)
    }

    /// [`Self::sign_digest`] with libsecp256k1's recovery id as the parity hint.
    async fn sign_digest_hinted(&self, digest: &[u8; 32]) -> Result<(Signature, Option<bool>), BackendError> {
        let sig =
            crate::eth::secp().sign_ecdsa_recoverable(secp256k1::Message::from_digest(*digest), &self.key.0);
        let (recid, rs) = sig.serialize_compact();
        let sig = Signature::from_slice(&rs).map_err(|e| BackendError::from(KeystoreError::Sign(e)))?;
        Ok((sig, Some(i32::from(recid) & 1 == 1)))
    }

    /// The key is in memory, so signing cannot fail; the probe reports
    /// whether the key file is still readable, because the next restart
    /// needs it.
    async fn probe(&self) -> Result<(), BackendError> {
        let file = self.file.clone();
        if file.as_os_str() == "memory" {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || {
            fs::File::open(&file)
                .map(drop)
                .map_err(|source| KeystoreError::Unreadable { file, error: source })
        })
        .await
        .map_err(|e| BackendError::task("keystore probe", e))?
        .map_err(BackendError::from)
    }
}

/// Picks the key file per the config. `Ok(None)` means "none, create one".
fn select_file(config: &KeystoreConfig) -> Result<Option<PathBuf>, KeystoreError> {
    let path = &config.path;
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound && config.create_if_missing => return Ok(None),
        Err(source) => {
            return Err(KeystoreError::Io {
                path: path.clone(),
                error: source,
            })
        }
    };
    if meta.is_file() {
        return Ok(Some(path.clone()));
    }
    let scan = scan_dir(path).map_err(|source| KeystoreError::Io {
        path: path.clone(),
        error: source,
    })?;
    for (file, reason) in &scan.skipped {
        tracing::warn!(file = %file.display(), %reason, "skipping file in keystore directory: not a usable key file");
    }
    if let Some(address) = config.address {
        return match scan.accounts.iter().find(|a| a.address == address) {
            Some(a) => Ok(Some(a.path.clone())),
            None => Err(KeystoreError::AddressNotFound {
                dir: path.clone(),
                address,
                found: if scan.accounts.is_empty() {
                    "no keys".into()
                } else {
                    scan.accounts
                        .iter()
                        .map(|a| a.address.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        };
    }
    match scan.accounts.as_slice() {
        [] if config.create_if_missing => Ok(None),
        [] => Err(KeystoreError::Empty {
            dir: path.clone(),
            skipped: scan.skipped.len(),
        }),
        [only] => Ok(Some(only.path.clone())),
        [first, ..] => {
            tracing::warn!(
                file = %first.path.display(),
                address = %first.address,
                candidates = scan.accounts.len(),
                "keystore directory holds several keys and no address is configured; using the first by file name (set [key.keystore] address to choose)"
            );
            Ok(Some(first.path.clone()))
        }
    }
}

/// Writes `contents` to a new file readable only by its owner (0600),
/// failing if it exists. Written to a temporary name, then renamed.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("new"),
        std::process::id()
    ));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        if path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            ));
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates a directory (and parents) with mode 0700 where it is new.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// geth's key file name: `UTC--2006-01-02T15-04-05.999999999Z--<address hex>`.
pub fn key_file_name(address: &Address, at: time::OffsetDateTime) -> String {
    let t = at.to_offset(time::UtcOffset::UTC);
    format!(
        "UTC--{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.{:09}Z--{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond(),
        hex::encode(address.as_bytes())
    )
}

/// Generates a new random key, encrypts it with `password` and writes it to
/// `dir` (created 0700 if needed) as `UTC--<time>--<address>`, mode 0600.
/// Blocking (runs scrypt).
pub fn create_key(
    dir: &Path,
    password: &SecretString,
    strength: ScryptStrength,
) -> Result<(PathBuf, Address), KeystoreError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeystoreError::Io { path, error: source }
    };
    create_private_dir(dir).map_err(io_err(dir))?;
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let address = Address::from_public_key(key.verifying_key());
    let file = KeyFile::encrypt(&key, password.expose_secret().as_bytes(), strength);
    let path = dir.join(key_file_name(&address, time::OffsetDateTime::now_utc()));
    write_private_file(&path, file.to_json().as_bytes()).map_err(io_err(&path))?;
    Ok((path, address))
}

/// Creates a random password (64 hex chars) in a new 0600 file.
pub fn create_password_file(path: &Path) -> Result<SecretString, KeystoreError> {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    let password = zeroize::Zeroizing::new(hex::encode(raw.as_ref()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent).map_err(|source| KeystoreError::Io {
            path: parent.to_path_buf(),
            error: source,
        })?;
    }
    write_private_file(path, password.as_bytes()).map_err(|source| KeystoreError::Io {
        path: path.to_path_buf(),
        error: source,
    })?;
    Ok(SecretString::from(password.as_str().to_owned()))
}

/// `create_if_missing = true` and no key: make one with go-livepeer's
/// standard scrypt parameters, and a random password file if there is none.
fn create_development_key(config: &KeystoreConfig) -> Result<KeystoreBackend, KeystoreError> {
    let password_file = config.development_password_file()?;
    let password = if password_file.exists() {
        secret::read_file(password_file)?
    } else {
        create_password_file(password_file)?
    };
    let (file, address) = create_key(&config.path, &password, ScryptStrength::Standard)?;
    tracing::warn!(
        %address,
        key_file = %file.display(),
        password_file = %password_file.display(),
        "DEVELOPMENT KEY CREATED because create_if_missing = true and the keystore held no key. \
         Do not fund it or use it in production: configure your own keystore, HSM or KMS key."
    );
    KeystoreBackend::unlock(&file, &password)
}
