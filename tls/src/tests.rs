//! The configurations built from real certificates, checked by running
//! TLS handshakes in memory between rustls connections.

use rustls::{ClientConnection, ServerConnection};

use crate::testing::TestCa;
use crate::{TlsConfig, TlsError};

/// Runs a handshake between a client of `client` and a server of `server`
/// in memory: the error of whichever side fails first.
fn handshake(client: &TlsConfig, server: &TlsConfig) -> Result<(), rustls::Error> {
    let name = client
        .name_for("localhost")
        .map_err(|err| rustls::Error::General(err.to_string()))?;
    let mut ours = ClientConnection::new(client.client_config(), name)?;
    let mut theirs = ServerConnection::new(server.server_config())?;
    for _ in 0..16 {
        if !ours.is_handshaking() && !theirs.is_handshaking() {
            return Ok(());
        }
        let mut wire = Vec::new();
        while ours.wants_write() {
            ours.write_tls(&mut wire).map_err(memory)?;
        }
        let mut read = &wire[..];
        while !read.is_empty() {
            theirs.read_tls(&mut read).map_err(memory)?;
            theirs.process_new_packets()?;
        }
        let mut wire = Vec::new();
        while theirs.wants_write() {
            theirs.write_tls(&mut wire).map_err(memory)?;
        }
        let mut read = &wire[..];
        while !read.is_empty() {
            ours.read_tls(&mut read).map_err(memory)?;
            ours.process_new_packets()?;
        }
    }
    Err(rustls::Error::General(
        "the handshake did not finish".into(),
    ))
}

/// In-memory I/O does not fail; should it, the handshake fails with it.
fn memory(err: std::io::Error) -> rustls::Error {
    rustls::Error::General(err.to_string())
}

#[test]
fn a_configuration_from_generated_pem_connects() {
    let ca = TestCa::new().expect("a CA");
    let server = ca.issue(&ca).expect("issued").config().expect("usable");
    let client = ca.issue(&ca).expect("issued").config().expect("usable");
    assert!(!server.is_dev() && !server.is_mutual());
    handshake(&client, &server).expect("verified against the CA");
}

#[test]
fn unusable_material_names_its_problem() {
    let ca = TestCa::new().expect("a CA");
    let good = ca.issue(&ca).expect("issued");
    let other = ca.issue(&ca).expect("issued");
    let refused = |cert: &str, key: &str, trusted: &str| {
        TlsConfig::from_pem(cert.as_bytes(), key.as_bytes(), trusted.as_bytes())
            .expect_err("refused")
    };
    let err = refused("not a certificate", &good.key, &good.ca);
    assert!(matches!(err, TlsError::Certificate(_)), "{err}");
    let broken = good.cert.replace("MII", "!!!");
    let err = refused(&broken, &good.key, &good.ca);
    assert!(matches!(err, TlsError::Certificate(_)), "{err}");
    let err = refused(&good.cert, "no key here", &good.ca);
    assert!(matches!(err, TlsError::PrivateKey(_)), "{err}");
    let err = refused(&good.cert, &good.key, "");
    assert!(matches!(err, TlsError::Ca(_)), "{err}");
    let err = refused(&good.cert, &other.key, &good.ca);
    assert!(
        matches!(&err, TlsError::Config(why) if why.contains("does not match")),
        "{err}"
    );
    let err = TlsConfig::from_files("/nonexistent/node.pem", "/nonexistent/node.key", "/x")
        .expect_err("refused");
    assert!(matches!(&err, TlsError::Read { path, .. } if path.contains("node.pem")));
}

#[test]
fn a_certificate_from_another_ca_does_not_verify() {
    let ours = TestCa::new().expect("a CA");
    let theirs = TestCa::new().expect("a CA");
    let server = theirs.issue(&theirs).expect("issued").config().expect("ok");
    let client = ours.issue(&ours).expect("issued").config().expect("ok");
    let err = handshake(&client, &server).expect_err("refused");
    assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err}");
}

#[test]
fn mutual_tls_demands_a_client_certificate() {
    let ca = TestCa::new().expect("a CA");
    let server = ca.issue(&ca).expect("issued").mutual().expect("mutual");
    assert!(server.is_mutual());
    let anonymous = ca.issue(&ca).expect("issued").config().expect("ok");
    let err = handshake(&anonymous, &server).expect_err("refused");
    assert!(
        matches!(err, rustls::Error::NoCertificatesPresented),
        "{err}"
    );
    let known = ca.issue(&ca).expect("issued").mutual().expect("mutual");
    handshake(&known, &server).expect("both verified");
    // A client certificate from a CA the server does not trust is refused.
    let stranger = TestCa::new().expect("a CA");
    let outsider = stranger.issue(&ca).expect("issued").mutual().expect("ok");
    let err = handshake(&outsider, &server).expect_err("refused");
    assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err}");
}

#[test]
fn development_mode_accepts_any_server_and_has_no_mutual_tls() {
    let server = TlsConfig::self_signed_dev(&["localhost"]).expect("generated");
    let client = TlsConfig::self_signed_dev(&["localhost", "127.0.0.1"]).expect("generated");
    assert!(client.is_dev());
    handshake(&client, &server).expect("any certificate is taken");
    let err = server.mutual().expect_err("no CA");
    assert!(matches!(err, TlsError::Config(_)), "{err}");
}

#[test]
fn alpn_is_offered_and_must_match() {
    let ca = TestCa::new().expect("a CA");
    let material = ca.issue(&ca).expect("issued");
    let server = material.config().expect("ok").alpn([&b"beamish"[..]]);
    assert_eq!(
        server.server_config().alpn_protocols,
        vec![b"beamish".to_vec()]
    );
    let client = material.config().expect("ok").alpn([&b"beamish"[..]]);
    handshake(&client, &server).expect("agreed");
    let other = material.config().expect("ok").alpn([&b"other"[..]]);
    let err = handshake(&other, &server).expect_err("refused");
    assert!(matches!(err, rustls::Error::NoApplicationProtocol), "{err}");
    // Kept through a later switch to mutual TLS.
    let mutual = server.mutual().expect("mutual");
    assert_eq!(mutual.alpn_protocols(), [b"beamish".to_vec()]);
    assert_eq!(mutual.client_config().alpn_protocols, [b"beamish".to_vec()]);
}
