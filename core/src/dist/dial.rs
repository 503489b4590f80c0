//! Connections made on first use to known peers, and the backoff between
//! failed attempts: sends in between fail at once, with why the last
//! attempt failed.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::cluster::{Cluster, ClusterError, TrySend};
use super::outbox::{Outbox, Outgoing};
use super::protocol::HandshakeError;
use crate::{Disconnect, Node, NodeName, RemoteSendError};

/// Where a connection to a known peer stands while it is not up.
pub(crate) enum Dial {
    /// Connecting; frames sent meanwhile wait here, in order.
    Connecting {
        queue: Vec<Outgoing>,
        /// The bytes of the frames in `queue`.
        bytes: usize,
        delay: Duration,
    },
    /// The last attempt failed, for `why`; the next one waits until
    /// `until`.
    Waiting {
        until: Instant,
        delay: Duration,
        why: Disconnect,
    },
}

impl Cluster {
    /// Queues `frame` for a known but unconnected node, connecting if no
    /// attempt is under way and the backoff allows. Called with the peers
    /// lock held.
    pub(crate) fn dial(&self, node: NodeName, frame: Outgoing) -> Result<(), RemoteSendError> {
        match self.queue_dialing(node, frame, false) {
            Ok(()) => Ok(()),
            Err(TrySend::Failed(err)) => Err(err),
            // Not refused when unbounded.
            Err(TrySend::Full(..)) => Err(RemoteSendError::Busy(node)),
        }
    }

    /// As [`dial`](Self::dial), but a frame that would take what waits
    /// for the connection over the outbox limit is handed back.
    pub(crate) fn dial_bounded(&self, node: NodeName, frame: Outgoing) -> Result<(), TrySend> {
        self.queue_dialing(node, frame, true)
    }

    fn queue_dialing(&self, node: NodeName, frame: Outgoing, bounded: bool) -> Result<(), TrySend> {
        let failed = |why| Err(TrySend::Failed(RemoteSendError::NoConnection(node, why)));
        if self.left.load(std::sync::atomic::Ordering::Acquire) {
            return failed(Disconnect::NotJoined);
        }
        let Some(endpoint) = self.config.peers.get(&node).cloned() else {
            return failed(Disconnect::Unknown);
        };
        let (initial, max) = self.config.redial;
        let mut dialing = self.dialing.lock();
        let delay = match dialing.get_mut(&node) {
            Some(Dial::Connecting { queue, bytes, .. }) => {
                if bounded && *bytes > 0 && *bytes + frame.frame.len() > self.config.outbox_limit {
                    return Err(TrySend::Full(frame, None));
                }
                *bytes += frame.frame.len();
                queue.push(frame);
                return Ok(());
            }
            Some(Dial::Waiting { until, why, .. }) if Instant::now() < *until => {
                return failed(why.clone());
            }
            Some(Dial::Waiting { delay, .. }) => (*delay * 2).min(max),
            None => initial,
        };
        let (Some(inner), Some(cluster)) = (self.node.upgrade(), self.me.upgrade()) else {
            return failed(Disconnect::NotJoined);
        };
        dialing.insert(
            node,
            Dial::Connecting {
                bytes: frame.frame.len(),
                queue: vec![frame],
                delay,
            },
        );
        let runtime = inner.runtime.clone();
        let me = Node { inner };
        runtime.spawn(async move { cluster.attempt(me, node, endpoint).await });
        Ok(())
    }

    async fn attempt(
        self: Arc<Self>,
        me: Node,
        node: NodeName,
        endpoint: crate::transport::Endpoint,
    ) {
        let why = match me.connect(&endpoint).await {
            Ok(name) if name == node => return,
            Ok(name) => Disconnect::HandshakeFailed(format!("{endpoint} answered as {name}")),
            Err(err) => cause(err),
        };
        tracing::warn!(peer = %node, %endpoint, "could not connect: {why}");
        {
            let mut dialing = self.dialing.lock();
            if let Some(Dial::Connecting { delay, .. }) = dialing.remove(&node) {
                dialing.insert(
                    node,
                    Dial::Waiting {
                        until: Instant::now() + delay,
                        delay,
                        why: why.clone(),
                    },
                );
            }
        }
        self.dialed.notify_waiters();
        // What waited (monitors, links, calls) learns there is no
        // connection, and calls learn why.
        me.inner.node_down(node, &why);
    }

    /// Sends what waited for `node` through its new connection.
    pub(crate) fn flush_dialing(&self, node: NodeName, outbox: &Outbox) {
        let waited = self.dialing.lock().remove(&node);
        if let Some(Dial::Connecting { queue, .. }) = waited {
            for frame in queue {
                let _ = outbox.push(frame);
            }
            self.dialed.notify_waiters();
        }
    }
}

/// Why connecting failed, as a send or call reports it.
fn cause(err: ClusterError) -> Disconnect {
    match err {
        ClusterError::Handshake(
            HandshakeError::RefusedByPeer(refusal) | HandshakeError::Refused(refusal),
        ) => Disconnect::Refused(refusal),
        ClusterError::Handshake(err) => Disconnect::HandshakeFailed(err.to_string()),
        ClusterError::HandshakeTimeout(peer) => {
            Disconnect::HandshakeFailed(format!("the handshake with {peer} timed out"))
        }
        ClusterError::Transport(err) => Disconnect::Unreachable(err.to_string()),
        ClusterError::NoTransport(endpoint) => {
            Disconnect::Unreachable(format!("no transport for {endpoint}"))
        }
        ClusterError::NotJoined(_) => Disconnect::NotJoined,
    }
}
