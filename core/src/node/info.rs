//! Introspection data: what a node can tell about its processes.

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::{ExitReason, Pid};

/// What a process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Status {
    /// Spawned; `init` has not finished.
    Starting = 0,
    /// Waiting for a message.
    Waiting = 1,
    /// Running a handler.
    Running = 2,
    /// Ending: running `terminate` or telling links and monitors.
    Exiting = 3,
}

impl Status {
    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Starting,
            1 => Self::Waiting,
            2 => Self::Running,
            _ => Self::Exiting,
        }
    }
}

/// A snapshot of one process, as returned by
/// [`Node::process_info`](crate::Node::process_info).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// The process.
    pub pid: Pid,
    /// Its registered name, if any.
    pub name: Option<Arc<str>>,
    /// What it is doing.
    pub status: Status,
    /// Messages and signals waiting in its mailbox.
    pub mailbox_len: usize,
    /// Whether its mailbox is bounded.
    pub bounded_mailbox: bool,
    /// Messages and signals it has handled.
    pub messages_handled: u64,
    /// Processes it is linked to.
    pub links: Vec<Pid>,
    /// Processes it monitors.
    pub monitors: Vec<Pid>,
    /// Processes (or outside watchers, shown as the node's own pid) that
    /// monitor it.
    pub monitored_by: Vec<Pid>,
    /// The process that spawned it, if it was spawned by a process.
    pub parent: Option<Pid>,
    /// When it was spawned.
    pub started_at: SystemTime,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// The Rust type of its messages.
    pub message_type: String,
    /// The Rust type implementing it (a supervisor shows as
    /// `beamish_supervisor::…::Supervisor`, so a tool knows to ask it for
    /// its children).
    pub process_type: String,
}

/// Node-wide counters, as returned by [`Node::stats`](crate::Node::stats).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeStats {
    /// Processes alive now.
    pub processes: usize,
    /// Processes spawned since the node started.
    pub spawned: u64,
    /// Processes that have ended.
    pub exited: u64,
    /// Messages sent to processes that had ended, or left unhandled in a
    /// mailbox when its process ended.
    pub dead_letters: u64,
    /// Processes that crashed with nobody linked to or monitoring them.
    pub unobserved_failures: u64,
    /// Frames from connected peers dropped because the peer spoke for
    /// what is not its own: a signal naming a sender on another node, a
    /// reply to a call that went elsewhere, a `Down` or link exit for a
    /// monitor or link never set up with that peer. An authenticated peer
    /// speaks only for its own processes.
    pub forged: u64,
    /// The processes with the most messages waiting (at most five, the
    /// largest first), to find one that does not keep up.
    pub largest_mailboxes: Vec<(Pid, usize)>,
}

/// A crash nobody was linked to or monitoring, kept so that it is not lost
/// (see [`Node::take_unobserved_failures`](crate::Node::take_unobserved_failures)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Failure {
    /// The process that crashed.
    pub pid: Pid,
    /// Its registered name, if it had one.
    pub name: Option<Arc<str>>,
    /// Why it ended.
    pub reason: ExitReason,
}
