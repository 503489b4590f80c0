//! Connections made on first use to known peers, and the backoff between
//! failed attempts.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::cluster::Cluster;
use super::outbox::{Outbox, Outgoing};
use crate::{Node, NodeName, RemoteSendError};

/// Where a connection to a known peer stands while it is not up.
pub(crate) enum Dial {
    /// Connecting; frames sent meanwhile wait here, in order.
    Connecting {
        queue: Vec<Outgoing>,
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
        let Some(endpoint) = self.config.peers.get(&node).cloned() else {
            return Err(RemoteSendError::NoConnection(node));
        };
        let (initial, max) = self.config.redial;
        let mut dialing = self.dialing.lock();
        let delay = match dialing.get_mut(&node) {
            Some(Dial::Connecting { queue, .. }) => {
                queue.push(frame);
                return Ok(());
            }
            Some(Dial::Waiting { until, .. }) if Instant::now() < *until => {
                return Err(RemoteSendError::NoConnection(node));
            }
            Some(Dial::Waiting { delay, .. }) => (*delay * 2).min(max),
            None => initial,
        };
        let (Some(inner), Some(cluster)) = (self.node.upgrade(), self.me.upgrade()) else {
            return Err(RemoteSendError::NoConnection(node));
        };
        dialing.insert(
            node,
            Dial::Connecting {
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
        }
    }
}
