//! What the attacks share: nodes listening on loopback, and raw sockets.

use std::sync::Arc;

use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{ClusterConfig, Node};

/// The cookie of the nodes under attack.
pub(crate) const COOKIE: &str = "the adversarial tests' cookie";

/// A node named `name@localhost`, joined with `config` and listening on
/// an ephemeral loopback port (`None` for a node that only connects).
pub(crate) async fn member(
    name: &str,
    config: ClusterConfig,
    listen: bool,
) -> (Node, Option<Endpoint>) {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("inside a tokio runtime");
    let tcp: Arc<dyn Transport> = Arc::new(TcpTransport::new());
    let endpoints = if listen {
        vec!["tcp://127.0.0.1:0".parse::<Endpoint>().expect("valid")]
    } else {
        Vec::new()
    };
    let at = node
        .join(config, vec![tcp], &endpoints)
        .await
        .expect("the node joins");
    (node, at.into_iter().next())
}

/// The configuration the nodes under attack share.
pub(crate) fn config() -> ClusterConfig {
    ClusterConfig::new(Cookie::new(COOKIE))
}
