//! The optional state MAC (`[payments] state_mac_key_file`): new states
//! carry an HMAC-SHA256 tag instead of an ECDSA signature by the key.
//!
//! Only this signer (and its replicas, which share the MAC key) ever reads
//! the state back, so a MAC authenticates it as well as a signature does,
//! and each continuing payment then costs the key its tickets only, not
//! one more HSM/KMS signature. The tag is
//!
//! ```text
//! Sig = HMAC-SHA256(key, "livepeer-signer state v1" ‖ 0x00 ‖ signer address (20 bytes) ‖ state JSON)
//! ```
//!
//! 32 bytes, where a signature is 65: the length tells the two apart, and
//! states signed by the key (ours or a go-livepeer signer's) stay
//! accepted. A go-livepeer signer cannot verify a MAC'd state: in a mixed
//! fleet leave the MAC off.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::eth::Address;

/// Length of a state tag.
pub const TAG_LEN: usize = 32;
/// Shortest accepted key.
pub const MIN_KEY_LEN: usize = 32;
const DOMAIN: &[u8] = b"livepeer-signer state v1\x00";

/// The shared secret behind state tags. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct StateMacKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for StateMacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateMacKey(<redacted>)")
    }
}

/// Why the MAC key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateMacKeyError {
    /// The file cannot be read.
    #[error("[payments] state_mac_key_file {path}: {error}; create it with `openssl rand -hex 32 > FILE` (mode 0600) and give every replica the same file")]
    Io {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// Fewer than 32 bytes after trimming whitespace.
    #[error("[payments] state_mac_key_file {path}: {len} bytes after trimming whitespace; at least 32 random bytes are needed (e.g. `openssl rand -hex 32 > FILE`)")]
    TooShort {
        /// The file.
        path: String,
        /// Its trimmed length.
        len: usize,
    },
}

impl StateMacKey {
    /// The key from its bytes (at least [`MIN_KEY_LEN`]).
    pub fn new(bytes: &[u8]) -> Option<StateMacKey> {
        (bytes.len() >= MIN_KEY_LEN).then(|| StateMacKey(Zeroizing::new(bytes.to_vec())))
    }

    /// Reads the key file: its contents with surrounding ASCII whitespace
    /// trimmed (a hex or base64 text line works), at least 32 bytes.
    pub fn read(path: &std::path::Path) -> Result<StateMacKey, StateMacKeyError> {
        let raw = Zeroizing::new(std::fs::read(path).map_err(|error| StateMacKeyError::Io {
            path: path.display().to_string(),
            error,
        })?);
        let trimmed = raw.trim_ascii();
        StateMacKey::new(trimmed).ok_or_else(|| StateMacKeyError::TooShort {
            path: path.display().to_string(),
            len: trimmed.len(),
        })
    }

    fn mac(&self, signer: &Address, state: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(DOMAIN);
        mac.update(signer.as_bytes());
        mac.update(state);
        mac
    }

    /// The 32-byte tag of `state` (its JSON bytes) for `signer`.
    pub fn tag(&self, signer: &Address, state: &[u8]) -> [u8; TAG_LEN] {
        self.mac(signer, state).finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `state` for `signer` (constant time).
    pub fn verify(&self, signer: &Address, state: &[u8], tag: &[u8]) -> bool {
        self.mac(signer, state).verify_slice(tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_bind_key_signer_and_bytes() {
        let k = StateMacKey::new(&[7u8; 32]).unwrap();
        let me = Address::from_bytes([1; 20]);
        let t = k.tag(&me, b"{\"StateID\":\"a\"}");
        assert!(k.verify(&me, b"{\"StateID\":\"a\"}", &t));
        assert!(!k.verify(&me, b"{\"StateID\":\"b\"}", &t));
        assert!(!k.verify(&Address::from_bytes([2; 20]), b"{\"StateID\":\"a\"}", &t));
        assert!(!StateMacKey::new(&[8u8; 32])
            .unwrap()
            .verify(&me, b"{\"StateID\":\"a\"}", &t));
        assert!(!k.verify(&me, b"{\"StateID\":\"a\"}", &t[..31]));
        assert!(StateMacKey::new(&[0; 31]).is_none());
        assert_eq!(format!("{k:?}"), "StateMacKey(<redacted>)");
    }

    #[test]
    fn key_files_are_trimmed_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        std::fs::write(&f, format!("{}\n", "ab".repeat(32))).unwrap();
        let k = StateMacKey::read(&f).unwrap();
        assert_eq!(k.0.len(), 64);
        std::fs::write(&f, "short\n").unwrap();
        let e = StateMacKey::read(&f).unwrap_err().to_string();
        assert!(e.contains("5 bytes") && e.contains("at least 32"), "{e}");
        let e = StateMacKey::read(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("openssl rand -hex 32"), "{e}");
    }
}
