//! Membership needs a node that can reach others, and runs once a node.

mod support;

use beamish_cluster::{Cluster, ClusterSettings, StartError, StaticDiscovery};
use beamish_core::transport::LocalNetwork;
use beamish_core::Node;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_node_outside_any_cluster_is_refused() {
    let node = Node::builder()
        .name("alone@localhost")
        .build()
        .expect("runtime");
    let got = Cluster::start(&node, StaticDiscovery::none(), ClusterSettings::default()).await;
    assert!(matches!(got, Err(StartError::NotJoined)), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn membership_runs_once_a_node() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let again = Cluster::start(&a.node, StaticDiscovery::none(), ClusterSettings::default()).await;
    assert!(matches!(again, Err(StartError::Start(_))), "{again:?}");
}

#[tokio::test(start_paused = true)]
async fn the_global_registry_needs_a_joined_node_and_runs_once_a_node() {
    use beamish_cluster::{Global, GlobalSettings, GlobalStartError};

    let node = Node::builder()
        .name("alone@localhost")
        .build()
        .expect("runtime");
    let got = Global::start(&node, GlobalSettings::default()).await;
    assert!(matches!(got, Err(GlobalStartError::NotJoined)), "{got:?}");

    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let again = Global::start(a.node(), GlobalSettings::default()).await;
    assert!(
        matches!(again, Err(GlobalStartError::Start(_))),
        "{again:?}"
    );
}
