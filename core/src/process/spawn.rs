//! Spawning processes: the options, and what a new process is given.

use std::any::Any;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::cell::Shared;
use super::mailbox::MailboxSize;
use super::run::task;
use crate::node::{AnyProcess, Watcher};
use crate::{Context, ExitReason, Handle, MonitorRef, Node, Pid, Process, SpawnError, StartError};

impl Node {
    /// Spawns a process, unlinked, with default options. `init` runs in the
    /// new process; messages sent meanwhile wait for it.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NodeStopping`] once [`shutdown`](Self::shutdown) has
    /// begun.
    pub fn spawn<P: Process>(&self, args: P::Args) -> Result<Handle<P::Msg>, SpawnError> {
        self.spawn_opt::<P>(args, SpawnOpts::default())
    }

    /// Spawns a process with options (a name, a bounded mailbox, an idle
    /// timeout, trapping exits from the start).
    ///
    /// # Errors
    ///
    /// [`SpawnError::NodeStopping`] once shutdown has begun,
    /// [`SpawnError::Register`] if the name is taken; nothing is started
    /// then.
    pub fn spawn_opt<P: Process>(
        &self,
        args: P::Args,
        opts: SpawnOpts,
    ) -> Result<Handle<P::Msg>, SpawnError> {
        spawn::<P>(self, args, &opts, None, None).map(|(handle, _)| handle)
    }

    /// Spawns a process and waits until its `init` has succeeded, like
    /// `gen_server:start`.
    ///
    /// # Errors
    ///
    /// [`StartError::Spawn`] if it could not be spawned,
    /// [`StartError::Init`] with the reason if `init` failed.
    pub async fn start<P: Process>(
        &self,
        args: P::Args,
        opts: SpawnOpts,
    ) -> Result<Handle<P::Msg>, StartError> {
        start::<P>(self, args, &opts, None)
            .await
            .map(|(handle, _)| handle)
    }
}

/// Options for spawning a process, in the spirit of Erlang's `spawn_opt`.
///
/// # Examples
///
/// ```
/// use beamish_core::{MailboxSize, SpawnOpts};
/// use std::time::Duration;
///
/// let opts = SpawnOpts::new()
///     .name("mailer")
///     .mailbox(MailboxSize::Bounded(1_000))
///     .idle_timeout(Duration::from_secs(30));
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
pub struct SpawnOpts {
    pub(crate) name: Option<String>,
    pub(crate) mailbox: MailboxSize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) trap_exit: bool,
    pub(crate) high_water: Option<usize>,
    pub(crate) on_spawn: Option<OnSpawn>,
}

/// What is done with a new process's handle before anyone can reach it
/// (exporting it, say), for one message type.
pub(crate) type SpawnHook<M> = Arc<dyn Fn(&Node, &Handle<M>) + Send + Sync>;

/// A [`SpawnHook`] for the message type named `for_type`.
#[derive(Clone)]
pub(crate) struct OnSpawn {
    /// A `SpawnHook<M>`.
    pub(crate) hook: Arc<dyn Any + Send + Sync>,
    pub(crate) for_type: &'static str,
    /// What it does, for `Debug`.
    pub(crate) what: &'static str,
}

impl fmt::Debug for OnSpawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} for {}", self.what, self.for_type)
    }
}

/// How many messages may wait in a mailbox before the node warns that
/// its process does not keep up (see [`SpawnOpts::mailbox_high_water`]).
pub const DEFAULT_MAILBOX_HIGH_WATER: usize = 10_000;

impl SpawnOpts {
    /// Default options: no name, unbounded mailbox, no idle timeout, not
    /// trapping exits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the process under `name` before it starts; the spawn fails
    /// if the name is taken.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The mailbox size.
    pub fn mailbox(mut self, size: MailboxSize) -> Self {
        self.mailbox = size;
        self
    }

    /// Delivers [`Signal::IdleTimeout`](crate::Signal::IdleTimeout) when no message arrived for
    /// `timeout`.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Warns when this many messages wait in the mailbox: the process
    /// receives faster than it handles. The warning names the process and
    /// comes at most once every 10 s for it; an unbounded mailbox is not
    /// limited by it (bound it with [`mailbox`](Self::mailbox) for that).
    /// [`DEFAULT_MAILBOX_HIGH_WATER`] by default; `usize::MAX` never warns.
    pub fn mailbox_high_water(mut self, messages: usize) -> Self {
        self.high_water = Some(messages);
        self
    }

    /// Traps exits from the start, before `init` runs (as supervisors do).
    pub fn trap_exit(mut self, trap: bool) -> Self {
        self.trap_exit = trap;
        self
    }
}

/// How a new process relates to the process spawning it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relation {
    Child,
    Linked,
    Monitored,
}

pub(crate) type Started = oneshot::Sender<Result<(), ExitReason>>;

pub(crate) fn spawn<P: Process>(
    node: &Node,
    args: P::Args,
    opts: &SpawnOpts,
    parent: Option<(&dyn AnyProcess, Relation)>,
    started: Option<Started>,
) -> Result<(Handle<P::Msg>, Option<MonitorRef>), SpawnError> {
    let inner = &node.inner;
    if inner.stopping.load(Ordering::Acquire) {
        return Err(SpawnError::NodeStopping);
    }
    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
    let pid = Pid::new(inner.name, id, inner.creation);
    let parent_pid = parent.map(|(proc, _)| proc.core().pid);
    let shared = Arc::new(Shared::<P::Msg>::new(
        pid,
        std::any::type_name::<P>(),
        parent_pid,
        opts.mailbox,
        Arc::clone(&inner.counters),
    ));
    if let Some(on_spawn) = &opts.on_spawn {
        let Some(hook) = on_spawn.hook.downcast_ref::<SpawnHook<P::Msg>>() else {
            return Err(SpawnError::OptionsType {
                takes: std::any::type_name::<P::Msg>(),
                given: on_spawn.for_type,
            });
        };
        hook(
            node,
            &Handle {
                shared: Arc::clone(&shared),
            },
        );
    }
    if opts.trap_exit {
        shared.core.trap_exit.store(true, Ordering::Release);
    }
    inner
        .table
        .insert(id, Arc::clone(&shared) as Arc<dyn AnyProcess>);
    if let Some(name) = &opts.name {
        if let Err(err) = inner.register(name, &*shared) {
            inner.table.remove(&id);
            return Err(err.into());
        }
    }
    let mut mref = None;
    if let Some((parent, relation)) = parent {
        // The child is not running yet, so nothing can race these.
        match relation {
            Relation::Child => {}
            Relation::Linked => {
                shared
                    .core
                    .sig
                    .lock()
                    .rel_mut()
                    .links
                    .push(parent.core().pid);
                parent.core().sig.lock().rel_mut().links.push(pid);
            }
            Relation::Monitored => {
                let r = inner.new_ref();
                shared
                    .core
                    .sig
                    .lock()
                    .rel_mut()
                    .monitored_by
                    .push((r, Watcher::Process(parent.core().pid)));
                parent.core().sig.lock().rel_mut().monitoring.push((r, pid));
                mref = Some(r);
            }
        }
    }
    inner.counters.spawned.fetch_add(1, Ordering::Relaxed);
    // A root span: a child's log lines name the child, not its parent too.
    let span = tracing::error_span!(parent: None, "process", %pid, name = opts.name.as_deref());
    let ctx = Context::new(node.clone(), Arc::clone(&shared), opts.idle_timeout);
    let high_water = opts.high_water.unwrap_or(DEFAULT_MAILBOX_HIGH_WATER);
    drop(
        inner
            .runtime
            .spawn(task::<P>(ctx, args, started, span, high_water)),
    );
    Ok((Handle { shared }, mref))
}

pub(crate) async fn start<P: Process>(
    node: &Node,
    args: P::Args,
    opts: &SpawnOpts,
    parent: Option<(&dyn AnyProcess, Relation)>,
) -> Result<(Handle<P::Msg>, Option<MonitorRef>), StartError> {
    let (tx, rx) = oneshot::channel();
    let spawned = spawn::<P>(node, args, opts, parent, Some(tx))?;
    match rx.await {
        Ok(Ok(())) => Ok(spawned),
        Ok(Err(reason)) => Err(StartError::Init(reason)),
        Err(_) => Err(StartError::Init(ExitReason::Killed)),
    }
}
