//! The protobuf messages the signer decodes from gateways:
//! `net.OrchestratorInfo` (the request's `orchestrator` field) and
//! `net.Payment`, both decoded from the same input, then
//! `TicketParams::from_proto` on any `ticket_params` present.
//!
//! Properties: never panics; a decoded message re-encodes to bytes that
//! decode to an equal message, and re-encoding that is byte-stable (prost's
//! canonical form, `encoded_len` exact); `from_proto` refuses exactly the
//! params with an integer wider than 256 bits, and accepted params survive
//! `to_payment_proto` → `from_proto` (minus `expiration_params`, which the
//! payment form omits).
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::livepeer::payment::params::{ExpirationParams, TicketParams};
use livepeer_signer::livepeer::proto;
use prost::Message;

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
    let bytes = m.encode_to_vec();
    assert_eq!(bytes.len(), m.encoded_len());
    let back = M::decode(bytes.as_slice()).expect("own encoding decodes");
    assert_eq!(&back, m);
    assert_eq!(back.encode_to_vec(), bytes, "re-encoding is not byte-stable");
}

fn too_wide(b: &[u8]) -> bool {
    b.iter().skip_while(|&&x| x == 0).count() > 32
}

fn ticket_params(p: &proto::TicketParams) {
    let wide = [&p.face_value, &p.win_prob, &p.seed, &p.expiration_block]
        .iter()
        .any(|b| too_wide(b));
    match TicketParams::from_proto(p) {
        Ok(tp) => {
            assert!(!wide, "accepted an integer wider than 256 bits: {p:?}");
            let _ = tp.ev();
            let wire = tp.to_payment_proto();
            assert!(wire.expiration_params.is_none());
            assert_eq!(wire.recipient.len(), 20);
            assert_eq!(wire.recipient_rand_hash.len(), 32);
            round_trip(&wire);
            let back = TicketParams::from_proto(&wire).expect("own payment form converts");
            assert_eq!(
                back,
                TicketParams {
                    expiration_params: ExpirationParams::default(),
                    ..tp
                }
            );
        }
        Err(e) => {
            assert!(wide, "refused params without a wide integer ({e}): {p:?}");
            assert!(!e.to_string().is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = proto::OrchestratorInfo::decode(data) {
        round_trip(&info);
        if let Some(p) = &info.ticket_params {
            ticket_params(p);
        }
    }
    if let Ok(payment) = proto::Payment::decode(data) {
        round_trip(&payment);
        if let Some(p) = &payment.ticket_params {
            ticket_params(p);
        }
    }
});
