//! A property of the whole cluster layer: after any sequence of joins,
//! leaves, process exits, global registrations, partitions, node losses
//! and restarts, once the network heals every live node lists the same
//! members in every group (exactly the joins still standing), every live
//! node says the same holder for every global name, and every member and
//! holder is alive.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use beamish_cluster::pg::Scope;
use beamish_cluster::{Global, GlobalSettings};
use beamish_core::transport::LocalNetwork;
use beamish_core::{ExitReason, Handle, NodeName, Pid};
use parking_lot::Mutex;
use proptest::prelude::*;
use support::*;

/// How many nodes the cluster may hold.
const NODES: usize = 4;
const GROUPS: [&str; 3] = ["g0", "g1", "g2"];
const NAMES: [&str; 3] = ["n0", "n1", "n2"];

/// One step of a scenario. Indices pick among what exists at that step
/// (taken modulo how many there are), so every step means something.
#[derive(Debug, Clone)]
enum Op {
    /// A node starts a process.
    Spawn { node: usize },
    /// A process of a node joins a group (once more).
    Join {
        node: usize,
        process: usize,
        group: usize,
    },
    /// A process of a node leaves a group it joined.
    Leave {
        node: usize,
        process: usize,
        group: usize,
    },
    /// A process ends abnormally.
    Exit { node: usize, process: usize },
    /// A process of a node claims a global name.
    Register {
        node: usize,
        process: usize,
        name: usize,
    },
    /// A node releases a global name held by one of its processes.
    Unregister { node: usize, name: usize },
    /// Two nodes are cut off from each other.
    Partition { a: usize, b: usize },
    /// Two nodes may reach each other again.
    Heal { a: usize, b: usize },
    /// A node shuts down, taking its processes with it.
    Lose { node: usize },
    /// A lost node starts again under its name, with a new creation.
    Restart { node: usize },
    /// Virtual time passes.
    Wait { millis: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES;
    let process = 0..8usize;
    prop_oneof![
        3 => node.clone().prop_map(|node| Op::Spawn { node }),
        6 => (node.clone(), process.clone(), 0..GROUPS.len())
            .prop_map(|(node, process, group)| Op::Join { node, process, group }),
        2 => (node.clone(), process.clone(), 0..GROUPS.len())
            .prop_map(|(node, process, group)| Op::Leave { node, process, group }),
        2 => (node.clone(), process.clone()).prop_map(|(node, process)| Op::Exit { node, process }),
        3 => (node.clone(), process, 0..NAMES.len())
            .prop_map(|(node, process, name)| Op::Register { node, process, name }),
        1 => (node.clone(), 0..NAMES.len()).prop_map(|(node, name)| Op::Unregister { node, name }),
        2 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Partition { a, b }),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Heal { a, b }),
        1 => node.clone().prop_map(|node| Op::Lose { node }),
        1 => node.prop_map(|node| Op::Restart { node }),
        2 => (0..3_000u64).prop_map(|millis| Op::Wait { millis }),
    ]
}

fn label(node: usize) -> String {
    format!("p{node}")
}

/// A live node: membership, the global registry, the default scope, and
/// the processes the scenario started on it that are still alive.
struct Live {
    member: Member,
    global: Global,
    scope: Scope,
    processes: Vec<Handle<String>>,
}

impl Live {
    async fn start(net: &LocalNetwork, node: usize) -> Self {
        let label = label(node);
        // Seeded with every other node, so a node that starts again finds
        // whoever is up.
        let seeds: Vec<String> = (0..NODES).filter(|n| *n != node).map(self::label).collect();
        let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
        let member = Member::start(net, &label, &seeds).await;
        let global = Global::start(&member.node, GlobalSettings::default())
            .await
            .expect("the global registry starts");
        let scope = Scope::start_default(&member.node)
            .await
            .expect("the scope starts");
        Self {
            member,
            global,
            scope,
            processes: Vec::new(),
        }
    }

    fn pick(&self, process: usize) -> Option<Handle<String>> {
        (!self.processes.is_empty()).then(|| self.processes[process % self.processes.len()].clone())
    }
}

/// The scenario's own account of what should hold: how many times each
/// process stands joined to each group.
#[derive(Default)]
struct Model {
    joins: BTreeMap<(usize, Pid), usize>,
}

impl Model {
    fn expected(&self, group: usize) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self
            .joins
            .iter()
            .filter(|((g, _), _)| *g == group)
            .flat_map(|((_, pid), n)| std::iter::repeat_n(*pid, *n))
            .collect();
        pids.sort();
        pids
    }

    fn forget(&mut self, gone: impl Fn(Pid) -> bool) {
        self.joins.retain(|(_, pid), _| !gone(*pid));
    }
}

/// Longer than any step may take in virtual time (a claim gives up on a
/// silent peer after ten seconds).
const STEP: Duration = Duration::from_secs(20);

async fn run(ops: Vec<Op>) {
    let net = LocalNetwork::new();
    let mut nodes: Vec<Option<Live>> = Vec::new();
    for node in 0..NODES {
        nodes.push(Some(Live::start(&net, node).await));
    }
    let mut model = Model::default();
    // The processes the scenario ended itself, or with their node.
    let mut forgotten: BTreeSet<Pid> = BTreeSet::new();
    // Every pid a successful claim gave a name to.
    let mut given: BTreeMap<&str, BTreeSet<Pid>> = BTreeMap::new();
    let mut cut: BTreeSet<(usize, usize)> = BTreeSet::new();
    // How each process the scenario started ended, as its monitor told.
    let ended: Arc<Mutex<BTreeMap<Pid, ExitReason>>> = Arc::default();

    for op in ops {
        match op {
            Op::Spawn { node } => {
                if let Some(live) = &mut nodes[node] {
                    let process = support::pg::idle_on(&live.member.node);
                    let (pid, ends) = (process.pid(), live.member.node.monitor(process.pid()));
                    let ended = Arc::clone(&ended);
                    tokio::spawn(async move {
                        let reason = ends.await;
                        ended.lock().insert(pid, reason);
                    });
                    live.processes.push(process);
                }
            }
            Op::Join {
                node,
                process,
                group,
            } => {
                let Some(live) = &nodes[node] else { continue };
                let Some(process) = live.pick(process) else {
                    continue;
                };
                let joined =
                    tokio::time::timeout(STEP, live.scope.join(GROUPS[group], &[process.pid()]))
                        .await
                        .expect("a join answers");
                joined.expect("a live local process joins");
                *model.joins.entry((group, process.pid())).or_default() += 1;
            }
            Op::Leave {
                node,
                process,
                group,
            } => {
                let Some(live) = &nodes[node] else { continue };
                let Some(process) = live.pick(process) else {
                    continue;
                };
                let left =
                    tokio::time::timeout(STEP, live.scope.leave(GROUPS[group], &[process.pid()]))
                        .await
                        .expect("a leave answers");
                let key = (group, process.pid());
                match model.joins.get_mut(&key) {
                    Some(n) => {
                        left.expect("a member leaves");
                        *n -= 1;
                        if *n == 0 {
                            model.joins.remove(&key);
                        }
                    }
                    None => assert!(left.is_err(), "a leave of a process that never joined"),
                }
            }
            Op::Exit { node, process } => {
                let Some(live) = &mut nodes[node] else {
                    continue;
                };
                let Some(process) = live.pick(process) else {
                    continue;
                };
                let ended = live.member.node.monitor(process.pid());
                live.member
                    .node
                    .exit(process.pid(), ExitReason::Error("chosen to end".into()));
                let reason = tokio::time::timeout(STEP, ended).await.expect("it ends");
                assert_eq!(reason, ExitReason::Error("chosen to end".into()));
                live.processes.retain(|p| p.pid() != process.pid());
                model.forget(|pid| pid == process.pid());
                forgotten.insert(process.pid());
            }
            Op::Register {
                node,
                process,
                name,
            } => {
                let Some(live) = &nodes[node] else { continue };
                let Some(process) = live.pick(process) else {
                    continue;
                };
                let claimed =
                    tokio::time::timeout(STEP, live.global.register(NAMES[name], process.pid()))
                        .await
                        .expect("a claim answers");
                // Taken or contended are answers too; only a success gives
                // the name.
                if claimed.is_ok() {
                    given.entry(NAMES[name]).or_default().insert(process.pid());
                }
            }
            Op::Unregister { node, name } => {
                let Some(live) = &nodes[node] else { continue };
                let held_here = live
                    .global
                    .whereis(NAMES[name])
                    .is_some_and(|pid| pid.node() == live.member.name());
                let released = tokio::time::timeout(STEP, live.global.unregister(NAMES[name]))
                    .await
                    .expect("a release answers");
                if held_here {
                    released.expect("a name held here is released");
                }
            }
            Op::Partition { a, b } if a != b => {
                net.partition(&label(a), &label(b));
                cut.insert((a.min(b), a.max(b)));
            }
            Op::Heal { a, b } => {
                net.heal(&label(a), &label(b));
                cut.remove(&(a.min(b), a.max(b)));
            }
            Op::Partition { .. } => {}
            Op::Lose { node } => {
                if let Some(live) = nodes[node].take() {
                    let gone = live.member.name();
                    live.member.node.shutdown(Duration::from_secs(1)).await;
                    model.forget(|pid| pid.node() == gone);
                    forgotten.extend(live.processes.iter().map(|p| p.pid()));
                }
            }
            Op::Restart { node } => {
                if nodes[node].is_none() {
                    nodes[node] = Some(Live::start(&net, node).await);
                }
            }
            Op::Wait { millis } => tokio::time::sleep(Duration::from_millis(millis)).await,
        }
    }

    for (a, b) in std::mem::take(&mut cut) {
        net.heal(&label(a), &label(b));
    }
    let live: Vec<&Live> = nodes.iter().flatten().collect();
    if live.is_empty() {
        // Every node was lost: nothing is left to agree.
        return;
    }
    let members: Vec<&Member> = live.iter().map(|live| &live.member).collect();
    mesh(&members).await;
    // A process that lost a global name to a holder on the other side of
    // a partition is ended by the default resolver, and leaves its
    // groups: the model forgets it too, once its monitor tells.
    let lost_a_name = |reason: &ExitReason| reason.to_string().contains("global name conflict");
    eventually("every node lists the joins still standing", || {
        let ended = ended.lock();
        (0..GROUPS.len()).all(|group| {
            let mut expected = model.expected(group);
            expected.retain(|pid| !ended.get(pid).is_some_and(lost_a_name));
            live.iter().all(|node| {
                let mut listed = node.scope.members(GROUPS[group]);
                listed.sort();
                listed == expected
            })
        })
    })
    .await;
    eventually("every node says the same holder of each name", || {
        NAMES.iter().all(|name| {
            let said: BTreeSet<Option<Pid>> =
                live.iter().map(|node| node.global.whereis(name)).collect();
            said.len() == 1
        })
    })
    .await;

    // No process ended but by the scenario's hand or by losing a name.
    for (pid, reason) in ended.lock().iter() {
        assert!(
            forgotten.contains(pid) || lost_a_name(reason),
            "{pid} ended unbidden: {reason}"
        );
    }
    let ended = ended.lock().clone();
    model.forget(|pid| ended.contains_key(&pid));
    let alive = |pid: Pid| {
        live.iter()
            .any(|node| node.member.name() == pid.node() && node.member.node.is_alive(pid))
    };
    for (group, group_name) in GROUPS.iter().enumerate() {
        for pid in model.expected(group) {
            assert!(alive(pid), "{pid} is listed in {group_name} but ended");
        }
    }
    let live_names: BTreeSet<NodeName> = live.iter().map(|node| node.member.name()).collect();
    for name in NAMES {
        let Some(holder) = live[0].global.whereis(name) else {
            continue;
        };
        assert!(alive(holder), "{name} is held by {holder}, which ended");
        assert!(live_names.contains(&holder.node()));
        assert!(
            given.get(name).is_some_and(|pids| pids.contains(&holder)),
            "{name} is held by {holder}, which never claimed it"
        );
        assert_eq!(
            live.iter()
                .map(|node| node.global.registered())
                .collect::<BTreeSet<_>>()
                .len(),
            1,
            "every node lists the same names"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn after_any_faults_every_node_agrees_on_groups_and_names(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
        runtime.block_on(run(ops));
    }
}
