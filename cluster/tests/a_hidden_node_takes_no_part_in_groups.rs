//! A hidden node (a tool, a client) with a scope of its own is no part of
//! the cluster's groups: its members are not listed by the members, and
//! it lists none of theirs.

mod support;

use beamish_cluster::pg::Scope;
use beamish_core::transport::LocalNetwork;
use beamish_core::{Cookie, Node, SpawnOpts};
use support::pg::{all_list, PgMember, Worker};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_hidden_nodes_scope_stays_apart() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;

    let tool = Node::builder()
        .name("tool@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("tool"))
        .hidden()
        .connect("local://a")
        .start()
        .await
        .expect("the hidden node connects");
    let tool_scope = Scope::start_default(&tool).await.expect("starts");
    let (tx, _seen) = tokio::sync::mpsc::unbounded_channel();
    let on_tool = tool
        .spawn_opt::<Worker>(tx, SpawnOpts::new().export::<String>())
        .expect("spawns");
    tool_scope.join("g", &[on_tool.pid()]).await.expect("joins");
    let on_a = a.idle();
    a.scope.join("g", &[on_a.pid()]).await.expect("joins");

    eventually("b lists a's member", || {
        all_list(&[&a, &b], "g", &[on_a.pid()])
    })
    .await;
    tokio::time::sleep(POLL * 3).await;
    assert!(all_list(&[&a, &b], "g", &[on_a.pid()]), "not the tool's");
    assert_eq!(tool_scope.members("g"), [on_tool.pid()], "only its own");
}
