//! Shared pieces of the beamish benches: runtimes, small processes, and a
//! memory reading.
//!
//! # Examples
//!
//! ```
//! let rt = beamish_benches::runtime(beamish_benches::Flavor::MultiThread);
//! let answer = rt.block_on(async { 41 + 1 });
//! assert_eq!(answer, 42);
//! ```

pub mod raw;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use beamish::{async_trait, Context, ExitReason, Node, Pid, Process, ReplyTo};
use tokio::sync::{oneshot, Notify};

/// Which tokio runtime a bench runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Multi-threaded, with exactly 2 workers (the machine has 2 cores).
    MultiThread,
    /// One thread.
    CurrentThread,
}

impl Flavor {
    /// A short label for bench ids.
    pub fn label(self) -> &'static str {
        match self {
            Self::MultiThread => "mt2",
            Self::CurrentThread => "ct",
        }
    }
}

/// Builds a runtime of the given flavor with timers enabled.
///
/// # Panics
///
/// If the runtime cannot be built (out of threads or file descriptors).
pub fn runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    let mut builder = match flavor {
        Flavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build().expect("a tokio runtime")
}

/// The resident set size of this process, in bytes (Linux), or 0 where it
/// cannot be read.
pub fn rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Answers every `Ping` with `1`: the callee of the call bench.
#[derive(Debug)]
pub struct Echo;

/// The message of [`Echo`].
#[derive(Debug)]
pub enum EchoMsg {
    /// Reply with 1.
    Ping(ReplyTo<u64>),
}

#[async_trait]
impl Process for Echo {
    type Args = ();
    type Msg = EchoMsg;

    async fn init(_ctx: &mut Context<EchoMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Echo)
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<EchoMsg>,
        msg: EchoMsg,
    ) -> Result<(), ExitReason> {
        let EchoMsg::Ping(reply) = msg;
        reply.reply(1);
        Ok(())
    }
}

/// Counts `u64` messages and fires a oneshot when it has seen `target`.
#[derive(Debug)]
pub struct Counter {
    seen: u64,
    target: u64,
    done: Option<oneshot::Sender<()>>,
}

#[async_trait]
impl Process for Counter {
    type Args = (u64, oneshot::Sender<()>);
    type Msg = u64;

    async fn init(_ctx: &mut Context<u64>, (target, done): Self::Args) -> Result<Self, ExitReason> {
        Ok(Counter {
            seen: 0,
            target,
            done: Some(done),
        })
    }

    async fn handle(&mut self, _ctx: &mut Context<u64>, _msg: u64) -> Result<(), ExitReason> {
        self.seen += 1;
        if self.seen == self.target {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
        Ok(())
    }
}

/// A countdown shared by many processes: the last one to tick wakes the
/// waiter.
#[derive(Debug)]
pub struct Countdown {
    left: AtomicU64,
    zero: Notify,
}

impl Countdown {
    /// A countdown from `n`.
    pub fn new(n: u64) -> Arc<Self> {
        Arc::new(Self {
            left: AtomicU64::new(n),
            zero: Notify::new(),
        })
    }

    /// Counts one down; the last tick wakes [`wait`](Self::wait).
    pub fn tick(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.zero.notify_one();
        }
    }

    /// Waits until the count reaches zero.
    pub async fn wait(&self) {
        if self.left.load(Ordering::Acquire) == 0 {
            return;
        }
        self.zero.notified().await;
    }
}

/// Ticks a countdown once `init` has run, then idles: the spawn bench's
/// process.
#[derive(Debug)]
pub struct Idle;

#[async_trait]
impl Process for Idle {
    type Args = Arc<Countdown>;
    type Msg = ();

    async fn init(_ctx: &mut Context<()>, started: Arc<Countdown>) -> Result<Self, ExitReason> {
        started.tick();
        Ok(Idle)
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Ok(())
    }
}

/// Counts `expected` messages, then ticks a shared countdown: one of the
/// fan-out bench's receivers.
#[derive(Debug)]
pub struct Acker {
    left: u64,
    all_in: Arc<Countdown>,
}

#[async_trait]
impl Process for Acker {
    type Args = (u64, Arc<Countdown>);
    type Msg = u64;

    async fn init(_ctx: &mut Context<u64>, (left, all_in): Self::Args) -> Result<Self, ExitReason> {
        Ok(Acker { left, all_in })
    }

    async fn handle(&mut self, _ctx: &mut Context<u64>, _msg: u64) -> Result<(), ExitReason> {
        self.left -= 1;
        if self.left == 0 {
            self.all_in.tick();
        }
        Ok(())
    }
}

/// Ends every process in `pids` with `reason` and waits until all of them
/// have exited: the untimed clean-up between iterations, so that no
/// process's exit spills into the next timed region, and the `Kill` variant
/// of the spawn bench's stop.
pub async fn exit_all(node: &Node, pids: &[Pid], reason: ExitReason) {
    // Watch first, so that none ends unseen between the exit and the watch.
    let watches: Vec<_> = pids.iter().map(|&pid| node.monitor(pid)).collect();
    for &pid in pids {
        node.exit(pid, reason.clone());
    }
    for watch in watches {
        watch.await;
    }
}
