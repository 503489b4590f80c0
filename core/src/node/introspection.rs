//! What a node can tell about its processes: snapshots of each one, the
//! node's counters, and the crashes nobody watched.

use std::sync::atomic::Ordering;

use super::{AnyProcess, Failure, Node, NodeInner, NodeStats, ProcessInfo, Watcher};
use crate::Pid;

/// How many of the largest mailboxes [`Node::stats`] shows.
const LARGEST_MAILBOXES: usize = 5;

/// How many unobserved failures a node keeps for inspection.
const KEPT_FAILURES: usize = 256;

impl Node {
    /// A snapshot of every live process, in spawn order.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        let procs = self.inner.live();
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
        let procs = self.inner.live();
        let mut largest: Vec<(Pid, usize)> = procs
            .iter()
            .map(|proc| (proc.core().pid, proc.mailbox_len()))
            .filter(|(_, waiting)| *waiting > 0)
            .collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id().cmp(&b.0.id())));
        largest.truncate(LARGEST_MAILBOXES);
        NodeStats {
            largest_mailboxes: largest,
            processes: self.inner.table.len(),
            spawned: counters.spawned.load(Ordering::Relaxed),
            exited: counters.exited.load(Ordering::Relaxed),
            dead_letters: counters.dead_letters.load(Ordering::Relaxed),
            unobserved_failures: self.inner.unobserved.load(Ordering::Relaxed),
            forged: counters.forged.load(Ordering::Relaxed),
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
    /// Keeps a crash that no link or monitor saw, for
    /// [`Node::take_unobserved_failures`].
    pub(crate) fn record_failure(&self, failure: Failure) {
        self.unobserved.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.failures.lock();
        if kept.len() == KEPT_FAILURES {
            kept.pop_front();
        }
        kept.push_back(failure);
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
        parent: core.parent(),
        started_at: core.started,
        trap_exit: core.traps_exits(),
        message_type: proc.message_type().to_owned(),
        process_type: core.process_type.to_owned(),
    }
}
