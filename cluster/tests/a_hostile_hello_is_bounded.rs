//! A peer that knows the cookie but not the rules sends a hello in
//! another node's name, listing five thousand invented members with
//! twenty endpoints each (about as much as fits a frame): neither the
//! name it claims nor any of them counts as a member, the membership
//! keeps answering, and the mesh goes on forming. (The membership takes
//! at most 256 members and 8 endpoints each from a hello, and tries at
//! most 64 endpoints at once.)

mod support;

use beamish_cluster::MEMBERSHIP;
use beamish_core::transport::LocalNetwork;
use beamish_core::{Cookie, Message, Node, NodeName};
use serde::{Deserialize, Serialize};
use support::*;

/// The membership's wire message, as a hostile peer writes it.
#[derive(Serialize, Deserialize, Message)]
#[message(name = "beamish.cluster.Membership")]
enum Gossip {
    Hello {
        from: NodeName,
        endpoints: Vec<String>,
        members: Vec<Member>,
    },
}

#[derive(Serialize, Deserialize)]
struct Member {
    node: NodeName,
    endpoints: Vec<String>,
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_invented_members_is_taken_in_part_and_the_mesh_still_forms() {
    let net = LocalNetwork::new();
    let a = support::Member::start(&net, "a", &[]).await;
    let b = support::Member::start(&net, "b", &["a"]).await;
    mesh(&[&a, &b]).await;

    let hostile = Node::builder()
        .name("hostile@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("hostile"))
        .connect("local://a")
        .start()
        .await
        .expect("the hostile node connects");
    let ghosts = (0..5_000)
        .map(|i| Member {
            node: format!("zz-ghost-{i}@nowhere").parse().expect("a name"),
            endpoints: (0..20).map(|j| format!("local://ghost-{i}-{j}")).collect(),
        })
        .collect();
    let hello = Gossip::Hello {
        // The hello says it comes from another node; its connection says
        // otherwise.
        from: "zz-impostor@localhost".parse().expect("a name"),
        endpoints: (0..1_000).map(|j| format!("local://hostile-{j}")).collect(),
        members: ghosts,
    };
    hostile
        .send_remote_named(a.name(), MEMBERSHIP, &hello)
        .expect("sent");

    // The hello counts for the node that sent it, whatever it says.
    eventually("a takes the hello as the hostile node's", || {
        a.cluster.members().contains(&hostile.name())
    })
    .await;

    // The membership still answers and the cluster still grows.
    let c = support::Member::start(&net, "c", &["a"]).await;
    eventually("a, b and c see each other", || {
        see_each_other(&[&a, &b, &c])
    })
    .await;
    for member in [&a, &b, &c] {
        assert!(
            member
                .cluster
                .members()
                .iter()
                .all(|name| !name.to_string().starts_with("zz-")),
            "neither the claimed name nor any invented member counts: {:?}",
            member.cluster.members()
        );
    }
}
