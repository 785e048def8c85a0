//! PKCS#11 backend: a secp256k1 key inside an HSM (SoftHSM2, YubiHSM2, AWS
//! CloudHSM, Thales Luna, … any PKCS#11 v2.40 token with secp256k1).
//!
//! * The module is loaded and `C_Initialize`d once per process and path
//!   ([`module`]); it is never finalised.
//! * The token is found by label (or slot id), the private key
//!   (`CKO_PRIVATE_KEY`, `CKK_EC`) by `CKA_LABEL` and/or `CKA_ID`. Its curve
//!   must be secp256k1; the public point comes from the matching public-key
//!   object (or the private object when the token exposes `CKA_EC_POINT`
//!   there). A test signature at open proves the two belong together.
//! * Signing is `CKM_ECDSA` over the 32-byte digest as given (never a
//!   hashing mechanism). The token's 64-byte `r‖s` is returned as is: the
//!   [`crate::signer::Signer`] normalises `s`, finds `v` and self-checks.
//! * A fixed pool of logged-in sessions, one operation per session at a
//!   time; every PKCS#11 call runs on a blocking thread. A session error
//!   (`CKR_SESSION_HANDLE_INVALID`, `CKR_DEVICE_REMOVED`,
//!   `CKR_USER_NOT_LOGGED_IN`, …) reopens and re-logs-in that session and
//!   retries once.
//! * A background monitor probes the token and logs when it becomes
//!   unavailable or comes back; [`KeyBackend::probe`] reports the same state.

pub mod admin;
pub mod ec;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, VerifyingKey};
use secrecy::SecretString;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Pkcs11Config;
use crate::eth::{hex, keccak256, Address};
use crate::keys::keystore::read_secret_file;
use crate::keys::{BackendError, KeyBackend};

/// How long one signature may take before the caller gets
/// [`BackendError::Timeout`] (the token call itself cannot be cancelled).
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the background monitor probes the token.
pub const MONITOR_INTERVAL: Duration = Duration::from_secs(5);

/// Why a PKCS#11 operation failed. Messages name what was searched and what
/// to do next; they never contain the PIN.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The module file does not exist.
    #[error("PKCS#11 module {} does not exist: fix [key.pkcs11] module (vendor paths are in docs/pkcs11.md; SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)", module.display())]
    ModuleMissing {
        /// The configured path.
        module: PathBuf,
    },
    /// The module exists but cannot be loaded or initialised.
    #[error("PKCS#11 module {}: cannot load it: {reason}; check that it is the vendor's PKCS#11 library for this architecture and that its own config (e.g. SOFTHSM2_CONF, the CloudHSM client, the Luna Chrystoki.conf) is in place", module.display())]
    ModuleLoad {
        /// The configured path.
        module: PathBuf,
        /// What the loader or `C_Initialize` said.
        reason: String,
    },
    /// No token with this label is present.
    #[error("token label {label:?} not found via {}; tokens present: {present}; fix [key.pkcs11] token_label or initialise the token", module.display())]
    TokenNotFound {
        /// The label searched for.
        label: String,
        /// The module.
        module: PathBuf,
        /// Labels (and slots) of the tokens present.
        present: String,
    },
    /// Two tokens carry the label.
    #[error("token label {label:?} is carried by {count} tokens (slots {slots}); give each token a unique label or set [key.pkcs11] slot")]
    AmbiguousToken {
        /// The label.
        label: String,
        /// How many.
        count: usize,
        /// Their slot ids.
        slots: String,
    },
    /// The slot id does not exist.
    #[error("slot {slot} does not exist in {}; slots: {present}; fix [key.pkcs11] slot (prefer token_label: slot ids can change)", module.display())]
    SlotNotFound {
        /// The configured slot id.
        slot: u64,
        /// The module.
        module: PathBuf,
        /// Slot ids present.
        present: String,
    },
    /// The slot exists but holds no (initialised) token.
    #[error("token absent: {token} holds no initialised token; insert or initialise the token, or check the HSM connection")]
    TokenAbsent {
        /// Which slot/token.
        token: String,
    },
    /// The PIN source is unusable.
    #[error("PIN: {0}")]
    Pin(String),
    /// `C_Login` said the PIN is wrong.
    #[error("wrong PIN for {token}: the token refused C_Login (CKR_PIN_INCORRECT); check [key.pkcs11] pin_file / pin_env (repeated failures can lock the token)")]
    WrongPin {
        /// The token.
        token: String,
    },
    /// The user PIN is locked.
    #[error(
        "the user PIN of {token} is locked (CKR_PIN_LOCKED); the token's security officer must reset it"
    )]
    PinLocked {
        /// The token.
        token: String,
    },
    /// No private key matches.
    #[error("no private key with {search} in {token}; EC private keys present: {present}; fix [key.pkcs11] key_label / key_id, or create one with `livepeer-signer pkcs11 generate` or `pkcs11 import`")]
    KeyNotFound {
        /// The search (label and/or id).
        search: String,
        /// The token.
        token: String,
        /// Keys present.
        present: String,
    },
    /// Several private keys match.
    #[error("{count} private keys match {search} in {token} ({candidates}); set both key_label and key_id, or give the keys unique labels/ids")]
    AmbiguousKey {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// How many.
        count: usize,
        /// label/id of each.
        candidates: String,
    },
    /// The key is not an EC key.
    #[error("the private key with {search} in {token} is not an EC key (CKA_KEY_TYPE {key_type}); livepeer-signer needs a secp256k1 EC key")]
    NotEc {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// What it is.
        key_type: String,
    },
    /// The key is on another curve.
    #[error("the key with {search} in {token} is on {curve}, not secp256k1 (CKA_EC_PARAMS must be 06 05 2B 81 04 00 0A); Ethereum needs a secp256k1 key: generate or import one")]
    WrongCurve {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// The curve found.
        curve: String,
    },
    /// The key may not sign.
    #[error("the private key with {search} in {token} has CKA_SIGN = false; it cannot sign")]
    NotForSigning {
        /// The search.
        search: String,
        /// The token.
        token: String,
    },
    /// No public point anywhere.
    #[error("no public key for the private key with {search} in {token}: no CKO_PUBLIC_KEY object with the same CKA_ID/CKA_LABEL and no CKA_EC_POINT on the private key; create the public-key object (`pkcs11 generate` and `pkcs11 import` do)")]
    NoPublicKey {
        /// The search.
        search: String,
        /// The token.
        token: String,
    },
    /// Public objects with different points match.
    #[error("{count} different public keys match the private key with {search} in {token}; give the keys unique CKA_ID values")]
    AmbiguousPublicKey {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// How many distinct points.
        count: usize,
    },
    /// `CKA_EC_POINT` unusable.
    #[error("the public key for {search} in {token}: {source}")]
    BadPoint {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// Why.
        source: ec::PointError,
    },
    /// The public key object does not belong to the private key.
    #[error("the public key found for {search} in {token} ({address}) does not verify a test signature made with the private key: the public-key object belongs to another key; fix its CKA_ID/CKA_LABEL")]
    KeyMismatch {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// Address of the public key found.
        address: Address,
    },
    /// After a reconnect the key is not the one the daemon started with.
    #[error("after reconnecting, the key with {search} in {token} is {found}, not {expected}; refusing to sign with another key (restart to switch keys)")]
    KeyChanged {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// The address the backend was opened with.
        expected: Address,
        /// The address found now.
        found: Address,
    },
    /// The token's signature is not 64 bytes of `r‖s`.
    #[error("{token} returned a {len}-byte CKM_ECDSA signature; expected 64 bytes r‖s")]
    BadSignature {
        /// The token.
        token: String,
        /// Length returned.
        len: usize,
    },
    /// Any other PKCS#11 failure.
    #[error("{token}: {op} failed: {reason}")]
    Call {
        /// The token (or module).
        token: String,
        /// The PKCS#11 function, e.g. `C_Sign`.
        op: &'static str,
        /// The return value, e.g. `CKR_DEVICE_REMOVED`.
        rv: Option<RvError>,
        /// Text for the message.
        reason: String,
    },
    /// A usage error in a key-management command.
    #[error("{0}")]
    Usage(String),
}

impl Pkcs11Error {
    /// Wraps a cryptoki error from `op`.
    pub fn call(token: &str, op: &'static str, e: CkError) -> Self {
        let rv = match &e {
            CkError::Pkcs11(rv, _) => Some(*rv),
            _ => None,
        };
        let reason = match rv {
            Some(rv) => format!("{} ({})", rv_name(rv), hint(rv)),
            None => e.to_string(),
        };
        Pkcs11Error::Call {
            token: token.to_string(),
            op,
            rv,
            reason,
        }
    }

    /// The PKCS#11 return value, when the error came from one.
    pub fn rv(&self) -> Option<RvError> {
        match self {
            Pkcs11Error::Call { rv, .. } => *rv,
            _ => None,
        }
    }
}

impl From<Pkcs11Error> for BackendError {
    fn from(e: Pkcs11Error) -> Self {
        use Pkcs11Error as E;
        match &e {
            E::WrongPin { .. } | E::PinLocked { .. } => BackendError::Denied(e.to_string()),
            E::TokenAbsent { .. } => BackendError::Unavailable(e.to_string()),
            E::BadSignature { .. } | E::BadPoint { .. } | E::KeyMismatch { .. } | E::KeyChanged { .. } => {
                BackendError::Malformed(e.to_string())
            }
            E::Call { rv, .. } => match rv {
                Some(rv) if is_unavailable(*rv) || is_session_error(*rv) => {
                    BackendError::Unavailable(e.to_string())
                }
                Some(RvError::PinIncorrect | RvError::PinLocked | RvError::PinExpired) => {
                    BackendError::Denied(e.to_string())
                }
                Some(
                    RvError::MechanismInvalid
                    | RvError::MechanismParamInvalid
                    | RvError::KeyTypeInconsistent
                    | RvError::KeyFunctionNotPermitted,
                ) => BackendError::Config(e.to_string()),
                _ => BackendError::Malformed(e.to_string()),
            },
            _ => BackendError::Config(e.to_string()),
        }
    }
}

/// Return values after which the session is reopened, re-logged-in and the
/// operation retried once.
pub fn is_session_error(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::UserNotLoggedIn
            | RvError::ObjectHandleInvalid
            | RvError::KeyHandleInvalid
            | RvError::SessionCount
            | RvError::CryptokiNotInitialized
    )
}

fn is_unavailable(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::DeviceMemory
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::SlotIdInvalid
            | RvError::FunctionFailed
            | RvError::GeneralError
            | RvError::SessionCount
    )
}

/// The spec name of a return value, e.g. `CKR_DEVICE_REMOVED`.
pub fn rv_name(rv: RvError) -> String {
    // RvError's Debug is the CamelCase of the CKR_ name.
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR_");
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn hint(rv: RvError) -> &'static str {
    match rv {
        RvError::DeviceRemoved | RvError::TokenNotPresent => {
            "the token was removed or the HSM is unreachable"
        }
        RvError::DeviceError => "the token or its connection failed",
        RvError::SessionHandleInvalid | RvError::SessionClosed => "the session was closed",
        RvError::UserNotLoggedIn => "the session is no longer logged in",
        RvError::MechanismInvalid => "the token does not offer this mechanism",
        RvError::KeyFunctionNotPermitted => "the key's attributes forbid this operation",
        RvError::AttributeValueInvalid | RvError::TemplateIncomplete | RvError::TemplateInconsistent => {
            "the token refused the object template; see the vendor notes in docs/pkcs11.md"
        }
        RvError::CurveNotSupported | RvError::DomainParamsInvalid => "the token does not support secp256k1",
        _ => "see the PKCS#11 return value",
    }
}

/// Which token: `[key.pkcs11] token_label` or `slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// `CK_TOKEN_INFO.label` (trailing blanks ignored).
    Label(String),
    /// A slot id.
    Slot(u64),
}

impl fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "token {l:?}"),
            TokenSelector::Slot(s) => write!(f, "slot {s}"),
        }
    }
}

/// Which key: `CKA_LABEL` and/or `CKA_ID`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySelector {
    /// `CKA_LABEL`.
    pub label: Option<String>,
    /// `CKA_ID` bytes.
    pub id: Option<Vec<u8>>,
}

impl fmt::Display for KeySelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.label, &self.id) {
            (Some(l), Some(id)) => write!(f, "label {l:?} and id {}", hex::encode(id)),
            (Some(l), None) => write!(f, "label {l:?}"),
            (None, Some(id)) => write!(f, "id {}", hex::encode(id)),
            (None, None) => f.write_str("any label and id"),
        }
    }
}

impl KeySelector {
    fn template(&self, class: ObjectClass) -> Vec<Attribute> {
        let mut t = vec![Attribute::Class(class)];
        if let Some(l) = &self.label {
            t.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }
}

/// Everything needed to reach the key, from `[key.pkcs11]`.
#[derive(Clone)]
pub struct Target {
    /// The module path.
    pub module: PathBuf,
    /// The token.
    pub token: TokenSelector,
    /// The key.
    pub key: KeySelector,
    /// The user PIN.
    pub pin: SecretString,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("key", &self.key)
            .field("pin", &"[redacted]")
            .finish()
    }
}

impl Target {
    /// Builds the target from `[key.pkcs11]`, reading the PIN from
    /// `pin_file` / `pin_env`. Key label/id may both be absent (for the
    /// key-management commands that do not need a key).
    pub fn from_config(config: &Pkcs11Config) -> Result<Self, Pkcs11Error> {
        let token = match (&config.token_label, config.slot) {
            (Some(l), None) => TokenSelector::Label(l.clone()),
            (None, Some(s)) => TokenSelector::Slot(s),
            (Some(_), Some(_)) => {
                return Err(Pkcs11Error::Usage(
                    "[key.pkcs11]: set only one of `token_label` and `slot`".into(),
                ))
            }
            (None, None) => {
                return Err(Pkcs11Error::Usage(
                    "[key.pkcs11]: set `token_label` (preferred: slot ids can change) or `slot`".into(),
                ))
            }
        };
        let id =
            match &config.key_id {
                Some(s) => Some(hex::decode(s).map_err(|e| {
                    Pkcs11Error::Usage(format!("[key.pkcs11] key_id = {s:?} is not hex: {e}"))
                })?),
                None => None,
            };
        let pin = read_pin(config)?;
        Ok(Target {
            module: config.module.clone(),
            token,
            key: KeySelector {
                label: config.key_label.clone(),
                id,
            },
            pin,
        })
    }
}

/// Reads the user PIN from `pin_file` (trimmed) or `pin_env`.
pub fn read_pin(config: &Pkcs11Config) -> Result<SecretString, Pkcs11Error> {
    match (&config.pin_file, &config.pin_env) {
        (Some(file), None) => read_secret_file(file).map_err(|e| {
            Pkcs11Error::Pin(format!(
                "{e}; fix [key.pkcs11] pin_file (it must hold the user PIN)"
            ))
        }),
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_owned())),
            Ok(_) => Err(Pkcs11Error::Pin(format!(
                "environment variable {var} (from [key.pkcs11] pin_env) is empty"
            ))),
            Err(_) => Err(Pkcs11Error::Pin(format!(
                "environment variable {var} (from [key.pkcs11] pin_env) is not set"
            ))),
        },
        (Some(_), Some(_)) => Err(Pkcs11Error::Usage(
            "[key.pkcs11]: set only one of `pin_file` and `pin_env`".into(),
        )),
        (None, None) => Err(Pkcs11Error::Usage(
            "[key.pkcs11]: set `pin_file` (a file holding the user PIN) or `pin_env`".into(),
        )),
    }
}

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

fn bool_attr(attrs: &[Attribute], ty: AttributeType) -> Option<bool> {
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
        .find_objects(&sel.template(ObjectClass::PRIVATE_KEY))
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
        let k = ec::parse_ec_point(p).map_err(|source| Pkcs11Error::BadPoint {
            search: search.clone(),
            token: token.to_string(),
            source,
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

/// The pool's shared state.
struct Shared {
    ctx: Pkcs11,
    target: Target,
    public_key: VerifyingKey,
    /// `token "x" (slot N)` as last resolved.
    token: Mutex<(Slot, String)>,
    key_handle: Mutex<ObjectHandle>,
    /// Idle sessions; `None` marks a session that must be reopened.
    idle: Mutex<Vec<Option<Session>>>,
    permits: Arc<Semaphore>,
    available: AtomicBool,
    reconnects: AtomicU64,
}

impl Shared {
    fn token_desc(&self) -> String {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).1.clone()
    }

    /// Opens and logs in a fresh session, re-resolving the token (its slot
    /// may change after a re-plug) and the key handle.
    fn reconnect(&self) -> Result<Session, Pkcs11Error> {
        let (slot, desc) =
            find_token(&self.ctx, &self.target.module, &self.target.token).map_err(|e| match e {
                Pkcs11Error::TokenNotFound { label, .. } => Pkcs11Error::TokenAbsent {
                    token: format!("token {label:?}"),
                },
                e => e,
            })?;
        let session = login_session(&self.ctx, slot, &self.target.pin, false, &desc)?;
        let found = find_key(&session, &self.target.key, &desc)?;
        if found.public_key != self.public_key {
            return Err(Pkcs11Error::KeyChanged {
                search: self.target.key.to_string(),
                token: desc,
                expected: Address::from_public_key(&self.public_key),
                found: Address::from_public_key(&found.public_key),
            });
        }
        *self.key_handle.lock().unwrap_or_else(|p| p.into_inner()) = found.handle;
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = (slot, desc);
        Ok(session)
    }

    fn set_available(&self, ok: bool, why: Option<&Pkcs11Error>) {
        let was = self.available.swap(ok, Ordering::SeqCst);
        match (was, ok) {
            (true, false) => tracing::warn!(
                token = %self.token_desc(),
                error = %why.map(|e| e.to_string()).unwrap_or_default(),
                "PKCS#11 token unavailable: signing fails until it is back; the cached OrchestratorInfo signature is still served"
            ),
            (false, true) => tracing::info!(token = %self.token_desc(), "PKCS#11 token available again"),
            _ => {}
        }
    }

    /// Runs `op` on the leased session; on a session error, reopens and
    /// re-logs-in that session and retries once.
    fn run<T>(
        &self,
        lease: &mut Option<Session>,
        op: impl Fn(&Self, &Session, ObjectHandle) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        let mut retried = false;
        loop {
            if lease.is_none() {
                match self.reconnect() {
                    Ok(s) => {
                        self.reconnects.fetch_add(1, Ordering::Relaxed);
                        *lease = Some(s)
                    }
                    Err(e) => {
                        self.set_available(false, Some(&e));
                        return Err(e);
                    }
                }
            }
            let session = lease.as_ref().expect("session present");
            let handle = *self.key_handle.lock().unwrap_or_else(|p| p.into_inner());
            match op(self, session, handle) {
                Ok(v) => {
                    self.set_available(true, None);
                    return Ok(v);
                }
                Err(e) if !retried && e.rv().is_some_and(is_session_error) => {
                    tracing::warn!(token = %self.token_desc(), error = %e, "PKCS#11 session error: reopening the session and retrying once");
                    // Dropping closes the old session (errors are ignored).
                    *lease = None;
                    retried = true;
                }
                Err(e) => {
                    if e.rv()
                        .is_some_and(|rv| is_unavailable(rv) || is_session_error(rv))
                    {
                        self.set_available(false, Some(&e));
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// A session taken from the pool with its permit; returned on drop (also
/// when the blocking task panics).
struct Lease {
    shared: Arc<Shared>,
    session: Option<Session>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let s = self.session.take();
        self.shared.idle.lock().unwrap_or_else(|p| p.into_inner()).push(s);
    }
}

/// A secp256k1 key inside a PKCS#11 token, behind a pool of logged-in
/// sessions.
pub struct Pkcs11Backend {
    shared: Arc<Shared>,
    describe: String,
}

impl fmt::Debug for Pkcs11Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Backend")
            .field("key", &self.describe)
            .field("address", &Address::from_public_key(&self.shared.public_key))
            .finish_non_exhaustive()
    }
}

impl Pkcs11Backend {
    /// Loads the module (once per process), finds the token and the key,
    /// checks the curve and the public key (by a test signature), and opens
    /// `sessions` logged-in sessions. Runs on a blocking thread; starts the
    /// background monitor when called inside a tokio runtime.
    pub async fn open(config: &Pkcs11Config) -> Result<Self, BackendError> {
        let config = config.clone();
        let sessions = config.sessions.max(1);
        let backend =
            tokio::task::spawn_blocking(move || Self::open_blocking(Target::from_config(&config)?, sessions))
                .await
                .map_err(|e| BackendError::Unavailable(format!("PKCS#11 open task failed: {e}")))??;
        let weak = Arc::downgrade(&backend.shared);
        tokio::spawn(monitor(weak));
        Ok(backend)
    }

    /// [`Pkcs11Backend::open`] on the current thread, without the monitor.
    pub fn open_blocking(target: Target, sessions: usize) -> Result<Self, Pkcs11Error> {
        if target.key.label.is_none() && target.key.id.is_none() {
            return Err(Pkcs11Error::Usage(
                "[key.pkcs11]: set `key_label`, `key_id` (hex CKA_ID), or both".into(),
            ));
        }
        let ctx = module(&target.module)?;
        let (slot, desc) = find_token(&ctx, &target.module, &target.token)?;
        let first = login_session(&ctx, slot, &target.pin, false, &desc)?;
        let found = find_key(&first, &target.key, &desc)?;
        check_pair(&first, &found, &target.key, &desc)?;
        let mut idle = vec![Some(first)];
        for _ in 1..sessions {
            idle.push(Some(login_session(&ctx, slot, &target.pin, false, &desc)?));
        }
        let describe = format!(
            "pkcs11 {desc} key {} (module {})",
            target.key,
            target.module.display()
        );
        let library = ctx
            .get_library_info()
            .map(|i| {
                format!(
                    "{} {} {}",
                    i.manufacturer_id().trim_end(),
                    i.library_description().trim_end(),
                    i.library_version()
                )
            })
            .unwrap_or_default();
        tracing::info!(
            token = %desc,
            key = %target.key,
            address = %Address::from_public_key(&found.public_key),
            sessions,
            module = %target.module.display(),
            %library,
            "PKCS#11 key found; key pair checked with a test signature; session pool logged in"
        );
        Ok(Pkcs11Backend {
            shared: Arc::new(Shared {
                ctx,
                public_key: found.public_key,
                token: Mutex::new((slot, desc)),
                key_handle: Mutex::new(found.handle),
                idle: Mutex::new(idle),
                permits: Arc::new(Semaphore::new(sessions)),
                available: AtomicBool::new(true),
                reconnects: AtomicU64::new(0),
                target,
            }),
            describe,
        })
    }

    /// Whether the last operation or probe reached the token.
    pub fn is_available(&self) -> bool {
        self.shared.available.load(Ordering::SeqCst)
    }

    /// How many sessions were reopened (and re-logged-in) after errors.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }
}

/// Waits for a free session (one operation per session at a time).
async fn lease(shared: &Arc<Shared>) -> Result<Lease, BackendError> {
    let permit = shared
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| BackendError::Unavailable("PKCS#11 session pool closed".into()))?;
    let session = shared
        .idle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .flatten();
    Ok(Lease {
        shared: shared.clone(),
        session,
        _permit: permit,
    })
}

/// Runs `op` with a leased session on a blocking thread (with recovery, see
/// [`Shared::run`]), bounded by [`SIGN_TIMEOUT`].
async fn with_session<T: Send + 'static>(
    shared: &Arc<Shared>,
    what: &'static str,
    op: impl Fn(&Shared, &Session, ObjectHandle) -> Result<T, Pkcs11Error> + Send + 'static,
) -> Result<T, BackendError> {
    let mut lease = lease(shared).await?;
    let task = tokio::task::spawn_blocking(move || {
        let shared = lease.shared.clone();
        shared.run(&mut lease.session, op)
    });
    match tokio::time::timeout(SIGN_TIMEOUT, task).await {
        Ok(Ok(result)) => result.map_err(BackendError::from),
        Ok(Err(e)) => Err(BackendError::Unavailable(format!(
            "PKCS#11 {what} task failed: {e}"
        ))),
        Err(_) => Err(BackendError::Timeout(format!(
            "{}: {what} did not finish within {} s",
            shared.token_desc(),
            SIGN_TIMEOUT.as_secs()
        ))),
    }
}

/// Probes every [`MONITOR_INTERVAL`] while the backend lives; state
/// changes are logged by the probe itself.
async fn monitor(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(MONITOR_INTERVAL);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(strong) = shared.upgrade() else { return };
        let _ = with_session(&strong, "probe", ping).await;
    }
}

fn ping(shared: &Shared, session: &Session, _key: ObjectHandle) -> Result<(), Pkcs11Error> {
    let desc = shared.token_desc();
    let info = session
        .get_session_info()
        .map_err(|e| Pkcs11Error::call(&desc, "C_GetSessionInfo", e))?;
    shared
        .ctx
        .get_token_info(info.slot_id())
        .map_err(|e| Pkcs11Error::call(&desc, "C_GetTokenInfo", e))?;
    match info.session_state() {
        SessionState::RoUser | SessionState::RwUser => Ok(()),
        _ => Err(Pkcs11Error::Call {
            token: desc,
            op: "C_GetSessionInfo",
            rv: Some(RvError::UserNotLoggedIn),
            reason: "the session is no longer logged in".into(),
        }),
    }
}

#[async_trait]
impl KeyBackend for Pkcs11Backend {
    fn kind(&self) -> &'static str {
        "pkcs11"
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn public_key(&self) -> &VerifyingKey {
        &self.shared.public_key
    }

    /// `C_Sign` with `CKM_ECDSA` (no hashing) over `digest` on a pooled,
    /// logged-in session; the token's 64-byte `r‖s` as is (`s` may be high,
    /// no recovery id).
    async fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, BackendError> {
        let digest = *digest;
        with_session(&self.shared, "C_Sign", move |shared, session, key| {
            sign_raw(session, key, &digest, &shared.token_desc())
        })
        .await
    }

    /// `C_GetSessionInfo` + `C_GetTokenInfo` on a pooled session (reopened
    /// once if it fails). [`BackendError::Unavailable`] when the token is
    /// gone.
    async fn probe(&self) -> Result<(), BackendError> {
        with_session(&self.shared, "probe", ping).await
    }
}
