//! Node presence through the broker: a node is there while it consumes
//! its inbox. The peers of this node's sessions are checked every presence
//! interval with a passive declaration of their inbox; one whose inbox is
//! gone (fast mode) or has no consumer (durable mode) at three checks in
//! a row has its sessions lost, so the node sees it down without waiting for
//! its own heartbeats to run out.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::ErrorKind;
use tokio::sync::watch;

use crate::broker::{Broker, Live};
use crate::queues::inbox_of;

/// Checks in a row that must find a peer absent before its sessions go
/// (counted afresh after this node reconnects to the broker, so a peer
/// still reconnecting is given time).
const MISSES: u32 = 3;

/// Whether a node consumes the inbox of `peer`: `None` if the broker could
/// not say.
pub(crate) async fn present(live: &Live, peer: &str, timeout: Duration) -> Option<bool> {
    let mut probe = live.probe.lock().await;
    let channel = match probe.as_ref() {
        Some(channel) if channel.status().connected() => channel.clone(),
        _ => {
            let channel = live.conn.create_channel().await.ok()?;
            *probe = Some(channel.clone());
            channel
        }
    };
    let declared = tokio::time::timeout(
        timeout,
        channel.queue_declare(
            inbox_of(peer).as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        ),
    )
    .await
    .ok()?;
    match declared {
        Ok(queue) => Some(queue.consumer_count() > 0),
        Err(err) => match err.kind() {
            ErrorKind::ProtocolError(amqp) => match amqp.kind() {
                AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND) => Some(false),
                // Exclusive to another connection: someone holds it.
                AMQPErrorKind::Soft(AMQPSoftError::RESOURCELOCKED) => Some(true),
                _ => None,
            },
            _ => None,
        },
    }
}

/// Watches the peers of this node's sessions until the transport stops;
/// with each round, logs the warnings held back in a period that is over.
pub(crate) async fn watch(broker: Weak<Broker>, mut stop: watch::Receiver<bool>) {
    let mut misses: HashMap<String, u32> = HashMap::new();
    let mut generation = 0;
    loop {
        let every = match broker.upgrade() {
            Some(broker) => broker.settings.presence,
            None => return,
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let Some(me) = broker.upgrade() else {
            return;
        };
        me.check_connection();
        me.report_held_back();
        let Some(live) = me.current() else {
            continue;
        };
        if live.generation != generation {
            generation = live.generation;
            misses.clear();
        }
        let peers = me.watched_peers();
        misses.retain(|peer, _| peers.contains(peer));
        for peer in peers {
            match present(&live, &peer, me.settings.connect_timeout).await {
                Some(true) => {
                    misses.remove(&peer);
                }
                Some(false) => {
                    let missed = misses.entry(peer.clone()).or_default();
                    *missed += 1;
                    if *missed >= MISSES {
                        misses.remove(&peer);
                        tracing::info!(%peer, "the peer no longer consumes its inbox");
                        me.lose_peer(&peer, &format!("{peer} no longer consumes its inbox"));
                    }
                }
                None => {}
            }
        }
    }
}
