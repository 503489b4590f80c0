//! The runtime API: which_children, count_children, start_child,
//! terminate_child, restart_child, delete_child, child_spec (OTP's
//! get_childspec), and stopping a supervisor from outside.

mod support;

use std::time::Duration;

use beamish_core::{ExitReason, SpawnOpts, StopError};
use beamish_supervisor::{ChildError, ChildKind, Restart, Strategy, SupervisorRef, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn children_can_be_added_stopped_restarted_and_deleted() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne).child(worker(WorkerArgs::new("a", &tx))),
    )
    .await;
    let _ = next_start(&mut rx).await;

    let b = sup
        .start_child(worker(WorkerArgs::new("b", &tx)))
        .await
        .expect("starts");
    assert_eq!(next_start(&mut rx).await, ("b", b));
    assert!(matches!(
        sup.start_child(worker(WorkerArgs::new("b", &tx))).await,
        Err(ChildError::AlreadyStarted(_, pid)) if pid == b
    ));
    let counts = sup.count_children().await.expect("answers");
    assert_eq!(
        (
            counts.specs,
            counts.active,
            counts.workers,
            counts.supervisors
        ),
        (2, 2, 2, 0)
    );

    let info = sup.which_children().await.expect("answers");
    assert_eq!(info[1].id.as_ref(), "b");
    assert_eq!(info[1].kind, ChildKind::Worker);
    assert_eq!(info[1].restart, Restart::Permanent);

    assert!(matches!(sup.delete_child("b").await, Err(ChildError::Running(_, pid)) if pid == b));
    sup.terminate_child("b").await.expect("terminates");
    assert!(!node.is_alive(b));
    assert_eq!(pids(&sup).await[1], ("b".to_owned(), None));
    assert!(matches!(
        sup.start_child(worker(WorkerArgs::new("b", &tx))).await,
        Err(ChildError::AlreadyPresent(_))
    ));

    let b2 = sup.restart_child("b").await.expect("restarts");
    assert_ne!(b2, b);
    assert_eq!(next_start(&mut rx).await, ("b", b2));
    // OTP: restarting a running child is `{error, running}`.
    assert_eq!(
        sup.restart_child("b").await,
        Err(ChildError::Running("b".into(), b2))
    );

    sup.terminate_child("b").await.expect("terminates");
    sup.delete_child("b").await.expect("deletes");
    assert_eq!(sup.which_children().await.expect("answers").len(), 1);
    for missing in [
        sup.terminate_child("zzz").await,
        sup.delete_child("zzz").await,
        sup.restart_child("zzz").await.map(|_| ()),
    ] {
        assert_eq!(missing, Err(ChildError::NotFound("zzz".into())));
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_added_child_is_an_error_and_not_kept() {
    let node = node();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, SupervisorSpec::new(Strategy::OneForOne)).await;
    let got = sup
        .start_child(worker(WorkerArgs::new("bad", &tx).failing(1)))
        .await;
    assert_eq!(
        got,
        Err(ChildError::Start(ExitReason::error("bad refuses to start")))
    );
    assert!(sup.which_children().await.expect("answers").is_empty());
    assert!(node.is_alive(sup.pid()));
}

#[tokio::test(start_paused = true)]
async fn terminating_a_temporary_child_forgets_it() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, SupervisorSpec::new(Strategy::OneForOne)).await;
    sup.start_child(worker(WorkerArgs::new("t", &tx)).restart(Restart::Temporary))
        .await
        .expect("starts");
    let _ = next_start(&mut rx).await;
    sup.terminate_child("t").await.expect("terminates");
    assert!(sup.which_children().await.expect("answers").is_empty());
}

#[tokio::test(start_paused = true)]
async fn child_spec_hands_back_a_spec_that_starts_the_same_child() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("a", &tx)).restart(Restart::Transient));
    let sup = start(&node, spec).await;
    let _ = next_start(&mut rx).await;
    let copy = sup.child_spec("a").await.expect("known");
    assert_eq!(copy.id(), "a");
    assert!(format!("{copy:?}").contains("Transient"));
    assert_eq!(
        sup.child_spec("zzz").await.map(|s| s.id().to_owned()),
        Err(ChildError::NotFound("zzz".into()))
    );
    // The copy starts the same child under another supervisor.
    let other = start(&node, SupervisorSpec::new(Strategy::OneForOne)).await;
    let pid = other.start_child(copy).await.expect("starts");
    assert_eq!(next_start(&mut rx).await, ("a", pid));
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_stopped_from_outside_stops_its_children_first() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("a", &tx).trapping()))
        .child(worker(WorkerArgs::new("b", &tx).trapping()));
    SupervisorRef::start(&node, spec, SpawnOpts::new().name("top"))
        .await
        .expect("starts");
    let _ = next_start(&mut rx).await;
    let _ = next_start(&mut rx).await;
    let sup = SupervisorRef::named(&node, "top").expect("found by name");
    sup.stop(ExitReason::Shutdown, Duration::from_secs(30))
        .await
        .expect("stops");
    assert!(matches!(
        next(&mut rx).await,
        Ev::Stopped("b", _, ExitReason::Shutdown)
    ));
    assert!(matches!(
        next(&mut rx).await,
        Ev::Stopped("a", _, ExitReason::Shutdown)
    ));
    assert_eq!(node.stats().processes, 0);
    assert_eq!(
        sup.stop(ExitReason::Shutdown, Duration::from_secs(1)).await,
        Err(StopError::NoProc)
    );
    assert!(SupervisorRef::named(&node, "top").is_err());
}
