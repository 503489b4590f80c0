//! Dynamic supervisors at scale: the time to shut down a dynamic
//! supervisor of 10 000 children, from the exit signal to the supervisor's
//! end.

use std::time::{Duration, Instant};

use beamish::{async_trait, Context, DynamicRef, DynamicSpec, ExitReason, Node, Process, SpawnOpts};
use beamish_benches::{runtime, Flavor};
use criterion::{criterion_main, BenchmarkId, Criterion};

const CHILDREN: usize = 10_000;

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
                    let sup = DynamicRef::start(&node, DynamicSpec::worker::<Child>(), SpawnOpts::new())
                        .await
                        .expect("starts");
                    for _ in 0..CHILDREN {
                        sup.start_child(()).await.expect("a child starts");
                    }
                    let ended = node.monitor(sup.pid());
                    let began = Instant::now();
                    node.exit(sup.pid(), ExitReason::Shutdown);
                    let reason = ended.await;
                    total += began.elapsed();
                    assert_eq!(reason, ExitReason::Shutdown);
                }
                total
            })
        })
    });
    group.finish();
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion::criterion_group!(benches, dynamic_shutdown);
}
use group::benches;

criterion_main!(benches);
