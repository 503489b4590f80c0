//! Watching a process from outside any process: a future that resolves
//! to its exit reason.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use tokio::sync::oneshot;

use super::{Node, NodeInner, ProcCore, Watcher};
use crate::{ExitReason, MonitorRef, Pid};

impl Node {
    /// Watches a process from outside any process: the returned future
    /// resolves to its exit reason (`NoProc` at once if it is not alive).
    pub fn monitor(&self, pid: Pid) -> ExitWatch {
        self.inner.watch(pid)
    }
}

impl NodeInner {
    /// Watches a process from outside any process.
    pub(crate) fn watch(&self, target: Pid) -> ExitWatch {
        match self.lookup(target) {
            Some(proc) => watch_core(proc.core()),
            None => {
                let (tx, rx) = oneshot::channel();
                let _ = tx.send(self.missing_reason(target));
                ExitWatch { rx }
            }
        }
    }
}

/// Watches a process through its shared state, without the node.
pub(crate) fn watch_core(core: &ProcCore) -> ExitWatch {
    let (tx, rx) = oneshot::channel();
    let mut sig = core.sig.lock();
    if sig.exited {
        drop(sig);
        let _ = tx.send(core.exit.get().cloned().unwrap_or(ExitReason::NoProc));
    } else {
        sig.rel_mut()
            .monitored_by
            .push((MonitorRef(0), Watcher::External(tx)));
    }
    ExitWatch { rx }
}

/// Resolves to the exit reason of a process watched from outside any
/// process (see [`Node::monitor`](crate::Node::monitor)): `NoProc` at once
/// if it was not alive.
#[derive(Debug)]
#[must_use = "an ExitWatch does nothing unless awaited"]
pub struct ExitWatch {
    rx: oneshot::Receiver<ExitReason>,
}

impl ExitWatch {
    /// The reason, if the process has already ended.
    pub fn try_reason(&mut self) -> Option<ExitReason> {
        self.rx.try_recv().ok()
    }
}

impl Future for ExitWatch {
    type Output = ExitReason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<ExitReason> {
        // The sender is only dropped unsent if the process's task was torn
        // down with its runtime, which ends it as surely as a kill.
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|result| result.unwrap_or(ExitReason::Killed))
    }
}
