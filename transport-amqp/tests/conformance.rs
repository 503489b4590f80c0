//! The transport conformance suite through the RabbitMQ broker on
//! 127.0.0.1:5672, in fast and in durable mode. Without a broker these
//! tests fail; they never skip.

use std::sync::Arc;
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
}

impl Harness for Amqp {
    fn transport(&self, name: &str) -> Arc<dyn Transport> {
        let transport = AmqpTransport::new(&broker(), &format!("{}-{name}", self.run), self.mode)
            .expect("an amqp endpoint")
            .inbox_expiry(Duration::from_secs(60));
        Arc::new(transport)
    }

    fn endpoint(&self, _name: &str) -> Endpoint {
        broker()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_mode_conforms() {
    conformance::run_all(&Amqp {
        mode: Mode::Fast,
        run: run_id(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_mode_conforms() {
    conformance::run_all(&Amqp {
        mode: Mode::Durable,
        run: run_id(),
    })
    .await;
}
