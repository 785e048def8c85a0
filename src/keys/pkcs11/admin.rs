//! Key management inside a token: generate a secp256k1 pair, import an
//! existing key, read the attributes that prove a key is non-extractable.
//! All functions are blocking and need a logged-in read/write session.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use k256::ecdsa::SigningKey;
use zeroize::{Zeroize, Zeroizing};

use super::token::bool_attr;
use super::{ec, find_key, FoundKey, KeySelector, Pkcs11Error};
use crate::eth::hex;

/// Refuses to create a key whose label or id is already used by a private
/// or public key in the token (the backend needs the key to be unique).
pub fn ensure_unused(session: &Session, label: &str, id: &[u8], token: &str) -> Result<(), Pkcs11Error> {
    for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
        for attr in [
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ] {
            let what = match &attr {
                Attribute::Label(_) => format!("label {label:?}"),
                _ => format!("id {}", hex::encode(id)),
            };
            let hits = session
                .find_objects(&[Attribute::Class(class), attr])
                .map_err(|e| Pkcs11Error::call(token, "C_FindObjects", e))?;
            if !hits.is_empty() {
                return Err(Pkcs11Error::Usage(format!(
                    "{token} already holds a key with {what}; choose another --label / --id (keys must be unique for [key.pkcs11] to find them)"
                )));
            }
        }
    }
    Ok(())
}

/// The attributes every private key we create gets: on the token, private,
/// sensitive, not extractable, sign only.
fn private_template(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Derive(false),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

fn public_template(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

fn selector(label: &str, id: &[u8]) -> KeySelector {
    KeySelector {
        label: Some(label.to_string()),
        id: Some(id.to_vec()),
    }
}

/// Generates a secp256k1 key pair inside the token (`CKM_EC_KEY_PAIR_GEN`,
/// `CKA_SENSITIVE = true`, `CKA_EXTRACTABLE = false`, `CKA_SIGN = true`)
/// and returns it, found and pair-checked like the backend does.
pub fn generate_key(session: &Session, label: &str, id: &[u8], token: &str) -> Result<FoundKey, Pkcs11Error> {
    ensure_unused(session, label, id, token)?;
    let mut public = public_template(label, id);
    public.push(Attribute::EcParams(ec::SECP256K1_PARAMS.to_vec()));
    session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private_template(label, id))
        .map_err(|e| Pkcs11Error::call(token, "C_GenerateKeyPair (secp256k1)", e))?;
    let sel = selector(label, id);
    let found = find_key(session, &sel, token)?;
    super::check_pair(session, &found, &sel, token)?;
    Ok(found)
}

/// Imports `key` into the token as a sensitive, non-extractable signing key
/// plus its public-key object (`CKA_EC_POINT` as a DER OCTET STRING). The
/// scalar is copied into a zeroizing buffer and the template's copy is
/// wiped after `C_CreateObject`.
pub fn import_key(
    session: &Session,
    key: &SigningKey,
    label: &str,
    id: &[u8],
    token: &str,
) -> Result<FoundKey, Pkcs11Error> {
    ensure_unused(session, label, id, token)?;
    let verifying = *key.verifying_key();
    let mut public = public_template(label, id);
    public.extend([
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(ec::SECP256K1_PARAMS.to_vec()),
        Attribute::EcPoint(ec::encode_ec_point(&verifying)),
    ]);
    let public_handle = session
        .create_object(&public)
        .map_err(|e| Pkcs11Error::call(token, "C_CreateObject (public key)", e))?;

    let scalar = Zeroizing::new(key.to_bytes().to_vec());
    let mut private = private_template(label, id);
    private.extend([
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(ec::SECP256K1_PARAMS.to_vec()),
        Attribute::Value(scalar.to_vec()),
    ]);
    let created = session.create_object(&private);
    for attr in private.iter_mut() {
        if let Attribute::Value(v) = attr {
            v.zeroize();
        }
    }
    drop(private);
    if let Err(e) = created {
        let _ = session.destroy_object(public_handle);
        return Err(Pkcs11Error::call(token, "C_CreateObject (private key)", e));
    }
    let sel = selector(label, id);
    let found = find_key(session, &sel, token)?;
    super::check_pair(session, &found, &sel, token)?;
    Ok(found)
}

/// What the token says about a private key's extractability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Custody {
    /// `CKA_SENSITIVE`.
    pub sensitive: Option<bool>,
    /// `CKA_EXTRACTABLE`.
    pub extractable: Option<bool>,
    /// `CKA_ALWAYS_SENSITIVE` (false for imported keys).
    pub always_sensitive: Option<bool>,
    /// `CKA_NEVER_EXTRACTABLE` (false for imported keys).
    pub never_extractable: Option<bool>,
    /// Whether reading `CKA_VALUE` returned the scalar (it must not).
    pub value_readable: bool,
}

impl Custody {
    /// Sensitive, not extractable, and the value cannot be read.
    pub fn is_non_extractable(&self) -> bool {
        self.sensitive == Some(true) && self.extractable == Some(false) && !self.value_readable
    }
}

/// Reads the custody attributes of a private key and tries to read its
/// `CKA_VALUE` (which a sensitive key refuses with `CKR_ATTRIBUTE_SENSITIVE`).
pub fn custody(session: &Session, key: ObjectHandle, token: &str) -> Result<Custody, Pkcs11Error> {
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .map_err(|e| Pkcs11Error::call(token, "C_GetAttributeValue", e))?;
    let value_readable = match session.get_attributes(key, &[AttributeType::Value]) {
        Ok(v) => v
            .iter()
            .any(|a| matches!(a, Attribute::Value(x) if !x.is_empty())),
        Err(_) => false,
    };
    Ok(Custody {
        sensitive: bool_attr(&attrs, AttributeType::Sensitive),
        extractable: bool_attr(&attrs, AttributeType::Extractable),
        always_sensitive: bool_attr(&attrs, AttributeType::AlwaysSensitive),
        never_extractable: bool_attr(&attrs, AttributeType::NeverExtractable),
        value_readable,
    })
}
