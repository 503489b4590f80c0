//! A receiver that does not keep up holds its connection's reading back
//! (the sender feels it), but is not taken for dead: heartbeats go on
//! while a delivery waits for room in a full mailbox.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{async_trait, Context, ExitReason, MailboxSize, Process, SpawnOpts};
use support::{local, member};
use tokio::sync::{mpsc, oneshot};

/// Holds up its first message until the gate opens; reports each one.
struct Gated {
    gate: Option<oneshot::Receiver<()>>,
    seen: mpsc::UnboundedSender<u64>,
}

#[async_trait]
impl Process for Gated {
    type Args = (oneshot::Receiver<()>, mpsc::UnboundedSender<u64>);
    type Msg = u64;

    async fn init(_: &mut Context<u64>, (gate, seen): Self::Args) -> Result<Self, ExitReason> {
        Ok(Self {
            gate: Some(gate),
            seen,
        })
    }

    async fn handle(&mut self, _: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
        if let Some(gate) = self.gate.take() {
            let _ = gate.await;
        }
        let _ = self.seen.send(n);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_held_back_by_a_full_mailbox_still_answers_heartbeats() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let (open, gate) = oneshot::channel();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let gated = b
        .start::<Gated>(
            (gate, seen_tx),
            SpawnOpts::new().mailbox(MailboxSize::Bounded(1)),
        )
        .await
        .expect("starts");
    b.export(&gated);
    // One in the handler, one in the mailbox, and b's reader waits for
    // room with the third.
    for n in 0..3_u64 {
        a.cast_remote(gated.pid(), &n).await.expect("connected");
    }
    // Far longer than the heartbeat allows a silent peer (4 s).
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(a.nodes(), vec![b.name()], "a took b for dead");
    assert_eq!(b.nodes(), vec![a.name()], "b took a for dead");
    let _ = open.send(());
    for n in 0..3_u64 {
        let got = tokio::time::timeout(Duration::from_secs(5), seen.recv()).await;
        assert_eq!(got, Ok(Some(n)));
    }
}
