//! The transport conformance suite over QUIC on loopback, in TLS
//! development mode: with 8 lanes and with one, and with quinn's drivers
//! in one task per endpoint and as a task each.

use std::sync::Arc;

use beamish_core::conformance::{self, Harness};
use beamish_core::dist::Endpoint;
use beamish_core::transport::Transport;
use beamish_transport_quic::QuicTransport;

struct Quic;

impl Harness for Quic {
    fn transport(&self, _name: &str) -> Arc<dyn Transport> {
        Arc::new(QuicTransport::dev().expect("a development certificate"))
    }

    fn endpoint(&self, _name: &str) -> Endpoint {
        "quic://127.0.0.1:0".parse().expect("valid")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_transport_conforms() {
    conformance::run_all(&Quic).await;
}

/// One lane: everything on one ordered stream.
struct OneLane;

impl Harness for OneLane {
    fn transport(&self, _name: &str) -> Arc<dyn Transport> {
        let quic = QuicTransport::dev().expect("a development certificate");
        Arc::new(quic.lanes(1).expect("one lane"))
    }

    fn endpoint(&self, _name: &str) -> Endpoint {
        "quic://127.0.0.1:0".parse().expect("valid")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_on_one_stream_conforms() {
    conformance::run_all(&OneLane).await;
}

/// quinn's drivers as a task each.
struct DriverTasks;

impl Harness for DriverTasks {
    fn transport(&self, _name: &str) -> Arc<dyn Transport> {
        let quic = QuicTransport::dev().expect("a development certificate");
        Arc::new(quic.driver_tasks().expect("driver tasks"))
    }

    fn endpoint(&self, _name: &str) -> Endpoint {
        "quic://127.0.0.1:0".parse().expect("valid")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_with_a_task_per_driver_conforms() {
    conformance::run_all(&DriverTasks).await;
}
