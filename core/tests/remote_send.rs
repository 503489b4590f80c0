//! Sending to processes on other nodes: by pid and by name, in order;
//! unknown targets, wrong types and unexported processes are rejected on
//! the receiving node without disturbing the connection.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{LocalNetwork, Transport};
use beamish_core::{
    async_trait, ClusterConfig, Context, Disconnect, ExitReason, Handle, Node, NodeName, Pid,
    Process, RemoteSendError, SpawnOpts,
};
use tokio::sync::mpsc;

fn local(name: &str) -> Endpoint {
    Endpoint::Local { name: name.into() }
}

async fn member(net: &LocalNetwork, name: &str, max_frame: usize) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime");
    let transport: Arc<dyn Transport> = Arc::new(net.transport(name));
    let config = ClusterConfig::new(Cookie::new("s")).max_frame(max_frame);
    node.join(config, vec![transport], &[local(name)])
        .await
        .expect("joins");
    node
}

/// Forwards every number it gets to a channel.
struct Collector {
    out: mpsc::UnboundedSender<u64>,
}

#[async_trait]
impl Process for Collector {
    type Args = mpsc::UnboundedSender<u64>;
    type Msg = u64;

    async fn init(_ctx: &mut Context<u64>, out: Self::Args) -> Result<Self, ExitReason> {
        Ok(Collector { out })
    }

    async fn handle(&mut self, _ctx: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
        let _ = self.out.send(n);
        Ok(())
    }
}

struct Pair {
    a: Node,
    b: Node,
    collector: Handle<u64>,
    got: mpsc::UnboundedReceiver<u64>,
}

async fn pair(max_frame: usize) -> Pair {
    let net = LocalNetwork::new();
    let a = member(&net, "a", max_frame).await;
    let b = member(&net, "b", max_frame).await;
    a.connect(&local("b")).await.expect("connects");
    let (tx, got) = mpsc::unbounded_channel();
    let collector = b
        .start::<Collector>(tx, SpawnOpts::new().name("collector"))
        .await
        .expect("starts");
    b.export(&collector);
    Pair {
        a,
        b,
        collector,
        got,
    }
}

async fn next(got: &mut mpsc::UnboundedReceiver<u64>) -> u64 {
    tokio::time::timeout(Duration::from_secs(30), got.recv())
        .await
        .expect("arrives")
        .expect("open")
}

fn b_node() -> NodeName {
    NodeName::new("b@localhost").expect("valid")
}

#[tokio::test(start_paused = true)]
async fn messages_arrive_by_pid_and_by_name_in_order() {
    let mut p = pair(1 << 20).await;
    for n in 0..500_u64 {
        p.a.send_remote(p.collector.pid(), &n).expect("sent");
        p.a.send_remote_named(b_node(), "collector", &(n + 1000))
            .expect("sent");
    }
    for n in 0..500_u64 {
        assert_eq!(next(&mut p.got).await, n);
        assert_eq!(next(&mut p.got).await, n + 1000);
    }
}

#[tokio::test(start_paused = true)]
async fn rejected_messages_leave_the_connection_up() {
    let mut p = pair(1 << 20).await;
    let before = p.b.stats().dead_letters;
    // A pid that never existed on b.
    let ghost = Pid::new(b_node(), 999_999, p.collector.pid().creation());
    p.a.send_remote(ghost, &1_u64).expect("sent");
    // A name nobody has.
    p.a.send_remote_named(b_node(), "nobody", &2_u64)
        .expect("sent");
    // The wrong type: a string for a process that takes numbers.
    p.a.send_remote(p.collector.pid(), &"three".to_owned())
        .expect("sent");
    // An unexported process.
    let (tx, _rx) = mpsc::unbounded_channel();
    let hidden = p.b.spawn::<Collector>(tx).expect("spawns");
    p.a.send_remote(hidden.pid(), &4_u64).expect("sent");
    // And a good one, which still arrives.
    p.a.send_remote(p.collector.pid(), &5_u64).expect("sent");
    assert_eq!(next(&mut p.got).await, 5);
    assert_eq!(p.b.stats().dead_letters - before, 4);
    assert_eq!(p.a.nodes(), vec![b_node()]);
}

#[tokio::test(start_paused = true)]
async fn oversized_messages_are_an_error_to_the_sender() {
    let mut p = pair(1024).await;
    let big = vec![7_u8; 4096];
    assert!(matches!(
        p.a.send_remote(p.collector.pid(), &big),
        Err(RemoteSendError::TooLarge { max: 1024, .. })
    ));
    p.a.send_remote(p.collector.pid(), &6_u64).expect("sent");
    assert_eq!(next(&mut p.got).await, 6);
}

#[tokio::test(start_paused = true)]
async fn sending_to_an_unconnected_node_is_an_error() {
    let p = pair(1 << 20).await;
    let elsewhere = NodeName::new("c@localhost").expect("valid");
    assert_eq!(
        p.a.send_remote_named(elsewhere, "x", &1_u64),
        Err(RemoteSendError::NoConnection(
            elsewhere,
            Disconnect::Unknown
        ))
    );
}

#[tokio::test(start_paused = true)]
async fn confirmed_sends_return_once_the_transport_has_them() {
    let mut p = pair(1 << 20).await;
    p.a.send_remote_confirmed(p.collector.pid(), &1_u64)
        .await
        .expect("taken");
    p.a.send_remote_named_confirmed(b_node(), "collector", &2_u64)
        .await
        .expect("taken");
    assert_eq!(next(&mut p.got).await, 1);
    assert_eq!(next(&mut p.got).await, 2);
    let elsewhere = NodeName::new("c@localhost").expect("valid");
    assert_eq!(
        p.a.send_remote_named_confirmed(elsewhere, "x", &3_u64)
            .await,
        Err(RemoteSendError::NoConnection(
            elsewhere,
            Disconnect::Unknown
        ))
    );
    let big = vec![7_u8; 2 << 20];
    assert!(matches!(
        p.a.send_remote_confirmed(p.collector.pid(), &big).await,
        Err(RemoteSendError::TooLarge { .. })
    ));
}
