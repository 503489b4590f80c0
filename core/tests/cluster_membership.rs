//! Cluster membership over the in-process transport: nodes connect with
//! the cookie handshake, see each other in `nodes()`, hear `Up` and
//! `Down`, are refused with a clear error on both sides for a wrong cookie
//! or a duplicate name, and a silent peer is found by heartbeats.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::{Cookie, Endpoint, HandshakeError, HeartbeatConfig, Refusal};
use beamish_core::transport::{LocalNetwork, Transport};
use beamish_core::{ClusterConfig, ClusterError, Lost, Node, NodeEvent, NodeName};

fn config(cookie: &str) -> ClusterConfig {
    ClusterConfig::new(Cookie::new(cookie)).heartbeat(HeartbeatConfig {
        tick: Duration::from_millis(100),
        missed: 3,
    })
}

fn local(name: &str) -> Endpoint {
    Endpoint::Local { name: name.into() }
}

/// A node named `name@localhost` listening at `local://name`.
async fn member(net: &LocalNetwork, name: &str, cookie: &str) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime");
    let transport: Arc<dyn Transport> = Arc::new(net.transport(name));
    node.join(config(cookie), vec![transport], &[local(name)])
        .await
        .expect("joins");
    node
}

fn name(text: &str) -> NodeName {
    NodeName::new(text).expect("valid")
}

#[tokio::test(start_paused = true)]
async fn nodes_connect_and_see_each_other() {
    let net = LocalNetwork::new();
    let a = member(&net, "a", "secret").await;
    let b = member(&net, "b", "secret").await;
    let mut a_events = a.monitor_nodes().expect("joined");
    let mut b_events = b.monitor_nodes().expect("joined");
    assert_eq!(a.connect(&local("b")).await, Ok(name("b@localhost")));
    assert_eq!(
        a_events.next().await,
        Some(NodeEvent::Up(name("b@localhost")))
    );
    assert_eq!(
        b_events.next().await,
        Some(NodeEvent::Up(name("a@localhost")))
    );
    assert_eq!(a.nodes(), vec![name("b@localhost")]);
    assert_eq!(b.nodes(), vec![name("a@localhost")]);
    // Connected and quiet: heartbeats keep the connection up.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(a.nodes(), vec![name("b@localhost")]);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_cookie_is_refused_on_both_sides() {
    let net = LocalNetwork::new();
    let a = member(&net, "a", "one cookie").await;
    let b = member(&net, "b", "another").await;
    // b checks a's proof before proving anything itself, so b refuses.
    let got = a.connect(&local("b")).await;
    assert_eq!(
        got,
        Err(ClusterError::Handshake(HandshakeError::RefusedByPeer(
            Refusal::BadCookie
        )))
    );
    assert!(a.nodes().is_empty());
    assert!(b.nodes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_name_is_refused() {
    let net = LocalNetwork::new();
    let a = member(&net, "a", "s").await;
    let b = member(&net, "b", "s").await;
    a.connect(&local("b")).await.expect("connects");
    // Another node calling itself a@localhost, reached through another
    // endpoint of the network.
    let impostor = Node::builder()
        .name("a@localhost")
        .build()
        .expect("runtime");
    let transport: Arc<dyn Transport> = Arc::new(net.transport("a2"));
    impostor
        .join(config("s"), vec![transport], &[])
        .await
        .expect("joins");
    let got = impostor.connect(&local("b")).await;
    assert_eq!(
        got,
        Err(ClusterError::Handshake(HandshakeError::RefusedByPeer(
            Refusal::DuplicateName("a@localhost".into())
        )))
    );
    assert_eq!(b.nodes(), vec![name("a@localhost")]);
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_is_reported_and_can_be_made_again() {
    let net = LocalNetwork::new();
    let a = member(&net, "a", "s").await;
    let b = member(&net, "b", "s").await;
    let mut a_events = a.monitor_nodes().expect("joined");
    let mut b_events = b.monitor_nodes().expect("joined");
    a.connect(&local("b")).await.expect("connects");
    assert!(matches!(a_events.next().await, Some(NodeEvent::Up(_))));
    assert!(matches!(b_events.next().await, Some(NodeEvent::Up(_))));
    net.drop_connections("a", "b");
    assert!(
        matches!(a_events.next().await, Some(NodeEvent::Down(n, _)) if n == name("b@localhost"))
    );
    assert!(
        matches!(b_events.next().await, Some(NodeEvent::Down(n, _)) if n == name("a@localhost"))
    );
    assert!(a.nodes().is_empty());
    a.connect(&local("b")).await.expect("reconnects");
    assert_eq!(
        a_events.next().await,
        Some(NodeEvent::Up(name("b@localhost")))
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_declared_down_by_heartbeats() {
    let net = LocalNetwork::new();
    let a = member(&net, "a", "s").await;
    let b = member(&net, "b", "s").await;
    let mut a_events = a.monitor_nodes().expect("joined");
    a.connect(&local("b")).await.expect("connects");
    assert!(matches!(a_events.next().await, Some(NodeEvent::Up(_))));
    // Frames stop flowing but the connection is not closed: only the
    // heartbeat can tell.
    net.stall("a", "b");
    let stalled = tokio::time::Instant::now();
    match a_events.next().await {
        Some(NodeEvent::Down(n, why)) => {
            assert_eq!(n, name("b@localhost"));
            assert_eq!(why, Lost::HeartbeatTimeout);
        }
        other => panic!("expected Down, got {other:?}"),
    }
    // 3 missed ticks of 100 ms, give or take one tick.
    let waited = stalled.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited <= Duration::from_millis(400),
        "{waited:?}"
    );
    assert!(a.nodes().is_empty());
    drop(b);
}

#[tokio::test(start_paused = true)]
async fn disconnect_ends_the_connection_on_both_sides() {
    let net = LocalNetwork::new();
    let a = member(&net, "a", "s").await;
    let b = member(&net, "b", "s").await;
    let mut b_events = b.monitor_nodes().expect("joined");
    a.connect(&local("b")).await.expect("connects");
    assert!(matches!(b_events.next().await, Some(NodeEvent::Up(_))));
    assert!(a.disconnect(name("b@localhost")));
    assert!(matches!(b_events.next().await, Some(NodeEvent::Down(..))));
    assert!(b.nodes().is_empty());
    assert!(!a.disconnect(name("b@localhost")));
}

#[tokio::test(start_paused = true)]
async fn joining_needs_a_transport_for_each_endpoint() {
    let node = Node::builder()
        .name("x@localhost")
        .build()
        .expect("runtime");
    let tcp = Endpoint::Tcp {
        host: "127.0.0.1".into(),
        port: 1,
    };
    let got = node.join(config("s"), Vec::new(), &[tcp]).await;
    assert!(matches!(got, Err(ClusterError::NoTransport(_))));
    assert!(matches!(
        node.connect(&local("b")).await,
        Err(ClusterError::NotJoined(_))
    ));
}

/// Reports the node signals it receives.
struct NodeWatcher {
    out: tokio::sync::mpsc::UnboundedSender<beamish_core::Signal>,
}

enum WatchMsg {
    All(bool, beamish_core::ReplyTo<()>),
    One(NodeName, beamish_core::ReplyTo<()>),
}

#[beamish_core::async_trait]
impl beamish_core::Process for NodeWatcher {
    type Args = tokio::sync::mpsc::UnboundedSender<beamish_core::Signal>;
    type Msg = WatchMsg;

    async fn init(
        _ctx: &mut beamish_core::Context<WatchMsg>,
        out: Self::Args,
    ) -> Result<Self, beamish_core::ExitReason> {
        Ok(NodeWatcher { out })
    }

    async fn handle(
        &mut self,
        ctx: &mut beamish_core::Context<WatchMsg>,
        msg: WatchMsg,
    ) -> Result<(), beamish_core::ExitReason> {
        match msg {
            WatchMsg::All(on, done) => {
                ctx.monitor_nodes(on);
                done.reply(());
            }
            WatchMsg::One(node, done) => {
                ctx.monitor_node(node);
                done.reply(());
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut beamish_core::Context<WatchMsg>,
        signal: beamish_core::Signal,
    ) -> Result<(), beamish_core::ExitReason> {
        let _ = self.out.send(signal);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn processes_hear_of_nodes_coming_and_going() {
    use beamish_core::Signal;
    let net = LocalNetwork::new();
    let a = member(&net, "a", "s").await;
    let b = member(&net, "b", "s").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = a.spawn::<NodeWatcher>(tx).expect("spawns");
    let wait = Duration::from_secs(5);
    watcher
        .call(|r| WatchMsg::All(true, r), wait)
        .await
        .expect("answers");
    // Not connected yet: a node monitor fires at once.
    watcher
        .call(|r| WatchMsg::One(name("b@localhost"), r), wait)
        .await
        .expect("answers");
    assert_eq!(rx.recv().await, Some(Signal::NodeDown(name("b@localhost"))));
    a.connect(&local("b")).await.expect("connects");
    assert_eq!(rx.recv().await, Some(Signal::NodeUp(name("b@localhost"))));
    watcher
        .call(|r| WatchMsg::One(name("b@localhost"), r), wait)
        .await
        .expect("answers");
    net.drop_connections("a", "b");
    // Once for the subscription, once for the node monitor.
    assert_eq!(rx.recv().await, Some(Signal::NodeDown(name("b@localhost"))));
    assert_eq!(rx.recv().await, Some(Signal::NodeDown(name("b@localhost"))));
    watcher
        .call(|r| WatchMsg::All(false, r), wait)
        .await
        .expect("answers");
    a.connect(&local("b")).await.expect("reconnects");
    assert_eq!(a.nodes(), vec![name("b@localhost")]);
    // A call after the reconnection: nothing more was delivered.
    watcher
        .call(|r| WatchMsg::All(false, r), wait)
        .await
        .expect("answers");
    assert!(rx.try_recv().is_err());
    drop(b);
}
