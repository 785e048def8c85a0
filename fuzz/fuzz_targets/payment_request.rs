//! The body of `POST /generate-live-payment` (spec §3.1): Go-style JSON
//! decoding (`PaymentRequest::decode`), then the whole pure plan (§3.4
//! steps 3–21) against fixed chain inputs and a config with ceilings.
//!
//! Properties: never panics; a plan's tickets are 1..=100 with continuous
//! nonces from the state's base, their EV equals `n × EV`, the new
//! balance is never negative and equals `old + n × EV − fee`, and every
//! refusal carries an HTTP status go-livepeer could send.
#![no_main]

use alloy_primitives::{B256, U256};
use libfuzzer_sys::fuzz_target;
use livepeer_signer::config::{CapabilityPrice, PaymentsConfig};
use livepeer_signer::eth::Address;
use livepeer_signer::livepeer::payment::state::GoTime;
use livepeer_signer::livepeer::payment::{plan, ChainInputs, PaymentRequest, PlanInputs, Rat, SenderInfo};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = PaymentRequest::decode(data) else {
        return;
    };
    let chain = ChainInputs {
        last_seen_l1_block: U256::from(100),
        last_initialized_round: U256::from(7),
        round_block_hash: B256::repeat_byte(0xab),
        sender: Some(SenderInfo {
            deposit: U256::from(10u64).pow(U256::from(18)),
            reserve: U256::from(10u64).pow(U256::from(18)),
            ..Default::default()
        }),
    };
    let config = PaymentsConfig {
        max_price_per_unit: Some(Rat::from_integer(500)),
        max_price_per_capability: vec![CapabilityPrice {
            pipeline: "live-video-to-video".into(),
            model: "default".into(),
            price_per_unit: Rat::from_integer(200),
            pixels_per_unit: Rat::from_integer(1),
        }],
        ..Default::default()
    };
    let signer = Address::from_bytes([0x96; 20]);
    let now = GoTime::parse("2026-01-02T03:04:05.123456789Z").unwrap();
    let result = plan(PlanInputs {
        request: &request,
        chain: &chain,
        config: &config,
        signer,
        now,
        new_state_id: "a1b2c3d4",
        new_manifest_id: "5e6f7a8b",
        state_mac: None,
        state_authenticated: false,
    });
    match result {
        Err(r) => assert!(
            matches!(r.status, 400 | 480 | 481 | 482 | 500),
            "unexpected status {r:?}"
        ),
        Ok(p) => {
            let n = p.tickets.len();
            assert!((1..=100).contains(&n), "{n} tickets");
            for (i, t) in p.tickets.iter().enumerate() {
                assert_eq!(t.sender_nonce, p.tickets[0].sender_nonce + i as u32);
                assert_eq!(t.sender, signer);
            }
            assert_eq!(p.state.sender_nonce, p.tickets[n - 1].sender_nonce);
            let balance = Rat::parse(&p.state.balance).expect("RatString parses");
            assert!(!balance.is_negative(), "negative balance {balance:?}");
            let expected = &(&p.old_balance + &p.total_ev()) - &p.fee;
            assert_eq!(balance, expected);
        }
    }
});
