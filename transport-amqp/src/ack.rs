//! Settling the deliveries of a durable inbox: acknowledged once handled,
//! back to the inbox if the node did not get to handle them, and, if their
//! handler fails, delivered again a limited number of times.
//!
//! Each durable frame carries its sender's sequence number as its message
//! id, so that the node can count how often the handler of that frame
//! failed. One that fails as often as the delivery limit allows (a poison
//! message, say one that makes its handler panic every time) is dropped
//! rather than coming round for ever while the frames behind it wait: it
//! goes to the node's dead-letter queue (`beamish.dead.<node>`), with the
//! number of failures, and an error is logged. The count is kept in
//! memory: a node restarted counts afresh.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::transport::{Ack, TransportError};
use bytes::Bytes;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use parking_lot::Mutex;

use crate::broker::Broker;
use crate::demux::DATA;
use crate::session::{lost, SessionKey};

/// The most frames whose failures are counted at once; past it, the
/// counts start over (which only lets a poison message come a few more
/// times).
const COUNTED: usize = 10_000;

/// One frame, as its sender numbered it in its session.
pub(crate) type FrameId = (SessionKey, u64);

/// How often the handlers of frames failed, for the frames that have not
/// been settled since.
pub(crate) struct Failures {
    limit: u32,
    counts: Mutex<HashMap<FrameId, u32>>,
    /// How many frames are counted, read without the lock.
    counted: AtomicUsize,
    /// Where frames given up on are kept.
    broker: Weak<Broker>,
}

impl fmt::Debug for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failures")
            .field("limit", &self.limit)
            .field("counted", &self.counted)
            .finish_non_exhaustive()
    }
}

/// What to do with a frame whose handler failed.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// It failed this many times: let it come again.
    Again(u32),
    /// It failed this many times: give up on it.
    GiveUp(u32),
}

/// The first pause before a failed frame goes back to the inbox; it
/// doubles with each failure (50, 100, 200 ms, ...), so that a process
/// being restarted is back before its message comes again.
const PAUSE: Duration = Duration::from_millis(50);

/// The pause before a frame that failed `times` times goes back.
fn pause(times: u32) -> Duration {
    PAUSE.saturating_mul(1 << times.saturating_sub(1).min(10))
}

impl Failures {
    /// Frames are delivered at most `limit` times (at least once), then
    /// kept in `broker`'s dead-letter queue.
    pub(crate) fn new(limit: u32, broker: Weak<Broker>) -> Self {
        Self {
            limit: limit.max(1),
            counts: Mutex::new(HashMap::new()),
            counted: AtomicUsize::new(0),
            broker,
        }
    }

    /// Keeps a frame given up on in the dead-letter queue, with who sent
    /// it and how often its handler failed.
    async fn dead_letter(
        &self,
        id: &FrameId,
        frame: &Bytes,
        times: u32,
    ) -> Result<(), TransportError> {
        let broker = self
            .broker
            .upgrade()
            .ok_or_else(|| TransportError::Closed("the transport is gone".into()))?;
        let ((peer, session), seq) = id;
        let mut headers = FieldTable::default();
        headers.insert("x-beamish-failures".into(), AMQPValue::LongUInt(times));
        headers.insert(
            "x-beamish-inbox".into(),
            AMQPValue::LongString(broker.inbox().into()),
        );
        let properties = BasicProperties::default()
            .with_type(DATA.into())
            .with_reply_to(peer.as_str().into())
            .with_correlation_id(session.to_string().into())
            .with_message_id(seq.to_string().into())
            .with_delivery_mode(2)
            .with_headers(headers);
        broker.dead_letter(frame, properties).await
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
        let times = *count;
        let verdict = if times >= self.limit {
            counts.remove(id);
            Verdict::GiveUp(times)
        } else {
            Verdict::Again(times)
        };
        self.counted.store(counts.len(), Ordering::Relaxed);
        verdict
    }

    /// Whether a failure of `id` now would be its last: only then is the
    /// frame kept for the dead letters (which costs holding it until it is
    /// handled).
    pub(crate) fn last_chance(&self, id: &FrameId) -> bool {
        if self.limit == 1 {
            return true;
        }
        if self.counted.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.counts
            .lock()
            .get(id)
            .is_some_and(|count| *count + 1 >= self.limit)
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
    counted: Option<Counted>,
}

/// A numbered frame, and, on its last chance, the frame itself, to be
/// dead-lettered if given up on.
pub(crate) struct Counted {
    pub(crate) id: FrameId,
    pub(crate) frame: Option<Bytes>,
    pub(crate) failures: Arc<Failures>,
}

impl DeliveryAck {
    pub(crate) fn new(acker: lapin::Acker, counted: Option<Counted>) -> Self {
        Self {
            acker: Some(acker),
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
        if let Some(counted) = &self.counted {
            counted.failures.handled(&counted.id);
        }
        ack(acker).await
    }

    async fn failed(mut self: Box<Self>) -> Result<(), TransportError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let Some(Counted {
            id,
            frame,
            failures,
        }) = &self.counted
        else {
            return requeue(acker).await;
        };
        let times = match failures.failed(id) {
            Verdict::Again(times) => {
                // Held meanwhile: the frames behind it go on.
                tokio::time::sleep(pause(times)).await;
                return requeue(acker).await;
            }
            Verdict::GiveUp(times) => times,
        };
        let ((peer, session), seq) = id;
        let kept = match frame {
            Some(frame) => failures.dead_letter(id, frame, times).await,
            None => Err(TransportError::Io("the frame was not kept".into())),
        };
        match kept {
            Ok(()) => {
                tracing::error!(
                    %peer,
                    session,
                    seq,
                    times,
                    "a frame whose handler failed every time it came went to the dead letters"
                );
                ack(acker).await
            }
            Err(err) => {
                // Not kept: it stays in the inbox and is counted afresh.
                tracing::warn!(%peer, session, seq, "a frame given up on could not be kept: {err}");
                requeue(acker).await
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
        let failures = Failures::new(3, Weak::new());
        assert_eq!(failures.failed(&id(1)), Verdict::Again(1));
        assert_eq!(failures.failed(&id(2)), Verdict::Again(1));
        assert_eq!(failures.failed(&id(1)), Verdict::Again(2));
        assert_eq!(failures.failed(&id(1)), Verdict::GiveUp(3));
        // Given up: no longer counted.
        assert_eq!(failures.failed(&id(1)), Verdict::Again(1));
    }

    #[test]
    fn the_pause_doubles_and_stays_bounded() {
        assert_eq!(pause(1), PAUSE);
        assert_eq!(pause(2), PAUSE * 2);
        assert_eq!(pause(3), PAUSE * 4);
        assert_eq!(pause(u32::MAX), PAUSE * 1024);
    }

    #[test]
    fn only_a_frame_on_its_last_chance_is_kept() {
        let failures = Failures::new(3, Weak::new());
        assert!(!failures.last_chance(&id(1)));
        failures.failed(&id(1));
        assert!(!failures.last_chance(&id(1)));
        failures.failed(&id(1));
        assert!(failures.last_chance(&id(1)));
        assert!(!failures.last_chance(&id(2)));
        assert!(Failures::new(1, Weak::new()).last_chance(&id(1)));
    }

    #[test]
    fn a_handled_frame_is_forgotten() {
        let failures = Failures::new(2, Weak::new());
        assert_eq!(failures.failed(&id(1)), Verdict::Again(1));
        failures.handled(&id(1));
        assert_eq!(failures.failed(&id(1)), Verdict::Again(1));
    }

    #[test]
    fn a_limit_of_one_gives_up_at_the_first_failure() {
        let failures = Failures::new(0, Weak::new());
        assert_eq!(failures.failed(&id(1)), Verdict::GiveUp(1));
    }

    #[test]
    fn the_counts_are_bounded() {
        let failures = Failures::new(5, Weak::new());
        for seq in 0..COUNTED as u64 + 10 {
            failures.failed(&id(seq));
        }
        assert!(failures.counts.lock().len() <= COUNTED);
    }
}
