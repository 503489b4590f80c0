//! Nodes that know only their broker and their cluster's name find each
//! other through the presence exchange and form a full mesh; a node that
//! goes is dropped; a node of another cluster on the same broker is never
//! found.

mod support;

use std::time::Duration;

use beamish_cluster::{Cluster, ClusterSettings};
use beamish_core::{Cookie, Node, NodeName};
use beamish_transport_amqp::{AmqpDiscovery, AmqpTransport, Mode};
use support::{broker, unique, WAIT};

/// How often nodes announce themselves and poll, in these tests.
const ROUND: Duration = Duration::from_millis(200);

struct Member {
    node: Node,
    cluster: Cluster,
}

async fn member(role: &str, cluster_name: &str) -> Member {
    let node = Node::builder()
        .name(format!("{}@localhost", unique(role)))
        .cookie(Cookie::new("amqp discovery tests"))
        .transport(
            AmqpTransport::new(&broker(), Mode::Fast)
                .expect("an amqp endpoint")
                .presence_interval(ROUND),
        )
        .listen(broker())
        .start()
        .await
        .expect("the node starts");
    let discovery = AmqpDiscovery::new(&broker(), node.name(), cluster_name)
        .expect("an amqp endpoint")
        .announce_interval(ROUND);
    let cluster = Cluster::start(
        &node,
        discovery,
        ClusterSettings::default().poll_interval(ROUND),
    )
    .await
    .expect("membership starts");
    Member { node, cluster }
}

async fn members_are(member: &Member, expected: &[NodeName]) {
    tokio::time::timeout(WAIT, member.cluster.wait_for_members(expected))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} has members {:?}, not {expected:?}",
                member.node.name(),
                member.cluster.members()
            )
        });
}

/// Publishes what no node should take on the cluster's presence.
async fn garbage(cluster_name: &str) {
    let conn = lapin::Connection::connect(support::BROKER, lapin::ConnectionProperties::default())
        .await
        .expect("the broker is there");
    let channel = conn.create_channel().await.expect("a channel");
    let long_name = [0]
        .into_iter()
        .chain(vec![b'x'; 10_000])
        .collect::<Vec<u8>>();
    for body in [
        &[][..],
        &[0xff, 0xfe, 0xfd][..],
        &[7, b'a', b'@', b'b'][..],
        &[0, 0xc3, 0x28][..],
        &long_name[..],
        b"\0ghost@nowhere",
    ] {
        channel
            .basic_publish(
                beamish_transport_amqp::PRESENCE_EXCHANGE.into(),
                cluster_name.into(),
                lapin::options::BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default(),
            )
            .await
            .expect("published");
    }
    let _ = conn.close(0, "done".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_find_each_other_through_the_broker_and_drop_one_that_goes() {
    let shop = unique("shop");
    let a = member("a", &shop).await;
    let b = member("b", &shop).await;
    let c = member("c", &shop).await;
    // Another cluster on the same broker.
    let stranger = member("stranger", &unique("other")).await;
    let (na, nb, nc) = (a.node.name(), b.node.name(), c.node.name());

    members_are(&a, &[nb, nc]).await;
    members_are(&b, &[na, nc]).await;
    members_are(&c, &[na, nb]).await;
    members_are(&stranger, &[]).await;
    assert!(
        stranger.node.nodes().is_empty(),
        "no node of the shop connected to the stranger"
    );

    // Announcements that are not understood, or name a node that is not
    // there, change nothing; a node that comes later is still found.
    garbage(&shop).await;
    let d = member("d", &shop).await;
    let nd = d.node.name();
    members_are(&a, &[nb, nc, nd]).await;
    members_are(&d, &[na, nb, nc]).await;

    c.node.shutdown(Duration::from_secs(5)).await;
    members_are(&a, &[nb, nd]).await;
    members_are(&b, &[na, nd]).await;
    for member in [&a, &b, &d, &stranger] {
        member.node.shutdown(Duration::from_secs(5)).await;
    }
}
