//! Token-level operations, all blocking: load the module once per process,
//! find the token, log in, find and check the key, sign raw.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, VerifyingKey};
use secrecy::SecretString;

use super::error::{hint, rv_name, Pkcs11Error};
use super::{ec, KeySelector, TokenSelector};
use crate::eth::{hex, keccak256, Address};

static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// The process-wide context for the module at `path`: loaded and
/// `C_Initialize`d (OS locking) on first use, shared afterwards, never
/// finalised. Blocking.
pub fn module(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(ctx) = modules.get(path) {
        return Ok(ctx.clone());
    }
    if !path.exists() {
        return Err(Pkcs11Error::ModuleMissing {
            module: path.to_path_buf(),
        });
    }
    let ctx = Pkcs11::new(path).map_err(|e| Pkcs11Error::ModuleLoad {
        module: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(Pkcs11Error::ModuleLoad {
                module: path.to_path_buf(),
                reason: format!("C_Initialize: {}", describe_ck(&e)),
            })
        }
    }
    modules.insert(path.to_path_buf(), ctx.clone());
    Ok(ctx)
}

fn describe_ck(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, _) => format!("{} ({})", rv_name(*rv), hint(*rv)),
        e => e.to_string(),
    }
}

/// A token present in a slot.
#[derive(Debug, Clone)]
pub struct TokenSummary {
    /// The slot.
    pub slot: Slot,
    /// `CK_TOKEN_INFO.label`, trimmed.
    pub label: String,
    /// Manufacturer and model.
    pub model: String,
    /// Serial number.
    pub serial: String,
}

/// The tokens present (slots with an initialised token). Blocking.
pub fn list_tokens(ctx: &Pkcs11, module: &Path) -> Result<Vec<TokenSummary>, Pkcs11Error> {
    let where_ = module.display().to_string();
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| Pkcs11Error::call(&where_, "C_GetSlotList", e))?;
    let mut out = Vec::new();
    for slot in slots {
        let info = match ctx.get_token_info(slot) {
            Ok(i) => i,
            Err(_) => continue,
        };
        if !info.token_initialized() {
            continue;
        }
        out.push(TokenSummary {
            slot,
            label: info.label().trim_end().to_string(),
            model: format!(
                "{} {}",
                info.manufacturer_id().trim_end(),
                info.model().trim_end()
            ),
            serial: info.serial_number().trim_end().to_string(),
        });
    }
    Ok(out)
}

fn describe_tokens(tokens: &[TokenSummary]) -> String {
    if tokens.is_empty() {
        "none".into()
    } else {
        tokens
            .iter()
            .map(|t| format!("{:?} (slot {})", t.label, t.slot.id()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Finds the slot of the selected token. Returns the slot and a description
/// (`token "x" (slot N)`) for messages. Blocking.
pub fn find_token(ctx: &Pkcs11, module: &Path, sel: &TokenSelector) -> Result<(Slot, String), Pkcs11Error> {
    match sel {
        TokenSelector::Label(label) => {
            let tokens = list_tokens(ctx, module)?;
            let hits: Vec<_> = tokens.iter().filter(|t| &t.label == label).collect();
            match hits.as_slice() {
                [] => Err(Pkcs11Error::TokenNotFound {
                    label: label.clone(),
                    module: module.to_path_buf(),
                    present: describe_tokens(&tokens),
                }),
                [one] => Ok((one.slot, format!("token {label:?} (slot {})", one.slot.id()))),
                many => Err(Pkcs11Error::AmbiguousToken {
                    label: label.clone(),
                    count: many.len(),
                    slots: many
                        .iter()
                        .map(|t| t.slot.id().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            }
        }
        TokenSelector::Slot(id) => {
            let all = ctx
                .get_all_slots()
                .map_err(|e| Pkcs11Error::call(&module.display().to_string(), "C_GetSlotList", e))?;
            let slot =
                all.iter()
                    .copied()
                    .find(|s| s.id() == *id)
                    .ok_or_else(|| Pkcs11Error::SlotNotFound {
                        slot: *id,
                        module: module.to_path_buf(),
                        present: if all.is_empty() {
                            "none".into()
                        } else {
                            all.iter()
                                .map(|s| s.id().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    })?;
            let desc = format!("slot {id}");
            let present = ctx
                .get_slot_info(slot)
                .map(|i| i.token_present())
                .unwrap_or(false);
            if !present {
                return Err(Pkcs11Error::TokenAbsent { token: desc });
            }
            match ctx.get_token_info(slot) {
                Ok(info) if info.token_initialized() => {
                    Ok((slot, format!("token {:?} (slot {id})", info.label().trim_end())))
                }
                _ => Err(Pkcs11Error::TokenAbsent { token: desc }),
            }
        }
    }
}

/// Opens a session on `slot` and logs the user in (`CKR_USER_ALREADY_LOGGED_IN`
/// counts as success: the login state is shared by the process's sessions).
/// Blocking.
pub fn login_session(
    ctx: &Pkcs11,
    slot: Slot,
    pin: &SecretString,
    read_write: bool,
    token: &str,
) -> Result<Session, Pkcs11Error> {
    let session = if read_write {
        ctx.open_rw_session(slot)
    } else {
        ctx.open_ro_session(slot)
    }
    .map_err(|e| match e {
        CkError::Pkcs11(RvError::TokenNotPresent | RvError::SlotIdInvalid, _) => Pkcs11Error::TokenAbsent {
            token: token.to_string(),
        },
        e => Pkcs11Error::call(token, "C_OpenSession", e),
    })?;
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => Err(Pkcs11Error::WrongPin {
            token: token.to_string(),
        }),
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked {
            token: token.to_string(),
        }),
        Err(e) => Err(Pkcs11Error::call(token, "C_Login", e)),
    }
}

fn bytes_attr(attrs: &[Attribute], ty: AttributeType) -> Option<Vec<u8>> {
    attrs.iter().find_map(|a| match (a, ty) {
        (Attribute::Label(v), AttributeType::Label)
        | (Attribute::Id(v), AttributeType::Id)
        | (Attribute::EcParams(v), AttributeType::EcParams)
        | (Attribute::EcPoint(v), AttributeType::EcPoint) => Some(v.clone()),
        _ => None,
    })
}

pub(crate) fn bool_attr(attrs: &[Attribute], ty: AttributeType) -> Option<bool> {
    attrs.iter().find_map(|a| match (a, ty) {
        (Attribute::Sign(v), AttributeType::Sign)
        | (Attribute::Sensitive(v), AttributeType::Sensitive)
        | (Attribute::Extractable(v), AttributeType::Extractable)
        | (Attribute::NeverExtractable(v), AttributeType::NeverExtractable)
        | (Attribute::AlwaysSensitive(v), AttributeType::AlwaysSensitive) => Some(*v),
        _ => None,
    })
}

fn key_type_attr(attrs: &[Attribute]) -> Option<KeyType> {
    attrs.iter().find_map(|a| match a {
        Attribute::KeyType(k) => Some(*k),
        _ => None,
    })
}

/// `label "x" id 0a0b`, for listings and messages.
fn label_and_id(label: &[u8], id: &[u8]) -> String {
    format!(
        "label {:?} id {}",
        String::from_utf8_lossy(label),
        if id.is_empty() {
            "-".into()
        } else {
            hex::encode(id)
        }
    )
}

/// One EC private key in a token.
#[derive(Debug, Clone)]
pub struct KeySummary {
    /// Its handle in the session that listed it.
    pub handle: ObjectHandle,
    /// `CKA_LABEL`.
    pub label: String,
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// `CKA_EC_PARAMS`.
    pub params: Vec<u8>,
    /// The public key, when it is secp256k1 and found.
    pub public_key: Option<VerifyingKey>,
}

impl KeySummary {
    /// The Ethereum address, when the public key is known.
    pub fn address(&self) -> Option<Address> {
        self.public_key.as_ref().map(Address::from_public_key)
    }
}

/// All EC private keys in the session's token, with their public keys where
/// they are secp256k1. Blocking; the session must be logged in.
pub fn list_keys(session: &Session, token: &str) -> Result<Vec<KeySummary>, Pkcs11Error> {
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
        ])
        .map_err(|e| Pkcs11Error::call(token, "C_FindObjects", e))?;
    let mut out = Vec::new();
    for handle in handles {
        let attrs = session
            .get_attributes(
                handle,
                &[AttributeType::Label, AttributeType::Id, AttributeType::EcParams],
            )
            .map_err(|e| Pkcs11Error::call(token, "C_GetAttributeValue", e))?;
        let label = bytes_attr(&attrs, AttributeType::Label).unwrap_or_default();
        let id = bytes_attr(&attrs, AttributeType::Id).unwrap_or_default();
        let params = bytes_attr(&attrs, AttributeType::EcParams).unwrap_or_default();
        let public_key = if ec::is_secp256k1(&params) {
            let search = KeySelector {
                label: Some(String::from_utf8_lossy(&label).into_owned()),
                id: Some(id.clone()),
            };
            public_point(session, handle, &label, &id, &search, token).ok()
        } else {
            None
        };
        out.push(KeySummary {
            handle,
            label: String::from_utf8_lossy(&label).into_owned(),
            id,
            params,
            public_key,
        });
    }
    Ok(out)
}

fn describe_keys(keys: &[KeySummary]) -> String {
    if keys.is_empty() {
        "none".into()
    } else {
        keys.iter()
            .map(|k| {
                format!(
                    "{} ({})",
                    label_and_id(k.label.as_bytes(), &k.id),
                    ec::short_curve_name(&k.params)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A private key found and checked.
#[derive(Debug, Clone, Copy)]
pub struct FoundKey {
    /// The private key's handle.
    pub handle: ObjectHandle,
    /// Its public key.
    pub public_key: VerifyingKey,
}

/// Finds the one secp256k1 signing key matching `sel`, checks its curve and
/// reads its public point. Blocking; the session must be logged in.
pub fn find_key(session: &Session, sel: &KeySelector, token: &str) -> Result<FoundKey, Pkcs11Error> {
    let search = sel.to_string();
    let handles = session
        .find_objects(&template(sel, ObjectClass::PRIVATE_KEY))
        .map_err(|e| Pkcs11Error::call(token, "C_FindObjects", e))?;
    let handle = match handles.as_slice() {
        [] => {
            return Err(Pkcs11Error::KeyNotFound {
                search,
                token: token.to_string(),
                present: describe_keys(&list_keys(session, token)?),
            })
        }
        [one] => *one,
        many => {
            let mut candidates = Vec::new();
            for h in many {
                let a = session
                    .get_attributes(*h, &[AttributeType::Label, AttributeType::Id])
                    .unwrap_or_default();
                candidates.push(label_and_id(
                    &bytes_attr(&a, AttributeType::Label).unwrap_or_default(),
                    &bytes_attr(&a, AttributeType::Id).unwrap_or_default(),
                ));
            }
            return Err(Pkcs11Error::AmbiguousKey {
                search,
                token: token.to_string(),
                count: many.len(),
                candidates: candidates.join("; "),
            });
        }
    };
    let attrs = session
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::Label,
                AttributeType::Id,
                AttributeType::Sign,
            ],
        )
        .map_err(|e| Pkcs11Error::call(token, "C_GetAttributeValue", e))?;
    match key_type_attr(&attrs) {
        Some(k) if k == KeyType::EC => {}
        other => {
            return Err(Pkcs11Error::NotEc {
                search,
                token: token.to_string(),
                key_type: other.map(|k| k.to_string()).unwrap_or_else(|| "unknown".into()),
            })
        }
    }
    let params = bytes_attr(&attrs, AttributeType::EcParams).unwrap_or_default();
    if !ec::is_secp256k1(&params) {
        return Err(Pkcs11Error::WrongCurve {
            search,
            token: token.to_string(),
            curve: ec::curve_name(&params),
        });
    }
    if bool_attr(&attrs, AttributeType::Sign) == Some(false) {
        return Err(Pkcs11Error::NotForSigning {
            search,
            token: token.to_string(),
        });
    }
    let label = bytes_attr(&attrs, AttributeType::Label).unwrap_or_default();
    let id = bytes_attr(&attrs, AttributeType::Id).unwrap_or_default();
    let public_key = public_point(session, handle, &label, &id, sel, token)?;
    Ok(FoundKey { handle, public_key })
}

/// The public point for a private key: from the `CKO_PUBLIC_KEY` object(s)
/// with the same `CKA_ID` (or, without an id, the same `CKA_LABEL`), else
/// from `CKA_EC_POINT` on the private object.
fn public_point(
    session: &Session,
    private: ObjectHandle,
    label: &[u8],
    id: &[u8],
    sel: &KeySelector,
    token: &str,
) -> Result<VerifyingKey, Pkcs11Error> {
    let search = sel.to_string();
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
    ];
    if !id.is_empty() {
        template.push(Attribute::Id(id.to_vec()));
    } else {
        template.push(Attribute::Label(label.to_vec()));
    }
    let handles = session
        .find_objects(&template)
        .map_err(|e| Pkcs11Error::call(token, "C_FindObjects", e))?;
    let mut points: Vec<Vec<u8>> = Vec::new();
    for h in handles {
        let a = session
            .get_attributes(h, &[AttributeType::EcParams, AttributeType::EcPoint])
            .map_err(|e| Pkcs11Error::call(token, "C_GetAttributeValue", e))?;
        let params = bytes_attr(&a, AttributeType::EcParams).unwrap_or_default();
        if !params.is_empty() && !ec::is_secp256k1(&params) {
            continue;
        }
        if let Some(p) = bytes_attr(&a, AttributeType::EcPoint) {
            points.push(p);
        }
    }
    if points.is_empty() {
        // Some tokens expose the point on the private object itself.
        if let Ok(a) = session.get_attributes(private, &[AttributeType::EcPoint]) {
            if let Some(p) = bytes_attr(&a, AttributeType::EcPoint) {
                points.push(p);
            }
        }
    }
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for p in &points {
        let k = ec::parse_ec_point(p).map_err(|error| Pkcs11Error::BadPoint {
            search: search.clone(),
            token: token.to_string(),
            error,
        })?;
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    match keys.as_slice() {
        [] => Err(Pkcs11Error::NoPublicKey {
            search,
            token: token.to_string(),
        }),
        [one] => Ok(*one),
        many => Err(Pkcs11Error::AmbiguousPublicKey {
            search,
            token: token.to_string(),
            count: many.len(),
        }),
    }
}

/// `C_Sign` with `CKM_ECDSA` over `digest` exactly as given; returns the
/// token's raw `r‖s` as a [`Signature`] (`s` may be high). Blocking.
pub fn sign_raw(
    session: &Session,
    key: ObjectHandle,
    digest: &[u8; 32],
    token: &str,
) -> Result<Signature, Pkcs11Error> {
    let out = session
        .sign(&Mechanism::Ecdsa, key, digest)
        .map_err(|e| Pkcs11Error::call(token, "C_Sign", e))?;
    if out.len() != 64 {
        return Err(Pkcs11Error::BadSignature {
            token: token.to_string(),
            len: out.len(),
        });
    }
    Signature::from_slice(&out).map_err(|_| Pkcs11Error::BadSignature {
        token: token.to_string(),
        len: out.len(),
    })
}

/// Signs a fixed digest with the private key and checks it against the
/// public key found: proves they are a pair and that `CKM_ECDSA` works.
pub fn check_pair(
    session: &Session,
    key: &FoundKey,
    sel: &KeySelector,
    token: &str,
) -> Result<(), Pkcs11Error> {
    let digest = keccak256(b"livepeer-signer pkcs11 key pair check");
    let sig = sign_raw(session, key.handle, &digest, token)?;
    // k256's verifier accepts only low-s; this check is about the key pair,
    // so compare on the normalised form (the backend still returns raw s).
    let sig = sig.normalize_s().unwrap_or(sig);
    key.public_key
        .verify_prehash(&digest, &sig)
        .map_err(|_| Pkcs11Error::KeyMismatch {
            search: sel.to_string(),
            token: token.to_string(),
            address: Address::from_public_key(&key.public_key),
        })
}

/// The search template for `class` objects matching `key`.
fn template(key: &KeySelector, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(l) = &key.label {
        t.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &key.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}
