//! The access model, used by every front door (the remote-signer routes, the
//! eth1 API, and later the admin listener): the `[auth]` config section,
//! bearer tokens, scopes, the caller identity and the startup exposure guard.
//!
//! Tokens are compatible with the go-livepeer gateway's
//! `-remoteSignerHeaders 'Authorization:Bearer <token>'`. Only SHA-256
//! hashes of tokens are kept in memory. A presented token is hashed and
//! compared against every configured hash in constant time; the name of the
//! matching entry is what logs and metrics show.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use alloy_primitives::U256;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::Invalid;
use crate::eth::hex;
use crate::secret::{self, SecretError};

/// `[auth]`: bearer tokens for the signing endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Allow serving without tokens on a non-loopback address.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// `[[auth.tokens]]`
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

/// One `[[auth.tokens]]` entry: a name and the token's SHA-256 or a file holding the token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Shown in logs and metrics (never the token).
    pub name: String,
    /// Hex SHA-256 of the token.
    pub sha256: Option<String>,
    /// File holding the token (surrounding whitespace trimmed).
    pub file: Option<PathBuf>,
    /// What the token may do; default `["orchestrator-info"]`.
    pub scopes: Option<Vec<Scope>>,
    /// Largest expected value of the tickets signed for this token over a
    /// sliding minute, in wei (decimal string). Per process (per replica).
    #[serde(default, deserialize_with = "de_opt_wei")]
    pub max_ev_per_minute: Option<U256>,
}

fn de_opt_wei<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<U256>, D::Error> {
    crate::config::de_wei(d).map(Some)
}

/// Where a token's hash comes from, after validation.
enum TokenHash<'a> {
    Given([u8; 32]),
    File(&'a PathBuf),
}

impl TokenConfig {
    fn at(&self, index: usize) -> String {
        format!("[[auth.tokens]] #{} (name = {:?})", index + 1, self.name)
    }

    /// The one rule for `sha256` / `file`.
    fn hash_source(&self, index: usize) -> Result<TokenHash<'_>, Invalid> {
        let at = self.at(index);
        match (&self.sha256, &self.file) {
            (Some(_), Some(_)) => Err(Invalid::new(format!("{at}: set only one of `sha256` and `file`"))),
            (None, None) => Err(Invalid::new(format!(
                "{at}: set `sha256` (hex SHA-256 of the token, see `livepeer-signer token new`) or `file`"
            ))),
            (Some(h), None) => hex::decode_array::<32>(h)
                .map(TokenHash::Given)
                .map_err(|e| Invalid::new(format!("{at}: sha256 must be 64 hex digits: {e}"))),
            (None, Some(f)) => Ok(TokenHash::File(f)),
        }
    }

    fn scope_set(&self) -> Scopes {
        match &self.scopes {
            Some(list) => Scopes::from_iter(list.iter().copied()),
            None => Scopes::from_iter([Scope::OrchestratorInfo]),
        }
    }
}

impl AuthConfig {
    /// Names are non-empty and unique; each entry has exactly one of
    /// `sha256` (64 hex digits) and `file`. Token files are read by
    /// [`Tokens::load`].
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut names = std::collections::HashSet::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.name.trim().is_empty() {
                return Err(Invalid::new(format!(
                    "{}: `name` is empty; it identifies the token in logs and metrics",
                    t.at(i)
                )));
            }
            if !names.insert(t.name.as_str()) {
                return Err(Invalid::new(format!(
                    "{}: the name is used twice; names must be unique",
                    t.at(i)
                )));
            }
            t.hash_source(i)?;
            if t.max_ev_per_minute.is_some_and(|w| w.is_zero()) {
                return Err(Invalid::new(format!(
                    "{}: max_ev_per_minute = \"0\" would refuse every payment; give a positive number of wei, or leave it out for no limit",
                    t.at(i)
                )));
            }
        }
        Ok(())
    }
}

/// A permission a bearer token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Scope {
    /// `POST /sign-orchestrator-info`.
    #[serde(rename = "orchestrator-info")]
    OrchestratorInfo,
    /// JSON-RPC `eth_sign` (EIP-191 personal messages: tickets, payment state).
    #[serde(rename = "eth_sign")]
    EthSign,
    /// JSON-RPC `eth_signTypedData` / `eth_signTypedData_v4` (EIP-712).
    #[serde(rename = "eth_signTypedData")]
    EthSignTypedData,
    /// JSON-RPC `eth_signTransaction`.
    #[serde(rename = "eth_signTransaction")]
    EthSignTransaction,
    /// `POST /api/v1/eth1/sign/{identifier}`: any 32-byte hash.
    #[serde(rename = "raw_sign")]
    RawSign,
    /// The admin listener (`[admin]`): sender info and TicketBroker deposit
    /// transactions (they move the key's ETH).
    #[serde(rename = "admin")]
    Admin,
    /// `POST /generate-live-payment`: probabilistic-micropayment tickets
    /// drawn on the key's TicketBroker deposit.
    #[serde(rename = "live-payment")]
    LivePayment,
    /// `GET /discover-orchestrators`: the orchestrator list (signs nothing).
    #[serde(rename = "discovery")]
    Discovery,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 8] = [
        Scope::OrchestratorInfo,
        Scope::EthSign,
        Scope::EthSignTypedData,
        Scope::EthSignTransaction,
        Scope::RawSign,
        Scope::Admin,
        Scope::LivePayment,
        Scope::Discovery,
    ];

    /// The spelling used in config and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrchestratorInfo => "orchestrator-info",
            Scope::EthSign => "eth_sign",
            Scope::EthSignTypedData => "eth_signTypedData",
            Scope::EthSignTransaction => "eth_signTransaction",
            Scope::RawSign => "raw_sign",
            Scope::Admin => "admin",
            Scope::LivePayment => "live-payment",
            Scope::Discovery => "discovery",
        }
    }
}

/// A set of [`Scope`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u16);

const _: () = assert!(Scope::ALL.len() <= 16, "Scopes is a u16 bitset");

impl Scopes {
    /// Every scope (authentication off).
    pub fn all() -> Scopes {
        Scopes::from_iter(Scope::ALL)
    }

    /// Does the set hold `scope`?
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u16) != 0
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |acc, s| acc | (1 << s as u16)))
    }
}

/// Who is calling: the token's name and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Token name (`-` when authentication is off).
    pub name: String,
    /// Its scopes (all when authentication is off).
    pub scopes: Scopes,
    /// Its `max_ev_per_minute` spend limit in wei, if any.
    pub max_ev_per_minute: Option<U256>,
}

/// A caller lacks a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token {token:?} lacks the scope {:?}; add it to the token's `scopes` in [[auth.tokens]]", scope.as_str())]
pub struct MissingScope {
    /// The token name.
    pub token: String,
    /// The scope it lacks.
    pub scope: Scope,
}

impl Caller {
    /// The caller when no token is configured.
    pub fn anonymous() -> Caller {
        Caller {
            name: "-".into(),
            scopes: Scopes::all(),
            max_ev_per_minute: None,
        }
    }

    /// `Ok` when the caller holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), MissingScope> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(MissingScope {
                token: self.name.clone(),
                scope,
            })
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    hash: [u8; 32],
    scopes: Scopes,
    max_ev_per_minute: Option<U256>,
}

/// The configured tokens. Cheap to swap on reload.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    entries: Vec<Entry>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.name))
            .finish()
    }
}

/// Why tokens could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// An entry breaks a config rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A token file cannot be read.
    #[error("[[auth.tokens]] {name:?}: token {error}")]
    File {
        /// The entry's name.
        name: String,
        /// Why.
        error: SecretError,
    },
}

/// Why a request was refused. The label is the metrics `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// Not `Bearer <token>`.
    Malformed,
    /// A token that matches no configured entry.
    UnknownToken,
}

impl AuthFailure {
    /// Metrics label.
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::UnknownToken => "unknown_token",
        }
    }

    /// The message in the 401 body.
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing Authorization header: send Authorization: Bearer <token>",
            AuthFailure::Malformed => "malformed Authorization header: expected Bearer <token>",
            AuthFailure::UnknownToken => "invalid bearer token",
        }
    }
}

/// SHA-256 of a token, as `[[auth.tokens]] sha256` holds it.
pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Loads `[[auth.tokens]]`: hashes are parsed, token files read (and
    /// their contents hashed, then zeroized). Errors name the entry and file.
    pub fn load(config: &AuthConfig) -> Result<Tokens, TokensError> {
        config.validate()?;
        let mut entries = Vec::with_capacity(config.tokens.len());
        for (i, t) in config.tokens.iter().enumerate() {
            let hash = match t.hash_source(i)? {
                TokenHash::Given(h) => h,
                TokenHash::File(file) => {
                    let token = secret::read_file(file).map_err(|error| TokensError::File {
                        name: t.name.clone(),
                        error,
                    })?;
                    token_sha256(token.expose_secret())
                }
            };
            entries.push(Entry {
                name: t.name.clone(),
                hash,
                scopes: t.scope_set(),
                max_ev_per_minute: t.max_ev_per_minute,
            });
        }
        Ok(Tokens { entries })
    }

    /// `true` when no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Token names, in config order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// Checks an `Authorization` header value and returns the caller.
    /// Every configured hash is compared (constant time, no early exit).
    pub fn authenticate(&self, header: Option<&[u8]>) -> Result<Caller, AuthFailure> {
        let header = header.ok_or(AuthFailure::Missing)?;
        let header = std::str::from_utf8(header).map_err(|_| AuthFailure::Malformed)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthFailure::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthFailure::Malformed);
        }
        let token = Zeroizing::new(token.trim().to_owned());
        if token.is_empty() {
            return Err(AuthFailure::Malformed);
        }
        let presented = token_sha256(&token);
        let mut found: Option<&Entry> = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(&presented)) {
                found = Some(e);
            }
        }
        found
            .map(|e| Caller {
                name: e.name.clone(),
                scopes: e.scopes,
                max_ev_per_minute: e.max_ev_per_minute,
            })
            .ok_or(AuthFailure::UnknownToken)
    }
}

/// A new random token (256 bits, 64 hex digits: safe in go-livepeer's
/// comma-separated `-remoteSignerHeaders`).
pub fn new_token() -> Zeroizing<String> {
    use rand::RngCore;
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    Zeroizing::new(hex::encode(raw.as_ref()))
}

/// Records a refusal by a policy rule or a missing scope: one audit line
/// (target `livepeer_signer::audit`) and `policy_refusals_total{rule}`.
/// Every front door calls this, so refusals look the same everywhere.
pub fn record_refusal(caller: &Caller, what: &str, rule: &'static str, message: &str) {
    crate::metrics::METRICS
        .policy_refusals
        .with_label_values(&[rule])
        .inc();
    tracing::warn!(
        target: "livepeer_signer::audit",
        event = "refuse",
        method = what,
        token = %caller.name,
        rule,
        reason = %message,
    );
}

/// A listener that would serve signatures to anyone on the network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to listen on {listen} without authentication: add [[auth.tokens]] \
     (create one with `livepeer-signer token new --name <gateway>`), listen on a loopback \
     address, or set [auth] allow_unauthenticated = true"
)]
pub struct Exposed {
    /// The listener.
    pub listen: SocketAddr,
}

/// Refuses a non-loopback listener without tokens unless explicitly allowed
/// (go-livepeer #3959 does the same for its remote signer).
pub fn check_exposure(
    listen: SocketAddr,
    tokens: &Tokens,
    allow_unauthenticated: bool,
) -> Result<(), Exposed> {
    if tokens.is_empty() && !listen.ip().is_loopback() && !allow_unauthenticated {
        return Err(Exposed { listen });
    }
    Ok(())
}

/// A listener that would let anyone on the network mint tickets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to serve /generate-live-payment on {listen} without authentication: payments mint \
     tickets drawn on the key's TicketBroker deposit; add [[auth.tokens]] with scopes including \
     \"live-payment\", configure [payments.webhook], or listen on a loopback address"
)]
pub struct PaymentsExposed {
    /// `[server] listen`.
    pub listen: SocketAddr,
}

/// With payments on, refuses a non-loopback listener that has neither
/// tokens nor an auth webhook, whatever `allow_unauthenticated` says (it
/// moves money; go-livepeer #3959 refuses the same without a webhook).
pub fn check_payments_exposure(
    listen: SocketAddr,
    tokens: &Tokens,
    webhook: bool,
) -> Result<(), PaymentsExposed> {
    if tokens.is_empty() && !webhook && !listen.ip().is_loopback() {
        return Err(PaymentsExposed { listen });
    }
    Ok(())
}

/// An admin listener that would let anyone on the network move the key's ETH.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to serve the admin listener on {listen} without tokens: its routes send TicketBroker \
     transactions with the key; add [[auth.tokens]] with scopes = [\"admin\"] or set [admin] listen \
     to a loopback address"
)]
pub struct AdminExposed {
    /// `[admin] listen`.
    pub listen: SocketAddr,
}

/// Refuses a non-loopback admin listener without tokens, whatever
/// `allow_unauthenticated` says (it moves money).
pub fn check_admin_exposure(listen: SocketAddr, tokens: &Tokens) -> Result<(), AdminExposed> {
    if tokens.is_empty() && !listen.ip().is_loopback() {
        return Err(AdminExposed { listen });
    }
    Ok(())
}

/// The window of `max_ev_per_minute`.
pub const SPEND_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// A token's payments would exceed its `max_ev_per_minute`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "token {token:?} would exceed its spend limit max_ev_per_minute = {limit} wei: {spent} wei of \
     ticket EV signed in the last minute, this payment adds {adding}; retry later or raise the \
     limit in [[auth.tokens]]"
)]
pub struct SpendLimitExceeded {
    /// The token name.
    pub token: String,
    /// The limit, wei.
    pub limit: U256,
    /// EV already signed in the window, wei (rounded up).
    pub spent: String,
    /// This payment's EV, wei (rounded up).
    pub adding: String,
}

/// Per-token spend limits: the EV of tickets signed for each token over a
/// sliding minute, in this process. A payment reserves its EV before it is
/// signed ([`SpendLimits::reserve`]) and gives it back if signing fails
/// ([`SpendLimits::release`]).
#[derive(Debug, Default)]
pub struct SpendLimits {
    windows: std::sync::Mutex<std::collections::HashMap<String, Window>>,
}

#[derive(Debug, Default)]
struct Window {
    entries: std::collections::VecDeque<(std::time::Instant, u64, crate::livepeer::payment::Rat)>,
    sum: crate::livepeer::payment::Rat,
}

impl Window {
    fn prune(&mut self, now: std::time::Instant) {
        while let Some((at, _, ev)) = self.entries.front() {
            if now.duration_since(*at) < SPEND_WINDOW {
                break;
            }
            self.sum = &self.sum - ev;
            self.entries.pop_front();
        }
    }
}

/// A reserved share of a token's spend limit (see [`SpendLimits::release`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    token: String,
    id: u64,
}

impl SpendLimits {
    /// Reserves `ev` wei for `caller` at `now`, or refuses when the EV
    /// signed for it in the last minute plus `ev` would exceed its limit
    /// (equality is allowed). `Ok(None)` for a caller without a limit.
    pub fn reserve(
        &self,
        caller: &Caller,
        ev: &crate::livepeer::payment::Rat,
        now: std::time::Instant,
    ) -> Result<Option<Reservation>, SpendLimitExceeded> {
        use crate::livepeer::payment::Rat;
        let Some(limit) = caller.max_ev_per_minute else {
            return Ok(None);
        };
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows.entry(caller.name.clone()).or_default();
        w.prune(now);
        let total = &w.sum + ev;
        if total > Rat::from_u256(limit) {
            return Err(SpendLimitExceeded {
                token: caller.name.clone(),
                limit,
                spent: w.sum.ceil().to_string(),
                adding: ev.ceil().to_string(),
            });
        }
        let id = w.entries.back().map_or(0, |(_, id, _)| id + 1);
        w.entries.push_back((now, id, ev.clone()));
        w.sum = total;
        Ok(Some(Reservation {
            token: caller.name.clone(),
            id,
        }))
    }

    /// Gives a reservation back (the payment was not signed after all).
    pub fn release(&self, reservation: Reservation) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = windows.get_mut(&reservation.token) {
            if let Some(i) = w.entries.iter().position(|(_, id, _)| *id == reservation.id) {
                if let Some((_, _, ev)) = w.entries.remove(i) {
                    w.sum = &w.sum - &ev;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_need_tokens_or_a_webhook_off_loopback() {
        let none = Tokens::default();
        let public: SocketAddr = "10.0.0.5:8935".parse().unwrap();
        let e = check_payments_exposure(public, &none, false).unwrap_err();
        assert!(e.to_string().contains("live-payment"), "{e}");
        assert!(check_payments_exposure(public, &none, true).is_ok());
        assert!(check_payments_exposure("127.0.0.1:8935".parse().unwrap(), &none, false).is_ok());
        assert!(check_payments_exposure("[::1]:8935".parse().unwrap(), &none, false).is_ok());
    }

    #[test]
    fn admin_listener_needs_tokens_off_loopback() {
        let none = Tokens::default();
        let public: SocketAddr = "10.0.0.5:3935".parse().unwrap();
        assert!(check_admin_exposure(public, &none).is_err());
        assert!(check_admin_exposure("127.0.0.1:3935".parse().unwrap(), &none).is_ok());
        let some = Tokens {
            entries: vec![Entry {
                name: "ch".into(),
                hash: token_sha256("t"),
                scopes: Scopes::from_iter([Scope::Admin]),
                max_ev_per_minute: None,
            }],
        };
        assert!(check_admin_exposure(public, &some).is_ok());
    }

    fn tokens() -> Tokens {
        let entry = |name: &str, token: &str, scopes: Scopes| Entry {
            name: name.into(),
            hash: token_sha256(token),
            scopes,
            max_ev_per_minute: None,
        };
        Tokens {
            entries: vec![
                entry("a", "token-a", Scopes::from_iter([Scope::OrchestratorInfo])),
                entry(
                    "b",
                    "token-b",
                    Scopes::from_iter([Scope::EthSign, Scope::RawSign]),
                ),
            ],
        }
    }

    #[test]
    fn authenticates_by_hash() {
        let t = tokens();
        let b = t.authenticate(Some(b"Bearer token-b")).unwrap();
        assert_eq!(b.name, "b");
        assert!(b.scopes.contains(Scope::EthSign) && b.scopes.contains(Scope::RawSign));
        assert!(!b.scopes.contains(Scope::OrchestratorInfo));
        let a = t.authenticate(Some(b"bearer  token-a ")).unwrap();
        assert_eq!(a.name, "a");
        assert!(a.scopes.contains(Scope::OrchestratorInfo) && !a.scopes.contains(Scope::EthSign));
        assert!(Caller::anonymous().scopes.contains(Scope::RawSign));
        assert_eq!(t.authenticate(None), Err(AuthFailure::Missing));
        assert_eq!(
            t.authenticate(Some(b"Basic dXNlcjpwYXNz")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(t.authenticate(Some(b"Bearer")), Err(AuthFailure::Malformed));
        assert_eq!(
            t.authenticate(Some(b"Bearer token-c")),
            Err(AuthFailure::UnknownToken)
        );
        assert_eq!(t.authenticate(Some(b"\xff\xfe")), Err(AuthFailure::Malformed));
    }

    #[test]
    fn require_names_token_and_scope() {
        let b = tokens().authenticate(Some(b"Bearer token-b")).unwrap();
        assert!(b.require(Scope::EthSign).is_ok());
        assert_eq!(
            b.require(Scope::OrchestratorInfo).unwrap_err().to_string(),
            "token \"b\" lacks the scope \"orchestrator-info\"; add it to the token's `scopes` in [[auth.tokens]]"
        );
    }

    #[test]
    fn spend_limit_slides_over_a_minute() {
        use crate::livepeer::payment::Rat;
        use std::time::{Duration, Instant};
        let limits = SpendLimits::default();
        let caller = Caller {
            name: "gw".into(),
            scopes: Scopes::all(),
            max_ev_per_minute: Some(U256::from(100)),
        };
        let t0 = Instant::now();
        let ev = |n: i64| Rat::from_integer(n);
        assert!(limits
            .reserve(&Caller::anonymous(), &ev(1_000_000), t0)
            .unwrap()
            .is_none());
        limits.reserve(&caller, &ev(60), t0).unwrap().unwrap();
        // 60 + 40 = 100: equality allowed; then one more wei is refused.
        limits
            .reserve(&caller, &ev(40), t0 + Duration::from_secs(30))
            .unwrap();
        let e = limits
            .reserve(&caller, &Rat::parse("1/2").unwrap(), t0 + Duration::from_secs(31))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "token \"gw\" would exceed its spend limit max_ev_per_minute = 100 wei: 100 wei of ticket EV \
             signed in the last minute, this payment adds 1; retry later or raise the limit in [[auth.tokens]]"
        );
        // The first 60 leave the window at t0 + 60 s.
        limits
            .reserve(&caller, &ev(60), t0 + Duration::from_secs(60))
            .unwrap();
        assert!(limits
            .reserve(&caller, &ev(1), t0 + Duration::from_secs(61))
            .is_err());
        // A released reservation frees its share.
        let other = Caller {
            name: "other".into(),
            ..caller.clone()
        };
        let b = limits.reserve(&other, &ev(100), t0).unwrap().unwrap();
        assert!(limits.reserve(&other, &ev(1), t0).is_err());
        limits.release(b);
        limits.reserve(&other, &ev(100), t0).unwrap();
    }

    #[test]
    fn debug_shows_names_only() {
        let s = format!("{:?}", tokens());
        assert_eq!(s, "[\"a\", \"b\"]");
    }

    #[test]
    fn new_tokens_are_random_hex() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(*a, *b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
