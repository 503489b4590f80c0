//! Settling the deliveries of a durable inbox: acknowledged once handled,
//! back to the inbox if the node did not get to handle them, and, if their
//! handler fails, delivered again a limited number of times.
//!
//! Each durable frame carries its sender's sequence number as its message
//! id, so that the node can count how often the handler of that frame
//! failed. One that fails as often as the delivery limit allows (a poison
//! message, say one that makes its handler panic every time) is dropped
//! with an error logged, rather than coming round for ever while the
//! frames behind it wait. The count is kept in memory: a node restarted
//! counts afresh.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use beamish_core::transport::{Ack, TransportError};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use parking_lot::Mutex;

use crate::session::{lost, SessionKey};

/// The most frames whose failures are counted at once; past it, the
/// counts start over (which only lets a poison message come a few more
/// times).
const COUNTED: usize = 10_000;

/// One frame, as its sender numbered it in its session.
pub(crate) type FrameId = (SessionKey, u64);

/// How often the handlers of frames failed, for the frames that have not
/// been settled since.
#[derive(Debug)]
pub(crate) struct Failures {
    limit: u32,
    counts: Mutex<HashMap<FrameId, u32>>,
    /// How many frames are counted, read without the lock.
    counted: AtomicUsize,
}

/// What to do with a frame whose handler failed.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Again,
    /// It failed this many times: drop it.
    GiveUp(u32),
}

impl Failures {
    /// Frames are delivered at most `limit` times (at least once).
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            counts: Mutex::new(HashMap::new()),
            counted: AtomicUsize::new(0),
        }
    }

    /// The handler of `id` failed once more.
    fn failed(&self, id: &FrameId) -> Verdict {
        let mut counts = self.counts.lock();
        if counts.len() >= COUNTED && !counts.contains_key(id) {
            tracing::debug!("too many failing frames to count: the counts start over");
            counts.clear();
        }
        let count = counts.entry(id.clone()).or_insert(0);
        *count += 1;
        let verdict = if *count >= self.limit {
            let times = *count;
            counts.remove(id);
            Verdict::GiveUp(times)
        } else {
            Verdict::Again
        };
        self.counted.store(counts.len(), Ordering::Relaxed);
        verdict
    }

    /// `id` was handled: its failures are forgotten.
    fn handled(&self, id: &FrameId) {
        if self.counted.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut counts = self.counts.lock();
        counts.remove(id);
        self.counted.store(counts.len(), Ordering::Relaxed);
    }
}

/// Acknowledges one delivery of a durable inbox.
///
/// Dropped without an acknowledgement (the node did not get to handle the
/// frame: its connection or its process ended first), it does not hold a
/// place in the prefetch window for good: the frame goes back to the inbox
/// to be delivered again. The node's handshake acknowledges each frame it
/// takes. A frame whose handler failed goes back too, up to the delivery
/// limit.
pub(crate) struct DeliveryAck {
    acker: Option<lapin::Acker>,
    /// The frame, if its sender numbered it, and the failure counts.
    counted: Option<(FrameId, Arc<Failures>)>,
}

impl DeliveryAck {
    pub(crate) fn new(
        delivery: lapin::message::Delivery,
        counted: Option<(FrameId, Arc<Failures>)>,
    ) -> Self {
        Self {
            acker: Some(delivery.acker),
            counted,
        }
    }
}

impl fmt::Debug for DeliveryAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryAck").finish_non_exhaustive()
    }
}

/// Acknowledges a delivery: the broker forgets it.
async fn ack(acker: lapin::Acker) -> Result<(), TransportError> {
    match acker.ack(BasicAckOptions::default()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(TransportError::Closed(
            "the delivery's channel is gone; it will be delivered again".into(),
        )),
        Err(err) => Err(lost(err)),
    }
}

/// Sends a delivery back to the inbox, to be delivered again.
async fn requeue(acker: lapin::Acker) -> Result<(), TransportError> {
    let requeue = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    acker.nack(requeue).await.map(drop).map_err(lost)
}

#[async_trait]
impl Ack for DeliveryAck {
    async fn ack(mut self: Box<Self>) -> Result<(), TransportError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        if let Some((id, failures)) = &self.counted {
            failures.handled(id);
        }
        ack(acker).await
    }

    async fn failed(mut self: Box<Self>) -> Result<(), TransportError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let Some((id, failures)) = &self.counted else {
            return requeue(acker).await;
        };
        match failures.failed(id) {
            Verdict::Again => requeue(acker).await,
            Verdict::GiveUp(times) => {
                let ((peer, session), seq) = id;
                tracing::error!(
                    %peer,
                    session,
                    seq,
                    times,
                    "dropped a frame whose handler failed every time it came"
                );
                ack(acker).await
            }
        }
    }
}

impl Drop for DeliveryAck {
    fn drop(&mut self) {
        let Some(acker) = self.acker.take() else {
            return;
        };
        if !acker.usable() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = requeue(acker).await {
                    tracing::debug!("a dropped delivery could not be settled: {err}");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seq: u64) -> FrameId {
        (("peer".to_owned(), 7), seq)
    }

    #[test]
    fn a_frame_is_given_up_at_the_limit() {
        let failures = Failures::new(3);
        assert_eq!(failures.failed(&id(1)), Verdict::Again);
        assert_eq!(failures.failed(&id(2)), Verdict::Again);
        assert_eq!(failures.failed(&id(1)), Verdict::Again);
        assert_eq!(failures.failed(&id(1)), Verdict::GiveUp(3));
        // Given up: no longer counted.
        assert_eq!(failures.failed(&id(1)), Verdict::Again);
    }

    #[test]
    fn a_handled_frame_is_forgotten() {
        let failures = Failures::new(2);
        assert_eq!(failures.failed(&id(1)), Verdict::Again);
        failures.handled(&id(1));
        assert_eq!(failures.failed(&id(1)), Verdict::Again);
    }

    #[test]
    fn a_limit_of_one_gives_up_at_the_first_failure() {
        let failures = Failures::new(0);
        assert_eq!(failures.failed(&id(1)), Verdict::GiveUp(1));
    }

    #[test]
    fn the_counts_are_bounded() {
        let failures = Failures::new(5);
        for seq in 0..COUNTED as u64 + 10 {
            failures.failed(&id(seq));
        }
        assert!(failures.counts.lock().len() <= COUNTED);
    }
}
