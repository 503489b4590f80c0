//! Monitoring a group or a scope gives its members now, then every join
//! and leave, wherever it happens, and nothing twice.

mod support;

use std::collections::HashMap;

use beamish_cluster::pg::GroupEvent;
use beamish_core::transport::LocalNetwork;
use beamish_core::ExitReason;
use support::pg::PgMember;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_group_monitor_hears_joins_and_leaves_from_every_node() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;
    let early = a.idle();
    a.scope.join("g", &[early.pid()]).await.expect("joins");

    let (now, mut events) = a.scope.monitor("g");
    assert_eq!(now, [early.pid()], "the members at the time");
    let (scope_now, mut scope_events) = b.scope.monitor_scope();
    let remote = b.idle();
    b.scope
        .join("g", &[remote.pid(), remote.pid()])
        .await
        .expect("joins");
    b.scope.join("other", &[remote.pid()]).await.expect("joins");
    eventually("a lists b's member", || a.scope.members("g").len() == 3).await;
    a.scope.leave("g", &[early.pid()]).await.expect("leaves");
    let watch = b.node().monitor(remote.pid());
    b.node().exit(remote.pid(), ExitReason::Kill);
    assert_eq!(watch.await, ExitReason::Killed);

    // On a, for g only: b's join, a's leave, then b's member ending.
    let join = GroupEvent::Join {
        group: "g".into(),
        pids: vec![remote.pid(), remote.pid()],
    };
    assert_eq!(events.next().await, Some(join.clone()));
    assert_eq!(
        events.next().await,
        Some(GroupEvent::Leave {
            group: "g".into(),
            pids: vec![early.pid()],
        })
    );
    assert_eq!(
        events.next().await,
        Some(GroupEvent::Leave {
            group: "g".into(),
            pids: vec![remote.pid(), remote.pid()],
        })
    );

    // On b, for the whole scope: g held a's member when it began.
    assert_eq!(
        scope_now,
        HashMap::from([("g".to_owned(), vec![early.pid()])])
    );
    let mut heard = Vec::new();
    eventually("b hears five changes", || {
        while let Some(event) = scope_events.try_next() {
            heard.push(event);
        }
        heard.len() >= 5
    })
    .await;
    assert_eq!(heard[0], join);
    assert!(heard.contains(&GroupEvent::Join {
        group: "other".into(),
        pids: vec![remote.pid()],
    }));
    assert!(heard.contains(&GroupEvent::Leave {
        group: "g".into(),
        pids: vec![early.pid()],
    }));
    assert!(heard.contains(&GroupEvent::Leave {
        group: "other".into(),
        pids: vec![remote.pid()],
    }));
    tokio::time::sleep(POLL).await;
    assert!(scope_events.try_next().is_none(), "nothing more: {heard:?}");
    assert!(events.try_next().is_none(), "nothing more for g");
}
