//! One process's consumer of a durable subscription: it casts each event
//! to the process and acknowledges it once the handler returned, sends
//! it back when the handler failed or the process ended first, and
//! dead-letters at once what does not decode as the process's type.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::{Handle, Message, Settled};
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Confirmation;
use lapin::{Acker, BasicProperties, Channel};
use tokio::sync::watch;

use super::{DurableError, DurableSettings, DurableSubscription, Shared, REASON_HEADER};

/// What a consumer needs of its subscription: it belongs to its process
/// and outlives the `DurableTopics` it was made with.
#[derive(Clone)]
struct Target {
    shared: Arc<Shared>,
    name: String,
    pattern: String,
    settings: DurableSettings,
}

/// Sets up the subscription (so that what is wrong reaches the caller)
/// and starts the process's consumer.
pub(super) async fn start<E, M>(
    shared: &Arc<Shared>,
    subscriber: &Handle<M>,
    pattern: &str,
    name: &str,
) -> Result<DurableSubscription, DurableError>
where
    E: Message,
    M: From<E> + Send + 'static,
{
    let target = Target {
        shared: Arc::clone(shared),
        name: name.to_owned(),
        pattern: pattern.to_owned(),
        settings: shared.settings.clone(),
    };
    let conn = shared.connect().await?;
    let channel = conn.create_channel().await?;
    declare(&target, &channel).await?;
    let (stop, stopped) = watch::channel(false);
    let handle = subscriber.clone();
    tokio::spawn(async move {
        run::<E, M>(target, handle, Some((conn, channel)), stopped).await;
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
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(target.settings.delivery_limit)),
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
async fn run<E, M>(
    target: Target,
    handle: Handle<M>,
    mut first: Option<(lapin::Connection, Channel)>,
    mut stopped: watch::Receiver<bool>,
) where
    E: Message,
    M: From<E> + Send + 'static,
{
    let node = target.shared.node.clone();
    let mut ends = std::pin::pin!(node.monitor(handle.pid()));
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
                let ended = tokio::select! {
                    ended = consume::<E, M>(&target, &handle, &conn, &channel) => ended.err(),
                    _ = &mut ends => None,
                    Ok(_) = stopped.wait_for(|stop| *stop) => None,
                };
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
async fn consume<E, M>(
    target: &Target,
    handle: &Handle<M>,
    conn: &lapin::Connection,
    channel: &Channel,
) -> Result<(), DurableError>
where
    E: Message,
    M: From<E> + Send + 'static,
{
    channel
        .basic_qos(target.settings.prefetch, BasicQosOptions::default())
        .await?;
    let dead = Shared::confirming(conn).await?;
    let queue = target.shared.queue(&target.name);
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
        let event = decode::<E>(&delivery);
        match event {
            Ok(event) => {
                let settle = Settle(Some(delivery.acker.clone()));
                let cast =
                    handle.cast_settled(M::from(event), move |settled| settle.settle(settled));
                if cast.await.is_err() {
                    // The process has ended: its settle went back with
                    // the event; the consumer ends with it.
                    return Ok(());
                }
            }
            Err(why) => dead_letter(target, &dead, &delivery, &why).await?,
        }
    }
    Err(DurableError::Broker(
        "the broker cancelled the consumer".into(),
    ))
}

/// The event a delivery carries, if it is an `E`; otherwise why not.
fn decode<E: Message>(delivery: &Delivery) -> Result<E, String> {
    match delivery.properties.kind() {
        Some(kind) if kind.as_str() == E::NAME => {}
        Some(kind) => {
            return Err(format!(
                "an event of type {}, not {}",
                kind.as_str(),
                E::NAME
            ))
        }
        None => return Err(format!("an event of no type, not {}", E::NAME)),
    }
    rmp_serde::from_slice(&delivery.data).map_err(|err| format!("undecodable {}: {err}", E::NAME))
}

/// Sends a delivery that no handler can take to the dead-letter queue,
/// with why, and acknowledges it, so it does not come again; if the
/// dead-letter queue cannot take it, it goes back to the queue.
async fn dead_letter(
    target: &Target,
    dead: &Channel,
    delivery: &Delivery,
    why: &str,
) -> Result<(), DurableError> {
    tracing::warn!(subscription = %target.name, %why, "a durable event is a dead letter");
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(REASON_HEADER.into(), AMQPValue::LongString(why.into()));
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_headers(headers);
    if let Some(kind) = delivery.properties.kind() {
        properties = properties.with_type(kind.clone());
    }
    let kept = dead
        .basic_publish(
            target.shared.dead_exchange().as_str().into(),
            target.name.as_str().into(),
            BasicPublishOptions::default(),
            &delivery.data,
            properties,
        )
        .await?
        .await?;
    if matches!(kept, Confirmation::Ack(_)) {
        delivery.acker.ack(BasicAckOptions::default()).await?;
    } else {
        let again = BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        };
        delivery.acker.nack(again).await?;
    }
    Ok(())
}

/// How an event cast to a process is settled at the broker: acknowledged
/// once handled, sent back when the handler failed or when this is
/// dropped unsettled (the process ended before it got to the event).
struct Settle(Option<Acker>);

impl Settle {
    fn settle(mut self, settled: Settled) {
        if let Some(acker) = self.0.take() {
            finish(acker, settled == Settled::Handled);
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(acker) = self.0.take() {
            finish(acker, false);
        }
    }
}

/// Acknowledges (`handled`) or sends back a delivery, off the caller's
/// task. A channel gone meanwhile sends it back by itself.
fn finish(acker: Acker, handled: bool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let told = if handled {
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
    });
}
