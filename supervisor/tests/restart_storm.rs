//! Ten thousand crashes under one supervisor: every one restarted, memory
//! and processes back where they were, no orphans.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{Strategy, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn ten_thousand_crashes_leave_no_orphans() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForAll)
        .intensity(100_000, Duration::from_secs(1))
        .child(worker(WorkerArgs::new("a", &tx)))
        .child(worker(WorkerArgs::new("b", &tx)));
    let sup = start(&node, spec).await;
    let _ = next_start(&mut rx).await;
    let (_, mut b) = next_start(&mut rx).await;
    let before = node.stats();
    for _ in 0..10_000 {
        end_and_wait(&node, b, ExitReason::error("storm")).await;
        // one_for_all: a is stopped and both start again.
        let _ = next_start(&mut rx).await;
        b = next_start(&mut rx).await.1;
        // Let the virtual clock move, so old restarts age out.
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    let after = node.stats();
    assert_eq!(after.processes, before.processes, "no orphan processes");
    assert_eq!(after.spawned - before.spawned, 20_000);
    let children = sup.which_children().await.expect("answers");
    assert_eq!(
        children.iter().map(|c| c.restarts).collect::<Vec<_>>(),
        vec![10_000, 10_000]
    );
    assert_eq!(node.processes().len(), 3);
    // Nothing accumulates in the supervisor's mailbox either.
    assert_eq!(node.process_info(sup.pid()).expect("alive").mailbox_len, 0);
}
