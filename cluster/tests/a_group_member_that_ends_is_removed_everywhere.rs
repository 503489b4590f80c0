//! A member that ends leaves every group it was in, as often as it
//! joined, on every node.

mod support;

use beamish_core::transport::LocalNetwork;
use beamish_core::ExitReason;
use support::pg::{all_list, PgMember};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_member_that_ends_leaves_every_group_on_every_node() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    let c = PgMember::start(&net, "c", &["a"]).await;
    mesh(&[&a.member, &b.member, &c.member]).await;

    let doomed = a.idle();
    let stays = a.idle();
    a.scope
        .join("g", &[doomed.pid(), doomed.pid(), stays.pid()])
        .await
        .expect("joins");
    a.scope.join("h", &[doomed.pid()]).await.expect("joins");
    let everyone = [&a, &b, &c];
    eventually("all list g and h", || {
        all_list(&everyone, "g", &[doomed.pid(), doomed.pid(), stays.pid()])
            && all_list(&everyone, "h", &[doomed.pid()])
    })
    .await;

    let watch = a.node().monitor(doomed.pid());
    a.node().exit(doomed.pid(), ExitReason::Kill);
    assert_eq!(watch.await, ExitReason::Killed);
    eventually("it is gone everywhere", || {
        all_list(&everyone, "g", &[stays.pid()]) && all_list(&everyone, "h", &[])
    })
    .await;
    for member in everyone {
        assert_eq!(member.scope.which_groups(), ["g"]);
    }
}
