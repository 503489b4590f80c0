//! The dynamic supervisor: one-for-one supervision of children started at
//! run time, all running one [`Process`] type with arguments of their own,
//! up to a maximum number; reachable by name, from this node or another;
//! its children stopped all at once.

mod addr;
mod remote;
mod server;

use std::fmt;
use std::time::Duration;

use beamish_core::{
    CallError, Context, ExitReason, Handle, LookupError, Node, Pid, Process, ReplyTo, SpawnOpts,
    StartError, StopError, Timeout,
};

pub use addr::{DynamicAddr, DynamicChildAddr};
pub use remote::{DynamicRequest, RemoteChild};
pub(crate) use server::DynamicSupervisor;

use crate::api::{ChildCounts, DEFAULT_TIMEOUT};
use crate::spec::{ChildKind, Restart, Shutdown};

/// How a dynamic supervisor starts, restarts and stops its children, each
/// running `P` with its own `P::Args`.
///
/// # Restart type: `Permanent` unless you say otherwise
///
/// As in OTP and Elixir, a child is **`Permanent` by default: restarted
/// whenever it ends, even normally**, with the arguments it was started
/// with. A worker that does one job and returns would run its job again
/// and again, and soon exceed the restart intensity, which takes the
/// supervisor (and, by escalation, its tree) down. For one-shot work, set
/// [`Restart::Transient`] (restarted only after a crash) or
/// [`Restart::Temporary`] (never restarted) with
/// [`restart`](Self::restart), or use a
/// [`TaskSupervisor`](crate::TaskSupervisor).
pub struct DynamicSpec<P: Process> {
    opts: SpawnOpts,
    restart: Restart,
    shutdown: Shutdown,
    kind: ChildKind,
    max_children: Option<usize>,
    max_restarts: usize,
    period: Duration,
    /// Exports the supervisor itself, set by [`exported`](Self::exported).
    export: Option<fn(SpawnOpts) -> SpawnOpts>,
    _process: std::marker::PhantomData<fn() -> P>,
}

impl<P: Process> DynamicSpec<P>
where
    P::Args: Clone,
{
    /// Children running `P`: **`Permanent`** (see above), stopped with a
    /// 5 s `Shutdown` timeout, no maximum, OTP's default intensity of 1
    /// restart in 5 s.
    pub fn worker() -> Self {
        Self::worker_opt(SpawnOpts::new())
    }

    /// Like [`worker`](Self::worker), with spawn options for every child.
    pub fn worker_opt(opts: SpawnOpts) -> Self {
        Self {
            opts,
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildKind::Worker,
            max_children: None,
            max_restarts: 1,
            period: Duration::from_secs(5),
            export: None,
            _process: std::marker::PhantomData,
        }
    }

    /// Sets the restart type of every child (default `Permanent`).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how children are stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Says the children are supervisors (counted as such by
    /// [`count_children`](DynamicRef::count_children)).
    pub fn kind(mut self, kind: ChildKind) -> Self {
        self.kind = kind;
        self
    }

    /// At most this many children at once; `start_child` beyond it fails
    /// with [`DynamicError::Full`].
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// At most `max_restarts` restarts within `period`, counted as
    /// [`SupervisorSpec::intensity`](crate::SupervisorSpec::intensity)
    /// counts them.
    pub fn intensity(mut self, max_restarts: usize, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }
}

impl<P: Process> DynamicSpec<P> {
    /// The supervisor's own spawn options: trapping exits, and exported
    /// if the spec says so.
    pub(crate) fn supervisor_opts(&self, opts: SpawnOpts) -> SpawnOpts {
        let opts = opts.trap_exit(true);
        match self.export {
            Some(export) => export(opts),
            None => opts,
        }
    }
}

impl<P: Process> Clone for DynamicSpec<P> {
    fn clone(&self) -> Self {
        Self {
            opts: self.opts.clone(),
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
            max_children: self.max_children,
            max_restarts: self.max_restarts,
            period: self.period,
            export: self.export,
            _process: std::marker::PhantomData,
        }
    }
}

impl<P: Process> fmt::Debug for DynamicSpec<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSpec")
            .field("process", &std::any::type_name::<P>())
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("max_children", &self.max_children)
            .field("max_restarts", &self.max_restarts)
            .field("period", &self.period)
            .field("exported", &self.export.is_some())
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
    /// The pid is a live process but not a child of this supervisor.
    #[error("{0} is not a child of this supervisor")]
    NotFound(Pid),
    /// The child failed to start.
    #[error("the child failed to start: {0}")]
    Start(ExitReason),
    /// The child's `init` returned `Err(ExitReason::Normal)`, OTP's
    /// `ignore`: nothing was started and nothing is kept.
    #[error("the child was ignored: its init ended normally")]
    Ignored,
    /// The supervisor did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// One running child of a dynamic supervisor.
#[non_exhaustive]
pub struct DynamicChild<M> {
    /// Its handle.
    pub handle: Handle<M>,
    /// How many times it has been restarted (each time with a new pid).
    pub restarts: u64,
}

impl<M: Send + 'static> DynamicChild<M> {
    /// Its pid.
    pub fn pid(&self) -> Pid {
        self.handle.pid()
    }
}

impl<M> Clone for DynamicChild<M> {
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
            restarts: self.restarts,
        }
    }
}

impl<M> fmt::Debug for DynamicChild<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicChild")
            .field("handle", &self.handle)
            .field("restarts", &self.restarts)
            .finish()
    }
}

/// The requests a dynamic supervisor answers; use them through
/// [`DynamicRef`].
#[non_exhaustive]
pub enum DynamicMsg<P: Process> {
    /// Start a child with these arguments.
    StartChild(P::Args, ReplyTo<Result<Handle<P::Msg>, DynamicError>>),
    /// Stop a child.
    TerminateChild(Pid, ReplyTo<Result<(), DynamicError>>),
    /// The running children, oldest first.
    WhichChildren(ReplyTo<Vec<DynamicChild<P::Msg>>>),
    /// Count the children.
    CountChildren(ReplyTo<ChildCounts>),
    /// A request from another node, through a [`DynamicAddr`].
    Remote(DynamicRequest<P>),
}

impl<P: Process> fmt::Debug for DynamicMsg<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StartChild(..) => f.write_str("StartChild(..)"),
            Self::TerminateChild(pid, _) => f.debug_tuple("TerminateChild").field(pid).finish(),
            Self::WhichChildren(_) => f.write_str("WhichChildren(..)"),
            Self::CountChildren(_) => f.write_str("CountChildren(..)"),
            Self::Remote(request) => f.debug_tuple("Remote").field(request).finish(),
        }
    }
}

/// A running dynamic supervisor whose children run `P`.
///
/// Get one by starting the supervisor ([`start`](Self::start),
/// [`start_link`](Self::start_link), or under a supervisor with
/// [`ChildSpec::dynamic_supervisor`](crate::ChildSpec::dynamic_supervisor)),
/// or by finding a running one: [`named`](Self::named),
/// [`from_pid`](Self::from_pid).
///
/// # Examples
///
/// ```
/// use beamish_core::{async_trait, Context, ExitReason, Node, Process, SpawnOpts};
/// use beamish_supervisor::{DynamicRef, DynamicSpec, Restart};
///
/// struct Session(String);
///
/// #[async_trait]
/// impl Process for Session {
///     type Args = String;
///     type Msg = ();
///     async fn init(_: &mut Context<()>, user: String) -> Result<Self, ExitReason> {
///         Ok(Session(user))
///     }
///     async fn handle(&mut self, _: &mut Context<()>, _: ()) -> Result<(), ExitReason> {
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::new()?;
/// let spec = DynamicSpec::<Session>::worker().restart(Restart::Transient);
/// DynamicRef::start(&node, spec, SpawnOpts::new().name("sessions")).await?;
///
/// // Elsewhere, by name:
/// let sessions = DynamicRef::<Session>::named(&node, "sessions")?;
/// let ada = sessions.start_child("ada".to_owned()).await?;
/// ada.cast(()).await?;
/// assert_eq!(sessions.count_children().await?.active, 1);
/// # Ok(())
/// # }
/// ```
pub struct DynamicRef<P: Process> {
    handle: Handle<DynamicMsg<P>>,
    timeout: Duration,
}

impl<P: Process> DynamicRef<P>
where
    P::Args: Clone,
{
    /// Starts a dynamic supervisor, linked to nothing.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if it could not be spawned.
    pub async fn start(
        node: &Node,
        spec: DynamicSpec<P>,
        opts: SpawnOpts,
    ) -> Result<Self, StartError> {
        let opts = spec.supervisor_opts(opts);
        let handle = node.start::<DynamicSupervisor<P>>(spec, opts).await?;
        Ok(Self::from(handle))
    }

    /// Starts a dynamic supervisor linked to the calling process.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if it could not be spawned.
    pub async fn start_link<M: Send + 'static>(
        ctx: &mut Context<M>,
        spec: DynamicSpec<P>,
        opts: SpawnOpts,
    ) -> Result<Self, StartError> {
        let opts = spec.supervisor_opts(opts);
        let handle = ctx.start_link::<DynamicSupervisor<P>>(spec, opts).await?;
        Ok(Self::from(handle))
    }

    /// The dynamic supervisor registered as `name` on this node.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotRegistered`] if no process has the name,
    /// [`LookupError::WrongType`] if it is not a dynamic supervisor of `P`.
    pub fn named(node: &Node, name: &str) -> Result<Self, LookupError> {
        node.named::<DynamicMsg<P>>(name).map(Self::from)
    }

    /// The dynamic supervisor running as `pid` on this node.
    ///
    /// # Errors
    ///
    /// As [`Node::handle`]: not alive, not local, or not a dynamic
    /// supervisor of `P`.
    pub fn from_pid(node: &Node, pid: Pid) -> Result<Self, LookupError> {
        node.handle::<DynamicMsg<P>>(pid).map(Self::from)
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

    /// The supervisor's handle.
    pub fn handle(&self) -> &Handle<DynamicMsg<P>> {
        &self.handle
    }

    /// Starts a child with `args` and returns its handle. A restart gives
    /// the child a new pid, which this handle does not follow: register
    /// a name, or ask [`which_children`](Self::which_children).
    ///
    /// # Errors
    ///
    /// [`DynamicError::Full`] at the maximum, [`DynamicError::Start`] if
    /// the child fails to start, [`DynamicError::Ignored`] if its `init`
    /// ended `Normal`.
    pub async fn start_child(&self, args: P::Args) -> Result<Handle<P::Msg>, DynamicError> {
        self.handle
            .call(|r| DynamicMsg::StartChild(args, r), self.timeout)
            .await?
    }

    /// Stops a child by the shutdown rule and forgets it. A pid that is no
    /// longer alive answers `Ok`, as in OTP: it has nothing to stop.
    ///
    /// # Errors
    ///
    /// [`DynamicError::NotFound`] if it is alive but not a child.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), DynamicError> {
        self.handle
            .call(|r| DynamicMsg::TerminateChild(pid, r), self.timeout)
            .await?
    }

    /// The running children, oldest first (a restarted child keeps its
    /// place).
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer.
    pub async fn which_children(&self) -> Result<Vec<DynamicChild<P::Msg>>, CallError> {
        self.handle
            .call(DynamicMsg::WhichChildren, self.timeout)
            .await
    }

    /// Counts of the children: all of them are active, and all workers
    /// (or all supervisors, by the spec's [`kind`](DynamicSpec::kind)).
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer.
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        self.handle
            .call(DynamicMsg::CountChildren, self.timeout)
            .await
    }

    /// Stops the supervisor from outside and waits until it has ended: its
    /// children are stopped all at once, then it exits with `reason`.
    ///
    /// # Errors
    ///
    /// As [`Handle::stop`].
    pub async fn stop(
        &self,
        reason: ExitReason,
        timeout: impl Into<Timeout>,
    ) -> Result<(), StopError> {
        self.handle.stop(reason, timeout).await
    }
}

impl<P: Process> From<Handle<DynamicMsg<P>>> for DynamicRef<P> {
    fn from(handle: Handle<DynamicMsg<P>>) -> Self {
        Self {
            handle,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl<P: Process> Clone for DynamicRef<P> {
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
            timeout: self.timeout,
        }
    }
}

impl<P: Process> fmt::Debug for DynamicRef<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicRef")
            .field("pid", &self.handle)
            .finish_non_exhaustive()
    }
}
