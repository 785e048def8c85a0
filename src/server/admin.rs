//! The admin listener (`[admin] listen`): the subset of go-livepeer's CLI
//! HTTP API (`server/webserver.go`, `server/handlers.go`) that
//! clearinghouses use to fund a sender, so they can point at livepeer-signer
//! instead of a go-livepeer signer node.
//!
//! | route | form | answer (as go-livepeer) |
//! |---|---|---|
//! | `GET /ethAddr` | | the EIP-55 address, text |
//! | `GET /senderInfo` | | `{"Deposit":…,"WithdrawRound":…,"Reserve":{"FundsRemaining":…,"ClaimedInCurrentRound":…}}` (numbers) |
//! | `POST /fundDepositAndReserve` | `depositAmount`, `reserveAmount` (wei) | `fundDepositAndReserve success` |
//! | `POST /fundDeposit` | `amount` (wei) | `fundDeposit success` |
//! | `POST /unlock`, `/cancelUnlock`, `/withdraw` | | `<function> success` |
//!
//! Errors are Go's `http.Error`: the status, `text/plain`, the message and a
//! newline (`missing form param: amount`, `invalid amount: failed to parse
//! big integer`, `could not execute fundDeposit: …`). Unlike go-livepeer,
//! every route needs a bearer token with the `admin` scope (anonymous only
//! with `[auth] allow_unauthenticated = true` and no tokens), transaction
//! routes take `POST` only, transactions are sent one at a time, and each
//! one is audited (token, function, value, transaction hash).

use std::collections::HashMap;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use alloy_primitives::U256;

use super::{error, peer, AppState, Body};
use crate::access::{self, Caller, Scope};
use crate::chain::{ChainClient, SenderTx, Transactor, TxOptions};
use crate::metrics::METRICS;

/// What the admin handlers share.
pub struct AdminState {
    transactor: Transactor,
    client: ChainClient,
    allow_unauthenticated: bool,
    /// One transaction at a time: each takes the pending nonce.
    sending: tokio::sync::Mutex<()>,
    options: TxOptions,
}

impl AdminState {
    /// Admin state over `client`, signing with `transactor`'s signer.
    pub fn new(client: ChainClient, transactor: Transactor, allow_unauthenticated: bool) -> AdminState {
        AdminState {
            transactor,
            client,
            allow_unauthenticated,
            sending: tokio::sync::Mutex::new(()),
            options: TxOptions::default(),
        }
    }
}

/// Go's `http.Error`: status, `text/plain; charset=utf-8`, `nosniff`, the
/// message and a newline.
fn go_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(format!("{message}\n"))
}

fn ok_text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body(body)
}

/// Bearer token with the `admin` scope. With no tokens configured, only
/// `[auth] allow_unauthenticated = true` lets anyone in (loopback only: the
/// startup guard refuses a non-loopback admin listener without tokens).
async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let (Some(app), Some(admin)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.app_data::<web::Data<AdminState>>().cloned(),
    ) else {
        let resp = go_error(StatusCode::INTERNAL_SERVER_ERROR, "server state missing");
        return Ok(req.into_response(resp).map_into_right_body());
    };
    let tokens = app.tokens.load();
    let caller = if tokens.is_empty() {
        if admin.allow_unauthenticated {
            Ok(Caller::anonymous())
        } else {
            Err((
                "the admin listener needs a bearer token with the admin scope: add [[auth.tokens]] with scopes = [\"admin\"]",
                "no_tokens",
            ))
        }
    } else {
        tokens
            .authenticate(req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes()))
            .map_err(|f| (f.message(), f.reason()))
    };
    let caller = match caller.and_then(|c| match c.require(Scope::Admin) {
        Ok(()) => Ok(c),
        Err(missing) => {
            access::record_refusal(&c, req.path(), "scope", &missing.to_string());
            Err(("token lacks the admin scope", "scope"))
        }
    }) {
        Ok(c) => c,
        Err((message, reason)) => {
            METRICS.auth_failures.with_label_values(&[reason]).inc();
            tracing::warn!(
                target: "livepeer_signer::audit",
                event = "admin",
                route = req.path(),
                peer = %peer(req.request()),
                outcome = "denied",
                reason,
            );
            let status = if reason == "scope" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            let mut resp = go_error(status, message);
            if status == StatusCode::UNAUTHORIZED {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return Ok(req.into_response(resp).map_into_right_body());
        }
    };
    METRICS.token_requests.with_label_values(&[&caller.name]).inc();
    req.extensions_mut().insert(caller);
    Ok(next.call(req).await?.map_into_left_body())
}

/// Go's `r.FormValue`: the query string, then an urlencoded body.
fn form(req: &HttpRequest, body: &[u8]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body_pairs = if is_form { body } else { &[][..] };
    // Go: body values take precedence over the query for POST.
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes())
        .chain(url::form_urlencoded::parse(body_pairs))
    {
        out.insert(k.into_owned(), v.into_owned());
    }
    out
}

/// A form parameter go-livepeer would refuse with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum FormError {
    /// `mustHaveFormParams`.
    #[error("missing form param: {0}")]
    Missing(&'static str),
    /// `common.ParseBigInt`.
    #[error("invalid {0}: failed to parse big integer")]
    Invalid(&'static str),
}

impl FormError {
    fn response(self) -> HttpResponse {
        go_error(StatusCode::BAD_REQUEST, &self.to_string())
    }
}

/// go-livepeer's `mustHaveFormParams` + `common.ParseBigInt` (our version
/// refuses negative amounts, which Go would pass on to a failing call).
fn wei_param(form: &HashMap<String, String>, name: &'static str) -> Result<U256, FormError> {
    let v = form
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or(FormError::Missing(name))?;
    crate::eth::units::parse_wei(v).map_err(|_| FormError::Invalid(name))
}

fn me(admin: &AdminState) -> alloy_primitives::Address {
    admin.transactor.address()
}

/// `/ethAddr`.
async fn eth_addr(admin: web::Data<AdminState>) -> HttpResponse {
    ok_text(me(&admin).to_checksum(None))
}

/// `/senderInfo`: a live `getSenderInfo` read, Go's JSON of `pm.SenderInfo`.
async fn sender_info(admin: web::Data<AdminState>) -> HttpResponse {
    let info = async {
        let contracts = admin.client.resolve_contracts().await?;
        admin
            .client
            .sender_info(contracts.ticket_broker, me(&admin))
            .await
    }
    .await;
    match info {
        Ok(i) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(format!(
                "{{\"Deposit\":{},\"WithdrawRound\":{},\"Reserve\":{{\"FundsRemaining\":{},\"ClaimedInCurrentRound\":{}}}}}",
                i.deposit, i.withdraw_round, i.reserve, i.claimed_in_current_round
            )),
        Err(e) => go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("could not query sender info: {e}"),
        ),
    }
}

/// Prepares, signs, sends and awaits `action`; answers as go-livepeer.
async fn transact(req: &HttpRequest, caller: &Caller, admin: &AdminState, action: SenderTx) -> HttpResponse {
    let function = action.function();
    let _one_at_a_time = admin.sending.lock().await;
    let result = async {
        let prepared = admin.transactor.prepare(action, &admin.options).await?;
        let hash = admin.transactor.send(&prepared).await?;
        tracing::info!(
            target: "livepeer_signer::audit",
            event = "transaction",
            via = "admin",
            function,
            value = %prepared.tx.value,
            tx_hash = %hash,
            token = %caller.name,
            peer = %peer(req),
            outcome = "sent",
        );
        admin.transactor.wait(&prepared, hash, &admin.options).await
    }
    .await;
    match result {
        Ok(outcome) => {
            METRICS
                .admin_transactions
                .with_label_values(&[function, "ok"])
                .inc();
            tracing::info!(
                target: "livepeer_signer::audit",
                event = "transaction",
                via = "admin",
                function,
                tx_hash = %outcome.tx_hash,
                block = outcome.block_number,
                token = %caller.name,
                outcome = "mined",
            );
            ok_text(format!("{function} success"))
        }
        Err(e) => {
            METRICS
                .admin_transactions
                .with_label_values(&[function, e.kind()])
                .inc();
            tracing::warn!(
                target: "livepeer_signer::audit",
                event = "transaction",
                via = "admin",
                function,
                token = %caller.name,
                outcome = "failed",
                kind = e.kind(),
                error = %e,
            );
            go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("could not execute {function}: {e}"),
            )
        }
    }
}

async fn fund_deposit_and_reserve(
    req: HttpRequest,
    caller: Caller,
    body: Body,
    admin: web::Data<AdminState>,
) -> HttpResponse {
    let f = form(&req, &body.0);
    let (deposit, reserve) = match (wei_param(&f, "depositAmount"), wei_param(&f, "reserveAmount")) {
        (Ok(d), Ok(r)) => (d, r),
        (Err(e), _) | (_, Err(e)) => return e.response(),
    };
    transact(
        &req,
        &caller,
        &admin,
        SenderTx::FundDepositAndReserve { deposit, reserve },
    )
    .await
}

async fn fund_deposit(
    req: HttpRequest,
    caller: Caller,
    body: Body,
    admin: web::Data<AdminState>,
) -> HttpResponse {
    let f = form(&req, &body.0);
    match wei_param(&f, "amount") {
        Ok(amount) => transact(&req, &caller, &admin, SenderTx::FundDeposit { amount }).await,
        Err(e) => e.response(),
    }
}

async fn unlock(req: HttpRequest, caller: Caller, _body: Body, admin: web::Data<AdminState>) -> HttpResponse {
    transact(&req, &caller, &admin, SenderTx::Unlock).await
}

async fn cancel_unlock(
    req: HttpRequest,
    caller: Caller,
    _body: Body,
    admin: web::Data<AdminState>,
) -> HttpResponse {
    transact(&req, &caller, &admin, SenderTx::CancelUnlock).await
}

async fn withdraw(
    req: HttpRequest,
    caller: Caller,
    _body: Body,
    admin: web::Data<AdminState>,
) -> HttpResponse {
    transact(&req, &caller, &admin, SenderTx::Withdraw).await
}

/// A transaction route: `POST` only (405 with `Allow: POST` otherwise).
fn post_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(|| async { error::method_not_allowed("POST") }))
}

/// The admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(require_admin))
            .route("/ethAddr", web::to(eth_addr))
            .route("/senderInfo", web::to(sender_info))
            .service(post_only("/fundDepositAndReserve", fund_deposit_and_reserve))
            .service(post_only("/fundDeposit", fund_deposit))
            .service(post_only("/unlock", unlock))
            .service(post_only("/cancelUnlock", cancel_unlock))
            .service(post_only("/withdraw", withdraw))
            .default_service(web::to(|| async { error::not_found() })),
    );
}

/// Binds the admin listener (one worker: transactions are serialised
/// anyway); returns the server and the addresses bound (port 0 resolved).
pub fn bind(
    listen: std::net::SocketAddr,
    app: std::sync::Arc<AppState>,
    admin: AdminState,
) -> std::io::Result<(actix_web::dev::Server, Vec<std::net::SocketAddr>)> {
    let app = web::Data::from(app);
    let admin = web::Data::new(admin);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app.clone())
            .app_data(admin.clone())
            .configure(configure)
    })
    .workers(1)
    .disable_signals()
    .bind(listen)?;
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}
