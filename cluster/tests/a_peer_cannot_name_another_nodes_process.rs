//! A peer that knows the cookie but not the rules announces global names
//! for processes of another node, and claims one for such a process: a
//! node speaks only for its own processes, so none of it is taken, while
//! what it says of its own process is.

mod support;

use beamish_cluster::GLOBAL;
use beamish_core::transport::LocalNetwork;
use beamish_core::{Cookie, Message, Node, Origin, Pid, SpawnOpts};
use serde::{Deserialize, Serialize};
use support::*;

/// The registries' wire message, as a hostile peer writes it.
#[derive(Serialize, Deserialize, Message)]
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

#[derive(Serialize, Deserialize)]
enum Verdict {
    Yes,
    Held(Pid),
    Claimed(Pid),
}

#[tokio::test(start_paused = true)]
async fn names_announced_for_another_nodes_processes_are_refused() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    registries_meet(&[&a, &b]).await;
    let on_b = b.holder().await;
    b.global.register("real", on_b).await.expect("registered");

    let hostile = Node::builder()
        .name("hostile@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("hostile"))
        .connect("local://a")
        .start()
        .await
        .expect("the hostile node connects");
    // A registry of its own, so that a takes it as a peer.
    let own = hostile
        .start::<Holder>((), SpawnOpts::new().export::<Who>())
        .await
        .expect("starts")
        .pid();
    let say = |wire: &Wire| {
        hostile
            .send_remote_named(a.name(), GLOBAL, wire)
            .expect("sent");
    };
    say(&Wire::Sync {
        from: Origin::here(),
        registry: own,
        part: 0,
        last: true,
        names: vec![
            ("stolen".into(), on_b),
            ("real".into(), on_b),
            ("mine".into(), own),
        ],
        answer: false,
    });
    say(&Wire::Registered {
        from: Origin::here(),
        claim: 1,
        name: "also-stolen".into(),
        pid: on_b,
    });
    say(&Wire::Claim {
        from: Origin::here(),
        claim: 2,
        name: "claimed".into(),
        pid: on_b,
    });
    // b's process's name, released in b's name.
    say(&Wire::Released {
        from: Origin::here(),
        name: "real".into(),
        pid: on_b,
    });

    // Last, a sync of its own process's names: once it is taken, all
    // that went before has arrived.
    say(&Wire::Sync {
        from: Origin::here(),
        registry: own,
        part: 0,
        last: true,
        names: vec![("mine".into(), own), ("last".into(), own)],
        answer: false,
    });
    eventually("the hostile node's own names are known", || {
        a.global.whereis("last") == Some(own)
    })
    .await;
    assert_eq!(a.global.whereis("mine"), Some(own));
    assert_eq!(a.global.whereis("stolen"), None);
    assert_eq!(a.global.whereis("also-stolen"), None);
    assert_eq!(a.global.whereis("claimed"), None);
    assert_eq!(
        a.global.whereis("real"),
        Some(on_b),
        "not released by another"
    );

    // b registers its own process under the names the hostile node tried.
    b.global.register("stolen", on_b).await.expect("free");
    assert_eq!(a.global.whereis("stolen"), Some(on_b));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_answers_holds_a_claim_up_only_until_the_timeout_or_its_loss() {
    let net = LocalNetwork::new();
    let wait = std::time::Duration::from_secs(2);
    let a = Named::with(
        &net,
        "a",
        &[],
        beamish_cluster::GlobalSettings::default().claim_timeout(wait),
    )
    .await;
    let silent = Node::builder()
        .name("silent@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("silent"))
        .connect("local://a")
        .start()
        .await
        .expect("the silent node connects");
    let own = silent
        .start::<Holder>((), SpawnOpts::new().export::<Who>())
        .await
        .expect("starts")
        .pid();
    // It passes for a registry, then says nothing more.
    silent
        .send_remote_named(
            a.name(),
            GLOBAL,
            &Wire::Sync {
                from: Origin::here(),
                registry: own,
                part: 0,
                last: true,
                names: vec![],
                answer: false,
            },
        )
        .expect("sent");
    eventually("a takes it as a peer", || {
        a.global.peers() == [silent.name()]
    })
    .await;

    let on_a = a.holder().await;
    let began = tokio::time::Instant::now();
    let refused = a.global.register("name", on_a).await;
    assert_eq!(
        refused,
        Err(beamish_cluster::RegisterError::NoAnswer(
            vec![silent.name()]
        ))
    );
    assert!(began.elapsed() >= wait);
    assert_eq!(a.global.whereis("name"), None);

    // A peer lost during a claim is not waited for: the claim goes on
    // without it, before the timeout.
    let began = tokio::time::Instant::now();
    let (registered, ()) = tokio::join!(a.global.register("name", on_a), async {
        tokio::time::sleep(wait / 4).await;
        net.partition("a", "silent");
    });
    assert_eq!(registered, Ok(()));
    assert!(began.elapsed() < wait);
    assert_eq!(a.global.whereis("name"), Some(on_a));
}

#[tokio::test(start_paused = true)]
async fn a_hidden_node_takes_no_part_in_global_names() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let tool = Node::builder()
        .name("tool@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("tool"))
        .hidden()
        .connect("local://a")
        .start()
        .await
        .expect("the hidden node connects");
    let own = tool
        .start::<Holder>((), SpawnOpts::new().export::<Who>())
        .await
        .expect("starts")
        .pid();
    tool.send_remote_named(
        a.name(),
        GLOBAL,
        &Wire::Sync {
            from: Origin::here(),
            registry: own,
            part: 0,
            last: true,
            names: vec![("tool's".into(), own)],
            answer: false,
        },
    )
    .expect("sent");
    // It never becomes a peer: claims do not ask it (and so do not wait
    // for it), and what it says is not taken, however long after.
    tokio::time::sleep(POLL).await;
    let on_a = a.holder().await;
    a.global.register("name", on_a).await.expect("registered");
    assert!(a.global.peers().is_empty());
    assert_eq!(a.global.whereis("tool's"), None);
}
