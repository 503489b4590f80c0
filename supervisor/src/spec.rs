//! What a supervisor is told: its children and how to treat them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use beamish_core::{Context, ExitReason, Pid, Process, SpawnError, SpawnOpts, StartError};

use crate::dynamic::{DynamicSpec, DynamicSupervisor};
use crate::server::SupervisorMsg;
use crate::task::TaskSpec;

/// When a child that ended is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only if it ended abnormally: not for `Normal` or `Shutdown`.
    Transient,
    /// Never; the child is forgotten when it ends.
    Temporary,
}

impl Restart {
    /// Whether a child of this restart type that ended with `reason` is
    /// restarted.
    pub(crate) fn restarts_after(self, reason: &ExitReason) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => reason.is_crash(),
            Restart::Temporary => false,
        }
    }
}

/// Why a child could not be started, as the reason a supervisor acts on:
/// its `init`'s reason, `Shutdown` on a node that is stopping.
pub(crate) fn start_reason(err: StartError) -> ExitReason {
    match err {
        StartError::Init(reason) => reason,
        StartError::Spawn(SpawnError::NodeStopping) => ExitReason::Shutdown,
        other => ExitReason::error(other),
    }
}

/// How a child is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Killed at once (`Kill`).
    BrutalKill,
    /// Sent `Shutdown`, then killed if it has not ended within the time.
    Timeout(Duration),
    /// Sent `Shutdown` and waited for, however long it takes (for children
    /// that are supervisors).
    Infinity,
}

/// Whether a child is a worker or a supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// A worker process.
    Worker,
    /// A supervisor, whose own children it stops before it ends.
    Supervisor,
}

/// Which children a supervisor restarts when one of them ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Only the child that ended.
    #[default]
    OneForOne,
    /// All children: the others are stopped (in reverse start order), then
    /// all are started again in order.
    OneForAll,
    /// The child that ended and those started after it: those are stopped
    /// in reverse order, then all of them are started again in order.
    RestForOne,
}

/// When the ending of significant children ends the supervisor too
/// (OTP 24's `auto_shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AutoShutdown {
    /// Never: significant children are not allowed.
    #[default]
    Never,
    /// When any significant child ends without being restarted.
    AnySignificant,
    /// When all significant children have ended without being restarted.
    AllSignificant,
}

/// Restart backoff, an extension beyond OTP (off by default): instead of
/// restarting at once, the supervisor waits `initial`, then twice as long
/// for each further restart of the same child, up to `max`, each delay
/// spread by up to ±`jitter` of itself so that many children do not
/// restart in lockstep. A child that ran for longer than the intensity
/// period starts again from `initial`. Restart intensity still applies,
/// counted when a restart happens. While a child waits, the supervisor
/// keeps answering.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// Doubling delays from `initial` up to `max`, with ±10 % jitter.
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            jitter: 0.1,
        }
    }

    /// Sets the jitter, a fraction between 0 and 1 of each delay.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// The delay before restart number `attempt` (0 for the first), given
    /// a random number in `[0, 1)`.
    pub(crate) fn delay(&self, attempt: u32, random: f64) -> Duration {
        let doubled = self
            .initial
            .saturating_mul(1_u32 << attempt.min(31))
            .min(self.max);
        let spread = doubled.mul_f64(self.jitter * (2.0 * random - 1.0).abs());
        let delay = if random < 0.5 {
            doubled.saturating_sub(spread)
        } else {
            doubled.saturating_add(spread)
        };
        delay.min(self.max)
    }
}

/// The future a start function returns.
pub type StartFuture<'a> = Pin<Box<dyn Future<Output = Result<Pid, StartError>> + Send + 'a>>;

type StartFn = dyn for<'a> Fn(&'a mut Context<SupervisorMsg>) -> StartFuture<'a> + Send + Sync;

/// One child of a supervisor: an id, a start function called afresh on
/// every (re)start, and how to restart and stop it.
///
/// The start function must start the child *linked* to the supervisor and
/// return once it runs, as [`Context::start_link`] does; the constructors
/// here do that.
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: Arc<str>,
    pub(crate) start: Arc<StartFn>,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) kind: ChildKind,
    pub(crate) significant: bool,
}

impl ChildSpec {
    /// A permanent worker running `P`, started with `args()` each time
    /// (so a restart gets fresh arguments, never consumed ones), stopped
    /// with a 5 s `Shutdown` timeout.
    pub fn worker<P: Process>(
        id: impl Into<Arc<str>>,
        args: impl Fn() -> P::Args + Send + Sync + 'static,
    ) -> Self {
        Self::worker_opt::<P>(id, SpawnOpts::new(), args)
    }

    /// Like [`worker`](Self::worker), with spawn options; a name given
    /// there is registered again by every restart.
    pub fn worker_opt<P: Process>(
        id: impl Into<Arc<str>>,
        opts: SpawnOpts,
        args: impl Fn() -> P::Args + Send + Sync + 'static,
    ) -> Self {
        let start = start_fn(move |ctx| {
            let args = args();
            let opts = opts.clone();
            Box::pin(async move { ctx.start_link::<P>(args, opts).await.map(|h| h.pid()) })
        });
        Self::from_start_fn(id, ChildKind::Worker, start)
    }

    /// A child supervisor with its own spec, stopped with `Infinity`.
    pub fn supervisor(id: impl Into<Arc<str>>, spec: crate::SupervisorSpec) -> Self {
        Self::supervisor_opt(id, SpawnOpts::new(), spec)
    }

    /// Like [`supervisor`](Self::supervisor), with spawn options; a name
    /// given there is registered again by every restart, so
    /// [`SupervisorRef::named`](crate::SupervisorRef::named) finds it.
    pub fn supervisor_opt(
        id: impl Into<Arc<str>>,
        opts: SpawnOpts,
        spec: crate::SupervisorSpec,
    ) -> Self {
        let start = start_fn(move |ctx| {
            let spec = spec.clone();
            let opts = opts.clone().trap_exit(true);
            Box::pin(async move {
                ctx.start_link::<crate::server::Supervisor>(
                    crate::server::SupervisorArgs::new(spec),
                    opts,
                )
                .await
                .map(|h| h.pid())
            })
        });
        Self::from_start_fn(id, ChildKind::Supervisor, start).shutdown(Shutdown::Infinity)
    }

    /// A child dynamic supervisor (see [`DynamicRef`](crate::DynamicRef)),
    /// stopped with `Infinity`: it stops its own children first.
    pub fn dynamic_supervisor<P: Process>(id: impl Into<Arc<str>>, spec: DynamicSpec<P>) -> Self
    where
        P::Args: Clone,
    {
        Self::dynamic_supervisor_opt(id, SpawnOpts::new(), spec)
    }

    /// Like [`dynamic_supervisor`](Self::dynamic_supervisor), with spawn
    /// options: give it a name to reach it with
    /// [`DynamicRef::named`](crate::DynamicRef::named).
    pub fn dynamic_supervisor_opt<P: Process>(
        id: impl Into<Arc<str>>,
        opts: SpawnOpts,
        spec: DynamicSpec<P>,
    ) -> Self
    where
        P::Args: Clone,
    {
        let start = start_fn(move |ctx| {
            let spec = spec.clone();
            let opts = spec.supervisor_opts(opts.clone());
            Box::pin(async move {
                ctx.start_link::<DynamicSupervisor<P>>(spec, opts)
                    .await
                    .map(|h| h.pid())
            })
        });
        Self::from_start_fn(id, ChildKind::Supervisor, start).shutdown(Shutdown::Infinity)
    }

    /// A child task supervisor (see [`TaskSupervisor`](crate::TaskSupervisor)),
    /// stopped with `Infinity`.
    pub fn task_supervisor(id: impl Into<Arc<str>>, spec: TaskSpec) -> Self {
        Self::task_supervisor_opt(id, SpawnOpts::new(), spec)
    }

    /// Like [`task_supervisor`](Self::task_supervisor), with spawn
    /// options: give it a name to reach it with
    /// [`TaskSupervisor::named`](crate::TaskSupervisor::named).
    pub fn task_supervisor_opt(id: impl Into<Arc<str>>, opts: SpawnOpts, spec: TaskSpec) -> Self {
        Self::dynamic_supervisor_opt(id, opts, spec.dynamic())
    }

    /// A child started by a function of your own, which must start it
    /// linked to the supervisor (with [`Context::start_link`]).
    pub fn from_start_fn<F>(id: impl Into<Arc<str>>, kind: ChildKind, start: F) -> Self
    where
        F: for<'a> Fn(&'a mut Context<SupervisorMsg>) -> StartFuture<'a> + Send + Sync + 'static,
    {
        Self {
            id: id.into(),
            start: Arc::new(start),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind,
            significant: false,
        }
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child significant for [`AutoShutdown`]; only transient
    /// and temporary children may be.
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// The child's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Gives a closure the higher-ranked signature of a start function.
fn start_fn<F>(start: F) -> F
where
    F: for<'a> Fn(&'a mut Context<SupervisorMsg>) -> StartFuture<'a>,
{
    start
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("significant", &self.significant)
            .finish_non_exhaustive()
    }
}

/// A supervisor's configuration: strategy, restart intensity, auto
/// shutdown and children (started in this order, stopped in reverse).
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: usize,
    pub(crate) period: Duration,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A spec with the given strategy and OTP's default intensity: at most
    /// 1 restart within 5 seconds.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            max_restarts: 1,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
            backoff: None,
            children: Vec::new(),
        }
    }

    /// At most `max_restarts` restarts within `period`; one more and the
    /// supervisor stops its children and exits with `Shutdown`.
    ///
    /// Counted as OTP counts: in whole seconds, a restart stays counted
    /// while `now - then <= period`, so with `intensity(1, 5 s)` a crash 5 s
    /// after the last restart is one too many, and one 6 s after is not.
    pub fn intensity(mut self, max_restarts: usize, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Sets auto shutdown.
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Delays restarts by a [`Backoff`] (an extension; off by default).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Appends a child.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let backoff =
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1)).jitter(0.0);
        let delays: Vec<_> = (0..6).map(|n| backoff.delay(n, 0.7)).collect();
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(200, 0.7), Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_within_bounds() {
        let backoff =
            Backoff::exponential(Duration::from_millis(1000), Duration::from_secs(60)).jitter(0.2);
        assert_eq!(backoff.delay(0, 0.5), Duration::from_millis(1000));
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(800));
        let high = backoff.delay(0, 0.999_999);
        assert!(high > Duration::from_millis(1199) && high <= Duration::from_millis(1200));
    }
}
