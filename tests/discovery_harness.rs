//! Self-test of the discovery test harness over real sockets: the gRPC
//! orchestrator of `tests/support/orchestrator.rs` (plaintext and TLS,
//! signature checks, scripted answers and failure modes, `/discovery`), the
//! `-orchWebhookUrl` server, and the BondingManager / ServiceRegistry test
//! contracts on anvil.

mod support;

use std::time::{Duration, Instant};

use alloy_primitives::{address, keccak256, Address, U256};
use alloy_sol_types::SolEvent;
use livepeer_signer::livepeer::proto::OrchestratorRequest;
use support::anvil::{
    Anvil, TestBondingManager, TestController, TestServiceRegistry, DEV_ACCOUNT, MAX_ROUND,
};
use support::orchestrator::{
    ai_info, get_orchestrator, insecure_client_config, key_address, orch_req_sig, signed_request,
    verify_orch_req_sig, webhook_body, GrpcAnswer, HttpAnswer, OrchWebhook, Orchestrator,
    CAP_LIVE_VIDEO_TO_VIDEO, CAP_TEXT_TO_IMAGE, GET_ORCHESTRATOR_PATH, SIG_CHECK_FAILED,
};
use support::{c_key, C1_BODY, C_ADDRESS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(5);

fn c_address() -> Address {
    C_ADDRESS.parse().unwrap()
}

/// A reqwest client that accepts the orchestrators' self-signed certificates.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(T)
        .build()
        .unwrap()
}

/// `r‖s‖v` with s replaced by n − s and v flipped: the same signature, high-s.
fn high_s(sig: &[u8]) -> Vec<u8> {
    let n = U256::from_be_slice(
        &livepeer_signer::eth::hex::decode(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        )
        .unwrap(),
    );
    let s = U256::from_be_slice(&sig[32..64]);
    let mut out = sig.to_vec();
    out[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    out[64] ^= 1;
    out
}

#[test]
fn signing_helpers_match_vector_c1() {
    let sig = orch_req_sig(&c_key());
    let c1: serde_json::Value = serde_json::from_str(C1_BODY).unwrap();
    let want = c1["signature"].as_str().unwrap();
    assert_eq!(format!("0x{}", livepeer_signer::eth::hex::encode(&sig)), want);
    assert_eq!(key_address(&c_key()), c_address());
    assert!(verify_orch_req_sig(c_address(), &sig));
    // VerifySig's refusals (spec §1.2): high-s, raw v, length, other address.
    let hs = high_s(&sig);
    assert!(!verify_orch_req_sig(c_address(), &hs));
    let mut raw_v = sig.clone();
    raw_v[64] -= 27;
    assert!(!verify_orch_req_sig(c_address(), &raw_v));
    assert!(!verify_orch_req_sig(c_address(), &sig[..64]));
    assert!(!verify_orch_req_sig(Address::repeat_byte(1), &sig));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_answers_signed_requests_and_refuses_bad_signatures() {
    let o = Orchestrator::http(c_address());
    assert!(o.url().starts_with("http://127.0.0.1:"), "{}", o.url());
    let info = ai_info(&[
        (CAP_LIVE_VIDEO_TO_VIDEO, "model-a", 80),
        (CAP_TEXT_TO_IMAGE, "model-b", 50),
    ]);
    o.set_info(info.clone());

    let got = get_orchestrator(&o.url(), signed_request(&c_key()), T)
        .await
        .unwrap();
    let mut want = info.clone();
    want.transcoder = o.url();
    assert_eq!(got, want);

    // A scripted transcoder is answered as is; answers change at runtime.
    let mut other = info.clone();
    other.transcoder = "https://orch.example.com:8935".into();
    o.set_info(other.clone());
    let got = get_orchestrator(&o.url(), signed_request(&c_key()), T)
        .await
        .unwrap();
    assert_eq!(got, other);

    let good = signed_request(&c_key());
    let mut flipped = good.clone();
    flipped.sig[10] ^= 1;
    let mut hs = good.clone();
    hs.sig = high_s(&good.sig);
    let mut raw_v = good.clone();
    raw_v.sig[64] -= 27;
    let stranger_key = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let stranger = signed_request(&stranger_key);
    let unsigned = OrchestratorRequest {
        address: c_address().to_vec(),
        ..Default::default()
    };
    for bad in [&flipped, &hs, &raw_v, &stranger, &unsigned] {
        let err = get_orchestrator(&o.url(), bad.clone(), T).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unknown, "{err:?}");
        assert_eq!(err.message(), SIG_CHECK_FAILED);
    }

    let calls = o.requests();
    assert_eq!(calls.len(), 7);
    let ok: Vec<(bool, bool)> = calls.iter().map(|c| (c.sig_valid, c.sig_ok)).collect();
    assert_eq!(
        ok,
        [
            (true, true),
            (true, true),
            (false, false),
            (false, false),
            (false, false),
            (true, false),
            (false, false)
        ]
    );
    assert_eq!(calls[0].request, good);
    assert_eq!(calls[0].sender, c_address());
    assert!(calls[0].ignore_capacity_check);
    assert!(!calls[6].ignore_capacity_check);
    assert_eq!(calls[5].sender, key_address(&stranger_key));
    let ct = calls[0].metadata.iter().find(|(n, _)| n == "content-type");
    assert_eq!(ct.map(|(_, v)| v.as_str()), Some("application/grpc"));
    let te = calls[0].metadata.iter().find(|(n, _)| n == "te");
    assert_eq!(te.map(|(_, v)| v.as_str()), Some("trailers"));

    // Any signer (go-livepeer's behaviour), then none at all (off-chain O).
    o.expect_signer(None);
    get_orchestrator(&o.url(), stranger.clone(), T).await.unwrap();
    get_orchestrator(&o.url(), flipped.clone(), T).await.unwrap_err();
    o.set_verify_sig(false);
    get_orchestrator(&o.url(), flipped, T).await.unwrap();
    o.clear();
    assert!(o.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_orchestrator_serves_grpc_over_h2_and_http1_on_one_port() {
    let o = Orchestrator::https(c_address());
    assert!(o.url().starts_with("https://127.0.0.1:"), "{}", o.url());
    assert!(o.is_tls() && o.cert_der().is_some());

    let got = get_orchestrator(&o.url(), signed_request(&c_key()), T)
        .await
        .unwrap();
    assert_eq!(got.transcoder, o.url());
    let mut bad = signed_request(&c_key());
    bad.sig[0] ^= 1;
    let err = get_orchestrator(&o.url(), bad, T).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (tonic::Code::Unknown, SIG_CHECK_FAILED)
    );

    // ALPN: h2 when offered first, http/1.1 when only that is offered.
    for (offer, want) in [
        (vec![b"h2".to_vec(), b"http/1.1".to_vec()], b"h2".as_slice()),
        (vec![b"http/1.1".to_vec()], b"http/1.1".as_slice()),
    ] {
        let mut cfg = insecure_client_config();
        cfg.alpn_protocols = offer;
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", o.port()))
            .await
            .unwrap();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let stream = tls.connect(name, tcp).await.unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(want));
    }

    // HTTP/1.1 over TLS on the same port: /discovery.
    o.set_discovery_json(r#"[{"address":"x","runners":[]}]"#);
    let resp = http().get(format!("{}/discovery", o.url())).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), r#"[{"address":"x","runners":[]}]"#);
    let calls = o.discovery_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].version, "HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_route_is_scripted_and_changeable() {
    let o = Orchestrator::http(c_address());
    let c = http();
    let get = |path: &str| c.get(format!("{}{path}", o.url())).send();

    let r = get("/discovery").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), "[]");

    let records = r#"[{"address":"https://orch1.example.com:8935","runners":[{"url":"https://orch1.example.com:8935/scope-ok","app":"live-video-to-video/model-a","capacity":1,"capacity_used":0,"capacity_available":1,"price_info":{"price":80,"currency":"wei","unit":"seconds"}}]}]"#;
    o.set_discovery_json(records);
    let r = get("/discovery?x=1").await.unwrap();
    assert_eq!(r.text().await.unwrap(), records);

    o.set_discovery(
        HttpAnswer::http(503, "busy")
            .content_type("text/plain")
            .after(Duration::from_millis(300)),
    );
    let start = Instant::now();
    let r = get("/discovery").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.text().await.unwrap(), "busy");

    let r = get("/other").await.unwrap();
    assert_eq!(r.status(), 404);

    let calls = o.discovery_calls();
    let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/discovery", "/discovery?x=1", "/discovery"]);
    assert_eq!(o.http_calls().len(), 4);
    assert!(o.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_failure_modes() {
    let o = Orchestrator::http(c_address());
    let req = || signed_request(&c_key());

    // Delay: the client gives up; the request was still recorded.
    o.set_grpc_delay(Duration::from_secs(3));
    let start = Instant::now();
    let err = get_orchestrator(&o.url(), req(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert!(
        matches!(err.code(), tonic::Code::Cancelled | tonic::Code::DeadlineExceeded),
        "{err:?}"
    );
    assert_eq!(o.requests().len(), 1);
    o.set_grpc_delay(Duration::ZERO);

    o.set_grpc(GrpcAnswer::Status(tonic::Code::Unavailable, "busy".into()));
    let err = get_orchestrator(&o.url(), req(), T).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (tonic::Code::Unavailable, "busy"));

    o.set_grpc(GrpcAnswer::bad_protobuf());
    let err = get_orchestrator(&o.url(), req(), T).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");

    o.set_grpc(GrpcAnswer::garbage());
    let err = get_orchestrator(&o.url(), req(), T).await.unwrap_err();
    assert_ne!(err.code(), tonic::Code::Ok, "{err:?}");

    o.set_grpc(GrpcAnswer::Http {
        status: 404,
        content_type: "text/plain".into(),
        body: b"404 page not found\n".to_vec(),
    });
    let err = get_orchestrator(&o.url(), req(), T).await.unwrap_err();
    assert!(err.message().contains("404 Not Found"), "{err:?}");
    assert_eq!(o.requests().len(), 5);

    // A plain HTTP/1.1 POST on the gRPC route gets the raw answer too.
    let r = http()
        .post(format!("{}{GET_ORCHESTRATOR_PATH}", o.url()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // TCP junk: no HTTP at all, on every new connection.
    o.set_grpc(GrpcAnswer::Info);
    o.set_tcp_junk(Some(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()));
    let err = get_orchestrator(&o.url(), req(), T).await.unwrap_err();
    assert_ne!(err.code(), tonic::Code::Ok, "{err:?}");
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", o.port()))
        .await
        .unwrap();
    tcp.write_all(b"GET /discovery HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(T, tcp.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"SSH-2.0-OpenSSH_9.6\r\n");
    assert!(http().get(format!("{}/discovery", o.url())).send().await.is_err());

    o.set_tcp_junk(None);
    get_orchestrator(&o.url(), req(), T).await.unwrap();
    assert!(o.connections() >= 9, "{}", o.connections());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orch_webhook_answers_get_with_the_scripted_list() {
    let body = webhook_body(&["http://127.0.0.1:1234", "https://orch.example.com:8935"]);
    assert_eq!(
        body,
        r#"[{"address":"http://127.0.0.1:1234","score":1},{"address":"https://orch.example.com:8935","score":1}]"#
    );
    let w = OrchWebhook::start(body.clone());
    let r = http().get(w.url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), body);

    w.set_orchestrators(&["http://127.0.0.1:9"]);
    let r = http().get(w.url()).send().await.unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        r#"[{"address":"http://127.0.0.1:9","score":1}]"#
    );
    w.set_answer(HttpAnswer::http(500, "oops"));
    assert_eq!(http().get(w.url()).send().await.unwrap().status(), 500);

    let calls = w.calls();
    assert_eq!(calls.len(), 3);
    assert!(calls
        .iter()
        .all(|c| c.method == "GET" && c.path == "/orchestrators"));

    let tls = OrchWebhook::with(true, HttpAnswer::json("[]"));
    assert!(tls.url().starts_with("https://127.0.0.1:"));
    assert_eq!(
        http().get(tls.url()).send().await.unwrap().text().await.unwrap(),
        "[]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_pool_lists_orchestrators_in_order_with_their_uris() {
    // vectors.md §C8 Controller ids.
    assert_eq!(
        keccak256("BondingManager").to_string(),
        "0x2517d59a36a86548e38734e8ab416f42afff4bca78706a66ad65750dae7f9e37"
    );
    assert_eq!(
        keccak256("ServiceRegistry").to_string(),
        "0x79c5d2a4a07754f4bacb0ffba18ac516030ee589ebc89db8627680c4d4cdb230"
    );
    let anvil = Anvil::start();
    let d = anvil.deploy_livepeer().await;
    for (name, want) in [
        ("BondingManager", d.bonding_manager),
        ("ServiceRegistry", d.service_registry),
        ("RoundsManager", d.rounds_manager),
        ("TicketBroker", d.ticket_broker),
    ] {
        let got = anvil
            .call(
                d.controller,
                TestController::getContractCall { id: keccak256(name) },
            )
            .await;
        assert_eq!(got, want, "{name}");
    }
    assert!(anvil.transcoder_pool(&d).await.is_empty());

    let round = anvil.current_round(&d).await;
    let one = U256::from(1);
    let a = address!("00000000000000000000000000000000000000a1");
    let b = address!("00000000000000000000000000000000000000b2");
    let c = address!("00000000000000000000000000000000000000c3");
    anvil
        .add_active_orchestrator(&d, a, "https://a.example.com:8935")
        .await;
    // Active from the next round on; left in the current round.
    anvil
        .add_orchestrator(&d, b, round + one, MAX_ROUND, "https://b.example.com:8935")
        .await;
    anvil
        .add_orchestrator(&d, c, round - one, round, "https://c.example.com:8935")
        .await;

    assert_eq!(anvil.transcoder_pool(&d).await, [a, b, c]);
    let size = anvil
        .call(
            d.bonding_manager,
            TestBondingManager::getTranscoderPoolSizeCall {},
        )
        .await;
    assert_eq!(size, U256::from(3));
    assert_eq!(anvil.service_uri(&d, b).await, "https://b.example.com:8935");
    let active = [
        anvil.is_active_transcoder(&d, a).await,
        anvil.is_active_transcoder(&d, b).await,
        anvil.is_active_transcoder(&d, c).await,
    ];
    assert_eq!(active, [true, false, false]);
    let t = anvil
        .call(
            d.bonding_manager,
            TestBondingManager::getTranscoderCall { transcoder: b },
        )
        .await;
    assert_eq!((t.activationRound, t.deactivationRound), (round + one, MAX_ROUND));

    anvil.next_round(&d).await;
    assert!(anvil.is_active_transcoder(&d, b).await);

    // Updating keeps the position; removing unlinks; re-adding appends.
    anvil
        .add_orchestrator(&d, a, round, round + one, "https://a2.example.com")
        .await;
    assert_eq!(anvil.transcoder_pool(&d).await, [a, b, c]);
    assert!(!anvil.is_active_transcoder(&d, a).await);
    assert_eq!(anvil.service_uri(&d, a).await, "https://a2.example.com");
    anvil.remove_orchestrator(&d, b).await;
    assert_eq!(anvil.transcoder_pool(&d).await, [a, c]);
    assert!(!anvil.is_active_transcoder(&d, b).await);
    anvil.remove_orchestrator(&d, a).await;
    anvil
        .add_active_orchestrator(&d, b, "https://b.example.com:8935")
        .await;
    assert_eq!(anvil.transcoder_pool(&d).await, [c, b]);

    // setServiceURI for msg.sender emits ServiceURIUpdate(addr indexed, uri).
    anvil.set_service_uri(&d, c, "").await;
    assert_eq!(anvil.service_uri(&d, c).await, "");
    let call = TestServiceRegistry::setServiceURICall {
        serviceURI: "https://dev.example.com".into(),
    };
    let receipt = anvil
        .send(
            Some(d.service_registry),
            alloy_sol_types::SolCall::abi_encode(&call).into(),
            U256::ZERO,
        )
        .await;
    let log = receipt.inner.logs()[0].inner.clone();
    let ev = TestServiceRegistry::ServiceURIUpdate::decode_log(&log).unwrap();
    assert_eq!(
        (ev.addr, ev.serviceURI.as_str()),
        (DEV_ACCOUNT, "https://dev.example.com")
    );
    assert_eq!(
        anvil.service_uri(&d, DEV_ACCOUNT).await,
        "https://dev.example.com"
    );
}
