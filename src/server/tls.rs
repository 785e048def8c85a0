//! TLS and mutual TLS (rustls with ring), reloadable on SIGHUP.
//!
//! The certificate is served through a resolver whose `CertifiedKey` can be
//! swapped; the client-certificate verifier (mTLS) is a delegating wrapper
//! whose inner verifier can be swapped. So new files take effect for new
//! handshakes without restarting. Switching mTLS on or off needs a restart.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

use crate::config::TlsConfig;
use crate::eth::hex;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reloadable TLS material behind a rustls `ServerConfig`.
pub struct ReloadableTls {
    files: ArcSwap<TlsConfig>,
    cert: Arc<CertResolver>,
    client: Option<Arc<ReloadableClientVerifier>>,
}

impl fmt::Debug for ReloadableTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableTls")
            .field("files", &self.files.load())
            .field("mtls", &self.client.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct CertResolver(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// Why TLS files cannot be used. Messages name the config key and file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("[server.tls] {what} {}: {error}", path.display())]
    Io {
        /// `certificate file`, `key file` or `client_ca_file`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// No certificate in a PEM file.
    #[error("[server.tls] {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// No private key in the key file.
    #[error("[server.tls] {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key does not belong to the certificate.
    #[error("[server.tls] key_file {} does not fit cert_file {}: {error}", key_file.display(), cert_file.display())]
    Mismatch {
        /// `key_file`.
        key_file: PathBuf,
        /// `cert_file`.
        cert_file: PathBuf,
        /// rustls's reason.
        error: rustls::Error,
    },
    /// The client CA bundle is unusable.
    #[error("[server.tls] client_ca_file {}: {reason}", path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// rustls's reason.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS setup: {0}")]
    Setup(rustls::Error),
    /// A reload would switch mTLS on or off.
    #[error("[server.tls] client_ca_file was added or removed: turning mTLS on or off needs a restart")]
    MtlsToggled,
}

fn load_certified_key(files: &TlsConfig) -> Result<CertifiedKey, TlsError> {
    let certs = read_certs(&files.cert_file, "certificate file")?;
    let key = read_key(&files.key_file)?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(|error| TlsError::Mismatch {
        key_file: files.key_file.clone(),
        cert_file: files.cert_file.clone(),
        error,
    })
}

fn read_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let io = |error| TlsError::Io {
        what,
        path: path.to_path_buf(),
        error,
    };
    let mut r = BufReader::new(File::open(path).map_err(io)?);
    let certs: Vec<_> = rustls_pemfile::certs(&mut r)
        .collect::<Result<_, _>>()
        .map_err(io)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let io = |error| TlsError::Io {
        what: "key file",
        path: path.to_path_buf(),
        error,
    };
    let mut r = BufReader::new(File::open(path).map_err(io)?);
    rustls_pemfile::private_key(&mut r)
        .map_err(io)?
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_path_buf(),
        })
}

fn client_verifier(ca_file: &Path) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let ca_error = |reason: String| TlsError::ClientCa {
        path: ca_file.to_path_buf(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_file, "client_ca_file")? {
        roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| ca_error(e.to_string()))
}

/// SHA-256 of the leaf certificate, for logs.
fn fingerprint(key: &CertifiedKey) -> String {
    use sha2::Digest;
    key.cert
        .first()
        .map(|c| hex::encode(sha2::Sha256::digest(c.as_ref())))
        .unwrap_or_default()
}

impl ReloadableTls {
    /// Loads the files and builds the rustls server config.
    pub fn load(files: &TlsConfig) -> Result<(Arc<ReloadableTls>, ServerConfig), TlsError> {
        let key = load_certified_key(files)?;
        tracing::info!(cert = %files.cert_file.display(), sha256 = %fingerprint(&key), mtls = files.client_ca_file.is_some(), "TLS certificate loaded");
        let cert = Arc::new(CertResolver(ArcSwap::from_pointee(key)));
        let client = match &files.client_ca_file {
            Some(ca) => Some(Arc::new(ReloadableClientVerifier(ArcSwap::from_pointee(
                client_verifier(ca)?,
            )))),
            None => None,
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Setup)?;
        let config = match &client {
            Some(v) => builder
                .with_client_cert_verifier(v.clone() as Arc<dyn ClientCertVerifier>)
                .with_cert_resolver(cert.clone()),
            None => builder.with_no_client_auth().with_cert_resolver(cert.clone()),
        };
        let me = Arc::new(ReloadableTls {
            files: ArcSwap::from_pointee(files.clone()),
            cert,
            client,
        });
        Ok((me, config))
    }

    /// Re-reads the files named by `files` and swaps them in. Returns what
    /// changed; on error nothing is swapped.
    pub fn reload(&self, files: &TlsConfig) -> Result<Vec<String>, TlsError> {
        if files.client_ca_file.is_some() != self.client.is_some() {
            return Err(TlsError::MtlsToggled);
        }
        let key = load_certified_key(files)?;
        let verifier = match &files.client_ca_file {
            Some(ca) => Some(client_verifier(ca)?),
            None => None,
        };
        let mut changes = Vec::new();
        let (old, new) = (fingerprint(&self.cert.0.load()), fingerprint(&key));
        if old != new {
            changes.push(format!(
                "TLS certificate {} (sha256 {old} -> {new})",
                files.cert_file.display()
            ));
        }
        self.cert.0.store(Arc::new(key));
        if let (Some(slot), Some(v)) = (&self.client, verifier) {
            slot.0.store(Arc::new(v));
            changes.push(format!(
                "client CA bundle {} re-read",
                files
                    .client_ca_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        self.files.store(Arc::new(files.clone()));
        Ok(changes)
    }
}

/// A client-certificate verifier whose CA bundle can be swapped.
///
/// It sends no CA hints (`root_hint_subjects` is empty): Go, rustls and curl
/// clients then present their one configured certificate.
#[derive(Debug)]
struct ReloadableClientVerifier(ArcSwap<Arc<dyn ClientCertVerifier>>);

impl ClientCertVerifier for ReloadableClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.load().verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.load().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.load().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.load().supported_verify_schemes()
    }
}
