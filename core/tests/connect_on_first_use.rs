//! Known peers are connected on first use, with what was sent meanwhile
//! delivered in order; a peer that cannot be reached fails what waited
//! with `NoConnection`, and is tried again only after a backoff.

mod support;

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{LocalNetwork, Transport};
use beamish_core::{
    async_trait, ClusterConfig, Context, Disconnect, ExitReason, Node, NodeName, Pid, Process,
    RemoteSendError, Signal, SpawnOpts,
};
use support::{events, next, Cmd, Event, ProbeArgs, CALL};
use tokio::sync::mpsc;

fn local(name: &str) -> Endpoint {
    Endpoint::Local { name: name.into() }
}

fn name(text: &str) -> NodeName {
    NodeName::new(text).expect("valid")
}

/// `a` knows where `b` listens; `b` listens only if `listening`.
async fn nodes(net: &LocalNetwork, listening: bool) -> (Node, Node) {
    let config = ClusterConfig::new(Cookie::new("s"))
        .peer(name("b@localhost"), local("b"))
        .redial_backoff(Duration::from_secs(1), Duration::from_secs(8));
    let a = Node::builder()
        .name("a@localhost")
        .build()
        .expect("runtime");
    let ta: Arc<dyn Transport> = Arc::new(net.transport("a"));
    a.join(config, vec![ta], &[]).await.expect("joins");
    let b = Node::builder()
        .name("b@localhost")
        .build()
        .expect("runtime");
    let tb: Arc<dyn Transport> = Arc::new(net.transport("b"));
    let listen = if listening {
        vec![local("b")]
    } else {
        Vec::new()
    };
    b.join(ClusterConfig::new(Cookie::new("s")), vec![tb], &listen)
        .await
        .expect("joins");
    (a, b)
}

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

#[tokio::test(start_paused = true)]
async fn the_first_send_connects_and_nothing_is_lost() {
    let net = LocalNetwork::new();
    let (a, b) = nodes(&net, true).await;
    let (tx, mut got) = mpsc::unbounded_channel();
    let collector = b
        .start::<Collector>(tx, SpawnOpts::new().name("collector"))
        .await
        .expect("starts");
    b.export(&collector);
    assert!(a.nodes().is_empty());
    for n in 0..100_u64 {
        a.send_remote_named(b.name(), "collector", &n)
            .expect("queued");
    }
    for n in 0..100_u64 {
        let arrived = tokio::time::timeout(Duration::from_secs(30), got.recv()).await;
        assert_eq!(arrived.expect("in time"), Some(n));
    }
    assert_eq!(a.nodes(), vec![b.name()]);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_peer_fails_what_waited_then_backs_off() {
    let net = LocalNetwork::new();
    let (a, _b) = nodes(&net, false).await;
    let (tx, mut rx) = events();
    let watcher = a
        .start::<support::Probe>(ProbeArgs::new(&tx), SpawnOpts::new())
        .await
        .expect("starts");
    let _ = next(&mut rx).await;
    // A monitor on a process of the unreachable node: it waits for the
    // connection, which fails, so it fires with NoConnection.
    let remote = Pid::new(name("b@localhost"), 1, beamish_core::Creation(1));
    let mref = watcher
        .call(|r| Cmd::Monitor(remote, r), CALL)
        .await
        .expect("monitors");
    assert_eq!(
        next(&mut rx).await,
        Event::Signal(
            watcher.pid(),
            Signal::Down {
                monitor: mref,
                pid: remote,
                reason: ExitReason::NoConnection
            }
        )
    );
    // Within the backoff, sends fail at once, with why the last attempt
    // failed.
    let failed = a.send_remote(remote, &1_u64);
    assert!(
        matches!(
            &failed,
            Err(RemoteSendError::NoConnection(node, Disconnect::Unreachable(_)))
                if *node == name("b@localhost")
        ),
        "{failed:?}"
    );
    // Once b listens and the backoff has passed, the next send connects.
    let tb: Arc<dyn Transport> = Arc::new(net.transport("b"));
    let _listener = tb.listen(&local("b")).await.expect("listens");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(a.send_remote(remote, &1_u64).is_ok());
}
