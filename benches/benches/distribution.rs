//! Distribution benches, two nodes in one process, over TCP on loopback
//! and over the in-process transport, each group beside a raw tokio TCP
//! baseline: streaming 64-byte casts (messages/s) beside a raw stream of
//! 64-byte length-prefixed frames with batched writes; 64 KiB casts (MB/s)
//! beside raw 64 KiB frames; a remote call round trip with a 64-byte
//! payload beside a raw TCP echo.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish::dist::{Cookie, Endpoint, FrameCodec};
use beamish::tcp::TcpTransport;
use beamish::transport::{LocalNetwork, Transport};
use beamish::{async_trait, ClusterConfig, Context, ExitReason, Node, Pid, Process};
use beamish_benches::{runtime, Flavor};
use bytes::BytesMut;
use criterion::measurement::WallTime;
use criterion::{criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// 64-byte messages per round.
const MESSAGES: u64 = 200_000;
/// 64 KiB messages per round (128 MiB).
const LARGE: u64 = 2_048;

/// Counts messages; reports each time it has seen a round's worth.
struct Count {
    seen: u64,
    round: u64,
    rounds: mpsc::UnboundedSender<()>,
}

#[async_trait]
impl Process for Count {
    type Args = (u64, mpsc::UnboundedSender<()>);
    type Msg = String;

    async fn init(
        _ctx: &mut Context<String>,
        (round, rounds): Self::Args,
    ) -> Result<Self, ExitReason> {
        Ok(Count {
            seen: 0,
            round,
            rounds,
        })
    }

    async fn handle(&mut self, _ctx: &mut Context<String>, _msg: String) -> Result<(), ExitReason> {
        self.seen += 1;
        if self.seen % self.round == 0 {
            let _ = self.rounds.send(());
        }
        Ok(())
    }
}

/// The sending node, the counter's pid, and the counter's round reports.
type Setup = (Node, Pid, mpsc::UnboundedReceiver<()>);

/// Two joined nodes; the second runs an exported counter.
async fn two_nodes(
    transport: impl Fn(&str) -> Arc<dyn Transport>,
    listen: Endpoint,
    round: u64,
) -> Setup {
    let config = ClusterConfig::new(Cookie::new("bench"));
    let a = Node::builder()
        .name("a@localhost")
        .build()
        .expect("runtime");
    let b = Node::builder()
        .name("b@localhost")
        .build()
        .expect("runtime");
    a.join(config.clone(), vec![transport("a")], &[])
        .await
        .expect("joins");
    let at = b
        .join(config, vec![transport("b")], &[listen])
        .await
        .expect("joins");
    let (tx, rounds) = mpsc::unbounded_channel();
    let counter = b.spawn::<Count>((round, tx)).expect("spawns");
    b.export(&counter);
    a.connect(&at[0]).await.expect("connects");
    // Keep b alive as long as the counter's task runs.
    std::mem::forget(b);
    (a, counter.pid(), rounds)
}

fn streaming_casts(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_cast_64b");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(MESSAGES));
    casts(&mut group, 64, MESSAGES);
    group.finish();
}

fn large_casts(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_cast_64k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Bytes(LARGE * 64 * 1024));
    casts(&mut group, 64 * 1024, LARGE);
    group.finish();
}

/// Rounds of `round` casts of `size` bytes, over each transport and raw.
fn casts(group: &mut BenchmarkGroup<'_, WallTime>, size: usize, round: u64) {
    let rt = runtime(Flavor::MultiThread);
    let payload = "x".repeat(size);
    let net = LocalNetwork::new();
    let setups: Vec<(&str, Setup)> = vec![
        (
            "tcp",
            rt.block_on(two_nodes(
                |_| Arc::new(TcpTransport::new()),
                "tcp://127.0.0.1:0".parse().expect("valid"),
                round,
            )),
        ),
        (
            "local",
            rt.block_on(two_nodes(
                |name| Arc::new(net.transport(name)),
                "local://b".parse().expect("valid"),
                round,
            )),
        ),
    ];
    for (name, (a, counter, mut rounds)) in setups {
        group.bench_function(BenchmarkId::new("beamish", name), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        for _ in 0..round {
                            a.send_remote(counter, &payload).expect("connected");
                        }
                        rounds.recv().await.expect("a round arrives");
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.bench_function(BenchmarkId::new("raw_tcp_frames", "tcp"), |bench| {
        bench.iter_custom(|iters| rt.block_on(raw_frames(iters * round, size)))
    });
}

/// Streams `count` length-prefixed frames of `size` bytes over a raw tokio
/// TCP connection, 256 frames (at most 4 MiB) per write.
async fn raw_frames(count: u64, size: usize) -> Duration {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let at = listener.local_addr().expect("bound");
    let (done, finished) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accepts");
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
            if socket.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                break;
            }
        }
        let _ = done.send(());
    });
    let mut socket = tokio::net::TcpStream::connect(at).await.expect("connects");
    socket.set_nodelay(true).expect("nodelay");
    let codec = FrameCodec::default();
    let frame = vec![b'x'; size];
    let per_write = (4 << 20) / (size as u64 + 4);
    let per_write = per_write.clamp(1, 256);
    let start = Instant::now();
    let mut out = BytesMut::with_capacity(per_write as usize * (size + 4));
    let mut left = count;
    while left > 0 {
        let now = left.min(per_write);
        out.clear();
        for _ in 0..now {
            codec.encode(&frame, &mut out).expect("fits");
        }
        socket.write_all(&out).await.expect("writes");
        left -= now;
    }
    finished.await.expect("all read");
    start.elapsed()
}

/// Answers `Echo` calls with the payload: the callee of the call bench.
struct Echo;

/// What [`Echo`] takes.
#[derive(serde::Serialize, serde::Deserialize)]
enum EchoMsg {
    Echo(String, beamish::ReplyTo<String>),
}

#[async_trait]
impl Process for Echo {
    type Args = ();
    type Msg = EchoMsg;

    async fn init(_ctx: &mut Context<EchoMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Echo)
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<EchoMsg>,
        msg: EchoMsg,
    ) -> Result<(), ExitReason> {
        let EchoMsg::Echo(payload, reply) = msg;
        reply.reply(payload);
        Ok(())
    }
}

/// Two nodes; the second, listening at `listen`, runs an exported echo.
async fn echo_pair(
    transport: impl Fn(&str) -> Arc<dyn Transport>,
    listen: Endpoint,
) -> (Node, Pid) {
    let config = ClusterConfig::new(Cookie::new("bench"));
    let a = Node::builder()
        .name("ca@localhost")
        .build()
        .expect("runtime");
    let b = Node::builder()
        .name("cb@localhost")
        .build()
        .expect("runtime");
    a.join(config.clone(), vec![transport("ca")], &[])
        .await
        .expect("joins");
    let at = b
        .join(config, vec![transport("cb")], &[listen])
        .await
        .expect("joins");
    let echo = b.spawn::<Echo>(()).expect("spawns");
    b.export(&echo);
    a.connect(&at[0]).await.expect("connects");
    std::mem::forget(b);
    (a, echo.pid())
}

fn remote_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_call_64b");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    let rt = runtime(Flavor::MultiThread);
    let net = LocalNetwork::new();
    let pairs = vec![
        (
            "tcp",
            rt.block_on(echo_pair(
                |_| Arc::new(TcpTransport::new()),
                "tcp://127.0.0.1:0".parse().expect("valid"),
            )),
        ),
        (
            "local",
            rt.block_on(echo_pair(
                |name| Arc::new(net.transport(name)),
                "local://cb".parse().expect("valid"),
            )),
        ),
    ];
    let payload = "x".repeat(64);
    for (name, (a, echo)) in pairs {
        group.bench_function(BenchmarkId::new("beamish", name), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let back = a
                            .call_remote(
                                echo,
                                |r| EchoMsg::Echo(payload.clone(), r),
                                Duration::from_secs(5),
                            )
                            .await
                            .expect("answers");
                        debug_assert_eq!(back.len(), 64);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.bench_function(BenchmarkId::new("raw_tcp_echo", "tcp"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
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
                let codec = FrameCodec::default();
                let mut out = BytesMut::with_capacity(68);
                codec.encode(&[b'x'; 64], &mut out).expect("fits");
                let mut back = [0_u8; 68];
                let start = Instant::now();
                for _ in 0..iters {
                    socket.write_all(&out).await.expect("writes");
                    socket.read_exact(&mut back).await.expect("reads");
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion::criterion_group!(benches, streaming_casts, large_casts, remote_call);
}
use group::benches;

criterion_main!(benches);
