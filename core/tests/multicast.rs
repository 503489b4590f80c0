//! One message for several processes of another node, in one frame: each
//! process named gets it once per listing, in order with what the same
//! sender sends it after; targets that do not exist or are not exported
//! are dead letters and the connection goes on; a frame naming more
//! processes than a multicast may, or cut short, ends the connection, as
//! any undecodable frame does.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::{Cookie, Endpoint, MAX_MULTICAST};
use beamish_core::transport::{LocalNetwork, Transport};
use beamish_core::{
    async_trait, forge, ClusterConfig, Context, ExitReason, Handle, Node, NodeName, Pid, Process,
    RemoteSendError, SpawnOpts,
};
use bytes::Bytes;
use tokio::sync::mpsc;

fn local(name: &str) -> Endpoint {
    Endpoint::Local { name: name.into() }
}

async fn member(net: &LocalNetwork, name: &str) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime");
    let transport: Arc<dyn Transport> = Arc::new(net.transport(name));
    node.join(
        ClusterConfig::new(Cookie::new("s")),
        vec![transport],
        &[local(name)],
    )
    .await
    .expect("joins");
    node
}

/// Reports every number it gets, with its pid.
struct Collector {
    out: mpsc::UnboundedSender<(Pid, u64)>,
}

#[async_trait]
impl Process for Collector {
    type Args = mpsc::UnboundedSender<(Pid, u64)>;
    type Msg = u64;

    async fn init(_: &mut Context<u64>, out: Self::Args) -> Result<Self, ExitReason> {
        Ok(Collector { out })
    }

    async fn handle(&mut self, ctx: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
        let _ = self.out.send((ctx.pid(), n));
        Ok(())
    }
}

fn collectors(node: &Node, n: usize, out: &mpsc::UnboundedSender<(Pid, u64)>) -> Vec<Handle<u64>> {
    (0..n)
        .map(|_| {
            node.spawn_opt::<Collector>(out.clone(), SpawnOpts::new().export::<u64>())
                .expect("spawns")
        })
        .collect()
}

async fn next(got: &mut mpsc::UnboundedReceiver<(Pid, u64)>) -> (Pid, u64) {
    tokio::time::timeout(Duration::from_secs(30), got.recv())
        .await
        .expect("arrives")
        .expect("open")
}

#[tokio::test(start_paused = true)]
async fn each_process_gets_it_once_per_listing_in_order_with_later_sends() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let (tx, mut got) = mpsc::unbounded_channel();
    let on_b = collectors(&b, 3, &tx);
    let pids: Vec<Pid> = on_b.iter().map(Handle::pid).collect();
    let listed = [pids[0], pids[1], pids[1], pids[2]];
    for round in 0..10_u64 {
        a.send_remote_many(b.name(), &listed, &round).expect("sent");
        a.send_remote(pids[1], &(round + 100)).expect("sent");
    }
    let mut each: std::collections::HashMap<Pid, Vec<u64>> = Default::default();
    for _ in 0..10 * 5 {
        let (pid, n) = next(&mut got).await;
        each.entry(pid).or_default().push(n);
    }
    let expected: Vec<u64> = (0..10)
        .flat_map(|round| [round, round, round + 100])
        .collect();
    assert_eq!(
        each[&pids[1]], expected,
        "twice, in order with the later sends"
    );
    assert_eq!(each[&pids[0]], (0..10).collect::<Vec<_>>());
    assert_eq!(each[&pids[2]], (0..10).collect::<Vec<_>>());
    assert!(got.try_recv().is_err(), "nothing more");

    // Over the limit of one frame: several frames, all delivered.
    let many = vec![pids[0]; MAX_MULTICAST + 3];
    a.cast_remote_many(b.name(), &many, &7_u64)
        .await
        .expect("sent");
    for _ in 0..many.len() {
        assert_eq!(next(&mut got).await, (pids[0], 7));
    }

    // A process of another node: nothing is sent.
    let elsewhere = Pid::new(a.name(), 1, a.creation());
    assert_eq!(
        a.send_remote_many(b.name(), &[pids[0], elsewhere], &1_u64),
        Err(RemoteSendError::WrongNode {
            pid: elsewhere,
            node: b.name()
        })
    );
    assert_eq!(a.send_remote_many(b.name(), &[], &1_u64), Ok(()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(got.try_recv().is_err(), "nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn a_raw_peers_multicast_reaches_only_what_exists_and_a_malformed_one_ends_the_connection() {
    let net = LocalNetwork::new();
    let b = member(&net, "b").await;
    let (tx, mut got) = mpsc::unbounded_channel();
    let on_b = collectors(&b, 2, &tx);
    let unexported = b.spawn::<Collector>(tx).expect("spawns").pid();
    let ghost = Pid::new(b.name(), 999_999, on_b[0].pid().creation());
    let raw_name = NodeName::new("raw@localhost").expect("valid");
    let raw_net = net.transport("raw");
    let mut raw = forge::authenticated(&raw_net, &local("b"), raw_name, Cookie::new("s")).await;

    let before = b.stats().dead_letters;
    let targets = [on_b[0].pid(), ghost, unexported, on_b[1].pid()];
    raw.sink
        .send(forge::multicast(&targets, &5_u64))
        .await
        .expect("sent");
    let mut reached = vec![next(&mut got).await, next(&mut got).await];
    reached.sort();
    let mut expected = vec![(on_b[0].pid(), 5), (on_b[1].pid(), 5)];
    expected.sort();
    assert_eq!(reached, expected);
    assert_eq!(
        b.stats().dead_letters - before,
        2,
        "the ghost and the unexported"
    );
    assert!(b.nodes().contains(&raw_name), "the connection goes on");

    // More processes than a multicast may name.
    let over = MAX_MULTICAST + 1;
    let mut frame = vec![0x03];
    frame.extend_from_slice(&u16::try_from(over).expect("fits").to_be_bytes());
    frame.extend(std::iter::repeat_n(0_u8, over * 12 + 8));
    raw.sink.send(vec![Bytes::from(frame)]).await.expect("sent");
    tokio::time::timeout(Duration::from_secs(2), async {
        while b.nodes().contains(&raw_name) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection ends");
    assert!(got.try_recv().is_err(), "nobody got anything of it");
}
