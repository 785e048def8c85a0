//! The HTTP request path: the real `routes::configure` (request-id / body
//! limit / metrics middleware, bearer-token check, handlers, error bodies)
//! with the real `AppState` (§C key, one token), driven by arbitrary
//! method, path, headers and body, in process.
//!
//! Input (HTTP-like, `\n`-separated): `METHOD PATH`, then `Name: value`
//! header lines up to an empty line, then the body. Lines that are not a
//! valid method / URI / header are dropped (actix's own HTTP/1 parser is
//! exercised over real sockets by `tests/bad_input.rs`).
//!
//! Properties: never panics, never a 5xx (a middleware `Err` is mapped to
//! its response status), and every 200 on `/sign-orchestrator-info` carries
//! exactly the cached body.
#![no_main]

use std::sync::Arc;

use actix_web::dev::Service;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{test, web, App};
use k256::ecdsa::SigningKey;
use libfuzzer_sys::fuzz_target;
use livepeer_signer::config::{Config, ConfigSource};
use livepeer_signer::eth::hex;
use livepeer_signer::keys::keystore::KeystoreBackend;
use livepeer_signer::livepeer::orch_info::OrchInfoSignature;
use livepeer_signer::access::Tokens;
use livepeer_signer::server::{routes, AppState};
use livepeer_signer::signer::Signer;

/// vectors.md §C key.
const C_KEY: &str = "fad9c8855b740a0b7ed4c221dbad0f33a83a49cad6b3fe8d5817ac83d38b6a19";
/// Token `fuzz-token` (sha256 below); the seeds use it.
const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
body_limit_bytes = 4096

[key]
backend = "keystore"

[key.keystore]
path = "/nonexistent/fuzz"
password_file = "/nonexistent/fuzz-password"

[[auth.tokens]]
name = "fuzz"
sha256 = "33cc09ba35314d19e32ed9a5a30fca56eebbfab5faec7247fd0403cd26e155b5"
"#;

struct Fixture {
    runner: actix_web::rt::SystemRunner,
    state: web::Data<AppState>,
    body_limit: usize,
}

thread_local! {
    static FIXTURE: Fixture = fixture();
}

fn fixture() -> Fixture {
    let config = Config::from_toml_with_env(CONFIG, &ConfigSource::Embedded, Vec::new()).unwrap();
    let runner = actix_web::rt::System::new();
    let key = SigningKey::from_slice(&hex::decode(C_KEY).unwrap()).unwrap();
    let signer = Signer::new(Box::new(KeystoreBackend::from_signing_key(key, "fuzz".into())));
    let orch = runner.block_on(OrchInfoSignature::create(&signer)).unwrap();
    let tokens = Tokens::load(&config.auth).unwrap();
    assert!(!tokens.is_empty());
    // The eth1 JSON-RPC routes are on too, so `POST /` and
    // `/api/v1/eth1/*` are fuzzed with the same requests.
    let policy = livepeer_signer::web3signer::policy::Policy::from_config(&config.web3signer);
    let state = Arc::new(AppState::new(signer, orch, tokens, config.server.body_limit_bytes).with_web3signer(policy));
    Fixture {
        runner,
        state: web::Data::from(state),
        body_limit: config.server.body_limit_bytes,
    }
}

fn request(data: &[u8]) -> Option<(test::TestRequest, Vec<u8>)> {
    let mut lines = data.split(|&b| b == b'\n');
    let first = lines.next()?;
    let mut parts = first.splitn(2, |&b| b == b' ');
    let method = Method::from_bytes(parts.next()?).ok()?;
    let path = std::str::from_utf8(parts.next().unwrap_or(b"/")).ok()?;
    path.parse::<actix_web::http::Uri>().ok()?;
    let mut req = test::TestRequest::default()
        .method(method)
        .uri(path)
        .peer_addr("127.0.0.1:40000".parse().unwrap());
    let mut consumed = first.len() + 1;
    for line in lines.by_ref() {
        consumed += line.len() + 1;
        if line.is_empty() || line == b"\r" {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        req = req.append_header((name, value));
    }
    let body = data.get(consumed..).unwrap_or_default().to_vec();
    Some((req, body))
}

fuzz_target!(|data: &[u8]| {
    let Some((req, body)) = request(data) else { return };
    FIXTURE.with(|f| {
        f.runner.block_on(async {
            let app = test::init_service(
                App::new()
                    .app_data(f.state.clone())
                    .app_data(web::PayloadConfig::new(f.body_limit))
                    .configure(|c| routes::configure(c, true, true, true)),
            )
            .await;
            let req = req.set_payload(body).to_request();
            let path = req.path().to_owned();
            match app.call(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    assert!(!status.is_server_error(), "{status} for {path}");
                    let bytes = test::read_body(resp).await;
                    if status.is_success() && path == "/sign-orchestrator-info" {
                        assert_eq!(&bytes[..], f.state.orch_info.body());
                    }
                }
                Err(e) => {
                    let status = e.as_response_error().status_code();
                    assert!(!status.is_server_error(), "{status} ({e}) for {path}");
                }
            }
        })
    });
});
