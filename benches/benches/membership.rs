//! How fast a cluster of five nodes over TCP on loopback agrees on its
//! members: from a fifth node's start (seeded with one member) until all
//! five list each other, and from its leaving until the four drop it.
//! The baseline is one plain connection and handshake between two nodes,
//! the least a join can cost.

use std::time::{Duration, Instant};

use beamish::cluster::{Cluster, ClusterSettings, StaticDiscovery};
use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::{Node, NodeEvent, NodeName};
use beamish_benches::{runtime, Flavor};
use criterion::{criterion_main, Criterion};

const COOKIE: &str = "the membership bench's cookie";

async fn node(name: &str) -> Node {
    Node::builder()
        .name(format!("{name}@localhost"))
        .cookie(Cookie::new(COOKIE))
        .transport(TcpTransport::new())
        .listen("tcp://127.0.0.1:0")
        .start()
        .await
        .expect("the node starts")
}

async fn member(name: &str, seed: Option<&Endpoint>) -> (Node, Cluster) {
    let node = node(name).await;
    let seeds = StaticDiscovery::new(seed.cloned()).expect("seeds");
    let cluster = Cluster::start(&node, seeds, ClusterSettings::default())
        .await
        .expect("membership starts");
    (node, cluster)
}

/// Waits until each of `members` lists exactly the others.
async fn agreed(members: &[(Node, Cluster)]) {
    for (node, cluster) in members {
        let others: Vec<NodeName> = members
            .iter()
            .map(|(other, _)| other.name())
            .filter(|other| *other != node.name())
            .collect();
        cluster.wait_for_members(&others).await;
    }
}

fn convergence(c: &mut Criterion) {
    let rt = runtime(Flavor::MultiThread);
    let mut members = rt.block_on(async {
        let first = member("m1", None).await;
        let seed = first.0.listening()[0].clone();
        let mut members = vec![first];
        for name in ["m2", "m3", "m4"] {
            members.push(member(name, Some(&seed)).await);
        }
        agreed(&members).await;
        members
    });
    let seed = members[0].0.listening()[0].clone();
    let mut group = c.benchmark_group("membership_5_nodes_tcp");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("join_until_all_agree", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    members.push(member("m5", Some(&seed)).await);
                    agreed(&members).await;
                    total += started.elapsed();
                    let (gone, _) = members.pop().expect("the fifth");
                    gone.shutdown(Duration::from_secs(5)).await;
                    agreed(&members).await;
                }
                total
            })
        });
    });
    group.bench_function("leave_until_all_agree", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    members.push(member("m5", Some(&seed)).await);
                    agreed(&members).await;
                    let started = Instant::now();
                    let (gone, _) = members.pop().expect("the fifth");
                    gone.shutdown(Duration::from_secs(5)).await;
                    agreed(&members).await;
                    total += started.elapsed();
                }
                total
            })
        });
    });
    // The baseline: one connection and handshake, then its end.
    let (a, b) = rt.block_on(async { (node("base-a").await, node("base-b").await) });
    let at = b.listening()[0].clone();
    let mut b_events = b.monitor_nodes().expect("joined");
    group.bench_function("baseline_connect_handshake", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    a.connect(&at).await.expect("connects");
                    total += started.elapsed();
                    a.disconnect(b.name());
                    // b has seen it come and go before the next round.
                    while !matches!(b_events.next().await, Some(NodeEvent::Down(..))) {}
                }
                total
            })
        });
    });
    group.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    convergence(&mut c);
}

criterion_main!(benches);
