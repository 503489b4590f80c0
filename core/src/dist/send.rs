//! Sending to a process on another node, as Erlang's `!`: queued for the
//! connection, or confirmed once the transport has taken it.

use bytes::Bytes;
use serde::Serialize;

use super::envelope::{encode_send, Dest};
use super::outbox::Outgoing;
use crate::{Node, NodeName, Pid};

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
            .cluster()
            .ok_or(RemoteSendError::NoConnection(node))?;
        cluster.send(node, frame)
    }
}
