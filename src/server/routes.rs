//! HTTP routes and middleware. Handlers see only [`AppState`]; they know
//! nothing of backends.

use std::time::{Instant, UNIX_EPOCH};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use tracing::Instrument;

use super::auth::Caller;
use super::error;
use super::AppState;
use crate::config::Scope;
use crate::metrics::METRICS;
use crate::web3signer::{self, Web3Signer};

/// Registers every route. `/metrics` is served here unless it has its own
/// listener; the eth1 API only when `[web3signer] enabled`.
pub fn configure(cfg: &mut web::ServiceConfig, serve_metrics: bool, web3signer: bool) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(observe))
            .configure(|c| {
                if web3signer {
                    configure_web3signer(c)
                }
            })
            .service(
                web::resource("/sign-orchestrator-info")
                    .wrap(from_fn(require_token))
                    .route(web::post().to(sign_orchestrator_info))
                    .default_service(web::to(|| async { error::method_not_allowed("POST") })),
            )
            .service(web::resource("/healthz").to(healthz))
            .service(
                web::resource("/readyz")
                    .route(web::get().to(readyz))
                    .route(web::head().to(readyz))
                    .default_service(web::to(|| async { error::method_not_allowed("GET, HEAD") })),
            )
            .configure(|c| {
                if serve_metrics {
                    configure_metrics_only(c)
                }
            })
            .default_service(web::to(|| async { error::not_found() })),
    );
}

/// The Web3Signer-compatible eth1 API.
fn configure_web3signer(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .wrap(from_fn(require_token))
            .route(web::post().to(json_rpc))
            .default_service(web::to(|| async { error::method_not_allowed("POST") })),
    )
    .service(web::resource("/upcheck").route(web::get().to(|| async {
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("OK")
    })))
    .service(web::resource("/api/v1/eth1/publicKeys").route(web::get().to(public_keys)))
    .service(
        web::resource("/api/v1/eth1/sign/{identifier}")
            .wrap(from_fn(require_token))
            .route(web::post().to(raw_sign))
            .default_service(web::to(|| async { error::method_not_allowed("POST") })),
    );
}

/// Only `/metrics` (for the separate metrics listener).
pub fn configure_metrics_only(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metrics")
            .route(web::get().to(metrics))
            .default_service(web::to(|| async { error::method_not_allowed("GET, HEAD") })),
    );
}

fn route_label(path: &str) -> &'static str {
    match path {
        "/sign-orchestrator-info" => "sign_orchestrator_info",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        "/" => "json_rpc",
        "/upcheck" => "upcheck",
        "/api/v1/eth1/publicKeys" => "eth1_public_keys",
        p if p.starts_with("/api/v1/eth1/sign/") => "eth1_sign",
        _ => "other",
    }
}

fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.to_owned())
}

/// Request id (accepted from `X-Request-Id` or generated, echoed back),
/// body-size limit, request metrics.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let route = route_label(req.path());
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(valid_request_id)
        // A UUIDv4 from the thread-local CSPRNG: `Uuid::new_v4` would make a
        // getrandom(2) system call on every request.
        .unwrap_or_else(|| {
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string()
        });
    let limit = req.app_data::<web::Data<AppState>>().map(|s| s.body_limit);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut res = match (limit, declared) {
        (Some(limit), Some(len)) if len > limit as u64 => {
            let resp = error::json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body of {len} bytes exceeds the limit of {limit} bytes"),
            );
            req.into_response(resp).map_into_right_body()
        }
        _ => next.call(req).instrument(span).await?.map_into_left_body(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), v);
    }
    let status = res.status();
    METRICS
        .http_requests
        .with_label_values(&[route, status.as_str()])
        .inc();
    METRICS
        .http_duration
        .with_label_values(&[route])
        .observe(started.elapsed().as_secs_f64());
    Ok(res)
}

/// Bearer-token check for signing routes (no-op when no token is configured).
async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState is registered");
    let tokens = state.tokens.load();
    if tokens.is_empty() {
        req.extensions_mut().insert(Caller::anonymous());
        return Ok(next.call(req).await?.map_into_left_body());
    }
    match tokens.authenticate(req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes())) {
        Ok(caller) => {
            METRICS.token_requests.with_label_values(&[&caller.name]).inc();
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(failure) => {
            METRICS.auth_failures.with_label_values(&[failure.reason()]).inc();
            tracing::warn!(
                target: "livepeer_signer::audit",
                event = "serve",
                route = req.path(),
                peer = %peer(req.request()),
                outcome = "denied",
                reason = failure.reason(),
            );
            let mut resp = error::json_error(StatusCode::UNAUTHORIZED, failure.message());
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}

fn peer(req: &HttpRequest) -> String {
    req.peer_addr().map_or_else(|| "-".into(), |a| a.to_string())
}

fn caller(req: &HttpRequest) -> Caller {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .expect("require_token runs before every signing route")
}

/// A scope refusal as an HTTP 403 with go-livepeer's envelope.
fn forbidden(caller: &Caller, route: &str, scope: Scope) -> HttpResponse {
    let e =
        web3signer::require_scope(caller, scope, route).expect_err("called only when the scope is missing");
    error::json_error(StatusCode::FORBIDDEN, &e.message)
}

/// `POST /sign-orchestrator-info`: the cached OrchestratorInfo signature.
/// The request body and other headers are ignored, as in go-livepeer.
///
/// The body is still read (and dropped), up to the body limit: actix closes
/// a keep-alive connection whose request body was left unread, which would
/// cost every gateway request a new TCP (and TLS) handshake.
async fn sign_orchestrator_info(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> HttpResponse {
    let mut read = 0usize;
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) => {
                read += chunk.len();
                if read > state.body_limit {
                    return error::json_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("request body exceeds the limit of {} bytes", state.body_limit),
                    );
                }
            }
            Err(e) => {
                return error::json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot read the request body: {e}"),
                )
            }
        }
    }
    let caller = caller(&req);
    if !caller.scopes.contains(Scope::OrchestratorInfo) {
        return forbidden(&caller, "/sign-orchestrator-info", Scope::OrchestratorInfo);
    }
    tracing::info!(
        target: "livepeer_signer::audit",
        event = "serve",
        route = "/sign-orchestrator-info",
        token = %caller.name,
        peer = %peer(&req),
        address = state.orch_info.address_checksum(),
        outcome = "ok",
    );
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(state.orch_info.body_bytes())
}

fn web3(state: &AppState) -> &Web3Signer {
    state
        .web3signer
        .as_ref()
        .expect("eth1 routes are registered only with [web3signer] enabled")
}

/// `POST /`: JSON-RPC 2.0 (single or batch).
async fn json_rpc(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    match web3(&state).handle_rpc(&body, &caller(&req)).await {
        Some(v) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(format!("{v}\n")),
        None => HttpResponse::NoContent().finish(),
    }
}

/// `GET /api/v1/eth1/publicKeys`: `["0x04…"]`.
async fn public_keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(serde_json::json!([web3(&state).public_key_hex()]).to_string())
}

#[derive(serde::Deserialize)]
struct RawSignBody {
    data: String,
}

/// `POST /api/v1/eth1/sign/{identifier}` `{"data":"0x…"}`: signature over
/// `keccak256(data)` (no prefix) as `0x` + 130 hex, text. Needs
/// `allow_raw_sign = true` and the token scope `raw_sign`.
async fn raw_sign(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let caller = caller(&req);
    let w3 = web3(&state);
    if !caller.scopes.contains(Scope::RawSign) {
        return forbidden(&caller, "/api/v1/eth1/sign", Scope::RawSign);
    }
    if let Err(r) = w3.policy().check_raw() {
        let e = web3signer::refuse(&caller, "/api/v1/eth1/sign", r);
        return error::json_error(StatusCode::FORBIDDEN, &e.message);
    }
    if !w3.matches_identifier(&path) {
        return error::json_error(
            StatusCode::NOT_FOUND,
            &format!(
                "no key for identifier {}: see GET /api/v1/eth1/publicKeys",
                path.as_str()
            ),
        );
    }
    let data = match serde_json::from_slice::<RawSignBody>(&body)
        .map_err(|e| e.to_string())
        .and_then(|b| crate::eth::hex::decode(&b.data).map_err(|e| format!("data: {e}")))
    {
        Ok(d) => d,
        Err(e) => {
            return error::json_error(
                StatusCode::BAD_REQUEST,
                &format!("body must be {{\"data\": \"0x<hex>\"}}: {e}"),
            )
        }
    };
    match w3.raw_sign(&data).await {
        Ok(sig) => {
            tracing::info!(target: "livepeer_signer::audit", event = "raw_sign", token = %caller.name, outcome = "ok");
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                .body(sig.to_hex())
        }
        Err(e) => error::json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    }
}

/// `/healthz` (any method): the process is alive.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// `GET /readyz`: 200 when the OrchestratorInfo signature is cached and the
/// backend's last probe succeeded; 503 with the reason otherwise.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let h = state.health.state();
    let since = h.since.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let body = serde_json::json!({
        "status": if h.ok { "ready" } else { "not ready" },
        "backend": state.health.backend(),
        "address": state.orch_info.address().to_checksum(),
        "orchestrator_info_signature": "cached",
        "reason": h.reason,
        "since_unix": since,
    });
    let status = if h.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!("{body}\n"))
}

/// `GET /metrics`: Prometheus text format.
async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(METRICS.render())
}
