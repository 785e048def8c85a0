//! DER parsing of what KMS returns: the `SubjectPublicKeyInfo` of
//! `GetPublicKey` and the `ECDSA-Sig-Value` of `Sign` (pure).

use k256::ecdsa::{Signature, VerifyingKey};
use k256::pkcs8::DecodePublicKey;

/// DER that is not what KMS should send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    /// Not a secp256k1 `SubjectPublicKeyInfo`.
    #[error("not a DER secp256k1 SubjectPublicKeyInfo: {0}")]
    PublicKey(String),
    /// Not an `ECDSA-Sig-Value`.
    #[error("not a DER ECDSA signature: {0}")]
    Signature(String),
}

/// Parses a DER `SubjectPublicKeyInfo` holding a secp256k1 point.
pub fn parse_public_key(der: &[u8]) -> Result<VerifyingKey, DerError> {
    k256::PublicKey::from_public_key_der(der)
        .map(VerifyingKey::from)
        .map_err(|e| DerError::PublicKey(e.to_string()))
}

/// Parses KMS's DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`
/// into a raw `(r, s)`. Integers may be shorter than 32 bytes or carry the
/// leading zero DER requires when the top bit is set. `s` is left as is.
pub fn parse_signature(der: &[u8]) -> Result<Signature, DerError> {
    Signature::from_der(der).map_err(|e| DerError::Signature(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER INTEGER body for a positive big-endian value (minimal, with a
    /// leading zero when the top bit is set).
    fn der_int(v: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }

    fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
        let body: Vec<u8> = [der_int(r), der_int(s)].concat();
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn der_signature_short_integers_and_leading_zero() {
        // r = 0x00ff…: shorter than 32 bytes once minimal (31 bytes, top bit set → leading zero).
        let mut r = [0u8; 32];
        r[1..].fill(0xff);
        // s = 1 … 0x80…: 32 bytes with the top bit set → 33-byte INTEGER with a leading zero.
        let mut s = [0u8; 32];
        s[0] = 0x7f;
        s[31] = 0x01;
        let mut s_high = [0u8; 32];
        s_high[0] = 0x80;
        s_high[31] = 0x01;
        let sig = parse_signature(&der_sig(&r, &s)).unwrap();
        assert_eq!(sig.r().to_bytes().as_slice(), &r);
        assert_eq!(sig.s().to_bytes().as_slice(), &s);
        // A high s is returned as is, not normalised.
        let sig = parse_signature(&der_sig(&[0x05], &s_high)).unwrap();
        assert_eq!(sig.s().to_bytes().as_slice(), &s_high);
        assert!(sig.normalize_s().is_some());
        let mut five = [0u8; 32];
        five[31] = 5;
        assert_eq!(sig.r().to_bytes().as_slice(), &five);
        assert!(parse_signature(b"\x30\x00").is_err());
        assert!(parse_signature(&[0u8; 64]).is_err());
    }

    #[test]
    fn der_public_key_round_trip_and_wrong_curve() {
        use k256::pkcs8::EncodePublicKey;
        let sk = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let der = k256::PublicKey::from(sk.verifying_key())
            .to_public_key_der()
            .unwrap();
        assert_eq!(&parse_public_key(der.as_bytes()).unwrap(), sk.verifying_key());
        // A P-256 SPKI (OID prime256v1) is refused.
        let mut p256 = der.as_bytes().to_vec();
        let k1_oid = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
        let pos = p256.windows(7).position(|w| w == k1_oid).unwrap();
        p256.splice(
            pos..pos + 7,
            [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        );
        assert!(parse_public_key(&p256).is_err());
    }
}
