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
