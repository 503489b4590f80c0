//! Two nodes that connect to each other at the same moment end up with
//! one connection, the same on both sides, as Erlang's do: neither loses
//! the other.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Context, Cookie, ExitReason, Message, Node, NodeEvent, Process, ReplyTo, SpawnOpts,
};
use serde::{Deserialize, Serialize};
use support::local;

/// Answers with what it is given, under the name `echo`.
struct Echo;

#[derive(Serialize, Deserialize, Message)]
#[message(name = "simultaneous.Echo")]
struct Ask(u64, ReplyTo<u64>);

#[async_trait]
impl Process for Echo {
    type Args = ();
    type Msg = Ask;

    async fn init(_ctx: &mut Context<Ask>, _: ()) -> Result<Self, ExitReason> {
        Ok(Echo)
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<Ask>,
        Ask(n, reply): Ask,
    ) -> Result<(), ExitReason> {
        reply.reply(n);
        Ok(())
    }
}

async fn node(net: &LocalNetwork, name: &str) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .cookie(Cookie::new("simultaneous"))
        .transport(net.transport(name))
        .listen(format!("local://{name}"))
        .start()
        .await
        .expect("starts");
    node.start::<Echo>((), SpawnOpts::new().name("echo").export::<Ask>())
        .await
        .expect("the echo starts");
    node
}

/// A call from `from` to the echo on `to`, over their connection.
async fn ask(from: &Node, to: &Node, n: u64) -> u64 {
    from.call_remote_named(to.name(), "echo", |r| Ask(n, r), Duration::from_secs(5))
        .await
        .expect("answered over the connection both sides kept")
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
        // Calls both ways are answered: both sides kept the same
        // connection, and nothing went down.
        assert_eq!(ask(&a, &b, round).await, round);
        assert_eq!(ask(&b, &a, round + 100).await, round + 100);
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
