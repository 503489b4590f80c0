//! Restart backoff (an extension, off by default): doubling delays up to a
//! cap, a responsive supervisor meanwhile, and a reset after a long run.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{Backoff, Strategy, SupervisorSpec};
use support::*;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn restarts_wait_longer_each_time_up_to_the_cap() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(100, Duration::from_secs(60))
        .backoff(
            Backoff::exponential(Duration::from_millis(100), Duration::from_millis(500))
                .jitter(0.0),
        )
        .child(worker(WorkerArgs::new("w", &tx)));
    let sup = start(&node, spec).await;
    let (_, mut pid) = next_start(&mut rx).await;
    let mut waited = Vec::new();
    for _ in 0..5 {
        end_and_wait(&node, pid, ExitReason::error("again")).await;
        let crashed = Instant::now();
        // While the child waits, the supervisor answers and shows no pid.
        assert_eq!(pids(&sup).await, vec![("w".to_owned(), None)]);
        pid = next_start(&mut rx).await.1;
        waited.push(crashed.elapsed().as_millis());
    }
    assert_eq!(waited, vec![100, 200, 400, 500, 500]);
}

#[tokio::test(start_paused = true)]
async fn a_long_run_resets_the_delay() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(100, Duration::from_secs(10))
        .backoff(
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5)).jitter(0.0),
        )
        .child(worker(WorkerArgs::new("w", &tx)));
    let _sup = start(&node, spec).await;
    let (_, mut pid) = next_start(&mut rx).await;
    for _ in 0..3 {
        end_and_wait(&node, pid, ExitReason::error("again")).await;
        pid = next_start(&mut rx).await.1;
    }
    // Ran for longer than the period: the next delay is back to 100 ms.
    tokio::time::sleep(Duration::from_secs(11)).await;
    end_and_wait(&node, pid, ExitReason::error("after a while")).await;
    let crashed = Instant::now();
    let _ = next_start(&mut rx).await;
    assert_eq!(crashed.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn without_backoff_restarts_are_immediate() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(worker(WorkerArgs::new("w", &tx)));
    let _sup = start(&node, spec).await;
    let (_, pid) = next_start(&mut rx).await;
    end_and_wait(&node, pid, ExitReason::error("once")).await;
    let crashed = Instant::now();
    let _ = next_start(&mut rx).await;
    assert_eq!(crashed.elapsed(), Duration::ZERO);
}
