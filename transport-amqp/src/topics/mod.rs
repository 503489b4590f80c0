//! Durable subscriptions through the broker: the durable mode of
//! [`beamish_cluster::topics`], with the same [`Topic<E>`] and the same
//! shape of `subscribe` and `publish`.
//!
//! - A scope is a topic exchange, `beamish.topics.<scope>`.
//! - A durable subscription is a named quorum queue,
//!   `beamish.sub.<scope>.<name>`, bound to the subscribed patterns: it
//!   keeps its events while no subscriber runs.
//! - [`publish`](DurableTopics::publish) sends a persistent event and
//!   returns once the broker confirmed it.
//! - A subscriber acknowledges an event only after its handler returned
//!   ([`Handle::cast_settled`]); a subscriber that panics on it, is
//!   killed, or ends (or whose whole node is SIGKILLed) before handling
//!   it, gets it again, or its replacement does: at least once.
//! - Processes (on any nodes) subscribed under one name share its events
//!   (competing consumers): a service scales out without duplicating
//!   work.
//! - An event whose handler failed goes back to the end of the queue;
//!   after [`DurableSettings::delivery_limit`] failures it goes to the
//!   subscription's dead-letter queue, `beamish.sub.<scope>.<name>.dead`,
//!   as does at once an event that does not decode as the subscriber's
//!   type (acknowledged, with the reason, so it does not loop). What is
//!   there can be listed ([`dead_letters`](DurableTopics::dead_letters))
//!   and replayed ([`replay`](DurableTopics::replay)).
//! - A process subscribes in its `init`, so a supervised one subscribes
//!   again after each restart; its subscription's consumer ends with it.
//!
//! # Examples
//!
//! ```no_run
//! use beamish_cluster::topics::Topic;
//! use beamish_core::{Handle, Node};
//! use beamish_transport_amqp::{DurableSettings, DurableTopics};
//!
//! async fn crm(node: &Node, worker: &Handle<String>) -> Result<(), Box<dyn std::error::Error>> {
//!     let topics = DurableTopics::new(node, "amqp://guest:guest@127.0.0.1:5672/%2f", "users", DurableSettings::default());
//!     let signed_up = Topic::<String>::new("user.signed_up")?;
//!     topics.subscribe(worker, &Topic::<String>::new("user.*")?, "crm").await?;
//!     topics.publish(&signed_up, &"ada@example.com".to_owned()).await?;
//!     Ok(())
//! }
//! # let _ = crm;
//! ```

mod consume;
mod dead;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use beamish_cluster::topics::{sink, DurableBroker, DurableFailure, DurableSink, Topic};
use beamish_core::{Handle, Message, Node, Pid};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, ConnectionProperties, ExchangeKind};
use tokio::sync::{watch, Mutex};

pub use dead::DeadLetter;

/// The header that carries the topic an event was published on.
pub(crate) const TOPIC_HEADER: &str = "x-beamish-topic";
/// The header that says why an event is a dead letter.
pub(crate) const REASON_HEADER: &str = "x-beamish-reason";
/// The header that counts how many times handlers failed on an event.
pub(crate) const FAILURES_HEADER: &str = "x-beamish-failures";

/// The properties an event keeps when it is published anew (back to its
/// queue, to the dead-letter queue, or replayed): persistent, its type
/// and id as its publisher gave them, and `headers`.
pub(crate) fn carried(properties: &BasicProperties, headers: FieldTable) -> BasicProperties {
    let mut carried = BasicProperties::default()
        .with_delivery_mode(2)
        .with_headers(headers);
    if let Some(kind) = properties.kind() {
        carried = carried.with_type(kind.clone());
    }
    if let Some(id) = properties.message_id() {
        carried = carried.with_message_id(id.clone());
    }
    carried
}

/// How durable subscriptions run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DurableSettings {
    /// Events a subscriber may have in its mailbox, unacknowledged, at
    /// once (the consumer's prefetch; 100).
    pub prefetch: u16,
    /// Failures of handlers on one event before it goes to the
    /// dead-letter queue (5); each failed event goes back to the end of
    /// the queue until then. Events handed back unhandled (their process
    /// ended before getting to them) do not count. As a last resort, the
    /// broker dead-letters an event it delivered ten times as often
    /// without a handler finishing it (nodes that died holding it), with
    /// the reason `delivery_limit`.
    pub delivery_limit: u32,
}

impl Default for DurableSettings {
    fn default() -> Self {
        Self {
            prefetch: 100,
            delivery_limit: 5,
        }
    }
}

impl DurableSettings {
    /// Sets [`prefetch`](Self::prefetch).
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// Sets [`delivery_limit`](Self::delivery_limit).
    pub fn delivery_limit(mut self, limit: u32) -> Self {
        self.delivery_limit = limit;
        self
    }
}

/// Why a durable publish or subscription failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// The broker could not be reached, or lost the connection.
    #[error("the broker: {0}")]
    Broker(String),
    /// The broker did not confirm the event (it was not stored).
    #[error("the broker did not confirm the event")]
    NotConfirmed,
    /// Events are published on topics, not on patterns.
    #[error("{0:?} is a pattern: events are published on topics")]
    Pattern(String),
    /// A subscription name is 1 to 200 bytes of letters, digits, `-`,
    /// `_` and `.`.
    #[error("{0:?} is not a subscription name")]
    BadName(String),
    /// The event could not be encoded.
    #[error("the event could not be encoded: {0}")]
    Encode(String),
    /// The subscriber has ended.
    #[error("the subscriber has ended")]
    NoProc,
}

impl From<lapin::Error> for DurableError {
    fn from(error: lapin::Error) -> Self {
        Self::Broker(error.to_string())
    }
}

/// Durable subscriptions in one scope, through one broker. Cheap to
/// clone; clones share the publishing connection. See the
/// [module](self).
#[derive(Clone)]
pub struct DurableTopics {
    shared: Arc<Shared>,
}

/// How to stop each running consumer, by subscription name and process.
pub(crate) type Stops = HashMap<(String, Pid), Arc<watch::Sender<bool>>>;

pub(crate) struct Shared {
    pub(crate) node: Node,
    pub(crate) uri: String,
    pub(crate) scope: String,
    pub(crate) settings: DurableSettings,
    /// The publishing connection and its confirming channel, made on
    /// first use and again after it is lost.
    publisher: Mutex<Option<(lapin::Connection, Channel)>>,
    /// The running consumers, by subscription name and process: how to
    /// stop each.
    pub(crate) consumers: parking_lot::Mutex<Stops>,
    /// Numbers the events this node publishes.
    published: AtomicU64,
}

impl DurableTopics {
    /// Durable subscriptions in `scope` through the broker at `uri`
    /// (`amqp://user:pass@host:port/vhost`), for processes of `node`.
    /// Nothing is connected until it is used.
    pub fn new(node: &Node, uri: &str, scope: &str, settings: DurableSettings) -> Self {
        Self {
            shared: Arc::new(Shared {
                node: node.clone(),
                uri: uri.to_owned(),
                scope: scope.to_owned(),
                settings,
                publisher: Mutex::new(None),
                consumers: parking_lot::Mutex::new(HashMap::new()),
                published: AtomicU64::new(0),
            }),
        }
    }

    /// The scope's topic exchange.
    pub fn exchange(&self) -> String {
        self.shared.exchange()
    }

    /// The queue of the subscription `name`.
    pub fn queue(&self, name: &str) -> String {
        self.shared.queue(name)
    }

    /// The dead-letter queue of the subscription `name`.
    pub fn dead_queue(&self, name: &str) -> String {
        self.shared.dead_queue(name)
    }

    /// Publishes `event` on `topic` as a persistent message, and returns
    /// once the broker confirmed it. A connection lost since the last
    /// publish is made again first.
    ///
    /// # Errors
    ///
    /// [`DurableError::Pattern`], [`DurableError::Encode`],
    /// [`DurableError::Broker`] if the broker cannot be reached,
    /// [`DurableError::NotConfirmed`] if it refused the event.
    pub async fn publish<E: Message>(
        &self,
        topic: &Topic<E>,
        event: &E,
    ) -> Result<(), DurableError> {
        if topic.is_pattern() {
            return Err(DurableError::Pattern(topic.name().to_owned()));
        }
        let mut payload = Vec::new();
        rmp_serde::encode::write_named(&mut payload, event)
            .map_err(|err| DurableError::Encode(err.to_string()))?;
        self.publish_payload(topic.name(), E::NAME, payload).await
    }

    /// Publishes an encoded event of the type named `event_type` on
    /// `topic`, confirmed.
    async fn publish_payload(
        &self,
        topic: &str,
        event_type: &'static str,
        payload: Vec<u8>,
    ) -> Result<(), DurableError> {
        let mut headers = FieldTable::default();
        headers.insert(TOPIC_HEADER.into(), AMQPValue::LongString(topic.into()));
        let number = self.shared.published.fetch_add(1, Ordering::Relaxed);
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_type(event_type.into())
            .with_message_id(format!("{}.{number}", self.shared.node.name()).into())
            .with_headers(headers);
        let exchange = self.shared.exchange();
        // The channel is held only to hand the event over, so publishes
        // from several tasks are in flight at once; each waits for its
        // own confirmation.
        let confirm = {
            let mut publisher = self.shared.publisher.lock().await;
            if publisher.is_none() {
                *publisher = Some(self.shared.connect_publisher().await?);
            }
            let Some((_, channel)) = publisher.as_ref() else {
                return Err(DurableError::Broker("no connection".into()));
            };
            let sent = channel
                .basic_publish(
                    exchange.as_str().into(),
                    topic.into(),
                    BasicPublishOptions::default(),
                    &payload,
                    properties,
                )
                .await;
            match sent {
                Ok(confirm) => confirm,
                Err(error) => {
                    // Made again by the next publish.
                    *publisher = None;
                    return Err(error.into());
                }
            }
        };
        match confirm.await {
            Ok(Confirmation::Ack(_)) => Ok(()),
            Ok(_) => Err(DurableError::NotConfirmed),
            Err(error) => {
                let mut publisher = self.shared.publisher.lock().await;
                *publisher = None;
                Err(error.into())
            }
        }
    }

    /// Subscribes `subscriber`, a process of this node, to `topic` (a
    /// topic or a pattern) under the durable subscription `name`: the
    /// subscription's queue is declared if it is new and bound to the
    /// pattern (bindings add up: a subscription takes every pattern it
    /// was ever subscribed under), and the process consumes it, beside any
    /// other process subscribed under `name`. It returns once the
    /// consumer runs; it runs, connecting again whenever the broker goes
    /// away, until the process ends or
    /// [`DurableSubscription::cancel`] is called.
    ///
    /// # Errors
    ///
    /// [`DurableError::BadName`], [`DurableError::Broker`] if the broker
    /// could not be reached to set the subscription up,
    /// [`DurableError::NoProc`].
    pub async fn subscribe<E, M>(
        &self,
        subscriber: &Handle<M>,
        topic: &Topic<E>,
        name: &str,
    ) -> Result<DurableSubscription, DurableError>
    where
        E: Message,
        M: From<E> + Send + 'static,
    {
        check_name(name)?;
        if !subscriber.is_alive() {
            return Err(DurableError::NoProc);
        }
        consume::start(&self.shared, sink::<E, M>(subscriber), topic.name(), name).await
    }

    /// Stops the consumer of `pid` for the subscription `name`, as
    /// [`DurableSubscription::cancel`] does; `false` if it had none.
    pub fn unsubscribe(&self, pid: Pid, name: &str) -> bool {
        let stop = self.shared.consumers.lock().remove(&(name.to_owned(), pid));
        stop.is_some_and(|stop| {
            stop.send_replace(true);
            true
        })
    }

    /// Deletes the subscription `name`: its queue, with what it holds, and
    /// its dead-letter queue. Its consumers end (they connect again and
    /// declare it afresh while their processes live).
    ///
    /// # Errors
    ///
    /// [`DurableError::BadName`], [`DurableError::Broker`].
    pub async fn delete(&self, name: &str) -> Result<(), DurableError> {
        check_name(name)?;
        let conn = self.shared.connect().await?;
        let channel = conn.create_channel().await?;
        for queue in [self.shared.queue(name), self.shared.dead_queue(name)] {
            channel
                .queue_delete(
                    queue.as_str().into(),
                    lapin::options::QueueDeleteOptions::default(),
                )
                .await?;
        }
        let _ = conn.close(200, "deleted".into()).await;
        Ok(())
    }

    /// What the dead-letter queue of subscription `name` holds, oldest
    /// first, left in place.
    ///
    /// # Errors
    ///
    /// [`DurableError::BadName`], [`DurableError::Broker`].
    pub async fn dead_letters(&self, name: &str) -> Result<Vec<DeadLetter>, DurableError> {
        check_name(name)?;
        dead::list(&self.shared, name).await
    }

    /// Moves what the dead-letter queue of subscription `name` holds back
    /// into the subscription's queue, oldest first, to be delivered
    /// again; how many.
    ///
    /// # Errors
    ///
    /// [`DurableError::BadName`], [`DurableError::Broker`].
    pub async fn replay(&self, name: &str) -> Result<usize, DurableError> {
        check_name(name)?;
        dead::replay(&self.shared, name).await
    }
}

/// `DurableTopics` behind [`beamish_cluster::topics::Topics`], with
/// [`Topics::with_durable`](beamish_cluster::topics::Topics::with_durable):
/// one `publish` for fast and durable subscribers, and the mode chosen
/// per subscription.
#[async_trait]
impl DurableBroker for DurableTopics {
    async fn publish_encoded(
        &self,
        topic: &str,
        event_type: &'static str,
        payload: Vec<u8>,
    ) -> Result<(), DurableFailure> {
        self.publish_payload(topic, event_type, payload)
            .await
            .map_err(|error| DurableFailure(error.to_string()))
    }

    async fn unsubscribe_sink(&self, name: &str, pid: Pid) -> Result<bool, DurableFailure> {
        Ok(self.unsubscribe(pid, name))
    }

    async fn subscribe_sink(
        &self,
        name: &str,
        pattern: &str,
        sink: Box<dyn DurableSink>,
    ) -> Result<(), DurableFailure> {
        let failed = |error: DurableError| DurableFailure(error.to_string());
        check_name(name).map_err(failed)?;
        consume::start(&self.shared, sink, pattern, name)
            .await
            .map(drop)
            .map_err(failed)
    }
}

impl fmt::Debug for DurableTopics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableTopics")
            .field("scope", &self.shared.scope)
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

/// A running durable subscription of one process.
#[derive(Debug)]
pub struct DurableSubscription {
    stop: Arc<watch::Sender<bool>>,
}

impl DurableSubscription {
    /// Stops this process's consumer: what it has not handled goes back
    /// to the queue, for the subscription's other consumers. Dropping the
    /// subscription instead leaves it running until the process ends.
    pub fn cancel(self) {
        self.stop.send_replace(true);
    }
}

impl Shared {
    pub(crate) fn exchange(&self) -> String {
        format!("beamish.topics.{}", self.scope)
    }

    pub(crate) fn dead_exchange(&self) -> String {
        format!("beamish.topics.{}.dead", self.scope)
    }

    pub(crate) fn queue(&self, name: &str) -> String {
        format!("beamish.sub.{}.{name}", self.scope)
    }

    pub(crate) fn dead_queue(&self, name: &str) -> String {
        format!("beamish.sub.{}.{name}.dead", self.scope)
    }

    pub(crate) async fn connect(&self) -> Result<lapin::Connection, DurableError> {
        Ok(lapin::Connection::connect(&self.uri, ConnectionProperties::default()).await?)
    }

    /// A channel that confirms what is published on it.
    pub(crate) async fn confirming(conn: &lapin::Connection) -> Result<Channel, DurableError> {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    async fn connect_publisher(&self) -> Result<(lapin::Connection, Channel), DurableError> {
        let conn = self.connect().await?;
        let channel = Self::confirming(&conn).await?;
        self.declare_exchanges(&channel).await?;
        Ok((conn, channel))
    }

    /// The scope's topic exchange and dead-letter exchange.
    pub(crate) async fn declare_exchanges(&self, channel: &Channel) -> Result<(), DurableError> {
        for (exchange, kind) in [
            (self.exchange(), ExchangeKind::Topic),
            (self.dead_exchange(), ExchangeKind::Direct),
        ] {
            channel
                .exchange_declare(
                    exchange.as_str().into(),
                    kind,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
}

/// A subscription name: 1 to 200 bytes of letters, digits, `-`, `_`
/// and `.`, so its queue names stay within the broker's 255.
fn check_name(name: &str) -> Result<(), DurableError> {
    let fits = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if fits {
        Ok(())
    } else {
        Err(DurableError::BadName(name.chars().take(64).collect()))
    }
}
