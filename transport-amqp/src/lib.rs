//! beamish-transport-amqp: the transport contract through an AMQP 0-9-1
//! broker (RabbitMQ), with lapin.
//!
//! Every node consumes from its own inbox queue, `beamish.inbox.<node>`,
//! bound to the direct exchange `beamish.nodes` under the node's name. A
//! connection between two nodes is a session: an `open` message to the
//! peer's inbox (which must exist: an unroutable one makes the peer
//! unreachable), then frames to each other's inbox tagged with the session
//! and the sender, in order, and a `close`. The node's cookie handshake and
//! heartbeats run over the session as over any connection, so a node that
//! stops answering is declared down like over TCP; losing the broker
//! connection loses every session at once.
//!
//! Endpoints are `amqp://user:pass@host:port/vhost?node=name`: a listening
//! node's endpoint names itself, and connecting to one names the node
//! wanted.
//!
//! # Two modes
//!
//! - [`Mode::Fast`]: the inbox is exclusive and goes with the node;
//!   messages are transient, unconfirmed and acknowledged automatically.
//!   Like TCP, a message in flight when something fails may be lost.
//! - [`Mode::Durable`]: the inbox is durable and outlives the node;
//!   messages are persistent; a send returns once the broker has confirmed
//!   every frame; a received message is acknowledged only after the target
//!   process's handler has returned, with a prefetch window bounding what
//!   is in flight.
//!
//! # When the broker goes away
//!
//! The transport reconnects with backoff (100 ms, doubling to 5 s). In fast
//! mode every session ends with the broker connection and a send on it
//! fails at once with `Closed`; the nodes reconnect on demand. In durable
//! mode sessions outlive the broker connection: a send waits for the
//! broker (at most the send timeout, then fails), and what the broker had
//! confirmed but the receiver had not acknowledged comes again, in order,
//! once it is back. The node's heartbeats still decide: an outage longer
//! than the heartbeat allows ends the session at the node level.
//!
//! # The durable contract: at least once
//!
//! A message the broker confirmed is handled at least once: if the
//! receiving node crashes (or is SIGKILLed) before the handler returns, the
//! message stays in its inbox and is delivered again when a node with the
//! same name starts; messages of sessions from the node's earlier life are
//! delivered to processes by registered name (start and register them
//! before joining). Duplicates are possible: a message handled but not yet
//! acknowledged when the node died comes again. Order per pair of
//! processes is kept, except that a redelivered message comes before what
//! follows it, again. A handler should therefore be idempotent, or carry
//! an id in each message (a sequence number per sender) and skip ids it
//! has seen. A message whose handler panicked is not acknowledged either,
//! and comes back when the node's broker connection is made again.
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

mod broker;
mod session;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::dist::{Endpoint, DEFAULT_MAX_FRAME};
use beamish_core::transport::{Connection, Listener, Transport, TransportError};
use tokio::sync::mpsc;

use crate::broker::Broker;

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
}

/// Distribution through an AMQP broker.
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
    /// gives up after 10 s.
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
        let mut settings = self.broker.settings();
        change(&mut settings);
        Self {
            broker: Broker::new(
                self.broker.uri().to_owned(),
                self.broker.node().to_owned(),
                settings,
            ),
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

    /// Refuses frames over `max` bytes.
    pub fn max_frame(self, max: usize) -> Self {
        self.set(|s| s.max_frame = max)
    }

    /// The name of this node's inbox queue.
    pub fn inbox(&self) -> String {
        self.broker.inbox()
    }

    /// Closes the connection to the broker: every session ends.
    pub async fn shutdown(&self) {
        self.broker.shutdown().await;
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
