//! The dynamic supervisor: children of one process type at run time, a
//! maximum, one-for-one restarts with the same arguments, typed handles,
//! `which_children` and `count_children`.

mod support;

use std::time::Duration;

use beamish_core::{ExitReason, Node, SpawnOpts};
use beamish_supervisor::{DynamicError, DynamicRef, DynamicSpec, Restart};
use support::*;

async fn dynamic(spec: DynamicSpec<Worker>) -> (Node, DynamicRef<Worker>) {
    let node = node();
    let sup = DynamicRef::start(&node, spec, SpawnOpts::new())
        .await
        .expect("starts");
    (node, sup)
}

async fn child_pids(sup: &DynamicRef<Worker>) -> Vec<beamish_core::Pid> {
    sup.which_children()
        .await
        .expect("answers")
        .iter()
        .map(|c| c.pid())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn children_start_at_run_time_up_to_the_maximum() {
    let (_node, sup) = dynamic(DynamicSpec::worker().max_children(2)).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    let b = sup
        .start_child(WorkerArgs::new("b", &tx))
        .await
        .expect("starts");
    assert_eq!(next_start(&mut rx).await, ("a", a.pid()));
    assert_eq!(next_start(&mut rx).await, ("b", b.pid()));
    // The handle is typed: a call needs no lookup.
    let pinged = a.call(WMsg::Ping, CALL).await.expect("answers");
    assert_eq!(pinged, a.pid());
    assert_eq!(
        sup.start_child(WorkerArgs::new("c", &tx))
            .await
            .map(|h| h.pid()),
        Err(DynamicError::Full { max: 2 })
    );
    assert_eq!(child_pids(&sup).await, vec![a.pid(), b.pid()]);
    sup.terminate_child(a.pid()).await.expect("terminates");
    assert!(!a.is_alive());
    let c = sup
        .start_child(WorkerArgs::new("c", &tx))
        .await
        .expect("room again");
    assert_eq!(child_pids(&sup).await, vec![b.pid(), c.pid()]);
}

#[tokio::test(start_paused = true)]
async fn count_children_counts_the_running_workers() {
    let (node, sup) = dynamic(DynamicSpec::worker().restart(Restart::Temporary)).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let counts = sup.count_children().await.expect("answers");
    assert_eq!((counts.specs, counts.active, counts.workers), (0, 0, 0));
    let mut handles = Vec::new();
    for id in ["a", "b", "c"] {
        handles.push(
            sup.start_child(WorkerArgs::new(id, &tx))
                .await
                .expect("starts"),
        );
    }
    let counts = sup.count_children().await.expect("answers");
    assert_eq!(
        (
            counts.specs,
            counts.active,
            counts.workers,
            counts.supervisors
        ),
        (3, 3, 3, 0)
    );
    end_and_wait(&node, handles[1].pid(), ExitReason::Normal).await;
    assert_eq!(sup.count_children().await.expect("answers").active, 2);
}

/// OTP: `terminate_child` with a pid that is no longer alive answers `ok`;
/// a live process that is not a child is `{error, not_found}`.
#[tokio::test(start_paused = true)]
async fn terminating_an_ended_child_is_ok() {
    let (node, sup) = dynamic(DynamicSpec::worker().restart(Restart::Temporary)).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    end_and_wait(&node, a.pid(), ExitReason::error("gone")).await;
    assert_eq!(sup.terminate_child(a.pid()).await, Ok(()));
    assert_eq!(sup.terminate_child(a.pid()).await, Ok(()));
    let stranger = node
        .start::<Worker>(WorkerArgs::new("x", &tx), SpawnOpts::new())
        .await
        .expect("starts");
    assert_eq!(
        sup.terminate_child(stranger.pid()).await,
        Err(DynamicError::NotFound(stranger.pid()))
    );
    assert!(stranger.is_alive());
}

#[tokio::test(start_paused = true)]
async fn a_crashed_child_restarts_with_its_own_arguments() {
    let (node, sup) = dynamic(DynamicSpec::worker().intensity(5, Duration::from_secs(5))).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    let b = sup
        .start_child(WorkerArgs::new("b", &tx))
        .await
        .expect("starts");
    let _ = next_start(&mut rx).await;
    let _ = next_start(&mut rx).await;
    end_and_wait(&node, a.pid(), ExitReason::error("boom")).await;
    let (id, a2) = next_start(&mut rx).await;
    assert_eq!(id, "a", "restarted with the same arguments");
    let children = sup.which_children().await.expect("answers");
    let seen: Vec<_> = children.iter().map(|c| (c.pid(), c.restarts)).collect();
    assert_eq!(seen, vec![(a2, 1), (b.pid(), 0)], "it keeps its place");
}

/// The default restart type is `Permanent`, as in OTP: a worker that
/// returns normally is started again. `Transient` is what one-shot work
/// wants.
#[tokio::test(start_paused = true)]
async fn children_are_permanent_unless_told_otherwise() {
    let (node, sup) = dynamic(DynamicSpec::worker().intensity(5, Duration::from_secs(5))).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    let _ = next_start(&mut rx).await;
    end_and_wait(&node, a.pid(), ExitReason::Normal).await;
    assert_eq!(next_start(&mut rx).await.0, "a", "a normal end restarts it");

    let (node, sup) = dynamic(DynamicSpec::worker().restart(Restart::Transient)).await;
    let done = sup
        .start_child(WorkerArgs::new("done", &tx))
        .await
        .expect("starts");
    let _ = next_start(&mut rx).await;
    end_and_wait(&node, done.pid(), ExitReason::Normal).await;
    assert!(sup.which_children().await.expect("answers").is_empty());
    assert_eq!(sup.count_children().await.expect("answers").active, 0);
}

#[tokio::test(start_paused = true)]
async fn temporary_children_are_not_restarted() {
    let (node, sup) = dynamic(DynamicSpec::worker().restart(Restart::Temporary)).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    end_and_wait(&node, a.pid(), ExitReason::error("gone")).await;
    assert!(sup.which_children().await.expect("answers").is_empty());
}

#[tokio::test(start_paused = true)]
async fn too_many_restarts_stop_it() {
    let (node, sup) = dynamic(DynamicSpec::worker()).await;
    let watch = node.monitor(sup.pid());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    let _ = next_start(&mut rx).await;
    end_and_wait(&node, a.pid(), ExitReason::error("1")).await;
    let pid = next_start(&mut rx).await.1;
    end_and_wait(&node, pid, ExitReason::error("2")).await;
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_start_is_an_error() {
    let (_node, sup) = dynamic(DynamicSpec::worker()).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    assert_eq!(
        sup.start_child(WorkerArgs::new("x", &tx).failing(1))
            .await
            .map(|h| h.pid()),
        Err(DynamicError::Start(ExitReason::error("x refuses to start")))
    );
    assert!(sup.which_children().await.expect("answers").is_empty());
}

/// OTP: a `simple_one_for_one` child whose `init` returns `ignore` is
/// not started and not kept (`{ok, undefined}`).
#[tokio::test(start_paused = true)]
async fn an_ignored_child_is_not_kept() {
    let (node, sup) = dynamic(DynamicSpec::worker()).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    assert_eq!(
        sup.start_child(WorkerArgs::new("x", &tx).ignoring())
            .await
            .map(|h| h.pid()),
        Err(DynamicError::Ignored)
    );
    assert_eq!(sup.count_children().await.expect("answers").specs, 0);
    assert!(node.is_alive(sup.pid()));
}
