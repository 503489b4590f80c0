//! A child declared exported in its options is reachable from other nodes
//! from its start and again after every restart, under its remote-facing
//! type only: its internal messages cannot be sent from another node.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{LocalNetwork, Transport};
use beamish_core::{
    async_trait, CallError, ClusterConfig, Context, ExitReason, Message, Node, Pid, Process,
    ReplyTo, SpawnError, SpawnOpts,
};
use beamish_supervisor::{ChildSpec, Strategy, SupervisorRef, SupervisorSpec};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

const CALL: Duration = Duration::from_secs(5);

/// What other nodes may ask of a worker.
#[derive(Serialize, Deserialize, Debug, Message)]
#[message(name = "jobs.Job")]
enum Job {
    Run(u64),
    Ran(ReplyTo<Vec<u64>>),
    Crash,
}

/// The same wire name, as a node that knows the worker's internals would
/// wish it: `Done` is internal to the worker.
#[derive(Serialize, Deserialize, Debug, Message)]
#[message(name = "jobs.Job")]
enum Intruder {
    Done(u64),
}

/// The worker's own message type, which is not a `Message` at all.
#[derive(Debug)]
enum WorkerMsg {
    Job(Job),
    /// Internal: a job finished elsewhere counts as run here.
    Done(u64),
}

impl From<Job> for WorkerMsg {
    fn from(job: Job) -> Self {
        WorkerMsg::Job(job)
    }
}

struct Worker {
    ran: Vec<u64>,
}

#[async_trait]
impl Process for Worker {
    /// Where the worker says it started.
    type Args = mpsc::UnboundedSender<Pid>;
    type Msg = WorkerMsg;

    async fn init(
        ctx: &mut Context<WorkerMsg>,
        started: mpsc::UnboundedSender<Pid>,
    ) -> Result<Self, ExitReason> {
        let _ = started.send(ctx.pid());
        Ok(Worker { ran: Vec::new() })
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<WorkerMsg>,
        msg: WorkerMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            WorkerMsg::Job(Job::Run(n)) => self.ran.push(n),
            WorkerMsg::Job(Job::Ran(reply)) => {
                reply.reply(self.ran.clone());
            }
            WorkerMsg::Job(Job::Crash) => return Err(ExitReason::error("asked to")),
            WorkerMsg::Done(n) => self.ran.push(n),
        }
        Ok(())
    }
}

async fn member(net: &LocalNetwork, name: &str) -> Node {
    let node = Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime");
    let transport: Arc<dyn Transport> = Arc::new(net.transport(name));
    let at = Endpoint::Local { name: name.into() };
    node.join(
        ClusterConfig::new(Cookie::new("exported children")),
        vec![transport],
        &[at],
    )
    .await
    .expect("joins");
    node
}

#[tokio::test(start_paused = true)]
async fn a_child_exported_in_its_options_stays_exported_across_restarts() {
    let net = LocalNetwork::new();
    let workers = member(&net, "workers").await;
    let api = member(&net, "api").await;
    let peer = api
        .connect(&Endpoint::Local {
            name: "workers".into(),
        })
        .await
        .expect("connects");

    let (started, mut starts) = mpsc::unbounded_channel();
    let opts = SpawnOpts::new()
        .name("worker")
        .export_as::<Job, WorkerMsg>();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(5))
        .child(ChildSpec::worker_opt::<Worker>("worker", opts, move || {
            started.clone()
        }));
    let _sup = SupervisorRef::start(&workers, spec, SpawnOpts::new())
        .await
        .expect("starts");
    let first = starts.recv().await.expect("the worker started");
    // On its own node, the internal message is one like any other.
    workers
        .named::<WorkerMsg>("worker")
        .expect("registered")
        .cast(WorkerMsg::Done(7))
        .await
        .expect("delivered");

    api.send_remote_named(peer, "worker", &Job::Run(1))
        .expect("sent");
    let ran = api.call_remote_named(peer, "worker", Job::Ran, CALL).await;
    assert_eq!(ran, Ok(vec![7, 1]));

    // The internal message cannot be sent: the remote-facing type has no
    // such variant, so it is a dead letter, and the worker is untouched.
    let dead_before = workers.stats().dead_letters;
    api.send_remote_named(peer, "worker", &Intruder::Done(99))
        .expect("sent");
    let ran = api.call_remote_named(peer, "worker", Job::Ran, CALL).await;
    assert_eq!(ran, Ok(vec![7, 1]), "Done(99) never reached the worker");
    assert_eq!(workers.stats().dead_letters, dead_before + 1);

    // Crashed and restarted, it is exported again from its start.
    api.send_remote_named(peer, "worker", &Job::Crash)
        .expect("sent");
    let second = starts.recv().await.expect("restarted");
    assert_ne!(second, first);
    api.send_remote_named(peer, "worker", &Job::Run(2))
        .expect("sent");
    let ran = api.call_remote_named(peer, "worker", Job::Ran, CALL).await;
    assert_eq!(ran, Ok(vec![2]));
}

#[tokio::test]
async fn options_for_another_message_type_fail_the_spawn() {
    let node = Node::new().expect("runtime");
    let (started, _starts) = mpsc::unbounded_channel();
    let opts = SpawnOpts::new().export::<Job>();
    let spawned = node.spawn_opt::<Worker>(started, opts);
    assert!(
        matches!(spawned, Err(SpawnError::OptionsType { .. })),
        "{spawned:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_with_an_internal_type_is_rejected() {
    let net = LocalNetwork::new();
    let workers = member(&net, "w").await;
    let api = member(&net, "a").await;
    let peer = api
        .connect(&Endpoint::Local { name: "w".into() })
        .await
        .expect("connects");
    let (started, _starts) = mpsc::unbounded_channel();
    workers
        .start::<Worker>(
            started,
            SpawnOpts::new()
                .name("worker")
                .export_as::<Job, WorkerMsg>(),
        )
        .await
        .expect("starts");

    /// A type of another name.
    #[derive(Serialize, Deserialize, Debug, Message)]
    #[message(name = "jobs.WorkerMsg")]
    enum Other {
        Ran(ReplyTo<Vec<u64>>),
    }
    let got = api
        .call_remote_named(peer, "worker", Other::Ran, CALL)
        .await;
    assert!(
        matches!(&got, Err(CallError::Rejected(why)) if why.contains("jobs.Job") && why.contains("jobs.WorkerMsg")),
        "{got:?}"
    );
}
