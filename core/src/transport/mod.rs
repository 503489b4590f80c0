//! The transport contract: ordered, reliable, framed byte connections
//! between nodes, opened by endpoint, with their loss reported. A
//! transport knows nothing of pids; the node protocol (handshake,
//! heartbeats, routing) lives above it, once, for every transport.
//!
//! The contract fits the three kinds of transport beamish has:
//! stream sockets (TCP, TLS), multiplexed streams (QUIC) and a broker's
//! queues (AMQP), where a "connection" is a peer's inbox and a received
//! frame may carry an acknowledgement to send once it has been handled.

mod endpoint;
mod local;

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

pub use endpoint::{Endpoint, EndpointError};
pub use local::{LocalNetwork, LocalTransport};

/// Why a transport operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint's scheme is not this transport's.
    #[error("this transport serves {expected}://, not {endpoint}")]
    WrongScheme {
        /// The scheme this transport serves.
        expected: &'static str,
        /// The endpoint given.
        endpoint: String,
    },
    /// Nothing listens at the endpoint.
    #[error("nothing listens at {0}")]
    Unreachable(String),
    /// The endpoint is already in use.
    #[error("{0} is already in use")]
    InUse(String),
    /// The connection is closed or was lost.
    #[error("the connection is closed: {0}")]
    Closed(String),
    /// Any other I/O failure.
    #[error("transport failure: {0}")]
    Io(String),
}

/// A transport: opens and accepts connections for one endpoint scheme.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// The scheme it serves, such as `tcp`.
    fn scheme(&self) -> &'static str;

    /// Starts listening at `endpoint`.
    ///
    /// # Errors
    ///
    /// [`TransportError::WrongScheme`], [`TransportError::InUse`], or an
    /// I/O failure.
    async fn listen(&self, endpoint: &Endpoint) -> Result<Box<dyn Listener>, TransportError>;

    /// Opens a connection to `endpoint`.
    ///
    /// # Errors
    ///
    /// [`TransportError::WrongScheme`], [`TransportError::Unreachable`], or
    /// an I/O failure.
    async fn connect(&self, endpoint: &Endpoint) -> Result<Connection, TransportError>;

    /// Takes the secret the node derives from its cookie, which every node
    /// of the cluster derives alike (see [`SharedSecret`]). The node hands
    /// it to each of its transports when it joins, before it listens or
    /// connects.
    ///
    /// A transport that delivers frames outside an authenticated
    /// connection (a durable broker's frames left from a node's earlier
    /// life) signs and verifies them with a key derived from it. The
    /// default ignores it.
    fn use_secret(&self, secret: SharedSecret) {
        let _ = secret;
    }

    /// Called when a node joins a cluster with this transport, with the
    /// node's name (`name@host`), before it listens or connects: a
    /// transport that addresses nodes by name (a broker's inbox) takes it
    /// from here, so the name is given once. The default ignores it.
    fn use_node_name(&self, name: &str) {
        let _ = name;
    }
}

/// A secret every node that knows the cluster's cookie derives alike, and
/// nothing else can: handed to the transports
/// ([`Transport::use_secret`]) to key what they authenticate themselves.
/// It is not the cookie, and tells nothing of it; its `Debug` form does
/// not show it.
#[derive(Clone)]
pub struct SharedSecret([u8; 32]);

impl SharedSecret {
    /// A secret from its bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Its bytes, to derive keys from (with a label of the transport's
    /// own, so that keys for different uses differ).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

/// Incoming connections at one endpoint.
#[async_trait]
pub trait Listener: Send + fmt::Debug {
    /// Where it listens (with the port filled in if 0 was asked for).
    fn endpoint(&self) -> Endpoint;

    /// The next incoming connection.
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] means the listener is finished: it will
    /// never give another connection, and the node stops accepting from
    /// it. Every other error is transient (a connection reset before it
    /// was taken, no file descriptor left for now): the node logs it,
    /// pauses briefly (a few milliseconds, longer after each error in a
    /// row, at most about a second) and calls `accept` again. A listener
    /// must therefore not return any other error for ever once it cannot
    /// recover; it returns `Closed` instead.
    async fn accept(&mut self) -> Result<Connection, TransportError>;
}

/// The sending half of a connection. Frames arrive in the order sent.
#[async_trait]
pub trait FrameSink: Send + fmt::Debug {
    /// Sends frames, in order; a transport may write them in one batch.
    /// Returns once the transport has taken responsibility for them:
    /// written to the socket, or, for a durable broker, confirmed by it.
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] if the connection is gone; frames not yet
    /// delivered may be lost, as in Erlang.
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError>;

    /// Sends frames of one lane. Frames of the same lane arrive in the
    /// order sent; frames of different lanes may overtake one another, so a
    /// multiplexing transport (QUIC) can keep a large or slow lane from
    /// holding the others up. The node puts everything one process sends,
    /// messages and signals alike, in one lane, which keeps per-pair order;
    /// node-level frames (the handshake, heartbeats) use lane 0.
    ///
    /// The node calls it only if [`has_lanes`](Self::has_lanes) says so;
    /// the default sends them in the connection's one ordered stream.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    async fn send_lane(&mut self, lane: u32, frames: Vec<Bytes>) -> Result<(), TransportError> {
        let _ = lane;
        self.send(frames).await
    }

    /// Whether the sink keeps lanes apart. If so, the node sends each
    /// lane's frames through [`send_lane`](Self::send_lane); otherwise a
    /// whole batch, lanes mixed, goes through one [`send`](Self::send).
    /// The default is `false`.
    fn has_lanes(&self) -> bool {
        false
    }

    /// Sends one frame of `lane` at once, if the transport can take it
    /// without waiting, as [`send_lane`](Self::send_lane) would send it. It
    /// must not block: a socket write that would block, a full stream, or
    /// a broker to wait for means [`SentNow::Refused`], with nothing sent.
    ///
    /// The node offers it the frames a caller waits on (a call's request
    /// and its reply), and only when nothing else is queued for or being
    /// written to the connection, so that such a frame does not wait for
    /// the node's writer task to be scheduled. Refused frames take that
    /// usual way. The default refuses every frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); the node then treats the connection as
    /// lost.
    fn send_now(&mut self, lane: u32, frame: &Bytes) -> Result<SentNow, TransportError> {
        let _ = (lane, frame);
        Ok(SentNow::Refused)
    }

    /// Closes the connection; the peer's stream ends.
    async fn close(&mut self);
}

/// What [`FrameSink::send_now`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SentNow {
    /// Taken: written, or buffered where the transport sends it on by
    /// itself.
    Taken,
    /// Taken in part: the rest goes out with the next
    /// [`send`](FrameSink::send) or [`send_lane`](FrameSink::send_lane),
    /// which the node makes soon (an empty frame, a heartbeat tick, if
    /// nothing else is queued).
    Unfinished,
    /// Not taken; nothing of it was sent.
    Refused,
}

/// The receiving half of a connection.
#[async_trait]
pub trait FrameStream: Send + fmt::Debug {
    /// The next frame, or `None` when the peer closed the connection.
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] if the connection was lost.
    async fn recv(&mut self) -> Result<Option<Incoming>, TransportError>;

    /// Sets the largest frame the stream takes from now on. The node sets
    /// a few KiB on every new connection, before the peer has proved
    /// anything in the handshake, and its configured `max_frame` once the
    /// handshake has completed. A transport with a lower limit of its own
    /// keeps that one.
    ///
    /// A transport that reads a length before the payload (TCP, QUIC)
    /// should end the stream with an error as soon as a header announces a
    /// frame over the limit, before buffering any of it, so that a
    /// stranger cannot make the node hold megabytes for a frame it will
    /// never finish. The default does nothing: the node then checks every
    /// whole frame it receives against the limit, and closes the
    /// connection if one is over.
    fn set_max_frame(&mut self, max: usize) {
        let _ = max;
    }
}

/// A frame received, with its acknowledgement where the transport has one
/// (a durable broker queue): call [`ack`](Incoming::ack) once the frame has
/// been handled, so that a crash before that means redelivery, not loss.
#[derive(Debug)]
pub struct Incoming {
    /// The frame's bytes.
    pub payload: Bytes,
    ack: Option<Box<dyn Ack>>,
}

impl Incoming {
    /// A frame that needs no acknowledgement.
    pub fn new(payload: Bytes) -> Self {
        Self { payload, ack: None }
    }

    /// A frame to acknowledge once handled.
    pub fn with_ack(payload: Bytes, ack: Box<dyn Ack>) -> Self {
        Self {
            payload,
            ack: Some(ack),
        }
    }

    /// Whether the frame waits for an acknowledgement.
    pub fn needs_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// The frame's bytes and its acknowledgement, if it has one.
    pub fn into_parts(self) -> (Bytes, Option<Box<dyn Ack>>) {
        (self.payload, self.ack)
    }

    /// Acknowledges the frame (does nothing for transports without acks).
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] if the acknowledgement could not be sent;
    /// the frame will then be delivered again.
    pub async fn ack(self) -> Result<(), TransportError> {
        match self.ack {
            Some(ack) => ack.ack().await,
            None => Ok(()),
        }
    }
}

/// An acknowledgement for one received frame.
#[async_trait]
pub trait Ack: Send + fmt::Debug {
    /// Acknowledges: the frame was handled (or, for a call, answered),
    /// and is not to come again.
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] if the acknowledgement could not be sent.
    async fn ack(self: Box<Self>) -> Result<(), TransportError>;

    /// The frame's handler panicked or was killed, or no process took the
    /// frame (a dead letter: its process may be restarting). The transport
    /// decides whether it comes again; one that would fail every time (a
    /// poison message, a process gone for good) should not come forever.
    /// The default drops the acknowledgement unsent, which has the frame
    /// delivered again.
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] if the transport could not be told.
    async fn failed(self: Box<Self>) -> Result<(), TransportError> {
        drop(self);
        Ok(())
    }
}

/// Both halves of a connection, and who is at the other end as far as
/// the transport knows (the handshake establishes the node).
#[derive(Debug)]
pub struct Connection {
    /// Sends frames to the peer.
    pub sink: Box<dyn FrameSink>,
    /// Receives the peer's frames.
    pub stream: Box<dyn FrameStream>,
    /// The peer's address as the transport sees it, for logs.
    pub peer: String,
    /// Set by a durable transport for frames left over from an earlier
    /// session with the node it names (a node restarted while they were
    /// queued for it): the connection carries no handshake and no
    /// heartbeats, only those frames; the node delivers what is addressed
    /// by name and acknowledges each once handled.
    pub resumed_from: Option<String>,
}

impl Connection {
    /// A connection to be authenticated by the handshake.
    pub fn new(sink: Box<dyn FrameSink>, stream: Box<dyn FrameStream>, peer: String) -> Self {
        Self {
            sink,
            stream,
            peer,
            resumed_from: None,
        }
    }

    /// Marks the connection as carrying frames left over from an earlier
    /// session with the node `from`, already authenticated when they were
    /// sent (see [`resumed_from`](Self::resumed_from)).
    pub fn resumed(mut self, from: impl Into<String>) -> Self {
        self.resumed_from = Some(from.into());
        self
    }
}

fn check_scheme(expected: &'static str, endpoint: &Endpoint) -> Result<(), TransportError> {
    if endpoint.scheme() == expected {
        Ok(())
    } else {
        Err(TransportError::WrongScheme {
            expected,
            endpoint: endpoint.to_string(),
        })
    }
}
