//! Helpers shared by the AMQP tests: the broker on 127.0.0.1:5672, node
//! names unique to a run, and sessions between two fresh nodes.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{
    Connection, Incoming, Listener, SharedSecret, Transport, TransportError,
};
use beamish_transport_amqp::{AmqpTransport, Mode};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties};

/// How long a test waits for the broker before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// The broker every AMQP test uses, as lapin takes it.
pub const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker every AMQP test uses.
pub fn broker() -> Endpoint {
    BROKER.parse().expect("valid")
}

/// A node identity unique to this run.
pub fn unique(role: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{role}-{}-{nanos}", std::process::id())
}

/// The transport of `node`, whose inbox the broker deletes a minute after
/// it is left (should a test fail before deleting it itself).
pub fn transport(node: &str, mode: Mode) -> AmqpTransport {
    AmqpTransport::new(&broker(), node, mode)
        .expect("an amqp endpoint")
        .inbox_expiry(Duration::from_secs(60))
}

/// The cookie of the tests' cluster.
pub const COOKIE: &str = "amqp-tests";

/// The secret a node of the tests' cluster hands its transports.
pub fn secret() -> SharedSecret {
    Cookie::new(COOKIE).transport_secret()
}

/// The endpoint of `node`.
pub fn at(node: &str) -> Endpoint {
    format!("amqp://guest:guest@127.0.0.1:5672/%2f?node={node}")
        .parse()
        .expect("valid")
}

/// The next frame of `conn`, failing the test if none comes in time.
pub async fn next(conn: &mut Connection) -> Result<Option<Incoming>, TransportError> {
    tokio::time::timeout(WAIT, conn.stream.recv())
        .await
        .expect("in time")
}

/// Two fresh nodes, `a` and `b`, and a session from `a` to `b`.
pub struct Pair {
    pub a: AmqpTransport,
    pub b: AmqpTransport,
    pub listener: Box<dyn Listener>,
    /// `a`'s end.
    pub ours: Connection,
    /// `b`'s end.
    pub theirs: Connection,
}

impl Pair {
    pub async fn new(a: AmqpTransport, b: AmqpTransport) -> Self {
        let mut listener = b.listen(&broker()).await.expect("listens");
        let ours = a.connect(&listener.endpoint()).await.expect("opens");
        let theirs = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("in time")
            .expect("accepted");
        Self {
            a,
            b,
            listener,
            ours,
            theirs,
        }
    }

    /// Shuts both transports down and deletes their inboxes.
    pub async fn remove(self) {
        for transport in [self.a, self.b] {
            transport.delete_inbox().await.expect("inbox deleted");
        }
    }
}

/// Publishes `messages` with plain lapin, as any user of the broker could,
/// to the inbox of `node` (through the exchange that routes frames to node
/// inboxes); returns once the broker has confirmed every one.
pub async fn publish_raw(node: &str, messages: Vec<(Vec<u8>, BasicProperties)>) {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("connects");
    let channel = conn.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let mut confirms = Vec::with_capacity(messages.len());
    for (body, properties) in messages {
        let confirm = channel
            .basic_publish(
                "beamish.nodes".into(),
                node.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .expect("published");
        confirms.push(confirm);
    }
    for confirm in confirms {
        assert!(
            confirm.await.expect("confirmed").is_ack(),
            "the broker took it"
        );
    }
    let _ = conn.close(200, "done".into()).await;
}

/// How many messages wait in the queue `queue` (not counting those
/// delivered and not yet acknowledged).
pub async fn queue_depth(queue: &str) -> u32 {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("connects");
    let channel = conn.create_channel().await.expect("a channel");
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .expect("the queue exists");
    let _ = conn.close(200, "done".into()).await;
    queue.message_count()
}

/// Polls `done` until it holds, failing the test if it does not in time:
/// for counters that have nothing to wait on.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
