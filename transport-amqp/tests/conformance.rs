//! The transport conformance suite through the RabbitMQ broker on
//! 127.0.0.1:5672, in fast and in durable mode. Without a broker these
//! tests fail; they never skip.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish_core::conformance::{self, Harness};
use beamish_core::dist::Endpoint;
use beamish_core::transport::Transport;
use beamish_transport_amqp::{AmqpTransport, Mode};

fn broker() -> Endpoint {
    "amqp://guest:guest@127.0.0.1:5672/%2f"
        .parse()
        .expect("valid")
}

/// Inbox names unique to this run, so that nothing left by another run
/// is taken for this one's.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

struct Amqp {
    mode: Mode,
    run: String,
    /// The nodes made, whose inboxes go at the end.
    nodes: Mutex<Vec<String>>,
}

impl Amqp {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            run: run_id(),
            nodes: Mutex::new(Vec::new()),
        }
    }

    /// Deletes every inbox the suite made (the broker would a minute
    /// after they are left, should this not run).
    async fn remove_inboxes(&self) {
        let nodes = std::mem::take(&mut *self.nodes.lock().expect("not poisoned"));
        for node in nodes {
            AmqpTransport::with_inbox(&broker(), &node, self.mode)
                .expect("an amqp endpoint")
                .delete_inbox()
                .await
                .expect("inbox deleted");
        }
    }
}

impl Harness for Amqp {
    fn transport(&self, name: &str) -> Arc<dyn Transport> {
        let node = format!("{}-{name}", self.run);
        self.nodes.lock().expect("not poisoned").push(node.clone());
        let transport = AmqpTransport::with_inbox(&broker(), &node, self.mode)
            .expect("an amqp endpoint")
            .inbox_expiry(Duration::from_secs(60));
        Arc::new(transport)
    }

    fn endpoint(&self, _name: &str) -> Endpoint {
        broker()
    }

    /// A leaving node's notice is sometimes not seen before the peer's
    /// heartbeat gives up on it (about one run in six, in either mode):
    /// its peers then see it go by its silence.
    fn delivers_leave_notice(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_mode_conforms() {
    let amqp = Amqp::new(Mode::Fast);
    conformance::run_all(&amqp).await;
    amqp.remove_inboxes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_mode_conforms() {
    let amqp = Amqp::new(Mode::Durable);
    conformance::run_all(&amqp).await;
    amqp.remove_inboxes().await;
}
