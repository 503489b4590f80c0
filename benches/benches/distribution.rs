//! Distribution benches, two nodes in one process, over TCP and QUIC on
//! loopback, the in-process transport and AMQP, each group beside raw
//! baselines (tokio TCP, quinn, lapin): streaming 64-byte casts
//! (messages/s) beside raw streams of 64-byte length-prefixed frames with
//! batched writes; 64 KiB casts (MB/s) beside raw 64 KiB frames; a remote
//! call round trip with a 64-byte payload beside raw echoes, made from the
//! thread blocking on the runtime and (`remote_call_64b_in_task`) from a
//! task on it; small casts behind large ones in other lanes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish::amqp::{AmqpTransport, Mode};
use beamish::dist::{Cookie, Endpoint};
use beamish::quic::QuicTransport;
use beamish::tcp::TcpTransport;
use beamish::transport::{LocalNetwork, Transport};
use beamish::{async_trait, ClusterConfig, Context, ExitReason, Handle, Node, Pid, Process};
use beamish_benches::{raw, runtime, Flavor};
use criterion::measurement::WallTime;
use criterion::{criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use tokio::sync::mpsc;

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
    casts(&mut group, 64, MESSAGES, &["tcp", "local", "quic"]);
    raw_streams(&mut group, 64, MESSAGES);
    group.finish();
}

fn large_casts(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_cast_64k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Bytes(LARGE * 64 * 1024));
    casts(&mut group, 64 * 1024, LARGE, &["tcp", "local", "quic"]);
    raw_streams(&mut group, 64 * 1024, LARGE);
    group.finish();
}

/// 64-byte messages per round through the broker.
const BROKERED: u64 = 20_000;

/// Streaming 64-byte casts through RabbitMQ, fast and durable, beside TCP,
/// QUIC and plain lapin (transient; durable with 256 unconfirmed in flight
/// and manual acknowledgements under a prefetch of 200).
fn amqp_casts(c: &mut Criterion) {
    let mut group = c.benchmark_group("amqp_cast_64b");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(BROKERED));
    casts(
        &mut group,
        64,
        BROKERED,
        &["tcp", "quic", "amqp_fast", "amqp_durable"],
    );
    let rt = runtime(Flavor::MultiThread);
    for (name, durable) in [("transient", false), ("durable", true)] {
        group.bench_function(BenchmarkId::new("raw_lapin", name), |bench| {
            bench.iter_custom(|iters| rt.block_on(raw::lapin_stream(iters * BROKERED, durable)))
        });
    }
    group.finish();
}

/// The transport called `name`, for the node called `node`.
fn transport(name: &str, node: &str, net: &LocalNetwork) -> Arc<dyn Transport> {
    match name {
        "tcp" => Arc::new(TcpTransport::new()),
        "local" => Arc::new(net.transport(node)),
        "quic" => Arc::new(QuicTransport::dev().expect("a certificate")),
        _ => {
            let mode = if name == "amqp_durable" {
                Mode::Durable
            } else {
                Mode::Fast
            };
            let run = std::process::id();
            let amqp =
                AmqpTransport::with_inbox(&broker(), &format!("bench-{run}-{name}-{node}"), mode)
                    .expect("amqp")
                    .inbox_expiry(Duration::from_secs(60));
            Arc::new(amqp)
        }
    }
}

fn broker() -> Endpoint {
    "amqp://guest:guest@127.0.0.1:5672/%2f"
        .parse()
        .expect("valid")
}

/// Where the node called `node` listens over the transport called `name`.
fn listen_at(name: &str, node: &str) -> Endpoint {
    match name {
        "tcp" => "tcp://127.0.0.1:0".parse().expect("valid"),
        "local" => format!("local://{node}").parse().expect("valid"),
        "quic" => "quic://127.0.0.1:0".parse().expect("valid"),
        _ => broker(),
    }
}

/// Rounds of `round` casts of `size` bytes over each named transport.
fn casts(group: &mut BenchmarkGroup<'_, WallTime>, size: usize, round: u64, over: &[&str]) {
    let rt = runtime(Flavor::MultiThread);
    let payload = "x".repeat(size);
    let net = LocalNetwork::new();
    for &name in over {
        let (a, counter, mut rounds) = rt.block_on(two_nodes(
            |node| transport(name, node, &net),
            listen_at(name, "b"),
            round,
        ));
        group.bench_function(BenchmarkId::new("beamish", name), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        for _ in 0..round {
                            a.cast_remote(counter, &payload).await.expect("connected");
                        }
                        rounds.recv().await.expect("a round arrives");
                    }
                    start.elapsed()
                })
            })
        });
    }
}

/// The same traffic over raw tokio TCP and raw quinn.
fn raw_streams(group: &mut BenchmarkGroup<'_, WallTime>, size: usize, round: u64) {
    let rt = runtime(Flavor::MultiThread);
    group.bench_function(BenchmarkId::new("raw_tcp_frames", "tcp"), |bench| {
        bench.iter_custom(|iters| rt.block_on(raw::tcp_frames(iters * round, size)))
    });
    group.bench_function(BenchmarkId::new("raw_quinn_frames", "quic"), |bench| {
        bench.iter_custom(|iters| rt.block_on(raw::quic_frames(iters * round, size)))
    });
}

/// Answers `Echo` calls with the payload: the callee of the call bench.
struct Echo;

/// What [`Echo`] takes.
#[derive(serde::Serialize, serde::Deserialize, beamish::Message)]
#[message(name = "distribution.EchoMsg")]
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
    calls(
        &mut group,
        &["tcp", "local", "quic", "amqp_fast", "amqp_durable"],
    );
    let rt = runtime(Flavor::MultiThread);
    group.bench_function(BenchmarkId::new("raw_tcp_echo", "tcp"), |bench| {
        bench.iter_custom(|iters| rt.block_on(raw::tcp_echo(iters)))
    });
    group.bench_function(BenchmarkId::new("raw_quinn_echo", "quic"), |bench| {
        bench.iter_custom(|iters| rt.block_on(raw::quic_echo(iters)))
    });
    group.bench_function(BenchmarkId::new("raw_lapin_rpc", "amqp"), |bench| {
        bench.iter_custom(|iters| rt.block_on(raw::lapin_rpc(iters)))
    });
    group.finish();
}

/// Call round trips over each named transport, made from the thread that
/// blocks on the runtime.
fn calls(group: &mut BenchmarkGroup<'_, WallTime>, over: &[&str]) {
    calls_from(group, over, false);
}

/// Call round trips over each named transport; made by a task on the
/// runtime if `in_task` (as a process or a request handler makes them),
/// else from the thread that blocks on it.
fn calls_from(group: &mut BenchmarkGroup<'_, WallTime>, over: &[&str], in_task: bool) {
    let rt = runtime(Flavor::MultiThread);
    let net = LocalNetwork::new();
    let payload = "x".repeat(64);
    for &name in over {
        let (a, echo) = rt.block_on(echo_pair(
            |node| transport(name, node, &net),
            listen_at(name, "cb"),
        ));
        group.bench_function(BenchmarkId::new("beamish", name), |bench| {
            bench.iter_custom(|iters| {
                let rounds = round_trips(a.clone(), echo, payload.clone(), iters);
                if in_task {
                    rt.block_on(async { tokio::spawn(rounds).await.expect("the caller ran") })
                } else {
                    rt.block_on(rounds)
                }
            })
        });
    }
}

/// `iters` calls to the echo, timed.
async fn round_trips(a: Node, echo: Pid, payload: String, iters: u64) -> Duration {
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
}

/// The same round trips made by a task on the runtime, beside raw TCP
/// and raw quinn echoes run the same way.
fn remote_call_in_task(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_call_64b_in_task");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    calls_from(&mut group, &["tcp", "local", "quic"], true);
    let rt = runtime(Flavor::MultiThread);
    group.bench_function(BenchmarkId::new("raw_tcp_echo", "tcp"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async { tokio::spawn(raw::tcp_echo(iters)).await.expect("ran") })
        })
    });
    group.bench_function(BenchmarkId::new("raw_quinn_echo", "quic"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async { tokio::spawn(raw::quic_echo(iters)).await.expect("ran") })
        })
    });
    group.finish();
}

/// Sends `count` casts of `size` bytes to `to` from its own process, so
/// they travel in its own lane, then answers.
struct Sender;

enum SenderMsg {
    Send(Pid, usize, u64, beamish::ReplyTo<()>),
}

#[async_trait]
impl Process for Sender {
    type Args = ();
    type Msg = SenderMsg;

    async fn init(_ctx: &mut Context<SenderMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Sender)
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<SenderMsg>,
        msg: SenderMsg,
    ) -> Result<(), ExitReason> {
        let SenderMsg::Send(to, size, count, done) = msg;
        let payload = "x".repeat(size);
        for _ in 0..count {
            ctx.node()
                .cast_remote(to, &payload)
                .await
                .expect("connected");
        }
        done.reply(());
        Ok(())
    }
}

/// Small messages this many.
const SMALL: u64 = 1_000;
/// While another process streams this many 64 KiB messages (16 MiB).
const BIG: u64 = 256;

/// Node a, with small and big senders; b's two counters and their reports.
struct Mixed {
    small: Handle<SenderMsg>,
    big: Handle<SenderMsg>,
    small_to: Pid,
    big_to: Pid,
    small_done: mpsc::UnboundedReceiver<()>,
    big_done: mpsc::UnboundedReceiver<()>,
}

async fn mixed_pair(transport: impl Fn(&str) -> Arc<dyn Transport>, listen: Endpoint) -> Mixed {
    let config = ClusterConfig::new(Cookie::new("bench"));
    let a = Node::builder()
        .name("ma@localhost")
        .build()
        .expect("runtime");
    let b = Node::builder()
        .name("mb@localhost")
        .build()
        .expect("runtime");
    a.join(config.clone(), vec![transport("ma")], &[])
        .await
        .expect("joins");
    let at = b
        .join(config, vec![transport("mb")], &[listen])
        .await
        .expect("joins");
    let (tx, small_done) = mpsc::unbounded_channel();
    let small_counter = b.spawn::<Count>((SMALL, tx)).expect("spawns");
    let (tx, big_done) = mpsc::unbounded_channel();
    let big_counter = b.spawn::<Count>((BIG, tx)).expect("spawns");
    b.export(&small_counter);
    b.export(&big_counter);
    a.connect(&at[0]).await.expect("connects");
    let mixed = Mixed {
        small: a.spawn::<Sender>(()).expect("spawns"),
        big: a.spawn::<Sender>(()).expect("spawns"),
        small_to: small_counter.pid(),
        big_to: big_counter.pid(),
        small_done,
        big_done,
    };
    // Keep both nodes alive as long as their processes run.
    std::mem::forget(a);
    std::mem::forget(b);
    mixed
}

/// Lanes against one stream: how long 1 000 small casts from one process
/// take to arrive while another process streams 16 MiB of 64 KiB casts to
/// the same node. Over one stream (TCP, QUIC with one lane) the small
/// ones queue behind the large; over QUIC's lanes they need not.
fn mixed_casts(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_cast_mixed");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(SMALL));
    let rt = runtime(Flavor::MultiThread);
    let quic = |lanes: usize| {
        move |_: &str| -> Arc<dyn Transport> {
            let transport = QuicTransport::dev().expect("a certificate");
            Arc::new(transport.lanes(lanes).expect("lanes"))
        }
    };
    let quic_at: Endpoint = "quic://127.0.0.1:0".parse().expect("valid");
    let tcp_at: Endpoint = "tcp://127.0.0.1:0".parse().expect("valid");
    let setups = vec![
        (
            "quic_8_lanes",
            rt.block_on(mixed_pair(quic(8), quic_at.clone())),
        ),
        ("quic_1_lane", rt.block_on(mixed_pair(quic(1), quic_at))),
        (
            "tcp",
            rt.block_on(mixed_pair(|_| Arc::new(TcpTransport::new()), tcp_at)),
        ),
    ];
    for (name, mut m) in setups {
        group.bench_function(BenchmarkId::new("small_behind_large", name), |bench| {
            bench.iter_custom(|iters| {
                rt.block_on(async {
                    let mut small_time = Duration::ZERO;
                    for _ in 0..iters {
                        // The large ones are all queued first.
                        m.big
                            .call(|r| SenderMsg::Send(m.big_to, 64 * 1024, BIG, r), WAIT)
                            .await
                            .expect("queued");
                        let start = Instant::now();
                        m.small
                            .call(|r| SenderMsg::Send(m.small_to, 64, SMALL, r), WAIT)
                            .await
                            .expect("queued");
                        m.small_done.recv().await.expect("the small ones arrive");
                        small_time += start.elapsed();
                        m.big_done.recv().await.expect("the large ones arrive");
                    }
                    small_time
                })
            })
        });
    }
    group.finish();
}

const WAIT: Duration = Duration::from_secs(60);

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion::criterion_group!(
        benches,
        streaming_casts,
        large_casts,
        remote_call,
        remote_call_in_task,
        mixed_casts,
        amqp_casts
    );
}
use group::benches;

criterion_main!(benches);
