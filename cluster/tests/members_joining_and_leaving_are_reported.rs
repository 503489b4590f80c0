//! A member's events report each member that joins and each that leaves,
//! once, in order; `wait_for_members` returns once the members are as
//! expected.

mod support;

use std::time::Duration;

use beamish_cluster::MemberEvent;
use beamish_core::transport::LocalNetwork;
use support::*;

async fn next(events: &mut beamish_cluster::MemberEvents) -> MemberEvent {
    tokio::time::timeout(SETTLE, events.next())
        .await
        .expect("an event in time")
        .expect("membership runs")
}

#[tokio::test(start_paused = true)]
async fn joins_and_leaves_are_reported_once_each() {
    let net = LocalNetwork::new();
    let a = Member::start(&net, "a", &[]).await;
    let mut events = a.cluster.events();

    let b = Member::start(&net, "b", &["a"]).await;
    assert_eq!(next(&mut events).await, MemberEvent::Joined(b.name()));
    let c = Member::start(&net, "c", &["b"]).await;
    assert_eq!(next(&mut events).await, MemberEvent::Joined(c.name()));
    a.cluster.wait_for_members(&[c.name(), b.name()]).await;

    let gone = b.name();
    b.node.shutdown(Duration::from_secs(1)).await;
    assert_eq!(next(&mut events).await, MemberEvent::Left(gone));
    a.cluster.wait_for_members(&[c.name()]).await;

    // Reminders go on, and none of them reports c again.
    c.cluster.wait_for_members(&[a.name()]).await;
    tokio::time::sleep(POLL * 5).await;
    let more = tokio::time::timeout(Duration::ZERO, events.next()).await;
    assert!(
        more.is_err(),
        "nothing more happened, so nothing more is reported: {more:?}"
    );
}
