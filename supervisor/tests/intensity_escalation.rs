//! Restart intensity: too many restarts stop the supervisor with
//! `Shutdown`, and its own supervisor sees it, through two levels.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{ChildSpec, Strategy, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn exceeding_the_intensity_stops_everything_in_reverse() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(2, Duration::from_secs(10))
        .child(worker(WorkerArgs::new("a", &tx).trapping()))
        .child(worker(WorkerArgs::new("b", &tx).trapping()))
        .child(worker(WorkerArgs::new("c", &tx).trapping()));
    let sup = start(&node, spec).await;
    let watch = node.monitor(sup.pid());
    for _ in 0..3 {
        let _ = next(&mut rx).await;
    }
    // Two restarts are allowed ...
    for _ in 0..2 {
        end(&node, pid_of(&sup, "b").await, ExitReason::error("again")).await;
        assert!(matches!(next(&mut rx).await, Ev::Stopped("b", ..)));
        assert!(matches!(next(&mut rx).await, Ev::Started("b", _)));
    }
    // ... the third within the period is one too many.
    end(&node, pid_of(&sup, "b").await, ExitReason::error("again")).await;
    assert!(matches!(next(&mut rx).await, Ev::Stopped("b", ..)));
    assert!(matches!(
        next(&mut rx).await,
        Ev::Stopped("c", _, ExitReason::Shutdown)
    ));
    assert!(matches!(
        next(&mut rx).await,
        Ev::Stopped("a", _, ExitReason::Shutdown)
    ));
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_over_time_are_fine() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(worker(WorkerArgs::new("w", &tx)));
    let sup = start(&node, spec).await;
    let _ = next(&mut rx).await;
    // OTP's default: 1 restart in 5 s. One crash every 6 s is survivable.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        end(&node, pid_of(&sup, "w").await, ExitReason::error("tick")).await;
        assert_eq!(next_start(&mut rx).await.0, "w");
    }
    assert!(node.is_alive(sup.pid()));
}

#[tokio::test(start_paused = true)]
async fn escalation_goes_through_two_levels() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let inner = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(1, Duration::from_secs(60))
        .child(worker(WorkerArgs::new("leaf", &tx)));
    let middle = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(1, Duration::from_secs(60))
        .child(ChildSpec::supervisor("inner", inner));
    let top = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(1, Duration::from_secs(60))
        .child(ChildSpec::supervisor("middle", middle));
    let sup = start(&node, top).await;
    let top_watch = node.monitor(sup.pid());
    let mut leaf = match next(&mut rx).await {
        Ev::Started("leaf", pid) => pid,
        other => panic!("unexpected {other:?}"),
    };
    // Each leaf crash restarts it once; the second crash in a row exceeds
    // inner's intensity, inner exits Shutdown, middle restarts it, and so
    // on upwards until top gives up.
    let mut crashes = 0;
    loop {
        end(&node, leaf, ExitReason::error("leaf fails")).await;
        crashes += 1;
        match tokio::time::timeout(Duration::from_secs(30), next_start(&mut rx)).await {
            Ok(("leaf", pid)) => leaf = pid,
            Ok(other) => panic!("unexpected {other:?}"),
            // No restart came: the whole tree gave up.
            Err(_) => break,
        }
    }
    assert_eq!(top_watch.await, ExitReason::Shutdown);
    // inner allows 1 restart per life; middle restarts inner once; top
    // restarts middle once: 2 inner lives per middle life, 2 middle lives.
    assert_eq!(crashes, 8);
    assert_eq!(node.stats().processes, 0);
}

/// OTP counts a restart while `now - then <= period`, in whole seconds
/// (`supervisor:add_restart/3`): with the default 1 restart in 5 s, a crash
/// exactly 5 s after the last restart is one too many.
#[tokio::test(start_paused = true)]
async fn a_restart_exactly_one_period_apart_still_counts() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(worker(WorkerArgs::new("w", &tx)));
    let sup = start(&node, spec).await;
    let watch = node.monitor(sup.pid());
    let _ = next(&mut rx).await;
    end_and_wait(&node, pid_of(&sup, "w").await, ExitReason::error("1")).await;
    assert_eq!(next_start(&mut rx).await.0, "w");
    tokio::time::sleep(Duration::from_secs(5)).await;
    end(&node, pid_of(&sup, "w").await, ExitReason::error("2")).await;
    assert_eq!(watch.await, ExitReason::Shutdown);
}
