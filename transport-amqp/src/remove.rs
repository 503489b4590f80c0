//! Removing the queues of a node that is gone for good, by its name,
//! without a transport of its own.

use std::time::Duration;

use beamish_core::dist::Endpoint;
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::protocol::AMQPSoftError;
use lapin::types::FieldTable;
use lapin::ConnectionProperties;

use crate::queues::{dead_letters_of, inbox_of, redacted, soft};

/// How long [`remove_inbox`] may take in all.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`remove_inbox`] removed: for each of the node's queues, how many
/// messages it held when it was deleted (lost with it), or `None` if the
/// broker had no such queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemovedInbox {
    /// The inbox, `beamish.inbox.<node>`.
    pub inbox: Option<u32>,
    /// The dead-letter queue, `beamish.dead.<node>`.
    pub dead_letters: Option<u32>,
}

/// Why [`remove_inbox`] did not remove a node's queues.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoveInboxError {
    /// The endpoint is not an `amqp://` one.
    #[error("{0} is not an amqp:// endpoint")]
    NotAmqp(String),
    /// The broker could not be reached (its address is given without the
    /// credentials).
    #[error("the broker at {at}: {reason}")]
    Unreachable {
        /// The broker's address.
        at: String,
        /// What went wrong.
        reason: String,
    },
    /// The queue has a consumer: the node is running. Neither it nor the
    /// queues after it were deleted.
    #[error("{queue} has a consumer: {node} is running, and its queues stay")]
    InUse {
        /// The node.
        node: String,
        /// Its queue that has a consumer.
        queue: String,
    },
    /// The broker took longer than 10 s in all; what it had deleted by
    /// then is deleted.
    #[error("the broker did not answer within {0:?}")]
    Timeout(Duration),
    /// The broker refused (the user may not configure the queues, say) or
    /// the connection failed midway.
    #[error("the broker: {0}")]
    Broker(String),
}

/// Deletes the inbox and the dead-letter queue of the node `node` at the
/// broker `broker` (its `?node=` part, if any, is ignored), with the
/// messages they hold, unless the node is running: the clean-up for a node
/// that is gone for good, whose durable inbox would otherwise stay until
/// its expiry ([`AmqpTransport::inbox_expiry`](crate::AmqpTransport::inbox_expiry))
/// or, kept for ever, for good. The `beamish-remove-inbox` program of the
/// examples does this from the command line.
///
/// A queue that is not there is no error: its entry in the result is
/// `None`, so removing twice is harmless. A queue with a consumer (the
/// node is running, or someone reads its dead letters) is not deleted,
/// whether found so at first or when it is deleted (`if-unused`).
///
/// # Errors
///
/// [`RemoveInboxError::NotAmqp`] for an endpoint of another scheme,
/// [`RemoveInboxError::Unreachable`] if the broker cannot be reached,
/// [`RemoveInboxError::InUse`] if a queue has a consumer,
/// [`RemoveInboxError::Timeout`] after 10 s in all, and
/// [`RemoveInboxError::Broker`] if the broker refused.
///
/// # Examples
///
/// ```no_run
/// use beamish_core::dist::Endpoint;
/// use beamish_transport_amqp::remove_inbox;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let broker: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
/// let removed = remove_inbox(&broker, "orders-7f9c@pod").await?;
/// if let Some(lost) = removed.inbox {
///     println!("deleted the inbox with {lost} messages");
/// }
/// # Ok(())
/// # }
/// ```
pub async fn remove_inbox(broker: &Endpoint, node: &str) -> Result<RemovedInbox, RemoveInboxError> {
    let mut plain = broker.clone();
    let Endpoint::Amqp { node: named, .. } = &mut plain else {
        return Err(RemoveInboxError::NotAmqp(broker.to_string()));
    };
    *named = None;
    let uri = plain.to_string();
    let removing = async {
        let at = redacted(&uri);
        let conn = lapin::Connection::connect(
            &format!("{uri}?connection_timeout={}", REMOVE_TIMEOUT.as_millis()),
            ConnectionProperties::default(),
        )
        .await
        .map_err(|err| RemoveInboxError::Unreachable {
            at,
            reason: err.to_string(),
        })?;
        let removed = async {
            let inbox = remove_queue(&conn, node, &inbox_of(node)).await?;
            let dead_letters = remove_queue(&conn, node, &dead_letters_of(node)).await?;
            Ok(RemovedInbox {
                inbox,
                dead_letters,
            })
        }
        .await;
        let _ = conn.close(200, "done".into()).await;
        if let Ok(removed) = &removed {
            tracing::info!(node, ?removed, "removed the node's queues");
        }
        removed
    };
    tokio::time::timeout(REMOVE_TIMEOUT, removing)
        .await
        .map_err(|_| RemoveInboxError::Timeout(REMOVE_TIMEOUT))?
}

/// Deletes `queue` of `node` if it is there and unused: how many messages
/// it held, or `None` if it was not there.
async fn remove_queue(
    conn: &lapin::Connection,
    node: &str,
    queue: &str,
) -> Result<Option<u32>, RemoveInboxError> {
    let in_use = || RemoveInboxError::InUse {
        node: node.to_owned(),
        queue: queue.to_owned(),
    };
    let refused = |err: lapin::Error| RemoveInboxError::Broker(format!("{queue}: {err}"));
    // A channel per queue: the broker closes it over a missing one.
    let channel = conn.create_channel().await.map_err(refused)?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    match channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
    {
        Ok(found) if found.consumer_count() > 0 => return Err(in_use()),
        Ok(_) => {}
        Err(err) if soft(&err) == Some(AMQPSoftError::NOTFOUND) => return Ok(None),
        Err(err) => return Err(refused(err)),
    }
    let unused = QueueDeleteOptions {
        if_unused: true,
        ..QueueDeleteOptions::default()
    };
    let deleted = channel.queue_delete(queue.into(), unused).await;
    match deleted {
        Ok(messages) => {
            let _ = channel.close(200, "deleted".into()).await;
            Ok(Some(messages))
        }
        Err(err) if soft(&err) == Some(AMQPSoftError::PRECONDITIONFAILED) => Err(in_use()),
        Err(err) => Err(refused(err)),
    }
}
