//! The request body limit (`[server] body_limit_bytes`), in one place: a
//! declared `Content-Length` over the limit is refused before anything else
//! runs (before authentication), and [`Body`] reads a body (chunked or not)
//! up to the limit. Both answer 413 with go-livepeer's envelope.

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;

use super::{error, AppState};

/// The 413 response.
fn too_large(limit: usize, declared: Option<u64>) -> HttpResponse {
    let message = match declared {
        Some(len) => format!("request body of {len} bytes exceeds the limit of {limit} bytes"),
        None => format!("request body exceeds the limit of {limit} bytes"),
    };
    error::json_error(StatusCode::PAYLOAD_TOO_LARGE, &message)
}

fn limit_of(req: &HttpRequest) -> Option<usize> {
    req.app_data::<web::Data<AppState>>().map(|s| s.body_limit)
}

/// A 413 when the request declares a body larger than the limit.
pub(super) fn refuse_declared(req: &ServiceRequest) -> Option<HttpResponse> {
    let limit = limit_of(req.request())?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())?;
    (declared > limit as u64).then(|| too_large(limit, Some(declared)))
}

/// A request body, read in full up to the limit. Handlers that ignore the
/// body still take it: actix closes a keep-alive connection whose body was
/// left unread, which would cost every gateway request a new handshake.
pub struct Body(pub web::Bytes);

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Body, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = limit_of(req).unwrap_or(super::DEFAULT_BODY_LIMIT);
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    actix_web::error::InternalError::from_response(
                        "body",
                        error::json_error(
                            StatusCode::BAD_REQUEST,
                            &format!("cannot read the request body: {e}"),
                        ),
                    )
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(actix_web::error::InternalError::from_response(
                        "body",
                        too_large(limit, None),
                    )
                    .into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Body(body.freeze()))
        })
    }
}
