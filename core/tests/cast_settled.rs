//! A message cast with `cast_settled` says how it was finished with:
//! handled once its handler returned, failed when the handler panicked,
//! and nothing at all (its callback dropped, uncalled) when the process
//! ended before it got to the message.

use std::sync::Arc;

use beamish_core::{async_trait, Context, ExitReason, Node, Process, Settled};
use tokio::sync::{mpsc, Semaphore};

/// Panics on 13; waits for a permit before each other message.
struct Gated {
    gate: Arc<Semaphore>,
}

#[async_trait]
impl Process for Gated {
    type Args = Arc<Semaphore>;
    type Msg = u64;

    async fn init(_: &mut Context<u64>, gate: Self::Args) -> Result<Self, ExitReason> {
        Ok(Self { gate })
    }

    async fn handle(&mut self, _: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
        assert_ne!(n, 13, "unlucky");
        self.gate
            .acquire()
            .await
            .map_err(|_| ExitReason::Shutdown)?
            .forget();
        Ok(())
    }
}

/// What a callback was told, or that it was dropped uncalled.
#[derive(Debug, PartialEq, Eq)]
enum Told {
    Settled(u64, Settled),
    Dropped(u64),
}

/// A callback's state: reports its fate once.
struct Report {
    n: u64,
    told: mpsc::UnboundedSender<Told>,
    done: bool,
}

impl Drop for Report {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.told.send(Told::Dropped(self.n));
        }
    }
}

fn callback(n: u64, told: &mpsc::UnboundedSender<Told>) -> impl FnOnce(Settled) + Send + 'static {
    let mut report = Report {
        n,
        told: told.clone(),
        done: false,
    };
    move |settled| {
        report.done = true;
        let _ = report.told.send(Told::Settled(report.n, settled));
    }
}

#[tokio::test]
async fn handled_failed_or_dropped_with_the_process() {
    let node = Node::new().expect("a node");
    let gate = Arc::new(Semaphore::new(0));
    let worker = node.spawn::<Gated>(Arc::clone(&gate)).expect("spawns");
    let (told, mut heard) = mpsc::unbounded_channel();
    for n in [1, 2] {
        worker
            .cast_settled(n, callback(n, &told))
            .await
            .expect("queued");
    }
    assert!(heard.try_recv().is_err(), "nothing is finished yet");
    gate.add_permits(1);
    assert_eq!(heard.recv().await, Some(Told::Settled(1, Settled::Handled)));
    gate.add_permits(1);
    assert_eq!(heard.recv().await, Some(Told::Settled(2, Settled::Handled)));

    // 13 panics: failed. 14, queued behind it, is never handled: its
    // callback goes with the process, uncalled.
    let ends = node.monitor(worker.pid());
    worker
        .cast_settled(13, callback(13, &told))
        .await
        .expect("queued");
    worker
        .cast_settled(14, callback(14, &told))
        .await
        .expect("queued");
    assert!(matches!(ends.await, ExitReason::Panic(_)));
    assert_eq!(heard.recv().await, Some(Told::Settled(13, Settled::Failed)));
    assert_eq!(heard.recv().await, Some(Told::Dropped(14)));

    // To a process that has ended: an error, the callback dropped.
    assert!(worker.cast_settled(15, callback(15, &told)).await.is_err());
    assert_eq!(heard.recv().await, Some(Told::Dropped(15)));
    let _ = node.take_unobserved_failures();
}
