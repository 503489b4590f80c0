//! A child whose `init` returns `Err(ExitReason::Normal)` is ignored, as
//! OTP's `ignore`: not started, its spec kept with no pid (OTP's
//! `undefined`), the supervisor and its other children unaffected.

mod support;

use beamish_supervisor::{ChildError, Strategy, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn an_ignored_child_keeps_its_spec_and_the_others_start() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("a", &tx)))
        .child(worker(WorkerArgs::new("off", &tx).ignoring()))
        .child(worker(WorkerArgs::new("c", &tx)));
    let sup = start(&node, spec).await;
    assert_eq!(next_start(&mut rx).await.0, "a");
    assert_eq!(next_start(&mut rx).await.0, "c");
    let children = pids(&sup).await;
    let ids: Vec<_> = children.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["a", "off", "c"]);
    assert_eq!(children[1].1, None, "kept, not running");
    let counts = sup.count_children().await.expect("answers");
    assert_eq!((counts.specs, counts.active), (3, 2));
    // Restarting it asks its init again, which ignores again.
    assert_eq!(
        sup.restart_child("off").await,
        Err(ChildError::Ignored("off".into()))
    );
    sup.delete_child("off").await.expect("deleted");
    assert_eq!(sup.count_children().await.expect("answers").specs, 2);
}

#[tokio::test(start_paused = true)]
async fn an_added_child_that_ignores_is_kept_not_running() {
    let node = node();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, SupervisorSpec::new(Strategy::OneForOne)).await;
    assert_eq!(
        sup.start_child(worker(WorkerArgs::new("off", &tx).ignoring()))
            .await,
        Err(ChildError::Ignored("off".into()))
    );
    assert_eq!(pids(&sup).await, vec![("off".to_owned(), None)]);
    assert!(matches!(
        sup.start_child(worker(WorkerArgs::new("off", &tx))).await,
        Err(ChildError::AlreadyPresent(_))
    ));
}
