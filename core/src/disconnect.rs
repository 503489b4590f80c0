//! Why there is no connection to a node: refused by the handshake, not
//! reachable, or lost once up. Sends and calls that fail for want of a
//! connection say which ([`CallError::NoConnection`](crate::CallError::NoConnection),
//! [`RemoteSendError::NoConnection`](crate::RemoteSendError::NoConnection)),
//! and a node seen going down says how it went
//! ([`NodeEvent::Down`](crate::NodeEvent::Down)).
//!
//! Links and monitors across a lost connection still fire with
//! [`ExitReason::NoConnection`](crate::ExitReason::NoConnection): an exit
//! reason says that a process is out of reach, not why.

use serde::{Deserialize, Serialize};

/// Why there is no connection to a node.
///
/// Match on the kind and leave room for more:
///
/// ```
/// use beamish_core::{CallError, Disconnect, Lost, Refusal};
///
/// fn explain(err: &CallError) -> &'static str {
///     match err {
///         CallError::NoConnection(Disconnect::Refused(Refusal::BadCookie)) => "wrong cookie",
///         CallError::NoConnection(Disconnect::Unreachable(_)) => "nobody listens there",
///         CallError::NoConnection(Disconnect::Lost(Lost::HeartbeatTimeout)) => "went silent",
///         CallError::NoConnection(_) => "no connection",
///         _ => "something else",
///     }
/// }
///
/// let err = CallError::NoConnection(Disconnect::Refused(Refusal::BadCookie));
/// assert_eq!(explain(&err), "wrong cookie");
/// assert!(err.no_connection().is_some_and(Disconnect::is_refused));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Disconnect {
    /// The handshake was refused, by the peer or by this node: the
    /// cookies differ, no protocol version is common, or the name is
    /// taken. Trying again will not help until the configuration changes.
    #[error("the handshake was refused: {0}")]
    Refused(Refusal),
    /// The node could not be reached: the transport's error, as text
    /// (nothing listens at its endpoint, the host is unknown, ...).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// A connection was opened but the handshake did not complete: it
    /// timed out, or the peer answered under another name or sent what
    /// could not be understood.
    #[error("the handshake failed: {0}")]
    HandshakeFailed(String),
    /// The connection was up, and was lost.
    #[error("the connection was lost: {0}")]
    Lost(Lost),
    /// The node is not connected, and this node knows no endpoint for it
    /// (it is not among [`ClusterConfig::peers`](crate::ClusterConfig)),
    /// so nothing connects to it on first use.
    #[error("not connected, and no endpoint is known for it")]
    Unknown,
    /// This node is in no cluster: it has not joined one, has left its
    /// cluster (it is shutting down), or is gone.
    #[error("this node is not in a cluster")]
    NotJoined,
}

impl Disconnect {
    /// Whether the handshake was refused ([`Disconnect::Refused`]).
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused(_))
    }

    /// Whether the node could not be reached, or no connection to it
    /// could be completed ([`Disconnect::Unreachable`],
    /// [`Disconnect::HandshakeFailed`]).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::HandshakeFailed(_))
    }

    /// How a connection that was up was lost ([`Disconnect::Lost`]).
    pub fn lost(&self) -> Option<&Lost> {
        match self {
            Self::Lost(lost) => Some(lost),
            _ => None,
        }
    }
}

impl From<Lost> for Disconnect {
    fn from(lost: Lost) -> Self {
        Self::Lost(lost)
    }
}

/// How a connection that was up came to an end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Lost {
    /// Nothing came from the peer for longer than the heartbeat allows:
    /// it, or the network to it, went silent.
    #[error("no heartbeat from the peer")]
    HeartbeatTimeout,
    /// The peer left its cluster: it shut down, and said so before
    /// closing the connection.
    #[error("the peer left: it shut down")]
    PeerLeft,
    /// The peer closed the connection without saying why (an older peer
    /// that shut down, or one that called
    /// [`Node::disconnect`](crate::Node::disconnect)); or the connection
    /// was closing as the message was queued.
    #[error("the peer closed the connection")]
    Closed,
    /// The connection failed under the transport: its error, as text (a
    /// reset, a broken pipe, a dropped broker channel).
    #[error("the connection failed: {0}")]
    Reset(String),
    /// The peer sent a frame that could not be taken (too large or
    /// undecodable), so this node closed the connection: why.
    #[error("the peer broke the protocol: {0}")]
    Protocol(String),
    /// This node ended the connection, with
    /// [`Node::disconnect`](crate::Node::disconnect) or by leaving its
    /// cluster.
    #[error("this node closed the connection")]
    Disconnected,
}

/// Why a side refused the handshake, as sent to the other side.
///
/// Part of the handshake's wire form: the variants keep their names and
/// fields across protocol versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The proofs did not match: the cookies differ.
    #[error("the cookies do not match")]
    BadCookie,
    /// No protocol version both sides speak.
    #[error("no common protocol version: one side speaks {low}..={high}")]
    UnsupportedVersion {
        /// Lowest version the refusing side speaks.
        low: u16,
        /// Highest version the refusing side speaks.
        high: u16,
    },
    /// A node with this name is already connected (or it is the refusing
    /// node's own name). Sent only to a peer that has proved the cookie.
    #[error("a node named {0:?} is already connected")]
    DuplicateName(String),
    /// A message could not be understood.
    #[error("malformed handshake message")]
    Malformed,
}
