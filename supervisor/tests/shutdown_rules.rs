//! How children are stopped: a `Shutdown` timeout then a kill, a brutal
//! kill, or waiting as long as it takes.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{Shutdown, Strategy, SupervisorSpec};
use support::*;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_child_ignoring_shutdown_is_killed_after_its_timeout() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(
        worker(WorkerArgs::new("stubborn", &tx).stubborn())
            .shutdown(Shutdown::Timeout(Duration::from_secs(3))),
    );
    let sup = start(&node, spec).await;
    let (_, pid) = next_start(&mut rx).await;
    let child = node.monitor(pid);
    let began = Instant::now();
    sup.terminate_child("stubborn").await.expect("terminates");
    assert_eq!(began.elapsed(), Duration::from_secs(3));
    assert_eq!(child.await, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_stops_in_time_is_not_killed() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(
        worker(WorkerArgs::new("polite", &tx).trapping())
            .shutdown(Shutdown::Timeout(Duration::from_secs(3))),
    );
    let sup = start(&node, spec).await;
    let (_, pid) = next_start(&mut rx).await;
    let child = node.monitor(pid);
    let began = Instant::now();
    sup.terminate_child("polite").await.expect("terminates");
    assert!(began.elapsed() < Duration::from_secs(3));
    assert_eq!(child.await, ExitReason::Shutdown);
    assert_eq!(
        next(&mut rx).await,
        Ev::Stopped("polite", pid, ExitReason::Shutdown)
    );
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_kills_at_once() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("w", &tx).trapping()).shutdown(Shutdown::BrutalKill));
    let sup = start(&node, spec).await;
    let (_, pid) = next_start(&mut rx).await;
    let child = node.monitor(pid);
    sup.terminate_child("w").await.expect("terminates");
    assert_eq!(child.await, ExitReason::Killed);
    // Killed: terminate never ran.
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn infinity_waits_for_the_child() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("stubborn", &tx).stubborn()).shutdown(Shutdown::Infinity));
    let sup = start(&node, spec).await;
    let (_, pid) = next_start(&mut rx).await;
    let terminating = tokio::spawn({
        let sup = sup.clone().with_timeout(Duration::from_secs(86_400));
        async move { sup.terminate_child("stubborn").await }
    });
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(!terminating.is_finished(), "infinity means no kill");
    assert!(node.is_alive(pid));
    // Someone else ends it; the supervisor was waiting all along.
    node.exit(pid, ExitReason::Kill);
    assert_eq!(terminating.await.expect("joins"), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_stopping_supervisor_stops_children_in_reverse_order() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("a", &tx).trapping()))
        .child(worker(WorkerArgs::new("b", &tx).trapping()))
        .child(worker(WorkerArgs::new("c", &tx).trapping()));
    let sup = start(&node, spec).await;
    for _ in 0..3 {
        let _ = next_start(&mut rx).await;
    }
    let watch = node.monitor(sup.pid());
    node.exit(sup.pid(), ExitReason::Shutdown);
    assert_eq!(watch.await, ExitReason::Shutdown);
    let order: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|ev| match ev {
            Ev::Stopped(id, _, ExitReason::Shutdown) => id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(order, vec!["c", "b", "a"]);
    assert_eq!(node.stats().processes, 0);
}
