//! Frames over a QUIC connection: one unidirectional stream per lane, each
//! fed by a writer of its own, and every incoming stream read apart and
//! merged into the connection's one stream of frames.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::dist::FrameCodec;
use beamish_core::transport::{FrameSink, FrameStream, Incoming, TransportError};
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// Frames waiting for the reader, across all streams of a connection.
const MERGED: usize = 1024;

/// How long a closing connection waits for its lanes to flush.
const FLUSH: Duration = Duration::from_secs(2);

/// The application error code of an orderly close.
const CLOSED: u32 = 0;

/// The application error code of a close for a broken stream.
const BROKEN: u32 = 1;

/// The sending half and the receiving half of a connection.
pub(crate) fn split(
    conn: quinn::Connection,
    codec: FrameCodec,
    lanes: usize,
) -> (QuicSink, QuicFrames) {
    let (merged, frames) = mpsc::channel(MERGED);
    tokio::spawn(read_streams(conn.clone(), codec, merged));
    let sink = QuicSink {
        conn,
        codec,
        lanes: (0..lanes).map(|_| None).collect(),
    };
    (sink, QuicFrames { frames })
}

/// One lane: its queue, and the writer task that drains it.
struct Lane {
    queue: mpsc::UnboundedSender<Vec<Bytes>>,
    writer: JoinHandle<()>,
}

pub(crate) struct QuicSink {
    conn: quinn::Connection,
    codec: FrameCodec,
    lanes: Vec<Option<Lane>>,
}

impl QuicSink {
    fn closed(&self) -> Option<TransportError> {
        self.conn
            .close_reason()
            .map(|why| TransportError::Closed(why.to_string()))
    }
}

impl fmt::Debug for QuicSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicSink")
            .field("peer", &self.conn.remote_address())
            .field("lanes", &self.lanes.len())
            .finish()
    }
}

#[async_trait]
impl FrameSink for QuicSink {
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.send_lane(0, frames).await
    }

    /// Hands the frames to the lane's writer: a lane whose stream is held
    /// up by flow control delays no other lane.
    async fn send_lane(&mut self, lane: u32, frames: Vec<Bytes>) -> Result<(), TransportError> {
        if let Some(err) = self.closed() {
            return Err(err);
        }
        // Refused here, as TCP does, rather than dropped by the writer.
        if let Some(frame) = frames.iter().find(|frame| frame.len() > self.codec.max()) {
            return Err(TransportError::Io(format!(
                "a frame of {} bytes exceeds the limit of {} bytes",
                frame.len(),
                self.codec.max()
            )));
        }
        let count = self.lanes.len().max(1);
        let at = usize::try_from(lane).unwrap_or(0) % count;
        let (conn, codec) = (self.conn.clone(), self.codec);
        let slot = &mut self.lanes[at];
        let lane = slot.get_or_insert_with(|| {
            let (queue, batches) = mpsc::unbounded_channel();
            let writer = tokio::spawn(write_lane(conn, codec, batches));
            Lane { queue, writer }
        });
        lane.queue
            .send(frames)
            .map_err(|_| TransportError::Closed("the stream's writer stopped".into()))
    }

    fn has_lanes(&self) -> bool {
        self.lanes.len() > 1
    }

    /// Lets every lane flush what it has, then closes the connection.
    async fn close(&mut self) {
        let writers: Vec<JoinHandle<()>> = self
            .lanes
            .iter_mut()
            .filter_map(Option::take)
            .map(|lane| lane.writer)
            .collect();
        let flushed = async {
            for writer in writers {
                let _ = writer.await;
            }
        };
        if tokio::time::timeout(FLUSH, flushed).await.is_err() {
            tracing::debug!("closing before the peer took every frame");
        }
        self.conn.close(quinn::VarInt::from_u32(CLOSED), b"closed");
    }
}

/// Writes one lane's batches to a stream of its own, opened on first use.
async fn write_lane(
    conn: quinn::Connection,
    codec: FrameCodec,
    mut batches: mpsc::UnboundedReceiver<Vec<Bytes>>,
) {
    let mut stream = match conn.open_uni().await {
        Ok(stream) => stream,
        Err(err) => {
            tracing::debug!("could not open a stream: {err}");
            return;
        }
    };
    let mut buffer = BytesMut::new();
    while let Some(first) = batches.recv().await {
        buffer.clear();
        let mut batch = Some(first);
        // What queued meanwhile goes out in the same write.
        while let Some(frames) = batch.take().or_else(|| batches.try_recv().ok()) {
            for frame in &frames {
                if let Err(err) = codec.encode(frame, &mut buffer) {
                    tracing::warn!("a frame was not sent: {err}");
                }
            }
            if buffer.len() > 1 << 20 {
                break;
            }
        }
        if let Err(err) = stream.write_all(&buffer).await {
            tracing::debug!("a stream could not be written: {err}");
            return;
        }
    }
    let _ = stream.finish();
    // Wait until the peer has it all, or the connection goes.
    let _ = stream.stopped().await;
}

/// What the merged receiving side carries.
enum Merged {
    Frame(Bytes),
    /// The peer closed the connection in order.
    End,
    /// The connection was lost, or a stream carried something unreadable.
    Lost(String),
}

/// Accepts the peer's streams and reads each apart, into `merged`. When the
/// connection ends, the streams already received are read to their end
/// first (quinn keeps them readable), so an orderly close delivers every
/// frame sent before it, and only then the end.
async fn read_streams(conn: quinn::Connection, codec: FrameCodec, merged: mpsc::Sender<Merged>) {
    let mut readers = JoinSet::new();
    let end = loop {
        tokio::select! {
            accepted = conn.accept_uni() => match accepted {
                Ok(stream) => {
                    readers.spawn(read_stream(conn.clone(), stream, codec, merged.clone()));
                }
                Err(err) => break ending(err),
            },
            // Finished readers are reaped as they go.
            Some(_) = readers.join_next(), if !readers.is_empty() => {}
        }
    };
    while readers.join_next().await.is_some() {}
    let _ = merged.send(end).await;
}

/// What the end of a connection means to the node.
fn ending(err: quinn::ConnectionError) -> Merged {
    match err {
        quinn::ConnectionError::ApplicationClosed(close)
            if close.error_code == quinn::VarInt::from_u32(CLOSED) =>
        {
            Merged::End
        }
        quinn::ConnectionError::LocallyClosed => Merged::End,
        other => Merged::Lost(other.to_string()),
    }
}

/// Reads length-prefixed frames from one stream until it ends.
async fn read_stream(
    conn: quinn::Connection,
    mut stream: quinn::RecvStream,
    codec: FrameCodec,
    merged: mpsc::Sender<Merged>,
) {
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    loop {
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    if merged.send(Merged::Frame(frame)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    // A bad frame ends the whole connection: the node
                    // cannot tell what else it would have missed.
                    let why = format!("unreadable frame: {err}");
                    conn.close(quinn::VarInt::from_u32(BROKEN), why.as_bytes());
                    let _ = merged.send(Merged::Lost(why)).await;
                    return;
                }
            }
        }
        if buffer.capacity() - buffer.len() < 4096 {
            buffer.reserve(64 * 1024);
        }
        match stream.read_buf(&mut buffer).await {
            Ok(0) if buffer.is_empty() => return,
            Ok(0) => {
                let why = "a stream ended in the middle of a frame";
                conn.close(quinn::VarInt::from_u32(BROKEN), why.as_bytes());
                let _ = merged.send(Merged::Lost(why.into())).await;
                return;
            }
            Ok(_) => {}
            // The connection's end is reported by `read_streams`.
            Err(_) => return,
        }
    }
}

pub(crate) struct QuicFrames {
    frames: mpsc::Receiver<Merged>,
}

impl fmt::Debug for QuicFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicFrames").finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameStream for QuicFrames {
    async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
        match self.frames.recv().await {
            Some(Merged::Frame(frame)) => Ok(Some(Incoming::new(frame))),
            Some(Merged::End) => Ok(None),
            Some(Merged::Lost(why)) => Err(TransportError::Closed(why)),
            None => Err(TransportError::Closed("the connection is gone".into())),
        }
    }
}
