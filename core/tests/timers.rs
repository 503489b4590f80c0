//! Timers: `send_after` and `start_timer` fire on time and cancel cleanly;
//! the idle timeout fires only after silence.

mod support;

use std::time::Duration;

use beamish_core::{async_trait, Context, ExitReason, Process, Signal, SpawnOpts, TimerRef};
use support::*;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn send_after_delivers_after_the_delay() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let start = Instant::now();
    let timer = p.send_after(Cmd::Num(1), Duration::from_secs(3));
    assert_eq!(next_non_start(&mut rx).await, Event::Got(p.pid(), 1));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(timer.has_fired());
    assert!(!timer.cancel(), "a fired timer cannot be cancelled");
}

#[tokio::test(start_paused = true)]
async fn cancelled_timer_never_delivers() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let timer = p.send_after(Cmd::Num(1), Duration::from_secs(3));
    let marker = p.send_after(Cmd::Num(2), Duration::from_secs(5));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(timer.cancel());
    assert!(!timer.cancel(), "cancelling twice reports false");
    // The marker comes, with nothing before it.
    assert_eq!(next_non_start(&mut rx).await, Event::Got(p.pid(), 2));
    assert!(marker.has_fired());
    assert!(!timer.has_fired());
}

/// Starts a timer in `init` and reports the ids it starts and receives.
struct Ticker {
    expected: Option<beamish_core::TimerId>,
    events: tokio::sync::mpsc::UnboundedSender<(beamish_core::TimerId, bool)>,
    cancelled: Option<TimerRef>,
}

#[async_trait]
impl Process for Ticker {
    type Args = tokio::sync::mpsc::UnboundedSender<(beamish_core::TimerId, bool)>;
    type Msg = ();

    async fn init(ctx: &mut Context<()>, events: Self::Args) -> Result<Self, ExitReason> {
        let kept = ctx.start_timer(Duration::from_millis(500));
        let cancelled = ctx.start_timer(Duration::from_millis(100));
        assert!(cancelled.cancel());
        Ok(Ticker {
            expected: Some(kept.id()),
            events,
            cancelled: Some(cancelled),
        })
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut Context<()>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        if let Signal::Timer(id) = signal {
            let was_cancelled = self.cancelled.as_ref().map(TimerRef::id) == Some(id);
            let _ = self
                .events
                .send((id, !was_cancelled && Some(id) == self.expected));
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn start_timer_delivers_its_id() {
    let node = TestNode::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let _ticker = node.spawn::<Ticker>(tx).expect("spawns");
    let (_, expected) = rx.recv().await.expect("a timer fires");
    assert!(expected, "only the kept timer fires, with its own id");
    assert_eq!(start.elapsed(), Duration::from_millis(500));
}

/// Counts idle timeouts.
struct Sleepy {
    events: tokio::sync::mpsc::UnboundedSender<Instant>,
}

#[async_trait]
impl Process for Sleepy {
    type Args = tokio::sync::mpsc::UnboundedSender<Instant>;
    type Msg = ();

    async fn init(_ctx: &mut Context<()>, events: Self::Args) -> Result<Self, ExitReason> {
        Ok(Sleepy { events })
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<()>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        if signal == Signal::IdleTimeout {
            let _ = self.events.send(Instant::now());
            // One report is enough.
            ctx.set_idle_timeout(None);
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_fires_only_after_silence() {
    let node = TestNode::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let p = node
        .spawn_opt::<Sleepy>(tx, SpawnOpts::new().idle_timeout(Duration::from_secs(10)))
        .expect("spawns");
    // Keep it busy for 30 s with a message every 5 s: no timeout.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        p.cast(()).await.expect("alive");
        assert!(rx.try_recv().is_err(), "idle timeout while busy");
    }
    let fired = rx.recv().await.expect("fires after silence");
    assert_eq!(fired - start, Duration::from_secs(40));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(rx.try_recv().is_err(), "turned off after the first");
}
