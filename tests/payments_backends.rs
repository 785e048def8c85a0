//! `POST /generate-live-payment` over every key backend, under concurrency
//! and in a soak: the real binary on real sockets, a real anvil running our
//! Livepeer test contracts, the §C key in a V3 keystore (C7), in a SoftHSM2
//! token (imported, as `pkcs11 import` does) and in the KMS emulator
//! (seeded), so the signer's address is the one funded in the TicketBroker.
//!
//! Every answer that is verified is checked as an orchestrator and the chain
//! would check it (`support/payments.rs`: every ticket by go-livepeer's
//! `VerifySig` rules and by the test TicketBroker's `checkWinningTicket` in
//! the EVM, segment credentials, state signature and Go layout), its nonces
//! against the state's `SenderNonce`, and its balance against spec §3.5's
//! arithmetic in exact rationals. HSM and KMS signatures are randomized:
//! they are verified, never compared as bytes.
//!
//! * `*_lv2v_session_*`: per backend, an lv2v session of 21 calls (a 98-ticket
//!   upfront payment, new ticket params half-way) and the §3.5 / vectors.md §C
//!   untyped example (25 tickets, then 61);
//! * `*_100_concurrent_sessions`: 100 clients, each with its own HTTP client,
//!   orchestrator and session, paying 4 times in parallel;
//! * `keystore_soak_10000_payments_rss_flat`: 10,000 payments against one
//!   daemon (25 sessions of 400 `fixed` calls, new ticket params every 200),
//!   every answer's status, layout, nonces and balance checked, one in ten
//!   fully verified, the daemon's RSS flat after warm-up (a leak check, not
//!   a timing assertion).
//!
//! Spec: ../shared/protocol/go-livepeer-remote-signer.md §3.
//!
//! Needs `tests/chain/setup.sh` (anvil, solc-js), SoftHSM2 (`pkcs11`
//! feature) and Python with moto (`aws-kms` feature); fails without them.

#[cfg(feature = "aws-kms")]
#[path = "support/kms.rs"]
mod kms;
#[cfg(feature = "pkcs11")]
#[path = "support/softhsm.rs"]
mod softhsm;
mod support;

#[path = "support/payments.rs"]
mod payments;

use std::any::Any;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use livepeer_signer::livepeer::payment::Rat;
use payments::{
    exact_ev, metric, metric_sum, one_eth, verify_payment, win_almost_always, Chain, Expected, Orch, Paid,
    PayRequest, Resp, Session, Verified,
};
use support::{Daemon, C_ADDRESS};
use time::OffsetDateTime;

/// go-livepeer's defaults, spelled out.
const PAYMENTS: &str = "[payments]\nmax_ticket_ev = \"3000000000000\"\n\
                        max_total_ev = \"20000000000000\"\ndeposit_multiplier = 1\n";

/// `[chain] max_staleness_ms` of these daemons: the view is polled every
/// 200 ms; a loaded 2-core machine must not turn a load test into a 503.
const MAX_STALENESS_MS: u64 = 5000;

fn u(n: u64) -> U256 {
    U256::from(n)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// A daemon over one backend

/// The real binary over one key backend, with `[chain]` on its own anvil
/// (the §C address funded: 1 ETH deposit, 1 ETH reserve) and `[payments]`.
struct Node {
    /// Dropped first: the daemon stops before its key store goes away.
    daemon: Daemon,
    chain: Chain,
    /// The `signatures_total{backend}` label.
    backend: &'static str,
    /// Temp dirs, the SoftHSM token, the KMS emulator: kept until the end.
    _keep: Vec<Box<dyn Any + Send + Sync>>,
}

impl Node {
    /// Appends `[log]`, `[chain]` and `[payments]` to `cfg` (which holds
    /// `[server]` on 127.0.0.1:0 and `[key]`), runs `cmd serve --config cfg`
    /// and waits until the daemon is ready with a fresh chain view.
    async fn start(
        backend: &'static str,
        chain: Chain,
        cfg: &Path,
        mut cmd: Command,
        keep: Vec<Box<dyn Any + Send + Sync>>,
    ) -> Node {
        let mut text = std::fs::read_to_string(cfg).unwrap();
        text.push_str("\n[log]\nlevel = \"info\"\nformat = \"json\"\n");
        text.push_str(&chain.toml(MAX_STALENESS_MS));
        text.push('\n');
        text.push_str(PAYMENTS);
        std::fs::write(cfg, &text).unwrap();
        cmd.arg("serve").arg("--config").arg(cfg);
        let daemon = Daemon::start(cmd);
        let node = Node {
            daemon,
            chain,
            backend,
            _keep: keep,
        };
        let block = node.chain.block().await;
        node.wait_ready(block).await;
        // The key is the §C key, the one funded on chain.
        let r = client()
            .post(format!("{}/sign-orchestrator-info", node.daemon.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["address"], C_ADDRESS, "{backend}: the signer's address");
        node
    }

    /// Waits until `/readyz` reports a fresh chain view at L1 block ≥ `block`.
    async fn wait_ready(&self, block: u64) {
        if let Err(last) = payments::ready_at(&client(), &self.daemon.url, block).await {
            panic!(
                "{}: never ready at block {block}: {last}\nlogs:\n{}",
                self.backend,
                self.daemon.logs()
            );
        }
    }

    /// An orchestrator valid now ([`Orch::new`]: expiration 100 blocks
    /// ahead, expiration params of the current round, auth token for an hour).
    async fn orch(&self, face: U256, win_prob: U256, price: (i64, i64)) -> Orch {
        Orch::new(
            face,
            win_prob,
            price,
            self.chain.block().await,
            self.chain.round().await,
        )
    }

    /// POSTs `req` to `/generate-live-payment` with `http`, as a gateway does.
    async fn pay(&self, http: &reqwest::Client, req: &PayRequest) -> Resp {
        let body = req.body();
        let mut rb = http
            .post(format!("{}/generate-live-payment", self.daemon.url))
            .header("Content-Type", "application/json")
            .body(body.clone());
        for (n, v) in &req.headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        let sent = OffsetDateTime::now_utc();
        let r = rb
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: POST /generate-live-payment: {e}", self.backend));
        let status = r.status().as_u16();
        let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
        let (content_type, orch_url) = (h("content-type"), h("livepeer-orchestrator-url"));
        let text = r.text().await.unwrap();
        Resp {
            status,
            content_type,
            orch_url,
            body: text,
            sent,
            received: OffsetDateTime::now_utc(),
            request: body.chars().take(600).collect(),
        }
    }

    /// The daemon's last few ERROR log lines (for failure messages: a 500's
    /// body is masked).
    fn errors(&self) -> String {
        let logs = self.daemon.logs();
        let errors: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("\"level\":\"ERROR\""))
            .collect();
        errors[errors.len().saturating_sub(3)..].join("\n")
    }

    /// `GET /metrics`.
    async fn metrics(&self) -> String {
        let r = client()
            .get(format!("{}/metrics", self.daemon.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().await.unwrap()
    }

    /// `livepeer_signer_signatures_total{backend=<this backend>}`.
    async fn signatures(&self) -> f64 {
        metric(
            &self.metrics().await,
            &format!("livepeer_signer_signatures_total{{backend=\"{}\"}}", self.backend),
        )
    }

    /// The daemon's resident set (`VmRSS` of /proc/<pid>/status), KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.daemon.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or_else(|| panic!("no VmRSS in /proc/{}/status:\n{status}", self.daemon.pid()))
    }
}

/// The C7 keystore.
async fn keystore_node() -> Node {
    let chain = Chain::start(one_eth(), one_eth()).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(dir.path());
    let cfg = support::write_keystore_config(dir.path(), &key, &pw);
    Node::start("keystore", chain, &cfg, support::bin(), vec![Box::new(dir)]).await
}

/// A fresh SoftHSM2 token holding the §C key (label `signer`, id 01).
#[cfg(feature = "pkcs11")]
async fn softhsm_node(name: &str) -> Node {
    let token = softhsm::Token::with_key(name, &support::c_key(), "signer");
    let chain = Chain::start(one_eth(), one_eth()).await;
    let cfg = token.config_file(Some("signer"), None);
    Node::start("pkcs11", chain, &cfg, softhsm::bin(), vec![Box::new(token)]).await
}

/// The KMS emulator with a key seeded with the §C key, under the harness's
/// 2 s connect and 10 s operation limits (2 attempts of 5 s).
#[cfg(feature = "aws-kms")]
async fn kms_node() -> Node {
    let emu = kms::KmsEmulator::start();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let chain = Chain::start(one_eth(), one_eth()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(dir.path(), &emu.endpoint, &key_id);
    let mut cmd = support::bin();
    kms::aws_env(&mut cmd, dir.path());
    // The emulator after the directory: both outlive the daemon.
    Node::start("aws-kms", chain, &cfg, cmd, vec![Box::new(dir), Box::new(emu)]).await
}

// ---------------------------------------------------------------------------
// A session, as a gateway drives it

/// One call of session `s` with `req` (its state replaced by the
/// session's): 200, verified as an orchestrator and the EVM would, and
/// checked as [`advance`] says.
async fn step(
    node: &Node,
    http: &reqwest::Client,
    s: &mut Session,
    orch: &Orch,
    mut req: PayRequest,
) -> (Paid, Verified, Expected) {
    req.state = s.prev.clone();
    let resp = node.pay(http, &req).await;
    if resp.status != 200 {
        panic!(
            "{}: expected 200, got {}: {}\nrequest: {}\ndaemon errors:\n{}",
            node.backend,
            resp.status,
            resp.body,
            resp.request,
            node.errors()
        );
    }
    let paid = resp.paid();
    let v = verify_payment(&node.chain, orch, &req, &paid).await;
    let e = s.advance(orch, &req, &paid, &v.nonces);
    (paid, v, e)
}

// ---------------------------------------------------------------------------
// 1. An lv2v session of 21 calls and a 25-ticket first call, per backend

async fn lv2v_session_and_many_tickets(node: &Node) {
    let started = Instant::now();
    let http = client();
    let sigs0 = node.signatures().await;

    // Price 1 wei/pixel; EV just under 17e6 wei, every ticket wins: the 60 s
    // preload (1 658 880 000 px) needs 98 tickets, a call ≥ 0.65 s later 1–2.
    let mut orch = node.orch(u(17_000_000), win_almost_always(), (1, 1)).await;
    let caps = payments::lv2v_caps(&["livepeer/model1"]);
    let mid = format!("stream-{:08x}", rand::random::<u32>());
    let mut session = Session::new();

    // The upfront payment: no state, no manifest id (the signer makes one).
    let (paid, v, e) = step(
        node,
        &http,
        &mut session,
        &orch,
        PayRequest::new(&orch, "lv2v").caps(&caps),
    )
    .await;
    let first_98 = (paid.received - paid.sent).as_seconds_f64() * 1000.0;
    assert_eq!(e.units, 1_658_880_000, "the first lv2v call bills 60 s");
    assert_eq!(e.tickets, 98);
    assert_eq!(v.nonces, (1..=98).collect::<Vec<u32>>());
    assert_eq!(v.winners, 98, "every ticket redeemable");
    let generated = v.manifest_id;

    let mut pm_sessions = vec![orch.pm_session_id()];
    for i in 1..21u64 {
        // fee ≥ EV (≥ 0.61 s of pixels) on every call: never 482.
        tokio::time::sleep(Duration::from_millis(650)).await;
        if i == 11 {
            // The O's PaymentResult brings new ticket params: nonces restart.
            orch.refresh_params();
            pm_sessions.push(orch.pm_session_id());
        }
        let req = PayRequest::new(&orch, "lv2v").manifest(&mid).caps(&caps);
        let (paid, v, e) = step(node, &http, &mut session, &orch, req).await;
        assert!(e.units >= 17_971_200, "call {i}: {e:?} (≥ 0.65 s of pixels)");
        if i == 11 {
            assert_eq!(v.nonces[0], 1, "new recipient_rand_hash: nonces restart at 1");
        }
        assert_eq!(paid.st.sequence_number, i);
        assert_eq!(paid.st.pm_session_id, *pm_sessions.last().unwrap());
        assert_eq!(v.winners, v.nonces.len());
    }
    assert_ne!(generated, mid);
    assert_eq!(session.calls, 21);
    let lv2v_tickets = session.tickets;

    // Spec §3.5 / vectors.md §C, untyped: price 150/175, EV 35 (face 105,
    // win probability 1/3), inPixels 1000 → fee 6000/7 → 25 tickets, balance
    // 125/7; then inPixels 2500 → fee 15000/7 → 61 tickets, balance 10.
    let (face, win) = exact_ev(35);
    let b3 = node.orch(face, win, (150, 175)).await;
    let mid2 = format!("b3-{:08x}", rand::random::<u32>());
    let mut s2 = Session::new();
    let (paid, v, e) = step(
        node,
        &http,
        &mut s2,
        &b3,
        PayRequest::new(&b3, "").manifest(&mid2).pixels(1000),
    )
    .await;
    let first_25 = (paid.received - paid.sent).as_seconds_f64() * 1000.0;
    assert_eq!((e.tickets, e.balance.clone()), (25, Rat::parse("125/7").unwrap()));
    assert_eq!(v.nonces, (1..=25).collect::<Vec<u32>>());
    let (_, v, e) = step(
        node,
        &http,
        &mut s2,
        &b3,
        PayRequest::new(&b3, "").manifest(&mid2).pixels(2500),
    )
    .await;
    assert_eq!((e.tickets, e.balance.rat_string()), (61, "10".to_string()));
    assert_eq!(v.nonces, (26..=86).collect::<Vec<u32>>());

    // Every signature came from this backend: tickets, one state per call,
    // one segment credential per manifest id (cached).
    let sigs = node.signatures().await - sigs0;
    let tickets = lv2v_tickets + s2.tickets;
    assert_eq!(
        sigs,
        (tickets + 21 + 2 + 3) as f64,
        "{}: signatures: {tickets} tickets, 23 states, 3 manifest ids",
        node.backend
    );
    eprintln!(
        "[payments_backends] {}: lv2v session of 21 calls ({lv2v_tickets} tickets) + B3 (86 tickets): \
         every ticket verified (VerifySig + EVM); round trip of the 98-ticket call {first_98:.0} ms, \
         of the 25-ticket call {first_25:.0} ms; wall {:.1} s",
        node.backend,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystore_lv2v_session_and_25_ticket_call() {
    let node = keystore_node().await;
    lv2v_session_and_many_tickets(&node).await;
}

#[cfg(feature = "pkcs11")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softhsm_lv2v_session_and_25_ticket_call() {
    let node = softhsm_node("payments-session").await;
    lv2v_session_and_many_tickets(&node).await;
}

#[cfg(feature = "aws-kms")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_lv2v_session_and_25_ticket_call() {
    let node = kms_node().await;
    lv2v_session_and_many_tickets(&node).await;
}

// ---------------------------------------------------------------------------
// 2. 100 concurrent sessions

const CLIENTS: usize = 100;
const CLIENT_CALLS: usize = 4;

/// 100 clients (each its own HTTP client, orchestrator, manifest id and
/// session) paying [`CLIENT_CALLS`] times each, all at once. Even clients
/// pay `live` (1500 wei/s, EV 1000: 15 tickets up front, then 1–2), odd
/// ones `fixed` (2500 wei per call, EV 1000: 3, 2, 3, 2 tickets, balances
/// 500, 0, …). Every answer verified; the signature count adds up.
async fn concurrent_sessions(node: Arc<Node>) {
    let started = Instant::now();
    let sigs0 = node.signatures().await;
    let (block, round) = (node.chain.block().await, node.chain.round().await);
    let (face, win) = exact_ev(1000);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let node = node.clone();
            tokio::spawn(async move {
                let http = client();
                let (job, price) = if i % 2 == 0 {
                    ("live", (3000, 2))
                } else {
                    ("fixed", (5000, 2))
                };
                let orch = Orch::new(face, win, price, block, round);
                let mid = format!("client-{i}-{:08x}", rand::random::<u32>());
                let mut s = Session::new();
                let mut tickets = Vec::new();
                for _ in 0..CLIENT_CALLS {
                    let (_, v, _) = step(
                        &node,
                        &http,
                        &mut s,
                        &orch,
                        PayRequest::new(&orch, job).manifest(&mid),
                    )
                    .await;
                    tickets.push(v.nonces.len());
                }
                if job == "fixed" {
                    assert_eq!(tickets, [3, 2, 3, 2], "client {i}");
                } else {
                    assert_eq!(tickets[0], 15, "client {i}: 10 s up front at 1500 wei/s");
                }
                s.tickets
            })
        })
        .collect();
    let mut tickets = 0;
    for t in tasks {
        tickets += t.await.expect("a client failed (see its panic above)");
    }
    let calls = CLIENTS * CLIENT_CALLS;
    let m = node.metrics().await;
    let sigs = metric(
        &m,
        &format!("livepeer_signer_signatures_total{{backend=\"{}\"}}", node.backend),
    ) - sigs0;
    assert_eq!(
        sigs,
        (tickets + calls as u64 + CLIENTS as u64) as f64,
        "{}: {tickets} tickets, {calls} states, {CLIENTS} manifest ids",
        node.backend
    );
    assert_eq!(
        metric_sum(&m, "livepeer_signer_payments_total"),
        calls as f64,
        "every answer counted once, all 200"
    );
    assert_eq!(
        metric(&m, "livepeer_signer_payments_total{status=\"200\"}"),
        calls as f64
    );
    eprintln!(
        "[payments_backends] {}: {CLIENTS} concurrent sessions, {calls} payments, {tickets} tickets, \
         every one verified; wall {:.1} s",
        node.backend,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystore_100_concurrent_sessions() {
    concurrent_sessions(Arc::new(keystore_node().await)).await;
}

#[cfg(feature = "pkcs11")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softhsm_100_concurrent_sessions() {
    concurrent_sessions(Arc::new(softhsm_node("payments-concurrent").await)).await;
}

#[cfg(feature = "aws-kms")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_100_concurrent_sessions() {
    // The first wave is ~1,100 Sign calls at once; the backend keeps at most
    // MAX_IN_FLIGHT (32) of them on the wire, so the emulator (~350
    // signatures/s, a 128-connection backlog) keeps up under the harness's
    // default timeouts.
    concurrent_sessions(Arc::new(kms_node().await)).await;
}

// ---------------------------------------------------------------------------
// 3. Soak: 10,000 payments, RSS flat

const SOAK_SESSIONS: usize = 25;
const SOAK_CALLS: usize = 400;
const SOAK_WARMUP_CALLS: usize = 40;
/// New ticket params every this many calls of a session (nonces restart;
/// far below the 500-nonce guard).
const SOAK_REFRESH: usize = 200;
/// One answer in this many is verified in full (VerifySig + EVM).
const SOAK_VERIFY_EVERY: usize = 10;
/// The leak bound: RSS at the end ≤ RSS after warm-up + this.
const SOAK_RSS_SLACK_KIB: u64 = 16 * 1024;

/// One soak session: `fixed` at price == EV, so every call is exactly one
/// ticket and the balance stays "0".
struct SoakSession {
    orch: Orch,
    mid: String,
    s: Session,
    verified: usize,
}

/// `calls` more calls of `ss` over the shared keep-alive client.
async fn soak_calls(node: &Node, http: &reqwest::Client, mut ss: SoakSession, calls: usize) -> SoakSession {
    for _ in 0..calls {
        let k = ss.s.calls;
        if k > 0 && k.is_multiple_of(SOAK_REFRESH) {
            ss.orch.refresh_params();
        }
        let mut req = PayRequest::new(&ss.orch, "fixed").manifest(&ss.mid);
        req.state = ss.s.prev.clone();
        let resp = node.pay(http, &req).await;
        if resp.status != 200 {
            panic!(
                "soak call {k} of {}: expected 200, got {}: {}\nrequest: {}\ndaemon errors:\n{}",
                ss.mid,
                resp.status,
                resp.body,
                resp.request,
                node.errors()
            );
        }
        let paid = resp.paid();
        let nonces: Vec<u32> = if k.is_multiple_of(SOAK_VERIFY_EVERY) {
            ss.verified += 1;
            verify_payment(&node.chain, &ss.orch, &req, &paid).await.nonces
        } else {
            assert_eq!(paid.payment.sender, payments::c_address().as_bytes().to_vec());
            paid.payment
                .ticket_sender_params
                .iter()
                .map(|t| t.sender_nonce)
                .collect()
        };
        let e = ss.s.advance(&ss.orch, &req, &paid, &nonces);
        assert_eq!(
            (e.tickets, e.balance.rat_string()),
            (1, "0".to_string()),
            "call {k}"
        );
        let want = (k % SOAK_REFRESH) as u32 + 1;
        assert_eq!(nonces, [want], "call {k}: nonce");
    }
    ss
}

/// Runs `calls` more calls of every session, all sessions in parallel.
async fn soak_phase(
    node: &Arc<Node>,
    http: &reqwest::Client,
    sessions: Vec<SoakSession>,
    calls: usize,
) -> Vec<SoakSession> {
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|ss| {
            let (node, http) = (node.clone(), http.clone());
            tokio::spawn(async move { soak_calls(&node, &http, ss, calls).await })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("a soak session failed (see its panic above)"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystore_soak_10000_payments_rss_flat() {
    let started = Instant::now();
    let node = Arc::new(keystore_node().await);
    // One keep-alive client for every session (a gateway's connection pool).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(SOAK_SESSIONS)
        .build()
        .unwrap();
    let sigs0 = node.signatures().await;
    let rss_start = node.rss_kib();
    let (face, win) = exact_ev(1_000_000);
    let (block, round) = (node.chain.block().await, node.chain.round().await);
    let sessions: Vec<SoakSession> = (0..SOAK_SESSIONS)
        .map(|i| SoakSession {
            orch: Orch::new(face, win, (1_000_000, 1), block, round),
            mid: format!("soak-{i}-{:08x}", rand::random::<u32>()),
            s: Session::new(),
            verified: 0,
        })
        .collect();

    // Warm-up: 1,000 payments.
    let t0 = Instant::now();
    let sessions = soak_phase(&node, &http, sessions, SOAK_WARMUP_CALLS).await;
    let warmup = t0.elapsed();
    let rss_warm = node.rss_kib();

    // 9,000 more, sampling RSS every 250 ms.
    let samples = Arc::new(Mutex::new(Vec::<u64>::new()));
    let sampler = {
        let (node, samples) = (node.clone(), samples.clone());
        tokio::spawn(async move {
            loop {
                samples.lock().unwrap().push(node.rss_kib());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let t1 = Instant::now();
    let sessions = soak_phase(&node, &http, sessions, SOAK_CALLS - SOAK_WARMUP_CALLS).await;
    let main = t1.elapsed();
    sampler.abort();
    let rss_end = node.rss_kib();
    let rss_max = samples
        .lock()
        .unwrap()
        .iter()
        .copied()
        .chain([rss_end])
        .max()
        .unwrap();

    let payments = SOAK_SESSIONS * SOAK_CALLS;
    assert_eq!(sessions.iter().map(|s| s.s.calls).sum::<usize>(), payments);
    assert_eq!(sessions.iter().map(|s| s.s.tickets).sum::<u64>(), payments as u64);
    let verified: usize = sessions.iter().map(|s| s.verified).sum();
    assert_eq!(verified, payments / SOAK_VERIFY_EVERY);

    let m = node.metrics().await;
    assert_eq!(metric_sum(&m, "livepeer_signer_payments_total"), payments as f64);
    assert_eq!(
        metric(&m, "livepeer_signer_payments_total{status=\"200\"}"),
        payments as f64
    );
    assert_eq!(
        metric(&m, "livepeer_signer_payment_tickets_total"),
        payments as f64
    );
    // One ticket and one state per payment, one segment credential per session.
    let sigs = metric(&m, "livepeer_signer_signatures_total{backend=\"keystore\"}") - sigs0;
    assert_eq!(sigs, (2 * payments + SOAK_SESSIONS) as f64);

    eprintln!(
        "[payments_backends] keystore soak: {payments} payments ({SOAK_SESSIONS} sessions × {SOAK_CALLS}, \
         {verified} fully verified): warm-up 1000 in {:.2} s ({:.0}/s), then {} in {:.2} s ({:.0}/s), \
         overall {:.0}/s; RSS KiB: start {rss_start}, after warm-up {rss_warm}, max {rss_max}, end {rss_end} \
         (end − warm-up {:+} KiB); wall {:.1} s",
        warmup.as_secs_f64(),
        1000.0 / warmup.as_secs_f64(),
        payments - 1000,
        main.as_secs_f64(),
        (payments - 1000) as f64 / main.as_secs_f64(),
        payments as f64 / (warmup + main).as_secs_f64(),
        rss_end as i64 - rss_warm as i64,
        started.elapsed().as_secs_f64()
    );
    assert!(
        rss_end <= rss_warm + SOAK_RSS_SLACK_KIB,
        "daemon RSS grew from {rss_warm} KiB after 1,000 payments to {rss_end} KiB after {payments} \
         (bound +{SOAK_RSS_SLACK_KIB} KiB; samples: {:?})",
        samples.lock().unwrap()
    );
}
