//! The AMQP transport on its own, through the broker on 127.0.0.1:5672:
//! unroutable openings, order within a session in both modes, redelivery
//! of unacknowledged frames to a node's next life, and the frame limit.
//! Without a broker these tests fail; they never skip.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Incoming, Transport, TransportError};
use beamish_transport_amqp::{AmqpTransport, Mode};
use bytes::Bytes;

const WAIT: Duration = Duration::from_secs(20);

fn broker() -> Endpoint {
    "amqp://guest:guest@127.0.0.1:5672/%2f"
        .parse()
        .expect("valid")
}

/// A node identity unique to this run.
fn unique(role: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{role}-{}-{nanos}", std::process::id())
}

fn transport(node: &str, mode: Mode) -> AmqpTransport {
    AmqpTransport::new(&broker(), node, mode)
        .expect("an amqp endpoint")
        .inbox_expiry(Duration::from_secs(60))
}

fn at(node: &str) -> Endpoint {
    format!("amqp://guest:guest@127.0.0.1:5672/%2f?node={node}")
        .parse()
        .expect("valid")
}

async fn next(conn: &mut Connection) -> Result<Option<Incoming>, TransportError> {
    tokio::time::timeout(WAIT, conn.stream.recv())
        .await
        .expect("in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_session_to_a_node_without_an_inbox_is_unreachable() {
    let a = transport(&unique("lonely"), Mode::Fast);
    let got = a.connect(&at(&unique("nobody"))).await;
    assert!(
        matches!(&got, Err(TransportError::Unreachable(why)) if why.contains("no inbox")),
        "{got:?}"
    );
    let unnamed = a.connect(&broker()).await;
    assert!(matches!(unnamed, Err(TransportError::Io(why)) if why.contains("names no node")));
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_order_in_both_modes() {
    for mode in [Mode::Fast, Mode::Durable] {
        let (server, client) = (unique("server"), unique("client"));
        let b = transport(&server, mode);
        let mut listener = b.listen(&broker()).await.expect("listens");
        assert_eq!(listener.endpoint(), at(&server));
        let a = transport(&client, mode);
        let mut ours = a.connect(&listener.endpoint()).await.expect("opens");
        let mut theirs = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("in time")
            .expect("accepted");
        for batch in 0..10_u32 {
            let frames = (0..50)
                .map(|i| Bytes::from((batch * 50 + i).to_string()))
                .collect();
            ours.sink.send(frames).await.expect("sent");
        }
        for n in 0..500_u32 {
            let frame = next(&mut theirs).await.expect("open").expect("a frame");
            assert_eq!(frame.needs_ack(), mode == Mode::Durable);
            assert_eq!(&frame.payload[..], n.to_string().as_bytes(), "{mode:?}");
            frame.ack().await.expect("acknowledged");
        }
        // And back.
        theirs
            .sink
            .send(vec![Bytes::from_static(b"back")])
            .await
            .expect("sent");
        let back = next(&mut ours).await.expect("open").expect("a frame");
        assert_eq!(&back.payload[..], b"back");
        back.ack().await.expect("acknowledged");
        ours.sink.close().await;
        assert!(next(&mut theirs).await.expect("an orderly end").is_none());
        a.shutdown().await;
        b.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_frames_reach_the_nodes_next_life() {
    let (server, client) = (unique("crashing"), unique("sender"));
    let first = transport(&server, Mode::Durable);
    let mut listener = first.listen(&broker()).await.expect("listens");
    let a = transport(&client, Mode::Durable);
    let mut ours = a.connect(&listener.endpoint()).await.expect("opens");
    let mut theirs = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    let frames: Vec<Bytes> = ["one", "two", "three"]
        .iter()
        .map(|text| Bytes::from_static(text.as_bytes()))
        .collect();
    ours.sink.send(frames).await.expect("confirmed");
    // The first is handled and acknowledged; two arrive, unhandled.
    let one = next(&mut theirs).await.expect("open").expect("a frame");
    one.ack().await.expect("acknowledged");
    for _ in 0..2 {
        let unhandled = next(&mut theirs).await.expect("open").expect("a frame");
        drop(unhandled);
    }
    // The node dies: its broker connection goes.
    first.shutdown().await;
    drop((listener, theirs, first));

    let second = transport(&server, Mode::Durable);
    let mut listener = second.listen(&broker()).await.expect("listens again");
    let mut resumed = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("a resumed session");
    assert_eq!(resumed.resumed_from.as_deref(), Some(client.as_str()));
    for want in ["two", "three"] {
        let frame = next(&mut resumed).await.expect("open").expect("a frame");
        assert_eq!(&frame.payload[..], want.as_bytes());
        frame.ack().await.expect("acknowledged");
    }
    assert!(
        resumed.sink.send(vec![Bytes::new()]).await.is_err(),
        "a resumed session only delivers"
    );
    a.shutdown().await;
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_ends_the_session() {
    let (server, client) = (unique("small"), unique("big"));
    let b = transport(&server, Mode::Fast).max_frame(16);
    let mut listener = b.listen(&broker()).await.expect("listens");
    let a = transport(&client, Mode::Fast);
    let mut ours = a.connect(&listener.endpoint()).await.expect("opens");
    let mut theirs = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    ours.sink
        .send(vec![Bytes::from(vec![0_u8; 100])])
        .await
        .expect("sent");
    let got = next(&mut theirs).await;
    assert!(
        matches!(&got, Err(TransportError::Closed(why)) if why.contains("limit")),
        "{got:?}"
    );
    a.shutdown().await;
    b.shutdown().await;
}
