//! The HTTP ceiling for `scripts/bench.sh`: the smallest actix-web server
//! that answers `POST /sign-orchestrator-info` with a constant JSON body of
//! exactly the length of the signer's response (vectors.md C1, 204 bytes,
//! newline included) and `Content-Type: application/json`.
//!
//! Same actix-web version, same worker count as the signer (one per core
//! unless given), no middleware, no logging, no state. Not shipped:
//! an example, built with `cargo build --release --example ceiling_server`.
//!
//! Usage: `ceiling_server PORT [WORKERS]` (listens on 127.0.0.1 only).
#![forbid(unsafe_code)]

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, App, HttpResponse, HttpServer};

/// Same shape and length as the C1 body: address 0x + 40 hex, signature 0x + 130 hex.
fn body() -> Bytes {
    let body = format!(
        "{{\"address\":\"0x{}\",\"signature\":\"0x{}\"}}\n",
        "0".repeat(40),
        "0".repeat(130)
    );
    assert_eq!(body.len(), 204, "must match the C1 body's length");
    Bytes::from(body)
}

/// The request body is read (like the signer does): actix closes a
/// keep-alive connection whose request body was left unread.
async fn sign(_request_body: Bytes, body: web::Data<Bytes>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body.get_ref().clone())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("usage: ceiling_server PORT [WORKERS]");
    let workers = args
        .next()
        .and_then(|w| w.parse().ok())
        .filter(|&w: &usize| w > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let data = web::Data::new(body());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/sign-orchestrator-info", web::post().to(sign))
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?;
    for a in server.addrs() {
        println!("ceiling listening url=http://{a}");
    }
    server.run().await
}
