//! Ethereum addresses: EIP-55 display and lenient parsing.

use std::fmt;
use std::str::FromStr;

use k256::ecdsa::VerifyingKey;

use super::hash::keccak256;
use super::hex;

/// A 20-byte Ethereum address.
///
/// `Display` and `Debug` print the EIP-55 mixed-case form with `0x`, which is
/// also the exact ASCII that go-livepeer signs for OrchestratorInfo.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address([u8; 20]);

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not 40 hex digits.
    #[error("an address is 40 hex digits (optionally prefixed by 0x), got {0} characters")]
    Length(usize),
    /// A non-hex character.
    #[error("an address is 40 hex digits (optionally prefixed by 0x): {0}")]
    NotHex(hex::HexError),
}

impl Address {
    /// The all-zero address.
    pub const ZERO: Address = Address([0; 20]);

    /// Wraps 20 raw bytes.
    pub const fn from_bytes(bytes: [u8; 20]) -> Self {
        Address(bytes)
    }

    /// The raw 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// `keccak256(uncompressed_pubkey[1..])[12..]`.
    pub fn from_public_key(key: &VerifyingKey) -> Self {
        let point = key.to_encoded_point(false);
        Self::from_uncompressed_bytes(point.as_bytes())
    }

    /// The address of an uncompressed SEC1 public key `04‖X‖Y`.
    pub fn from_uncompressed(point: &[u8; 65]) -> Self {
        Self::from_uncompressed_bytes(point)
    }

    fn from_uncompressed_bytes(point: &[u8]) -> Self {
        let hash = keccak256(&point[1..]);
        let mut out = [0u8; 20];
        out.copy_from_slice(&hash[12..]);
        Address(out)
    }

    /// `true` for `0x000…0`.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 20]
    }

    /// EIP-55 mixed-case checksum form, with `0x`.
    pub fn to_checksum(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = keccak256(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            if c.is_ascii_alphabetic() && nibble >= 8 {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Lowercase form with `0x` (Go's JSON form of an address).
    pub fn to_lower_hex(&self) -> String {
        hex::encode_0x(self.0)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    /// Lenient, like go-livepeer's `-ethAcctAddr`: surrounding whitespace
    /// ignored, `0x` optional, any letter case (the checksum is not enforced).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = hex::strip_0x(s.trim());
        if digits.len() != 40 {
            return Err(AddressError::Length(digits.len()));
        }
        hex::decode_array::<20>(digits)
            .map(Address)
            .map_err(AddressError::NotHex)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_checksum())
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_checksum())
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_examples() {
        // From the EIP-55 specification.
        for s in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let a: Address = s.to_lowercase().parse().unwrap();
            assert_eq!(a.to_checksum(), s);
        }
    }

    #[test]
    fn lenient_parsing() {
        let want = "0x96216849c49358B10257cb55b28eA603c874b05E";
        for s in [
            want,
            "96216849c49358b10257cb55b28ea603c874b05e",
            "0X96216849C49358B10257CB55B28EA603C874B05E",
            " 0x96216849c49358b10257cb55b28ea603c874b05e\n",
        ] {
            assert_eq!(s.parse::<Address>().unwrap().to_checksum(), want);
        }
    }

    #[test]
    fn rejects_bad_addresses() {
        assert_eq!("0x1234".parse::<Address>(), Err(AddressError::Length(4)));
        assert!(matches!(
            "0xZZ216849c49358b10257cb55b28ea603c874b05e".parse::<Address>(),
            Err(AddressError::NotHex(_))
        ));
        let msg = "0x12".parse::<Address>().unwrap_err().to_string();
        assert!(msg.contains("40 hex digits"), "{msg}");
    }
}
