//! A node that joins a formed cluster through one member is connected to,
//! and counted by, every member.

mod support;

use beamish_core::transport::LocalNetwork;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_node_that_joins_later_is_found_by_every_member() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    let c = Member::start(&net, "c", &["a"]).await;
    mesh(&[&a, &b, &c]).await;

    // It knows only c, the newest member.
    let late = Member::start(&net, "late", &["c"]).await;
    mesh(&[&a, &b, &c, &late]).await;
}
