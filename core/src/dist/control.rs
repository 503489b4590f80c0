//! Control frames between nodes: the link, monitor and exit signals (and call
//! answers) the local runtime sends through the node's seam, framed for
//! the peer; and those that arrive from peers, applied to local processes.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::cluster::Cluster;
use super::envelope::{Dest, Envelope, ReplyOutcome};
use super::outbox::Outgoing;
use crate::node::{
    warn_limited, Answered, AnyProcess, Distribution, NodeInner, RemoteSignal, Watcher,
};
use crate::process::deliver_exit;
use crate::process::links::{monitored_for, unmonitor};
use crate::{Disconnect, ExitReason, MonitorRef, NodeName, Pid, Signal};

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

    /// Applies a signal that `peer` sent. A peer speaks only for its own
    /// processes, reaches only exported ones, and may end only the links
    /// and monitors set up with it: anything else is dropped and counted
    /// (see [`NodeStats::forged`](crate::NodeStats::forged)).
    pub(crate) fn remote_signal(&self, peer: NodeName, envelope: Envelope<'_>) {
        if let Some(speaker) = speaker(&envelope) {
            if speaker.node() != peer {
                return self.forged(peer, "a signal for a process of another node");
            }
        }
        match envelope {
            Envelope::Call { .. } => {}
            Envelope::Monitor {
                watcher,
                target,
                mref,
            } => {
                if let Some(proc) = self.reachable(target) {
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
                self.send_control(peer, &down);
            }
            Envelope::Demonitor {
                target,
                mref,
                watcher,
            } => {
                if let Some(proc) = self.lookup(target) {
                    unmonitor(&*proc, mref, |held_by| held_by == watcher);
                }
            }
            Envelope::CallEnded { to, mref } => {
                if let Some(proc) = self.resolve(&to) {
                    unmonitor(&*proc, mref, |held_by| held_by.node() == peer);
                }
            }
            Envelope::Down {
                mref,
                watcher,
                target,
                reason,
            } => self.remote_down(peer, mref, watcher, target, reason),
            Envelope::Link { from, to } => {
                if let Some(proc) = self.reachable(to) {
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
                self.send_control(peer, &exit);
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
                let target = if link {
                    // Only a link this node holds with `from` carries an
                    // exit; a link that was never made, or is gone, none.
                    match self.lookup(to) {
                        Some(proc) if proc.core().sig.lock().rel_mut().links.contains(&from) => {
                            Some(proc)
                        }
                        Some(_) => {
                            // Unlinked meanwhile, or never linked: no
                            // effect, as a link that is gone has none.
                            tracing::debug!(%from, %to, "an exit through a link not held was dropped");
                            return;
                        }
                        None => None,
                    }
                } else {
                    self.reachable(to)
                };
                if let Some(proc) = target {
                    deliver_exit(&*proc, from, reason, link);
                }
            }
            Envelope::Reply {
                id,
                outcome,
                unwatched,
            } => {
                if let Some(cluster) = self.cluster() {
                    if !cluster.call_answered(peer, id, outcome, unwatched) {
                        self.forged(peer, "a reply to a call that went elsewhere");
                    }
                }
            }
        }
    }

    /// A process on `peer` that a process here monitors ended: accepted
    /// only for a monitor this node holds on it.
    fn remote_down(
        &self,
        peer: NodeName,
        mref: MonitorRef,
        watcher: Pid,
        target: Pid,
        reason: ExitReason,
    ) {
        if watcher.id() == 0 {
            // The node itself watches the callee of a remote call.
            if let Some(cluster) = self.cluster() {
                if !cluster.call_down(peer, mref, reason) {
                    self.forged(peer, "a Down for a call that went elsewhere");
                }
            }
            return;
        }
        let Some(proc) = self.lookup(watcher) else {
            return;
        };
        let held = proc
            .core()
            .sig
            .lock()
            .rel()
            .is_some_and(|rel| rel.monitoring.contains(&(mref, target)));
        if !held {
            // Removed meanwhile (its Down is discarded, as a local one
            // is), or never made: either way it has no effect.
            tracing::debug!(%watcher, %target, "a Down for a monitor not held was dropped");
            return;
        }
        proc.push_signal(Signal::Down {
            monitor: mref,
            pid: target,
            reason,
        });
    }

    /// The live local process `pid`, if other nodes may reach it: a
    /// process that is not exported counts a dead letter, as if absent.
    fn reachable(&self, pid: Pid) -> Option<Arc<dyn AnyProcess>> {
        let proc = self.lookup(pid)?;
        if proc.core().is_exported() {
            return Some(proc);
        }
        proc.core().dead_letter();
        tracing::debug!(%pid, "a signal from another node for a process that is not exported");
        None
    }

    /// Counts a frame in which `peer` spoke for what is not its own.
    pub(crate) fn forged(&self, peer: NodeName, what: &'static str) {
        self.counters.forged.fetch_add(1, Ordering::Relaxed);
        warn_limited!(
            self.warnings,
            "forged",
            peer,
            "dropped {what} from a peer, which speaks only for its own processes"
        );
    }

    /// The connection to `node` is gone, or could not be made: calls to
    /// it end with `NoConnection` and `why`; links to its processes fire
    /// with `NoConnection`, monitors on them deliver `Down` with
    /// `NoConnection`, and its processes' monitors on ours are forgotten.
    pub(crate) fn node_down(&self, node: NodeName, why: &Disconnect) {
        if let Some(cluster) = self.cluster() {
            cluster.calls_lost(node, why);
        }
        let procs = self.live();
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

    fn leave(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.left.store(true, Ordering::Release);
        let listening: Vec<_> = self.listening.lock().drain(..).collect();
        self.dialing.lock().clear();
        // Dropping a peer's link writes what is queued, then closes; a
        // peer that understands it is told the node leaves, last.
        let peers: Vec<_> = self.peers.lock().drain().collect();
        let outboxes: Vec<_> = peers.iter().map(|(_, link)| link.outbox()).collect();
        for (_, link) in &peers {
            link.say_leaving();
        }
        drop(peers);
        self.dialed.notify_waiters();
        let grace = self.config.handshake_timeout;
        Box::pin(async move {
            // What was queued for each peer, the leave notice last, goes
            // out before the node is gone (a peer that does not take it
            // in time is given up on).
            let written = async {
                // The writers run at once; this waits for the last.
                for outbox in &outboxes {
                    outbox.written().await;
                }
            };
            let _ = tokio::time::timeout(grace, written).await;
            // Only then do the listeners go (a transport may need its
            // listener to write, as a broker's inbox does); what connects
            // meanwhile is refused, the node having left. An aborted accept
            // loop drops its listener, and frees its endpoint, once the
            // runtime has cancelled it.
            for task in &listening {
                task.abort();
            }
            for task in listening {
                let _ = task.await;
            }
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The process on whose behalf a signal is sent: it must be on the node
/// that sent it.
fn speaker(envelope: &Envelope<'_>) -> Option<Pid> {
    match envelope {
        Envelope::Monitor { watcher, .. } | Envelope::Demonitor { watcher, .. } => Some(*watcher),
        Envelope::Down { target, .. } => Some(*target),
        Envelope::Link { from, .. }
        | Envelope::Unlink { from, .. }
        | Envelope::Exit { from, .. } => Some(*from),
        Envelope::Call { watcher, .. } => Some(*watcher),
        Envelope::CallEnded { .. } | Envelope::Reply { .. } => None,
    }
}
