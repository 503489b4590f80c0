//! What a supervisor is told: its children and how to treat them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use beamish_core::{Context, Pid, Process, SpawnOpts, StartError};

use crate::server::SupervisorMsg;

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
        let start = start_fn(move |ctx| {
            let spec = spec.clone();
            Box::pin(async move {
                ctx.start_link::<crate::server::Supervisor>(
                    crate::server::SupervisorArgs::new(spec),
                    SpawnOpts::new().trap_exit(true),
                )
                .await
                .map(|h| h.pid())
            })
        });
        let mut child = Self::from_start_fn(id, ChildKind::Supervisor, start);
        child.shutdown = Shutdown::Infinity;
        child
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
            children: Vec::new(),
        }
    }

    /// At most `max_restarts` restarts within `period`; one more and the
    /// supervisor stops its children and exits with `Shutdown`.
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

    /// Appends a child.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}
