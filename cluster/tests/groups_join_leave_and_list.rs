//! Processes join and leave groups through their node's scope; every
//! node lists them, a process that joined twice twice; only a node's own
//! processes join through it.

mod support;

use beamish_cluster::pg::{PgError, Scope, MAX_GROUP_NAME};
use beamish_core::transport::LocalNetwork;
use beamish_core::Node;
use support::pg::{all_list, PgMember};
use support::*;

#[tokio::test(start_paused = true)]
async fn members_are_listed_on_every_node_and_leave_as_often_as_they_joined() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;

    let (x, y) = (a.idle(), a.idle());
    let z = b.idle();
    a.scope.join("g", &[x.pid(), y.pid()]).await.expect("joins");
    a.scope.join("g", &[x.pid()]).await.expect("joins again");
    b.scope.join("g", &[z.pid()]).await.expect("joins");
    b.scope.join("h", &[z.pid()]).await.expect("joins");

    let all = [x.pid(), x.pid(), y.pid(), z.pid()];
    eventually("both list g", || all_list(&[&a, &b], "g", &all)).await;
    let mut local = a.scope.local_members("g");
    local.sort();
    let mut expected = vec![x.pid(), x.pid(), y.pid()];
    expected.sort();
    assert_eq!(local, expected, "twice, as it joined twice");
    assert_eq!(b.scope.local_members("g"), [z.pid()]);
    assert_eq!(a.scope.which_groups(), ["g", "h"]);
    assert_eq!(a.scope.which_local_groups(), ["g"]);

    // Leaving once leaves one listing.
    a.scope.leave("g", &[x.pid()]).await.expect("leaves");
    let rest = [x.pid(), y.pid(), z.pid()];
    eventually("one x left", || all_list(&[&a, &b], "g", &rest)).await;
    a.scope
        .leave("g", &[x.pid(), y.pid()])
        .await
        .expect("leaves");
    assert_eq!(
        a.scope.leave("g", &[x.pid()]).await,
        Err(PgError::NotJoined),
        "no listing is left to leave"
    );
    b.scope.leave("h", &[z.pid()]).await.expect("leaves");
    eventually("only z in g, no h", || {
        all_list(&[&a, &b], "g", &[z.pid()])
            && [&a, &b].iter().all(|m| m.scope.which_groups() == ["g"])
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_node_joins_only_its_own_processes() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;

    let theirs = b.idle();
    assert_eq!(
        a.scope.join("g", &[theirs.pid()]).await,
        Err(PgError::NotLocal(theirs.pid()))
    );
    assert_eq!(
        a.scope.leave("g", &[theirs.pid()]).await,
        Err(PgError::NotLocal(theirs.pid()))
    );
    let ours = a.idle();
    let long = "g".repeat(MAX_GROUP_NAME + 1);
    assert_eq!(
        a.scope.join(&long, &[ours.pid()]).await,
        Err(PgError::GroupNameTooLong(MAX_GROUP_NAME + 1))
    );
    assert!(a.scope.which_groups().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_scope_runs_on_a_node_of_its_own_and_scopes_are_apart() {
    let node = Node::new().expect("a node");
    let default = Scope::start_default(&node).await.expect("starts");
    let other = Scope::start(&node, "other").await.expect("starts");
    assert!(
        Scope::start(&node, "other").await.is_err(),
        "one process per scope per node"
    );
    let (seen, _) = tokio::sync::mpsc::unbounded_channel();
    let worker = node.spawn::<support::pg::Worker>(seen).expect("spawns");
    default.join("g", &[worker.pid()]).await.expect("joins");
    assert_eq!(default.members("g"), [worker.pid()]);
    assert!(
        other.members("g").is_empty(),
        "another scope has its own groups"
    );
}
