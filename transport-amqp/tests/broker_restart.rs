//! The broker goes away mid-traffic (`rabbitmqctl stop_app`) and comes
//! back (`start_app`): a fast session ends and its sends fail clearly; a
//! durable session waits for the broker, its sends complete once the
//! broker is back, and nothing the broker had confirmed is lost. Alone in
//! its test binary, since it stops the broker for everyone; the broker is
//! started again however the test ends.

mod support;

use std::time::Duration;

use beamish_core::transport::{Connection, Incoming, Transport, TransportError};
use beamish_transport_amqp::{AmqpTransport, Mode};
use bytes::Bytes;
use support::{broker, rabbitmqctl, unique, Restart};

const WAIT: Duration = Duration::from_secs(60);

async fn next(conn: &mut Connection) -> Result<Option<Incoming>, TransportError> {
    tokio::time::timeout(WAIT, conn.stream.recv())
        .await
        .expect("in time")
}

/// A session from a new node `client` to a new listening node `server`.
async fn session(
    mode: Mode,
) -> (
    AmqpTransport,
    AmqpTransport,
    Box<dyn beamish_core::transport::Listener>,
    Connection,
    Connection,
) {
    let (server, client) = (unique("steady"), unique("talker"));
    let b = AmqpTransport::with_inbox(&broker(), &server, mode)
        .expect("amqp")
        .inbox_expiry(Duration::from_secs(120));
    let mut listener = b.listen(&broker()).await.expect("listens");
    let a = AmqpTransport::with_inbox(&broker(), &client, mode)
        .expect("amqp")
        .inbox_expiry(Duration::from_secs(120));
    let ours = a.connect(&listener.endpoint()).await.expect("opens");
    let theirs = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    (a, b, listener, ours, theirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_confirmed_is_lost_when_the_broker_restarts() {
    let (fast_a, fast_b, _fast_listener, mut fast_ours, mut fast_theirs) =
        session(Mode::Fast).await;
    let (a, b, mut listener, mut ours, mut theirs) = session(Mode::Durable).await;
    let frames = (0..50).map(|n: u32| Bytes::from(n.to_string())).collect();
    ours.sink.send(frames).await.expect("all confirmed");
    // 0..20 handled; 20..50 delivered but not handled when the broker goes.
    let mut unhandled = Vec::new();
    for n in 0..50_u32 {
        let frame = next(&mut theirs).await.expect("open").expect("a frame");
        assert_eq!(&frame.payload[..], n.to_string().as_bytes());
        if n < 20 {
            frame.ack().await.expect("acknowledged");
        } else {
            unhandled.push(frame);
        }
    }

    let _restart = Restart;
    rabbitmqctl("stop_app");
    // Fast: the session ends, and sending says so at once.
    assert!(
        next(&mut fast_theirs).await.is_err(),
        "the fast session is lost"
    );
    let during = fast_ours.sink.send(vec![Bytes::from_static(b"lost")]).await;
    assert!(
        matches!(during, Err(TransportError::Closed(_))),
        "{during:?}"
    );
    // Durable: a send waits for the broker.
    let waiting = tokio::spawn(async move {
        let sent = ours.sink.send(vec![Bytes::from_static(b"during")]).await;
        (ours, sent)
    });
    rabbitmqctl("start_app");
    rabbitmqctl("await_startup");
    let (mut ours, sent) = waiting.await.expect("joined");
    sent.expect("confirmed once the broker is back");
    // Their deliveries went with the old connection: acknowledging them
    // fails, and they come again.
    for frame in unhandled {
        let acked = frame.ack().await;
        assert!(matches!(acked, Err(TransportError::Closed(_))), "{acked:?}");
    }

    // What was not handled comes again, in order, then what was sent
    // during the outage.
    for n in 20..50_u32 {
        let frame = next(&mut theirs).await.expect("open").expect("a frame");
        assert_eq!(&frame.payload[..], n.to_string().as_bytes());
        frame.ack().await.expect("acknowledged");
    }
    let frame = next(&mut theirs).await.expect("open").expect("a frame");
    assert_eq!(&frame.payload[..], b"during");
    frame.ack().await.expect("acknowledged");
    // The session goes on both ways, and new ones open.
    theirs
        .sink
        .send(vec![Bytes::from_static(b"back")])
        .await
        .expect("confirmed");
    let back = next(&mut ours).await.expect("open").expect("a frame");
    assert_eq!(&back.payload[..], b"back");
    back.ack().await.expect("acknowledged");
    let _again = a.connect(&listener.endpoint()).await.expect("opens again");
    let _fresh = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    for transport in [a, b, fast_a, fast_b] {
        transport.delete_inbox().await.expect("inbox deleted");
    }
}
