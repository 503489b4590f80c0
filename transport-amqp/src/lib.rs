//! beamish-transport-amqp: the transport contract through an AMQP 0-9-1
//! broker (RabbitMQ), with lapin.
//!
//! Every node consumes from its own inbox queue, `beamish.inbox.<node>`,
//! bound to the direct exchange `beamish.nodes` under the node's name. A
//! connection between two nodes is a session: an `open` message to the
//! peer's inbox (which must exist: an unroutable one makes the peer
//! unreachable), then frames to each other's inbox tagged with the session
//! and the sender, in order, and a `close`. The node's cookie handshake and
//! heartbeats run over the session as over any connection.
//!
//! Endpoints are `amqp://user:pass@host:port/vhost?node=name`: a listening
//! node's endpoint names itself, and connecting to one names the node
//! wanted.
//!
//! # Presence
//!
//! A node is present while it consumes its inbox. The peers of a node's
//! sessions are checked at the broker every second (see
//! [`AmqpTransport::presence_interval`]); one that no longer consumes its
//! inbox at three checks in a row has its sessions lost, so the node sees
//! it down (`NodeDown`) without waiting for its heartbeats to run out. In
//! durable mode, opening a session to a node whose inbox has no consumer
//! fails at once as unreachable.
//!
//! # Two modes
//!
//! - [`Mode::Fast`]: the inbox goes with its consumer, so with the node;
//!   messages are transient, unconfirmed and acknowledged automatically.
//!   Like TCP, a message in flight when something fails may be lost.
//! - [`Mode::Durable`]: the inbox is durable and outlives the node;
//!   messages are persistent; a send returns once the broker has confirmed
//!   every frame; a received message is acknowledged only after the target
//!   process's handler has returned, with a prefetch window (200 by
//!   default) bounding what is in flight.
//!
//! # When the broker goes away
//!
//! The transport owns its broker connection and makes it again with
//! backoff (100 ms, doubling to 2 s). In fast mode every session ends with
//! the broker connection (its `recv` fails) and a send on it fails at once
//! with `Closed`; the nodes open new sessions on demand. In durable mode
//! sessions outlive the broker connection: a send waits for the broker (at
//! most the send timeout, 30 s by default, then fails), and what the broker
//! had confirmed but the receiver had not acknowledged comes again, in
//! order, once it is back. The node's heartbeats still decide: an outage
//! longer than they allow ends the session at the node level.
//!
//! # The durable contract: at least once
//!
//! A message the broker confirmed is handled at least once: if the
//! receiving node crashes (or is SIGKILLed) before the handler returns, the
//! message stays in its inbox and is delivered again when a node with the
//! same name starts; messages of sessions from the node's earlier life are
//! delivered to processes by registered name (start and register them
//! before joining), once their signature checks out (see below). A message that was not handled (its connection, or
//! the process it was queued for, ended before it was) goes back to the
//! inbox and comes again, through the same session or as a message of an
//! earlier session, to a process restarted under the name it was sent to.
//! A message whose handler failed (panicked, or its process was killed
//! meanwhile), or that found no process to take it (none by that name or
//! pid, the wrong type, not exported yet), comes again too, after a pause
//! that doubles each time (50 ms, 100 ms, ...; a supervisor restarts the
//! process meanwhile), but at most
//! [`delivery_limit`](AmqpTransport::delivery_limit) times in all (5 by
//! default): a poison message, one that fails its handler every time, or
//! one for a process that is gone for good, then goes to the node's
//! dead-letter queue ([`dead_letters`](AmqpTransport::dead_letters)) with
//! an error logged, instead of coming round for ever or being lost. The failures are counted by the
//! receiving node, in memory: a node restarted counts afresh.
//!
//! Duplicates are possible: a message handled but not yet acknowledged
//! when the node died comes again. Order per pair of processes is kept,
//! except across a redelivery: a message delivered again comes after
//! messages that had already overtaken it. A handler should therefore be
//! idempotent (setting a state rather than adding to it), or each message
//! should carry an id (a sequence number per sender, or a unique id) that
//! the handler records, skipping ids it has already seen.
//!
//! # Frames from an earlier life, and the cookie
//!
//! A session is authenticated by the node's handshake, as a TCP connection
//! is. Frames of a session the node does not know, left in its durable
//! inbox by its earlier life, reach it with no handshake and are delivered
//! by name: the transport takes them only if a node that knew the cookie
//! sent them.
//!
//! - When a node joins, it hands its transports a secret derived from its
//!   cookie ([`Transport::use_secret`]), from which the transport derives
//!   the key of durable frames, `HMAC-SHA256(secret, "beamish durable
//!   frames v1")`. Neither is the cookie, nor can stand in for a
//!   handshake's proof.
//! - Every data frame a durable node publishes is numbered (its
//!   `message_id`) and signed: its header `x-beamish-mac` holds
//!   HMAC-SHA256, under that key, of the sending node, the receiving node,
//!   the session, the number and the body. Frames of live sessions are
//!   signed too, although the handshake vouches for them while the session
//!   lives: the receiver may die mid-session, and what it had not
//!   acknowledged then comes to its next life as frames of a session it
//!   does not know, which must verify.
//! - A frame of a session the node does not know, or of one resumed from
//!   its earlier life, is verified before it is yielded. One that does not
//!   verify (unsigned, its signature or number malformed, signed under
//!   another cookie, or come before the node handed its secret) is
//!   acknowledged and dropped, never delivered, and counted
//!   ([`unauthenticated_frames`](AmqpTransport::unauthenticated_frames)).
//!   A node restarted with another cookie therefore drops what its earlier
//!   life was sent.
//! - Fast mode signs and verifies nothing: it has no earlier life, and a
//!   frame of a session the node does not know is dropped.
//!
//! Signing costs one HMAC-SHA256 per durable frame sent, verifying one per
//! frame from an earlier life; next to the broker's confirmation of each
//! persistent message, it does not show in the durable bench
//! (`amqp_cast_64b`).
//!
//! ## What a broker user without the cookie can and cannot do
//!
//! Credentials for the broker are not the cookie. Someone who holds only
//! them, and may publish to `beamish.nodes` or to a node's inbox,
//! **cannot**:
//!
//! - have a message delivered through a frame of a session the node does
//!   not know: it is refused as above;
//! - change the sender, the receiver, the session, the number or the body
//!   of a signed frame, or move it to another node's inbox, without its
//!   signature failing;
//! - open a session of their own: an `open` starts the node's handshake,
//!   which they cannot pass.
//!
//! They **can**, since frames are not encrypted and the broker lets its
//! users do much:
//!
//! - read every frame, if they may bind a queue of their own to
//!   `beamish.nodes` or read the dead-letter queues;
//! - replay a signed frame as it was: it verifies again and is delivered
//!   again, a duplicate such as the at-least-once contract below already
//!   asks handlers to bear;
//! - put frames into a *live* session whose number they have read (it is
//!   random, 64 bits, and travels in the frames' properties), or end it
//!   with a `close` naming it: the handshake vouches for a live session,
//!   and its frames are not verified;
//! - fill, purge or delete queues, publish garbage (acknowledged, dropped,
//!   and logged sparingly: see below), or open sessions whose handshakes
//!   fail, as any broker user can deny service.
//!
//! So keep the nodes' vhost to broker users you would trust with the
//! cookie when confidentiality or live sessions matter.
//!
//! # Warnings
//!
//! Every warning the transport logs about a message it receives (not a
//! beamish frame, of an unknown kind, over the frame limit, unsigned or
//! wrongly signed) is rate limited by kind and by source (the sender the
//! message names): at most one line per source and four per kind every
//! 10 s. The next line of a kind says how many were held back since the
//! last; once the 10 s are over, a line says so for a flood that has
//! stopped.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use beamish_core::dist::{Cookie, Endpoint};
//! use beamish_core::{ClusterConfig, Node};
//! use beamish_transport_amqp::{AmqpTransport, Mode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::builder().name("orders@localhost").build()?;
//! let broker: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
//! let amqp = AmqpTransport::new(&broker, "orders@localhost", Mode::Durable)?;
//! let at = node
//!     .join(ClusterConfig::new(Cookie::new("secret")), vec![Arc::new(amqp)], &[broker])
//!     .await?;
//! println!("reachable at {}", at[0]);
//! # Ok(())
//! # }
//! ```

mod ack;
mod broker;
mod consumer;
mod demux;
mod presence;
mod session;
mod signature;
mod warnings;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::dist::{Endpoint, DEFAULT_MAX_FRAME};
use beamish_core::transport::{Connection, Listener, SharedSecret, Transport, TransportError};
use tokio::sync::mpsc;

use crate::broker::Broker;
use crate::signature::FrameKey;

/// Fast or durable delivery (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Transient messages, no confirms, automatic acknowledgements.
    Fast,
    /// A durable inbox, persistent and confirmed messages, acknowledged
    /// once handled: at least once.
    Durable,
}

/// Why an AMQP transport could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmqpError {
    /// The endpoint is not an `amqp://` one.
    #[error("{0} is not an amqp:// endpoint")]
    NotAmqp(String),
}

/// Tunable limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) mode: Mode,
    pub(crate) prefetch: u16,
    pub(crate) send_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) open_ttl: Duration,
    pub(crate) inbox_expiry: Option<Duration>,
    pub(crate) max_frame: usize,
    pub(crate) presence: Duration,
    pub(crate) resumed_idle: Duration,
    pub(crate) delivery_limit: u32,
}

/// Distribution through an AMQP broker: one node's connection to it, its
/// inbox and its sessions. Clones share them.
///
/// The settings ([`prefetch`](Self::prefetch), [`send_timeout`](Self::send_timeout)
/// and the others) are made before the transport is used: each returns a
/// transport of its own, with no connection yet.
#[derive(Clone)]
pub struct AmqpTransport {
    broker: Arc<Broker>,
    endpoint: Endpoint,
}

impl AmqpTransport {
    /// The transport of the node `node`, through the broker at `broker`
    /// (its `?node=` part, if any, is ignored), in `mode`. Nothing connects
    /// until the node listens or connects.
    ///
    /// Durable mode acknowledges with a prefetch window of 200; sends wait
    /// at most 30 s for the broker's confirmation; connecting to the broker
    /// gives up after 10 s; the broker connection carries AMQP heartbeats
    /// every 10 s, so that a broker gone silent is noticed.
    ///
    /// # Errors
    ///
    /// [`AmqpError::NotAmqp`] for an endpoint of another scheme.
    pub fn new(broker: &Endpoint, node: &str, mode: Mode) -> Result<Self, AmqpError> {
        Self::with_settings(
            broker,
            node,
            Settings {
                mode,
                prefetch: 200,
                send_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(10),
                open_ttl: Duration::from_secs(10),
                inbox_expiry: None,
                max_frame: DEFAULT_MAX_FRAME,
                presence: Duration::from_secs(1),
                resumed_idle: Duration::from_secs(30),
                delivery_limit: 5,
            },
        )
    }

    fn with_settings(broker: &Endpoint, node: &str, settings: Settings) -> Result<Self, AmqpError> {
        let Endpoint::Amqp {
            user,
            password,
            host,
            port,
            vhost,
            ..
        } = broker
        else {
            return Err(AmqpError::NotAmqp(broker.to_string()));
        };
        let endpoint = Endpoint::Amqp {
            user: user.clone(),
            password: password.clone(),
            host: host.clone(),
            port: *port,
            vhost: vhost.clone(),
            node: None,
        };
        let uri = endpoint.to_string();
        Ok(Self {
            broker: Broker::new(uri, node.to_owned(), settings),
            endpoint,
        })
    }

    fn set(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.broker.settings;
        change(&mut settings);
        let broker = Broker::new(
            self.broker.uri().to_owned(),
            self.broker.node().to_owned(),
            settings,
        );
        if let Some(key) = self.broker.frame_key() {
            broker.use_frame_key(key);
        }
        Self {
            broker,
            endpoint: self.endpoint,
        }
    }

    /// Durable mode: at most `window` unacknowledged messages in flight to
    /// this node.
    pub fn prefetch(self, window: u16) -> Self {
        self.set(|s| s.prefetch = window.max(1))
    }

    /// How long a send waits for the broker's confirmation (durable mode)
    /// before it fails.
    pub fn send_timeout(self, timeout: Duration) -> Self {
        self.set(|s| s.send_timeout = timeout)
    }

    /// Deletes the inbox once it has had no consumer for `after` (the
    /// broker's `x-expires`): a durable inbox otherwise outlives its node
    /// for good, keeping what was sent to it.
    pub fn inbox_expiry(self, after: Duration) -> Self {
        self.set(|s| s.inbox_expiry = Some(after))
    }

    /// Refuses frames over `max` bytes, sent or received (8 MiB by
    /// default, as the node's own limit).
    pub fn max_frame(self, max: usize) -> Self {
        self.set(|s| s.max_frame = max)
    }

    /// Durable mode: a frame whose handler fails (panics, or its process
    /// is killed while handling it), or that no process takes, comes
    /// again after a pause that doubles each time (from 50 ms), up to
    /// `times` deliveries in all (5 by default, at least 1); then it goes
    /// to the node's dead-letter queue ([`dead_letters`](Self::dead_letters))
    /// and an error is logged, so a poison message neither comes round for
    /// ever nor is lost. A frame the node did not get to handle always
    /// comes again.
    pub fn delivery_limit(self, times: u32) -> Self {
        self.set(|s| s.delivery_limit = times.max(1))
    }

    /// How long connecting to the broker may take before it fails.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.set(|s| s.connect_timeout = timeout)
    }

    /// How often the peers of this node's sessions are checked for
    /// presence at the broker (1 s by default): one that no longer consumes
    /// its inbox at three checks in a row has its sessions lost.
    pub fn presence_interval(self, every: Duration) -> Self {
        self.set(|s| s.presence = every.max(Duration::from_millis(10)))
    }

    /// How many frames of sessions this node does not know were refused
    /// because they were not signed with the cluster's key (unsigned,
    /// malformed, signed under another cookie, or arriving before the node
    /// handed its secret): each was acknowledged and dropped, never
    /// delivered. Counted since the transport was made.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::dist::Endpoint;
    /// use beamish_transport_amqp::{AmqpTransport, Mode};
    ///
    /// let broker: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
    /// let amqp = AmqpTransport::new(&broker, "orders@localhost", Mode::Durable)?;
    /// assert_eq!(amqp.unauthenticated_frames(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unauthenticated_frames(&self) -> u64 {
        self.broker.refused.load(Ordering::Relaxed)
    }

    /// The name of this node's inbox queue.
    pub fn inbox(&self) -> String {
        self.broker.inbox()
    }

    /// The name of this node's dead-letter queue (durable mode): the frames
    /// given up on after the [`delivery_limit`](Self::delivery_limit), as
    /// they were sent (`type`, `reply_to` the sending node,
    /// `correlation_id` the session, `message_id` the sender's number),
    /// with the headers `x-beamish-failures` (how often the handler
    /// failed) and `x-beamish-inbox`. It is durable and expires with the
    /// inbox, if [`inbox_expiry`](Self::inbox_expiry) is set.
    pub fn dead_letters(&self) -> String {
        self.broker.dead_letters()
    }

    /// Closes the connection to the broker: every session ends, and the
    /// transport does not reconnect. Dropping the last clone of the
    /// transport (and of its sessions) closes it too.
    pub async fn shutdown(&self) {
        self.broker.shutdown().await;
    }

    /// How long a connection carrying frames left from this node's earlier
    /// life stays open with nothing coming (30 s by default): it then ends,
    /// and a frame of that earlier session coming later opens another.
    pub fn resumed_idle(self, after: Duration) -> Self {
        self.set(|s| s.resumed_idle = after)
    }

    /// Shuts the transport down and deletes this node's inbox (and, in
    /// durable mode, its dead-letter queue) at the broker, with whatever
    /// they still hold: for a node retired for good (a durable inbox
    /// otherwise stays), and for tests.
    ///
    /// # Errors
    ///
    /// [`TransportError::Unreachable`] if the broker cannot be reached,
    /// [`TransportError::Closed`] or [`TransportError::Io`] if it did not
    /// delete the queue.
    pub async fn delete_inbox(&self) -> Result<(), TransportError> {
        self.broker.shutdown().await;
        if self.broker.mode() == Mode::Durable {
            self.broker
                .delete_queue(&self.broker.dead_letters())
                .await?;
        }
        self.broker.delete_queue(&self.broker.inbox()).await
    }
}

fn node_of(endpoint: &Endpoint) -> Result<Option<String>, TransportError> {
    match endpoint {
        Endpoint::Amqp { node, .. } => Ok(node.clone()),
        other => Err(TransportError::WrongScheme {
            expected: "amqp",
            endpoint: other.to_string(),
        }),
    }
}

#[async_trait]
impl Transport for AmqpTransport {
    fn scheme(&self) -> &'static str {
        "amqp"
    }

    async fn listen(&self, endpoint: &Endpoint) -> Result<Box<dyn Listener>, TransportError> {
        if let Some(node) = node_of(endpoint)? {
            if node != self.broker.node() {
                return Err(TransportError::Io(format!(
                    "this transport is {}'s, not {node}'s",
                    self.broker.node()
                )));
            }
        }
        let (tx, accepted) = mpsc::unbounded_channel();
        self.broker.listen(tx);
        self.broker.ensure().await?;
        let mut at = self.endpoint.clone();
        if let Endpoint::Amqp { node, .. } = &mut at {
            *node = Some(self.broker.node().to_owned());
        }
        Ok(Box::new(AmqpListener { at, accepted }))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Connection, TransportError> {
        let Some(peer) = node_of(endpoint)? else {
            return Err(TransportError::Io(format!(
                "{endpoint} names no node (add ?node=name)"
            )));
        };
        self.broker.open(&peer).await
    }

    /// Keys the signature on durable frames (see the crate docs) with a
    /// key derived from `secret`. Until it is called, durable frames go
    /// unsigned and every frame of a session this node does not know is
    /// refused.
    fn use_secret(&self, secret: SharedSecret) {
        self.broker
            .use_frame_key(Arc::new(FrameKey::derive(&secret)));
    }
}

struct AmqpListener {
    at: Endpoint,
    accepted: mpsc::UnboundedReceiver<Connection>,
}

impl fmt::Debug for AmqpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpListener")
            .field("at", &self.at.to_string())
            .finish()
    }
}

#[async_trait]
impl Listener for AmqpListener {
    fn endpoint(&self) -> Endpoint {
        self.at.clone()
    }

    async fn accept(&mut self) -> Result<Connection, TransportError> {
        self.accepted
            .recv()
            .await
            .ok_or_else(|| TransportError::Closed("the listener stopped".into()))
    }
}

impl fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpTransport")
            .field("node", &self.broker.node())
            .field("mode", &self.broker.mode())
            .finish_non_exhaustive()
    }
}
