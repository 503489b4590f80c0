//! Sending to a process on another node, as Erlang's `!`: queued for the
//! connection, or confirmed once the transport has taken it.

use bytes::Bytes;

use super::cluster::{Cluster, TrySend};
use super::envelope::{encode_send, Dest};
use super::outbox::Outgoing;
use crate::{Disconnect, Lost, Message, Node, NodeName, Pid};

/// Why a message could not be sent to another node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteSendError {
    /// The node is not connected: which, and why (a refused handshake,
    /// an unreachable endpoint, a lost connection). Match
    /// `RemoteSendError::NoConnection(..)` for any cause.
    #[error("no connection to {0}: {1}")]
    NoConnection(NodeName, Disconnect),
    /// The message could not be encoded.
    #[error("the message could not be encoded: {0}")]
    Encode(String),
    /// Too much already waits to go out to the node (its connection's
    /// queue is over [`ClusterConfig::outbox_limit`](crate::ClusterConfig::outbox_limit)):
    /// the receiver does not keep up. Wait and try again, or send with
    /// [`Addr::cast`](crate::Addr::cast), which waits for room.
    #[error("too much already waits to go out to {0}")]
    Busy(NodeName),
    /// A process named for a multicast to `node` is on another node.
    #[error("{pid} is not on {node}")]
    WrongNode {
        /// The process.
        pid: Pid,
        /// The node the multicast is for.
        node: NodeName,
    },
    /// The encoded message is over the frame limit.
    #[error("the encoded message is {size} bytes; the limit is {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl RemoteSendError {
    /// Why there was no connection to the node, if that is why the send
    /// failed.
    pub fn no_connection(&self) -> Option<&Disconnect> {
        match self {
            Self::NoConnection(_, why) => Some(why),
            _ => None,
        }
    }
}

impl Node {
    /// Sends `msg` to the process `to` on another node, like Erlang's `!`:
    /// it returns once the message is queued for the connection, and a
    /// message in flight when the connection is lost may be lost. It never
    /// waits: when the receiver does not keep up and too much already waits
    /// for its node, it fails with [`RemoteSendError::Busy`] (use
    /// [`Addr::cast`](crate::Addr::cast) to wait for room instead).
    ///
    /// # Errors
    ///
    /// [`RemoteSendError::NoConnection`] if `to`'s node is not connected,
    /// [`RemoteSendError::Busy`] if its queue is full,
    /// [`RemoteSendError::Encode`] or [`RemoteSendError::TooLarge`] for a
    /// message that cannot go; nothing is sent then.
    pub fn send_remote<M: Message>(&self, to: Pid, msg: &M) -> Result<(), RemoteSendError> {
        let frame = encode_send(Dest::of(to), msg, None)?;
        self.try_queue_frame(to.node(), Outgoing::new(frame))
    }

    /// Sends `msg` to the process `to` on another node as
    /// [`send_remote`](Self::send_remote) does, but waits for room while
    /// too much already waits to go out to that node, as a bounded
    /// mailbox makes a local cast wait: a sender cannot outrun a receiver
    /// that does not keep up, and the memory the connection holds stays
    /// bounded ([`ClusterConfig::outbox_limit`](crate::ClusterConfig::outbox_limit)).
    ///
    /// # Errors
    ///
    /// As for [`send_remote`](Self::send_remote), but never `Busy`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the message is queued drops it unsent.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::{Node, Pid, RemoteSendError};
    ///
    /// /// Streams readings to a collector on another node, as fast as the
    /// /// collector's node takes them and no faster.
    /// async fn stream(node: &Node, collector: Pid, readings: Vec<u64>) -> Result<(), RemoteSendError> {
    ///     for reading in readings {
    ///         node.cast_remote(collector, &reading).await?;
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = stream;
    /// ```
    pub async fn cast_remote<M: Message>(&self, to: Pid, msg: &M) -> Result<(), RemoteSendError> {
        let frame = encode_send(Dest::of(to), msg, None)?;
        self.queue_frame_waiting(to.node(), Outgoing::new(frame))
            .await
    }

    /// Sends `msg` to the process registered as `name` on `node`.
    ///
    /// # Errors
    ///
    /// As for [`send_remote`](Self::send_remote).
    pub fn send_remote_named<M: Message>(
        &self,
        node: NodeName,
        name: &str,
        msg: &M,
    ) -> Result<(), RemoteSendError> {
        let frame = encode_send(Dest::Name(name.to_owned()), msg, None)?;
        self.try_queue_frame(node, Outgoing::new(frame))
    }

    /// Sends `msg` to the process `to` on another node and waits until the
    /// transport has taken it: written to the socket, or, over a durable
    /// broker, confirmed by the broker (from then on it survives a crash
    /// of either node). Other sends from the same process stay in order
    /// with it.
    ///
    /// It waits for room while too much waits for the node already.
    ///
    /// # Errors
    ///
    /// As for [`send_remote`](Self::send_remote) (but never `Busy`), and
    /// [`RemoteSendError::NoConnection`] if the connection was lost before
    /// the transport took the message.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the message is queued drops it unsent.
    pub async fn send_remote_confirmed<M: Message>(
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
    pub async fn send_remote_named_confirmed<M: Message>(
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
        self.queue_frame_waiting(node, item).await?;
        match answer.await {
            Ok(true) => Ok(()),
            _ => Err(RemoteSendError::NoConnection(node, Lost::Closed.into())),
        }
    }

    /// Queues a frame for `node` unless too much waits for it already.
    pub(crate) fn try_queue_frame(
        &self,
        node: NodeName,
        frame: Outgoing,
    ) -> Result<(), RemoteSendError> {
        match self.cluster_for(node)?.try_send(node, frame) {
            Ok(()) => Ok(()),
            Err(TrySend::Full(..)) => Err(RemoteSendError::Busy(node)),
            Err(TrySend::Failed(err)) => Err(err),
        }
    }

    /// Queues a frame for `node`, waiting for room while too much waits
    /// for it already.
    pub(crate) async fn queue_frame_waiting(
        &self,
        node: NodeName,
        frame: Outgoing,
    ) -> Result<(), RemoteSendError> {
        let cluster = self.cluster_for(node)?;
        // The common case, room at once, builds no waiting future.
        match cluster.try_send(node, frame) {
            Ok(()) => Ok(()),
            Err(TrySend::Failed(err)) => Err(err),
            Err(TrySend::Full(frame, _)) => cluster.send_waiting(node, frame).await,
        }
    }

    /// The cluster, through which `node` is reached.
    fn cluster_for(&self, node: NodeName) -> Result<&Cluster, RemoteSendError> {
        self.inner
            .cluster()
            .ok_or(RemoteSendError::NoConnection(node, Disconnect::NotJoined))
    }
}
