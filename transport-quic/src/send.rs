//! The sending half of a connection: one unidirectional stream per lane.
//!
//! A lane's frames are written straight into its stream when it has room,
//! which is the usual case, so a send costs no hand-over to another task.
//! When a stream is held up by flow control, what it could not take waits
//! in the lane's backlog, and a task of the lane's own drains it while the
//! other lanes carry on; the lane goes back to direct writes once its
//! backlog is empty. Frames of a lane are written in the order sent either
//! way: nothing is written directly while a backlog waits.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::dist::protocol::FrameCodec;
use beamish_core::transport::{FrameSink, SentNow, TransportError};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::codes::CLOSED;

/// How long a closing connection waits for its lanes to flush.
const FLUSH: Duration = Duration::from_secs(2);

/// Frames smaller than this are copied together into one buffer; larger
/// ones are written from their own memory.
const COPY_UNDER: usize = 4096;

/// The sending half of a QUIC connection.
pub(crate) struct QuicSink {
    conn: quinn::Connection,
    codec: FrameCodec,
    lanes: Vec<Option<Lane>>,
    scratch: BytesMut,
    /// Where a lane's backlog task runs: a frame may be sent from a
    /// thread outside the runtime.
    runtime: tokio::runtime::Handle,
}

/// One lane's stream and what waits for it.
struct Lane {
    shared: Arc<Mutex<Stream>>,
    /// The task that last drained the backlog.
    drain: Option<JoinHandle<()>>,
}

struct Stream {
    stream: quinn::SendStream,
    /// Bytes the stream could not take yet, in order.
    backlog: VecDeque<Bytes>,
    /// Why writing failed, once it has.
    failed: Option<String>,
    /// Whether a task is draining the backlog.
    draining: bool,
}

impl QuicSink {
    /// The sending half of `conn`, with `lanes` streams opened as they
    /// are first used. Called inside the runtime that drives `conn`.
    pub(crate) fn new(conn: quinn::Connection, codec: FrameCodec, lanes: usize) -> Self {
        Self {
            conn,
            codec,
            lanes: (0..lanes.max(1)).map(|_| None).collect(),
            scratch: BytesMut::new(),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The frames as chunks to write: small frames copied together with
    /// their length prefixes into one buffer, large ones written from
    /// their own memory behind a prefix, so a large batch costs no copy
    /// here.
    fn encode(&mut self, frames: &[Bytes]) -> Result<Vec<Bytes>, TransportError> {
        let mut chunks = Vec::new();
        for frame in frames {
            if frame.len() < COPY_UNDER {
                self.codec
                    .encode(frame, &mut self.scratch)
                    .map_err(|err| TransportError::Io(err.to_string()))?;
                continue;
            }
            self.codec
                .encode_header(frame.len(), &mut self.scratch)
                .map_err(|err| TransportError::Io(err.to_string()))?;
            chunks.push(self.scratch.split().freeze());
            chunks.push(frame.clone());
        }
        if !self.scratch.is_empty() {
            chunks.push(self.scratch.split().freeze());
        }
        Ok(chunks)
    }

    fn closed(&self) -> Option<TransportError> {
        self.conn
            .close_reason()
            .map(|why| TransportError::Closed(why.to_string()))
    }

    /// The stream a lane's frames take.
    fn lane_index(&self, lane: u32) -> usize {
        usize::try_from(lane).unwrap_or(0) % self.lanes.len()
    }

    /// Writes the chunks into the open stream at `at` as far as it has
    /// room, and leaves the rest to the lane's backlog task: a full lane
    /// delays no other. Nothing is written directly while a backlog waits.
    fn write_lane(&mut self, at: usize, mut chunks: Vec<Bytes>) -> Result<(), TransportError> {
        let lane = self.lanes[at]
            .as_mut()
            .ok_or_else(|| TransportError::Closed("the lane has no stream".into()))?;
        let mut stream = lane.shared.lock();
        if let Some(why) = &stream.failed {
            return Err(TransportError::Closed(why.clone()));
        }
        let mut written = 0;
        if stream.backlog.is_empty() {
            // Straight into the stream, as far as it has room.
            let mut cx = Context::from_waker(Waker::noop());
            while written < chunks.len() {
                let polled = pin!(stream.stream.write_chunks(&mut chunks[written..])).poll(&mut cx);
                match polled {
                    Poll::Ready(Ok(wrote)) => written += wrote.chunks,
                    Poll::Ready(Err(err)) => return Err(TransportError::Closed(err.to_string())),
                    Poll::Pending => break,
                }
            }
        }
        if written < chunks.len() {
            let rest = chunks.drain(written..).filter(|chunk| !chunk.is_empty());
            stream.backlog.extend(rest);
            if !stream.draining {
                stream.draining = true;
                let shared = Arc::clone(&lane.shared);
                lane.drain = Some(self.runtime.spawn(async move {
                    poll_fn(|cx| shared.lock().poll_backlog(cx)).await;
                }));
            }
        }
        Ok(())
    }

    /// The lane's stream, opened on first use.
    async fn lane(&mut self, at: usize) -> Result<&mut Lane, TransportError> {
        if self.lanes[at].is_none() {
            let stream = self
                .conn
                .open_uni()
                .await
                .map_err(|err| TransportError::Closed(err.to_string()))?;
            self.lanes[at] = Some(Lane {
                shared: Arc::new(Mutex::new(Stream {
                    stream,
                    backlog: VecDeque::new(),
                    failed: None,
                    draining: false,
                })),
                drain: None,
            });
        }
        self.lanes[at]
            .as_mut()
            .ok_or_else(|| TransportError::Closed("the lane has no stream".into()))
    }
}

impl Stream {
    /// Writes the backlog as far as the stream takes it: ready once it is
    /// all written (or writing failed), and no longer draining; pending
    /// while the stream is full.
    fn poll_backlog(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while !self.backlog.is_empty() {
            let chunks = self.backlog.make_contiguous();
            let polled = pin!(self.stream.write_chunks(chunks)).poll(cx);
            match polled {
                Poll::Ready(Ok(wrote)) => {
                    self.backlog.drain(..wrote.chunks);
                }
                Poll::Ready(Err(err)) => {
                    self.failed = Some(err.to_string());
                    self.backlog.clear();
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        self.draining = false;
        Poll::Ready(())
    }
}

impl fmt::Debug for QuicSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicSink")
            .field("peer", &self.conn.remote_address())
            .field("lanes", &self.lanes.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameSink for QuicSink {
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.send_lane(0, frames).await
    }

    /// Writes the frames into the lane's stream, or, if it is held up by
    /// flow control, leaves them to the lane's own task: a full lane
    /// delays no other.
    async fn send_lane(&mut self, lane: u32, frames: Vec<Bytes>) -> Result<(), TransportError> {
        if let Some(err) = self.closed() {
            return Err(err);
        }
        // Refused here, as TCP does.
        let max = self.codec.max();
        if let Some(frame) = frames.iter().find(|frame| frame.len() > max) {
            return Err(TransportError::Io(format!(
                "a frame of {} bytes exceeds the limit of {max} bytes",
                frame.len()
            )));
        }
        let chunks = self.encode(&frames)?;
        let at = self.lane_index(lane);
        self.lane(at).await?;
        self.write_lane(at, chunks)
    }

    /// Writes into the lane's stream as `send_lane` does if the stream is
    /// open and has no backlog (it is not held up by flow control).
    fn send_now(&mut self, lane: u32, frame: &Bytes) -> Result<SentNow, TransportError> {
        if let Some(err) = self.closed() {
            return Err(err);
        }
        let at = self.lane_index(lane);
        let clear = self.lanes[at].as_ref().is_some_and(|lane| {
            let stream = lane.shared.lock();
            stream.backlog.is_empty() && stream.failed.is_none()
        });
        if !clear || frame.len() > self.codec.max() {
            // The usual way opens the stream, waits, or says what is wrong.
            return Ok(SentNow::Refused);
        }
        let chunks = self.encode(std::slice::from_ref(frame))?;
        self.write_lane(at, chunks)?;
        Ok(SentNow::Taken)
    }

    fn has_lanes(&self) -> bool {
        self.lanes.len() > 1
    }

    /// Lets every lane flush its backlog and waits (a while) for the peer
    /// to have it all, then closes the connection.
    async fn close(&mut self) {
        let lanes: Vec<Lane> = self.lanes.iter_mut().filter_map(Option::take).collect();
        let flushed = async {
            let mut acknowledged = Vec::new();
            for lane in lanes {
                if let Some(drain) = lane.drain {
                    let _ = drain.await;
                }
                let mut stream = lane.shared.lock();
                let _ = stream.stream.finish();
                acknowledged.push(stream.stream.stopped());
            }
            for stopped in acknowledged {
                let _ = stopped.await;
            }
        };
        if tokio::time::timeout(FLUSH, flushed).await.is_err() {
            tracing::debug!("closing before the peer took every frame");
        }
        self.conn.close(quinn::VarInt::from_u32(CLOSED), b"closed");
    }
}
