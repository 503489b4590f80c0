//! Addresses through a name registry (Erlang's `{via, Module, Name}`):
//! the registry is asked on every send, so the address follows the name
//! from a process on this node to one on another.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Addr, CallError, CastError, Context, ExitReason, Node, Pid, Process, Registry,
    ReplyTo, SpawnOpts, TryCastError,
};
use serde::{Deserialize, Serialize};
use support::{local, member};

/// Names in a map the test changes.
#[derive(Default)]
struct Names(Mutex<HashMap<String, Pid>>);

impl Names {
    fn set(&self, name: &str, pid: Option<Pid>) {
        let mut names = self.0.lock().expect("not poisoned");
        match pid {
            Some(pid) => names.insert(name.to_owned(), pid),
            None => names.remove(name),
        };
    }
}

impl Registry for Names {
    fn whereis(&self, name: &str) -> Option<Pid> {
        self.0.lock().ok()?.get(name).copied()
    }
}

/// Answers with its pid, and counts what it was sent.
struct Counter(u64);

#[derive(Serialize, Deserialize, beamish_core::Message)]
#[message(name = "addr_via.Count")]
enum Count {
    Add(u64),
    Read(ReplyTo<(Pid, u64)>),
}

#[async_trait]
impl Process for Counter {
    type Args = ();
    type Msg = Count;

    async fn init(_: &mut Context<Count>, _: ()) -> Result<Self, ExitReason> {
        Ok(Counter(0))
    }

    async fn handle(&mut self, ctx: &mut Context<Count>, msg: Count) -> Result<(), ExitReason> {
        match msg {
            Count::Add(n) => self.0 += n,
            Count::Read(reply) => {
                reply.reply((ctx.pid(), self.0));
            }
        }
        Ok(())
    }
}

/// Takes strings: not a counter.
struct Other;

#[async_trait]
impl Process for Other {
    type Args = ();
    type Msg = String;

    async fn init(_: &mut Context<String>, _: ()) -> Result<Self, ExitReason> {
        Ok(Other)
    }

    async fn handle(&mut self, _: &mut Context<String>, _: String) -> Result<(), ExitReason> {
        Ok(())
    }
}

const CALL: Duration = Duration::from_secs(5);

async fn counter(node: &Node) -> Pid {
    node.start::<Counter>((), SpawnOpts::new().export::<Count>())
        .await
        .expect("starts")
        .pid()
}

#[tokio::test(start_paused = true)]
async fn an_address_via_a_registry_follows_the_name_between_sends() {
    let net = LocalNetwork::new();
    let a = member(&net, "a").await;
    let b = member(&net, "b").await;
    a.connect(&local("b")).await.expect("connects");
    let names = Arc::new(Names::default());
    let addr: Addr<Count> = Addr::via(&a, names.clone(), "counter");
    assert_eq!(addr.pid(), None);
    assert!(!addr.is_local());

    // Nobody holds it: as a process that has ended.
    assert_eq!(addr.cast(Count::Add(1)).await, Err(CastError::NoProc));
    assert!(matches!(
        addr.try_cast(Count::Add(1)),
        Err(TryCastError::Failed(CastError::NoProc, Count::Add(1)))
    ));
    assert!(matches!(
        addr.call(Count::Read, CALL).await,
        Err(CallError::NoProc)
    ));

    // Held here.
    let here = counter(&a).await;
    names.set("counter", Some(here));
    addr.cast(Count::Add(2)).await.expect("sent");
    addr.try_cast(Count::Add(3)).expect("sent");
    assert_eq!(addr.call(Count::Read, CALL).await, Ok((here, 5)));

    // Passed to a process on b: the next send goes there.
    let there = counter(&b).await;
    names.set("counter", Some(there));
    addr.cast(Count::Add(7)).await.expect("sent");
    addr.clone().try_cast(Count::Add(1)).expect("sent");
    assert_eq!(addr.call(Count::Read, CALL).await, Ok((there, 8)));

    // Held here by a process of another type: the cast says so.
    let other = a
        .start::<Other>((), SpawnOpts::new())
        .await
        .expect("starts");
    names.set("counter", Some(other.pid()));
    assert!(matches!(
        addr.cast(Count::Add(1)).await,
        Err(CastError::Lookup(_))
    ));

    // Held by a process that has ended.
    a.exit(here, ExitReason::Kill);
    let _ = a.monitor(here).await;
    names.set("counter", Some(here));
    assert_eq!(addr.cast(Count::Add(1)).await, Err(CastError::NoProc));
    assert!(format!("{addr:?}").contains("counter"));
}
