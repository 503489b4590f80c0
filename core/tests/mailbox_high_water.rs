//! A mailbox flooded faster than it drains is not silent: past its
//! high-water mark the node warns, naming the process, at most once every
//! 10 s, and `Node::stats` shows the largest mailboxes.

mod support;

use std::time::Duration;

use beamish_core::{async_trait, Context, ExitReason, Node, Process, SpawnOpts};
use support::logs::capture;
use tokio::sync::{mpsc, oneshot};

enum Job {
    /// Wait for the gate before going on.
    Gate(oneshot::Receiver<()>),
    /// Report the number.
    Work(u64),
}

/// Handles jobs one at a time; reports each finished one.
struct Slow(mpsc::UnboundedSender<u64>);

#[async_trait]
impl Process for Slow {
    type Args = mpsc::UnboundedSender<u64>;
    type Msg = Job;

    async fn init(_: &mut Context<Job>, done: Self::Args) -> Result<Self, ExitReason> {
        Ok(Slow(done))
    }

    async fn handle(&mut self, _: &mut Context<Job>, job: Job) -> Result<(), ExitReason> {
        match job {
            Job::Gate(open) => {
                let _ = open.await;
            }
            Job::Work(n) => {
                let _ = self.0.send(n);
            }
        }
        Ok(())
    }
}

/// Queues `count` jobs behind a closed gate, opens it once `check` has
/// looked, and waits until all are done.
async fn flood(
    slow: &beamish_core::Handle<Job>,
    done: &mut mpsc::UnboundedReceiver<u64>,
    count: u64,
    check: impl FnOnce(),
) {
    let (open, gate) = oneshot::channel();
    slow.cast(Job::Gate(gate)).await.expect("alive");
    for n in 0..count {
        slow.cast(Job::Work(n)).await.expect("alive");
    }
    check();
    let _ = open.send(());
    for _ in 0..count {
        done.recv().await.expect("alive");
    }
}

#[tokio::test(start_paused = true)]
async fn a_mailbox_past_its_high_water_mark_warns_once_a_period_and_shows_in_stats() {
    let (captured, _default) = capture();

    let node = Node::new().expect("runtime");
    let (tx, mut done) = mpsc::unbounded_channel();
    let slow = node
        .start::<Slow>(tx, SpawnOpts::new().name("slow").mailbox_high_water(100))
        .await
        .expect("starts");
    let (idle_tx, _idle_done) = mpsc::unbounded_channel();
    let idle = node.spawn::<Slow>(idle_tx).expect("spawns");

    // Below the mark: nothing said.
    flood(&slow, &mut done, 50, || {}).await;
    assert!(
        captured.warnings("").is_empty(),
        "{:?}",
        captured.warnings("")
    );

    // Above it: one warning, naming the process; the stats show it.
    flood(&slow, &mut done, 150, || {
        let largest = node.stats().largest_mailboxes;
        assert_eq!(largest.first().map(|(pid, _)| *pid), Some(slow.pid()));
        assert!(largest.iter().all(|(pid, _)| *pid != idle.pid()));
    })
    .await;
    let warnings = captured.warnings("");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&slow.pid().to_string()),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("slow"), "{}", warnings[0]);

    // Again at once: held back. After the period: said again, with a count.
    flood(&slow, &mut done, 150, || {}).await;
    assert_eq!(captured.warnings("").len(), 1);
    tokio::time::advance(Duration::from_secs(10)).await;
    flood(&slow, &mut done, 150, || {}).await;
    let warnings = captured.warnings("");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[1].contains("held_back=1"), "{}", warnings[1]);
    assert!(node.stats().largest_mailboxes.is_empty());
}
