//! TLS for the TCP transport (rustls, with the ring provider): every node
//! has a certificate and key and trusts a CA; with mutual TLS a listening
//! node also demands and verifies its callers' certificates. The node's
//! cookie handshake still runs inside the encrypted connection.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The certificate chain holds no certificate, or one that cannot be
    /// parsed.
    #[error("no usable certificate in the certificate chain: {0}")]
    Certificate(String),
    /// The private key is missing or cannot be parsed.
    #[error("no usable private key: {0}")]
    PrivateKey(String),
    /// The CA bundle holds no certificate, or one that is not a valid
    /// trust anchor.
    #[error("no usable CA certificate: {0}")]
    Ca(String),
    /// rustls refused the combination (for example a key that does not
    /// match the certificate).
    #[error("the TLS configuration is invalid: {0}")]
    Config(String),
    /// The name to verify the server's certificate against is not a valid
    /// DNS name or IP address.
    #[error("{0:?} is not a valid server name")]
    ServerName(String),
}

/// A node's TLS settings: its certificate chain and private key, the CAs it
/// trusts to sign its peers' certificates, and whether it demands a
/// certificate from nodes that connect to it (mutual TLS).
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<ServerConfig>,
    pub(crate) client: Arc<ClientConfig>,
    material: Arc<Material>,
    server_name: Option<ServerName<'static>>,
    mutual: bool,
}

/// The parsed certificate chain, key and trusted CAs.
struct Material {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Arc<RootCertStore>,
}

impl TlsConfig {
    /// A configuration from PEM text: the certificate chain (leaf first),
    /// its private key (PKCS#8, PKCS#1 or SEC1), and the CA certificates
    /// that sign peers' certificates. Peers are verified against the CA;
    /// nodes connecting here need not present a certificate unless
    /// [`mutual`](Self::mutual) is set.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming what is wrong: no certificate, no key, no CA,
    /// or a key that does not match the certificate.
    pub fn from_pem(cert_chain: &[u8], key: &[u8], ca: &[u8]) -> Result<Self, TlsError> {
        let chain = certificates(cert_chain).map_err(TlsError::Certificate)?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|err| TlsError::PrivateKey(err.to_string()))?;
        let mut roots = RootCertStore::empty();
        for cert in certificates(ca).map_err(TlsError::Ca)? {
            roots
                .add(cert)
                .map_err(|err| TlsError::Ca(err.to_string()))?;
        }
        let material = Material {
            chain,
            key,
            roots: Arc::new(roots),
        };
        Self::build(Arc::new(material), false)
    }

    /// As [`from_pem`](Self::from_pem), reading the three files.
    ///
    /// # Errors
    ///
    /// [`TlsError::Read`] for a file that cannot be read, or as
    /// [`from_pem`](Self::from_pem).
    pub fn from_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|err| TlsError::Read {
                path: path.display().to_string(),
                reason: err.to_string(),
            })
        };
        Self::from_pem(
            &read(cert_chain.as_ref())?,
            &read(key.as_ref())?,
            &read(ca.as_ref())?,
        )
    }

    /// Mutual TLS: demands a certificate signed by the CA from every node
    /// that connects, and presents this node's certificate when it
    /// connects.
    ///
    /// # Errors
    ///
    /// [`TlsError::Config`] or [`TlsError::Ca`] if rustls refuses the
    /// material for client authentication.
    pub fn mutual(self) -> Result<Self, TlsError> {
        let mut config = Self::build(self.material, true)?;
        config.server_name = self.server_name;
        Ok(config)
    }

    /// Verifies every server's certificate against `name` instead of the
    /// host in the endpoint connected to (useful when nodes share one
    /// certificate, or are reached by IP address with a certificate for a
    /// DNS name).
    ///
    /// # Errors
    ///
    /// [`TlsError::ServerName`] if `name` is neither a DNS name nor an IP
    /// address.
    pub fn server_name(mut self, name: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(name.to_owned())
            .map_err(|_| TlsError::ServerName(name.to_owned()))?;
        self.server_name = Some(name);
        Ok(self)
    }

    /// Whether nodes connecting here must present a certificate.
    pub fn is_mutual(&self) -> bool {
        self.mutual
    }

    /// The name a server's certificate is verified against when connecting
    /// to `host`.
    pub(crate) fn name_for(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        match &self.server_name {
            Some(name) => Ok(name.clone()),
            None => ServerName::try_from(host.to_owned())
                .map_err(|_| TlsError::ServerName(host.to_owned())),
        }
    }

    fn build(material: Arc<Material>, mutual: bool) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::clone(&material.roots);
        let chain = material.chain.clone();
        let key = material.key.clone_key();
        let config_error = |err: rustls::Error| TlsError::Config(err.to_string());

        let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(config_error)?;
        let server = if mutual {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::clone(&roots),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|err| TlsError::Ca(err.to_string()))?;
            server.with_client_cert_verifier(verifier)
        } else {
            server.with_no_client_auth()
        }
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(config_error)?;

        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .map_err(|err| TlsError::Ca(err.to_string()))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_webpki_verifier(verifier);
        let client = if mutual {
            client
                .with_client_auth_cert(chain, key)
                .map_err(config_error)?
        } else {
            client.with_no_client_auth()
        };
        Ok(Self {
            server: Arc::new(server),
            client: Arc::new(client),
            material,
            server_name: None,
            mutual,
        })
    }
}

/// Every certificate in PEM text; an error if there is none.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| err.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".to_owned());
    }
    Ok(certs)
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("mutual", &self.mutual)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Accepts TCP connections and runs each TLS handshake in a task of its
/// own; connections that complete it come out of the returned channel.
pub(crate) fn accept(
    transport: crate::TcpTransport,
    tls: &TlsConfig,
    listener: tokio::net::TcpListener,
) -> tokio::sync::mpsc::Receiver<beamish_core::transport::Connection> {
    let (done, accepted) = tokio::sync::mpsc::channel(16);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.server));
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "the TLS listener stopped");
                    return;
                }
            };
            let acceptor = acceptor.clone();
            let transport = transport.clone();
            let done = done.clone();
            tokio::spawn(async move {
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, %err, "could not set TCP_NODELAY");
                }
                let handshake = acceptor.accept(stream);
                let stream = match tokio::time::timeout(crate::TLS_HANDSHAKE, handshake).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        tracing::warn!(%peer, "refused a TLS connection: {err}");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "refused a TLS connection: the handshake timed out");
                        return;
                    }
                };
                let (read, write) = tokio::io::split(stream);
                let conn = transport.connection(read, write, format!("tcp+tls://{peer}"));
                let _ = done.send(conn).await;
            });
        }
    });
    accepted
}
