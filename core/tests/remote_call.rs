//! Calls across nodes: the reply token routes the answer back, and the
//! call ends with the reply, `Timeout`, `NoProc`, `Exited`, `NoReply` or
//! `NoConnection`, never hanging.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, CallError, Context, Disconnect, ExitReason, Handle, Lost, Node, Process, ReplyTo,
    SpawnOpts, Timeout,
};
use serde::{Deserialize, Serialize};
use support::{local, member};

/// A key-value store, reachable from other nodes.
struct Store {
    value: String,
    held: Option<ReplyTo<String>>,
}

#[derive(Serialize, Deserialize, beamish_core::Message)]
#[message(name = "remote_call.StoreMsg")]
enum StoreMsg {
    Get(ReplyTo<String>),
    Put(String, ReplyTo<()>),
    /// Append to the value, unanswered (a cast).
    Append(String),
    /// Keep the token and never answer.
    Hold(ReplyTo<String>),
    /// Drop the token.
    Ignore(ReplyTo<String>),
    /// Panic while holding the token.
    Crash(ReplyTo<String>),
    /// End with an error (a held token is still held).
    Fail(String),
}

#[async_trait]
impl Process for Store {
    type Args = ();
    type Msg = StoreMsg;

    async fn init(_ctx: &mut Context<StoreMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Store {
            value: "empty".into(),
            held: None,
        })
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<StoreMsg>,
        msg: StoreMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            StoreMsg::Get(reply) => {
                reply.reply(self.value.clone());
            }
            StoreMsg::Put(value, reply) => {
                self.value = value;
                reply.reply(());
            }
            StoreMsg::Append(more) => self.value.push_str(&more),
            StoreMsg::Hold(reply) => self.held = Some(reply),
            StoreMsg::Ignore(reply) => drop(reply),
            StoreMsg::Crash(reply) => {
                let _keep = reply;
                panic!("store broke");
            }
            StoreMsg::Fail(why) => return Err(ExitReason::error(why)),
        }
        Ok(())
    }
}

struct Setup {
    a: Node,
    b: Node,
    store: Handle<StoreMsg>,
    net: LocalNetwork,
}

async fn setup() -> Setup {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let store = b
        .start::<Store>((), SpawnOpts::new().name("store"))
        .await
        .expect("starts");
    b.export(&store);
    Setup { a, b, store, net }
}

const CALL: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn a_remote_call_gets_its_reply() {
    let s = setup().await;
    let to = s.store.pid();
    assert_eq!(
        s.a.call_remote(to, StoreMsg::Get, CALL).await,
        Ok("empty".to_owned())
    );
    let put =
        s.a.call_remote(to, |r| StoreMsg::Put("full".into(), r), CALL)
            .await;
    assert_eq!(put, Ok(()));
    assert_eq!(
        s.a.call_remote(to, StoreMsg::Get, CALL).await,
        Ok("full".to_owned())
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_token_is_no_reply() {
    let s = setup().await;
    assert_eq!(
        s.a.call_remote(s.store.pid(), StoreMsg::Ignore, CALL).await,
        Err(CallError::NoReply)
    );
}

#[tokio::test(start_paused = true)]
async fn a_callee_that_dies_mid_call_is_exited() {
    let s = setup().await;
    let got = s.a.call_remote(s.store.pid(), StoreMsg::Crash, CALL).await;
    assert_eq!(
        got,
        Err(CallError::Exited(ExitReason::Panic("store broke".into())))
    );
    let _ = s.b.take_unobserved_failures();
}

/// Calls `Hold` on the store, then, once the store holds the token, runs
/// `then`; returns how the held call ended.
async fn held_then(
    s: &Setup,
    then: impl std::future::Future<Output = ()>,
) -> Result<String, CallError> {
    let to = s.store.pid();
    let (held, ()) = tokio::join!(s.a.call_remote(to, StoreMsg::Hold, CALL), async {
        // Sent after the hold on the same connection: answered once the
        // store holds the token.
        let got = s.a.call_remote(to, StoreMsg::Get, CALL).await;
        assert_eq!(got, Ok("empty".to_owned()));
        then.await;
    });
    held
}

#[tokio::test(start_paused = true)]
async fn a_callee_killed_while_holding_the_token_is_exited_killed() {
    let s = setup().await;
    let got = held_then(&s, async { s.b.exit(s.store.pid(), ExitReason::Kill) }).await;
    assert_eq!(got, Err(CallError::Exited(ExitReason::Killed)));
}

#[tokio::test(start_paused = true)]
async fn a_callee_ending_with_an_error_while_holding_the_token_is_exited_with_it() {
    let s = setup().await;
    let got = held_then(&s, async {
        s.a.send_remote(s.store.pid(), &StoreMsg::Fail("disk full".into()))
            .expect("sent");
    })
    .await;
    assert_eq!(got, Err(CallError::Exited(ExitReason::error("disk full"))));
    let _ = s.b.take_unobserved_failures();
}

#[tokio::test(start_paused = true)]
async fn a_call_pending_while_the_callee_node_shuts_down_is_exited_shutdown() {
    let s = setup().await;
    let got = held_then(&s, async {
        s.b.shutdown(CALL).await;
    })
    .await;
    assert_eq!(got, Err(CallError::Exited(ExitReason::Shutdown)));
}

#[tokio::test(start_paused = true)]
async fn the_same_causes_end_a_local_call_the_same_way() {
    let s = setup().await;
    let store = &s.store;
    let (held, ()) = tokio::join!(store.call(StoreMsg::Hold, CALL), async {
        assert_eq!(
            store.call(StoreMsg::Get, CALL).await,
            Ok("empty".to_owned())
        );
        s.b.exit(store.pid(), ExitReason::Kill);
    });
    assert_eq!(held, Err(CallError::Exited(ExitReason::Killed)));
}

#[tokio::test(start_paused = true)]
async fn calling_a_dead_remote_process_is_noproc() {
    let s = setup().await;
    let watch = s.b.monitor(s.store.pid());
    s.b.exit(s.store.pid(), ExitReason::Shutdown);
    assert_eq!(watch.await, ExitReason::Shutdown);
    assert_eq!(
        s.a.call_remote(s.store.pid(), StoreMsg::Get, CALL).await,
        Err(CallError::NoProc)
    );
}

#[tokio::test(start_paused = true)]
async fn losing_the_node_mid_call_is_noconnection() {
    let s = setup().await;
    let call = tokio::spawn({
        let a = s.a.clone();
        let to = s.store.pid();
        async move { a.call_remote(to, StoreMsg::Hold, CALL).await }
    });
    // Let the call go out (the spawned task runs first on this runtime),
    // then a second call answered behind it proves the store holds the
    // first one's token.
    tokio::task::yield_now().await;
    assert_eq!(
        s.a.call_remote(s.store.pid(), StoreMsg::Get, CALL).await,
        Ok("empty".to_owned())
    );
    s.net.drop_connections("a", "b");
    let lost = call.await.expect("joins");
    assert!(
        matches!(
            lost,
            Err(CallError::NoConnection(Disconnect::Lost(Lost::Reset(_))))
        ),
        "{lost:?}"
    );
    // And without a connection, at once: b is not a configured peer.
    assert_eq!(
        s.a.call_remote(s.store.pid(), StoreMsg::Get, CALL).await,
        Err(CallError::NoConnection(Disconnect::Unknown))
    );
}

/// A request of a type the store does not take.
#[derive(Serialize, Deserialize, beamish_core::Message)]
#[message(name = "remote_call.Other")]
enum Other {
    Ask(ReplyTo<String>),
}

#[tokio::test(start_paused = true)]
async fn a_refused_request_fails_at_once() {
    let s = setup().await;
    let started = tokio::time::Instant::now();
    let wrong_type = s.a.call_remote(s.store.pid(), Other::Ask, CALL).await;
    assert!(
        matches!(&wrong_type, Err(CallError::Rejected(why))
            if why.contains("remote_call.StoreMsg") && why.contains("remote_call.Other")),
        "names both types: {wrong_type:?}"
    );
    let hidden = s.b.spawn::<Store>(()).expect("spawns");
    let unexported = s.a.call_remote(hidden.pid(), StoreMsg::Get, CALL).await;
    assert!(
        matches!(&unexported, Err(CallError::Rejected(why)) if why.contains("not exported")),
        "{unexported:?}"
    );
    assert!(started.elapsed() < CALL, "neither waited for the timeout");
    // The connection is untouched.
    assert_eq!(
        s.a.call_remote(s.store.pid(), StoreMsg::Get, CALL).await,
        Ok("empty".to_owned())
    );
}

#[tokio::test(start_paused = true)]
async fn calls_by_name_reach_the_process_registered_now() {
    let s = setup().await;
    let b = s.b.name();
    let put =
        s.a.call_remote_named(b, "store", |r| StoreMsg::Put("named".into(), r), CALL)
            .await;
    assert_eq!(put, Ok(()));
    assert_eq!(
        s.a.call_remote(s.store.pid(), StoreMsg::Get, CALL).await,
        Ok("named".to_owned())
    );
    let started = tokio::time::Instant::now();
    assert_eq!(
        s.a.call_remote_named(b, "nobody", StoreMsg::Get, CALL)
            .await,
        Err(CallError::NoProc)
    );
    assert!(started.elapsed() < CALL, "no process by that name: at once");
    // The named callee is watched for the call: a crash is reported.
    let crashed =
        s.a.call_remote_named(b, "store", StoreMsg::Crash, CALL)
            .await;
    assert_eq!(
        crashed,
        Err(CallError::Exited(ExitReason::Panic("store broke".into())))
    );
    let _ = s.b.take_unobserved_failures();
}

/// Who watches the store now (its node holds a call's monitor for the
/// calling node while the call lasts).
fn watchers(s: &Setup) -> Vec<beamish_core::Pid> {
    s.b.process_info(s.store.pid()).expect("alive").monitored_by
}

#[tokio::test(start_paused = true)]
async fn an_answered_call_leaves_no_monitor_behind() {
    let s = setup().await;
    // The callee's node takes the call's monitor down as the answer goes:
    // none is left the moment the caller has it, with no further frame.
    s.a.call_remote(s.store.pid(), StoreMsg::Get, CALL)
        .await
        .expect("answered");
    assert_eq!(watchers(&s), vec![]);
    s.a.call_remote_named(s.b.name(), "store", StoreMsg::Get, CALL)
        .await
        .expect("answered");
    assert_eq!(watchers(&s), vec![]);
    let ignored = s.a.call_remote(s.store.pid(), StoreMsg::Ignore, CALL).await;
    assert_eq!(ignored, Err(CallError::NoReply));
    assert_eq!(watchers(&s), vec![]);
    let refused = s.a.call_remote(s.store.pid(), Other::Ask, CALL).await;
    assert!(
        matches!(refused, Err(CallError::Rejected(_))),
        "{refused:?}"
    );
    assert_eq!(watchers(&s), vec![]);
}

#[tokio::test(start_paused = true)]
async fn no_reply_in_time_is_a_timeout_and_leaves_no_monitor_behind() {
    let s = setup().await;
    let timed_out =
        s.a.call_remote(s.store.pid(), StoreMsg::Hold, Duration::from_millis(200))
            .await;
    assert_eq!(timed_out, Err(CallError::Timeout));
    // A call whose future is dropped midway ends as well.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        s.a.call_remote(s.store.pid(), StoreMsg::Hold, CALL),
    )
    .await;
    assert!(abandoned.is_err(), "still waiting when dropped");
    // The store still answers; frames travel in order, so once it has,
    // its node has heard that both calls before are over.
    assert_eq!(
        s.a.call_remote(s.store.pid(), StoreMsg::Get, CALL).await,
        Ok("empty".to_owned())
    );
    assert_eq!(watchers(&s), vec![]);
}

#[tokio::test(start_paused = true)]
async fn casts_and_calls_arrive_in_the_order_sent() {
    let s = setup().await;
    let to = s.store.pid();
    // A call's request may be written by its caller at once, but never
    // ahead of casts still queued before it.
    for round in 0..20 {
        s.a.send_remote(to, &StoreMsg::Append(format!("{round}a,")))
            .expect("sent");
        let value =
            s.a.call_remote(to, StoreMsg::Get, CALL)
                .await
                .expect("answered");
        assert!(value.ends_with(&format!("{round}a,")), "{value}");
        s.a.send_remote(to, &StoreMsg::Append(format!("{round}b,")))
            .expect("sent");
    }
    let value =
        s.a.call_remote(to, StoreMsg::Get, CALL)
            .await
            .expect("answered");
    let want: String = (0..20).map(|round| format!("{round}a,{round}b,")).collect();
    assert_eq!(value, format!("empty{want}"));
}

#[tokio::test(start_paused = true)]
async fn a_call_without_a_timeout_waits_as_long_as_it_takes() {
    let s = setup().await;
    let store = s.a.addr::<StoreMsg>(s.store.pid()).expect("an address");
    let held = tokio::spawn({
        let store = store.clone();
        async move { store.call_infinity(StoreMsg::Hold).await }
    });
    // A day later the call still waits; then its callee fails.
    tokio::time::advance(Duration::from_secs(86_400)).await;
    assert!(!held.is_finished(), "no timeout ended it");
    store
        .cast(StoreMsg::Fail("gave up".into()))
        .await
        .expect("sent");
    let got = held.await.expect("the call's task");
    assert!(
        matches!(&got, Err(CallError::Exited(reason)) if reason.to_string().contains("gave up")),
        "{got:?}"
    );
    let by_node =
        s.a.call_remote(s.store.pid(), StoreMsg::Get, Timeout::Infinity)
            .await;
    assert_eq!(by_node, Err(CallError::NoProc), "the store is gone");
}
