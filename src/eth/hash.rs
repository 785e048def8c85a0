//! keccak256 and the EIP-191 text hash (`personal_sign`).

use sha3::{Digest, Keccak256};

/// Original Keccak-256 as used by Ethereum (not NIST SHA3-256).
pub fn keccak256(data: impl AsRef<[u8]>) -> [u8; 32] {
    Keccak256::digest(data.as_ref()).into()
}

/// EIP-191 version 0x45 text hash, as go-ethereum's `TextHash` and
/// go-livepeer's `Eth.Sign` compute it:
///
/// `keccak256("\x19Ethereum Signed Message:\n" ‖ decimal(len(msg)) ‖ msg)`.
pub fn text_hash(msg: impl AsRef<[u8]>) -> [u8; 32] {
    let msg = msg.as_ref();
    let mut hasher = Keccak256::new();
    hasher.update(b"\x19Ethereum Signed Message:\n");
    hasher.update(msg.len().to_string().as_bytes());
    hasher.update(msg);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::hex;

    #[test]
    fn keccak_of_empty_string() {
        // vectors.md C8
        assert_eq!(
            hex::encode(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn text_hash_of_orch_info_digest() {
        // vectors.md C1: TextHash over the 32-byte keccak of the EIP-55 address.
        let digest = keccak256(b"0x96216849c49358B10257cb55b28eA603c874b05E");
        assert_eq!(
            hex::encode(digest),
            "ee96633aed042ac52aa7069ecf77197b72b4eaf865c41905e4e184b7b2a54799"
        );
        assert_eq!(
            hex::encode(text_hash(digest)),
            "86823e0a870be94a5ea7641cd849e4938a5537b90e12235c02e4bcf660463c30"
        );
    }
}
