//! The receiving half of a connection: frames decoded from what the
//! socket gives, without copying their payloads.

use std::fmt;

use async_trait::async_trait;
use beamish_core::dist::FrameCodec;
use beamish_core::transport::{FrameStream, Incoming, TransportError};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads frames from a TCP (or TLS) connection.
pub(crate) struct TcpFrames<R> {
    read: R,
    codec: FrameCodec,
    buffer: BytesMut,
}

impl<R> TcpFrames<R> {
    pub(crate) fn new(read: R, codec: FrameCodec) -> Self {
        Self {
            read,
            codec,
            buffer: BytesMut::new(),
        }
    }
}

impl<R> fmt::Debug for TcpFrames<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpFrames")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<R: AsyncRead + Unpin + Send> FrameStream for TcpFrames<R> {
    async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
        loop {
            if let Some(frame) = self
                .codec
                .decode(&mut self.buffer)
                .map_err(|err| TransportError::Io(err.to_string()))?
            {
                return Ok(Some(Incoming::new(frame)));
            }
            if self.buffer.capacity() - self.buffer.len() < 4096 {
                self.buffer.reserve(64 * 1024);
            }
            let read = self
                .read
                .read_buf(&mut self.buffer)
                .await
                .map_err(|err| TransportError::Closed(err.to_string()))?;
            if read == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(TransportError::Closed(
                        "the peer closed in the middle of a frame".into(),
                    ))
                };
            }
        }
    }
}
