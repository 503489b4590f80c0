//! beamish-transport-tcp: the transport contract over TCP.
//!
//! Each connection carries length-prefixed frames (4-byte big-endian
//! length, then the payload) with a size limit, with `TCP_NODELAY` set and
//! writes batched: every frame handed to one `send` goes out in a single
//! buffered write. A frame over the limit from the peer ends the
//! connection with an error.
//!
//! With [`TcpTransport::tls`] every connection runs TLS (rustls, ring):
//! each node presents a certificate signed by a CA its peers trust, and
//! with mutual TLS ([`TlsConfig::mutual`]) a listening node demands one
//! from every caller too. A certificate that does not verify ends the
//! connection with an error naming the problem (for example `invalid peer
//! certificate: UnknownIssuer`). The node's cookie handshake still runs
//! inside the encrypted connection. A TLS listener runs at most 64
//! handshakes at once ([`TcpTransport::max_tls_handshakes`]) and closes
//! connections beyond that at once. Both ends of a connection use TLS or
//! neither does; where only one does, the error says so (for example
//! `the peer seems to speak TLS and this listener does not`).
//!
//! ```no_run
//! use beamish_transport_tcp::{TcpTransport, TlsConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = TlsConfig::from_files("node.pem", "node.key", "ca.pem")?;
//! let transport = TcpTransport::new().tls(tls);
//! # let _ = transport;
//! # Ok(())
//! # }
//! ```
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
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::dist::protocol::FrameCodec;
use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Listener, Transport, TransportError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

mod accept;
mod accept_retry;
mod sink;
mod stream;
mod tls_mismatch;

use accept_retry::RetryingListener;
use sink::TcpSink;
use stream::TcpFrames;
use tls_mismatch::Plaintext;

pub use beamish_tls::{TlsConfig, TlsError};

/// Distribution over TCP, optionally over TLS.
#[derive(Debug, Clone)]
pub struct TcpTransport {
    codec: FrameCodec,
    tls: Option<TlsConfig>,
    tls_handshakes: usize,
}

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// How many TLS handshakes a listener runs at once unless told otherwise.
const DEFAULT_TLS_HANDSHAKES: usize = 64;

impl Default for TcpTransport {
    fn default() -> Self {
        Self {
            codec: FrameCodec::default(),
            tls: None,
            tls_handshakes: DEFAULT_TLS_HANDSHAKES,
        }
    }
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
            ..Self::default()
        }
    }

    /// Encrypts and authenticates every connection with TLS: this node
    /// presents its certificate and verifies its peers' against the CA
    /// (see [`TlsConfig`]). Both ends of a connection must use TLS.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// How many connections each TLS listener lets run their TLS
    /// handshake at once (64 by default; at least 1). A connection that
    /// arrives while that many are in progress is closed at once, with a
    /// warning logged at most every 10 seconds, so that clients that
    /// connect and never finish the handshake cannot pile up sockets and
    /// tasks on this node. A connection keeps its place until it has
    /// completed its handshake and been queued for the node (or failed,
    /// or run out of the 10 seconds given to it).
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_transport_tcp::{TcpTransport, TlsConfig};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tls = TlsConfig::self_signed_dev(&["127.0.0.1"])?;
    /// let transport = TcpTransport::new().tls(tls).max_tls_handshakes(16);
    /// # let _ = transport;
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_tls_handshakes(mut self, handshakes: usize) -> Self {
        self.tls_handshakes = handshakes.max(1);
        self
    }

    /// A connection over `read` and `write`; `plaintext` says which end
    /// of a connection without TLS it is.
    fn connection<R, W>(
        &self,
        read: R,
        write: W,
        peer: String,
        plaintext: Option<Plaintext>,
    ) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        Connection::new(
            Box::new(TcpSink::new(write, self.codec)),
            Box::new(TcpFrames::new(read, self.codec, plaintext)),
            peer,
        )
    }

    fn plain(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        end: Plaintext,
    ) -> Result<Connection, TransportError> {
        stream.set_nodelay(true).map_err(io)?;
        let (read, write) = stream.into_split();
        Ok(self.connection(read, write, format!("tcp://{peer}"), Some(end)))
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
        let endpoint = Endpoint::Tcp {
            host: bound.ip().to_string(),
            port: bound.port(),
        };
        let listener = RetryingListener::new(listener).map_err(io)?;
        let incoming = match &self.tls {
            None => Accepting::Plain(listener),
            Some(tls) => Accepting::Tls(accept::accept(
                self.clone(),
                tls,
                listener,
                self.tls_handshakes,
            )),
        };
        Ok(Box::new(TcpFramesListener {
            incoming,
            endpoint,
            transport: self.clone(),
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
        let Some(tls) = &self.tls else {
            return self.plain(stream, peer, Plaintext::Connected);
        };
        stream.set_nodelay(true).map_err(io)?;
        let name = tls
            .name_for(&host)
            .map_err(|err| TransportError::Io(err.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(tls.client_config());
        let handshake = connector.connect(name, stream);
        let stream = tokio::time::timeout(TLS_HANDSHAKE, handshake)
            .await
            .map_err(|_| TransportError::Io(format!("TLS handshake with {endpoint} timed out")))?
            .map_err(|err| {
                let err = tls_mismatch::handshake_failure(&err);
                TransportError::Io(format!("TLS handshake with {endpoint}: {err}"))
            })?;
        let (read, write) = tokio::io::split(stream);
        Ok(self.connection(read, write, format!("tcp+tls://{peer}"), None))
    }
}

struct TcpFramesListener {
    incoming: Accepting,
    endpoint: Endpoint,
    transport: TcpTransport,
}

/// Where accepted connections come from: the socket itself, or a task
/// that runs each TLS handshake apart, so that a slow or hostile client
/// holds up no one else.
enum Accepting {
    Plain(RetryingListener),
    Tls(tokio::sync::mpsc::Receiver<Connection>),
}

impl fmt::Debug for TcpFramesListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("endpoint", &self.endpoint.to_string())
            .field("tls", &matches!(self.incoming, Accepting::Tls(_)))
            .finish()
    }
}

#[async_trait]
impl Listener for TcpFramesListener {
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    async fn accept(&mut self) -> Result<Connection, TransportError> {
        match &mut self.incoming {
            Accepting::Plain(listener) => loop {
                let (stream, peer) = listener.accept().await.map_err(io)?;
                match self.transport.plain(stream, peer, Plaintext::Accepted) {
                    Ok(conn) => return Ok(conn),
                    // That connection is already gone; the listener is not.
                    Err(err) => tracing::debug!(%peer, %err, "dropped an incoming connection"),
                }
            },
            Accepting::Tls(accepted) => accepted
                .recv()
                .await
                .ok_or_else(|| TransportError::Closed("the listener stopped".into())),
        }
    }
}
