//! Orchestrator discovery (`GET /discover-orchestrators`), two ratios
//! against ceilings measured in the same run:
//!
//! 1. **Snapshot build, in process.** A realistic network: `N` orchestrators
//!    (default 100), each pricing 4 (capability, model) pairs out of a pool
//!    of 8 in `capabilities_prices` (a window rotating with the index, so
//!    every pair is offered by half of them), with a `/discovery` body of 8
//!    runner records (2 per pair: GPU, version, metadata, capacity, price).
//!    `Snapshot::build` per second vs the ceiling: `serde_json::from_slice::
//!    <serde_json::Value>` of the same `N` `/discovery` bodies (the JSON
//!    parsing no implementation can skip), in interleaved rounds on one
//!    thread.
//! 2. **The route under load on the release daemon.** `N` real gRPC test
//!    orchestrators (tests/support/orchestrator.rs, the same network as 1.
//!    on 127.0.0.1), the release daemon (C7 keystore key, JSON logs at
//!    `info` to a file, `[discovery] orchestrators = [...]`), and, once the
//!    route answers 200 with all of them, 64 keep-alive HTTP/1.1 connections
//!    driving `GET /discover-orchestrators` (no caps, then `?caps=` one
//!    pair) for `secs` seconds after a settle. The ceiling:
//!    examples/ceiling_server.rs serving the daemon's own answer (same
//!    bytes, so the same length) as a constant `application/json` body on
//!    the same target, same worker count, driven by the same load tool in
//!    interleaved rounds. Also the CPU time each server used per request
//!    (utime + stime of /proc/PID/stat over the window), the load tool's
//!    own CPU use, and the daemon's peak RSS (VmHWM) with the snapshot
//!    loaded and after the load.
//!
//! The load tool is the one of benches/payments.rs: a current-thread tokio
//! runtime on its own thread (one core at most), one reqwest client per
//! connection; a request counts when it answers 200 with exactly the
//! expected number of bytes; anything else is an error, and the bench
//! exits non-zero after printing its results when there is one.
//!
//! Result lines start with `ratio discovery ` or `discovery memory ` and are
//! `key=value` pairs (parsed by scripts/bench.sh).
//!
//! Environment: `BENCH_DISCOVERY_ORCHS` (orchestrators, default 100),
//! `BENCH_DISCOVERY_DURATION` (s per measured load run, default 10),
//! `BENCH_DISCOVERY_ROUNDS` (interleaved daemon/ceiling rounds per variant,
//! default 3), `BENCH_DISCOVERY_CONNS` (64), `BENCH_DISCOVERY_BUILD_SECS`
//! (s of in-process measurement per side, default 6), `BENCH_CEILING_SERVER`
//! (path of the built `ceiling_server` example; default: built here with
//! `cargo build --release --example ceiling_server`).
//!
//! Run: `cargo bench --bench discovery`

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use common::{client, env_num, median, percentile, Outcome};
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livepeer_signer::livepeer::discovery::snapshot::pipeline_of;
use livepeer_signer::livepeer::discovery::{Ceilings, Polled, Snapshot};
use livepeer_signer::livepeer::proto::{OrchestratorInfo, PriceInfo};
use support::orchestrator::{ai_info, Orchestrator};

// ---------------------------------------------------------------------------
// The network

/// The (capability, model, price in wei per unit) pool: go-livepeer ids
/// (LiveVideoToVideo 35, TextToImage 27, LLM 33, ImageToVideo 29,
/// AudioToText 31, Upscale 30) and models seen on the network.
const PAIRS: [(u32, &str, i64); 8] = [
    (35, "streamdiffusion", 2_000),
    (35, "comfyui", 2_500),
    (27, "SG161222/RealVisXL_V4.0_Lightning", 4_768_371),
    (27, "ByteDance/SDXL-Lightning", 4_500_000),
    (33, "meta-llama/Meta-Llama-3.1-8B-Instruct", 30_000_000),
    (29, "stabilityai/stable-video-diffusion-img2vid-xt-1-1", 3_390_842),
    (31, "openai/whisper-large-v3", 12_882_811),
    (30, "stabilityai/stable-diffusion-x4-upscaler", 4_768_371),
];
/// Pairs each orchestrator prices.
const PAIRS_PER_ORCH: usize = 4;
/// Runner records per pair in `/discovery` (8 per orchestrator).
const RUNNERS_PER_PAIR: usize = 2;

/// `pipeline/model` of a pair: a capability of the snapshot, a runner's app.
fn app(pair: usize) -> String {
    let (cap, model, _) = PAIRS[pair];
    format!("{}/{model}", pipeline_of(cap).expect("a named capability"))
}

/// The pairs orchestrator `i` prices: a window of the pool rotating with `i`.
fn pairs_of(i: usize) -> Vec<usize> {
    (0..PAIRS_PER_ORCH).map(|k| (i + k) % PAIRS.len()).collect()
}

/// Orchestrator `i`'s `OrchestratorInfo`: its pairs in `capabilities_prices`
/// (and the capability constraints), a global `price_info` (go-livepeer drops
/// an answer without one), `transcoder` (empty: the test server's own URL).
fn info(i: usize, transcoder: &str) -> OrchestratorInfo {
    let models: Vec<(u32, &str, i64)> = pairs_of(i).into_iter().map(|p| PAIRS[p]).collect();
    let mut info = ai_info(&models);
    info.transcoder = transcoder.to_string();
    info.price_info = Some(PriceInfo {
        price_per_unit: 1_200,
        pixels_per_unit: 1,
        ..Default::default()
    });
    info
}

/// Orchestrator `i`'s `/discovery` body: one entry for `address` with
/// [`RUNNERS_PER_PAIR`] runner records per pair, as go-livepeer writes them.
fn discovery_body(i: usize, address: &str) -> String {
    let mut runners = Vec::new();
    for (n, p) in pairs_of(i).into_iter().enumerate() {
        for r in 0..RUNNERS_PER_PAIR {
            let k = n * RUNNERS_PER_PAIR + r;
            let unit = if PAIRS[p].0 == 35 {
                "seconds"
            } else {
                "720p-pixel-seconds"
            };
            runners.push(format!(
                "{{\"url\":\"{address}/ai/runner/{k}\",\
                 \"gpu\":{{\"id\":\"GPU-{i:08x}-{k:04x}-4c2e-9b1a-7f3d5e6a{k:04x}\",\"name\":\"NVIDIA GeForce RTX 4090\",\"vram_mb\":24564}},\
                 \"app\":\"{}\",\"version\":\"0.14.{}\",\
                 \"metadata\":\"region=eu-west-1;host=gpu-{i}-{k};driver=550.54.15\",\
                 \"capacity\":4,\"capacity_used\":{},\"capacity_available\":{},\
                 \"price_info\":{{\"price\":{},\"currency\":\"wei\",\"unit\":\"{unit}\"}}}}",
                app(p),
                k % 3,
                k % 4,
                4 - k % 4,
                PAIRS[p].2 + (i as i64 % 7) * 10,
            ));
        }
    }
    let caps: Vec<String> = pairs_of(i)
        .into_iter()
        .map(|p| format!("\"{}\"", app(p)))
        .collect();
    format!(
        "[{{\"address\":\"{address}\",\"score\":1,\"capabilities\":[{}],\"runners\":[{}]}}]\n",
        caps.join(","),
        runners.join(",")
    )
}

// ---------------------------------------------------------------------------
// 1. Snapshot build, in process

fn build_bench(orchs: usize, secs: f64) {
    let polled: Vec<Polled> = (0..orchs)
        .map(|i| {
            let address = format!("https://orch-{i}.example.com:8935");
            Polled {
                info: info(i, &address),
                discovery: Some(discovery_body(i, &address).into_bytes()),
            }
        })
        .collect();
    let bodies: Vec<&[u8]> = polled.iter().map(|p| p.discovery.as_deref().unwrap()).collect();
    let ceilings = Ceilings::default();
    let discovery_bytes: usize = bodies.iter().map(|b| b.len()).sum();

    // The fixture is what it claims to be.
    let (snap, report) = Snapshot::build(&polled, &ceilings);
    assert_eq!(snap.len(), orchs, "every orchestrator in the snapshot");
    assert!(report.rejected.is_empty() && report.conflicts.is_empty() && report.bad_documents.is_empty());
    let runners: usize = snap.orchestrators().iter().map(|o| o.runners.len()).sum();
    assert_eq!(runners, orchs * PAIRS_PER_ORCH * RUNNERS_PER_PAIR);
    let response_bytes = snap.response([]).len();

    let build = || {
        black_box(Snapshot::build(black_box(&polled), &ceilings));
    };
    let parse = || {
        for b in &bodies {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(b)).unwrap());
        }
    };
    // Warm-up, then interleaved rounds of `secs / rounds` each per side.
    let rounds = 10;
    let slice = Duration::from_secs_f64(secs / rounds as f64);
    for _ in 0..3 {
        build();
        parse();
    }
    let timed = |f: &dyn Fn()| {
        let (t, mut n) = (Instant::now(), 0u64);
        while t.elapsed() < slice {
            f();
            n += 1;
        }
        (n, t.elapsed().as_secs_f64())
    };
    let (mut b_total, mut p_total) = ((0u64, 0f64), (0u64, 0f64));
    let mut round_ratios = Vec::new();
    for r in 0..rounds {
        // Alternate which side goes first.
        let (b, p) = if r % 2 == 0 {
            let b = timed(&build);
            (b, timed(&parse))
        } else {
            let p = timed(&parse);
            (timed(&build), p)
        };
        b_total = (b_total.0 + b.0, b_total.1 + b.1);
        p_total = (p_total.0 + p.0, p_total.1 + p.1);
        round_ratios.push((b.0 as f64 / b.1) / (p.0 as f64 / p.1));
    }
    let builds = b_total.0 as f64 / b_total.1;
    let parses = p_total.0 as f64 / p_total.1;
    println!(
        "ratio discovery phase=build orchestrators={orchs} runners={runners} discovery_bytes={discovery_bytes} response_bytes={response_bytes} builds_per_s={builds:.1} ceiling_per_s={parses:.1} ratio={:.2} median_round_ratio={:.2} rounds={rounds} build_us={:.0} ceiling_us={:.0}",
        builds / parses,
        median(round_ratios),
        1e6 / builds,
        1e6 / parses,
    );
}

// ---------------------------------------------------------------------------
// 2. The route under load

/// A child process (the daemon or the ceiling) killed by its own PID on drop.
struct Proc {
    child: Child,
    url: String,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmHWM` / `VmRSS` of /proc/PID/status, KiB.
    fn memory_kib(&self) -> (u64, u64) {
        common::memory_kib(self.pid())
    }

    /// CPU time used so far (utime + stime), seconds.
    fn cpu_s(&self) -> f64 {
        cpu_of(&format!("/proc/{}/stat", self.pid()))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Child::kill signals this child's own PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a /proc `stat` file, seconds (USER_HZ = 100 on Linux).
fn cpu_of(stat: &str) -> f64 {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// The release daemon: C7 keystore, JSON logs at `info` to `dir/signer.log`,
/// `[discovery]` over `urls`.
fn start_daemon(dir: &Path, urls: &[String]) -> Proc {
    let (key, pw) = support::write_c7(dir);
    let cfg = support::write_keystore_config(dir, &key, &pw);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    let quoted: Vec<String> = urls.iter().map(|u| format!("{u:?}")).collect();
    text.push_str("\n[log]\nlevel = \"info\"\nformat = \"json\"\n");
    text.push_str(&format!(
        "\n[discovery]\norchestrators = [{}]\nrefresh_interval_s = 3600\n",
        quoted.join(", ")
    ));
    std::fs::write(&cfg, &text).unwrap();
    let log = dir.join("signer.log");
    let (child, url) = common::serve_logged(support::bin(), &cfg, &log, "discovery");
    Proc { child, url }
}

/// The `ceiling_server` example: `BENCH_CEILING_SERVER`, else built here
/// (release, next to the daemon's binary).
fn ceiling_binary() -> PathBuf {
    if let Ok(p) = std::env::var("BENCH_CEILING_SERVER") {
        return PathBuf::from(p);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let ok = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args([
            "build",
            "--release",
            "--example",
            "ceiling_server",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status()
        .expect("run cargo build --example ceiling_server")
        .success();
    assert!(ok, "cargo build --release --example ceiling_server failed");
    Path::new(env!("CARGO_BIN_EXE_livepeer-signer"))
        .parent()
        .unwrap()
        .join("examples/ceiling_server")
}

/// `ceiling_server 0 WORKERS --get TARGET FILE...`
fn start_ceiling(bin: &Path, workers: usize, gets: &[(String, PathBuf)]) -> Proc {
    let mut cmd = Command::new(bin);
    cmd.arg("0").arg(workers.to_string());
    for (target, file) in gets {
        cmd.arg("--get").arg(target).arg(file);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("ceiling listening url=")
        .unwrap_or_else(|| panic!("ceiling_server said {line:?}"))
        .to_string();
    Proc { child, url }
}

/// `GET url`: (status, body length), the body read chunk by chunk (not
/// collected: both servers cost the load tool the same either way).
async fn get_len(http: &reqwest::Client, url: &str) -> Result<(u16, usize), String> {
    let mut r = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let mut n = 0;
    while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
        n += chunk.len();
    }
    Ok((status, n))
}

/// `GET url` once: (status, content type, body).
async fn get_body(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = client().get(url).send().await.expect("GET");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// One connection's loop until `stop`.
async fn drive(url: String, want: usize, stop: Arc<AtomicBool>) -> Outcome {
    let http = client();
    let mut out = Outcome::default();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        match get_len(&http, &url).await {
            Ok((200, n)) if n == want => out.ok(t.elapsed()),
            Ok((status, n)) => out.error(format!("status {status}, {n} bytes (want 200, {want} bytes)")),
            Err(e) => out.error(e),
        }
    }
    out
}

struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    /// Server CPU time per request over the window, µs.
    cpu_us: f64,
    /// The load tool's thread: CPU time / wall time over its whole run.
    client_cpu: f64,
}

/// `conns` connections on `url` (expecting `want` bytes per answer) from a
/// current-thread runtime on its own thread; 1.5 s settle, `secs` measured.
fn load(server: &Proc, url: &str, want: usize, conns: usize, secs: f64) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let (stop2, url2) = (stop.clone(), url.to_string());
    let tool = std::thread::spawn(move || {
        let (cpu0, t0) = (cpu_of("/proc/thread-self/stat"), Instant::now());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let res = rt.block_on(async move {
            let tasks: Vec<_> = (0..conns)
                .map(|_| tokio::spawn(drive(url2.clone(), want, stop2.clone())))
                .collect();
            let mut res = Vec::new();
            for t in tasks {
                res.push(t.await.unwrap());
            }
            res
        });
        let busy = (cpu_of("/proc/thread-self/stat") - cpu0) / t0.elapsed().as_secs_f64();
        (res, busy)
    });
    std::thread::sleep(Duration::from_millis(1500));
    let (cpu0, started) = (server.cpu_s(), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (cpu1, ended) = (server.cpu_s(), Instant::now());
    stop.store(true, Ordering::Relaxed);
    let (res, client_cpu) = tool.join().unwrap();
    let (errors, first_error, window) = common::merge(&res, started, ended);
    let requests = window.len() as u64;
    Load {
        rps: requests as f64 / (ended - started).as_secs_f64(),
        p50_ms: percentile(&window, 0.50),
        p99_ms: percentile(&window, 0.99),
        requests,
        errors,
        first_error,
        cpu_us: if requests > 0 {
            (cpu1 - cpu0) * 1e6 / requests as f64
        } else {
            0.0
        },
        client_cpu,
    }
}

/// Medians over the rounds of one server.
#[derive(Default)]
struct Rounds {
    rps: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    cpu: Vec<f64>,
    client: Vec<f64>,
    requests: u64,
    errors: u64,
}

impl Rounds {
    fn add(&mut self, l: &Load) {
        self.rps.push(l.rps);
        self.p50.push(l.p50_ms);
        self.p99.push(l.p99_ms);
        self.cpu.push(l.cpu_us);
        self.client.push(l.client_cpu);
        self.requests += l.requests;
        self.errors += l.errors;
    }
}

/// Returns the errors of the daemon.
fn route_bench(orchs: usize, conns: usize, secs: f64, rounds: usize) -> u64 {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let ceiling_bin = ceiling_binary();
    let signer = support::C_ADDRESS.parse().unwrap();
    eprintln!("discovery bench: {orchs} test orchestrators");
    let servers: Vec<Orchestrator> = (0..orchs)
        .map(|i| {
            let o = Orchestrator::http(signer);
            o.set_info(info(i, ""));
            o.set_discovery_json(discovery_body(i, &o.url()));
            o
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(Orchestrator::url).collect();
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_daemon(dir.path(), &urls);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Until the snapshot holds every orchestrator and runner.
    let route = format!("{}/discover-orchestrators", daemon.url);
    let started = Instant::now();
    let all = loop {
        let (status, ct, body) = rt.block_on(get_body(&route));
        if status == 200 {
            assert_eq!(ct.as_deref(), Some("application/json"));
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let list = v.as_array().unwrap();
            let runners: usize = list
                .iter()
                .map(|e| e["runners"].as_array().map_or(0, Vec::len))
                .sum();
            if list.len() == orchs && runners == orchs * PAIRS_PER_ORCH * RUNNERS_PER_PAIR {
                break body;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the route never answered 200 with {orchs} orchestrators (last: {status} {}); logs:\n{}",
            String::from_utf8_lossy(&body[..body.len().min(300)]),
            std::fs::read_to_string(dir.path().join("signer.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let ready_s = started.elapsed().as_secs_f64();
    let cap = app(0);
    let caps_query = format!("caps={}", cap.replace('/', "%2F"));
    let (status, _, caps_body) = rt.block_on(get_body(&format!("{route}?{caps_query}")));
    assert_eq!(status, 200);
    let caps_orchs = serde_json::from_slice::<serde_json::Value>(&caps_body)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    // Half of them with 8 or more orchestrators (all of a very small network).
    assert!(
        caps_orchs > 0 && (caps_orchs < orchs || orchs < 8),
        "the caps filter selects some"
    );
    let (_, rss_loaded) = daemon.memory_kib();

    // The ceiling serves the daemon's own answers.
    let all_file = dir.path().join("all.json");
    let caps_file = dir.path().join("caps.json");
    std::fs::write(&all_file, &all).unwrap();
    std::fs::write(&caps_file, &caps_body).unwrap();
    let ceiling = start_ceiling(
        &ceiling_bin,
        workers,
        &[
            ("/discover-orchestrators".into(), all_file),
            (format!("/discover-orchestrators?{caps_query}"), caps_file),
        ],
    );
    let ceiling_route = format!("{}/discover-orchestrators", ceiling.url);
    for (q, want) in [("", &all), (&format!("?{caps_query}")[..], &caps_body)] {
        let (status, ct, body) = rt.block_on(get_body(&format!("{ceiling_route}{q}")));
        assert_eq!((status, ct.as_deref()), (200, Some("application/json")));
        assert_eq!(&body, want, "the ceiling serves the daemon's bytes");
    }
    eprintln!(
        "discovery bench: daemon {} (pid {}) ready in {ready_s:.2} s, {} bytes (all), {} bytes ({caps_orchs} orchestrators, ?{caps_query}); ceiling {} (pid {})",
        daemon.url,
        daemon.pid(),
        all.len(),
        caps_body.len(),
        ceiling.url,
        ceiling.pid()
    );

    let mut daemon_errors = 0;
    for (variant, query, want, n) in [
        ("all", String::new(), all.len(), orchs),
        ("caps", format!("?{caps_query}"), caps_body.len(), caps_orchs),
    ] {
        let (mut d, mut c) = (Rounds::default(), Rounds::default());
        for r in 0..rounds {
            for (who, server, base, acc) in [
                ("daemon", &daemon, &route, &mut d),
                ("ceiling", &ceiling, &ceiling_route, &mut c),
            ] {
                let l = load(server, &format!("{base}{query}"), want, conns, secs);
                eprintln!(
                    "   {variant} {who:7} round {}: {:.1} req/s p50 {:.2} ms p99 {:.2} ms errors {} cpu {:.0} us/req, load tool {:.0}% of a core",
                    r + 1,
                    l.rps,
                    l.p50_ms,
                    l.p99_ms,
                    l.errors,
                    l.cpu_us,
                    l.client_cpu * 100.0
                );
                if let Some(e) = &l.first_error {
                    eprintln!("   {variant} {who} first error: {e}");
                }
                acc.add(&l);
            }
        }
        daemon_errors += d.errors + c.errors;
        let (drps, crps) = (median(d.rps.clone()), median(c.rps.clone()));
        println!(
            "ratio discovery phase=route variant={variant} orchestrators={n} body_bytes={want} conns={conns} secs={secs} rounds={rounds} workers={workers} requests={} rps={drps:.1} p50_ms={:.2} p99_ms={:.2} errors={} cpu_us_per_req={:.0} ceiling_requests={} ceiling_rps={crps:.1} ceiling_p50_ms={:.2} ceiling_p99_ms={:.2} ceiling_errors={} ceiling_cpu_us_per_req={:.0} ratio={:.2} p99_ratio={:.2} load_tool_cpu={:.2} ceiling_load_tool_cpu={:.2}",
            d.requests,
            median(d.p50),
            median(d.p99.clone()),
            d.errors,
            median(d.cpu),
            c.requests,
            median(c.p50),
            median(c.p99.clone()),
            c.errors,
            median(c.cpu),
            if crps > 0.0 { drps / crps } else { 0.0 },
            median(d.p99) / median(c.p99).max(1e-9),
            median(d.client),
            median(c.client),
        );
    }
    let (hwm, rss) = daemon.memory_kib();
    let (chwm, _) = ceiling.memory_kib();
    println!(
        "discovery memory pid={} orchestrators={orchs} vmrss_loaded_kib={rss_loaded} vmhwm_kib={hwm} vmrss_kib={rss} ceiling_vmhwm_kib={chwm}",
        daemon.pid()
    );
    drop(ceiling);
    drop(daemon);
    drop(servers);
    daemon_errors
}

fn main() {
    // `cargo bench` passes `--bench`; nothing is taken from the arguments.
    let orchs = env_num("BENCH_DISCOVERY_ORCHS", 100) as usize;
    let secs = env_num("BENCH_DISCOVERY_DURATION", 10) as f64;
    let rounds = env_num("BENCH_DISCOVERY_ROUNDS", 3).max(1) as usize;
    let conns = env_num("BENCH_DISCOVERY_CONNS", 64) as usize;
    let build_secs = env_num("BENCH_DISCOVERY_BUILD_SECS", 6) as f64;
    eprintln!("discovery bench: Snapshot::build vs serde_json::Value parse, {orchs} orchestrators");
    build_bench(orchs, build_secs);
    let errors = route_bench(orchs, conns, secs, rounds);
    if errors > 0 {
        eprintln!("discovery bench: {errors} errors under load");
        std::process::exit(1);
    }
}
