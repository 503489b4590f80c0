//! The QUIC transport on its own: order within a lane across interleaved
//! lanes, the frame limit, certificates that do not verify, mutual TLS,
//! and an orderly close.

use std::collections::HashMap;
use std::time::Duration;

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, SentNow, Transport, TransportError};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_delivers_every_frame_sent_before_it() {
    let quic = QuicTransport::dev().expect("dev");
    let (mut a, mut b) = pair(&quic, &quic).await.expect("connected");
    let (lanes, each) = (8_u32, 300_u32);
    for n in 0..each {
        for lane in 0..lanes {
            let mut frame = vec![0_u8; 512];
            frame[..8].copy_from_slice(&[lane.to_be_bytes(), n.to_be_bytes()].concat());
            a.sink
                .send_lane(lane, vec![Bytes::from(frame)])
                .await
                .expect("sent");
        }
    }
    // Closed before the peer reads anything: what was sent still arrives,
    // each lane in order, and only then the orderly end.
    a.sink.close().await;
    let mut next_of: HashMap<u32, u32> = HashMap::new();
    for _ in 0..lanes * each {
        let frame = next(&mut b).await.expect("open").expect("a frame");
        let lane = u32::from_be_bytes(frame[..4].try_into().expect("4 bytes"));
        let n = u32::from_be_bytes(frame[4..8].try_into().expect("4 bytes"));
        let want = next_of.entry(lane).or_insert(0);
        assert_eq!(n, *want, "lane {lane} out of order");
        *want += 1;
    }
    assert_eq!(next(&mut b).await.expect("an orderly end"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_frame_overtakes_large_ones_on_another_lane() {
    let quic = QuicTransport::dev().expect("dev");
    let (mut a, mut b) = pair(&quic, &quic).await.expect("connected");
    // 64 MiB queued on lane 1, then one small frame on lane 2.
    let large = Bytes::from(vec![1_u8; 4 << 20]);
    let count = 16;
    a.sink
        .send_lane(1, vec![large; count])
        .await
        .expect("queued");
    a.sink
        .send_lane(2, vec![Bytes::from_static(b"small")])
        .await
        .expect("queued");
    let mut large_before = 0;
    loop {
        let frame = next(&mut b).await.expect("open").expect("a frame");
        if &frame[..] == b"small" {
            break;
        }
        large_before += 1;
    }
    assert!(
        large_before < count,
        "the small frame waited for all {count} large ones"
    );
    for _ in large_before..count {
        let frame = next(&mut b).await.expect("open").expect("a frame");
        assert_eq!(frame.len(), 4 << 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_one_lane_everything_keeps_the_order_sent() {
    let quic = QuicTransport::dev().expect("dev").lanes(1).expect("one");
    let (mut a, mut b) = pair(&quic, &quic).await.expect("connected");
    assert!(!a.sink.has_lanes());
    for n in 0..200_u32 {
        let frame = Bytes::from(n.to_be_bytes().to_vec());
        a.sink.send_lane(n % 7, vec![frame]).await.expect("sent");
    }
    for n in 0..200_u32 {
        let frame = next(&mut b).await.expect("open").expect("a frame");
        assert_eq!(&frame[..], n.to_be_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_refused_by_the_sender() {
    let quic = QuicTransport::dev()
        .expect("dev")
        .max_frame(1024)
        .expect("limited");
    let (mut a, _b) = pair(&quic, &quic).await.expect("connected");
    let err = a
        .sink
        .send(vec![Bytes::from(vec![0_u8; 2048])])
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("exceeds"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_listener_takes_no_new_connections() {
    let quick = beamish_core::dist::HeartbeatConfig {
        tick: Duration::from_millis(100),
        missed: 3,
    };
    let quic = QuicTransport::dev()
        .expect("dev")
        .heartbeat(quick)
        .expect("configured");
    let listener = quic.listen(&any_port()).await.expect("listens");
    let at = listener.endpoint();
    drop(listener);
    let client = QuicTransport::dev()
        .expect("dev")
        .heartbeat(quick)
        .expect("configured");
    let refused = tokio::time::timeout(WAIT, client.connect(&at))
        .await
        .expect("refused in time");
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_held_up_by_flow_control_keeps_its_order() {
    let quic = QuicTransport::dev().expect("dev");
    let (mut a, mut b) = pair(&quic, &quic).await.expect("connected");
    // More than the peer's stream window, then small frames behind it and
    // another large one: some go out at once, some wait in the backlog.
    let mut sent = Vec::new();
    for round in 0..3_u8 {
        sent.push(Bytes::from(vec![round; 3 << 20]));
        for n in 0..50_u8 {
            sent.push(Bytes::from(vec![round, n]));
        }
    }
    for frame in &sent {
        a.sink
            .send_lane(3, vec![frame.clone()])
            .await
            .expect("sent");
    }
    for want in &sent {
        let got = next(&mut b).await.expect("open").expect("a frame");
        assert_eq!(got.len(), want.len());
        assert_eq!(got[..2], want[..2]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_written_at_once_keep_their_lane_order() {
    let quic = QuicTransport::dev().expect("dev");
    let (mut a, mut b) = pair(&quic, &quic).await.expect("connected");
    let frame = |text: &'static str| Bytes::from_static(text.as_bytes());
    // A lane's stream opens on its first send, which may wait: until then
    // the frame takes the usual way.
    assert_eq!(a.sink.send_now(2, &frame("early")), Ok(SentNow::Refused));
    a.sink
        .send_lane(2, vec![frame("first")])
        .await
        .expect("sent");
    assert_eq!(a.sink.send_now(2, &frame("second")), Ok(SentNow::Taken));
    a.sink
        .send_lane(2, vec![frame("third")])
        .await
        .expect("sent");
    assert_eq!(a.sink.send_now(2, &frame("fourth")), Ok(SentNow::Taken));
    for want in ["first", "second", "third", "fourth"] {
        assert_eq!(next(&mut b).await, Ok(Some(frame(want))));
    }
    // Behind a backlog (the peer's stream window is full) nothing is
    // written at once: it would overtake what waits.
    a.sink
        .send_lane(2, vec![Bytes::from(vec![7; 3 << 20])])
        .await
        .expect("sent");
    assert_eq!(a.sink.send_now(2, &frame("behind")), Ok(SentNow::Refused));
}
