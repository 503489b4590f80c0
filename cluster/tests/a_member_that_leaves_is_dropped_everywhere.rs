//! A member that shuts down, or is lost, is dropped from every member's
//! list, and is not connected to again by the others.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_node_that_shuts_down_is_removed_from_every_member() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    let c = Member::start(&net, "c", &["b"]).await;
    let d = Member::start(&net, "d", &["c"]).await;
    mesh(&[&a, &b, &c, &d]).await;

    let gone = d.name();
    d.node.shutdown(Duration::from_secs(1)).await;
    mesh(&[&a, &b, &c]).await;
    // Several rounds of reminders later, still gone.
    tokio::time::sleep(POLL * 5).await;
    assert!(full_mesh(&[&a, &b, &c]));
    for member in [&a, &b, &c] {
        assert!(!member.cluster.members().contains(&gone));
    }
}

#[tokio::test(start_paused = true)]
async fn a_member_cut_off_from_all_is_removed_and_returns_when_reachable() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    let c = Member::start(&net, "c", &["a"]).await;
    mesh(&[&a, &b, &c]).await;

    // c is lost to both others: they drop it, and it is alone.
    net.partition("a", "c");
    net.partition("b", "c");
    mesh(&[&a, &b]).await;
    eventually("c alone", || c.cluster.members().is_empty()).await;

    // Its seed is reachable again: it rejoins, and everyone has it.
    net.heal("a", "c");
    net.heal("b", "c");
    mesh(&[&a, &b, &c]).await;
}
