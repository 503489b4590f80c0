//! A durable subscription's dead-letter queue: listed in place, and
//! replayed into the subscription's queue.

use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions};
use lapin::types::AMQPValue;
use lapin::Confirmation;

use super::{carried, DurableError, Shared, FAILURES_HEADER, REASON_HEADER, TOPIC_HEADER};

/// The most dead letters [`list`] reads at once.
const LISTED: usize = 10_000;

/// An event in a durable subscription's dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The topic it was published on.
    pub topic: Option<String>,
    /// The wire name of its type, as its publisher said.
    pub event_type: Option<String>,
    /// Why it is here: what did not decode, or the broker's reason (such
    /// as `delivery_limit` for one that failed too often).
    pub reason: String,
    /// The event, encoded.
    pub payload: Vec<u8>,
}

/// What subscription `name`'s dead-letter queue holds, oldest first (at
/// most [`LISTED`]), left in place: read without acknowledging, then
/// handed back by closing the channel.
pub(super) async fn list(shared: &Shared, name: &str) -> Result<Vec<DeadLetter>, DurableError> {
    let conn = shared.connect().await?;
    let channel = conn.create_channel().await?;
    let queue = shared.dead_queue(name);
    let mut listed = Vec::new();
    while listed.len() < LISTED {
        let got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await?;
        let Some(message) = got else { break };
        listed.push(letter(&message));
    }
    // Unacknowledged: back in the queue, in order.
    let _ = conn.close(200, "listed".into()).await;
    Ok(listed)
}

/// Moves subscription `name`'s dead letters back into its queue: each is
/// published there (confirmed) before it is taken out of the dead-letter
/// queue, so none is lost on the way.
pub(super) async fn replay(shared: &Shared, name: &str) -> Result<usize, DurableError> {
    let conn = shared.connect().await?;
    let channel = Shared::confirming(&conn).await?;
    let (dead, queue) = (shared.dead_queue(name), shared.queue(name));
    let mut replayed = 0;
    loop {
        let got = channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
            .await?;
        let Some(message) = got else { break };
        let delivery = &message.delivery;
        // A replayed event starts afresh: no reason, no failures, none of
        // the broker's death records.
        let mut kept = lapin::types::FieldTable::default();
        if let Some(headers) = delivery.properties.headers() {
            for (key, value) in headers.inner() {
                let key = key.as_str();
                let fresh = key != REASON_HEADER
                    && key != FAILURES_HEADER
                    && key != "x-death"
                    && key != "x-delivery-count"
                    && !key.starts_with("x-first-death")
                    && !key.starts_with("x-last-death");
                if fresh {
                    kept.insert(key.into(), value.clone());
                }
            }
        }
        let properties = carried(&delivery.properties, kept);
        // Straight into this subscription's queue: the scope's other
        // subscriptions had it already.
        let confirmed = channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &delivery.data,
                properties,
            )
            .await?
            .await?;
        if !matches!(confirmed, Confirmation::Ack(_)) {
            return Err(DurableError::NotConfirmed);
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
        replayed += 1;
    }
    let _ = conn.close(200, "replayed".into()).await;
    Ok(replayed)
}

fn letter(message: &BasicGetMessage) -> DeadLetter {
    let properties = &message.delivery.properties;
    let headers = properties.headers().as_ref();
    let text = |key: &str| {
        headers.and_then(|headers| match headers.inner().get(key) {
            Some(AMQPValue::LongString(text)) => Some(text.to_string()),
            _ => None,
        })
    };
    let reason = text(REASON_HEADER)
        .or_else(|| text("x-first-death-reason"))
        .unwrap_or_else(|| "unknown".to_owned());
    DeadLetter {
        topic: text(TOPIC_HEADER),
        event_type: properties.kind().as_ref().map(|kind| kind.to_string()),
        reason,
        payload: message.delivery.data.clone(),
    }
}
