//! A child that fails to start: the ones before it are stopped in reverse
//! order and the error names the child.

mod support;

use beamish_core::ExitReason;
use beamish_core::SpawnOpts;
use beamish_supervisor::{Strategy, SupervisorError, SupervisorRef, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn start_failure_cleans_up_and_names_the_child() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("a", &tx).trapping()))
        .child(worker(WorkerArgs::new("b", &tx).trapping()))
        .child(worker(WorkerArgs::new("c", &tx).failing(1)))
        .child(worker(WorkerArgs::new("d", &tx)));
    let got = SupervisorRef::start(&node, spec, SpawnOpts::new()).await;
    match got {
        Err(SupervisorError::ChildStart { child, reason }) => {
            assert_eq!(&*child, "c");
            assert_eq!(reason, ExitReason::error("c refuses to start"));
        }
        other => panic!("expected a child start error, got {other:?}"),
    }
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let [Ev::Started("a", a), Ev::Started("b", b), Ev::Stopped("b", b2, _), Ev::Stopped("a", a2, _)] =
        events.as_slice()
    else {
        panic!("unexpected events {events:?}");
    };
    assert_eq!((a, b), (a2, b2));
    assert_eq!(node.stats().processes, 0, "nothing is left running");
}

#[tokio::test(start_paused = true)]
async fn significant_children_need_auto_shutdown() {
    let node = node();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(
        worker(WorkerArgs::new("s", &tx))
            .restart(beamish_supervisor::Restart::Transient)
            .significant(true),
    );
    let got = SupervisorRef::start(&node, spec, SpawnOpts::new()).await;
    assert!(matches!(got, Err(SupervisorError::Init(_))), "{got:?}");
    assert_eq!(node.stats().processes, 0);
}
