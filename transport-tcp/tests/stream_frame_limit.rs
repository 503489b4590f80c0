//! The limit a node sets on a stream (`FrameStream::set_max_frame`): a
//! header announcing a larger frame ends the stream at once, before the
//! frame's bytes arrive; a limit raised later applies from the next
//! frame, never above the transport's own.

use std::time::Duration;

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Transport};
use beamish_transport_tcp::TcpTransport;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A bound on waits that should end at once; never slept.
const PROMPTLY: Duration = Duration::from_secs(10);

/// A raw client socket and the transport's side of it.
async fn raw_pair(tcp: TcpTransport) -> (TcpStream, Connection) {
    let any: Endpoint = "tcp://127.0.0.1:0".parse().expect("valid");
    let mut listener = tcp.listen(&any).await.expect("listens");
    let Endpoint::Tcp { host, port } = listener.endpoint() else {
        panic!("a TCP endpoint");
    };
    let client = TcpStream::connect((host.as_str(), port))
        .await
        .expect("connects");
    let server = listener.accept().await.expect("accepts");
    (client, server)
}

fn frame(size: usize) -> Vec<u8> {
    let mut bytes = u32::try_from(size).expect("small").to_be_bytes().to_vec();
    bytes.resize(4 + size, 0xab);
    bytes
}

#[tokio::test]
async fn a_header_over_the_limit_ends_the_stream_before_the_frame_arrives() {
    let (mut client, mut server) = raw_pair(TcpTransport::new()).await;
    server.stream.set_max_frame(4096);
    client.write_all(&frame(4096)).await.expect("written");
    let got = server.stream.recv().await.expect("a frame at the limit");
    assert_eq!(got.map(|f| f.payload.len()), Some(4096));
    // A header for 1 MiB, and only a little of the frame.
    client
        .write_all(&(1_u32 << 20).to_be_bytes())
        .await
        .expect("written");
    client.write_all(&[0xab; 100]).await.expect("written");
    let got = tokio::time::timeout(PROMPTLY, server.stream.recv())
        .await
        .expect("the stream ends without waiting for the rest of the frame");
    assert!(got.is_err(), "an error, not a frame: {got:?}");
}

#[tokio::test]
async fn a_raised_limit_applies_but_not_above_the_transports_own() {
    let (mut client, mut server) = raw_pair(TcpTransport::with_max_frame(64 * 1024)).await;
    server.stream.set_max_frame(16);
    server.stream.set_max_frame(1 << 20);
    client.write_all(&frame(64 * 1024)).await.expect("written");
    let got = server
        .stream
        .recv()
        .await
        .expect("a frame under both limits");
    assert_eq!(got.map(|f| f.payload.len()), Some(64 * 1024));
    client
        .write_all(&frame(64 * 1024 + 1)[..4])
        .await
        .expect("written");
    let got = tokio::time::timeout(PROMPTLY, server.stream.recv())
        .await
        .expect("the stream ends at the header");
    assert!(got.is_err(), "over the transport's own limit: {got:?}");
}
