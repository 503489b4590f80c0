//! The node: owner of processes, the registry and the counters.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::cell::{AnyProcess, Counters, Shared, Watcher};
use crate::info::{Failure, NodeStats, ProcessInfo};
use crate::runtime::{self, SpawnOpts};
use crate::signals::ExitWatch;
use crate::{
    Creation, ExitReason, Handle, LookupError, NamedSendError, NodeError, NodeName, Pid, Process,
    RegisterError, SpawnError, StartError,
};

/// A running node: spawns processes and answers for them.
///
/// Cheap to clone; every clone is the same node. The node lives as long as
/// any clone or any of its processes.
///
/// # Examples
///
/// ```
/// use beamish_core::Node;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), beamish_core::NodeError> {
/// let node = Node::builder().name("orders@localhost").build()?;
/// assert_eq!(node.name().as_str(), "orders@localhost");
/// assert!(node.processes().is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

pub(crate) struct NodeInner {
    pub(crate) name: NodeName,
    pub(crate) creation: Creation,
    pub(crate) next_id: AtomicU64,
    pub(crate) next_ref: AtomicU64,
    pub(crate) table: DashMap<u64, Arc<dyn AnyProcess>>,
    pub(crate) registry: Mutex<HashMap<Arc<str>, Pid>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) stopping: AtomicBool,
    pub(crate) unobserved: AtomicU64,
    pub(crate) failures: Mutex<VecDeque<Failure>>,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
}

/// Configures and builds a [`Node`].
#[derive(Debug, Default)]
pub struct NodeBuilder {
    name: Option<String>,
    creation: Option<Creation>,
    runtime: Option<tokio::runtime::Handle>,
}

impl NodeBuilder {
    /// The node's name (`name@host`); `nonode@nohost` if not set.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A fixed creation instead of a fresh one (for tests that need
    /// reproducible pids).
    pub fn creation(mut self, creation: Creation) -> Self {
        self.creation = Some(creation);
        self
    }

    /// The tokio runtime the node's processes run on; by default the one
    /// the builder is called in.
    pub fn runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Builds the node.
    ///
    /// # Errors
    ///
    /// [`NodeError::Name`] for an invalid name, [`NodeError::NoRuntime`]
    /// if no runtime was given and none is running.
    pub fn build(self) -> Result<Node, NodeError> {
        let name = match &self.name {
            Some(name) => NodeName::new(name)?,
            None => NodeName::local_default(),
        };
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => tokio::runtime::Handle::try_current().map_err(|_| NodeError::NoRuntime)?,
        };
        Ok(Node {
            inner: Arc::new(NodeInner {
                name,
                creation: self.creation.unwrap_or_else(Creation::fresh),
                // Id 0 stands for the node itself.
                next_id: AtomicU64::new(1),
                next_ref: AtomicU64::new(1),
                table: DashMap::new(),
                registry: Mutex::new(HashMap::new()),
                counters: Arc::new(Counters::default()),
                stopping: AtomicBool::new(false),
                unobserved: AtomicU64::new(0),
                failures: Mutex::new(VecDeque::new()),
                runtime,
                cluster: std::sync::OnceLock::new(),
            }),
        })
    }
}

impl Node {
    /// A node named `nonode@nohost` on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`NodeError::NoRuntime`] outside a tokio runtime.
    pub fn new() -> Result<Self, NodeError> {
        Self::builder().build()
    }

    /// A builder for a node with a name or runtime of its choosing.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// The node's name.
    pub fn name(&self) -> NodeName {
        self.inner.name
    }

    /// The node's creation.
    pub fn creation(&self) -> Creation {
        self.inner.creation
    }

    /// The pid that stands for the node itself: signals the node sends (for
    /// example at shutdown) come from it, and outside watchers are shown as
    /// it.
    pub fn pid(&self) -> Pid {
        Pid::new(self.inner.name, 0, self.inner.creation)
    }

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
        runtime::spawn::<P>(self, args, &opts, None, None).map(|(handle, _)| handle)
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
        runtime::start::<P>(self, args, &opts, None)
            .await
            .map(|(handle, _)| handle)
    }

    /// Sends an exit signal from the node to `pid` (see
    /// [`Context::exit`](crate::Context::exit) for what it does). Nothing
    /// happens if `pid` is not alive.
    pub fn exit(&self, pid: Pid, reason: ExitReason) {
        self.inner.exit(self.pid(), pid, reason);
    }

    /// Watches a process from outside any process: the returned future
    /// resolves to its exit reason (`NoProc` at once if it is not alive).
    pub fn monitor(&self, pid: Pid) -> ExitWatch {
        self.inner.watch(pid)
    }

    /// Whether [`shutdown`](Self::shutdown) has begun (no new process can
    /// be spawned). Supervisors use it not to restart what the node stops.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Whether `pid` is a live process of this node.
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.inner.lookup(pid).is_some()
    }

    /// A typed handle to a live local process.
    ///
    /// # Errors
    ///
    /// [`LookupError::NoProc`] if it is not alive, [`LookupError::NotLocal`]
    /// for another node's pid, [`LookupError::WrongType`] if it takes
    /// another message type than `M`.
    pub fn handle<M: Send + 'static>(&self, pid: Pid) -> Result<Handle<M>, LookupError> {
        if pid.node() != self.inner.name {
            return Err(LookupError::NotLocal(pid));
        }
        let proc = self.inner.lookup(pid).ok_or(LookupError::NoProc(pid))?;
        let actual = proc.message_type();
        match proc.into_any().downcast::<Shared<M>>() {
            Ok(shared) => Ok(Handle { shared }),
            Err(_) => Err(LookupError::WrongType {
                pid,
                expected: std::any::type_name::<M>(),
                actual,
            }),
        }
    }

    /// Registers `name` for a live local process, as Erlang's `register`.
    /// The name is freed when the process ends.
    ///
    /// # Errors
    ///
    /// A [`RegisterError`] if the name is empty or taken, the process has a
    /// name already, or is not alive.
    pub fn register(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        let proc = self.inner.lookup(pid).ok_or(RegisterError::NoProc(pid))?;
        self.inner.register(name, &*proc)
    }

    /// Removes a registered name; returns the pid it named, if any.
    pub fn unregister(&self, name: &str) -> Option<Pid> {
        let pid = self.inner.registry.lock().remove(name)?;
        if let Some(proc) = self.inner.lookup(pid) {
            let mut sig = proc.core().sig.lock();
            if sig.name.as_deref() == Some(name) {
                sig.name = None;
            }
        }
        Some(pid)
    }

    /// The pid registered under `name`.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.inner.registry.lock().get(name).copied()
    }

    /// All registered names with their pids, sorted by name.
    pub fn registered(&self) -> Vec<(Arc<str>, Pid)> {
        let mut names: Vec<_> = self
            .inner
            .registry
            .lock()
            .iter()
            .map(|(name, pid)| (Arc::clone(name), *pid))
            .collect();
        names.sort();
        names
    }

    /// A typed handle to the process registered under `name`.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotRegistered`] if no process has the name, or any
    /// error of [`handle`](Self::handle).
    pub fn named<M: Send + 'static>(&self, name: &str) -> Result<Handle<M>, LookupError> {
        let pid = self
            .whereis(name)
            .ok_or_else(|| LookupError::NotRegistered(name.into()))?;
        self.handle(pid)
    }

    /// Sends to the process registered under `name` now, resolving the name
    /// afresh on every call, so a restarted process that registered the same
    /// name receives what is sent after its restart.
    ///
    /// # Errors
    ///
    /// [`NamedSendError::Lookup`] if the name does not resolve to a process
    /// taking `M`, [`NamedSendError::NoProc`] if it ended meanwhile; the
    /// message is handed back.
    pub async fn cast_named<M: Send + 'static>(
        &self,
        name: &str,
        msg: M,
    ) -> Result<(), NamedSendError<M>> {
        let handle = match self.named::<M>(name) {
            Ok(handle) => handle,
            Err(err) => return Err(NamedSendError::Lookup(err, msg)),
        };
        handle
            .cast(msg)
            .await
            .map_err(|err| NamedSendError::NoProc(err.into_inner()))
    }

    /// A snapshot of every live process, in spawn order.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        let procs: Vec<Arc<dyn AnyProcess>> = self
            .inner
            .table
            .iter()
            .map(|entry| Arc::clone(entry.value()))
            .collect();
        let mut infos: Vec<ProcessInfo> = procs.iter().map(|p| info_of(&**p)).collect();
        infos.sort_by_key(|info| info.pid.id());
        infos
    }

    /// A snapshot of one process, if it is alive.
    pub fn process_info(&self, pid: Pid) -> Option<ProcessInfo> {
        self.inner.lookup(pid).map(|proc| info_of(&*proc))
    }

    /// Node-wide counters.
    pub fn stats(&self) -> NodeStats {
        let counters = &self.inner.counters;
        NodeStats {
            processes: self.inner.table.len(),
            spawned: counters.spawned.load(Ordering::Relaxed),
            exited: counters.exited.load(Ordering::Relaxed),
            dead_letters: counters.dead_letters.load(Ordering::Relaxed),
            unobserved_failures: self.inner.unobserved.load(Ordering::Relaxed),
        }
    }

    /// Takes the crashes that happened with nobody linked to or monitoring
    /// the crashed process (the most recent 256). Test harnesses assert this
    /// is empty, so that no failure passes unseen.
    pub fn take_unobserved_failures(&self) -> Vec<Failure> {
        self.inner.failures.lock().drain(..).collect()
    }
}

impl NodeInner {
    pub(crate) fn register(&self, name: &str, proc: &dyn AnyProcess) -> Result<(), RegisterError> {
        if name.is_empty() {
            return Err(RegisterError::EmptyName);
        }
        let pid = proc.core().pid;
        let mut registry = self.registry.lock();
        if let Some(&holder) = registry.get(name) {
            return Err(RegisterError::NameTaken {
                name: name.into(),
                holder,
            });
        }
        let mut sig = proc.core().sig.lock();
        if sig.exited {
            return Err(RegisterError::NoProc(pid));
        }
        if let Some(current) = &sig.name {
            return Err(RegisterError::AlreadyNamed {
                pid,
                name: Arc::clone(current),
            });
        }
        let name: Arc<str> = name.into();
        sig.name = Some(Arc::clone(&name));
        registry.insert(name, pid);
        Ok(())
    }
}

fn info_of(proc: &dyn AnyProcess) -> ProcessInfo {
    let core = proc.core();
    let sig = core.sig.lock();
    let node_pid = Pid::new(core.pid.node(), 0, core.pid.creation());
    let (links, monitors, monitored_by) = match sig.rel() {
        None => Default::default(),
        Some(rel) => (
            rel.links.clone(),
            rel.monitoring.iter().map(|(_, pid)| *pid).collect(),
            rel.monitored_by
                .iter()
                .map(|(_, watcher)| match watcher {
                    Watcher::Process(pid) | Watcher::Remote(pid) => *pid,
                    Watcher::External(_) => node_pid,
                })
                .collect(),
        ),
    };
    ProcessInfo {
        pid: core.pid,
        name: sig.name.clone(),
        status: core.status(),
        mailbox_len: proc.mailbox_len(),
        bounded_mailbox: proc.is_bounded(),
        messages_handled: core.handled.load(Ordering::Relaxed),
        links,
        monitors,
        monitored_by,
        parent: core.parent,
        started_at: core.started,
        trap_exit: core.traps_exits(),
        message_type: proc.message_type().to_owned(),
        process_type: core.process_type.to_owned(),
    }
}
impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.inner.name)
            .field("creation", &self.inner.creation)
            .field("processes", &self.inner.table.len())
            .finish()
    }
}
