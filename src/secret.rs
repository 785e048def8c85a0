//! Secrets (passwords, PINs, bearer tokens) read from a file or an
//! environment variable: one trimming rule, zeroized, redacted in `Debug`.
//!
//! Rule: surrounding whitespace is trimmed (as go-livepeer trims its password
//! file), and an empty result is an error. The same rule holds for files and
//! variables. Errors name the source (file path or variable and the config
//! key it came from), never the value.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use zeroize::Zeroizing;

/// Where a secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file; its contents, trimmed.
    File(PathBuf),
    /// An environment variable, with the config key that named it (for
    /// messages), e.g. `[key.pkcs11] pin_env`.
    Env {
        /// The variable.
        var: String,
        /// The config key that named it.
        origin: &'static str,
    },
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(p) => write!(f, "File({})", p.display()),
            SecretSource::Env { var, .. } => write!(f, "Env({var})"),
        }
    }
}

/// Why a secret could not be read. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file cannot be read.
    #[error("file {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file holds only whitespace.
    #[error("file {} is empty", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The variable is not set (or not Unicode).
    #[error("environment variable {var} (from {origin}) is not set")]
    NotSet {
        /// The variable.
        var: String,
        /// The config key that named it.
        origin: &'static str,
    },
    /// The variable holds only whitespace.
    #[error("environment variable {var} (from {origin}) is empty")]
    EmptyVar {
        /// The variable.
        var: String,
        /// The config key that named it.
        origin: &'static str,
    },
}

impl SecretSource {
    /// Reads the secret now.
    pub fn read(&self) -> Result<SecretString, SecretError> {
        match self {
            SecretSource::File(path) => read_file(path),
            SecretSource::Env { var, origin } => {
                let value = Zeroizing::new(std::env::var(var).map_err(|_| SecretError::NotSet {
                    var: var.clone(),
                    origin,
                })?);
                trimmed(&value).ok_or_else(|| SecretError::EmptyVar {
                    var: var.clone(),
                    origin,
                })
            }
        }
    }
}

/// Reads a secret from `path`, trimming surrounding whitespace; the
/// untrimmed copy is zeroized.
pub fn read_file(path: &Path) -> Result<SecretString, SecretError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|error| SecretError::Io {
        path: path.to_path_buf(),
        error,
    })?);
    trimmed(&text).ok_or_else(|| SecretError::EmptyFile {
        path: path.to_path_buf(),
    })
}

fn trimmed(raw: &str) -> Option<SecretString> {
    let t = raw.trim();
    (!t.is_empty()).then(|| SecretString::from(t.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn files_and_variables_are_trimmed_alike() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "  hunter2 \n").unwrap();
        assert_eq!(read_file(&f).unwrap().expose_secret(), "hunter2");
        std::env::set_var("LPS_SECRET_TEST_TRIM", "\thunter2 \n");
        let env = SecretSource::Env {
            var: "LPS_SECRET_TEST_TRIM".into(),
            origin: "[test] env",
        };
        assert_eq!(env.read().unwrap().expose_secret(), "hunter2");
    }

    #[test]
    fn empty_and_missing_sources_name_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("blank");
        std::fs::write(&f, " \n").unwrap();
        let e = read_file(&f).unwrap_err().to_string();
        assert_eq!(e, format!("file {} is empty", f.display()));
        let e = read_file(&dir.path().join("none")).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("file {}: ", dir.path().join("none").display())),
            "{e}"
        );
        std::env::set_var("LPS_SECRET_TEST_BLANK", "  ");
        let blank = SecretSource::Env {
            var: "LPS_SECRET_TEST_BLANK".into(),
            origin: "[key.pkcs11] pin_env",
        };
        assert_eq!(
            blank.read().unwrap_err().to_string(),
            "environment variable LPS_SECRET_TEST_BLANK (from [key.pkcs11] pin_env) is empty"
        );
        let unset = SecretSource::Env {
            var: "LPS_SECRET_TEST_UNSET_7f3a".into(),
            origin: "[key.keystore] password_env",
        };
        assert_eq!(
            unset.read().unwrap_err().to_string(),
            "environment variable LPS_SECRET_TEST_UNSET_7f3a (from [key.keystore] password_env) is not set"
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let s = SecretSource::Env {
            var: "X".into(),
            origin: "o",
        };
        assert_eq!(format!("{s:?}"), "Env(X)");
    }
}
