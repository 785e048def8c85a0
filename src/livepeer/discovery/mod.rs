//! `GET /discover-orchestrators`: go-livepeer's `-remoteDiscovery` (spec §4).
//!
//! Nothing here is signed per request. Polls carry the signer's
//! OrchestratorInfo signature (`Sign(ASCII(EIP-55 address))`, computed once
//! at startup, before the first poll) so that orchestrators, which check it
//! like any gateway's (`verifyOrchestratorReq`), answer.
//!
//! * [`poll`]: the candidates (webhook, static list or on-chain pool),
//!   `GetOrchestrator` over gRPC and `GET /discovery` for each;
//! * [`snapshot`]: what the answers become (pure; the B5 vectors);
//! * [`records`]: runner records, checked field by field;
//! * [`service`]: the cache and its background refresh.

pub mod poll;
pub mod records;
pub mod service;
pub mod snapshot;

pub use poll::{PollError, Poller};
pub use service::{DiscoveryService, DiscoveryTask};
pub use snapshot::{Ceilings, Polled, Snapshot};

/// Largest `/discovery` or webhook answer read (go-livepeer: 1 MiB).
pub const MAX_DISCOVERY_BYTES: usize = 1 << 20;

/// An absolute `http` or `https` URL with a host: what discovery accepts as
/// an orchestrator address, a webhook URL or a node URI.
pub fn http_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    Ok(url)
}

/// An orchestrator service URI as go-livepeer's `parseURI` reads it: text
/// not starting with `http` gets `https://` in front; the result must pass
/// [`http_url`].
pub fn candidate_uri(text: &str) -> Result<url::Url, String> {
    let text = text.trim();
    if let Some((scheme, _)) = text.split_once("://") {
        if !matches!(scheme, "http" | "https") {
            return Err(format!("scheme {scheme:?} is not http or https"));
        }
    }
    if text.starts_with("http") {
        http_url(text)
    } else {
        http_url(&format!("https://{text}"))
    }
}

/// The `caps` values of a query string, as Go's `URL.Query()` reads them:
/// `&`-separated pairs, `+` as space, percent-decoded; a pair with a `;` or
/// a malformed `%` escape is dropped (Go records an error and skips it).
pub fn caps_query(query: &str) -> Vec<String> {
    let well_formed = |pair: &str| {
        let b = pair.as_bytes();
        !pair.contains(';')
            && b.iter().enumerate().all(|(i, &c)| {
                c != b'%'
                    || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            })
    };
    query
        .split('&')
        .filter(|pair| well_formed(pair))
        .flat_map(|pair| url::form_urlencoded::parse(pair.as_bytes()))
        .filter(|(k, _)| k == "caps")
        .map(|(_, v)| v.into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_as_go_reads_them() {
        assert_eq!(caps_query("caps=a%2Fb&caps=c+d&x=1&caps="), ["a/b", "c d", ""]);
        assert_eq!(caps_query("caps=%ZZ&caps=ok;x&caps=fine"), ["fine"]);
        assert!(caps_query("").is_empty());
    }

    #[test]
    fn discovery_url_is_go_join_path() {
        let u = |s: &str| poll::discovery_url(&url::Url::parse(s).unwrap());
        assert_eq!(u("https://o:8935"), "https://o:8935/discovery");
        assert_eq!(u("https://o:8935/"), "https://o:8935/discovery");
        assert_eq!(u("https://o:8935/x/?a=1"), "https://o:8935/x/discovery?a=1");
    }

    #[test]
    fn candidate_uris_as_go_livepeer_reads_them() {
        assert_eq!(
            candidate_uri("orch.example.com:8935").unwrap().as_str(),
            "https://orch.example.com:8935/"
        );
        assert_eq!(
            candidate_uri("http://127.0.0.1:9").unwrap().as_str(),
            "http://127.0.0.1:9/"
        );
        assert_eq!(
            candidate_uri(" https://o:1/x ").unwrap().as_str(),
            "https://o:1/x"
        );
        assert!(candidate_uri("https://").is_err());
        assert!(candidate_uri("ftp://o:1").unwrap_err().contains("scheme"));
        assert!(candidate_uri("").is_err());
    }
}
