//! What goes out to a peer: frames tagged with their lane (and, for a
//! confirmed send, whom to tell once the transport has them), and the
//! writer task that hands them to the connection in batches.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::dist::Heartbeat;
use crate::transport::FrameSink;

/// The most frames handed to a connection in one batch.
const BATCH: usize = 256;

/// One frame on its way to a peer.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// Everything one process sends shares a lane; node-level frames use
    /// lane 0.
    pub(crate) lane: u32,
    pub(crate) frame: Bytes,
    /// Told whether the transport took the frame (a confirmed send).
    pub(crate) taken: Option<oneshot::Sender<bool>>,
}

impl Outgoing {
    /// A frame in the lane of the process sending it (lane 0 outside any
    /// process).
    pub(crate) fn new(frame: Bytes) -> Self {
        Self {
            lane: current_lane(),
            frame,
            taken: None,
        }
    }

    /// A node-level frame (a heartbeat tick).
    pub(crate) fn node_level(frame: Bytes) -> Self {
        Self {
            lane: 0,
            frame,
            taken: None,
        }
    }
}

/// The lane of the process running on this thread: its id folded into 32
/// bits and kept off 0, or 0 outside any process.
fn current_lane() -> u32 {
    crate::runtime::current_pid().map_or(0, |pid| {
        let id = pid.id();
        // Truncation intended: the lane only spreads processes apart.
        #[allow(clippy::cast_possible_truncation)]
        let folded = (id ^ (id >> 32)) as u32;
        folded.max(1)
    })
}

/// Writes queued frames to a connection, batching whatever queued up while
/// the previous write was in progress; closes it once the queue is gone
/// (the peer was dropped) or a write fails. A multiplexing sink gets each
/// lane's frames apart, in their order.
pub(crate) async fn write(
    mut sink: Box<dyn FrameSink>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    heartbeat: Arc<Mutex<Heartbeat>>,
) {
    let lanes = sink.has_lanes();
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = outgoing.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match outgoing.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let ok = if lanes {
            send_by_lane(&mut *sink, &mut batch).await
        } else {
            send_all(&mut *sink, &mut batch).await
        };
        if !ok {
            // The reader sees the loss too and reports it; confirmed
            // senders still waiting learn of it as their tokens drop.
            return;
        }
        heartbeat.lock().sent(Instant::now());
    }
    sink.close().await;
}

/// Sends the batch in one go and tells confirmed senders.
async fn send_all(sink: &mut dyn FrameSink, batch: &mut Vec<Outgoing>) -> bool {
    let (frames, waiting) = unpack(batch.drain(..));
    let ok = sink.send(frames).await.is_ok();
    tell(waiting, ok);
    ok
}

/// Sends the batch lane by lane, each lane's frames in their order.
async fn send_by_lane(sink: &mut dyn FrameSink, batch: &mut Vec<Outgoing>) -> bool {
    while let Some(lane) = batch.first().map(|item| item.lane) {
        let (mine, rest): (Vec<_>, Vec<_>) = batch.drain(..).partition(|item| item.lane == lane);
        *batch = rest;
        let (frames, waiting) = unpack(mine.into_iter());
        let ok = sink.send_lane(lane, frames).await.is_ok();
        tell(waiting, ok);
        if !ok {
            return false;
        }
    }
    true
}

/// The frames to send, and the confirmed senders to tell afterwards.
fn unpack(items: impl Iterator<Item = Outgoing>) -> (Vec<Bytes>, Vec<oneshot::Sender<bool>>) {
    let mut waiting = Vec::new();
    let frames = items
        .map(|item| {
            if let Some(taken) = item.taken {
                waiting.push(taken);
            }
            item.frame
        })
        .collect();
    (frames, waiting)
}

fn tell(waiting: Vec<oneshot::Sender<bool>>, ok: bool) {
    for taken in waiting {
        let _ = taken.send(ok);
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::dist::HeartbeatConfig;
    use crate::transport::TransportError;

    /// Records what it is given; fails every send once `fail` is set.
    #[derive(Debug)]
    struct Recorder {
        lanes: bool,
        fail: bool,
        sent: mpsc::UnboundedSender<(Option<u32>, Vec<Bytes>)>,
    }

    #[async_trait]
    impl FrameSink for Recorder {
        async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
            self.record(None, frames)
        }
        async fn send_lane(&mut self, lane: u32, frames: Vec<Bytes>) -> Result<(), TransportError> {
            self.record(Some(lane), frames)
        }
        fn has_lanes(&self) -> bool {
            self.lanes
        }
        async fn close(&mut self) {}
    }

    impl Recorder {
        fn record(&self, lane: Option<u32>, frames: Vec<Bytes>) -> Result<(), TransportError> {
            if self.fail {
                return Err(TransportError::Closed("test".into()));
            }
            let _ = self.sent.send((lane, frames));
            Ok(())
        }
    }

    fn item(lane: u32, text: &'static str) -> Outgoing {
        Outgoing {
            lane,
            frame: Bytes::from_static(text.as_bytes()),
            taken: None,
        }
    }

    /// Queues `items` and runs the writer until they are written.
    async fn run(lanes: bool, fail: bool, items: Vec<Outgoing>) -> Vec<(Option<u32>, Vec<Bytes>)> {
        let (sent_tx, mut sent) = mpsc::unbounded_channel();
        let sink = Box::new(Recorder {
            lanes,
            fail,
            sent: sent_tx,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        for item in items {
            tx.send(item).expect("queued");
        }
        drop(tx);
        let heartbeat = Heartbeat::new(HeartbeatConfig::default(), Instant::now());
        write(sink, rx, Arc::new(Mutex::new(heartbeat))).await;
        let mut out = Vec::new();
        while let Ok(batch) = sent.try_recv() {
            out.push(batch);
        }
        out
    }

    fn bytes(texts: &[&'static str]) -> Vec<Bytes> {
        texts
            .iter()
            .map(|t| Bytes::from_static(t.as_bytes()))
            .collect()
    }

    #[tokio::test]
    async fn a_plain_sink_gets_the_batch_in_one_send() {
        let items = vec![item(1, "a"), item(2, "b"), item(1, "c")];
        let sent = run(false, false, items).await;
        assert_eq!(sent, vec![(None, bytes(&["a", "b", "c"]))]);
    }

    #[tokio::test]
    async fn a_multiplexing_sink_gets_each_lane_in_order() {
        let items = vec![item(1, "a"), item(2, "b"), item(1, "c"), item(0, "d")];
        let sent = run(true, false, items).await;
        assert_eq!(
            sent,
            vec![
                (Some(1), bytes(&["a", "c"])),
                (Some(2), bytes(&["b"])),
                (Some(0), bytes(&["d"])),
            ]
        );
    }

    #[tokio::test]
    async fn confirmed_senders_learn_whether_the_transport_took_it() {
        for fail in [false, true] {
            let (taken, answer) = oneshot::channel();
            let mut confirmed = item(3, "x");
            confirmed.taken = Some(taken);
            run(true, fail, vec![confirmed]).await;
            assert_eq!(answer.await, Ok(!fail));
        }
    }

    #[test]
    fn lanes_outside_a_process_are_zero() {
        assert_eq!(Outgoing::new(Bytes::new()).lane, 0);
        assert_eq!(Outgoing::node_level(Bytes::new()).lane, 0);
    }
}
