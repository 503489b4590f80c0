//! Four `beamish-node` processes on 127.0.0.1 over TCP, the first a
//! member with no seed and the others given only a DNS name and port
//! (`localhost:<port of the first>`), become a full mesh; one is
//! SIGKILLed and every other drops it; one more started from the same
//! seed name is found by all. Each node's `echo` is in the process group
//! `workers`, and every node's view of the group follows: the killed
//! node's member goes, the new node's comes.

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(30);
const COOKIE: &str = "a cluster of processes";

/// A node process, and what it said.
struct NodeProcess {
    name: String,
    child: Child,
}

/// A line a node printed: which node, and the line.
type Said = (String, String);

/// Starts `name`, a first member (no seed) or seeded with `seed`;
/// returns it and the port it listens at. Its later lines go to `said`.
async fn start(
    name: &str,
    seed: Option<u16>,
    said: &mpsc::UnboundedSender<Said>,
) -> (NodeProcess, u16) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beamish-node"));
    command.args([
        "--name",
        name,
        "--listen",
        "tcp://127.0.0.1:0",
        "--cookie",
        COOKIE,
        "--group",
        "workers",
    ]);
    match seed {
        Some(port) => command.args(["--seed-dns", &format!("localhost:{port}")]),
        None => command.arg("--cluster"),
    };
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the node program starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the node reports in time")
        .expect("readable")
        .expect("a line");
    let port = first
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("not a listening line: {first}"));
    let said = said.clone();
    let who = name.to_owned();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if said.send((who.clone(), line)).is_err() {
                return;
            }
        }
    });
    (
        NodeProcess {
            name: name.to_owned(),
            child,
        },
        port,
    )
}

/// What each node says its members are, from its `joined`/`left` lines;
/// the members of `workers` it sees, from its `member+`/`member-` lines;
/// and each node's `echo`, the member it adds.
#[derive(Default)]
struct Views {
    members: HashMap<String, BTreeSet<String>>,
    groups: HashMap<String, BTreeSet<String>>,
    echo: HashMap<String, String>,
}

impl Views {
    fn take(&mut self, (who, line): Said) {
        let members = self.members.entry(who.clone()).or_default();
        let group = self.groups.entry(who.clone()).or_default();
        match line.split_once(' ') {
            Some(("joined", member)) => {
                members.insert(member.to_owned());
            }
            Some(("left", member)) => {
                members.remove(member);
            }
            Some(("member+", pid)) => {
                group.insert(pid.to_owned());
            }
            Some(("member-", pid)) => {
                group.remove(pid);
            }
            Some(("echo", pid)) => {
                self.echo.insert(who, pid.to_owned());
            }
            _ => {}
        }
    }

    /// Whether each of `nodes` sees exactly their `echo`s in `workers`.
    fn groups_follow(&self, nodes: &[&str]) -> bool {
        let echoes: Option<BTreeSet<String>> = nodes
            .iter()
            .map(|node| self.echo.get(*node).cloned())
            .collect();
        let Some(echoes) = echoes else { return false };
        nodes
            .iter()
            .all(|node| self.groups.get(*node).is_some_and(|seen| *seen == echoes))
    }

    /// Whether each of `nodes` has exactly the others as members.
    fn full_mesh(&self, nodes: &[&str]) -> bool {
        nodes.iter().all(|node| {
            let others: BTreeSet<String> = nodes
                .iter()
                .filter(|other| *other != node)
                .map(|other| (*other).to_owned())
                .collect();
            self.members
                .get(*node)
                .is_some_and(|members| *members == others)
        }) && self.groups_follow(nodes)
    }

    /// Takes lines until `nodes` form a full mesh and each sees the
    /// others' members of `workers`; returns how long it took.
    async fn until_mesh(
        &mut self,
        said: &mut mpsc::UnboundedReceiver<Said>,
        nodes: &[&str],
    ) -> Duration {
        let started = Instant::now();
        while !self.full_mesh(nodes) {
            let line = tokio::time::timeout(WAIT, said.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no full mesh of {nodes:?}: members {:?}, groups {:?}, echoes {:?}",
                        self.members, self.groups, self.echo
                    )
                })
                .expect("the nodes run");
            self.take(line);
        }
        started.elapsed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_seeded_with_a_name_mesh_drop_a_killed_one_and_find_a_new_one() {
    let (tx, mut said) = mpsc::unbounded_channel();
    let mut views = Views::default();
    let (first, port) = start("n1@localhost", None, &tx).await;
    let mut nodes = vec![first];
    for name in ["n2@localhost", "n3@localhost", "n4@localhost"] {
        nodes.push(start(name, Some(port), &tx).await.0);
    }
    let formed = views
        .until_mesh(
            &mut said,
            &[
                "n1@localhost",
                "n2@localhost",
                "n3@localhost",
                "n4@localhost",
            ],
        )
        .await;
    println!("four nodes formed a full mesh in {formed:?}");

    let mut killed = nodes.remove(1);
    assert_eq!(killed.name, "n2@localhost");
    killed.child.start_kill().expect("SIGKILL");
    killed.child.wait().await.expect("reaped");
    let dropped = views
        .until_mesh(&mut said, &["n1@localhost", "n3@localhost", "n4@localhost"])
        .await;
    println!("the killed node was dropped everywhere in {dropped:?}");

    nodes.push(start("n5@localhost", Some(port), &tx).await.0);
    let joined = views
        .until_mesh(
            &mut said,
            &[
                "n1@localhost",
                "n3@localhost",
                "n4@localhost",
                "n5@localhost",
            ],
        )
        .await;
    println!("a new node was found by all in {joined:?}");
}
