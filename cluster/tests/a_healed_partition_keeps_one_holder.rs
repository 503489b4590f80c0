//! Two parts of a cluster, cut off from each other, each give one name
//! to a process of their own. Once they meet again, one holder keeps it,
//! the same on every node, and the other is told: by default with an
//! exit signal naming the conflict, or as the user's resolver says.

mod support;

use std::time::Duration;

use beamish_cluster::{conflict_reason, GlobalSettings, Resolver};
use beamish_core::transport::LocalNetwork;
use beamish_core::{Node, Pid};
use support::*;

/// Cuts `a` off from `b` and `c`, and waits until each side has lost the
/// other.
async fn split(net: &LocalNetwork, a: &Named, b: &Named, c: &Named) {
    net.partition("a", "b");
    net.partition("a", "c");
    eventually("the two sides apart", || {
        a.global.peers().is_empty() && b.global.peers() == [c.name()]
    })
    .await;
}

fn heal(net: &LocalNetwork) {
    net.heal("a", "b");
    net.heal("a", "c");
}

#[tokio::test(start_paused = true)]
async fn after_a_heal_the_holder_that_sorts_first_keeps_the_name_and_the_other_exits() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    let c = Named::start(&net, "c", &["a"]).await;
    let all = [&a, &b, &c];
    registries_meet(&all).await;
    split(&net, &a, &b, &c).await;

    // Each side gives the name to its own process.
    let on_a = a.holder().await;
    let on_b = b.holder().await;
    a.global.register("leader", on_a).await.expect("alone");
    b.global.register("leader", on_b).await.expect("with c");
    assert!(all_say(&[&b, &c], "leader", Some(on_b)));
    let loser_ends = b.node().monitor(on_b);

    heal(&net);
    registries_meet(&all).await;
    eventually("one holder everywhere", || {
        all_say(&all, "leader", Some(on_a))
    })
    .await;
    let reason = tokio::time::timeout(Duration::from_secs(5), loser_ends)
        .await
        .expect("the loser is told");
    assert_eq!(reason, conflict_reason("leader", on_a));
    assert!(reason.is_shutdown(), "not counted as a crash: {reason}");
    assert!(a.node().is_alive(on_a));
    // It stays so.
    tokio::time::sleep(POLL * 3).await;
    assert!(all_say(&all, "leader", Some(on_a)));
}

/// Keeps the holder whose pid sorts last, and tells the loser with a
/// note instead of ending it.
struct KeepLastAndNote;

impl Resolver for KeepLastAndNote {
    fn winner(&self, _name: &str, _first: Pid, second: Pid) -> Pid {
        second
    }

    fn lost(&self, node: &Node, name: &str, loser: Pid, winner: Pid) {
        let note = Who::Note(format!("lost {name} to {winner}"));
        if let Ok(loser) = node.handle::<Who>(loser) {
            let _ = loser.try_cast(note);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn after_a_heal_a_users_resolver_picks_the_holder_and_tells_the_loser() {
    let net = LocalNetwork::new();
    let settings = || GlobalSettings::default().resolver(KeepLastAndNote);
    let a = Named::with(&net, "a", &[], settings()).await;
    let b = Named::with(&net, "b", &["a"], settings()).await;
    let c = Named::with(&net, "c", &["a"], settings()).await;
    let all = [&a, &b, &c];
    registries_meet(&all).await;
    split(&net, &a, &b, &c).await;

    let on_a = a.holder().await;
    let on_b = b.holder().await;
    a.global.register("leader", on_a).await.expect("alone");
    b.global.register("leader", on_b).await.expect("with c");

    heal(&net);
    registries_meet(&all).await;
    eventually("the resolver's choice everywhere", || {
        all_say(&all, "leader", Some(on_b))
    })
    .await;
    // The loser lives on, told by a note, and holds nothing.
    let loser = a.node().addr::<Who>(on_a).expect("alive");
    let notes = loser
        .call(Who::Notes, Duration::from_secs(5))
        .await
        .expect("answers");
    assert_eq!(notes, [format!("lost leader to {on_b}")]);
    assert!(b.node().is_alive(on_b));
    // Once the winner ends, the name is free everywhere, and the loser's
    // node, which no longer counts it a holder, does not give it back.
    b.node().exit(on_b, beamish_core::ExitReason::Kill);
    eventually("free everywhere", || all_say(&all, "leader", None)).await;
}
