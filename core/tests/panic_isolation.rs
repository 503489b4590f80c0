//! A panic in `init`, `handle` or `terminate` ends only its own process,
//! with `Panic(message)`, and propagates like any abnormal exit.

mod support;

use beamish_core::{ExitReason, SpawnOpts, StartError};
use support::*;

#[tokio::test(start_paused = true)]
async fn panic_in_handle_ends_only_that_process() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let bystander = probe(&node, ProbeArgs::new(&tx)).await;
    let victim = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(victim.pid());
    victim
        .cast(Cmd::Panic("handler blew up".into()))
        .await
        .expect("alive");
    let reason = ExitReason::Panic("handler blew up".into());
    assert_eq!(watch.await, reason);
    // terminate ran with the panic as its reason.
    assert_eq!(
        next_non_start(&mut rx).await,
        Event::Terminated(victim.pid(), reason)
    );
    assert_eq!(bystander.call(|r| Cmd::Echo(3, r), CALL).await, Ok(3));
    assert_eq!(node.stats().processes, 1);
}

#[tokio::test(start_paused = true)]
async fn panic_in_init_fails_the_start() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let mut args = ProbeArgs::new(&tx);
    args.fail_init = Some(ExitReason::error("config missing"));
    let got = node.start::<Probe>(args, SpawnOpts::new()).await;
    assert_eq!(
        got.map(|h| h.pid()),
        Err(StartError::Init(ExitReason::error("config missing")))
    );
    // A start that failed was seen by its caller: nothing unobserved.
    let _ = node.take_unobserved_failures();
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn panic_in_init_is_a_panic_reason() {
    let node = TestNode::new();
    let got = node.start::<InitPanics>((), SpawnOpts::new()).await;
    assert_eq!(
        got.map(|h| h.pid()),
        Err(StartError::Init(ExitReason::Panic("init panicked".into())))
    );
    let _ = node.take_unobserved_failures();
}

#[tokio::test(start_paused = true)]
async fn panic_in_terminate_becomes_the_reason() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let mut args = ProbeArgs::new(&tx);
    args.panic_in_terminate = true;
    let p = probe(&node, args).await;
    let watch = node.monitor(p.pid());
    p.cast(Cmd::Stop(ExitReason::Normal)).await.expect("alive");
    assert_eq!(watch.await, ExitReason::Panic("panic in terminate".into()));
}

#[tokio::test(start_paused = true)]
async fn panic_propagates_through_links() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let parent = probe(&node, ProbeArgs::new(&tx)).await;
    let child = parent.call(Cmd::SpawnLink, CALL).await.expect("spawns");
    let watch = node.monitor(parent.pid());
    child.cast(Cmd::Panic("child".into())).await.expect("alive");
    assert_eq!(watch.await, ExitReason::Panic("child".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_panics_leave_the_node_serving() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let survivor = probe(&node, ProbeArgs::new(&tx)).await;
    for i in 0..200 {
        let p = probe(&node, ProbeArgs::new(&tx)).await;
        let watch = node.monitor(p.pid());
        p.cast(Cmd::Panic(format!("panic {i}")))
            .await
            .expect("alive");
        assert_eq!(watch.await, ExitReason::Panic(format!("panic {i}").into()));
    }
    assert_eq!(survivor.call(|r| Cmd::Echo(9, r), CALL).await, Ok(9));
    assert_eq!(node.stats().processes, 1);
}

struct InitPanics;

#[beamish_core::async_trait]
impl beamish_core::Process for InitPanics {
    type Args = ();
    type Msg = ();

    async fn init(_ctx: &mut beamish_core::Context<()>, _: ()) -> Result<Self, ExitReason> {
        panic!("init panicked");
    }

    async fn handle(
        &mut self,
        _ctx: &mut beamish_core::Context<()>,
        _msg: (),
    ) -> Result<(), ExitReason> {
        Ok(())
    }
}
