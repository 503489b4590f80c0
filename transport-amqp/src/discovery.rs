//! Finding the members of a cluster through the broker: each node
//! announces itself on a presence exchange and hears the others.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use beamish_cluster::{Discovery, DiscoveryError};
use beamish_core::{Endpoint, NodeName, MAX_NODE_NAME_LEN};
use futures_lite::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, ConnectionProperties, ExchangeKind};
use parking_lot::Mutex;
use tokio::sync::{watch, OnceCell};
use tokio::time::Instant;

use crate::transport::broker_only;
use crate::AmqpError;

/// The exchange nodes announce themselves on, by cluster name.
pub const PRESENCE_EXCHANGE: &str = "beamish.presence";

/// An announcement's first byte: the node asks the others to announce
/// themselves at once.
const ASKING: u8 = 1;
/// An announcement's first byte: the node says it is there.
const HERE: u8 = 0;

/// Finds the members of a cluster through its AMQP broker: the
/// [`Discovery`] for clusters whose nodes reach each other only through
/// the broker (pods with no address of their own to give).
///
/// Each node announces its name on the topic exchange
/// [`PRESENCE_EXCHANGE`] under the cluster's name, every
/// [`announce_interval`](Self::announce_interval) (1 s by default), and
/// hears the announcements of the others on a queue of its own that goes
/// with its connection. A node that starts asks the others to announce
/// themselves at once, so it finds them without waiting a round. A node
/// not heard from for three rounds is no longer listed. Announcements
/// carry the node's name only (never the broker's credentials): each node
/// reaches the others at its own broker endpoint.
///
/// The presence connection is made on the first
/// [`members`](Discovery::members) call, and made again if the broker
/// goes away; it closes when the discovery is dropped.
///
/// # Examples
///
/// ```no_run
/// use beamish_cluster::{Cluster, ClusterSettings};
/// use beamish_core::{Cookie, Endpoint, Node};
/// use beamish_transport_amqp::{AmqpDiscovery, AmqpTransport, Mode};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let broker: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
/// let node = Node::builder()
///     .name("orders-7f9c@pods")
///     .cookie(Cookie::from_file("/run/secrets/cookie")?)
///     .transport(AmqpTransport::new(&broker, Mode::Fast)?)
///     .listen(&broker)
///     .start()
///     .await?;
/// // Every pod of the `shop` cluster finds the others through the broker.
/// let discovery = AmqpDiscovery::new(&broker, node.name(), "shop")?;
/// let _cluster = Cluster::start(&node, discovery, ClusterSettings::default()).await?;
/// # Ok(())
/// # }
/// ```
pub struct AmqpDiscovery {
    shared: Arc<Shared>,
    started: OnceCell<()>,
    /// Dropping it ends the presence task.
    stop: watch::Sender<bool>,
}

struct Shared {
    /// The broker, without a node.
    broker: Endpoint,
    me: NodeName,
    cluster: String,
    every: Duration,
    /// The nodes heard, and when last.
    heard: Mutex<HashMap<NodeName, Instant>>,
    /// Set once the first round of answers had time to come.
    settled: watch::Sender<bool>,
}

impl AmqpDiscovery {
    /// Discovery of the nodes of the cluster `cluster` through the broker
    /// at `broker` (its `?node=` part, if any, is ignored), for the node
    /// `me`.
    ///
    /// # Errors
    ///
    /// [`AmqpError::NotAmqp`] for an endpoint of another scheme.
    pub fn new(broker: &Endpoint, me: NodeName, cluster: &str) -> Result<Self, AmqpError> {
        let broker = broker_only(broker)?;
        let (stop, _) = watch::channel(false);
        Ok(Self {
            shared: Arc::new(Shared {
                broker,
                me,
                cluster: cluster.to_owned(),
                every: Duration::from_secs(1),
                heard: Mutex::new(HashMap::new()),
                settled: watch::channel(false).0,
            }),
            started: OnceCell::new(),
            stop,
        })
    }

    /// How often the node announces itself (1 s by default, at least
    /// 10 ms); a node not heard from for three of these is no longer
    /// listed.
    pub fn announce_interval(mut self, every: Duration) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.every = every.max(Duration::from_millis(10));
        }
        self
    }

    /// The names of the nodes heard from lately, sorted.
    pub fn heard(&self) -> Vec<NodeName> {
        let mut names: Vec<NodeName> = self.shared.live().into_iter().collect();
        names.sort();
        names
    }
}

impl std::fmt::Debug for AmqpDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpDiscovery")
            .field("me", &self.shared.me)
            .field("cluster", &self.shared.cluster)
            .field("announce_interval", &self.shared.every)
            .finish_non_exhaustive()
    }
}

impl Drop for AmqpDiscovery {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

#[async_trait]
impl Discovery for AmqpDiscovery {
    async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
        self.started
            .get_or_init(|| async {
                let shared = Arc::downgrade(&self.shared);
                let stop = self.stop.subscribe();
                tokio::spawn(announce(shared, stop));
            })
            .await;
        // The first time, the answers to this node's question are waited
        // for (a round at most).
        let mut settled = self.shared.settled.subscribe();
        let _ = tokio::time::timeout(self.shared.every, settled.wait_for(|done| *done)).await;
        Ok(self
            .shared
            .live()
            .into_iter()
            .map(|node| self.shared.endpoint_of(node))
            .collect())
    }
}

impl Shared {
    /// The nodes heard from within three rounds.
    fn live(&self) -> Vec<NodeName> {
        let now = Instant::now();
        let mut heard = self.heard.lock();
        heard.retain(|_, at| now.duration_since(*at) < self.every * 3);
        heard.keys().copied().collect()
    }

    fn endpoint_of(&self, node: NodeName) -> Endpoint {
        let mut endpoint = self.broker.clone();
        if let Endpoint::Amqp { node: wanted, .. } = &mut endpoint {
            *wanted = Some(node.to_string());
        }
        endpoint
    }

    /// Takes an announcement; returns whether its sender asks for an
    /// answer.
    fn take(&self, body: &[u8]) -> Option<bool> {
        let (&kind, name) = body.split_first()?;
        if name.len() > MAX_NODE_NAME_LEN || (kind != HERE && kind != ASKING) {
            return None;
        }
        let name = std::str::from_utf8(name).ok()?;
        let node = NodeName::new(name).ok()?;
        if node == self.me {
            return None;
        }
        self.heard.lock().insert(node, Instant::now());
        Some(kind == ASKING)
    }

    fn announcement(&self, kind: u8) -> Vec<u8> {
        let mut body = vec![kind];
        body.extend_from_slice(self.me.to_string().as_bytes());
        body
    }
}

/// Announces the node and hears the others until the discovery is
/// dropped, connecting again after the broker goes away.
async fn announce(shared: Weak<Shared>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(now) = shared.upgrade() else { return };
        let uri = now.broker.to_string();
        drop(now);
        tokio::select! {
            ended = present(&shared, &uri) => {
                match ended {
                    Ok(()) => return,
                    Err(error) => tracing::warn!(%error, "presence through the broker lost; connecting again"),
                }
            }
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One presence connection: declares the exchange and this node's queue,
/// asks the others, then announces every round and answers questions.
/// Returns `Ok` once the discovery is gone.
async fn present(shared: &Weak<Shared>, uri: &str) -> Result<(), String> {
    present_on(shared, uri)
        .await
        .map_err(|error| error.to_string())?
}

/// [`present`], with the broker's errors kept apart from the end of the
/// consumer.
async fn present_on(shared: &Weak<Shared>, uri: &str) -> Result<Result<(), String>, lapin::Error> {
    let conn = lapin::Connection::connect(uri, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    channel
        .exchange_declare(
            PRESENCE_EXCHANGE.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let Some((cluster, every)) = shared.upgrade().map(|s| (s.cluster.clone(), s.every)) else {
        return Ok(Ok(()));
    };
    channel
        .queue_bind(
            queue.name().as_str().into(),
            PRESENCE_EXCHANGE.into(),
            cluster.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut heard = channel
        .basic_consume(
            queue.name().as_str().into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                exclusive: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let say = |kind: u8| {
        let channel = channel.clone();
        let cluster = cluster.clone();
        let shared = shared.clone();
        async move {
            let Some(body) = shared.upgrade().map(|s| s.announcement(kind)) else {
                return Ok(());
            };
            publish(&channel, &cluster, body, every).await
        }
    };
    say(ASKING).await?;
    let settle = tokio::time::sleep(every.min(Duration::from_millis(500)));
    tokio::pin!(settle);
    let mut settled = false;
    let mut rounds = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = &mut settle, if !settled => {
                settled = true;
                let Some(now) = shared.upgrade() else { return Ok(Ok(())) };
                now.settled.send_replace(true);
            }
            _ = rounds.tick() => say(HERE).await?,
            delivery = heard.next() => {
                let Some(delivery) = delivery else {
                    return Ok(Err("the broker cancelled the presence consumer".to_owned()));
                };
                let delivery = delivery?;
                let Some(now) = shared.upgrade() else { return Ok(Ok(())) };
                match now.take(&delivery.data) {
                    Some(true) => say(HERE).await?,
                    Some(false) => {}
                    None => tracing::debug!("an announcement on the presence exchange was not understood"),
                }
            }
        }
    }
}

/// Publishes one announcement, transient, gone after a round if no node
/// took it.
async fn publish(
    channel: &Channel,
    cluster: &str,
    body: Vec<u8>,
    every: Duration,
) -> Result<(), lapin::Error> {
    channel
        .basic_publish(
            PRESENCE_EXCHANGE.into(),
            cluster.into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default().with_expiration(every.as_millis().to_string().into()),
        )
        .await?;
    Ok(())
}
