//! The dynamic supervisor: one-for-one supervision of workers created at
//! run time from a template, up to a maximum number.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use beamish_core::{
    async_trait, CallError, Context, ExitReason, Handle, Node, Pid, Process, ReplyTo, Signal,
    SpawnOpts, StartError,
};
use tokio::time::Instant;
use tracing::{error, warn};

use crate::api::DEFAULT_TIMEOUT;
use crate::intensity::Intensity;
use crate::server::stop;
use crate::spec::{Restart, Shutdown, StartFuture};

type TemplateFn<A> =
    dyn for<'a> Fn(&'a mut Context<DynamicMsg<A>>, A) -> StartFuture<'a> + Send + Sync;

/// How a dynamic supervisor starts, restarts and stops its children, all
/// made from one template with per-child arguments `A`.
pub struct DynamicSpec<A> {
    template: Arc<TemplateFn<A>>,
    restart: Restart,
    shutdown: Shutdown,
    max_children: Option<usize>,
    max_restarts: usize,
    period: Duration,
}

impl<A: Clone + Send + Sync + 'static> DynamicSpec<A> {
    /// Children running `P`, each started with its own arguments (kept, so
    /// a restart gets them again); permanent, stopped with a 5 s timeout,
    /// no maximum, OTP's default intensity of 1 restart in 5 s.
    pub fn worker<P: Process<Args = A>>() -> Self {
        Self::worker_opt::<P>(SpawnOpts::new())
    }

    /// Like [`worker`](Self::worker), with spawn options for every child.
    pub fn worker_opt<P: Process<Args = A>>(opts: SpawnOpts) -> Self {
        Self {
            template: Arc::new(template(move |ctx, args| {
                let opts = opts.clone();
                Box::pin(async move { ctx.start_link::<P>(args, opts).await.map(|h| h.pid()) })
            })),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            max_children: None,
            max_restarts: 1,
            period: Duration::from_secs(5),
        }
    }

    /// Sets the restart type of every child.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how children are stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// At most this many children at once; `start_child` beyond it fails
    /// with [`DynamicError::Full`].
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// At most `max_restarts` restarts within `period`.
    pub fn intensity(mut self, max_restarts: usize, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }
}

/// Gives a closure the higher-ranked signature of a template.
fn template<A, F>(start: F) -> F
where
    F: for<'a> Fn(&'a mut Context<DynamicMsg<A>>, A) -> StartFuture<'a>,
{
    start
}

impl<A> fmt::Debug for DynamicSpec<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSpec")
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("max_children", &self.max_children)
            .field("max_restarts", &self.max_restarts)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

/// Why a request to a dynamic supervisor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DynamicError {
    /// The supervisor runs its maximum number of children.
    #[error("the supervisor already runs its maximum of {max} children")]
    Full {
        /// The maximum.
        max: usize,
    },
    /// The pid is not a child of this supervisor.
    #[error("{0} is not a child of this supervisor")]
    NotFound(Pid),
    /// The child failed to start.
    #[error("the child failed to start: {0}")]
    Start(ExitReason),
    /// The supervisor did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// The requests a dynamic supervisor answers; use them through
/// [`DynamicRef`].
#[non_exhaustive]
pub enum DynamicMsg<A> {
    /// Start a child with these arguments.
    StartChild(A, ReplyTo<Result<Pid, DynamicError>>),
    /// Stop a child.
    TerminateChild(Pid, ReplyTo<Result<(), DynamicError>>),
    /// The children's pids, oldest first.
    WhichChildren(ReplyTo<Vec<Pid>>),
}

impl<A> fmt::Debug for DynamicMsg<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StartChild(..) => f.write_str("StartChild(..)"),
            Self::TerminateChild(pid, _) => f.debug_tuple("TerminateChild").field(pid).finish(),
            Self::WhichChildren(_) => f.write_str("WhichChildren(..)"),
        }
    }
}

struct DynChild<A> {
    pid: Pid,
    args: A,
}

struct DynamicSupervisor<A> {
    spec: DynamicSpec<A>,
    intensity: Intensity,
    children: Vec<DynChild<A>>,
}

#[async_trait]
impl<A: Clone + Send + Sync + 'static> Process for DynamicSupervisor<A> {
    type Args = DynamicSpec<A>;
    type Msg = DynamicMsg<A>;

    async fn init(
        ctx: &mut Context<DynamicMsg<A>>,
        spec: DynamicSpec<A>,
    ) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        Ok(DynamicSupervisor {
            intensity: Intensity::new(spec.max_restarts, spec.period),
            spec,
            children: Vec::new(),
        })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<DynamicMsg<A>>,
        msg: DynamicMsg<A>,
    ) -> Result<(), ExitReason> {
        match msg {
            DynamicMsg::StartChild(args, reply) => {
                reply.reply(self.start_child(ctx, args).await);
            }
            DynamicMsg::TerminateChild(pid, reply) => {
                let result = match self.children.iter().position(|c| c.pid == pid) {
                    Some(at) => {
                        self.children.remove(at);
                        stop(ctx, pid, self.spec.shutdown).await;
                        Ok(())
                    }
                    None => Err(DynamicError::NotFound(pid)),
                };
                reply.reply(result);
            }
            DynamicMsg::WhichChildren(reply) => {
                reply.reply(self.children.iter().map(|c| c.pid).collect());
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<DynamicMsg<A>>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let Signal::Exit { from, reason } = signal else {
            return Ok(());
        };
        if Some(from) == ctx.parent() || from == ctx.node().pid() {
            return Err(reason);
        }
        let Some(at) = self.children.iter().position(|c| c.pid == from) else {
            return Ok(());
        };
        let child = self.children.remove(at);
        let restart = match self.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !matches!(reason, ExitReason::Normal | ExitReason::Shutdown),
            Restart::Temporary => false,
        };
        if !restart || ctx.node().is_stopping() {
            return Ok(());
        }
        warn!(child = %from, %reason, "child ended; restarting");
        loop {
            if !self.intensity.allow(Instant::now()) {
                error!("restart intensity reached; shutting down");
                return Err(ExitReason::Shutdown);
            }
            match self.start(ctx, child.args.clone()).await {
                Ok(pid) => {
                    // The restarted child keeps its place among the others.
                    self.children.insert(
                        at,
                        DynChild {
                            pid,
                            args: child.args,
                        },
                    );
                    return Ok(());
                }
                Err(reason) if ctx.node().is_stopping() => return Err(reason),
                Err(reason) => warn!(%reason, "restart failed; trying again"),
            }
        }
    }

    async fn terminate(&mut self, ctx: &mut Context<DynamicMsg<A>>, _reason: &ExitReason) {
        while let Some(child) = self.children.pop() {
            stop(ctx, child.pid, self.spec.shutdown).await;
        }
    }
}

impl<A: Clone + Send + Sync + 'static> DynamicSupervisor<A> {
    async fn start_child(
        &mut self,
        ctx: &mut Context<DynamicMsg<A>>,
        args: A,
    ) -> Result<Pid, DynamicError> {
        if let Some(max) = self.spec.max_children {
            if self.children.len() >= max {
                return Err(DynamicError::Full { max });
            }
        }
        let pid = self
            .start(ctx, args.clone())
            .await
            .map_err(DynamicError::Start)?;
        self.children.push(DynChild { pid, args });
        Ok(pid)
    }

    async fn start(&self, ctx: &mut Context<DynamicMsg<A>>, args: A) -> Result<Pid, ExitReason> {
        (self.spec.template)(ctx, args)
            .await
            .map_err(|err| match err {
                StartError::Init(reason) => reason,
                other => ExitReason::error(other),
            })
    }
}

/// A running dynamic supervisor whose children take arguments `A`.
pub struct DynamicRef<A> {
    handle: Handle<DynamicMsg<A>>,
    timeout: Duration,
}

impl<A: Clone + Send + Sync + 'static> DynamicRef<A> {
    /// Starts a dynamic supervisor, linked to nothing.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if it could not be spawned.
    pub async fn start(
        node: &Node,
        spec: DynamicSpec<A>,
        opts: SpawnOpts,
    ) -> Result<Self, StartError> {
        let handle = node
            .start::<DynamicSupervisor<A>>(spec, opts.trap_exit(true))
            .await?;
        Ok(Self {
            handle,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Starts a dynamic supervisor linked to the calling process.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if it could not be spawned.
    pub async fn start_link<M: Send + 'static>(
        ctx: &mut Context<M>,
        spec: DynamicSpec<A>,
        opts: SpawnOpts,
    ) -> Result<Self, StartError> {
        let handle = ctx
            .start_link::<DynamicSupervisor<A>>(spec, opts.trap_exit(true))
            .await?;
        Ok(Self {
            handle,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// How long requests wait for an answer (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.handle.pid()
    }

    /// Starts a child with `args`.
    ///
    /// # Errors
    ///
    /// [`DynamicError::Full`] at the maximum, [`DynamicError::Start`] if
    /// the child fails to start.
    pub async fn start_child(&self, args: A) -> Result<Pid, DynamicError> {
        self.handle
            .call(|r| DynamicMsg::StartChild(args, r), self.timeout)
            .await?
    }

    /// Stops a child by the shutdown rule and forgets it.
    ///
    /// # Errors
    ///
    /// [`DynamicError::NotFound`] if it is not a child.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), DynamicError> {
        self.handle
            .call(|r| DynamicMsg::TerminateChild(pid, r), self.timeout)
            .await?
    }

    /// The children's pids, oldest first.
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer.
    pub async fn which_children(&self) -> Result<Vec<Pid>, CallError> {
        self.handle
            .call(DynamicMsg::WhichChildren, self.timeout)
            .await
    }
}

impl<A> Clone for DynamicRef<A> {
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
            timeout: self.timeout,
        }
    }
}

impl<A> fmt::Debug for DynamicRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicRef")
            .field("pid", &self.handle)
            .finish_non_exhaustive()
    }
}
