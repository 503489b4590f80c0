//! A node with TLS and a node without cannot talk, and both ends say
//! why in words instead of reading a TLS record as an absurd frame
//! length.

mod support;

use beamish_core::transport::{Listener, Transport};
use beamish_tls::testing::TestCa;
use beamish_transport_tcp::TcpTransport;
use bytes::Bytes;
use support::{any_port, recv, within, Logs};

fn tls() -> TcpTransport {
    let ca = TestCa::new().expect("a CA");
    TcpTransport::new().tls(ca.issue(&ca).expect("issued").config().expect("config"))
}

#[tokio::test]
async fn a_tls_client_at_a_plaintext_listener_is_named_on_both_ends() {
    let mut listener: Box<dyn Listener> = TcpTransport::new()
        .listen(&any_port())
        .await
        .expect("listens");
    let endpoint = listener.endpoint();
    let client = tokio::spawn(async move {
        tls()
            .connect(&endpoint)
            .await
            .map(drop)
            .map_err(|err| err.to_string())
    });
    let mut server = within("accepted", listener.accept())
        .await
        .expect("accepts");
    let err = within("the client hello", recv(&mut server))
        .await
        .expect_err("not a frame")
        .to_string();
    assert!(
        err.contains("the peer seems to speak TLS and this listener does not"),
        "{err}"
    );
    drop(server);
    let err = within("the client gives up", client)
        .await
        .expect("joins")
        .expect_err("no TLS handshake");
    assert!(
        err.contains("closed the connection during the TLS handshake"),
        "{err}"
    );
}

#[tokio::test]
async fn a_plaintext_client_at_a_tls_listener_is_named_on_both_ends() {
    let (logs, _logging) = Logs::capture();
    let listener = tls().listen(&any_port()).await.expect("listens");
    let mut client = TcpTransport::new()
        .connect(&listener.endpoint())
        .await
        .expect("connects");
    client
        .sink
        .send(vec![Bytes::from_static(b"hello")])
        .await
        .expect("sends");
    let err = within("the listener's answer", recv(&mut client))
        .await
        .expect_err("not a frame")
        .to_string();
    assert!(
        err.contains("the peer seems to speak TLS and this connection does not"),
        "{err}"
    );
    let refused = within(
        "the listener's warning",
        logs.wait_for(1, |line| line.contains("refused a TLS connection")),
    )
    .await;
    assert!(
        refused[0].contains("the peer does not speak TLS"),
        "{refused:?}"
    );
}
