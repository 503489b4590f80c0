//! A hidden node (a tool, a client) that connects to one member is not
//! taken as a member, announced to the others, or meshed with them.

mod support;

use beamish_core::transport::LocalNetwork;
use beamish_core::{Cookie, Node};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_hidden_node_stays_with_the_member_it_named() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let b = Member::start(&net, "b", &["a"]).await;
    mesh(&[&a, &b]).await;

    let tool = Node::builder()
        .name("tool@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("tool"))
        .listen("local://tool")
        .hidden()
        .connect("local://a")
        .start()
        .await
        .expect("the hidden node connects");

    // A member joining later meshes with a and b; the hidden node stays
    // connected to a alone, and a member of nobody.
    let c = Member::start(&net, "c", &["a"]).await;
    mesh(&[&a, &b, &c]).await;
    assert_eq!(a.node.hidden_nodes(), vec![tool.name()]);
    assert!(b.node.hidden_nodes().is_empty() && c.node.hidden_nodes().is_empty());
    assert_eq!(tool.hidden_nodes(), vec![a.name()]);
    assert!(tool.nodes().is_empty());
}
