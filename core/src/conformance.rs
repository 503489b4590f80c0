//! The transport conformance suite: the same scenarios for every transport
//! (enabled by the `testing` feature). A transport crate's tests give a
//! [`Harness`] and run [`run_all`], or each scenario on its own.
//!
//! The scenarios use real time with generous limits (no sleeps as
//! synchronisation), so they suit transports over real sockets too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::dist::{Cookie, Endpoint, HandshakeError, Refusal};
use crate::transport::{Connection, Transport};
use crate::{
    CallError, ClusterConfig, ClusterError, Context, ExitReason, Handle, Lost, Node, NodeEvent,
    NodeName, Process, ReplyTo, Signal, SpawnOpts,
};

/// How the suite makes nodes for one transport.
pub trait Harness: Send + Sync {
    /// The transport the node called `name` uses.
    fn transport(&self, name: &str) -> Arc<dyn Transport>;

    /// Where the node called `name` listens.
    fn endpoint(&self, name: &str) -> Endpoint;

    /// Whether a leaving node's notice always reaches its peers before
    /// its connections end (true unless the transport says otherwise).
    fn delivers_leave_notice(&self) -> bool {
        true
    }
}

const WAIT: Duration = Duration::from_secs(20);

/// Runs every scenario.
///
/// # Panics
///
/// When a scenario fails, with what went wrong.
pub async fn run_all(harness: &dyn Harness) {
    remote_cast_in_order(harness).await;
    concurrent_senders_keep_order(harness).await;
    remote_call(harness).await;
    remote_monitor_and_link(harness).await;
    handshake_refusals(harness).await;
    node_loss_fires_noconnection(harness).await;
    a_leaving_node_is_seen_leaving(harness).await;
    reconnect_after_loss(harness).await;
    oversized_messages(harness).await;
    malformed_and_oversized_frames(harness).await;
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A node with a name unique to this run, joined and listening.
async fn node(
    harness: &dyn Harness,
    role: &str,
    cookie: &str,
    max_frame: usize,
) -> (Node, Endpoint) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let short = format!("{role}{n}");
    let node = Node::builder()
        .name(format!("{short}@localhost"))
        .build()
        .expect("inside a tokio runtime");
    let config = ClusterConfig::new(Cookie::new(cookie)).max_frame(max_frame);
    let at = node
        .join(
            config,
            vec![harness.transport(&short)],
            &[harness.endpoint(&short)],
        )
        .await
        .expect("the node joins");
    (node, at[0].clone())
}

/// Two connected nodes; `b` (listening at `at`) runs an exported [`Echo`]
/// named `echo`, whose numbers arrive on `got`.
struct Pair {
    a: Node,
    b: Node,
    at: Endpoint,
    echo: Handle<EchoMsg>,
    got: mpsc::UnboundedReceiver<u64>,
}

async fn pair(harness: &dyn Harness) -> Pair {
    let (a, _) = node(harness, "a", "conformance", 1 << 20).await;
    let (b, at) = node(harness, "b", "conformance", 1 << 20).await;
    let (tx, got) = mpsc::unbounded_channel();
    let echo = b
        .start::<Echo>(tx, SpawnOpts::new().name("echo"))
        .await
        .expect("echo starts");
    b.export(&echo);
    a.connect(&at).await.expect("a connects to b");
    Pair {
        a,
        b,
        at,
        echo,
        got,
    }
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("in time")
        .expect("the channel is open")
}

/// Reports numbers, answers calls, and reports the signals it gets.
struct Echo {
    out: mpsc::UnboundedSender<u64>,
}

/// What [`Echo`] takes.
#[derive(Serialize, Deserialize, Debug, crate::Message)]
#[message(name = "conformance.Echo")]
enum EchoMsg {
    Num(u64),
    Double(u64, ReplyTo<u64>),
    Exit(ExitReason),
}

#[async_trait]
impl Process for Echo {
    type Args = mpsc::UnboundedSender<u64>;
    type Msg = EchoMsg;

    async fn init(_ctx: &mut Context<EchoMsg>, out: Self::Args) -> Result<Self, ExitReason> {
        Ok(Echo { out })
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<EchoMsg>,
        msg: EchoMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            EchoMsg::Num(n) => {
                let _ = self.out.send(n);
            }
            EchoMsg::Double(n, reply) => {
                reply.reply(n * 2);
            }
            EchoMsg::Exit(reason) => return Err(reason),
        }
        Ok(())
    }
}

/// Reports the signals it receives; traps exits; links or monitors on
/// request.
struct Watcher {
    out: mpsc::UnboundedSender<Signal>,
}

enum WatcherMsg {
    Link(crate::Pid, ReplyTo<()>),
    Monitor(crate::Pid, ReplyTo<crate::MonitorRef>),
}

#[async_trait]
impl Process for Watcher {
    type Args = mpsc::UnboundedSender<Signal>;
    type Msg = WatcherMsg;

    async fn init(ctx: &mut Context<WatcherMsg>, out: Self::Args) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        Ok(Watcher { out })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<WatcherMsg>,
        msg: WatcherMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            WatcherMsg::Link(pid, done) => {
                ctx.link(pid);
                done.reply(());
            }
            WatcherMsg::Monitor(pid, done) => {
                done.reply(ctx.monitor(pid));
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut Context<WatcherMsg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let _ = self.out.send(signal);
        Ok(())
    }
}

/// Casts by pid and by name arrive, in order.
pub async fn remote_cast_in_order(harness: &dyn Harness) {
    let Pair {
        a,
        b,
        echo,
        mut got,
        ..
    } = pair(harness).await;
    for n in 0..1_000 {
        a.send_remote(echo.pid(), &EchoMsg::Num(n)).expect("sent");
    }
    a.send_remote_named(b.name(), "echo", &EchoMsg::Num(1_000))
        .expect("sent");
    for n in 0..=1_000 {
        assert_eq!(next(&mut got).await, n, "remote casts arrive in order");
    }
}

/// Several senders on one node: each one's sequence arrives in order.
pub async fn concurrent_senders_keep_order(harness: &dyn Harness) {
    let Pair {
        a, echo, mut got, ..
    } = pair(harness).await;
    const SENDERS: u64 = 4;
    const EACH: u64 = 500;
    for sender in 0..SENDERS {
        let a = a.clone();
        let to = echo.pid();
        tokio::spawn(async move {
            for seq in 0..EACH {
                a.send_remote(to, &EchoMsg::Num(sender * 1_000_000 + seq))
                    .expect("sent");
                if seq % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    let mut last = vec![None; SENDERS as usize];
    for _ in 0..SENDERS * EACH {
        let n = next(&mut got).await;
        let (sender, seq) = ((n / 1_000_000) as usize, n % 1_000_000);
        assert_eq!(
            last[sender].map_or(0, |s: u64| s + 1),
            seq,
            "sender {sender} out of order"
        );
        last[sender] = Some(seq);
    }
}

/// A remote call gets its reply; a call to a dead process is `NoProc`.
pub async fn remote_call(harness: &dyn Harness) {
    let Pair { a, b, echo, .. } = pair(harness).await;
    let got = a
        .call_remote(echo.pid(), |r| EchoMsg::Double(21, r), WAIT)
        .await;
    assert_eq!(got, Ok(42));
    let ended = b.monitor(echo.pid());
    b.exit(echo.pid(), ExitReason::Shutdown);
    assert_eq!(ended.await, ExitReason::Shutdown);
    let got = a
        .call_remote(echo.pid(), |r| EchoMsg::Double(1, r), WAIT)
        .await;
    assert_eq!(got, Err(CallError::NoProc));
}

/// A remote monitor and a remote link see the exit reason.
pub async fn remote_monitor_and_link(harness: &dyn Harness) {
    let Pair { a, echo, .. } = pair(harness).await;
    let (tx, mut signals) = mpsc::unbounded_channel();
    let watcher = a.spawn::<Watcher>(tx).expect("spawns");
    let mref = watcher
        .call(|r| WatcherMsg::Monitor(echo.pid(), r), WAIT)
        .await
        .expect("monitors");
    watcher
        .call(|r| WatcherMsg::Link(echo.pid(), r), WAIT)
        .await
        .expect("links");
    // A reply through the same connection proves both arrived first.
    let got = a
        .call_remote(echo.pid(), |r| EchoMsg::Double(1, r), WAIT)
        .await;
    assert_eq!(got, Ok(2));
    a.send_remote(echo.pid(), &EchoMsg::Exit(ExitReason::error("gone")))
        .expect("sent");
    let mut seen = vec![next(&mut signals).await, next(&mut signals).await];
    seen.sort_by_key(|s| matches!(s, Signal::Down { .. }));
    assert_eq!(
        seen,
        vec![
            Signal::Exit {
                from: echo.pid(),
                reason: ExitReason::error("gone")
            },
            Signal::Down {
                monitor: mref,
                pid: echo.pid(),
                reason: ExitReason::error("gone")
            },
        ]
    );
}

/// A wrong cookie and a duplicate name are refused with clear errors.
pub async fn handshake_refusals(harness: &dyn Harness) {
    let (a, _) = node(harness, "a", "one", 1 << 20).await;
    let (b, at) = node(harness, "b", "two", 1 << 20).await;
    // b checks a's proof before proving anything itself, so b refuses.
    let got = a.connect(&at).await;
    assert_eq!(
        got,
        Err(ClusterError::Handshake(HandshakeError::RefusedByPeer(
            Refusal::BadCookie
        )))
    );
    assert!(a.nodes().is_empty() && b.nodes().is_empty());

    let (c, at_c) = node(harness, "c", "same", 1 << 20).await;
    let (d, _) = node(harness, "d", "same", 1 << 20).await;
    d.connect(&at_c).await.expect("d connects");
    // Another node with d's name.
    let twin = Node::builder()
        .name(d.name().to_string())
        .build()
        .expect("runtime");
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    twin.join(
        ClusterConfig::new(Cookie::new("same")),
        vec![harness.transport(&format!("twin{n}"))],
        &[],
    )
    .await
    .expect("joins");
    let got = twin.connect(&at_c).await;
    assert_eq!(
        got,
        Err(ClusterError::Handshake(HandshakeError::RefusedByPeer(
            Refusal::DuplicateName(d.name().to_string())
        )))
    );
    assert_eq!(c.nodes(), vec![d.name()]);
}

/// Losing a node fires `NoConnection` on monitors and links, and a `Down`
/// node event, on the other side.
pub async fn node_loss_fires_noconnection(harness: &dyn Harness) {
    let Pair { a, b, echo, .. } = pair(harness).await;
    let mut events = a.monitor_nodes().expect("joined");
    let (tx, mut signals) = mpsc::unbounded_channel();
    let watcher = a.spawn::<Watcher>(tx).expect("spawns");
    let mref = watcher
        .call(|r| WatcherMsg::Monitor(echo.pid(), r), WAIT)
        .await
        .expect("monitors");
    let got = a
        .call_remote(echo.pid(), |r| EchoMsg::Double(1, r), WAIT)
        .await;
    assert_eq!(got, Ok(2));
    // b drops the connection: a must notice.
    assert!(b.disconnect(a.name()));
    assert_eq!(
        next(&mut signals).await,
        Signal::Down {
            monitor: mref,
            pid: echo.pid(),
            reason: ExitReason::NoConnection
        }
    );
    loop {
        if let NodeEvent::Down(name, _) = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("in time")
            .expect("open")
        {
            assert_eq!(name, b.name());
            break;
        }
    }
    assert!(a.nodes().is_empty());
}

/// A node that shuts down says so before it closes its connections: the
/// other side sees it go as [`Lost::PeerLeft`], not a bare close.
pub async fn a_leaving_node_is_seen_leaving(harness: &dyn Harness) {
    let Pair { a, b, .. } = pair(harness).await;
    let mut events = a.monitor_nodes().expect("joined");
    b.shutdown(WAIT).await;
    loop {
        if let NodeEvent::Down(name, how) = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("in time")
            .expect("open")
        {
            assert_eq!(name, b.name());
            if harness.delivers_leave_notice() {
                assert_eq!(how, Lost::PeerLeft);
            }
            break;
        }
    }
}

/// After a loss, the nodes connect again and messages flow.
pub async fn reconnect_after_loss(harness: &dyn Harness) {
    let Pair {
        a,
        b,
        at,
        echo,
        mut got,
    } = pair(harness).await;
    let mut events = b.monitor_nodes().expect("joined");
    assert!(a.disconnect(b.name()));
    loop {
        let event = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("in time")
            .expect("open");
        if matches!(event, NodeEvent::Down(..)) {
            break;
        }
    }
    a.connect(&at).await.expect("connects again");
    a.send_remote(echo.pid(), &EchoMsg::Num(7)).expect("sent");
    assert_eq!(next(&mut got).await, 7);
}

/// An oversized message is an error to its sender; the connection stays.
pub async fn oversized_messages(harness: &dyn Harness) {
    let (a, _) = node(harness, "a", "big", 1024).await;
    let (b, at) = node(harness, "b", "big", 1024).await;
    let (tx, mut got) = mpsc::unbounded_channel();
    let echo = b.spawn::<Echo>(tx).expect("spawns");
    b.export(&echo);
    a.connect(&at).await.expect("connects");
    let small = EchoMsg::Num(0);
    let big = vec![0_u8; 4096];
    assert!(matches!(
        a.send_remote(echo.pid(), &big),
        Err(crate::RemoteSendError::TooLarge { max: 1024, .. })
    ));
    a.send_remote(echo.pid(), &small).expect("a small one goes");
    assert_eq!(next(&mut got).await, 0);
}

/// A peer that passes the handshake and then sends a frame that cannot be
/// decoded, or one over the node's limit: the node closes that one
/// connection and keeps serving everyone else.
pub async fn malformed_and_oversized_frames(harness: &dyn Harness) {
    let Pair {
        a,
        b,
        at,
        echo,
        mut got,
    } = pair(harness).await;
    let garbage = vec![0xc1_u8; 16];
    let oversized = vec![0_u8; (1 << 20) + 1];
    for bad in [garbage, oversized] {
        let mut conn = authenticated(harness, &at, "conformance").await;
        if conn.sink.send(vec![bytes::Bytes::from(bad)]).await.is_err() {
            // The node closed the connection at the oversized frame's
            // header, while the rest of it was still being written.
            continue;
        }
        // The node ends the connection; heartbeat ticks may come first.
        loop {
            let frame = tokio::time::timeout(WAIT, conn.stream.recv())
                .await
                .expect("the node closes the connection in time");
            if !matches!(frame, Ok(Some(_))) {
                break;
            }
        }
    }
    assert_eq!(b.nodes(), vec![a.name()], "only the bad peer was dropped");
    a.send_remote(echo.pid(), &EchoMsg::Num(5)).expect("sent");
    assert_eq!(next(&mut got).await, 5);
}

/// A raw connection to `at` that has passed the cookie handshake.
async fn authenticated(harness: &dyn Harness, at: &Endpoint, cookie: &str) -> Connection {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let short = format!("raw{n}");
    let name = NodeName::new(&format!("{short}@localhost")).expect("valid");
    crate::forge::authenticated(&*harness.transport(&short), at, name, Cookie::new(cookie)).await
}
