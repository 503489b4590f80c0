//! Listening: each listener's loop, which takes incoming connections
//! and hands each to the handshake (or, for frames left from a node's
//! earlier life, to delivery).

use std::sync::Arc;

use super::cluster::Cluster;
use crate::transport::Listener;
use crate::Node;

impl Cluster {
    /// Accepts connections from `listener` for as long as it gives them.
    pub(super) fn listen(self: &Arc<Self>, node: &Node, mut listener: Box<dyn Listener>) {
        let node = node.clone();
        let cluster = Arc::clone(self);
        node.inner.runtime.clone().spawn(async move {
            while let Ok(connection) = listener.accept().await {
                let node = node.clone();
                let cluster = Arc::clone(&cluster);
                if let Some(from) = connection.resumed_from.clone() {
                    tokio::spawn(async move { cluster.resumed(&node, &from, connection).await });
                    continue;
                }
                tokio::spawn(async move {
                    let peer = connection.peer.clone();
                    if let Err(err) = cluster.accept(&node, connection).await {
                        tracing::warn!(%peer, error = %err, "refused an incoming connection");
                    }
                });
            }
        });
    }
}
