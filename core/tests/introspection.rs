//! Introspection: what `processes`, `process_info` and `stats` say about
//! live processes, and crashes nobody watched.

mod support;

use std::time::SystemTime;

use beamish_core::{ExitReason, SpawnOpts, Status};
use support::*;

#[tokio::test(start_paused = true)]
async fn process_info_describes_a_process() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let before = SystemTime::now();
    let parent = node
        .start::<Probe>(
            ProbeArgs::new(&tx).trapping(),
            SpawnOpts::new().name("parent"),
        )
        .await
        .expect("starts");
    let child = parent.call(Cmd::SpawnLink, CALL).await.expect("spawns");
    let watcher = probe(&node, ProbeArgs::new(&tx)).await;
    watcher
        .call(|r| Cmd::Monitor(child.pid(), r), CALL)
        .await
        .expect("monitors");
    sync(&child).await;

    let info = node.process_info(parent.pid()).expect("alive");
    assert_eq!(info.name.as_deref(), Some("parent"));
    assert_eq!(info.status, Status::Waiting);
    assert_eq!(info.links, vec![child.pid()]);
    assert!(info.trap_exit);
    assert_eq!(info.parent, None);
    assert_eq!(info.messages_handled, 1);
    assert!(info.started_at >= before);
    assert!(info.message_type.ends_with("Cmd"), "{}", info.message_type);
    assert!(
        info.process_type.ends_with("Probe"),
        "{}",
        info.process_type
    );

    let info = node.process_info(child.pid()).expect("alive");
    assert_eq!(info.parent, Some(parent.pid()));
    assert_eq!(info.monitored_by, vec![watcher.pid()]);
    assert!(!info.trap_exit);
    assert_eq!(
        node.process_info(watcher.pid()).expect("alive").monitors,
        vec![child.pid()]
    );

    // Busy in a handler, with messages waiting behind it.
    let (release, blocked) = tokio::sync::oneshot::channel();
    child.cast(Cmd::Block(blocked)).await.expect("alive");
    loop {
        if next(&mut rx).await == Event::Blocked(child.pid()) {
            break;
        }
    }
    for n in 0..3 {
        child.cast(Cmd::Num(n)).await.expect("alive");
    }
    let info = node.process_info(child.pid()).expect("alive");
    assert_eq!(info.status, Status::Running);
    assert_eq!(info.mailbox_len, 3);
    release.send(()).expect("blocked");
    sync(&child).await;
    let info = node.process_info(child.pid()).expect("alive");
    assert_eq!(info.mailbox_len, 0);
    // Two syncs, the block and three numbers.
    assert_eq!(info.messages_handled, 6);

    let all: Vec<_> = node.processes().into_iter().map(|p| p.pid).collect();
    assert_eq!(all, vec![parent.pid(), child.pid(), watcher.pid()]);
}

#[tokio::test(start_paused = true)]
async fn stats_count_spawns_exits_and_dead_letters() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let q = probe(&node, ProbeArgs::new(&tx)).await;
    q.cast(Cmd::Stop(ExitReason::Normal)).await.expect("alive");
    assert_eq!(exit_of(&node, q.pid()).await, ExitReason::Normal);
    assert!(q.cast(Cmd::Num(1)).await.is_err());
    let stats = node.stats();
    assert_eq!(stats.processes, 1);
    assert_eq!(stats.spawned, 2);
    assert_eq!(stats.exited, 1);
    assert_eq!(stats.dead_letters, 1);
    assert_eq!(stats.unobserved_failures, 0);
    assert!(node.process_info(q.pid()).is_none());
    assert!(node.is_alive(p.pid()));
}

#[tokio::test(start_paused = true)]
async fn a_crash_nobody_watched_is_kept() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = node
        .start::<Probe>(ProbeArgs::new(&tx), SpawnOpts::new().name("lonely"))
        .await
        .expect("starts");
    p.cast(Cmd::Panic("nobody saw".into()))
        .await
        .expect("alive");
    // Wait for it to end without watching it: on this single-threaded
    // runtime the crashed process runs (and ends) before a process spawned
    // after the crash answers a call.
    let q = probe(&node, ProbeArgs::new(&tx)).await;
    sync(&q).await;
    assert!(!node.is_alive(p.pid()));
    assert_eq!(node.stats().unobserved_failures, 1);
    let failures = node.take_unobserved_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].pid, p.pid());
    assert_eq!(failures[0].name.as_deref(), Some("lonely"));
    assert_eq!(failures[0].reason, ExitReason::Panic("nobody saw".into()));
    assert!(node.take_unobserved_failures().is_empty());
}
