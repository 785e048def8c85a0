//! The HTTP ceiling for `scripts/bench.sh` and `benches/discovery.rs`: the
//! smallest actix-web server that answers
//!
//! * `POST /sign-orchestrator-info` with a constant JSON body of exactly the
//!   length of the signer's response (vectors.md C1, 204 bytes, newline
//!   included) and `Content-Type: application/json`;
//! * optionally, `GET TARGET` (a path, optionally with a query string, e.g.
//!   `/discover-orchestrators?caps=llm/m`) with the constant contents of a
//!   file as an `application/json` body (`benches/discovery.rs` passes the
//!   signer's own answer, so the bodies have the same length). The path is
//!   routed by actix-web like any route; the query string, when given, must
//!   match exactly; anything else is 404.
//!
//! Same actix-web version, same worker count as the signer (one per core
//! unless given), no middleware, no logging, no state. Not shipped:
//! an example, built with `cargo build --release --example ceiling_server`.
//!
//! Usage: `ceiling_server PORT [WORKERS] [--get TARGET FILE]...` (listens on
//! 127.0.0.1 only).
#![forbid(unsafe_code)]

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

const USAGE: &str = "usage: ceiling_server PORT [WORKERS] [--get TARGET FILE]...";

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

/// The `--get` bodies of one path: `(query string, body)`.
type Bodies = Vec<(String, Bytes)>;

/// `GET` of a `--get` path: the body of its query string.
async fn get(req: HttpRequest, bodies: web::Data<Bodies>) -> HttpResponse {
    match bodies.iter().find(|(q, _)| q == req.query_string()) {
        Some((_, b)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(b.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    let port: u16 = args.next().and_then(|p| p.parse().ok()).expect(USAGE);
    // WORKERS as before: anything but a positive number means one per core.
    let workers = match args.peek() {
        Some(w) if !w.starts_with("--") => args.next().and_then(|w| w.parse().ok()),
        _ => None,
    }
    .filter(|&w: &usize| w > 0)
    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    // `--get TARGET FILE`, grouped by path.
    let mut paths: Vec<(String, Bodies)> = Vec::new();
    while let Some(flag) = args.next() {
        assert_eq!(flag, "--get", "{USAGE}");
        let (target, file) = (args.next().expect(USAGE), args.next().expect(USAGE));
        let content = Bytes::from(std::fs::read(&file)?);
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        assert!(
            path.starts_with('/'),
            "--get {target}: the target must start with /"
        );
        match paths.iter_mut().find(|(p, _)| p == path) {
            Some((_, bodies)) => bodies.push((query.to_string(), content)),
            None => paths.push((path.to_string(), vec![(query.to_string(), content)])),
        }
    }
    let data = web::Data::new(body());
    let gets: Vec<(String, web::Data<Bodies>)> =
        paths.into_iter().map(|(p, b)| (p, web::Data::new(b))).collect();
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(data.clone())
            .route("/sign-orchestrator-info", web::post().to(sign));
        for (path, bodies) in &gets {
            app = app.service(
                web::resource(path.as_str())
                    .app_data(bodies.clone())
                    .route(web::get().to(get)),
            );
        }
        app
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?;
    for a in server.addrs() {
        println!("ceiling listening url=http://{a}");
    }
    server.run().await
}
