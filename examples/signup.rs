//! The README's demo: a signup service that notifies an email process and an
//! analytics process, all three under a supervisor. Analytics crashes on a
//! malformed address: the signup service's call says so instead of
//! hanging, the supervisor restarts analytics under its name, and the next
//! signups reach the new process. Nothing else is disturbed.
//!
//! Run it in one node with `cargo run -p beamish-examples --example signup`,
//! or across two OS processes over TCP, the services on one node and the
//! signup service on another (the code that talks to email and analytics is
//! the same: it holds location-transparent addresses):
//!
//! ```sh
//! cargo run -p beamish-examples --example signup -- --serve tcp://127.0.0.1:4380
//! cargo run -p beamish-examples --example signup -- --connect tcp://127.0.0.1:4380
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::Arc;

use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::{
    async_trait, Addr, ChildSpec, ClusterConfig, Context, ExitReason, Handle, Node, NodeName,
    Process, ReplyTo, SpawnOpts, Strategy, SupervisorRef, SupervisorSpec,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// What the signup service tells the others.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct UserSignedUp {
    id: u64,
    address: String,
}

// ---------------------------------------------------------------- email

/// Sends welcome emails (here: logs them).
struct Email {
    sent: u64,
}

#[derive(Serialize, Deserialize, beamish::Message)]
#[message(name = "signup.EmailMsg")]
enum EmailMsg {
    Welcome(UserSignedUp),
    Sent(ReplyTo<u64>),
}

#[async_trait]
impl Process for Email {
    type Args = ();
    type Msg = EmailMsg;

    async fn init(ctx: &mut Context<EmailMsg>, _: ()) -> Result<Self, ExitReason> {
        // Reachable from other nodes, after every restart too.
        ctx.node().export(&ctx.handle());
        Ok(Email { sent: 0 })
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<EmailMsg>,
        msg: EmailMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            EmailMsg::Welcome(user) => {
                self.sent += 1;
                info!(user = user.id, to = %user.address, "welcome email sent");
            }
            EmailMsg::Sent(reply) => {
                reply.reply(self.sent);
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------ analytics

/// Counts signups per email domain. It has a bug: it assumes every address
/// has an `@`.
struct Analytics {
    per_domain: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize, beamish::Message)]
#[message(name = "signup.AnalyticsMsg")]
enum AnalyticsMsg {
    /// Count a signup and confirm.
    Count(UserSignedUp, ReplyTo<()>),
    Report(ReplyTo<BTreeMap<String, u64>>),
}

#[async_trait]
impl Process for Analytics {
    type Args = ();
    type Msg = AnalyticsMsg;

    async fn init(ctx: &mut Context<AnalyticsMsg>, _: ()) -> Result<Self, ExitReason> {
        ctx.node().export(&ctx.handle());
        Ok(Analytics {
            per_domain: BTreeMap::new(),
        })
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<AnalyticsMsg>,
        msg: AnalyticsMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            AnalyticsMsg::Count(user, done) => {
                let (_, domain) = user
                    .address
                    .split_once('@')
                    .expect("every address has a domain");
                *self.per_domain.entry(domain.to_owned()).or_default() += 1;
                info!(user = user.id, domain, "signup counted");
                done.reply(());
            }
            AnalyticsMsg::Report(reply) => {
                reply.reply(self.per_domain.clone());
            }
        }
        Ok(())
    }
}

// --------------------------------------------------------------- signup

/// Takes signups, assigns ids and notifies email and analytics, which it
/// reaches by their registered names, on this node or another: the
/// supervisor may have replaced them.
struct Signup {
    next_id: u64,
    services: Services,
}

/// Where email and analytics are.
#[derive(Clone)]
struct Services {
    email: Addr<EmailMsg>,
    analytics: Addr<AnalyticsMsg>,
}

impl Services {
    /// The services registered on `at`, seen from `node`.
    fn on(node: &Node, at: NodeName) -> Self {
        Services {
            email: node.addr_named("email", at),
            analytics: node.addr_named("analytics", at),
        }
    }
}

enum SignupMsg {
    SignUp(String, ReplyTo<u64>),
}

const TIMEOUT: Duration = Duration::from_secs(1);

#[async_trait]
impl Process for Signup {
    type Args = Services;
    type Msg = SignupMsg;

    async fn init(_ctx: &mut Context<SignupMsg>, services: Services) -> Result<Self, ExitReason> {
        Ok(Signup {
            next_id: 1,
            services,
        })
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<SignupMsg>,
        msg: SignupMsg,
    ) -> Result<(), ExitReason> {
        let SignupMsg::SignUp(address, reply) = msg;
        let user = UserSignedUp {
            id: self.next_id,
            address,
        };
        self.next_id += 1;
        info!(user = user.id, "new signup");
        // Email is fire and forget; analytics confirms each count.
        self.services
            .email
            .cast(EmailMsg::Welcome(user.clone()))
            .await
            .map_err(|err| ExitReason::error(format!("email unreachable: {err}")))?;
        let id = user.id;
        let counted = self
            .services
            .analytics
            .call(|done| AnalyticsMsg::Count(user, done), TIMEOUT)
            .await;
        if let Err(error) = counted {
            // The call names the crash instead of hanging (or, between a
            // crash and its restart, says no process has the name). The
            // supervisor restarts analytics; this event is not retried
            // (it may be the poison one).
            warn!(user = id, %error, "analytics did not count this signup");
        }
        reply.reply(id);
        Ok(())
    }
}

const ADDRESSES: [&str; 5] = [
    "ada@example.com",
    "grace@example.org",
    "mallory-at-example.com", // the bad event
    "linus@example.com",
    "barbara@example.org",
];

/// The supervisor of email and analytics (and of signup, in one node).
fn services_spec(signup: Option<Services>) -> SupervisorSpec {
    // email and analytics first, then the service that uses them; each
    // registered under a name that every restart takes again.
    let named = |name: &str| SpawnOpts::new().name(name);
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::worker_opt::<Email>(
            "email",
            named("email"),
            || (),
        ))
        .child(ChildSpec::worker_opt::<Analytics>(
            "analytics",
            named("analytics"),
            || (),
        ));
    match signup {
        Some(services) => spec.child(ChildSpec::worker_opt::<Signup>(
            "signup",
            named("signup"),
            move || services.clone(),
        )),
        None => spec,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Panics are reported through the crashed process's exit reason; keep
    // the default hook's backtrace hint out of the demo's output.
    std::panic::set_hook(Box::new(|panic| {
        tracing::debug!(%panic, "panic caught by its process");
    }));

    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|at| args.get(at + 1))
            .cloned()
    };
    let cookie = Cookie::new(flag("--cookie").unwrap_or_else(|| "signup-demo".to_owned()));
    match (flag("--serve"), flag("--connect")) {
        (Some(listen), None) => serve(listen.parse()?, cookie).await,
        (None, Some(peer)) => connect(peer.parse()?, cookie).await,
        (None, None) => one_node().await,
        (Some(_), Some(_)) => Err("--serve and --connect are two different nodes".into()),
    }
}

/// Everything in one node.
async fn one_node() -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder().name("demo@localhost").build()?;
    let services = Services::on(&node, node.name());
    let sup = SupervisorRef::start(
        &node,
        services_spec(Some(services)),
        SpawnOpts::new().name("demo_sup"),
    )
    .await?;

    let signup = node.named::<SignupMsg>("signup")?;
    let first_analytics = node.whereis("analytics").ok_or("analytics is registered")?;
    let mut analytics_down = node.monitor(first_analytics);
    for address in ADDRESSES {
        sign_up(&signup, address).await?;
        if !address.contains('@') {
            // Show the crash and the restart before going on: once the
            // crash is seen here, the supervisor has it queued ahead of
            // this request and answers after restarting analytics.
            let reason = (&mut analytics_down).await;
            println!("  analytics {first_analytics} crashed: {reason}");
            let children = sup.which_children().await?;
            if let Some(pid) = children
                .iter()
                .find(|c| &*c.id == "analytics")
                .and_then(|c| c.pid)
            {
                println!("  the supervisor restarted it as {pid}");
            }
        }
    }
    totals(&Services::on(&node, node.name())).await?;
    tree(&sup).await?;
    table(&node);
    stop(node).await;
    Ok(())
}

/// The services node: email and analytics under their supervisor,
/// reachable over TCP until interrupted.
async fn serve(listen: Endpoint, cookie: Cookie) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder().name("services@localhost").build()?;
    let at = node
        .join(
            ClusterConfig::new(cookie),
            vec![Arc::new(TcpTransport::new())],
            &[listen],
        )
        .await?;
    let sup = SupervisorRef::start(
        &node,
        services_spec(None),
        SpawnOpts::new().name("services_sup"),
    )
    .await?;
    println!("{} serving email and analytics at {}", node.name(), at[0]);
    tokio::signal::ctrl_c().await?;
    tree(&sup).await?;
    table(&node);
    stop(node).await;
    Ok(())
}

/// The web node: the signup service, using email and analytics on the
/// services node at `peer`.
async fn connect(peer: Endpoint, cookie: Cookie) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder().name("web@localhost").build()?;
    node.join(
        ClusterConfig::new(cookie),
        vec![Arc::new(TcpTransport::new())],
        &[],
    )
    .await?;
    // The services node may still be starting.
    let mut attempts = 0;
    let services_node = loop {
        match node.connect(&peer).await {
            Ok(name) => break name,
            Err(err) if attempts < 50 => {
                attempts += 1;
                tracing::debug!(%err, "services not reachable yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => return Err(err.into()),
        }
    };
    println!("{} connected to {services_node}", node.name());
    let services = Services::on(&node, services_node);
    let signup = node
        .start::<Signup>(services.clone(), SpawnOpts::new().name("signup"))
        .await?;
    for address in ADDRESSES {
        sign_up(&signup, address).await?;
        if !address.contains('@') {
            // The supervisor on the other node restarts analytics; go on
            // once the new process answers.
            let mut back = false;
            for _ in 0..50 {
                if services
                    .analytics
                    .call(AnalyticsMsg::Report, TIMEOUT)
                    .await
                    .is_ok()
                {
                    back = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!("  analytics on {services_node} crashed; back after its restart: {back}");
        }
    }
    totals(&services).await?;
    table(&node);
    stop(node).await;
    Ok(())
}

/// Signs `address` up through the signup service and says so.
async fn sign_up(
    signup: &Handle<SignupMsg>,
    address: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let id = signup
        .call(
            |reply| SignupMsg::SignUp(address.to_owned(), reply),
            TIMEOUT,
        )
        .await?;
    println!("signed up {address} as user {id}");
    Ok(())
}

/// Emails sent and signups counted, asked of email and analytics.
async fn totals(services: &Services) -> Result<(), Box<dyn std::error::Error>> {
    let emails_sent = services.email.call(EmailMsg::Sent, TIMEOUT).await?;
    let per_domain = services
        .analytics
        .call(AnalyticsMsg::Report, TIMEOUT)
        .await?;
    println!();
    println!("welcome emails: {emails_sent}");
    println!("counted per domain since the restart: {per_domain:?}");
    Ok(())
}

/// The supervision tree.
async fn tree(sup: &SupervisorRef) -> Result<(), Box<dyn std::error::Error>> {
    println!();
    println!("supervision tree under {}:", sup.pid());
    for child in sup.which_children().await? {
        let pid = child
            .pid
            .map_or_else(|| "-".to_owned(), |pid| pid.to_string());
        println!("  {:<10} {:<30} restarts {}", child.id, pid, child.restarts);
    }
    Ok(())
}

/// The node's process table and counters.
fn table(node: &Node) {
    println!();
    println!("processes on {}:", node.name());
    for info in node.processes() {
        let name = info.name.as_deref().unwrap_or("-");
        println!(
            "  {:<30} {:<10} handled {:>3}  links {}",
            info.pid.to_string(),
            name,
            info.messages_handled,
            info.links.len()
        );
    }
    let stats = node.stats();
    println!(
        "spawned {}, exited {}, dead letters {}",
        stats.spawned, stats.exited, stats.dead_letters
    );
}

async fn stop(node: Node) {
    let report = node.shutdown(Duration::from_secs(1)).await;
    println!(
        "shut down: {} stopped, {} killed",
        report.stopped, report.killed
    );
}
