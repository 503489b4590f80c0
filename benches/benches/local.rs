//! The local runtime against bare tokio: call round trip, cast throughput,
//! spawn and stop, and fan-out. Each group holds beamish and a tokio
//! baseline doing the same work, on a 2-worker multi-threaded runtime (and,
//! for calls and casts, a current-thread one too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish::{async_trait, Context, ExitReason, Handle, Node, Process, ReplyTo};
use beamish_benches::{rss_bytes, runtime, Acker, Countdown, Counter, Echo, EchoMsg, Flavor, Idle};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::sync::{mpsc, oneshot};

const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const CASTS: u64 = 1_000_000;
const SENDERS: u64 = 4;
const SPAWNS: u64 = 100_000;
const FAN: u64 = 1_000;

/// Makes `n` calls to an [`Echo`] process and reports how long they took:
/// the caller side of the ping-pong, itself a process.
struct Caller {
    echo: Handle<EchoMsg>,
}

enum CallerMsg {
    Run(u64, ReplyTo<Duration>),
}

#[async_trait]
impl Process for Caller {
    type Args = Handle<EchoMsg>;
    type Msg = CallerMsg;

    async fn init(
        _ctx: &mut Context<CallerMsg>,
        echo: Handle<EchoMsg>,
    ) -> Result<Self, ExitReason> {
        Ok(Caller { echo })
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<CallerMsg>,
        msg: CallerMsg,
    ) -> Result<(), ExitReason> {
        let CallerMsg::Run(n, reply) = msg;
        let start = Instant::now();
        for _ in 0..n {
            self.echo.call(EchoMsg::Ping, CALL_TIMEOUT).await?;
        }
        reply.reply(start.elapsed());
        Ok(())
    }
}

fn call_pingpong(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_pingpong");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        let caller = rt.block_on(async {
            let node = Node::new().expect("inside a runtime");
            let echo = node.spawn::<Echo>(()).expect("spawns");
            node.spawn::<Caller>(echo).expect("spawns")
        });
        group.bench_function(BenchmarkId::new("beamish", flavor.label()), |b| {
            b.iter_custom(|iters| {
                rt.block_on(caller.call(|r| CallerMsg::Run(iters, r), Duration::from_secs(600)))
                    .expect("the caller answers")
            })
        });

        let (requests, mut inbox) = mpsc::unbounded_channel::<oneshot::Sender<u64>>();
        rt.spawn(async move {
            while let Some(reply) = inbox.recv().await {
                let _ = reply.send(1);
            }
        });
        for with_timeout in [false, true] {
            let name = if with_timeout {
                "tokio_mpsc_oneshot_timeout"
            } else {
                "tokio_mpsc_oneshot"
            };
            let requests = requests.clone();
            group.bench_function(BenchmarkId::new(name, flavor.label()), |b| {
                b.iter_custom(|iters| {
                    let requests = requests.clone();
                    // The client runs as a task, like the caller process.
                    let client = rt.spawn(async move {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let (tx, rx) = oneshot::channel();
                            let _ = requests.send(tx);
                            if with_timeout {
                                let _ = tokio::time::timeout(CALL_TIMEOUT, rx).await;
                            } else {
                                let _ = rx.await;
                            }
                        }
                        start.elapsed()
                    });
                    rt.block_on(client).expect("the client finishes")
                })
            });
        }
    }
    group.finish();
}

fn cast_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("cast_throughput");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(CASTS));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        let node = rt.block_on(async { Node::new().expect("inside a runtime") });
        group.bench_function(BenchmarkId::new("beamish", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (done, all_in) = oneshot::channel();
                    let counter = rt.block_on(async { node.spawn::<Counter>((CASTS, done)) });
                    let counter = counter.expect("spawns");
                    let start = Instant::now();
                    for _ in 0..SENDERS {
                        let counter = counter.clone();
                        rt.spawn(async move {
                            for i in 0..CASTS / SENDERS {
                                let _ = counter.cast(i).await;
                            }
                        });
                    }
                    rt.block_on(all_in).expect("every message arrives");
                    total += start.elapsed();
                    node.exit(counter.pid(), ExitReason::Shutdown);
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("tokio_mpsc", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                    let start = Instant::now();
                    let receiver = rt.spawn(async move {
                        let mut seen = 0;
                        while seen < CASTS {
                            if rx.recv().await.is_none() {
                                break;
                            }
                            seen += 1;
                        }
                    });
                    for _ in 0..SENDERS {
                        let tx = tx.clone();
                        rt.spawn(async move {
                            for i in 0..CASTS / SENDERS {
                                let _ = tx.send(i);
                            }
                        });
                    }
                    drop(tx);
                    rt.block_on(receiver).expect("the receiver finishes");
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// Prints the resident memory an idle process adds, beside an idle tokio
/// task parked on a channel.
fn report_idle_memory(rt: &tokio::runtime::Runtime) {
    let node = rt.block_on(async { Node::new().expect("inside a runtime") });
    let before = rss_bytes();
    rt.block_on(async {
        let started = Countdown::new(SPAWNS);
        for _ in 0..SPAWNS {
            node.spawn::<Idle>(Arc::clone(&started)).expect("spawns");
        }
        started.wait().await;
    });
    let per_process = rss_bytes().saturating_sub(before) / SPAWNS;

    // Measured while the processes above still live, so that neither
    // reuses memory the other freed.
    let before = rss_bytes();
    let senders: Vec<mpsc::UnboundedSender<()>> = rt.block_on(async {
        let started = Countdown::new(SPAWNS);
        let mut senders = Vec::with_capacity(SPAWNS as usize);
        for _ in 0..SPAWNS {
            let (tx, mut rx) = mpsc::unbounded_channel::<()>();
            let started = Arc::clone(&started);
            tokio::spawn(async move {
                started.tick();
                while rx.recv().await.is_some() {}
            });
            senders.push(tx);
        }
        started.wait().await;
        senders
    });
    let per_task = rss_bytes()
        .saturating_sub(before)
        .saturating_sub(SPAWNS * std::mem::size_of::<mpsc::UnboundedSender<()>>() as u64)
        / SPAWNS;
    drop(senders);
    rt.block_on(node.shutdown(Duration::from_secs(10)));
    eprintln!("idle memory: beamish {per_process} B/process, tokio task + mpsc {per_task} B/task (RSS growth over {SPAWNS})");
}

fn spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(SPAWNS));
    let rt = runtime(Flavor::MultiThread);
    report_idle_memory(&rt);
    group.bench_function(
        BenchmarkId::new("beamish_shutdown", Flavor::MultiThread.label()),
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let node = rt.block_on(async { Node::new().expect("inside a runtime") });
                    rt.block_on(async {
                        let started = Countdown::new(SPAWNS);
                        for _ in 0..SPAWNS {
                            node.spawn::<Idle>(Arc::clone(&started)).expect("spawns");
                        }
                        started.wait().await;
                    });
                    let start = Instant::now();
                    rt.block_on(node.shutdown(Duration::from_secs(10)));
                    total += start.elapsed();
                }
                total
            })
        },
    );
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        group.bench_function(BenchmarkId::new("beamish_start", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let node = rt.block_on(async { Node::new().expect("inside a runtime") });
                    total += rt.block_on(async {
                        let started = Countdown::new(SPAWNS);
                        let start = Instant::now();
                        for _ in 0..SPAWNS {
                            node.spawn::<Idle>(Arc::clone(&started)).expect("spawns");
                        }
                        started.wait().await;
                        start.elapsed()
                    });
                    rt.block_on(node.shutdown(Duration::from_secs(10)));
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("tokio_spawn", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (elapsed, tasks) = rt.block_on(async {
                        let started = Countdown::new(SPAWNS);
                        let start = Instant::now();
                        let mut tasks = Vec::with_capacity(SPAWNS as usize);
                        for _ in 0..SPAWNS {
                            let started = Arc::clone(&started);
                            tasks.push(tokio::spawn(async move {
                                started.tick();
                                std::future::pending::<()>().await;
                            }));
                        }
                        started.wait().await;
                        (start.elapsed(), tasks)
                    });
                    total += elapsed;
                    for task in tasks {
                        task.abort();
                    }
                }
                total
            })
        });
    }
    group.finish();
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(FAN * FAN));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        let node = rt.block_on(async { Node::new().expect("inside a runtime") });
        group.bench_function(BenchmarkId::new("beamish", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let all_in = Countdown::new(FAN);
                    let ackers: Vec<Handle<u64>> = rt.block_on(async {
                        (0..FAN)
                            .map(|_| {
                                node.spawn::<Acker>((FAN, Arc::clone(&all_in)))
                                    .expect("spawns")
                            })
                            .collect()
                    });
                    let pids: Vec<_> = ackers.iter().map(Handle::pid).collect();
                    total += rt.block_on(async {
                        let start = Instant::now();
                        let sender = tokio::spawn(async move {
                            for m in 0..FAN {
                                for acker in &ackers {
                                    let _ = acker.cast(m).await;
                                }
                            }
                        });
                        all_in.wait().await;
                        let _ = sender.await;
                        start.elapsed()
                    });
                    for pid in pids {
                        node.exit(pid, ExitReason::Shutdown);
                    }
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("tokio_mpsc", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let all_in = Countdown::new(FAN);
                    let senders: Vec<mpsc::UnboundedSender<u64>> = rt.block_on(async {
                        (0..FAN)
                            .map(|_| {
                                let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                                let all_in = Arc::clone(&all_in);
                                tokio::spawn(async move {
                                    let mut left = FAN;
                                    while rx.recv().await.is_some() {
                                        left -= 1;
                                        if left == 0 {
                                            all_in.tick();
                                        }
                                    }
                                });
                                tx
                            })
                            .collect()
                    });
                    total += rt.block_on(async {
                        let start = Instant::now();
                        let sender = tokio::spawn(async move {
                            for m in 0..FAN {
                                for tx in &senders {
                                    let _ = tx.send(m);
                                }
                            }
                        });
                        all_in.wait().await;
                        let _ = sender.await;
                        start.elapsed()
                    });
                }
                total
            })
        });
    }
    group.finish();
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, call_pingpong, cast_throughput, spawn, fanout);
}
use group::benches;
criterion_main!(benches);
