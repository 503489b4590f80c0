//! Process groups: a broadcast to a group of 1 000 members spread over
//! three nodes (a third on each) connected over TCP on loopback, sent
//! from one of them (deliveries/s), beside the same messages cast to each
//! member one by one (a frame per remote member). All three nodes share
//! one 2-thread runtime, so the figure counts the sender's, the
//! receivers' and the members' work together.
//!
//! Subscriptions in fast mode: the same 1 000 processes subscribed to a
//! topic, and events published on it (deliveries/s), beside the group
//! broadcast to them.
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
use beamish::cluster::topics::{Topic, Topics};
use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{
    async_trait, ClusterConfig, Context, ExitReason, Handle, Node, Pid, Process, SpawnOpts,
};
use beamish_benches::{rss_bytes, runtime, Flavor};
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::sync::mpsc;

/// Members of the group, over all nodes.
const MEMBERS: usize = 1_000;
/// Nodes the members are spread over (the sender's among them).
const NODES: usize = 3;
/// Broadcasts per round.
const BROADCASTS: u64 = 100;
/// The topic every member subscribes to.
const TOPIC: &str = "bench.tick";

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
    topics: Topics,
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
    let mut services = Vec::new();
    let mut local = Vec::new();
    let topic = Topic::<u64>::new(TOPIC).expect("a topic");
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
        let topics = Topics::start(node).await.expect("the topics start");
        for member in &members {
            topics.subscribe(member, &topic).await.expect("subscribes");
        }
        services.push(topics);
        if i == 0 {
            local = members;
        } else {
            remote.extend(pids);
        }
        scopes.push(scope);
    }
    while scopes[0].members("g").len() < MEMBERS || services[0].subscribers(&topic).len() < MEMBERS
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let scope = scopes.swap_remove(0);
    let topics = services.swap_remove(0);
    let node = nodes.swap_remove(0);
    // The other nodes live as long as the bench.
    std::mem::forget(nodes);
    std::mem::forget(scopes);
    std::mem::forget(services);
    Setup {
        node,
        scope,
        topics,
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

fn broadcast(c: &mut Criterion, rt: &tokio::runtime::Runtime, s: &mut Setup) {
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

fn publish(c: &mut Criterion, rt: &tokio::runtime::Runtime, s: &mut Setup) {
    let topic = Topic::<u64>::new(TOPIC).expect("a topic");
    let mut group = c.benchmark_group("fast_publish_1000_over_3_nodes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(BROADCASTS * MEMBERS as u64));
    group.bench_function(BenchmarkId::new("beamish", "publish"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for n in 0..BROADCASTS {
                        let sent = s.topics.publish(&topic, &n).await.expect("published");
                        assert_eq!(sent.nodes.len(), NODES - 1);
                    }
                    rounds_done(&mut s.rounds).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function(BenchmarkId::new("baseline", "group_broadcast"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for n in 0..BROADCASTS {
                        s.scope.broadcast("g", &n).await.expect("sent");
                    }
                    rounds_done(&mut s.rounds).await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// Processes joined for the memory report.
const JOINED: usize = 100_000;
/// Groups they are spread over.
const GROUPS: usize = 100;

/// Prints the resident memory one group membership adds on the node that
/// holds it and on a peer that hears of it: 100 000 idle processes of
/// one node join 100 groups (1 000 each), and the growth of the process
/// is divided by the memberships (both tables live in this one process,
/// so the figure is the two together). Run once, outside criterion's
/// timing.
fn report_member_memory(rt: &tokio::runtime::Runtime) {
    let (a, b) = rt.block_on(async {
        let net = beamish::transport::LocalNetwork::new();
        let mut nodes = Vec::new();
        for name in ["mem-a", "mem-b"] {
            let node = Node::builder()
                .name(format!("{name}@localhost"))
                .cookie(Cookie::new("bench group memory"))
                .transport(net.transport(name))
                .listen(format!("local://{name}").as_str())
                .start()
                .await
                .expect("the node starts");
            nodes.push(node);
        }
        nodes[1]
            .connect(&"local://mem-a".parse().expect("valid"))
            .await
            .expect("connects");
        let b = nodes.pop().expect("b");
        let a = nodes.pop().expect("a");
        (a, b)
    });
    let (scope_a, scope_b, members) = rt.block_on(async {
        let scope_a = Scope::start_default(&a).await.expect("the scope starts");
        let scope_b = Scope::start_default(&b).await.expect("the scope starts");
        let (tx, _rounds) = mpsc::unbounded_channel();
        let members: Vec<Handle<u64>> = (0..JOINED)
            .map(|_| a.spawn::<Member>(tx.clone()).expect("spawns"))
            .collect();
        (scope_a, scope_b, members)
    });
    let pids: Vec<Pid> = members.iter().map(Handle::pid).collect();
    let before = rss_bytes();
    rt.block_on(async {
        for (group, chunk) in pids.chunks(JOINED / GROUPS).enumerate() {
            scope_a
                .join(&format!("g{group}"), chunk)
                .await
                .expect("joins");
        }
        while scope_b.which_groups().len() < GROUPS
            || (0..GROUPS).any(|g| scope_b.members(&format!("g{g}")).len() < JOINED / GROUPS)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let per_member = rss_bytes().saturating_sub(before) / JOINED as u64;
    eprintln!(
        "group memory: {per_member} B per membership, on its node and one peer together \
         ({JOINED} processes in {GROUPS} groups; RSS growth)"
    );
    drop(members);
    rt.block_on(async {
        a.shutdown(Duration::from_secs(5)).await;
        b.shutdown(Duration::from_secs(5)).await;
    });
}

fn benches_all(c: &mut Criterion) {
    report_member_memory(&runtime(Flavor::MultiThread));
    let rt = runtime(Flavor::MultiThread);
    let mut s = rt.block_on(setup());
    broadcast(c, &rt, &mut s);
    publish(c, &rt, &mut s);
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod benches {
    use super::*;
    criterion::criterion_group!(benches, benches_all);
}
use benches::benches;

criterion_main!(benches);
