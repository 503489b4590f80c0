//! One node's link to the broker: its connection and channels, its inbox
//! and the consumer that demultiplexes it into sessions, and reconnection
//! with backoff when the broker goes away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use beamish_core::transport::{Connection, Incoming, TransportError};
use bytes::Bytes;
use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ConnectionProperties, ExchangeKind};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::session::{
    lost, AmqpFrames, AmqpSink, DeliveryAck, Item, ReceiveOnly, SessionKey, CLOSE, DATA, OPEN,
};
use crate::{Mode, Settings};

/// What [`Broker::ensure`] returns.
pub(crate) type Ensure<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Arc<Live>, TransportError>> + Send + 'a>,
>;

/// The exchange that routes frames to node inboxes by node name.
pub(crate) const EXCHANGE: &str = "beamish.nodes";

/// A live broker connection and its channels.
pub(crate) struct Live {
    pub(crate) conn: lapin::Connection,
    /// Frames (with publisher confirms in durable mode).
    pub(crate) publish: Channel,
    /// Session openings, always confirmed, so an unroutable one comes back.
    control: Channel,
    generation: u64,
}

pub(crate) struct Broker {
    uri: String,
    node: String,
    settings: Settings,
    live: tokio::sync::Mutex<Option<Arc<Live>>>,
    generation: AtomicU64,
    sessions: Mutex<HashMap<SessionKey, mpsc::UnboundedSender<Item>>>,
    /// Where sessions the peers open are handed, once the node listens.
    accepted: Mutex<Option<mpsc::UnboundedSender<Connection>>>,
    me: Weak<Broker>,
}

impl Broker {
    pub(crate) fn new(uri: String, node: String, settings: Settings) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            uri,
            node,
            settings,
            live: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
            accepted: Mutex::new(None),
            me: me.clone(),
        })
    }

    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    pub(crate) fn settings(&self) -> Settings {
        self.settings
    }

    pub(crate) fn mode(&self) -> Mode {
        self.settings.mode
    }

    pub(crate) fn send_timeout(&self) -> Duration {
        self.settings.send_timeout
    }

    pub(crate) fn inbox(&self) -> String {
        format!("beamish.inbox.{}", self.node)
    }

    /// Sessions the peers open from now on go to `accepted`.
    pub(crate) fn listen(&self, accepted: mpsc::UnboundedSender<Connection>) {
        *self.accepted.lock() = Some(accepted);
    }

    /// The live connection, made (with the inbox and its consumer) if
    /// there is none.
    ///
    /// Boxed: the consumer it starts calls it again to reconnect.
    pub(crate) fn ensure(&self) -> Ensure<'_> {
        Box::pin(async move {
            let mut live = self.live.lock().await;
            if let Some(current) = live.as_ref() {
                if current.conn.status().connected() {
                    return Ok(Arc::clone(current));
                }
            }
            let connected = tokio::time::timeout(self.settings.connect_timeout, self.connect())
                .await
                .map_err(|_| {
                    TransportError::Unreachable(format!(
                        "the broker did not answer in time ({})",
                        self.redacted()
                    ))
                })??;
            *live = Some(Arc::clone(&connected));
            Ok(connected)
        })
    }

    /// A live connection for a durable session, which outlives the broker
    /// connection: made again if need be, waiting at most the send timeout
    /// for the broker to come back.
    pub(crate) async fn live_wait(&self) -> Result<Arc<Live>, TransportError> {
        let deadline = tokio::time::Instant::now() + self.settings.send_timeout;
        let mut delay = Duration::from_millis(50);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let attempt = tokio::time::timeout(left, self.ensure()).await;
            match attempt {
                Ok(Ok(live)) => return Ok(live),
                Ok(Err(err)) if tokio::time::Instant::now() + delay < deadline => {
                    tracing::debug!("waiting for the broker: {err}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Ok(Err(err)) => return Err(err),
                Err(_) => {
                    return Err(TransportError::Closed(format!(
                        "the broker did not come back within {:?}",
                        self.settings.send_timeout
                    )))
                }
            }
        }
    }

    /// The live connection if it is still the one of `generation`.
    pub(crate) async fn live_for(&self, generation: u64) -> Result<Arc<Live>, TransportError> {
        let live = self.live.lock().await;
        match live.as_ref() {
            Some(current)
                if current.generation == generation && current.conn.status().connected() =>
            {
                Ok(Arc::clone(current))
            }
            _ => Err(TransportError::Closed(
                "the broker connection this session used was lost".into(),
            )),
        }
    }

    fn redacted(&self) -> String {
        match self.uri.split_once('@') {
            Some((_, rest)) => format!("amqp://…@{rest}"),
            None => self.uri.clone(),
        }
    }

    async fn connect(&self) -> Result<Arc<Live>, TransportError> {
        let unreachable = |err: lapin::Error| {
            TransportError::Unreachable(format!("the broker at {}: {err}", self.redacted()))
        };
        let conn = lapin::Connection::connect(&self.uri, ConnectionProperties::default())
            .await
            .map_err(unreachable)?;
        let durable = self.mode() == Mode::Durable;
        let publish = conn.create_channel().await.map_err(lost)?;
        let control = conn.create_channel().await.map_err(lost)?;
        let consume = conn.create_channel().await.map_err(lost)?;
        control
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(lost)?;
        if durable {
            publish
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(lost)?;
            consume
                .basic_qos(self.settings.prefetch, BasicQosOptions::default())
                .await
                .map_err(lost)?;
        }
        consume
            .exchange_declare(
                EXCHANGE.into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(lost)?;
        let inbox = self.inbox();
        let (options, mut arguments) = if durable {
            let options = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            (options, FieldTable::default())
        } else {
            let options = QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            };
            (options, FieldTable::default())
        };
        if let Some(expiry) = self.settings.inbox_expiry {
            let millis = i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX);
            arguments.insert("x-expires".into(), AMQPValue::LongLongInt(millis));
        }
        consume
            .queue_declare(inbox.as_str().into(), options, arguments)
            .await
            .map_err(|err| TransportError::InUse(format!("the inbox {inbox}: {err}")))?;
        consume
            .queue_bind(
                inbox.as_str().into(),
                EXCHANGE.into(),
                self.node.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(lost)?;
        let consumer = consume
            .basic_consume(
                inbox.as_str().into(),
                format!("beamish-{}", self.node).into(),
                BasicConsumeOptions {
                    no_ack: !durable,
                    exclusive: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|err| TransportError::InUse(format!("the inbox {inbox}: {err}")))?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let me = self.me.clone();
        tokio::spawn(async move { consume_inbox(me, consumer, consume, generation).await });
        tracing::debug!(node = %self.node, generation, "connected to the broker");
        Ok(Arc::new(Live {
            conn,
            publish,
            control,
            generation,
        }))
    }

    /// Opens a session to `peer`: an `open` goes to its inbox; if the
    /// broker cannot route it (no such inbox), the peer is unreachable.
    pub(crate) async fn open(&self, peer: &str) -> Result<Connection, TransportError> {
        let live = self.ensure().await?;
        let mut id = [0_u8; 8];
        getrandom::fill(&mut id).map_err(|err| TransportError::Io(err.to_string()))?;
        let session = u64::from_le_bytes(id);
        let key = (peer.to_owned(), session);
        let frames = self.register(key.clone());
        let props = BasicProperties::default()
            .with_type(OPEN.into())
            .with_reply_to(self.node.as_str().into())
            .with_correlation_id(session.to_string().into())
            // A node that is down does not find stale openings on return.
            .with_expiration(self.settings.open_ttl.as_millis().to_string().into());
        let confirmation = async {
            live.control
                .basic_publish(
                    EXCHANGE.into(),
                    peer.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    b"",
                    props,
                )
                .await?
                .await
        };
        let confirmation = tokio::time::timeout(self.settings.send_timeout, confirmation)
            .await
            .map_err(|_| TransportError::Io("the broker did not confirm in time".into()))
            .and_then(|result| result.map_err(lost));
        let unroutable = match confirmation {
            Ok(confirmation) => confirmation.take_message().is_some(),
            Err(err) => {
                self.forget(&key, Item::End);
                return Err(err);
            }
        };
        if unroutable {
            self.forget(&key, Item::End);
            return Err(TransportError::Unreachable(format!(
                "no inbox for {peer} at the broker"
            )));
        }
        Ok(self.connection(key, frames, live.generation))
    }

    fn register(&self, key: SessionKey) -> AmqpFrames {
        let (tx, items) = mpsc::unbounded_channel();
        self.sessions.lock().insert(key, tx);
        AmqpFrames { items }
    }

    fn connection(&self, key: SessionKey, frames: AmqpFrames, generation: u64) -> Connection {
        let broker = self.me.upgrade();
        let peer = format!("amqp:{}#{}", key.0, key.1);
        match broker {
            Some(broker) => Connection::new(
                Box::new(AmqpSink {
                    broker,
                    peer: key.0,
                    session: key.1,
                    generation,
                    closed: false,
                }),
                Box::new(frames),
                peer,
            ),
            None => Connection::new(Box::new(ReceiveOnly), Box::new(frames), peer),
        }
    }

    /// Ends a session's receiving side with `last`.
    pub(crate) fn forget(&self, key: &SessionKey, last: Item) {
        if let Some(tx) = self.sessions.lock().remove(key) {
            let _ = tx.send(last);
        }
    }

    /// Every session of `generation` is lost with the connection.
    fn lose_all(&self, why: &str) {
        let sessions: Vec<_> = self.sessions.lock().drain().collect();
        for (_, tx) in sessions {
            let _ = tx.send(Item::Lost(why.to_owned()));
        }
    }

    /// Routes one delivery from the inbox.
    async fn route(&self, mut delivery: lapin::message::Delivery, generation: u64) {
        let props = &delivery.properties;
        let kind = props.kind().as_ref().map(|k| k.as_str().to_owned());
        let from = props.reply_to().as_ref().map(|f| f.as_str().to_owned());
        let session = props
            .correlation_id()
            .as_ref()
            .and_then(|s| s.as_str().parse::<u64>().ok());
        let durable = self.mode() == Mode::Durable;
        let (Some(kind), Some(from), Some(session)) = (kind, from, session) else {
            tracing::warn!(inbox = %self.inbox(), "dropped a message that is not a beamish frame");
            if durable {
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
            return;
        };
        let key = (from, session);
        match kind.as_str() {
            OPEN => {
                if durable {
                    let _ = delivery.acker.ack(BasicAckOptions::default()).await;
                }
                let accepted = self.accepted.lock().clone();
                if let Some(accepted) = accepted {
                    let frames = self.register(key.clone());
                    let _ = accepted.send(self.connection(key, frames, generation));
                }
            }
            DATA => {
                let payload = Bytes::from(std::mem::take(&mut delivery.data));
                let frame = if durable {
                    Incoming::with_ack(payload, Box::new(DeliveryAck(delivery)))
                } else {
                    Incoming::new(payload)
                };
                if payload_too_large(&frame, self.settings.max_frame) {
                    tracing::warn!(peer = %key.0, "a frame over the limit ends the session");
                    self.forget(&key, Item::Lost("a frame exceeds the limit".into()));
                    // Acknowledged: it can never be handled.
                    let _ = frame.ack().await;
                    return;
                }
                let tx = self.sessions.lock().get(&key).cloned();
                match tx {
                    Some(tx) => {
                        let _ = tx.send(Item::Frame(frame));
                    }
                    None if durable => self.resume(key, frame),
                    None => tracing::debug!(peer = %key.0, "dropped a frame of an unknown session"),
                }
            }
            CLOSE => {
                if durable {
                    let _ = delivery.acker.ack(BasicAckOptions::default()).await;
                }
                self.forget(&key, Item::End);
            }
            other => tracing::warn!(kind = other, "dropped a message of an unknown kind"),
        }
    }

    /// A frame of a session this node does not know: left from its earlier
    /// life. It and the rest of that session reach the node through a
    /// resumed connection.
    fn resume(&self, key: SessionKey, frame: Incoming) {
        let accepted = self.accepted.lock().clone();
        let Some(accepted) = accepted else {
            tracing::debug!(peer = %key.0, "a frame of an earlier session waits for a listener");
            return;
        };
        let frames = self.register(key.clone());
        if let Some(tx) = self.sessions.lock().get(&key) {
            let _ = tx.send(Item::Frame(frame));
        }
        let peer = format!("amqp:{}#{}", key.0, key.1);
        let conn = Connection::new(Box::new(ReceiveOnly), Box::new(frames), peer).resumed(key.0);
        let _ = accepted.send(conn);
    }

    /// Closes the broker connection.
    pub(crate) async fn shutdown(&self) {
        let live = self.live.lock().await.take();
        self.lose_all("the transport was shut down");
        if let Some(live) = live {
            let _ = tokio::time::timeout(
                self.settings.connect_timeout,
                live.conn.close(200, "shutdown".into()),
            )
            .await;
        }
    }
}

fn payload_too_large(frame: &Incoming, max: usize) -> bool {
    frame.payload.len() > max
}

/// Delivers the inbox until the connection goes, then reconnects with
/// backoff if the node listens.
async fn consume_inbox(
    broker: Weak<Broker>,
    mut consumer: lapin::Consumer,
    _channel: Channel,
    generation: u64,
) {
    let why = loop {
        match consumer.next().await {
            Some(Ok(delivery)) => match broker.upgrade() {
                Some(broker) => broker.route(delivery, generation).await,
                None => return,
            },
            Some(Err(err)) => break err.to_string(),
            None => break "the broker cancelled the inbox's consumer".to_owned(),
        }
    };
    let Some(me) = broker.upgrade() else {
        return;
    };
    tracing::warn!(node = %me.node, "lost the broker: {why}");
    {
        let mut live = me.live.lock().await;
        if live.as_ref().is_some_and(|l| l.generation == generation) {
            *live = None;
        }
    }
    // Fast sessions go with the connection; durable ones wait for the
    // broker, and what it had not seen acknowledged comes again.
    let durable = me.mode() == Mode::Durable;
    if !durable {
        me.lose_all(&format!("the broker connection was lost: {why}"));
    }
    if me.accepted.lock().is_none() && !durable {
        return;
    }
    drop(me);
    // A listening node gets its inbox back as soon as the broker does.
    let mut delay = Duration::from_millis(100);
    loop {
        tokio::time::sleep(delay).await;
        let Some(me) = broker.upgrade() else {
            return;
        };
        match me.ensure().await {
            Ok(_) => {
                tracing::info!(node = %me.node, "reconnected to the broker");
                return;
            }
            Err(err) => {
                tracing::debug!(node = %me.node, "the broker is still away: {err}");
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
