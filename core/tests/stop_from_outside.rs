//! Stopping a process from outside and waiting for its end
//! (`gen_server:stop/3`), and calls that wait as long as it takes.

mod support;

use std::time::Duration;

use beamish_core::{ExitReason, Signal, StopError, Timeout};
use support::*;

#[tokio::test(start_paused = true)]
async fn stop_ends_a_process_with_the_reason_even_normal() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(p.pid());
    // An exit signal with `Normal` would be ignored; a stop is not.
    p.stop(ExitReason::Normal, Duration::from_secs(1))
        .await
        .expect("stops");
    assert!(!p.is_alive());
    assert_eq!(watch.await, ExitReason::Normal);
}

#[tokio::test(start_paused = true)]
async fn stop_with_kill_is_seen_as_killed() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    let watch = node.monitor(p.pid());
    // Untrappable, even by a process that traps exits.
    p.stop(ExitReason::Kill, Timeout::Infinity)
        .await
        .expect("killed");
    assert_eq!(watch.await, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn a_trapping_process_is_asked_and_may_not_stop_in_time() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    assert_eq!(next(&mut rx).await, Event::Started(p.pid()));
    let asked = p.stop(ExitReason::Shutdown, Duration::from_secs(5)).await;
    assert_eq!(asked, Err(StopError::Timeout));
    assert_eq!(
        next(&mut rx).await,
        Event::Signal(
            p.pid(),
            Signal::Exit {
                from: node.pid(),
                reason: ExitReason::Shutdown
            }
        )
    );
    assert!(p.is_alive(), "it chose not to stop");
}

#[tokio::test(start_paused = true)]
async fn a_process_that_ends_otherwise_says_how() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    // The probe ends with its own reason once it has handled this.
    p.cast(Cmd::Fail(ExitReason::error("mine")))
        .await
        .expect("alive");
    let stopped = p.stop(ExitReason::Shutdown, Duration::from_secs(5)).await;
    assert_eq!(stopped, Err(StopError::Exited(ExitReason::error("mine"))));
}

#[tokio::test(start_paused = true)]
async fn stopping_an_ended_process_is_noproc() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    p.stop(ExitReason::Shutdown, Duration::from_secs(1))
        .await
        .expect("stops");
    assert_eq!(
        p.stop(ExitReason::Shutdown, Duration::from_secs(1)).await,
        Err(StopError::NoProc)
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_without_a_timeout_waits_as_long_as_it_takes() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let day = Duration::from_secs(86_400);
    let started = tokio::time::Instant::now();
    let answer = p
        .call_infinity(|reply| Cmd::Slow(day, reply))
        .await
        .expect("answers");
    assert_eq!(answer, 1);
    assert!(started.elapsed() >= day);
    let answer = p
        .call(|reply| Cmd::Slow(day * 365, reply), Timeout::Infinity)
        .await
        .expect("answers");
    assert_eq!(answer, 1);
}
