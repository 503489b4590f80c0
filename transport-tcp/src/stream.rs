//! The receiving half of a connection: frames decoded from what the
//! socket gives, without copying their payloads.

use std::fmt;

use async_trait::async_trait;
use beamish_core::dist::protocol::FrameCodec;
use beamish_core::transport::{FrameStream, Incoming, TransportError};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::tls_mismatch::{looks_like_tls, Plaintext};

/// Reads frames from a TCP (or TLS) connection.
pub(crate) struct TcpFrames<R> {
    read: R,
    codec: FrameCodec,
    /// The transport's own limit, above which `set_max_frame` never goes.
    ceiling: usize,
    buffer: BytesMut,
    /// Which end of a plaintext connection this is, until the first
    /// frame has come: a TLS record instead of it fails the connection
    /// with an error that says so.
    tls_check: Option<Plaintext>,
}

impl<R> TcpFrames<R> {
    /// Frames from `read`; `plaintext` for a connection without TLS.
    pub(crate) fn new(read: R, codec: FrameCodec, plaintext: Option<Plaintext>) -> Self {
        Self {
            read,
            codec,
            ceiling: codec.max(),
            buffer: BytesMut::new(),
            tls_check: plaintext,
        }
    }

    /// The error for bytes that are no frame, `otherwise` unless they
    /// are a TLS record where the first frame should be.
    fn not_a_frame(&self, otherwise: TransportError) -> TransportError {
        match self.tls_check {
            Some(end) if looks_like_tls(&self.buffer) => {
                TransportError::Io(end.peer_speaks_tls().to_owned())
            }
            _ => otherwise,
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
            match self.codec.decode(&mut self.buffer) {
                Ok(Some(frame)) => {
                    self.tls_check = None;
                    return Ok(Some(Incoming::new(frame)));
                }
                Ok(None) => {}
                Err(err) => return Err(self.not_a_frame(TransportError::Io(err.to_string()))),
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
                    Err(self.not_a_frame(TransportError::Closed(
                        "the peer closed in the middle of a frame".into(),
                    )))
                };
            }
        }
    }

    /// A header announcing a frame over `max` (or over the transport's own
    /// limit, if lower) ends the stream with an error before any of the
    /// frame is buffered.
    fn set_max_frame(&mut self, max: usize) {
        self.codec = FrameCodec::new(max.min(self.ceiling));
    }
}
