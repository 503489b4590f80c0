//! The node that owns processes: its name and creation, the table of live
//! processes and the registry of names, shutdown, and what it can tell
//! about its processes.
//!
//! The node knows a process only through its entry (`AnyProcess`) in the
//! table; what a process is and does (the [`Process`](crate::Process)
//! trait, its mailbox and run loop) is in `process/`, which builds on this
//! folder. Other nodes are reached through one seam,
//! `Distribution` (in `distribution.rs`), which `dist/` implements:
//! nothing here names `dist/`.

mod builder;
mod distribution;
mod entry;
mod info;
mod introspection;
mod registry;
mod shutdown;
mod warnings;
mod watch;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use parking_lot::Mutex;
use rustc_hash::FxBuildHasher;

pub use builder::NodeBuilder;
pub use distribution::Settled;
pub(crate) use distribution::{
    Answered, Arrival, CallWatch, Decoder, Delivery, Distribution, Exported, Finished, RemoteSignal,
};
pub(crate) use entry::{AnyProcess, Counters, ProcCore, Relations, Watcher};
pub use info::{Failure, NodeStats, ProcessInfo, Status};
pub use shutdown::ShutdownReport;
pub(crate) use warnings::{warn_limited, Warnings};
pub(crate) use watch::watch_core;
pub use watch::ExitWatch;

use crate::{Creation, ExitReason, MonitorRef, NodeError, NodeName, Pid, PinnedName};

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
/// assert_eq!(node.name().to_string(), "orders@localhost");
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
    /// Keeps the node's own name known for as long as the node lives.
    pub(crate) _name_pin: PinnedName,
    pub(crate) creation: Creation,
    pub(crate) next_id: AtomicU64,
    pub(crate) next_ref: AtomicU64,
    /// Processes by id. Ids are this node's own counter, never a peer's
    /// choice, so a fast hasher is safe: peers only look ids up.
    pub(crate) table: DashMap<u64, Arc<dyn AnyProcess>, FxBuildHasher>,
    pub(crate) registry: Mutex<HashMap<Arc<str>, Pid>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) stopping: AtomicBool,
    pub(crate) unobserved: AtomicU64,
    pub(crate) failures: Mutex<VecDeque<Failure>>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// How this node reaches other nodes, once it has joined a cluster.
    pub(crate) distribution: OnceLock<Arc<dyn Distribution>>,
    /// Warnings a peer or a flood could repeat, rate-limited.
    pub(crate) warnings: Warnings,
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

    /// Whether [`shutdown`](Self::shutdown) has begun (no new process can
    /// be spawned). Supervisors use it not to restart what the node stops.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Whether `pid` is a live process of this node.
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.inner.lookup(pid).is_some()
    }
}

impl NodeInner {
    /// The process behind a pid, if it is alive on this node.
    pub(crate) fn lookup(&self, pid: Pid) -> Option<Arc<dyn AnyProcess>> {
        if pid.node() != self.name || pid.creation() != self.creation {
            return None;
        }
        self.table
            .get(&pid.id())
            .map(|entry| Arc::clone(entry.value()))
    }

    /// Every live process, collected first, so that no process's own lock
    /// is taken while the table is being iterated.
    pub(crate) fn live(&self) -> Vec<Arc<dyn AnyProcess>> {
        self.table
            .iter()
            .map(|entry| Arc::clone(entry.value()))
            .collect()
    }

    /// The reason links and monitors fire with for a process that cannot be
    /// found: `NoConnection` for other nodes (no distribution is running),
    /// `NoProc` for this one.
    pub(crate) fn missing_reason(&self, pid: Pid) -> ExitReason {
        if pid.node() == self.name {
            ExitReason::NoProc
        } else {
            ExitReason::NoConnection
        }
    }

    pub(crate) fn new_ref(&self) -> MonitorRef {
        MonitorRef(self.next_ref.fetch_add(1, Ordering::Relaxed))
    }

    /// How this node reaches others, if it has joined a cluster.
    pub(crate) fn distribution(&self) -> Option<&dyn Distribution> {
        self.distribution.get().map(|dist| &**dist)
    }

    /// Sends a signal to a process on another node; `false` if that node
    /// cannot be reached (the caller then acts as for a lost connection).
    pub(crate) fn send_signal(&self, node: NodeName, signal: RemoteSignal) -> bool {
        self.distribution()
            .is_some_and(|dist| dist.signal(node, signal))
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
