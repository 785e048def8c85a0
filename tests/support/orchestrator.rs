//! Real orchestrators for the discovery tests: a go-livepeer-like
//! orchestrator (gRPC `net.Orchestrator/GetOrchestrator` and
//! `GET /discovery` on one port, plaintext or TLS) and an
//! `-orchWebhookUrl` source, each on `127.0.0.1:0`.
//!
//! * [`Orchestrator`]: hyper 1 with hyper-util's `auto` builder, so HTTP/1.1
//!   and HTTP/2 (h2c prior knowledge, or ALPN `h2` under TLS) share the
//!   port, as on a go-livepeer orchestrator. The gRPC route runs
//!   `tonic::server::Grpc` with tonic-prost's codec and the prost messages
//!   of `src/livepeer/proto.rs` (no codegen). Every request is checked the
//!   way go-livepeer's `verifyOrchestratorReq` does (spec §1.2, §2.5) and
//!   recorded. Answers, delays and failure modes can be changed at any time
//!   from the test thread.
//! * [`OrchWebhook`]: answers every request (go-livepeer sends `GET`) with a
//!   scripted JSON body such as `[{"address":"http://127.0.0.1:1234","score":1}]`
//!   ([`webhook_body`]), and records the requests.
//!
//! Each server runs on its own thread with its own tokio runtime (like
//! `webhook.rs`), so it does not depend on the test's runtime; dropping it
//! stops it (the runtime and every connection task go with it).
//!
//! Also here, for tests that talk to these servers directly: a tonic client
//! ([`get_orchestrator`], TLS without certificate checks like go-livepeer's
//! gateway) and a go-livepeer style `OrchestratorRequest` signer
//! ([`signed_request`]).
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use alloy_primitives::{keccak256, Address, U256};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use livepeer_signer::livepeer::proto::{
    capabilities, Capabilities, OrchestratorInfo, OrchestratorRequest, PriceInfo,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tonic::body::Body;

/// The gRPC path of `GetOrchestrator`.
pub const GET_ORCHESTRATOR_PATH: &str = "/net.Orchestrator/GetOrchestrator";

/// The gRPC status message (code `Unknown`) go-livepeer's `getOrchestrator`
/// answers when `verifyOrchestratorReq` fails (spec §2.5).
pub const SIG_CHECK_FAILED: &str = "Invalid orchestrator request: orchestrator req sig check failed";

/// go-livepeer capability ids (`core/capabilities.go`).
pub const CAP_TEXT_TO_IMAGE: u32 = 27;
/// `Capability_LLM`.
pub const CAP_LLM: u32 = 33;
/// `Capability_LiveVideoToVideo`.
pub const CAP_LIVE_VIDEO_TO_VIDEO: u32 = 35;

/// The orchestrator's own Ethereum address in [`default_info`] (anvil's
/// second dev account; it signs nothing here).
pub const ORCH_ADDRESS: Address = alloy_primitives::address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");

// ---------------------------------------------------------------- scripts

/// How the gRPC route answers a `GetOrchestrator` call whose signature
/// check passed (a failed check always answers `Unknown` /
/// [`SIG_CHECK_FAILED`], except in the raw modes [`GrpcAnswer::Message`] and
/// [`GrpcAnswer::Http`], which answer the same whatever the request).
#[derive(Debug, Clone)]
pub enum GrpcAnswer {
    /// The scripted [`OrchestratorInfo`] ([`Orchestrator::set_info`]), the default.
    Info,
    /// A gRPC error status.
    Status(tonic::Code, String),
    /// A well-framed gRPC answer (HTTP 200, `application/grpc`, one
    /// length-prefixed message, `grpc-status: 0`) whose message is these
    /// bytes: not a protobuf `OrchestratorInfo` when they are garbage.
    Message(Vec<u8>),
    /// A raw HTTP answer on the gRPC route: no gRPC framing, no trailers.
    Http {
        /// HTTP status.
        status: u16,
        /// `Content-Type`.
        content_type: String,
        /// Body.
        body: Vec<u8>,
    },
}

impl GrpcAnswer {
    /// HTTP 200 `application/grpc` whose body is text, not gRPC frames of
    /// protobuf: the "garbage" orchestrator.
    pub fn garbage() -> GrpcAnswer {
        GrpcAnswer::Http {
            status: 200,
            content_type: "application/grpc".into(),
            body: b"this is not a protobuf OrchestratorInfo\n".to_vec(),
        }
    }

    /// A well-framed gRPC message that does not decode as an `OrchestratorInfo`.
    pub fn bad_protobuf() -> GrpcAnswer {
        GrpcAnswer::Message(vec![0xff; 16])
    }
}

/// A scripted plain HTTP answer (`/discovery`, the webhook).
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
    /// Wait this long before answering (timeouts).
    pub delay: Duration,
}

impl HttpAnswer {
    /// `200 application/json` with `body`.
    pub fn json(body: impl Into<String>) -> HttpAnswer {
        HttpAnswer::http(200, body)
    }

    /// `status` `application/json` with `body`.
    pub fn http(status: u16, body: impl Into<String>) -> HttpAnswer {
        HttpAnswer {
            status,
            content_type: "application/json".into(),
            body: body.into().into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// The same answer with another `Content-Type`.
    pub fn content_type(mut self, ct: impl Into<String>) -> HttpAnswer {
        self.content_type = ct.into();
        self
    }

    /// The same answer after `delay`.
    pub fn after(mut self, delay: Duration) -> HttpAnswer {
        self.delay = delay;
        self
    }
}

// ---------------------------------------------------------------- records

/// One `GetOrchestrator` call whose request decoded.
#[derive(Debug, Clone)]
pub struct GrpcCall {
    /// The decoded request.
    pub request: OrchestratorRequest,
    /// `BytesToAddress(request.address)`.
    pub sender: Address,
    /// `VerifySig(sender, keccak256(EIP-55(sender)), request.sig)` passed
    /// (spec §1.2: 65 bytes, low-s, v ∈ {27, 28}, recovers to `sender`).
    pub sig_valid: bool,
    /// `sig_valid` and `sender` is the expected signer (when one is set):
    /// the call was answered, not refused with [`SIG_CHECK_FAILED`].
    pub sig_ok: bool,
    /// `request.ignore_capacity_check`.
    pub ignore_capacity_check: bool,
    /// The request headers as gRPC metadata (`grpc-timeout`, `user-agent`, …).
    pub metadata: Vec<(String, String)>,
    /// When it arrived.
    pub at: Instant,
}

/// One plain HTTP request (every non-gRPC request, `/discovery` included).
#[derive(Debug, Clone)]
pub struct HttpCall {
    /// `GET`, …
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: String,
    /// Headers (names lowercase, as hyper gives them).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl HttpCall {
    /// Reads a whole request (body included) as received.
    async fn read(req: Request<Incoming>) -> HttpCall {
        let method = req.method().to_string();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let version = format!("{:?}", req.version());
        let headers = headers_of(req.headers());
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        HttpCall {
            method,
            path,
            version,
            headers,
            body,
            at: Instant::now(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------- helpers

/// The orchestrator info answered unless a test sets another: no
/// capabilities, a global price of 1 wei per pixel, [`ORCH_ADDRESS`], and an
/// empty `transcoder` (the server fills in its own URL).
pub fn default_info() -> OrchestratorInfo {
    OrchestratorInfo {
        price_info: Some(PriceInfo {
            price_per_unit: 1,
            pixels_per_unit: 1,
            ..Default::default()
        }),
        address: ORCH_ADDRESS.to_vec(),
        ..Default::default()
    }
}

/// An AI orchestrator's info: for each `(capability, model, price)`, the
/// capability bit, a warm `PerCapability` model constraint (capacity 1) and
/// a `capabilities_prices` entry of `price` wei per 1 unit (`constraint` =
/// model). No global `price_info`; `transcoder` empty (the server's URL).
pub fn ai_info(models: &[(u32, &str, i64)]) -> OrchestratorInfo {
    let mut caps = Capabilities {
        version: "0.8.0".into(),
        constraints: Some(capabilities::Constraints::default()),
        ..Default::default()
    };
    let mut prices = Vec::new();
    for &(cap, model, price) in models {
        let word = (cap / 64) as usize;
        if caps.bitstring.len() <= word {
            caps.bitstring.resize(word + 1, 0);
        }
        caps.bitstring[word] |= 1 << (cap % 64);
        caps.capacities.insert(cap, 1);
        let per = caps.constraints.as_mut().unwrap();
        per.per_capability.entry(cap).or_default().models.insert(
            model.to_string(),
            capabilities::capability_constraints::ModelConstraint {
                warm: true,
                capacity: 1,
                ..Default::default()
            },
        );
        prices.push(PriceInfo {
            price_per_unit: price,
            pixels_per_unit: 1,
            capability: cap,
            constraint: model.to_string(),
        });
    }
    OrchestratorInfo {
        address: ORCH_ADDRESS.to_vec(),
        capabilities: Some(caps),
        capabilities_prices: prices,
        ..Default::default()
    }
}

/// The `-orchWebhookUrl` answer listing `uris`, each with score 1:
/// `[{"address":"…","score":1},…]`.
pub fn webhook_body(uris: &[&str]) -> String {
    let list: Vec<serde_json::Value> = uris
        .iter()
        .map(|u| serde_json::json!({"address": u, "score": 1}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// go-ethereum's `BytesToAddress`: the last 20 bytes, left-padded with zeros.
pub fn bytes_to_address(b: &[u8]) -> Address {
    let mut out = [0u8; 20];
    let tail = &b[b.len().saturating_sub(20)..];
    out[20 - tail.len()..].copy_from_slice(tail);
    Address::from(out)
}

/// `keccak256("\x19Ethereum Signed Message:\n32" ‖ keccak256(EIP-55(addr)))`:
/// the digest an `OrchestratorRequest.sig` signs (spec §2.2).
pub fn orch_req_digest(addr: Address) -> [u8; 32] {
    let inner = keccak256(addr.to_checksum(None).as_bytes());
    let mut msg = b"\x19Ethereum Signed Message:\n32".to_vec();
    msg.extend_from_slice(inner.as_slice());
    keccak256(&msg).0
}

/// The Ethereum address of `key`.
pub fn key_address(key: &SigningKey) -> Address {
    let point = key.verifying_key().to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// `Broadcaster.Sign(ASCII(EIP-55 address))` by `key`: 65 bytes `r‖s‖v`,
/// v ∈ {27, 28}, low-s (spec §2.2).
pub fn orch_req_sig(key: &SigningKey) -> Vec<u8> {
    let digest = orch_req_digest(key_address(key));
    let (sig, recid) = key.sign_prehash_recoverable(&digest).unwrap();
    let mut out = sig.to_bytes().to_vec();
    out.push(recid.to_byte() + 27);
    out
}

/// The request a go-livepeer gateway whose key is `key` sends during
/// discovery: its address, its signature, `ignoreCapacityCheck = true`.
pub fn signed_request(key: &SigningKey) -> OrchestratorRequest {
    OrchestratorRequest {
        address: key_address(key).to_vec(),
        sig: orch_req_sig(key),
        capabilities: None,
        ignore_capacity_check: true,
    }
}

/// secp256k1 n / 2: larger s values are refused (spec §1.2).
const HALF_N: U256 =
    alloy_primitives::uint!(0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0_U256);

/// go-livepeer's `crypto.VerifySig(addr, keccak256(EIP-55(addr)), sig)`
/// (spec §1.2), written independently of the crate under test.
pub fn verify_orch_req_sig(addr: Address, sig: &[u8]) -> bool {
    if sig.len() != 65 {
        return false;
    }
    if U256::from_be_slice(&sig[32..64]) > HALF_N {
        return false;
    }
    let v = sig[64];
    if v != 27 && v != 28 {
        return false;
    }
    let Ok(signature) = Signature::from_slice(&sig[..64]) else {
        return false;
    };
    let Some(recid) = RecoveryId::from_byte(v - 27) else {
        return false;
    };
    let Ok(key) = VerifyingKey::recover_from_prehash(&orch_req_digest(addr), &signature, recid) else {
        return false;
    };
    let point = key.to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..]) == addr
}

fn headers_of(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn full(status: u16, content_type: &str, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::new(Full::new(Bytes::from(body))));
    *r.status_mut() = StatusCode::from_u16(status).expect("valid HTTP status");
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

// ---------------------------------------------------------------- server core

type Handler =
    Arc<dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync>;

/// What every connection shares with the test thread.
#[derive(Default)]
struct Conn {
    /// When set, each new TCP connection gets these bytes (after the
    /// client's first bytes, if any) and is closed: no TLS, no HTTP.
    junk: Option<Vec<u8>>,
    /// TCP connections accepted.
    accepted: usize,
}

/// A listener on 127.0.0.1:0 served by `handler` on its own thread and runtime.
struct Server {
    port: u16,
    tls: bool,
    cert_der: Option<Vec<u8>>,
    conn: Arc<Mutex<Conn>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, served with
/// ALPN `h2` and `http/1.1` (rustls on ring).
fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("self-signed certificate");
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let mut cfg =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], key)
            .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (tokio_rustls::TlsAcceptor::from(Arc::new(cfg)), der.to_vec())
}

impl Server {
    fn start(name: &str, tls: bool, handler: Handler) -> Server {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let (acceptor, cert_der) = if tls {
            let (a, d) = tls_acceptor();
            (Some(a), Some(d))
        } else {
            (None, None)
        };
        let conn = Arc::new(Mutex::new(Conn::default()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let c = conn.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    let accept = async {
                        loop {
                            let Ok((stream, _)) = listener.accept().await else {
                                continue;
                            };
                            let junk = {
                                let mut c = c.lock().unwrap();
                                c.accepted += 1;
                                c.junk.clone()
                            };
                            let acceptor = acceptor.clone();
                            let handler = handler.clone();
                            tokio::spawn(async move {
                                match junk {
                                    Some(junk) => answer_junk(stream, &junk).await,
                                    None => serve(stream, acceptor, handler).await,
                                }
                            });
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stop_rx => {}
                    }
                });
                // Dropping the runtime cancels every connection task.
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .unwrap();
        Server {
            port,
            tls,
            cert_der,
            conn,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One connection: optional TLS, then HTTP/1.1 or HTTP/2 (auto-detected).
async fn serve(stream: TcpStream, acceptor: Option<tokio_rustls::TlsAcceptor>, handler: Handler) {
    let _ = stream.set_nodelay(true);
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let h = handler.clone();
        async move { Ok::<_, Infallible>(h(req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    match acceptor {
        Some(acceptor) => {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
        }
        None => {
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        }
    }
}

/// Junk mode: reads what the client sends first (so that closing does not
/// turn into a reset), answers `junk`, closes its side, and drains.
async fn answer_junk(mut stream: TcpStream, junk: &[u8]) {
    let mut buf = vec![0u8; 64 * 1024];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
    let _ = stream.write_all(junk).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------- orchestrator

struct State {
    /// `http(s)://127.0.0.1:PORT`, for an empty `transcoder`.
    url: String,
    /// Calls must come from this address (None: any valid signature).
    signer: Option<Address>,
    /// Skip the signature check (an off-chain orchestrator).
    verify: bool,
    info: OrchestratorInfo,
    grpc: GrpcAnswer,
    grpc_delay: Duration,
    discovery: HttpAnswer,
    grpc_calls: Vec<GrpcCall>,
    http_calls: Vec<HttpCall>,
}

/// A running go-livepeer-like orchestrator.
pub struct Orchestrator {
    state: Arc<Mutex<State>>,
    server: Server,
}

/// `GetOrchestrator` as a hand-written tonic unary service.
#[derive(Clone)]
struct GetOrchestratorSvc {
    state: Arc<Mutex<State>>,
}

impl tonic::server::UnaryService<OrchestratorRequest> for GetOrchestratorSvc {
    type Response = OrchestratorInfo;
    type Future = tonic::codegen::BoxFuture<tonic::Response<OrchestratorInfo>, tonic::Status>;

    fn call(&mut self, req: tonic::Request<OrchestratorRequest>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            let metadata = headers_of(&req.metadata().clone().into_headers());
            let request = req.into_inner();
            let sender = bytes_to_address(&request.address);
            let sig_valid = verify_orch_req_sig(sender, &request.sig);
            let (ok, answer, delay, mut info, url) = {
                let mut s = state.lock().unwrap();
                let ok = !s.verify || (sig_valid && s.signer.is_none_or(|a| a == sender));
                s.grpc_calls.push(GrpcCall {
                    ignore_capacity_check: request.ignore_capacity_check,
                    request,
                    sender,
                    sig_valid,
                    sig_ok: ok,
                    metadata,
                    at: Instant::now(),
                });
                (ok, s.grpc.clone(), s.grpc_delay, s.info.clone(), s.url.clone())
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if !ok {
                return Err(tonic::Status::unknown(SIG_CHECK_FAILED));
            }
            if let GrpcAnswer::Status(code, message) = answer {
                return Err(tonic::Status::new(code, message));
            }
            if info.transcoder.is_empty() {
                info.transcoder = url;
            }
            Ok(tonic::Response::new(info))
        })
    }
}

async fn handle_orchestrator(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Body> {
    if req.uri().path() == GET_ORCHESTRATOR_PATH {
        let mode = state.lock().unwrap().grpc.clone();
        let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<
            OrchestratorInfo,
            OrchestratorRequest,
        >::default());
        // Decodes, records and checks the request; sleeps the scripted delay.
        let resp = grpc.unary(GetOrchestratorSvc { state }, req).await;
        return match mode {
            GrpcAnswer::Info | GrpcAnswer::Status(..) => resp,
            GrpcAnswer::Message(msg) => {
                let mut framed = vec![0u8];
                framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
                framed.extend_from_slice(&msg);
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", HeaderValue::from_static("0"));
                let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
                    Ok(Frame::data(Bytes::from(framed))),
                    Ok(Frame::trailers(trailers)),
                ];
                let body = StreamBody::new(futures_util::stream::iter(frames));
                let mut r = Response::new(Body::new(body));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
                r
            }
            GrpcAnswer::Http {
                status,
                content_type,
                body,
            } => full(status, &content_type, body),
        };
    }
    let call = HttpCall::read(req).await;
    let (method, path) = (call.method.clone(), call.path.clone());
    let answer = {
        let mut s = state.lock().unwrap();
        s.http_calls.push(call);
        s.discovery.clone()
    };
    if method == Method::GET.as_str() && path.split('?').next() == Some("/discovery") {
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        return full(answer.status, &answer.content_type, answer.body);
    }
    full(404, "text/plain; charset=utf-8", b"404 page not found\n".to_vec())
}

impl Orchestrator {
    /// A plaintext orchestrator (`http://`: HTTP/1.1 and h2c) accepting
    /// `GetOrchestrator` only from `signer` (e.g. the §C address).
    pub fn http(signer: Address) -> Orchestrator {
        Orchestrator::start(false, Some(signer))
    }

    /// A TLS orchestrator (`https://`, self-signed, ALPN h2 / http/1.1)
    /// accepting `GetOrchestrator` only from `signer`.
    pub fn https(signer: Address) -> Orchestrator {
        Orchestrator::start(true, Some(signer))
    }

    /// An orchestrator, TLS or not, expecting `signer` (`None`: any
    /// correctly signed request is answered, as go-livepeer does).
    pub fn start(tls: bool, signer: Option<Address>) -> Orchestrator {
        let state = Arc::new(Mutex::new(State {
            url: String::new(),
            signer,
            verify: true,
            info: default_info(),
            grpc: GrpcAnswer::Info,
            grpc_delay: Duration::ZERO,
            discovery: HttpAnswer::json("[]"),
            grpc_calls: Vec::new(),
            http_calls: Vec::new(),
        }));
        let s = state.clone();
        let handler: Handler = Arc::new(move |req| Box::pin(handle_orchestrator(s.clone(), req)));
        let server = Server::start("orchestrator", tls, handler);
        state.lock().unwrap().url = server.url();
        Orchestrator { state, server }
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT` (no trailing `/`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Whether it serves TLS.
    pub fn is_tls(&self) -> bool {
        self.server.tls
    }

    /// The DER of its self-signed certificate (TLS only).
    pub fn cert_der(&self) -> Option<Vec<u8>> {
        self.server.cert_der.clone()
    }

    /// Sets the `OrchestratorInfo` answered from now on (an empty
    /// `transcoder` is answered as [`Orchestrator::url`]).
    pub fn set_info(&self, info: OrchestratorInfo) {
        self.state.lock().unwrap().info = info;
    }

    /// The scripted `OrchestratorInfo`.
    pub fn info(&self) -> OrchestratorInfo {
        self.state.lock().unwrap().info.clone()
    }

    /// Sets how the gRPC route answers from now on.
    pub fn set_grpc(&self, answer: GrpcAnswer) {
        self.state.lock().unwrap().grpc = answer;
    }

    /// Waits this long (after recording the request) before every gRPC answer.
    pub fn set_grpc_delay(&self, delay: Duration) {
        self.state.lock().unwrap().grpc_delay = delay;
    }

    /// Sets the `GET /discovery` answer (default `200 []`).
    pub fn set_discovery(&self, answer: HttpAnswer) {
        self.state.lock().unwrap().discovery = answer;
    }

    /// Shorthand: `GET /discovery` answers `200 application/json` `body`.
    pub fn set_discovery_json(&self, body: impl Into<String>) {
        self.set_discovery(HttpAnswer::json(body));
    }

    /// Junk mode: every new TCP connection is answered `junk` and closed,
    /// before any TLS or HTTP (`None` turns it off). Open connections are
    /// unaffected.
    pub fn set_tcp_junk(&self, junk: Option<Vec<u8>>) {
        self.server.conn.lock().unwrap().junk = junk;
    }

    /// Requires calls from `signer` (`None`: any valid signature).
    pub fn expect_signer(&self, signer: Option<Address>) {
        self.state.lock().unwrap().signer = signer;
    }

    /// Turns the signature check off (an off-chain orchestrator) or on.
    pub fn set_verify_sig(&self, verify: bool) {
        self.state.lock().unwrap().verify = verify;
    }

    /// Every `GetOrchestrator` call whose request decoded, in order.
    pub fn requests(&self) -> Vec<GrpcCall> {
        self.state.lock().unwrap().grpc_calls.clone()
    }

    /// Every `GET /discovery` (with or without a query), in order.
    pub fn discovery_calls(&self) -> Vec<HttpCall> {
        self.http_calls()
            .into_iter()
            .filter(|c| c.method == "GET" && c.path.split('?').next() == Some("/discovery"))
            .collect()
    }

    /// Every plain HTTP request (anything but the gRPC route), in order.
    pub fn http_calls(&self) -> Vec<HttpCall> {
        self.state.lock().unwrap().http_calls.clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server.conn.lock().unwrap().accepted
    }

    /// Forgets the recorded calls.
    pub fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.grpc_calls.clear();
        s.http_calls.clear();
    }

    /// Blocks until at least `n` `GetOrchestrator` calls were recorded
    /// (panics after `timeout`); returns them. Blocking: from an async test,
    /// call it through `tokio::task::spawn_blocking` or use a multi-thread runtime.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<GrpcCall> {
        let end = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < end,
                "orchestrator {}: {} GetOrchestrator calls after {timeout:?}, expected {n}",
                self.url(),
                r.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Blocks until at least `n` `GET /discovery` calls were recorded.
    pub fn wait_for_discovery_calls(&self, n: usize, timeout: Duration) -> Vec<HttpCall> {
        let end = Instant::now() + timeout;
        loop {
            let r = self.discovery_calls();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < end,
                "orchestrator {}: {} /discovery calls after {timeout:?}, expected {n}",
                self.url(),
                r.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---------------------------------------------------------------- webhook

/// A running `-orchWebhookUrl` source: every request (go-livepeer sends
/// `GET`) gets the scripted answer.
pub struct OrchWebhook {
    answer: Arc<Mutex<HttpAnswer>>,
    calls: Arc<Mutex<Vec<HttpCall>>>,
    server: Server,
}

impl OrchWebhook {
    /// Plaintext, answering `200 application/json` `body` (see [`webhook_body`]).
    pub fn start(body: impl Into<String>) -> OrchWebhook {
        OrchWebhook::with(false, HttpAnswer::json(body))
    }

    /// TLS or not, answering `answer`.
    pub fn with(tls: bool, answer: HttpAnswer) -> OrchWebhook {
        let answer = Arc::new(Mutex::new(answer));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (a, c) = (answer.clone(), calls.clone());
        let handler: Handler = Arc::new(move |req: Request<Incoming>| {
            let (a, c) = (a.clone(), c.clone());
            Box::pin(async move {
                let call = HttpCall::read(req).await;
                c.lock().unwrap().push(call);
                let answer = a.lock().unwrap().clone();
                if !answer.delay.is_zero() {
                    tokio::time::sleep(answer.delay).await;
                }
                full(answer.status, &answer.content_type, answer.body)
            })
        });
        let server = Server::start("orch-webhook", tls, handler);
        OrchWebhook {
            answer,
            calls,
            server,
        }
    }

    /// `http(s)://127.0.0.1:PORT/orchestrators` (any path is answered).
    pub fn url(&self) -> String {
        format!("{}/orchestrators", self.server.url())
    }

    /// Sets the answer from now on.
    pub fn set_answer(&self, answer: HttpAnswer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Shorthand: answers `200 application/json` [`webhook_body`]`(uris)`.
    pub fn set_orchestrators(&self, uris: &[&str]) {
        self.set_answer(HttpAnswer::json(webhook_body(uris)));
    }

    /// Every request so far.
    pub fn calls(&self) -> Vec<HttpCall> {
        self.calls.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------- client

/// A rustls verifier that accepts any server certificate (go-livepeer's
/// gateway uses `InsecureSkipVerify` for orchestrators) but still checks
/// the handshake signatures with the ring provider's algorithms.
#[derive(Debug)]
pub struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl AcceptAnyCert {
    /// On the ring provider.
    pub fn new() -> AcceptAnyCert {
        AcceptAnyCert(Arc::new(rustls::crypto::ring::default_provider()))
    }
}

impl Default for AcceptAnyCert {
    fn default() -> Self {
        AcceptAnyCert::new()
    }
}

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A rustls client config on ring that skips certificate verification
/// ([`AcceptAnyCert`]) and offers ALPN `h2`.
pub fn insecure_client_config() -> rustls::ClientConfig {
    let mut cfg =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert::new()))
            .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    cfg
}

/// A tonic channel to `url` (`http://` h2c, or `https://` through
/// tokio-rustls with [`insecure_client_config`]), with a per-call `timeout`.
pub async fn grpc_channel(url: &str, timeout: Duration) -> Result<tonic::transport::Channel, tonic::Status> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
        .map_err(|e| tonic::Status::invalid_argument(format!("{url}: {e}")))?
        .timeout(timeout)
        .connect_timeout(timeout);
    let channel = if url.starts_with("https://") {
        let tls = tokio_rustls::TlsConnector::from(Arc::new(insecure_client_config()));
        let connector = tower::service_fn(move |uri: tonic::codegen::http::Uri| {
            let tls = tls.clone();
            async move {
                let host = uri.host().unwrap_or("127.0.0.1").to_string();
                let port = uri.port_u16().unwrap_or(443);
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                let name = rustls::pki_types::ServerName::try_from(host)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let stream = tls.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        endpoint.connect_with_connector(connector).await
    } else {
        endpoint.connect().await
    };
    channel.map_err(|e| tonic::Status::unavailable(format!("connect {url}: {e:?}")))
}

/// One `GetOrchestrator` call to `url`, as a go-livepeer gateway makes it.
pub async fn get_orchestrator(
    url: &str,
    request: OrchestratorRequest,
    timeout: Duration,
) -> Result<OrchestratorInfo, tonic::Status> {
    let channel = grpc_channel(url, timeout).await?;
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("{url} not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<OrchestratorRequest, OrchestratorInfo>::default();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(GET_ORCHESTRATOR_PATH);
    client
        .unary(tonic::Request::new(request), path, codec)
        .await
        .map(|r| r.into_inner())
}
