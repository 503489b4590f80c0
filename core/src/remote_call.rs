//! Calls to processes on other nodes: the request carries a reply token
//! that routes the answer back; the calling node monitors the callee for
//! the call's duration, so the call ends with the reply, `Timeout`,
//! `NoProc`, `NoConnection` or `Exited(reason)`, and never hangs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::cluster::Cluster;
use crate::outbox::Outgoing;
use crate::remote::{encode_send, CallHeader, Dest, Envelope, ReplyOutcome};
use crate::{CallError, ExitReason, MonitorRef, Node, NodeName, Pid, RemoteSendError, ReplyTo};

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
    Reply(ReplyOutcome),
    Down(ExitReason),
}

impl Cluster {
    /// A reply arrived.
    pub(crate) fn call_answered(&self, id: u64, outcome: ReplyOutcome) {
        if let Some(pending) = self.calls.waiting.lock().remove(&id) {
            let _ = pending.tx.send(Answer::Reply(outcome));
        }
    }

    /// The callee of a call ended.
    pub(crate) fn call_down(&self, mref: MonitorRef, reason: ExitReason) {
        let mut waiting = self.calls.waiting.lock();
        let Some(id) = waiting
            .iter()
            .find(|(_, p)| p.mref == mref)
            .map(|(id, _)| *id)
        else {
            return;
        };
        if let Some(pending) = waiting.remove(&id) {
            let _ = pending.tx.send(Answer::Down(reason));
        }
    }

    /// The connection to `node` is gone: its calls end with `NoConnection`.
    pub(crate) fn calls_lost(&self, node: NodeName) {
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
            let _ = pending.tx.send(Answer::Down(ExitReason::NoConnection));
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
    /// [`CallError::NoConnection`] if its node is not connected or is lost
    /// during the call, [`CallError::BadReply`] for a reply that cannot be
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
        timeout: Duration,
    ) -> Result<R, CallError>
    where
        M: Serialize,
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
        timeout: Duration,
    ) -> Result<R, CallError>
    where
        M: Serialize,
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
        timeout: Duration,
    ) -> Result<R, CallError>
    where
        M: Serialize,
        R: DeserializeOwned,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        let cluster = self.inner.cluster.get().ok_or(CallError::NoConnection)?;
        let id = cluster.calls.next.fetch_add(1, Ordering::Relaxed);
        let mref = self.inner.new_ref();
        let (tx, rx) = oneshot::channel();
        cluster
            .calls
            .waiting
            .lock()
            .insert(id, Pending { node, mref, tx });
        let header = CallHeader {
            id,
            watcher: self.pid(),
            mref,
        };
        let msg = request(ReplyTo::route(self.name(), id));
        let sent = encode_send(to.clone(), &msg, Some(header))
            .map_err(|err| CallError::BadReply(err.to_string()))
            .and_then(|frame| {
                cluster
                    .send(node, Outgoing::new(frame))
                    .map_err(|err| match err {
                        RemoteSendError::NoConnection(_) => CallError::NoConnection,
                        other => CallError::BadReply(other.to_string()),
                    })
            });
        let outcome = match sent {
            Ok(()) => answered(rx, timeout).await,
            Err(err) => Err(err),
        };
        // However it ended: stop waiting and stop watching.
        cluster.calls.waiting.lock().remove(&id);
        if !matches!(outcome, Err(CallError::NoConnection)) {
            self.inner
                .send_control(node, Envelope::CallEnded { to, mref });
        }
        outcome
    }
}

/// Waits for the answer to a call.
async fn answered<R: DeserializeOwned>(
    rx: oneshot::Receiver<Answer>,
    timeout: Duration,
) -> Result<R, CallError> {
    let answer = match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => return Err(CallError::NoConnection),
        Err(_) => return Err(CallError::Timeout),
    };
    match answer {
        Answer::Reply(ReplyOutcome::Value(bytes)) => {
            rmp_serde::from_slice(&bytes).map_err(|err| CallError::BadReply(err.to_string()))
        }
        Answer::Reply(ReplyOutcome::NoReply) => Err(CallError::NoReply),
        Answer::Reply(ReplyOutcome::Rejected(why)) => Err(CallError::Rejected(why)),
        Answer::Reply(ReplyOutcome::NoProc) => Err(CallError::NoProc),
        Answer::Down(ExitReason::NoProc) => Err(CallError::NoProc),
        Answer::Down(ExitReason::NoConnection) => Err(CallError::NoConnection),
        Answer::Down(reason) => Err(CallError::Exited(reason)),
    }
}
