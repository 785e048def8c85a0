//! HTTP routes and middleware. Handlers see only [`AppState`]; they know
//! nothing of backends.

use std::time::{Instant, UNIX_EPOCH};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpRequest, HttpResponse};
use tracing::Instrument;

use super::auth::require_token;
use super::body::{self, Body};
use super::{error, peer, AppState};
use crate::access::{self, Caller, MissingScope, Scope};
use crate::metrics::METRICS;
use crate::web3signer::{RawSignError, Web3Signer};

/// A route: the path it is registered under and its metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The actix path pattern.
    pub path: &'static str,
    /// The `route` label of the HTTP metrics.
    pub label: &'static str,
}

impl Route {
    /// Does `path` hit this route? (`{name}` matches one path segment.)
    fn matches(&self, path: &str) -> bool {
        match self.path.split_once('{') {
            None => self.path == path,
            Some((prefix, _)) => path
                .strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/')),
        }
    }
}

/// `POST /sign-orchestrator-info`.
pub const SIGN_ORCHESTRATOR_INFO: Route = Route {
    path: "/sign-orchestrator-info",
    label: "sign_orchestrator_info",
};
/// `POST /generate-live-payment`.
pub const GENERATE_LIVE_PAYMENT: Route = Route {
    path: "/generate-live-payment",
    label: "generate_live_payment",
};
/// `GET /discover-orchestrators` (only with `[discovery]`).
pub const DISCOVER_ORCHESTRATORS: Route = Route {
    path: "/discover-orchestrators",
    label: "discover_orchestrators",
};

/// `GET /healthz`.
pub const HEALTHZ: Route = Route {
    path: "/healthz",
    label: "healthz",
};
/// `GET /readyz`.
pub const READYZ: Route = Route {
    path: "/readyz",
    label: "readyz",
};
/// `GET /metrics`.
pub const METRICS_ROUTE: Route = Route {
    path: "/metrics",
    label: "metrics",
};
/// `POST /` (eth1 JSON-RPC).
pub const JSON_RPC: Route = Route {
    path: "/",
    label: "json_rpc",
};
/// `GET /upcheck`.
pub const UPCHECK: Route = Route {
    path: "/upcheck",
    label: "upcheck",
};
/// `GET /api/v1/eth1/publicKeys`.
pub const ETH1_PUBLIC_KEYS: Route = Route {
    path: "/api/v1/eth1/publicKeys",
    label: "eth1_public_keys",
};
/// `POST /api/v1/eth1/sign/{identifier}`.
pub const ETH1_SIGN: Route = Route {
    path: "/api/v1/eth1/sign/{identifier}",
    label: "eth1_sign",
};

/// Every route, for the metrics label of a request path.
pub const ROUTES: [Route; 10] = [
    SIGN_ORCHESTRATOR_INFO,
    GENERATE_LIVE_PAYMENT,
    DISCOVER_ORCHESTRATORS,
    HEALTHZ,
    READYZ,
    METRICS_ROUTE,
    JSON_RPC,
    UPCHECK,
    ETH1_PUBLIC_KEYS,
    ETH1_SIGN,
];

/// Registers every route. `/metrics` is served here unless it has its own
/// listener; the eth1 API only when `[web3signer] enabled`;
/// `/discover-orchestrators` only with `[discovery]` (go-livepeer registers
/// it only with `-remoteDiscovery`).
pub fn configure(cfg: &mut web::ServiceConfig, serve_metrics: bool, web3signer: bool, discovery: bool) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(observe))
            .configure(|c| {
                if web3signer {
                    configure_web3signer(c)
                }
            })
            .service(
                web::resource(SIGN_ORCHESTRATOR_INFO.path)
                    .wrap(from_fn(require_token))
                    .route(web::post().to(sign_orchestrator_info))
                    .default_service(web::to(|| async { error::method_not_allowed("POST") })),
            )
            .service(
                web::resource(GENERATE_LIVE_PAYMENT.path)
                    .wrap(from_fn(require_token))
                    .route(web::post().to(generate_live_payment))
                    .default_service(web::to(|| async { error::method_not_allowed("POST") })),
            )
            .configure(|c| {
                if discovery {
                    c.service(
                        web::resource(DISCOVER_ORCHESTRATORS.path)
                            .wrap(from_fn(require_token))
                            .route(web::get().to(discover_orchestrators))
                            .route(web::head().to(discover_orchestrators))
                            .default_service(web::to(|| async { error::method_not_allowed("GET, HEAD") })),
                    );
                }
            })
            .service(web::resource(HEALTHZ.path).to(healthz))
            .service(
                web::resource(READYZ.path)
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
        web::resource(JSON_RPC.path)
            .wrap(from_fn(require_token))
            .route(web::post().to(json_rpc))
            .default_service(web::to(|| async { error::method_not_allowed("POST") })),
    )
    .service(web::resource(UPCHECK.path).route(web::get().to(|| async {
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("OK")
    })))
    .service(web::resource(ETH1_PUBLIC_KEYS.path).route(web::get().to(public_keys)))
    .service(
        web::resource(ETH1_SIGN.path)
            .wrap(from_fn(require_token))
            .route(web::post().to(raw_sign))
            .default_service(web::to(|| async { error::method_not_allowed("POST") })),
    );
}

/// Only `/metrics` (for the separate metrics listener).
pub fn configure_metrics_only(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(METRICS_ROUTE.path)
            .route(web::get().to(metrics))
            .default_service(web::to(|| async { error::method_not_allowed("GET, HEAD") })),
    );
}

fn route_label(path: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|r| r.matches(path))
        .map_or("other", |r| r.label)
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
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut res = match body::refuse_declared(&req) {
        Some(resp) => req.into_response(resp).map_into_right_body(),
        None => next.call(req).instrument(span).await?.map_into_left_body(),
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

/// A scope refusal: recorded (audit line, metric) and answered 403 with
/// go-livepeer's envelope.
fn forbidden(caller: &Caller, route: &str, e: MissingScope) -> HttpResponse {
    let message = e.to_string();
    access::record_refusal(caller, route, "scope", &message);
    error::json_error(StatusCode::FORBIDDEN, &message)
}

/// `POST /sign-orchestrator-info`: the cached OrchestratorInfo signature.
/// The request body (read and dropped, see [`Body`]) and other headers are
/// ignored, as in go-livepeer.
async fn sign_orchestrator_info(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    _body: Body,
) -> HttpResponse {
    if let Err(e) = caller.require(Scope::OrchestratorInfo) {
        return forbidden(&caller, SIGN_ORCHESTRATOR_INFO.path, e);
    }
    tracing::info!(
        target: "livepeer_signer::audit",
        event = "serve",
        route = SIGN_ORCHESTRATOR_INFO.path,
        token = %caller.name,
        peer = %peer(&req),
        address = state.orch_info.address_checksum(),
        outcome = "ok",
    );
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(state.orch_info.body_bytes())
}

/// `GET /discover-orchestrators[?caps=…]`: the cached orchestrator list
/// (spec §4), or 503 while none is known. Signs nothing; never waits for
/// the network.
async fn discover_orchestrators(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(e) = caller.require(Scope::Discovery) {
        return forbidden(&caller, DISCOVER_ORCHESTRATORS.path, e);
    }
    let Some(discovery) = &state.discovery else {
        return error::not_found();
    };
    let caps = crate::livepeer::discovery::caps_query(req.query_string());
    match discovery.response(caps.iter().map(String::as_str)) {
        Some(body) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(body),
        // go-livepeer: "cache empty", masked to `Service Unavailable Error`.
        None => error::json_error(StatusCode::SERVICE_UNAVAILABLE, "cache empty"),
    }
}

/// `POST /generate-live-payment`: tickets, segment credentials and the
/// signed state (spec §3), from [`crate::livepeer::payment::PaymentService`].
/// Without `[chain]` it answers 503 naming the missing setting.
async fn generate_live_payment(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    body: Body,
) -> HttpResponse {
    let Some(payments) = state.payments.clone() else {
        // Unmasked on purpose: the message is the operator's fix, not an internal detail.
        const NO_CHAIN: &str = "live payments are off: this signer has no [chain] section; set [chain] rpc_url to a node of the Livepeer network and restart";
        METRICS.payments.with_label_values(&["503"]).inc();
        tracing::warn!(
            target: "livepeer_signer::audit",
            event = "payment",
            outcome = "refused",
            token = %caller.name,
            status = 503,
            reason = "no_chain",
            message = NO_CHAIN,
        );
        return error::json_error_unmasked(StatusCode::SERVICE_UNAVAILABLE, NO_CHAIN);
    };
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    match payments.handle(caller, headers, body.0).await {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(body),
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = error::json_error(status, &refusal.message);
            if let Some(url) = refusal
                .refresh_url
                .as_deref()
                .and_then(|u| HeaderValue::from_str(u).ok())
            {
                resp.headers_mut()
                    .insert(header::HeaderName::from_static("livepeer-orchestrator-url"), url);
            }
            resp
        }
    }
}

/// The eth1 API, present whenever its routes are registered (a 404 otherwise).
fn web3(state: &AppState) -> Option<&Web3Signer> {
    state.web3signer.as_ref()
}

/// `POST /`: JSON-RPC 2.0 (single or batch).
async fn json_rpc(caller: Caller, body: Body, state: web::Data<AppState>) -> HttpResponse {
    let Some(w3) = web3(&state) else {
        return error::not_found();
    };
    match w3.handle_rpc(&body.0, &caller).await {
        Some(v) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(format!("{v}\n")),
        None => HttpResponse::NoContent().finish(),
    }
}

/// `GET /api/v1/eth1/publicKeys`: `["0x04…"]`.
async fn public_keys(state: web::Data<AppState>) -> HttpResponse {
    match web3(&state) {
        Some(w3) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(serde_json::json!([w3.public_key_hex()]).to_string()),
        None => error::not_found(),
    }
}

/// `POST /api/v1/eth1/sign/{identifier}` `{"data":"0x…"}`: the eth1
/// module's raw signing (scope, policy, identifier, body), answered as
/// `0x` + 130 hex, text.
async fn raw_sign(
    caller: Caller,
    path: web::Path<String>,
    body: Body,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(w3) = web3(&state) else {
        return error::not_found();
    };
    match w3.raw_sign_request(&caller, &path, &body.0).await {
        Ok(sig) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(sig.to_hex()),
        Err(e) => {
            let status = match e {
                RawSignError::Forbidden(_) => StatusCode::FORBIDDEN,
                RawSignError::UnknownKey(_) => StatusCode::NOT_FOUND,
                RawSignError::BadBody(_) => StatusCode::BAD_REQUEST,
                RawSignError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error::json_error(status, &e.to_string())
        }
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
    // With [chain], a stale chain view makes the signer not ready: payments
    // would be refused.
    let chain = state.chain.as_ref().map(|view| match view.fresh() {
        Ok(snap) => (
            true,
            serde_json::json!({
                "fresh": true,
                "age_ms": snap.age().as_millis() as u64,
                "l1_block": snap.l1_block(),
                "last_initialized_round": snap.last_initialized_round.to_string(),
            }),
        ),
        Err(stale) => (
            false,
            serde_json::json!({ "fresh": false, "reason": stale.to_string() }),
        ),
    });
    let ok = h.ok && chain.as_ref().is_none_or(|(fresh, _)| *fresh);
    let reason = match (&h.reason, &chain) {
        (Some(r), _) => Some(r.clone()),
        (None, Some((false, c))) => c["reason"].as_str().map(str::to_owned),
        _ => None,
    };
    let mut body = serde_json::json!({
        "status": if ok { "ready" } else { "not ready" },
        "backend": state.health.backend(),
        "address": state.orch_info.address().to_checksum(),
        "orchestrator_info_signature": "cached",
        "reason": reason,
        "since_unix": since,
    });
    if let Some((_, c)) = chain {
        body["chain"] = c;
    }
    let status = if ok {
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
