//! A node that goes down, or is cut off, takes its members with it on
//! every other node; a node that joins later, or comes back after a
//! partition, gets every node's members and gives its own, so all agree.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::Pid;
use support::pg::{all_list, PgMember};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_node_that_shuts_down_takes_its_members_with_it() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    let c = PgMember::start(&net, "c", &["a"]).await;
    mesh(&[&a.member, &b.member, &c.member]).await;
    let (on_a, on_c) = (a.idle(), c.idle());
    a.scope.join("g", &[on_a.pid()]).await.expect("joins");
    c.scope.join("g", &[on_c.pid()]).await.expect("joins");
    eventually("all list both", || {
        all_list(&[&a, &b, &c], "g", &[on_a.pid(), on_c.pid()])
    })
    .await;

    c.node().shutdown(Duration::from_secs(1)).await;
    eventually("c's member is gone", || {
        all_list(&[&a, &b], "g", &[on_a.pid()])
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_node_that_joins_later_gets_the_groups_and_gives_its_own() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;
    let (on_a, on_b) = (a.idle(), b.idle());
    a.scope
        .join("g", &[on_a.pid(), on_a.pid()])
        .await
        .expect("joins");
    b.scope.join("h", &[on_b.pid()]).await.expect("joins");

    let c = PgMember::start(&net, "c", &["a"]).await;
    let on_c = c.idle();
    c.scope.join("g", &[on_c.pid()]).await.expect("joins");
    eventually("all agree", || {
        all_list(&[&a, &b, &c], "g", &[on_a.pid(), on_a.pid(), on_c.pid()])
            && all_list(&[&a, &b, &c], "h", &[on_b.pid()])
    })
    .await;
}

/// What each node lists in `group`, sorted.
fn listed(members: &[&PgMember], group: &str) -> Vec<Vec<Pid>> {
    members
        .iter()
        .map(|member| {
            let mut pids = member.scope.members(group);
            pids.sort();
            pids
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn after_a_partition_heals_every_node_agrees_again() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    let c = PgMember::start(&net, "c", &["a"]).await;
    mesh(&[&a.member, &b.member, &c.member]).await;
    let (on_a, on_c) = (a.idle(), c.idle());
    a.scope.join("g", &[on_a.pid()]).await.expect("joins");
    c.scope.join("g", &[on_c.pid()]).await.expect("joins");
    eventually("all list both", || {
        all_list(&[&a, &b, &c], "g", &[on_a.pid(), on_c.pid()])
    })
    .await;

    // c is cut off from both: each side keeps only its own members.
    net.partition("a", "c");
    net.partition("b", "c");
    eventually("each side alone", || {
        all_list(&[&a, &b], "g", &[on_a.pid()]) && all_list(&[&c], "g", &[on_c.pid()])
    })
    .await;
    // Meanwhile, each side changes.
    let late_c = c.idle();
    c.scope.join("g", &[late_c.pid()]).await.expect("joins");
    a.scope.leave("g", &[on_a.pid()]).await.expect("leaves");
    let late_b = b.idle();
    b.scope.join("g", &[late_b.pid()]).await.expect("joins");

    net.heal("a", "c");
    net.heal("b", "c");
    let all = [on_c.pid(), late_c.pid(), late_b.pid()];
    eventually("all agree again", || all_list(&[&a, &b, &c], "g", &all)).await;
    // And stay agreed.
    tokio::time::sleep(POLL * 5).await;
    let lists = listed(&[&a, &b, &c], "g");
    assert!(lists.windows(2).all(|pair| pair[0] == pair[1]), "{lists:?}");
}
