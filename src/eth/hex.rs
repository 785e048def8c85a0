//! Hex encoding and decoding: the only hex parser in the crate.

/// Why a hex string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The string has an odd number of hex digits.
    #[error("odd number of hex digits ({0})")]
    OddLength(usize),
    /// A character that is not `0-9a-fA-F`.
    #[error("invalid hex character {0:?} at position {1}")]
    InvalidChar(char, usize),
    /// The decoded value has the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    WrongLength {
        /// Required length in bytes.
        expected: usize,
        /// Decoded length in bytes.
        got: usize,
    },
}

/// Strips one optional `0x`/`0X` prefix.
pub fn strip_0x(s: &str) -> &str {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s)
}

/// Decodes hex digits (either case), with or without a `0x` prefix.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let digits = strip_0x(s);
    hex::decode(digits).map_err(|e| match e {
        hex::FromHexError::OddLength => HexError::OddLength(digits.len()),
        hex::FromHexError::InvalidHexCharacter { c, index } => HexError::InvalidChar(c, index),
        hex::FromHexError::InvalidStringLength => HexError::OddLength(digits.len()),
    })
}

/// Decodes exactly `N` bytes of hex, with or without a `0x` prefix.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let bytes = decode(s)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| HexError::WrongLength {
        expected: N,
        got: bytes.len(),
    })
}

/// Lowercase hex without prefix.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

/// `0x` followed by lowercase hex.
pub fn encode_0x(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("0x");
    out.push_str(&hex::encode(bytes));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_and_without_prefix() {
        assert_eq!(decode("0xABcd").unwrap(), vec![0xab, 0xcd]);
        assert_eq!(decode("abcd").unwrap(), vec![0xab, 0xcd]);
        assert_eq!(decode("0X01").unwrap(), vec![1]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn rejects_bad_hex() {
        assert_eq!(decode("0xabc"), Err(HexError::OddLength(3)));
        assert_eq!(decode("zz"), Err(HexError::InvalidChar('z', 0)));
        assert_eq!(
            decode_array::<2>("0x010203"),
            Err(HexError::WrongLength { expected: 2, got: 3 })
        );
    }

    #[test]
    fn encodes_lowercase() {
        assert_eq!(encode_0x([0xAB, 0x01]), "0xab01");
        assert_eq!(encode([0xAB]), "ab");
    }
}
