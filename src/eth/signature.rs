//! The 65-byte Ethereum signature `r‖s‖v` and go-livepeer's `VerifySig`.

use std::fmt;

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use super::address::Address;
use super::hash::text_hash;
use super::hex;

/// Length of a wire signature: `r(32) ‖ s(32) ‖ v(1)`.
pub const SIGNATURE_LEN: usize = 65;

/// `n / 2` for secp256k1, big-endian. A signature with `s` above this is
/// "high-s" and go-livepeer (like Ethereum since Homestead) rejects it.
pub const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5d,
    0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// A canonical Ethereum signature as go-livepeer puts it on the wire:
/// `r(32) ‖ s(32) ‖ v(1)` with `s ≤ n/2` and `v ∈ {27, 28}`.
///
/// Only [`RecoverableSignature::from_parts`] (used by the Signer after
/// normalisation) and [`RecoverableSignature::parse`] (which enforces the
/// rules) construct one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RecoverableSignature([u8; SIGNATURE_LEN]);

impl RecoverableSignature {
    /// Builds `r‖s‖(27 + y_odd)` from a low-s signature.
    ///
    /// Returns `None` when `s` is high: callers normalise first.
    pub fn from_parts(sig: &Signature, y_odd: bool) -> Option<Self> {
        let mut out = [0u8; SIGNATURE_LEN];
        out[..64].copy_from_slice(&sig.to_bytes());
        if !s_is_low(&out[32..64]) {
            return None;
        }
        out[64] = 27 + u8::from(y_odd);
        Some(RecoverableSignature(out))
    }

    /// Parses 65 wire bytes, applying go-livepeer's structural rules
    /// (length, low-s, v ∈ {27, 28}) without recovering.
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.len() != SIGNATURE_LEN {
            return Err(VerifyError::Length(bytes.len()));
        }
        if !s_is_low(&bytes[32..64]) {
            return Err(VerifyError::HighS);
        }
        if !matches!(bytes[64], 27 | 28) {
            return Err(VerifyError::BadV(bytes[64]));
        }
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(bytes);
        Ok(RecoverableSignature(out))
    }

    /// The 65 wire bytes.
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }

    /// `v`: 27 or 28.
    pub fn v(&self) -> u8 {
        self.0[64]
    }

    /// `0x` + 130 lowercase hex digits, as go-livepeer's JSON carries it.
    pub fn to_hex(&self) -> String {
        hex::encode_0x(self.0)
    }
}

impl fmt::Debug for RecoverableSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoverableSignature({})", self.to_hex())
    }
}

/// Why go-livepeer's `VerifySig` would refuse a signature. The messages of the
/// first three match go-livepeer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not 65 bytes.
    #[error("invalid signature length: {0} bytes, expected 65")]
    Length(usize),
    /// `s > n/2`.
    #[error("signature s value too high")]
    HighS,
    /// `v` is not 27 or 28.
    #[error("signature v value must be 27 or 28 (got {0})")]
    BadV(u8),
    /// `r`/`s` out of range or no point recovers.
    #[error("no public key recovers from this signature")]
    Unrecoverable,
    /// A key recovers, but it is not the expected one.
    #[error("signature recovers to {recovered}, expected {expected}")]
    WrongSigner {
        /// The address the signature should come from.
        expected: Address,
        /// The address it actually comes from.
        recovered: Address,
    },
}

fn s_is_low(s: &[u8]) -> bool {
    s <= HALF_ORDER.as_slice()
}

/// The process's libsecp256k1 context (signing and verification),
/// randomized once at first use against side channels.
pub(crate) fn secp() -> &'static secp256k1::Secp256k1<secp256k1::All> {
    static CTX: std::sync::LazyLock<secp256k1::Secp256k1<secp256k1::All>> = std::sync::LazyLock::new(|| {
        let mut ctx = secp256k1::Secp256k1::new();
        ctx.seeded_randomize(&rand::random::<[u8; 32]>());
        ctx
    });
    &CTX
}

/// Recovers the signer's address from a 65-byte signature over a 32-byte
/// digest (the digest is used as is, nothing is hashed), after checking
/// go-livepeer's rules: length 65, `s ≤ n/2`, `v ∈ {27, 28}`. The recovery
/// is libsecp256k1's `secp256k1_ecdsa_recover`, the function go-ethereum's
/// `Ecrecover` (and so go-livepeer's `VerifySig`) calls; `r` or `s` of 0 or
/// ≥ n do not recover.
pub fn recover_digest(digest: &[u8; 32], sig: &[u8]) -> Result<Address, VerifyError> {
    let sig = RecoverableSignature::parse(sig)?;
    let bytes = sig.as_bytes();
    let recid = secp256k1::ecdsa::RecoveryId::from_u8_masked(bytes[64] - 27);
    let rs = secp256k1::ecdsa::RecoverableSignature::from_compact(&bytes[..64], recid)
        .map_err(|_| VerifyError::Unrecoverable)?;
    let key = secp()
        .recover_ecdsa(secp256k1::Message::from_digest(*digest), &rs)
        .map_err(|_| VerifyError::Unrecoverable)?;
    Ok(Address::from_uncompressed(&key.serialize_uncompressed()))
}

/// [`recover_digest`] computed with k256 alone: the slow, independent
/// reference the tests compare the fast path against.
pub fn recover_digest_reference(digest: &[u8; 32], sig: &[u8]) -> Result<Address, VerifyError> {
    let sig = RecoverableSignature::parse(sig)?;
    let bytes = sig.as_bytes();
    let rs = Signature::from_slice(&bytes[..64]).map_err(|_| VerifyError::Unrecoverable)?;
    let recid = RecoveryId::from_byte(bytes[64] - 27).ok_or(VerifyError::Unrecoverable)?;
    let key =
        VerifyingKey::recover_from_prehash(digest, &rs, recid).map_err(|_| VerifyError::Unrecoverable)?;
    Ok(Address::from_public_key(&key))
}

/// Checks that `sig` is a go-livepeer-valid signature by `expected` over the
/// 32-byte `digest` (used as is).
pub fn verify_digest(expected: &Address, digest: &[u8; 32], sig: &[u8]) -> Result<(), VerifyError> {
    let recovered = recover_digest(digest, sig)?;
    if &recovered != expected {
        return Err(VerifyError::WrongSigner {
            expected: *expected,
            recovered,
        });
    }
    Ok(())
}

/// go-livepeer's `crypto.VerifySig(addr, msg, sig)`: `sig` must be a valid
/// signature by `expected` over `TextHash(msg)` (EIP-191).
pub fn verify_sig(expected: &Address, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    verify_digest(expected, &text_hash(msg), sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_order_is_n_over_two() {
        // n = fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141
        let n = hex::decode_array::<32>("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
            .unwrap();
        // n >> 1
        let mut half = [0u8; 32];
        let mut carry = 0u8;
        for (i, b) in n.iter().enumerate() {
            half[i] = (b >> 1) | (carry << 7);
            carry = b & 1;
        }
        assert_eq!(half, HALF_ORDER);
    }
}
