//! Links, monitors and exit signals across nodes, and what losing a node
//! does to them: `NoConnection`.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{ExitReason, Node, Signal, SpawnOpts};
use support::*;

/// Two connected nodes; b runs an exported `flush` process.
async fn two(net: &LocalNetwork) -> (Node, Node) {
    let a = member(net, "a").await;
    let b = member(net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let flush = b
        .start::<Flush>((), SpawnOpts::new().name("flush"))
        .await
        .expect("starts");
    b.export(&flush);
    (a, b)
}

/// Completes the waiter registered for each marker it receives (a reply
/// channel cannot cross nodes, so waiters are kept process-wide).
struct Flush;

static FLUSHED: std::sync::Mutex<Vec<(u64, tokio::sync::oneshot::Sender<()>)>> =
    std::sync::Mutex::new(Vec::new());

#[beamish_core::async_trait]
impl beamish_core::Process for Flush {
    type Args = ();
    type Msg = u64;

    async fn init(_ctx: &mut beamish_core::Context<u64>, _: ()) -> Result<Self, ExitReason> {
        Ok(Flush)
    }

    async fn handle(
        &mut self,
        _ctx: &mut beamish_core::Context<u64>,
        marker: u64,
    ) -> Result<(), ExitReason> {
        let mut waiting = FLUSHED.lock().expect("not poisoned");
        if let Some(at) = waiting.iter().position(|(m, _)| *m == marker) {
            let (_, done) = waiting.swap_remove(at);
            let _ = done.send(());
        }
        Ok(())
    }
}

/// Returns once b has handled everything a sent it before: signals and
/// messages share one ordered connection, handled one at a time.
async fn flush(a: &Node) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let marker = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (done, flushed) = tokio::sync::oneshot::channel();
    FLUSHED.lock().expect("not poisoned").push((marker, done));
    let b = beamish_core::NodeName::new("b@localhost").expect("valid");
    a.send_remote_named(b, "flush", &marker).expect("connected");
    tokio::time::timeout(Duration::from_secs(30), flushed)
        .await
        .expect("flushed in time")
        .expect("flushed");
}

/// Starts a probe, exported: other nodes reach only exported processes.
async fn start(node: &Node, args: ProbeArgs) -> beamish_core::Handle<Cmd> {
    let probe = node
        .start::<Probe>(args, SpawnOpts::new())
        .await
        .expect("starts");
    node.export(&probe);
    probe
}

/// Waits for the next signal event, skipping the others.
async fn next_signal(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
) -> (beamish_core::Pid, Signal) {
    loop {
        if let Event::Signal(pid, signal) = next(rx).await {
            return (pid, signal);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_remote_monitor_sees_the_exit_reason() {
    let net = LocalNetwork::new();
    let (a, b) = two(&net).await;
    let (tx, mut rx) = events();
    let watcher = start(&a, ProbeArgs::new(&tx)).await;
    let target = start(&b, ProbeArgs::new(&tx)).await;
    let mref = watcher
        .call(|r| Cmd::Monitor(target.pid(), r), CALL)
        .await
        .expect("monitors");
    flush(&a).await;
    let b_watch = b.monitor(target.pid());
    target
        .cast(Cmd::Fail(ExitReason::error("remote failure")))
        .await
        .expect("alive");
    assert_eq!(b_watch.await, ExitReason::error("remote failure"));
    assert_eq!(
        next_signal(&mut rx).await,
        (
            watcher.pid(),
            Signal::Down {
                monitor: mref,
                pid: target.pid(),
                reason: ExitReason::error("remote failure")
            }
        )
    );
}

#[tokio::test(start_paused = true)]
async fn monitoring_a_dead_remote_process_is_noproc() {
    let net = LocalNetwork::new();
    let (a, b) = two(&net).await;
    let (tx, mut rx) = events();
    let target = start(&b, ProbeArgs::new(&tx)).await;
    target
        .cast(Cmd::Stop(ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(b.monitor(target.pid()).await, ExitReason::Normal);
    let watcher = start(&a, ProbeArgs::new(&tx)).await;
    let mref = watcher
        .call(|r| Cmd::Monitor(target.pid(), r), CALL)
        .await
        .expect("monitors");
    assert_eq!(
        next_signal(&mut rx).await,
        (
            watcher.pid(),
            Signal::Down {
                monitor: mref,
                pid: target.pid(),
                reason: ExitReason::NoProc
            }
        )
    );
}

#[tokio::test(start_paused = true)]
async fn links_work_across_nodes_both_ways() {
    let net = LocalNetwork::new();
    let (a, b) = two(&net).await;
    let (tx, mut rx) = events();
    let trapper = start(&a, ProbeArgs::new(&tx).trapping()).await;
    let remote = start(&b, ProbeArgs::new(&tx)).await;
    trapper.cast(Cmd::Link(remote.pid())).await.expect("alive");
    sync(&trapper).await;
    flush(&a).await;
    assert_eq!(
        b.process_info(remote.pid()).expect("alive").links,
        vec![trapper.pid()]
    );
    remote
        .cast(Cmd::Fail(ExitReason::error("b side")))
        .await
        .expect("alive");
    assert_eq!(
        next_signal(&mut rx).await,
        (
            trapper.pid(),
            Signal::Exit {
                from: remote.pid(),
                reason: ExitReason::error("b side")
            }
        )
    );
    // And from a to b: a local crash ends a linked remote process.
    let victim = start(&b, ProbeArgs::new(&tx)).await;
    let crasher = start(&a, ProbeArgs::new(&tx)).await;
    crasher.cast(Cmd::Link(victim.pid())).await.expect("alive");
    sync(&crasher).await;
    flush(&a).await;
    let victim_watch = b.monitor(victim.pid());
    crasher
        .cast(Cmd::Fail(ExitReason::error("a side")))
        .await
        .expect("alive");
    assert_eq!(victim_watch.await, ExitReason::error("a side"));
}

#[tokio::test(start_paused = true)]
async fn exit_and_kill_reach_remote_processes() {
    let net = LocalNetwork::new();
    let (a, b) = two(&net).await;
    let (tx, _rx) = events();
    let sender = start(&a, ProbeArgs::new(&tx)).await;
    let target = start(&b, ProbeArgs::new(&tx).trapping()).await;
    let watch = b.monitor(target.pid());
    sender
        .cast(Cmd::Exit(target.pid(), ExitReason::Kill))
        .await
        .expect("alive");
    assert_eq!(watch.await, ExitReason::Killed);
}

#[tokio::test(start_paused = true)]
async fn losing_the_node_fires_noconnection() {
    let net = LocalNetwork::new();
    let (a, b) = two(&net).await;
    let (tx, mut rx) = events();
    let watcher = start(&a, ProbeArgs::new(&tx).trapping()).await;
    let remote = start(&b, ProbeArgs::new(&tx)).await;
    let mref = watcher
        .call(|r| Cmd::Monitor(remote.pid(), r), CALL)
        .await
        .expect("monitors");
    watcher.cast(Cmd::Link(remote.pid())).await.expect("alive");
    sync(&watcher).await;
    flush(&a).await;
    assert_eq!(
        b.process_info(remote.pid()).expect("alive").monitored_by,
        vec![watcher.pid()]
    );
    // The remote process does not trap exits: the lost link ends it too.
    let remote_end = b.monitor(remote.pid());
    net.drop_connections("a", "b");
    let mut got = vec![next_signal(&mut rx).await, next_signal(&mut rx).await];
    got.sort_by_key(|(_, s)| matches!(s, Signal::Down { .. }));
    assert_eq!(
        got,
        vec![
            (
                watcher.pid(),
                Signal::Exit {
                    from: remote.pid(),
                    reason: ExitReason::NoConnection
                }
            ),
            (
                watcher.pid(),
                Signal::Down {
                    monitor: mref,
                    pid: remote.pid(),
                    reason: ExitReason::NoConnection
                }
            ),
        ]
    );
    assert_eq!(remote_end.await, ExitReason::NoConnection);
    // Without a connection, new links and monitors fire at once.
    let mref2 = watcher
        .call(|r| Cmd::Monitor(remote.pid(), r), CALL)
        .await
        .expect("monitors");
    assert_eq!(
        next_signal(&mut rx).await.1,
        Signal::Down {
            monitor: mref2,
            pid: remote.pid(),
            reason: ExitReason::NoConnection
        }
    );
}
