//! A process as its node holds it, whatever its message type: the untyped
//! part of its shared state (pid, status, name, links and monitors,
//! counters) and the [`AnyProcess`] view through which the node, the
//! registry, introspection and other processes reach it.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::{Exported, Status};
use crate::{ExitReason, MonitorRef, Pid, Signal};

/// Node-wide counters shared by every process, so that sends can count
/// dead letters without reaching the node.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) dead_letters: AtomicU64,
    pub(crate) spawned: AtomicU64,
    pub(crate) exited: AtomicU64,
    /// Frames dropped because a peer spoke for what is not its own.
    pub(crate) forged: AtomicU64,
}

/// Who is told when a monitored process ends.
pub(crate) enum Watcher {
    /// A process, which receives `Signal::Down`.
    Process(Pid),
    /// A task outside any process, waiting on an [`ExitWatch`](super::ExitWatch).
    External(oneshot::Sender<ExitReason>),
    /// A process on another node, told through the connection to it.
    Remote(Pid),
}

/// Links and monitors, guarded together so that linking or monitoring
/// races cleanly with the process's exit.
#[derive(Default)]
pub(crate) struct SigState {
    /// Boxed: most processes never link or monitor, and stay smaller.
    rel: Option<Box<Relations>>,
    pub(crate) name: Option<Arc<str>>,
    /// Set once the process has begun to exit; nothing is added after.
    pub(crate) exited: bool,
}

/// A process's links and monitors.
#[derive(Default)]
pub(crate) struct Relations {
    pub(crate) links: Vec<Pid>,
    /// Monitors on this process.
    pub(crate) monitored_by: Vec<(MonitorRef, Watcher)>,
    /// Monitors this process holds on others.
    pub(crate) monitoring: Vec<(MonitorRef, Pid)>,
}

impl SigState {
    /// The relations, created on first use.
    pub(crate) fn rel_mut(&mut self) -> &mut Relations {
        self.rel.get_or_insert_with(Box::default)
    }

    /// The relations, if there are any.
    pub(crate) fn rel(&self) -> Option<&Relations> {
        self.rel.as_deref()
    }

    /// The relations to change, if there are any.
    pub(crate) fn rel_mut_if_any(&mut self) -> Option<&mut Relations> {
        self.rel.as_deref_mut()
    }

    /// Takes every relation away (at exit).
    pub(crate) fn take_rel(&mut self) -> Relations {
        self.rel.take().map(|rel| *rel).unwrap_or_default()
    }
}

/// The untyped shared state of a process.
pub(crate) struct ProcCore {
    pub(crate) pid: Pid,
    /// The Rust type implementing the process, for tools that look at it.
    pub(crate) process_type: &'static str,
    /// The number of the process that spawned this one, always a process
    /// of the same node (a number, not a pid, keeps an idle process small).
    parent: Option<u64>,
    pub(crate) started: SystemTime,
    pub(crate) status: AtomicU8,
    pub(crate) trap_exit: AtomicBool,
    pub(crate) handled: AtomicU64,
    pub(crate) sig: Mutex<SigState>,
    /// The final reason, set before the mailbox closes so that a caller
    /// whose reply token was dropped can tell why.
    pub(crate) exit: OnceLock<ExitReason>,
    pub(crate) counters: Arc<Counters>,
    /// Set once the process is exported to other nodes.
    pub(crate) exported: OnceLock<Box<Exported>>,
}

impl ProcCore {
    /// The process that spawned this one, if a process did.
    pub(crate) fn parent(&self) -> Option<Pid> {
        self.parent
            .map(|id| Pid::new(self.pid.node(), id, self.pid.creation()))
    }

    /// The shared state of a process just spawned, not yet started.
    pub(crate) fn new(
        pid: Pid,
        process_type: &'static str,
        parent: Option<Pid>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            pid,
            process_type,
            parent: parent.map(|parent| {
                debug_assert_eq!(
                    (parent.node(), parent.creation()),
                    (pid.node(), pid.creation()),
                    "a parent is a process of the same node"
                );
                parent.id()
            }),
            started: SystemTime::now(),
            status: AtomicU8::new(Status::Starting as u8),
            trap_exit: AtomicBool::new(false),
            handled: AtomicU64::new(0),
            sig: Mutex::new(SigState::default()),
            exit: OnceLock::new(),
            counters,
            exported: OnceLock::new(),
        }
    }

    pub(crate) fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Relaxed))
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.status.store(status as u8, Ordering::Relaxed);
    }

    /// Whether other nodes may reach it: send to it, call it, link to it,
    /// monitor it or send it exit signals.
    pub(crate) fn is_exported(&self) -> bool {
        self.exported.get().is_some()
    }

    pub(crate) fn traps_exits(&self) -> bool {
        self.trap_exit.load(Ordering::Acquire)
    }

    pub(crate) fn dead_letter(&self) {
        self.counters.dead_letters.fetch_add(1, Ordering::Relaxed);
    }
}

/// A process as the node and other processes see it, whatever its message
/// type.
pub(crate) trait AnyProcess: Send + Sync + 'static {
    fn core(&self) -> &ProcCore;
    /// Queues a signal behind the messages already sent; `false` if the
    /// process has ended.
    fn push_signal(&self, signal: Signal) -> bool;
    /// Ends the process at once with `reason`; `false` if it already ended.
    fn kill(&self, reason: ExitReason) -> bool;
    /// Delivers an exit signal from `from`, which decides on arrival what
    /// it does (see `process/links.rs`); `via_link` if a linked process
    /// ended, rather than one sent with `exit`.
    fn exit_signal(&self, from: Pid, reason: ExitReason, via_link: bool);
    fn mailbox_len(&self) -> usize;
    fn is_bounded(&self) -> bool;
    fn message_type(&self) -> &'static str;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn as_any(&self) -> &(dyn Any + Send + Sync);
}
