//! The supervisor process: starts its children in order, restarts them by
//! its strategy within its restart intensity, and stops them in reverse.

use std::sync::Arc;

use std::time::Duration;

use beamish_core::{async_trait, Context, ExitReason, Pid, Process, ReplyTo, Signal, TimerId};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{error, warn};

use crate::api::{ChildCounts, ChildError, ChildInfo};
use crate::intensity::Intensity;
use crate::spec::{start_reason, AutoShutdown, Backoff, ChildKind, ChildSpec, Restart, Strategy};
use crate::stop::stop;
use crate::SupervisorSpec;

/// The requests a supervisor answers; use them through
/// [`SupervisorRef`](crate::SupervisorRef).
#[derive(Debug)]
#[non_exhaustive]
pub enum SupervisorMsg {
    /// List the children.
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    /// Count the children.
    CountChildren(ReplyTo<ChildCounts>),
    /// Add and start a child.
    StartChild(ChildSpec, ReplyTo<Result<Pid, ChildError>>),
    /// Stop a child, keeping its spec (unless it is temporary).
    TerminateChild(Arc<str>, ReplyTo<Result<(), ChildError>>),
    /// Start a stopped child again.
    RestartChild(Arc<str>, ReplyTo<Result<Pid, ChildError>>),
    /// Forget a stopped child.
    DeleteChild(Arc<str>, ReplyTo<Result<(), ChildError>>),
    /// A child's spec.
    GetChildSpec(Arc<str>, ReplyTo<Result<ChildSpec, ChildError>>),
}

/// What a supervisor process is started with.
pub(crate) struct SupervisorArgs {
    spec: SupervisorSpec,
    /// Told which child failed, if one fails to start.
    failure: Option<oneshot::Sender<(Arc<str>, ExitReason)>>,
}

impl SupervisorArgs {
    pub(crate) fn new(spec: SupervisorSpec) -> Self {
        Self {
            spec,
            failure: None,
        }
    }

    pub(crate) fn reporting(
        spec: SupervisorSpec,
        failure: oneshot::Sender<(Arc<str>, ExitReason)>,
    ) -> Self {
        Self {
            spec,
            failure: Some(failure),
        }
    }
}

struct Child {
    spec: ChildSpec,
    pid: Option<Pid>,
    restarts: u64,
    /// When it last started, and how many backoff delays in a row it has
    /// had.
    started: Instant,
    delays: u32,
}

impl Child {
    fn new(spec: ChildSpec, pid: Option<Pid>) -> Self {
        Self {
            spec,
            pid,
            restarts: 0,
            started: Instant::now(),
            delays: 0,
        }
    }
}

pub(crate) struct Supervisor {
    strategy: Strategy,
    auto_shutdown: AutoShutdown,
    intensity: Intensity,
    period: Duration,
    backoff: Option<Backoff>,
    /// Restarts waiting for their backoff timer.
    waiting: Vec<(TimerId, Arc<str>)>,
    children: Vec<Child>,
}

#[async_trait]
impl Process for Supervisor {
    type Args = SupervisorArgs;
    type Msg = SupervisorMsg;

    async fn init(
        ctx: &mut Context<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        let spec = args.spec;
        if let Some(bad) = spec.children.iter().find(|c| c.significant) {
            let allowed =
                spec.auto_shutdown != AutoShutdown::Never && bad.restart != Restart::Permanent;
            if !allowed {
                return Err(ExitReason::error(format!(
                    "child {:?} is significant, which needs auto_shutdown and a transient or temporary restart",
                    bad.id
                )));
            }
        }
        let mut sup = Supervisor {
            strategy: spec.strategy,
            auto_shutdown: spec.auto_shutdown,
            intensity: Intensity::new(spec.max_restarts, spec.period),
            period: spec.period,
            backoff: spec.backoff,
            waiting: Vec::new(),
            children: Vec::with_capacity(spec.children.len()),
        };
        for child in spec.children {
            match start(ctx, &child).await {
                Ok(pid) => sup.children.push(Child::new(child, Some(pid))),
                Err(reason) if reason.is_normal() => {
                    // OTP's `ignore`: kept, not running.
                    sup.children.push(Child::new(child, None));
                }
                Err(reason) => {
                    sup.stop_all(ctx).await;
                    let id = Arc::clone(&child.id);
                    if let Some(failure) = args.failure {
                        let _ = failure.send((Arc::clone(&id), reason.clone()));
                    }
                    return Err(ExitReason::error(format!(
                        "child {id:?} failed to start: {reason}"
                    )));
                }
            }
        }
        Ok(sup)
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        msg: SupervisorMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            SupervisorMsg::WhichChildren(reply) => {
                reply.reply(self.children.iter().map(Child::info).collect());
            }
            SupervisorMsg::CountChildren(reply) => {
                reply.reply(self.counts());
            }
            SupervisorMsg::StartChild(spec, reply) => {
                reply.reply(self.add_child(ctx, spec).await);
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                reply.reply(self.terminate_child(ctx, &id).await);
            }
            SupervisorMsg::RestartChild(id, reply) => {
                reply.reply(self.restart_child(ctx, &id).await);
            }
            SupervisorMsg::DeleteChild(id, reply) => {
                reply.reply(self.delete_child(&id));
            }
            SupervisorMsg::GetChildSpec(id, reply) => {
                let spec = match self.position(&id) {
                    Some(at) => Ok(self.children[at].spec.clone()),
                    None => Err(ChildError::NotFound(id)),
                };
                reply.reply(spec);
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let (from, reason) = match signal {
            Signal::Exit { from, reason } => (from, reason),
            Signal::Timer(timer) => return self.backoff_over(ctx, timer).await,
            _ => return Ok(()),
        };
        if Some(from) == ctx.parent() || from == ctx.node().pid() {
            // Told to stop: `terminate` stops the children in reverse order.
            return Err(reason);
        }
        // An exit from a pid that is no longer a child (one stopped on
        // purpose, or a start that failed) needs nothing.
        let Some(at) = self.children.iter().position(|c| c.pid == Some(from)) else {
            return Ok(());
        };
        self.children[at].pid = None;
        self.child_exited(ctx, at, reason).await
    }

    async fn terminate(&mut self, ctx: &mut Context<SupervisorMsg>, _reason: &ExitReason) {
        self.stop_all(ctx).await;
    }
}

impl Supervisor {
    /// Applies the restart type, auto shutdown and strategy to a child
    /// that ended.
    async fn child_exited(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        at: usize,
        reason: ExitReason,
    ) -> Result<(), ExitReason> {
        let child = &self.children[at];
        if !child.spec.restart.restarts_after(&reason) || ctx.node().is_stopping() {
            let significant = child.spec.significant;
            if child.spec.restart == Restart::Temporary {
                self.children.remove(at);
            }
            if significant && self.auto_shutdown_due() {
                return Err(ExitReason::Shutdown);
            }
            return Ok(());
        }
        if let Some(backoff) = self.backoff {
            let child = &mut self.children[at];
            if child.started.elapsed() > self.period {
                child.delays = 0;
            }
            let delay = backoff.delay(child.delays, random_unit());
            child.delays = child.delays.saturating_add(1);
            warn!(child = %child.spec.id, %reason, ?delay, "child ended; restarting after a delay");
            let timer = ctx.start_timer(delay);
            self.waiting.push((timer.id(), Arc::clone(&child.spec.id)));
            return Ok(());
        }
        warn!(child = %child.spec.id, %reason, "child ended; restarting");
        self.restart_from(ctx, at).await
    }

    /// A backoff delay ended: restart the child if it still needs it.
    async fn backoff_over(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        timer: TimerId,
    ) -> Result<(), ExitReason> {
        let Some(waiting) = self.waiting.iter().position(|(t, _)| *t == timer) else {
            return Ok(());
        };
        let (_, id) = self.waiting.swap_remove(waiting);
        match self.position(&id) {
            Some(at) if self.children[at].pid.is_none() => self.restart_from(ctx, at).await,
            _ => Ok(()),
        }
    }

    fn auto_shutdown_due(&self) -> bool {
        match self.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|c| c.spec.significant && c.pid.is_some()),
        }
    }

    /// Restarts the child at `at` and, by the strategy, its siblings,
    /// trying again while the intensity allows.
    async fn restart_from(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        at: usize,
    ) -> Result<(), ExitReason> {
        let mut failed = Arc::clone(&self.children[at].spec.id);
        loop {
            if !self.intensity.allow(Instant::now()) {
                error!("restart intensity reached; shutting down");
                return Err(ExitReason::Shutdown);
            }
            let Some(at) = self.position(&failed) else {
                return Ok(());
            };
            let range = match self.strategy {
                Strategy::OneForOne => at..at + 1,
                Strategy::OneForAll => 0..self.children.len(),
                Strategy::RestForOne => at..self.children.len(),
            };
            for sibling in range.clone().rev() {
                self.stop_child_at(ctx, sibling).await;
            }
            // Temporary siblings stopped here are not restarted.
            let ids: Vec<Arc<str>> = self.children[range]
                .iter()
                .filter(|c| c.spec.restart != Restart::Temporary || c.spec.id == failed)
                .map(|c| Arc::clone(&c.spec.id))
                .collect();
            self.children.retain(|c| {
                c.pid.is_some() || c.spec.restart != Restart::Temporary || ids.contains(&c.spec.id)
            });
            match self.start_in_order(ctx, &ids).await {
                Ok(()) => return Ok(()),
                Err((id, reason)) => {
                    warn!(child = %id, %reason, "restart failed; trying again");
                    if ctx.node().is_stopping() {
                        return Err(ExitReason::Shutdown);
                    }
                    failed = id;
                }
            }
        }
    }

    /// Starts the children with these ids, in order, skipping any that
    /// already run.
    async fn start_in_order(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        ids: &[Arc<str>],
    ) -> Result<(), (Arc<str>, ExitReason)> {
        for id in ids {
            let Some(at) = self.position(id) else {
                continue;
            };
            if self.children[at].pid.is_some() {
                continue;
            }
            let spec = self.children[at].spec.clone();
            let pid = match start(ctx, &spec).await {
                Ok(pid) => Some(pid),
                // Ignored: it stays, not running, as OTP's `ignore`.
                Err(reason) if reason.is_normal() => None,
                Err(reason) => return Err((Arc::clone(id), reason)),
            };
            let child = &mut self.children[at];
            child.pid = pid;
            child.restarts += 1;
            child.started = Instant::now();
        }
        Ok(())
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| &*c.spec.id == id)
    }

    async fn stop_child_at(&mut self, ctx: &mut Context<SupervisorMsg>, at: usize) {
        if let Some(pid) = self.children[at].pid.take() {
            stop(ctx, pid, self.children[at].spec.shutdown).await;
        }
    }

    /// Stops every running child, in reverse start order.
    async fn stop_all(&mut self, ctx: &mut Context<SupervisorMsg>) {
        for at in (0..self.children.len()).rev() {
            self.stop_child_at(ctx, at).await;
        }
    }

    fn counts(&self) -> ChildCounts {
        let supervisors = self
            .children
            .iter()
            .filter(|c| c.spec.kind == ChildKind::Supervisor)
            .count();
        ChildCounts {
            specs: self.children.len(),
            active: self.children.iter().filter(|c| c.pid.is_some()).count(),
            supervisors,
            workers: self.children.len() - supervisors,
        }
    }

    async fn add_child(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        spec: ChildSpec,
    ) -> Result<Pid, ChildError> {
        if let Some(at) = self.position(&spec.id) {
            return Err(match self.children[at].pid {
                Some(pid) => ChildError::AlreadyStarted(Arc::clone(&spec.id), pid),
                None => ChildError::AlreadyPresent(Arc::clone(&spec.id)),
            });
        }
        if spec.significant
            && (self.auto_shutdown == AutoShutdown::Never || spec.restart == Restart::Permanent)
        {
            return Err(ChildError::InvalidSpec(Arc::clone(&spec.id)));
        }
        match start(ctx, &spec).await {
            Ok(pid) => {
                self.children.push(Child::new(spec, Some(pid)));
                Ok(pid)
            }
            Err(reason) if reason.is_normal() => {
                let id = Arc::clone(&spec.id);
                self.children.push(Child::new(spec, None));
                Err(ChildError::Ignored(id))
            }
            Err(reason) => Err(ChildError::Start(reason)),
        }
    }

    async fn terminate_child(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        id: &str,
    ) -> Result<(), ChildError> {
        let at = self
            .position(id)
            .ok_or_else(|| ChildError::NotFound(id.into()))?;
        self.stop_child_at(ctx, at).await;
        if self.children[at].spec.restart == Restart::Temporary {
            self.children.remove(at);
        }
        Ok(())
    }

    async fn restart_child(
        &mut self,
        ctx: &mut Context<SupervisorMsg>,
        id: &str,
    ) -> Result<Pid, ChildError> {
        let at = self
            .position(id)
            .ok_or_else(|| ChildError::NotFound(id.into()))?;
        if let Some(pid) = self.children[at].pid {
            return Err(ChildError::Running(id.into(), pid));
        }
        let spec = self.children[at].spec.clone();
        let pid = match start(ctx, &spec).await {
            Ok(pid) => pid,
            Err(reason) if reason.is_normal() => return Err(ChildError::Ignored(id.into())),
            Err(reason) => return Err(ChildError::Start(reason)),
        };
        let child = &mut self.children[at];
        child.pid = Some(pid);
        child.restarts += 1;
        child.started = Instant::now();
        Ok(pid)
    }

    fn delete_child(&mut self, id: &str) -> Result<(), ChildError> {
        let at = self
            .position(id)
            .ok_or_else(|| ChildError::NotFound(id.into()))?;
        if let Some(pid) = self.children[at].pid {
            return Err(ChildError::Running(id.into(), pid));
        }
        self.children.remove(at);
        Ok(())
    }
}

impl Child {
    fn info(&self) -> ChildInfo {
        ChildInfo {
            id: Arc::clone(&self.spec.id),
            pid: self.pid,
            kind: self.spec.kind,
            restart: self.spec.restart,
            restarts: self.restarts,
        }
    }
}

/// A random number in `[0, 1)` for backoff jitter; std's per-map random
/// keys are plenty for spreading restarts.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64
}

/// Starts one child through its spec's start function. A child whose
/// `init` ended `Normal` was ignored (OTP's `ignore`): `Err(Normal)`.
async fn start(ctx: &mut Context<SupervisorMsg>, spec: &ChildSpec) -> Result<Pid, ExitReason> {
    (spec.start)(ctx).await.map_err(start_reason)
}
