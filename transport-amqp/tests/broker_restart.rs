//! The broker goes away mid-traffic (`rabbitmqctl stop_app`) and comes
//! back (`start_app`): sessions are lost and sends fail clearly meanwhile;
//! a listening node gets its inbox back by itself; nothing the broker had
//! confirmed is lost. Alone in its test binary, since it stops the broker
//! for everyone; the broker is started again however the test ends.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Incoming, Transport, TransportError};
use beamish_transport_amqp::{AmqpTransport, Mode};
use bytes::Bytes;

const WAIT: Duration = Duration::from_secs(60);

fn broker() -> Endpoint {
    "amqp://guest:guest@127.0.0.1:5672/%2f"
        .parse()
        .expect("valid")
}

fn unique(role: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{role}-{}-{nanos}", std::process::id())
}

fn rabbitmqctl(command: &str) {
    let status = Command::new("rabbitmqctl")
        .arg(command)
        .status()
        .unwrap_or_else(|err| panic!("rabbitmqctl {command}: {err}"));
    assert!(status.success(), "rabbitmqctl {command}: {status}");
}

/// Starts the broker's application again when dropped, test passed or not.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").arg("start_app").status();
    }
}

async fn next(conn: &mut Connection) -> Result<Option<Incoming>, TransportError> {
    tokio::time::timeout(WAIT, conn.stream.recv())
        .await
        .expect("in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_confirmed_is_lost_when_the_broker_restarts() {
    let (server, client) = (unique("steady"), unique("talker"));
    let b = AmqpTransport::new(&broker(), &server, Mode::Durable)
        .expect("amqp")
        .inbox_expiry(Duration::from_secs(120));
    let mut listener = b.listen(&broker()).await.expect("listens");
    let a = AmqpTransport::new(&broker(), &client, Mode::Durable)
        .expect("amqp")
        .inbox_expiry(Duration::from_secs(120));
    let mut ours = a.connect(&listener.endpoint()).await.expect("opens");
    let mut theirs = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    let frames = (0..50).map(|n: u32| Bytes::from(n.to_string())).collect();
    ours.sink.send(frames).await.expect("all confirmed");
    // 0..20 handled; 20..50 delivered but not handled when the broker goes.
    for n in 0..50_u32 {
        let frame = next(&mut theirs).await.expect("open").expect("a frame");
        assert_eq!(&frame.payload[..], n.to_string().as_bytes());
        if n < 20 {
            frame.ack().await.expect("acknowledged");
        }
    }

    let _restart = Restart;
    rabbitmqctl("stop_app");
    assert!(next(&mut theirs).await.is_err(), "the session is lost");
    let during = ours.sink.send(vec![Bytes::from_static(b"lost")]).await;
    assert!(
        matches!(during, Err(TransportError::Closed(_))),
        "{during:?}"
    );
    rabbitmqctl("start_app");

    // The listening node is back by itself; what it had not handled comes
    // again, in order.
    let mut resumed = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("a resumed session");
    assert_eq!(resumed.resumed_from.as_deref(), Some(client.as_str()));
    for n in 20..50_u32 {
        let frame = next(&mut resumed).await.expect("open").expect("a frame");
        assert_eq!(&frame.payload[..], n.to_string().as_bytes());
        frame.ack().await.expect("acknowledged");
    }
    // And new sessions work.
    let mut again = a.connect(&listener.endpoint()).await.expect("opens again");
    again
        .sink
        .send(vec![Bytes::from_static(b"after")])
        .await
        .expect("confirmed");
    let mut fresh = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    let frame = next(&mut fresh).await.expect("open").expect("a frame");
    assert_eq!(&frame.payload[..], b"after");
    frame.ack().await.expect("acknowledged");
    a.shutdown().await;
    b.shutdown().await;
}
