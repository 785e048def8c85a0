//! The Signer: one place for every Ethereum signing rule.
//!
//! Backends return a raw `(r, s)` over a digest. The Signer
//! 1. normalises to low-s (`s ← n − s` when `s > n/2`),
//! 2. finds the recovery id by trial recovery against the backend's key and
//!    sets `v = 27 + recovery id` (the backend's parity hint, when it has
//!    one, is tried first: one recovery instead of 1.5 on average),
//! 3. self-checks: the 65-byte result must pass go-livepeer's `VerifySig`
//!    rules for the signer's address (steps 2 and 3 are one loop: each
//!    candidate `v` is tried through the verifier itself).
//!
//! A signature that fails any step is an error, never a response.

use std::fmt;
use std::sync::Arc;

use k256::ecdsa::{Signature, VerifyingKey};

use crate::eth::{text_hash, verify_digest, Address, RecoverableSignature, VerifyError};
use crate::keys::{BackendError, KeyBackend};
use crate::metrics::METRICS;

/// Why a signature could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The backend failed.
    #[error("{backend} backend: {error}")]
    Backend {
        /// Backend kind.
        backend: &'static str,
        /// What the backend said (its message is part of this one).
        error: BackendError,
    },
    /// The backend's `(r, s)` is not a signature by its own public key over
    /// this digest.
    #[error(
        "the {backend} backend returned a signature that does not recover to its public key \
         ({address}): it signed something other than the digest (for example it hashed the \
         digest again) or it signed with another key; refusing to use it"
    )]
    NotOurKey {
        /// Backend kind.
        backend: &'static str,
        /// Address of the backend's public key.
        address: Address,
    },
    /// The finished signature failed go-livepeer's verifier.
    #[error("self-check failed for a {backend} signature: {error}; refusing to use it")]
    SelfCheck {
        /// Backend kind.
        backend: &'static str,
        /// The verifier's reason (its message is part of this one).
        error: VerifyError,
    },
}

impl SignError {
    /// A stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SignError::Backend { error, .. } => error.kind(),
            SignError::NotOurKey { .. } => "not_our_key",
            SignError::SelfCheck { .. } => "self_check",
        }
    }
}

/// A key backend plus the Ethereum rules. Cheap to clone.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Box<dyn KeyBackend>,
    public_key: VerifyingKey,
    address: Address,
    metrics: SignMetrics,
}

/// This backend's signing metrics, resolved once (no label lookup per signature).
struct SignMetrics {
    signatures: prometheus::IntCounter,
    duration: prometheus::Histogram,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("backend", &self.inner.backend.kind())
            .field("address", &self.inner.address)
            .finish()
    }
}

impl Signer {
    /// Wraps a backend. The address is derived from its public key.
    pub fn new(backend: Box<dyn KeyBackend>) -> Self {
        let public_key = *backend.public_key();
        let address = Address::from_public_key(&public_key);
        let kind = backend.kind();
        let metrics = SignMetrics {
            signatures: METRICS.signatures.with_label_values(&[kind]),
            duration: METRICS.sign_duration.with_label_values(&[kind]),
        };
        Signer {
            inner: Arc::new(Inner {
                backend,
                public_key,
                address,
                metrics,
            }),
        }
    }

    /// The signing address.
    pub fn address(&self) -> Address {
        self.inner.address
    }

    /// The signing public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.inner.public_key
    }

    /// The backend, for probes and descriptions.
    pub fn backend(&self) -> &dyn KeyBackend {
        self.inner.backend.as_ref()
    }

    /// Signs the 32-byte `digest` as is (no prefix, no hashing) and returns
    /// the canonical `r‖s‖v` (low-s, `v ∈ {27, 28}`), self-checked.
    pub async fn sign_digest(&self, digest: &[u8; 32]) -> Result<RecoverableSignature, SignError> {
        let backend = self.inner.backend.kind();
        let started = std::time::Instant::now();
        let result = match self.inner.backend.sign_digest_hinted(digest).await {
            Ok((raw, hint)) => self.finalize_hinted(digest, &raw, hint),
            Err(error) => Err(SignError::Backend { backend, error }),
        };
        let m = &self.inner.metrics;
        m.duration.observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(sig) => {
                m.signatures.inc();
                tracing::info!(
                    target: "livepeer_signer::audit",
                    event = "sign",
                    backend,
                    digest = %crate::eth::hex::encode_0x(digest),
                    v = sig.v(),
                    outcome = "ok",
                );
            }
            Err(e) => {
                METRICS.sign_errors.with_label_values(&[backend, e.kind()]).inc();
                tracing::warn!(
                    target: "livepeer_signer::audit",
                    event = "sign",
                    backend,
                    digest = %crate::eth::hex::encode_0x(digest),
                    outcome = "error",
                    error = %e,
                );
            }
        }
        result
    }

    /// Signs every 32-byte digest as is (no prefix, no hashing), each into
    /// the canonical self-checked `r‖s‖v` of [`Signer::sign_digest`], in
    /// input order. The signatures are made concurrently, one task each on
    /// the current tokio runtime (parallel KMS requests, the PKCS#11
    /// session pool, keystore signing on every core); the first failure
    /// fails the batch and cancels what has not finished.
    pub async fn sign_batch(&self, digests: &[[u8; 32]]) -> Result<Vec<RecoverableSignature>, SignError> {
        let mut tasks: Vec<_> = digests
            .iter()
            .map(|d| {
                use tracing::Instrument;
                let (signer, digest) = (self.clone(), *d);
                tokio::spawn(
                    async move { signer.sign_digest(&digest).await }.instrument(tracing::Span::current()),
                )
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        let mut failure = None;
        for task in tasks.iter_mut() {
            match task.await {
                Ok(Ok(sig)) => out.push(sig),
                Ok(Err(e)) => failure = Some(e),
                Err(join) => {
                    failure = Some(SignError::Backend {
                        backend: self.inner.backend.kind(),
                        error: BackendError::task("batch signing", join),
                    })
                }
            }
            if failure.is_some() {
                break;
            }
        }
        match failure {
            Some(e) => {
                for task in &tasks {
                    task.abort();
                }
                Err(e)
            }
            None => Ok(out),
        }
    }

    /// go-livepeer's `Eth.Sign(msg)`: signs `TextHash(msg)` (EIP-191
    /// `personal_sign`) and returns `r‖s‖v` with `v ∈ {27, 28}`.
    pub async fn sign_text(&self, msg: &[u8]) -> Result<RecoverableSignature, SignError> {
        self.sign_digest(&text_hash(msg)).await
    }

    /// Turns a raw `(r, s)` over `digest` into the canonical 65-byte
    /// signature. Pure; no backend call.
    ///
    /// After low-s normalisation the recovery id is found by trial: `v = 27`
    /// then `v = 28` are each run through go-livepeer's verifier
    /// ([`verify_digest`]: length, low-s, `v ∈ {27, 28}`, recovered address ==
    /// this signer's). The trial recovery and the self-check are one step, so
    /// the bytes returned are exactly bytes the verifier accepted. If neither
    /// `v` verifies, the backend did not sign this digest with its key.
    pub fn finalize(&self, digest: &[u8; 32], raw: &Signature) -> Result<RecoverableSignature, SignError> {
        self.finalize_hinted(digest, raw, None)
    }

    /// [`Signer::finalize`] with the backend's parity hint for `raw` (see
    /// [`KeyBackend::sign_digest_hinted`]): the hinted `v` is tried first,
    /// so a correct hint costs one recovery instead of 1.5 on average. The
    /// hint never decides: each candidate still passes go-livepeer's
    /// verifier or is not returned.
    pub fn finalize_hinted(
        &self,
        digest: &[u8; 32],
        raw: &Signature,
        hint: Option<bool>,
    ) -> Result<RecoverableSignature, SignError> {
        let backend = self.inner.backend.kind();
        let (low_s, flipped) = match raw.normalize_s() {
            Some(low) => (low, true),
            None => (*raw, false),
        };
        // s ← n − s negates R, flipping the parity of its y.
        let first = hint.is_some_and(|odd| odd != flipped);
        let mut last = VerifyError::Unrecoverable;
        for y_odd in [first, !first] {
            let candidate = RecoverableSignature::from_parts(&low_s, y_odd).ok_or(SignError::SelfCheck {
                backend,
                error: VerifyError::HighS,
            })?;
            match verify_digest(&self.inner.address, digest, candidate.as_bytes()) {
                Ok(()) => return Ok(candidate),
                Err(e @ (VerifyError::WrongSigner { .. } | VerifyError::Unrecoverable)) => last = e,
                Err(error) => return Err(SignError::SelfCheck { backend, error }),
            }
        }
        tracing::debug!(backend, reason = %last, "no recovery id verifies");
        Err(SignError::NotOurKey {
            backend,
            address: self.inner.address,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The fast path (libsecp256k1 recovery, hinted trial) against the
    //! plain one it replaced (k256 recovery, `v = 27` then `28`), on the
    //! same raw signatures: both parities, high-s inputs, right and wrong
    //! hints, another key, another digest.

    use k256::ecdsa::SigningKey;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::eth::recover_digest_reference;
    use crate::keys::keystore::KeystoreBackend;

    /// The reference: normalise, then `v = 27`, `v = 28` by k256 recovery.
    fn reference(address: &Address, digest: &[u8; 32], raw: &Signature) -> Option<RecoverableSignature> {
        let low = raw.normalize_s().unwrap_or(*raw);
        [false, true].into_iter().find_map(|odd| {
            let c = RecoverableSignature::from_parts(&low, odd)?;
            (recover_digest_reference(digest, c.as_bytes()).ok()? == *address).then_some(c)
        })
    }

    fn high_s(sig: &Signature) -> Signature {
        let (r, s) = sig.split_scalars();
        Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap()
    }

    #[test]
    fn fast_path_agrees_with_plain_recovery_on_10000_cases() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let mut key = SigningKey::random(&mut rng);
        let mut signer = Signer::new(Box::new(KeystoreBackend::from_signing_key(
            key.clone(),
            "mem".into(),
        )));
        let (mut accepted, mut refused, mut odd, mut high) = (0, 0, 0, 0);
        for i in 0..10_000u32 {
            if i % 50 == 0 {
                key = SigningKey::random(&mut rng);
                signer = Signer::new(Box::new(KeystoreBackend::from_signing_key(
                    key.clone(),
                    "mem".into(),
                )));
            }
            let digest: [u8; 32] = rng.gen();
            let (mut raw, recid) = key.sign_prehash_recoverable(&digest).unwrap();
            let mut true_odd = recid.is_y_odd();
            match i % 5 {
                // High-s input: the backend (an HSM, KMS) did not normalise.
                1 => {
                    raw = high_s(&raw);
                    true_odd = !true_odd;
                    high += 1;
                }
                // Another key signed the digest.
                2 => {
                    raw = SigningKey::random(&mut rng)
                        .sign_prehash_recoverable(&digest)
                        .unwrap()
                        .0
                }
                // The key signed another digest.
                3 => raw = key.sign_prehash_recoverable(&rng.gen::<[u8; 32]>()).unwrap().0,
                _ => {}
            }
            let hint = match rng.gen_range(0..3) {
                0 => None,
                1 => Some(true_odd),
                _ => Some(!true_odd),
            };
            let fast = signer.finalize_hinted(&digest, &raw, hint).ok();
            let slow = reference(&signer.address(), &digest, &raw);
            assert_eq!(fast, slow, "case {i}: hint {hint:?}");
            match fast {
                Some(sig) => {
                    accepted += 1;
                    odd += usize::from(sig.v() == 28);
                    assert!(
                        matches!(i % 5, 0 | 1 | 4),
                        "case {i} accepted a foreign signature"
                    );
                    verify_digest(&signer.address(), &digest, sig.as_bytes()).unwrap();
                }
                None => {
                    refused += 1;
                    assert!(matches!(
                        signer.finalize_hinted(&digest, &raw, hint),
                        Err(SignError::NotOurKey { .. })
                    ));
                }
            }
        }
        assert_eq!((accepted, refused, high), (6000, 4000, 2000));
        assert!((2700..3300).contains(&odd), "v = 28 in {odd} of 6000");
    }

    #[tokio::test]
    async fn keystore_signatures_are_rfc6979_and_verify() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6979);
        for _ in 0..200 {
            let key = SigningKey::random(&mut rng);
            let signer = Signer::new(Box::new(KeystoreBackend::from_signing_key(
                key.clone(),
                "mem".into(),
            )));
            let digest: [u8; 32] = rng.gen();
            let sig = signer.sign_digest(&digest).await.unwrap();
            // libsecp256k1 and k256 give the same RFC 6979 bytes.
            let (k, recid) = key.sign_prehash_recoverable(&digest).unwrap();
            assert_eq!(RecoverableSignature::from_parts(&k, recid.is_y_odd()), Some(sig));
        }
    }
}
