//! The QUIC transport on its own: order within a lane across interleaved
//! lanes, the frame limit, certificates that do not verify, mutual TLS,
//! and an orderly close.

use std::collections::HashMap;
use std::time::Duration;

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Transport, TransportError};
use beamish_tls::testing::TestCa;
use beamish_transport_quic::QuicTransport;
use bytes::Bytes;

const WAIT: Duration = Duration::from_secs(20);

fn any_port() -> Endpoint {
    "quic://127.0.0.1:0".parse().expect("valid")
}

/// A connection from `client` to a listener of `server`, both ends.
async fn pair(
    server: &QuicTransport,
    client: &QuicTransport,
) -> Result<(Connection, Connection), TransportError> {
    let mut listener = server.listen(&any_port()).await?;
    let ours = client.connect(&listener.endpoint()).await?;
    let theirs = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("accepted in time")?;
    Ok((ours, theirs))
}

async fn next(conn: &mut Connection) -> Result<Option<Bytes>, TransportError> {
    let frame = tokio::time::timeout(WAIT, conn.stream.recv())
        .await
        .expect("in time")?;
    Ok(frame.map(|frame| frame.payload))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lane_keeps_its_order() {
    let quic = QuicTransport::dev().expect("dev");
    let (mut a, mut b) = pair(&quic, &quic).await.expect("connected");
    assert!(a.sink.has_lanes());
    // The server learns of a stream when data comes: say hello first.
    a.sink
        .send(vec![Bytes::from_static(b"hello")])
        .await
        .expect("sent");
    for n in 0..300_u32 {
        let lane = n % 5;
        let frame = Bytes::from(format!("{lane}:{n}"));
        a.sink.send_lane(lane, vec![frame]).await.expect("sent");
    }
    let mut last: HashMap<u32, u32> = HashMap::new();
    let mut seen = 0;
    while seen < 300 {
        let frame = next(&mut b).await.expect("open").expect("a frame");
        if &frame[..] == b"hello" {
            continue;
        }
        let text = std::str::from_utf8(&frame).expect("text");
        let (lane, n) = text.split_once(':').expect("lane:n");
        let (lane, n): (u32, u32) = (lane.parse().expect("lane"), n.parse().expect("n"));
        if let Some(previous) = last.insert(lane, n) {
            assert!(previous < n, "lane {lane}: {previous} then {n}");
        }
        seen += 1;
    }
    a.sink.close().await;
    assert_eq!(next(&mut b).await.expect("an orderly end"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_ends_the_connection() {
    let server = QuicTransport::dev()
        .expect("dev")
        .max_frame(1024)
        .expect("limited");
    let client = QuicTransport::dev().expect("dev");
    let (mut a, mut b) = pair(&server, &client).await.expect("connected");
    a.sink
        .send(vec![Bytes::from(vec![0_u8; 4096])])
        .await
        .expect("sent");
    let err = next(&mut b).await.expect_err("refused");
    assert!(err.to_string().contains("exceeds"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_does_not_verify_is_refused() {
    let ours = TestCa::new().expect("a CA");
    let theirs = TestCa::new().expect("a CA");
    let server = theirs
        .issue(&theirs)
        .expect("issued")
        .config()
        .expect("tls");
    let client = ours.issue(&ours).expect("issued").config().expect("tls");
    let server = QuicTransport::new(server).expect("quic");
    let client = QuicTransport::new(client).expect("quic");
    let err = pair(&server, &client).await.expect_err("refused");
    assert!(err.to_string().contains("certificate"), "{err}");

    // With the right CA on both sides it connects.
    let ca = TestCa::new().expect("a CA");
    let server =
        QuicTransport::new(ca.issue(&ca).expect("issued").config().expect("tls")).expect("quic");
    let client =
        QuicTransport::new(ca.issue(&ca).expect("issued").config().expect("tls")).expect("quic");
    pair(&server, &client).await.expect("verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let ca = TestCa::new().expect("a CA");
    let server =
        QuicTransport::new(ca.issue(&ca).expect("issued").mutual().expect("tls")).expect("quic");
    let anonymous =
        QuicTransport::new(ca.issue(&ca).expect("issued").config().expect("tls")).expect("quic");
    // The server refuses once it sees no certificate: the client's
    // connection fails during or right after the handshake, and the
    // server never hands it to the node.
    let mut listener = server.listen(&any_port()).await.expect("listens");
    match anonymous.connect(&listener.endpoint()).await {
        Err(err) => assert!(!err.to_string().is_empty()),
        Ok(mut ours) => {
            let got = next(&mut ours).await;
            assert!(got.is_err(), "the connection must not stay up: {got:?}");
        }
    }
    let known =
        QuicTransport::new(ca.issue(&ca).expect("issued").mutual().expect("tls")).expect("quic");
    let mut a = known.connect(&listener.endpoint()).await.expect("verified");
    a.sink
        .send(vec![Bytes::from_static(b"in")])
        .await
        .expect("sent");
    let mut b = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    assert_eq!(
        next(&mut b).await.expect("open").as_deref(),
        Some(&b"in"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_schemes_and_silent_endpoints_are_errors() {
    let quic = QuicTransport::dev().expect("dev");
    let tcp: Endpoint = "tcp://127.0.0.1:1".parse().expect("valid");
    assert!(matches!(
        quic.connect(&tcp).await,
        Err(TransportError::WrongScheme { .. })
    ));
}
