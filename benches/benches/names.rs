//! Names: what sending through a name costs beside sending to a handle,
//! and what a cluster-wide name costs to look up and to take.
//!
//! - `addr_cast`: one task casts 1,000,000 `u64` to one counting process
//!   through an [`Addr`] made from its handle, by its local name
//!   (resolved on every send), and by its global name
//!   ([`Global::addr`], `Addr::via` the global registry, resolved on
//!   every send). Current-thread runtime.
//! - `global`: `Global::whereis` of a held name (a table read), and
//!   `register` then `unregister` of a name on a node with two peers over
//!   the in-process network: the claim asks both peers' registries and
//!   waits for their acknowledgements.

use std::time::{Duration, Instant};

use beamish::cluster::{Global, GlobalSettings};
use beamish::transport::LocalNetwork;
use beamish::{Addr, Cookie, ExitReason, Node, SpawnOpts};
use beamish_benches::{exit_all, runtime, Countdown, Counter, Flavor, Idle};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

const CASTS: u64 = 1_000_000;

/// Node `name` on `net`, listening at `local://name`, connected to each of
/// `peers`, with its global registry.
fn node(rt: &Runtime, net: &LocalNetwork, name: &str, peers: &[&str]) -> (Node, Global) {
    rt.block_on(async {
        let mut builder = Node::builder()
            .name(format!("{name}@localhost"))
            .cookie(Cookie::new("bench names"))
            .transport(net.transport(name))
            .listen(format!("local://{name}").as_str());
        for peer in peers {
            builder = builder.connect(format!("local://{peer}").as_str());
        }
        let node = builder.start().await.expect("the node starts");
        let global = Global::start(&node, GlobalSettings::default())
            .await
            .expect("the registry starts");
        (node, global)
    })
}

fn addr_cast(c: &mut Criterion) {
    let mut group = c.benchmark_group("addr_cast");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(CASTS));
    let rt = runtime(Flavor::CurrentThread);
    let net = LocalNetwork::new();
    let (node, global) = node(&rt, &net, "a", &[]);
    type Make = fn(&Node, &Global, beamish::Handle<u64>) -> Addr<u64>;
    let ways: [(&str, Make); 3] = [
        ("handle", |_, _, handle| Addr::from(handle)),
        ("local_name", |node, _, _| {
            node.addr_named::<u64>("counter", node.name())
        }),
        ("global_name", |_, global, _| global.addr::<u64>("counter")),
    ];
    for (label, make) in ways {
        group.bench_function(
            BenchmarkId::new(label, Flavor::CurrentThread.label()),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (done, all_in) = oneshot::channel();
                        let counter = rt
                            .block_on(
                                node.start::<Counter>(
                                    (CASTS, done),
                                    SpawnOpts::new().name("counter"),
                                ),
                            )
                            .expect("starts");
                        rt.block_on(global.register("counter", counter.pid()))
                            .expect("registered");
                        let addr = make(&node, &global, counter.clone());
                        let start = Instant::now();
                        rt.block_on(async {
                            for i in 0..CASTS {
                                let _ = addr.cast(i).await;
                            }
                            all_in.await.expect("every message arrives");
                        });
                        total += start.elapsed();
                        rt.block_on(exit_all(&node, &[counter.pid()], ExitReason::Shutdown));
                        // Its name is free again once the registry saw it end.
                        while global.whereis("counter").is_some() {
                            rt.block_on(tokio::task::yield_now());
                        }
                    }
                    total
                })
            },
        );
    }
    group.finish();
}

fn global(c: &mut Criterion) {
    let mut group = c.benchmark_group("global");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let rt = runtime(Flavor::MultiThread);
    let net = LocalNetwork::new();
    let (a, on_a) = node(&rt, &net, "a", &[]);
    let (_b, on_b) = node(&rt, &net, "b", &["a"]);
    let (_c, on_c) = node(&rt, &net, "c", &["a"]);
    rt.block_on(async {
        while on_a.peers().len() < 2 || on_b.peers().is_empty() || on_c.peers().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let holder = rt
        .block_on(a.start::<Idle>(Countdown::new(1), SpawnOpts::new()))
        .expect("starts")
        .pid();
    rt.block_on(on_a.register("held", holder))
        .expect("registered");

    group.bench_function("whereis", |b| {
        b.iter(|| on_b.whereis(std::hint::black_box("held")))
    });
    group.bench_function(
        BenchmarkId::new("register_unregister", "2_peers_local_network"),
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    on_a.register("taken", holder).await.expect("registered");
                    on_a.unregister("taken").await.expect("released");
                })
            })
        },
    );
    group.finish();
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, addr_cast, global);
}
use group::benches;
criterion_main!(benches);
