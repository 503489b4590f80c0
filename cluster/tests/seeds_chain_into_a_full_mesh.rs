//! Each node knows only the one before it, and every node ends up
//! connected to every other: members are learnt from any member.

mod support;

use beamish_core::transport::LocalNetwork;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_chain_of_seeds_becomes_a_full_mesh() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    let c = Member::start(&net, "c", &["b"]).await;
    let d = Member::start(&net, "d", &["c"]).await;
    mesh(&[&a, &b, &c, &d]).await;
}

#[tokio::test(start_paused = true)]
async fn nodes_all_seeded_with_one_member_find_each_other() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &["a"]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    let c = Member::start(&net, "c", &["a"]).await;
    mesh(&[&a, &b, &c]).await;
}
