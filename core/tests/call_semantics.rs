//! `call`: replies, timeouts, dead and dying callees, dropped tokens, late
//! replies and calls to self.

mod support;

use std::time::Duration;

use beamish_core::{async_trait, CallError, Context, ExitReason, Handle, Process, ReplyTo};
use support::*;

#[tokio::test(start_paused = true)]
async fn reply_comes_back() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let got = p.call(|r| Cmd::Echo(41, r), CALL).await;
    assert_eq!(got, Ok(41));
}

#[tokio::test(start_paused = true)]
async fn no_reply_in_time_is_a_timeout_and_the_late_reply_is_dropped() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    assert_eq!(next(&mut rx).await, Event::Started(p.pid()));
    let started = tokio::time::Instant::now();
    let got = p.call(Cmd::Hold, Duration::from_millis(100)).await;
    assert_eq!(got, Err(CallError::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(100));
    // The callee answers late: the reply goes nowhere, and the process and
    // the caller both carry on; no stray message appears anywhere.
    p.cast(Cmd::Release(5)).await.expect("alive");
    assert_eq!(p.call(|r| Cmd::Echo(6, r), CALL).await, Ok(6));
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn calling_a_dead_process_is_noproc() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    p.cast(Cmd::Stop(ExitReason::Normal)).await.expect("alive");
    assert_eq!(exit_of(&node, p.pid()).await, ExitReason::Normal);
    assert_eq!(
        p.call(|r| Cmd::Echo(1, r), CALL).await,
        Err(CallError::NoProc)
    );
}

#[tokio::test(start_paused = true)]
async fn callee_killed_mid_call_is_exited_with_its_reason() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(p.pid());
    let call = tokio::spawn({
        let p = p.clone();
        async move { p.call(Cmd::Hold, CALL).await }
    });
    sync(&p).await; // the Hold has been handled: the call is in flight
    node.exit(p.pid(), ExitReason::Kill);
    assert_eq!(watch.await, ExitReason::Killed);
    assert_eq!(
        call.await.expect("joins"),
        Err(CallError::Exited(ExitReason::Killed))
    );
}

#[tokio::test(start_paused = true)]
async fn request_queued_behind_a_crash_is_exited() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(p.pid());
    p.cast(Cmd::Fail(ExitReason::error("broken")))
        .await
        .expect("alive");
    let got = p.call(|r| Cmd::Echo(1, r), CALL).await;
    assert_eq!(got, Err(CallError::Exited(ExitReason::error("broken"))));
    assert_eq!(watch.await, ExitReason::error("broken"));
}

#[tokio::test(start_paused = true)]
async fn callee_panicking_while_holding_the_token_is_exited_with_the_panic() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let watch = node.monitor(p.pid());
    let got = p.call(Cmd::PanicWith, CALL).await;
    let reason = ExitReason::Panic("panicked holding a reply token".into());
    assert_eq!(got, Err(CallError::Exited(reason.clone())));
    assert_eq!(watch.await, reason);
}

#[tokio::test(start_paused = true)]
async fn dropped_token_is_no_reply() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    assert_eq!(p.call(Cmd::Ignore, CALL).await, Err(CallError::NoReply));
    assert!(p.is_alive());
}

#[tokio::test(start_paused = true)]
async fn slow_reply_within_the_timeout_arrives() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let got = p
        .call(
            |r| Cmd::Slow(Duration::from_secs(2), r),
            Duration::from_secs(3),
        )
        .await;
    assert_eq!(got, Ok(1));
    let got = p
        .call(
            |r| Cmd::Slow(Duration::from_secs(2), r),
            Duration::from_secs(1),
        )
        .await;
    assert_eq!(got, Err(CallError::Timeout));
}

#[tokio::test(start_paused = true)]
async fn one_process_calls_another() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let a = probe(&node, ProbeArgs::new(&tx)).await;
    let b = probe(&node, ProbeArgs::new(&tx)).await;
    let got = a.call(|r| Cmd::CallOther(b.clone(), r), CALL).await;
    assert_eq!(got, Ok(Ok(7)));
}

/// Calls its own handle when asked, and reports what the call returned.
struct SelfCaller;

enum SelfMsg {
    CallMyself(ReplyTo<Result<u64, CallError>>),
    Answer(ReplyTo<u64>),
}

#[async_trait]
impl Process for SelfCaller {
    type Args = ();
    type Msg = SelfMsg;

    async fn init(_ctx: &mut Context<SelfMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(SelfCaller)
    }

    async fn handle(&mut self, ctx: &mut Context<SelfMsg>, msg: SelfMsg) -> Result<(), ExitReason> {
        match msg {
            SelfMsg::CallMyself(reply) => {
                let me: Handle<SelfMsg> = ctx.handle();
                reply.reply(me.call(SelfMsg::Answer, CALL).await);
            }
            SelfMsg::Answer(reply) => {
                reply.reply(1);
            }
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn calling_yourself_is_an_error_not_a_deadlock() {
    let node = TestNode::new();
    let p = node.spawn::<SelfCaller>(()).expect("spawns");
    let got = p.call(SelfMsg::CallMyself, CALL).await;
    assert_eq!(got, Ok(Err(CallError::CallToSelf)));
    // Still serving.
    assert_eq!(p.call(SelfMsg::Answer, CALL).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn an_infinite_timeout_waits_as_long_as_it_takes() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    let got = p
        .call(
            |r| Cmd::Slow(Duration::from_secs(86_400 * 365), r),
            Duration::MAX,
        )
        .await;
    assert_eq!(got, Ok(1));
}
