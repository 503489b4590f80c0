//! The way out to a peer: batching, lanes, prompt frames, the bound.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::*;
use crate::dist::HeartbeatConfig;
use crate::transport::TransportError;

/// What the recorder was asked to do.
#[derive(Debug, PartialEq, Eq)]
enum Did {
    Send(Vec<Bytes>),
    Lane(u32, Vec<Bytes>),
    Now(u32, Bytes),
    Close,
}

/// Records what it is given; fails every send once `fail` is set, and
/// answers `send_now` with `now` (or an error if `fail`).
#[derive(Debug)]
struct Recorder {
    lanes: bool,
    fail: bool,
    now: SentNow,
    did: mpsc::UnboundedSender<Did>,
}

#[async_trait]
impl FrameSink for Recorder {
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.record(Did::Send(frames))
    }
    async fn send_lane(&mut self, lane: u32, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.record(Did::Lane(lane, frames))
    }
    fn send_now(&mut self, lane: u32, frame: &Bytes) -> Result<SentNow, TransportError> {
        if self.now != SentNow::Refused {
            self.record(Did::Now(lane, frame.clone()))?;
        }
        Ok(self.now)
    }
    fn has_lanes(&self) -> bool {
        self.lanes
    }
    async fn close(&mut self) {
        let _ = self.did.send(Did::Close);
    }
}

impl Recorder {
    fn record(&self, did: Did) -> Result<(), TransportError> {
        if self.fail {
            return Err(TransportError::Closed("test".into()));
        }
        let _ = self.did.send(did);
        Ok(())
    }
}

/// An outbox over a recorder, and what the recorder did.
fn outbox(lanes: bool, fail: bool, now: SentNow) -> (Arc<Outbox>, mpsc::UnboundedReceiver<Did>) {
    let (did, done) = mpsc::unbounded_channel();
    let sink = Box::new(Recorder {
        lanes,
        fail,
        now,
        did,
    });
    let heartbeat = Heartbeat::new(HeartbeatConfig::default(), Instant::now());
    (
        Outbox::new(sink, Arc::new(Mutex::new(heartbeat)), DEFAULT_OUTBOX_LIMIT),
        done,
    )
}

fn item(lane: u32, text: &'static str) -> Outgoing {
    Outgoing {
        lane,
        frame: Bytes::from_static(text.as_bytes()),
        taken: None,
        prompt: false,
    }
}

fn prompt(lane: u32, text: &'static str) -> Outgoing {
    Outgoing {
        prompt: true,
        ..item(lane, text)
    }
}

/// Pushes `items` to a recorder answering `send_now` with `now`,
/// closes the way, and runs the writer to its end.
async fn run(lanes: bool, fail: bool, now: SentNow, items: Vec<Outgoing>) -> Vec<Did> {
    let (out, done) = outbox(lanes, fail, now);
    for item in items {
        out.push(item).expect("open");
    }
    out.close();
    Arc::clone(&out).write().await;
    drain(done)
}

fn drain(mut done: mpsc::UnboundedReceiver<Did>) -> Vec<Did> {
    let mut out = Vec::new();
    while let Ok(did) = done.try_recv() {
        out.push(did);
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
    let did = run(false, false, SentNow::Refused, items).await;
    assert_eq!(did, vec![Did::Send(bytes(&["a", "b", "c"])), Did::Close]);
}

#[tokio::test]
async fn a_multiplexing_sink_gets_each_lane_in_order() {
    let items = vec![item(1, "a"), item(2, "b"), item(1, "c"), item(0, "d")];
    let did = run(true, false, SentNow::Refused, items).await;
    assert_eq!(
        did,
        vec![
            Did::Lane(1, bytes(&["a", "c"])),
            Did::Lane(2, bytes(&["b"])),
            Did::Lane(0, bytes(&["d"])),
            Did::Close,
        ]
    );
}

#[tokio::test]
async fn confirmed_senders_learn_whether_the_transport_took_it() {
    for fail in [false, true] {
        let (taken, answer) = oneshot::channel();
        let mut confirmed = item(3, "x");
        confirmed.taken = Some(taken);
        run(true, fail, SentNow::Refused, vec![confirmed]).await;
        assert_eq!(answer.await, Ok(!fail));
    }
}

#[tokio::test]
async fn a_prompt_frame_on_a_clear_way_is_written_by_its_sender() {
    let (out, done) = outbox(false, false, SentNow::Taken);
    // No writer runs: the sender itself hands the frame over.
    out.push(prompt(4, "ask")).expect("open");
    assert_eq!(drain(done), vec![Did::Now(4, Bytes::from_static(b"ask"))]);
}

#[tokio::test]
async fn a_prompt_frame_waits_behind_what_is_queued() {
    let items = vec![item(1, "a"), prompt(1, "b")];
    let did = run(false, false, SentNow::Taken, items).await;
    assert_eq!(did, vec![Did::Send(bytes(&["a", "b"])), Did::Close]);
}

#[tokio::test]
async fn a_prompt_frame_the_transport_refuses_is_queued() {
    let did = run(false, false, SentNow::Refused, vec![prompt(1, "a")]).await;
    assert_eq!(did, vec![Did::Send(bytes(&["a"])), Did::Close]);
}

#[tokio::test]
async fn an_unfinished_direct_write_is_finished_by_the_writer() {
    let did = run(false, false, SentNow::Unfinished, vec![prompt(1, "a")]).await;
    // A tick makes the writer give the transport its next write.
    assert_eq!(
        did,
        vec![
            Did::Now(1, Bytes::from_static(b"a")),
            Did::Send(vec![Bytes::new()]),
            Did::Close
        ]
    );
}

#[tokio::test]
async fn a_failed_direct_write_closes_the_way() {
    let (out, done) = outbox(false, true, SentNow::Taken);
    out.push(prompt(1, "a")).expect("open until it fails");
    assert!(out.push(item(1, "b")).is_err(), "closed after the failure");
    Arc::clone(&out).write().await;
    assert_eq!(drain(done), vec![], "nothing written, and no orderly close");
}

#[tokio::test]
async fn the_writer_wakes_for_frames_queued_while_it_waits() {
    let (out, mut done) = outbox(false, false, SentNow::Refused);
    let writer = tokio::spawn(Arc::clone(&out).write());
    out.push(item(1, "a")).expect("open");
    assert_eq!(done.recv().await, Some(Did::Send(bytes(&["a"]))));
    out.push(item(1, "b")).expect("open");
    assert_eq!(done.recv().await, Some(Did::Send(bytes(&["b"]))));
    out.close();
    writer.await.expect("the writer ends");
    assert_eq!(done.recv().await, Some(Did::Close));
}

/// A way out whose queue holds at most `limit` bytes.
fn limited(limit: usize) -> (Arc<Outbox>, mpsc::UnboundedReceiver<Did>) {
    let (did, done) = mpsc::unbounded_channel();
    let sink = Box::new(Recorder {
        lanes: false,
        fail: false,
        now: SentNow::Refused,
        did,
    });
    let heartbeat = Heartbeat::new(HeartbeatConfig::default(), Instant::now());
    (
        Outbox::new(sink, Arc::new(Mutex::new(heartbeat)), limit),
        done,
    )
}

#[tokio::test]
async fn over_its_limit_the_queue_refuses_and_wakes_the_waiting_once_drained() {
    let (out, mut done) = limited(4);
    out.try_push(item(1, "ab")).expect("room");
    out.try_push(item(1, "cd")).expect("room up to the limit");
    let Err(Refused::Full(back)) = out.try_push(item(1, "ef")) else {
        panic!("over the limit, the frame is handed back");
    };
    // Signals and replies are never held back.
    out.push(item(0, "tick")).expect("open");
    let room = out.room();
    tokio::pin!(room);
    room.as_mut().enable();
    let writer = tokio::spawn(Arc::clone(&out).write());
    tokio::time::timeout(Duration::from_secs(5), room)
        .await
        .expect("woken once the writer drained the queue");
    assert_eq!(
        done.recv().await,
        Some(Did::Send(bytes(&["ab", "cd", "tick"])))
    );
    out.try_push(back).expect("room again");
    assert_eq!(done.recv().await, Some(Did::Send(bytes(&["ef"]))));
    out.close();
    writer.await.expect("the writer ends");
}

#[tokio::test]
async fn one_frame_larger_than_the_limit_goes_when_nothing_waits() {
    let (out, _done) = limited(4);
    out.try_push(item(1, "abcdefgh")).expect("alone, it goes");
    assert!(matches!(out.try_push(item(1, "i")), Err(Refused::Full(_))));
}

#[tokio::test]
async fn an_aborted_way_drops_what_waits_and_wakes_the_waiting() {
    let (out, done) = limited(4);
    let (taken, answer) = oneshot::channel();
    let mut confirmed = item(1, "abcd");
    confirmed.taken = Some(taken);
    out.try_push(confirmed).expect("room");
    let room = out.room();
    tokio::pin!(room);
    room.as_mut().enable();
    out.abort();
    room.await;
    assert!(
        answer.await.is_err(),
        "the confirmed sender learns it did not go"
    );
    assert!(matches!(out.try_push(item(1, "e")), Err(Refused::Closed)));
    Arc::clone(&out).write().await;
    assert_eq!(
        drain(done),
        vec![Did::Close],
        "nothing written, the connection closed"
    );
}

#[test]
fn lanes_outside_a_process_are_zero() {
    assert_eq!(Outgoing::new(Bytes::new()).lane, 0);
    assert_eq!(Outgoing::node_level(Bytes::new()).lane, 0);
    assert!(Outgoing::prompt(Bytes::new()).prompt);
}
