//! A peer that falls silent (here: every packet dropped between the two,
//! as when its machine dies) is declared lost after the node's heartbeat
//! allowance: `recv` fails and `send` says the connection is closed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish_core::dist::{Endpoint, HeartbeatConfig};
use beamish_core::transport::{Transport, TransportError};
use beamish_transport_quic::QuicTransport;
use bytes::Bytes;
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(20);

/// Relays datagrams between one client and `server` until `cut` is set,
/// then drops them all.
async fn relay(server: SocketAddr, cut: Arc<AtomicBool>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bound");
    let at = socket.local_addr().expect("an address");
    tokio::spawn(async move {
        let mut client = None;
        let mut buffer = vec![0_u8; 65_536];
        while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
            if cut.load(Ordering::SeqCst) {
                continue;
            }
            let to = if from == server {
                match client {
                    Some(client) => client,
                    None => continue,
                }
            } else {
                client = Some(from);
                server
            };
            let _ = socket.send_to(&buffer[..len], to).await;
        }
    });
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_lost_after_the_heartbeat_allowance() {
    let heartbeat = HeartbeatConfig {
        tick: Duration::from_millis(100),
        missed: 3,
    };
    let quic = QuicTransport::dev()
        .expect("dev")
        .heartbeat(heartbeat)
        .expect("configured");
    let any: Endpoint = "quic://127.0.0.1:0".parse().expect("valid");
    let mut listener = quic.listen(&any).await.expect("listens");
    let Endpoint::Quic { port, .. } = listener.endpoint() else {
        panic!("a QUIC endpoint");
    };
    let cut = Arc::new(AtomicBool::new(false));
    let via = relay(SocketAddr::from(([127, 0, 0, 1], port)), Arc::clone(&cut)).await;
    let through = Endpoint::Quic {
        host: via.ip().to_string(),
        port: via.port(),
    };
    // A client of its own, so that it does not share the server's socket.
    let client = QuicTransport::dev()
        .expect("dev")
        .heartbeat(heartbeat)
        .expect("configured");
    let mut a = client.connect(&through).await.expect("connected");
    a.sink
        .send(vec![Bytes::from_static(b"before")])
        .await
        .expect("sent");
    let mut b = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    let first = tokio::time::timeout(WAIT, b.stream.recv())
        .await
        .expect("in time")
        .expect("open")
        .expect("a frame");
    assert_eq!(&first.payload[..], b"before");

    // Twice the allowance passes with nothing sent: keep-alives hold the
    // idle connection up. (Time passing is what is tested here.)
    tokio::time::sleep(Duration::from_millis(600)).await;
    a.sink
        .send(vec![Bytes::from_static(b"still here")])
        .await
        .expect("still up");
    let again = tokio::time::timeout(WAIT, b.stream.recv())
        .await
        .expect("in time")
        .expect("open")
        .expect("a frame");
    assert_eq!(&again.payload[..], b"still here");

    cut.store(true, Ordering::SeqCst);
    let since = Instant::now();
    let lost = tokio::time::timeout(WAIT, a.stream.recv())
        .await
        .expect("the loss is noticed in time");
    assert!(matches!(lost, Err(TransportError::Closed(_))), "{lost:?}");
    let took = since.elapsed();
    assert!(took >= Duration::from_millis(200), "lost after {took:?}");
    let sent = a.sink.send(vec![Bytes::from_static(b"after")]).await;
    assert!(matches!(sent, Err(TransportError::Closed(_))), "{sent:?}");
    let lost = tokio::time::timeout(WAIT, b.stream.recv())
        .await
        .expect("the server notices too");
    assert!(matches!(lost, Err(TransportError::Closed(_))), "{lost:?}");
}
