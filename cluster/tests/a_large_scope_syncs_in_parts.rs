//! A node whose members would not fit in one frame syncs them all to a
//! node that joins later, in parts.

mod support;

use beamish_core::transport::LocalNetwork;
use support::pg::PgMember;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_node_that_joins_later_gets_members_that_fill_many_parts() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let worker = a.idle();
    // 100 000 joins of one process, and 9 000 groups with names of a
    // kilobyte: together more than the largest frame (8 MiB).
    a.scope
        .join("big", &vec![worker.pid(); 100_000])
        .await
        .expect("joins");
    let long = "l".repeat(1000);
    let named: Vec<String> = (0..9_000).map(|n| format!("{long}{n}")).collect();
    for group in &named {
        a.scope.join(group, &[worker.pid()]).await.expect("joins");
    }

    let b = PgMember::start(&net, "b", &["a"]).await;
    eventually("b lists every member of a's", || {
        b.scope.members("big").len() == 100_000
            && named
                .iter()
                .all(|group| b.scope.members(group) == [worker.pid()])
    })
    .await;
    assert_eq!(b.scope.which_groups().len(), 9_001);
}
