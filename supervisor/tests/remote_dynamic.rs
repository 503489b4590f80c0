//! A dynamic supervisor on another node, reached as Erlang reaches
//! `{worker_sup, Node}`: children started there are reached through the
//! addresses it returns, restarted by their restart type, and the
//! failures say what failed (no such supervisor, not exported, another
//! child type, no connection).

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Addr, CallError, Context, Cookie, ExitReason, Message, Node, NodeEvent, Process,
    ReplyTo, SpawnOpts,
};
use beamish_supervisor::{
    ChildSpec, DynamicAddr, DynamicError, DynamicRef, DynamicSpec, RemoteChild, Restart, Strategy,
    SupervisorRef, SupervisorSpec,
};
use serde::{Deserialize, Serialize};

const CALL: Duration = Duration::from_secs(5);

/// What a worker is asked, from any node.
#[derive(Serialize, Deserialize, Debug, Message)]
#[message(name = "remote_dynamic.Job")]
enum Job {
    Run(u64),
    Ran(ReplyTo<(String, Vec<u64>)>),
    End(ExitReason),
}

/// Started with a label; a label of `ignore` or `fail` makes its `init`
/// end `Normal` or fail.
struct Worker {
    label: String,
    ran: Vec<u64>,
}

#[async_trait]
impl Process for Worker {
    type Args = String;
    type Msg = Job;

    async fn init(_: &mut Context<Job>, label: String) -> Result<Self, ExitReason> {
        match label.as_str() {
            "ignore" => Err(ExitReason::Normal),
            "fail" => Err(ExitReason::error("told to fail")),
            _ => Ok(Worker {
                label,
                ran: Vec::new(),
            }),
        }
    }

    async fn handle(&mut self, _: &mut Context<Job>, job: Job) -> Result<(), ExitReason> {
        match job {
            Job::Run(n) => self.ran.push(n),
            Job::Ran(reply) => {
                reply.reply((self.label.clone(), self.ran.clone()));
            }
            Job::End(reason) => return Err(reason),
        }
        Ok(())
    }
}

impl RemoteChild for Worker {
    const NAME: &'static str = "remote_dynamic.Worker";
}

/// Another child type, with the same arguments and messages.
struct Other;

#[async_trait]
impl Process for Other {
    type Args = String;
    type Msg = Job;

    async fn init(_: &mut Context<Job>, _: String) -> Result<Self, ExitReason> {
        Ok(Other)
    }

    async fn handle(&mut self, _: &mut Context<Job>, _: Job) -> Result<(), ExitReason> {
        Ok(())
    }
}

impl RemoteChild for Other {
    const NAME: &'static str = "remote_dynamic.Other";
}

fn cookie() -> Cookie {
    Cookie::new("remote dynamic supervisors")
}

/// `workers@localhost`, where the supervisor runs, and `api@localhost`,
/// connected to it.
async fn two_nodes(net: &LocalNetwork) -> (Node, Node) {
    let workers = Node::builder()
        .name("workers@localhost")
        .cookie(cookie())
        .transport(net.transport("workers"))
        .listen("local://workers")
        .start()
        .await
        .expect("workers starts");
    let api = Node::builder()
        .name("api@localhost")
        .cookie(cookie())
        .transport(net.transport("api"))
        .connect("local://workers")
        .start()
        .await
        .expect("api starts connected");
    (workers, api)
}

/// A dynamic supervisor of workers registered as `worker_sup`.
async fn worker_sup(node: &Node, spec: DynamicSpec<Worker>) -> DynamicRef<Worker> {
    DynamicRef::start(node, spec, SpawnOpts::new().name("worker_sup"))
        .await
        .expect("the supervisor starts")
}

fn spec(restart: Restart) -> DynamicSpec<Worker> {
    DynamicSpec::worker()
        .restart(restart)
        .intensity(10, Duration::from_secs(5))
        .exported()
}

/// Asks a child to end with `reason` and waits, on its node, until it has.
async fn end(workers: &Node, child: &Addr<Job>, reason: ExitReason) {
    let pid = child.pid().expect("addressed by pid");
    let ended = workers.monitor(pid);
    child.cast(Job::End(reason.clone())).await.expect("sent");
    assert_eq!(ended.await, reason);
}

async fn ran(child: &Addr<Job>) -> Result<(String, Vec<u64>), CallError> {
    child.call(Job::Ran, CALL).await
}

#[tokio::test(start_paused = true)]
async fn children_started_from_another_node_are_reached_through_their_addr() {
    let net = LocalNetwork::new();
    let (workers, api) = two_nodes(&net).await;
    let local = worker_sup(&workers, spec(Restart::Permanent)).await;

    let sup = DynamicAddr::<Worker>::named(&api, "worker_sup", workers.name());
    assert_eq!(sup.node(), workers.name());
    let ada = sup.start_child("ada".into()).await.expect("starts");
    let bob = sup.start_child("bob".into()).await.expect("starts");
    assert!(!ada.is_local());
    assert_eq!(ada.pid().map(|pid| pid.node()), Some(workers.name()));

    ada.cast(Job::Run(1)).await.expect("sent");
    ada.cast(Job::Run(2)).await.expect("sent");
    assert_eq!(ran(&ada).await, Ok(("ada".into(), vec![1, 2])));
    assert_eq!(ran(&bob).await, Ok(("bob".into(), vec![])));

    let counts = sup.count_children().await.expect("answers");
    assert_eq!((counts.active, counts.workers), (2, 2));
    let children = sup.which_children().await.expect("answers");
    let pids: Vec<_> = children.iter().map(|c| Some(c.pid)).collect();
    assert_eq!(pids, [ada.pid(), bob.pid()]);
    assert!(children.iter().all(|c| c.restarts == 0));
    assert_eq!(ran(&children[1].addr).await, Ok(("bob".into(), vec![])));
    // The supervisor's own node sees the same children.
    let here: Vec<_> = local.which_children().await.expect("answers");
    assert_eq!(here.len(), 2);

    let bob_pid = bob.pid().expect("by pid");
    assert_eq!(sup.terminate_child(bob_pid).await, Ok(()));
    assert_eq!(ran(&bob).await, Err(CallError::NoProc));
    assert_eq!(sup.count_children().await.expect("answers").active, 1);
    // Ended already: nothing to stop, as in OTP.
    assert_eq!(sup.terminate_child(bob_pid).await, Ok(()));
    // Alive, but not a child.
    let stranger = workers
        .start::<Worker>("stranger".into(), SpawnOpts::new())
        .await
        .expect("starts");
    assert_eq!(
        sup.terminate_child(stranger.pid()).await,
        Err(DynamicError::NotFound(stranger.pid()))
    );

    // By pid, as well as by name.
    let by_pid = DynamicAddr::<Worker>::from_pid(&api, local.pid());
    assert_eq!(by_pid.pid(), Some(local.pid()));
    assert_eq!(by_pid.count_children().await.expect("answers").active, 1);
}

#[tokio::test(start_paused = true)]
async fn a_crashed_child_restarts_by_its_restart_type() {
    let net = LocalNetwork::new();
    let (workers, api) = two_nodes(&net).await;
    let sup = DynamicAddr::<Worker>::named(&api, "worker_sup", workers.name());

    // Permanent: restarted after a crash and after a normal end, with its
    // own arguments and a new pid; the old address reaches nobody.
    let permanent = worker_sup(&workers, spec(Restart::Permanent)).await;
    let ada = sup.start_child("ada".into()).await.expect("starts");
    end(&workers, &ada, ExitReason::error("crash")).await;
    let children = sup.which_children().await.expect("answers");
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].restarts, 1);
    assert_ne!(Some(children[0].pid), ada.pid());
    assert_eq!(ran(&children[0].addr).await, Ok(("ada".into(), vec![])));
    assert_eq!(ran(&ada).await, Err(CallError::NoProc));
    end(&workers, &children[0].addr, ExitReason::Normal).await;
    let children = sup.which_children().await.expect("answers");
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].restarts, 2, "a normal end restarts it too");
    permanent
        .stop(ExitReason::Shutdown, CALL)
        .await
        .expect("stops");

    // Transient: restarted after a crash only.
    let transient = worker_sup(&workers, spec(Restart::Transient)).await;
    let crashes = sup.start_child("crashes".into()).await.expect("starts");
    let finishes = sup.start_child("finishes".into()).await.expect("starts");
    end(&workers, &crashes, ExitReason::error("crash")).await;
    end(&workers, &finishes, ExitReason::Normal).await;
    let children = sup.which_children().await.expect("answers");
    assert_eq!(children.len(), 1);
    assert_eq!(ran(&children[0].addr).await, Ok(("crashes".into(), vec![])));
    transient
        .stop(ExitReason::Shutdown, CALL)
        .await
        .expect("stops");

    // Temporary: never restarted.
    let _temporary = worker_sup(&workers, spec(Restart::Temporary)).await;
    let once = sup.start_child("once".into()).await.expect("starts");
    end(&workers, &once, ExitReason::error("crash")).await;
    assert!(sup.which_children().await.expect("answers").is_empty());
    assert_eq!(sup.count_children().await.expect("answers").active, 0);
}

#[tokio::test(start_paused = true)]
async fn a_refused_start_says_why_across_the_wire() {
    let net = LocalNetwork::new();
    let (workers, api) = two_nodes(&net).await;
    worker_sup(&workers, spec(Restart::Transient).max_children(1)).await;
    let sup = DynamicAddr::<Worker>::named(&api, "worker_sup", workers.name());

    assert_eq!(
        sup.start_child("ignore".into()).await.err(),
        Some(DynamicError::Ignored)
    );
    assert_eq!(
        sup.start_child("fail".into()).await.err(),
        Some(DynamicError::Start(ExitReason::error("told to fail")))
    );
    sup.start_child("one".into()).await.expect("starts");
    assert_eq!(
        sup.start_child("two".into()).await.err(),
        Some(DynamicError::Full { max: 1 })
    );
}

#[tokio::test(start_paused = true)]
async fn an_unknown_supervisor_name_is_no_proc() {
    let net = LocalNetwork::new();
    let (workers, api) = two_nodes(&net).await;
    let sup = DynamicAddr::<Worker>::named(&api, "nobody", workers.name());
    assert_eq!(
        sup.start_child("ada".into()).await.err(),
        Some(DynamicError::Call(CallError::NoProc))
    );
    assert_eq!(sup.count_children().await, Err(CallError::NoProc));
    assert_eq!(workers.stats().processes, 0, "nothing was started");
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_not_exported_or_of_another_type_refuses() {
    let net = LocalNetwork::new();
    let (workers, api) = two_nodes(&net).await;
    DynamicRef::start(
        &workers,
        DynamicSpec::<Worker>::worker(),
        SpawnOpts::new().name("private_sup"),
    )
    .await
    .expect("starts");
    let private = DynamicAddr::<Worker>::named(&api, "private_sup", workers.name());
    let got = private.start_child("ada".into()).await;
    assert!(
        matches!(got, Err(DynamicError::Call(CallError::Rejected(_)))),
        "{got:?}"
    );

    worker_sup(&workers, spec(Restart::Permanent)).await;
    let wrong = DynamicAddr::<Other>::named(&api, "worker_sup", workers.name());
    let got = wrong.count_children().await;
    assert!(
        matches!(&got, Err(CallError::Rejected(why))
            if why.contains("beamish.DynamicSupervisor<remote_dynamic.Worker>")
            && why.contains("beamish.DynamicSupervisor<remote_dynamic.Other>")),
        "{got:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_node_gone_is_no_connection() {
    let net = LocalNetwork::new();
    let (workers, api) = two_nodes(&net).await;
    worker_sup(&workers, spec(Restart::Permanent)).await;
    let sup = DynamicAddr::<Worker>::named(&api, "worker_sup", workers.name());
    let ada = sup.start_child("ada".into()).await.expect("starts");
    let mut nodes = api.monitor_nodes().expect("joined");

    workers.shutdown(Duration::from_secs(1)).await;
    let down = nodes.next().await;
    assert!(
        matches!(down, Some(NodeEvent::Down(name, _)) if name == workers.name()),
        "{down:?}"
    );
    let got = sup.start_child("bob".into()).await;
    assert!(
        matches!(got, Err(DynamicError::Call(CallError::NoConnection(_)))),
        "{got:?}"
    );
    let got = sup.which_children().await;
    assert!(matches!(got, Err(CallError::NoConnection(_))), "{got:?}");
    let cast = ada.cast(Job::Run(1)).await;
    assert!(
        cast.as_ref()
            .is_err_and(|err| err.no_connection().is_some()),
        "{cast:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_address_works_on_the_supervisors_own_node() {
    let net = LocalNetwork::new();
    let (workers, _api) = two_nodes(&net).await;
    let local = worker_sup(&workers, spec(Restart::Permanent)).await;

    let sup = DynamicAddr::<Worker>::named(&workers, "worker_sup", workers.name());
    let ada = sup.start_child("ada".into()).await.expect("starts");
    assert!(ada.is_local());
    ada.cast(Job::Run(7)).await.expect("sent");
    assert_eq!(ran(&ada).await, Ok(("ada".into(), vec![7])));
    let children = sup.which_children().await.expect("answers");
    assert_eq!(
        children.iter().map(|c| Some(c.pid)).collect::<Vec<_>>(),
        [ada.pid()]
    );

    let by_pid = DynamicAddr::<Worker>::from_pid(&workers, local.pid());
    assert_eq!(by_pid.count_children().await.expect("answers").active, 1);

    let nobody = DynamicAddr::<Worker>::named(&workers, "nobody", workers.name());
    assert_eq!(nobody.count_children().await, Err(CallError::NoProc));
    let wrong = DynamicAddr::<Other>::named(&workers, "worker_sup", workers.name());
    let got = wrong.count_children().await;
    assert!(matches!(got, Err(CallError::Rejected(_))), "{got:?}");
}

/// Restarted by its own supervisor, the dynamic supervisor is exported
/// again under the same name, and the address by name finds it.
#[tokio::test(start_paused = true)]
async fn a_restarted_supervisor_is_found_again_by_name() {
    let net = LocalNetwork::new();
    let (workers, api) = two_nodes(&net).await;
    let top = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(5))
        .child(ChildSpec::dynamic_supervisor_opt(
            "worker_sup",
            SpawnOpts::new().name("worker_sup"),
            spec(Restart::Permanent),
        ));
    let top = SupervisorRef::start(&workers, top, SpawnOpts::new())
        .await
        .expect("starts");
    let sup = DynamicAddr::<Worker>::named(&api, "worker_sup", workers.name());
    sup.start_child("ada".into()).await.expect("starts");

    let first = DynamicRef::<Worker>::named(&workers, "worker_sup").expect("registered");
    let ended = workers.monitor(first.pid());
    workers.exit(first.pid(), ExitReason::Kill);
    assert_eq!(ended.await, ExitReason::Killed);
    // The top supervisor has restarted it once it answers.
    let restarted = top.which_children().await.expect("answers");
    assert_ne!(restarted[0].pid, Some(first.pid()));

    assert_eq!(sup.count_children().await.expect("answers").active, 0);
    let bob = sup.start_child("bob".into()).await.expect("starts");
    assert_eq!(ran(&bob).await, Ok(("bob".into(), vec![])));
}
