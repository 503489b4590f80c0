//! Connections made on first use to known peers, and the backoff between
//! failed attempts.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::cluster::{Cluster, TrySend};
use super::outbox::{Outbox, Outgoing};
use crate::{Node, NodeName, RemoteSendError};

/// Where a connection to a known peer stands while it is not up.
pub(crate) enum Dial {
    /// Connecting; frames sent meanwhile wait here, in order.
    Connecting {
        queue: Vec<Outgoing>,
        /// The bytes of the frames in `queue`.
        bytes: usize,
        delay: Duration,
    },
    /// The last attempt failed; the next one waits until `until`.
    Waiting { until: Instant, delay: Duration },
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
        let Some(endpoint) = self.config.peers.get(&node).cloned() else {
            return Err(TrySend::Failed(RemoteSendError::NoConnection(node)));
        };
        if self.left.load(std::sync::atomic::Ordering::Acquire) {
            return Err(TrySend::Failed(RemoteSendError::NoConnection(node)));
        }
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
            Some(Dial::Waiting { until, .. }) if Instant::now() < *until => {
                return Err(TrySend::Failed(RemoteSendError::NoConnection(node)));
            }
            Some(Dial::Waiting { delay, .. }) => (*delay * 2).min(max),
            None => initial,
        };
        let (Some(inner), Some(cluster)) = (self.node.upgrade(), self.me.upgrade()) else {
            return Err(TrySend::Failed(RemoteSendError::NoConnection(node)));
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
        let error = match me.connect(&endpoint).await {
            Ok(name) if name == node => return,
            Ok(name) => format!("{endpoint} answered as {name}"),
            Err(err) => err.to_string(),
        };
        tracing::warn!(peer = %node, %endpoint, "could not connect: {error}");
        {
            let mut dialing = self.dialing.lock();
            if let Some(Dial::Connecting { delay, .. }) = dialing.remove(&node) {
                dialing.insert(
                    node,
                    Dial::Waiting {
                        until: Instant::now() + delay,
                        delay,
                    },
                );
            }
        }
        self.dialed.notify_waiters();
        // What waited (monitors, links, calls) learns there is no connection.
        me.inner.node_down(node);
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
