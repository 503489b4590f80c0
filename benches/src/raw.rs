//! Raw baselines for the distribution benches: the same traffic over bare
//! tokio TCP and bare quinn, with length-prefixed frames and no node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish::dist::FrameCodec;
use bytes::BytesMut;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// At most this much is written at once.
const WRITE: u64 = 4 << 20;

/// `count` frames of `size` bytes, encoded in writes of at most 4 MiB.
fn writes(count: u64, size: usize) -> impl Iterator<Item = BytesMut> {
    let codec = FrameCodec::default();
    let frame = vec![b'x'; size];
    let per_write = (WRITE / (size as u64 + 4)).clamp(1, 256);
    let mut left = count;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let now = left.min(per_write);
        let mut out = BytesMut::with_capacity(now as usize * (size + 4));
        for _ in 0..now {
            codec.encode(&frame, &mut out).expect("fits");
        }
        left -= now;
        Some(out)
    })
}

/// Reads frames until `count` have arrived.
async fn read_frames(mut read: impl AsyncReadExt + Unpin, count: u64) {
    let codec = FrameCodec::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut seen = 0;
    while seen < count {
        while let Ok(Some(_frame)) = codec.decode(&mut buf) {
            seen += 1;
        }
        if seen >= count {
            break;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        if read.read_buf(&mut buf).await.unwrap_or(0) == 0 {
            break;
        }
    }
}

/// Streams `count` frames of `size` bytes over a tokio TCP connection.
pub async fn tcp_frames(count: u64, size: usize) -> Duration {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let at = listener.local_addr().expect("bound");
    let (done, finished) = oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepts");
        read_frames(socket, count).await;
        let _ = done.send(());
    });
    let mut socket = tokio::net::TcpStream::connect(at).await.expect("connects");
    socket.set_nodelay(true).expect("nodelay");
    let start = Instant::now();
    for out in writes(count, size) {
        socket.write_all(&out).await.expect("writes");
    }
    finished.await.expect("all read");
    start.elapsed()
}

/// `iters` round trips of a 64-byte frame over a tokio TCP connection.
pub async fn tcp_echo(iters: u64) -> Duration {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let at = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accepts");
        socket.set_nodelay(true).expect("nodelay");
        let mut frame = [0_u8; 68];
        while socket.read_exact(&mut frame).await.is_ok() {
            if socket.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let mut socket = tokio::net::TcpStream::connect(at).await.expect("connects");
    socket.set_nodelay(true).expect("nodelay");
    let out = writes(1, 64).next().expect("a frame");
    let mut back = [0_u8; 68];
    let start = Instant::now();
    for _ in 0..iters {
        socket.write_all(&out).await.expect("writes");
        socket.read_exact(&mut back).await.expect("reads");
    }
    start.elapsed()
}

/// Two quinn endpoints on loopback with a self-signed certificate, and a
/// connection from the second to the first.
async fn quic_pair() -> (quinn::Endpoint, quinn::Connection, quinn::Connection) {
    let tls = beamish_tls::TlsConfig::self_signed_dev(&["localhost"]).expect("a certificate");
    let server = QuicServerConfig::try_from(tls.server_config()).expect("TLS 1.3");
    let client = QuicClientConfig::try_from(tls.client_config()).expect("TLS 1.3");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("valid");
    let listener = quinn::Endpoint::server(quinn::ServerConfig::with_crypto(Arc::new(server)), any)
        .expect("binds");
    let at = listener.local_addr().expect("bound");
    let mut dialer = quinn::Endpoint::client(any).expect("binds");
    dialer.set_default_client_config(quinn::ClientConfig::new(Arc::new(client)));
    let connecting = dialer.connect(at, "localhost").expect("connects");
    let incoming = listener.accept().await.expect("an incoming connection");
    let (ours, theirs) = tokio::join!(connecting, incoming);
    (dialer, ours.expect("connected"), theirs.expect("accepted"))
}

/// Streams `count` frames of `size` bytes on one quinn stream.
pub async fn quic_frames(count: u64, size: usize) -> Duration {
    let (_dialer, ours, theirs) = quic_pair().await;
    let (done, finished) = oneshot::channel();
    tokio::spawn(async move {
        let stream = theirs.accept_uni().await.expect("a stream");
        read_frames(stream, count).await;
        let _ = done.send(());
    });
    let mut stream = ours.open_uni().await.expect("a stream");
    let start = Instant::now();
    for out in writes(count, size) {
        stream.write_all(&out).await.expect("writes");
    }
    finished.await.expect("all read");
    start.elapsed()
}

/// `iters` round trips of a 64-byte frame on one quinn stream.
pub async fn quic_echo(iters: u64) -> Duration {
    let (_dialer, ours, theirs) = quic_pair().await;
    tokio::spawn(async move {
        let (mut send, mut recv) = theirs.accept_bi().await.expect("a stream");
        let mut frame = [0_u8; 68];
        while recv.read_exact(&mut frame).await.is_ok() {
            if send.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let (mut send, mut recv) = ours.open_bi().await.expect("a stream");
    let out = writes(1, 64).next().expect("a frame");
    let mut back = [0_u8; 68];
    let start = Instant::now();
    for _ in 0..iters {
        send.write_all(&out).await.expect("writes");
        recv.read_exact(&mut back).await.expect("reads");
    }
    start.elapsed()
}
