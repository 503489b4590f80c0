//! Monitors: `Down` for normal, abnormal and already-dead targets;
//! demonitor flushes; introspection lists monitors and forgets them.

mod support;

use beamish_core::{ExitReason, Signal};
use support::*;

async fn down_for(reason: ExitReason, end: impl FnOnce(&mut Vec<Cmd>)) {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let watcher = probe(&node, ProbeArgs::new(&tx)).await;
    let target = probe(&node, ProbeArgs::new(&tx)).await;
    let mref = watcher
        .call(|r| Cmd::Monitor(target.pid(), r), CALL)
        .await
        .expect("monitors");
    let mut cmds = Vec::new();
    end(&mut cmds);
    for cmd in cmds {
        target.cast(cmd).await.expect("alive");
    }
    loop {
        match next_non_start(&mut rx).await {
            Event::Terminated(pid, _) => assert_eq!(pid, target.pid()),
            Event::Signal(pid, signal) => {
                assert_eq!(pid, watcher.pid());
                assert_eq!(
                    signal,
                    Signal::Down {
                        monitor: mref,
                        pid: target.pid(),
                        reason
                    }
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A monitor is one-way: the watcher lives on.
    sync(&watcher).await;
}

#[tokio::test(start_paused = true)]
async fn down_on_normal_exit() {
    down_for(ExitReason::Normal, |c| {
        c.push(Cmd::Stop(ExitReason::Normal))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn down_on_error() {
    down_for(ExitReason::error("bad"), |c| {
        c.push(Cmd::Fail(ExitReason::error("bad")))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn down_on_panic() {
    down_for(ExitReason::Panic("oops".into()), |c| {
        c.push(Cmd::Panic("oops".into()))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn monitoring_a_dead_process_fires_noproc_at_once() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let dead = probe(&node, ProbeArgs::new(&tx)).await;
    dead.cast(Cmd::Stop(ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, dead.pid()).await, ExitReason::Normal);
    let watcher = probe(&node, ProbeArgs::new(&tx)).await;
    let mref = watcher
        .call(|r| Cmd::Monitor(dead.pid(), r), CALL)
        .await
        .expect("monitors");
    loop {
        match next_non_start(&mut rx).await {
            Event::Terminated(..) => continue,
            event => {
                assert_eq!(
                    event,
                    Event::Signal(
                        watcher.pid(),
                        Signal::Down {
                            monitor: mref,
                            pid: dead.pid(),
                            reason: ExitReason::NoProc
                        }
                    )
                );
                break;
            }
        }
    }
    assert_eq!(node.monitor(dead.pid()).await, ExitReason::NoProc);
}

#[tokio::test(start_paused = true)]
async fn demonitor_discards_a_queued_down() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let watcher = probe(&node, ProbeArgs::new(&tx)).await;
    let target = probe(&node, ProbeArgs::new(&tx)).await;
    let mref = watcher
        .call(|r| Cmd::Monitor(target.pid(), r), CALL)
        .await
        .expect("monitors");
    // The watcher is busy in a handler when the target ends, so the Down
    // waits in its mailbox; the same handler then removes the monitor.
    let (release, blocked) = tokio::sync::oneshot::channel();
    let demonitored = tokio::spawn({
        let watcher = watcher.clone();
        async move {
            watcher
                .call(|r| Cmd::BlockThenDemonitor(blocked, mref, r), CALL)
                .await
        }
    });
    assert_eq!(next_non_start(&mut rx).await, Event::Blocked(watcher.pid()));
    target
        .cast(Cmd::Stop(ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, target.pid()).await, ExitReason::Normal);
    assert_eq!(
        node.process_info(watcher.pid()).expect("alive").mailbox_len,
        1
    );
    release.send(()).expect("watcher waits");
    assert_eq!(demonitored.await.expect("joins"), Ok(true));
    sync(&watcher).await;
    while let Ok(event) = rx.try_recv() {
        assert!(
            !matches!(event, Event::Signal(_, Signal::Down { .. })),
            "a flushed Down was delivered: {event:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn demonitor_before_exit_means_no_down() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let watcher = probe(&node, ProbeArgs::new(&tx)).await;
    let target = probe(&node, ProbeArgs::new(&tx)).await;
    let mref = watcher
        .call(|r| Cmd::Monitor(target.pid(), r), CALL)
        .await
        .expect("monitors");
    assert_eq!(
        node.process_info(target.pid()).expect("alive").monitored_by,
        vec![watcher.pid()]
    );
    assert_eq!(
        watcher.call(|r| Cmd::Demonitor(mref, r), CALL).await,
        Ok(true)
    );
    assert!(node
        .process_info(target.pid())
        .expect("alive")
        .monitored_by
        .is_empty());
    target
        .cast(Cmd::Stop(ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, target.pid()).await, ExitReason::Normal);
    sync(&watcher).await;
    while let Ok(event) = rx.try_recv() {
        assert!(
            !matches!(event, Event::Signal(_, Signal::Down { .. })),
            "{event:?}"
        );
    }
    assert_eq!(
        watcher.call(|r| Cmd::Demonitor(mref, r), CALL).await,
        Ok(false)
    );
}

#[tokio::test(start_paused = true)]
async fn spawn_monitor_reports_the_child() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let parent = probe(&node, ProbeArgs::new(&tx)).await;
    let (child, mref) = parent.call(Cmd::SpawnMonitor, CALL).await.expect("spawns");
    let info = node.process_info(parent.pid()).expect("alive");
    assert_eq!(info.monitors, vec![child.pid()]);
    assert!(info.links.is_empty());
    child
        .cast(Cmd::Fail(ExitReason::Shutdown))
        .await
        .expect("alive");
    loop {
        if let Event::Signal(pid, signal) = next_non_start(&mut rx).await {
            assert_eq!(pid, parent.pid());
            assert_eq!(
                signal,
                Signal::Down {
                    monitor: mref,
                    pid: child.pid(),
                    reason: ExitReason::Shutdown
                }
            );
            break;
        }
    }
    sync(&parent).await;
    assert!(node
        .process_info(parent.pid())
        .expect("alive")
        .monitors
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_exiting_watcher_leaves_no_monitor_behind() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let watcher = probe(&node, ProbeArgs::new(&tx)).await;
    let target = probe(&node, ProbeArgs::new(&tx)).await;
    watcher
        .call(|r| Cmd::Monitor(target.pid(), r), CALL)
        .await
        .expect("monitors");
    watcher
        .cast(Cmd::Stop(ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(exit_of(&node, watcher.pid()).await, ExitReason::Normal);
    assert!(node
        .process_info(target.pid())
        .expect("alive")
        .monitored_by
        .is_empty());
}
