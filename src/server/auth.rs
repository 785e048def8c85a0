//! The HTTP side of [`crate::access`]: the bearer-token middleware in front
//! of signing routes, and [`Caller`] as an actix extractor.

use std::future::{ready, Ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::{error, peer, AppState};
use crate::access::Caller;
use crate::metrics::METRICS;

/// Bearer-token check for signing routes: stores the [`Caller`] in the
/// request (anonymous with every scope when no token is configured), or
/// answers 401 with go-livepeer's envelope and `WWW-Authenticate: Bearer`.
pub(super) async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let resp = error::json_error(StatusCode::INTERNAL_SERVER_ERROR, "server state missing");
        return Ok(req.into_response(resp).map_into_right_body());
    };
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

/// The authenticated caller of a route behind [`require_token`]. A route
/// registered without the middleware gets a 500 (a wiring bug), never an
/// anonymous caller.
impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Caller, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            actix_web::error::InternalError::from_response(
                "no caller",
                error::json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "route served without authentication middleware",
                ),
            )
            .into()
        }))
    }
}
