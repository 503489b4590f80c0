//! The TCP transport on loopback: frames in order both ways, batches, the
//! frame limit on both sides, clean close, refused connections, and a
//! two-node cluster sending messages over it.

use std::sync::Arc;

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{Connection, Listener, SentNow, Transport, TransportError};
use beamish_core::{
    async_trait, ClusterConfig, Context, ExitReason, Node, NodeName, Process, SpawnOpts,
};
use beamish_transport_tcp::TcpTransport;
use bytes::Bytes;
use tokio::sync::mpsc;

fn any_port() -> Endpoint {
    "tcp://127.0.0.1:0".parse().expect("valid")
}

async fn pair(tcp: TcpTransport) -> (Box<dyn Listener>, Connection, Connection) {
    let mut listener = tcp.listen(&any_port()).await.expect("listens");
    let client = tcp.connect(&listener.endpoint()).await.expect("connects");
    let server = listener.accept().await.expect("accepts");
    (listener, client, server)
}

async fn recv(conn: &mut Connection) -> Result<Option<Bytes>, TransportError> {
    conn.stream.recv().await.map(|f| f.map(|f| f.payload))
}

#[tokio::test]
async fn frames_flow_in_order_both_ways() {
    let (_listener, mut client, mut server) = pair(TcpTransport::new()).await;
    assert!(server.peer.starts_with("tcp://127.0.0.1:"));
    let frames: Vec<Bytes> = (0..10_000_u32)
        .map(|i| Bytes::from(i.to_be_bytes().to_vec()))
        .collect();
    for batch in frames.chunks(100) {
        client.sink.send(batch.to_vec()).await.expect("sends");
    }
    for frame in &frames {
        assert_eq!(recv(&mut server).await, Ok(Some(frame.clone())));
    }
    server
        .sink
        .send(vec![Bytes::new(), Bytes::from_static(b"back")])
        .await
        .expect("sends");
    assert_eq!(recv(&mut client).await, Ok(Some(Bytes::new())));
    assert_eq!(
        recv(&mut client).await,
        Ok(Some(Bytes::from_static(b"back")))
    );
    client.sink.close().await;
    assert_eq!(recv(&mut server).await, Ok(None));
}

#[tokio::test]
async fn the_frame_limit_holds_on_both_sides() {
    let (_listener, mut client, mut server) = pair(TcpTransport::with_max_frame(16)).await;
    let err = client.sink.send(vec![Bytes::from(vec![0; 17])]).await;
    assert!(matches!(err, Err(TransportError::Io(_))), "{err:?}");
    // A peer with a larger limit sends a frame this side refuses.
    let mut listener = TcpTransport::with_max_frame(16)
        .listen(&any_port())
        .await
        .expect("listens");
    let mut big_client = TcpTransport::new()
        .connect(&listener.endpoint())
        .await
        .expect("connects");
    let mut small_server = listener.accept().await.expect("accepts");
    big_client
        .sink
        .send(vec![Bytes::from(vec![1; 1000])])
        .await
        .expect("sends");
    assert!(matches!(
        recv(&mut small_server).await,
        Err(TransportError::Io(_))
    ));
    // The first pair still works.
    client
        .sink
        .send(vec![Bytes::from_static(b"ok")])
        .await
        .expect("sends");
    assert_eq!(recv(&mut server).await, Ok(Some(Bytes::from_static(b"ok"))));
}

#[tokio::test]
async fn refused_and_wrong_endpoints_are_errors() {
    let tcp = TcpTransport::new();
    let listener = tcp.listen(&any_port()).await.expect("listens");
    let taken = listener.endpoint();
    assert!(matches!(
        tcp.listen(&taken).await,
        Err(TransportError::InUse(_))
    ));
    drop(listener);
    assert!(matches!(
        tcp.connect(&taken).await,
        Err(TransportError::Unreachable(_))
    ));
    let local: Endpoint = "local://x".parse().expect("valid");
    assert!(matches!(
        tcp.connect(&local).await,
        Err(TransportError::WrongScheme { .. })
    ));
}

struct Collector {
    out: mpsc::UnboundedSender<String>,
}

#[async_trait]
impl Process for Collector {
    type Args = mpsc::UnboundedSender<String>;
    type Msg = String;

    async fn init(_ctx: &mut Context<String>, out: Self::Args) -> Result<Self, ExitReason> {
        Ok(Collector { out })
    }

    async fn handle(&mut self, _ctx: &mut Context<String>, msg: String) -> Result<(), ExitReason> {
        let _ = self.out.send(msg);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_talk_over_tcp() {
    let transports = || -> Vec<Arc<dyn Transport>> { vec![Arc::new(TcpTransport::new())] };
    let a = Node::builder()
        .name("a@localhost")
        .build()
        .expect("runtime");
    let b = Node::builder()
        .name("b@localhost")
        .build()
        .expect("runtime");
    let config = ClusterConfig::new(Cookie::new("tcp-test"));
    a.join(config.clone(), transports(), &[])
        .await
        .expect("joins");
    let listening = b
        .join(config, transports(), &[any_port()])
        .await
        .expect("joins");
    let (tx, mut got) = mpsc::unbounded_channel();
    let collector = b
        .start::<Collector>(tx, SpawnOpts::new().name("collector"))
        .await
        .expect("starts");
    b.export(&collector);
    let b_name = a.connect(&listening[0]).await.expect("connects");
    assert_eq!(b_name, NodeName::new("b@localhost").expect("valid"));
    for i in 0..1000 {
        a.send_remote_named(b_name, "collector", &format!("message {i}"))
            .expect("sent");
    }
    for i in 0..1000 {
        assert_eq!(got.recv().await, Some(format!("message {i}")));
    }
    assert_eq!(
        b.nodes(),
        vec![NodeName::new("a@localhost").expect("valid")]
    );
}

/// A 300 000-byte frame numbered `n`: larger than what a socket takes
/// at the end, so the last write is cut short.
fn numbered(n: u32) -> Bytes {
    let mut frame = vec![0; 300_000];
    frame[..4].copy_from_slice(&n.to_be_bytes());
    Bytes::from(frame)
}

#[tokio::test]
async fn frames_written_at_once_keep_their_order_when_the_socket_fills() {
    let (_listener, mut client, mut server) = pair(TcpTransport::new()).await;
    // Nobody reads: write at once until the socket takes no more.
    let mut taken = 0_u32;
    let unfinished = loop {
        assert!(taken < 100_000, "the socket never filled");
        match client.sink.send_now(0, &numbered(taken)) {
            Ok(SentNow::Taken) => taken += 1,
            Ok(SentNow::Unfinished) => {
                taken += 1;
                break true;
            }
            Ok(SentNow::Refused) => break false,
            other => panic!("{other:?}"),
        }
    };
    // A frame this large hardly ever fits the room left exactly.
    assert!(unfinished, "the last write was cut short");
    // Part of a frame waits: nothing may be written at once before it.
    assert_eq!(
        client.sink.send_now(0, &numbered(taken)),
        Ok(SentNow::Refused)
    );
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..=taken {
            let frame = recv(&mut server).await.expect("open").expect("a frame");
            assert_eq!(frame.len(), 300_000);
            got.push(u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]));
        }
        got
    });
    // The next send finishes what was left, then writes its own.
    client
        .sink
        .send(vec![numbered(taken)])
        .await
        .expect("sends");
    let got = reader.await.expect("read");
    assert_eq!(got, (0..=taken).collect::<Vec<_>>());
}
