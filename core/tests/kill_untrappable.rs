//! `Kill` cannot be trapped and is seen as `Killed`; the fine print of exit
//! signals with `Normal` and `Shutdown`.

mod support;

use beamish_core::{ExitReason, Signal};
use support::*;

#[tokio::test(start_paused = true)]
async fn kill_ends_even_a_trapping_process() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    let watch = node.monitor(p.pid());
    node.exit(p.pid(), ExitReason::Kill);
    assert_eq!(watch.await, ExitReason::Killed);
    // Neither a trapped signal nor terminate ran.
    assert_eq!(next(&mut rx).await, Event::Started(p.pid()));
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn others_see_killed_which_is_trappable() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let victim = probe(&node, ProbeArgs::new(&tx)).await;
    let trapper = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    let plain = probe(&node, ProbeArgs::new(&tx)).await;
    trapper.cast(Cmd::Link(victim.pid())).await.expect("alive");
    plain.cast(Cmd::Link(victim.pid())).await.expect("alive");
    sync(&trapper).await;
    sync(&plain).await;
    let plain_watch = node.monitor(plain.pid());
    let killer = probe(&node, ProbeArgs::new(&tx)).await;
    killer
        .cast(Cmd::Exit(victim.pid(), ExitReason::Kill))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, victim.pid()).await, ExitReason::Killed);
    // The linked non-trapping process dies with `Killed`; the trapping one
    // lives and receives the exit as a message.
    assert_eq!(plain_watch.await, ExitReason::Killed);
    loop {
        if let Event::Signal(pid, signal) = next_non_start(&mut rx).await {
            assert_eq!(pid, trapper.pid());
            assert_eq!(
                signal,
                Signal::Exit {
                    from: victim.pid(),
                    reason: ExitReason::Killed
                }
            );
            break;
        }
    }
    sync(&trapper).await;
    assert!(trapper.is_alive());
}

#[tokio::test(start_paused = true)]
async fn normal_exit_signal_is_ignored_unless_trapping() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let plain = probe(&node, ProbeArgs::new(&tx)).await;
    let trapper = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    let sender = probe(&node, ProbeArgs::new(&tx)).await;
    sender
        .cast(Cmd::Exit(plain.pid(), ExitReason::Normal))
        .await
        .expect("alive");
    sender
        .cast(Cmd::Exit(trapper.pid(), ExitReason::Normal))
        .await
        .expect("alive");
    sync(&sender).await;
    sync(&plain).await;
    assert!(plain.is_alive());
    loop {
        if let Event::Signal(pid, signal) = next_non_start(&mut rx).await {
            assert_eq!(pid, trapper.pid());
            assert_eq!(
                signal,
                Signal::Exit {
                    from: sender.pid(),
                    reason: ExitReason::Normal
                }
            );
            break;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn normal_exit_signal_to_self_ends_the_process() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(p.pid());
    p.cast(Cmd::Exit(p.pid(), ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(watch.await, ExitReason::Normal);
}

#[tokio::test(start_paused = true)]
async fn shutdown_signal_ends_a_plain_process_without_terminate() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(p.pid());
    node.exit(p.pid(), ExitReason::Shutdown);
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(next(&mut rx).await, Event::Started(p.pid()));
    assert!(rx.try_recv().is_err(), "terminate must not run");
}

#[tokio::test(start_paused = true)]
async fn trapping_process_can_choose_to_stop_and_terminate_runs() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx).trapping()).await;
    let watch = node.monitor(p.pid());
    node.exit(p.pid(), ExitReason::Shutdown);
    assert_eq!(
        next_non_start(&mut rx).await,
        Event::Signal(
            p.pid(),
            Signal::Exit {
                from: node.pid(),
                reason: ExitReason::Shutdown
            }
        )
    );
    p.cast(Cmd::Stop(ExitReason::Shutdown))
        .await
        .expect("alive");
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(
        next(&mut rx).await,
        Event::Terminated(p.pid(), ExitReason::Shutdown)
    );
}
