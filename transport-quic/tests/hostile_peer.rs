//! A peer speaking QUIC directly, breaking the framing: a stream reset in
//! the middle of a frame, or finished in the middle of one, ends the
//! connection with an error, never a panic and never silently.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Listener, Transport, TransportError};
use beamish_tls::TlsConfig;
use beamish_transport_quic::{QuicTransport, ALPN};
use quinn::crypto::rustls::QuicClientConfig;

const WAIT: Duration = Duration::from_secs(20);

/// A listening transport and a raw quinn connection to it, accepted.
async fn raw_peer() -> (Box<dyn Listener>, quinn::Connection, quinn::Endpoint) {
    let quic = QuicTransport::dev().expect("dev");
    let any: Endpoint = "quic://127.0.0.1:0".parse().expect("valid");
    let listener = quic.listen(&any).await.expect("listens");
    let Endpoint::Quic { port, .. } = listener.endpoint() else {
        panic!("a QUIC endpoint");
    };
    let tls = TlsConfig::self_signed_dev(&["localhost"])
        .expect("dev")
        .alpn([ALPN]);
    let crypto = QuicClientConfig::try_from(tls.client_config()).expect("TLS 1.3");
    let mut endpoint =
        quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).expect("binds");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let conn = endpoint
        .connect(to, "localhost")
        .expect("connects")
        .await
        .expect("handshake");
    (listener, conn, endpoint)
}

async fn accepted(listener: &mut Box<dyn Listener>) -> Connection {
    tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted")
}

async fn outcome(conn: &mut Connection) -> Result<Option<bytes::Bytes>, TransportError> {
    let got = tokio::time::timeout(WAIT, conn.stream.recv())
        .await
        .expect("in time");
    got.map(|frame| frame.map(|frame| frame.payload))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reset_in_the_middle_of_a_frame_ends_the_connection() {
    let (mut listener, conn, _endpoint) = raw_peer().await;
    let mut stream = conn.open_uni().await.expect("a stream");
    // A whole frame, then a header announcing 100 bytes and 10 of them.
    stream
        .write_all(&[0, 0, 0, 2, b'o', b'k'])
        .await
        .expect("writes");
    stream.write_all(&[0, 0, 0, 100]).await.expect("writes");
    stream.write_all(&[7; 10]).await.expect("writes");
    let mut ours = accepted(&mut listener).await;
    assert_eq!(
        outcome(&mut ours).await.expect("a frame").as_deref(),
        Some(&b"ok"[..])
    );
    stream.reset(quinn::VarInt::from_u32(9)).expect("resets");
    let err = outcome(&mut ours).await.expect_err("the connection ends");
    assert!(matches!(err, TransportError::Closed(_)), "{err}");
    // The peer is told.
    let closed = tokio::time::timeout(WAIT, conn.closed())
        .await
        .expect("in time");
    assert!(
        matches!(closed, quinn::ConnectionError::ApplicationClosed(_)),
        "{closed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_finished_in_the_middle_of_a_frame_ends_the_connection() {
    let (mut listener, conn, _endpoint) = raw_peer().await;
    let mut stream = conn.open_uni().await.expect("a stream");
    stream
        .write_all(&[0, 0, 0, 100, 1, 2, 3])
        .await
        .expect("writes");
    stream.finish().expect("finishes");
    let mut ours = accepted(&mut listener).await;
    let err = outcome(&mut ours).await.expect_err("the connection ends");
    assert!(err.to_string().contains("middle of a frame"), "{err}");
}
