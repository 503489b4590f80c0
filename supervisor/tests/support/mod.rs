//! Shared helpers for the supervisor tests: a worker that reports its
//! starts and stops and does what it is told.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beamish_core::{
    async_trait, Context, ExitReason, Node, Pid, Process, ReplyTo, Signal, SpawnOpts,
};
use beamish_supervisor::{ChildSpec, SupervisorRef, SupervisorSpec};
use tokio::sync::mpsc;

pub const CALL: Duration = Duration::from_secs(5);

/// What workers report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Started(&'static str, Pid),
    /// `terminate` ran (the worker traps exits).
    Stopped(&'static str, Pid, ExitReason),
}

pub enum WMsg {
    /// End with this reason.
    Exit(ExitReason),
    /// Answer with the pid.
    Ping(ReplyTo<Pid>),
    /// Count a message.
    Count,
    /// Answer with the count.
    Total(ReplyTo<u64>),
}

#[derive(Clone)]
pub struct WorkerArgs {
    pub id: &'static str,
    pub events: mpsc::UnboundedSender<Ev>,
    /// Trap exits and report `terminate`.
    pub trap: bool,
    /// Trap exits and ignore `Shutdown` (never stops when asked).
    pub stubborn: bool,
    /// Fail `init` while this is above zero (counting down).
    pub failing_starts: Arc<AtomicUsize>,
    /// Take this long (virtual time) in `init`.
    pub slow_start: Duration,
    /// Return `Err(ExitReason::Normal)` from `init`: OTP's `ignore`.
    pub ignore: bool,
}

impl WorkerArgs {
    pub fn new(id: &'static str, events: &mpsc::UnboundedSender<Ev>) -> Self {
        Self {
            id,
            events: events.clone(),
            trap: false,
            stubborn: false,
            failing_starts: Arc::new(AtomicUsize::new(0)),
            slow_start: Duration::ZERO,
            ignore: false,
        }
    }

    pub fn ignoring(mut self) -> Self {
        self.ignore = true;
        self
    }

    pub fn slow(mut self, start: Duration) -> Self {
        self.slow_start = start;
        self
    }

    pub fn trapping(mut self) -> Self {
        self.trap = true;
        self
    }

    pub fn stubborn(mut self) -> Self {
        self.stubborn = true;
        self
    }

    pub fn failing(self, times: usize) -> Self {
        self.failing_starts.store(times, Ordering::SeqCst);
        self
    }
}

pub struct Worker {
    args: WorkerArgs,
    count: u64,
}

#[async_trait]
impl Process for Worker {
    type Args = WorkerArgs;
    type Msg = WMsg;

    async fn init(ctx: &mut Context<WMsg>, args: WorkerArgs) -> Result<Self, ExitReason> {
        let failing = args
            .failing_starts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(ExitReason::error(format!("{} refuses to start", args.id)));
        }
        if args.ignore {
            return Err(ExitReason::Normal);
        }
        if !args.slow_start.is_zero() {
            tokio::time::sleep(args.slow_start).await;
        }
        ctx.trap_exit(args.trap || args.stubborn);
        let _ = args.events.send(Ev::Started(args.id, ctx.pid()));
        Ok(Worker { args, count: 0 })
    }

    async fn handle(&mut self, ctx: &mut Context<WMsg>, msg: WMsg) -> Result<(), ExitReason> {
        match msg {
            WMsg::Exit(reason) => return Err(reason),
            WMsg::Ping(reply) => {
                reply.reply(ctx.pid());
            }
            WMsg::Count => self.count += 1,
            WMsg::Total(reply) => {
                reply.reply(self.count);
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut Context<WMsg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        match signal {
            Signal::Exit { reason, .. } if !self.args.stubborn => Err(reason),
            _ => Ok(()),
        }
    }

    async fn terminate(&mut self, ctx: &mut Context<WMsg>, reason: &ExitReason) {
        let _ = self
            .args
            .events
            .send(Ev::Stopped(self.args.id, ctx.pid(), reason.clone()));
    }
}

pub fn worker(args: WorkerArgs) -> ChildSpec {
    let id = args.id;
    ChildSpec::worker::<Worker>(id, move || args.clone())
}

pub fn node() -> Node {
    Node::builder()
        .name("sup@localhost")
        .build()
        .expect("a tokio runtime is running")
}

pub async fn start(node: &Node, spec: SupervisorSpec) -> SupervisorRef {
    SupervisorRef::start(node, spec, SpawnOpts::new())
        .await
        .expect("supervisor starts")
}

/// The next event, failing the test if none comes within a long virtual
/// time.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Ev>) -> Ev {
    tokio::time::timeout(Duration::from_secs(600), rx.recv())
        .await
        .expect("an event arrives")
        .expect("the channel is open")
}

/// The next start, skipping stops.
pub async fn next_start(rx: &mut mpsc::UnboundedReceiver<Ev>) -> (&'static str, Pid) {
    loop {
        if let Ev::Started(id, pid) = next(rx).await {
            return (id, pid);
        }
    }
}

/// The pids of the children, by id, in order.
pub async fn pids(sup: &SupervisorRef) -> Vec<(String, Option<Pid>)> {
    sup.which_children()
        .await
        .expect("supervisor answers")
        .into_iter()
        .map(|c| (c.id.to_string(), c.pid))
        .collect()
}

/// The pid of one child.
pub async fn pid_of(sup: &SupervisorRef, id: &str) -> Pid {
    pids(sup)
        .await
        .into_iter()
        .find(|(child, _)| child == id)
        .and_then(|(_, pid)| pid)
        .expect("the child runs")
}

/// Tells a child to end with `reason`.
pub async fn end(node: &Node, pid: Pid, reason: ExitReason) {
    let handle = node.handle::<WMsg>(pid).expect("a worker");
    handle.cast(WMsg::Exit(reason)).await.expect("alive");
}

/// Tells a child to end with `reason` and waits until it has; its exit is
/// then queued at its supervisor ahead of any later request.
pub async fn end_and_wait(node: &Node, pid: Pid, reason: ExitReason) -> ExitReason {
    let ended = node.monitor(pid);
    end(node, pid, reason).await;
    ended.await
}
