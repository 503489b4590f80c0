//! What the subscriptions demo (`--example subscriptions`) and the
//! `beamish-subscriber` program share: the event a signup publishes, and
//! a service node that handles it through a durable subscription.
//!
//! A service node runs one supervised worker. The worker subscribes in
//! its `init`, under the service's name, so each restart subscribes it
//! again; it appends the number of each event it handled to a log file
//! (the record survives a SIGKILL of the whole node) and returns, after
//! which the event is acknowledged at the broker.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beamish::amqp::{DurableSettings, DurableTopics};
use beamish::cluster::topics::Topic;
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
    /// How long handling an event takes (so that a backlog builds up).
    pub pace: Duration,
}

/// The worker's arguments, made afresh for each start.
#[derive(Clone)]
struct Args {
    topics: DurableTopics,
    service: Service,
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
            .open(&args.service.log)?;
        let topic =
            Topic::<SignedUp>::new("user.#").map_err(|e| ExitReason::error(e.to_string()))?;
        args.topics
            .subscribe(&ctx.handle(), &topic, &args.service.name)
            .await
            .map_err(|e| ExitReason::error(e.to_string()))?;
        println!("started {}", ctx.pid());
        Ok(Worker {
            log,
            pace: args.service.pace,
            crash_on: args.service.crash_on,
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

/// Runs a service node until it is killed: its worker under a one_for_one
/// supervisor, subscribed as `service.name`. Prints `started <pid>` each
/// time the worker starts.
///
/// # Errors
///
/// If the node or its supervisor does not start, or the supervisor gives
/// up.
pub async fn serve(service: Service) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder()
        .name(format!("{}@localhost", service.name))
        .build()?;
    let settings = DurableSettings::default().prefetch(service.prefetch);
    let args = Args {
        topics: DurableTopics::new(&node, &service.broker, &service.scope, settings),
        service,
        crashed: Arc::new(AtomicBool::new(false)),
    };
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(5))
        .child(ChildSpec::worker::<Worker>("worker", move || args.clone()));
    node.run(spec).await?;
    Ok(())
}
