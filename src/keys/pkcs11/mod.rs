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
//! * [`KeyBackend::probe`] pings a pooled session; the `[health]` probe loop
//!   calls it, and every operation logs when the token becomes unavailable
//!   or comes back.
//!
//! Layout: [`ec`] parses `CKA_EC_PARAMS`/`CKA_EC_POINT` (pure), `token`
//! holds the blocking token operations (re-exported here), [`admin`] the
//! key-management operations behind `livepeer-signer pkcs11 …`, `error` the
//! [`Pkcs11Error`] enum; this file the configuration and the session pool.

pub mod admin;
pub mod ec;
mod error;
mod token;

pub use error::{is_session_error, rv_name, Pkcs11Error};
pub use token::{
    check_pair, find_key, find_token, list_keys, list_tokens, login_session, module, sign_raw, FoundKey,
    KeySummary, TokenSummary,
};

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cryptoki::context::Pkcs11;
use cryptoki::error::RvError;
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, SessionState};
use cryptoki::slot::Slot;
use k256::ecdsa::{Signature, VerifyingKey};
use secrecy::SecretString;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Pkcs11Config;
use crate::eth::Address;
use crate::keys::{BackendError, KeyBackend};
use error::is_unavailable;

/// How long one signature may take before the caller gets
/// [`BackendError::Timeout`] (the token call itself cannot be cancelled).
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(30);

pub use crate::config::{KeySelector, TokenSelector};

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
    /// Builds the target from `[key.pkcs11]` (its rules are
    /// [`Pkcs11Config::validate`]'s), reading the PIN. Key label/id may both
    /// be absent (for the key-management commands that do not need a key).
    pub fn from_config(config: &Pkcs11Config) -> Result<Self, Pkcs11Error> {
        Ok(Target {
            module: config.module.clone(),
            token: config.token()?,
            key: config.key()?,
            pin: config.pin()?.read().map_err(Pkcs11Error::Pin)?,
        })
    }
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
    /// Sessions leased right now, and the most ever leased at once.
    in_use: AtomicUsize,
    peak_in_use: AtomicUsize,
    available: AtomicBool,
    reconnects: AtomicU64,
    /// Set when `C_Login` refused the PIN: later reconnects do not retry it
    /// (every failed login counts towards the token's PIN lockout).
    pin_refused: Mutex<Option<String>>,
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
        if let Some(first) = self.pin_refused.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(Pkcs11Error::PinRefusedBefore { token: desc, first });
        }
        let session = login_session(&self.ctx, slot, &self.target.pin, false, &desc).map_err(|e| {
            if matches!(e, Pkcs11Error::WrongPin { .. } | Pkcs11Error::PinLocked { .. }) {
                *self.pin_refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
            e
        })?;
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
        self.shared.in_use.fetch_sub(1, Ordering::SeqCst);
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
    /// `sessions` logged-in sessions. Runs on a blocking thread.
    pub async fn open(config: &Pkcs11Config) -> Result<Self, BackendError> {
        let config = config.clone();
        let sessions = config.sessions.max(1);
        Ok(
            tokio::task::spawn_blocking(move || Self::open_blocking(Target::from_config(&config)?, sessions))
                .await
                .map_err(|e| BackendError::task("PKCS#11 open", e))??,
        )
    }

    /// [`Pkcs11Backend::open`] on the current thread.
    pub fn open_blocking(target: Target, sessions: usize) -> Result<Self, Pkcs11Error> {
        target.key.require_some()?;
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
                in_use: AtomicUsize::new(0),
                peak_in_use: AtomicUsize::new(0),
                available: AtomicBool::new(true),
                reconnects: AtomicU64::new(0),
                pin_refused: Mutex::new(None),
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

    /// The most sessions ever leased from the pool at once (each lease is
    /// one token operation in flight).
    pub fn peak_sessions_in_use(&self) -> usize {
        self.shared.peak_in_use.load(Ordering::SeqCst)
    }
}

/// Waits for a free session (one operation per session at a time).
async fn lease(shared: &Arc<Shared>) -> Result<Lease, BackendError> {
    let permit = shared
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Pkcs11Error::PoolClosed)?;
    let session = shared
        .idle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .flatten();
    let in_use = shared.in_use.fetch_add(1, Ordering::SeqCst) + 1;
    shared.peak_in_use.fetch_max(in_use, Ordering::SeqCst);
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
        Ok(Err(e)) => Err(BackendError::task(what, e)),
        Err(_) => Err(Pkcs11Error::Timeout {
            token: shared.token_desc(),
            op: what,
            seconds: SIGN_TIMEOUT.as_secs(),
        }
        .into()),
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
