//! Signals that act take effect at once: an abnormal exit or a kill ends a
//! process without handling what is queued, which becomes dead letters.

mod support;

use beamish_core::ExitReason;
use support::*;

async fn overtakes(reason: ExitReason, seen_as: ExitReason) {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(p.pid());
    let (_release, blocked) = tokio::sync::oneshot::channel();
    p.cast(Cmd::Block(blocked)).await.expect("alive");
    for n in 0..10_000 {
        p.cast(Cmd::Num(n)).await.expect("alive");
    }
    assert_eq!(next_non_start(&mut rx).await, Event::Blocked(p.pid()));
    let before = node.stats().dead_letters;
    node.exit(p.pid(), reason);
    assert_eq!(watch.await, seen_as);
    // Not one queued message was handled, and terminate did not run.
    assert!(rx.try_recv().is_err());
    assert_eq!(node.stats().dead_letters - before, 10_000);
}

#[tokio::test(start_paused = true)]
async fn abnormal_exit_overtakes_queued_messages() {
    overtakes(ExitReason::error("stop now"), ExitReason::error("stop now")).await;
}

#[tokio::test(start_paused = true)]
async fn kill_overtakes_queued_messages() {
    overtakes(ExitReason::Kill, ExitReason::Killed).await;
}

#[tokio::test(start_paused = true)]
async fn linked_crash_overtakes_queued_messages() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let busy = probe(&node, ProbeArgs::new(&tx)).await;
    let crasher = probe(&node, ProbeArgs::new(&tx)).await;
    crasher.cast(Cmd::Link(busy.pid())).await.expect("alive");
    sync(&crasher).await;
    let watch = node.monitor(busy.pid());
    let (_release, blocked) = tokio::sync::oneshot::channel();
    busy.cast(Cmd::Block(blocked)).await.expect("alive");
    for n in 0..1_000 {
        busy.cast(Cmd::Num(n)).await.expect("alive");
    }
    assert_eq!(next_non_start(&mut rx).await, Event::Blocked(busy.pid()));
    crasher
        .cast(Cmd::Fail(ExitReason::error("linked")))
        .await
        .expect("alive");
    assert_eq!(watch.await, ExitReason::error("linked"));
    while let Ok(event) = rx.try_recv() {
        assert!(
            !matches!(event, Event::Got(..)),
            "a queued message was handled: {event:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn trapping_process_handles_the_queue_first() {
    // The contrast: an exit signal to a trapping process becomes a message
    // and waits its turn behind what was queued before it.
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    for n in 0..100 {
        p.cast(Cmd::Num(n)).await.expect("alive");
    }
    node.exit(p.pid(), ExitReason::error("late"));
    for n in 0..100 {
        assert_eq!(next_non_start(&mut rx).await, Event::Got(p.pid(), n));
    }
    assert!(matches!(
        next(&mut rx).await,
        Event::Signal(_, beamish_core::Signal::Exit { .. })
    ));
}
