//! Restart latency: from a child's crash to its replacement running, under
//! a one_for_one and a one_for_all supervisor of 10 children.

use std::time::{Duration, Instant};

use beamish::{
    async_trait, ChildSpec, Context, ExitReason, Node, Pid, Process, SpawnOpts, Strategy,
    SupervisorRef, SupervisorSpec,
};
use beamish_benches::{runtime, Flavor};
use criterion::{criterion_main, BenchmarkId, Criterion};
use tokio::sync::mpsc;

const CHILDREN: usize = 10;

/// Reports `(index, pid)` when it starts; crashes when told.
struct Child;

#[async_trait]
impl Process for Child {
    type Args = (usize, mpsc::UnboundedSender<(usize, Pid)>);
    type Msg = ();

    async fn init(ctx: &mut Context<()>, (index, started): Self::Args) -> Result<Self, ExitReason> {
        let _ = started.send((index, ctx.pid()));
        Ok(Child)
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Err(ExitReason::error("crash"))
    }
}

fn restart_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("restart_latency");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    let rt = runtime(Flavor::MultiThread);
    for strategy in [Strategy::OneForOne, Strategy::OneForAll] {
        let (tx, mut started) = mpsc::unbounded_channel();
        let mut spec =
            SupervisorSpec::new(strategy).intensity(usize::MAX, Duration::from_millis(1));
        for index in 0..CHILDREN {
            let tx = tx.clone();
            spec = spec.child(ChildSpec::worker::<Child>(
                format!("child-{index}"),
                move || (index, tx.clone()),
            ));
        }
        let node = rt.block_on(async { Node::new().expect("inside a runtime") });
        let mut pids: Vec<Pid> = rt.block_on(async {
            SupervisorRef::start(&node, spec, SpawnOpts::new())
                .await
                .expect("starts");
            let mut pids = vec![None; CHILDREN];
            for _ in 0..CHILDREN {
                let (index, pid) = started.recv().await.expect("started");
                pids[index] = Some(pid);
            }
            pids.into_iter().flatten().collect()
        });
        // The crashing child; under one_for_all every child restarts.
        let victim = CHILDREN / 2;
        let expected = if strategy == Strategy::OneForOne {
            1
        } else {
            CHILDREN
        };
        let name = format!("{strategy:?}");
        group.bench_function(BenchmarkId::new(name, CHILDREN), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let handle = node.handle::<()>(pids[victim]).expect("a child");
                        let began = Instant::now();
                        let _ = handle.cast(()).await;
                        for _ in 0..expected {
                            let (index, pid) = started.recv().await.expect("restarted");
                            pids[index] = pid;
                        }
                        total += began.elapsed();
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion::criterion_group!(benches, restart_latency);
}
use group::benches;

criterion_main!(benches);
