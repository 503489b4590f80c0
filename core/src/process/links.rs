//! Links, monitors and exit signals between processes, and what happens
//! when a process ends. The semantics are Erlang's; see the crate docs.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::node::{AnyProcess, Failure, NodeInner, ProcCore, Relations, RemoteSignal, Watcher};
use crate::{ExitReason, MonitorRef, Node, Pid, Signal};

/// Delivers an exit signal to `target`, deciding on arrival what it does:
///
/// - `Kill` sent with `exit` ends the target at once, untrappably, as `Killed`;
/// - a target that traps exits receives it as a [`Signal::Exit`] message,
///   in order with what `from` sent before;
/// - `Normal` is ignored by a target that does not trap exits (unless a
///   process sent it to itself with `exit`);
/// - any other reason ends a target that does not trap exits at once.
pub(crate) fn deliver_exit(target: &dyn AnyProcess, from: Pid, reason: ExitReason, via_link: bool) {
    let core = target.core();
    if via_link {
        core.sig.lock().rel_mut().links.retain(|&pid| pid != from);
    }
    if !via_link && reason == ExitReason::Kill {
        target.kill(ExitReason::Killed);
        return;
    }
    if core.traps_exits() {
        target.push_signal(Signal::Exit { from, reason });
        return;
    }
    if reason.is_normal() {
        if !via_link && from == core.pid {
            target.kill(ExitReason::Normal);
        }
        return;
    }
    target.kill(reason);
}

/// `watcher` on another node monitors `proc` under `mref`; `false` if
/// `proc` has already exited.
pub(crate) fn monitored_for(proc: &dyn AnyProcess, watcher: Pid, mref: MonitorRef) -> bool {
    let mut sig = proc.core().sig.lock();
    if sig.exited {
        return false;
    }
    sig.rel_mut()
        .monitored_by
        .push((mref, Watcher::Remote(watcher)));
    true
}

/// Removes the monitor `mref` on `proc` held from another node by a
/// watcher that `held_by` accepts.
pub(crate) fn unmonitor(proc: &dyn AnyProcess, mref: MonitorRef, held_by: impl Fn(Pid) -> bool) {
    proc.core()
        .sig
        .lock()
        .rel_mut()
        .monitored_by
        .retain(|(r, w)| !(*r == mref && matches!(w, Watcher::Remote(p) if held_by(*p))));
}

/// Everything taken from a process's shared state as it ends.
pub(crate) struct Departure {
    pub(crate) rel: Relations,
    pub(crate) name: Option<Arc<str>>,
}

impl NodeInner {
    /// A call to `callee` from another node was answered: the monitor
    /// held on it for the caller goes.
    pub(crate) fn unwatch_call(&self, callee: Pid, mref: MonitorRef) {
        if let Some(proc) = self.lookup(callee) {
            unmonitor(&*proc, mref, |_| true);
        }
    }

    /// Links `me` (a live process, the caller) with `other`. A dead or
    /// unknown `other` sends `me` an exit signal with `NoProc`.
    pub(crate) fn link(&self, me: &dyn AnyProcess, other: Pid) {
        let my_pid = me.core().pid;
        if other == my_pid {
            return;
        }
        if other.node() != self.name {
            if self.send_signal(
                other.node(),
                RemoteSignal::Link {
                    from: my_pid,
                    to: other,
                },
            ) {
                let mut mine = me.core().sig.lock();
                if !mine.rel_mut().links.contains(&other) {
                    mine.rel_mut().links.push(other);
                }
                return;
            }
            return deliver_exit(me, other, ExitReason::NoConnection, true);
        }
        if let Some(target) = self.lookup(other) {
            let mut sig = target.core().sig.lock();
            if !sig.exited {
                if !sig.rel_mut().links.contains(&my_pid) {
                    sig.rel_mut().links.push(my_pid);
                }
                drop(sig);
                let mut mine = me.core().sig.lock();
                if !mine.rel_mut().links.contains(&other) {
                    mine.rel_mut().links.push(other);
                }
                return;
            }
        }
        deliver_exit(me, other, self.missing_reason(other), true);
    }

    /// Removes the link between `me` and `other`, if any.
    pub(crate) fn unlink(&self, me: &ProcCore, other: Pid) {
        me.sig.lock().rel_mut().links.retain(|&pid| pid != other);
        if other.node() != self.name {
            self.send_signal(
                other.node(),
                RemoteSignal::Unlink {
                    from: me.pid,
                    to: other,
                },
            );
            return;
        }
        if let Some(target) = self.lookup(other) {
            target
                .core()
                .sig
                .lock()
                .rel_mut()
                .links
                .retain(|&pid| pid != me.pid);
        }
    }

    /// `me` starts monitoring `target`. A dead or unknown target yields a
    /// `Down` with `NoProc` at once.
    pub(crate) fn monitor(&self, me: &dyn AnyProcess, target: Pid) -> MonitorRef {
        let mref = self.new_ref();
        let my_pid = me.core().pid;
        // Record our side first, so the `Down` is accepted whenever it comes.
        me.core()
            .sig
            .lock()
            .rel_mut()
            .monitoring
            .push((mref, target));
        if target.node() != self.name {
            let request = RemoteSignal::Monitor {
                watcher: my_pid,
                target,
                mref,
            };
            if !self.send_signal(target.node(), request) {
                me.push_signal(Signal::Down {
                    monitor: mref,
                    pid: target,
                    reason: ExitReason::NoConnection,
                });
            }
            return mref;
        }
        if let Some(proc) = self.lookup(target) {
            let mut sig = proc.core().sig.lock();
            if !sig.exited {
                sig.rel_mut()
                    .monitored_by
                    .push((mref, Watcher::Process(my_pid)));
                return mref;
            }
        }
        me.push_signal(Signal::Down {
            monitor: mref,
            pid: target,
            reason: self.missing_reason(target),
        });
        mref
    }

    /// Removes a monitor `me` holds. Returns `false` if it was not active
    /// (it fired, or was removed before). A `Down` already queued for it is
    /// discarded.
    pub(crate) fn demonitor(&self, me: &ProcCore, mref: MonitorRef) -> bool {
        let target = {
            let mut sig = me.sig.lock();
            let Some(at) = sig
                .rel_mut()
                .monitoring
                .iter()
                .position(|(r, _)| *r == mref)
            else {
                return false;
            };
            sig.rel_mut().monitoring.swap_remove(at).1
        };
        if target.node() != self.name {
            self.send_signal(
                target.node(),
                RemoteSignal::Demonitor {
                    target,
                    mref,
                    watcher: me.pid,
                },
            );
            return true;
        }
        if let Some(proc) = self.lookup(target) {
            proc.core()
                .sig
                .lock()
                .rel_mut()
                .monitored_by
                .retain(|(r, _)| *r != mref);
        }
        true
    }

    /// Sends an exit signal from `from` to `to`; nothing happens if `to` is
    /// not alive.
    pub(crate) fn exit(&self, from: Pid, to: Pid, reason: ExitReason) {
        if to.node() != self.name {
            self.send_signal(
                to.node(),
                RemoteSignal::Exit {
                    from,
                    to,
                    reason,
                    link: false,
                },
            );
            return;
        }
        if let Some(target) = self.lookup(to) {
            deliver_exit(&*target, from, reason, false);
        }
    }

    /// Tells everyone concerned that the process `core` ended with
    /// `reason`. Its mailbox is already closed.
    pub(crate) fn after_exit(&self, core: &ProcCore, reason: &ExitReason, gone: Departure) {
        let pid = core.pid;
        // Free the pid and the name before anyone hears of the exit, so a
        // replacement can take the name as soon as the exit is seen.
        self.table.remove(&pid.id());
        if let Some(name) = &gone.name {
            let mut registry = self.registry.lock();
            if registry.get(name) == Some(&pid) {
                registry.remove(name);
            }
        }
        for (mref, target) in &gone.rel.monitoring {
            if target.node() != self.name {
                let request = RemoteSignal::Demonitor {
                    target: *target,
                    mref: *mref,
                    watcher: pid,
                };
                self.send_signal(target.node(), request);
                continue;
            }
            if let Some(proc) = self.lookup(*target) {
                proc.core()
                    .sig
                    .lock()
                    .rel_mut()
                    .monitored_by
                    .retain(|(r, _)| r != mref);
            }
        }
        let observed = !gone.rel.links.is_empty() || !gone.rel.monitored_by.is_empty();
        for link in gone.rel.links {
            if link.node() != self.name {
                let exit = RemoteSignal::Exit {
                    from: pid,
                    to: link,
                    reason: reason.clone(),
                    link: true,
                };
                self.send_signal(link.node(), exit);
                continue;
            }
            if let Some(target) = self.lookup(link) {
                deliver_exit(&*target, pid, reason.clone(), true);
            }
        }
        for (mref, watcher) in gone.rel.monitored_by {
            match watcher {
                Watcher::Process(watcher) => {
                    if let Some(proc) = self.lookup(watcher) {
                        proc.push_signal(Signal::Down {
                            monitor: mref,
                            pid,
                            reason: reason.clone(),
                        });
                    }
                }
                Watcher::External(tx) => {
                    let _ = tx.send(reason.clone());
                }
                Watcher::Remote(watcher) => {
                    let down = RemoteSignal::Down {
                        mref,
                        watcher,
                        target: pid,
                        reason: reason.clone(),
                    };
                    self.send_signal(watcher.node(), down);
                }
            }
        }
        self.counters.exited.fetch_add(1, Ordering::Relaxed);
        if reason.is_crash() {
            tracing::error!(%pid, %reason, "process crashed");
            if !observed && *reason != ExitReason::Killed {
                self.record_failure(Failure {
                    pid,
                    name: gone.name,
                    reason: reason.clone(),
                });
            }
        }
    }
}

impl Node {
    /// Sends an exit signal from the node to `pid` (see
    /// [`Context::exit`](crate::Context::exit) for what it does). Nothing
    /// happens if `pid` is not alive.
    pub fn exit(&self, pid: Pid, reason: ExitReason) {
        self.inner.exit(self.pid(), pid, reason);
    }
}
