//! A peer repeating what the node warns about (here, messages of the wrong
//! type) makes a line or two, not one per message: warnings of one kind
//! from one source come at most once every 10 s, with a count of what was
//! held back.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{async_trait, Context, ExitReason, Process, SpawnOpts};
use support::logs::capture;
use support::{local, member};
use tokio::sync::mpsc;

/// Reports every number it gets.
struct Numbers(mpsc::UnboundedSender<u64>);

#[async_trait]
impl Process for Numbers {
    type Args = mpsc::UnboundedSender<u64>;
    type Msg = u64;

    async fn init(_: &mut Context<u64>, seen: Self::Args) -> Result<Self, ExitReason> {
        Ok(Numbers(seen))
    }

    async fn handle(&mut self, _: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
        let _ = self.0.send(n);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_wrong_type_messages_makes_one_warning_with_a_count() {
    let (captured, _default) = capture();

    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let (tx, mut seen) = mpsc::unbounded_channel();
    let numbers = b
        .start::<Numbers>(tx, SpawnOpts::new())
        .await
        .expect("starts");
    b.export(&numbers);

    let flood = |count: u64| {
        let a = a.clone();
        let to = numbers.pid();
        async move {
            for _ in 0..count {
                a.cast_remote(to, &"not a number".to_owned())
                    .await
                    .expect("connected");
            }
            // Handled after the flood, on the same connection.
            a.cast_remote(to, &7_u64).await.expect("connected");
        }
    };
    flood(1).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), seen.recv()).await,
        Ok(Some(7))
    );
    assert_eq!(
        captured.warnings("rejected").len(),
        1,
        "one wrong message, one line"
    );

    flood(5_000).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), seen.recv()).await,
        Ok(Some(7))
    );
    assert_eq!(
        captured.warnings("rejected").len(),
        1,
        "{:?}",
        captured.warnings("rejected")
    );
    assert!(
        seen.try_recv().is_err(),
        "nothing of the flood was delivered"
    );

    tokio::time::advance(Duration::from_secs(10)).await;
    flood(1).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), seen.recv()).await,
        Ok(Some(7))
    );
    let warnings = captured.warnings("rejected");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[1].contains("held_back=5000"), "{}", warnings[1]);
    assert_eq!(b.stats().dead_letters, 5_002);
}
