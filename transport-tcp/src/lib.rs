//! beamish-transport-tcp: the transport contract over TCP.
//!
//! Each connection carries length-prefixed frames (4-byte big-endian
//! length, then the payload) with a size limit, with `TCP_NODELAY` set and
//! writes batched: every frame handed to one `send` goes out in a single
//! buffered write. A frame over the limit from the peer ends the
//! connection with an error.
//!
//! # Examples
//!
//! ```
//! use beamish_core::dist::Endpoint;
//! use beamish_core::transport::Transport;
//! use beamish_transport_tcp::TcpTransport;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tcp = TcpTransport::new();
//! let mut listener = tcp.listen(&"tcp://127.0.0.1:0".parse::<Endpoint>()?).await?;
//! let mut client = tcp.connect(&listener.endpoint()).await?;
//! let mut server = listener.accept().await?;
//! client.sink.send(vec![bytes::Bytes::from_static(b"hi")]).await?;
//! let frame = server.stream.recv().await?.ok_or("a frame")?;
//! assert_eq!(&frame.payload[..], b"hi");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::SocketAddr;

use async_trait::async_trait;
use beamish_core::dist::{Endpoint, FrameCodec};
use beamish_core::transport::{
    Connection, FrameSink, FrameStream, Incoming, Listener, Transport, TransportError,
};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Distribution over TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpTransport {
    codec: FrameCodec,
}

impl TcpTransport {
    /// A transport with the default frame limit (8 MiB).
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport refusing frames over `max` bytes.
    pub fn with_max_frame(max: usize) -> Self {
        Self {
            codec: FrameCodec::new(max),
        }
    }

    fn connection(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Result<Connection, TransportError> {
        stream.set_nodelay(true).map_err(io)?;
        let (read, write) = stream.into_split();
        Ok(Connection::new(
            Box::new(TcpSink {
                write,
                codec: self.codec,
                buffer: BytesMut::new(),
            }),
            Box::new(TcpFrames {
                read,
                codec: self.codec,
                buffer: BytesMut::new(),
            }),
            format!("tcp://{peer}"),
        ))
    }
}

fn io(err: std::io::Error) -> TransportError {
    TransportError::Io(err.to_string())
}

fn address(endpoint: &Endpoint) -> Result<(String, u16), TransportError> {
    match endpoint {
        Endpoint::Tcp { host, port } => Ok((host.clone(), *port)),
        other => Err(TransportError::WrongScheme {
            expected: "tcp",
            endpoint: other.to_string(),
        }),
    }
}

#[async_trait]
impl Transport for TcpTransport {
    fn scheme(&self) -> &'static str {
        "tcp"
    }

    async fn listen(&self, endpoint: &Endpoint) -> Result<Box<dyn Listener>, TransportError> {
        let (host, port) = address(endpoint)?;
        let listener = TcpListener::bind((host.as_str(), port))
            .await
            .map_err(|err| {
                if err.kind() == std::io::ErrorKind::AddrInUse {
                    TransportError::InUse(endpoint.to_string())
                } else {
                    io(err)
                }
            })?;
        let bound = listener.local_addr().map_err(io)?;
        Ok(Box::new(TcpFramesListener {
            listener,
            endpoint: Endpoint::Tcp {
                host: bound.ip().to_string(),
                port: bound.port(),
            },
            transport: *self,
        }))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Connection, TransportError> {
        let (host, port) = address(endpoint)?;
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    TransportError::Unreachable(endpoint.to_string())
                }
                _ => io(err),
            })?;
        let peer = stream.peer_addr().map_err(io)?;
        self.connection(stream, peer)
    }
}

struct TcpFramesListener {
    listener: TcpListener,
    endpoint: Endpoint,
    transport: TcpTransport,
}

impl fmt::Debug for TcpFramesListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("endpoint", &self.endpoint.to_string())
            .finish()
    }
}

#[async_trait]
impl Listener for TcpFramesListener {
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    async fn accept(&mut self) -> Result<Connection, TransportError> {
        let (stream, peer) = self.listener.accept().await.map_err(io)?;
        self.transport.connection(stream, peer)
    }
}

struct TcpSink {
    write: OwnedWriteHalf,
    codec: FrameCodec,
    buffer: BytesMut,
}

impl fmt::Debug for TcpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSink").finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameSink for TcpSink {
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.buffer.clear();
        for frame in &frames {
            self.codec
                .encode(frame, &mut self.buffer)
                .map_err(|err| TransportError::Io(err.to_string()))?;
        }
        self.write
            .write_all(&self.buffer)
            .await
            .map_err(|err| TransportError::Closed(err.to_string()))
    }

    async fn close(&mut self) {
        let _ = self.write.shutdown().await;
    }
}

struct TcpFrames {
    read: OwnedReadHalf,
    codec: FrameCodec,
    buffer: BytesMut,
}

impl fmt::Debug for TcpFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpFrames")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameStream for TcpFrames {
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
