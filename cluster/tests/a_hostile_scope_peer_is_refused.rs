//! A peer that knows the cookie but not the rules speaks for processes of
//! another node in what it tells a scope: every such message is refused
//! whole, while what it says of its own processes is taken. A node speaks
//! only for its own processes.

mod support;

use beamish_cluster::pg::DEFAULT_SCOPE;
use beamish_core::transport::LocalNetwork;
use beamish_core::{Cookie, Message, Node, Origin, Pid, SpawnOpts};
use serde::{Deserialize, Serialize};
use support::pg::{all_list, PgMember, Worker};
use support::*;

/// The scope's wire message, as a hostile peer writes it.
#[derive(Serialize, Deserialize, Message)]
#[message(name = "beamish.pg.Scope")]
enum PgWire {
    Discover {
        from: Origin,
        scope: Pid,
    },
    Sync {
        from: Origin,
        scope: Pid,
        part: u32,
        last: bool,
        groups: Vec<(String, Vec<Pid>)>,
    },
    Join {
        from: Origin,
        group: String,
        pids: Vec<Pid>,
    },
    Leave {
        from: Origin,
        group: String,
        pids: Vec<Pid>,
    },
}

#[tokio::test(start_paused = true)]
async fn members_of_another_node_are_refused_and_the_peers_own_are_taken() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;
    let on_b = b.idle();
    b.scope.join("g", &[on_b.pid()]).await.expect("joins");
    eventually("a lists b's member", || all_list(&[&a], "g", &[on_b.pid()])).await;

    let hostile = Node::builder()
        .name("hostile@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("hostile"))
        .connect("local://a")
        .start()
        .await
        .expect("the hostile node connects");
    let (tx, _seen) = tokio::sync::mpsc::unbounded_channel();
    // Exported, as a scope process is: one that is not cannot be
    // monitored from another node, and is taken for ended.
    let own_scope = hostile
        .spawn_opt::<Worker>(tx.clone(), SpawnOpts::new().export::<String>())
        .expect("spawns")
        .pid();
    let own = hostile.spawn::<Worker>(tx).expect("spawns").pid();
    let say = |msg: PgWire| {
        hostile
            .send_remote_named(a.member.name(), DEFAULT_SCOPE, &msg)
            .expect("sent");
    };
    let here = Origin::here;

    // Speaking as b's scope process.
    say(PgWire::Discover {
        from: here(),
        scope: b.scope.pid(),
    });
    // A sync that lists one of b's processes among its own: refused whole.
    say(PgWire::Sync {
        from: here(),
        scope: own_scope,
        part: 0,
        last: true,
        groups: vec![
            ("g".into(), vec![own]),
            ("forged".into(), vec![own, on_b.pid()]),
        ],
    });
    // Its own processes only: taken.
    say(PgWire::Sync {
        from: here(),
        scope: own_scope,
        part: 0,
        last: true,
        groups: vec![("mine".into(), vec![own])],
    });
    eventually("a takes the hostile's own member", || {
        all_list(&[&a], "mine", &[own])
    })
    .await;
    assert!(
        all_list(&[&a], "g", &[on_b.pid()]),
        "the refused sync added nothing"
    );
    assert!(all_list(&[&a], "forged", &[]));

    // Joins and leaves in b's name.
    say(PgWire::Join {
        from: here(),
        group: "g".into(),
        pids: vec![on_b.pid()],
    });
    say(PgWire::Leave {
        from: here(),
        group: "g".into(),
        pids: vec![on_b.pid()],
    });
    // Then its own, which comes after them.
    say(PgWire::Join {
        from: here(),
        group: "mine too".into(),
        pids: vec![own],
    });
    eventually("a takes the hostile's own join", || {
        all_list(&[&a], "mine too", &[own])
    })
    .await;
    assert!(
        all_list(&[&a, &b], "g", &[on_b.pid()]),
        "b's member is listed once, as b said: {:?}",
        a.scope.members("g")
    );
    assert!(all_list(&[&b], "mine", &[]), "b never heard of it from a");
}

/// A peer that sends a sync's parts out of turn, or never its last,
/// changes nothing; a whole sync in turn replaces what was known of it.
#[tokio::test(start_paused = true)]
async fn a_sync_in_parts_counts_only_whole_and_in_turn() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let peer = Node::builder()
        .name("peer@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("peer"))
        .connect("local://a")
        .start()
        .await
        .expect("the peer connects");
    let (tx, _seen) = tokio::sync::mpsc::unbounded_channel();
    let scope = peer
        .spawn_opt::<Worker>(tx.clone(), SpawnOpts::new().export::<String>())
        .expect("spawns")
        .pid();
    let (one, two) = (
        peer.spawn::<Worker>(tx.clone()).expect("spawns").pid(),
        peer.spawn::<Worker>(tx).expect("spawns").pid(),
    );
    let sync = |part: u32, last: bool, groups: Vec<(String, Vec<Pid>)>| {
        let msg = PgWire::Sync {
            from: Origin::here(),
            scope,
            part,
            last,
            groups,
        };
        peer.send_remote_named(a.member.name(), DEFAULT_SCOPE, &msg)
            .expect("sent");
    };
    // A first part whose last never comes, then one whose middle is
    // missing: neither is taken.
    sync(0, false, vec![("never".into(), vec![one])]);
    sync(0, false, vec![("gap".into(), vec![one])]);
    sync(2, true, vec![("gap".into(), vec![two])]);
    // A whole sync, in turn, is: a group spanning both parts.
    sync(0, false, vec![("whole".into(), vec![one])]);
    sync(1, true, vec![("whole".into(), vec![two])]);
    eventually("the whole sync is taken", || {
        all_list(&[&a], "whole", &[one, two])
    })
    .await;
    assert!(all_list(&[&a], "never", &[]));
    assert!(all_list(&[&a], "gap", &[]));
    assert_eq!(a.scope.which_groups(), ["whole"]);
}
