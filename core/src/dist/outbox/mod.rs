//! What goes out to a peer: frames tagged with their lane (and, for a
//! confirmed send, whom to tell once the transport has them), queued for
//! the writer task that hands them to the connection in batches; or, for
//! a frame somebody waits on, handed to the connection by its sender when
//! nothing else is queued or being written.

use std::collections::VecDeque;
use std::mem;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch, Notify};
use tokio::time::Instant;

use super::protocol::Heartbeat;
use crate::transport::{FrameSink, SentNow};

/// The most frames handed to a connection in one batch.
const BATCH: usize = 256;

/// The bytes queued for one connection above which sends that can wait
/// do (see [`ClusterConfig::outbox_limit`](crate::ClusterConfig::outbox_limit)).
pub const DEFAULT_OUTBOX_LIMIT: usize = 16 * 1024 * 1024;

/// One frame on its way to a peer.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// Everything one process sends shares a lane; node-level frames use
    /// lane 0.
    pub(crate) lane: u32,
    pub(crate) frame: Bytes,
    /// Told whether the transport took the frame (a confirmed send).
    pub(crate) taken: Option<oneshot::Sender<bool>>,
    /// Somebody waits on it (a call's request or reply): its sender may
    /// write it itself rather than wake the writer task.
    pub(crate) prompt: bool,
}

impl Outgoing {
    /// A frame in the lane of the process sending it (lane 0 outside any
    /// process).
    pub(crate) fn new(frame: Bytes) -> Self {
        Self {
            lane: current_lane(),
            frame,
            taken: None,
            prompt: false,
        }
    }

    /// A frame a caller waits on: a call's request or its reply.
    pub(crate) fn prompt(frame: Bytes) -> Self {
        Self {
            prompt: true,
            ..Self::new(frame)
        }
    }

    /// A node-level frame (a heartbeat tick).
    pub(crate) fn node_level(frame: Bytes) -> Self {
        Self {
            lane: 0,
            frame,
            taken: None,
            prompt: false,
        }
    }
}

/// The lane of the process running on this thread: its id folded into 32
/// bits and kept off 0, or 0 outside any process.
fn current_lane() -> u32 {
    crate::process::run::current_pid().map_or(0, |pid| {
        let id = pid.id();
        // Truncation intended: the lane only spreads processes apart.
        #[allow(clippy::cast_possible_truncation)]
        let folded = (id ^ (id >> 32)) as u32;
        folded.max(1)
    })
}

/// The way out to one peer: a queue, and the connection's sending half,
/// which the writer task takes while it writes. Frames leave in the order
/// they were pushed: one is written by its sender only when the queue is
/// empty and the writer is not writing.
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer task when frames are queued or the way is closed.
    queued: Notify,
    /// Wakes senders waiting for room once the queue is below its limit
    /// again, or the way is closed.
    room: Notify,
    /// Bytes queued above which [`try_push`](Self::try_push) refuses.
    limit: usize,
    heartbeat: Arc<Mutex<Heartbeat>>,
    /// Set, and waiters woken, once the writer task has ended.
    ended: watch::Sender<bool>,
}

struct State {
    queue: VecDeque<Outgoing>,
    /// The bytes of the frames in `queue`.
    bytes: usize,
    /// A frame was refused for want of room since the last wake-up.
    refused: bool,
    /// The connection's sending half, unless the writer task is using it
    /// (or it failed).
    sink: Option<Box<dyn FrameSink>>,
    /// Cleared when the peer is dropped or a write fails.
    open: bool,
}

impl Outbox {
    /// The way out through `sink`; sending counts for `heartbeat`. Its
    /// writer task is [`write`](Self::write).
    pub(crate) fn new(
        sink: Box<dyn FrameSink>,
        heartbeat: Arc<Mutex<Heartbeat>>,
        limit: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                bytes: 0,
                refused: false,
                sink: Some(sink),
                open: true,
            }),
            queued: Notify::new(),
            room: Notify::new(),
            limit,
            heartbeat,
            ended: watch::channel(false).0,
        })
    }

    /// Waits until the writer task has ended: what was queued is written
    /// and the connection closed, or a write failed.
    pub(crate) async fn written(&self) {
        let mut ended = self.ended.subscribe();
        let _ = ended.wait_for(|ended| *ended).await;
    }

    /// Queues a frame as [`push`](Self::push) does, unless the queue is
    /// over its limit: then the frame is handed back as [`Refused::Full`]
    /// (wait on [`room`](Self::room) and try again).
    pub(crate) fn try_push(&self, item: Outgoing) -> Result<(), Refused> {
        let mut state = self.state.lock();
        if !state.open {
            return Err(Refused::Closed);
        }
        // One frame always goes, however large: the limit bounds what
        // waits, not the size of a message.
        if state.bytes > 0 && state.bytes + item.frame.len() > self.limit {
            state.refused = true;
            return Err(Refused::Full(item));
        }
        self.queue(&mut state, item);
        Ok(())
    }

    /// Resolves once the queue may have room again (or the way closed).
    /// Create it before the [`try_push`](Self::try_push) it waits after,
    /// and enable it, so that no wake-up is missed in between.
    pub(crate) fn room(&self) -> tokio::sync::futures::Notified<'_> {
        self.room.notified()
    }

    /// Queues a frame, or writes a prompt one at once if the way is clear
    /// and the transport takes it without waiting. Hands the frame back
    /// if the way is closed.
    pub(crate) fn push(&self, item: Outgoing) -> Result<(), Outgoing> {
        let mut state = self.state.lock();
        if !state.open {
            return Err(item);
        }
        self.queue(&mut state, item);
        Ok(())
    }

    /// Queues a frame on an open way (a prompt one may be written at once).
    fn queue(&self, state: &mut State, item: Outgoing) {
        let item = if item.prompt && state.queue.is_empty() {
            match self.write_now(state, item) {
                Some(rest) => rest,
                None => return,
            }
        } else {
            item
        };
        state.bytes += item.frame.len();
        state.queue.push_back(item);
        if state.queue.len() == 1 {
            self.queued.notify_one();
        }
    }

    /// Offers a prompt frame to the connection if the writer is not using
    /// it. `None` once the frame is dealt with; else what still goes
    /// through the queue: the frame itself, or, for a write the transport
    /// finishes with its next one, a tick that wakes the writer for it.
    fn write_now(&self, state: &mut State, mut item: Outgoing) -> Option<Outgoing> {
        let Some(sink) = state.sink.as_mut() else {
            return Some(item);
        };
        let sent = sink.send_now(item.lane, &item.frame);
        if matches!(sent, Ok(SentNow::Refused)) {
            return Some(item);
        }
        if let Some(confirm) = item.taken.take() {
            let _ = confirm.send(sent.is_ok());
        }
        match sent {
            Ok(sent) => {
                self.heartbeat.lock().sent(Instant::now());
                (sent == SentNow::Unfinished).then(|| Outgoing::node_level(Bytes::new()))
            }
            Err(err) => {
                // As for a failed batch: the reader reports the loss, and
                // the writer stops.
                tracing::debug!("a direct write failed: {err}");
                state.open = false;
                state.sink = None;
                self.queued.notify_one();
                self.room.notify_waiters();
                None
            }
        }
    }

    /// Closes the way out: what is queued is still written, then the
    /// connection is closed.
    pub(crate) fn close(&self) {
        self.state.lock().open = false;
        self.queued.notify_one();
        self.room.notify_waiters();
    }

    /// Gives up on the peer (declared down): what is queued is dropped at
    /// once (confirmed senders learn it did not go), and the writer stops
    /// without writing more.
    pub(crate) fn abort(&self) {
        let dropped = {
            let mut state = self.state.lock();
            state.open = false;
            state.bytes = 0;
            mem::take(&mut state.queue)
        };
        drop(dropped);
        self.queued.notify_one();
        self.room.notify_waiters();
    }

    /// The writer task: writes queued frames to the connection, batching
    /// whatever queued up while the previous write was in progress; closes
    /// it once the way is closed and the queue written, and stops at the
    /// first failed write. A multiplexing sink gets each lane's frames
    /// apart, in their order.
    pub(crate) async fn write(self: Arc<Self>) {
        /// Says the writer has ended, however it ends (even aborted).
        struct Ended<'a>(&'a watch::Sender<bool>);
        impl Drop for Ended<'_> {
            fn drop(&mut self) {
                self.0.send_replace(true);
            }
        }
        let _ended = Ended(&self.ended);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let next = {
                let mut state = self.state.lock();
                match state.sink.take() {
                    Some(sink) if !state.queue.is_empty() => {
                        let take = state.queue.len().min(BATCH);
                        batch.extend(state.queue.drain(..take));
                        let taken: usize = batch.iter().map(|item| item.frame.len()).sum();
                        state.bytes = state.bytes.saturating_sub(taken);
                        // Waiting senders go on once the queue is down to
                        // half its limit (or empty, for a frame larger than
                        // that), not for every frame written.
                        if state.refused
                            && (state.bytes <= self.limit / 2 || state.queue.is_empty())
                        {
                            state.refused = false;
                            self.room.notify_waiters();
                        }
                        Next::Write(sink)
                    }
                    Some(sink) if !state.open => Next::Close(sink),
                    Some(sink) => {
                        state.sink = Some(sink);
                        Next::Wait
                    }
                    // A direct write failed.
                    None => return,
                }
            };
            let mut sink = match next {
                Next::Write(sink) => sink,
                Next::Close(mut sink) => {
                    sink.close().await;
                    return;
                }
                Next::Wait => {
                    self.queued.notified().await;
                    continue;
                }
            };
            let ok = if sink.has_lanes() {
                send_by_lane(&mut *sink, &mut batch).await
            } else {
                send_all(&mut *sink, &mut batch).await
            };
            if !ok {
                // The reader sees the loss too and reports it; confirmed
                // senders still waiting learn of it as their tokens drop.
                self.abort();
                return;
            }
            self.heartbeat.lock().sent(Instant::now());
            self.state.lock().sink = Some(sink);
        }
    }
}

/// Why [`Outbox::try_push`] handed a frame back.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The queue is over its limit.
    Full(Outgoing),
    /// The way is closed.
    Closed,
}

/// What the writer task does next.
enum Next {
    Write(Box<dyn FrameSink>),
    Close(Box<dyn FrameSink>),
    Wait,
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
mod tests;
