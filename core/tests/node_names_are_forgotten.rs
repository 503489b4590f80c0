//! Pods that come and go under new names all day do not make a node grow:
//! the name of a peer that has left is kept only among the most recently
//! seen, and a name whose text is forgotten keeps its identity.
//!
//! A million connect/disconnect cycles take about a minute in a release
//! build, where `scripts/test.sh` runs this test; a debug build runs
//! 40 000, still more than the names a process keeps unpinned.

mod support;

use std::time::Duration;

use beamish_core::dist::Cookie;
use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, forge, known_node_names, Context, Creation, ExitReason, NodeName, Pid, Process,
    ReplyTo, SpawnOpts,
};
use serde::{Deserialize, Serialize};
use support::{local, member};

const CYCLES: usize = if cfg!(debug_assertions) {
    40_000
} else {
    1_000_000
};

/// The names a process keeps that nothing pins (see `NodeName`).
const RECENT: usize = 16_384;

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|resident| resident.parse().ok())
        .expect("statm has a resident size");
    pages * 4096
}

struct Echo;

#[derive(Serialize, Deserialize, beamish_core::Message)]
#[message(name = "node_names_are_forgotten.EchoMsg")]
enum EchoMsg {
    Echo(String, ReplyTo<String>),
}

#[async_trait]
impl Process for Echo {
    type Args = ();
    type Msg = EchoMsg;

    async fn init(_ctx: &mut Context<EchoMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Echo)
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<EchoMsg>,
        msg: EchoMsg,
    ) -> Result<(), ExitReason> {
        let EchoMsg::Echo(text, reply) = msg;
        reply.reply(text);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_short_lived_peers_leave_no_names_behind() {
    let net = LocalNetwork::new();
    let b = member(&net, "b").await;
    let echo = b
        .start::<Echo>((), SpawnOpts::new().name("echo"))
        .await
        .expect("starts");
    b.export(&echo);
    let pods = net.transport("pods");
    let start = rss();

    let first: NodeName = "pod-0000000@cluster.local".parse().expect("valid");
    for n in 0..CYCLES {
        let name: NodeName = format!("pod-{n:07}@cluster.local").parse().expect("valid");
        let conn = forge::authenticated(&pods, &local("b"), name, Cookie::new("s")).await;
        drop(conn);
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        while !b.nodes().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every pod is seen to leave");

    let grown = rss().saturating_sub(start);
    assert!(
        grown < 20 << 20,
        "{CYCLES} peers grew the node by {} KiB",
        grown >> 10
    );
    // Pinned: the names of a, b and the few nodes of other tests in this
    // binary.
    assert!(
        known_node_names() <= RECENT + 8,
        "{} names known",
        known_node_names()
    );

    // The first pod's name was forgotten, but not its identity.
    assert!(first.text().is_none());
    assert!(first.to_string().starts_with("#forgotten-"));
    let pid = Pid::new(first, 1, Creation(1));
    assert!(
        serde_json::to_string(&pid).is_err(),
        "a forgotten name cannot go on the wire"
    );
    let again: NodeName = "pod-0000000@cluster.local".parse().expect("valid");
    assert_eq!(again, first);
    assert_eq!(first.to_string(), "pod-0000000@cluster.local");

    // A node that joins now is served as ever.
    let a = member(&net, "a").await;
    a.connect(&local("b"))
        .await
        .expect("connects after the churn");
    let reply = a
        .call_remote(
            echo.pid(),
            |r| EchoMsg::Echo("still here".into(), r),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(reply, Ok("still here".to_owned()));
    assert_eq!(a.name().to_string(), "a@localhost");
}

#[tokio::test]
async fn connected_and_configured_peers_keep_their_names() {
    let net = LocalNetwork::new();
    let b = member(&net, "keeper").await;
    let a = member(&net, "kept").await;
    a.connect(&local("keeper")).await.expect("connects");
    let configured: NodeName = "configured@elsewhere".parse().expect("valid");
    let _config = beamish_core::ClusterConfig::new(Cookie::new("s")).peer(configured, local("x"));

    for n in 0..RECENT + 100 {
        let _: NodeName = format!("churn-{n}@h").parse().expect("valid");
    }
    assert_eq!(a.name().to_string(), "kept@localhost");
    assert_eq!(b.nodes(), vec![a.name()]);
    assert_eq!(b.nodes()[0].to_string(), "kept@localhost");
    assert_eq!(configured.to_string(), "configured@elsewhere");
}
