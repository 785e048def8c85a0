//! `POST /generate-live-payment` under load on the release daemon, against
//! the ceiling "the same number of self-checked signatures per request,
//! signed in-process on the same cores" (issue 14 §3), plus the KMS-emulator
//! latency of a 25-ticket payment vs a 1-ticket payment and the daemon's
//! peak RSS under the load.
//!
//! Per backend (the keystore, then SoftHSM2), on a real anvil running our
//! Livepeer test contracts with the §C signer funded (tests/support):
//!
//! * `continuing`: 64 keep-alive connections on 127.0.0.1, each a gateway
//!   session of `fixed` payments at price == EV (exactly 1 ticket and
//!   balance 0 per call; new ticket params every 400 calls, before the
//!   500-nonce guard), the state carried from call to call;
//! * `first`: 64 connections of first calls (no state, a new manifest id
//!   each) of `fixed` at price == 10 × EV: 10 tickets + the state + the
//!   segment credentials per call.
//!
//! Both report req/s, p50, p99 and the error count (non-200 or transport
//! errors; the bench fails when it is not 0). Signatures per request are
//! the daemon's own `livepeer_signer_signatures_total` delta over the phase
//! divided by its requests. The ceiling: a `Signer` over the same backend
//! (the same key; for SoftHSM2 the same token and session count) in this
//! process, 64 concurrent `sign_digest` loops on a tokio runtime with one
//! worker per core, while the daemon is idle; ceiling req/s = signatures/s
//! ÷ signatures per request. A few answers per phase are then verified in
//! full outside the timing (go-livepeer's `VerifySig` and the EVM's
//! `checkWinningTicket`, tests/support/payments.rs).
//!
//! KMS: the daemon over the KMS emulator (tests/support/kms_emulator.py,
//! static dummy credentials, explicit region, endpoint on 127.0.0.1, no
//! metadata service), one connection, 1-ticket and 25-ticket calls
//! interleaved (same manifest id each: tickets + the state), medians.
//!
//! Every line of results starts with `paybench ` and is `key=value` pairs
//! (parsed by scripts/bench.sh).
//!
//! Environment: `BENCH_PAY_DURATION` (s per measured phase, default 10),
//! `BENCH_PAY_CONNS` (64), `BENCH_PAY_BACKENDS` (`keystore pkcs11 kms`),
//! `BENCH_KMS_SAMPLES` (9 of each size). Needs tests/chain/setup.sh (anvil,
//! solc-js), SoftHSM2 and Python with moto (`TEST_PYTHON`).
//!
//! Run: `cargo bench --bench payments`

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/support/kms.rs"]
mod kms;
#[path = "../tests/support/payments.rs"]
mod payments;
#[path = "../tests/support/softhsm.rs"]
mod softhsm;
#[path = "../tests/support/mod.rs"]
mod support;

use common::{client, env_num, median, percentile, Outcome};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use livepeer_signer::eth::keccak256;
use livepeer_signer::keys::keystore::KeystoreBackend;
use livepeer_signer::keys::pkcs11::Pkcs11Backend;
use livepeer_signer::signer::Signer;
use payments::{exact_ev, metric, one_eth, verify_payment, Chain, Orch, PayRequest, Resp, WireState};
use time::OffsetDateTime;

/// go-livepeer's defaults, spelled out (as tests/payments_backends.rs).
const PAYMENTS: &str = "[payments]\nmax_ticket_ev = \"3000000000000\"\n\
                        max_total_ev = \"20000000000000\"\ndeposit_multiplier = 1\n";
/// Ticket EV of every orchestrator here (face 3·EV, win probability 1/3).
const EV: i64 = 1_000_000;
/// Tickets of a first call.
const FIRST_TICKETS: i64 = 10;
/// New ticket params every this many calls of a continuing session.
const REFRESH_EVERY: u64 = 400;

// ---------------------------------------------------------------------------
// The daemon

/// The release `livepeer-signer serve`, logs (JSON, level info: one audit
/// line per signature and per payment, as in production) to a file;
/// killed by its own PID on drop.
struct Node {
    child: Child,
    url: String,
    chain: Chain,
    backend: &'static str,
    log: PathBuf,
    _keep: Vec<Box<dyn std::any::Any>>,
}

impl Node {
    async fn start(
        backend: &'static str,
        chain: Chain,
        cfg: &Path,
        cmd: Command,
        keep: Vec<Box<dyn std::any::Any>>,
    ) -> Node {
        let mut text = std::fs::read_to_string(cfg).unwrap();
        text.push_str("\n[log]\nlevel = \"info\"\nformat = \"json\"\n");
        text.push_str(&chain.toml(5000));
        text.push('\n');
        text.push_str(PAYMENTS);
        std::fs::write(cfg, &text).unwrap();
        let log = cfg.with_extension("log");
        let (child, url) = common::serve_logged(cmd, cfg, &log, backend);
        let node = Node {
            child,
            url,
            chain,
            backend,
            log,
            _keep: keep,
        };
        node.wait_ready().await;
        node
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&self) {
        let block = self.chain.block().await;
        if let Err(last) = payments::ready_at(&reqwest::Client::new(), &self.url, block).await {
            panic!("{}: never ready: {last}", self.backend);
        }
    }

    /// `livepeer_signer_signatures_total{backend}` of the daemon.
    async fn signatures(&self) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric(
            &text,
            &format!("livepeer_signer_signatures_total{{backend=\"{}\"}}", self.backend),
        )
    }

    /// `VmHWM` / `VmRSS` of /proc/PID/status, KiB.
    fn memory_kib(&self) -> (u64, u64) {
        common::memory_kib(self.pid())
    }

    /// The last ERROR lines of the daemon's log.
    fn errors(&self) -> String {
        let logs = std::fs::read_to_string(&self.log).unwrap_or_default();
        let errors: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("\"level\":\"ERROR\""))
            .collect();
        errors[errors.len().saturating_sub(3)..].join("\n")
    }

    async fn orch(&self, price: i64) -> Orch {
        let (face, win) = exact_ev(EV as u64);
        Orch::new(
            face,
            win,
            (price, 1),
            self.chain.block().await,
            self.chain.round().await,
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Child::kill signals this child's own PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn keystore_node() -> Node {
    let chain = Chain::start(one_eth(), one_eth()).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(dir.path());
    let cfg = support::write_keystore_config(dir.path(), &key, &pw);
    Node::start("keystore", chain, &cfg, support::bin(), vec![Box::new(dir)]).await
}

/// A fresh SoftHSM2 token holding the §C key (label `signer`), 2 sessions.
async fn softhsm_node() -> (Node, Arc<softhsm::Token>) {
    let token = Arc::new(softhsm::Token::with_key("paybench", &support::c_key(), "signer"));
    let chain = Chain::start(one_eth(), one_eth()).await;
    let cfg = token.config_file(Some("signer"), None);
    let node = Node::start(
        "pkcs11",
        chain,
        &cfg,
        softhsm::bin(),
        vec![Box::new(token.clone())],
    )
    .await;
    (node, token)
}

/// The daemon over the emulator, and a raw SDK client of the emulator with
/// the key id (to time the emulator alone).
async fn kms_node() -> (Node, aws_sdk_kms::Client, String) {
    let emu = kms::KmsEmulator::start();
    let key_id = emu.create_seeded_key(&support::c_key()).await;
    let raw = emu.client();
    let chain = Chain::start(one_eth(), one_eth()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = kms::write_config(dir.path(), &emu.endpoint, &key_id);
    let mut cmd = support::bin();
    kms::aws_env(&mut cmd, dir.path());
    let node = Node::start("aws-kms", chain, &cfg, cmd, vec![Box::new(dir), Box::new(emu)]).await;
    (node, raw, key_id)
}

/// `n` raw SDK `Sign` calls of the emulator at once; ms until the last answer.
async fn raw_kms_signs(client: &aws_sdk_kms::Client, key_id: &str, n: usize) -> f64 {
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
    let t = Instant::now();
    let calls = (0..n).map(|i| {
        client
            .sign()
            .key_id(key_id)
            .message(Blob::new(keccak256((i as u64).to_be_bytes()).to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
    });
    for r in futures_util::future::join_all(calls).await {
        r.expect("raw Sign on the emulator");
    }
    t.elapsed().as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------
// The load

/// The request body, byte for byte what [`PayRequest::body`] writes
/// (`state_json` is `{"State":…,"Sig":…}` as the last answer carried it).
fn body(state_json: &str, orch_b64: &str, mid: &str) -> String {
    format!(
        "{{\"state\":{state_json},\"orchestrator\":\"{orch_b64}\",\"ManifestID\":\"{mid}\",\
         \"inPixels\":0,\"type\":\"fixed\",\"capabilities\":null}}"
    )
}

const NO_STATE: &str = "{\"State\":null,\"Sig\":null}";

/// The `{"State":…,"Sig":…}` object of a 200's body
/// (`{"payment":…,"segCreds":…,"state":{…}}\n`).
fn state_of(answer: &str) -> Option<&str> {
    let i = answer.find("\"state\":{")? + "\"state\":".len();
    let rest = answer[i..].trim_end();
    rest.strip_suffix('}')
}

fn wire_state(state_json: &str) -> WireState {
    let v: serde_json::Value = serde_json::from_str(state_json).unwrap();
    WireState {
        state: B64.decode(v["State"].as_str().unwrap()).unwrap(),
        sig: B64.decode(v["Sig"].as_str().unwrap()).unwrap(),
    }
}

/// One connection's share of a phase.
struct Conn {
    orch: Orch,
    orch_b64: String,
    mid: String,
    /// The state to send next (continuing sessions).
    state: String,
    calls: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Continuing,
    First,
}

async fn post(http: &reqwest::Client, url: &str, body: String) -> Result<(u16, String), String> {
    let r = http
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// One connection's loop until `stop`.
async fn drive(
    url: String,
    phase: Phase,
    mut c: Conn,
    stop: Arc<AtomicBool>,
    seq: Arc<AtomicU64>,
) -> (Conn, Outcome) {
    let http = client();
    let mut out = Outcome::default();
    // Warm-up: the connection, and for continuing sessions the first call
    // (its segment credentials are then cached for the manifest id).
    if phase == Phase::Continuing {
        match post(&http, &url, body(&c.state, &c.orch_b64, &c.mid)).await {
            Ok((200, text)) => c.state = state_of(&text).unwrap().to_string(),
            other => panic!("warm-up call: {other:?}"),
        }
        c.calls = 1;
    } else {
        let _ = http
            .get(url.replace("/generate-live-payment", "/healthz"))
            .send()
            .await;
    }
    while !stop.load(Ordering::Relaxed) {
        let b = match phase {
            Phase::Continuing => {
                if c.calls.is_multiple_of(REFRESH_EVERY) {
                    c.orch.refresh_params();
                    c.orch_b64 = B64.encode(c.orch.bytes());
                }
                body(&c.state, &c.orch_b64, &c.mid)
            }
            Phase::First => {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                body(NO_STATE, &c.orch_b64, &format!("{}-{n}", c.mid))
            }
        };
        let t = Instant::now();
        match post(&http, &url, b).await {
            Ok((200, text)) => {
                out.ok(t.elapsed());
                c.calls += 1;
                if phase == Phase::Continuing {
                    match state_of(&text) {
                        Some(s) => c.state = s.to_string(),
                        None => out.error(format!("no state in {text}")),
                    }
                }
            }
            Ok((status, text)) => out.error(format!("{status}: {text}")),
            Err(e) => out.error(e),
        }
    }
    (c, out)
}

struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    errors: u64,
    sigs_per_req: f64,
    conns: Vec<Conn>,
    first_error: Option<String>,
}

/// A measured phase: `conns` connections; after a 1.5 s settle (the
/// connections and, for continuing sessions, each session's first call),
/// `secs` seconds measured. The load tool runs on a current-thread runtime
/// on its own thread (one core at most).
async fn load(node: &Node, phase: Phase, conns: usize, secs: u64) -> Load {
    let price = match phase {
        Phase::Continuing => EV,
        Phase::First => FIRST_TICKETS * EV,
    };
    let tag = match phase {
        Phase::Continuing => "cont",
        Phase::First => "first",
    };
    let mut cs = Vec::with_capacity(conns);
    for k in 0..conns {
        let orch = node.orch(price).await;
        cs.push(Conn {
            orch_b64: B64.encode(orch.bytes()),
            orch,
            mid: format!("bench-{tag}-{k}-{:08x}", rand::random::<u32>()),
            state: NO_STATE.to_string(),
            calls: 0,
        });
    }
    let url = format!("{}/generate-live-payment", node.url);
    let stop = Arc::new(AtomicBool::new(false));
    let (stop2, seq) = (stop.clone(), Arc::new(AtomicU64::new(0)));
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let res = rt.block_on(async move {
            let tasks: Vec<_> = cs
                .into_iter()
                .map(|c| tokio::spawn(drive(url.clone(), phase, c, stop2.clone(), seq.clone())))
                .collect();
            let mut res = Vec::new();
            for t in tasks {
                res.push(t.await.unwrap());
            }
            res
        });
        let _ = tx.send(res);
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sigs_start = node.signatures().await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let ended = Instant::now();
    let sigs_end = node.signatures().await;
    stop.store(true, Ordering::Relaxed);
    let res = rx.await.unwrap();
    let (errors, first_error, window) = common::merge(res.iter().map(|(_, o)| o), started, ended);
    let conns_back: Vec<Conn> = res.into_iter().map(|(c, _)| c).collect();
    let requests = window.len() as u64;
    // The metric is read at both ends of the window, over HTTP: a few
    // signatures of in-flight requests at the edges, nothing systematic.
    let sigs = sigs_end - sigs_start;
    Load {
        rps: requests as f64 / (ended - started).as_secs_f64(),
        p50_ms: percentile(&window, 0.50),
        p99_ms: percentile(&window, 0.99),
        requests,
        errors,
        sigs_per_req: if requests > 0 { sigs / requests as f64 } else { 0.0 },
        conns: conns_back,
        first_error,
    }
}

/// Verifies a few sessions' next answer in full (outside the timing): the
/// layout, one ticket at balance 0 or `FIRST_TICKETS`, every ticket by
/// go-livepeer's `VerifySig` and the EVM's `checkWinningTicket`.
async fn verify_some(node: &Node, phase: Phase, conns: &[Conn]) -> usize {
    let http = client();
    let mut n = 0;
    for c in conns.iter().take(3) {
        let mut req = PayRequest::new(&c.orch, "fixed").manifest(&match phase {
            Phase::Continuing => c.mid.clone(),
            Phase::First => format!("{}-verify", c.mid),
        });
        if phase == Phase::Continuing {
            req = req.state(&wire_state(&c.state));
        }
        let sent = OffsetDateTime::now_utc();
        let (status, text) = post(&http, &format!("{}/generate-live-payment", node.url), req.body())
            .await
            .unwrap();
        let resp = Resp {
            status,
            content_type: Some("application/json".into()),
            orch_url: None,
            body: text,
            sent,
            received: OffsetDateTime::now_utc(),
            request: req.body().chars().take(600).collect(),
        };
        let paid = resp.paid();
        let v = verify_payment(&node.chain, &c.orch, &req, &paid).await;
        let want = match phase {
            Phase::Continuing => 1,
            Phase::First => FIRST_TICKETS as usize,
        };
        assert_eq!(v.nonces.len(), want, "{}: tickets per call", node.backend);
        assert_eq!(paid.st.balance, "0", "{}: balance", node.backend);
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------
// The ceiling

/// Self-checked signatures/s of `signer` in this process: 64 concurrent
/// `sign_digest` loops on a runtime with one worker per core, `secs` seconds.
fn ceiling(signer: Signer, secs: u64) -> f64 {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..64u64)
            .map(|t| {
                let (signer, stop, count) = (signer.clone(), stop.clone(), count.clone());
                tokio::spawn(async move {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let d = keccak256([t.to_be_bytes(), i.to_be_bytes()].concat());
                        signer.sign_digest(&d).await.unwrap();
                        count.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                        // The keystore signs inline: let the scheduler run.
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        // This thread is not a runtime worker: it times with std sleeps, so
        // the measurement does not depend on the workers polling timers.
        std::thread::sleep(Duration::from_millis(500)); // warm-up
        let c0 = count.load(Ordering::Relaxed);
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let n = count.load(Ordering::Relaxed) - c0;
        let rate = n as f64 / t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        rate
    })
}

// ---------------------------------------------------------------------------

/// Both phases on `node`; prints the result lines; returns the errors.
async fn backend_run(node: &Node, ceiling_sigs: f64, conns: usize, secs: u64) -> u64 {
    let mut errors = 0;
    for phase in [Phase::Continuing, Phase::First] {
        let name = match phase {
            Phase::Continuing => "continuing",
            Phase::First => "first10",
        };
        let l = load(node, phase, conns, secs).await;
        let verified = if l.errors == 0 {
            verify_some(node, phase, &l.conns).await
        } else {
            0
        };
        let ceiling_rps = if l.sigs_per_req > 0.0 {
            ceiling_sigs / l.sigs_per_req
        } else {
            0.0
        };
        println!(
            "paybench backend={} phase={name} conns={conns} secs={secs} requests={} rps={:.1} p50_ms={:.2} p99_ms={:.2} errors={} sigs_per_req={:.2} ceiling_sigs={:.0} ceiling_rps={:.1} ratio={:.2} verified={verified}",
            node.backend,
            l.requests,
            l.rps,
            l.p50_ms,
            l.p99_ms,
            l.errors,
            l.sigs_per_req,
            ceiling_sigs,
            ceiling_rps,
            if ceiling_rps > 0.0 { l.rps / ceiling_rps } else { 0.0 }
        );
        if let Some(e) = l.first_error {
            eprintln!(
                "{} {name}: first error: {e}\ndaemon errors:\n{}",
                node.backend,
                node.errors()
            );
        }
        errors += l.errors;
    }
    let (hwm, rss) = node.memory_kib();
    println!(
        "paybench backend={} memory pid={} vmhwm_kib={hwm} vmrss_kib={rss}",
        node.backend,
        node.pid()
    );
    errors
}

async fn kms_run(samples: usize) {
    let (node, raw, key_id) = kms_node().await;
    let http = client();
    let url = format!("{}/generate-live-payment", node.url);
    let one = node.orch(EV).await;
    let many = node.orch(25 * EV).await;
    let (b1, b25) = (
        body(NO_STATE, &B64.encode(one.bytes()), "kms-one"),
        body(NO_STATE, &B64.encode(many.bytes()), "kms-many"),
    );
    // Warm-up: the connection, the segment credentials of both manifest ids.
    for b in [&b1, &b25] {
        let (status, text) = post(&http, &url, b.clone()).await.unwrap();
        assert_eq!(status, 200, "kms warm-up: {text}");
    }
    let (mut t1, mut t25) = (Vec::new(), Vec::new());
    let sigs0 = node.signatures().await;
    for _ in 0..samples {
        for (b, out) in [(&b1, &mut t1), (&b25, &mut t25)] {
            let t = Instant::now();
            let (status, text) = post(&http, &url, b.clone()).await.unwrap();
            out.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "kms: {text}\n{}", node.errors());
        }
    }
    let sigs = node.signatures().await - sigs0;
    let (m1, m25) = (median(t1), median(t25));
    // The emulator alone: the same signatures per call (1 + 1 and 25 + 1)
    // as raw SDK `Sign` calls sent all at once, with the daemon idle.
    raw_kms_signs(&raw, &key_id, 26).await; // warm-up (connections)
    let (mut r1, mut r25) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        r1.push(raw_kms_signs(&raw, &key_id, 2).await);
        r25.push(raw_kms_signs(&raw, &key_id, 26).await);
    }
    let (q1, q25) = (median(r1), median(r25));
    println!(
        "paybench backend=aws-kms phase=latency samples={samples} one_ms={m1:.2} many_ms={m25:.2} tickets=25 ratio={:.2} sigs_per_pair={:.1} raw_2_signs_ms={q1:.2} raw_26_signs_ms={q25:.2} raw_ratio={:.2}",
        m25 / m1,
        sigs / samples as f64,
        q25 / q1
    );
}

fn progress(what: &str) {
    eprintln!("paybench: {what}");
}

fn main() {
    let secs = env_num("BENCH_PAY_DURATION", 10);
    let conns = env_num("BENCH_PAY_CONNS", 64) as usize;
    let samples = env_num("BENCH_KMS_SAMPLES", 9) as usize;
    let backends = std::env::var("BENCH_PAY_BACKENDS").unwrap_or_else(|_| "keystore pkcs11 kms".into());
    // `cargo bench` passes `--bench`; nothing else is taken from the arguments.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut errors = 0;
    for b in backends.split_whitespace() {
        match b {
            "keystore" => {
                progress("keystore: anvil + daemon");
                let node = rt.block_on(keystore_node());
                let signer = Signer::new(Box::new(KeystoreBackend::from_signing_key(
                    support::c_key(),
                    "memory".into(),
                )));
                progress("keystore: in-process ceiling");
                let c = ceiling(signer, secs.min(5));
                progress("keystore: load");
                errors += rt.block_on(backend_run(&node, c, conns, secs));
            }
            "pkcs11" => {
                progress("pkcs11: SoftHSM2 token, anvil + daemon");
                let (node, token) = rt.block_on(softhsm_node());
                let backend = rt
                    .block_on(Pkcs11Backend::open(&token.config(Some("signer"), None, 2)))
                    .unwrap();
                progress("pkcs11: in-process ceiling");
                let c = ceiling(Signer::new(Box::new(backend)), secs.min(5));
                progress("pkcs11: load");
                errors += rt.block_on(backend_run(&node, c, conns, secs));
            }
            "kms" => {
                progress("aws-kms: emulator, anvil + daemon, latency");
                rt.block_on(kms_run(samples))
            }
            other => panic!("BENCH_PAY_BACKENDS: unknown backend {other:?}"),
        }
    }
    if errors > 0 {
        eprintln!("paybench: {errors} errors under load");
        std::process::exit(1);
    }
}
