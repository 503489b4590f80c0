//! A cookie shorter than 16 bytes can be guessed: building a cluster
//! configuration with one logs a warning, once for that configuration,
//! not once per node that uses a clone of it or per connection.

mod support;

use std::sync::Arc;

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{LocalNetwork, Transport};
use beamish_core::{ClusterConfig, Node, NodeEvent};
use support::logs::capture;

async fn member(net: &LocalNetwork, name: &str, config: ClusterConfig) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime");
    let transport: Arc<dyn Transport> = Arc::new(net.transport(name));
    let at = Endpoint::Local { name: name.into() };
    node.join(config, vec![transport], &[at])
        .await
        .expect("joins");
    node
}

#[tokio::test(start_paused = true)]
async fn a_short_cookie_warns_once_per_configuration() {
    let (captured, _guard) = capture();
    let config = ClusterConfig::new(Cookie::new("fifteen bytes!!"));
    assert_eq!(captured.warnings("cookie is shorter").len(), 1);

    // Two nodes share clones of it and connect, several times.
    let net = LocalNetwork::new();
    let a = member(&net, "a", config.clone()).await;
    let b = member(&net, "b", config).await;
    let mut b_events = b.monitor_nodes().expect("joined");
    for _ in 0..3 {
        let at = Endpoint::Local { name: "b".into() };
        a.connect(&at).await.expect("connects");
        assert_eq!(b_events.next().await, Some(NodeEvent::Up(a.name())));
        assert!(a.disconnect(b.name()));
        assert!(matches!(b_events.next().await, Some(NodeEvent::Down(..))));
    }
    assert_eq!(
        captured.warnings("cookie is shorter").len(),
        1,
        "no warning per node or connection"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cookie_of_16_bytes_or_more_does_not_warn() {
    let (captured, _guard) = capture();
    let _ = ClusterConfig::new(Cookie::new("sixteen bytes!!!"));
    let _ = ClusterConfig::new(Cookie::generate().expect("randomness"));
    assert_eq!(captured.warnings("cookie is shorter").len(), 0);
}
