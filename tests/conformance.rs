//! The transport conformance suite, run against every transport this
//! build has: in-process, and TCP on loopback.

use std::sync::Arc;

use beamish::dist::Endpoint;
use beamish::transport::{LocalNetwork, Transport};
use beamish_core::conformance::{self, Harness};

struct Local(LocalNetwork);

impl Harness for Local {
    fn transport(&self, name: &str) -> Arc<dyn Transport> {
        Arc::new(self.0.transport(name))
    }

    fn endpoint(&self, name: &str) -> Endpoint {
        Endpoint::Local { name: name.into() }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_transport_conforms() {
    conformance::run_all(&Local(LocalNetwork::new())).await;
}

#[cfg(feature = "tcp")]
struct Tcp;

#[cfg(feature = "tcp")]
impl Harness for Tcp {
    fn transport(&self, _name: &str) -> Arc<dyn Transport> {
        Arc::new(beamish::tcp::TcpTransport::new())
    }

    fn endpoint(&self, _name: &str) -> Endpoint {
        Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port: 0,
        }
    }
}

#[cfg(feature = "tcp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_transport_conforms() {
    conformance::run_all(&Tcp).await;
}
