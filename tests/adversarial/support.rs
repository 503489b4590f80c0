//! What the attacks share: nodes listening on loopback, and raw sockets.

use std::sync::Arc;
use std::time::Duration;

use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{ClusterConfig, Node};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The cookie of the nodes under attack.
pub(crate) const COOKIE: &str = "the adversarial tests' cookie";

/// How long a test waits for what should happen at once before it
/// fails: a bound on a wait, never slept.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(10);

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

/// A raw socket to the node listening at `at`, speaking no protocol.
pub(crate) async fn raw(at: &Endpoint) -> TcpStream {
    let Endpoint::Tcp { host, port } = at else {
        panic!("a TCP endpoint: {at}");
    };
    TcpStream::connect((host.as_str(), *port))
        .await
        .expect("the node accepts the socket")
}

/// Whether the node closes `socket` (reading whatever it sends first)
/// within [`PROMPTLY`].
pub(crate) async fn closed(socket: &mut TcpStream) -> bool {
    let mut buf = [0; 1024];
    let closing = async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PROMPTLY, closing).await.is_ok()
}
