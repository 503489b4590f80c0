//! Shared helpers: members on an in-process network, and waiting for the
//! mesh in virtual time.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod pg;
pub mod topics;

use std::time::Duration;

use beamish_cluster::{Cluster, ClusterSettings, StaticDiscovery};
use beamish_core::transport::{LocalNetwork, Transport};
use beamish_core::{Cookie, Node, NodeName};

/// How often members poll discovery and remind each other, in tests.
pub const POLL: Duration = Duration::from_secs(1);

/// Longer than the mesh may take to form, in virtual time.
pub const SETTLE: Duration = Duration::from_secs(30);

/// A node of the cluster, and its membership.
pub struct Member {
    pub node: Node,
    pub cluster: Cluster,
}

impl Member {
    /// `name@localhost`, listening at `local://name`, seeded with
    /// `local://seed` for each of `seeds`.
    pub async fn start(net: &LocalNetwork, name: &str, seeds: &[&str]) -> Self {
        Self::start_with(net.transport(name), name, seeds).await
    }

    /// As [`start`](Self::start), over `transport`.
    pub async fn start_with(transport: impl Transport, name: &str, seeds: &[&str]) -> Self {
        let node = Node::builder()
            .name(format!("{name}@localhost"))
            .cookie(Cookie::new("the cluster's cookie"))
            .transport(transport)
            .listen(format!("local://{name}").as_str())
            .start()
            .await
            .expect("the node starts");
        let seeds = StaticDiscovery::new(seeds.iter().map(|seed| format!("local://{seed}")))
            .expect("seeds parse");
        let cluster = Cluster::start(&node, seeds, ClusterSettings::default().poll_interval(POLL))
            .await
            .expect("membership starts");
        Self { node, cluster }
    }

    pub fn name(&self) -> NodeName {
        self.node.name()
    }
}

impl Drop for Member {
    /// A crash nobody watched fails the test.
    fn drop(&mut self) {
        let failures = self.node.take_unobserved_failures();
        if !std::thread::panicking() {
            assert!(failures.is_empty(), "unobserved failures: {failures:?}");
        }
    }
}

/// Waits, in virtual time and at most [`SETTLE`], until `done` holds.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(SETTLE, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "never happened: {what}");
}

/// Whether every one of `members` has exactly the others as members, and
/// is connected to each.
pub fn full_mesh(members: &[&Member]) -> bool {
    members.iter().all(|member| {
        let mut others: Vec<NodeName> = members
            .iter()
            .map(|other| other.name())
            .filter(|name| *name != member.name())
            .collect();
        others.sort();
        member.cluster.members() == others
            && others
                .iter()
                .all(|other| member.node.nodes().contains(other))
    })
}

/// Whether each of `members` has each of the others as a member (and
/// perhaps more).
pub fn see_each_other(members: &[&Member]) -> bool {
    members.iter().all(|member| {
        members.iter().all(|other| {
            other.name() == member.name() || member.cluster.members().contains(&other.name())
        })
    })
}

/// Waits until `members` form a full mesh.
pub async fn mesh(members: &[&Member]) {
    eventually("a full mesh", || full_mesh(members)).await;
}

/// A member of the cluster that runs the global registry too.
pub struct Named {
    pub member: Member,
    pub global: beamish_cluster::Global,
}

impl Named {
    /// As [`Member::start`], with the default global settings.
    pub async fn start(net: &LocalNetwork, name: &str, seeds: &[&str]) -> Self {
        Self::with(net, name, seeds, beamish_cluster::GlobalSettings::default()).await
    }

    /// As [`Member::start`], with `settings` for the global registry.
    pub async fn with(
        net: &LocalNetwork,
        name: &str,
        seeds: &[&str],
        settings: beamish_cluster::GlobalSettings,
    ) -> Self {
        let member = Member::start(net, name, seeds).await;
        let global = beamish_cluster::Global::start(&member.node, settings)
            .await
            .expect("the global registry starts");
        Self { member, global }
    }

    pub fn node(&self) -> &Node {
        &self.member.node
    }

    pub fn name(&self) -> NodeName {
        self.member.name()
    }

    /// Starts a process that answers [`Who`] with its pid, exported.
    pub async fn holder(&self) -> beamish_core::Pid {
        self.node()
            .start::<Holder>((), beamish_core::SpawnOpts::new().export::<Who>())
            .await
            .expect("a holder starts")
            .pid()
    }
}

/// Waits until each of `nodes` has met the registry of every other.
pub async fn registries_meet(nodes: &[&Named]) {
    eventually("every registry knows every other", || {
        nodes.iter().all(|node| {
            nodes.iter().all(|other| {
                other.name() == node.name() || node.global.peers().contains(&other.name())
            })
        })
    })
    .await;
}

/// Whether every one of `nodes` says `name` is held by `holder`.
pub fn all_say(nodes: &[&Named], name: &str, holder: Option<beamish_core::Pid>) -> bool {
    nodes.iter().all(|node| node.global.whereis(name) == holder)
}

/// What a holder is asked: its pid.
#[derive(serde::Serialize, serde::Deserialize, beamish_core::Message)]
#[message(name = "tests.global.Who")]
pub enum Who {
    /// Answered with the holder's pid.
    Ask(beamish_core::ReplyTo<beamish_core::Pid>),
    /// Kept, to be read back with `Notes`.
    Note(String),
    /// Answered with the notes kept.
    Notes(beamish_core::ReplyTo<Vec<String>>),
}

/// A process that answers who it is and keeps the notes it is sent.
pub struct Holder {
    pub notes: Vec<String>,
}

#[beamish_core::async_trait]
impl beamish_core::Process for Holder {
    type Args = ();
    type Msg = Who;

    async fn init(
        _: &mut beamish_core::Context<Who>,
        _: (),
    ) -> Result<Self, beamish_core::ExitReason> {
        Ok(Holder { notes: Vec::new() })
    }

    async fn handle(
        &mut self,
        ctx: &mut beamish_core::Context<Who>,
        msg: Who,
    ) -> Result<(), beamish_core::ExitReason> {
        match msg {
            Who::Ask(reply) => {
                reply.reply(ctx.pid());
            }
            Who::Note(note) => self.notes.push(note),
            Who::Notes(reply) => {
                reply.reply(self.notes.clone());
            }
        }
        Ok(())
    }
}
