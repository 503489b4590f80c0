//! A send or call that finds no connection says why, without a log: the
//! handshake was refused (a wrong cookie), nothing listens at the
//! endpoint (the transport's error), or the connection was lost (the
//! peer went silent, left, or the connection was dropped or closed). A
//! node seen going down says how it went.

mod support;

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::Cookie;
use beamish_core::transport::{LocalNetwork, Transport, TransportError};
use beamish_core::{
    CallError, ClusterConfig, Creation, Disconnect, Lost, Node, NodeEvent, NodeEvents, NodeName,
    Pid, Refusal, RemoteSendError, ReplyTo,
};
use support::{events, local, member, probe, Cmd, ProbeArgs};

/// Longer than the heartbeat allows for silence, so that only the cause
/// under test can end a call.
const LONG: Duration = Duration::from_secs(60);

fn name(text: &str) -> NodeName {
    NodeName::new(text).expect("valid")
}

/// A process on `b@localhost`, which nobody needs to have started: calls
/// to it fail before they could reach it.
fn on_b() -> Pid {
    Pid::new(name("b@localhost"), 1, Creation(1))
}

/// A process on `a`, likewise.
fn on_a(a: &Node) -> Pid {
    Pid::new(a.name(), 1, Creation(1))
}

/// `a@localhost`, knowing `b@localhost` at `local://b`, with cookie `s`.
async fn knowing_b(net: &LocalNetwork) -> Node {
    let a = Node::builder()
        .name("a@localhost")
        .build()
        .expect("runtime");
    let config = ClusterConfig::new(Cookie::new("s"))
        .peer(name("b@localhost"), local("b"))
        .redial_backoff(Duration::from_secs(1), Duration::from_secs(8));
    let transport: Arc<dyn Transport> = Arc::new(net.transport("a"));
    a.join(config, vec![transport], &[]).await.expect("joins");
    a
}

/// `b@localhost` with `cookie`, listening at `local://b`.
async fn b_with_cookie(net: &LocalNetwork, cookie: &str) -> Node {
    let b = Node::builder()
        .name("b@localhost")
        .build()
        .expect("runtime");
    let transport: Arc<dyn Transport> = Arc::new(net.transport("b"));
    b.join(
        ClusterConfig::new(Cookie::new(cookie)),
        vec![transport],
        &[local("b")],
    )
    .await
    .expect("joins");
    b
}

async fn echo(from: &Node, to: Pid) -> Result<u64, CallError> {
    from.call_remote(to, |r: ReplyTo<u64>| Cmd::Echo(7, r), LONG)
        .await
}

/// The next event, which must be `Down` for `node`: how it went.
async fn down_of(events: &mut NodeEvents, node: NodeName) -> Lost {
    let event = tokio::time::timeout(LONG, events.next()).await;
    match event {
        Ok(Some(NodeEvent::Down(name, why))) if name == node => why,
        other => panic!("expected Down({node}), got {other:?}"),
    }
}

/// The next event, which must be `Up`.
async fn up(events: &mut NodeEvents) {
    let event = tokio::time::timeout(LONG, events.next()).await;
    assert!(matches!(event, Ok(Some(NodeEvent::Up(_)))), "{event:?}");
}

#[tokio::test(start_paused = true)]
async fn a_call_to_a_node_with_another_cookie_is_refused_for_the_cookie() {
    let net = LocalNetwork::new();
    let a = knowing_b(&net).await;
    let _b = b_with_cookie(&net, "not s").await;
    let refused = Disconnect::Refused(Refusal::BadCookie);

    let got = echo(&a, on_b()).await;
    assert_eq!(got, Err(CallError::NoConnection(refused.clone())));
    assert!(got
        .unwrap_err()
        .no_connection()
        .is_some_and(Disconnect::is_refused));
    // Within the backoff, a send fails at once with the last attempt's
    // cause.
    let sent = a.send_remote(on_b(), &1_u64);
    assert_eq!(
        sent,
        Err(RemoteSendError::NoConnection(name("b@localhost"), refused))
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_to_an_endpoint_nobody_listens_at_is_unreachable_with_the_transports_error() {
    let net = LocalNetwork::new();
    let a = knowing_b(&net).await;
    let unreachable = TransportError::Unreachable(local("b").to_string()).to_string();

    let got = echo(&a, on_b()).await;
    assert_eq!(
        got,
        Err(CallError::NoConnection(Disconnect::Unreachable(
            unreachable.clone()
        )))
    );
    // An address says the same through its cast.
    let addr = a.addr::<u64>(on_b()).expect("remote");
    let cast = addr.cast(1).await.expect_err("no connection");
    assert_eq!(
        cast.no_connection(),
        Some(&Disconnect::Unreachable(unreachable))
    );
    assert!(cast.no_connection().is_some_and(Disconnect::is_unreachable));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_goes_silent_is_down_for_its_heartbeat_and_calls_in_flight_say_so() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    let (tx, _rx) = events();
    let held = probe(&b, ProbeArgs::new(&tx)).await;
    b.export(&held);
    a.connect(&local("b")).await.expect("connects");
    let mut nodes = a.monitor_nodes().expect("joined");

    let call = tokio::spawn({
        let a = a.clone();
        let to = held.pid();
        async move {
            a.call_remote(to, |r: ReplyTo<u64>| Cmd::Hold(r), LONG)
                .await
        }
    });
    // The held call has reached b once a call sent after it is answered.
    tokio::task::yield_now().await;
    assert_eq!(echo(&a, held.pid()).await, Ok(7));

    net.stall("a", "b");
    assert_eq!(down_of(&mut nodes, b.name()).await, Lost::HeartbeatTimeout);
    assert_eq!(
        call.await.expect("joins"),
        Err(CallError::NoConnection(Disconnect::Lost(
            Lost::HeartbeatTimeout
        )))
    );
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_shuts_down_is_down_as_having_left() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let mut nodes = a.monitor_nodes().expect("joined");

    b.shutdown(Duration::from_secs(1)).await;
    assert_eq!(down_of(&mut nodes, b.name()).await, Lost::PeerLeft);
    // A node that has left is in no cluster.
    assert_eq!(
        b.send_remote(on_a(&a), &1_u64),
        Err(RemoteSendError::NoConnection(
            a.name(),
            Disconnect::NotJoined
        ))
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_is_reset_and_a_closed_one_closed() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    let mut a_nodes = a.monitor_nodes().expect("joined");
    let mut b_nodes = b.monitor_nodes().expect("joined");

    a.connect(&local("b")).await.expect("connects");
    up(&mut a_nodes).await;
    up(&mut b_nodes).await;
    net.drop_connections("a", "b");
    let lost = down_of(&mut a_nodes, b.name()).await;
    assert!(matches!(lost, Lost::Reset(_)), "{lost:?}");
    let lost = down_of(&mut b_nodes, a.name()).await;
    assert!(matches!(lost, Lost::Reset(_)), "{lost:?}");

    a.connect(&local("b")).await.expect("connects again");
    up(&mut a_nodes).await;
    up(&mut b_nodes).await;
    assert!(a.disconnect(b.name()));
    assert_eq!(down_of(&mut a_nodes, b.name()).await, Lost::Disconnected);
    assert_eq!(down_of(&mut b_nodes, a.name()).await, Lost::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_node_in_no_cluster_or_not_knowing_the_peer_says_so() {
    let alone = Node::builder()
        .name("alone@localhost")
        .build()
        .expect("runtime");
    assert_eq!(
        echo(&alone, on_b()).await,
        Err(CallError::NoConnection(Disconnect::NotJoined))
    );

    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    assert_eq!(
        echo(&a, on_b()).await,
        Err(CallError::NoConnection(Disconnect::Unknown))
    );
}
