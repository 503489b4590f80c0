//! One node's link to the broker: its connection (with timeouts and AMQP
//! heartbeats), its channels, its inbox and the inbox's consumer, and an
//! explicit shutdown.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use beamish_core::transport::{Connection, TransportError};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, ConnectionProperties, ExchangeKind};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::ack::Failures;
use crate::demux::Route;
use crate::queues::{dead_letters_of, inbox_of};
use crate::session::{lost, SessionKey};
use crate::signature::FrameKey;
use crate::warnings::Warnings;
use crate::{Mode, Settings};

/// What [`Broker::ensure`] returns.
pub(crate) type Ensure<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Arc<Live>, TransportError>> + Send + 'a>,
>;

/// The exchange that routes frames to node inboxes by node name.
pub(crate) const EXCHANGE: &str = "beamish.nodes";

/// The AMQP heartbeat asked of the broker, in seconds.
const BROKER_HEARTBEAT_SECS: u16 = 10;

/// A live broker connection and its channels.
pub(crate) struct Live {
    pub(crate) conn: lapin::Connection,
    /// Frames (with publisher confirms in durable mode).
    pub(crate) publish: Channel,
    /// Session openings, always confirmed, so an unroutable one comes back.
    pub(crate) control: Channel,
    /// Passive declarations of peers' inboxes, made again after the broker
    /// closes it over a missing queue.
    pub(crate) probe: tokio::sync::Mutex<Option<Channel>>,
    /// The inbox's consumer, whose deliveries go straight to the
    /// demultiplexer, and its channel.
    _consumer: lapin::Consumer,
    _consume: Channel,
    pub(crate) generation: u64,
}

/// What [`Broker::set_up`] makes on a new connection.
struct SetUp {
    publish: Channel,
    control: Channel,
    consume: Channel,
    consumer: lapin::Consumer,
    generation: u64,
}

pub(crate) struct Broker {
    uri: String,
    /// The node's name, which names its inbox: given when the transport
    /// is made, or by the node it joins.
    node: std::sync::OnceLock<String>,
    pub(crate) settings: Settings,
    /// The current connection, read without waiting.
    current: Mutex<Option<Arc<Live>>>,
    /// Held while a connection is being made, so only one is.
    connecting: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    pub(crate) sessions: Mutex<HashMap<SessionKey, Route>>,
    /// Where connections the peers open are handed, once the node listens.
    pub(crate) accepted: Mutex<Option<mpsc::UnboundedSender<Connection>>>,
    /// Resumed connections found before the node listened.
    pub(crate) waiting: Mutex<Vec<Connection>>,
    /// Set on shutdown or drop: the tasks stop, and nothing reconnects.
    stop: watch::Sender<bool>,
    presence_started: std::sync::Once,
    /// The runtime the connection was made in, where it is closed when the
    /// transport is dropped (perhaps on lapin's own thread).
    runtime: std::sync::OnceLock<tokio::runtime::Handle>,
    pub(crate) me: Weak<Broker>,
    /// How often the handlers of durable frames failed.
    pub(crate) failures: Arc<Failures>,
    /// The key durable frames are signed with, once the node has handed
    /// its secret.
    frame_key: Mutex<Option<Arc<FrameKey>>>,
    /// The queues found with another expiry than asked for, warned about.
    pub(crate) kept_as_it_was: Mutex<HashSet<String>>,
    /// Frames refused for want of a valid signature, acknowledged.
    pub(crate) refused: AtomicU64,
    /// Warnings about what arrives in the inbox, rate limited, and the
    /// debug lines about it, limited apart.
    pub(crate) warnings: Warnings,
    pub(crate) notes: Warnings,
}

impl Broker {
    pub(crate) fn new(uri: String, node: Option<String>, settings: Settings) -> Arc<Self> {
        let named = std::sync::OnceLock::new();
        if let Some(node) = node {
            let _ = named.set(node);
        }
        Arc::new_cyclic(|me| Self {
            uri,
            node: named,
            settings,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
            accepted: Mutex::new(None),
            waiting: Mutex::new(Vec::new()),
            stop: watch::channel(false).0,
            presence_started: std::sync::Once::new(),
            runtime: std::sync::OnceLock::new(),
            me: me.clone(),
            failures: Arc::new(Failures::new(settings.delivery_limit, me.clone())),
            frame_key: Mutex::new(None),
            kept_as_it_was: Mutex::new(HashSet::new()),
            refused: AtomicU64::new(0),
            warnings: Warnings::default(),
            notes: Warnings::default(),
        })
    }

    /// The key durable frames are signed and verified with, if the node
    /// has handed its secret.
    pub(crate) fn frame_key(&self) -> Option<Arc<FrameKey>> {
        self.frame_key.lock().clone()
    }

    pub(crate) fn use_frame_key(&self, key: Arc<FrameKey>) {
        *self.frame_key.lock() = Some(key);
    }

    /// Logs how many warnings of each kind were held back in a period that
    /// is over, if any were: a flood that has ended is still counted.
    pub(crate) fn report_held_back(&self) {
        for (kind, held_back) in self.warnings.overdue(tokio::time::Instant::now()) {
            tracing::warn!(kind, held_back, inbox = %self.inbox(), "warnings held back");
        }
        for (kind, held_back) in self.notes.overdue(tokio::time::Instant::now()) {
            tracing::debug!(kind, held_back, inbox = %self.inbox(), "debug lines held back");
        }
    }

    /// The node's name; empty until it is known (see
    /// [`has_node`](Self::has_node)).
    pub(crate) fn node(&self) -> &str {
        self.node.get().map_or("", String::as_str)
    }

    /// Whether the node's name is known.
    pub(crate) fn has_node(&self) -> bool {
        self.node.get().is_some()
    }

    /// Names the node, unless it already has a name; returns the name it
    /// has then.
    pub(crate) fn name_node(&self, name: &str) -> &str {
        self.node.get_or_init(|| name.to_owned())
    }

    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    pub(crate) fn mode(&self) -> Mode {
        self.settings.mode
    }

    pub(crate) fn inbox(&self) -> String {
        inbox_of(self.node())
    }

    pub(crate) fn dead_letters(&self) -> String {
        dead_letters_of(self.node())
    }

    /// Keeps `frame`, given up on, in the node's dead-letter queue; returns
    /// once the broker confirmed it. A dead-letter queue found missing
    /// (deleted by someone, or expired while the broker could not be
    /// reached) is made again.
    pub(crate) async fn dead_letter(
        &self,
        frame: &[u8],
        properties: BasicProperties,
    ) -> Result<(), TransportError> {
        let live = self.live_wait().await?;
        let mut made_again = false;
        loop {
            let confirm = live
                .publish
                .basic_publish(
                    "".into(),
                    self.dead_letters().as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    frame,
                    properties.clone(),
                )
                .await
                .map_err(lost)?;
            let confirmation = tokio::time::timeout(self.settings.send_timeout, confirm)
                .await
                .map_err(|_| TransportError::Io("the broker did not confirm in time".into()))?
                .map_err(lost)?;
            let acked = confirmation.is_ack();
            let returned = confirmation.take_message().is_some();
            match (acked, returned) {
                (true, false) => return Ok(()),
                (true, true) if !made_again => {
                    tracing::warn!(
                        queue = %self.dead_letters(),
                        "the dead-letter queue was gone: made again"
                    );
                    self.declare_dead_letters(&live.conn).await?;
                    made_again = true;
                }
                _ => {
                    return Err(TransportError::Io(
                        "the broker did not keep the dead letter".into(),
                    ))
                }
            }
        }
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    pub(crate) fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Connections the peers open from now on go to `accepted`, after
    /// those resumed before the node listened.
    pub(crate) fn listen(&self, accepted: mpsc::UnboundedSender<Connection>) {
        let waiting: Vec<_> = self.waiting.lock().drain(..).collect();
        for conn in waiting {
            let _ = accepted.send(conn);
        }
        *self.accepted.lock() = Some(accepted);
    }

    /// The current connection if it is up.
    pub(crate) fn current(&self) -> Option<Arc<Live>> {
        self.current
            .lock()
            .as_ref()
            .filter(|live| live.conn.status().connected())
            .cloned()
    }

    /// The live connection, made (with the inbox and its consumer) if
    /// there is none.
    ///
    /// Boxed: the consumer it starts calls it again to reconnect.
    pub(crate) fn ensure(&self) -> Ensure<'_> {
        Box::pin(async move {
            if let Some(live) = self.current() {
                return Ok(live);
            }
            let _connecting = self.connecting.lock().await;
            if let Some(live) = self.current() {
                return Ok(live);
            }
            if self.stopped() {
                return Err(TransportError::Closed("the transport was shut down".into()));
            }
            let connected = tokio::time::timeout(self.settings.connect_timeout, self.connect())
                .await
                .map_err(|_| {
                    TransportError::Unreachable(format!(
                        "the broker did not answer within {:?} ({})",
                        self.settings.connect_timeout,
                        self.redacted()
                    ))
                })??;
            *self.current.lock() = Some(Arc::clone(&connected));
            Ok(connected)
        })
    }

    /// A live connection for a durable session, which outlives the broker
    /// connection: made again if need be, waiting at most the send timeout
    /// for the broker to come back.
    pub(crate) async fn live_wait(&self) -> Result<Arc<Live>, TransportError> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let deadline = tokio::time::Instant::now() + self.settings.send_timeout;
        let mut delay = Duration::from_millis(50);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ensure()).await {
                Ok(Ok(live)) => return Ok(live),
                Ok(Err(err)) if self.stopped() => return Err(err),
                Ok(Err(err)) if tokio::time::Instant::now() + delay < deadline => {
                    tracing::debug!("waiting for the broker: {err}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Ok(Err(_)) | Err(_) => {
                    return Err(TransportError::Closed(format!(
                        "the broker did not come back within {:?}",
                        self.settings.send_timeout
                    )))
                }
            }
        }
    }

    /// The live connection if it is still the one of `generation`; never
    /// waits.
    pub(crate) fn live_for(&self, generation: u64) -> Result<Arc<Live>, TransportError> {
        match self.current() {
            Some(current) if current.generation == generation => Ok(current),
            _ => Err(TransportError::Closed(
                "the broker connection this session used was lost".into(),
            )),
        }
    }

    /// The broker's URI with the connection's own timeouts: AMQP
    /// heartbeats every 10 s, so that a broker gone silent is noticed, and
    /// the TCP connection's timeout.
    pub(crate) fn connect_uri(&self) -> String {
        format!(
            "{}?heartbeat={BROKER_HEARTBEAT_SECS}&connection_timeout={}",
            self.uri,
            self.settings.connect_timeout.as_millis()
        )
    }

    pub(crate) fn redacted(&self) -> String {
        crate::queues::redacted(&self.uri)
    }

    async fn connect(&self) -> Result<Arc<Live>, TransportError> {
        let unreachable = |err: lapin::Error| {
            TransportError::Unreachable(format!("the broker at {}: {err}", self.redacted()))
        };
        let conn = lapin::Connection::connect(&self.connect_uri(), ConnectionProperties::default())
            .await
            .map_err(unreachable)?;
        match self.set_up(&conn).await {
            Ok(SetUp {
                publish,
                control,
                consume,
                consumer,
                generation,
            }) => Ok(Arc::new(Live {
                conn,
                publish,
                control,
                probe: tokio::sync::Mutex::new(None),
                _consumer: consumer,
                _consume: consume,
                generation,
            })),
            Err(err) => {
                // Closed, or lapin would keep it open.
                let _ = conn.close(200, "set-up failed".into()).await;
                Err(err)
            }
        }
    }

    /// The channels, the inbox and its consumer on a new connection.
    async fn set_up(&self, conn: &lapin::Connection) -> Result<SetUp, TransportError> {
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
        self.declare_inbox(conn).await?;
        if durable {
            // Frames no handler could take are kept here, not lost.
            self.declare_dead_letters(conn).await?;
        }
        consume
            .queue_bind(
                inbox.as_str().into(),
                EXCHANGE.into(),
                self.node().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(lost)?;
        // One consumer per inbox: a second node of the same name is refused.
        let consumer = consume
            .basic_consume(
                inbox.as_str().into(),
                format!("beamish-{}", self.node()).into(),
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
        let _ = self.runtime.set(tokio::runtime::Handle::current());
        consumer.set_delegate(crate::consumer::Inbox {
            broker: self.me.clone(),
            generation,
            ended: AtomicBool::new(false),
            runtime: tokio::runtime::Handle::current(),
        });
        self.presence_started.call_once(|| {
            let me = self.me.clone();
            let stop = self.stopping();
            tokio::spawn(async move { crate::presence::watch(me, stop).await });
            let me = self.me.clone();
            let stop = self.stopping();
            tokio::spawn(async move { crate::queues::renew_dead_letters(me, stop).await });
        });
        tracing::debug!(node = %self.node(), generation, "connected to the broker");
        Ok(SetUp {
            publish,
            control,
            consume,
            consumer,
            generation,
        })
    }

    /// Drops the connection of `generation` if it is the current one, and
    /// closes it (a consumer cancelled by the broker leaves the connection
    /// up but useless); whether it was the current one.
    pub(crate) async fn retire(&self, generation: u64) -> bool {
        let retired = {
            let mut current = self.current.lock();
            match current.as_ref() {
                Some(live) if live.generation == generation => current.take(),
                _ => None,
            }
        };
        match retired {
            Some(live) => {
                close(&live, self.settings.connect_timeout).await;
                true
            }
            None => false,
        }
    }

    /// The connection lapin has seen go without its consumer hearing of it
    /// (seen when the broker stops): the transport's own check, made with
    /// every presence round.
    pub(crate) fn check_connection(&self) {
        let gone = self
            .current
            .lock()
            .as_ref()
            .filter(|live| !live.conn.status().connected())
            .map(|live| live.generation);
        if let Some(generation) = gone {
            let me = self.me.clone();
            tokio::spawn(async move {
                crate::consumer::inbox_lost(me, generation, "the connection is closed".into())
                    .await;
            });
        }
    }

    /// Closes the broker connection; every session ends and nothing
    /// reconnects.
    pub(crate) async fn shutdown(&self) {
        self.stop.send_replace(true);
        let _connecting = self.connecting.lock().await;
        let live = self.current.lock().take();
        self.lose_all("the transport was shut down");
        if let Some(live) = live {
            close(&live, self.settings.connect_timeout).await;
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // The presence task ends, and the connection is closed (lapin keeps
        // it open while its channels are registered).
        self.stop.send_replace(true);
        let Some(live) = self.current.get_mut().take() else {
            return;
        };
        let timeout = self.settings.connect_timeout;
        match self.runtime.get() {
            Some(runtime) => {
                runtime.spawn(async move { close(&live, timeout).await });
            }
            None => {
                tracing::warn!(node = %self.node(), "no runtime to close the broker connection in")
            }
        }
    }
}

async fn close(live: &Live, timeout: Duration) {
    if live.conn.status().connected() {
        let _ = tokio::time::timeout(timeout, live.conn.close(200, "shutdown".into())).await;
    }
}
