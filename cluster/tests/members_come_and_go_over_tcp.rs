//! A fifth node joins a cluster of four over TCP and leaves again, two
//! hundred times under the same name (a new creation each time): every
//! time, all agree on the members within seconds. This is where crossed
//! connects (two members connecting to each other at once) and a node
//! leaving while a connection to it is being made meet real sockets.

use std::time::Duration;

use beamish_cluster::{Cluster, ClusterSettings, StaticDiscovery};
use beamish_core::{Cookie, Endpoint, Node, NodeName};
use beamish_transport_tcp::TcpTransport;

/// Longer than agreeing may take; the poll interval (5 s) is longer, so
/// agreeing must not need a poll.
const AGREE: Duration = Duration::from_secs(4);

async fn member(name: &str, seed: Option<&Endpoint>) -> (Node, Cluster) {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .cookie(Cookie::new("members come and go over tcp"))
        .transport(TcpTransport::new())
        .listen("tcp://127.0.0.1:0")
        .start()
        .await
        .expect("the node starts");
    let seeds = StaticDiscovery::new(seed.cloned()).expect("seeds");
    let cluster = Cluster::start(&node, seeds, ClusterSettings::default())
        .await
        .expect("membership starts");
    (node, cluster)
}

/// Waits until each of `members` lists exactly the others, and is
/// connected to nobody else.
async fn agreed(members: &[(Node, Cluster)], when: &str) {
    for (node, cluster) in members {
        let others: Vec<NodeName> = members
            .iter()
            .map(|(other, _)| other.name())
            .filter(|other| *other != node.name())
            .collect();
        let waited = tokio::time::timeout(AGREE, cluster.wait_for_members(&others)).await;
        assert!(
            waited.is_ok(),
            "{when}: {} has members {:?}, connected to {:?}",
            node.name(),
            cluster.members(),
            node.nodes()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_joins_and_leaves_again_and_again_is_agreed_on_every_time() {
    let first = member("m1", None).await;
    let seed = first.0.listening()[0].clone();
    let mut members = vec![first];
    for name in ["m2", "m3", "m4"] {
        members.push(member(name, Some(&seed)).await);
    }
    agreed(&members, "at the start").await;
    for round in 0..200 {
        members.push(member("m5", Some(&seed)).await);
        agreed(&members, &format!("after join {round}")).await;
        let (gone, _) = members.pop().expect("the fifth");
        gone.shutdown(Duration::from_secs(5)).await;
        agreed(&members, &format!("after leave {round}")).await;
    }
}
