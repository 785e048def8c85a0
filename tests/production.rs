//! Issue 5, over real sockets against the real binary: bearer tokens,
//! exposure guard, TLS / mTLS, SIGHUP reload, /healthz and /readyz, metrics,
//! request ids, body limit, graceful SIGTERM under load, and a scan of the
//! logs for every secret the run used.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use livepeer_signer::access::token_sha256;
use livepeer_signer::eth::hex;
use support::{bin, Daemon};

const TOKEN_A: &str = "token-a-0123456789abcdef0123456789abcdef";
const TOKEN_B: &str = "token-b-fedcba9876543210fedcba9876543210";
const TOKEN_C: &str = "token-c-00112233445566778899aabbccddeeff";

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    password: PathBuf,
    config: PathBuf,
    token_file: PathBuf,
}

/// The C7 keystore and a config with `extra` TOML appended.
fn setup(extra: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (key, password) = support::write_c7(&dir);
    let token_file = dir.join("token-b");
    std::fs::write(&token_file, format!("{TOKEN_B}\n")).unwrap();
    let config = dir.join("signer.toml");
    let s = Setup {
        _tmp: tmp,
        dir,
        key,
        password,
        config,
        token_file,
    };
    write_config(&s, extra);
    s
}

fn write_config(s: &Setup, extra: &str) {
    std::fs::write(
        &s.config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[key]\nbackend = \"keystore\"\n\n[key.keystore]\npath = {:?}\npassword_file = {:?}\n\n{extra}",
            s.key.display().to_string(),
            s.password.display().to_string()
        ),
    )
    .unwrap();
}

fn tokens_toml(s: &Setup) -> String {
    format!(
        "[[auth.tokens]]\nname = \"gw-a\"\nsha256 = \"{}\"\n\n[[auth.tokens]]\nname = \"gw-b\"\nfile = {:?}\n",
        hex::encode(token_sha256(TOKEN_A)),
        s.token_file.display().to_string()
    )
}

fn serve(s: &Setup) -> Daemon {
    let mut cmd = bin();
    cmd.arg("serve").arg("--config").arg(&s.config);
    Daemon::start(cmd)
}

/// A blocking HTTP client on its own runtime (tests stay synchronous).
fn client() -> shim::Client {
    shim::Client::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    )
}

/// Minimal blocking wrapper around reqwest: one current-thread runtime per call.
mod shim {
    pub struct Client(pub ::reqwest::Client);
    #[derive(Debug)]
    pub struct Resp {
        pub status: u16,
        pub headers: ::reqwest::header::HeaderMap,
        pub body: String,
        pub peer_cert: Option<Vec<u8>>,
    }
    impl Client {
        pub fn new(c: ::reqwest::Client) -> Self {
            Client(c)
        }
        pub fn send(&self, req: ::reqwest::RequestBuilder) -> Result<Resp, ::reqwest::Error> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let r = req.send().await?;
                let peer_cert = r
                    .extensions()
                    .get::<::reqwest::tls::TlsInfo>()
                    .and_then(|t| t.peer_certificate().map(|c| c.to_vec()));
                Ok(Resp {
                    status: r.status().as_u16(),
                    headers: r.headers().clone(),
                    body: r.text().await?,
                    peer_cert,
                })
            })
        }
        pub fn post(&self, url: &str) -> ::reqwest::RequestBuilder {
            self.0.post(url)
        }
        pub fn get(&self, url: &str) -> ::reqwest::RequestBuilder {
            self.0.get(url)
        }
    }
}

fn orch(c: &shim::Client, url: &str, token: Option<&str>) -> shim::Resp {
    let mut req = c
        .post(&format!("{url}/sign-orchestrator-info"))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    c.send(req).unwrap()
}

/// Reads one sample from Prometheus text.
fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .unwrap_or(0.0)
}

#[test]
fn bearer_tokens_from_sha256_and_file() {
    let s = setup("");
    write_config(&s, &tokens_toml(&s));
    let d = serve(&s);
    let c = client();
    for token in [TOKEN_A, TOKEN_B] {
        let r = orch(&c, &d.url, Some(token));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, support::C1_BODY);
    }
    let before = c.send(c.get(&format!("{}/metrics", d.url))).unwrap().body;
    for (token, reason) in [(None, "missing"), (Some(TOKEN_C), "unknown_token")] {
        let r = orch(&c, &d.url, token);
        assert_eq!(r.status, 401);
        assert_eq!(r.headers["www-authenticate"], "Bearer");
        assert_eq!(r.headers["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(if reason == "missing" { "missing" } else { "invalid" }));
        assert!(r.body.ends_with("}\n"));
    }
    let r = c
        .send(
            c.post(&format!("{}/sign-orchestrator-info", d.url))
                .header("Authorization", "Basic Zm9vOmJhcg=="),
        )
        .unwrap();
    assert_eq!(r.status, 401);
    let after = c.send(c.get(&format!("{}/metrics", d.url))).unwrap().body;
    for reason in ["missing", "unknown_token", "malformed"] {
        let name = format!("livepeer_signer_auth_failures_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&after, &name) - metric(&before, &name), 1.0, "{reason}");
    }
    // Health endpoints need no token.
    assert_eq!(c.send(c.get(&format!("{}/healthz", d.url))).unwrap().status, 200);
    assert_eq!(c.send(c.get(&format!("{}/readyz", d.url))).unwrap().status, 200);
    // The audit line names the token, never the token itself.
    d.wait_for_log("token=gw-b");
}

#[test]
fn non_loopback_listener_without_tokens_is_refused() {
    let s = setup("");
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("127.0.0.1:0", "0.0.0.0:0");
    std::fs::write(&s.config, text).unwrap();
    let out = bin()
        .arg("serve")
        .arg("--config")
        .arg(&s.config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without authentication"),
        "{err}"
    );
    assert!(
        err.contains("token new") && err.contains("allow_unauthenticated"),
        "{err}"
    );
}

#[test]
fn exposure_guard_rules() {
    use livepeer_signer::access::{check_exposure, Tokens};
    use livepeer_signer::config::{AuthConfig, TokenConfig};
    let none = Tokens::default();
    let some = Tokens::load(&AuthConfig {
        allow_unauthenticated: false,
        tokens: vec![TokenConfig {
            name: "a".into(),
            sha256: Some(hex::encode(token_sha256("x"))),
            file: None,
            scopes: None,
            max_ev_per_minute: None,
        }],
    })
    .unwrap();
    let public = "0.0.0.0:8935".parse().unwrap();
    assert!(check_exposure(public, &none, false).is_err());
    // The override (binding 0.0.0.0 in a test is off limits here, so the rule is checked directly).
    assert!(check_exposure(public, &none, true).is_ok());
    assert!(check_exposure(public, &some, false).is_ok());
    assert!(check_exposure("127.0.0.1:8935".parse().unwrap(), &none, false).is_ok());
    assert!(check_exposure("[::1]:8935".parse().unwrap(), &none, false).is_ok());
}

struct Pki {
    ca_pem: String,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_identity: String,
}

fn pki(dir: &Path, tag: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("test CA {tag}"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let srv_key = KeyPair::generate().unwrap();
    let srv = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&srv_key, &ca, &ca_key)
        .unwrap();
    let cli_key = KeyPair::generate().unwrap();
    let mut cli_params = CertificateParams::new(vec!["gateway".to_string()]).unwrap();
    cli_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cli = cli_params.signed_by(&cli_key, &ca, &ca_key).unwrap();
    let server_cert = dir.join(format!("server-{tag}.pem"));
    let server_key = dir.join(format!("server-{tag}.key"));
    std::fs::write(&server_cert, srv.pem()).unwrap();
    std::fs::write(&server_key, srv_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_cert,
        server_key,
        client_identity: format!("{}{}", cli.pem(), cli_key.serialize_pem()),
    }
}

fn net(ca_pem: &str, identity: Option<&str>) -> shim::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_info(true)
        .timeout(Duration::from_secs(10))
        .add_root_certificate(::reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    if let Some(id) = identity {
        b = b.identity(::reqwest::Identity::from_pem(id.as_bytes()).unwrap());
    }
    shim::Client::new(b.build().unwrap())
}

#[test]
fn tls_serves_the_configured_certificate_and_reloads_it_on_sighup() {
    let s = setup("");
    let first = pki(&s.dir, "one");
    let tls = |p: &Pki| {
        format!(
            "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            p.server_cert.display().to_string(),
            p.server_key.display().to_string()
        )
    };
    write_config(&s, &tls(&first));
    let d = serve(&s);
    assert!(d.url.starts_with("https://127.0.0.1:"), "{}", d.url);
    let r = net(&first.ca_pem, None)
        .send(net(&first.ca_pem, None).post(&format!("{}/sign-orchestrator-info", d.url)));
    let r = r.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, support::C1_BODY);
    let cert_one = r.peer_cert.expect("peer certificate");

    // Plain HTTP on the TLS port gets no answer.
    let plain = client().send(client().post(&format!(
        "{}/sign-orchestrator-info",
        d.url.replace("https", "http")
    )));
    assert!(plain.map(|r| r.status != 200).unwrap_or(true));

    // New certificate files, same config: SIGHUP swaps them in.
    let second = pki(&s.dir, "two");
    std::fs::copy(&second.server_cert, &first.server_cert).unwrap();
    std::fs::copy(&second.server_key, &first.server_key).unwrap();
    d.signal("HUP");
    d.wait_for_log("TLS certificate");
    d.wait_for_log("reload applied");
    let c2 = net(&second.ca_pem, None);
    let r = c2
        .send(c2.post(&format!("{}/sign-orchestrator-info", d.url)))
        .unwrap();
    assert_eq!(r.status, 200);
    assert_ne!(r.peer_cert.unwrap(), cert_one, "the new certificate is served");
    // The old CA no longer validates the server.
    let c1 = net(&first.ca_pem, None);
    assert!(c1
        .send(c1.post(&format!("{}/sign-orchestrator-info", d.url)))
        .is_err());
}

#[test]
fn mtls_refuses_clients_without_a_certificate() {
    let s = setup("");
    let p = pki(&s.dir, "m");
    write_config(
        &s,
        &format!(
            "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\n",
            p.server_cert.display().to_string(),
            p.server_key.display().to_string(),
            s.dir.join("ca.pem").display().to_string()
        ),
    );
    let d = serve(&s);
    let anonymous = net(&p.ca_pem, None);
    let err = anonymous
        .send(anonymous.post(&format!("{}/sign-orchestrator-info", d.url)))
        .expect_err("handshake without a client certificate must fail");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let with_cert = net(&p.ca_pem, Some(&p.client_identity));
    let r = with_cert
        .send(with_cert.post(&format!("{}/sign-orchestrator-info", d.url)))
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, support::C1_BODY);
}

#[test]
fn sighup_reloads_tokens() {
    let s = setup("");
    write_config(&s, &tokens_toml(&s));
    let d = serve(&s);
    let c = client();
    assert_eq!(orch(&c, &d.url, Some(TOKEN_B)).status, 200);
    // Rotate gw-b's token file and drop gw-a.
    std::fs::write(&s.token_file, TOKEN_C).unwrap();
    write_config(
        &s,
        &format!(
            "[[auth.tokens]]\nname = \"gw-b\"\nfile = {:?}\n",
            s.token_file.display().to_string()
        ),
    );
    d.signal("HUP");
    d.wait_for_log("reload applied");
    assert_eq!(orch(&c, &d.url, Some(TOKEN_B)).status, 401);
    assert_eq!(orch(&c, &d.url, Some(TOKEN_A)).status, 401);
    assert_eq!(orch(&c, &d.url, Some(TOKEN_C)).status, 200);
    // A broken config on reload keeps what runs.
    std::fs::write(&s.config, "[key\n").unwrap();
    d.signal("HUP");
    d.wait_for_log("reload failed: keeping the running configuration");
    assert_eq!(orch(&c, &d.url, Some(TOKEN_C)).status, 200);
}

#[test]
fn readyz_follows_the_backend_probe() {
    let s = setup("[health]\nprobe_interval_s = 1\nprobe_timeout_ms = 2000\n");
    let d = serve(&s);
    let c = client();
    let ready = |c: &shim::Client| c.send(c.get(&format!("{}/readyz", d.url))).unwrap();
    let r = ready(&c);
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["backend"], "keystore");

    // Break the backend: the key file disappears.
    let moved = s.dir.join("moved-away");
    std::fs::rename(&s.key, &moved).unwrap();
    let mut last = ready(&c);
    for _ in 0..50 {
        if last.status == 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        last = ready(&c);
    }
    assert_eq!(last.status, 503, "{}", last.body);
    let v: serde_json::Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(v["status"], "not ready");
    assert!(
        v["reason"].as_str().unwrap().contains("no longer readable"),
        "{v}"
    );
    // The cached OrchestratorInfo signature is still served.
    assert_eq!(orch(&c, &d.url, None).body, support::C1_BODY);
    let m = c.send(c.get(&format!("{}/metrics", d.url))).unwrap().body;
    assert_eq!(
        metric(&m, "livepeer_signer_backend_up{backend=\"keystore\"}"),
        0.0
    );

    // Repair it: ready again without a restart.
    std::fs::rename(&moved, &s.key).unwrap();
    for _ in 0..50 {
        last = ready(&c);
        if last.status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(last.status, 200, "{}", last.body);
    d.wait_for_log("key backend recovered");
}

#[test]
fn metrics_count_requests_and_can_have_their_own_listener() {
    let s = setup("");
    let text = std::fs::read_to_string(&s.config).unwrap().replace(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"",
    );
    std::fs::write(&s.config, text).unwrap();
    let d = serve(&s);
    d.wait_for_log("metrics listening");
    let metrics_url = d
        .logs()
        .lines()
        .find_map(|l| support::log_field(l, "metrics_url"))
        .expect("metrics_url logged");
    let c = client();
    let read = || c.send(c.get(&metrics_url)).unwrap();
    let before = read();
    assert_eq!(before.status, 200);
    assert!(before.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let key = "livepeer_signer_http_requests_total{route=\"sign_orchestrator_info\",status=\"200\"}";
    for _ in 0..3 {
        assert_eq!(orch(&c, &d.url, None).status, 200);
    }
    let after = read().body;
    assert_eq!(metric(&after, key) - metric(&before.body, key), 3.0);
    assert!(
        metric(
            &after,
            "livepeer_signer_http_request_duration_seconds_count{route=\"sign_orchestrator_info\"}"
        ) >= 3.0
    );
    // The startup signature went through the Signer.
    assert!(metric(&after, "livepeer_signer_signatures_total{backend=\"keystore\"}") >= 1.0);
    assert!(
        metric(
            &after,
            "livepeer_signer_sign_duration_seconds_count{backend=\"keystore\"}"
        ) >= 1.0
    );
    assert_eq!(
        metric(&after, "livepeer_signer_backend_up{backend=\"keystore\"}"),
        1.0
    );
    assert!(after.contains("livepeer_signer_build_info{version="));
    // Not on the API listener when it has its own.
    assert_eq!(c.send(c.get(&format!("{}/metrics", d.url))).unwrap().status, 404);
}

#[test]
fn request_ids_are_echoed_or_generated() {
    let s = setup("");
    let d = serve(&s);
    let c = client();
    let r = c
        .send(
            c.post(&format!("{}/sign-orchestrator-info", d.url))
                .header("X-Request-Id", "req-123"),
        )
        .unwrap();
    assert_eq!(r.headers["x-request-id"], "req-123");
    d.wait_for_log("req-123");
    let r = c
        .send(c.post(&format!("{}/sign-orchestrator-info", d.url)))
        .unwrap();
    let generated = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    d.wait_for_log(&generated);
}

#[test]
fn oversized_body_gets_413() {
    let s = setup("");
    let d = serve(&s);
    let c = client();
    let r = c
        .send(
            c.post(&format!("{}/sign-orchestrator-info", d.url))
                .body(vec![b'x'; 64 * 1024 + 1]),
        )
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        "{\"error\":{\"message\":\"request body of 65537 bytes exceeds the limit of 65536 bytes\"}}\n"
    );
    // At the limit is fine.
    let r = c
        .send(
            c.post(&format!("{}/sign-orchestrator-info", d.url))
                .body(vec![b'x'; 64 * 1024]),
        )
        .unwrap();
    assert_eq!(r.status, 200);
}

/// One request on a fresh connection: `Some(true)` complete 200 with the C1
/// body, `Some(false)` truncated or wrong, `None` not accepted (refused/reset
/// before any byte of a response).
fn one_request(addr: &str) -> Option<bool> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!("POST /sign-orchestrator-info HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return None;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    if out.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&out);
    Some(text.starts_with("HTTP/1.1 200 OK") && text.ends_with(support::C1_BODY))
}

#[test]
fn sigterm_under_load_loses_no_in_flight_request() {
    let s = setup("");
    let mut d = serve(&s);
    let addr = d.url.trim_start_matches("http://").to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut ok, mut bad, mut refused) = (0u64, 0u64, 0u64);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match one_request(&addr) {
                        Some(true) => ok += 1,
                        Some(false) => bad += 1,
                        None => refused += 1,
                    }
                }
                (ok, bad, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    d.signal("TERM");
    let status = d.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut bad) = (0, 0);
    for w in workers {
        let (o, b, _) = w.join().unwrap();
        ok += o;
        bad += b;
    }
    assert_eq!(status.code(), Some(0), "graceful exit");
    assert_eq!(bad, 0, "no truncated or failed response");
    assert!(ok > 50, "load actually ran: {ok}");
    // Every request the server handled reached its client complete.
    let served = d
        .logs()
        .lines()
        .filter(|l| l.contains("event=\"serve\"") && l.contains("outcome=\"ok\""))
        .count() as u64;
    assert_eq!(
        served, ok,
        "served by the daemon vs. received complete by clients"
    );
}

#[test]
fn logs_of_a_full_run_hold_no_secret() {
    let s = setup("");
    write_config(
        &s,
        &format!(
            "{}\n[log]\nlevel = \"debug\"\nformat = \"json\"\n",
            tokens_toml(&s)
        ),
    );
    let mut d = serve(&s);
    let c = client();
    assert_eq!(orch(&c, &d.url, Some(TOKEN_A)).status, 200);
    assert_eq!(orch(&c, &d.url, Some(TOKEN_B)).status, 200);
    assert_eq!(orch(&c, &d.url, Some(TOKEN_C)).status, 401);
    assert_eq!(orch(&c, &d.url, None).status, 401);
    d.signal("HUP");
    d.wait_for_log("reload");
    d.signal("TERM");
    assert_eq!(d.wait().code(), Some(0));
    let logs = d.logs();
    assert!(logs.lines().count() > 5, "{logs}");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "JSON lines:\n{logs}"
    );
    assert!(logs.contains("\"request_id\""), "request ids in JSON logs");
    for (what, secret) in [
        ("keystore password", support::C7_PASSWORD.to_string()),
        ("token a", TOKEN_A.to_string()),
        ("token b", TOKEN_B.to_string()),
        ("presented token c", TOKEN_C.to_string()),
        ("private key", support::C_KEY.to_string()),
        ("private key (upper)", support::C_KEY.to_uppercase()),
    ] {
        assert!(!logs.contains(&secret), "{what} leaked into the logs");
    }
}

#[test]
fn token_new_prints_a_token_and_config_lines_that_work() {
    let out = bin().args(["token", "new", "--name", "gw-new"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().next().unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    let snippet = &stdout[token.len()..];
    assert!(
        snippet.contains("[[auth.tokens]]\nname = \"gw-new\"\n"),
        "{snippet}"
    );
    assert!(
        snippet.contains(&format!("sha256 = \"{}\"", hex::encode(token_sha256(&token)))),
        "{snippet}"
    );
    let again = bin().args(["token", "new", "--name", "gw-new"]).output().unwrap();
    assert_ne!(
        String::from_utf8(again.stdout).unwrap().lines().next().unwrap(),
        token,
        "random"
    );

    let s = setup("");
    write_config(&s, snippet);
    let d = serve(&s);
    let c = client();
    assert_eq!(orch(&c, &d.url, Some(&token)).status, 200);
    assert_eq!(orch(&c, &d.url, Some(TOKEN_A)).status, 401);
    assert!(!d.logs().contains(&token));
}
