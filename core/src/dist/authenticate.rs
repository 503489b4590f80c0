//! The handshake over a new connection, as the caller or as the
//! acceptor: the sans-IO [`Handshake`] driven over the transport, within
//! the handshake timeout. Until the handshake has completed, the peer is
//! a stranger and its frames may be no larger than
//! [`MAX_HANDSHAKE_FRAME`]; the node's `max_frame` applies after.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use super::cluster::{Cluster, ClusterError};
use super::connection::{HIDDEN, LEAVE_NOTICE, MULTICAST};
use super::protocol::{FrameError, Handshake, HandshakeConfig, Peer, Step, MAX_HANDSHAKE_FRAME};
use crate::transport::{Connection, TransportError};
use crate::{Node, NodeName};

impl Cluster {
    /// Runs the handshake as the caller over a new connection, then
    /// registers the peer.
    pub(super) async fn initiate(
        self: &Arc<Self>,
        node: &Node,
        mut conn: Connection,
    ) -> Result<NodeName, ClusterError> {
        let (mut handshake, hello) = Handshake::initiate(handshake_config(node, self));
        let exchange = async {
            conn.sink.send(vec![Bytes::from(hello)]).await?;
            run_handshake(&mut handshake, &mut conn, None).await
        };
        let outcome = tokio::time::timeout(self.config.handshake_timeout, exchange).await;
        self.register(node, conn, outcome, true)
    }

    /// Runs the handshake as the acceptor over a new connection, then
    /// registers the peer. `slot` is the connection's place among those a
    /// listener lets into the handshake at once; it is given back as soon
    /// as the handshake has an outcome.
    pub(super) async fn accept(
        self: &Arc<Self>,
        node: &Node,
        mut conn: Connection,
        slot: OwnedSemaphorePermit,
    ) -> Result<NodeName, ClusterError> {
        let cluster = Arc::clone(self);
        let me = node.name();
        // The same node (name and creation) connecting while connected is
        // not a clash: both sides connected at once, and `up` keeps one of
        // the two connections.
        let mut handshake =
            Handshake::accept(handshake_config(node, self), move |name, creation| {
                let name = NodeName::identity_of(name);
                name != me
                    && cluster
                        .peers
                        .lock()
                        .get(&name)
                        .is_some_and(|link| link.creation() != creation)
            });
        let outcome = tokio::time::timeout(
            self.config.handshake_timeout,
            run_handshake(&mut handshake, &mut conn, Some(slot)),
        )
        .await;
        self.register(node, conn, outcome, false)
    }

    /// After a handshake over `conn` that ended with `outcome` (or timed
    /// out): lifts the connection's frame limit to the cluster's and
    /// registers the peer.
    fn register(
        self: &Arc<Self>,
        node: &Node,
        mut conn: Connection,
        outcome: Result<Result<Authenticated, ClusterError>, tokio::time::error::Elapsed>,
        outgoing: bool,
    ) -> Result<NodeName, ClusterError> {
        let (peer, last) = match outcome {
            Ok(Ok(done)) => done,
            Ok(Err(err)) => return Err(err),
            Err(_) => return Err(ClusterError::HandshakeTimeout(conn.peer.clone())),
        };
        conn.stream.set_max_frame(self.config.max_frame);
        Ok(self.up(node, peer, conn, outgoing, last))
    }
}

/// The peer, once its handshake succeeded, and the handshake's last
/// message if this side has it to send.
type Authenticated = (Peer, Option<Vec<u8>>);

fn handshake_config(node: &Node, cluster: &Cluster) -> HandshakeConfig {
    let hidden = if cluster.config.hidden { HIDDEN } else { 0 };
    HandshakeConfig::new(node.name(), node.creation(), cluster.config.cookie.clone())
        .capabilities(LEAVE_NOTICE | MULTICAST | hidden)
}

/// Exchanges handshake messages until the handshake ends; returns the
/// peer and, if the handshake ends with a message of this side, that
/// message, unsent. A frame over
/// [`MAX_HANDSHAKE_FRAME`] ends it at once: the transport stops reading at
/// its header if it can, and the caller drops the connection.
///
/// `slot`, if any, is dropped as soon as the outcome is known, before a
/// refusal or the last message is sent: a peer that has heard the outcome
/// finds the place free.
async fn run_handshake(
    handshake: &mut Handshake,
    conn: &mut Connection,
    slot: Option<OwnedSemaphorePermit>,
) -> Result<Authenticated, ClusterError> {
    conn.stream.set_max_frame(MAX_HANDSHAKE_FRAME);
    loop {
        let Some(frame) = conn.stream.recv().await? else {
            return Err(
                TransportError::Closed("the peer closed during the handshake".into()).into(),
            );
        };
        // For a transport that hands over whole frames whatever the limit.
        let size = frame.payload.len();
        if size > MAX_HANDSHAKE_FRAME {
            let _ = frame.ack().await;
            let too_large = FrameError::TooLarge {
                size,
                max: MAX_HANDSHAKE_FRAME,
            };
            return Err(TransportError::Io(too_large.to_string()).into());
        }
        let step = handshake.handle(&frame.payload);
        // Handled, whatever the outcome: a durable transport forgets it.
        let _ = frame.ack().await;
        match step? {
            Step::Send(bytes) => conn.sink.send(vec![Bytes::from(bytes)]).await?,
            // The last message goes once the peer is registered (see
            // `Cluster::up`).
            Step::SendAndReady(bytes, peer) => return Ok((peer, Some(bytes))),
            Step::Ready(peer) => return Ok((peer, None)),
            Step::SendAndFail(bytes, err) => {
                drop(slot);
                let _ = conn.sink.send(vec![Bytes::from(bytes)]).await;
                conn.sink.close().await;
                return Err(err.into());
            }
        }
    }
}
