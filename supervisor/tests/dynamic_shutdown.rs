//! A dynamic supervisor stops its children all at once, then waits (as
//! OTP stops a `simple_one_for_one` supervisor's children), so its
//! shutdown takes as long as the slowest child, not the sum.

mod support;

use std::time::Duration;

use beamish_core::{ExitReason, SpawnOpts};
use beamish_supervisor::{DynamicRef, DynamicSpec, Shutdown};
use support::*;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn stopping_it_stops_every_child() {
    let node = node();
    let sup = DynamicRef::<Worker>::start(&node, DynamicSpec::worker(), SpawnOpts::new())
        .await
        .expect("starts");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for id in ["a", "b", "c"] {
        sup.start_child(WorkerArgs::new(id, &tx).trapping())
            .await
            .expect("starts");
        let _ = next_start(&mut rx).await;
    }
    sup.stop(ExitReason::Shutdown, Duration::from_secs(60))
        .await
        .expect("stops");
    let mut stopped: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
        .filter_map(|ev| match ev {
            Ev::Stopped(id, _, reason) => Some((id, reason)),
            Ev::Started(..) => None,
        })
        .collect();
    stopped.sort_by_key(|(id, _)| *id);
    assert_eq!(
        stopped,
        vec![
            ("a", ExitReason::Shutdown),
            ("b", ExitReason::Shutdown),
            ("c", ExitReason::Shutdown)
        ]
    );
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn children_that_do_not_stop_are_killed_after_one_grace_period() {
    let node = node();
    let grace = Duration::from_secs(2);
    let spec = DynamicSpec::worker().shutdown(Shutdown::Timeout(grace));
    let sup = DynamicRef::<Worker>::start(&node, spec, SpawnOpts::new())
        .await
        .expect("starts");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut children = Vec::new();
    for id in ["a", "b", "c", "d"] {
        let child = sup
            .start_child(WorkerArgs::new(id, &tx).stubborn())
            .await
            .expect("starts");
        let _ = next_start(&mut rx).await;
        children.push(node.monitor(child.pid()));
    }
    let began = Instant::now();
    sup.stop(ExitReason::Shutdown, Duration::from_secs(60))
        .await
        .expect("stops");
    // One grace period for all of them, not one each.
    assert_eq!(began.elapsed(), grace);
    for ended in children {
        assert_eq!(ended.await, ExitReason::Killed);
    }
    assert_eq!(node.stats().processes, 0);
}
