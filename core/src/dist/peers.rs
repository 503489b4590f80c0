//! Registering an authenticated peer: one connection per peer, the
//! tie-break when two nodes connect to each other at once, and the
//! connection's task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cluster::{Cluster, PeerLink};
use super::connection::{Link, HIDDEN, LEAVE_NOTICE, MULTICAST};
use super::outbox::{Outbox, Outgoing};
use super::protocol::{Heartbeat, Peer};
use crate::transport::{Connection, FrameStream};
use crate::{Disconnect, Lost, Node, NodeEvent, NodeName};

impl Cluster {
    /// Registers an authenticated peer and starts its connection's task.
    /// `outgoing` if this node made the connection; `last`, the
    /// handshake's last message if this side has it to send, goes first,
    /// once the peer is registered: the peer, up when it gets it, may
    /// close another connection between the two at once, whose end must
    /// find this one in its place.
    ///
    /// Two nodes that connect to each other at once end up with two
    /// connections; both keep the one made by the node whose name sorts
    /// first, as Erlang does, so that neither closes the one the other
    /// kept.
    pub(super) fn up(
        self: &Arc<Self>,
        node: &Node,
        peer: Peer,
        conn: Connection,
        outgoing: bool,
        last: Option<Vec<u8>>,
    ) -> NodeName {
        if self.left.load(Ordering::Acquire) {
            // The node left while this connection was being made.
            drop(conn);
            return peer.name;
        }
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        let (stop, stopped) = mpsc::channel(1);
        let Connection {
            sink,
            stream,
            peer: via,
            ..
        } = conn;
        let heartbeat = Arc::new(Mutex::new(Heartbeat::new(
            self.config.heartbeat,
            Instant::now(),
        )));
        let outbox = Outbox::new(sink, Arc::clone(&heartbeat), self.config.outbox_limit);
        if let Some(last) = last {
            // Nothing else can be queued yet: the link is not visible.
            let _ = outbox.push(Outgoing::node_level(Bytes::from(last)));
        }
        let replaced = Arc::new(AtomicBool::new(false));
        let hidden = self.config.hidden || peer.offered & HIDDEN != 0;
        let old = {
            let mut peers = self.peers.lock();
            // Checked again under the lock `leave` takes the peers under:
            // a link registered after they were taken would outlive the
            // node's leaving.
            if self.left.load(Ordering::Acquire) {
                outbox.abort();
                return peer.name;
            }
            let keep = match peers.get(&peer.name) {
                None => true,
                Some(existing) => {
                    // The connection made by the node whose name sorts
                    // first is the one both sides keep.
                    let winner_is_outgoing = node.name() < peer.name;
                    outgoing == winner_is_outgoing && existing.outgoing != winner_is_outgoing
                }
            };
            let old = if keep {
                peers.insert(
                    peer.name,
                    PeerLink {
                        id,
                        _name: peer.name.pin(),
                        outbox: Arc::clone(&outbox),
                        hears_leaving: peer.capabilities & LEAVE_NOTICE != 0,
                        reads_multicast: peer.capabilities & MULTICAST != 0,
                        outgoing,
                        creation: peer.creation,
                        hidden,
                        replaced: Arc::clone(&replaced),
                        _stop: stop,
                    },
                )
            } else {
                None
            };
            // What waited for this connection goes out first, in order:
            // `send` also holds the peers lock.
            if let Some(link) = peers.get(&peer.name) {
                self.flush_dialing(peer.name, &link.outbox);
            }
            if !keep {
                tracing::debug!(peer = %peer.name, "both sides connected at once: this connection goes");
                self.linger(node, peer.name, outbox, stream);
                return peer.name;
            }
            old
        };
        if let Some(old) = old {
            // Its end is not the peer's. It stays open a while, as the
            // losing connection does on the other side.
            old.replaced.store(true, Ordering::Release);
            let linger = self.config.handshake_timeout;
            node.inner.runtime.spawn(async move {
                tokio::time::sleep(linger).await;
                drop(old);
            });
            tracing::debug!(peer = %peer.name, "both sides connected at once: this connection stays");
        } else {
            tracing::info!(peer = %peer.name, creation = %peer.creation, hidden, "node up");
            self.notify(&node.inner, NodeEvent::Up(peer.name), hidden);
        }
        let writer = node.inner.runtime.spawn(Arc::clone(&outbox).write());
        let cluster = Arc::clone(self);
        let node = node.clone();
        node.inner.runtime.clone().spawn(async move {
            let link = Link {
                from: peer.name,
                via,
                outbox,
                heartbeat,
            };
            let why = cluster.serve(&node, link, stream, stopped).await;
            if replaced.load(Ordering::Acquire) {
                return;
            }
            if why == Lost::HeartbeatTimeout {
                // A writer held up by a peer that went silent would hold
                // the connection (and what it was writing) until the
                // socket gives up: it stops now, closing the connection.
                writer.abort();
            }
            cluster.down(peer.name, id, &why);
            // Links and monitors across the lost connection fire after the
            // peer is gone from `nodes()`, before `Down` is reported.
            node.inner
                .node_down(peer.name, &Disconnect::Lost(why.clone()));
            cluster.notify(&node.inner, NodeEvent::Down(peer.name, why), hidden);
        });
        peer.name
    }

    /// Keeps a connection that lost to another between the same two nodes
    /// open a while: what it queued (the handshake's end, so that the peer
    /// sees it through) is written, and what the peer sent on it before
    /// it took the other connection is delivered, until the peer closes
    /// it or the handshake timeout has passed. Closing it at once could
    /// reach the peer before the connection that stays is up there, and
    /// look like the peer's end.
    fn linger(
        self: &Arc<Self>,
        node: &Node,
        from: NodeName,
        outbox: Arc<Outbox>,
        mut stream: Box<dyn FrameStream>,
    ) {
        node.inner.runtime.spawn(Arc::clone(&outbox).write());
        let cluster = Arc::clone(self);
        let linger = self.config.handshake_timeout;
        let node = node.clone();
        node.inner.runtime.clone().spawn(async move {
            let drained = tokio::time::timeout(linger, async {
                while let Ok(Some(frame)) = stream.recv().await {
                    if let Err(why) = cluster.received(&node, from, frame).await {
                        tracing::debug!(peer = %from, "a connection that goes: {why}");
                        return;
                    }
                }
            });
            let _ = drained.await;
            outbox.close();
        });
    }
}
