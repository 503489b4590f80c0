//! Two nodes that connect to each other at the same moment end up with
//! one connection, the same on both sides, as Erlang's do: neither loses
//! the other.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{Cookie, Node, NodeEvent};
use support::local;

async fn node(net: &LocalNetwork, name: &str) -> Node {
    Node::builder()
        .name(format!("{name}@localhost"))
        .cookie(Cookie::new("simultaneous"))
        .transport(net.transport(name))
        .listen(format!("local://{name}"))
        .start()
        .await
        .expect("starts")
}

#[tokio::test(start_paused = true)]
async fn crossing_connections_leave_one_working_connection() {
    for round in 0..20 {
        let net = LocalNetwork::new();
        let a = node(&net, &format!("a{round}")).await;
        let b = node(&net, &format!("b{round}")).await;
        let mut a_events = a.monitor_nodes().expect("joined");
        let (at_a, at_b) = (local(&format!("a{round}")), local(&format!("b{round}")));
        let (to_b, to_a) = tokio::join!(a.connect(&at_b), b.connect(&at_a));
        // Each call either made the connection or found it made.
        assert_eq!(to_b, Ok(b.name()), "round {round}");
        assert_eq!(to_a, Ok(a.name()), "round {round}");
        // A while later both still see each other, and nothing went down.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(a.nodes(), vec![b.name()], "round {round}");
        assert_eq!(b.nodes(), vec![a.name()], "round {round}");
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(1), a_events.next()).await
        {
            assert!(
                !matches!(event, NodeEvent::Down(..)),
                "round {round}: {event:?}"
            );
        }
    }
}
