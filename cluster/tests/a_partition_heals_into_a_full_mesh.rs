//! Two members cut off from each other, while both still reach the rest,
//! are connected again once the partition heals: neither seeds the other,
//! so it is the other members' reminders that bring them together.

mod support;

use beamish_core::transport::LocalNetwork;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_partition_between_two_members_heals_without_a_restart() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    let c = Member::start(&net, "c", &["b"]).await;
    let d = Member::start(&net, "d", &["c"]).await;
    mesh(&[&a, &b, &c, &d]).await;

    net.partition("a", "d");
    eventually("a and d apart", || {
        !a.cluster.members().contains(&d.name()) && !d.cluster.members().contains(&a.name())
    })
    .await;
    // The rest stay connected meanwhile.
    assert!(see_each_other(&[&a, &b, &c]));
    assert!(see_each_other(&[&b, &c, &d]));

    net.heal("a", "d");
    mesh(&[&a, &b, &c, &d]).await;
}

#[tokio::test(start_paused = true)]
async fn a_partition_from_a_seed_heals_through_discovery() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    mesh(&[&a, &b]).await;

    net.partition("a", "b");
    eventually("a and b apart", || {
        a.cluster.members().is_empty() && b.cluster.members().is_empty()
    })
    .await;
    net.heal("a", "b");
    mesh(&[&a, &b]).await;
}
