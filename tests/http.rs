//! The HTTP surface over real sockets, in-process.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use livepeer_signer::access::Tokens;
use livepeer_signer::keys::keystore::KeystoreBackend;
use livepeer_signer::livepeer::orch_info::OrchInfoSignature;
use livepeer_signer::server::{self, AppState};
use livepeer_signer::signer::Signer;

async fn start() -> (SocketAddr, server::Handles) {
    let signer = Signer::new(Box::new(KeystoreBackend::from_signing_key(
        support::c_key(),
        "memory".into(),
    )));
    let orch_info = OrchInfoSignature::create(&signer).await.unwrap();
    let config = livepeer_signer::config::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let state = std::sync::Arc::new(AppState::new(signer, orch_info, Tokens::default(), 64 * 1024));
    let bound = server::bind(&config, state, None).unwrap();
    let addr = bound.local_addrs()[0];
    let handle = bound.handles();
    tokio::spawn(bound.run());
    (addr, handle)
}

/// Sends raw bytes and reads the whole response (the request asks to close).
fn raw(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn split(resp: &str) -> (&str, &str) {
    let i = resp.find("\r\n\r\n").expect("header/body separator");
    (&resp[..i], &resp[i + 4..])
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn go_livepeer_gateway_request_gets_the_c1_body() {
    let (addr, handle) = start().await;
    // Exactly what go-livepeer's GetOrchInfoSig sends: POST, no body,
    // Content-Type: application/json, Go's default headers.
    let req = format!(
        "POST /sign-orchestrator-info HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Go-http-client/1.1\r\n\
         Content-Length: 0\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    );
    let resp = tokio::task::spawn_blocking(move || raw(addr, &req))
        .await
        .unwrap();
    let (head, body) = split(&resp);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(header(head, "content-type"), Some("application/json"));
    assert_eq!(header(head, "content-encoding"), None);
    assert_eq!(body, support::C1_BODY);
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_body_and_headers_are_ignored() {
    let (addr, handle) = start().await;
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("http://{addr}/sign-orchestrator-info"))
        .header("Content-Type", "text/plain")
        .body("{\"anything\": true}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), support::C1_BODY);
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_method_is_405_with_allow() {
    let (addr, handle) = start().await;
    let client = reqwest::Client::new();
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let resp = client
            .request(method.clone(), format!("http://{addr}/sign-orchestrator-info"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method}");
        assert_eq!(resp.headers()["allow"], "POST");
        assert_eq!(resp.text().await.unwrap(), "Method Not Allowed\n");
    }
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_path_is_go_style_404() {
    let (addr, handle) = start().await;
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/sign-orchestrator-info/extra"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), "404 page not found\n");
    handle.stop(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_any_method() {
    let (addr, handle) = start().await;
    let client = reqwest::Client::new();
    for method in [reqwest::Method::GET, reqwest::Method::POST, reqwest::Method::HEAD] {
        let resp = client
            .request(method, format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    handle.stop(true).await;
}

#[test]
fn json_error_envelope_masks_500_and_503() {
    use actix_web::body::MessageBody;
    use actix_web::http::StatusCode;
    use livepeer_signer::server::error::json_error;
    let body = |status, msg| {
        let resp = json_error(status, msg);
        assert_eq!(resp.headers().get("content-type").unwrap(), "application/json");
        String::from_utf8(resp.into_body().try_into_bytes().unwrap().to_vec()).unwrap()
    };
    assert_eq!(
        body(StatusCode::BAD_REQUEST, "missing orchestrator"),
        "{\"error\":{\"message\":\"missing orchestrator\"}}\n"
    );
    assert_eq!(
        body(StatusCode::INTERNAL_SERVER_ERROR, "secret detail"),
        "{\"error\":{\"message\":\"Internal Server Error\"}}\n"
    );
    assert_eq!(
        body(StatusCode::SERVICE_UNAVAILABLE, "detail"),
        "{\"error\":{\"message\":\"Service Unavailable Error\"}}\n"
    );
}
