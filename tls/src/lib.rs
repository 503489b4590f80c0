//! beamish-tls: TLS settings shared by the transports that encrypt
//! (TCP with TLS, QUIC), built on rustls with the ring provider.
//!
//! Every node has a certificate and key and trusts a CA that signs its
//! peers' certificates; with mutual TLS a listening node also demands and
//! verifies its callers' certificates. A development mode generates a
//! self-signed certificate and accepts any peer's: the connection is
//! encrypted, and peers are authenticated by the node's cookie handshake
//! alone, which runs inside every connection whatever the mode.
//!
//! # Examples
//!
//! ```
//! use beamish_tls::TlsConfig;
//!
//! // Development: a fresh self-signed certificate; peers are not verified.
//! let dev = TlsConfig::self_signed_dev(&["localhost"])?;
//! assert!(dev.is_dev());
//! // Production: a certificate, its key, and the CA that signs peers.
//! let missing = TlsConfig::from_files("node.pem", "node.key", "ca.pem");
//! assert!(missing.is_err());
//! # Ok::<(), beamish_tls::TlsError>(())
//! ```

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

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
    /// rustls refused the combination; a key that does not match the
    /// certificate is reported here, with a message saying so.
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
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    material: Arc<Material>,
    server_name: Option<ServerName<'static>>,
    alpn: Vec<Vec<u8>>,
    mutual: bool,
    dev: bool,
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

    /// Development mode: a freshly generated self-signed certificate for
    /// `names` (DNS names or IP addresses), and no verification of peers'
    /// certificates.
    ///
    /// # Security
    ///
    /// **Any server certificate is accepted.** Connections are encrypted,
    /// but nothing proves who is at the other end except the node's
    /// cookie handshake, which still runs inside every connection: anyone
    /// on the path can intercept the traffic of a node in this mode. Use
    /// it on a development machine or a network you trust, never in
    /// production; there, use [`from_pem`](Self::from_pem) or
    /// [`from_files`](Self::from_files) with a CA.
    ///
    /// # Errors
    ///
    /// [`TlsError::Certificate`] if the certificate cannot be generated
    /// (for example a name that is neither a DNS name nor an IP address).
    pub fn self_signed_dev(names: &[&str]) -> Result<Self, TlsError> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|err| TlsError::Certificate(err.to_string()))?;
        let key = PrivateKeyDer::try_from(generated.key_pair.serialize_der())
            .map_err(|err| TlsError::PrivateKey(err.to_string()))?;
        let material = Material {
            chain: vec![generated.cert.der().clone()],
            key,
            roots: Arc::new(RootCertStore::empty()),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| TlsError::Config(err.to_string()))?
            .with_no_client_auth()
            .with_single_cert(material.chain.clone(), material.key.clone_key())
            .map_err(|err| TlsError::Config(err.to_string()))?;
        let client = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| TlsError::Config(err.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(dev::AnyServer(provider)))
            .with_no_client_auth();
        Ok(Self {
            server: Arc::new(server),
            client: Arc::new(client),
            material: Arc::new(material),
            server_name: None,
            alpn: Vec::new(),
            mutual: false,
            dev: true,
        })
    }

    /// Whether this is the development mode, which verifies no peer.
    pub fn is_dev(&self) -> bool {
        self.dev
    }

    /// The rustls configuration for accepting connections.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.server)
    }

    /// The rustls configuration for making connections.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.client)
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
        if self.dev {
            return Err(TlsError::Config(
                "mutual TLS needs a CA; the development mode has none".to_owned(),
            ));
        }
        let mut config = Self::build(self.material, true)?;
        config.server_name = self.server_name;
        Ok(config.alpn(self.alpn))
    }

    /// The application protocols (ALPN) to offer when connecting and to
    /// accept when listening, most preferred first; a peer offering none
    /// of them is refused. Empty (the default) negotiates none.
    pub fn alpn<P: Into<Vec<u8>>>(mut self, protocols: impl IntoIterator<Item = P>) -> Self {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        let mut server = ServerConfig::clone(&self.server);
        server.alpn_protocols.clone_from(&self.alpn);
        self.server = Arc::new(server);
        let mut client = ClientConfig::clone(&self.client);
        client.alpn_protocols.clone_from(&self.alpn);
        self.client = Arc::new(client);
        self
    }

    /// The application protocols set with [`alpn`](Self::alpn).
    pub fn alpn_protocols(&self) -> &[Vec<u8>] {
        &self.alpn
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
    ///
    /// # Errors
    ///
    /// [`TlsError::ServerName`] if `host` is neither a DNS name nor an IP
    /// address.
    pub fn name_for(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
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
        let config_error = |err: rustls::Error| match err {
            rustls::Error::InconsistentKeys(_) => TlsError::Config(format!(
                "the private key does not match the certificate ({err})"
            )),
            other => TlsError::Config(other.to_string()),
        };

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
            alpn: Vec::new(),
            mutual,
            dev: false,
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
            .field("dev", &self.dev)
            .field("server_name", &self.server_name)
            .field("alpn", &self.alpn)
            .finish_non_exhaustive()
    }
}

mod dev {
    //! The development mode's verifier: any server certificate is taken,
    //! while the handshake's signatures are still checked, so the
    //! connection is encrypted to whoever holds the presented key.

    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

    #[derive(Debug)]
    pub(crate) struct AnyServer(pub(crate) Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyServer {
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
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
