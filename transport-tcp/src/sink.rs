//! The sending half of a connection: frames encoded into one buffer and
//! written in one go; a frame somebody waits on may be written at once by
//! its sender, if the socket takes it without waiting.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use beamish_core::dist::protocol::FrameCodec;
use beamish_core::transport::{FrameSink, SentNow, TransportError};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Writes frames to a TCP (or TLS) connection.
pub(crate) struct TcpSink<W> {
    write: W,
    codec: FrameCodec,
    buffer: BytesMut,
    /// What a direct write left unwritten, written first by the next send.
    unsent: Bytes,
}

impl<W> TcpSink<W> {
    pub(crate) fn new(write: W, codec: FrameCodec) -> Self {
        Self {
            write,
            codec,
            buffer: BytesMut::new(),
            unsent: Bytes::new(),
        }
    }
}

impl<W> fmt::Debug for TcpSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSink")
            .field("unsent", &self.unsent.len())
            .finish_non_exhaustive()
    }
}

fn closed(err: std::io::Error) -> TransportError {
    TransportError::Closed(err.to_string())
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send> FrameSink for TcpSink<W> {
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.buffer.clear();
        self.buffer
            .extend_from_slice(&std::mem::take(&mut self.unsent));
        for frame in &frames {
            self.codec
                .encode(frame, &mut self.buffer)
                .map_err(|err| TransportError::Io(err.to_string()))?;
        }
        self.write.write_all(&self.buffer).await.map_err(closed)?;
        // Nothing for a plain socket; TLS sends what it still holds.
        self.write.flush().await.map_err(closed)
    }

    /// One write attempt that must not wait: the whole frame, or a part
    /// with the rest kept for the next send, or nothing.
    fn send_now(&mut self, _lane: u32, frame: &Bytes) -> Result<SentNow, TransportError> {
        if !self.unsent.is_empty() || frame.len() > self.codec.max() {
            // The usual way finishes the last write, or says what is wrong.
            return Ok(SentNow::Refused);
        }
        self.buffer.clear();
        self.codec
            .encode(frame, &mut self.buffer)
            .map_err(|err| TransportError::Io(err.to_string()))?;
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut self.write).poll_write(&mut cx, &self.buffer) {
            Poll::Pending => Ok(SentNow::Refused),
            Poll::Ready(Err(err)) => Err(closed(err)),
            Poll::Ready(Ok(0)) => Err(TransportError::Closed(
                "the connection takes no more".to_owned(),
            )),
            Poll::Ready(Ok(wrote)) if wrote < self.buffer.len() => {
                self.unsent = self.buffer.split_off(wrote).freeze();
                Ok(SentNow::Unfinished)
            }
            Poll::Ready(Ok(_)) => match Pin::new(&mut self.write).poll_flush(&mut cx) {
                Poll::Ready(Ok(())) => Ok(SentNow::Taken),
                Poll::Ready(Err(err)) => Err(closed(err)),
                Poll::Pending => Ok(SentNow::Unfinished),
            },
        }
    }

    async fn close(&mut self) {
        let _ = self.write.shutdown().await;
    }
}
