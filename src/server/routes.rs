//! HTTP routes. Handlers see only [`AppState`]; they know nothing of backends.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::error;
use super::AppState;

/// Registers every route on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sign-orchestrator-info")
            .route(web::post().to(sign_orchestrator_info))
            .default_service(web::to(|| async { error::method_not_allowed("POST") })),
    )
    .service(web::resource("/healthz").to(healthz))
    .default_service(web::to(|| async { error::not_found() }));
}

/// `POST /sign-orchestrator-info`: the cached OrchestratorInfo signature.
/// The request body and headers are ignored, as in go-livepeer.
async fn sign_orchestrator_info(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(state.orch_info.body().to_vec())
}

/// `/healthz` (any method): the process is alive.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().finish()
}
