//! Each restart type against each exit reason, as in OTP.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{Restart, Strategy, SupervisorSpec};
use support::*;

/// Ends the only child with `reason` and says whether it was restarted.
async fn restarted(restart: Restart, reason: ExitReason, by_kill: bool) -> bool {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(5))
        .child(worker(WorkerArgs::new("w", &tx)).restart(restart));
    let sup = start(&node, spec).await;
    let Ev::Started(_, first) = next(&mut rx).await else {
        panic!("starts");
    };
    let ended = node.monitor(first);
    if by_kill {
        node.exit(first, ExitReason::Kill);
    } else {
        end(&node, first, reason.clone()).await;
    }
    ended.await;
    // The supervisor handles the exit before answering this.
    let children = sup.which_children().await.expect("answers");
    let again = children.first().and_then(|c| c.pid);
    match again {
        Some(pid) => {
            assert_ne!(pid, first);
            assert_eq!(next_start(&mut rx).await.1, pid);
            true
        }
        None => {
            if restart == Restart::Temporary {
                assert!(children.is_empty(), "a temporary child is forgotten");
            }
            false
        }
    }
}

#[tokio::test(start_paused = true)]
async fn permanent_is_always_restarted() {
    assert!(restarted(Restart::Permanent, ExitReason::Normal, false).await);
    assert!(restarted(Restart::Permanent, ExitReason::Shutdown, false).await);
    assert!(restarted(Restart::Permanent, ExitReason::shutdown_with("bye"), false).await);
    assert!(restarted(Restart::Permanent, ExitReason::error("x"), false).await);
    assert!(restarted(Restart::Permanent, ExitReason::Kill, true).await);
}

#[tokio::test(start_paused = true)]
async fn transient_is_restarted_only_after_an_abnormal_exit() {
    assert!(!restarted(Restart::Transient, ExitReason::Normal, false).await);
    assert!(!restarted(Restart::Transient, ExitReason::Shutdown, false).await);
    // OTP: `{shutdown, Term}` is a shutdown, not a crash.
    assert!(!restarted(Restart::Transient, ExitReason::shutdown_with("bye"), false).await);
    assert!(restarted(Restart::Transient, ExitReason::error("x"), false).await);
    assert!(restarted(Restart::Transient, ExitReason::Kill, true).await);
}

#[tokio::test(start_paused = true)]
async fn temporary_is_never_restarted() {
    assert!(!restarted(Restart::Temporary, ExitReason::Normal, false).await);
    assert!(!restarted(Restart::Temporary, ExitReason::Shutdown, false).await);
    assert!(!restarted(Restart::Temporary, ExitReason::error("x"), false).await);
    assert!(!restarted(Restart::Temporary, ExitReason::Kill, true).await);
}
