//! Dynamic and task supervisors at scale: the time to shut down a dynamic
//! supervisor of 10 000 children, from the exit signal to the
//! supervisor's end; and 100 000 short tasks run under a task supervisor
//! and joined, beside `tokio::spawn` and its `JoinHandle`.

use std::time::{Duration, Instant};

use beamish::{
    async_trait, Context, DynamicRef, DynamicSpec, ExitReason, Node, Process, Signal, SpawnOpts,
    TaskSpec, TaskSupervisor,
};
use beamish_benches::{runtime, Flavor};
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};

const CHILDREN: usize = 10_000;
const TASKS: u64 = 100_000;
const JOIN: Duration = Duration::from_secs(60);

/// A worker that waits for nothing.
struct Child;

#[async_trait]
impl Process for Child {
    type Args = ();
    type Msg = ();

    async fn init(_ctx: &mut Context<()>, _: ()) -> Result<Self, ExitReason> {
        Ok(Child)
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Ok(())
    }
}

/// A worker that traps exits and takes a millisecond to clean up when
/// told to stop, as one flushing its state would.
struct Careful;

#[async_trait]
impl Process for Careful {
    type Args = ();
    type Msg = ();

    async fn init(ctx: &mut Context<()>, _: ()) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        Ok(Careful)
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut Context<()>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        match signal {
            Signal::Exit { reason, .. } => Err(reason),
            _ => Ok(()),
        }
    }

    async fn terminate(&mut self, _ctx: &mut Context<()>, _reason: &ExitReason) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Starts a dynamic supervisor of `CHILDREN` children running `P`, stops
/// it and returns how long the stop took.
async fn shutdown_of<P: Process<Args = ()>>(node: &Node) -> Duration {
    let sup = DynamicRef::start(node, DynamicSpec::<P>::worker(), SpawnOpts::new())
        .await
        .expect("starts");
    for _ in 0..CHILDREN {
        sup.start_child(()).await.expect("a child starts");
    }
    let ended = node.monitor(sup.pid());
    let began = Instant::now();
    node.exit(sup.pid(), ExitReason::Shutdown);
    let reason = ended.await;
    let took = began.elapsed();
    assert_eq!(reason, ExitReason::Shutdown);
    took
}

fn dynamic_shutdown(c: &mut Criterion) {
    let mut group = c.benchmark_group("dynamic_shutdown");
    group.sample_size(10);
    let rt = runtime(Flavor::MultiThread);
    let node = rt.block_on(async { Node::new().expect("inside a runtime") });
    group.bench_function(BenchmarkId::new("children", CHILDREN), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += shutdown_of::<Child>(&node).await;
                }
                total
            })
        })
    });
    group.bench_function(BenchmarkId::new("careful_children", CHILDREN), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += shutdown_of::<Careful>(&node).await;
                }
                total
            })
        })
    });
    group.finish();
}

fn short_tasks(c: &mut Criterion) {
    let mut group = c.benchmark_group("short_tasks");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(TASKS));
    let rt = runtime(Flavor::MultiThread);
    let node = rt.block_on(async { Node::new().expect("inside a runtime") });
    let tasks = rt.block_on(async {
        TaskSupervisor::start(&node, TaskSpec::new(), SpawnOpts::new())
            .await
            .expect("starts")
    });
    group.bench_function(BenchmarkId::new("task_supervisor", TASKS), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let mut joins = Vec::with_capacity(TASKS as usize);
                    for n in 0..TASKS {
                        joins.push(
                            tasks
                                .async_nolink(async move { n * 2 })
                                .await
                                .expect("starts"),
                        );
                    }
                    let mut sum = 0;
                    for task in joins {
                        sum += task.join(JOIN).await.expect("a result");
                    }
                    assert_eq!(sum, TASKS * (TASKS - 1));
                }
                began.elapsed()
            })
        })
    });
    group.bench_function(BenchmarkId::new("tokio_spawn", TASKS), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let mut joins = Vec::with_capacity(TASKS as usize);
                    for n in 0..TASKS {
                        joins.push(tokio::spawn(async move { n * 2 }));
                    }
                    let mut sum = 0;
                    for task in joins {
                        sum += tokio::time::timeout(JOIN, task)
                            .await
                            .expect("in time")
                            .expect("a result");
                    }
                    assert_eq!(sum, TASKS * (TASKS - 1));
                }
                began.elapsed()
            })
        })
    });
    group.finish();
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion::criterion_group!(benches, dynamic_shutdown, short_tasks);
}
use group::benches;

criterion_main!(benches);
