//! The dynamic supervisor: children from a template at run time, a maximum,
//! one-for-one restarts with the same arguments, ordered shutdown.

mod support;

use std::time::Duration;

use beamish_core::{ExitReason, SpawnOpts};
use beamish_supervisor::{DynamicError, DynamicRef, DynamicSpec, Restart};
use support::*;

async fn dynamic(spec: DynamicSpec<WorkerArgs>) -> (beamish_core::Node, DynamicRef<WorkerArgs>) {
    let node = node();
    let sup = DynamicRef::start(&node, spec, SpawnOpts::new())
        .await
        .expect("starts");
    (node, sup)
}

#[tokio::test(start_paused = true)]
async fn children_start_at_run_time_up_to_the_maximum() {
    let (node, sup) = dynamic(DynamicSpec::worker::<Worker>().max_children(2)).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    let b = sup
        .start_child(WorkerArgs::new("b", &tx))
        .await
        .expect("starts");
    assert_eq!(next_start(&mut rx).await, ("a", a));
    assert_eq!(next_start(&mut rx).await, ("b", b));
    assert_eq!(
        sup.start_child(WorkerArgs::new("c", &tx)).await,
        Err(DynamicError::Full { max: 2 })
    );
    assert_eq!(sup.which_children().await.expect("answers"), vec![a, b]);
    sup.terminate_child(a).await.expect("terminates");
    assert!(!node.is_alive(a));
    assert_eq!(sup.terminate_child(a).await, Err(DynamicError::NotFound(a)));
    let c = sup
        .start_child(WorkerArgs::new("c", &tx))
        .await
        .expect("room again");
    assert_eq!(sup.which_children().await.expect("answers"), vec![b, c]);
}

#[tokio::test(start_paused = true)]
async fn a_crashed_child_restarts_with_its_own_arguments() {
    let (node, sup) =
        dynamic(DynamicSpec::worker::<Worker>().intensity(5, Duration::from_secs(5))).await;
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
    end_and_wait(&node, a, ExitReason::error("boom")).await;
    let (id, a2) = next_start(&mut rx).await;
    assert_eq!(id, "a", "restarted with the same arguments");
    assert_eq!(sup.which_children().await.expect("answers"), vec![a2, b]);
}

#[tokio::test(start_paused = true)]
async fn temporary_children_are_not_restarted() {
    let (node, sup) = dynamic(DynamicSpec::worker::<Worker>().restart(Restart::Temporary)).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let a = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    end_and_wait(&node, a, ExitReason::error("gone")).await;
    assert!(sup.which_children().await.expect("answers").is_empty());
}

#[tokio::test(start_paused = true)]
async fn too_many_restarts_stop_it() {
    let (node, sup) = dynamic(DynamicSpec::worker::<Worker>()).await;
    let watch = node.monitor(sup.pid());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut pid = sup
        .start_child(WorkerArgs::new("a", &tx))
        .await
        .expect("starts");
    let _ = next_start(&mut rx).await;
    end_and_wait(&node, pid, ExitReason::error("1")).await;
    pid = next_start(&mut rx).await.1;
    end_and_wait(&node, pid, ExitReason::error("2")).await;
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_start_is_an_error() {
    let (_node, sup) = dynamic(DynamicSpec::worker::<Worker>()).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    assert_eq!(
        sup.start_child(WorkerArgs::new("x", &tx).failing(1)).await,
        Err(DynamicError::Start(ExitReason::error("x refuses to start")))
    );
    assert!(sup.which_children().await.expect("answers").is_empty());
}

#[tokio::test(start_paused = true)]
async fn stopping_it_stops_the_children_youngest_first() {
    let (node, sup) = dynamic(DynamicSpec::worker::<Worker>()).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for id in ["a", "b", "c"] {
        sup.start_child(WorkerArgs::new(id, &tx).trapping())
            .await
            .expect("starts");
        let _ = next_start(&mut rx).await;
    }
    let watch = node.monitor(sup.pid());
    node.exit(sup.pid(), ExitReason::Shutdown);
    assert_eq!(watch.await, ExitReason::Shutdown);
    let order: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
        .filter_map(|ev| match ev {
            Ev::Stopped(id, ..) => Some(id),
            Ev::Started(..) => None,
        })
        .collect();
    assert_eq!(order, vec!["c", "b", "a"]);
    assert_eq!(node.stats().processes, 0);
}
