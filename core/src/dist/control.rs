//! Control frames between nodes: the link, monitor and exit signals (and call
//! answers) the local runtime sends through the node's seam, framed for
//! the peer; and those that arrive from peers, applied to local processes.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;

use super::cluster::Cluster;
use super::envelope::{Dest, Envelope, ReplyOutcome};
use super::outbox::Outgoing;
use crate::node::{Answered, AnyProcess, Distribution, NodeInner, RemoteSignal, Watcher};
use crate::process::deliver_exit;
use crate::process::links::{monitored_for, unmonitor};
use crate::{ExitReason, MonitorRef, NodeName, Pid, Signal};

impl NodeInner {
    /// The local process `to` names, if it is running.
    pub(crate) fn resolve(&self, to: &Dest) -> Option<Arc<dyn AnyProcess>> {
        match to {
            Dest::Id { id, creation } => self.lookup(Pid::new(self.name, *id, *creation)),
            Dest::Name(name) => {
                let pid = self.registry.lock().get(name.as_str()).copied();
                pid.and_then(|pid| self.lookup(pid))
            }
        }
    }

    /// Sends a signal envelope to a connected node; `false` if there is
    /// no connection (the caller then acts as for a lost one).
    pub(crate) fn send_control(&self, node: NodeName, envelope: &Envelope<'_>) -> bool {
        self.cluster()
            .is_some_and(|cluster| cluster.send_envelope(node, envelope))
    }

    /// Applies a signal that came from another node.
    pub(crate) fn remote_signal(&self, envelope: Envelope<'_>) {
        match envelope {
            Envelope::Call { .. } => {}
            Envelope::Monitor {
                watcher,
                target,
                mref,
            } => {
                if let Some(proc) = self.lookup(target) {
                    if monitored_for(&*proc, watcher, mref) {
                        return;
                    }
                }
                let down = Envelope::Down {
                    mref,
                    watcher,
                    target,
                    reason: ExitReason::NoProc,
                };
                self.send_control(watcher.node(), &down);
            }
            Envelope::Demonitor {
                target,
                mref,
                watcher,
            } => {
                if let Some(proc) = self.lookup(target) {
                    unmonitor(&*proc, mref, Some(watcher));
                }
            }
            Envelope::CallEnded { to, mref } => {
                if let Some(proc) = self.resolve(&to) {
                    unmonitor(&*proc, mref, None);
                }
            }
            Envelope::Down {
                mref,
                watcher,
                target,
                reason,
            } => {
                if watcher.id() == 0 {
                    // The node itself watches the callee of a remote call.
                    if let Some(cluster) = self.cluster() {
                        cluster.call_down(mref, reason);
                    }
                    return;
                }
                if let Some(proc) = self.lookup(watcher) {
                    proc.push_signal(Signal::Down {
                        monitor: mref,
                        pid: target,
                        reason,
                    });
                }
            }
            Envelope::Link { from, to } => {
                if let Some(proc) = self.lookup(to) {
                    let mut sig = proc.core().sig.lock();
                    if !sig.exited {
                        if !sig.rel_mut().links.contains(&from) {
                            sig.rel_mut().links.push(from);
                        }
                        return;
                    }
                }
                let exit = Envelope::Exit {
                    from: to,
                    to: from,
                    reason: ExitReason::NoProc,
                    link: true,
                };
                self.send_control(from.node(), &exit);
            }
            Envelope::Unlink { from, to } => {
                if let Some(proc) = self.lookup(to) {
                    proc.core()
                        .sig
                        .lock()
                        .rel_mut()
                        .links
                        .retain(|&p| p != from);
                }
            }
            Envelope::Exit {
                from,
                to,
                reason,
                link,
            } => {
                if let Some(proc) = self.lookup(to) {
                    deliver_exit(&*proc, from, reason, link);
                }
            }
            Envelope::Reply {
                id,
                outcome,
                unwatched,
            } => {
                if let Some(cluster) = self.cluster() {
                    cluster.call_answered(id, outcome, unwatched);
                }
            }
        }
    }

    /// The connection to `node` is gone: links to its processes fire with
    /// `NoConnection`, monitors on them deliver `Down` with `NoConnection`,
    /// and its processes' monitors on ours are forgotten.
    pub(crate) fn node_down(&self, node: NodeName) {
        if let Some(cluster) = self.cluster() {
            cluster.calls_lost(node);
        }
        let procs: Vec<Arc<dyn AnyProcess>> = self
            .table
            .iter()
            .map(|entry| Arc::clone(entry.value()))
            .collect();
        for proc in procs {
            let (links, monitors) = {
                let mut sig = proc.core().sig.lock();
                let Some(rel) = sig.rel_mut_if_any() else {
                    continue;
                };
                let links: Vec<Pid> = rel
                    .links
                    .iter()
                    .copied()
                    .filter(|p| p.node() == node)
                    .collect();
                let monitors: Vec<(MonitorRef, Pid)> = rel
                    .monitoring
                    .iter()
                    .copied()
                    .filter(|(_, p)| p.node() == node)
                    .collect();
                rel.monitored_by
                    .retain(|(_, w)| !matches!(w, Watcher::Remote(p) if p.node() == node));
                (links, monitors)
            };
            for link in links {
                deliver_exit(&*proc, link, ExitReason::NoConnection, true);
            }
            for (mref, target) in monitors {
                proc.push_signal(Signal::Down {
                    monitor: mref,
                    pid: target,
                    reason: ExitReason::NoConnection,
                });
            }
        }
    }
}

impl Cluster {
    /// Frames a signal envelope for `node`; `false` if it cannot go.
    fn send_envelope(&self, node: NodeName, envelope: &Envelope<'_>) -> bool {
        let Ok(frame) = rmp_serde::to_vec(envelope) else {
            return false;
        };
        let frame = Bytes::from(frame);
        // A caller waits on a reply.
        let frame = if matches!(envelope, Envelope::Reply { .. }) {
            Outgoing::prompt(frame)
        } else {
            Outgoing::new(frame)
        };
        self.send(node, frame).is_ok()
    }
}

/// The node's seam to other nodes, as the cluster implements it.
impl Distribution for Cluster {
    fn signal(&self, node: NodeName, signal: RemoteSignal) -> bool {
        let envelope = match signal {
            RemoteSignal::Link { from, to } => Envelope::Link { from, to },
            RemoteSignal::Unlink { from, to } => Envelope::Unlink { from, to },
            RemoteSignal::Monitor {
                watcher,
                target,
                mref,
            } => Envelope::Monitor {
                watcher,
                target,
                mref,
            },
            RemoteSignal::Demonitor {
                target,
                mref,
                watcher,
            } => Envelope::Demonitor {
                target,
                mref,
                watcher,
            },
            RemoteSignal::Down {
                mref,
                watcher,
                target,
                reason,
            } => Envelope::Down {
                mref,
                watcher,
                target,
                reason,
            },
            RemoteSignal::Exit {
                from,
                to,
                reason,
                link,
            } => Envelope::Exit {
                from,
                to,
                reason,
                link,
            },
            RemoteSignal::Reply {
                id,
                answer,
                unwatched,
            } => Envelope::Reply {
                id,
                outcome: match answer {
                    Answered::Value(bytes) => ReplyOutcome::Value(bytes),
                    Answered::NoReply => ReplyOutcome::NoReply,
                },
                unwatched,
            },
        };
        self.send_envelope(node, &envelope)
    }

    fn monitor_node(&self, node: NodeName, watcher: Pid) -> bool {
        self.watch_node(node, watcher)
    }

    fn monitor_nodes(&self, watcher: Pid, on: bool) {
        self.subscribe(watcher, on);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
