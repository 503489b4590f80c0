//! A registry tells each peer every name its node's processes hold in
//! parts of at most 1 024 names, so a node holding many names never
//! needs one frame for them all, and tells them again every resync
//! interval, so a peer that missed a message agrees again. A peer's sync
//! replaces what was known of it only once its last part arrived in
//! turn. The peer here is a test node that plays a registry on the wire.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use beamish_cluster::{GlobalSettings, GLOBAL};
use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Context, Cookie, ExitReason, Message, Node, Origin, Pid, Process, SpawnOpts,
};
use serde::{Deserialize, Serialize};
use support::*;
use tokio::sync::mpsc;

/// The registries' wire message, as the test peer writes and reads it.
#[derive(Debug, Serialize, Deserialize, Message)]
#[message(name = "beamish.cluster.Global")]
enum Wire {
    Sync {
        from: Origin,
        registry: Pid,
        part: u32,
        last: bool,
        names: Vec<(String, Pid)>,
        answer: bool,
    },
    Claim {
        from: Origin,
        claim: u64,
        name: String,
        pid: Pid,
    },
    Vote {
        from: Origin,
        claim: u64,
        verdict: Verdict,
    },
    Registered {
        from: Origin,
        claim: u64,
        name: String,
        pid: Pid,
    },
    Released {
        from: Origin,
        name: String,
        pid: Pid,
    },
}

#[derive(Debug, Serialize, Deserialize)]
enum Verdict {
    Yes,
    Held(Pid),
    Claimed(Pid),
}

/// Plays the peer's registry: hands each message it gets to the test.
struct Recorder(mpsc::UnboundedSender<Wire>);

#[async_trait]
impl Process for Recorder {
    type Args = mpsc::UnboundedSender<Wire>;
    type Msg = Wire;

    async fn init(_: &mut Context<Wire>, heard: Self::Args) -> Result<Self, ExitReason> {
        Ok(Self(heard))
    }

    async fn handle(&mut self, _: &mut Context<Wire>, msg: Wire) -> Result<(), ExitReason> {
        let _ = self.0.send(msg);
        Ok(())
    }
}

/// A node connected to `a` whose registry is a [`Recorder`].
async fn peer_of(net: &LocalNetwork, a: &Named) -> (Node, Pid, mpsc::UnboundedReceiver<Wire>) {
    let peer = Node::builder()
        .name("peer@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("peer"))
        .connect("local://a")
        .start()
        .await
        .expect("the peer connects");
    let (heard, hear) = mpsc::unbounded_channel();
    let registry = peer
        .start::<Recorder>(heard, SpawnOpts::new().name(GLOBAL).export::<Wire>())
        .await
        .expect("the recorder starts")
        .pid();
    assert!(peer.nodes().contains(&a.name()));
    (peer, registry, hear)
}

/// The parts of one whole sync `hear` gets next, skipping other
/// messages: how many names each part carried, and all the names.
async fn one_sync(hear: &mut mpsc::UnboundedReceiver<Wire>) -> (Vec<usize>, BTreeSet<String>) {
    let mut sizes = Vec::new();
    let mut all = BTreeSet::new();
    loop {
        let heard = tokio::time::timeout(SETTLE, hear.recv())
            .await
            .expect("a sync comes")
            .expect("the recorder lives");
        let Wire::Sync {
            part, last, names, ..
        } = heard
        else {
            continue;
        };
        assert_eq!(part as usize, sizes.len(), "parts come in turn");
        sizes.push(names.len());
        all.extend(names.into_iter().map(|(name, _)| name));
        if last {
            return (sizes, all);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_registry_tells_a_peer_its_names_in_parts_and_again_every_resync_interval() {
    let net = LocalNetwork::new();
    let every = Duration::from_secs(5);
    let a = Named::with(
        &net,
        "a",
        &[],
        GlobalSettings::default().resync_interval(every),
    )
    .await;
    let holder = a.holder().await;
    let names: Vec<String> = (0..2_500).map(|n| format!("name-{n:04}")).collect();
    for name in &names {
        a.global.register(name, holder).await.expect("free");
    }

    let (peer, registry, mut hear) = peer_of(&net, &a).await;
    peer.send_remote_named(
        a.name(),
        GLOBAL,
        &Wire::Sync {
            from: Origin::here(),
            registry,
            part: 0,
            last: true,
            names: vec![],
            answer: true,
        },
    )
    .expect("sent");
    let (sizes, told) = one_sync(&mut hear).await;
    assert_eq!(sizes, [1024, 1024, 452]);
    assert_eq!(told, names.iter().cloned().collect());

    // 500 names are released; the peer is told of each, and, with the
    // next round, of exactly the names still held.
    for name in &names[..500] {
        a.global.unregister(name).await.expect("released");
    }
    let began = tokio::time::Instant::now();
    let still: BTreeSet<String> = names[500..].iter().cloned().collect();
    let (sizes, told) = loop {
        // A round that began while names were being released may list
        // some of them still.
        let (sizes, told) = one_sync(&mut hear).await;
        if told == still {
            break (sizes, told);
        }
        assert!(told.is_superset(&still));
    };
    assert!(began.elapsed() <= every);
    assert_eq!(sizes, [1024, 976]);
    // And again.
    let (_, again) = one_sync(&mut hear).await;
    assert_eq!(again, told);
}

#[tokio::test(start_paused = true)]
async fn a_peers_sync_replaces_what_was_known_of_it_only_once_whole_and_in_turn() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let (peer, registry, _hear) = peer_of(&net, &a).await;
    let say = |part: u32, last: bool, names: &[String]| {
        let names = names.iter().map(|name| (name.clone(), registry)).collect();
        peer.send_remote_named(
            a.name(),
            GLOBAL,
            &Wire::Sync {
                from: Origin::here(),
                registry,
                part,
                last,
                names,
                answer: false,
            },
        )
        .expect("sent");
    };
    let names: Vec<String> = (0..1_500).map(|n| format!("x{n}")).collect();
    say(0, false, &names[..1024]);
    say(1, true, &names[1024..]);
    eventually("a knows every name of the peer's", || {
        names
            .iter()
            .all(|name| a.global.whereis(name) == Some(registry))
    })
    .await;

    // A sync whose middle part went missing is not taken as whole: what
    // a knew stays.
    say(0, false, &names[..1]);
    say(2, true, &[]);
    peer.send_remote_named(
        a.name(),
        GLOBAL,
        &Wire::Registered {
            from: Origin::here(),
            claim: 7,
            name: "marker".into(),
            pid: registry,
        },
    )
    .expect("sent");
    eventually("what came before the marker has arrived", || {
        a.global.whereis("marker") == Some(registry)
    })
    .await;
    assert!(names
        .iter()
        .all(|name| a.global.whereis(name) == Some(registry)));

    // A whole sync of ten names leaves exactly those.
    say(0, false, &names[..5]);
    say(1, true, &names[5..10]);
    eventually("a knows only the ten", || {
        a.global.whereis(&names[10]).is_none()
    })
    .await;
    let mut expected: Vec<String> = names[..10].to_vec();
    expected.sort();
    assert_eq!(a.global.registered(), expected);
}
