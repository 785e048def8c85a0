//! The network side of discovery: the candidate list (webhook, static list
//! or on-chain pool), `GetOrchestrator` over gRPC to each candidate, and
//! its `GET /discovery` runner records.
//!
//! `GetOrchestrator` carries the signer's OrchestratorInfo signature
//! (computed at startup, before any poll) and `ignoreCapacityCheck = true`.
//! Over `https://` it runs on TLS **without certificate verification**,
//! as go-livepeer's gateways do (orchestrators use self-signed
//! certificates); `http://` is plaintext HTTP/2. `/discovery` and the
//! webhook use normal certificate verification, as go-livepeer does.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::http::Uri;
use url::Url;

use super::snapshot::Polled;
use super::{candidate_uri, MAX_DISCOVERY_BYTES};
use crate::chain::ChainClient;
use crate::config::{DiscoveryConfig, DiscoverySource};
use crate::livepeer::proto;
use crate::net::error_chain;

/// Orchestrators polled at once.
pub const CONCURRENCY: usize = 32;
/// go-livepeer's `/discovery` timeout.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Why one candidate (or the candidate list) gave nothing; the metric label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollError {
    /// `source`, `connect`, `timeout`, `grpc`, `invalid_info`, `discovery`.
    pub kind: &'static str,
    /// What happened, for the log (no secrets: URIs and gRPC statuses).
    pub message: String,
}

impl PollError {
    fn new(kind: &'static str, message: impl Into<String>) -> PollError {
        PollError {
            kind,
            message: message.into(),
        }
    }
}

/// The error kinds, for zero-initialised metrics.
pub const ERROR_KINDS: [&str; 6] = [
    "source",
    "connect",
    "timeout",
    "grpc",
    "invalid_info",
    "discovery",
];

/// The result of one poll.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// How many orchestrators were asked (extra nodes included).
    pub candidates: usize,
    /// The answers, candidate order, then the extra nodes.
    pub polled: Vec<Polled>,
    /// `(candidate URI, error)` for every failure (a failed `/discovery`
    /// of an orchestrator that answered is one too, kind `discovery`).
    pub errors: Vec<(String, PollError)>,
}

/// One orchestrator's answer, and why its `/discovery` gave nothing.
type Answer = Result<(Polled, Option<PollError>), PollError>;

/// Polls orchestrators. Cheap to clone.
#[derive(Clone)]
pub struct Poller {
    request: proto::OrchestratorRequest,
    grpc_tls: Arc<rustls::ClientConfig>,
    http: reqwest_alloy::Client,
    timeout: Duration,
    extra_nodes: usize,
    source: Source,
}

#[derive(Clone)]
enum Source {
    Static(Vec<Url>),
    Webhook(String),
    Chain(Option<ChainClient>),
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("timeout", &self.timeout)
            .field("extra_nodes", &self.extra_nodes)
            .finish_non_exhaustive()
    }
}

/// Why the poller cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("discovery setup: {0}")]
pub struct SetupError(String);

impl Poller {
    /// A poller for `config`, sending `address` and `sig` (the signer's
    /// OrchestratorInfo signature) in every `GetOrchestrator`. `chain` is
    /// the client of the on-chain source.
    pub fn new(
        config: &DiscoveryConfig,
        address: [u8; 20],
        sig: Vec<u8>,
        chain: Option<ChainClient>,
    ) -> Result<Poller, SetupError> {
        let source = match config.source() {
            DiscoverySource::Webhook => Source::Webhook(config.webhook_url.clone().unwrap_or_default()),
            DiscoverySource::Static => Source::Static(
                config
                    .orchestrators
                    .iter()
                    .map(|o| candidate_uri(o).map_err(SetupError))
                    .collect::<Result<_, _>>()?,
            ),
            DiscoverySource::Chain => Source::Chain(chain),
        };
        let tls = crate::net::platform_tls().map_err(|e| SetupError(e.to_string()))?;
        let http = reqwest_alloy::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout().max(DISCOVERY_TIMEOUT))
            .connect_timeout(config.timeout().max(DISCOVERY_TIMEOUT))
            // Go's http.Client follows up to 10 redirects; these GETs carry no credentials.
            .redirect(reqwest_alloy::redirect::Policy::limited(10))
            .build()
            .map_err(|e| SetupError(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut grpc_tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        grpc_tls.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Poller {
            request: proto::OrchestratorRequest {
                address: address.to_vec(),
                sig,
                capabilities: None,
                ignore_capacity_check: true,
            },
            grpc_tls: Arc::new(grpc_tls),
            http,
            timeout: config.timeout(),
            extra_nodes: config.extra_nodes as usize,
            source,
        })
    }

    /// The `GetOrchestrator` request every poll sends.
    pub fn request(&self) -> &proto::OrchestratorRequest {
        &self.request
    }

    /// The candidate list from the configured source.
    pub async fn candidates(&self) -> Result<Vec<Url>, PollError> {
        match &self.source {
            Source::Static(list) => Ok(list.clone()),
            Source::Webhook(url) => self.webhook(url).await,
            Source::Chain(None) => Err(PollError::new("source", "the on-chain pool needs [chain]")),
            Source::Chain(Some(client)) => {
                let members = client
                    .active_orchestrators()
                    .await
                    .map_err(|e| PollError::new("source", format!("on-chain pool: {e}")))?;
                let mut out = Vec::new();
                for m in members {
                    match candidate_uri(&m.service_uri) {
                        Ok(u) if !out.contains(&u) => out.push(u),
                        Ok(_) => {}
                        Err(e) => tracing::info!(
                            orchestrator = %m.address,
                            service_uri = %m.service_uri,
                            reason = %e,
                            "discovery: unusable ServiceRegistry URI skipped"
                        ),
                    }
                }
                Ok(out)
            }
        }
    }

    /// go-livepeer's orchestrator webhook: `GET` → `[{"address", "score"}]`;
    /// empty or unparsable addresses are skipped.
    async fn webhook(&self, url: &str) -> Result<Vec<Url>, PollError> {
        #[derive(Deserialize)]
        struct Item {
            #[serde(default)]
            address: Option<String>,
        }
        let fail = |m: String| PollError::new("source", format!("orchestrator webhook: {m}"));
        let body = self.get_capped(url, self.timeout).await.map_err(fail)?;
        let items: Vec<Item> = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("answer is not a JSON array of {{address}}: {e}")))?;
        let mut out = Vec::new();
        for address in items
            .into_iter()
            .filter_map(|i| i.address)
            .filter(|a| !a.is_empty())
        {
            match super::http_url(&address) {
                Ok(u) if !out.contains(&u) => out.push(u),
                Ok(_) => {}
                Err(e) => {
                    tracing::info!(%address, reason = %e, "discovery: unusable webhook address skipped")
                }
            }
        }
        Ok(out)
    }

    /// `GET url`: 2xx, at most 1 MiB, within `timeout`.
    async fn get_capped(&self, url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
        let fetch = async {
            let mut resp = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| crate::net::transport_text(&e))?;
            if !resp.status().is_success() {
                return Err(format!("status {}", resp.status().as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| crate::net::transport_text(&e))? {
                if body.len() + chunk.len() > MAX_DISCOVERY_BYTES {
                    return Err("answer larger than 1 MiB".into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
    }

    /// Polls every candidate (at most [`CONCURRENCY`] at once), then up to
    /// `extra_nodes` of the nodes each one advertises.
    pub async fn poll(&self, candidates: Vec<Url>) -> PollOutcome {
        let mut outcome = PollOutcome::default();
        let mut seen: Vec<Url> = Vec::new();
        let mut level = Vec::new();
        for c in candidates {
            if !seen.contains(&c) {
                seen.push(c.clone());
                level.push(c);
            }
        }
        for depth in 0..2 {
            outcome.candidates += level.len();
            let results: Vec<(Url, Answer)> = stream::iter(level)
                .map(|uri| async move {
                    let r = self.one(&uri).await;
                    (uri, r)
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
            let mut next = Vec::new();
            for (uri, result) in results {
                match result {
                    Ok((p, discovery_error)) => {
                        if let Some(e) = discovery_error {
                            outcome.errors.push((uri.to_string(), e));
                        }
                        if depth == 0 {
                            for node in p.info.nodes.iter().take(self.extra_nodes) {
                                match candidate_uri(node) {
                                    Ok(u) if !seen.contains(&u) => {
                                        seen.push(u.clone());
                                        next.push(u);
                                    }
                                    Ok(_) => {}
                                    Err(e) => {
                                        tracing::info!(orchestrator = %uri, %node, reason = %e, "discovery: unusable node URI skipped")
                                    }
                                }
                            }
                        }
                        outcome.polled.push(p);
                    }
                    Err(e) => outcome.errors.push((uri.to_string(), e)),
                }
            }
            level = next;
        }
        outcome
    }

    /// One orchestrator: `GetOrchestrator` and `/discovery` side by side.
    async fn one(&self, uri: &Url) -> Answer {
        let discovery_url = discovery_url(uri);
        let (info, discovery) = tokio::join!(
            tokio::time::timeout(self.timeout, self.get_orchestrator(uri)),
            self.get_capped(&discovery_url, DISCOVERY_TIMEOUT),
        );
        let info =
            info.map_err(|_| PollError::new("timeout", format!("no answer within {:?}", self.timeout)))??;
        if info.address.is_empty() {
            return Err(PollError::new("invalid_info", "OrchestratorInfo has no address"));
        }
        match &info.price_info {
            None => {
                return Err(PollError::new(
                    "invalid_info",
                    "OrchestratorInfo has no price_info",
                ))
            }
            Some(p) if p.pixels_per_unit == 0 => {
                return Err(PollError::new("invalid_info", "price_info has pixels_per_unit 0"))
            }
            Some(_) => {}
        }
        let (discovery, discovery_error) = match discovery {
            // Whether it is JSON at all is the snapshot's business (Go's `json.Valid`
            // plus `Unmarshal`): one rule, in records::parse_entries.
            Ok(body) => (Some(body), None),
            Err(e) => (
                None,
                Some(PollError::new("discovery", format!("/discovery: {e}"))),
            ),
        };
        Ok((Polled { info, discovery }, discovery_error))
    }

    /// `net.Orchestrator/GetOrchestrator` over HTTP/2.
    async fn get_orchestrator(&self, uri: &Url) -> Result<proto::OrchestratorInfo, PollError> {
        let origin = format!(
            "{}://{}",
            uri.scheme(),
            &uri[url::Position::BeforeHost..url::Position::AfterPort]
        );
        let endpoint = tonic::transport::Endpoint::from_shared(origin)
            .map_err(|e| PollError::new("connect", e.to_string()))?
            .connect_timeout(self.timeout);
        let channel = if uri.scheme() == "https" {
            let tls = tokio_rustls::TlsConnector::from(self.grpc_tls.clone());
            let connector = tower::service_fn(move |target: Uri| {
                let tls = tls.clone();
                async move {
                    let host = target
                        .host()
                        .unwrap_or_default()
                        .trim_matches(['[', ']'])
                        .to_string();
                    let port = target.port_u16().unwrap_or(443);
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                    tcp.set_nodelay(true)?;
                    let name = ServerName::try_from(host)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                    let stream = tls.connect(name, tcp).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            });
            endpoint.connect_with_connector(connector).await
        } else {
            endpoint.connect().await
        }
        .map_err(|e| PollError::new("connect", error_chain(&e)))?;
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|e| PollError::new("connect", error_chain(&e)))?;
        let codec = tonic_prost::ProstCodec::<proto::OrchestratorRequest, proto::OrchestratorInfo>::default();
        let path = PathAndQuery::from_static("/net.Orchestrator/GetOrchestrator");
        let reply = grpc
            .unary(tonic::Request::new(self.request.clone()), path, codec)
            .await
            .map_err(|status| {
                // A status made by our own transport (it carries the hyper or
                // h2 error as its source) means the peer does not speak gRPC
                // over HTTP/2; a status without one came from the orchestrator
                // or from decoding its reply. Our deadline is the outer
                // `tokio::time::timeout` in `one`.
                let kind = if std::error::Error::source(&status).is_some() {
                    "connect"
                } else {
                    match status.code() {
                        tonic::Code::Unavailable => "connect",
                        tonic::Code::DeadlineExceeded => "timeout",
                        _ => "grpc",
                    }
                };
                let mut message = format!("{:?}: {}", status.code(), status.message());
                if let Some(source) = std::error::Error::source(&status) {
                    message = format!("{message}: {}", error_chain(source));
                }
                PollError::new(kind, message)
            })?;
        Ok(reply.into_inner())
    }
}

/// `<uri>/discovery`, as Go's `URL.JoinPath("discovery")`: the path gets
/// the segment, the query stays.
pub fn discovery_url(uri: &Url) -> String {
    let mut u = uri.clone();
    let path = format!("{}/discovery", uri.path().trim_end_matches('/'));
    u.set_path(&path);
    u.set_fragment(None);
    u.to_string()
}

/// Accepts any server certificate, as go-livepeer's gRPC client does for
/// orchestrators (`InsecureSkipVerify`); the handshake signature is still
/// checked, so the session is bound to the key the certificate names.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
