//! Signals a process can receive through [`Process::handle_signal`](crate::Process::handle_signal).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ExitReason, NodeName, Pid};

/// Identifies one monitor, as returned by
/// [`Context::monitor`](crate::Context::monitor).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MonitorRef(pub(crate) u64);

impl fmt::Debug for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}>", self.0)
    }
}

/// Identifies one timer started with
/// [`Context::start_timer`](crate::Context::start_timer).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerId(pub(crate) u64);

impl fmt::Debug for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Timer<{}>", self.0)
    }
}

/// A signal delivered to a process as a message, in order with the ordinary
/// messages from the same sender.
///
/// A process receives only the signals it asked for: `Exit` once it traps
/// exits, `Down` for its monitors, `Timer` for its timers and `IdleTimeout`
/// once it set an idle timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// An exit signal, received because the process traps exits: a linked
    /// process ended, or some process called `exit` on this one.
    Exit {
        /// The process the signal came from.
        from: Pid,
        /// Its reason.
        reason: ExitReason,
    },
    /// A monitored process ended (or did not exist: `NoProc`).
    Down {
        /// The monitor that fired.
        monitor: MonitorRef,
        /// The monitored process.
        pid: Pid,
        /// Why it ended.
        reason: ExitReason,
    },
    /// A timer started with `start_timer` expired.
    Timer(TimerId),
    /// No message arrived within the process's idle timeout.
    IdleTimeout,
    /// A node connected (for processes that called
    /// [`Context::monitor_nodes`](crate::Context::monitor_nodes)).
    NodeUp(NodeName),
    /// A node's connection was lost (for
    /// [`Context::monitor_nodes`](crate::Context::monitor_nodes), and once
    /// for each [`Context::monitor_node`](crate::Context::monitor_node)).
    NodeDown(NodeName),
}
