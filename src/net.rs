//! Outgoing connections: one rustls client configuration on the ring
//! provider that checks server certificates against the operating system's
//! trust store (what reqwest would use), shared by every HTTPS client of the
//! daemon (the chain RPC, the payment webhook, discovery), and how their
//! errors are shown.

use std::sync::Arc;

/// rustls on ring, safe default protocol versions, the platform verifier,
/// no client certificate.
pub fn platform_tls() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            use rustls_platform_verifier::BuilderVerifierExt;
            b.with_platform_verifier()
        })?
        .with_no_client_auth();
    Ok(config)
}

/// `Display` of an error and its sources, joined with `: `, each source
/// once (reqwest's and the AWS SDK's own messages hide the cause; no
/// `Debug` dumps).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// A reqwest transport error with its causes, one line, the URL cut to
/// scheme, host, port and path (a query may hold a key).
pub fn transport_text(e: &reqwest_alloy::Error) -> String {
    let mut text = error_chain(e);
    if let Some(url) = e.url() {
        let shown = format!(
            "{}://{}{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default(),
            url.path()
        );
        text = text.replace(url.as_str(), &shown);
    }
    text
}
