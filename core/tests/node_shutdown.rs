//! Node shutdown: children before parents, youngest first; stragglers are
//! killed at the deadline; no new processes after; 100k processes stop.

mod support;

use std::sync::Arc;
use std::time::Duration;

use beamish_core::{
    async_trait, Context, ExitReason, Node, Pid, Process, Signal, SpawnError, SpawnOpts,
};
use record::Order;
use support::TestNode;

/// The order in which processes were asked to stop.
mod record {
    use std::sync::{Arc, Mutex};

    use beamish_core::Pid;

    #[derive(Clone, Default)]
    pub(crate) struct Order(pub(crate) Arc<Mutex<Vec<Pid>>>);

    impl Order {
        pub(crate) fn push(&self, pid: Pid) {
            self.0.lock().expect("not poisoned").push(pid);
        }
        pub(crate) fn take(&self) -> Vec<Pid> {
            std::mem::take(&mut *self.0.lock().expect("not poisoned"))
        }
    }
}

/// Traps exits; on `Shutdown` from the node it records itself and stops.
/// Spawns `children` linked children (each with `grandchildren` of their own).
struct Member {
    order: Order,
    stubborn: bool,
}

#[derive(Clone)]
struct MemberArgs {
    order: Order,
    children: usize,
    grandchildren: usize,
    stubborn: bool,
}

#[async_trait]
impl Process for Member {
    type Args = MemberArgs;
    type Msg = ();

    async fn init(ctx: &mut Context<()>, args: MemberArgs) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        for _ in 0..args.children {
            let child = MemberArgs {
                children: args.grandchildren,
                grandchildren: 0,
                ..args.clone()
            };
            ctx.start_link::<Member>(child, SpawnOpts::new()).await?;
        }
        Ok(Member {
            order: args.order,
            stubborn: args.stubborn,
        })
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<()>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        if let Signal::Exit { from, reason } = signal {
            if from == ctx.node().pid() {
                self.order.push(ctx.pid());
                if !self.stubborn {
                    return Err(reason);
                }
            }
        }
        Ok(())
    }
}

fn tree(order: &Order, children: usize, grandchildren: usize) -> MemberArgs {
    MemberArgs {
        order: order.clone(),
        children,
        grandchildren,
        stubborn: false,
    }
}

#[tokio::test(start_paused = true)]
async fn children_stop_before_parents_youngest_first() {
    let node = TestNode::new();
    let order = Order::default();
    let root = node
        .start::<Member>(tree(&order, 2, 2), SpawnOpts::new())
        .await
        .expect("starts");
    // Spawn order: root(1), a(2), a1(3), a2(4), b(5), b1(6), b2(7).
    let pids: Vec<Pid> = node.processes().iter().map(|p| p.pid).collect();
    assert_eq!(pids.len(), 7);
    assert_eq!(pids[0], root.pid());
    let report = node.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.stopped, report.killed), (7, 0));
    let asked = order.take();
    let expected: Vec<Pid> = pids.iter().rev().copied().collect();
    assert_eq!(asked, expected, "youngest first, children before parents");
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn processes_that_ignore_shutdown_are_killed_at_the_deadline() {
    let node = TestNode::new();
    let order = Order::default();
    let mut stubborn = tree(&order, 0, 0);
    stubborn.stubborn = true;
    let obedient = tree(&order, 0, 0);
    let s = node
        .start::<Member>(stubborn, SpawnOpts::new())
        .await
        .expect("starts");
    node.start::<Member>(obedient, SpawnOpts::new())
        .await
        .expect("starts");
    let watch = node.monitor(s.pid());
    let started = tokio::time::Instant::now();
    let report = node.shutdown(Duration::from_secs(3)).await;
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!((report.stopped, report.killed), (1, 1));
    assert_eq!(watch.await, ExitReason::Killed);
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn nothing_spawns_after_shutdown() {
    let node = TestNode::new();
    let order = Order::default();
    node.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        node.spawn::<Member>(tree(&order, 0, 0)).map(|h| h.pid()),
        Err(SpawnError::NodeStopping)
    );
}

/// Does nothing; the bulk of the 100k test.
struct Idle;

#[async_trait]
impl Process for Idle {
    type Args = Arc<tokio::sync::Semaphore>;
    type Msg = ();

    async fn init(_ctx: &mut Context<()>, started: Self::Args) -> Result<Self, ExitReason> {
        started.add_permits(1);
        Ok(Idle)
    }

    async fn handle(&mut self, _ctx: &mut Context<()>, _msg: ()) -> Result<(), ExitReason> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_processes_stop() {
    const N: u32 = 100_000;
    let node = Node::new().expect("runtime");
    let started = Arc::new(tokio::sync::Semaphore::new(0));
    for _ in 0..N {
        node.spawn::<Idle>(Arc::clone(&started)).expect("spawns");
    }
    let all = started.acquire_many(N).await.expect("open");
    drop(all);
    assert_eq!(node.stats().processes, N as usize);
    let report = node.shutdown(Duration::from_secs(30)).await;
    assert_eq!((report.stopped, report.killed), (N as usize, 0));
    assert_eq!(node.stats().processes, 0);
    assert_eq!(node.stats().exited, u64::from(N));
}
