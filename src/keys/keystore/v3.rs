//! Web3 Secret Storage version 3: the geth / go-livepeer key file format.
//!
//! `dk = KDF(password)` (scrypt or pbkdf2-hmac-sha256), `mac = keccak256(dk[16..32]
//! ‖ ciphertext)` is checked before decrypting, and the private key is
//! `AES-128-CTR(key = dk[0..16], iv)` of the ciphertext.

use aes::cipher::{KeyIvInit, StreamCipher};
use k256::ecdsa::SigningKey;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::eth::{hex, keccak256, Address};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Largest scrypt memory a key file may ask for (`128·r·n` bytes): 1 GiB.
/// go-livepeer's standard parameters need 256 MiB.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// Largest pbkdf2 iteration count accepted (geth writes 262 144).
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

/// A parsed V3 key file. Field names follow the file format.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    /// 40 hex digits without `0x`; optional in the format, required by geth's directory scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Cipher, KDF and MAC.
    #[serde(alias = "Crypto")]
    pub crypto: CryptoJson,
    /// A UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Must be 3.
    pub version: u64,
}

/// The `crypto` object of a key file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CryptoJson {
    /// Must be `aes-128-ctr`.
    pub cipher: String,
    /// Hex ciphertext (the encrypted private key).
    pub ciphertext: String,
    /// `{"iv": hex16}`
    pub cipherparams: CipherParams,
    /// `scrypt` or `pbkdf2`.
    pub kdf: String,
    /// KDF parameters; their shape depends on `kdf`.
    pub kdfparams: serde_json::Value,
    /// Hex keccak256 MAC.
    pub mac: String,
}

/// `{"iv": hex}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CipherParams {
    /// 16-byte initial counter, hex.
    pub iv: String,
}

#[derive(Deserialize)]
struct ScryptParams {
    dklen: usize,
    n: u64,
    r: u32,
    p: u32,
    salt: String,
}

#[derive(Deserialize)]
struct Pbkdf2Params {
    c: u32,
    dklen: usize,
    prf: String,
    salt: String,
}

/// Why a key file cannot be decrypted. Never contains the password or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V3Error {
    /// Not JSON, or not the V3 shape.
    #[error("not a V3 key file: {0}")]
    Format(String),
    /// `version` is not 3.
    #[error("unsupported key file version {0} (only version 3 is supported)")]
    Version(u64),
    /// Something other than aes-128-ctr.
    #[error("unsupported cipher {0:?} (only aes-128-ctr)")]
    Cipher(String),
    /// Something other than scrypt / pbkdf2-hmac-sha256.
    #[error("unsupported kdf {0:?} (only scrypt and pbkdf2 with hmac-sha256)")]
    Kdf(String),
    /// KDF parameters out of range.
    #[error("invalid kdfparams: {0}")]
    KdfParams(String),
    /// A hex field that does not decode.
    #[error("field {field}: {reason}")]
    Hex {
        /// JSON field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The MAC does not match: wrong password (or a corrupted file).
    #[error("wrong password (the MAC does not match)")]
    WrongPassword,
    /// The decrypted bytes are not a valid secp256k1 private key.
    #[error("the decrypted key is not a valid secp256k1 private key")]
    InvalidKey,
    /// The decrypted key's address differs from the file's `address`.
    #[error("the decrypted key belongs to {derived}, but the file says {file}")]
    AddressMismatch {
        /// Address in the file.
        file: String,
        /// Address of the decrypted key.
        derived: Address,
    },
}

/// scrypt parameters for new key files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScryptStrength {
    /// geth's and go-livepeer's standard: n = 2^18, r = 8, p = 1.
    Standard,
    /// geth's light parameters: n = 2^12, r = 8, p = 6. Tests and development only.
    Light,
}

impl ScryptStrength {
    fn params(self) -> (u8, u32, u32) {
        match self {
            ScryptStrength::Standard => (18, 8, 1),
            ScryptStrength::Light => (12, 8, 6),
        }
    }
}

impl KeyFile {
    /// Parses key file JSON.
    pub fn parse(json: &[u8]) -> Result<KeyFile, V3Error> {
        serde_json::from_slice(json).map_err(|e| V3Error::Format(e.to_string()))
    }

    /// The `address` field, when present, valid and not zero.
    pub fn address(&self) -> Option<Address> {
        self.address
            .as_deref()
            .and_then(|a| a.parse::<Address>().ok())
            .filter(|a| !a.is_zero())
    }

    /// Decrypts the private key with `password`. Blocking (runs the KDF).
    ///
    /// Checks the MAC before decrypting and, when the file names an address,
    /// that the key belongs to it.
    pub fn decrypt(&self, password: &[u8]) -> Result<SigningKey, V3Error> {
        if self.version != 3 {
            return Err(V3Error::Version(self.version));
        }
        let c = &self.crypto;
        if c.cipher != "aes-128-ctr" {
            return Err(V3Error::Cipher(c.cipher.clone()));
        }
        let ciphertext = hex_field("crypto.ciphertext", &c.ciphertext)?;
        if ciphertext.is_empty() || ciphertext.len() > 32 {
            return Err(V3Error::Hex {
                field: "crypto.ciphertext",
                reason: format!("{} bytes; a private key is at most 32", ciphertext.len()),
            });
        }
        let iv: [u8; 16] = hex_field("crypto.cipherparams.iv", &c.cipherparams.iv)?
            .try_into()
            .map_err(|_| V3Error::Hex {
                field: "crypto.cipherparams.iv",
                reason: "must be 16 bytes".into(),
            })?;
        let mac: [u8; 32] = hex_field("crypto.mac", &c.mac)?
            .try_into()
            .map_err(|_| V3Error::Hex {
                field: "crypto.mac",
                reason: "must be 32 bytes".into(),
            })?;

        let dk = derive_key(&c.kdf, &c.kdfparams, password)?;
        let mut mac_input = Vec::with_capacity(16 + ciphertext.len());
        mac_input.extend_from_slice(&dk[16..32]);
        mac_input.extend_from_slice(&ciphertext);
        if !bool::from(keccak256(&mac_input).ct_eq(&mac)) {
            return Err(V3Error::WrongPassword);
        }

        // Keys shorter than 32 bytes (leading zeros dropped by old writers) are left-padded.
        let mut secret = Zeroizing::new([0u8; 32]);
        let start = 32 - ciphertext.len();
        secret[start..].copy_from_slice(&ciphertext);
        let mut cipher = Aes128Ctr::new(dk[..16].into(), &iv.into());
        cipher.apply_keystream(&mut secret[start..]);
        let key = SigningKey::from_bytes(secret.as_ref().into()).map_err(|_| V3Error::InvalidKey)?;

        if let Some(file_addr) = &self.address {
            let derived = Address::from_public_key(key.verifying_key());
            if file_addr.parse::<Address>().ok() != Some(derived) {
                return Err(V3Error::AddressMismatch {
                    file: file_addr.clone(),
                    derived,
                });
            }
        }
        Ok(key)
    }

    /// Encrypts `key` with `password` into a new V3 key file with a random
    /// salt, IV and UUID. Blocking (runs scrypt).
    pub fn encrypt(key: &SigningKey, password: &[u8], strength: ScryptStrength) -> KeyFile {
        let mut rng = rand::rngs::OsRng;
        let mut salt = [0u8; 32];
        let mut iv = [0u8; 16];
        rng.fill_bytes(&mut salt);
        rng.fill_bytes(&mut iv);
        let (log_n, r, p) = strength.params();
        let params = scrypt::Params::new(log_n, r, p).expect("static scrypt parameters are valid");
        let mut dk = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(password, &salt, &params, dk.as_mut()).expect("32-byte output is valid for scrypt");

        let mut ciphertext = key.to_bytes();
        let mut cipher = Aes128Ctr::new(dk[..16].into(), &iv.into());
        cipher.apply_keystream(&mut ciphertext);
        let mut mac_input = Vec::with_capacity(48);
        mac_input.extend_from_slice(&dk[16..32]);
        mac_input.extend_from_slice(&ciphertext);
        let mac = keccak256(&mac_input);
        let address = Address::from_public_key(key.verifying_key());

        let file = KeyFile {
            address: Some(hex::encode(address.as_bytes())),
            crypto: CryptoJson {
                cipher: "aes-128-ctr".into(),
                ciphertext: hex::encode(ciphertext),
                cipherparams: CipherParams { iv: hex::encode(iv) },
                kdf: "scrypt".into(),
                kdfparams: serde_json::json!({
                    "dklen": 32,
                    "n": 1u64 << log_n,
                    "p": p,
                    "r": r,
                    "salt": hex::encode(salt),
                }),
                mac: hex::encode(mac),
            },
            id: Some(uuid::Uuid::new_v4().to_string()),
            version: 3,
        };
        ciphertext.zeroize();
        file
    }

    /// The file as geth writes it (compact JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a KeyFile always serialises")
    }
}

fn hex_field(field: &'static str, value: &str) -> Result<Vec<u8>, V3Error> {
    hex::decode(value).map_err(|e| V3Error::Hex {
        field,
        reason: e.to_string(),
    })
}

fn derive_key(kdf: &str, params: &serde_json::Value, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, V3Error> {
    let bad = |e: serde_json::Error| V3Error::KdfParams(e.to_string());
    match kdf {
        "scrypt" => {
            let p: ScryptParams = serde_json::from_value(params.clone()).map_err(bad)?;
            if p.n < 2 || !p.n.is_power_of_two() {
                return Err(V3Error::KdfParams(format!(
                    "scrypt n = {} must be a power of two > 1",
                    p.n
                )));
            }
            if p.r == 0 || p.p == 0 {
                return Err(V3Error::KdfParams("scrypt r and p must be > 0".into()));
            }
            let memory = 128u64.saturating_mul(p.r as u64).saturating_mul(p.n);
            if memory > MAX_SCRYPT_MEMORY || (p.r as u64).saturating_mul(p.p as u64) >= 1 << 30 {
                return Err(V3Error::KdfParams(format!(
                    "scrypt n = {}, r = {}, p = {} asks for more than 1 GiB; refusing",
                    p.n, p.r, p.p
                )));
            }
            check_dklen(p.dklen)?;
            let salt = hex_field("crypto.kdfparams.salt", &p.salt)?;
            let params = scrypt::Params::new(p.n.trailing_zeros() as u8, p.r, p.p)
                .map_err(|e| V3Error::KdfParams(format!("scrypt: {e}")))?;
            let mut dk = Zeroizing::new(vec![0u8; p.dklen]);
            scrypt::scrypt(password, &salt, &params, &mut dk)
                .map_err(|e| V3Error::KdfParams(format!("scrypt: {e}")))?;
            Ok(dk)
        }
        "pbkdf2" => {
            let p: Pbkdf2Params = serde_json::from_value(params.clone()).map_err(bad)?;
            if p.prf != "hmac-sha256" {
                return Err(V3Error::Kdf(format!("pbkdf2 with prf {:?}", p.prf)));
            }
            if p.c == 0 || p.c > MAX_PBKDF2_ROUNDS {
                return Err(V3Error::KdfParams(format!(
                    "pbkdf2 c = {} must be 1..={MAX_PBKDF2_ROUNDS}",
                    p.c
                )));
            }
            check_dklen(p.dklen)?;
            let salt = hex_field("crypto.kdfparams.salt", &p.salt)?;
            let mut dk = Zeroizing::new(vec![0u8; p.dklen]);
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, p.c, &mut dk);
            Ok(dk)
        }
        other => Err(V3Error::Kdf(other.to_string())),
    }
}

fn check_dklen(dklen: usize) -> Result<(), V3Error> {
    if !(32..=64).contains(&dklen) {
        return Err(V3Error::KdfParams(format!("dklen = {dklen} must be 32..=64")));
    }
    Ok(())
}
