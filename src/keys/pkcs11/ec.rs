//! Pure parsing of the EC attributes a PKCS#11 token returns: `CKA_EC_PARAMS`
//! (must be the secp256k1 named-curve OID) and `CKA_EC_POINT` (a DER OCTET
//! STRING around the SEC1 point, as the spec says and SoftHSM returns, or the
//! raw SEC1 point, as several HSMs return). No I/O.

use k256::ecdsa::VerifyingKey;

/// DER of the secp256k1 OID 1.3.132.0.10: `06 05 2B 81 04 00 0A`.
pub const SECP256K1_PARAMS: [u8; 7] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A];

/// Named curves an operator is likely to meet, for error messages.
const KNOWN_CURVES: &[(&[u8], &str)] = &[
    (&SECP256K1_PARAMS, "secp256k1 (OID 1.3.132.0.10)"),
    (
        &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07],
        "P-256 / prime256v1 / secp256r1 (OID 1.2.840.10045.3.1.7)",
    ),
    (
        &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22],
        "P-384 / secp384r1 (OID 1.3.132.0.34)",
    ),
    (
        &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23],
        "P-521 / secp521r1 (OID 1.3.132.0.35)",
    ),
    (
        &[0x06, 0x09, 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07],
        "brainpoolP256r1 (OID 1.3.36.3.3.2.8.1.1.7)",
    ),
    (&[0x06, 0x03, 0x2B, 0x65, 0x70], "Ed25519 (OID 1.3.101.112)"),
];

/// Whether `CKA_EC_PARAMS` names secp256k1.
pub fn is_secp256k1(params: &[u8]) -> bool {
    params == SECP256K1_PARAMS
}

/// A human name for `CKA_EC_PARAMS`: a known curve, or the hex DER.
pub fn curve_name(params: &[u8]) -> String {
    KNOWN_CURVES
        .iter()
        .find(|(der, _)| *der == params)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| {
            if params.is_empty() {
                "no CKA_EC_PARAMS".into()
            } else {
                format!(
                    "unknown curve (CKA_EC_PARAMS {})",
                    crate::eth::hex::encode(params)
                )
            }
        })
}

/// A short curve name for listings: `secp256k1`, `P-256`, … or `unknown`.
pub fn short_curve_name(params: &[u8]) -> &'static str {
    match curve_name(params).split_whitespace().next() {
        Some("secp256k1") => "secp256k1",
        Some("P-256") => "P-256",
        Some("P-384") => "P-384",
        Some("P-521") => "P-521",
        Some("brainpoolP256r1") => "brainpoolP256r1",
        Some("Ed25519") => "Ed25519",
        _ => "unknown",
    }
}

/// Why a `CKA_EC_POINT` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointError {
    /// Neither a DER OCTET STRING nor a SEC1 point.
    #[error("CKA_EC_POINT is {len} bytes starting {head}: neither a DER OCTET STRING (04 41 04‖X‖Y) nor a raw SEC1 point (04‖X‖Y)")]
    Format {
        /// Length of the value.
        len: usize,
        /// First bytes, hex.
        head: String,
    },
    /// Well-formed, but not a point on secp256k1.
    #[error("CKA_EC_POINT is not a valid secp256k1 point")]
    NotOnCurve,
}

/// Parses `CKA_EC_POINT`: a DER OCTET STRING wrapping a SEC1 point
/// (`04 41 04‖X‖Y`, PKCS#11 v2.40 §2.3.3) or the bare SEC1 point
/// (`04‖X‖Y`, 65 bytes; compressed `02/03‖X` is accepted too).
pub fn parse_ec_point(value: &[u8]) -> Result<VerifyingKey, PointError> {
    // A raw point is tried first: `04‖X‖Y` with X[0] = 0x3F is also a
    // well-formed DER OCTET STRING (tag 04, length 63), so unwrapping first
    // would reject one raw key in 256. A DER-wrapped point is 67 or 35
    // bytes, never 65 or 33, so trying raw first is unambiguous.
    let raw = matches!(
        (value.first(), value.len()),
        (Some(0x04), 65) | (Some(0x02 | 0x03), 33)
    );
    let sec1 = if raw {
        value
    } else {
        unwrap_octet_string(value).unwrap_or(value)
    };
    match sec1.first() {
        Some(0x02 | 0x03) if sec1.len() == 33 => {}
        Some(0x04) if sec1.len() == 65 => {}
        _ => {
            return Err(PointError::Format {
                len: value.len(),
                head: crate::eth::hex::encode(&value[..value.len().min(4)]),
            })
        }
    }
    VerifyingKey::from_sec1_bytes(sec1).map_err(|_| PointError::NotOnCurve)
}

/// The content of a DER OCTET STRING whose length covers exactly the rest
/// of `value` (short form or one/two length bytes), or `None`.
fn unwrap_octet_string(value: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = value.split_first()?;
    if tag != 0x04 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, body) = match first {
        n if n < 0x80 => (n as usize, rest),
        0x81 => (*rest.first()? as usize, &rest[1..]),
        0x82 if rest.len() >= 2 => (((rest[0] as usize) << 8) | rest[1] as usize, &rest[2..]),
        _ => return None,
    };
    (body.len() == len).then_some(body)
}

/// `CKA_EC_POINT` as the spec wants it for a new public-key object: the
/// uncompressed SEC1 point in a DER OCTET STRING (`04 41 04‖X‖Y`).
pub fn encode_ec_point(key: &VerifyingKey) -> Vec<u8> {
    let point = key.to_encoded_point(false);
    let bytes = point.as_bytes();
    let mut out = Vec::with_capacity(2 + bytes.len());
    out.push(0x04);
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::SigningKey;

    fn key() -> VerifyingKey {
        *SigningKey::from_slice(&[7u8; 32]).unwrap().verifying_key()
    }

    #[test]
    fn der_and_raw_points_parse_to_the_same_key() {
        let k = key();
        let raw = k.to_encoded_point(false).as_bytes().to_vec();
        assert_eq!(raw.len(), 65);
        let der = encode_ec_point(&k);
        assert_eq!(&der[..3], &[0x04, 0x41, 0x04]);
        assert_eq!(der.len(), 67);
        assert_eq!(parse_ec_point(&der).unwrap(), k);
        assert_eq!(parse_ec_point(&raw).unwrap(), k);
        let compressed = k.to_encoded_point(true).as_bytes().to_vec();
        assert_eq!(parse_ec_point(&compressed).unwrap(), k);
        let mut der_c = vec![0x04, 0x21];
        der_c.extend_from_slice(&compressed);
        assert_eq!(parse_ec_point(&der_c).unwrap(), k);
        // Long-form length byte.
        let mut der_long = vec![0x04, 0x81, 0x41];
        der_long.extend_from_slice(&raw);
        assert_eq!(parse_ec_point(&der_long).unwrap(), k);
    }

    #[test]
    fn bad_points_are_refused_with_their_shape() {
        let e = parse_ec_point(&[0x04, 0x41, 0x04, 1, 2]).unwrap_err();
        assert_eq!(
            e,
            PointError::Format {
                len: 5,
                head: "04410401".into()
            }
        );
        assert!(e.to_string().contains("04 41 04"), "{e}");
        let mut off = vec![0x04];
        off.extend_from_slice(&[0xFF; 64]);
        assert_eq!(parse_ec_point(&off).unwrap_err(), PointError::NotOnCurve);
        assert!(matches!(
            parse_ec_point(&[]),
            Err(PointError::Format { len: 0, .. })
        ));
    }

    #[test]
    fn curve_names() {
        assert!(is_secp256k1(&[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A]));
        let p256 = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
        assert!(!is_secp256k1(&p256));
        assert!(curve_name(&p256).starts_with("P-256"));
        assert_eq!(short_curve_name(&p256), "P-256");
        assert_eq!(short_curve_name(&SECP256K1_PARAMS), "secp256k1");
        assert_eq!(curve_name(&[1, 2]), "unknown curve (CKA_EC_PARAMS 0102)");
        assert_eq!(short_curve_name(&[1, 2]), "unknown");
    }

    #[test]
    fn raw_point_whose_x_starts_with_0x3f_is_not_taken_for_der() {
        // Found by the ec_point fuzz target: the uncompressed form of this
        // point reads as a DER OCTET STRING of 63 bytes.
        let compressed =
            crate::eth::hex::decode("023fffffffffffffffffffff00000080ffffffffffffffffffffffffffffffffff")
                .unwrap();
        let key = parse_ec_point(&compressed).unwrap();
        let raw = key.to_encoded_point(false);
        assert_eq!(raw.as_bytes()[1], 0x3f);
        assert_eq!(parse_ec_point(raw.as_bytes()).unwrap(), key);
        assert_eq!(parse_ec_point(&encode_ec_point(&key)).unwrap(), key);
    }
}
