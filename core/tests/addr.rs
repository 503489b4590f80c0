//! Location-transparent addresses: the same code casts to and calls a
//! process on this node or another, by pid or by name.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Addr, CallError, CastError, Context, Disconnect, ExitReason, LookupError, Node,
    NodeName, Process, RemoteSendError, ReplyTo, SpawnOpts,
};
use serde::{Deserialize, Serialize};
use support::{local, member};

/// A tally: casts add, calls read.
struct Tally(u64);

#[derive(Serialize, Deserialize, beamish_core::Message)]
#[message(name = "addr.TallyMsg")]
enum TallyMsg {
    Add(u64),
    Read(ReplyTo<u64>),
}

#[async_trait]
impl Process for Tally {
    type Args = ();
    type Msg = TallyMsg;

    async fn init(_ctx: &mut Context<TallyMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Tally(0))
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<TallyMsg>,
        msg: TallyMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            TallyMsg::Add(n) => self.0 += n,
            TallyMsg::Read(reply) => {
                reply.reply(self.0);
            }
        }
        Ok(())
    }
}

const CALL: Duration = Duration::from_secs(5);

/// What a client does, knowing nothing of where the tally runs.
async fn add_and_read(tally: &Addr<TallyMsg>, n: u64) -> u64 {
    tally.cast(TallyMsg::Add(n)).await.expect("sent");
    tally.call(TallyMsg::Read, CALL).await.expect("answered")
}

async fn start_tally(node: &Node) -> beamish_core::Handle<TallyMsg> {
    let tally = node
        .start::<Tally>((), SpawnOpts::new().name("tally"))
        .await
        .expect("starts");
    node.export(&tally);
    tally
}

#[tokio::test(start_paused = true)]
async fn the_same_code_reaches_a_process_here_and_elsewhere() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let here = start_tally(&a).await;
    let there = start_tally(&b).await;

    let by_handle = Addr::from(here.clone());
    let here_by_name = a.addr_named::<TallyMsg>("tally", a.name());
    let there_by_pid = a.addr::<TallyMsg>(there.pid()).expect("remote");
    let there_by_name = a.addr_named::<TallyMsg>("tally", b.name());

    assert!(by_handle.is_local() && here_by_name.is_local());
    assert!(!there_by_pid.is_local() && !there_by_name.is_local());
    assert_eq!(there_by_pid.pid(), Some(there.pid()));
    assert_eq!(there_by_name.pid(), None);

    assert_eq!(add_and_read(&by_handle, 1).await, 1);
    assert_eq!(add_and_read(&here_by_name, 2).await, 3);
    assert_eq!(add_and_read(&there_by_pid, 10).await, 10);
    assert_eq!(add_and_read(&there_by_name, 20).await, 30);
    // A local address never serializes: the local tally need not be
    // exported, and a process that is not exported is reached all the same.
    let unexported = a.spawn::<Tally>(()).expect("spawns");
    assert_eq!(add_and_read(&Addr::from(unexported), 5).await, 5);
}

#[tokio::test(start_paused = true)]
async fn an_address_by_name_follows_a_restarted_process() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let first = start_tally(&b).await;
    let remote = a.addr_named::<TallyMsg>("tally", b.name());
    let by_pid = a.addr::<TallyMsg>(first.pid()).expect("remote");
    assert_eq!(add_and_read(&remote, 7).await, 7);

    let watch = b.monitor(first.pid());
    b.exit(first.pid(), ExitReason::Shutdown);
    assert_eq!(watch.await, ExitReason::Shutdown);
    start_tally(&b).await;

    assert_eq!(add_and_read(&remote, 1).await, 1, "the new process");
    assert_eq!(
        by_pid.call(TallyMsg::Read, CALL).await,
        Err(CallError::NoProc),
        "the old pid stays dead"
    );
}

#[tokio::test(start_paused = true)]
async fn failures_say_what_went_wrong() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let ended = a.spawn::<Tally>(()).expect("spawns");
    let addr = Addr::from(ended.clone());
    let watch = a.monitor(ended.pid());
    a.exit(ended.pid(), ExitReason::Shutdown);
    watch.await;
    assert_eq!(addr.cast(TallyMsg::Add(1)).await, Err(CastError::NoProc));
    assert_eq!(
        addr.call(TallyMsg::Read, CALL).await,
        Err(CallError::NoProc)
    );

    let nobody = a.addr_named::<TallyMsg>("nobody", a.name());
    assert_eq!(nobody.cast(TallyMsg::Add(1)).await, Err(CastError::NoProc));

    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let other = a.spawn::<Sink>(tx).expect("spawns");
    a.register("sink", other.pid()).expect("registers");
    let wrong = a.addr_named::<TallyMsg>("sink", a.name());
    assert!(matches!(
        wrong.cast(TallyMsg::Add(1)).await,
        Err(CastError::Lookup(LookupError::WrongType { .. }))
    ));
    assert!(matches!(
        a.addr::<TallyMsg>(other.pid()),
        Err(LookupError::WrongType { .. })
    ));

    let unknown = NodeName::new("z@localhost").expect("valid");
    let far = a.addr_named::<TallyMsg>("tally", unknown);
    assert_eq!(
        far.cast(TallyMsg::Add(1)).await,
        Err(CastError::Remote(RemoteSendError::NoConnection(
            unknown,
            Disconnect::Unknown
        )))
    );
    assert_eq!(
        far.call(TallyMsg::Read, CALL).await,
        Err(CallError::NoConnection(Disconnect::Unknown))
    );
}

/// Takes numbers; a process of another type.
struct Sink;

#[async_trait]
impl Process for Sink {
    type Args = tokio::sync::mpsc::UnboundedSender<u64>;
    type Msg = u64;

    async fn init(_ctx: &mut Context<u64>, _: Self::Args) -> Result<Self, ExitReason> {
        Ok(Sink)
    }

    async fn handle(&mut self, _ctx: &mut Context<u64>, _: u64) -> Result<(), ExitReason> {
        Ok(())
    }
}
