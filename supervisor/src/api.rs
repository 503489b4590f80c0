//! Starting supervisors and talking to them.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::{
    CallError, Context, ExitReason, Handle, LookupError, Node, Pid, SpawnError, SpawnOpts,
    StartError, StopError, Timeout,
};
use tokio::sync::oneshot;

use crate::server::{Supervisor, SupervisorArgs, SupervisorMsg};
use crate::spec::{ChildKind, ChildSpec, Restart};
use crate::SupervisorSpec;

/// How long a request to a supervisor may take by default: long, since a
/// supervisor answers only between starting and stopping children.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One child, as [`SupervisorRef::which_children`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildInfo {
    /// Its id.
    pub id: Arc<str>,
    /// Its pid, if it runs.
    pub pid: Option<Pid>,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart type.
    pub restart: Restart,
    /// How many times it has been restarted.
    pub restarts: u64,
}

/// Child counts, as [`SupervisorRef::count_children`] reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ChildCounts {
    /// Children known, running or not.
    pub specs: usize,
    /// Children running.
    pub active: usize,
    /// Children that are supervisors.
    pub supervisors: usize,
    /// Children that are workers.
    pub workers: usize,
}

/// Why a supervisor could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child failed to start; the ones started before it were stopped in
    /// reverse order.
    #[error("child {child:?} failed to start: {reason}")]
    ChildStart {
        /// The child's id.
        child: Arc<str>,
        /// Why it failed.
        reason: ExitReason,
    },
    /// The supervisor itself could not be spawned.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The spec was refused, or the supervisor ended while starting.
    #[error("the supervisor did not start: {0}")]
    Init(ExitReason),
}

/// Why a request about one child failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChildError {
    /// No child has this id.
    #[error("no child {0:?}")]
    NotFound(Arc<str>),
    /// A child with this id runs already.
    #[error("child {0:?} already runs as {1}")]
    AlreadyStarted(Arc<str>, Pid),
    /// A child with this id is known (not running).
    #[error("child {0:?} is already present")]
    AlreadyPresent(Arc<str>),
    /// The child runs: stop it first (OTP's `{error, running}`).
    #[error("child {0:?} runs as {1}; terminate it first")]
    Running(Arc<str>, Pid),
    /// The child's `init` returned `Err(ExitReason::Normal)`, OTP's
    /// `ignore`: it does not run, and its spec is kept (so it can be
    /// restarted or deleted).
    #[error("child {0:?} was ignored: its init ended normally")]
    Ignored(Arc<str>),
    /// A significant child needs auto shutdown and a transient or
    /// temporary restart type.
    #[error("child {0:?} may not be significant here")]
    InvalidSpec(Arc<str>),
    /// The child failed to start.
    #[error("the child failed to start: {0}")]
    Start(ExitReason),
    /// The supervisor did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// A running supervisor.
#[derive(Clone, Debug)]
pub struct SupervisorRef {
    handle: Handle<SupervisorMsg>,
    timeout: Duration,
}

impl SupervisorRef {
    /// Starts a top-level supervisor (linked to nothing) and its children,
    /// in order, returning once all run.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::ChildStart`] naming the child that failed (the
    /// others were stopped again), or why the supervisor did not start.
    pub async fn start(
        node: &Node,
        spec: SupervisorSpec,
        opts: SpawnOpts,
    ) -> Result<Self, SupervisorError> {
        let (failure, failed) = oneshot::channel();
        let started = node
            .start::<Supervisor>(
                SupervisorArgs::reporting(spec, failure),
                opts.trap_exit(true),
            )
            .await;
        Self::started(started, failed)
    }

    /// Starts a supervisor linked to the calling process, as a child of
    /// it.
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start).
    pub async fn start_link<M: Send + 'static>(
        ctx: &mut Context<M>,
        spec: SupervisorSpec,
        opts: SpawnOpts,
    ) -> Result<Self, SupervisorError> {
        let (failure, failed) = oneshot::channel();
        let started = ctx
            .start_link::<Supervisor>(
                SupervisorArgs::reporting(spec, failure),
                opts.trap_exit(true),
            )
            .await;
        Self::started(started, failed)
    }

    fn started(
        started: Result<Handle<SupervisorMsg>, StartError>,
        mut failed: oneshot::Receiver<(Arc<str>, ExitReason)>,
    ) -> Result<Self, SupervisorError> {
        match started {
            Ok(handle) => Ok(Self {
                handle,
                timeout: DEFAULT_TIMEOUT,
            }),
            Err(StartError::Spawn(err)) => Err(SupervisorError::Spawn(err)),
            Err(StartError::Init(reason)) => Err(match failed.try_recv() {
                Ok((child, reason)) => SupervisorError::ChildStart { child, reason },
                Err(_) => SupervisorError::Init(reason),
            }),
            Err(other) => Err(SupervisorError::Init(ExitReason::error(other))),
        }
    }

    /// The supervisor registered as `name` on this node.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotRegistered`] if no process has the name,
    /// [`LookupError::WrongType`] if it is not a supervisor.
    pub fn named(node: &Node, name: &str) -> Result<Self, LookupError> {
        node.named::<SupervisorMsg>(name).map(Self::from)
    }

    /// The supervisor running as `pid` on this node.
    ///
    /// # Errors
    ///
    /// As [`Node::handle`]: not alive, not local, or not a supervisor.
    pub fn from_pid(node: &Node, pid: Pid) -> Result<Self, LookupError> {
        node.handle::<SupervisorMsg>(pid).map(Self::from)
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

    /// Stops the supervisor from outside and waits until it has ended
    /// (OTP's `supervisor:stop/3`): it stops its children in reverse start
    /// order by their shutdown rules, then exits with `reason`.
    ///
    /// # Errors
    ///
    /// As [`Handle::stop`]: [`StopError::NoProc`] if it had ended,
    /// [`StopError::Timeout`] if it has not ended in time.
    pub async fn stop(
        &self,
        reason: ExitReason,
        timeout: impl Into<Timeout>,
    ) -> Result<(), StopError> {
        self.handle.stop(reason, timeout).await
    }

    /// The supervisor's handle.
    pub fn handle(&self) -> &Handle<SupervisorMsg> {
        &self.handle
    }

    /// The children, in start order.
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, CallError> {
        self.handle
            .call(SupervisorMsg::WhichChildren, self.timeout)
            .await
    }

    /// Counts of the children.
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer.
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        self.handle
            .call(SupervisorMsg::CountChildren, self.timeout)
            .await
    }

    /// Adds a child at the end and starts it.
    ///
    /// # Errors
    ///
    /// [`ChildError::AlreadyStarted`] or [`ChildError::AlreadyPresent`] for
    /// a known id, [`ChildError::Start`] if it fails to start,
    /// [`ChildError::Ignored`] if its `init` ended `Normal` (the spec is
    /// kept, as OTP keeps an ignored child).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Pid, ChildError> {
        self.handle
            .call(|r| SupervisorMsg::StartChild(spec, r), self.timeout)
            .await?
    }

    /// Stops a child by its shutdown rule; its spec stays (unless it is
    /// temporary), so it can be restarted or deleted.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] for an unknown id.
    pub async fn terminate_child(&self, id: &str) -> Result<(), ChildError> {
        self.handle
            .call(
                |r| SupervisorMsg::TerminateChild(id.into(), r),
                self.timeout,
            )
            .await?
    }

    /// Starts a stopped child again.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`], [`ChildError::Running`] if it runs (OTP's
    /// `{error, running}`), [`ChildError::Start`] if it fails to start,
    /// [`ChildError::Ignored`] if its `init` ended `Normal`.
    pub async fn restart_child(&self, id: &str) -> Result<Pid, ChildError> {
        self.handle
            .call(|r| SupervisorMsg::RestartChild(id.into(), r), self.timeout)
            .await?
    }

    /// A child's spec (OTP's `get_childspec`), for example to start the
    /// same child under another supervisor.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] for an unknown id.
    #[doc(alias = "get_childspec")]
    pub async fn child_spec(&self, id: &str) -> Result<ChildSpec, ChildError> {
        self.handle
            .call(|r| SupervisorMsg::GetChildSpec(id.into(), r), self.timeout)
            .await?
    }

    /// Forgets a stopped child.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`], or [`ChildError::Running`] if it runs.
    pub async fn delete_child(&self, id: &str) -> Result<(), ChildError> {
        self.handle
            .call(|r| SupervisorMsg::DeleteChild(id.into(), r), self.timeout)
            .await?
    }
}

impl From<Handle<SupervisorMsg>> for SupervisorRef {
    fn from(handle: Handle<SupervisorMsg>) -> Self {
        Self {
            handle,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}
