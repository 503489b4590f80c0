//! Process groups: a broadcast to a group of 1 000 members spread over
//! three nodes (a third on each) connected over TCP on loopback, sent
//! from one of them (deliveries/s), beside the same messages cast to each
//! member one by one (a frame per remote member). All three nodes share
//! one 2-thread runtime, so the figure counts the sender's, the
//! receivers' and the members' work together.
//!
//! The frames cost little (one per node per broadcast; socket copies and
//! decoding the payload are each under 1% of a profile): what bounds the
//! broadcast is delivering to each member on the receiving nodes, the
//! same work as for any remote message (looking the process up in the
//! node's table, the exported decoder, the mailbox) and each member's
//! task being woken and run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beamish::cluster::pg::Scope;
use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{
    async_trait, ClusterConfig, Context, ExitReason, Handle, Node, Pid, Process, SpawnOpts,
};
use beamish_benches::{runtime, Flavor};
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::sync::mpsc;

/// Members of the group, over all nodes.
const MEMBERS: usize = 1_000;
/// Nodes the members are spread over (the sender's among them).
const NODES: usize = 3;
/// Broadcasts per round.
const BROADCASTS: u64 = 100;

/// Counts messages; reports each time it has seen a round's worth.
struct Member {
    seen: u64,
    rounds: mpsc::UnboundedSender<()>,
}

#[async_trait]
impl Process for Member {
    type Args = mpsc::UnboundedSender<()>;
    type Msg = u64;

    async fn init(_: &mut Context<u64>, rounds: Self::Args) -> Result<Self, ExitReason> {
        Ok(Member { seen: 0, rounds })
    }

    async fn handle(&mut self, _: &mut Context<u64>, _: u64) -> Result<(), ExitReason> {
        self.seen += 1;
        if self.seen % BROADCASTS == 0 {
            let _ = self.rounds.send(());
        }
        Ok(())
    }
}

/// The sending node and its scope, the members (handles for those on the
/// sending node), and their round reports.
struct Setup {
    node: Node,
    scope: Scope,
    local: Vec<Handle<u64>>,
    remote: Vec<Pid>,
    rounds: mpsc::UnboundedReceiver<()>,
}

async fn setup() -> Setup {
    let config = ClusterConfig::new(Cookie::new("bench groups"));
    let listen: Endpoint = "tcp://127.0.0.1:0".parse().expect("valid");
    let mut nodes = Vec::new();
    let mut at = Vec::new();
    for i in 0..NODES {
        let node = Node::builder()
            .name(format!("n{i}@localhost"))
            .build()
            .expect("runtime");
        let transport: Arc<dyn Transport> = Arc::new(TcpTransport::new());
        let endpoints = node
            .join(
                config.clone(),
                vec![transport],
                std::slice::from_ref(&listen),
            )
            .await
            .expect("joins");
        at.push(endpoints[0].clone());
        nodes.push(node);
    }
    for (i, node) in nodes.iter().enumerate() {
        for endpoint in &at[i + 1..] {
            node.connect(endpoint).await.expect("connects");
        }
    }
    let (tx, rounds) = mpsc::unbounded_channel();
    let mut scopes = Vec::new();
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let scope = Scope::start_default(node).await.expect("the scope starts");
        let count = MEMBERS / NODES + usize::from(i < MEMBERS % NODES);
        let members: Vec<Handle<u64>> = (0..count)
            .map(|_| {
                node.spawn_opt::<Member>(tx.clone(), SpawnOpts::new().export::<u64>())
                    .expect("spawns")
            })
            .collect();
        let pids: Vec<Pid> = members.iter().map(Handle::pid).collect();
        scope.join("g", &pids).await.expect("joins");
        if i == 0 {
            local = members;
        } else {
            remote.extend(pids);
        }
        scopes.push(scope);
    }
    while scopes[0].members("g").len() < MEMBERS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let scope = scopes.swap_remove(0);
    let node = nodes.swap_remove(0);
    // The other nodes live as long as the bench.
    std::mem::forget(nodes);
    std::mem::forget(scopes);
    Setup {
        node,
        scope,
        local,
        remote,
        rounds,
    }
}

async fn rounds_done(rounds: &mut mpsc::UnboundedReceiver<()>) {
    for _ in 0..MEMBERS {
        tokio::time::timeout(Duration::from_secs(60), rounds.recv())
            .await
            .expect("in time")
            .expect("a round arrives");
    }
}

fn broadcast(c: &mut Criterion) {
    let rt = runtime(Flavor::MultiThread);
    let mut s = rt.block_on(setup());
    let mut group = c.benchmark_group("group_broadcast_1000_over_3_nodes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(BROADCASTS * MEMBERS as u64));
    group.bench_function(BenchmarkId::new("beamish", "broadcast"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for n in 0..BROADCASTS {
                        let sent = s.scope.broadcast("g", &n).await.expect("sent");
                        assert_eq!(sent, MEMBERS);
                    }
                    rounds_done(&mut s.rounds).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function(BenchmarkId::new("baseline", "cast_each"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for n in 0..BROADCASTS {
                        for member in &s.remote {
                            s.node.cast_remote(*member, &n).await.expect("sent");
                        }
                        for member in &s.local {
                            member.cast(n).await.expect("sent");
                        }
                    }
                    rounds_done(&mut s.rounds).await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod benches {
    use super::*;
    criterion::criterion_group!(benches, broadcast);
}
use benches::benches;

criterion_main!(benches);
