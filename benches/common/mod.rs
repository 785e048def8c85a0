//! What the HTTP load benches share (benches/payments.rs,
//! benches/discovery.rs): knobs from the environment, the load tool's
//! client, one connection's outcome and the measured window, percentiles
//! and medians, starting the daemon, and a process's memory.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What one load connection saw.
#[derive(Default)]
pub struct Outcome {
    /// (completed at, latency µs) of every good answer.
    pub samples: Vec<(Instant, u32)>,
    /// Bad answers and failed calls.
    pub errors: u64,
    /// The first of them, for the report.
    pub first_error: Option<String>,
}

impl Outcome {
    /// A good answer that took `latency`, completed now.
    pub fn ok(&mut self, latency: Duration) {
        let us = latency.as_micros().min(u32::MAX as u128) as u32;
        self.samples.push((Instant::now(), us));
    }

    /// A bad answer or a failed call.
    pub fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

/// The connections' outcomes merged: the error count, the first error, and
/// the sorted latencies (µs) of the answers completed inside
/// `[started, ended]`, the measured window.
pub fn merge<'a>(
    outcomes: impl IntoIterator<Item = &'a Outcome>,
    started: Instant,
    ended: Instant,
) -> (u64, Option<String>, Vec<u32>) {
    let (mut errors, mut first_error, mut window) = (0, None, Vec::new());
    for o in outcomes {
        errors += o.errors;
        if first_error.is_none() {
            first_error.clone_from(&o.first_error);
        }
        window.extend(
            o.samples
                .iter()
                .filter(|(at, _)| *at >= started && *at <= ended)
                .map(|(_, us)| *us),
        );
    }
    window.sort_unstable();
    (errors, first_error, window)
}

/// `name` from the environment as a number, else `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// One keep-alive HTTP/1.1 connection per client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The `p` quantile of latencies in µs, sorted, in ms.
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// The median (0 for none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `(VmHWM, VmRSS)` of process `pid`, KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Runs `cmd` (a `livepeer-signer` command) as `serve --config cfg`, its
/// logs to `log`, and waits (60 s at most) for its `livepeer-signer
/// listening` line; returns the child and the URL that line gives.
pub fn serve_logged(mut cmd: Command, cfg: &Path, log: &Path, what: &str) -> (Child, String) {
    cmd.arg("serve")
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    let mut child = cmd.spawn().expect("spawn livepeer-signer");
    let started = Instant::now();
    let url = loop {
        let logs = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(url) = logs
            .lines()
            .filter(|l| l.contains("livepeer-signer listening"))
            .find_map(|l| crate::support::log_field(l, "url"))
        {
            break url;
        }
        if started.elapsed() > Duration::from_secs(60) {
            // Stopped here; the bench then ends (its exit reaps the child).
            let _ = child.kill();
            panic!("{what}: the daemon did not start; logs:\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (child, url)
}
