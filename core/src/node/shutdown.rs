//! Graceful node shutdown.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{watch_core, AnyProcess, ExitWatch, Node};
use crate::ExitReason;

/// What a [`Node::shutdown`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Processes that ended after being asked to (`Shutdown`).
    pub stopped: usize,
    /// Processes still running at the deadline, then killed.
    pub killed: usize,
}

struct Stopping {
    proc: Arc<dyn AnyProcess>,
    watch: Option<ExitWatch>,
}

impl Node {
    /// Stops every process and refuses new ones.
    ///
    /// Processes are sent `Shutdown` from the node's pid in reverse start
    /// order, children before parents: a process is asked to stop only once
    /// all the processes it spawned have ended, and siblings are asked
    /// youngest first. A process that does not trap exits ends at once; one
    /// that traps receives [`Signal::Exit`](crate::Signal::Exit) and is
    /// expected to stop. Whatever still runs at `deadline` is killed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the node refusing new processes, with
    /// the processes not yet asked to stop still running.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let inner = &self.inner;
        inner.stopping.store(true, Ordering::Release);
        let node_pid = self.pid();
        // Collect first: watching takes the process's own locks, which must
        // not be taken while the table is being iterated.
        let live = inner.live();
        let mut procs: Vec<Stopping> = live
            .into_iter()
            .map(|proc| Stopping {
                watch: Some(watch_core(proc.core())),
                proc,
            })
            .collect();
        procs.sort_by_key(|p| std::cmp::Reverse(p.proc.core().pid.id()));
        let position: HashMap<u64, usize> = procs
            .iter()
            .enumerate()
            .map(|(at, p)| (p.proc.core().pid.id(), at))
            .collect();
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        for (at, p) in procs.iter().enumerate() {
            if let Some(parent) = p
                .proc
                .core()
                .parent()
                .and_then(|pid| position.get(&pid.id()))
            {
                children.entry(*parent).or_default().push(at);
            }
        }

        let ordered = async {
            for at in 0..procs.len() {
                for &child in children.get(&at).map_or(&[][..], Vec::as_slice) {
                    if let Some(watch) = procs[child].watch.as_mut() {
                        watch.await;
                        procs[child].watch = None;
                    }
                }
                procs[at]
                    .proc
                    .exit_signal(node_pid, ExitReason::Shutdown, false);
            }
            for p in procs.iter_mut() {
                if let Some(watch) = p.watch.as_mut() {
                    watch.await;
                    p.watch = None;
                }
            }
        };
        // At the deadline, whatever has not ended is killed below.
        let _ = tokio::time::timeout(deadline, ordered).await;
        let mut report = ShutdownReport::default();
        for p in procs.iter_mut() {
            if let Some(watch) = p.watch.take() {
                report.killed += 1;
                p.proc.kill(ExitReason::Killed);
                watch.await;
            }
        }
        report.stopped = procs.len() - report.killed;

        // Anything that slipped in while the flag was being raised.
        loop {
            let late = inner.live();
            if late.is_empty() {
                break;
            }
            for proc in late {
                let watch = watch_core(proc.core());
                proc.kill(ExitReason::Killed);
                watch.await;
                report.killed += 1;
            }
        }
        // Last, so that the exits of its processes reach their links and
        // monitors on other nodes before the connections close.
        if let Some(dist) = inner.distribution() {
            dist.leave().await;
        }
        tracing::debug!(
            stopped = report.stopped,
            killed = report.killed,
            "node shut down"
        );
        report
    }
}
