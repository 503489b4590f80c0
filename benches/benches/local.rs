//! The local runtime against bare tokio: call round trip, cast throughput,
//! spawn and stop, and fan-out.
//!
//! Each group holds beamish and a tokio baseline doing the same work, on a
//! multi-threaded runtime with exactly 2 workers (ids ending in `mt2`),
//! built once per group; call and cast also run on a current-thread runtime
//! (ids ending in `ct`), and so do spawn and fan-out for comparison. Setup
//! and clean-up run under `rt.block_on` outside the timed region of
//! `iter_custom`, and clean-up is awaited, so that no exit or abort of one
//! iteration spills into the next one's timing.
//!
//! Outside criterion's timing, the spawn group first prints the resident
//! memory an idle process adds, beside an idle tokio task parked on an
//! unbounded channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish::{async_trait, Context, ExitReason, Handle, Node, Pid, Process, ReplyTo};
use beamish_benches::{
    exit_all, rss_bytes, runtime, Acker, Countdown, Counter, Echo, EchoMsg, Flavor, Idle,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const CASTS: u64 = 1_000_000;
const SENDERS: u64 = 4;
const SPAWNS: u64 = 100_000;
const FAN: u64 = 1_000;
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);

/// Makes `n` calls to an [`Echo`] process and reports how long they took:
/// the caller side of the ping-pong, itself a process, so that the bench
/// measures process-to-process calls (the current-pid check, the fast
/// path of `call` and the callee's loop all included).
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

/// A node on `rt`.
fn node_on(rt: &Runtime) -> Node {
    Node::builder()
        .runtime(rt.handle().clone())
        .build()
        .expect("a node on the bench runtime")
}

/// One call in flight between two processes: a caller process calls an
/// echo process `iters` times (5 s timeout each) and reports the elapsed
/// time, so criterion reports the time per round trip. The baselines are two
/// tokio tasks, a client sending a oneshot over an unbounded mpsc to a
/// server, without and with a `tokio::time::timeout` around the reply (a
/// call always has a timeout).
fn call_pingpong(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_pingpong");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        let node = node_on(&rt);
        let (echo, caller) = rt.block_on(async {
            let echo = node.spawn::<Echo>(()).expect("spawns");
            let caller = node.spawn::<Caller>(echo.clone()).expect("spawns");
            (echo, caller)
        });
        group.bench_function(BenchmarkId::new("beamish", flavor.label()), |b| {
            b.iter_custom(|iters| {
                rt.block_on(caller.call(|r| CallerMsg::Run(iters, r), Duration::from_secs(600)))
                    .expect("the caller answers")
            })
        });

        let (requests, mut inbox) = mpsc::unbounded_channel::<oneshot::Sender<u64>>();
        let server = rt.spawn(async move {
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
        drop(requests);
        rt.block_on(server).expect("the server ends");
        rt.block_on(exit_all(
            &node,
            &[caller.pid(), echo.pid()],
            ExitReason::Shutdown,
        ));
    }
    group.finish();
}

/// 4 sender tasks cast 250,000 `u64` each to one counting process, which
/// fires a oneshot when it has all 1,000,000; timed from the first send to
/// that signal. The baseline is an unbounded tokio mpsc, 4 sender tasks and
/// a receiver task counting. The receiving side is spawned before the
/// timer starts in both.
fn cast_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("cast_throughput");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(CASTS));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        let node = node_on(&rt);
        group.bench_function(BenchmarkId::new("beamish", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (done, all_in) = oneshot::channel();
                    let counter = node.spawn::<Counter>((CASTS, done)).expect("spawns");
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
                    rt.block_on(exit_all(&node, &[counter.pid()], ExitReason::Shutdown));
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("tokio_mpsc", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                    let (done, all_in) = oneshot::channel();
                    let receiver = rt.spawn(async move {
                        let mut seen = 0;
                        while rx.recv().await.is_some() {
                            seen += 1;
                            if seen == CASTS {
                                break;
                            }
                        }
                        let _ = done.send(());
                    });
                    let start = Instant::now();
                    for _ in 0..SENDERS {
                        let tx = tx.clone();
                        rt.spawn(async move {
                            for i in 0..CASTS / SENDERS {
                                let _ = tx.send(i);
                            }
                        });
                    }
                    drop(tx);
                    rt.block_on(all_in).expect("every message arrives");
                    total += start.elapsed();
                    rt.block_on(receiver).expect("the receiver ends");
                }
                total
            })
        });
    }
    group.finish();
}

/// Prints the resident memory an idle process adds, beside an idle tokio
/// task parked on an unbounded mpsc receiver. Run once, outside criterion's
/// timing.
fn report_idle_memory(rt: &Runtime) {
    let node = node_on(rt);
    let before = rss_bytes();
    let handles: Vec<Handle<()>> = rt.block_on(async {
        let started = Countdown::new(SPAWNS);
        let handles = (0..SPAWNS)
            .map(|_| node.spawn::<Idle>(Arc::clone(&started)).expect("spawns"))
            .collect();
        started.wait().await;
        handles
    });
    let per_process = rss_bytes()
        .saturating_sub(before)
        .saturating_sub(SPAWNS * std::mem::size_of::<Handle<()>>() as u64)
        / SPAWNS;

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
    drop(handles);
    rt.block_on(node.shutdown(SHUTDOWN_DEADLINE));
    eprintln!(
        "idle memory: beamish {per_process} B/process, tokio task + mpsc {per_task} B/task \
         (RSS growth over {SPAWNS}, handles and senders subtracted)"
    );
}

/// Spawns [`SPAWNS`] idle processes on a fresh node and waits until every
/// `init` has run.
async fn start_idle(node: &Node) -> Vec<Pid> {
    let started = Countdown::new(SPAWNS);
    let pids = (0..SPAWNS)
        .map(|_| {
            node.spawn::<Idle>(Arc::clone(&started))
                .expect("spawns")
                .pid()
        })
        .collect();
    started.wait().await;
    pids
}

/// Spawns [`SPAWNS`] tokio tasks, each ticking a countdown then parking,
/// and waits until every one has ticked.
async fn start_tasks() -> Vec<tokio::task::JoinHandle<()>> {
    let started = Countdown::new(SPAWNS);
    let tasks = (0..SPAWNS)
        .map(|_| {
            let started = Arc::clone(&started);
            tokio::spawn(async move {
                started.tick();
                std::future::pending::<()>().await;
            })
        })
        .collect();
    started.wait().await;
    tasks
}

/// 100,000 processes spawned, each confirmed running (its `init` ticks a
/// shared countdown, the last tick wakes the bench), then stopped. Start and
/// stop are timed separately: `*_start` from the first spawn to the last
/// confirmation, `*_stop_*` from the stop request to the last process
/// having ended (`node.shutdown`, or `exit(pid, Kill)` for each with all
/// exits awaited; the watches are set up untimed). The baseline spawns
/// tokio tasks that tick and park, then aborts them all and awaits every
/// join handle.
fn spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(SPAWNS));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        if flavor == Flavor::MultiThread {
            report_idle_memory(&rt);
        }
        group.bench_function(BenchmarkId::new("beamish_start", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let node = node_on(&rt);
                    let start = Instant::now();
                    let pids = rt.block_on(start_idle(&node));
                    total += start.elapsed();
                    rt.block_on(exit_all(&node, &pids, ExitReason::Kill));
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("tokio_start", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let tasks = rt.block_on(start_tasks());
                    total += start.elapsed();
                    rt.block_on(async {
                        for task in &tasks {
                            task.abort();
                        }
                        for task in tasks {
                            let _ = task.await;
                        }
                    });
                }
                total
            })
        });
        if flavor == Flavor::CurrentThread {
            continue;
        }
        group.bench_function(
            BenchmarkId::new("beamish_stop_shutdown", flavor.label()),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let node = node_on(&rt);
                        rt.block_on(start_idle(&node));
                        let start = Instant::now();
                        rt.block_on(node.shutdown(SHUTDOWN_DEADLINE));
                        total += start.elapsed();
                    }
                    total
                })
            },
        );
        group.bench_function(BenchmarkId::new("beamish_stop_kill", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let node = node_on(&rt);
                    let pids = rt.block_on(start_idle(&node));
                    let watches: Vec<_> = pids.iter().map(|&pid| node.monitor(pid)).collect();
                    let start = Instant::now();
                    rt.block_on(async {
                        for &pid in &pids {
                            node.exit(pid, ExitReason::Kill);
                        }
                        for watch in watches {
                            watch.await;
                        }
                    });
                    total += start.elapsed();
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("tokio_stop_abort", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let tasks = rt.block_on(start_tasks());
                    let start = Instant::now();
                    rt.block_on(async {
                        for task in &tasks {
                            task.abort();
                        }
                        for task in tasks {
                            let _ = task.await;
                        }
                    });
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// 1,000 processes, 1,000 `u64` cast to each from one sender task (a round
/// over all of them per message number, so 1,000,000 deliveries); each
/// process ticks a shared countdown once it has all of its 1,000, and the
/// last tick wakes the bench. The baseline is 1,000 tokio tasks, each with
/// its own unbounded mpsc, counting the same way. Receivers are spawned
/// and ended untimed.
fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(FAN * FAN));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let rt = runtime(flavor);
        let node = node_on(&rt);
        group.bench_function(BenchmarkId::new("beamish", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let all_in = Countdown::new(FAN);
                    let ackers: Vec<Handle<u64>> = (0..FAN)
                        .map(|_| {
                            node.spawn::<Acker>((FAN, Arc::clone(&all_in)))
                                .expect("spawns")
                        })
                        .collect();
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
                    rt.block_on(exit_all(&node, &pids, ExitReason::Shutdown));
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("tokio_mpsc", flavor.label()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let all_in = Countdown::new(FAN);
                    let (senders, receivers): (Vec<_>, Vec<_>) = (0..FAN)
                        .map(|_| {
                            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                            let all_in = Arc::clone(&all_in);
                            let receiver = rt.spawn(async move {
                                let mut left = FAN;
                                while rx.recv().await.is_some() {
                                    left -= 1;
                                    if left == 0 {
                                        all_in.tick();
                                    }
                                }
                            });
                            (tx, receiver)
                        })
                        .unzip();
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
                    // The sender task dropped the senders: every receiver ends.
                    rt.block_on(async {
                        for receiver in receivers {
                            let _ = receiver.await;
                        }
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
