//! Raw baselines for the distribution benches: the same traffic over bare
//! tokio TCP and bare quinn, with length-prefixed frames and no node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish::dist::protocol::FrameCodec;
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

/// Plain lapin: `count` 64-byte messages through a fresh queue, publisher
/// and consumer in one process. Transient without confirms and with
/// automatic acknowledgements; or (`durable`) persistent into a durable
/// queue with publisher confirms, at most 256 unconfirmed, and manual
/// acknowledgements under a prefetch of 200.
pub async fn lapin_stream(count: u64, durable: bool) -> Duration {
    use futures_lite::StreamExt;
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::FieldTable;
    use lapin::BasicProperties;

    let conn = lapin_connection().await;
    let publish = conn.create_channel().await.expect("a channel");
    let consume = conn.create_channel().await.expect("a channel");
    let queue = format!("beamish-bench-{}", unique());
    let options = QueueDeclareOptions {
        durable,
        auto_delete: !durable,
        ..QueueDeclareOptions::default()
    };
    consume
        .queue_declare(queue.as_str().into(), options, FieldTable::default())
        .await
        .expect("declared");
    if durable {
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        consume
            .basic_qos(200, BasicQosOptions::default())
            .await
            .expect("qos");
    }
    let mut consumer = consume
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions {
                no_ack: !durable,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consuming");
    let (done, finished) = oneshot::channel();
    tokio::spawn(async move {
        let mut seen = 0;
        while seen < count {
            let Some(Ok(delivery)) = consumer.next().await else {
                break;
            };
            if durable {
                delivery
                    .ack(BasicAckOptions::default())
                    .await
                    .expect("acknowledged");
            }
            seen += 1;
        }
        let _ = done.send(());
    });
    let payload = [b'x'; 64];
    let props = if durable {
        BasicProperties::default().with_delivery_mode(2)
    } else {
        BasicProperties::default()
    };
    let start = Instant::now();
    let mut in_flight = std::collections::VecDeque::new();
    for _ in 0..count {
        let confirm = publish
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                props.clone(),
            )
            .await
            .expect("published");
        if durable {
            in_flight.push_back(confirm);
            if in_flight.len() >= 256 {
                if let Some(oldest) = in_flight.pop_front() {
                    oldest.await.expect("confirmed");
                }
            }
        }
    }
    for confirm in in_flight {
        confirm.await.expect("confirmed");
    }
    finished.await.expect("all consumed");
    let elapsed = start.elapsed();
    let _ = consume
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(200, "done".into()).await;
    elapsed
}

/// Plain lapin: `iters` request/response round trips of 64 bytes, the
/// responder answering on the request's `reply_to` queue.
pub async fn lapin_rpc(iters: u64) -> Duration {
    use futures_lite::StreamExt;
    use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use lapin::BasicProperties;

    let conn = lapin_connection().await;
    let server = conn.create_channel().await.expect("a channel");
    let client = conn.create_channel().await.expect("a channel");
    let id = unique();
    let (requests, replies) = (format!("beamish-rpc-{id}"), format!("beamish-reply-{id}"));
    let temporary = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    for (channel, queue) in [(&server, &requests), (&client, &replies)] {
        channel
            .queue_declare(queue.as_str().into(), temporary, FieldTable::default())
            .await
            .expect("declared");
    }
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    let mut incoming = server
        .basic_consume(
            requests.as_str().into(),
            "server".into(),
            no_ack,
            FieldTable::default(),
        )
        .await
        .expect("consuming");
    tokio::spawn(async move {
        while let Some(Ok(request)) = incoming.next().await {
            let Some(reply_to) = request.properties.reply_to().clone() else {
                continue;
            };
            let _ = server
                .basic_publish(
                    "".into(),
                    reply_to,
                    BasicPublishOptions::default(),
                    &request.data,
                    BasicProperties::default(),
                )
                .await;
        }
    });
    let mut answers = client
        .basic_consume(
            replies.as_str().into(),
            "client".into(),
            no_ack,
            FieldTable::default(),
        )
        .await
        .expect("consuming");
    let payload = [b'x'; 64];
    let start = Instant::now();
    for _ in 0..iters {
        client
            .basic_publish(
                "".into(),
                requests.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_reply_to(replies.as_str().into()),
            )
            .await
            .expect("published");
        answers.next().await.expect("open").expect("an answer");
    }
    let elapsed = start.elapsed();
    let _ = conn.close(200, "done".into()).await;
    elapsed
}

async fn lapin_connection() -> lapin::Connection {
    lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("the broker on 127.0.0.1:5672")
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}
