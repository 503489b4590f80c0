//! Calls to processes on other nodes: the request carries a reply token
//! that routes the answer back; the calling node monitors the callee for
//! the call's duration, so the call ends with the reply, `Timeout`,
//! `NoProc`, `NoConnection(why)` or `Exited(reason)`, and never hangs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use tokio::sync::oneshot;

use super::cluster::Cluster;
use super::envelope::{encode_send, CallHeader, Dest, Envelope, ReplyOutcome};
use super::outbox::Outgoing;
use crate::{
    CallError, Disconnect, ExitReason, Message, MonitorRef, Node, NodeName, Pid, RemoteSendError,
    ReplyTo, Timeout,
};

/// The remote calls a node is waiting on.
#[derive(Default)]
pub(crate) struct PendingCalls {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, Pending>>,
}

struct Pending {
    node: NodeName,
    mref: MonitorRef,
    tx: oneshot::Sender<Answer>,
}

enum Answer {
    /// `unwatched`: the callee's node took the call's monitor down.
    Reply {
        outcome: ReplyOutcome,
        unwatched: bool,
    },
    Down(ExitReason),
    /// The connection to the callee's node is gone, or could not be made.
    Lost(Disconnect),
}

impl Cluster {
    /// A reply to the call numbered `id` arrived from `peer`. Returns
    /// `false` if that call went to another node (the reply is dropped);
    /// a reply to a call no longer waited on is dropped quietly.
    pub(crate) fn call_answered(
        &self,
        peer: NodeName,
        id: u64,
        outcome: ReplyOutcome,
        unwatched: bool,
    ) -> bool {
        // Taken out before the caller is woken, so it finds the list free.
        let pending = {
            let mut waiting = self.calls.waiting.lock();
            match waiting.get(&id) {
                Some(pending) if pending.node != peer => return false,
                Some(_) => waiting.remove(&id),
                None => None,
            }
        };
        if let Some(pending) = pending {
            let _ = pending.tx.send(Answer::Reply { outcome, unwatched });
        }
        true
    }

    /// The callee of a call, on `peer`, ended. Returns `false` if the
    /// call watched under `mref` went to another node.
    pub(crate) fn call_down(&self, peer: NodeName, mref: MonitorRef, reason: ExitReason) -> bool {
        let pending = {
            let mut waiting = self.calls.waiting.lock();
            let Some((id, node)) = waiting
                .iter()
                .find(|(_, p)| p.mref == mref)
                .map(|(id, p)| (*id, p.node))
            else {
                return true;
            };
            if node != peer {
                return false;
            }
            waiting.remove(&id)
        };
        if let Some(pending) = pending {
            let _ = pending.tx.send(Answer::Down(reason));
        }
        true
    }

    /// The connection to `node` is gone (or could not be made): its calls
    /// end with `NoConnection` and why.
    pub(crate) fn calls_lost(&self, node: NodeName, why: &Disconnect) {
        let lost: Vec<Pending> = {
            let mut waiting = self.calls.waiting.lock();
            let ids: Vec<u64> = waiting
                .iter()
                .filter(|(_, p)| p.node == node)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| waiting.remove(id)).collect()
        };
        for pending in lost {
            let _ = pending.tx.send(Answer::Lost(why.clone()));
        }
    }
}

impl Node {
    /// Calls a process on another node, like [`Handle::call`](crate::Handle::call):
    /// `request` builds the message around a reply token, which the callee
    /// answers with [`ReplyTo::reply`]. The request and the reply are
    /// encoded with rmp-serde; the callee must be
    /// [exported](Node::export).
    ///
    /// # Errors
    ///
    /// [`CallError::Timeout`] (a later reply is dropped),
    /// [`CallError::NoProc`] if the callee did not exist,
    /// [`CallError::Exited`] if it ended before replying,
    /// [`CallError::NoReply`] if it dropped the token,
    /// [`CallError::NoConnection`] with why if its node is not connected
    /// (or cannot be) or is lost during the call, [`CallError::BadReply`] for a reply that cannot be
    /// decoded, [`CallError::Rejected`] at once if the callee's node
    /// refused the request (the callee takes another type or is not
    /// exported).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the call; a reply is then dropped.
    pub async fn call_remote<M, R, F>(
        &self,
        to: Pid,
        request: F,
        timeout: impl Into<Timeout>,
    ) -> Result<R, CallError>
    where
        M: Message,
        R: DeserializeOwned,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        self.call_dest(to.node(), Dest::of(to), request, timeout)
            .await
    }

    /// Calls the process registered as `name` on `node`, as
    /// [`call_remote`](Self::call_remote) does; the name is looked up when
    /// the request arrives, and the process found is watched for the call.
    ///
    /// # Errors
    ///
    /// As [`call_remote`](Self::call_remote); [`CallError::NoProc`] if no
    /// process has that name.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the call; a reply is then dropped.
    pub async fn call_remote_named<M, R, F>(
        &self,
        node: NodeName,
        name: &str,
        request: F,
        timeout: impl Into<Timeout>,
    ) -> Result<R, CallError>
    where
        M: Message,
        R: DeserializeOwned,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        self.call_dest(node, Dest::Name(name.to_owned()), request, timeout)
            .await
    }

    pub(crate) async fn call_dest<M, R, F>(
        &self,
        node: NodeName,
        to: Dest,
        request: F,
        timeout: impl Into<Timeout>,
    ) -> Result<R, CallError>
    where
        M: Message,
        R: DeserializeOwned,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        let cluster = self
            .inner
            .cluster()
            .ok_or(CallError::NoConnection(Disconnect::NotJoined))?;
        let id = cluster.calls.next.fetch_add(1, Ordering::Relaxed);
        let mref = self.inner.new_ref();
        let (tx, rx) = oneshot::channel();
        cluster
            .calls
            .waiting
            .lock()
            .insert(id, Pending { node, mref, tx });
        // From here on, however the call ends (even by its future being
        // dropped), it stops waiting and the callee's node hears of it.
        let mut waiting = Waiting {
            node: self,
            cluster,
            id,
            callee: node,
            to,
            mref,
            listed: true,
            watched: false,
        };
        let header = CallHeader {
            id,
            watcher: self.pid(),
            mref,
        };
        let msg = request(ReplyTo::route(self.name(), id));
        let frame = encode_send(waiting.to.clone(), &msg, Some(header))
            .map_err(|err| CallError::BadReply(err.to_string()))?;
        cluster
            .send(node, Outgoing::prompt(frame))
            .map_err(|err| match err {
                RemoteSendError::NoConnection(_, why) => CallError::NoConnection(why),
                other => CallError::BadReply(other.to_string()),
            })?;
        // The request is on its way: the callee's node may watch for it.
        waiting.watched = true;
        let (outcome, ended_there) = answered(rx, timeout.into()).await;
        // The callee's node may not know the request's type by name.
        let outcome = outcome.map_err(|err| match err {
            CallError::Rejected(why) => {
                CallError::Rejected(format!("{why} (the request was a {})", M::NAME))
            }
            other => other,
        });
        waiting.watched = !ended_there;
        // An answer was taken off the list by whoever gave it; only a
        // timeout leaves the call there.
        waiting.listed = matches!(outcome, Err(CallError::Timeout));
        outcome
    }
}

/// A remote call under way, until it ends: then it stops waiting and,
/// unless the callee's node knows already (it answered and took the
/// call's monitor down, the monitor fired, or the connection is gone),
/// tells that node the call is over so the monitor goes.
struct Waiting<'a> {
    node: &'a Node,
    cluster: &'a Cluster,
    id: u64,
    callee: NodeName,
    to: Dest,
    mref: MonitorRef,
    /// Whether the call may still be on the list of calls waiting.
    listed: bool,
    /// Whether the callee's node may still hold the call's monitor.
    watched: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.listed {
            self.cluster.calls.waiting.lock().remove(&self.id);
        }
        if self.watched {
            let ended = Envelope::CallEnded {
                to: self.to.clone(),
                mref: self.mref,
            };
            self.node.inner.send_control(self.callee, &ended);
        }
    }
}

/// Waits for the answer to a call; with it, whether the callee's node
/// knows the call is over.
async fn answered<R: DeserializeOwned>(
    rx: oneshot::Receiver<Answer>,
    timeout: Timeout,
) -> (Result<R, CallError>, bool) {
    let answer = match tokio::time::timeout_at(timeout.deadline(), rx).await {
        Ok(Ok(answer)) => answer,
        // Dropped unanswered: the node itself is gone.
        Ok(Err(_)) => return (Err(CallError::NoConnection(Disconnect::NotJoined)), true),
        Err(_) => return (Err(CallError::Timeout), false),
    };
    let (outcome, ended_there) = match answer {
        Answer::Reply { outcome, unwatched } => (outcome, unwatched),
        Answer::Down(reason) => {
            // The callee's own end, as its node reports it: even
            // `NoConnection` is the callee's reason (a link of its to a
            // third node was lost), not this connection's.
            let err = match reason {
                ExitReason::NoProc => CallError::NoProc,
                reason => CallError::Exited(reason),
            };
            return (Err(err), true);
        }
        Answer::Lost(why) => return (Err(CallError::NoConnection(why)), true),
    };
    let result = match outcome {
        ReplyOutcome::Value(bytes) => {
            rmp_serde::from_slice(&bytes).map_err(|err| CallError::BadReply(err.to_string()))
        }
        ReplyOutcome::NoReply => Err(CallError::NoReply),
        ReplyOutcome::Rejected(why) => Err(CallError::Rejected(why)),
        ReplyOutcome::NoProc => Err(CallError::NoProc),
    };
    (result, ended_there)
}
