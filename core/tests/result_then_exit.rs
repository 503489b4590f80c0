//! "Send the result, then exit": a trapping or monitoring process always
//! sees the result before the exit signal or `Down` of its sender.

mod support;

use beamish_core::{ExitReason, Signal};
use support::*;

async fn result_before_exit(trap: bool, reason: ExitReason) {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let receiver = probe(
        &node,
        if trap {
            ProbeArgs::new(&tx).trapping()
        } else {
            ProbeArgs::new(&tx)
        },
    )
    .await;
    let sender = probe(&node, ProbeArgs::new(&tx)).await;
    if trap {
        receiver.cast(Cmd::Link(sender.pid())).await.expect("alive");
    } else {
        receiver
            .call(|r| Cmd::Monitor(sender.pid(), r), CALL)
            .await
            .expect("monitors");
    }
    sync(&receiver).await;
    sender
        .cast(Cmd::Forward(receiver.clone(), 42))
        .await
        .expect("alive");
    sender.cast(Cmd::Fail(reason.clone())).await.expect("alive");
    let mut got_result = false;
    loop {
        match next_non_start(&mut rx).await {
            Event::Got(pid, 42) => {
                assert_eq!(pid, receiver.pid());
                got_result = true;
            }
            Event::Terminated(pid, _) => assert_eq!(pid, sender.pid()),
            Event::Signal(pid, signal) => {
                assert_eq!(pid, receiver.pid());
                match signal {
                    Signal::Exit { from, reason: r }
                    | Signal::Down {
                        pid: from,
                        reason: r,
                        ..
                    } => {
                        assert_eq!((from, r), (sender.pid(), reason.clone()));
                    }
                    other => panic!("unexpected {other:?}"),
                }
                assert!(got_result, "the exit overtook the result");
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn trapping_receiver_sees_result_then_abnormal_exit() {
    result_before_exit(true, ExitReason::error("done badly")).await;
}

#[tokio::test(start_paused = true)]
async fn trapping_receiver_sees_result_then_normal_exit() {
    result_before_exit(true, ExitReason::Normal).await;
}

#[tokio::test(start_paused = true)]
async fn monitoring_receiver_sees_result_then_down() {
    result_before_exit(false, ExitReason::Normal).await;
    result_before_exit(false, ExitReason::error("x")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_holds_under_parallel_scheduling() {
    for round in 0..200 {
        let reason = if round % 2 == 0 {
            ExitReason::Normal
        } else {
            ExitReason::error("odd")
        };
        result_before_exit(round % 3 != 0, reason).await;
    }
}
