//! A node that shuts down leaves its cluster: its peers see it go at once
//! (not by its silence, seconds later) and as having left, its links fire
//! there with the real reason, and its endpoint is free for a node started
//! again under the same name.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{ExitReason, Lost, NodeEvent, Signal, SpawnOpts};
use support::*;

/// Well within the heartbeat's allowance for silence (4 s): only the
/// closed connection can explain a peer seen down this soon.
const SOON: Duration = Duration::from_millis(500);

#[tokio::test(start_paused = true)]
async fn a_node_that_shuts_down_is_seen_gone_at_once_and_its_endpoint_is_free() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    b.connect(&local("a")).await.expect("connects");
    let mut nodes = b.monitor_nodes().expect("joined");
    // A process on b linked to one on a, trapping exits.
    let (tx, mut rx) = events();
    let on_a = a
        .start::<Probe>(ProbeArgs::new(&tx), SpawnOpts::new())
        .await
        .expect("starts");
    a.export(&on_a);
    let on_b = b
        .start::<Probe>(ProbeArgs::new(&tx).trapping(), SpawnOpts::new())
        .await
        .expect("starts");
    on_b.cast(Cmd::Link(on_a.pid())).await.expect("alive");
    sync(&on_b).await;

    a.shutdown(Duration::from_secs(1)).await;
    let down = tokio::time::timeout(SOON, nodes.next()).await;
    assert!(
        matches!(down, Ok(Some(NodeEvent::Down(name, Lost::PeerLeft))) if name == a.name()),
        "{down:?}"
    );
    // The link fired with the process's own end, not NoConnection.
    loop {
        let event = tokio::time::timeout(SOON, rx.recv())
            .await
            .expect("the exit arrives")
            .expect("the probe lives");
        if let Event::Signal(pid, Signal::Exit { from, reason }) = event {
            assert_eq!((pid, from), (on_b.pid(), on_a.pid()));
            assert_eq!(reason, ExitReason::Shutdown);
            break;
        }
    }
    assert!(b.nodes().is_empty());

    // Started again under the same name, at the same endpoint.
    let again = member(&net, "a").await;
    assert_eq!(b.connect(&local("a")).await, Ok(again.name()));
}
