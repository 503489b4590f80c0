//! The transport as a node holds it: its mode and settings, its builder,
//! the contract's `listen` and `connect`, and the listener.

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

/// How long a durable inbox (and its dead-letter queue) stays at the
/// broker once its node has gone, unless set otherwise with
/// [`AmqpTransport::inbox_expiry`] or
/// [`AmqpTransport::keep_inbox_forever`]: 7 days.
pub const DEFAULT_INBOX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

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

/// The broker of an `amqp://` endpoint, without the node it names.
pub(crate) fn broker_only(endpoint: &Endpoint) -> Result<Endpoint, AmqpError> {
    match endpoint {
        Endpoint::Amqp { .. } => {
            let mut broker = endpoint.clone();
            if let Endpoint::Amqp { node, .. } = &mut broker {
                *node = None;
            }
            Ok(broker)
        }
        _ => Err(AmqpError::NotAmqp(endpoint.to_string())),
    }
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
    /// A transport through the broker at `broker` (its `?node=` part, if
    /// any, is ignored), in `mode`, for the node that joins a cluster with
    /// it: the node's name names its inbox (`beamish.inbox.<name>`), so a
    /// node restarted under its name finds its durable inbox again.
    /// Nothing connects until the node listens or connects.
    ///
    /// Durable mode acknowledges with a prefetch window of 200; sends wait
    /// at most 30 s for the broker's confirmation; connecting to the broker
    /// gives up after 10 s; the broker connection carries AMQP heartbeats
    /// every 10 s, so that a broker gone silent is noticed; a durable inbox
    /// is deleted once it has been left for [`DEFAULT_INBOX_EXPIRY`] (7
    /// days).
    ///
    /// # Errors
    ///
    /// [`AmqpError::NotAmqp`] for an endpoint of another scheme.
    pub fn new(broker: &Endpoint, mode: Mode) -> Result<Self, AmqpError> {
        Self::with_settings(broker, None, mode)
    }

    /// A transport whose inbox is named `inbox` whatever node uses it: for
    /// tools and tests that speak through the broker without a node (or
    /// under names of their own); a node should use [`new`](Self::new).
    ///
    /// # Errors
    ///
    /// [`AmqpError::NotAmqp`] for an endpoint of another scheme.
    pub fn with_inbox(broker: &Endpoint, inbox: &str, mode: Mode) -> Result<Self, AmqpError> {
        Self::with_settings(broker, Some(inbox.to_owned()), mode)
    }

    fn with_settings(
        broker: &Endpoint,
        node: Option<String>,
        mode: Mode,
    ) -> Result<Self, AmqpError> {
        Self::configured(
            broker,
            node,
            Settings {
                mode,
                prefetch: 200,
                send_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(10),
                open_ttl: Duration::from_secs(10),
                inbox_expiry: Some(DEFAULT_INBOX_EXPIRY),
                max_frame: DEFAULT_MAX_FRAME,
                presence: Duration::from_secs(1),
                resumed_idle: Duration::from_secs(30),
                delivery_limit: 5,
            },
        )
    }

    fn configured(
        broker: &Endpoint,
        node: Option<String>,
        settings: Settings,
    ) -> Result<Self, AmqpError> {
        let endpoint = broker_only(broker)?;
        let uri = endpoint.to_string();
        Ok(Self {
            broker: Broker::new(uri, node, settings),
            endpoint,
        })
    }

    fn set(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.broker.settings;
        change(&mut settings);
        let node = self
            .broker
            .has_node()
            .then(|| self.broker.node().to_owned());
        let broker = Broker::new(self.broker.uri().to_owned(), node, settings);
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

    /// Has the broker delete the durable inbox, with what it holds, once
    /// it has had no consumer for `after` (the queue's `x-expires`, in
    /// whole milliseconds, at least 1): [`DEFAULT_INBOX_EXPIRY`], 7 days,
    /// unless set. The dead-letter queue goes by the same rule, counted
    /// from when the node last ran. See the crate docs on how long a
    /// durable inbox stays, and on an inbox declared earlier with another
    /// expiry, which keeps it.
    ///
    /// A fast inbox goes with its consumer anyway; one never consumed
    /// goes after `after` or a minute, whichever is sooner.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use beamish_core::dist::Endpoint;
    /// use beamish_transport_amqp::{AmqpTransport, Mode};
    ///
    /// let broker: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
    /// // Pods come and go under names of their own: a day is enough.
    /// let amqp = AmqpTransport::new(&broker, Mode::Durable)?
    ///     .inbox_expiry(Duration::from_secs(24 * 60 * 60));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inbox_expiry(self, after: Duration) -> Self {
        self.set(|s| s.inbox_expiry = Some(after))
    }

    /// Keeps the durable inbox and the dead-letter queue at the broker
    /// however long the node is gone, until they are deleted
    /// ([`remove_inbox`](crate::remove_inbox), [`delete_inbox`](Self::delete_inbox)): for a
    /// node that always comes back under the same name and whose messages
    /// must wait for it however long it takes. A fast inbox still goes
    /// with its consumer.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::dist::Endpoint;
    /// use beamish_transport_amqp::{AmqpTransport, Mode};
    ///
    /// let broker: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
    /// let amqp = AmqpTransport::new(&broker, Mode::Durable)?.keep_inbox_forever();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keep_inbox_forever(self) -> Self {
        self.set(|s| s.inbox_expiry = None)
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
    /// let amqp = AmqpTransport::new(&broker, Mode::Durable)?;
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
    /// failed) and `x-beamish-inbox`. It is durable, and goes by the
    /// inbox's expiry ([`inbox_expiry`](Self::inbox_expiry)) counted from
    /// when the node last ran.
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
    /// otherwise stays until it expires), and for tests. To remove the
    /// queues of a node that is gone, by its name, see [`remove_inbox`](crate::remove_inbox).
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

impl AmqpTransport {
    /// Refuses to use the broker before the inbox has a name.
    fn named(&self) -> Result<(), TransportError> {
        if self.broker.has_node() {
            Ok(())
        } else {
            Err(TransportError::Io(
                "this AMQP transport has no inbox yet: join a node with it, or make it \
                 with AmqpTransport::with_inbox"
                    .to_owned(),
            ))
        }
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
        self.named()?;
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
        self.named()?;
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
    /// Names the inbox after the node joining with this transport, unless
    /// it was named when the transport was made
    /// ([`with_inbox`](AmqpTransport::with_inbox)).
    fn use_node_name(&self, name: &str) {
        let named = self.broker.name_node(name);
        if named != name {
            tracing::debug!(
                inbox = named,
                node = name,
                "the inbox keeps the name it was made with"
            );
        }
    }

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
