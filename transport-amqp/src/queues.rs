//! The node's queues at the broker, its inbox and its dead-letter queue:
//! their names, their declaration with an expiry (an existing queue that
//! has another one is taken as it is, with a warning, since the broker
//! cannot change a queue's arguments), the dead-letter queue's lease, kept
//! while the node runs, and their deletion.

use std::sync::Weak;
use std::time::Duration;

use beamish_core::transport::TransportError;
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{ConnectionProperties, ErrorKind};
use tokio::sync::watch;

use crate::broker::Broker;
use crate::session::lost;
use crate::Mode;

/// How long a fast inbox left without its consumer (a node that died
/// between declaring and consuming it) lives on, at most.
const FAST_INBOX_EXPIRY: Duration = Duration::from_secs(60);

/// The inbox queue of the node `node`: `beamish.inbox.<node>`.
pub(crate) fn inbox_of(node: &str) -> String {
    format!("beamish.inbox.{node}")
}

/// Where the durable frames for `node` that no handler could take are
/// kept: `beamish.dead.<node>`.
pub(crate) fn dead_letters_of(node: &str) -> String {
    format!("beamish.dead.{node}")
}

/// A queue's expiry as the broker takes it (`x-expires`, in whole
/// milliseconds): at least 1 ms, since it refuses 0.
pub(crate) fn expiry_millis(after: Duration) -> i64 {
    i64::try_from(after.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// `uri` without its credentials, for messages and logs.
pub(crate) fn redacted(uri: &str) -> String {
    match uri.split_once('@') {
        Some((_, rest)) => format!("amqp://…@{rest}"),
        None => uri.to_owned(),
    }
}

impl Broker {
    /// How long the inbox outlives its consumer: in durable mode, the
    /// setting; a fast inbox goes with its consumer, and one left without
    /// (a node that died between declaring and consuming it) goes within a
    /// minute.
    fn inbox_expiry(&self) -> Option<Duration> {
        match (self.mode(), self.settings.inbox_expiry) {
            (Mode::Durable, expiry) => expiry,
            (Mode::Fast, Some(expiry)) => Some(expiry.min(FAST_INBOX_EXPIRY)),
            (Mode::Fast, None) => Some(FAST_INBOX_EXPIRY),
        }
    }

    /// Declares the node's inbox on `conn`.
    pub(crate) async fn declare_inbox(
        &self,
        conn: &lapin::Connection,
    ) -> Result<(), TransportError> {
        let durable = self.mode() == Mode::Durable;
        // A fast inbox goes with its consumer, so a node that is gone has
        // no inbox (openings to it come back, peers see it gone); a durable
        // one stays, keeping what is sent to the node while it is away.
        let options = QueueDeclareOptions {
            durable,
            auto_delete: !durable,
            ..QueueDeclareOptions::default()
        };
        let inbox = self.inbox();
        self.declare(conn, &inbox, options, self.inbox_expiry())
            .await
            .map_err(|err| TransportError::InUse(format!("the inbox {inbox}: {err}")))
    }

    /// Declares the node's dead-letter queue on `conn` (durable mode): with
    /// the inbox's expiry, its lease renewed while the node runs (it has no
    /// consumer), so it goes when the node has been gone that long.
    pub(crate) async fn declare_dead_letters(
        &self,
        conn: &lapin::Connection,
    ) -> Result<(), TransportError> {
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let dead = self.dead_letters();
        self.declare(conn, &dead, options, self.settings.inbox_expiry)
            .await
            .map_err(|err| TransportError::Io(format!("the queue {dead}: {err}")))
    }

    /// Declares `queue` on a channel of its own; if it is there with
    /// another expiry, which the broker refuses to change (and closes the
    /// channel over), it is taken as it is, with a warning the first time.
    async fn declare(
        &self,
        conn: &lapin::Connection,
        queue: &str,
        options: QueueDeclareOptions,
        expiry: Option<Duration>,
    ) -> Result<(), lapin::Error> {
        let mut arguments = FieldTable::default();
        if let Some(expiry) = expiry {
            arguments.insert(
                "x-expires".into(),
                AMQPValue::LongLongInt(expiry_millis(expiry)),
            );
        }
        let passive = QueueDeclareOptions {
            passive: true,
            ..options
        };
        if self.kept_as_it_was.lock().contains(queue) {
            // Known to keep an expiry of its own: asked about passively,
            // which the broker does not refuse, unless it is gone.
            let channel = conn.create_channel().await?;
            match channel
                .queue_declare(queue.into(), passive, FieldTable::default())
                .await
            {
                Ok(_) => {
                    let _ = channel.close(200, "declared".into()).await;
                    return Ok(());
                }
                Err(err) if soft(&err) == Some(AMQPSoftError::NOTFOUND) => {
                    self.kept_as_it_was.lock().remove(queue);
                }
                Err(err) => return Err(err),
            }
        }
        let channel = conn.create_channel().await?;
        let refusal = match channel
            .queue_declare(queue.into(), options, arguments)
            .await
        {
            Ok(_) => {
                let _ = channel.close(200, "declared".into()).await;
                return Ok(());
            }
            Err(err) => match other_expiry(&err) {
                Some(refusal) => refusal,
                None => return Err(err),
            },
        };
        let channel = conn.create_channel().await?;
        channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await?;
        let _ = channel.close(200, "declared".into()).await;
        if self.kept_as_it_was.lock().insert(queue.to_owned()) {
            tracing::warn!(
                queue,
                wanted = ?expiry,
                "the queue {queue} is there with another expiry than this node asks for, and the \
                 broker cannot change a queue's arguments: it keeps its own ({refusal}). To change \
                 it, stop the node, delete the queue once it holds nothing you need \
                 (beamish_transport_amqp::remove_inbox) and start the node again, or set a broker \
                 policy with `expires` on it (the smaller of the two applies)"
            );
        } else {
            tracing::debug!(queue, "the queue keeps its own expiry ({refusal})");
        }
        Ok(())
    }

    /// How often the dead-letter queue's lease is renewed: three times per
    /// expiry, if it has one (durable mode).
    fn renewal(&self) -> Option<Duration> {
        if self.mode() != Mode::Durable {
            return None;
        }
        let expiry = self.settings.inbox_expiry?;
        Some((expiry / 3).max(Duration::from_millis(10)))
    }

    /// Deletes `queue` through a connection of its own.
    pub(crate) async fn delete_queue(&self, queue: &str) -> Result<(), TransportError> {
        let deleting = async {
            let conn =
                lapin::Connection::connect(&self.connect_uri(), ConnectionProperties::default())
                    .await
                    .map_err(|err| {
                        TransportError::Unreachable(format!(
                            "the broker at {}: {err}",
                            self.redacted()
                        ))
                    })?;
            let deleted = async {
                let channel = conn.create_channel().await?;
                channel
                    .queue_delete(queue.into(), QueueDeleteOptions::default())
                    .await
            }
            .await;
            let _ = conn.close(200, "done".into()).await;
            deleted.map(|_| ()).map_err(lost)
        };
        tokio::time::timeout(self.settings.connect_timeout, deleting)
            .await
            .map_err(|_| TransportError::Io("the broker did not answer in time".into()))?
    }
}

/// The broker's soft error, if `err` is one.
pub(crate) fn soft(err: &lapin::Error) -> Option<AMQPSoftError> {
    match err.kind() {
        ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(soft) => Some(soft.clone()),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}

/// The broker's words if `err` refused a declaration over another
/// `x-expires` than the queue's own, and over nothing else.
fn other_expiry(err: &lapin::Error) -> Option<String> {
    let ErrorKind::ProtocolError(amqp) = err.kind() else {
        return None;
    };
    let text = amqp.get_message().as_str();
    let refused = soft(err) == Some(AMQPSoftError::PRECONDITIONFAILED)
        && text.contains("inequivalent arg 'x-expires'");
    refused.then(|| text.to_owned())
}

/// Keeps the node's dead-letter queue from expiring while the node runs:
/// it has no consumer, so its lease is renewed (by declaring it again,
/// which also makes it again if it was deleted) three times per expiry,
/// until the transport stops. Nothing to do if it does not expire.
pub(crate) async fn renew_dead_letters(broker: Weak<Broker>, mut stop: watch::Receiver<bool>) {
    loop {
        let Some(every) = broker.upgrade().and_then(|broker| broker.renewal()) else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let Some(me) = broker.upgrade() else {
            return;
        };
        let Some(live) = me.current() else {
            continue;
        };
        if let Err(err) = me.declare_dead_letters(&live.conn).await {
            tracing::debug!(queue = %me.dead_letters(), "could not renew the queue's lease: {err}");
        }
    }
}
