//! A TLS listener runs a bounded number of handshakes at once:
//! connections beyond the cap are closed at once, with one warning for
//! the lot, and a client that comes once a place is free gets in.

mod support;

use std::io::ErrorKind;
use std::time::Duration;

use beamish_core::dist::Endpoint;
use beamish_core::transport::Transport;
use beamish_tls::testing::TestCa;
use beamish_transport_tcp::TcpTransport;
use bytes::Bytes;
use support::{any_port, recv, within, Logs};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A refused connection is closed well before a handshake would time
/// out (10 s).
const PROMPTLY: Duration = Duration::from_secs(3);

#[tokio::test]
async fn connections_beyond_the_tls_handshake_cap_are_closed_at_once() {
    let (logs, _logging) = Logs::capture();
    let ca = TestCa::new().expect("a CA");
    let tls = TcpTransport::new()
        .tls(ca.issue(&ca).expect("issued").config().expect("config"))
        .max_tls_handshakes(2);
    let mut listener = tls.listen(&any_port()).await.expect("listens");
    let endpoint = listener.endpoint();
    let Endpoint::Tcp { host, port } = &endpoint else {
        panic!("a TCP endpoint: {endpoint}");
    };
    let address = format!("{host}:{port}");

    // Connections are accepted in the order they came: the first two,
    // which never say a word, take both places.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(&address).await.expect("connects"));
    }
    for _ in 0..3 {
        let mut extra = TcpStream::connect(&address).await.expect("connects");
        let mut byte = [0; 1];
        let read = tokio::time::timeout(PROMPTLY, extra.read(&mut byte))
            .await
            .expect("a connection beyond the cap is closed at once");
        assert!(matches!(read, Ok(0) | Err(_)), "closed: {read:?}");
    }
    for stream in &silent {
        let mut byte = [0; 1];
        let read = stream.try_read(&mut byte);
        assert!(
            matches!(&read, Err(err) if err.kind() == ErrorKind::WouldBlock),
            "the first two are still in their handshake: {read:?}"
        );
    }
    let refusals = logs
        .lines()
        .into_iter()
        .filter(|line| line.contains("2 TLS handshakes are already in progress"))
        .count();
    assert_eq!(refusals, 1, "one warning for the three refusals");

    // One of the silent two leaves; once the listener has let its place
    // go, a real client completes its handshake.
    let leaving = silent.remove(0);
    let left = leaving.local_addr().expect("an address").to_string();
    drop(leaving);
    within(
        "the listener gives up on the client that left",
        logs.wait_for(1, |line| {
            line.contains("refused a TLS connection") && line.contains(&left)
        }),
    )
    .await;
    let mut client = within("a handshake", tls.connect(&endpoint))
        .await
        .expect("connects");
    let mut server = within("accepted", listener.accept())
        .await
        .expect("accepts");
    client
        .sink
        .send(vec![Bytes::from_static(b"in")])
        .await
        .expect("sends");
    assert_eq!(
        within("a frame", recv(&mut server)).await,
        Ok(Some(Bytes::from_static(b"in")))
    );
}
