//! Connections that say nothing hold a place in the handshake until the
//! handshake timeout; a listener lets at most `max_handshakes` of them in
//! at once and closes the others as soon as it accepts them, with one
//! warning. A place freed by a timeout goes to the next caller, so a
//! legitimate node still joins.

mod support;

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{Connection, LocalNetwork, Transport};
use beamish_core::{ClusterConfig, Node};
use support::logs::capture;
use tokio::time::Instant;

const TIMEOUT: Duration = Duration::from_secs(5);

fn local(name: &str) -> Endpoint {
    Endpoint::Local { name: name.into() }
}

async fn member(net: &LocalNetwork, name: &str, listen: &[Endpoint]) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime");
    let config = ClusterConfig::new(Cookie::new("the capped listener's cookie"))
        .handshake_timeout(TIMEOUT)
        .max_handshakes(2);
    let transport: Arc<dyn Transport> = Arc::new(net.transport(name));
    node.join(config, vec![transport], listen)
        .await
        .expect("joins");
    node
}

/// A connection to `b` from a peer that never says anything.
async fn silent(net: &LocalNetwork, n: usize) -> Connection {
    net.transport(format!("silent{n}"))
        .connect(&local("b"))
        .await
        .expect("connects")
}

#[tokio::test(start_paused = true)]
async fn connections_beyond_the_limit_are_closed_at_once_and_a_freed_place_is_reused() {
    let (captured, _guard) = capture();

    let net = LocalNetwork::new();
    let b = member(&net, "b", &[local("b")]).await;
    let start = Instant::now();
    let mut holding = Vec::new();
    for n in 0..2 {
        holding.push(silent(&net, n).await);
    }
    let mut extras = Vec::new();
    for n in 2..5 {
        extras.push(silent(&net, n).await);
    }
    for extra in &mut extras {
        let got = extra.stream.recv().await;
        assert!(!matches!(got, Ok(Some(_))), "closed, not answered: {got:?}");
    }
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "closed at once, not timed out"
    );

    // While the places are taken, a legitimate node is turned away too.
    let a = member(&net, "a", &[]).await;
    assert!(a.connect(&local("b")).await.is_err());
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        captured.warnings("others are in the handshake").len(),
        1,
        "one warning for the burst"
    );

    // The silent ones time out, and their places go to the next callers.
    tokio::time::sleep(TIMEOUT + Duration::from_secs(1)).await;
    assert_eq!(a.connect(&local("b")).await, Ok(b.name()));
    assert_eq!(b.nodes(), vec![a.name()]);
}
