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
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::dist::FrameCodec;
use beamish_core::transport::{FrameSink, TransportError};
use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::codes::CLOSED;

/// How long a closing connection waits for its lanes to flush.
const FLUSH: Duration = Duration::from_secs(2);

/// The scratch buffer is given back when a batch grew it beyond this.
const SCRATCH: usize = 1 << 20;

/// The sending half of a QUIC connection.
pub(crate) struct QuicSink {
    conn: quinn::Connection,
    codec: FrameCodec,
    lanes: Vec<Option<Lane>>,
    scratch: BytesMut,
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
    pub(crate) fn new(conn: quinn::Connection, codec: FrameCodec, lanes: usize) -> Self {
        Self {
            conn,
            codec,
            lanes: (0..lanes.max(1)).map(|_| None).collect(),
            scratch: BytesMut::new(),
        }
    }

    fn closed(&self) -> Option<TransportError> {
        self.conn
            .close_reason()
            .map(|why| TransportError::Closed(why.to_string()))
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
        while let Some(front) = self.backlog.front_mut() {
            match Pin::new(&mut self.stream).poll_write(cx, front) {
                Poll::Ready(Ok(written)) => {
                    front.advance(written);
                    if front.is_empty() {
                        self.backlog.pop_front();
                    }
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
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for frame in &frames {
            self.codec
                .encode(frame, &mut scratch)
                .map_err(|err| TransportError::Io(err.to_string()))?;
        }
        let at = usize::try_from(lane).unwrap_or(0) % self.lanes.len();
        let lane = self.lane(at).await?;
        let mut stream = lane.shared.lock();
        if let Some(why) = &stream.failed {
            return Err(TransportError::Closed(why.clone()));
        }
        if stream.backlog.is_empty() {
            // Straight into the stream, as far as it has room.
            let mut cx = Context::from_waker(Waker::noop());
            while !scratch.is_empty() {
                match Pin::new(&mut stream.stream).poll_write(&mut cx, &scratch) {
                    Poll::Ready(Ok(written)) => scratch.advance(written),
                    Poll::Ready(Err(err)) => return Err(TransportError::Closed(err.to_string())),
                    Poll::Pending => break,
                }
            }
        }
        if !scratch.is_empty() {
            stream.backlog.push_back(scratch.split().freeze());
            if !stream.draining {
                stream.draining = true;
                let shared = Arc::clone(&lane.shared);
                lane.drain = Some(tokio::spawn(async move {
                    poll_fn(|cx| shared.lock().poll_backlog(cx)).await;
                }));
            }
        }
        drop(stream);
        if scratch.capacity() <= SCRATCH {
            self.scratch = scratch;
        }
        Ok(())
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
