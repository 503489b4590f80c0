//! OTP's application rule for a service: when the top supervisor gives
//! up, the node stops and the run returns an error, so `main` exits
//! non-zero; an orderly stop returns `Ok`.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{NodeExt, RunError, Strategy, SupervisorError, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_top_supervisor_that_gives_up_stops_the_node_with_an_error() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("a", &tx)))
        .child(worker(WorkerArgs::new("b", &tx).trapping()));
    let running = tokio::spawn({
        let node = node.clone();
        async move { node.run(spec).await }
    });
    // Two crashes within the period: one more restart than allowed.
    for _ in 0..2 {
        let pid = loop {
            if let ("a", pid) = next_start(&mut rx).await {
                break pid;
            }
        };
        end(&node, pid, ExitReason::error("crash")).await;
    }
    let ended = running.await.expect("the run returns");
    assert_eq!(ended, Err(RunError::Exited(ExitReason::Shutdown)));
    assert!(node.is_stopping(), "the node is stopped");
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_ends_the_run_in_order_and_ok() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("a", &tx).trapping()))
        .child(worker(WorkerArgs::new("b", &tx).trapping()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let node = node.clone();
        async move {
            node.run_until(spec, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    assert_eq!(next_start(&mut rx).await.0, "a");
    assert_eq!(next_start(&mut rx).await.0, "b");
    stop.send(()).expect("the run waits");
    assert_eq!(running.await.expect("the run returns"), Ok(()));
    assert!(matches!(
        next(&mut rx).await,
        Ev::Stopped("b", _, ExitReason::Shutdown)
    ));
    assert!(matches!(
        next(&mut rx).await,
        Ev::Stopped("a", _, ExitReason::Shutdown)
    ));
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_node_shut_down_elsewhere_ends_the_run_ok() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(worker(WorkerArgs::new("a", &tx)));
    let running = tokio::spawn({
        let node = node.clone();
        async move { node.run(spec).await }
    });
    let _ = next_start(&mut rx).await;
    node.shutdown(Duration::from_secs(5)).await;
    assert_eq!(running.await.expect("the run returns"), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_tree_that_does_not_start_is_an_error() {
    let node = node();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("bad", &tx).failing(1)));
    match node.run(spec).await {
        Err(RunError::Start(SupervisorError::ChildStart { child, .. })) => {
            assert_eq!(&*child, "bad");
        }
        other => panic!("expected a start error, got {other:?}"),
    }
}
