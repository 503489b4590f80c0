//! Certificates for tests (feature `testing`): a CA that issues node
//! certificates for 127.0.0.1, ::1 and localhost.

use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, KeyPair};

use crate::{TlsConfig, TlsError};

/// A certificate authority that signs node certificates.
pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

/// One node's PEM material: its certificate, its key, and the CA it trusts.
#[derive(Debug, Clone)]
pub struct Material {
    /// The node's certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
    /// The CA certificate the node trusts.
    pub ca: String,
}

impl TestCa {
    /// A fresh CA.
    ///
    /// # Errors
    ///
    /// [`TlsError::Certificate`] if rcgen cannot make it.
    pub fn new() -> Result<Self, TlsError> {
        let failed = |err: rcgen::Error| TlsError::Certificate(err.to_string());
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).map_err(failed)?;
        Ok(Self { cert, key })
    }

    /// A certificate for 127.0.0.1, ::1 and localhost signed by this CA,
    /// for a node that trusts `trusted`.
    ///
    /// # Errors
    ///
    /// [`TlsError::Certificate`] if rcgen cannot make it.
    pub fn issue(&self, trusted: &TestCa) -> Result<Material, TlsError> {
        let failed = |err: rcgen::Error| TlsError::Certificate(err.to_string());
        let key = KeyPair::generate().map_err(failed)?;
        let names = vec![
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "localhost".to_owned(),
        ];
        let params = CertificateParams::new(names).map_err(failed)?;
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(failed)?;
        Ok(Material {
            cert: cert.pem(),
            key: key.serialize_pem(),
            ca: trusted.cert.pem(),
        })
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl Material {
    /// The configuration made of this material.
    ///
    /// # Errors
    ///
    /// As [`TlsConfig::from_pem`].
    pub fn config(&self) -> Result<TlsConfig, TlsError> {
        TlsConfig::from_pem(
            self.cert.as_bytes(),
            self.key.as_bytes(),
            self.ca.as_bytes(),
        )
    }

    /// The same, with mutual TLS.
    ///
    /// # Errors
    ///
    /// As [`TlsConfig::mutual`].
    pub fn mutual(&self) -> Result<TlsConfig, TlsError> {
        self.config()?.mutual()
    }
}
