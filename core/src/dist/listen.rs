//! Listening: each listener's loop, which takes incoming connections
//! and hands each to the handshake (or, for frames left from a node's
//! earlier life, to delivery).
//!
//! The loop ends only when its listener says it is closed
//! ([`TransportError::Closed`]); any other error from `accept` is
//! transient (a connection reset before it was taken, no file descriptor
//! left for now): the loop logs it, at most once per [`WARN_EVERY`],
//! pauses a little longer after each error in a row, from
//! [`FIRST_PAUSE`] up to [`LONGEST_PAUSE`], and accepts again.
//!
//! At most `max_handshakes` of a listener's connections are in the
//! handshake at once; one beyond that is closed as soon as it is
//! accepted, so strangers who connect and say nothing cannot pile up
//! connections (each holds its place for at most the handshake timeout).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::cluster::Cluster;
use crate::limit::Throttle;
use crate::transport::{Listener, TransportError};
use crate::Node;

/// The pause after a first transient accept error.
const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// The pause doubles with each error in a row, up to this.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// One warning of a kind per listener per this period; the others are
/// counted and told with the next.
const WARN_EVERY: Duration = Duration::from_secs(10);

impl Cluster {
    /// Accepts connections from `listener` until it is closed.
    pub(super) fn listen(self: &Arc<Self>, node: &Node, mut listener: Box<dyn Listener>) {
        let node = node.clone();
        let cluster = Arc::clone(self);
        let listening = Arc::clone(self);
        let task = node.inner.runtime.clone().spawn(async move {
            let endpoint = listener.endpoint();
            let mut pause = FIRST_PAUSE;
            let mut failures = Throttle::new(WARN_EVERY);
            let limit = cluster.config.max_handshakes;
            let slots = Arc::new(Semaphore::new(limit));
            let mut crowded = Throttle::new(WARN_EVERY);
            loop {
                let connection = match listener.accept().await {
                    Ok(connection) => connection,
                    Err(TransportError::Closed(why)) => {
                        tracing::debug!(%endpoint, %why, "the listener is closed");
                        return;
                    }
                    Err(err) => {
                        if let Some(held) = failures.allow(Instant::now()) {
                            tracing::warn!(
                                %endpoint,
                                error = %err,
                                "could not accept a connection ({held} more such errors \
                                 not logged); accepting again in {pause:?}"
                            );
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(LONGEST_PAUSE);
                        continue;
                    }
                };
                pause = FIRST_PAUSE;
                let node = node.clone();
                let cluster = Arc::clone(&cluster);
                if let Some(from) = connection.resumed_from.clone() {
                    tokio::spawn(async move { cluster.resumed(&node, &from, connection).await });
                    continue;
                }
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    if let Some(held) = crowded.allow(Instant::now()) {
                        tracing::warn!(
                            %endpoint,
                            peer = %connection.peer,
                            "closed an incoming connection: {limit} others are in the \
                             handshake ({held} more closed and not logged)"
                        );
                    }
                    // Dropped, not closed politely: nothing to wait for.
                    drop(connection);
                    continue;
                };
                tokio::spawn(async move {
                    let peer = connection.peer.clone();
                    if let Err(err) = cluster.accept(&node, connection, slot).await {
                        tracing::warn!(%peer, error = %err, "refused an incoming connection");
                    }
                });
            }
        });
        listening.listening.lock().push(task);
    }
}
