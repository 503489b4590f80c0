//! Links: abnormal exits propagate, normal ones do not, trapping turns them
//! into messages, and linking a dead process fires `NoProc`.

mod support;

use beamish_core::{ExitReason, Signal};
use support::*;

#[tokio::test(start_paused = true)]
async fn abnormal_exit_takes_linked_process_down() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let a = probe(&node, ProbeArgs::new(&tx)).await;
    let b = probe(&node, ProbeArgs::new(&tx)).await;
    let watch_b = node.monitor(b.pid());
    a.cast(Cmd::Link(b.pid())).await.expect("alive");
    sync(&a).await;
    assert_eq!(
        node.process_info(a.pid()).expect("alive").links,
        vec![b.pid()]
    );
    assert_eq!(
        node.process_info(b.pid()).expect("alive").links,
        vec![a.pid()]
    );

    a.cast(Cmd::Fail(ExitReason::error("boom")))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, a.pid()).await, ExitReason::error("boom"));
    assert_eq!(watch_b.await, ExitReason::error("boom"));
    // `a` ran terminate (it failed by itself); `b` was ended by a signal.
    assert_eq!(
        next_non_start(&mut rx).await,
        Event::Terminated(a.pid(), ExitReason::error("boom"))
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn normal_exit_does_not_propagate() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let a = probe(&node, ProbeArgs::new(&tx)).await;
    let b = probe(&node, ProbeArgs::new(&tx)).await;
    a.cast(Cmd::Link(b.pid())).await.expect("alive");
    a.cast(Cmd::Stop(ExitReason::Normal)).await.expect("alive");
    assert_eq!(exit_of(&node, a.pid()).await, ExitReason::Normal);
    sync(&b).await;
    assert!(b.is_alive());
    assert!(node.process_info(b.pid()).expect("alive").links.is_empty());
}

#[tokio::test(start_paused = true)]
async fn trapping_process_receives_exit_as_signal() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let a = probe(&node, ProbeArgs::new(&tx)).await;
    let b = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    a.cast(Cmd::Link(b.pid())).await.expect("alive");
    a.cast(Cmd::Panic("bad input".into())).await.expect("alive");
    let reason = ExitReason::Panic("bad input".into());
    assert_eq!(exit_of(&node, a.pid()).await, reason);
    loop {
        match next_non_start(&mut rx).await {
            Event::Terminated(pid, r) => assert_eq!((pid, r), (a.pid(), reason.clone())),
            Event::Signal(pid, Signal::Exit { from, reason: r }) => {
                assert_eq!((pid, from, r), (b.pid(), a.pid(), reason.clone()));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(b.is_alive());
}

#[tokio::test(start_paused = true)]
async fn trapped_normal_exit_is_delivered() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let a = probe(&node, ProbeArgs::new(&tx)).await;
    let b = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    b.cast(Cmd::Link(a.pid())).await.expect("alive");
    sync(&b).await;
    a.cast(Cmd::Stop(ExitReason::Normal)).await.expect("alive");
    let _ = next_non_start(&mut rx).await; // a's terminate
    assert_eq!(
        next_non_start(&mut rx).await,
        Event::Signal(
            b.pid(),
            Signal::Exit {
                from: a.pid(),
                reason: ExitReason::Normal
            }
        )
    );
}

#[tokio::test(start_paused = true)]
async fn linking_a_dead_process_fires_noproc() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let dead = probe(&node, ProbeArgs::new(&tx)).await;
    dead.cast(Cmd::Stop(ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, dead.pid()).await, ExitReason::Normal);
    let _ = next_non_start(&mut rx).await;

    let trapper = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    trapper.cast(Cmd::Link(dead.pid())).await.expect("alive");
    assert_eq!(
        next_non_start(&mut rx).await,
        Event::Signal(
            trapper.pid(),
            Signal::Exit {
                from: dead.pid(),
                reason: ExitReason::NoProc
            }
        )
    );

    let plain = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(plain.pid());
    plain.cast(Cmd::Link(dead.pid())).await.expect("alive");
    assert_eq!(watch.await, ExitReason::NoProc);
}

#[tokio::test(start_paused = true)]
async fn unlink_stops_propagation() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let a = probe(&node, ProbeArgs::new(&tx)).await;
    let b = probe(&node, ProbeArgs::new(&tx)).await;
    let watch_a = node.monitor(a.pid());
    a.cast(Cmd::Link(b.pid())).await.expect("alive");
    a.cast(Cmd::Unlink(b.pid())).await.expect("alive");
    sync(&a).await;
    b.cast(Cmd::Fail(ExitReason::error("alone")))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, b.pid()).await, ExitReason::error("alone"));
    sync(&a).await;
    assert!(a.is_alive());
    drop(watch_a);
}

#[tokio::test(start_paused = true)]
async fn spawn_link_ties_child_to_parent() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let parent = probe(&node, ProbeArgs::new(&tx)).await;
    let child = parent
        .call(Cmd::SpawnLink, CALL)
        .await
        .expect("parent spawns");
    let info = node.process_info(child.pid()).expect("alive");
    assert_eq!(info.parent, Some(parent.pid()));
    assert_eq!(info.links, vec![parent.pid()]);
    child
        .cast(Cmd::Fail(ExitReason::error("child failed")))
        .await
        .expect("alive");
    assert_eq!(
        exit_of(&node, parent.pid()).await,
        ExitReason::error("child failed")
    );
}
