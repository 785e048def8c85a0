//! [`plan`]: everything `POST /generate-live-payment` decides, as a pure
//! function of the decoded request, the chain inputs, the config, the
//! signer's address, the clock and two fresh random ids. No I/O, no key:
//! every rule of spec §3.4 steps 3–21 (in that order) and §3.5–§3.8 lives
//! here, so a refused caller costs no signature. The caller then
//! authorizes (token scope, spend limit, webhook, `AuthID`) and only then
//! signs [`Plan::tickets`], the segment credentials and the state.
//!
//! What the plan prepares for signing, each a 32-byte digest signed into
//! 65-byte `r‖s‖v` (low s, `v ∈ {27, 28}`):
//! * every ticket: `TextHash(keccak256(abi.encodePacked(ticket)))`;
//! * the segment credentials: `TextHash(keccak256(Flatten(manifest id)))`;
//! * the new state: `TextHash(state JSON)`, after the webhook has run.

use prost::Message;

use super::mac::StateMacKey;
use super::params::{validate_ticket_params, ChainInputs, ExpirationParams, TicketParams};
use super::price::{self, CeilingSource, PaymentType, TicketCountError};
use super::request::PaymentRequest;
use super::session;
use super::state::{GoTime, RemotePaymentState};
use super::{Rat, Ticket};
use crate::config::PaymentsConfig;
use crate::eth::{verify_sig, Address};
use crate::livepeer::proto;

/// go-livepeer `HTTPStatusRefreshSession`: fetch a fresh OrchestratorInfo.
pub const STATUS_REFRESH_SESSION: u16 = 480;
/// go-livepeer `HTTPStatusPriceExceeded`.
pub const STATUS_PRICE_EXCEEDED: u16 = 481;
/// go-livepeer `HTTPStatusNoTickets`: the balance covers the fee; retry later.
pub const STATUS_NO_TICKETS: u16 = 482;
/// The 480 header naming the orchestrator to refresh.
pub const ORCHESTRATOR_URL_HEADER: &str = "Livepeer-Orchestrator-URL";
/// The 480 message.
pub const REFRESH_MESSAGE: &str = "refresh session for remote signer";

/// A request answered without a payment: the status, go-livepeer's message
/// (500/503 are masked on the wire), the 480 header and a stable reason
/// label for metrics and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// The error envelope's message (before masking).
    pub message: String,
    /// `Livepeer-Orchestrator-URL` (480 only).
    pub refresh_url: Option<String>,
    /// Why, for metrics and audit lines (`bad_request`, `refresh_auth_token`, …).
    pub reason: &'static str,
}

impl Refusal {
    /// A refusal with `status`, `reason` and `message`.
    pub fn new(status: u16, reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            refresh_url: None,
            reason,
        }
    }

    fn bad(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::new(400, reason, message)
    }

    fn refresh(reason: &'static str, transcoder: &str) -> Refusal {
        Refusal {
            status: STATUS_REFRESH_SESSION,
            message: REFRESH_MESSAGE.into(),
            refresh_url: Some(transcoder.to_string()),
            reason,
        }
    }
}

/// The inputs of [`plan`].
#[derive(Debug, Clone, Copy)]
pub struct PlanInputs<'a> {
    /// The decoded request.
    pub request: &'a PaymentRequest,
    /// The chain facts (from a fresh snapshot).
    pub chain: &'a ChainInputs,
    /// `[payments]`.
    pub config: &'a PaymentsConfig,
    /// The signer's address: tickets' sender, the state's signer.
    pub signer: Address,
    /// The wall clock of this request (step 15's `now`).
    pub now: GoTime,
    /// A random 8-hex `StateID` for a new session.
    pub new_state_id: &'a str,
    /// A random 8-hex manifest id for a first call without one.
    pub new_manifest_id: &'a str,
    /// `[payments] state_mac_key_file`: 32-byte state tags are accepted
    /// (and, by the caller, made) with it; signatures always are.
    pub state_mac: Option<&'a StateMacKey>,
    /// The caller already knows `request.state` / `state_sig` to be
    /// authentic (it issued exactly these bytes): skip the check.
    pub state_authenticated: bool,
}

/// What one payment will sign and answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The new state, steps 8–21 applied; the webhook (`AuthExpiry`) and
    /// `AuthID` binding come after.
    pub state: RemotePaymentState,
    /// Whether the request carried a state.
    pub has_state: bool,
    /// The manifest id of the segment credentials.
    pub manifest_id: String,
    /// `type`.
    pub payment_type: PaymentType,
    /// `OrchestratorInfo.transcoder` (the O's URL).
    pub transcoder: String,
    /// `OrchestratorInfo.address` (`BytesToAddress`).
    pub orchestrator: Address,
    /// `OrchestratorInfo.price_info`, verbatim (`expected_price`).
    pub price_info: proto::PriceInfo,
    /// `OrchestratorInfo.auth_token`, verbatim (segment credentials).
    pub auth_token: Option<proto::AuthToken>,
    /// The O's current price, wei per unit.
    pub orch_price: Rat,
    /// The ticket params.
    pub params: TicketParams,
    /// The expiration params hashed into the tickets.
    pub expiration: ExpirationParams,
    /// The tickets, nonces `nonce0 + 1 ..= nonce0 + n`.
    pub tickets: Vec<Ticket>,
    /// EV of one ticket, wei.
    pub ev: Rat,
    /// The fee of this call, wei (at the session's initial price).
    pub fee: Rat,
    /// Billable units.
    pub units: i64,
    /// The balance before this call.
    pub old_balance: Rat,
    /// The capabilities to embed in the segment credentials.
    pub seg_capabilities: Option<proto::Capabilities>,
}

impl Plan {
    /// EV of all the tickets, wei.
    pub fn total_ev(&self) -> Rat {
        &self.ev * &Rat::from_integer(self.tickets.len() as u64)
    }

    /// `(first, last)` nonce of the batch.
    pub fn nonces(&self) -> (u32, u32) {
        let first = self.tickets.first().map_or(0, |t| t.sender_nonce);
        let last = self.tickets.last().map_or(0, |t| t.sender_nonce);
        (first, last)
    }
}

/// go-livepeer's capabilities round trip for the segment credentials
/// (`CapabilitiesFromNetCapabilities` → `ToNetCapabilities`): capacities
/// rebuilt as 1 per set bitstring bit when empty, constraints always
/// present, `capacityInUse` dropped.
pub fn seg_capabilities(caps: &proto::Capabilities) -> proto::Capabilities {
    let mut out = caps.clone();
    if out.capacities.is_empty() {
        for (word, bits) in caps.bitstring.iter().enumerate() {
            for bit in 0..64u32 {
                if bits & (1u64 << bit) != 0 {
                    out.capacities.insert(word as u32 * 64 + bit, 1);
                }
            }
        }
    }
    let mut constraints = out.constraints.take().unwrap_or_default();
    for per in constraints.per_capability.values_mut() {
        for model in per.models.values_mut() {
            model.capacity_in_use = 0;
        }
    }
    out.constraints = Some(constraints);
    out
}

/// Re-checks a plan's batch against a newer chain view, right before it is
/// signed (the webhook may have taken seconds): the ticket params must not
/// have expired (480, as in step 14) and the sender must still pass
/// `validateTicketParams` for the whole batch (500, as in step 19).
pub fn revalidate(plan: &Plan, chain: &ChainInputs, config: &PaymentsConfig) -> Result<(), Refusal> {
    validate_ticket_params(&plan.params, plan.tickets.len() as u64, chain, &config.limits()).map_err(|e| {
        if e.is_expired() {
            Refusal::refresh("refresh_ticket_params", &plan.transcoder)
        } else {
            Refusal::new(500, "ticket_validation", e.to_string())
        }
    })
}

/// Go's `proto.Unmarshal` message for malformed input (prost's own text
/// differs; gateways and the vectors match on Go's).
fn proto_error() -> Refusal {
    Refusal::bad("bad_request", "proto: cannot parse invalid wire-format data")
}

/// The (capability id, model) pairs of a request's capabilities.
fn capability_pairs(caps: &proto::Capabilities) -> Vec<(u32, &str)> {
    caps.constraints.as_ref().map_or_else(Vec::new, |c| {
        c.per_capability
            .iter()
            .flat_map(|(cap, per)| per.models.keys().map(move |m| (*cap, m.as_str())))
            .collect()
    })
}

/// Spec §3.4 steps 3–21, in order; the first failed check is the answer.
pub fn plan(inputs: PlanInputs<'_>) -> Result<Plan, Refusal> {
    let PlanInputs {
        request: req,
        chain,
        config,
        signer,
        now,
        new_state_id,
        new_manifest_id,
        state_mac,
        state_authenticated,
    } = inputs;

    // 3–6: the OrchestratorInfo.
    if req.orchestrator.is_empty() {
        return Err(Refusal::bad("bad_request", "missing orchestrator"));
    }
    let info = proto::OrchestratorInfo::decode(req.orchestrator.as_slice()).map_err(|_| proto_error())?;
    let price_info = match &info.price_info {
        Some(p) if p.price_per_unit != 0 && p.pixels_per_unit != 0 => p.clone(),
        _ => return Err(Refusal::bad("bad_request", "missing or zero priceInfo")),
    };
    // Stricter than go-livepeer: a negative price would make the fee negative.
    if price_info.price_per_unit < 0 || price_info.pixels_per_unit < 0 {
        return Err(Refusal::bad("bad_request", "negative priceInfo"));
    }
    let Some(proto_params) = &info.ticket_params else {
        return Err(Refusal::bad(
            "bad_request",
            "missing ticketParams in OrchestratorInfo",
        ));
    };
    // 7.
    let orchestrator = super::params::bytes_to_address(&info.address);

    // 8: the state.
    let has_state = req.has_state();
    let mut state = if has_state {
        let authentic = if state_authenticated {
            true
        } else if req.state_sig.len() == super::mac::TAG_LEN {
            state_mac.is_some_and(|k| k.verify(&signer, &req.state, &req.state_sig))
        } else {
            verify_sig(&signer, &req.state, &req.state_sig).is_ok()
        };
        if !authentic {
            return Err(Refusal::bad("invalid_state", "invalid sig"));
        }
        let mut st = RemotePaymentState::from_json(&req.state)
            .map_err(|_| Refusal::bad("invalid_state", "invalid state"))?;
        if st.orchestrator_address != orchestrator {
            return Err(Refusal::bad("invalid_state", "orchestratorAddress mismatch"));
        }
        if st.app != req.app {
            return Err(Refusal::bad("invalid_state", "app mismatch"));
        }
        if !st.job_type.is_empty() && st.job_type != req.job_type {
            return Err(Refusal::bad("invalid_state", "job type mismatch"));
        }
        st.job_type = req.job_type.clone();
        st.sequence_number = st.sequence_number.wrapping_add(1);
        st
    } else {
        RemotePaymentState {
            state_id: new_state_id.to_string(),
            orchestrator_address: orchestrator,
            app: req.app.clone(),
            initial_price_per_unit: price_info.price_per_unit,
            initial_pixels_per_unit: price_info.pixels_per_unit,
            job_type: req.job_type.clone(),
            ..Default::default()
        }
    };

    // 9.
    let manifest_id = match (req.manifest_id.is_empty(), has_state) {
        (false, _) => req.manifest_id.clone(),
        (true, true) => return Err(Refusal::bad("bad_request", "missing manifestID")),
        (true, false) => new_manifest_id.to_string(),
    };

    // 10.
    let capabilities = if req.capabilities.is_empty() {
        None
    } else {
        Some(proto::Capabilities::decode(req.capabilities.as_slice()).map_err(|_| proto_error())?)
    };

    // 11.
    let params =
        TicketParams::from_proto(proto_params).map_err(|e| Refusal::bad("bad_request", e.to_string()))?;
    // 12.
    let old_balance = state.balance_rat();
    // 13, then go-livepeer #4028's nonce guard.
    let nonce0 = session::nonce_base(&state, &params.recipient_rand_hash);
    if session::nonce_refresh(nonce0).is_some() {
        return Err(Refusal::refresh("refresh_nonce_cap", &info.transcoder));
    }
    // 14.
    let limits = config.limits();
    match session::should_refresh(now, info.auth_token.as_ref(), &params, chain, &limits) {
        Ok(None) => {}
        Ok(Some(session::RefreshReason::AuthTokenExpiring)) => {
            return Err(Refusal::refresh("refresh_auth_token", &info.transcoder))
        }
        Ok(Some(_)) => return Err(Refusal::refresh("refresh_ticket_params", &info.transcoder)),
        Err(e) => {
            return Err(Refusal::bad(
                "bad_request",
                format!("remote signer could not check whether to refresh session: {e}"),
            ))
        }
    }

    // 15.
    let payment_type =
        PaymentType::parse(&req.job_type).ok_or_else(|| Refusal::bad("bad_request", "invalid job type"))?;
    let last = if state.last_update.is_zero() {
        now
    } else {
        state.last_update
    };
    let secs = price::elapsed_secs(now, last);
    let units = price::billable_units(payment_type, req.in_pixels, secs)
        .map_err(|e| Refusal::bad("bad_request", e.to_string()))?;

    // 16: ceilings.
    let orch_price = price::price_rat(price_info.price_per_unit, price_info.pixels_per_unit)
        .ok_or_else(|| Refusal::bad("bad_request", "missing or zero priceInfo"))?;
    let request_max = match &req.max_price {
        Some(m) => Some(
            price::parse_max_price(m, payment_type)
                .map_err(|e| Refusal::bad("bad_request", e.to_string()))?,
        ),
        None => None,
    };
    let initial = if has_state {
        if state.initial_price_per_unit <= 0 || state.initial_pixels_per_unit <= 0 {
            return Err(Refusal::bad("invalid_state", "invalid initial price in state"));
        }
        price::price_rat(state.initial_price_per_unit, state.initial_pixels_per_unit)
    } else {
        None
    };
    let configured = config.max_price_for(capabilities.as_ref().map_or_else(Vec::new, capability_pairs));
    price::check_price(
        &orch_price,
        &[
            (CeilingSource::Configured, configured.as_ref()),
            (CeilingSource::Request, request_max.as_ref()),
            (CeilingSource::InitialSession, initial.as_ref()),
        ],
    )
    .map_err(|e| Refusal::new(STATUS_PRICE_EXCEEDED, "price_exceeded", e.to_string()))?;

    // 17: the fee at the session's initial price.
    let fee = price::fee(units, state.initial_price_per_unit, state.initial_pixels_per_unit)
        .ok_or_else(|| Refusal::bad("invalid_state", "invalid initial price in state"))?;
    // A negative initial price (a Go-minted state) would credit the balance.
    if fee.is_negative() {
        return Err(Refusal::bad("invalid_state", "invalid initial price in state"));
    }

    // 18: tickets.
    let ev = params.ev();
    let update = price::stage_balance(&old_balance, &fee, &ev).map_err(|e| match e {
        TicketCountError::NoTickets => Refusal::new(STATUS_NO_TICKETS, "no_tickets", e.to_string()),
        TicketCountError::TooMany(_) => Refusal::bad("too_many_tickets", e.to_string()),
    })?;

    // 19: price drift, full validation for the batch (500 in go-livepeer).
    let initial_price = price::price_rat(state.initial_price_per_unit, state.initial_pixels_per_unit)
        .ok_or_else(|| Refusal::bad("invalid_state", "invalid initial price in state"))?;
    price::check_price_drift(&orch_price, &initial_price)
        .map_err(|e| Refusal::new(STATUS_PRICE_EXCEEDED, "price_doubled", e.to_string()))?;
    validate_ticket_params(&params, update.num_tickets, chain, &limits)
        .map_err(|e| Refusal::new(500, "ticket_validation", e.to_string()))?;
    let last_nonce = nonce0
        .checked_add(update.num_tickets as u32)
        .ok_or_else(|| Refusal::refresh("refresh_nonce_cap", &info.transcoder))?;
    let expiration = params.effective_expiration(chain.own_expiration());
    let tickets = (nonce0 + 1..=last_nonce)
        .map(|nonce| params.ticket(signer, nonce, expiration))
        .collect();

    // 21: the new state.
    state.set_balance(&update.new_balance);
    state.last_update = now;
    state.pm_session_id = session::pm_session_id(&params.recipient_rand_hash);
    state.sender_nonce = last_nonce;

    Ok(Plan {
        state,
        has_state,
        manifest_id,
        payment_type,
        transcoder: info.transcoder.clone(),
        orchestrator,
        price_info,
        auth_token: info.auth_token.clone(),
        orch_price,
        params,
        expiration,
        tickets,
        ev,
        fee,
        units,
        old_balance,
        seg_capabilities: capabilities.as_ref().map(seg_capabilities),
    })
}

#[cfg(test)]
mod tests {
    //! vectors.md B1–B3 (and the #4028 nonce guard) at the plan level: the
    //! request, the chain inputs and the config in, the status and message
    //! or the tickets and the new `Balance` out. States are signed with the
    //! §C key, as the signer would have signed them.

    use alloy_primitives::{B256, U256};
    use k256::ecdsa::SigningKey;
    use prost::Message;

    use super::*;
    use crate::config::CapabilityPrice;
    use crate::eth::hex;
    use crate::livepeer::payment::params::SenderInfo;
    use crate::livepeer::payment::price::MaxPrice;
    use crate::livepeer::payment::recipient_rand_hash;

    const NOW: &str = "2026-01-02T03:04:05.123456789Z";

    fn key() -> SigningKey {
        let bytes = hex::decode("fad9c8855b740a0b7ed4c221dbad0f33a83a49cad6b3fe8d5817ac83d38b6a19").unwrap();
        SigningKey::from_slice(&bytes).unwrap()
    }

    fn me() -> Address {
        Address::from_public_key(key().verifying_key())
    }

    fn now() -> GoTime {
        GoTime::parse(NOW).unwrap()
    }

    /// EV = face × (2^256 − 1)/3 / (2^256 − 1) = face / 3, exactly.
    fn info(price: (i64, i64), face: u64) -> proto::OrchestratorInfo {
        proto::OrchestratorInfo {
            transcoder: "http://orch.example".into(),
            ticket_params: Some(proto::TicketParams {
                recipient: vec![0x42; 20],
                face_value: super::super::params::u256_to_min_bytes(U256::from(face)),
                win_prob: (U256::MAX / U256::from(3)).to_be_bytes::<32>().to_vec(),
                recipient_rand_hash: recipient_rand_hash(U256::from(10)).to_vec(),
                seed: vec![7],
                expiration_block: vec![200],
                expiration_params: None,
            }),
            price_info: Some(proto::PriceInfo {
                price_per_unit: price.0,
                pixels_per_unit: price.1,
                ..Default::default()
            }),
            address: [vec![0; 19], vec![1]].concat(),
            auth_token: Some(proto::AuthToken {
                token: b"foo".to_vec(),
                session_id: "bar".into(),
                expiration: now().0.unix_timestamp() + 3600,
            }),
            ..Default::default()
        }
    }

    fn chain() -> ChainInputs {
        ChainInputs {
            last_seen_l1_block: U256::from(100),
            last_initialized_round: U256::from(7),
            round_block_hash: B256::repeat_byte(0xab),
            sender: Some(SenderInfo {
                deposit: U256::from(1_000_000),
                reserve: U256::from(1_000_000),
                ..Default::default()
            }),
        }
    }

    /// B1's config: global max 500, lv2v `livepeer/model1` max 200.
    fn b1_config() -> PaymentsConfig {
        PaymentsConfig {
            max_price_per_unit: Some(Rat::from_integer(500)),
            max_price_per_capability: vec![CapabilityPrice {
                pipeline: "live-video-to-video".into(),
                model: "livepeer/model1".into(),
                price_per_unit: Rat::from_integer(200),
                pixels_per_unit: Rat::from_integer(1),
            }],
            ..Default::default()
        }
    }

    fn request(info: &proto::OrchestratorInfo) -> PaymentRequest {
        PaymentRequest {
            orchestrator: info.encode_to_vec(),
            in_pixels: 1,
            ..Default::default()
        }
    }

    fn signed(mut req: PaymentRequest, state_json: &[u8]) -> PaymentRequest {
        let (sig, recid) = key()
            .sign_prehash_recoverable(&crate::eth::text_hash(state_json))
            .unwrap();
        let sig = crate::eth::RecoverableSignature::from_parts(&sig, recid.is_y_odd()).unwrap();
        req.state = state_json.to_vec();
        req.state_sig = sig.as_bytes().to_vec();
        req
    }

    fn run_at(req: &PaymentRequest, config: &PaymentsConfig, now: GoTime) -> Result<Plan, Refusal> {
        plan(PlanInputs {
            request: req,
            chain: &chain(),
            config,
            signer: me(),
            now,
            new_state_id: "a1b2c3d4",
            new_manifest_id: "5e6f7a8b",
            state_mac: None,
            state_authenticated: false,
        })
    }

    fn run(req: &PaymentRequest, config: &PaymentsConfig) -> Result<Plan, Refusal> {
        run_at(req, config, now())
    }

    fn refused(req: &PaymentRequest, config: &PaymentsConfig) -> (u16, String) {
        let r = run(req, config).unwrap_err();
        (r.status, r.message)
    }

    fn lv2v_caps(model: &str) -> Vec<u8> {
        use crate::livepeer::proto::capabilities::{capability_constraints::ModelConstraint, *};
        proto::Capabilities {
            bitstring: vec![1 << 35],
            constraints: Some(Constraints {
                min_version: String::new(),
                per_capability: [(
                    35,
                    CapabilityConstraints {
                        models: [(model.to_string(), ModelConstraint::default())].into(),
                    },
                )]
                .into(),
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn max_price(price: &str, currency: &str, unit: &str) -> Option<MaxPrice> {
        Some(MaxPrice {
            price: price.into(),
            currency: currency.into(),
            unit: unit.into(),
        })
    }

    #[test]
    fn b1_request_validation() {
        let cfg = b1_config();
        let base = info((1, 1), 3);
        let with = |f: &dyn Fn(&mut proto::OrchestratorInfo, &mut PaymentRequest)| {
            let mut i = base.clone();
            let mut r = request(&i);
            f(&mut i, &mut r);
            if r.orchestrator == request(&base).orchestrator {
                r.orchestrator = i.encode_to_vec();
            }
            r
        };
        let cases: Vec<(PaymentRequest, u16, &str)> = vec![
            (PaymentRequest::default(), 400, "missing orchestrator"),
            (with(&|_, r| r.orchestrator = b"not-proto".to_vec()), 400, "proto: cannot parse invalid wire-format data"),
            (with(&|i, _| i.price_info = None), 400, "missing or zero priceInfo"),
            (with(&|i, _| i.price_info.as_mut().unwrap().price_per_unit = 0), 400, "missing or zero priceInfo"),
            (with(&|i, _| i.price_info.as_mut().unwrap().pixels_per_unit = 0), 400, "missing or zero priceInfo"),
            (with(&|i, _| i.price_info.as_mut().unwrap().price_per_unit = -1), 400, "negative priceInfo"),
            (with(&|i, _| i.ticket_params = None), 400, "missing ticketParams in OrchestratorInfo"),
            (
                with(&|i, _| i.auth_token = None),
                400,
                "remote signer could not check whether to refresh session: missing auth token",
            ),
            (
                with(&|i, _| i.auth_token.as_mut().unwrap().expiration = now().0.unix_timestamp() - 60),
                480,
                REFRESH_MESSAGE,
            ),
            (
                with(&|i, _| i.ticket_params.as_mut().unwrap().expiration_block = vec![101]),
                480,
                REFRESH_MESSAGE,
            ),
            (
                with(&|i, _| i.ticket_params.as_mut().unwrap().expiration_block = vec![]),
                400,
                "remote signer could not check whether to refresh session: ticketParams expiration block is 0",
            ),
            (with(&|_, r| r.job_type = "bogus".into()), 400, "invalid job type"),
            (with(&|_, r| r.in_pixels = 0), 400, "missing billable unit or job type"),
            (with(&|_, r| r.in_pixels = 101), 400, "numTickets 101 exceeds maximum of 100"),
            (
                with(&|_, r| {
                    r.job_type = "lv2v".into();
                    r.capabilities = b"not-valid-protobuf".to_vec();
                }),
                400,
                "proto: cannot parse invalid wire-format data",
            ),
            (
                with(&|i, _| i.price_info.as_mut().unwrap().price_per_unit = 1000),
                481,
                "orchestrator price 1000.000 exceeds configured maximum price ceiling 500.000",
            ),
            (
                with(&|i, r| {
                    i.price_info.as_mut().unwrap().price_per_unit = 10;
                    r.job_type = "fixed".into();
                    r.max_price = max_price("9", "wei", "fixed");
                }),
                481,
                "orchestrator price 10.000 exceeds request maxPrice ceiling 9.000",
            ),
            (
                with(&|_, r| r.max_price = max_price("9", "wei", "fixed")),
                400,
                "maxPrice requires payment type live, lv2v, or fixed",
            ),
            (
                with(&|_, r| {
                    r.job_type = "fixed".into();
                    r.max_price = max_price("9", "usd", "fixed");
                }),
                400,
                "maxPrice.currency must be wei",
            ),
            (
                with(&|_, r| {
                    r.job_type = "live".into();
                    r.max_price = max_price("9", "wei", "fixed");
                }),
                400,
                "maxPrice.unit must be seconds for payment type live",
            ),
            (
                with(&|_, r| {
                    r.job_type = "fixed".into();
                    r.max_price = max_price("0", "wei", "fixed");
                }),
                400,
                "maxPrice.price must be a positive decimal",
            ),
            (
                with(&|i, r| {
                    i.price_info.as_mut().unwrap().price_per_unit = 1000;
                    r.job_type = "fixed".into();
                }),
                481,
                "orchestrator price 1000.000 exceeds configured maximum price ceiling 500.000",
            ),
            (
                with(&|i, r| {
                    i.price_info.as_mut().unwrap().price_per_unit = 300;
                    r.job_type = "lv2v".into();
                    r.capabilities = lv2v_caps("livepeer/model1");
                }),
                481,
                "orchestrator price 300.000 exceeds configured maximum price ceiling 200.000",
            ),
        ];
        for (req, status, message) in cases {
            let got = run(&req, &cfg).unwrap_err();
            assert_eq!((got.status, got.message.as_str()), (status, message), "{req:?}");
            assert_eq!(
                got.refresh_url.as_deref(),
                (status == 480).then_some("http://orch.example")
            );
        }
        // The untouched fixture pays: 1 ticket of EV 1 for 1 unit at 1 wei.
        let ok = run(&request(&base), &cfg).unwrap();
        assert_eq!((ok.tickets.len(), ok.state.balance.as_str()), (1, "0"));
    }

    /// A state for `base`'s orchestrator (0x…01), price `initial`, `extra` JSON fields.
    fn state_json(initial: (i64, i64), extra: &str) -> Vec<u8> {
        format!(
            "{{\"StateID\":\"state\",\"OrchestratorAddress\":\"0x0000000000000000000000000000000000000001\",\
             \"InitialPricePerUnit\":{},\"InitialPixelsPerUnit\":{}{extra}}}",
            initial.0, initial.1
        )
        .into_bytes()
    }

    #[test]
    fn b2_state_validation() {
        let cfg = b1_config();
        let base = info((1, 1), 3);
        let mut req = request(&base);
        req.manifest_id = "manifest".into();
        let st = state_json((1, 1), "");
        let mut no_mid = signed(req.clone(), &st);
        no_mid.manifest_id.clear();
        assert_eq!(refused(&no_mid, &cfg), (400, "missing manifestID".into()));
        let mut bad_sig = signed(req.clone(), &st);
        bad_sig.state_sig = b"bad".to_vec();
        assert_eq!(refused(&bad_sig, &cfg), (400, "invalid sig".into()));
        // A valid signature by another key is just as invalid.
        let mut other = bad_sig.clone();
        other.state_sig = signed(req.clone(), b"other").state_sig;
        assert_eq!(refused(&other, &cfg), (400, "invalid sig".into()));
        assert_eq!(
            refused(&signed(req.clone(), b"not-json"), &cfg),
            (400, "invalid state".into())
        );
        let app = signed(
            PaymentRequest {
                app: "live-video-to-video/app-b".into(),
                ..req.clone()
            },
            &state_json((1, 1), ",\"App\":\"live-video-to-video/app-a\""),
        );
        assert_eq!(refused(&app, &cfg), (400, "app mismatch".into()));
        let job = signed(
            PaymentRequest {
                job_type: "live".into(),
                ..req.clone()
            },
            &state_json((1, 1), ",\"Type\":\"lv2v\""),
        );
        assert_eq!(refused(&job, &cfg), (400, "job type mismatch".into()));
        let other_orch = String::from_utf8(st.clone()).unwrap().replace("0001\"", "0002\"");
        assert_eq!(
            refused(&signed(req.clone(), other_orch.as_bytes()), &cfg),
            (400, "orchestratorAddress mismatch".into())
        );
        let mut dearer = request(&info((150, 1), 3));
        dearer.manifest_id = "manifest".into();
        assert_eq!(
            refused(&signed(dearer, &state_json((100, 1), "")), &cfg),
            (
                481,
                "orchestrator price 150.000 exceeds initial session price ceiling 100.000".into()
            )
        );
        assert_eq!(
            refused(
                &signed(req.clone(), &state_json((1, 1), ",\"Balance\":\"1000\"")),
                &cfg
            ),
            (482, "no tickets".into())
        );
        assert_eq!(
            refused(&signed(req.clone(), &state_json((0, 1), "")), &cfg),
            (400, "invalid initial price in state".into())
        );
        // The valid state continues, one call later in the sequence.
        let ok = run(&signed(req, &st), &cfg).unwrap();
        assert_eq!(
            (ok.state.sequence_number, ok.state.state_id.as_str()),
            (1, "state")
        );
    }

    #[test]
    fn b3_balances() {
        let cfg = PaymentsConfig {
            max_price_per_unit: Some(Rat::from_integer(200)),
            max_price_per_capability: vec![CapabilityPrice {
                pipeline: "live-video-to-video".into(),
                model: "livepeer/model-high".into(),
                price_per_unit: Rat::from_integer(500),
                pixels_per_unit: Rat::from_integer(1),
            }],
            ..Default::default()
        };
        let continue_with = |prev: &Plan, mut req: PaymentRequest| {
            req.manifest_id = prev.manifest_id.clone();
            signed(req, &prev.state.to_json())
        };
        // Untyped, EV 35, 150/175, 1000 then 2500 units (price now 112/175).
        let first = run(
            &PaymentRequest {
                in_pixels: 1000,
                ..request(&info((150, 175), 105))
            },
            &cfg,
        )
        .unwrap();
        assert_eq!((first.tickets.len(), first.state.balance.as_str()), (25, "125/7"));
        assert_eq!(
            (first.state.sequence_number, first.manifest_id.as_str()),
            (0, "5e6f7a8b")
        );
        let second = run(
            &continue_with(
                &first,
                PaymentRequest {
                    in_pixels: 2500,
                    ..request(&info((112, 175), 105))
                },
            ),
            &cfg,
        )
        .unwrap();
        assert_eq!((second.tickets.len(), second.state.balance.as_str()), (61, "10"));
        assert_eq!(second.nonces(), (26, 86));
        assert_eq!(second.price_info.price_per_unit, 112);
        assert_eq!(second.state.sequence_number, 1);

        // Capabilities pick the per-model max 500 over the global 200.
        let caps = run(
            &PaymentRequest {
                job_type: String::new(),
                capabilities: lv2v_caps("livepeer/model-high"),
                ..request(&info((300, 1), 105))
            },
            &cfg,
        )
        .unwrap();
        assert_eq!((caps.tickets.len(), caps.state.balance.as_str()), (9, "15"));
        assert!(caps.seg_capabilities.is_some());

        // live: 10 s preload, then 12 s later.
        let live = run(
            &PaymentRequest {
                job_type: "live".into(),
                ..request(&info((3, 1), 105))
            },
            &cfg,
        )
        .unwrap();
        assert_eq!(
            (live.tickets.len(), live.units, live.state.balance.as_str()),
            (1, 10, "5")
        );
        assert_eq!(live.state.job_type, "live");
        let later = GoTime(now().0 + time::Duration::seconds(12));
        let live2 = run_at(
            &continue_with(
                &live,
                PaymentRequest {
                    job_type: "live".into(),
                    ..request(&info((3, 1), 105))
                },
            ),
            &cfg,
            later,
        )
        .unwrap();
        assert_eq!(
            (live2.tickets.len(), live2.units, live2.state.balance.as_str()),
            (1, 12, "4")
        );
        assert_eq!(live2.state.last_update, later);

        // fixed: EV 3, price 3, maxPrice 4 wei fixed; inPixels ignored.
        let fixed_req = |r: PaymentRequest| PaymentRequest {
            job_type: "fixed".into(),
            in_pixels: 1_000_000,
            max_price: max_price("4", "wei", "fixed"),
            ..r
        };
        let fixed = run(&fixed_req(request(&info((3, 1), 9))), &cfg).unwrap();
        assert_eq!((fixed.tickets.len(), fixed.state.balance.as_str()), (1, "0"));
        let mut next = fixed_req(request(&info((3, 1), 9)));
        next.manifest_id = "fixed-manifest".into();
        let fixed2 = run(&signed(next, &fixed.state.to_json()), &cfg).unwrap();
        assert_eq!((fixed2.tickets.len(), fixed2.state.balance.as_str()), (1, "0"));
        assert_eq!(fixed2.manifest_id, "fixed-manifest");
    }

    #[test]
    fn lv2v_bills_60_s_first_then_wall_time() {
        let cfg = PaymentsConfig::default();
        let first = run(
            &PaymentRequest {
                job_type: "lv2v".into(),
                ..request(&info((1, 1_000_000), 3_000))
            },
            &cfg,
        )
        .unwrap();
        // 1 658 880 000 px at 1/1 000 000 wei = 1658.88 wei: 2 tickets of EV 1000.
        assert_eq!((first.units, first.tickets.len()), (27_648_000 * 60, 2));
        assert_eq!(first.state.balance, "8528/25");
        let later = GoTime(now().0 + time::Duration::milliseconds(5_500));
        let mut next = request(&info((1, 1_000_000), 3_000));
        next.job_type = "lv2v".into();
        next.manifest_id = first.manifest_id.clone();
        let second = run_at(&signed(next, &first.state.to_json()), &cfg, later).unwrap();
        // 5.5 s × 27 648 000 px/s = 152 064 000 px: fee 152.064 wei; the
        // balance 341.12 is below one EV, so one ticket: 341.12 + 1000 − 152.064.
        assert_eq!((second.units, second.tickets.len()), (152_064_000, 1));
        assert_eq!(second.state.balance, Rat::parse("1189.056").unwrap().rat_string());
    }

    #[test]
    fn state_mac_tags_and_signatures() {
        let cfg = PaymentsConfig::default();
        let key = StateMacKey::new(&[9u8; 32]).unwrap();
        let mut req = request(&info((1, 1), 3));
        req.manifest_id = "m".into();
        let st = state_json((1, 1), "");
        let run_mac = |req: &PaymentRequest, mac: Option<&StateMacKey>| {
            plan(PlanInputs {
                request: req,
                chain: &chain(),
                config: &cfg,
                signer: me(),
                now: now(),
                new_state_id: "a1b2c3d4",
                new_manifest_id: "5e6f7a8b",
                state_mac: mac,
                state_authenticated: false,
            })
        };
        let tagged = PaymentRequest {
            state: st.clone(),
            state_sig: key.tag(&me(), &st).to_vec(),
            ..req.clone()
        };
        assert!(run_mac(&tagged, Some(&key)).is_ok());
        // Without the key, or with another, a tag is an invalid sig.
        let invalid = |r: Result<Plan, Refusal>| {
            let r = r.unwrap_err();
            assert_eq!((r.status, r.message.as_str()), (400, "invalid sig"));
        };
        invalid(run_mac(&tagged, None));
        invalid(run_mac(&tagged, Some(&StateMacKey::new(&[8u8; 32]).unwrap())));
        let mut tampered = tagged.clone();
        tampered.state = state_json((1, 1), ",\"Balance\":\"1000\"");
        invalid(run_mac(&tampered, Some(&key)));
        // States signed by the key stay accepted with the MAC on.
        assert!(run_mac(&signed(req, &st), Some(&key)).is_ok());
    }

    #[test]
    fn nonce_guard_and_new_params_restart_nonces() {
        let cfg = PaymentsConfig::default();
        let i = info((1, 1), 3);
        let pm = session::pm_session_id(&recipient_rand_hash(U256::from(10)));
        let mut req = request(&i);
        req.manifest_id = "m".into();
        for (nonce, expect) in [(499u32, None), (500, Some(480u16)), (4_000_000_000, Some(480))] {
            let st = state_json(
                (1, 1),
                &format!(",\"PMSessionID\":\"{pm}\",\"SenderNonce\":{nonce}"),
            );
            let got = run(&signed(req.clone(), &st), &cfg);
            match expect {
                None => assert_eq!(got.unwrap().nonces(), (nonce + 1, nonce + 1)),
                Some(s) => {
                    let r = got.unwrap_err();
                    assert_eq!(
                        (r.status, r.refresh_url.as_deref()),
                        (s, Some("http://orch.example"))
                    );
                }
            }
        }
        // Another rand hash: the nonces start again at 1.
        let st = state_json((1, 1), ",\"PMSessionID\":\"0x00\",\"SenderNonce\":550");
        assert_eq!(run(&signed(req, &st), &cfg).unwrap().nonces(), (1, 1));
    }

    #[test]
    fn expiration_params_theirs_or_ours() {
        let cfg = PaymentsConfig::default();
        let ours = run(&request(&info((1, 1), 3)), &cfg).unwrap();
        assert_eq!(ours.expiration, chain().own_expiration());
        assert_eq!(ours.tickets[0].creation_round, 7);
        let mut i = info((1, 1), 3);
        i.ticket_params.as_mut().unwrap().expiration_params = Some(proto::TicketExpirationParams {
            creation_round: 9,
            creation_round_block_hash: vec![0xcd; 32],
        });
        let theirs = run(&request(&i), &cfg).unwrap();
        assert_eq!(theirs.tickets[0].creation_round, 9);
        assert_eq!(
            theirs.tickets[0].creation_round_block_hash,
            B256::repeat_byte(0xcd)
        );
    }

    #[test]
    fn revalidation_against_a_newer_chain_view() {
        let cfg = PaymentsConfig::default();
        let p = run(&request(&info((1, 1), 3)), &cfg).unwrap();
        assert_eq!(revalidate(&p, &chain(), &cfg), Ok(()));
        // The L1 block moved past the params' expiration (200) meanwhile.
        let later = ChainInputs {
            last_seen_l1_block: U256::from(199),
            ..chain()
        };
        let r = revalidate(&p, &later, &cfg).unwrap_err();
        assert_eq!(
            (r.status, r.refresh_url.as_deref()),
            (480, Some("http://orch.example"))
        );
        // The deposit was withdrawn meanwhile.
        let drained = ChainInputs {
            sender: Some(SenderInfo {
                deposit: U256::ZERO,
                reserve: U256::from(1_000_000),
                ..Default::default()
            }),
            ..chain()
        };
        let r = revalidate(&p, &drained, &cfg).unwrap_err();
        assert_eq!((r.status, r.message.as_str()), (500, "no sender deposit"));
    }

    #[test]
    fn batch_validation_is_a_masked_500() {
        // One ticket passes the refresh check; ten exceed max_total_ev.
        let cfg = PaymentsConfig {
            max_total_ev: U256::from(5),
            ..Default::default()
        };
        let mut req = request(&info((1, 1), 3));
        req.in_pixels = 10;
        let r = run(&req, &cfg).unwrap_err();
        assert_eq!(r.status, 500);
        assert_eq!(
            r.message,
            "total ticket EV 10.00000 for 10 tickets > max total ticket EV 5.00000"
        );
        // A face value above the deposit fails the refresh check already (400).
        let r = run(&request(&info((1, 1), 3_000_000)), &PaymentsConfig::default()).unwrap_err();
        assert_eq!(
            (r.status, r.message.as_str()),
            (
                400,
                "remote signer could not check whether to refresh session: ticket faceValue 3000000 > max faceValue 1000000"
            )
        );
    }

    #[test]
    fn seg_capabilities_round_trip_like_go() {
        use crate::livepeer::proto::capabilities::{capability_constraints::ModelConstraint, *};
        let caps = proto::Capabilities {
            bitstring: vec![0b101],
            constraints: Some(Constraints {
                min_version: "v1".into(),
                per_capability: [(
                    35,
                    CapabilityConstraints {
                        models: [(
                            "m".to_string(),
                            ModelConstraint {
                                warm: true,
                                capacity: 2,
                                runner_version: "r".into(),
                                capacity_in_use: 1,
                            },
                        )]
                        .into(),
                    },
                )]
                .into(),
            }),
            ..Default::default()
        };
        let out = seg_capabilities(&caps);
        assert_eq!(out.capacities, [(0, 1), (2, 1)].into());
        let model = &out.constraints.as_ref().unwrap().per_capability[&35].models["m"];
        assert_eq!((model.warm, model.capacity, model.capacity_in_use), (true, 2, 0));
        assert!(seg_capabilities(&proto::Capabilities::default())
            .constraints
            .is_some());
    }
}
