//! go-livepeer's error responses.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

/// go-livepeer's `respondJsonError`: `{"error":{"message":"…"}}` + `\n`,
/// `Content-Type: application/json`. 500 and 503 messages are masked exactly
/// as go-livepeer masks them.
pub fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    let message = match status {
        StatusCode::INTERNAL_SERVER_ERROR => "Internal Server Error",
        StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable Error",
        _ => message,
    };
    json_error_unmasked(status, message)
}

/// The envelope with `message` as is, even for 500/503: for answers whose
/// message is an operator's instruction, not an internal detail.
pub fn json_error_unmasked(status: StatusCode, message: &str) -> HttpResponse {
    // Go's json.Encoder escapes <, > and & (`\u003e`); so do we.
    let body = format!(
        "{{\"error\":{{\"message\":{}}}}}\n",
        crate::livepeer::payment::state::go_json_string(message)
    );
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body)
}

/// Go `ServeMux`'s 404: `404 page not found\n`, plain text.
pub fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body("404 page not found\n")
}

/// Go `ServeMux`'s 405 for a known path: `Method Not Allowed\n` and `Allow`.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body("Method Not Allowed\n")
}
