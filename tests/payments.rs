//! `POST /generate-live-payment`, black box: the real binary (keystore
//! backend, the §C key), real sockets, a real anvil running our Livepeer test
//! contracts, a real HTTP auth webhook. Every payment is checked as an
//! orchestrator and the chain would check it (tickets by go-livepeer's
//! `VerifySig` and by the TicketBroker's `checkWinningTicket` in the EVM,
//! segment credentials, state signature and Go layout), and every balance
//! against spec §3.5's arithmetic in exact rationals.
//!
//! Spec: ../shared/protocol/go-livepeer-remote-signer.md §1.4, §1.5, §3;
//! vectors: ../shared/protocol/vectors.md §B1–B4 (fixtures adapted: the EV
//! comes from real ticket params, e.g. EV 35 = face 105 × win prob 1/3).
//!
//! Needs `tests/chain/setup.sh` (anvil, solc-js); fails without it.

mod support;

#[path = "support/payments.rs"]
mod payments;
#[path = "support/webhook.rs"]
mod webhook;

use std::time::Duration;

use alloy_primitives::{B256, U256};
use livepeer_signer::access::token_sha256;
use livepeer_signer::eth::hex;
use livepeer_signer::livepeer::payment::{GoTime, Rat, RemotePaymentState};
use payments::{
    exact_ev, field, metric, metric_sum, signed_state, unix_now, win_almost_always, Chain, Orch, PayRequest,
    Session, Signer, WireState, TEST_STATE_MAC_KEY,
};
use time::OffsetDateTime;
use webhook::{Answer, Webhook};

/// go-livepeer's defaults, spelled out.
const PAYMENTS: &str = "[payments]\nmax_ticket_ev = \"3000000000000\"\nmax_total_ev = \"20000000000000\"\ndeposit_multiplier = 1\n";

fn u(n: u64) -> U256 {
    U256::from(n)
}

fn r(s: &str) -> Rat {
    Rat::parse(s).unwrap()
}

/// `[payments.webhook]` for `url` with the B4 headers.
fn webhook_toml(url: &str) -> String {
    format!(
        "\n[payments.webhook]\nurl = {url:?}\nheaders = {{ Authorization = \"Bearer abc\", X-API-Key = \"secret\" }}\ntimeout_ms = 5000\n"
    )
}

/// Go's RFC 3339 text of `t` (nanoseconds, trailing zeros trimmed, `Z` or ±hh:mm), written here
/// independently of the library.
fn go_rfc3339(t: OffsetDateTime) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if t.nanosecond() != 0 {
        s.push('.');
        s.push_str(format!("{:09}", t.nanosecond()).trim_end_matches('0'));
    }
    let off = t.offset().whole_seconds();
    if off == 0 {
        s.push('Z');
    } else {
        let a = off.unsigned_abs();
        s.push_str(&format!(
            "{}{:02}:{:02}",
            if off < 0 { '-' } else { '+' },
            a / 3600,
            (a / 60) % 60
        ));
    }
    s
}

/// A state in go-livepeer's exact layout (§3.3), every field given.
#[allow(clippy::too_many_arguments)]
fn go_state_json(
    state_id: &str,
    pm_session_id: &str,
    last_update: &str,
    orch_lower: &str,
    app_json: &str,
    auth_expiry: i64,
    sender_nonce: u32,
    balance: &str,
    initial: (i64, i64),
    job_type: &str,
    seq: u64,
    auth_id: &str,
) -> String {
    format!(
        "{{\"StateID\":\"{state_id}\",\"PMSessionID\":\"{pm_session_id}\",\"LastUpdate\":\"{last_update}\",\
         \"OrchestratorAddress\":\"{orch_lower}\",\"App\":{app_json},\"AuthExpiry\":{auth_expiry},\
         \"SenderNonce\":{sender_nonce},\"Balance\":\"{balance}\",\"InitialPricePerUnit\":{},\
         \"InitialPixelsPerUnit\":{},\"Type\":\"{job_type}\",\"SequenceNumber\":{seq},\"AuthID\":\"{auth_id}\"}}",
        initial.0, initial.1
    )
}

/// What a refused audit line says: its `reason` (non-empty) and its message.
fn refusal_text(a: &serde_json::Value) -> String {
    let reason = field(a, "reason").unwrap_or_default();
    assert!(!reason.is_empty(), "a refused audit line has a reason: {a}");
    format!("{reason} {}", field(a, "message").unwrap_or_default())
}

/// Re-signs `st` with its `LastUpdate` moved to `at` (the test holds the key).
fn resigned_at(st: &RemotePaymentState, at: OffsetDateTime) -> WireState {
    let mut st = st.clone();
    st.last_update = GoTime(at);
    signed_state(&st.to_json())
}

// ---------------------------------------------------------------------------
// Sessions of 20+ calls

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lv2v_session_of_21_calls_bills_wall_time_and_every_ticket_redeems() {
    let s = Signer::start(PAYMENTS).await;
    // Price 1 wei/pixel; EV just under 17e6 wei: the 60 s preload
    // (1 658 880 000 px) needs 98 tickets, a call ≥ 0.65 s later 1–2.
    let mut orch = s.orch(u(17_000_000), win_almost_always(), (1, 1)).await;
    let caps = payments::lv2v_caps(&["livepeer/model1"]);
    let mid = format!("stream-{:08x}", rand::random::<u32>());
    let sigs0 = s.signatures().await;
    let mut session = Session::new();

    // The upfront payment: no state, no manifest id (the signer makes one).
    let first = PayRequest::new(&orch, "lv2v").caps(&caps);
    let (_, v) = session.step(&s, &orch, first).await;
    let e = session.last.clone().unwrap();
    assert_eq!(e.units, 1_658_880_000, "the first lv2v call bills 60 s");
    assert_eq!(e.tickets, 98);
    assert_eq!(v.nonces, (1..=98).collect::<Vec<u32>>());
    let generated = v.manifest_id;

    let mut pm_sessions = vec![orch.pm_session_id()];
    for i in 1..21 {
        tokio::time::sleep(Duration::from_millis(650)).await;
        if i == 11 {
            // The O's PaymentResult brings new ticket params: nonces restart.
            orch.refresh_params();
            pm_sessions.push(orch.pm_session_id());
        }
        let req = PayRequest::new(&orch, "lv2v").manifest(&mid).caps(&caps);
        let (paid, v) = session.step(&s, &orch, req).await;
        let e = session.last.clone().unwrap();
        assert!(e.units >= 17_971_200, "call {i}: {e:?} (≥ 0.65 s of pixels)");
        if i == 11 {
            assert_eq!(v.nonces[0], 1, "new recipient_rand_hash: nonces restart at 1");
        }
        assert_eq!(paid.st.sequence_number, i as u64);
        assert_eq!(paid.st.pm_session_id, *pm_sessions.last().unwrap());
    }
    assert_ne!(generated, mid);
    assert_eq!(session.calls, 21);
    // Tickets + one state signature per call + one segment-credential
    // signature per manifest id (cached: it covers only the manifest id).
    let sigs = s.signatures().await - sigs0;
    assert_eq!(
        sigs,
        (session.tickets + 21 + 2) as f64,
        "signatures: {} tickets, 21 states, 2 manifest ids",
        session.tickets
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_session_of_21_calls_bills_whole_seconds() {
    let s = Signer::start(PAYMENTS).await;
    // 1000 wei/s, EV just under 1000: the 10 s preload needs 11 tickets.
    let mut orch = s.orch(u(1000), win_almost_always(), (1000, 1)).await;
    let mid = format!("live-{:08x}", rand::random::<u32>());
    let mut session = Session::new();
    let (_, v) = session
        .step(&s, &orch, PayRequest::new(&orch, "live").manifest(&mid))
        .await;
    let e = session.last.clone().unwrap();
    assert_eq!(e.units, 10, "the first live call bills 10 s");
    assert_eq!(e.tickets, 11);
    assert_eq!(v.nonces, (1..=11).collect::<Vec<u32>>());
    for i in 1..21 {
        if i == 7 {
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
        if i == 14 {
            orch.refresh_params();
        }
        let (paid, v) = session
            .step(&s, &orch, PayRequest::new(&orch, "live").manifest(&mid))
            .await;
        let e = session.last.clone().unwrap();
        if i == 7 {
            assert!(e.units >= 2, "1.2 s bill at least 2 s: {e:?}");
        }
        if i == 14 {
            assert_eq!(v.nonces[0], 1);
        }
        assert_eq!(paid.st.job_type, "live");
    }
    assert_eq!(session.calls, 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_session_of_21_calls_with_request_max_price_at_the_price() {
    let s = Signer::start(PAYMENTS).await;
    let mut orch = s.orch(u(5), win_almost_always(), (7, 1)).await;
    let mid = format!("fixed-{:08x}", rand::random::<u32>());
    let mut session = Session::new();
    // json.Number from a number or a string; currency and unit trimmed and case-folded.
    let ceilings = [
        None,
        Some(r#"{"price":7,"currency":"wei","unit":"fixed"}"#),
        Some(r#"{"price":"7","currency":" WEI ","unit":"Fixed"}"#),
        Some(r#"{"price":7.5,"currency":"wei","unit":"fixed"}"#),
        Some(r#"{"price":"7e0","currency":"wei","unit":"fixed"}"#),
    ];
    for i in 0..21 {
        if i == 10 {
            orch.refresh_params();
        }
        let mut req = PayRequest::new(&orch, "fixed").manifest(&mid).pixels(1_000_000);
        if let Some(c) = ceilings[i % ceilings.len()] {
            req = req.max_price(c);
        }
        let (paid, v) = session.step(&s, &orch, req).await;
        assert_eq!(
            session.last.as_ref().unwrap().units,
            1,
            "fixed bills one unit, inPixels ignored"
        );
        if i == 10 {
            assert_eq!(v.nonces[0], 1);
        }
        assert_eq!(paid.st.job_type, "fixed");
    }
    assert_eq!(session.calls, 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_mac_saves_the_state_signature_and_keeps_signed_states() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("state-mac");
    std::fs::write(&key_file, [TEST_STATE_MAC_KEY, b"\n"].concat()).unwrap();
    let s = Signer::start(&format!(
        "{PAYMENTS}state_mac_key_file = {:?}\n",
        key_file.display().to_string()
    ))
    .await;
    let orch = s.orch(u(5), win_almost_always(), (7, 1)).await;
    let mid = format!("mac-{:08x}", rand::random::<u32>());
    // A continuing session whose state was signed by the key (a state from
    // before the MAC was turned on, or from a go-livepeer signer) goes on.
    let mut first = Session::new();
    first
        .step(&s, &orch, PayRequest::new(&orch, "fixed").manifest(&mid))
        .await;
    let st = first.prev.as_ref().unwrap().parsed();
    assert_eq!(
        first.prev.as_ref().unwrap().sig.len(),
        32,
        "new states carry a 32-byte tag"
    );
    let mut session = Session::from_state(signed_state(&st.to_json()));
    for _ in 0..5 {
        let before = s.signatures().await;
        let (_, v) = session
            .step(&s, &orch, PayRequest::new(&orch, "fixed").manifest(&mid))
            .await;
        // Tickets only: no state signature, the segment credentials cached.
        assert_eq!(s.signatures().await - before, v.nonces.len() as f64);
    }
    // A tampered tag is an invalid sig.
    let mut bad = session.prev.clone().unwrap();
    bad.sig[0] ^= 1;
    let mut req = PayRequest::new(&orch, "fixed").manifest(&mid);
    req.state = Some(bad);
    s.pay(&req).await.expect_exact(400, "invalid sig");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untyped_session_of_22_calls_bills_in_pixels_and_uses_the_signers_round() {
    let s = Signer::start(PAYMENTS).await;
    // No expiration params from the O: the tickets carry the signer's own
    // lastInitializedRound and its block hash (checked in the EVM).
    let mut orch = s.orch(u(100), win_almost_always(), (150, 175)).await;
    orch.expiration_params = None;
    let mid = format!("pixels-{:08x}", rand::random::<u32>());
    let app = "live-video-to-video/scope";
    let mut session = Session::new();
    for i in 0..22i64 {
        if i == 15 {
            orch.refresh_params();
        }
        let px = 1000 + 137 * i;
        let req = PayRequest::new(&orch, "").manifest(&mid).pixels(px).app(app);
        let (paid, v) = session.step(&s, &orch, req).await;
        let e = session.last.clone().unwrap();
        assert_eq!(e.units, px);
        assert_eq!(e.fee, &Rat::from_integer(px) * &r("150/175"));
        if i == 15 {
            assert_eq!(v.nonces[0], 1);
        }
        assert_eq!(paid.st.app, app);
        assert_eq!(paid.st.job_type, "");
    }
    let (round, hash) = s.chain().round().await;
    assert!(round > 0 && !hash.is_zero());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_sessions_are_all_correct() {
    let s = Signer::start(PAYMENTS).await;
    let base = s.orch(u(5), win_almost_always(), (7, 1)).await;
    let orchs: Vec<Orch> = (0..100)
        .map(|_| {
            let mut o = base.clone();
            o.address = payments::random_address().to_vec();
            o.recipient = payments::random_address();
            o.refresh_params();
            o
        })
        .collect();
    let sigs0 = s.signatures().await;
    let runs = orchs.iter().enumerate().map(|(k, orch)| {
        let s = &s;
        async move {
            let mut session = Session::new();
            let mid = format!("concurrent-{k}");
            for _ in 0..3 {
                session
                    .step(s, orch, PayRequest::new(orch, "fixed").manifest(&mid))
                    .await;
            }
            (session.prev.unwrap().parsed(), session.tickets)
        }
    });
    let done = futures_util::future::join_all(runs).await;
    let mut ids: Vec<_> = done.iter().map(|(st, _)| st.state_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100, "every session has its own StateID");
    assert!(done.iter().all(|(st, _)| st.sequence_number == 2));
    // Tickets, 300 states, 100 manifest ids: nothing signed twice or lost.
    let tickets: u64 = done.iter().map(|(_, t)| t).sum();
    assert_eq!(s.signatures().await - sigs0, (tickets + 300 + 100) as f64);
}

// ---------------------------------------------------------------------------
// vectors.md §B1: request validation

const B1_CONFIG: &str = "[payments]\nmax_price_per_unit = \"500\"\n\n\
     [[payments.max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"livepeer/model1\"\nprice_per_unit = 200\npixels_per_unit = 1\n";

/// The §B fixture: O address 0x…01, transcoder http://orch.example,
/// price 1/1, EV 1 (face 3, win prob 1/3), auth token "foo"/"bar", +1 h.
async fn b_fixture(s: &Signer) -> Orch {
    let (face, wp) = exact_ev(1);
    let mut o = s.orch(face, wp, (1, 1)).await;
    let mut addr = vec![0u8; 20];
    addr[19] = 1;
    o.address = addr;
    o.transcoder = "http://orch.example".into();
    o.auth_token = Some(livepeer_signer::livepeer::proto::AuthToken {
        token: b"foo".to_vec(),
        session_id: "bar".into(),
        expiration: unix_now() + 3600,
    });
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b1_request_validation_every_row() {
    let s = Signer::start(B1_CONFIG).await;
    let o = b_fixture(&s).await;
    let sigs0 = s.signatures().await;
    let base = |o: &Orch| PayRequest::new(o, "").pixels(1);

    // 127: not JSON.
    s.post_raw("{not-json", &[])
        .await
        .expect(400, "invalid character");
    // 133: no orchestrator.
    s.post_raw(
        r#"{"state":{"State":null,"Sig":null},"ManifestID":"","inPixels":1,"type":"","capabilities":null}"#,
        &[],
    )
    .await
    .expect_exact(400, "missing orchestrator");
    // 139: orchestrator is not protobuf.
    let mut req = base(&o);
    req.orchestrator = b"not-proto".to_vec();
    s.pay(&req).await.expect(400, "proto:");
    // 148 / 158 / 168: price_info absent or zero.
    for price in [None, Some((0, 1)), Some((1, 0))] {
        let mut x = o.clone();
        x.price = price.map(|(a, b)| livepeer_signer::livepeer::proto::PriceInfo {
            price_per_unit: a,
            pixels_per_unit: b,
            ..Default::default()
        });
        s.pay(&base(&x))
            .await
            .expect_exact(400, "missing or zero priceInfo");
    }
    // 178: no ticket params.
    let mut x = o.clone();
    x.no_ticket_params = true;
    s.pay(&base(&x))
        .await
        .expect_exact(400, "missing ticketParams in OrchestratorInfo");
    // 188: no auth token.
    let mut x = o.clone();
    x.auth_token = None;
    s.pay(&base(&x)).await.expect_exact(
        400,
        "remote signer could not check whether to refresh session: missing auth token",
    );
    // 198: auth token expired a minute ago.
    let mut x = o.clone();
    x.auth_token.as_mut().unwrap().expiration = unix_now() - 60;
    s.pay(&base(&x)).await.expect_refresh("http://orch.example");
    // 213: ticket params expired (expiration block − L1 block ≤ 1).
    let block = s.chain().block().await;
    for exp in [1, block, block + 1] {
        let mut x = o.clone();
        x.expiration_block = exp;
        s.pay(&base(&x)).await.expect_refresh("http://orch.example");
    }
    // (A7) expiration block 0 is not "expired" but an error.
    let mut x = o.clone();
    x.expiration_block = 0;
    s.pay(&base(&x)).await.expect_exact(
        400,
        "remote signer could not check whether to refresh session: ticketParams expiration block is 0",
    );
    // 225: unknown type.
    s.pay(&PayRequest::new(&o, "bogus").pixels(1))
        .await
        .expect_exact(400, "invalid job type");
    // 235: no units.
    s.pay(&PayRequest::new(&o, "").pixels(0))
        .await
        .expect_exact(400, "missing billable unit or job type");
    s.pay(&PayRequest::new(&o, "").pixels(-5))
        .await
        .expect_exact(400, "missing billable unit or job type");
    // 245: 101 tickets.
    s.pay(&PayRequest::new(&o, "").pixels(101))
        .await
        .expect_exact(400, "numTickets 101 exceeds maximum of 100");
    // 255: capabilities that are not protobuf.
    let mut req = PayRequest::new(&o, "lv2v");
    req.capabilities = Some(b"not-valid-protobuf".to_vec());
    s.pay(&req)
        .await
        .expect(400, "cannot parse invalid wire-format data");
    // 266: O price above the configured 500.
    let mut x = o.clone();
    x.set_price(1000, 1);
    s.pay(&base(&x)).await.expect_exact(
        481,
        "orchestrator price 1000.000 exceeds configured maximum price ceiling 500.000",
    );
    // 280: fixed, O price 10, request maxPrice 9.
    let mut x = o.clone();
    x.set_price(10, 1);
    s.pay(&PayRequest::new(&x, "fixed").max_price(r#"{"price":9,"currency":"wei","unit":"fixed"}"#))
        .await
        .expect_exact(
            481,
            "orchestrator price 10.000 exceeds request maxPrice ceiling 9.000",
        );
    // 298: maxPrice without a type.
    s.pay(&base(&o).max_price(r#"{"price":9,"currency":"wei","unit":"fixed"}"#))
        .await
        .expect_exact(400, "maxPrice requires payment type live, lv2v, or fixed");
    // 308: currency usd.
    s.pay(&PayRequest::new(&o, "fixed").max_price(r#"{"price":9,"currency":"usd","unit":"fixed"}"#))
        .await
        .expect_exact(400, "maxPrice.currency must be wei");
    // 319: live with unit fixed.
    s.pay(&PayRequest::new(&o, "live").max_price(r#"{"price":9,"currency":"wei","unit":"fixed"}"#))
        .await
        .expect_exact(400, "maxPrice.unit must be seconds for payment type live");
    s.pay(&PayRequest::new(&o, "lv2v").max_price(r#"{"price":9,"currency":"wei","unit":"seconds"}"#))
        .await
        .expect_exact(
            400,
            "maxPrice.unit must be 720p-pixel-seconds for payment type lv2v",
        );
    // 330: maxPrice 0 (and negative).
    for p in ["0", "-1"] {
        s.pay(
            &PayRequest::new(&o, "fixed")
                .max_price(&format!(r#"{{"price":{p},"currency":"wei","unit":"fixed"}}"#)),
        )
        .await
        .expect_exact(400, "maxPrice.price must be a positive decimal");
    }
    // A string that is not number text fails Go's json.Number decoding first.
    s.pay(&PayRequest::new(&o, "fixed").max_price(r#"{"price":"wat","currency":"wei","unit":"fixed"}"#))
        .await
        .expect_exact(
            400,
            "json: invalid number literal, trying to unmarshal \"\\\"wat\\\"\" into Number",
        );
    // 341: fixed, O price 1000 > configured 500.
    let mut x = o.clone();
    x.set_price(1000, 1);
    s.pay(&PayRequest::new(&x, "fixed")).await.expect_exact(
        481,
        "orchestrator price 1000.000 exceeds configured maximum price ceiling 500.000",
    );
    // 355: O price 300, capabilities lv2v livepeer/model1 (capability max 200 < global 500).
    let mut x = o.clone();
    x.set_price(300, 1);
    s.pay(&base(&x).caps(&payments::lv2v_caps(&["livepeer/model1"])))
        .await
        .expect_exact(
            481,
            "orchestrator price 300.000 exceeds configured maximum price ceiling 200.000",
        );
    // Safer than Go: negative prices are refused.
    for (a, b) in [(-1, 1), (1, -1), (-1, -1)] {
        let mut x = o.clone();
        x.set_price(a, b);
        s.pay(&base(&x)).await.expect_exact(400, "negative priceInfo");
    }
    // None of this signed anything.
    assert_eq!(
        s.signatures().await,
        sigs0,
        "a refused request makes no signature"
    );
    // And the fixture itself pays (EV 1, price 1, 1 px → 1 ticket).
    let mut session = Session::new();
    session.step(&s, &o, base(&o)).await;
    assert_eq!(session.tickets, 1);
}

// ---------------------------------------------------------------------------
// vectors.md §B2: state validation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2_state_validation_every_row() {
    let s = Signer::start(PAYMENTS).await;
    let o = b_fixture(&s).await;
    let sigs0 = s.signatures().await;
    let o1 = "0x0000000000000000000000000000000000000001";
    let state = |app: &str, orch: &str, balance: &str, initial: (i64, i64), job_type: &str| {
        go_state_json(
            "state",
            "",
            "0001-01-01T00:00:00Z",
            orch,
            &payments::go_json(app),
            0,
            0,
            balance,
            initial,
            job_type,
            0,
            "",
        )
    };
    let req = |w: &WireState| PayRequest::new(&o, "").manifest("manifest").pixels(1).state(w);

    // 520: a valid state without ManifestID.
    let valid = signed_state(state("", o1, "0", (1, 1), "").as_bytes());
    s.pay(&req(&valid).manifest(""))
        .await
        .expect_exact(400, "missing manifestID");
    // 536: a bad signature.
    let bad = WireState {
        state: br#"{"stateID":"state","orchestratorAddress":"0x1"}"#.to_vec(),
        sig: b"bad".to_vec(),
    };
    s.pay(&req(&bad)).await.expect_exact(400, "invalid sig");
    // VerifySig rules: v as 0/1, another key, another message.
    let mut raw_v = valid.clone();
    raw_v.sig[64] -= 27;
    s.pay(&req(&raw_v)).await.expect_exact(400, "invalid sig");
    let other = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let (sig, rec) = other
        .sign_prehash_recoverable(&livepeer_signer::eth::text_hash(&valid.state))
        .unwrap();
    let mut foreign = sig.to_bytes().to_vec();
    foreign.push(27 + rec.to_byte());
    s.pay(&req(&WireState {
        state: valid.state.clone(),
        sig: foreign,
    }))
    .await
    .expect_exact(400, "invalid sig");
    let mut tampered = valid.clone();
    tampered.state = state("", o1, "1000", (1, 1), "").into_bytes();
    s.pay(&req(&tampered)).await.expect_exact(400, "invalid sig");
    // 543: not JSON, validly signed.
    s.pay(&req(&signed_state(b"not-json")))
        .await
        .expect_exact(400, "invalid state");
    // 549: app mismatch.
    let w = signed_state(state("live-video-to-video/app-a", o1, "0", (1, 1), "").as_bytes());
    s.pay(&req(&w).app("live-video-to-video/app-b"))
        .await
        .expect_exact(400, "app mismatch");
    s.pay(&req(&w)).await.expect_exact(400, "app mismatch");
    // 566: job type mismatch.
    let w = signed_state(state("", o1, "0", (1, 1), "lv2v").as_bytes());
    let mut live = req(&w);
    live.job_type = "live".into();
    s.pay(&live).await.expect_exact(400, "job type mismatch");
    // 583: orchestrator address mismatch.
    let w = signed_state(state("", "0x0000000000000000000000000000000000000002", "0", (1, 1), "").as_bytes());
    s.pay(&req(&w))
        .await
        .expect_exact(400, "orchestratorAddress mismatch");
    // 602: initial price 100/1, O price now 150/1.
    let w = signed_state(state("", o1, "0", (100, 1), "").as_bytes());
    let mut x = o.clone();
    x.set_price(150, 1);
    s.pay(&PayRequest::new(&x, "").manifest("manifest").pixels(1).state(&w))
        .await
        .expect_exact(
            481,
            "orchestrator price 150.000 exceeds initial session price ceiling 100.000",
        );
    // (step 16) an initial price ≤ 0 in the state.
    for initial in [(0, 1), (1, 0), (-1, 1)] {
        let w = signed_state(state("", o1, "0", initial, "").as_bytes());
        s.pay(&req(&w))
            .await
            .expect_exact(400, "invalid initial price in state");
    }
    // 613: balance 1000 covers everything.
    let w = signed_state(state("", o1, "1000", (1, 1), "").as_bytes());
    let resp = s.pay(&req(&w)).await;
    resp.expect_exact(482, "no tickets");
    assert!(
        !resp.body.contains("State"),
        "a 482 returns no state: {}",
        resp.body
    );
    assert_eq!(
        s.signatures().await,
        sigs0,
        "a refused request makes no signature"
    );

    // The valid state itself continues (StateID "state", sequence 1).
    let mut session = Session::from_state(valid);
    let (paid, v) = session
        .step(&s, &o, PayRequest::new(&o, "").manifest("manifest").pixels(1))
        .await;
    assert_eq!(paid.st.state_id, "state");
    assert_eq!(paid.st.sequence_number, 1);
    assert_eq!(v.nonces, vec![1]);
}

// ---------------------------------------------------------------------------
// vectors.md §B3: balance arithmetic, byte-exact

const B3_CONFIG: &str = "[payments]\nmax_price_per_unit = \"200\"\n\n\
     [[payments.max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"livepeer/model-high\"\nprice_per_unit = 500\npixels_per_unit = 1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_balance_arithmetic_every_row() {
    let s = Signer::start(B3_CONFIG).await;
    let (face35, wp) = exact_ev(35);

    // 673–786: untyped, EV 35, price 150/175, 1000 px → 25 tickets, "125/7".
    let mut o = s.orch(face35, wp, (150, 175)).await;
    assert_eq!(o.ev(), r("35"));
    let mut session = Session::new();
    let (paid, v) = session
        .step(
            &s,
            &o,
            PayRequest::new(&o, "").pixels(1000).manifest("b3-untyped"),
        )
        .await;
    assert_eq!(v.nonces.len(), 25);
    assert_eq!(paid.st.balance, "125/7");
    assert_eq!(paid.st.sequence_number, 0);
    // 788–824: the O now advertises 112/175; the fee keeps the initial
    // 150/175, expected_price is the new one (checked by verify).
    o.set_price(112, 175);
    let (paid, v) = session
        .step(
            &s,
            &o,
            PayRequest::new(&o, "").pixels(2500).manifest("b3-untyped"),
        )
        .await;
    assert_eq!(v.nonces.len(), 61);
    assert_eq!(v.nonces[0], 26);
    assert_eq!(paid.st.balance, "10");
    assert_eq!(paid.st.sequence_number, 1);
    assert_eq!(paid.payment.expected_price.as_ref().unwrap().price_per_unit, 112);
    assert_eq!(paid.st.initial_price_per_unit, 150);

    // 826–856: capabilities lv2v livepeer/model-high (cap max 500 > global 200), price 300.
    let o = s.orch(face35, wp, (300, 1)).await;
    let mut session = Session::new();
    let (paid, v) = session
        .step(
            &s,
            &o,
            PayRequest::new(&o, "")
                .pixels(1)
                .manifest("b3-caps")
                .caps(&payments::lv2v_caps(&["livepeer/model-high"])),
        )
        .await;
    assert_eq!(v.nonces.len(), 9);
    assert_eq!(paid.st.balance, "15");

    // 859–943: live, price 3 wei/s, EV 35: preload 10 s → 1 ticket, "5".
    let o = s.orch(face35, wp, (3, 1)).await;
    let mut session = Session::new();
    let (paid, v) = session
        .step(&s, &o, PayRequest::new(&o, "live").manifest("b3-live"))
        .await;
    assert_eq!((v.nonces.len(), paid.st.balance.as_str()), (1, "5"));
    assert_eq!(paid.st.job_type, "live");
    assert_eq!(paid.st.sequence_number, 0);
    assert_eq!(paid.payment.expected_price.as_ref().unwrap().price_per_unit, 3);
    // 12 s later: the test holds the key, so it moves LastUpdate 11.5 s back
    // instead of sleeping: ceil(11.5 s + latency) = 12 s → fee 36 → 1 ticket, "4".
    let moved = resigned_at(
        &paid.st,
        OffsetDateTime::now_utc() - time::Duration::milliseconds(11_500),
    );
    session.prev = Some(moved);
    let (paid, v) = session
        .step(&s, &o, PayRequest::new(&o, "live").manifest("b3-live"))
        .await;
    assert_eq!(session.last.as_ref().unwrap().units, 12);
    assert_eq!((v.nonces, paid.st.balance.as_str()), (vec![2], "4"));
    assert_eq!(paid.st.sequence_number, 1);

    // 945–1024: fixed, EV 3, price 3, inPixels ignored, maxPrice 4 → 1 ticket, "0"; twice.
    let (face3, wp3) = exact_ev(3);
    let o = s.orch(face3, wp3, (3, 1)).await;
    let mut session = Session::new();
    let max = r#"{"price":4,"currency":"wei","unit":"fixed"}"#;
    let (paid, v) = session
        .step(
            &s,
            &o,
            PayRequest::new(&o, "fixed").pixels(1_000_000).max_price(max),
        )
        .await;
    assert_eq!((v.nonces.len(), paid.st.balance.as_str()), (1, "0"));
    assert_eq!((paid.st.job_type.as_str(), paid.st.sequence_number), ("fixed", 0));
    let (paid, v) = session
        .step(
            &s,
            &o,
            PayRequest::new(&o, "fixed")
                .pixels(1_000_000)
                .max_price(max)
                .manifest("fixed-manifest"),
        )
        .await;
    assert_eq!((v.nonces, paid.st.balance.as_str()), (vec![2], "0"));
    assert_eq!((paid.st.job_type.as_str(), paid.st.sequence_number), ("fixed", 1));
}

// ---------------------------------------------------------------------------
// vectors.md §B4: the auth webhook

/// The B4 fixture: fixed, O price 1, EV 1.
async fn b4_orch(s: &Signer) -> Orch {
    let (face, wp) = exact_ev(1);
    s.orch(face, wp, (1, 1)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b4_webhook_outbound_request_and_state_fields() {
    let hook = Webhook::start();
    let s = Signer::start(&format!("[payments]\n{}", webhook_toml(&hook.url))).await;
    let o = b4_orch(&s).await;
    let app = "live-video-to-video/scope";

    // 1225: the outbound request.
    let req = PayRequest::new(&o, "fixed")
        .app(app)
        .manifest("b4")
        .header("X-Request-Id", "req-123");
    let mut session = Session::new();
    let (paid, _) = session.step(&s, &o, req).await;
    assert_eq!(hook.calls(), 1);
    let call = hook.last();
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/authorize");
    assert_eq!(call.header("Authorization"), Some("Bearer abc"));
    assert_eq!(call.header("X-API-Key"), Some("secret"));
    assert_eq!(call.header("Content-Type"), Some("application/json"));
    let body = call.json();
    let text = String::from_utf8(call.body.clone()).unwrap();
    assert!(text.starts_with("{\"headers\":{"), "{text}");
    assert!(text.contains("},\"state\":{\"StateID\":"), "{text}");
    let headers = body["headers"].as_object().unwrap();
    assert_eq!(
        body["headers"]["X-Request-Id"],
        serde_json::json!(["req-123"]),
        "{text}"
    );
    assert_eq!(
        body["headers"]["Content-Type"],
        serde_json::json!(["application/json"]),
        "{text}"
    );
    assert!(!headers.contains_key("Host"), "Host is removed: {text}");
    let keys: Vec<&String> = headers.keys().collect();
    assert!(
        text.find("\"Content-Type\"").unwrap() < text.find("\"X-Request-Id\"").unwrap(),
        "sorted keys: {keys:?}"
    );
    for k in keys {
        assert!(
            k.split('-')
                .all(|p| p.chars().next().is_some_and(|c| c.is_ascii_uppercase())),
            "canonical MIME header name: {k}"
        );
    }
    assert_eq!(body["state"]["PMSessionID"], o.pm_session_id());
    assert_eq!(body["state"]["App"], app);
    // The state the webhook sees is the new state (before the auth fields change).
    let returned: serde_json::Value = serde_json::from_slice(&paid.wire.state).unwrap();
    assert_eq!(
        body["state"], returned,
        "the webhook sees the state that is then signed"
    );

    // 1268: {"status":200}.
    hook.answer_json(r#"{"status":200}"#);
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").app(app).manifest("b4"))
        .await;
    // 1273: expiry.
    let e = unix_now() - 5; // in the past: caching stays off for the next rows
    hook.answer_json(&format!(r#"{{"status":200,"expiry":{e}}}"#));
    let (paid, _) = session
        .step(&s, &o, PayRequest::new(&o, "fixed").app(app).manifest("b4"))
        .await;
    assert_eq!(paid.st.auth_expiry, e);
    // An absent expiry turns caching off again.
    hook.answer_json(r#"{"status":200}"#);
    let (paid, _) = session
        .step(&s, &o, PayRequest::new(&o, "fixed").app(app).manifest("b4"))
        .await;
    assert_eq!(paid.st.auth_expiry, 0);
    assert_eq!(hook.calls(), 4);

    // 1279 / 1285 / 1292: auth ids (new sessions).
    let cases = [
        (
            r#"{"status":200,"auth_id":"webhook-auth-id"}"#,
            None,
            "webhook-auth-id",
        ),
        (r#"{"status":200}"#, Some("header-auth-id"), "header-auth-id"),
        (
            r#"{"status":200,"auth_id":"webhook-auth-id"}"#,
            Some("header-auth-id"),
            "webhook-auth-id",
        ),
    ];
    for (answer, header, want) in cases {
        hook.answer_json(answer);
        let mut req = PayRequest::new(&o, "fixed");
        if let Some(h) = header {
            req = req.header("Signer-Auth-Id", h);
        }
        let mut fresh = Session::new();
        let (paid, _) = fresh.step(&s, &o, req).await;
        assert_eq!(paid.st.auth_id, want, "{answer} / {header:?}");
        let seen = hook.last().json();
        assert_eq!(
            seen["state"]["AuthID"], "",
            "the webhook sees the incoming AuthID"
        );
        if let Some(h) = header {
            assert_eq!(seen["headers"]["Signer-Auth-Id"], serde_json::json!([h]));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b4_webhook_headers_file() {
    let hook = Webhook::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webhook-headers");
    std::fs::write(&file, "Authorization: Bearer abc\nX-API-Key: secret\n").unwrap();
    let s = Signer::start(&format!(
        "[payments]\n\n[payments.webhook]\nurl = {:?}\nheaders_file = {:?}\ntimeout_ms = 5000\n",
        hook.url,
        file.display().to_string()
    ))
    .await;
    let o = b4_orch(&s).await;
    Session::new().step(&s, &o, PayRequest::new(&o, "fixed")).await;
    let call = hook.last();
    assert_eq!(call.header("Authorization"), Some("Bearer abc"));
    assert_eq!(call.header("X-API-Key"), Some("secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b4_webhook_refusals_and_failures_sign_nothing() {
    let hook = Webhook::start();
    let s = Signer::start(&format!(
        "[payments]\n\n[payments.webhook]\nurl = {:?}\nheaders = {{ Authorization = \"Bearer abc\", X-API-Key = \"secret\" }}\ntimeout_ms = 700\n",
        hook.url
    ))
    .await;
    let o = b4_orch(&s).await;
    let req = PayRequest::new(&o, "fixed").manifest("refused");
    let m0 = s.metrics().await;
    let sigs0 = metric(&m0, "livepeer_signer_signatures_total{backend=\"keystore\"}");
    let failures0 = metric_sum(&m0, "livepeer_signer_webhook_failures_total");

    let rows: Vec<(Answer, u16, &str)> = vec![
        // 1299: no status.
        (Answer::ok(r#"{"expiry":123}"#), 500, "Internal Server Error"),
        (Answer::ok(r#"{"status":0}"#), 500, "Internal Server Error"),
        (Answer::ok("not json"), 500, "Internal Server Error"),
        // 1305.
        (Answer::ok(r#"{"status":403,"reason":"denied"}"#), 403, "denied"),
        // 1311.
        (
            Answer::ok(r#"{"status":429}"#),
            429,
            "signer auth rejected request with status 429",
        ),
        // The webhook's own 500 / 503 are masked like any other.
        (
            Answer::ok(r#"{"status":500,"reason":"secret detail"}"#),
            500,
            "Internal Server Error",
        ),
        (
            Answer::ok(r#"{"status":503,"reason":"busy"}"#),
            503,
            "Service Unavailable Error",
        ),
        // 1317: HTTP 401.
        (Answer::http(401, "denied"), 500, "Internal Server Error"),
        (
            Answer::http(500, r#"{"status":200}"#),
            500,
            "Internal Server Error",
        ),
        // Too slow (timeout_ms 700).
        (
            Answer::ok(r#"{"status":200}"#).after(Duration::from_millis(2000)),
            500,
            "Internal Server Error",
        ),
        // 1122: an invalid maxPrice → 502.
        (
            Answer::ok(r#"{"status":200,"maxPrice":{"price":2,"currency":"usd","unit":"fixed"}}"#),
            502,
            "signer auth invalid maxPrice: maxPrice.currency must be wei",
        ),
        // 1103: maxPrice 0.5 < O price 1 → 481.
        (
            Answer::ok(r#"{"status":200,"maxPrice":{"price":0.5,"currency":"wei","unit":"fixed"}}"#),
            481,
            "orchestrator price 1.000 exceeds auth webhook maxPrice ceiling 0.500",
        ),
    ];
    let n = rows.len();
    for (i, (answer, status, message)) in rows.into_iter().enumerate() {
        hook.answer(answer);
        let resp = s.pay(&req).await;
        resp.expect_exact(status, message);
        assert!(!resp.body.contains("State"), "a refusal returns no state");
        assert_eq!(hook.calls(), i + 1);
    }
    // Authorize before signing: not one signature for any of these.
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, "livepeer_signer_signatures_total{backend=\"keystore\"}"),
        sigs0,
        "a refused caller costs no signature"
    );
    assert!(
        metric_sum(&m, "livepeer_signer_webhook_failures_total") >= failures0 + 6.0,
        "webhook failures counted:\n{m}"
    );
    assert!(metric_sum(&m, "livepeer_signer_webhook_duration_seconds_count") >= n as f64);
    assert_eq!(metric(&m, "livepeer_signer_payments_total{status=\"403\"}"), 1.0);
    assert_eq!(metric(&m, "livepeer_signer_payments_total{status=\"502\"}"), 1.0);
    // The audit says why.
    let audits = s.wait_payment_audits(n).await;
    let refused: Vec<_> = audits
        .iter()
        .filter(|a| field(a, "outcome").as_deref() == Some("refused"))
        .collect();
    assert_eq!(refused.len(), n, "{audits:?}");
    let denied = refused
        .iter()
        .find(|a| field(a, "status").as_deref() == Some("403"))
        .unwrap_or_else(|| panic!("no refused line with status 403: {refused:?}"));
    assert!(refusal_text(denied).contains("denied"), "{denied}");
    // And the next accepted call signs as usual.
    hook.answer_json(r#"{"status":200}"#);
    Session::new().step(&s, &o, req.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b4_webhook_expiry_caching_and_auth_id_changes() {
    let hook = Webhook::start();
    let s = Signer::start(&format!("[payments]\n{}", webhook_toml(&hook.url))).await;
    let o = b4_orch(&s).await;
    let req = || PayRequest::new(&o, "fixed").manifest("cache");

    // 1357: cached for 5 minutes with an auth id and a maxPrice.
    let exp = unix_now() + 300;
    hook.answer_json(&format!(
        r#"{{"status":200,"expiry":{exp},"auth_id":"cached-auth-id","maxPrice":{{"price":2,"currency":"wei","unit":"fixed"}}}}"#
    ));
    let mut session = Session::new();
    let (paid, _) = session.step(&s, &o, req()).await;
    assert_eq!(
        (paid.st.auth_expiry, paid.st.auth_id.as_str()),
        (exp, "cached-auth-id")
    );
    assert_eq!(hook.calls(), 1);
    let (paid, _) = session.step(&s, &o, req()).await;
    assert_eq!(hook.calls(), 1, "within AuthExpiry the webhook is skipped");
    assert_eq!(
        (paid.st.auth_expiry, paid.st.auth_id.as_str()),
        (exp, "cached-auth-id")
    );
    let sigs = s.signatures().await;
    s.pay(
        &req()
            .state(session.prev.as_ref().unwrap())
            .header("Signer-Auth-Id", "new-header-auth-id"),
    )
    .await
    .expect_exact(500, "Internal Server Error");
    assert_eq!(s.signatures().await, sigs, "an auth id change signs nothing");
    // The same id is fine.
    session
        .step(&s, &o, req().header("Signer-Auth-Id", "cached-auth-id"))
        .await;
    assert_eq!(hook.calls(), 1);

    // 1402: an expiry in the past: called on every request.
    hook.answer_json(&format!(r#"{{"status":200,"expiry":{}}}"#, unix_now() - 60));
    let mut session = Session::new();
    session.step(&s, &o, req()).await;
    session.step(&s, &o, req()).await;
    assert_eq!(hook.calls(), 3);

    // 1427: state AuthID cached-auth-id, the webhook now says updated-auth-id.
    hook.answer_json(r#"{"status":200,"auth_id":"cached-auth-id"}"#);
    let mut session = Session::new();
    session.step(&s, &o, req()).await;
    hook.answer_json(r#"{"status":200,"auth_id":"updated-auth-id"}"#);
    let sigs = s.signatures().await;
    s.pay(&req().state(session.prev.as_ref().unwrap()))
        .await
        .expect_exact(500, "Internal Server Error");
    assert_eq!(s.signatures().await, sigs);
    assert_eq!(hook.calls(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b4_ceiling_precedence_and_webhook_call_count() {
    let hook = Webhook::start();
    hook.answer_json(r#"{"status":200,"maxPrice":{"price":2,"currency":"wei","unit":"fixed"}}"#);
    let chain = Chain::start(payments::one_eth(), payments::one_eth()).await;
    let s = Signer::on(
        Some(chain),
        &format!(
            "[payments]\nmax_price_per_unit = \"3\"\n{}",
            webhook_toml(&hook.url)
        ),
        1500,
    )
    .await;
    let (face, wp) = exact_ev(1);
    // Equality (O 2 = webhook 2) is accepted.
    let mut o = s.orch(face, wp, (2, 1)).await;
    let mut session = Session::new();
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("p"))
        .await;
    assert_eq!(hook.calls(), 1);
    // Request maxPrice 1.5 < O 7/4.
    o.set_price(7, 4);
    s.pay(
        &PayRequest::new(&o, "fixed")
            .manifest("p")
            .state(session.prev.as_ref().unwrap())
            .max_price(r#"{"price":1.5,"currency":"wei","unit":"fixed"}"#),
    )
    .await
    .expect_exact(
        481,
        "orchestrator price 1.750 exceeds request maxPrice ceiling 1.500",
    );
    // Initial 2/1 < O 9/4.
    o.set_price(9, 4);
    s.pay(
        &PayRequest::new(&o, "fixed")
            .manifest("p")
            .state(session.prev.as_ref().unwrap()),
    )
    .await
    .expect_exact(
        481,
        "orchestrator price 2.250 exceeds initial session price ceiling 2.000",
    );
    assert_eq!(
        hook.calls(),
        1,
        "the webhook is called only when the pre-checks pass"
    );
    drop(s);

    // Configured 3/2 < O 7/4; then the webhook's 0.5 < O 1.
    let chain = Chain::start(payments::one_eth(), payments::one_eth()).await;
    let s = Signer::on(
        Some(chain),
        &format!(
            "[payments]\nmax_price_per_unit = \"3/2\"\n{}",
            webhook_toml(&hook.url)
        ),
        1500,
    )
    .await;
    let mut o = s.orch(face, wp, (7, 4)).await;
    s.pay(&PayRequest::new(&o, "fixed")).await.expect_exact(
        481,
        "orchestrator price 1.750 exceeds configured maximum price ceiling 1.500",
    );
    assert_eq!(hook.calls(), 1);
    hook.answer_json(r#"{"status":200,"maxPrice":{"price":0.5,"currency":"wei","unit":"fixed"}}"#);
    o.set_price(1, 1);
    s.pay(&PayRequest::new(&o, "fixed")).await.expect_exact(
        481,
        "orchestrator price 1.000 exceeds auth webhook maxPrice ceiling 0.500",
    );
    assert_eq!(hook.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signer_auth_id_binds_without_a_webhook() {
    // 1095: no webhook configured → 200; the header alone binds the id.
    let s = Signer::start(PAYMENTS).await;
    let o = b4_orch(&s).await;
    let req = || PayRequest::new(&o, "fixed").manifest("bind");
    let mut session = Session::new();
    let (paid, _) = session.step(&s, &o, req()).await;
    assert_eq!(paid.st.auth_id, "");
    let (paid, _) = session.step(&s, &o, req().header("Signer-Auth-Id", "gw-1")).await;
    assert_eq!(paid.st.auth_id, "gw-1", "an empty AuthID is bound by the header");
    let (paid, _) = session.step(&s, &o, req()).await;
    assert_eq!(paid.st.auth_id, "gw-1", "no header keeps the binding");
    let (paid, _) = session.step(&s, &o, req().header("Signer-Auth-Id", "gw-1")).await;
    assert_eq!(paid.st.auth_id, "gw-1");
    let sigs = s.signatures().await;
    s.pay(
        &req()
            .state(session.prev.as_ref().unwrap())
            .header("Signer-Auth-Id", "gw-2"),
    )
    .await
    .expect_exact(500, "Internal Server Error");
    assert_eq!(s.signatures().await, sigs);
}

// ---------------------------------------------------------------------------
// 480

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_480_auth_token_near_expiry() {
    let s = Signer::start(PAYMENTS).await;
    let (face, wp) = exact_ev(1);
    let mut o = s.orch(face, wp, (1, 1)).await;
    let mut session = Session::new();
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("t"))
        .await;
    let sigs = s.signatures().await;
    for exp in [unix_now() + 170, unix_now() + 10, unix_now() - 60] {
        o.auth_token.as_mut().unwrap().expiration = exp;
        for state in [None, session.prev.clone()] {
            let mut req = PayRequest::new(&o, "fixed").manifest("t");
            req.state = state;
            s.pay(&req).await.expect_refresh(&o.transcoder);
        }
    }
    assert_eq!(s.signatures().await, sigs);
    // A fresh token (the gateway's GetOrchestrator): the session goes on.
    o.auth_token.as_mut().unwrap().expiration = unix_now() + 1800;
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("t"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_480_ticket_params_expire_as_blocks_are_mined() {
    let s = Signer::start(PAYMENTS).await;
    let (face, wp) = exact_ev(1);
    let mut o = s.orch(face, wp, (1, 1)).await;
    let block = s.chain().block().await;
    o.expiration_block = block + 4;
    let mut session = Session::new();
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("x"))
        .await;
    // L1 = expiration − 2: still valid.
    s.chain().anvil.mine(2).await;
    s.wait_l1(block + 2).await;
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("x"))
        .await;
    // L1 = expiration − 1: expired.
    s.chain().anvil.mine(1).await;
    s.wait_l1(block + 3).await;
    let sigs = s.signatures().await;
    for state in [None, session.prev.clone()] {
        let mut req = PayRequest::new(&o, "fixed").manifest("x");
        req.state = state;
        s.pay(&req).await.expect_refresh(&o.transcoder);
    }
    s.chain().anvil.mine(5).await;
    s.wait_l1(block + 8).await;
    s.pay(
        &PayRequest::new(&o, "fixed")
            .manifest("x")
            .state(session.prev.as_ref().unwrap()),
    )
    .await
    .expect_refresh(&o.transcoder);
    assert_eq!(s.signatures().await, sigs);
    // Fresh params from the O.
    o.refresh_params();
    o.expiration_block = block + 8 + 100;
    let (_, v) = session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("x"))
        .await;
    assert_eq!(v.nonces, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_480_nonce_guard_crafted_states_and_a_real_session() {
    let s = Signer::start(PAYMENTS).await;
    let (face, wp) = exact_ev(1);
    let o = s.orch(face, wp, (1, 1)).await;
    let orch_lower = format!("0x{}", hex::encode(&o.address));
    let now = go_rfc3339(OffsetDateTime::now_utc() - time::Duration::seconds(1));
    let crafted = |pm: &str, nonce: u32| {
        signed_state(
            go_state_json(
                "n0nce000",
                pm,
                &now,
                &orch_lower,
                "\"\"",
                0,
                nonce,
                "0",
                (1, 1),
                "fixed",
                7,
                "",
            )
            .as_bytes(),
        )
    };
    // 499: paid, nonces from 500.
    let mut session = Session::from_state(crafted(&o.pm_session_id(), 499));
    let (paid, v) = session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("n"))
        .await;
    assert_eq!(v.nonces, vec![500]);
    assert_eq!(paid.st.sequence_number, 8);
    // Its successor has nonce base 500: refresh.
    let sigs = s.signatures().await;
    s.pay(&PayRequest::new(&o, "fixed").manifest("n").state(&paid.wire))
        .await
        .expect_refresh(&o.transcoder);
    s.pay(
        &PayRequest::new(&o, "fixed")
            .manifest("n")
            .state(&crafted(&o.pm_session_id(), 500)),
    )
    .await
    .expect_refresh(&o.transcoder);
    s.pay(
        &PayRequest::new(&o, "fixed")
            .manifest("n")
            .state(&crafted(&o.pm_session_id(), 4_000_000_000)),
    )
    .await
    .expect_refresh(&o.transcoder);
    assert_eq!(s.signatures().await, sigs);
    // The same nonce under other ticket params: a new nonce series.
    let old = format!("0x{}", hex::encode(B256::repeat_byte(0xab)));
    let mut other = Session::from_state(crafted(&old, 500));
    let (_, v) = other
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("n"))
        .await;
    assert_eq!(v.nonces, vec![1]);

    // A real session: 99 px at 1000 wei/px with EV just under 1000 →
    // 100 tickets, then 99 per call, until the base reaches 500.
    let mut o = s.orch(u(1000), win_almost_always(), (1000, 1)).await;
    let mut session = Session::new();
    let mut calls = 0;
    loop {
        let base = session.prev.as_ref().map_or(0, |w| w.parsed().sender_nonce);
        let req = PayRequest::new(&o, "").manifest("guard").pixels(99);
        if base >= 500 {
            s.pay(&req.state(session.prev.as_ref().unwrap()))
                .await
                .expect_refresh(&o.transcoder);
            break;
        }
        session.step(&s, &o, req).await;
        calls += 1;
        assert!(calls < 10);
    }
    let last = session.prev.as_ref().unwrap().parsed();
    assert!((500..600).contains(&last.sender_nonce), "{}", last.sender_nonce);
    // After the refresh the gateway brings new params: nonce 1 again.
    o.refresh_params();
    let (_, v) = session
        .step(&s, &o, PayRequest::new(&o, "").manifest("guard").pixels(99))
        .await;
    assert_eq!(v.nonces[0], 1);
}

// ---------------------------------------------------------------------------
// 481, 482, 500, 400 from the chain checks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceilings_481_configured_global_and_per_capability() {
    let config = "[payments]\nmax_price_per_unit = \"1/3\"\n\n\
         [[payments.max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"livepeer/model1\"\nprice_per_unit = 2\npixels_per_unit = 1\n\n\
         [[payments.max_price_per_capability]]\npipeline = \"live-video-to-video\"\nmodel = \"default\"\nprice_per_unit = \"10/2\"\npixels_per_unit = 1\n";
    let s = Signer::start(config).await;
    let (face, wp) = exact_ev(1);
    let o = s.orch(face, wp, (1, 1)).await;
    let sigs = s.signatures().await;
    let with = |ppu: i64, pix: i64| {
        let mut x = o.clone();
        x.set_price(ppu, pix);
        x
    };
    let model1 = payments::lv2v_caps(&["livepeer/model1"]);
    let other = payments::lv2v_caps(&["other-model"]);
    let both = payments::lv2v_caps(&["livepeer/model1", "other-model"]);
    let cases: Vec<(
        Orch,
        Option<&livepeer_signer::livepeer::proto::Capabilities>,
        &str,
    )> = vec![
        (
            with(1, 2),
            None,
            "orchestrator price 0.500 exceeds configured maximum price ceiling 0.333",
        ),
        (
            with(3, 1),
            Some(&model1),
            "orchestrator price 3.000 exceeds configured maximum price ceiling 2.000",
        ),
        (
            with(6, 1),
            Some(&other),
            "orchestrator price 6.000 exceeds configured maximum price ceiling 5.000",
        ),
        (
            with(8, 1),
            Some(&both),
            "orchestrator price 8.000 exceeds configured maximum price ceiling 7.000",
        ),
    ];
    for (x, caps, message) in &cases {
        let mut req = PayRequest::new(x, "").pixels(1);
        if let Some(c) = caps {
            req = req.caps(c);
        }
        s.pay(&req).await.expect_exact(481, message);
    }
    assert_eq!(s.signatures().await, sigs);
    // Equality is accepted for each source.
    for (x, caps, px) in [
        (with(1, 3), None, 3),
        (with(2, 1), Some(&model1), 1),
        (with(5, 1), Some(&other), 1),
        (with(7, 1), Some(&both), 1),
    ] {
        let mut req = PayRequest::new(&x, "").pixels(px);
        if let Some(c) = caps {
            req = req.caps(c);
        }
        Session::new().step(&s, &x, req).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceilings_481_request_initial_session_and_webhook() {
    let hook = Webhook::start();
    let s = Signer::start(&format!("[payments]\n{}", webhook_toml(&hook.url))).await;
    let (face, wp) = exact_ev(1);
    let mut o = s.orch(face, wp, (102, 1)).await;
    // Request maxPrice for each type and unit.
    for (t, unit) in [
        ("live", "seconds"),
        ("lv2v", "720p-pixel-seconds"),
        ("fixed", "fixed"),
    ] {
        s.pay(&PayRequest::new(&o, t).max_price(&format!(
            r#"{{"price":"101.2","currency":"wei","unit":"{unit}"}}"#
        )))
        .await
        .expect_exact(
            481,
            "orchestrator price 102.000 exceeds request maxPrice ceiling 101.200",
        );
    }
    assert_eq!(hook.calls(), 0);
    // Initial session price.
    o.set_price(100, 1);
    let (face, wp) = exact_ev(100);
    o.face_value = face;
    o.win_prob = wp;
    let mut session = Session::new();
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("i"))
        .await;
    o.set_price(150, 1);
    s.pay(
        &PayRequest::new(&o, "fixed")
            .manifest("i")
            .state(session.prev.as_ref().unwrap()),
    )
    .await
    .expect_exact(
        481,
        "orchestrator price 150.000 exceeds initial session price ceiling 100.000",
    );
    // The failure consumed nothing: back at 100 the session goes on; lower is fine too.
    o.set_price(100, 1);
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("i"))
        .await;
    o.set_price(90, 1);
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("i"))
        .await;
    assert_eq!(hook.calls(), 3);
    // Webhook maxPrice.
    hook.answer_json(r#"{"status":200,"maxPrice":{"price":"89","currency":"wei","unit":"fixed"}}"#);
    let sigs = s.signatures().await;
    s.pay(
        &PayRequest::new(&o, "fixed")
            .manifest("i")
            .state(session.prev.as_ref().unwrap()),
    )
    .await
    .expect_exact(
        481,
        "orchestrator price 90.000 exceeds auth webhook maxPrice ceiling 89.000",
    );
    assert_eq!(s.signatures().await, sigs);
    assert_eq!(hook.calls(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tickets_482_when_the_balance_covers_the_fee() {
    let s = Signer::start(PAYMENTS).await;
    let (face, wp) = exact_ev(35);
    let o = s.orch(face, wp, (1, 1)).await;
    let req = || PayRequest::new(&o, "").manifest("482").pixels(1);
    let mut session = Session::new();
    let (paid, _) = session.step(&s, &o, req()).await;
    assert_eq!(paid.st.balance, "34");
    let (paid, _) = session.step(&s, &o, req()).await;
    assert_eq!(paid.st.balance, "68");
    let sigs = s.signatures().await;
    let resp = s.pay(&req().state(session.prev.as_ref().unwrap())).await;
    resp.expect_exact(482, "no tickets");
    assert!(!resp.body.contains("State"));
    // The same state again: still nothing to pay.
    s.pay(&req().state(session.prev.as_ref().unwrap()))
        .await
        .expect_exact(482, "no tickets");
    assert_eq!(s.signatures().await, sigs);
    // A bigger bill from the same state: paid (fee 100, balance 68 → 1 ticket, "3").
    let (paid, v) = session.step(&s, &o, req().pixels(100)).await;
    assert_eq!((v.nonces, paid.st.balance.as_str()), (vec![3], "3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_500_and_the_ticket_param_checks_against_the_chain() {
    let s =
        Signer::start("[payments]\nmax_ticket_ev = \"40\"\nmax_total_ev = \"100\"\ndeposit_multiplier = 2\n")
            .await;
    let (face, wp) = exact_ev(35);
    let o = s.orch(face, wp, (1, 1)).await;
    let sigs = s.signatures().await;
    // 3 tickets × 35 > max_total_ev 100: the batch fails → masked 500.
    s.pay(&PayRequest::new(&o, "").pixels(105))
        .await
        .expect_exact(500, "Internal Server Error");
    assert_eq!(s.signatures().await, sigs);
    // 2 × 35 = 70 is fine.
    Session::new()
        .step(&s, &o, PayRequest::new(&o, "").pixels(70))
        .await;
    // One ticket above max_ticket_ev: refused by the refresh check (400, Go's text).
    let (face, wp) = exact_ev(41);
    let x = s.orch(face, wp, (1, 1)).await;
    s.pay(&PayRequest::new(&x, "").pixels(1)).await.expect_exact(
        400,
        "remote signer could not check whether to refresh session: ticket EV 41.00000 > max ticket EV 40.00000",
    );
    // Face value above deposit / deposit_multiplier (1 ETH / 2): the
    // single-ticket check of step 14 refuses it (400), as go-livepeer does.
    let half = payments::one_eth() / u(2);
    let tiny = payments::MAX_WIN_PROB / u(10u64.pow(12)) / u(500_000);
    let x = s.orch(half + u(1), tiny, (1, 1)).await;
    s.pay(&PayRequest::new(&x, "").pixels(1)).await.expect_exact(
        400,
        &format!(
            "remote signer could not check whether to refresh session: ticket faceValue {} > max faceValue {half}",
            half + u(1)
        ),
    );
    assert_eq!(
        s.signatures().await,
        sigs + 4.0,
        "2 tickets, 1 state, 1 segment credential"
    );
    // Exactly deposit / multiplier is fine (EV ≈ 1 wei; these tickets rarely win,
    // the EVM check still accepts every signature).
    let x = s.orch(half, tiny, (1, 1)).await;
    let ev = x.ev();
    assert!(ev > r("0") && ev < r("2"), "{ev}");
    Session::new()
        .step(&s, &x, PayRequest::new(&x, "").pixels(1))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfunded_sender_is_refused_with_gos_messages() {
    let chain = Chain::start(U256::ZERO, U256::ZERO).await;
    let s = Signer::on(Some(chain), PAYMENTS, 1500).await;
    let (face, wp) = exact_ev(1);
    let o = s.orch(face, wp, (1, 1)).await;
    let req = PayRequest::new(&o, "").pixels(1);
    s.pay(&req).await.expect_exact(
        400,
        "remote signer could not check whether to refresh session: no sender reserve",
    );
    // Reserve only: no deposit.
    s.chain().fund(U256::ZERO, payments::one_eth()).await;
    let block = s.chain().block().await;
    s.wait_l1(block).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resp = s.pay(&req).await;
        if resp.status == 400 && resp.message().ends_with("no sender deposit") {
            resp.expect_exact(
                400,
                "remote signer could not check whether to refresh session: no sender deposit",
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", resp.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.chain().fund(payments::one_eth(), U256::ZERO).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resp = s.pay(&req).await;
        if resp.status == 200 {
            s.verify(&o, &req, &resp.paid()).await;
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", resp.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------
// Access: scopes, spend limits; chain availability

const LIMITED: &str = "limited-gateway-token-0123456789";
const FREE: &str = "free-gateway-token-0123456789";
const ORCH_ONLY: &str = "orch-info-only-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_scope_live_payment_and_the_per_token_spend_limit() {
    let config = format!(
        "{PAYMENTS}\n[[auth.tokens]]\nname = \"gw-limited\"\nsha256 = \"{}\"\nscopes = [\"live-payment\"]\nmax_ev_per_minute = \"105\"\n\n\
         [[auth.tokens]]\nname = \"gw-free\"\nsha256 = \"{}\"\nscopes = [\"live-payment\", \"orchestrator-info\"]\n\n\
         [[auth.tokens]]\nname = \"gw-orch\"\nsha256 = \"{}\"\n",
        hex::encode(token_sha256(LIMITED)),
        hex::encode(token_sha256(FREE)),
        hex::encode(token_sha256(ORCH_ONLY)),
    );
    let s = Signer::start(&config).await;
    let (face, wp) = exact_ev(35);
    let o = s.orch(face, wp, (35, 1)).await;
    let bearer = |t: &str| format!("Bearer {t}");
    let req = |t: &str| {
        PayRequest::new(&o, "fixed")
            .manifest("spend")
            .header("Authorization", &bearer(t))
    };
    let sigs = s.signatures().await;
    // No token; a token without the scope.
    assert_eq!(s.pay(&PayRequest::new(&o, "fixed")).await.status, 401);
    s.pay(&req(ORCH_ONLY)).await.expect(403, "live-payment");
    assert_eq!(s.signatures().await, sigs);

    // 35 wei of EV per call: 3 calls reach the limit of 105, the 4th would exceed it.
    let mut session = Session::new();
    for _ in 0..3 {
        session.step(&s, &o, req(LIMITED)).await;
    }
    let sigs = s.signatures().await;
    let resp = s.pay(&req(LIMITED).state(session.prev.as_ref().unwrap())).await;
    let m = resp.expect(429, "gw-limited");
    assert!(m.contains("105"), "the message names the limit: {m}");
    assert_eq!(s.signatures().await, sigs, "a spend-limit refusal signs nothing");
    let metrics = s.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "livepeer_signer_spend_limit_refusals_total{token=\"gw-limited\"}"
        ),
        1.0,
        "{metrics}"
    );
    // Another token is not limited by it, and continues the same session.
    for _ in 0..4 {
        session.step(&s, &o, req(FREE)).await;
    }
    // The audit lines name the token.
    let audits = s.wait_payment_audits(8).await;
    assert!(audits
        .iter()
        .any(|a| field(a, "outcome").as_deref() == Some("ok")
            && field(a, "token").as_deref() == Some("gw-free")));
    assert!(audits
        .iter()
        .any(|a| field(a, "outcome").as_deref() == Some("refused")
            && field(a, "status").as_deref() == Some("429")
            && field(a, "token").as_deref() == Some("gw-limited")
            && refusal_text(a).contains("gw-limited")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_chain_503_signs_nothing_and_recovers() {
    let mut s = Signer::start(PAYMENTS).await;
    let (face, wp) = exact_ev(1);
    let o = s.orch(face, wp, (1, 1)).await;
    let mut session = Session::new();
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("stale"))
        .await;
    s.chain.as_mut().unwrap().anvil.stop();
    s.wait_stale().await;
    let sigs = s.signatures().await;
    for state in [None, session.prev.clone()] {
        let mut req = PayRequest::new(&o, "fixed").manifest("stale");
        req.state = state;
        s.pay(&req).await.expect_exact(503, "Service Unavailable Error");
    }
    assert_eq!(s.signatures().await, sigs, "a stale chain view signs nothing");
    s.chain.as_mut().unwrap().anvil.restart();
    let block = s.chain().block().await;
    s.wait_l1(block).await;
    session
        .step(&s, &o, PayRequest::new(&o, "fixed").manifest("stale"))
        .await;
}

/// The chain view goes stale while the webhook deliberates: the view is
/// checked again before signing, so the call is refused and nothing signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_stale_during_the_webhook_signs_nothing() {
    let hook = Webhook::with(Answer::ok(r#"{"status":200}"#).after(Duration::from_millis(3500)));
    let s = Signer::start(&format!("[payments]\n{}", webhook_toml(&hook.url))).await;
    let (face, wp) = exact_ev(1);
    let o = s.orch(face, wp, (1, 1)).await;
    let sigs = s.signatures().await;
    let anvil = s.chain().anvil.pid().expect("anvil runs");
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &anvil.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {anvil}");
    };
    let req = PayRequest::new(&o, "fixed").manifest("slow-webhook");
    let (resp, ()) = tokio::join!(s.pay(&req), async {
        // The request is planned against a fresh view, then waits on the
        // webhook; freeze the node (our own anvil) so the view ages out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        signal("-STOP");
    });
    signal("-CONT");
    resp.expect_exact(503, "Service Unavailable Error");
    assert_eq!(hook.calls(), 1, "the webhook was asked (the first check passed)");
    assert_eq!(
        s.signatures().await,
        sigs,
        "nothing signed after the view went stale"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_chain_503() {
    let s = Signer::on(None, "", 1500).await;
    let (face, wp) = exact_ev(1);
    let o = Orch::new(face, wp, (1, 1), 100, (10, B256::repeat_byte(7)));
    let sigs = s.signatures().await;
    // Not masked (unlike other 503s): the message is the operator's fix.
    s.pay(&PayRequest::new(&o, "fixed")).await.expect_exact(
        503,
        "live payments are off: this signer has no [chain] section; set [chain] rpc_url to a node of the Livepeer network and restart",
    );
    assert_eq!(s.signatures().await, sigs);
    let audits = s.wait_payment_audits(1).await;
    let a = &audits[0];
    assert_eq!(field(a, "outcome").as_deref(), Some("refused"), "{a}");
    assert_eq!(field(a, "status").as_deref(), Some("503"), "{a}");
    assert!(refusal_text(a).contains("rpc_url"), "{a}");
}

// ---------------------------------------------------------------------------
// A state minted by go-livepeer

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_minted_states_continue() {
    let s = Signer::start(PAYMENTS).await;
    // EV just under 1e6; lv2v at 150/175 for ~2 s ≈ 47.4e6 wei → ~48 tickets.
    let o = s.orch(u(1_000_000), win_almost_always(), (150, 175)).await;
    let orch_lower = format!("0x{}", hex::encode(&o.address));

    // §3.3's example, UTC with nanoseconds, Balance "125/7", nonce 2 under these params.
    let last = OffsetDateTime::now_utc() - time::Duration::seconds(2);
    let json = go_state_json(
        "a1b2c3d4",
        &o.pm_session_id(),
        &go_rfc3339(last),
        &orch_lower,
        "\"\"",
        0,
        2,
        "125/7",
        (150, 175),
        "lv2v",
        0,
        "",
    );
    let mut session = Session::from_state(signed_state(json.as_bytes()));
    let (paid, v) = session
        .step(&s, &o, PayRequest::new(&o, "lv2v").manifest("go-minted"))
        .await;
    assert_eq!(v.nonces[0], 3, "nonces continue from the Go state's SenderNonce");
    assert_eq!(paid.st.state_id, "a1b2c3d4");
    assert_eq!(paid.st.sequence_number, 1);
    let e = session.last.clone().unwrap();
    assert!(e.units > 2 * 27_648_000, "{e:?}");
    // And on from our own state.
    session
        .step(&s, &o, PayRequest::new(&o, "lv2v").manifest("go-minted"))
        .await;

    // A non-UTC zone (a Go signer outside a UTC container), an app with
    // characters Go escapes, other ticket params (nonces restart).
    let zone = time::UtcOffset::from_hms(-5, 0, 0).unwrap();
    let last = (OffsetDateTime::now_utc() - time::Duration::milliseconds(1500)).to_offset(zone);
    let app = "live-video-to-video/a&b<c>";
    let app_json = payments::go_json(app);
    assert_eq!(app_json, "\"live-video-to-video/a\\u0026b\\u003cc\\u003e\"");
    let old = format!("0x{}", hex::encode(B256::repeat_byte(0x11)));
    let json = go_state_json(
        "0f0f0f0f",
        &old,
        &go_rfc3339(last),
        &orch_lower,
        &app_json,
        0,
        77,
        "1/3",
        (150, 175),
        "",
        41,
        "",
    );
    assert!(json.contains("-05:00"));
    let mut session = Session::from_state(signed_state(json.as_bytes()));
    let (paid, v) = session
        .step(&s, &o, PayRequest::new(&o, "lv2v").manifest("go-zone").app(app))
        .await;
    assert_eq!(v.nonces[0], 1);
    assert_eq!(
        (paid.st.state_id.as_str(), paid.st.sequence_number),
        ("0f0f0f0f", 42)
    );
    assert!(
        String::from_utf8_lossy(&paid.wire.state).contains("\\u0026b\\u003cc\\u003e"),
        "Go's <>& escaping in the signed state"
    );

    // An older Go state: keys in another case, App/Type/SequenceNumber/AuthID absent.
    let last = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let json = format!(
        "{{\"stateid\":\"0ld57a7e\",\"pmsessionid\":\"{}\",\"lastupdate\":\"{}\",\"orchestratoraddress\":\"{}\",\
         \"authexpiry\":0,\"sendernonce\":9,\"balance\":\"0\",\"initialpriceperunit\":150,\"initialpixelsperunit\":175}}",
        o.pm_session_id(),
        go_rfc3339(last),
        orch_lower.to_uppercase().replace("0X", "0x"),
    );
    let mut session = Session::from_state(signed_state(json.as_bytes()));
    let (paid, v) = session
        .step(&s, &o, PayRequest::new(&o, "lv2v").manifest("go-old"))
        .await;
    assert_eq!(v.nonces[0], 10);
    assert_eq!(
        (paid.st.state_id.as_str(), paid.st.sequence_number),
        ("0ld57a7e", 1)
    );
}

// ---------------------------------------------------------------------------
// Go JSON on the request side (§1.4), methods

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_json_is_read_as_go_reads_it() {
    let s = Signer::start(PAYMENTS).await;
    let (face, wp) = exact_ev(1);
    let mut o = s.orch(face, wp, (1, 1)).await;
    let b64 = |v: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(v)
    };
    // "state" null or absent: a new session; keys in any case; unknown keys ignored.
    for body in [
        format!(
            r#"{{"state":null,"orchestrator":"{}","type":"fixed"}}"#,
            b64(&o.bytes())
        ),
        format!(
            r#"{{"ORCHESTRATOR":"{}","Type":"fixed","unknown":[1,2]}}"#,
            b64(&o.bytes())
        ),
    ] {
        let resp = s.post_raw(&body, &[]).await;
        let paid = resp.paid();
        let req = PayRequest::new(&o, "fixed");
        s.verify(&o, &req, &paid).await;
        // Lower-case state keys and manifestId continue it.
        let body = format!(
            r#"{{"state":{{"state":"{}","sig":"{}"}},"orchestrator":"{}","manifestId":"lower","TYPE":"fixed"}}"#,
            b64(&paid.wire.state),
            b64(&paid.wire.sig),
            b64(&o.bytes())
        );
        let next = s.post_raw(&body, &[]).await.paid();
        assert_eq!(next.st.sequence_number, 1);
        assert_eq!(next.st.state_id, paid.st.state_id);
        s.verify(
            &o,
            &PayRequest::new(&o, "fixed").manifest("lower").state(&paid.wire),
            &next,
        )
        .await;
    }
    // Only padded standard base64 is []byte.
    while o.bytes().len() % 3 == 0 {
        o.transcoder.push('x');
    }
    let unpadded = b64(&o.bytes()).trim_end_matches('=').to_string();
    s.post_raw(&format!(r#"{{"orchestrator":"{unpadded}","type":"fixed"}}"#), &[])
        .await
        .expect(400, "");
    let urlsafe = b64(&o.bytes()).replace('+', "-").replace('/', "_");
    if urlsafe != b64(&o.bytes()) {
        s.post_raw(&format!(r#"{{"orchestrator":"{urlsafe}","type":"fixed"}}"#), &[])
            .await
            .expect(400, "");
    }
    // GET is not the route's method.
    let r = s
        .http
        .get(format!("{}/generate-live-payment", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "POST");
}

// ---------------------------------------------------------------------------
// Metrics and the audit log

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_audit_lines_per_payment() {
    let hook = Webhook::start();
    let s = Signer::start(&format!("[payments]\n{}", webhook_toml(&hook.url))).await;
    let (face, wp) = exact_ev(35);
    let o = s.orch(face, wp, (35, 1)).await;
    let req = || PayRequest::new(&o, "fixed").manifest("metrics");
    let m0 = s.metrics().await;
    let sigs0 = metric(&m0, "livepeer_signer_signatures_total{backend=\"keystore\"}");
    let mut session = Session::new();
    let mut states = Vec::new();
    for _ in 0..3 {
        let (paid, _) = session.step(&s, &o, req()).await;
        states.push(paid.st);
    }
    // A 481 (request maxPrice 34 < 35), a 400, a webhook refusal (403).
    s.pay(&req().max_price(r#"{"price":34,"currency":"wei","unit":"fixed"}"#))
        .await
        .expect(481, "request maxPrice");
    s.pay(&PayRequest::new(&o, "bogus"))
        .await
        .expect(400, "invalid job type");
    hook.then(Answer::ok(r#"{"status":403,"reason":"no credit"}"#));
    s.pay(&req().state(session.prev.as_ref().unwrap()))
        .await
        .expect_exact(403, "no credit");
    let m = s.metrics().await;
    let p = |status: &str| {
        metric(
            &m,
            &format!("livepeer_signer_payments_total{{status=\"{status}\"}}"),
        )
    };
    assert_eq!(
        (p("200"), p("481"), p("400"), p("403")),
        (3.0, 1.0, 1.0, 1.0),
        "{m}"
    );
    assert_eq!(metric(&m, "livepeer_signer_payment_tickets_total"), 3.0, "{m}");
    assert_eq!(metric(&m, "livepeer_signer_payment_ev_wei_total"), 105.0, "{m}");
    assert_eq!(metric(&m, "livepeer_signer_payment_fees_wei_total"), 105.0, "{m}");
    assert!(
        metric_sum(&m, "livepeer_signer_payment_duration_seconds_count") >= 3.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(&m, "livepeer_signer_webhook_duration_seconds_count"),
        4.0,
        "one webhook call per request that passed the pre-checks:\n{m}"
    );
    // 3 tickets + 3 states + 1 segment credential (one manifest id).
    assert_eq!(
        metric(&m, "livepeer_signer_signatures_total{backend=\"keystore\"}") - sigs0,
        7.0,
        "{m}"
    );

    let audits = s.wait_payment_audits(6).await;
    assert_eq!(audits.len(), 6, "one audit line per request: {audits:#?}");
    let ok: Vec<_> = audits
        .iter()
        .filter(|a| field(a, "outcome").as_deref() == Some("ok"))
        .collect();
    assert_eq!(ok.len(), 3);
    for (a, st) in ok.iter().zip(&states) {
        assert_eq!(field(a, "state_id").as_deref(), Some(st.state_id.as_str()), "{a}");
        assert_eq!(field(a, "seq"), Some(st.sequence_number.to_string()), "{a}");
        assert_eq!(
            field(a, "orchestrator").map(|x| x.to_lowercase()),
            Some(format!("0x{}", hex::encode(&o.address))),
            "{a}"
        );
        assert_eq!(field(a, "manifest_id").as_deref(), Some("metrics"), "{a}");
        assert_eq!(field(a, "tickets").as_deref(), Some("1"), "{a}");
        assert_eq!(field(a, "balance").as_deref(), Some(st.balance.as_str()), "{a}");
        for k in ["nonces", "fee", "ev", "auth_id", "token"] {
            assert!(field(a, k).is_some(), "audit line lacks {k}: {a}");
        }
        for k in ["fee", "ev"] {
            let v = field(a, k).unwrap();
            assert!(
                Rat::parse(&v).map(|x| x == r("35")).unwrap_or(false) || v.starts_with("35"),
                "{k} = {v}: {a}"
            );
        }
        assert!(
            field(a, "nonces").unwrap().contains(&st.sender_nonce.to_string()),
            "{a}"
        );
    }
    let refused: Vec<(String, String)> = audits
        .iter()
        .filter(|a| field(a, "outcome").as_deref() == Some("refused"))
        .map(|a| (field(a, "status").unwrap_or_default(), refusal_text(a)))
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|(st, r)| st == "481" && r.contains("request maxPrice")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(st, r)| st == "400" && r.contains("invalid job type")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(st, r)| st == "403" && r.contains("no credit")),
        "{refused:?}"
    );
}
