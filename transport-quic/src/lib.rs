//! beamish-transport-quic: the transport contract over QUIC, with quinn.
//!
//! One QUIC connection per peer node. Frames travel on unidirectional
//! streams, one per lane, a fixed number of them (8 by default): the node
//! puts everything one process sends in one lane, so per-pair order holds,
//! while a large or slow message holds up only the processes that share its
//! stream. A send writes straight into its lane's stream when the stream
//! has room; a lane held up by flow control keeps what it could not take
//! in a backlog that a task of its own drains, so the other lanes carry on.
//! The receiving side reads every stream in turn into the connection's one
//! stream of frames, with no task or channel in between. Frames over the
//! limit are refused by the sender; one from the peer ends the connection
//! with an error. An orderly close delivers every frame sent before it.
//!
//! TLS is part of QUIC: [`QuicTransport::new`] takes a
//! [`TlsConfig`] (certificate, key, CA, optional
//! mutual TLS), and [`QuicTransport::dev`] generates a self-signed
//! certificate and verifies no peer, leaving authentication to the node's
//! cookie handshake. Connections negotiate the ALPN protocol [`ALPN`].
//! QUIC keep-alives and the idle timeout follow the node's heartbeat
//! ([`QuicTransport::heartbeat`]: a keep-alive every tick, the connection
//! dropped after the ticks the node may miss), so a dead peer is found as
//! fast as over TCP; give it the node's own `HeartbeatConfig`.
//!
//! # Lanes against one stream
//!
//! Measured on a shared 2-core machine over loopback (`cargo bench -p
//! beamish-benches --bench distribution -- remote_cast_mixed`): one
//! process queues 16 MiB of 64 KiB casts to a node, then another sends it
//! 1 000 casts of 64 bytes. With 8 lanes the small casts all arrive in
//! 1.2–2.3 ms; with one lane (`QuicTransport::lanes(1)`) they wait behind
//! the large ones, 13–25 ms (over TCP, one stream too, 4.7–5.7 ms). One
//! sender streaming alone moves the same either way, since it uses one
//! lane: 1.8–2.1 M casts/s of 64 bytes (TCP 2.7–3.1 M/s, raw quinn frames
//! on one stream 8–13 M/s, in the same runs). Hence 8 lanes by default.
//! The receiving side gives each stream a turn worth 64 KiB of frames, so
//! a lane of small frames is not served one frame for each large frame of
//! another.
//!
//! # Call latency
//!
//! A call's request and its reply are written straight into their lane's
//! stream by the process sending them ([`FrameSink::send_now`]) when the
//! connection has nothing else queued, and all of an endpoint's quinn
//! drivers (the endpoint's own, which reads the socket, and one per
//! connection) are polled by one task, so a datagram reaches its
//! connection without waking another task. That second part matters on a
//! multi-threaded runtime: tokio runs at most three woken tasks in a row
//! on one worker, and with a task per driver, the node's reader and the
//! process made each side of a call one longer, so every call woke the
//! other worker and the two contended for the connection. Measured on a
//! 2-core machine (`remote_call_64b_in_task`, calls made from a task on a
//! 2-worker runtime): 13.5 µs against 9.9 µs for a raw quinn
//! request/response on one stream, where a task per driver took 49 µs;
//! made from the thread blocking on the runtime (`remote_call_64b`),
//! 71–76 µs against 58–61 µs (1.24–1.30×). The price is that one task
//! handles the packets of all of a node's peers: a node with many busy
//! peers can have a task per driver again with
//! [`QuicTransport::driver_tasks`].
//!
//! [`FrameSink::send_now`]: beamish_core::transport::FrameSink::send_now
//!
//! # Examples
//!
//! ```
//! use beamish_core::dist::Endpoint;
//! use beamish_core::transport::Transport;
//! use beamish_transport_quic::QuicTransport;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let quic = QuicTransport::dev()?;
//! let mut listener = quic.listen(&"quic://127.0.0.1:0".parse::<Endpoint>()?).await?;
//! let mut client = quic.connect(&listener.endpoint()).await?;
//! client.sink.send(vec![bytes::Bytes::from_static(b"hi")]).await?;
//! let mut server = listener.accept().await?;
//! let frame = server.stream.recv().await?.ok_or("a frame")?;
//! assert_eq!(&frame.payload[..], b"hi");
//! # Ok(())
//! # }
//! ```

mod drive;
mod recv;
mod send;

/// Application error codes in QUIC's close frames.
mod codes {
    /// An orderly close.
    pub(crate) const CLOSED: u32 = 0;
    /// A stream carried something unreadable.
    pub(crate) const BROKEN: u32 = 1;
}

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::dist::protocol::FrameCodec;
use beamish_core::dist::{Endpoint, HeartbeatConfig};
use beamish_core::transport::{Connection, Listener, Transport, TransportError};
use parking_lot::Mutex;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use beamish_tls::{TlsConfig, TlsError};

/// Why a QUIC transport could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuicError {
    /// The TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// quinn refused the TLS configuration (QUIC needs TLS 1.3).
    #[error("the TLS configuration does not suit QUIC: {0}")]
    Crypto(String),
}

/// The application protocol (ALPN) every connection negotiates: a QUIC
/// peer that speaks something else is refused during the handshake.
pub const ALPN: &[u8] = b"beamish";

/// The default number of streams (lanes) per connection.
pub const DEFAULT_LANES: usize = 8;

/// The most lanes a connection has.
pub const MAX_LANES: usize = 64;

/// The streams a peer may have open at once: one per lane, and one spare.
const PEER_STREAMS: u32 = MAX_LANES as u32 + 1;

/// Distribution over QUIC.
#[derive(Clone)]
pub struct QuicTransport {
    inner: Arc<Inner>,
}

struct Inner {
    server: quinn::ServerConfig,
    client: quinn::ClientConfig,
    tls: TlsConfig,
    settings: Settings,
    /// The endpoint outgoing connections use when the node does not listen.
    client_endpoint: Mutex<Option<quinn::Endpoint>>,
    /// The listening endpoint, which outgoing connections share.
    listening: Mutex<Option<quinn::Endpoint>>,
}

/// What the builder methods set.
#[derive(Debug, Clone, Copy)]
struct Settings {
    heartbeat: HeartbeatConfig,
    codec: FrameCodec,
    lanes: usize,
    /// quinn's drivers as a task each rather than one task per endpoint.
    driver_tasks: bool,
}

impl QuicTransport {
    /// A transport with `tls`, the default heartbeat (1 s tick, 4 missed),
    /// the default frame limit (8 MiB) and [`DEFAULT_LANES`] lanes.
    ///
    /// # Errors
    ///
    /// [`QuicError::Crypto`] if the TLS configuration cannot carry QUIC.
    pub fn new(tls: TlsConfig) -> Result<Self, QuicError> {
        Self::build(
            tls,
            Settings {
                heartbeat: HeartbeatConfig::default(),
                codec: FrameCodec::default(),
                lanes: DEFAULT_LANES,
                driver_tasks: false,
            },
        )
    }

    /// A transport in TLS development mode: a fresh self-signed certificate
    /// for localhost, 127.0.0.1 and ::1, and no verification of peers,
    /// which the cookie handshake alone authenticates.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn dev() -> Result<Self, QuicError> {
        Self::new(TlsConfig::self_signed_dev(&[
            "localhost",
            "127.0.0.1",
            "::1",
        ])?)
    }

    /// Ties QUIC's keep-alive to the node's heartbeat tick and its idle
    /// timeout to the ticks the node may miss, so QUIC gives up on a silent
    /// peer when the node would. Use the node's own `HeartbeatConfig`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn heartbeat(self, heartbeat: HeartbeatConfig) -> Result<Self, QuicError> {
        self.with(|settings| settings.heartbeat = heartbeat)
    }

    /// Refuses frames over `max` bytes.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn max_frame(self, max: usize) -> Result<Self, QuicError> {
        self.with(|settings| settings.codec = FrameCodec::new(max))
    }

    /// Uses `lanes` streams per connection (from 1 to [`MAX_LANES`]; 1
    /// puts everything on one ordered stream, as TCP does).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn lanes(self, lanes: usize) -> Result<Self, QuicError> {
        self.with(|settings| settings.lanes = lanes.clamp(1, MAX_LANES))
    }

    /// Runs each of quinn's drivers (the endpoint's, and one per
    /// connection) as a task of its own, as quinn does by default, instead
    /// of all of an endpoint's drivers in one task. Packets of different
    /// peers are then handled on several workers at once, which a node
    /// with many busy peers may want; a call takes longer (see "Call
    /// latency" in the crate docs).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn driver_tasks(self) -> Result<Self, QuicError> {
        self.with(|settings| settings.driver_tasks = true)
    }

    fn with(self, change: impl FnOnce(&mut Settings)) -> Result<Self, QuicError> {
        let mut settings = self.inner.settings;
        change(&mut settings);
        Self::build(self.inner.tls.clone(), settings)
    }

    /// The runtime an endpoint's drivers run on.
    fn drivers(&self) -> Arc<dyn quinn::Runtime> {
        if self.inner.settings.driver_tasks {
            Arc::new(quinn::TokioRuntime)
        } else {
            drive::Drivers::start()
        }
    }

    fn build(tls: TlsConfig, settings: Settings) -> Result<Self, QuicError> {
        let crypto = |err: &dyn fmt::Display| QuicError::Crypto(err.to_string());
        let tls = tls.alpn([ALPN]);
        let server_crypto =
            QuicServerConfig::try_from(tls.server_config()).map_err(|err| crypto(&err))?;
        let client_crypto =
            QuicClientConfig::try_from(tls.client_config()).map_err(|err| crypto(&err))?;
        let transport = Arc::new(transport_config(settings.heartbeat)?);
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
        server.transport_config(Arc::clone(&transport));
        let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
        client.transport_config(transport);
        Ok(Self {
            inner: Arc::new(Inner {
                server,
                client,
                tls,
                settings,
                client_endpoint: Mutex::new(None),
                listening: Mutex::new(None),
            }),
        })
    }

    /// An endpoint to connect from: the listening one if it can reach
    /// `to`, or one of its own.
    fn endpoint_for(&self, to: SocketAddr) -> Result<quinn::Endpoint, TransportError> {
        if let Some(endpoint) = self.inner.listening.lock().clone() {
            if endpoint
                .local_addr()
                .is_ok_and(|local| can_reach(local.ip(), to.ip()))
            {
                return Ok(endpoint);
            }
        }
        let mut client = self.inner.client_endpoint.lock();
        if let Some(endpoint) = client.clone() {
            if endpoint
                .local_addr()
                .is_ok_and(|local| local.is_ipv6() == to.is_ipv6())
            {
                return Ok(endpoint);
            }
        }
        let any: IpAddr = if to.is_ipv6() {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        let socket = std::net::UdpSocket::bind(SocketAddr::new(any, 0)).map_err(io)?;
        let mut endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            None,
            socket,
            self.drivers(),
        )
        .map_err(io)?;
        endpoint.set_default_client_config(self.inner.client.clone());
        *client = Some(endpoint.clone());
        Ok(endpoint)
    }
}

/// QUIC's own liveness, from the node's heartbeat: keep-alives every
/// tick, and the connection dropped after the ticks the node may miss.
fn transport_config(heartbeat: HeartbeatConfig) -> Result<quinn::TransportConfig, QuicError> {
    let mut config = quinn::TransportConfig::default();
    let idle = heartbeat
        .tick
        .saturating_mul(heartbeat.missed.max(1))
        .max(Duration::from_millis(10));
    config.keep_alive_interval(Some(heartbeat.tick));
    config.max_idle_timeout(Some(
        quinn::IdleTimeout::try_from(idle).map_err(|err| QuicError::Crypto(err.to_string()))?,
    ));
    // The same allowance whatever this side's lanes, so that peers set up
    // with different lanes still reach each other.
    config.max_concurrent_uni_streams(quinn::VarInt::from_u32(PEER_STREAMS));
    config.max_concurrent_bidi_streams(quinn::VarInt::from_u32(0));
    Ok(config)
}

/// Whether a socket bound to `local` can send to `to`: the same address
/// family, and a loopback socket only to loopback addresses.
fn can_reach(local: IpAddr, to: IpAddr) -> bool {
    local.is_ipv6() == to.is_ipv6()
        && (local.is_unspecified() || !local.is_loopback() || to.is_loopback())
}

/// A connection's two halves over `conn`.
fn connection(conn: quinn::Connection, codec: FrameCodec, lanes: usize) -> Connection {
    let peer = format!("quic://{}", conn.remote_address());
    let sink = send::QuicSink::new(conn.clone(), codec, lanes);
    let frames = recv::frames(conn, codec);
    Connection::new(Box::new(sink), Box::new(frames), peer)
}

fn io(err: std::io::Error) -> TransportError {
    TransportError::Io(err.to_string())
}

fn address(endpoint: &Endpoint) -> Result<(String, u16), TransportError> {
    match endpoint {
        Endpoint::Quic { host, port } => Ok((host.clone(), *port)),
        other => Err(TransportError::WrongScheme {
            expected: "quic",
            endpoint: other.to_string(),
        }),
    }
}

async fn resolve(host: &str, port: u16, endpoint: &Endpoint) -> Result<SocketAddr, TransportError> {
    tokio::net::lookup_host((host, port))
        .await
        .map_err(io)?
        .next()
        .ok_or_else(|| TransportError::Unreachable(endpoint.to_string()))
}

#[async_trait]
impl Transport for QuicTransport {
    fn scheme(&self) -> &'static str {
        "quic"
    }

    async fn listen(&self, endpoint: &Endpoint) -> Result<Box<dyn Listener>, TransportError> {
        let (host, port) = address(endpoint)?;
        let at = resolve(&host, port, endpoint).await?;
        let in_use = |err: std::io::Error| {
            if err.kind() == std::io::ErrorKind::AddrInUse {
                TransportError::InUse(endpoint.to_string())
            } else {
                io(err)
            }
        };
        let socket = std::net::UdpSocket::bind(at).map_err(in_use)?;
        let mut quinn_endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(self.inner.server.clone()),
            socket,
            self.drivers(),
        )
        .map_err(io)?;
        quinn_endpoint.set_default_client_config(self.inner.client.clone());
        let bound = quinn_endpoint.local_addr().map_err(io)?;
        *self.inner.listening.lock() = Some(quinn_endpoint.clone());
        let (accepted, task) = accept(
            quinn_endpoint.clone(),
            self.inner.settings.codec,
            self.inner.settings.lanes,
        );
        Ok(Box::new(QuicListener {
            endpoint: Endpoint::Quic {
                host: bound.ip().to_string(),
                port: bound.port(),
            },
            accepted,
            quinn: quinn_endpoint,
            task,
        }))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Connection, TransportError> {
        let (host, port) = address(endpoint)?;
        let to = resolve(&host, port, endpoint).await?;
        let name = self
            .inner
            .tls
            .name_for(&host)
            .map_err(|err| TransportError::Io(err.to_string()))?;
        let quinn_endpoint = self.endpoint_for(to)?;
        let connecting = quinn_endpoint
            .connect_with(self.inner.client.clone(), to, &name.to_str())
            .map_err(|err| TransportError::Io(format!("cannot connect to {endpoint}: {err}")))?;
        let conn = connecting.await.map_err(|err| match err {
            quinn::ConnectionError::TimedOut => TransportError::Unreachable(endpoint.to_string()),
            other => TransportError::Io(format!("QUIC handshake with {endpoint}: {other}")),
        })?;
        Ok(connection(
            conn,
            self.inner.settings.codec,
            self.inner.settings.lanes,
        ))
    }
}

/// Accepts connections, each handshake in a task of its own so that a
/// slow or hostile client holds up no one else.
fn accept(
    endpoint: quinn::Endpoint,
    codec: FrameCodec,
    lanes: usize,
) -> (mpsc::Receiver<Connection>, JoinHandle<()>) {
    let (done, accepted) = mpsc::channel(16);
    let task = tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            let done = done.clone();
            tokio::spawn(async move {
                let peer = incoming.remote_address();
                match incoming.await {
                    Ok(conn) => {
                        let _ = done.send(connection(conn, codec, lanes)).await;
                    }
                    Err(err) => tracing::warn!(%peer, "refused a QUIC connection: {err}"),
                }
            });
        }
    });
    (accepted, task)
}

struct QuicListener {
    endpoint: Endpoint,
    accepted: mpsc::Receiver<Connection>,
    /// The socket, which outgoing connections may share.
    quinn: quinn::Endpoint,
    task: JoinHandle<()>,
}

impl fmt::Debug for QuicListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicListener")
            .field("endpoint", &self.endpoint.to_string())
            .finish()
    }
}

/// A dropped listener refuses new connections; those already made, and
/// outgoing ones sharing its socket, carry on.
impl Drop for QuicListener {
    fn drop(&mut self) {
        self.task.abort();
        self.quinn.set_server_config(None);
    }
}

#[async_trait]
impl Listener for QuicListener {
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    async fn accept(&mut self) -> Result<Connection, TransportError> {
        self.accepted
            .recv()
            .await
            .ok_or_else(|| TransportError::Closed("the listener stopped".into()))
    }
}

impl fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicTransport")
            .field("tls", &self.inner.tls)
            .field("lanes", &self.inner.settings.lanes)
            .finish_non_exhaustive()
    }
}
