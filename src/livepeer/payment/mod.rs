//! The pure building blocks of `POST /generate-live-payment`: no HTTP, no
//! key, no I/O.
//!
//! * [`rat`]: exact rationals with go-livepeer's `big.Rat` formatting and parsing.
//! * [`ticket`]: tickets, their hash and the digest the key signs.
//! * [`params`]: `OrchestratorInfo.ticket_params` conversion and `validateTicketParams`.
//! * [`state`]: the signed `RemotePaymentState` JSON, byte-identical to Go's.
//! * [`session`]: nonce base, `PMSessionID`, the refresh (480) check.
//! * [`price`]: billable units, `maxPrice`, ceilings, fee, ticket count and new balance.
//! * [`wire`]: `net.Payment` and `net.SegData` assembly, the segment-credential digest.
//!
//! The three digests the key signs per call, all 32 bytes, signed with
//! `Signer::sign_digest` into 65-byte `r‖s‖v` (low s, `v ∈ {27, 28}`):
//!
//! | what | digest | function |
//! |---|---|---|
//! | each ticket | `TextHash(keccak256(abi.encodePacked(ticket)))` | [`Ticket::digest`] |
//! | segment credentials | `TextHash(keccak256(Flatten))` | [`wire::seg_creds_digest`] |
//! | the new state | `TextHash(state JSON bytes)` | [`RemotePaymentState::digest`] |
//!
//! Spec §3.4 steps and where they live (the HTTP layer decodes the request,
//! maps errors to status codes and does the signing and the webhook):
//!
//! | step | function |
//! |---|---|
//! | 4–6 decode `OrchestratorInfo`, price and ticket-params presence | [`crate::livepeer::proto::OrchestratorInfo`] (prost) |
//! | 7 `BytesToAddress` | [`params::bytes_to_address`] |
//! | 8 parse the state (after verifying `Sig`) | [`RemotePaymentState::from_json`] |
//! | 11 ticket params | [`TicketParams::from_proto`] |
//! | 12 balance restore | [`RemotePaymentState::balance_rat`] |
//! | 13 nonce base (+ #4028 guard) | [`session::nonce_base`], [`session::nonce_refresh`] |
//! | 14 refresh check (480) | [`session::should_refresh`] |
//! | 15 billable units | [`price::elapsed_secs`], [`price::billable_units`] |
//! | 16 ceilings (481) | [`price::parse_max_price`], [`price::check_price`] |
//! | 17 fee | [`price::fee`] |
//! | 18 ticket count (482 / 400) | [`stage_balance`] |
//! | 19 drift check, full validation, tickets | [`price::check_price_drift`], [`validate_ticket_params`], [`TicketParams::effective_expiration`], [`TicketParams::ticket`] |
//! | 19–20 payloads | [`wire::payment`], [`wire::seg_data`] |
//! | 21 new state | [`RemotePaymentState::set_balance`], [`session::pm_session_id`] |
//! | 24 state bytes | [`RemotePaymentState::to_json`] |

pub mod mac;
pub mod params;
pub mod plan;
pub mod price;
pub mod rat;
pub mod request;
pub mod service;
pub mod session;
pub mod state;
pub mod ticket;
pub mod webhook;
pub mod wire;

pub use params::{
    validate_ticket_params, ChainInputs, InvalidTicketParams, Limits, SenderInfo, TicketParams,
};
pub use plan::{plan, Plan, PlanInputs, Refusal};
pub use price::{stage_balance, BalanceUpdate, PaymentType, TicketCountError};
pub use rat::{Rat, RatParseError};
pub use request::PaymentRequest;
pub use service::PaymentService;
pub use state::{GoTime, RemotePaymentState, StateError};
pub use ticket::{recipient_rand_hash, ticket_ev, win_prob_rat, Ticket, MAX_WIN_PROB};

#[cfg(test)]
mod tests {
    //! Two calls of one session (vectors.md B3, `LV2V_Succeeds`), composed
    //! from the building blocks, with real signatures by the §C key.

    use alloy_primitives::{B256, U256};
    use k256::ecdsa::SigningKey;
    use prost::Message;

    use super::*;
    use crate::eth::{hex, verify_digest, verify_sig, Address, RecoverableSignature};
    use crate::livepeer::payment::params::ExpirationParams;
    use crate::livepeer::proto;

    fn key() -> SigningKey {
        let bytes = hex::decode("fad9c8855b740a0b7ed4c221dbad0f33a83a49cad6b3fe8d5817ac83d38b6a19").unwrap();
        SigningKey::from_slice(&bytes).unwrap()
    }

    fn sign(key: &SigningKey, digest: &[u8; 32]) -> RecoverableSignature {
        let (sig, recid) = key.sign_prehash_recoverable(digest).unwrap();
        RecoverableSignature::from_parts(&sig, recid.is_y_odd()).expect("k256 signs low-s")
    }

    fn orch_info(price_per_unit: i64, now_unix: i64) -> proto::OrchestratorInfo {
        proto::OrchestratorInfo {
            transcoder: "http://orch.example".into(),
            ticket_params: Some(proto::TicketParams {
                recipient: vec![0x73; 20],
                // EV = 105 × (max/3) / max = 35 exactly.
                face_value: vec![105],
                win_prob: (U256::MAX / U256::from(3)).to_be_bytes::<32>().to_vec(),
                recipient_rand_hash: recipient_rand_hash(U256::from(10)).to_vec(),
                seed: vec![0x5e; 32],
                expiration_block: vec![105],
                expiration_params: None,
            }),
            price_info: Some(proto::PriceInfo {
                price_per_unit,
                pixels_per_unit: 175,
                ..Default::default()
            }),
            address: [vec![0; 12], vec![0x73; 20]].concat(),
            auth_token: Some(proto::AuthToken {
                token: b"foo".to_vec(),
                session_id: "bar".into(),
                expiration: now_unix + 3600,
            }),
            ..Default::default()
        }
    }

    struct Outcome {
        state: RemotePaymentState,
        payment: proto::Payment,
    }

    fn call(info_bytes: &[u8], state: Option<RemotePaymentState>, in_pixels: i64, now: GoTime) -> Outcome {
        let key = key();
        let signer = Address::from_public_key(key.verifying_key());
        let chain = ChainInputs {
            last_seen_l1_block: U256::from(100),
            last_initialized_round: U256::from(1619),
            round_block_hash: B256::repeat_byte(0xf3),
            sender: Some(SenderInfo {
                deposit: U256::from(10_000),
                reserve: U256::from(10_000),
                ..Default::default()
            }),
        };
        let limits = Limits::default();

        let info = proto::OrchestratorInfo::decode(info_bytes).unwrap();
        let price = info.price_info.clone().unwrap();
        let orch = params::bytes_to_address(&info.address);
        let has_state = state.is_some();
        let mut st = state.unwrap_or_else(|| RemotePaymentState {
            state_id: "a1b2c3d4".into(),
            orchestrator_address: orch,
            initial_price_per_unit: price.price_per_unit,
            initial_pixels_per_unit: price.pixels_per_unit,
            ..Default::default()
        });
        assert_eq!(st.orchestrator_address, orch);
        if has_state {
            st.sequence_number += 1;
        }
        let tp = TicketParams::from_proto(info.ticket_params.as_ref().unwrap()).unwrap();
        let existing = st.balance_rat();
        let nonce0 = session::nonce_base(&st, &tp.recipient_rand_hash);
        assert_eq!(session::nonce_refresh(nonce0), None);
        assert_eq!(
            session::should_refresh(now, info.auth_token.as_ref(), &tp, &chain, &limits),
            Ok(None)
        );
        let units = price::billable_units(PaymentType::Untyped, in_pixels, 0.0).unwrap();
        let orch_price = price::price_rat(price.price_per_unit, price.pixels_per_unit).unwrap();
        let initial = price::price_rat(st.initial_price_per_unit, st.initial_pixels_per_unit).unwrap();
        let initial_ceiling = has_state.then_some(&initial);
        price::check_price(
            &orch_price,
            &[(price::CeilingSource::InitialSession, initial_ceiling)],
        )
        .unwrap();
        let fee = price::fee(units, st.initial_price_per_unit, st.initial_pixels_per_unit).unwrap();
        let update = stage_balance(&existing, &fee, &tp.ev()).unwrap();
        price::check_price_drift(&orch_price, &initial).unwrap();
        validate_ticket_params(&tp, update.num_tickets, &chain, &limits).unwrap();

        let expiration = tp.effective_expiration(chain.own_expiration());
        let tickets: Vec<(u32, Vec<u8>)> = (1..=update.num_tickets as u32)
            .map(|i| {
                let t = tp.ticket(signer, nonce0 + i, expiration);
                let sig = sign(&key, &t.digest());
                // What the orchestrator checks: VerifySig(sender, ticket hash, sig).
                verify_sig(&signer, t.hash().as_slice(), sig.as_bytes()).unwrap();
                (nonce0 + i, sig.as_bytes().to_vec())
            })
            .collect();
        let payment = wire::payment(&tp, signer, expiration, tickets, Some(price));

        let seg_sig = sign(&key, &wire::seg_creds_digest("manifest"));
        let seg = wire::seg_data("manifest", seg_sig.as_bytes(), None, info.auth_token.clone());
        verify_digest(
            &signer,
            &crate::eth::text_hash(crate::eth::keccak256(wire::empty_segment_flatten("manifest"))),
            &seg.sig,
        )
        .unwrap();

        st.set_balance(&update.new_balance);
        st.last_update = now;
        st.pm_session_id = session::pm_session_id(&tp.recipient_rand_hash);
        st.sender_nonce = nonce0 + update.num_tickets as u32;
        let json = st.to_json();
        let state_sig = sign(&key, &RemotePaymentState::digest(&json));
        // What the signer checks on the next call: VerifySig(self, stateBytes, Sig).
        verify_sig(&signer, &json, state_sig.as_bytes()).unwrap();
        Outcome {
            state: RemotePaymentState::from_json(&json).unwrap(),
            payment,
        }
    }

    #[test]
    fn b3_lv2v_session_end_to_end() {
        let now = GoTime::parse("2026-01-02T03:04:05.123456789Z").unwrap();
        let t = now.0.unix_timestamp();
        let first = call(&orch_info(150, t).encode_to_vec(), None, 1000, now);
        assert_eq!(first.state.balance, "125/7");
        assert_eq!(first.state.sender_nonce, 25);
        assert_eq!(first.state.sequence_number, 0);
        assert_eq!(
            first.state.pm_session_id,
            "0xc65a7bb8d6351c1cf70c95a316cc6a92839c986682d98bc35f958f4883f9d2a8"
        );
        assert_eq!(first.payment.ticket_sender_params.len(), 25);
        assert_eq!(
            first.payment.expiration_params,
            Some(
                ExpirationParams {
                    creation_round: 1619,
                    creation_round_block_hash: B256::repeat_byte(0xf3)
                }
                .to_proto()
            )
        );
        assert_eq!(
            String::from_utf8(first.state.to_json()).unwrap(),
            "{\"StateID\":\"a1b2c3d4\",\"PMSessionID\":\"0xc65a7bb8d6351c1cf70c95a316cc6a92839c986682d98bc35f958f4883f9d2a8\",\"LastUpdate\":\"2026-01-02T03:04:05.123456789Z\",\"OrchestratorAddress\":\"0x7373737373737373737373737373737373737373\",\"App\":\"\",\"AuthExpiry\":0,\"SenderNonce\":25,\"Balance\":\"125/7\",\"InitialPricePerUnit\":150,\"InitialPixelsPerUnit\":175,\"Type\":\"\",\"SequenceNumber\":0,\"AuthID\":\"\"}"
        );

        // Same session; the O now advertises 112/175, the fee still uses 150/175.
        let second = call(&orch_info(112, t).encode_to_vec(), Some(first.state), 2500, now);
        assert_eq!(second.state.balance, "10");
        assert_eq!(second.state.sender_nonce, 25 + 61);
        assert_eq!(second.state.sequence_number, 1);
        let nonces: Vec<u32> = second
            .payment
            .ticket_sender_params
            .iter()
            .map(|p| p.sender_nonce)
            .collect();
        assert_eq!(nonces, (26..=86).collect::<Vec<_>>());
        assert_eq!(second.payment.expected_price.unwrap().price_per_unit, 112);
    }
}
