//! Significant children and auto shutdown, as in OTP 24.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{AutoShutdown, Restart, Strategy, SupervisorSpec};
use support::*;

fn spec(mode: AutoShutdown, tx: &tokio::sync::mpsc::UnboundedSender<Ev>) -> SupervisorSpec {
    SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(5))
        .auto_shutdown(mode)
        .child(worker(WorkerArgs::new("plain", tx).trapping()))
        .child(
            worker(WorkerArgs::new("s1", tx))
                .restart(Restart::Transient)
                .significant(true),
        )
        .child(
            worker(WorkerArgs::new("s2", tx))
                .restart(Restart::Temporary)
                .significant(true),
        )
}

#[tokio::test(start_paused = true)]
async fn any_significant_child_ending_stops_the_supervisor() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, spec(AutoShutdown::AnySignificant, &tx)).await;
    let watch = node.monitor(sup.pid());
    for _ in 0..3 {
        let _ = next_start(&mut rx).await;
    }
    end(&node, pid_of(&sup, "s1").await, ExitReason::Normal).await;
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn all_significant_waits_for_the_last_one() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, spec(AutoShutdown::AllSignificant, &tx)).await;
    let watch = node.monitor(sup.pid());
    for _ in 0..3 {
        let _ = next_start(&mut rx).await;
    }
    end_and_wait(&node, pid_of(&sup, "s1").await, ExitReason::Normal).await;
    let counts = sup.count_children().await.expect("still running");
    assert_eq!(counts.active, 2);
    end(&node, pid_of(&sup, "s2").await, ExitReason::Shutdown).await;
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_restarted_significant_child_does_not_count() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, spec(AutoShutdown::AnySignificant, &tx)).await;
    for _ in 0..3 {
        let _ = next_start(&mut rx).await;
    }
    // Transient and abnormal: restarted, so the supervisor carries on.
    end(&node, pid_of(&sup, "s1").await, ExitReason::error("oops")).await;
    assert_eq!(next_start(&mut rx).await.0, "s1");
    assert_eq!(sup.count_children().await.expect("runs").active, 3);
}

#[tokio::test(start_paused = true)]
async fn never_ignores_significance_of_added_children() {
    let node = node();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, SupervisorSpec::new(Strategy::OneForOne)).await;
    let got = sup
        .start_child(
            worker(WorkerArgs::new("s", &tx))
                .restart(Restart::Transient)
                .significant(true),
        )
        .await;
    assert!(matches!(
        got,
        Err(beamish_supervisor::ChildError::InvalidSpec(_))
    ));
}
