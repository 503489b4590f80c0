//! Messages between nodes: the envelope on the wire, sending to a remote
//! process, and the signals (links, monitors, exits, replies) that come
//! from other nodes. Receiving messages is in `export`.
//!
//! Messages are encoded with rmp-serde. The envelope names the sender's
//! message type, and the receiving node checks it against the target's
//! before decoding, so a mismatch is a clear error naming both types, never
//! garbage. Local sends never come through here.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::cell::{AnyProcess, Watcher};
use crate::node::NodeInner;
use crate::outbox::Outgoing;
use crate::signals::deliver_exit;
use crate::{Creation, ExitReason, MonitorRef, Node, NodeName, Pid, Signal};

/// What travels between nodes, one per frame. A received message borrows
/// its type name and payload from the frame: decoding copies nothing.
#[derive(Serialize, Deserialize)]
pub(crate) enum Envelope<'a> {
    /// A call's request: a message for a process, and the number of the
    /// call, so that a request the callee's node refuses is answered at
    /// once rather than left to time out.
    /// The callee's node monitors the callee for `watcher` under `mref`
    /// for the call's duration (no separate `Monitor` frame, and it works
    /// for a callee given by name), or answers at once if there is none.
    Call {
        id: u64,
        to: Dest,
        watcher: Pid,
        mref: MonitorRef,
        msg_type: &'a str,
        #[serde(with = "serde_bytes")]
        payload: &'a [u8],
    },
    /// The call monitored under `mref` is over: its monitor goes.
    CallEnded { to: Dest, mref: MonitorRef },
    /// `watcher` starts monitoring `target`.
    Monitor {
        watcher: Pid,
        target: Pid,
        mref: MonitorRef,
    },
    /// `watcher` stops monitoring `target`.
    Demonitor {
        target: Pid,
        mref: MonitorRef,
        watcher: Pid,
    },
    /// A monitored process ended (or did not exist).
    Down {
        mref: MonitorRef,
        watcher: Pid,
        target: Pid,
        reason: ExitReason,
    },
    /// `from` links itself to `to`.
    Link { from: Pid, to: Pid },
    /// `from` removes its link to `to`.
    Unlink { from: Pid, to: Pid },
    /// An exit signal: from a link when `link` is set, else `exit/2`.
    Exit {
        from: Pid,
        to: Pid,
        reason: ExitReason,
        link: bool,
    },
    /// The answer to the remote call numbered `id`; `unwatched` if the
    /// callee's node took the call's monitor down with it (the caller
    /// then sends no `CallEnded`).
    Reply {
        id: u64,
        outcome: ReplyOutcome,
        unwatched: bool,
    },
}

/// How a remote call was answered.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum ReplyOutcome {
    /// The reply, encoded.
    Value(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The callee dropped the token (or its reply could not be encoded).
    NoReply,
    /// The callee's node refused the request: why.
    Rejected(String),
    /// The callee did not exist when the request arrived.
    NoProc,
}

/// Who a remote message is for.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// A pid on the receiving node, without the node's name, which the
    /// receiver knows (decoding a name costs more than the rest).
    Id {
        id: u64,
        creation: Creation,
    },
    Name(String),
}

impl Dest {
    /// The destination for `pid`, on the node it names.
    pub(crate) fn of(pid: Pid) -> Self {
        Self::Id {
            id: pid.id(),
            creation: pid.creation(),
        }
    }
}

/// Room reserved before encoding: enough for a small message and an
/// envelope's header.
const ENCODE_START: usize = 128;

/// Why a message could not be sent to another node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteSendError {
    /// The node is not connected.
    #[error("no connection to {0}")]
    NoConnection(NodeName),
    /// The message could not be encoded.
    #[error("the message could not be encoded: {0}")]
    Encode(String),
    /// The encoded message is over the frame limit.
    #[error("the encoded message is {size} bytes; the limit is {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl Node {
    /// Sends `msg` to the process `to` on another node, like Erlang's `!`:
    /// it returns once the message is queued for the connection, and a
    /// message in flight when the connection is lost may be lost.
    ///
    /// # Errors
    ///
    /// [`RemoteSendError::NoConnection`] if `to`'s node is not connected,
    /// [`RemoteSendError::Encode`] or [`RemoteSendError::TooLarge`] for a
    /// message that cannot go; nothing is sent then.
    pub fn send_remote<M: Serialize>(&self, to: Pid, msg: &M) -> Result<(), RemoteSendError> {
        let frame = encode_send(Dest::of(to), msg, None)?;
        self.queue_frame(to.node(), Outgoing::new(frame))
    }

    /// Sends `msg` to the process registered as `name` on `node`.
    ///
    /// # Errors
    ///
    /// As for [`send_remote`](Self::send_remote).
    pub fn send_remote_named<M: Serialize>(
        &self,
        node: NodeName,
        name: &str,
        msg: &M,
    ) -> Result<(), RemoteSendError> {
        let frame = encode_send(Dest::Name(name.to_owned()), msg, None)?;
        self.queue_frame(node, Outgoing::new(frame))
    }

    /// Sends `msg` to the process `to` on another node and waits until the
    /// transport has taken it: written to the socket, or, over a durable
    /// broker, confirmed by the broker (from then on it survives a crash
    /// of either node). Other sends from the same process stay in order
    /// with it.
    ///
    /// # Errors
    ///
    /// As for [`send_remote`](Self::send_remote), and
    /// [`RemoteSendError::NoConnection`] if the connection was lost before
    /// the transport took the message.
    pub async fn send_remote_confirmed<M: Serialize>(
        &self,
        to: Pid,
        msg: &M,
    ) -> Result<(), RemoteSendError> {
        let frame = encode_send(Dest::of(to), msg, None)?;
        self.confirmed(to.node(), frame).await
    }

    /// Sends `msg` to the process registered as `name` on `node`, and
    /// waits as [`send_remote_confirmed`](Self::send_remote_confirmed)
    /// does.
    ///
    /// # Errors
    ///
    /// As for [`send_remote_confirmed`](Self::send_remote_confirmed).
    pub async fn send_remote_named_confirmed<M: Serialize>(
        &self,
        node: NodeName,
        name: &str,
        msg: &M,
    ) -> Result<(), RemoteSendError> {
        let frame = encode_send(Dest::Name(name.to_owned()), msg, None)?;
        self.confirmed(node, frame).await
    }

    async fn confirmed(&self, node: NodeName, frame: Bytes) -> Result<(), RemoteSendError> {
        let (taken, answer) = tokio::sync::oneshot::channel();
        let mut item = Outgoing::new(frame);
        item.taken = Some(taken);
        self.queue_frame(node, item)?;
        match answer.await {
            Ok(true) => Ok(()),
            _ => Err(RemoteSendError::NoConnection(node)),
        }
    }

    pub(crate) fn queue_frame(
        &self,
        node: NodeName,
        frame: Outgoing,
    ) -> Result<(), RemoteSendError> {
        let cluster = self
            .inner
            .cluster
            .get()
            .ok_or(RemoteSendError::NoConnection(node))?;
        cluster.send(node, frame)
    }
}

/// What makes a message a call's request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallHeader {
    /// The call's number on the calling node.
    pub(crate) id: u64,
    /// Who waits, and the monitor it holds on the callee meanwhile.
    pub(crate) watcher: Pid,
    pub(crate) mref: MonitorRef,
}

/// Encodes a message for `to` as a frame: a plain message, or a call's
/// request.
pub(crate) fn encode_send<M: Serialize>(
    to: Dest,
    msg: &M,
    call: Option<CallHeader>,
) -> Result<Bytes, RemoteSendError> {
    let Some(CallHeader { id, watcher, mref }) = call else {
        return crate::wire::encode_message(&to, msg);
    };
    let encode = |err: rmp_serde::encode::Error| RemoteSendError::Encode(err.to_string());
    let mut payload = Vec::with_capacity(ENCODE_START);
    rmp_serde::encode::write(&mut payload, msg).map_err(encode)?;
    let msg_type = std::any::type_name::<M>();
    let envelope = Envelope::Call {
        id,
        to,
        watcher,
        mref,
        msg_type,
        payload: &payload,
    };
    let mut frame = Vec::with_capacity(payload.len() + msg_type.len() + ENCODE_START);
    rmp_serde::encode::write(&mut frame, &envelope).map_err(encode)?;
    Ok(Bytes::from(frame))
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

/// Removes the remote monitor `mref` (held by `watcher`, if given) on `proc`.
fn unmonitor(proc: &dyn AnyProcess, mref: MonitorRef, watcher: Option<Pid>) {
    proc.core()
        .sig
        .lock()
        .rel_mut()
        .monitored_by
        .retain(|(r, w)| {
            !(*r == mref
                && matches!(w, Watcher::Remote(p) if watcher.is_none_or(|watcher| *p == watcher)))
        });
}

impl NodeInner {
    /// A call to `callee` was answered: the monitor its node held for the
    /// caller goes.
    pub(crate) fn unwatch_call(&self, callee: Pid, mref: MonitorRef) {
        if let Some(proc) = self.lookup(callee) {
            unmonitor(&*proc, mref, None);
        }
    }

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
    pub(crate) fn send_control(&self, node: NodeName, envelope: Envelope<'_>) -> bool {
        let Some(cluster) = self.cluster.get() else {
            return false;
        };
        let Ok(frame) = rmp_serde::to_vec(&envelope) else {
            return false;
        };
        let frame = Bytes::from(frame);
        // A caller waits on a reply.
        let frame = if matches!(envelope, Envelope::Reply { .. }) {
            Outgoing::prompt(frame)
        } else {
            Outgoing::new(frame)
        };
        cluster.send(node, frame).is_ok()
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
                self.send_control(watcher.node(), down);
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
                    if let Some(cluster) = self.cluster.get() {
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
                self.send_control(from.node(), exit);
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
                if let Some(cluster) = self.cluster.get() {
                    cluster.call_answered(id, outcome, unwatched);
                }
            }
        }
    }

    /// The connection to `node` is gone: links to its processes fire with
    /// `NoConnection`, monitors on them deliver `Down` with `NoConnection`,
    /// and its processes' monitors on ours are forgotten.
    pub(crate) fn node_down(&self, node: NodeName) {
        if let Some(cluster) = self.cluster.get() {
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
