//! A third node that knows the cookie connects to a node and forges
//! frames on behalf of others: exit signals for processes that are not
//! exported, links and `Down`s in another node's name, exits through
//! links never made, replies to calls that went elsewhere. The node drops
//! each one and counts it; nothing reaches a process.

use std::sync::Arc;
use std::time::Duration;

use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::transport::{Connection, Transport};
use beamish::{
    async_trait, ClusterConfig, Context, ExitReason, Handle, MonitorRef, Node, NodeName, Pid,
    Process, ReplyTo, Signal, SpawnOpts,
};
use beamish_core::forge;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);
const COOKIE: &str = "adversarial";

/// What a recorder is told to do.
#[derive(Serialize, Deserialize, Debug, beamish::Message)]
#[message(name = "forged_frames.Order")]
enum Order {
    /// Report the number.
    Note(u64),
    /// Monitor the process, answer with the reference.
    Monitor(Pid, ReplyTo<MonitorRef>),
    /// Keep the token; report that it is kept.
    Hold(ReplyTo<u64>),
    /// Answer the kept token.
    Release(u64),
}

/// What a recorder saw, in order.
#[derive(Debug, PartialEq)]
enum Seen {
    Note(u64),
    Held,
    Signal(Signal),
}

/// Traps exits, and reports every message and signal.
struct Recorder {
    seen: mpsc::UnboundedSender<Seen>,
    held: Option<ReplyTo<u64>>,
}

#[async_trait]
impl Process for Recorder {
    type Args = mpsc::UnboundedSender<Seen>;
    type Msg = Order;

    async fn init(ctx: &mut Context<Order>, seen: Self::Args) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        Ok(Self { seen, held: None })
    }

    async fn handle(&mut self, ctx: &mut Context<Order>, order: Order) -> Result<(), ExitReason> {
        match order {
            Order::Note(n) => {
                let _ = self.seen.send(Seen::Note(n));
            }
            Order::Monitor(pid, reply) => {
                reply.reply(ctx.monitor(pid));
            }
            Order::Hold(reply) => {
                self.held = Some(reply);
                let _ = self.seen.send(Seen::Held);
            }
            Order::Release(value) => {
                if let Some(reply) = self.held.take() {
                    reply.reply(value);
                }
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut Context<Order>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let _ = self.seen.send(Seen::Signal(signal));
        Ok(())
    }
}

/// The node under attack (`a`), an honest peer (`b`) and a raw peer
/// (`evil`) that passed the handshake with the cookie.
struct Scene {
    a: Node,
    b: Node,
    evil: Connection,
    evil_pid: Pid,
    /// An exported recorder on `a` that the raw peer pings to know that
    /// everything it sent before has been handled.
    sync: Pid,
    synced: mpsc::UnboundedReceiver<Seen>,
}

async fn node(name: &str) -> (Node, Endpoint) {
    let node = Node::builder().name(name).build().expect("a runtime");
    let transport: Arc<dyn Transport> = Arc::new(TcpTransport::new());
    let at = Endpoint::Tcp {
        host: "127.0.0.1".into(),
        port: 0,
    };
    let listening = node
        .join(
            ClusterConfig::new(Cookie::new(COOKIE)),
            vec![transport],
            &[at],
        )
        .await
        .expect("joins");
    let at = listening.into_iter().next().expect("listens");
    (node, at)
}

async fn scene() -> Scene {
    let (a, at) = node("a@localhost").await;
    let (b, _) = node("b@localhost").await;
    b.connect(&at).await.expect("b connects");
    let evil_name = NodeName::new("evil@localhost").expect("valid");
    let evil =
        forge::authenticated(&TcpTransport::new(), &at, evil_name, Cookie::new(COOKIE)).await;
    let (tx, synced) = mpsc::unbounded_channel();
    let sync = recorder(&a, tx, true).await.pid();
    let evil_pid: Pid = "<evil@localhost.1.1>".parse().expect("a pid");
    Scene {
        a,
        b,
        evil,
        evil_pid,
        sync,
        synced,
    }
}

async fn recorder(node: &Node, seen: mpsc::UnboundedSender<Seen>, export: bool) -> Handle<Order> {
    let recorder = node
        .start::<Recorder>(seen, SpawnOpts::new())
        .await
        .expect("starts");
    if export {
        node.export(&recorder);
    }
    recorder
}

impl Scene {
    /// Sends `frames` from the raw peer, then waits until `a` has handled
    /// them all (a message sent after them on the same connection came
    /// through).
    async fn evil_sends(&mut self, frames: Vec<bytes::Bytes>) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let marker = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut frames = frames;
        frames.push(forge::message(self.sync, &Order::Note(marker)));
        self.evil
            .sink
            .send(frames)
            .await
            .expect("the frames go out");
        loop {
            let seen = tokio::time::timeout(WAIT, self.synced.recv())
                .await
                .expect("the sync message arrives")
                .expect("the sync recorder lives");
            if seen == Seen::Note(marker) {
                return;
            }
        }
    }

    fn forged(&self) -> u64 {
        self.a.stats().forged
    }
}

/// The next thing `victim` saw, after a note sent to it now: a victim
/// that was left alone sees the note first.
async fn first_seen_after_note(
    victim: &Handle<Order>,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) -> Seen {
    victim.cast(Order::Note(7)).await.expect("the victim lives");
    tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("the victim reports")
        .expect("the victim lives")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_signal_for_a_process_that_is_not_exported_is_a_dead_letter() {
    let mut s = scene().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let victim = recorder(&s.a, tx, false).await;
    let dead_letters = s.a.stats().dead_letters;
    let exit = forge::exit(s.evil_pid, victim.pid(), ExitReason::error("forged"), false);
    s.evil_sends(vec![exit]).await;
    assert_eq!(
        first_seen_after_note(&victim, &mut seen).await,
        Seen::Note(7)
    );
    assert_eq!(s.a.stats().dead_letters, dead_letters + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_on_behalf_of_another_node_is_dropped_and_counted() {
    let mut s = scene().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let victim = recorder(&s.a, tx, true).await;
    let (b_tx, _b_seen) = mpsc::unbounded_channel();
    let on_b = recorder(&s.b, b_tx, true).await.pid();
    s.evil_sends(vec![
        forge::exit(on_b, victim.pid(), ExitReason::error("forged"), false),
        // A link in b's name, so that a's process would send b an exit.
        forge::link(on_b, victim.pid()),
    ])
    .await;
    assert_eq!(
        first_seen_after_note(&victim, &mut seen).await,
        Seen::Note(7)
    );
    let links = s.a.process_info(victim.pid()).expect("alive").links;
    assert!(links.is_empty(), "a forged link was made: {links:?}");
    assert_eq!(s.forged(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_through_a_link_never_made_has_no_effect() {
    let mut s = scene().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let victim = recorder(&s.a, tx, true).await;
    let exit = forge::exit(s.evil_pid, victim.pid(), ExitReason::error("forged"), true);
    s.evil_sends(vec![exit]).await;
    assert_eq!(
        first_seen_after_note(&victim, &mut seen).await,
        Seen::Note(7)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_for_a_process_of_another_node_is_dropped_and_counted() {
    let mut s = scene().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let victim = recorder(&s.a, tx, true).await;
    let (b_tx, _b_seen) = mpsc::unbounded_channel();
    let on_b = recorder(&s.b, b_tx, true).await.pid();
    let mref = victim
        .call(|reply| Order::Monitor(on_b, reply), WAIT)
        .await
        .expect("monitors");
    let down = forge::down(mref, victim.pid(), on_b, ExitReason::Killed);
    s.evil_sends(vec![down]).await;
    assert_eq!(
        first_seen_after_note(&victim, &mut seen).await,
        Seen::Note(7)
    );
    assert_eq!(s.forged(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_calls_that_went_elsewhere_are_dropped_and_counted() {
    let mut s = scene().await;
    let (b_tx, mut b_seen) = mpsc::unbounded_channel();
    let holder = recorder(&s.b, b_tx, true).await;
    let call = {
        let a = s.a.clone();
        let holder = holder.pid();
        tokio::spawn(async move { a.call_remote(holder, Order::Hold, WAIT).await })
    };
    let held = tokio::time::timeout(WAIT, b_seen.recv())
        .await
        .expect("in time");
    assert_eq!(held, Some(Seen::Held));
    // The raw peer guesses call numbers: replies to every one it might be.
    let guesses = (0..64).map(|id| forge::reply(id, &666_u64)).collect();
    s.evil_sends(guesses).await;
    holder
        .cast(Order::Release(42))
        .await
        .expect("the holder lives");
    let answered = tokio::time::timeout(WAIT, call)
        .await
        .expect("in time")
        .expect("the call's task");
    assert_eq!(answered, Ok(42));
    assert!(s.forged() >= 1, "the forged reply was not counted");
}
