//! Subscriptions: processes register their interest in events by topic,
//! and events published anywhere in the cluster reach them, as Elixir's
//! `Phoenix.PubSub` does on top of pg.
//!
//! A [`Topic<E>`](Topic) is a name plus the type of its events. A
//! process subscribes to a topic, or to a pattern of topics in the words
//! of AMQP topic exchanges (`user.*` for one word, `user.#` for any
//! number), and receives each event published on a matching topic as a
//! message of its own type (its message type is `E`, or converts from
//! it). Anyone publishes: a process, or code outside any process, on any
//! node.
//!
//! Each subscription chooses its [`Mode`]. The fast mode, described
//! below, runs in memory over the cluster's connections, on top of
//! [process groups](crate::pg) in a scope of its own. The durable mode
//! goes through a broker put behind the topics with
//! [`Topics::with_durable`] (`beamish::amqp::DurableTopics`, which
//! documents it): at least once, acknowledged after the handler
//! returned, shared by the processes subscribed under one name. One
//! [`publish`](Topics::publish) reaches the subscribers of both.
//!
//! In the fast mode:
//!
//! - At most once: an event in flight when a connection is lost, or for
//!   a subscriber that has just ended, is lost, as any cast is.
//! - Ordered per publisher: the events one publisher publishes reach
//!   each subscriber in the order they were published.
//! - One frame per node: an event is encoded once, and sent once to each
//!   other node with subscribers, whose router hands it to each of them.
//! - Each subscriber gets an event once, however many of its patterns
//!   match its topic.
//! - A subscriber that ends is dropped everywhere; a node that goes
//!   takes its subscribers with it; a node that joins learns every
//!   subscription. Subscriptions are eventually consistent: for a moment
//!   after `subscribe` returns, other nodes may not publish to it yet.
//! - A subscription belongs to its process and ends with it. A
//!   supervised process subscribes in its `init`, so it subscribes again
//!   each time its supervisor restarts it.
//! - Subscribers on other nodes need not be exported: the router of
//!   their node takes the event and casts it to them. An event that does
//!   not decode as its subscribers' type there is a dead letter on each
//!   ([`Topics::dead_letters`]), never a crash.
//!
//! | Phoenix.PubSub | beamish |
//! |---|---|
//! | `Phoenix.PubSub.subscribe(pubsub, topic)` | [`topics.subscribe(&ctx.handle(), &topic)`](Topics::subscribe) |
//! | `Phoenix.PubSub.unsubscribe(pubsub, topic)` | [`topics.unsubscribe(pid, &topic)`](Topics::unsubscribe) |
//! | `Phoenix.PubSub.broadcast(pubsub, topic, msg)` | [`topics.publish(&topic, &event)`](Topics::publish) |
//! | `Phoenix.PubSub.local_broadcast(pubsub, topic, msg)` | — |
//! | (no patterns) | `Topic::new("user.*")`, `Topic::new("user.#")` |
//!
//! Start [`Topics`] on each node once it has joined its cluster, as a
//! [scope](crate::pg::Scope) is started.
//!
//! # Examples
//!
//! ```
//! use beamish_cluster::topics::{Topic, Topics};
//! use beamish_core::{async_trait, Context, ExitReason, Message, Node, Process};
//! use serde::{Deserialize, Serialize};
//! use tokio::sync::mpsc;
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Message)]
//! #[message(name = "users.SignedUp")]
//! struct SignedUp {
//!     email: String,
//! }
//!
//! /// Sends a welcome to everyone who signs up.
//! struct Mailer {
//!     sent: mpsc::UnboundedSender<String>,
//! }
//!
//! #[async_trait]
//! impl Process for Mailer {
//!     type Args = (Topics, mpsc::UnboundedSender<String>);
//!     type Msg = SignedUp;
//!
//!     async fn init(ctx: &mut Context<SignedUp>, (topics, sent): Self::Args) -> Result<Self, ExitReason> {
//!         // In init: a restarted mailer subscribes again.
//!         let topic = Topic::new("user.*").map_err(|e| ExitReason::error(e.to_string()))?;
//!         topics
//!             .subscribe(&ctx.handle(), &topic)
//!             .await
//!             .map_err(|e| ExitReason::error(e.to_string()))?;
//!         Ok(Mailer { sent })
//!     }
//!
//!     async fn handle(&mut self, _: &mut Context<SignedUp>, event: SignedUp) -> Result<(), ExitReason> {
//!         let _ = self.sent.send(format!("welcome, {}", event.email));
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::new()?;
//! let topics = Topics::start(&node).await?;
//! let (sent, mut outbox) = mpsc::unbounded_channel();
//! node.start::<Mailer>((topics.clone(), sent), Default::default()).await?;
//!
//! let signed_up = Topic::<SignedUp>::new("user.signed_up")?;
//! topics.publish(&signed_up, &SignedUp { email: "ada@example.com".into() }).await?;
//! assert_eq!(outbox.recv().await.as_deref(), Some("welcome, ada@example.com"));
//! # Ok(())
//! # }
//! ```

mod durable;
mod pattern;
mod server;
mod table;
mod wire;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use beamish_core::{Addr, Handle, Message, Node, NodeName, Pid, SpawnOpts};

pub use durable::{sink, Decoded, DurableBroker, DurableFailure, DurableSink};
pub use pattern::MAX_TOPIC_LEN;
use server::{Args, Msg, Router};
use table::{Local, To};
use wire::Event;

use crate::pg::Scope;
use crate::StartError;

/// The name the router of each node is registered and exported under.
pub const ROUTER: &str = "beamish.topics";

/// The name of the process-group scope that tells every node where the
/// subscribers are.
pub const SCOPE: &str = "beamish.topics.subscribers";

/// A topic, or a pattern of topics, and the type of its events.
///
/// A name is words separated by dots (`user.signed_up`), 1 to
/// [`MAX_TOPIC_LEN`] bytes, with no empty word and no `|`. In a pattern,
/// subscribed to but never published on, the word `*` stands for exactly
/// one word and `#` for any number, as in AMQP topic exchanges.
pub struct Topic<E> {
    name: Arc<str>,
    event: PhantomData<fn() -> E>,
}

impl<E> Topic<E> {
    /// The topic or pattern `name`.
    ///
    /// # Errors
    ///
    /// [`TopicError::Invalid`] for a name that is not one.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_cluster::topics::Topic;
    ///
    /// let signed_up = Topic::<String>::new("user.signed_up")?;
    /// let any_user_event = Topic::<String>::new("user.#")?;
    /// assert!(any_user_event.is_pattern() && !signed_up.is_pattern());
    /// assert!(Topic::<String>::new("user..x").is_err());
    /// # Ok::<(), beamish_cluster::topics::TopicError>(())
    /// ```
    pub fn new(name: &str) -> Result<Self, TopicError> {
        pattern::check(name)?;
        Ok(Self {
            name: name.into(),
            event: PhantomData,
        })
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the name has a wildcard word (`*` or `#`).
    pub fn is_pattern(&self) -> bool {
        pattern::is_pattern(&self.name)
    }

    /// Whether the topic `topic` matches this one (as a pattern).
    pub fn matches(&self, topic: &str) -> bool {
        pattern::matches(&self.name, topic)
    }
}

impl<E> Clone for Topic<E> {
    fn clone(&self) -> Self {
        Self {
            name: Arc::clone(&self.name),
            event: PhantomData,
        }
    }
}

impl<E> fmt::Debug for Topic<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Topic").field(&self.name).finish()
    }
}

impl<E> fmt::Display for Topic<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Why a subscription or a publish did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The name is not a topic's: why.
    #[error("{name:?} is not a topic: {why}")]
    Invalid {
        /// The name (its first 64 characters).
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Events are published on topics, not on patterns.
    #[error("{0:?} is a pattern: events are published on topics")]
    Pattern(String),
    /// The process is on another node: only a node's own processes
    /// subscribe through it.
    #[error("{0} is not a process of this node")]
    NotLocal(Pid),
    /// The process has ended.
    #[error("{0} has ended")]
    NoProc(Pid),
    /// The process was not subscribed to the topic.
    #[error("the process was not subscribed to the topic")]
    NotSubscribed,
    /// The event could not be encoded for other nodes.
    #[error("the event could not be encoded: {0}")]
    Encode(String),
    /// The router has ended (the node is shutting down).
    #[error("the topic router has ended")]
    NotRunning,
    /// A durable subscription was asked of a [`Topics`] with no broker
    /// behind it ([`Topics::with_durable`]).
    #[error("no broker for durable subscriptions")]
    NoBroker,
    /// The broker did not take the event or the subscription.
    #[error("the broker: {0}")]
    Durable(#[from] DurableFailure),
}

/// How a subscription gets its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode<'a> {
    /// In memory over the cluster's connections: at most once.
    Fast,
    /// Through the broker, under the durable subscription of this name,
    /// shared by every process subscribed under it: at least once.
    Durable(&'a str),
}

/// Where a [`publish`](Topics::publish) went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// Subscribers on this node it was cast to.
    pub local: usize,
    /// Other nodes with subscribers it was sent to, one frame each.
    pub nodes: Vec<NodeName>,
    /// Other nodes with subscribers it could not be sent to (their
    /// connection is lost): at most once.
    pub unreached: Vec<NodeName>,
    /// Whether the broker behind this [`Topics`] confirmed it, for the
    /// durable subscriptions (`false` with no broker).
    pub durable: bool,
}

/// This node's part of the cluster's subscriptions: its router, and the
/// scope that tells every node where the subscribers are. Cheap to
/// clone; clones share it. See the [module](self) for how it behaves.
#[derive(Clone)]
pub struct Topics {
    node: Node,
    scope: Scope,
    local: Arc<Local>,
    router: Handle<Msg>,
    durable: Option<Arc<dyn DurableBroker>>,
}

impl Topics {
    /// Starts the subscriptions on `node`: the scope [`SCOPE`] and the
    /// router, registered and exported as [`ROUTER`]. Start it once the
    /// node has joined its cluster (on a node that never joins one, it
    /// serves this node alone).
    ///
    /// # Errors
    ///
    /// [`StartError::Start`] if a process did not start: they already
    /// run on this node, or the node is shutting down.
    pub async fn start(node: &Node) -> Result<Self, StartError> {
        let scope = Scope::start(node, SCOPE).await?;
        let local = Arc::new(Local::default());
        let args = Args {
            local: Arc::clone(&local),
            scope: scope.clone(),
        };
        let opts = SpawnOpts::new().name(ROUTER).export_as::<Event, Msg>();
        let router = node.start::<Router>(args, opts).await?;
        Ok(Self {
            node: node.clone(),
            scope,
            local,
            router,
            durable: None,
        })
    }

    /// Puts `broker` behind these topics for durable subscriptions: each
    /// [`publish`](Self::publish) is also sent to the broker, and
    /// confirmed, and [`subscribe_as`](Self::subscribe_as) with
    /// [`Mode::Durable`] subscribes through it.
    pub fn with_durable(mut self, broker: impl DurableBroker) -> Self {
        self.durable = Some(Arc::new(broker));
        self
    }

    /// Subscribes `subscriber` to `topic` in `mode`: [`Mode::Fast`] as
    /// [`subscribe`](Self::subscribe) does, or [`Mode::Durable`] through
    /// the broker, under a durable subscription name.
    ///
    /// # Errors
    ///
    /// As [`subscribe`](Self::subscribe); for a durable one,
    /// [`TopicError::NoBroker`], [`TopicError::NoProc`], or
    /// [`TopicError::Durable`] if the broker did not take it.
    pub async fn subscribe_as<E, M>(
        &self,
        subscriber: &Handle<M>,
        topic: &Topic<E>,
        mode: Mode<'_>,
    ) -> Result<(), TopicError>
    where
        E: Message + Clone + Sync,
        M: From<E> + Send + 'static,
    {
        match mode {
            Mode::Fast => self.subscribe(subscriber, topic).await,
            Mode::Durable(name) => {
                let broker = self.durable.as_ref().ok_or(TopicError::NoBroker)?;
                if !subscriber.is_alive() {
                    return Err(TopicError::NoProc(subscriber.pid()));
                }
                let sink = sink::<E, M>(subscriber);
                Ok(broker.subscribe_sink(name, &topic.name, sink).await?)
            }
        }
    }

    /// Subscribes `subscriber`, a process of this node, to `topic` (a
    /// topic or a pattern): each event published on a matching topic, on
    /// any node, is cast to it as an `M`. Subscribing again to the same
    /// topic is no error and changes nothing. It returns once this node
    /// publishes to it; other nodes learn of it soon after.
    ///
    /// # Errors
    ///
    /// [`TopicError::NotLocal`], [`TopicError::NoProc`], or
    /// [`TopicError::NotRunning`].
    pub async fn subscribe<E, M>(
        &self,
        subscriber: &Handle<M>,
        topic: &Topic<E>,
    ) -> Result<(), TopicError>
    where
        E: Message + Clone + Sync,
        M: From<E> + Send + 'static,
    {
        let pid = subscriber.pid();
        let deliver = Arc::new(To::<E, M>::new(subscriber.clone()));
        let (pattern, group) = (Arc::clone(&topic.name), group_of::<E>(&topic.name));
        self.router
            .call_infinity(|reply| Msg::Subscribe {
                pid,
                event_type: E::WIRE_ID,
                decode: table::decode::<E>,
                pattern,
                group,
                deliver,
                reply,
            })
            .await
            .map_err(|_| TopicError::NotRunning)?
    }

    /// Ends `pid`'s subscription to `topic` in `mode`: as
    /// [`unsubscribe`](Self::unsubscribe) for [`Mode::Fast`]; for
    /// [`Mode::Durable`], stops its consumer of that subscription (what it
    /// has not handled goes back to the queue, for the subscription's
    /// other consumers).
    ///
    /// # Errors
    ///
    /// [`TopicError::NotSubscribed`] if it had none,
    /// [`TopicError::NoBroker`], [`TopicError::NotRunning`].
    pub async fn unsubscribe_as<E: Message>(
        &self,
        pid: Pid,
        topic: &Topic<E>,
        mode: Mode<'_>,
    ) -> Result<(), TopicError> {
        match mode {
            Mode::Fast => self.unsubscribe(pid, topic).await,
            Mode::Durable(name) => {
                let broker = self.durable.as_ref().ok_or(TopicError::NoBroker)?;
                if broker.unsubscribe_sink(name, pid).await? {
                    Ok(())
                } else {
                    Err(TopicError::NotSubscribed)
                }
            }
        }
    }

    /// Ends `pid`'s subscription to `topic` (the same topic or pattern it
    /// subscribed to).
    ///
    /// # Errors
    ///
    /// [`TopicError::NotSubscribed`] if it had none,
    /// [`TopicError::NotRunning`].
    pub async fn unsubscribe<E: Message>(
        &self,
        pid: Pid,
        topic: &Topic<E>,
    ) -> Result<(), TopicError> {
        let (pattern, group) = (Arc::clone(&topic.name), group_of::<E>(&topic.name));
        self.router
            .call_infinity(|reply| Msg::Unsubscribe {
                pid,
                event_type: E::WIRE_ID,
                pattern,
                group,
                reply,
            })
            .await
            .map_err(|_| TopicError::NotRunning)?
    }

    /// Publishes `event` on `topic`: cast to each subscriber on this node
    /// whose pattern matches, and sent in one frame to each other node
    /// with such subscribers. It returns once the casts are made and the
    /// frames queued, waiting for room where too much waits for a node
    /// or a subscriber's bounded mailbox is full. With a broker behind
    /// these topics ([`with_durable`](Self::with_durable)), it is first
    /// sent there for the durable subscriptions, and returns once the
    /// broker confirmed it.
    ///
    /// # Errors
    ///
    /// [`TopicError::Pattern`] for a pattern, [`TopicError::Encode`] for
    /// an event that does not encode (nothing is sent then),
    /// [`TopicError::Durable`] if the broker did not confirm it (the fast
    /// subscribers were not sent it either: publish again).
    pub async fn publish<E>(&self, topic: &Topic<E>, event: &E) -> Result<Published, TopicError>
    where
        E: Message + Clone + Sync,
    {
        if topic.is_pattern() {
            return Err(TopicError::Pattern(topic.name.to_string()));
        }
        let me = self.node.name();
        let prefix = type_prefix::<E>();
        let nodes = self.scope.table().nodes_of(|group| {
            group
                .strip_prefix(&prefix)
                .is_some_and(|pattern| pattern::matches(pattern, &topic.name))
        });
        let mut published = Published::default();
        let remote: Vec<NodeName> = nodes.into_iter().filter(|node| *node != me).collect();
        let mut payload = Vec::new();
        if !remote.is_empty() || self.durable.is_some() {
            rmp_serde::encode::write_named(&mut payload, event)
                .map_err(|err| TopicError::Encode(err.to_string()))?;
        }
        if let Some(broker) = &self.durable {
            broker
                .publish_encoded(&topic.name, E::NAME, payload.clone())
                .await?;
            published.durable = true;
        }
        if !remote.is_empty() {
            for node in remote {
                let frame = Event {
                    from: beamish_core::Origin::here(),
                    topic: topic.name.to_string(),
                    event_type: E::WIRE_ID,
                    payload: payload.clone(),
                };
                let router: Addr<Event> = self.node.addr_named(ROUTER, node);
                match router.cast(frame).await {
                    Ok(()) => published.nodes.push(node),
                    Err(error) => {
                        tracing::debug!(%node, %error, topic = %topic.name, "an event could not reach a node");
                        published.unreached.push(node);
                    }
                }
            }
        }
        if let Some(matching) = self.local.matching(E::WIRE_ID, &topic.name) {
            published.local = table::deliver_all(&matching.to, event).await.0;
        }
        Ok(published)
    }

    /// Every process in the cluster, as this node knows now, subscribed
    /// to a topic or pattern that `topic` matches (for a topic), or to
    /// `topic` itself (for a pattern), for events of type `E`.
    pub fn subscribers<E: Message>(&self, topic: &Topic<E>) -> Vec<Pid> {
        let prefix = type_prefix::<E>();
        let exact = topic.is_pattern();
        self.scope
            .table()
            .members_of(|group| {
                group.strip_prefix(&prefix).is_some_and(|pattern| {
                    if exact {
                        pattern == &*topic.name
                    } else {
                        pattern::matches(pattern, &topic.name)
                    }
                })
            })
            .into_iter()
            .collect()
    }

    /// Events from other nodes that reached subscribers here but could
    /// not be given to them: they did not decode as the subscribers'
    /// type, or the subscriber had just ended.
    pub fn dead_letters(&self) -> u64 {
        self.local.dead_letters()
    }

    /// The router's process on this node.
    pub fn pid(&self) -> Pid {
        self.router.pid()
    }
}

impl fmt::Debug for Topics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topics")
            .field("node", &self.node.name())
            .field("router", &self.router.pid())
            .field("durable", &self.durable.is_some())
            .finish_non_exhaustive()
    }
}

/// What the scope's groups of `E`'s subscriptions begin with.
fn type_prefix<E: Message>() -> String {
    format!("{}|", E::NAME)
}

/// The scope's group of the subscribers to `pattern` for events of `E`.
fn group_of<E: Message>(pattern: &str) -> String {
    format!("{}|{pattern}", E::NAME)
}
