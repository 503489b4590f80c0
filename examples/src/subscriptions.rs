//! What the subscriptions demo (`--example subscriptions`) and the
//! `beamish-subscriber` program share: the event a signup publishes, and
//! a service node that handles it.
//!
//! A service node runs a supervised worker with a durable subscription
//! under the service's name and, when the node is given a cluster to
//! join, a second worker with a fast one. A worker subscribes in its
//! `init`, so each restart subscribes it again; it appends the number of
//! each event it handled to its log file (the record survives a SIGKILL
//! of the whole node) and returns, after which a durable event is
//! acknowledged at the broker.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beamish::amqp::{DurableSettings, DurableTopics};
use beamish::cluster::topics::{Mode, Topic, Topics};
use beamish::cluster::{Cluster, ClusterSettings, StaticDiscovery};
use beamish::dist::Cookie;
use beamish::tcp::TcpTransport;
use beamish::{
    async_trait, ChildSpec, Context, ExitReason, Message, Node, NodeExt, Process, Strategy,
    SupervisorSpec,
};
use serde::{Deserialize, Serialize};

/// Someone signed up: the `n`th signup of the run.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[message(name = "demo.users.SignedUp")]
pub struct SignedUp {
    /// The signup's number.
    pub n: u64,
    /// Who signed up.
    pub email: String,
}

/// The topic signups are published on.
pub const SIGNED_UP: &str = "user.signed_up";

/// How a service node runs.
#[derive(Debug, Clone)]
pub struct Service {
    /// The service, and its durable subscription's name.
    pub name: String,
    /// The broker, `amqp://user:pass@host:port/vhost`.
    pub broker: String,
    /// The scope of the subscriptions.
    pub scope: String,
    /// Where the numbers of handled events are appended.
    pub log: String,
    /// The worker fails on the first delivery of this event.
    pub crash_on: Option<u64>,
    /// Events the node may hold unacknowledged.
    pub prefetch: u16,
    /// A member of the cluster to join, for the fast subscription (its
    /// events go to `<log>.fast`).
    pub join: Option<String>,
    /// How long handling an event takes (so that a backlog builds up).
    pub pace: Duration,
}

/// The cookie of the demo's cluster.
pub const COOKIE: &str = "the signup story";

/// A worker's arguments, made afresh for each start.
#[derive(Clone)]
struct Args {
    topics: Topics,
    service: Service,
    /// The durable subscription's name, or `None` for the fast one.
    durable: Option<String>,
    log: String,
    crashed: Arc<AtomicBool>,
}

struct Worker {
    log: File,
    pace: Duration,
    crash_on: Option<u64>,
    crashed: Arc<AtomicBool>,
}

#[async_trait]
impl Process for Worker {
    type Args = Args;
    type Msg = SignedUp;

    async fn init(ctx: &mut Context<SignedUp>, args: Args) -> Result<Self, ExitReason> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&args.log)?;
        let topic =
            Topic::<SignedUp>::new("user.#").map_err(|e| ExitReason::error(e.to_string()))?;
        let mode = match &args.durable {
            Some(name) => Mode::Durable(name),
            None => Mode::Fast,
        };
        args.topics
            .subscribe_as(&ctx.handle(), &topic, mode)
            .await
            .map_err(|e| ExitReason::error(e.to_string()))?;
        let kind = if args.durable.is_some() {
            "durable"
        } else {
            "fast"
        };
        println!("started {kind} {}", ctx.pid());
        Ok(Worker {
            log,
            pace: args.service.pace,
            // Only the durable worker has the bug.
            crash_on: args.durable.and(args.service.crash_on),
            crashed: args.crashed,
        })
    }

    async fn handle(
        &mut self,
        _: &mut Context<SignedUp>,
        event: SignedUp,
    ) -> Result<(), ExitReason> {
        if Some(event.n) == self.crash_on && !self.crashed.swap(true, Ordering::SeqCst) {
            println!("crashing on {}", event.n);
            panic!("a bug on signup {}", event.n);
        }
        if !self.pace.is_zero() {
            tokio::time::sleep(self.pace).await;
        }
        self.log.write_all(format!("{}\n", event.n).as_bytes())?;
        Ok(())
    }
}

/// Runs a service node until it is killed: its workers under a
/// one_for_one supervisor, the durable one subscribed as `service.name`,
/// and the fast one if the node joins a cluster. Prints `started durable
/// <pid>` or `started fast <pid>` each time a worker starts.
///
/// # Errors
///
/// If the node, its cluster or its supervisor does not start, or the
/// supervisor gives up.
pub async fn serve(service: Service) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("{}@localhost", service.name);
    let node = match &service.join {
        Some(_) => {
            Node::builder()
                .name(name.as_str())
                .cookie(Cookie::new(COOKIE))
                .transport(TcpTransport::new())
                .listen("tcp://127.0.0.1:0")
                .start()
                .await?
        }
        None => Node::builder().name(name.as_str()).build()?,
    };
    if let Some(seed) = &service.join {
        let seeds = StaticDiscovery::new([seed.as_str()])?;
        Cluster::start(&node, seeds, ClusterSettings::default()).await?;
    }
    let settings = DurableSettings::default().prefetch(service.prefetch);
    let durable = DurableTopics::new(&node, &service.broker, &service.scope, settings);
    let topics = Topics::start(&node).await?.with_durable(durable);
    let crashed = Arc::new(AtomicBool::new(false));
    let durable = Args {
        topics,
        durable: Some(service.name.clone()),
        log: service.log.clone(),
        service: service.clone(),
        crashed,
    };
    let mut spec = SupervisorSpec::new(Strategy::OneForOne).intensity(5, Duration::from_secs(5));
    if service.join.is_some() {
        let fast = Args {
            durable: None,
            log: format!("{}.fast", service.log),
            ..durable.clone()
        };
        spec = spec.child(ChildSpec::worker::<Worker>("fast", move || fast.clone()));
    }
    spec = spec.child(ChildSpec::worker::<Worker>("durable", move || {
        durable.clone()
    }));
    node.run(spec).await?;
    Ok(())
}
