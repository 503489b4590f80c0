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
use lapin::types::{AMQPValue, FieldTable};
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
    AmqpTransport::with_inbox(&broker(), node, mode)
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
    depth(queue).await.expect("the queue exists")
}

/// How many messages wait in the queue `queue`, or `None` if there is no
/// such queue (asked with a passive declaration, which renews its lease).
pub async fn depth(queue: &str) -> Option<u32> {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("connects");
    let channel = conn.create_channel().await.expect("a channel");
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await;
    let _ = conn.close(200, "done".into()).await;
    match declared {
        Ok(queue) => Some(queue.message_count()),
        Err(err) if err.to_string().contains("NOT_FOUND") => None,
        Err(err) => panic!("the broker could not say: {err}"),
    }
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

/// Whether the broker has the queue `queue`, asked without renewing its
/// lease (a declaration, even a passive one, would): a mandatory publish
/// of an empty message that expires at once, which comes back if there is
/// no such queue.
pub async fn exists(queue: &str) -> bool {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("connects");
    let channel = conn.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let confirmation = channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            b"",
            BasicProperties::default().with_expiration("0".into()),
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    let _ = conn.close(200, "done".into()).await;
    confirmation.take_message().is_none()
}

/// Declares the durable queue `queue` with plain lapin, with `x-expires`
/// of `expiry` milliseconds or none, as a node of an earlier version or
/// an operator would: `Err` with the broker's words if it refuses (the
/// queue is there with other arguments).
pub async fn declare_durable(queue: &str, expiry: Option<i64>) -> Result<(), String> {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("connects");
    let channel = conn.create_channel().await.expect("a channel");
    let mut arguments = FieldTable::default();
    if let Some(millis) = expiry {
        arguments.insert("x-expires".into(), AMQPValue::LongLongInt(millis));
    }
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), durable, arguments)
        .await
        .map(|_| ())
        .map_err(|err| err.to_string());
    let _ = conn.close(200, "done".into()).await;
    declared
}

/// Polls `queue` (without renewing its lease) until the broker no longer
/// has it, failing the test if it still does after `WAIT`.
pub async fn until_gone(queue: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while exists(queue).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{queue} is still there after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `done` until it holds, failing the test if it does not in time:
/// for what the broker must be asked about.
pub async fn eventually_async<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `rabbitmqctl command` (`stop_app`, `start_app`), for the tests
/// that take the broker away; fails the test if it fails.
pub fn rabbitmqctl(command: &str) {
    let status = std::process::Command::new("rabbitmqctl")
        .arg(command)
        .status()
        .unwrap_or_else(|err| panic!("rabbitmqctl {command}: {err}"));
    assert!(status.success(), "rabbitmqctl {command}: {status}");
}

/// Starts the broker's application again when dropped, test passed or
/// not, and waits until it has fully started, so that the tests after it
/// find a broker that answers.
pub struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        for command in ["start_app", "await_startup"] {
            let _ = std::process::Command::new("rabbitmqctl")
                .arg(command)
                .status();
        }
    }
}
