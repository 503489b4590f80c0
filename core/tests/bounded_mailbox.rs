//! Bounded mailboxes: `try_cast` says `Full` and hands the message back,
//! `cast` waits for room, and signals are never held back by the bound.

mod support;

use beamish_core::{ExitReason, MailboxSize, SendError, Signal, SpawnOpts, TrySendError};
use support::*;

async fn bounded_probe(node: &TestNode, args: ProbeArgs, size: usize) -> beamish_core::Handle<Cmd> {
    node.start::<Probe>(args, SpawnOpts::new().mailbox(MailboxSize::Bounded(size)))
        .await
        .expect("starts")
}

#[tokio::test(start_paused = true)]
async fn try_cast_reports_full_and_hands_the_message_back() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = bounded_probe(&node, ProbeArgs::new(&tx), 2).await;
    let (release, blocked) = tokio::sync::oneshot::channel();
    p.try_cast(Cmd::Block(blocked))
        .map_err(|_| "room")
        .expect("room");
    assert_eq!(next_non_start(&mut rx).await, Event::Blocked(p.pid()));
    p.try_cast(Cmd::Num(1)).map_err(|_| "room").expect("room");
    p.try_cast(Cmd::Num(2)).map_err(|_| "room").expect("room");
    match p.try_cast(Cmd::Num(3)) {
        Err(TrySendError::Full(Cmd::Num(3))) => {}
        other => panic!("expected Full(Num(3)), got {other:?}"),
    }
    assert_eq!(node.process_info(p.pid()).expect("alive").mailbox_len, 2);
    release.send(()).expect("blocked");
    assert_eq!(next(&mut rx).await, Event::Got(p.pid(), 1));
    assert_eq!(next(&mut rx).await, Event::Got(p.pid(), 2));
}

#[tokio::test(start_paused = true)]
async fn cast_waits_for_room() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = bounded_probe(&node, ProbeArgs::new(&tx), 1).await;
    let (release, blocked) = tokio::sync::oneshot::channel();
    p.cast(Cmd::Block(blocked)).await.expect("alive");
    assert_eq!(next_non_start(&mut rx).await, Event::Blocked(p.pid()));
    p.cast(Cmd::Num(1)).await.expect("room for one");
    let waiting = tokio::spawn({
        let p = p.clone();
        async move { p.cast(Cmd::Num(2)).await.map_err(|_| "ended") }
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!waiting.is_finished(), "cast went through a full mailbox");
    release.send(()).expect("blocked");
    assert_eq!(waiting.await.expect("joins"), Ok(()));
    assert_eq!(next(&mut rx).await, Event::Got(p.pid(), 1));
    assert_eq!(next(&mut rx).await, Event::Got(p.pid(), 2));
}

#[tokio::test(start_paused = true)]
async fn waiting_senders_fail_when_the_process_dies() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = bounded_probe(&node, ProbeArgs::new(&tx), 1).await;
    let watch = node.monitor(p.pid());
    let (_release, blocked) = tokio::sync::oneshot::channel();
    p.cast(Cmd::Block(blocked)).await.expect("alive");
    assert_eq!(next_non_start(&mut rx).await, Event::Blocked(p.pid()));
    p.cast(Cmd::Num(1)).await.expect("room for one");
    let waiting = tokio::spawn({
        let p = p.clone();
        async move {
            matches!(
                p.cast(Cmd::Num(2)).await,
                Err(SendError::NoProc(Cmd::Num(2)))
            )
        }
    });
    tokio::task::yield_now().await;
    node.exit(p.pid(), ExitReason::Kill);
    assert_eq!(watch.await, ExitReason::Killed);
    assert!(
        waiting.await.expect("joins"),
        "the message comes back with NoProc"
    );
}

#[tokio::test(start_paused = true)]
async fn signals_pass_a_full_mailbox() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let trapper = bounded_probe(&node, ProbeArgs::new(&tx).trapping(), 1).await;
    let other = probe(&node, ProbeArgs::new(&tx)).await;
    trapper.cast(Cmd::Link(other.pid())).await.expect("alive");
    let mref = trapper
        .call(|r| Cmd::Monitor(other.pid(), r), CALL)
        .await
        .expect("monitors");
    let (release, blocked) = tokio::sync::oneshot::channel();
    trapper.cast(Cmd::Block(blocked)).await.expect("alive");
    assert_eq!(next_non_start(&mut rx).await, Event::Blocked(trapper.pid()));
    trapper.cast(Cmd::Num(7)).await.expect("room for one");
    // The mailbox is full, yet the exiting process is not held up and both
    // its exit signal and its Down are queued.
    other
        .cast(Cmd::Fail(ExitReason::error("gone")))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, other.pid()).await, ExitReason::error("gone"));
    assert_eq!(
        node.process_info(trapper.pid()).expect("alive").mailbox_len,
        3
    );
    release.send(()).expect("blocked");
    let mut got = Vec::new();
    while got.len() < 3 {
        match next(&mut rx).await {
            Event::Terminated(..) => {}
            event => got.push(event),
        }
    }
    assert_eq!(got[0], Event::Got(trapper.pid(), 7));
    assert_eq!(
        got[1],
        Event::Signal(
            trapper.pid(),
            Signal::Exit {
                from: other.pid(),
                reason: ExitReason::error("gone")
            }
        )
    );
    assert_eq!(
        got[2],
        Event::Signal(
            trapper.pid(),
            Signal::Down {
                monitor: mref,
                pid: other.pid(),
                reason: ExitReason::error("gone")
            }
        )
    );
}
