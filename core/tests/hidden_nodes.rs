//! A hidden node talks to the nodes it connects to without becoming one
//! of their members: neither side lists the other in `nodes()` or
//! reports it to node watchers; both list it in `hidden_nodes()`; calls
//! and node monitors work as on any connection.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Context, Cookie, ExitReason, Node, NodeEvent, NodeName, Process, Signal, SpawnOpts,
};
use support::{events, probe, Cmd, ProbeArgs};
use tokio::sync::mpsc;

async fn hidden(net: &LocalNetwork, name: &str, to: &str) -> Node {
    Node::builder()
        .name(format!("{name}@localhost"))
        .cookie(Cookie::new("s"))
        .transport(net.transport(name))
        .hidden()
        .connect(format!("local://{to}").as_str())
        .start()
        .await
        .expect("the hidden node connects")
}

#[tokio::test(start_paused = true)]
async fn a_hidden_node_is_listed_apart_and_not_reported_to_node_watchers() {
    let net = LocalNetwork::new();
    let a = support::member(&net, "a").await;
    let mut watched = a.monitor_nodes().expect("joined");

    let tool = hidden(&net, "tool", "a").await;
    assert_eq!(a.nodes(), vec![], "a hidden node is not a member");
    assert_eq!(a.hidden_nodes(), vec![tool.name()]);
    assert_eq!(
        tool.nodes(),
        vec![],
        "nor is a node a member of a hidden one"
    );
    assert_eq!(tool.hidden_nodes(), vec![a.name()]);

    // The next event a's watcher gets is of a node that is not hidden.
    let b = support::member(&net, "b").await;
    b.connect(&support::local("a")).await.expect("connects");
    let event = tokio::time::timeout(Duration::from_secs(30), watched.next())
        .await
        .expect("in time");
    assert!(
        matches!(event, Some(NodeEvent::Up(name)) if name == b.name()),
        "{event:?}"
    );
    assert_eq!(a.nodes(), vec![b.name()]);
}

/// Watches every node, and one by name, and reports what it hears.
struct Watcher {
    heard: mpsc::UnboundedSender<Signal>,
}

#[async_trait]
impl Process for Watcher {
    type Args = (NodeName, mpsc::UnboundedSender<Signal>);
    type Msg = ();

    async fn init(ctx: &mut Context<()>, (node, heard): Self::Args) -> Result<Self, ExitReason> {
        ctx.monitor_nodes(true);
        ctx.monitor_node(node);
        Ok(Self { heard })
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, (): ()) -> Result<(), ExitReason> {
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut Context<()>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let _ = self.heard.send(signal);
        Ok(())
    }
}

async fn heard(rx: &mut mpsc::UnboundedReceiver<Signal>) -> Signal {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("in time")
        .expect("the watcher runs")
}

#[tokio::test(start_paused = true)]
async fn a_hidden_node_calls_and_is_watched_like_any_other() {
    let net = LocalNetwork::new();
    let a = support::member(&net, "a").await;
    let tool = hidden(&net, "tool", "a").await;

    // A probe on the hidden node answers a call from a.
    let (tool_tx, _tool_rx) = events();
    let answering = probe(&tool, ProbeArgs::new(&tool_tx)).await;
    tool.export(&answering);
    let remote = a
        .addr::<Cmd>(answering.pid())
        .expect("an address on the hidden node");
    let echoed = remote
        .call(|reply| Cmd::Echo(7, reply), Duration::from_secs(5))
        .await
        .expect("the hidden node answers");
    assert_eq!(echoed, 7);

    // Watching the hidden node by name reports it going; watching all
    // nodes does not.
    let (tx, mut rx) = mpsc::unbounded_channel();
    a.start::<Watcher>((tool.name(), tx), SpawnOpts::new())
        .await
        .expect("the watcher starts");
    tool.shutdown(Duration::from_secs(5)).await;
    assert_eq!(heard(&mut rx).await, Signal::NodeDown(tool.name()));
    let b = support::member(&net, "b").await;
    b.connect(&support::local("a")).await.expect("connects");
    assert_eq!(heard(&mut rx).await, Signal::NodeUp(b.name()));
}
