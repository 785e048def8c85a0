//! `POST /generate-live-payment` end to end, without HTTP types: decode,
//! [`plan`](super::plan::plan) (pure), authorize (token scope, spend limit,
//! webhook, `AuthID` binding), then sign (tickets, segment credentials,
//! state) and encode the answer (spec §3.2).
//!
//! Nothing is signed before the caller is authorized. Requests run on the
//! runtime the service was built on (the daemon's multi-threaded runtime),
//! never on an HTTP worker.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use prost::Message;

use super::mac::StateMacKey;
use super::plan::{plan, Plan, PlanInputs, Refusal, STATUS_PRICE_EXCEEDED};
use super::price::{self, CeilingSource};
use super::request::PaymentRequest;
use super::state::{GoTime, RemotePaymentState};
use super::webhook::{Webhook, WebhookSetupError};
use super::{wire, ChainInputs};
use crate::access::{self, Caller, Scope, SpendLimits};
use crate::chain::ChainView;
use crate::config::PaymentsConfig;
use crate::eth::RecoverableSignature;
use crate::metrics::METRICS;
use crate::signer::Signer;

/// The request header that binds an auth identity to a session.
pub const AUTH_ID_HEADER: &str = "Signer-Auth-Id";
/// Segment-credential signatures kept (one per manifest id).
pub const SEG_CREDS_CACHE_SIZE: usize = 4096;
/// States this process issued, remembered so that a continuing call skips
/// re-verifying the signature it made itself (one key recovery less).
pub const ISSUED_STATES_SIZE: usize = 65_536;

/// The payment endpoint's state: the signer, `[payments]`, the chain view,
/// the webhook client, spend limits and the segment-credential cache.
pub struct PaymentService {
    signer: Signer,
    config: PaymentsConfig,
    chain: ChainView,
    webhook: Option<Webhook>,
    spend: SpendLimits,
    /// Segment-credential signatures by manifest id: the signature covers
    /// only the manifest id (§3.10 Flatten), so a continuing stream reuses it.
    seg_creds: Fifo<String, RecoverableSignature>,
    /// SHA-256 of (state, Sig) pairs this process answered with.
    issued: Fifo<[u8; 32], ()>,
    state_mac: Option<StateMacKey>,
    runtime: tokio::runtime::Handle,
    /// Owns the payment threads; shut down without blocking on drop.
    owned: Option<tokio::runtime::Runtime>,
}

impl Drop for PaymentService {
    fn drop(&mut self) {
        if let Some(rt) = self.owned.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PaymentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentService")
            .field("signer", &self.signer)
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

/// A bounded map shared by the request tasks; the oldest entry goes first.
#[derive(Debug)]
struct Fifo<K, V> {
    inner: Mutex<(HashMap<K, V>, VecDeque<K>)>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq + Clone, V: Copy> Fifo<K, V> {
    fn new(capacity: usize) -> Self {
        Fifo {
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
            capacity,
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0.get(key).copied()
    }

    fn insert(&self, key: K, value: V) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *g;
        if map.insert(key.clone(), value).is_none() {
            order.push_back(key);
            while order.len() > self.capacity {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }
}

/// SHA-256 of a state and its `Sig` as this process issued them.
fn issued_key(state: &[u8], sig: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update((state.len() as u64).to_be_bytes());
    h.update(state);
    h.update(sig);
    h.finalize().into()
}

/// Eight random lowercase hex digits (go-livepeer `RandomManifestID`).
fn random_id() -> String {
    crate::eth::hex::encode(rand::random::<[u8; 4]>())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl PaymentService {
    /// The service for `signer` under `config`, reading `chain`. Requests
    /// run on a runtime of their own (`payments-*` threads, one per core):
    /// signing is CPU work (keystore) or many concurrent backend calls, and
    /// it must neither block the HTTP workers nor starve the chain poller,
    /// whose view would then go stale and refuse payments.
    pub fn new(signer: Signer, config: PaymentsConfig, chain: ChainView) -> Result<Self, WebhookSetupError> {
        let webhook = config.webhook.as_ref().map(Webhook::new).transpose()?;
        let state_mac = config
            .state_mac_key_file
            .as_deref()
            .map(StateMacKey::read)
            .transpose()?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("payments")
            .enable_all()
            .build()
            .map_err(|e| {
                WebhookSetupError::Runtime(format!(
                    "cannot start the payment threads: {e}; check the process's thread limit (ulimit -u)"
                ))
            })?;
        Ok(PaymentService {
            signer,
            config,
            chain,
            webhook,
            spend: SpendLimits::default(),
            seg_creds: Fifo::new(SEG_CREDS_CACHE_SIZE),
            issued: Fifo::new(ISSUED_STATES_SIZE),
            state_mac,
            runtime: runtime.handle().clone(),
            owned: Some(runtime),
        })
    }

    /// Whether an auth webhook is configured.
    pub fn has_webhook(&self) -> bool {
        self.webhook.is_some()
    }

    /// Answers one request: the 200 body (`{"payment","segCreds","state"}`
    /// and a newline) or the refusal. `headers` are the caller's request
    /// headers (for the webhook and `Signer-Auth-Id`). The whole request
    /// (state verification, planning, webhook, signing) runs on the
    /// service's runtime, off the HTTP workers. Records metrics and one
    /// audit line either way.
    pub async fn handle(
        self: &Arc<Self>,
        caller: Caller,
        headers: Vec<(String, String)>,
        body: bytes::Bytes,
    ) -> Result<Vec<u8>, Refusal> {
        use tracing::Instrument;
        let this = self.clone();
        // The request's span (its request_id) follows the work.
        let span = tracing::Span::current();
        self.runtime
            .spawn(async move { this.handle_here(&caller, &headers, &body).await }.instrument(span))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "payment task failed (a panic or a shutdown): answering 500");
                Err(Refusal::new(
                    500,
                    "task_failed",
                    format!("payment task failed: {e}"),
                ))
            })
    }

    async fn handle_here(
        &self,
        caller: &Caller,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<u8>, Refusal> {
        let started = Instant::now();
        let result = self.answer(caller, headers, body).await;
        let (status, outcome) = match &result {
            Ok(_) => (200, "ok"),
            Err(r) => (r.status, "refused"),
        };
        METRICS.payments.with_label_values(&[&status.to_string()]).inc();
        METRICS
            .payment_duration
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok((body, done)) => {
                let (first, last) = done.plan.nonces();
                let total_ev = done.plan.total_ev();
                METRICS.payment_tickets.inc_by(done.plan.tickets.len() as u64);
                METRICS.payment_ev_wei.inc_by(total_ev.to_f64());
                METRICS.payment_fees_wei.inc_by(done.plan.fee.to_f64());
                tracing::info!(
                    target: "livepeer_signer::audit",
                    event = "payment",
                    outcome = "ok",
                    token = %caller.name,
                    state_id = %done.plan.state.state_id,
                    seq = done.plan.state.sequence_number,
                    orchestrator = %done.plan.orchestrator,
                    transcoder = %done.plan.transcoder,
                    manifest_id = %done.plan.manifest_id,
                    tickets = done.plan.tickets.len(),
                    nonces = %format!("{first}-{last}"),
                    fee = %done.plan.fee.float_string(0),
                    ev = %total_ev.float_string(0),
                    balance = %done.plan.state.balance,
                    auth_id = %done.plan.state.auth_id,
                    seg_creds_cached = done.seg_creds_cached,
                    state_auth = if self.state_mac.is_some() { "mac" } else { "signature" },
                );
                Ok(body)
            }
            Err(r) => {
                tracing::warn!(
                    target: "livepeer_signer::audit",
                    event = "payment",
                    outcome = "refused",
                    token = %caller.name,
                    status = r.status,
                    reason = r.reason,
                    message = %r.message,
                );
                Err(r)
            }
        }
    }

    async fn answer(
        &self,
        caller: &Caller,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(Vec<u8>, Done), Refusal> {
        if let Err(e) = caller.require(Scope::LivePayment) {
            let message = e.to_string();
            access::record_refusal(caller, "/generate-live-payment", "scope", &message);
            return Err(Refusal::new(403, "scope", message));
        }
        let me = self.signer.address();
        let chain = self.fresh_chain()?;
        let request = PaymentRequest::decode(body).map_err(|e| Refusal::new(400, "bad_request", e.0))?;
        let now = GoTime(time::OffsetDateTime::now_utc());
        let (state_id, manifest_id) = (random_id(), random_id());
        let mut plan = plan(PlanInputs {
            request: &request,
            chain: &chain,
            config: &self.config,
            signer: me,
            now,
            new_state_id: &state_id,
            new_manifest_id: &manifest_id,
            state_mac: self.state_mac.as_ref(),
            // A state this process issued (exact bytes and Sig) is authentic.
            state_authenticated: request.has_state()
                && self
                    .issued
                    .get(&issued_key(&request.state, &request.state_sig))
                    .is_some(),
        })?;

        // Authorize: spend limit, webhook, AuthID. Nothing is signed yet.
        let reservation = self
            .spend
            .reserve(caller, &plan.total_ev(), Instant::now())
            .map_err(|e| {
                METRICS
                    .spend_limit_refusals
                    .with_label_values(&[&caller.name])
                    .inc();
                Refusal::new(429, "spend_limit", e.to_string())
            })?;
        let authorized = self.authorize(&mut plan, headers, now).await;
        let signed = match authorized.and_then(|()| self.recheck_chain(&plan)) {
            Ok(()) => self.sign(plan).await,
            Err(r) => Err(r),
        };
        match signed {
            Ok(done) => Ok(done),
            Err(r) => {
                if let Some(res) = reservation {
                    self.spend.release(res);
                }
                Err(r)
            }
        }
    }

    /// The chain view read at the start may have aged while the webhook
    /// ran: it must still be fresh, and the batch must still validate
    /// against it, before anything is signed.
    fn recheck_chain(&self, plan: &Plan) -> Result<(), Refusal> {
        super::plan::revalidate(plan, &self.fresh_chain()?, &self.config)
    }

    /// The chain facts of a fresh view. A stale view means deposit, reserve
    /// and the L1 block are unknown: refuse (503) rather than sign against
    /// old facts.
    fn fresh_chain(&self) -> Result<ChainInputs, Refusal> {
        let snapshot = self.chain.fresh().map_err(|stale| {
            Refusal::new(
                503,
                "chain_stale",
                format!("payments are paused: {stale}; check [chain] rpc_url and the node"),
            )
        })?;
        Ok(ChainInputs::from_snapshot(&snapshot, self.signer.address()))
    }

    /// Steps 22–23: the webhook (unless the incoming state's `AuthExpiry`
    /// is still ahead), its `maxPrice`, then the `AuthID` binding.
    async fn authorize(
        &self,
        plan: &mut Plan,
        headers: &[(String, String)],
        now: GoTime,
    ) -> Result<(), Refusal> {
        let state = &mut plan.state;
        let now_unix = now.0.unix_timestamp();
        let mut webhook_auth_id = String::new();
        if let Some(webhook) = &self.webhook {
            let cached = state.auth_expiry != 0 && now_unix <= state.auth_expiry;
            if !cached {
                let approval = webhook.authorize(headers, state).await?;
                state.auth_expiry = approval.expiry;
                if let Some(max) = &approval.max_price {
                    let ceiling = price::parse_max_price(max, plan.payment_type).map_err(|e| {
                        Refusal::new(
                            502,
                            "webhook_max_price",
                            format!("signer auth invalid maxPrice: {e}"),
                        )
                    })?;
                    price::check_price(&plan.orch_price, &[(CeilingSource::AuthWebhook, Some(&ceiling))])
                        .map_err(|e| Refusal::new(STATUS_PRICE_EXCEEDED, "price_exceeded", e.to_string()))?;
                }
                webhook_auth_id = approval.auth_id;
            }
        }
        let header_auth_id = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(AUTH_ID_HEADER))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let auth_id = if webhook_auth_id.is_empty() {
            header_auth_id
        } else {
            webhook_auth_id
        };
        if !auth_id.is_empty() && state.auth_id != auth_id {
            if !state.auth_id.is_empty() {
                tracing::warn!(state_id = %state.state_id, "remote signer auth ID changed: refusing");
                return Err(Refusal::new(
                    500,
                    "auth_id_changed",
                    "remote signer auth ID changed",
                ));
            }
            state.auth_id = auth_id;
        }
        Ok(())
    }

    /// Signs the tickets, the segment credentials (unless cached) and the
    /// state concurrently, then encodes the answer.
    async fn sign(&self, plan: Plan) -> Result<(Vec<u8>, Done), Refusal> {
        let state_json = plan.state.to_json();
        let cached = self.seg_creds.get(&plan.manifest_id);
        let mut digests: Vec<[u8; 32]> = plan.tickets.iter().map(|t| t.digest()).collect();
        // With the MAC, the state costs no key operation.
        let state_tag = self
            .state_mac
            .as_ref()
            .map(|k| k.tag(&self.signer.address(), &state_json));
        if state_tag.is_none() {
            digests.push(RemotePaymentState::digest(&state_json));
        }
        if cached.is_none() {
            digests.push(wire::seg_creds_digest(&plan.manifest_id));
        }
        let sigs = self.signer.sign_batch(&digests).await.map_err(|e| {
            tracing::error!(error = %e, "payment not signed");
            Refusal::new(500, "signing_failed", e.to_string())
        })?;
        let n = plan.tickets.len();
        let (state_sig, next): (Vec<u8>, usize) = match state_tag {
            Some(tag) => (tag.to_vec(), n),
            None => (sigs[n].as_bytes().to_vec(), n + 1),
        };
        let seg_sig = match cached {
            Some(s) => s,
            None => {
                let s = sigs[next];
                self.seg_creds.insert(plan.manifest_id.clone(), s);
                s
            }
        };
        self.issued.insert(issued_key(&state_json, &state_sig), ());
        let payment = wire::payment(
            &plan.params,
            self.signer.address(),
            plan.expiration,
            plan.tickets
                .iter()
                .zip(&sigs[..n])
                .map(|(t, s)| (t.sender_nonce, s.as_bytes().to_vec())),
            Some(plan.price_info.clone()),
        );
        let seg = wire::seg_data(
            &plan.manifest_id,
            seg_sig.as_bytes(),
            plan.seg_capabilities.clone(),
            plan.auth_token.clone(),
        );
        let body = format!(
            "{{\"payment\":\"{}\",\"segCreds\":\"{}\",\"state\":{{\"State\":\"{}\",\"Sig\":\"{}\"}}}}\n",
            b64(&payment.encode_to_vec()),
            b64(&seg.encode_to_vec()),
            b64(&state_json),
            b64(&state_sig),
        );
        Ok((
            body.into_bytes(),
            Done {
                plan,
                seg_creds_cached: cached.is_some(),
            },
        ))
    }
}

/// A signed payment, for metrics and the audit line.
struct Done {
    plan: Plan,
    seg_creds_cached: bool,
}
