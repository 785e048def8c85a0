//! Issue 7 §3, over raw TCP against the real binary: more than 10,000
//! malformed requests (random bytes, wrong methods, huge headers, oversized
//! bodies, invalid UTF-8, wrong content types, broken framing, bad tokens
//! and request ids), slowloris-style partial requests, and a sustained load
//! run with bounded memory. Asserts: no 5xx for any input, the process never
//! dies or panics, the expected 4xx where the answer is determined, stalled
//! connections are closed by the server while others are served, and
//! afterwards a correct request gets the exact C1 body.
//!
//! No timing assertions: the only bounds are liveness (a stalled connection
//! must be closed long after `request_timeout_ms`) and memory.
//!
//! Two daemons: the malformed requests and the sustained load go to one
//! with a long `request_timeout_ms` ([`PATIENT_REQUEST_TIMEOUT_MS`]), so a
//! complete request is always answered with its own status, never 408 (with
//! a 1 s timeout, complete requests could get 408 on a busy machine:
//! actix-http arms `client_request_timeout` at a connection's first read,
//! from the worker's cached clock, which a task on that same worker
//! refreshes every 500 ms, so a starved worker's deadline can already be
//! past when it is set, and any head not parsed in that first read — the
//! huge headers and bodies here, or bytes still in flight — times out); the
//! slowloris part goes to one with a short timeout
//! ([`REQUEST_TIMEOUT_MS`]), where 408 is the expected answer.

mod support;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livepeer_signer::access::token_sha256;
use livepeer_signer::eth::hex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{bin, Daemon, C1_BODY};

const TOKEN: &str = "bad-input-token-0123456789abcdef01234567";
const PATH: &str = "/sign-orchestrator-info";
/// `request_timeout_ms` of the slowloris daemon.
const REQUEST_TIMEOUT_MS: u64 = 1000;
/// `request_timeout_ms` of the daemon that gets complete requests: longer
/// than any client-side liveness bound below, so 408 there is a failure.
const PATIENT_REQUEST_TIMEOUT_MS: u64 = 120_000;
/// How long a client waits for an answer (liveness, not latency).
const CLIENT_WAIT: Duration = Duration::from_secs(60);
const BODY_LIMIT: usize = 4096;

struct Server {
    _tmp: tempfile::TempDir,
    daemon: Daemon,
    addr: SocketAddr,
}

fn start(request_timeout_ms: u64) -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let (key, password) = support::write_c7(tmp.path());
    let config = tmp.path().join("signer.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 2\nrequest_timeout_ms = {request_timeout_ms}\n\
             body_limit_bytes = {BODY_LIMIT}\nkeep_alive_s = 5\n\n\
             [key]\nbackend = \"keystore\"\n\n[key.keystore]\npath = {:?}\npassword_file = {:?}\n\n\
             [[auth.tokens]]\nname = \"gw\"\nsha256 = \"{}\"\n\n[log]\nlevel = \"info\"\n",
            key.display().to_string(),
            password.display().to_string(),
            hex::encode(token_sha256(TOKEN)),
        ),
    )
    .unwrap();
    let mut cmd = bin();
    cmd.arg("serve").arg("--config").arg(&config);
    let daemon = Daemon::start(cmd);
    let addr: SocketAddr = daemon.url.trim_start_matches("http://").parse().unwrap();
    assert!(addr.ip().is_loopback());
    Server {
        _tmp: tmp,
        daemon,
        addr,
    }
}

impl Server {
    /// Alive = its /proc entry exists and is not a zombie (the child is never
    /// reaped before `Daemon`'s drop, so a dead one stays a zombie).
    fn assert_alive(&self) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.daemon.pid()))
            .expect("the signer process is gone");
        let state = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .next()
            .unwrap();
        assert_ne!(
            state,
            "Z",
            "the signer process died; logs:\n{}",
            self.daemon.logs()
        );
    }

    fn vm_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.daemon.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// A correct request on a fresh connection: the exact C1 body.
    fn assert_serves_c1(&self) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
        s.write_all(valid_request("application/json").as_bytes()).unwrap();
        let (status, body) = read_response(&mut s).expect("a response to a correct request");
        assert_eq!(status, 200);
        assert_eq!(String::from_utf8(body).unwrap(), C1_BODY);
    }
}

impl Server {
    /// [`Server::assert_serves_c1`] on the short-timeout daemon, where a 408
    /// is a correct answer when a busy machine delays the first read past
    /// its 1 s timeout: retried (on a fresh connection) until the exact C1
    /// body, any other answer fails.
    fn assert_serves_c1_retrying_408(&self) {
        for _ in 0..20 {
            let mut s = TcpStream::connect(self.addr).unwrap();
            s.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
            s.write_all(valid_request("application/json").as_bytes()).unwrap();
            let (status, body) = read_response(&mut s).expect("a response to a correct request");
            if status == 408 {
                continue;
            }
            assert_eq!(status, 200);
            assert_eq!(String::from_utf8(body).unwrap(), C1_BODY);
            return;
        }
        panic!("20 correct requests in a row got 408");
    }
}

fn valid_request(content_type: &str) -> String {
    format!(
        "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: {content_type}\r\nContent-Length: 2\r\n\r\n{{}}"
    )
}

/// Reads one response (head + Content-Length body) from a keep-alive connection.
fn read_response(s: &mut TcpStream) -> Option<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = parse_status(&buf)?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some((status, buf[head_end..head_end + len].to_vec()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_status(buf: &[u8]) -> Option<u16> {
    let line_end = find(buf, b"\r\n")?;
    let line = std::str::from_utf8(&buf[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    assert!(
        version.starts_with("HTTP/1."),
        "not an HTTP/1 status line: {line:?}"
    );
    parts.next()?.parse().ok()
}

/// Sends `bytes` on a fresh connection, half-closes, and returns the status
/// of the first response (None: the server closed or reset without one).
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, CLIENT_WAIT).expect("connect");
    s.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
    s.set_write_timeout(Some(CLIENT_WAIT)).unwrap();
    // The server may answer (413, 431, 400) and close before reading it all.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if find(&buf, b"\r\n").is_some() {
            return parse_status(&buf);
        }
        match s.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return parse_status(&buf)
            }
            Err(e) => panic!(
                "no answer and no close within {CLIENT_WAIT:?}: {e} (sent {} bytes)",
                bytes.len()
            ),
        }
    }
}

/// What a category's answers must be (beyond "never 5xx").
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Anything but 5xx, including a close without an answer.
    NotServerError,
    /// A 4xx answer.
    ClientError,
    /// Exactly this status.
    Status(u16),
}

struct Case {
    category: &'static str,
    expect: Expect,
    bytes: Vec<u8>,
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.gen()).collect()
}

fn random_token(rng: &mut StdRng, len: usize) -> String {
    (0..len).map(|_| char::from(rng.gen_range(b'!'..=b'~'))).collect()
}

fn invalid_utf8(rng: &mut StdRng) -> Vec<u8> {
    const BAD: [&[u8]; 6] = [
        b"\xff",
        b"\xc3\x28",
        b"\xe2\x28\xa1",
        b"\xf0\x90\x28\xbc",
        b"\xed\xa0\x80",
        b"\xc0\xaf",
    ];
    let (a, b) = (rng.gen_range(0..8), rng.gen_range(0..8));
    let mut v = random_token(rng, a).into_bytes();
    v.extend_from_slice(BAD[rng.gen_range(0..BAD.len())]);
    v.extend_from_slice(random_token(rng, b).as_bytes());
    v
}

fn cases() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0007);
    let mut out = Vec::new();
    let mut add = |category, expect, bytes: Vec<u8>| {
        out.push(Case {
            category,
            expect,
            bytes,
        })
    };
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");

    // Random bytes, bare and after a plausible request line.
    for _ in 0..2000 {
        let n = rng.gen_range(1..2048);
        add("random bytes", Expect::NotServerError, random_bytes(&mut rng, n));
    }
    for _ in 0..1000 {
        let n = rng.gen_range(1..1024);
        let mut b = format!("POST {PATH} HTTP/1.1\r\n").into_bytes();
        b.extend(random_bytes(&mut rng, n));
        b.extend_from_slice(b"\r\n\r\n");
        add("random bytes after a request line", Expect::NotServerError, b);
    }

    // Wrong methods (with a valid token: the method alone is wrong) and unknown paths.
    let methods = [
        "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD", "FOO", "M-SEARCH",
    ];
    for i in 0..1200 {
        let m = methods[i % methods.len()];
        let path = if i % 3 == 0 {
            format!("/{}", random_token(&mut rng, 12).replace(['?', '#', '%'], "x"))
        } else {
            PATH.to_string()
        };
        add(
            "wrong method / path",
            if m == "HEAD" && path == PATH {
                Expect::Status(405)
            } else {
                Expect::ClientError
            },
            format!("{m} {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").into_bytes(),
        );
    }

    // Huge headers: one enormous value, or very many headers.
    for i in 0..300 {
        let head = if i % 2 == 0 {
            let n = rng.gen_range(40_000..70_000);
            format!(
                "POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(n)
            )
        } else {
            let mut h = format!("POST {PATH} HTTP/1.1\r\nHost: x\r\n");
            for j in 0..rng.gen_range(100..400) {
                h.push_str(&format!("X-H{j}: {}\r\n", random_token(&mut rng, 20)));
            }
            h + "\r\n"
        };
        add("huge headers", Expect::ClientError, head.into_bytes());
    }

    // Oversized bodies: declared larger than the limit (413 before auth), or
    // actually sent larger (chunked, no length up front).
    for _ in 0..400 {
        let len: u64 = rng.gen_range(BODY_LIMIT as u64 + 1..1 << 40);
        let mut b = format!("POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n").into_bytes();
        let n = rng.gen_range(0..8192);
        b.extend(random_bytes(&mut rng, n));
        add("oversized body (declared)", Expect::Status(413), b);
    }
    for _ in 0..100 {
        let mut b = format!(
            "POST {PATH} HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        for _ in 0..rng.gen_range(2..16) {
            let chunk = random_bytes(&mut rng, 4096);
            b.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
            b.extend(chunk);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"0\r\n\r\n");
        // At least 8 KiB against a 4 KiB limit: read, then refused.
        add("oversized body (chunked)", Expect::Status(413), b);
    }

    // Invalid UTF-8 in the path, a header value, the request id, the token, the body.
    for i in 0..1500 {
        let bad = invalid_utf8(&mut rng);
        let mut b = Vec::new();
        let expect = match i % 5 {
            0 => {
                b.extend_from_slice(b"POST /");
                b.extend(&bad);
                b.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
                Expect::NotServerError
            }
            1 => {
                b.extend(format!("POST {PATH} HTTP/1.1\r\nHost: x\r\n{auth}User-Agent: ").into_bytes());
                b.extend(&bad);
                b.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
                Expect::NotServerError
            }
            2 => {
                b.extend(format!("POST {PATH} HTTP/1.1\r\nHost: x\r\n{auth}X-Request-Id: ").into_bytes());
                b.extend(&bad);
                b.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
                Expect::NotServerError
            }
            3 => {
                b.extend(format!("POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ").into_bytes());
                b.extend(&bad);
                b.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
                Expect::NotServerError
            }
            _ => {
                b.extend(
                    format!(
                        "POST {PATH} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        bad.len()
                    )
                    .into_bytes(),
                );
                b.extend(&bad);
                // The body is ignored, as in go-livepeer.
                Expect::Status(200)
            }
        };
        add("invalid UTF-8", expect, b);
    }

    // Wrong content types: the body is ignored (as in go-livepeer), so 200.
    let types = [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=zz",
        "application/octet-stream",
        "application/json; charset=utf-16",
        "",
        "garbage/;;;==",
        "image/png",
    ];
    for i in 0..1000 {
        let ct = types[i % types.len()];
        let body = random_bytes(&mut rng, i % 64);
        let mut b = format!(
            "POST {PATH} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        b.extend(body);
        add("wrong content type", Expect::Status(200), b);
    }

    // Broken framing and request lines.
    let framing: [&str; 16] = [
        "POST {P} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST {P} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST {P} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
        "POST {P} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "POST {P} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}",
        "POST {P} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n",
        "POST {P} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "POST {P} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        "POST {P} HTTP/9.9\r\nHost: x\r\n\r\n",
        "POST {P}\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "POST  {P}  HTTP/1.1\r\n\r\n",
        "POST {P} HTTP/1.1\r\nHost x\r\nNo-Colon\r\n\r\n",
        "POST {P} HTTP/1.1\r\n Folded: header\r\n\r\n",
        "POST {P} HTTP/1.1\r\nHo\0st: x\r\n\r\n",
        "\r\n\r\n\r\n\r\n",
    ];
    for i in 0..1500 {
        let t = framing[i % framing.len()].replace("{P}", PATH);
        add("broken framing", Expect::NotServerError, t.into_bytes());
    }

    // Wrong tokens and request ids: exactly 401, whatever the id.
    for i in 0..1000 {
        let authz = match i % 6 {
            0 => format!("Bearer {}", random_token(&mut rng, 40)),
            1 => format!("Bearer {TOKEN}x"),
            2 => "Basic Zm9vOmJhcg==".into(),
            3 => "Bearer".into(),
            4 => format!("bearer  {}", random_token(&mut rng, 4000)),
            _ => random_token(&mut rng, 100),
        };
        let rid_len = rng.gen_range(0..300);
        let rid = random_token(&mut rng, rid_len);
        add(
            "wrong token / request id",
            Expect::Status(401),
            format!(
                "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {authz}\r\nX-Request-Id: {rid}\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
        );
    }
    out
}

#[derive(Default, Debug)]
struct Tally {
    sent: usize,
    no_answer: usize,
    statuses: BTreeMap<u16, usize>,
    violations: Vec<String>,
}

#[test]
fn malformed_requests_slowloris_and_sustained_load() {
    let server = start(PATIENT_REQUEST_TIMEOUT_MS);
    server.assert_serves_c1();

    // ---- 1. ≥ 10,000 malformed requests, 8 client threads.
    let cases = Arc::new(cases());
    assert!(cases.len() >= 10_000, "only {} cases", cases.len());
    let next = Arc::new(AtomicUsize::new(0));
    let tally: Arc<Mutex<BTreeMap<&'static str, Tally>>> = Arc::default();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (cases, next, tally, addr) = (cases.clone(), next.clone(), tally.clone(), server.addr);
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let status = exchange(addr, &case.bytes);
                let mut t = tally.lock().unwrap();
                let t = t.entry(case.category).or_default();
                t.sent += 1;
                match status {
                    None => t.no_answer += 1,
                    Some(s) => *t.statuses.entry(s).or_default() += 1,
                }
                // No 408 for any case: every case is sent whole at once and
                // the timeout is longer than the client waits.
                let ok = match (case.expect, status) {
                    (_, Some(s)) if s >= 500 => false,
                    (_, Some(408)) => false,
                    (Expect::NotServerError, _) => true,
                    (Expect::ClientError, s) => matches!(s, Some(400..=499)),
                    (Expect::Status(want), s) => s == Some(want),
                };
                if !ok && t.violations.len() < 5 {
                    let shown = String::from_utf8_lossy(&case.bytes[..case.bytes.len().min(160)]).to_string();
                    t.violations.push(format!(
                        "case {i}: expected {:?}, got {status:?} for {shown:?}",
                        case.expect
                    ));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let tally = Arc::try_unwrap(tally).unwrap().into_inner().unwrap();
    let mut total = 0;
    let mut problems = Vec::new();
    for (category, t) in &tally {
        eprintln!(
            "{category:40} sent {:5}  statuses {:?}  closed without answer {}",
            t.sent, t.statuses, t.no_answer
        );
        total += t.sent;
        let server_errors: usize = t.statuses.range(500..).map(|(_, n)| n).sum();
        if server_errors > 0 {
            problems.push(format!("{category}: {server_errors} responses were 5xx"));
        }
        // Every category reached the HTTP layer: at least one answer, all 4xx except where 200 is expected.
        if t.statuses.is_empty() {
            problems.push(format!("{category}: the server never answered"));
        }
        problems.extend(t.violations.iter().map(|v| format!("{category}: {v}")));
    }
    assert!(total >= 10_000, "sent only {total} malformed requests");
    let timeouts: usize = tally
        .values()
        .map(|t| t.statuses.get(&408).copied().unwrap_or(0))
        .sum();
    assert_eq!(
        timeouts, 0,
        "{timeouts} of {total} complete requests got 408 from a server with a {PATIENT_REQUEST_TIMEOUT_MS} ms request timeout"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    server.assert_alive();
    server.assert_serves_c1();

    // ---- 2. Slowloris: stalled heads and a byte-at-a-time dribbler, on a
    // daemon with a short request timeout; `server` keeps serving meanwhile.
    let slow = start(REQUEST_TIMEOUT_MS);
    slow.assert_serves_c1_retrying_408();
    let stalled: Vec<TcpStream> = (0..64)
        .map(|i| {
            let mut s = TcpStream::connect(slow.addr).unwrap();
            let partial = match i % 3 {
                0 => format!("POST {PATH} HTTP/1.1\r\nHost: x\r\n"),
                1 => "POST /sign-orch".to_string(),
                _ => format!("POST {PATH} HTTP/1.1\r\nX-Slow: aaaaaaaa"),
            };
            s.write_all(partial.as_bytes()).unwrap();
            s
        })
        .collect();
    // The stalled connections do not block anyone else.
    slow.assert_serves_c1_retrying_408();
    server.assert_serves_c1();
    for (i, mut s) in stalled.into_iter().enumerate() {
        // 20× the configured timeout: a liveness bound, not a latency check.
        s.set_read_timeout(Some(Duration::from_millis(REQUEST_TIMEOUT_MS * 20)))
            .unwrap();
        let mut buf = Vec::new();
        match s.read_to_end(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("stalled connection {i} was not closed by the server: {e}"),
        }
        if let Some(status) = parse_status(&buf) {
            assert_eq!(status, 408, "stalled connection {i}");
        }
    }
    let dribblers: Vec<_> = (0..4)
        .map(|_| {
            let addr = slow.addr;
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(format!("POST {PATH} HTTP/1.1\r\nX-Drip: ").as_bytes())
                    .unwrap();
                s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
                let started = Instant::now();
                let bound = Duration::from_millis(REQUEST_TIMEOUT_MS * 20);
                let mut probe = [0u8; 512];
                while started.elapsed() < bound {
                    if s.write_all(b"a").is_err() {
                        return true;
                    }
                    match s.read(&mut probe) {
                        Ok(_) => return true, // 408 or EOF: closed on us
                        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(_) => return true,
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                false
            })
        })
        .collect();
    for d in dribblers {
        assert!(
            d.join().unwrap(),
            "a byte-at-a-time request head was never cut off"
        );
    }
    slow.assert_alive();
    slow.assert_serves_c1_retrying_408();
    let logs = slow.daemon.logs();
    assert!(!logs.contains("panicked"), "the signer panicked:\n{logs}");
    drop(slow);
    server.assert_alive();
    server.assert_serves_c1();

    // ---- 3. Sustained load on keep-alive connections, with churn; bounded memory.
    const THREADS: usize = 8;
    load(server.addr, THREADS, 500, None); // warm-up: pools, buffers, allocator arenas
    let baseline = server.vm_rss_kib() as i64;
    let done = Arc::new(AtomicUsize::new(0));
    let per_thread = 5_000;
    let workers = load_threads(server.addr, THREADS, per_thread, Some(done.clone()));
    let mut samples = vec![(0, baseline)];
    while !workers.iter().all(|w| w.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        samples.push((done.load(Ordering::Relaxed), server.vm_rss_kib() as i64));
    }
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(done.load(Ordering::Relaxed), THREADS * per_thread);
    samples.push((THREADS * per_thread, server.vm_rss_kib() as i64));
    let peak = samples.iter().map(|&(_, r)| r).max().unwrap();
    eprintln!(
        "sustained load: {} requests after warm-up; VmRSS baseline {baseline} KiB, peak {peak} KiB; samples (requests, KiB): {:?}",
        THREADS * per_thread,
        samples.iter().step_by(samples.len().div_ceil(20).max(1)).collect::<Vec<_>>()
    );
    // Generous: 40,000 requests leaking 1 KiB each would be 39 MiB.
    assert!(
        peak - baseline < 32 * 1024,
        "VmRSS grew by {} KiB during the sustained load (baseline {baseline} KiB)",
        peak - baseline
    );
    assert!(
        peak < 256 * 1024,
        "VmRSS peaked at {peak} KiB; the signer should stay small"
    );

    // ---- Afterwards: alive, correct, never panicked.
    server.assert_alive();
    server.assert_serves_c1();
    let logs = server.daemon.logs();
    assert!(!logs.contains("panicked"), "the signer panicked:\n{logs}");
}

/// `threads` clients each sending `per_thread` correct requests on keep-alive
/// connections (reconnecting every 100 requests, or every 10 on odd threads),
/// checking every answer is the exact C1 body.
fn load_threads(
    addr: SocketAddr,
    threads: usize,
    per_thread: usize,
    done: Option<Arc<AtomicUsize>>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|t| {
            let done = done.clone();
            std::thread::spawn(move || {
                let req = valid_request("application/json");
                let mut conn: Option<TcpStream> = None;
                let reconnect_every = if t % 2 == 1 { 10 } else { 100 };
                for i in 0..per_thread {
                    if i % reconnect_every == 0 {
                        conn = None;
                    }
                    let s = conn.get_or_insert_with(|| {
                        let s = TcpStream::connect(addr).unwrap();
                        s.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
                        s
                    });
                    s.write_all(req.as_bytes()).unwrap();
                    let (status, body) = read_response(s).expect("a response under load");
                    assert_eq!(status, 200);
                    assert_eq!(body, C1_BODY.as_bytes());
                    if let Some(d) = &done {
                        d.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect()
}

fn load(addr: SocketAddr, threads: usize, per_thread: usize, done: Option<Arc<AtomicUsize>>) {
    for w in load_threads(addr, threads, per_thread, done) {
        w.join().unwrap();
    }
}
