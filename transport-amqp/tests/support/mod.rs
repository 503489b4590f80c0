//! Helpers shared by the AMQP tests: the broker on 127.0.0.1:5672, node
//! names unique to a run, and sessions between two fresh nodes.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Incoming, Listener, Transport, TransportError};
use beamish_transport_amqp::{AmqpTransport, Mode};

/// How long a test waits for the broker before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// The broker every AMQP test uses.
pub fn broker() -> Endpoint {
    "amqp://guest:guest@127.0.0.1:5672/%2f"
        .parse()
        .expect("valid")
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
