//! One process's consumer of a durable subscription: it casts each event
//! to the process and acknowledges it once the handler returned, sends
//! it back when the handler failed or the process ended first, and
//! dead-letters at once what does not decode as the process's type.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use beamish_cluster::topics::{Decoded, DurableSink};
use beamish_core::Settled;
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Confirmation;
use lapin::{Acker, Channel};
use tokio::sync::{watch, OwnedRwLockReadGuard, RwLock};

use super::{carried, DurableError, DurableSubscription, Shared, FAILURES_HEADER, REASON_HEADER};

/// How long a consumer that ends waits for its settlings before closing.
const SETTLING: Duration = Duration::from_secs(5);

/// What a consumer needs of its subscription: it belongs to its process
/// and outlives the `DurableTopics` it was made with.
#[derive(Clone)]
struct Target {
    shared: Arc<Shared>,
    name: String,
    pattern: String,
}

/// Sets up the subscription (so that what is wrong reaches the caller)
/// and starts the process's consumer.
pub(super) async fn start(
    shared: &Arc<Shared>,
    sink: Box<dyn DurableSink>,
    pattern: &str,
    name: &str,
) -> Result<DurableSubscription, DurableError> {
    let target = Target {
        shared: Arc::clone(shared),
        name: name.to_owned(),
        pattern: pattern.to_owned(),
    };
    let conn = shared.connect().await?;
    let channel = conn.create_channel().await?;
    declare(&target, &channel).await?;
    let (stop, stopped) = watch::channel(false);
    let stop = Arc::new(stop);
    let key = (name.to_owned(), sink.pid());
    shared
        .consumers
        .lock()
        .insert(key.clone(), Arc::clone(&stop));
    let (shared, ours) = (Arc::clone(shared), Arc::clone(&stop));
    tokio::spawn(async move {
        run(target, sink, Some((conn, channel)), stopped).await;
        // Forgotten, unless a newer consumer of the same process took
        // its place.
        let mut consumers = shared.consumers.lock();
        if consumers
            .get(&key)
            .is_some_and(|now| Arc::ptr_eq(now, &ours))
        {
            consumers.remove(&key);
        }
    });
    Ok(DurableSubscription { stop })
}

/// The subscription's queue (a quorum queue with a delivery limit, which
/// dead-letters to the scope's dead-letter exchange), its dead-letter
/// queue, and the binding to the pattern.
async fn declare(target: &Target, channel: &Channel) -> Result<(), DurableError> {
    let shared = &target.shared;
    shared.declare_exchanges(channel).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let dead = shared.dead_queue(&target.name);
    channel
        .queue_declare(dead.as_str().into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            dead.as_str().into(),
            shared.dead_exchange().as_str().into(),
            target.name.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    // The broker's own limit counts every return, an event handed back
    // unhandled by a node that died holding it among them: only a last
    // resort, ten times ours, which counts failures alone.
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(
            target
                .shared
                .settings
                .delivery_limit
                .saturating_mul(10)
                .max(10),
        )),
    );
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(shared.dead_exchange().as_str().into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(target.name.as_str().into()),
    );
    let queue = shared.queue(&target.name);
    channel
        .queue_declare(queue.as_str().into(), durable, arguments)
        .await?;
    channel
        .queue_bind(
            queue.as_str().into(),
            shared.exchange().as_str().into(),
            target.pattern.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Consumes until the process ends or the subscription is cancelled,
/// connecting again, with backoff, whenever the broker goes away. The
/// connection is closed when the consumer ends, so what the process did
/// not acknowledge goes back to the queue at once, for the
/// subscription's other consumers.
async fn run(
    target: Target,
    sink: Box<dyn DurableSink>,
    mut first: Option<(lapin::Connection, Channel)>,
    mut stopped: watch::Receiver<bool>,
) {
    let node = target.shared.node.clone();
    let mut ends = std::pin::pin!(node.monitor(sink.pid()));
    let mut backoff = Duration::from_millis(100);
    loop {
        let set_up = async {
            if let Some(set_up) = first.take() {
                return Ok(set_up);
            }
            let conn = target.shared.connect().await?;
            let channel = conn.create_channel().await?;
            declare(&target, &channel).await?;
            Ok::<_, DurableError>((conn, channel))
        };
        let set_up = tokio::select! {
            set_up = set_up => set_up,
            _ = &mut ends => return,
            Ok(_) = stopped.wait_for(|stop| *stop) => return,
        };
        let lost = match set_up {
            Ok((conn, channel)) => {
                let settling = Arc::new(RwLock::new(()));
                let ended = tokio::select! {
                    ended = consume(&target, &*sink, &conn, &channel, &settling) => ended.err(),
                    _ = &mut ends => None,
                    Ok(_) = stopped.wait_for(|stop| *stop) => None,
                };
                // Events cast to the process are settled (acknowledged,
                // moved, or handed back) on this connection before it
                // closes, or for as long as SETTLING.
                let _ = tokio::time::timeout(SETTLING, settling.write()).await;
                let _ = conn.close(200, "the subscriber is done".into()).await;
                match ended {
                    Some(lost) => lost,
                    None => return,
                }
            }
            Err(lost) => lost,
        };
        tracing::warn!(
            subscription = %target.name, error = %lost,
            "a durable subscription lost the broker; connecting again"
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = &mut ends => return,
            Ok(_) = stopped.wait_for(|stop| *stop) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One connection's consumer: returns `Err` when the broker goes away.
/// Dropped when the process ends or the subscription is cancelled, which
/// drops the connection: what the process did not acknowledge goes back
/// to the queue.
async fn consume(
    target: &Target,
    sink: &dyn DurableSink,
    conn: &lapin::Connection,
    channel: &Channel,
    settling: &Arc<RwLock<()>>,
) -> Result<(), DurableError> {
    channel
        .basic_qos(target.shared.settings.prefetch, BasicQosOptions::default())
        .await?;
    let queue = target.shared.queue(&target.name);
    let moves = Arc::new(Moves {
        channel: Shared::confirming(conn).await?,
        queue: queue.clone(),
        dead_exchange: target.shared.dead_exchange(),
        name: target.name.clone(),
        limit: target.shared.settings.delivery_limit,
    });
    let mut deliveries = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    while let Some(delivery) = deliveries.next().await {
        let delivery = delivery?;
        let event = decode(sink, &delivery);
        match event {
            Ok(event) => {
                let settle = Settle {
                    delivery: Some(delivery),
                    moves: Arc::clone(&moves),
                    held: Arc::clone(settling).try_read_owned().ok(),
                };
                let settled = Box::new(move |settled| settle.settle(settled));
                if !sink.cast(event, settled).await {
                    // The process has ended: its settle went back with
                    // the event; the consumer ends with it.
                    return Ok(());
                }
            }
            Err(why) => {
                tracing::warn!(subscription = %target.name, %why, "a durable event is a dead letter");
                moves.dead_letter(delivery, &why).await;
            }
        }
    }
    Err(DurableError::Broker(
        "the broker cancelled the consumer".into(),
    ))
}

/// The event a delivery carries, if it is of the sink's type; otherwise
/// why not.
fn decode(sink: &dyn DurableSink, delivery: &Delivery) -> Result<Decoded, String> {
    let wanted = sink.event_type();
    match delivery.properties.kind() {
        Some(kind) if kind.as_str() == wanted => sink.decode(&delivery.data),
        Some(kind) => Err(format!("an event of type {}, not {wanted}", kind.as_str())),
        None => Err(format!("an event of no type, not {wanted}")),
    }
}

/// Where a subscription's failed events go, and on which confirming
/// channel: back to the end of its queue with their failures counted, or,
/// at the limit, to its dead-letter queue.
struct Moves {
    channel: Channel,
    queue: String,
    dead_exchange: String,
    name: String,
    limit: u32,
}

impl Moves {
    /// The handler of `delivery`'s event failed: it goes back to the end
    /// of the queue with one more failure counted, or, at the limit, to
    /// the dead-letter queue. Only failures count: an event handed back
    /// because its process ended before getting to it does not.
    async fn failed(&self, delivery: Delivery) {
        let failures = failures_of(&delivery).saturating_add(1);
        if failures >= self.limit {
            let why = format!("its handler failed {failures} times");
            tracing::warn!(subscription = %self.name, %why, "a durable event is a dead letter");
            self.dead_letter(delivery, &why).await;
        } else {
            let mut headers = delivery.properties.headers().clone().unwrap_or_default();
            headers.insert(FAILURES_HEADER.into(), AMQPValue::LongUInt(failures));
            self.move_to("", &self.queue, delivery, headers).await;
        }
    }

    /// Moves `delivery` to the dead-letter queue with `why`.
    async fn dead_letter(&self, delivery: Delivery, why: &str) {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(REASON_HEADER.into(), AMQPValue::LongString(why.into()));
        self.move_to(&self.dead_exchange, &self.name, delivery, headers)
            .await;
    }

    /// Publishes `delivery`'s event anew with `headers`, confirmed, then
    /// acknowledges the delivery; if it could not be published, the
    /// delivery goes back to the queue as it was.
    async fn move_to(&self, exchange: &str, key: &str, delivery: Delivery, headers: FieldTable) {
        let properties = carried(&delivery.properties, headers);
        let published = async {
            self.channel
                .basic_publish(
                    exchange.into(),
                    key.into(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    properties,
                )
                .await?
                .await
        };
        let moved = matches!(published.await, Ok(Confirmation::Ack(_)));
        settle_at_broker(delivery.acker, moved).await;
    }
}

/// How many times handlers failed on `delivery`'s event before.
fn failures_of(delivery: &Delivery) -> u32 {
    let headers = delivery.properties.headers().as_ref();
    match headers.and_then(|headers| headers.inner().get(FAILURES_HEADER)) {
        Some(AMQPValue::LongUInt(n)) => *n,
        _ => 0,
    }
}

/// How an event cast to a process is settled at the broker: acknowledged
/// once handled, moved by [`Moves::failed`] when its handler failed, and
/// handed back as it was when this is dropped unsettled (the process
/// ended before it got to the event).
///
/// From the moment its event is cast until it is settled, it holds the
/// connection open (a share of the consumer's settling lock), so that a
/// consumer that ends closes the connection only once its events are
/// settled, or its wait runs out.
struct Settle {
    delivery: Option<Delivery>,
    moves: Arc<Moves>,
    held: Option<OwnedRwLockReadGuard<()>>,
}

impl Settle {
    fn settle(mut self, settled: Settled) {
        if let Some(delivery) = self.delivery.take() {
            let moves = Arc::clone(&self.moves);
            spawn_settling(self.held.take(), async move {
                match settled {
                    Settled::Handled => settle_at_broker(delivery.acker, true).await,
                    Settled::Failed => moves.failed(delivery).await,
                }
            });
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(delivery) = self.delivery.take() {
            spawn_settling(self.held.take(), settle_at_broker(delivery.acker, false));
        }
    }
}

/// Runs a settling off the caller's task, holding `held` (the connection
/// open) until it is done.
fn spawn_settling(
    held: Option<OwnedRwLockReadGuard<()>>,
    settling: impl Future<Output = ()> + Send + 'static,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        settling.await;
        drop(held);
    });
}

/// Acknowledges (`done`) a delivery, or hands it back to the queue as it
/// was. A channel gone meanwhile hands it back by itself.
async fn settle_at_broker(acker: Acker, done: bool) {
    let told = if done {
        acker.ack(BasicAckOptions::default()).await
    } else {
        let again = BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        };
        acker.nack(again).await
    };
    if let Err(error) = told {
        tracing::debug!(%error, "a durable event could not be settled; the broker sends it again");
    }
}
