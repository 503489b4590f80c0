//! The inbox's consumer, whose deliveries are routed as they arrive, and
//! what follows its end: the broker connection given up, fast sessions
//! lost, and reconnection with backoff.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Weak;
use std::time::Duration;

use lapin::message::DeliveryResult;
use lapin::ConsumerDelegate;

use crate::broker::Broker;
use crate::Mode;

/// The inbox's consumer: each delivery is routed as it comes, on the
/// broker connection's thread; the end of the consumer (the connection
/// lost, or the broker cancelling it) starts the reconnection.
pub(crate) struct Inbox {
    pub(crate) broker: Weak<Broker>,
    pub(crate) generation: u64,
    pub(crate) ended: AtomicBool,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl ConsumerDelegate for Inbox {
    fn on_new_delivery(&self, delivery: DeliveryResult) -> BoxFuture {
        let why = match delivery {
            Ok(Some(delivery)) => {
                let settle = self
                    .broker
                    .upgrade()
                    .and_then(|broker| broker.route(delivery, self.generation));
                let broker = self.broker.clone();
                return Box::pin(async move {
                    if let Some(settle) = settle {
                        settle.settle(broker).await;
                    }
                });
            }
            Ok(None) => "the broker cancelled the inbox's consumer".to_owned(),
            Err(err) => err.to_string(),
        };
        if !self.ended.swap(true, Ordering::SeqCst) {
            let broker = self.broker.clone();
            let generation = self.generation;
            self.runtime
                .spawn(async move { inbox_lost(broker, generation, why).await });
        }
        Box::pin(std::future::ready(()))
    }
}

type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The inbox of `generation` is no longer consumed: reconnects with
/// backoff if the node listens or is durable.
pub(crate) async fn inbox_lost(broker: Weak<Broker>, generation: u64, why: String) {
    let Some(me) = broker.upgrade() else {
        return;
    };
    let mut stop = me.stopping();
    if me.stopped() || !me.retire(generation).await {
        // Shut down, or a connection this node had already left.
        return;
    }
    tracing::warn!(node = %me.node(), "lost the broker: {why}");
    // Fast sessions go with the connection; durable ones wait for the
    // broker, and what it had not seen acknowledged comes again.
    let durable = me.mode() == Mode::Durable;
    if !durable {
        me.lose_all(&format!("the broker connection was lost: {why}"));
        if me.accepted.lock().is_none() {
            return;
        }
    }
    drop(me);
    // A listening node gets its inbox back as soon as the broker does.
    let mut delay = Duration::from_millis(100);
    loop {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let Some(me) = broker.upgrade() else {
            return;
        };
        match me.ensure().await {
            Ok(_) => {
                tracing::info!(node = %me.node(), "reconnected to the broker");
                return;
            }
            Err(err) if me.stopped() => {
                tracing::debug!(node = %me.node(), "not reconnecting: {err}");
                return;
            }
            Err(err) => {
                tracing::debug!(node = %me.node(), "the broker is still away: {err}");
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
