//! Shared helpers for the integration tests: a test node that fails on any
//! unobserved crash, and a scriptable probe process that reports what it
//! sees on a channel.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod logs;

use std::time::Duration;

use beamish_core::{
    async_trait, Context, ExitReason, Handle, MonitorRef, Node, Pid, Process, ReplyTo, Signal,
    SpawnOpts,
};
use tokio::sync::mpsc;

/// Generous call timeout for tests on a paused clock.
pub const CALL: Duration = Duration::from_secs(5);

/// A node that, when dropped at the end of a passing test, fails the test
/// if any process crashed with nobody linked to or monitoring it.
pub struct TestNode {
    pub node: Node,
}

impl TestNode {
    pub fn new() -> Self {
        let node = Node::builder()
            .name("test@localhost")
            .build()
            .expect("a tokio runtime is running");
        Self { node }
    }
}

impl std::ops::Deref for TestNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let failures = self.node.take_unobserved_failures();
        if !std::thread::panicking() {
            assert!(failures.is_empty(), "unobserved failures: {failures:?}");
        }
    }
}

/// What a probe reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `init` ran.
    Started(Pid),
    /// A numbered message arrived.
    Got(Pid, u64),
    /// A signal arrived.
    Signal(Pid, Signal),
    /// `terminate` ran with this reason.
    Terminated(Pid, ExitReason),
    /// A `Block` command started waiting.
    Blocked(Pid),
}

/// Instructions a probe follows. Serializable, so that a probe can be
/// exported to other nodes (which may then link to it, monitor it and send
/// it exit signals); the commands that carry local things are never sent.
#[derive(serde::Serialize, serde::Deserialize, beamish_core::Message)]
#[message(name = "mod.Cmd")]
pub enum Cmd {
    /// Report `Got(n)`.
    Num(u64),
    Link(Pid),
    Unlink(Pid),
    Monitor(Pid, ReplyTo<MonitorRef>),
    Demonitor(MonitorRef, ReplyTo<bool>),
    Exit(Pid, ExitReason),
    Trap(bool),
    Panic(String),
    Fail(ExitReason),
    Stop(ExitReason),
    /// Send `n` to the handle, then reply.
    #[serde(skip)]
    Forward(Handle<Cmd>, u64),
    /// Reply with the argument.
    Echo(u64, ReplyTo<u64>),
    /// Never reply; keep the token until told to release it.
    Hold(ReplyTo<u64>),
    /// Reply to a held token.
    Release(u64),
    /// Drop the token without replying.
    Ignore(ReplyTo<u64>),
    /// Wait (virtual time) before replying.
    Slow(Duration, ReplyTo<u64>),
    /// Call the handle, reply with the outcome.
    #[serde(skip)]
    CallOther(Handle<Cmd>, ReplyTo<Result<u64, beamish_core::CallError>>),
    /// Spawn a linked probe, reply with its handle.
    #[serde(skip)]
    SpawnLink(ReplyTo<Handle<Cmd>>),
    /// Spawn a monitored probe.
    #[serde(skip)]
    SpawnMonitor(ReplyTo<(Handle<Cmd>, MonitorRef)>),
    /// Wait for a oneshot before continuing (blocks the mailbox).
    #[serde(skip)]
    Block(tokio::sync::oneshot::Receiver<()>),
    /// Panic while holding a reply token.
    PanicWith(ReplyTo<u64>),
    /// Wait for a oneshot, then remove a monitor and reply whether it was
    /// active.
    #[serde(skip)]
    BlockThenDemonitor(
        tokio::sync::oneshot::Receiver<()>,
        MonitorRef,
        ReplyTo<bool>,
    ),
}

/// How a probe starts.
#[derive(Clone)]
pub struct ProbeArgs {
    pub events: mpsc::UnboundedSender<Event>,
    pub trap: bool,
    pub fail_init: Option<ExitReason>,
    pub panic_in_terminate: bool,
}

impl ProbeArgs {
    pub fn new(events: &mpsc::UnboundedSender<Event>) -> Self {
        Self {
            events: events.clone(),
            trap: false,
            fail_init: None,
            panic_in_terminate: false,
        }
    }

    pub fn trapping(mut self) -> Self {
        self.trap = true;
        self
    }
}

pub struct Probe {
    args: ProbeArgs,
    held: Option<ReplyTo<u64>>,
}

impl Probe {
    fn report(&self, event: Event) {
        let _ = self.args.events.send(event);
    }
}

#[async_trait]
impl Process for Probe {
    type Args = ProbeArgs;
    type Msg = Cmd;

    async fn init(ctx: &mut Context<Cmd>, args: ProbeArgs) -> Result<Self, ExitReason> {
        if let Some(reason) = &args.fail_init {
            return Err(reason.clone());
        }
        ctx.trap_exit(args.trap);
        let _ = args.events.send(Event::Started(ctx.pid()));
        Ok(Probe { args, held: None })
    }

    async fn handle(&mut self, ctx: &mut Context<Cmd>, msg: Cmd) -> Result<(), ExitReason> {
        match msg {
            Cmd::Num(n) => self.report(Event::Got(ctx.pid(), n)),
            Cmd::Link(pid) => ctx.link(pid),
            Cmd::Unlink(pid) => ctx.unlink(pid),
            Cmd::Monitor(pid, reply) => {
                reply.reply(ctx.monitor(pid));
            }
            Cmd::Demonitor(mref, reply) => {
                reply.reply(ctx.demonitor(mref));
            }
            Cmd::Exit(pid, reason) => ctx.exit(pid, reason),
            Cmd::Trap(trap) => ctx.trap_exit(trap),
            Cmd::Panic(text) => panic!("{text}"),
            Cmd::Fail(reason) => return Err(reason),
            Cmd::Stop(reason) => ctx.stop(reason),
            Cmd::Forward(to, n) => {
                let _ = to.cast(Cmd::Num(n)).await;
            }
            Cmd::Echo(n, reply) => {
                reply.reply(n);
            }
            Cmd::Hold(reply) => self.held = Some(reply),
            Cmd::Release(n) => {
                if let Some(reply) = self.held.take() {
                    reply.reply(n);
                }
            }
            Cmd::Ignore(reply) => drop(reply),
            Cmd::Slow(delay, reply) => {
                tokio::time::sleep(delay).await;
                reply.reply(1);
            }
            Cmd::CallOther(other, reply) => {
                let result = other.call(|r| Cmd::Echo(7, r), CALL).await;
                reply.reply(result);
            }
            Cmd::SpawnLink(reply) => {
                let child = ctx
                    .spawn_link::<Probe>(ProbeArgs::new(&self.args.events), SpawnOpts::default())?;
                reply.reply(child);
            }
            Cmd::SpawnMonitor(reply) => {
                let child = ctx.spawn_monitor::<Probe>(
                    ProbeArgs::new(&self.args.events),
                    SpawnOpts::default(),
                )?;
                reply.reply(child);
            }
            Cmd::Block(rx) => {
                self.report(Event::Blocked(ctx.pid()));
                let _ = rx.await;
            }
            Cmd::BlockThenDemonitor(rx, mref, reply) => {
                self.report(Event::Blocked(ctx.pid()));
                let _ = rx.await;
                reply.reply(ctx.demonitor(mref));
            }
            Cmd::PanicWith(reply) => {
                let _keep = reply;
                panic!("panicked holding a reply token");
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<Cmd>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        self.report(Event::Signal(ctx.pid(), signal));
        Ok(())
    }

    async fn terminate(&mut self, ctx: &mut Context<Cmd>, reason: &ExitReason) {
        self.report(Event::Terminated(ctx.pid(), reason.clone()));
        if self.args.panic_in_terminate {
            panic!("panic in terminate");
        }
    }
}

/// A channel for probe events.
pub fn events() -> (mpsc::UnboundedSender<Event>, mpsc::UnboundedReceiver<Event>) {
    mpsc::unbounded_channel()
}

/// Spawns a probe and waits until it is running.
pub async fn probe(node: &Node, args: ProbeArgs) -> Handle<Cmd> {
    node.start::<Probe>(args, SpawnOpts::default())
        .await
        .expect("probe starts")
}

/// The next event, failing the test if none comes within a long virtual
/// time.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an event arrives")
        .expect("the channel is open")
}

/// Skips `Started` events.
pub async fn next_non_start(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    loop {
        match next(rx).await {
            Event::Started(_) => continue,
            other => return other,
        }
    }
}

/// Waits until the process has ended and returns its reason.
pub async fn exit_of(node: &Node, pid: Pid) -> ExitReason {
    tokio::time::timeout(Duration::from_secs(60), node.monitor(pid))
        .await
        .expect("the process ends")
}

/// A round trip through the probe: everything it was sent before has been
/// handled once this returns.
pub async fn sync(handle: &Handle<Cmd>) {
    handle
        .call(|r| Cmd::Echo(0, r), CALL)
        .await
        .expect("probe answers");
}

/// The in-process endpoint of the node called `name`.
pub fn local(name: &str) -> beamish_core::dist::Endpoint {
    beamish_core::dist::Endpoint::Local { name: name.into() }
}

/// A node `name@localhost` on `net`, joined with the cookie `s` and
/// listening at `local://name`.
pub async fn member(net: &beamish_core::transport::LocalNetwork, name: &str) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime");
    let transport: std::sync::Arc<dyn beamish_core::transport::Transport> =
        std::sync::Arc::new(net.transport(name));
    node.join(
        beamish_core::ClusterConfig::new(beamish_core::dist::Cookie::new("s")),
        vec![transport],
        &[local(name)],
    )
    .await
    .expect("joins");
    node
}
