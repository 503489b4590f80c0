//! The task supervisor, as Elixir's `Task.Supervisor`: futures run as
//! supervised, temporary processes, fire and forget or with a result to
//! await.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beamish_core::{
    async_trait, CallError, Context, ExitReason, ExitWatch, LookupError, Node, Pid, Process,
    SpawnOpts, StartError, StopError, Timeout,
};
use tokio::sync::oneshot;

use crate::api::ChildCounts;
use crate::dynamic::{DynamicError, DynamicRef, DynamicSpec};
use crate::spec::{Restart, Shutdown};

/// How a task supervisor runs its tasks.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    shutdown: Shutdown,
    max_children: Option<usize>,
}

impl TaskSpec {
    /// Tasks stopped with a 5 s `Shutdown` timeout when the supervisor
    /// stops (Elixir's default), no maximum.
    pub fn new() -> Self {
        Self {
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            max_children: None,
        }
    }

    /// Sets how running tasks are stopped when the supervisor stops.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// At most this many tasks at once; more fail with
    /// [`DynamicError::Full`].
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    pub(crate) fn dynamic(&self) -> DynamicSpec<TaskRunner> {
        let spec = DynamicSpec::worker()
            .restart(Restart::Temporary)
            .shutdown(self.shutdown);
        match self.max_children {
            Some(max) => spec.max_children(max),
            None => spec,
        }
    }
}

impl Default for TaskSpec {
    fn default() -> Self {
        Self::new()
    }
}

/// A running task supervisor: each task is a process of its own, started
/// linked to the supervisor, **`Temporary`** (never restarted, whether it
/// returns or crashes) and stopped with the supervisor.
///
/// [`start_child`](Self::start_child) runs a future for its effect;
/// [`async_nolink`](Self::async_nolink) runs one for its result, which
/// [`Task::join`] awaits with a timeout, and a crash of the task reaches
/// the caller as its reason, never as a crash of the caller.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use beamish_core::{ExitReason, Node, SpawnOpts};
/// use beamish_supervisor::{TaskError, TaskSpec, TaskSupervisor};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::new()?;
/// let tasks = TaskSupervisor::start(&node, TaskSpec::new(), SpawnOpts::new()).await?;
///
/// let sum = tasks.async_nolink(async { (1..=10).sum::<u32>() }).await?;
/// assert_eq!(sum.join(Duration::from_secs(1)).await?, 55);
///
/// let boom = tasks.async_nolink(async { panic!("no luck") }).await?;
/// let reason = boom.join(Duration::from_secs(1)).await;
/// assert_eq!(reason, Err(TaskError::Exited(ExitReason::Panic("no luck".into()))));
/// # Ok(())
/// # }
/// ```
pub struct TaskSupervisor {
    inner: DynamicRef<TaskRunner>,
    node: Node,
}

/// Why a task gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// It had not finished within the timeout; it goes on running.
    #[error("the task did not finish in time")]
    Timeout,
    /// It ended without a result, with this reason: `Panic` for a panic,
    /// `Shutdown` if its supervisor stopped it, `Killed` if it was killed.
    #[error("the task exited: {0}")]
    Exited(ExitReason),
}

impl TaskSupervisor {
    /// Starts a task supervisor, linked to nothing.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if it could not be spawned.
    pub async fn start(node: &Node, spec: TaskSpec, opts: SpawnOpts) -> Result<Self, StartError> {
        let inner = DynamicRef::start(node, spec.dynamic(), opts).await?;
        Ok(Self {
            inner,
            node: node.clone(),
        })
    }

    /// Starts a task supervisor linked to the calling process.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if it could not be spawned.
    pub async fn start_link<M: Send + 'static>(
        ctx: &mut Context<M>,
        spec: TaskSpec,
        opts: SpawnOpts,
    ) -> Result<Self, StartError> {
        let inner = DynamicRef::start_link(ctx, spec.dynamic(), opts).await?;
        Ok(Self {
            inner,
            node: ctx.node().clone(),
        })
    }

    /// The task supervisor registered as `name` on this node.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotRegistered`] if no process has the name,
    /// [`LookupError::WrongType`] if it is not a task supervisor.
    pub fn named(node: &Node, name: &str) -> Result<Self, LookupError> {
        Ok(Self {
            inner: DynamicRef::named(node, name)?,
            node: node.clone(),
        })
    }

    /// The task supervisor running as `pid` on this node.
    ///
    /// # Errors
    ///
    /// As [`Node::handle`]: not alive, not local, or not a task
    /// supervisor.
    pub fn from_pid(node: &Node, pid: Pid) -> Result<Self, LookupError> {
        Ok(Self {
            inner: DynamicRef::from_pid(node, pid)?,
            node: node.clone(),
        })
    }

    /// How long requests to the supervisor wait for an answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.inner = self.inner.with_timeout(timeout);
        self
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.inner.pid()
    }

    /// Runs `task` as a supervised, temporary process, for its effect
    /// (Elixir's `Task.Supervisor.start_child`), and returns its pid.
    ///
    /// # Errors
    ///
    /// [`DynamicError::Full`] at the maximum, or why the supervisor did
    /// not start it.
    pub async fn start_child<F>(&self, task: F) -> Result<Pid, DynamicError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.inner.start_child(Job::new(task)).await?;
        let _ = handle.cast(Run).await;
        Ok(handle.pid())
    }

    /// Runs `task` as a supervised, temporary process, not linked to the
    /// caller (Elixir's `Task.Supervisor.async_nolink`): [`Task::join`]
    /// awaits its result, or the reason it ended without one.
    ///
    /// # Errors
    ///
    /// [`DynamicError::Full`] at the maximum, or why the supervisor did
    /// not start it.
    pub async fn async_nolink<F, T>(&self, task: F) -> Result<Task<T>, DynamicError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, result) = oneshot::channel();
        let job = Job::new(async move {
            let _ = tx.send(task.await);
        });
        let handle = self.inner.start_child(job).await?;
        // Watched before it runs, so that no way of ending goes unseen.
        let ended = self.node.monitor(handle.pid());
        let _ = handle.cast(Run).await;
        Ok(Task {
            pid: handle.pid(),
            result,
            ended,
        })
    }

    /// The running tasks' pids, oldest first.
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer.
    pub async fn which_children(&self) -> Result<Vec<Pid>, CallError> {
        let children = self.inner.which_children().await?;
        Ok(children.iter().map(|child| child.pid()).collect())
    }

    /// Counts of the running tasks.
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer.
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        self.inner.count_children().await
    }

    /// Stops a task; a task that has already ended answers `Ok`.
    ///
    /// # Errors
    ///
    /// [`DynamicError::NotFound`] if `pid` is alive but not a task of
    /// this supervisor.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), DynamicError> {
        self.inner.terminate_child(pid).await
    }

    /// Stops the supervisor from outside, its tasks all at once, and waits
    /// until it has ended.
    ///
    /// # Errors
    ///
    /// As [`Handle::stop`].
    pub async fn stop(
        &self,
        reason: ExitReason,
        timeout: impl Into<Timeout>,
    ) -> Result<(), StopError> {
        self.inner.stop(reason, timeout).await
    }
}

impl Clone for TaskSupervisor {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            node: self.node.clone(),
        }
    }
}

impl fmt::Debug for TaskSupervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSupervisor")
            .field("pid", &self.inner.pid())
            .finish_non_exhaustive()
    }
}

/// A task started with [`TaskSupervisor::async_nolink`]: its result, to
/// await with [`join`](Self::join).
#[must_use = "a task's result is lost unless joined"]
pub struct Task<T> {
    pid: Pid,
    result: oneshot::Receiver<T>,
    ended: ExitWatch,
}

impl<T> Task<T> {
    /// The task's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the task's result, at most `timeout` (Elixir's
    /// `Task.await`, without taking the caller down).
    ///
    /// # Errors
    ///
    /// [`TaskError::Timeout`] if it has not finished in time (it goes on
    /// running, and its result is dropped), [`TaskError::Exited`] with
    /// the reason it ended without a result: a panic, a stop by its
    /// supervisor, a kill.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the result; the task runs on.
    pub async fn join(mut self, timeout: impl Into<Timeout>) -> Result<T, TaskError> {
        let wait = async {
            match (&mut self.result).await {
                Ok(value) => Ok(value),
                Err(_) => Err(TaskError::Exited((&mut self.ended).await)),
            }
        };
        match timeout.into() {
            Timeout::Infinity => wait.await,
            Timeout::After(limit) => tokio::time::timeout(limit, wait)
                .await
                .unwrap_or(Err(TaskError::Timeout)),
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").field("pid", &self.pid).finish()
    }
}

type BoxedJob = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A task's future, handed to its process once (a temporary child is
/// never started twice).
#[derive(Clone)]
pub(crate) struct Job(Arc<Mutex<Option<BoxedJob>>>);

impl Job {
    fn new(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(Arc::new(Mutex::new(Some(Box::pin(task)))))
    }

    fn take(&self) -> Option<BoxedJob> {
        match self.0.lock() {
            Ok(mut job) => job.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

/// The message that starts a task once it is watched.
#[derive(Debug)]
pub(crate) struct Run;

/// The process that runs one task, then ends `Normal`.
pub(crate) struct TaskRunner {
    job: Option<BoxedJob>,
}

#[async_trait]
impl Process for TaskRunner {
    type Args = Job;
    type Msg = Run;

    async fn init(_ctx: &mut Context<Run>, job: Job) -> Result<Self, ExitReason> {
        Ok(TaskRunner { job: job.take() })
    }

    async fn handle(&mut self, ctx: &mut Context<Run>, _run: Run) -> Result<(), ExitReason> {
        if let Some(job) = self.job.take() {
            job.await;
        }
        ctx.stop(ExitReason::Normal);
        Ok(())
    }
}
