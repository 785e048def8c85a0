//! Bearer-token authentication, compatible with the go-livepeer gateway's
//! `-remoteSignerHeaders 'Authorization:Bearer <token>'`.
//!
//! Only SHA-256 hashes of tokens are kept in memory. A presented token is
//! hashed and compared against every configured hash in constant time; the
//! name of the matching entry is what logs and metrics show.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::{AuthConfig, Scope, TokenConfig};
use crate::eth::hex;
use crate::keys::keystore::read_secret_file;

/// A set of [`Scope`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope (authentication off).
    pub fn all() -> Scopes {
        Scopes::from_iter(Scope::ALL)
    }

    /// Does the set hold `scope`?
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u8) != 0
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |acc, s| acc | (1 << s as u8)))
    }
}

/// Who is calling: the token's name and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Token name (`-` when authentication is off).
    pub name: String,
    /// Its scopes (all when authentication is off).
    pub scopes: Scopes,
}

impl Caller {
    /// The caller when no token is configured.
    pub fn anonymous() -> Caller {
        Caller {
            name: "-".into(),
            scopes: Scopes::all(),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    hash: [u8; 32],
    scopes: Scopes,
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
    pub fn load(config: &AuthConfig) -> Result<Tokens, String> {
        let mut entries = Vec::with_capacity(config.tokens.len());
        for t in &config.tokens {
            let scopes = match &t.scopes {
                Some(list) => Scopes::from_iter(list.iter().copied()),
                None => Scopes::from_iter([Scope::OrchestratorInfo]),
            };
            entries.push(Entry {
                name: t.name.clone(),
                hash: Self::hash_of(t)?,
                scopes,
            });
        }
        Ok(Tokens { entries })
    }

    fn hash_of(t: &TokenConfig) -> Result<[u8; 32], String> {
        match (&t.sha256, &t.file) {
            (Some(h), _) => hex::decode_array::<32>(h)
                .map_err(|e| format!("[[auth.tokens]] {:?}: sha256 must be 64 hex digits: {e}", t.name)),
            (None, Some(file)) => Self::hash_file(&t.name, file),
            (None, None) => Err(format!("[[auth.tokens]] {:?}: set sha256 or file", t.name)),
        }
    }

    fn hash_file(name: &str, file: &Path) -> Result<[u8; 32], String> {
        use secrecy::ExposeSecret;
        let token = read_secret_file(file).map_err(|e| format!("[[auth.tokens]] {name:?}: token {e}"))?;
        let hash = token_sha256(token.expose_secret());
        Ok(hash)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let entry = |name: &str, token: &str, scopes: Scopes| Entry {
            name: name.into(),
            hash: token_sha256(token),
            scopes,
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
