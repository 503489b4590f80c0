//! TCP with TLS: the conformance suite over TLS, and clear refusals for a
//! certificate that does not verify, a missing client certificate under
//! mutual TLS, a node with TLS and one without, and unusable PEM
//! material.

use std::sync::Arc;

use beamish_core::conformance::{self, Harness};
use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::Transport;
use beamish_core::{ClusterConfig, Node};
use beamish_tls::testing::TestCa;
use beamish_transport_tcp::{TcpTransport, TlsConfig, TlsError};

fn ca() -> TestCa {
    TestCa::new().expect("a CA")
}

fn any_port() -> Endpoint {
    "tcp://127.0.0.1:0".parse().expect("valid")
}

struct Tls(TestCa);

impl Harness for Tls {
    fn transport(&self, _name: &str) -> Arc<dyn Transport> {
        Arc::new(
            TcpTransport::new().tls(
                self.0
                    .issue(&self.0)
                    .expect("issued")
                    .mutual()
                    .expect("mutual"),
            ),
        )
    }

    fn endpoint(&self, _name: &str) -> Endpoint {
        any_port()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_over_mutual_tls_conforms() {
    conformance::run_all(&Tls(ca())).await;
}

/// A node listening with `server`, and one joining with `client`; the
/// outcome of connecting the second to the first.
async fn connect(server: TlsConfig, client: TcpTransport) -> Result<(), String> {
    let config = ClusterConfig::new(Cookie::new("c"));
    let a = Node::builder()
        .name(format!("s{}@localhost", rand_suffix()))
        .build()
        .expect("runtime");
    let at = a
        .join(
            config.clone(),
            vec![Arc::new(TcpTransport::new().tls(server))],
            &[any_port()],
        )
        .await
        .expect("listens");
    let b = Node::builder()
        .name(format!("c{}@localhost", rand_suffix()))
        .build()
        .expect("runtime");
    b.join(config, vec![Arc::new(client)], &[])
        .await
        .expect("joins");
    b.connect(&at[0])
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let ours = ca();
    let theirs = ca();
    let server = theirs
        .issue(&ours)
        .expect("issued")
        .config()
        .expect("config");
    let client =
        TcpTransport::new().tls(ours.issue(&ours).expect("issued").config().expect("config"));
    let err = connect(server, client).await.expect_err("refused");
    assert!(
        err.contains("invalid peer certificate"),
        "names the certificate problem: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_refused() {
    let ca = ca();
    let server = ca.issue(&ca).expect("issued").config().expect("config");
    let client = ca
        .issue(&ca)
        .expect("issued")
        .config()
        .expect("config")
        .server_name("elsewhere.example")
        .expect("a DNS name");
    let err = connect(server, TcpTransport::new().tls(client))
        .await
        .expect_err("refused");
    assert!(err.contains("certificate"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_node_without_a_client_certificate() {
    let ca = ca();
    let server = ca.issue(&ca).expect("issued").mutual().expect("mutual");
    assert!(server.is_mutual());
    let client = TcpTransport::new().tls(ca.issue(&ca).expect("issued").config().expect("config"));
    let err = connect(server, client).await.expect_err("refused");
    assert!(err.contains("Certificate"), "{err}");
    // With its certificate it gets in.
    let server = ca.issue(&ca).expect("issued").mutual().expect("mutual");
    let client = TcpTransport::new().tls(ca.issue(&ca).expect("issued").mutual().expect("mutual"));
    connect(server, client).await.expect("accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_node_cannot_talk_to_a_tls_node() {
    let ca = ca();
    let err = connect(
        ca.issue(&ca).expect("issued").config().expect("config"),
        TcpTransport::new(),
    )
    .await
    .expect_err("refused");
    assert!(
        err.contains("the peer seems to speak TLS and this connection does not"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_node_cannot_talk_to_a_plain_node() {
    let config = ClusterConfig::new(Cookie::new("c"));
    let plain = Node::builder()
        .name(format!("p{}@localhost", rand_suffix()))
        .build()
        .expect("runtime");
    let at = plain
        .join(
            config.clone(),
            vec![Arc::new(TcpTransport::new())],
            &[any_port()],
        )
        .await
        .expect("listens");
    let ca = ca();
    let tls = Node::builder()
        .name(format!("t{}@localhost", rand_suffix()))
        .build()
        .expect("runtime");
    tls.join(
        config,
        vec![Arc::new(TcpTransport::new().tls(
            ca.issue(&ca).expect("issued").config().expect("config"),
        ))],
        &[],
    )
    .await
    .expect("joins");
    let err = tls.connect(&at[0]).await.expect_err("refused").to_string();
    assert!(
        err.contains("closed the connection during the TLS handshake"),
        "{err}"
    );
}

#[test]
fn unusable_material_is_named() {
    let ca = ca();
    let good = ca.issue(&ca).expect("issued");
    let other = ca.issue(&ca).expect("issued");
    let err = |cert: &str, key: &str, trusted: &str| {
        TlsConfig::from_pem(cert.as_bytes(), key.as_bytes(), trusted.as_bytes())
            .expect_err("refused")
    };
    assert!(matches!(
        err("not a certificate", &good.key, &good.ca),
        TlsError::Certificate(_)
    ));
    assert!(matches!(
        err(&good.cert, "no key here", &good.ca),
        TlsError::PrivateKey(_)
    ));
    assert!(matches!(err(&good.cert, &good.key, ""), TlsError::Ca(_)));
    assert!(matches!(
        err(&good.cert, &other.key, &good.ca),
        TlsError::Config(_)
    ));
    assert!(matches!(
        TlsConfig::from_files("/nonexistent/cert.pem", "/nonexistent/key.pem", "/x"),
        Err(TlsError::Read { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_encrypts_and_the_cookie_authenticates() {
    let dev = || TlsConfig::self_signed_dev(&["127.0.0.1"]).expect("generated");
    connect(dev(), TcpTransport::new().tls(dev()))
        .await
        .expect("any certificate is taken");
    assert!(dev().mutual().is_err(), "no CA to verify clients with");
    // The cookie still decides.
    let config = ClusterConfig::new(Cookie::new("one"));
    let a = Node::builder()
        .name(format!("d{}@localhost", rand_suffix()))
        .build()
        .expect("runtime");
    let at = a
        .join(
            config,
            vec![Arc::new(TcpTransport::new().tls(dev()))],
            &[any_port()],
        )
        .await
        .expect("listens");
    let b = Node::builder()
        .name(format!("e{}@localhost", rand_suffix()))
        .build()
        .expect("runtime");
    b.join(
        ClusterConfig::new(Cookie::new("two")),
        vec![Arc::new(TcpTransport::new().tls(dev()))],
        &[],
    )
    .await
    .expect("joins");
    let refused = b.connect(&at[0]).await.expect_err("wrong cookie");
    assert!(refused.to_string().contains("cookie"), "{refused}");
}
