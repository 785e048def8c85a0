//! [`Pkcs11Error`]: every way the PKCS#11 backend can fail, and how each
//! maps onto [`BackendError`] and onto the retry-once rule.

use std::path::PathBuf;

use cryptoki::error::{Error as CkError, RvError};

use super::ec;
use crate::config::Invalid;
use crate::eth::Address;
use crate::secret::SecretError;

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
    #[error("PIN: {0}; fix [key.pkcs11] pin_file / pin_env (it must hold the user PIN)")]
    Pin(SecretError),
    /// `[key.pkcs11]` breaks a rule.
    #[error(transparent)]
    Config(#[from] Invalid),
    /// The session pool was shut down.
    #[error("the PKCS#11 session pool is closed")]
    PoolClosed,
    /// An operation did not finish in time (the token call itself cannot be
    /// cancelled).
    #[error("{token}: {op} did not finish within {seconds} s")]
    Timeout {
        /// The token.
        token: String,
        /// The operation.
        op: &'static str,
        /// The limit.
        seconds: u64,
    },
    /// `C_Login` said the PIN is wrong.
    #[error("wrong PIN for {token}: the token refused C_Login (CKR_PIN_INCORRECT); check [key.pkcs11] pin_file / pin_env (repeated failures can lock the token)")]
    WrongPin {
        /// The token.
        token: String,
    },
    /// A PIN was refused earlier in this process; no further login is tried.
    #[error("the PIN for {token} was refused earlier ({first}); not trying C_Login again, so as not to lock the token: fix [key.pkcs11] pin_file / pin_env and restart")]
    PinRefusedBefore {
        /// The token.
        token: String,
        /// The first refusal.
        first: String,
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
    #[error("the public key for {search} in {token}: {error}")]
    BadPoint {
        /// The search.
        search: String,
        /// The token.
        token: String,
        /// Why.
        error: ec::PointError,
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

impl Pkcs11Error {
    /// A stable label for metrics: `config`, `denied`, `unavailable`,
    /// `timeout` or `malformed`.
    pub fn kind(&self) -> &'static str {
        use Pkcs11Error as E;
        match self {
            E::WrongPin { .. } | E::PinLocked { .. } | E::PinRefusedBefore { .. } => "denied",
            E::TokenAbsent { .. } | E::PoolClosed => "unavailable",
            E::Timeout { .. } => "timeout",
            E::BadSignature { .. } | E::BadPoint { .. } | E::KeyMismatch { .. } | E::KeyChanged { .. } => {
                "malformed"
            }
            E::Call { rv, .. } => match rv {
                Some(rv) if is_unavailable(*rv) || is_session_error(*rv) => "unavailable",
                Some(RvError::PinIncorrect | RvError::PinLocked | RvError::PinExpired) => "denied",
                Some(
                    RvError::MechanismInvalid
                    | RvError::MechanismParamInvalid
                    | RvError::KeyTypeInconsistent
                    | RvError::KeyFunctionNotPermitted,
                ) => "config",
                _ => "malformed",
            },
            _ => "config",
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

pub(crate) fn is_unavailable(rv: RvError) -> bool {
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

pub(crate) fn hint(rv: RvError) -> &'static str {
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
