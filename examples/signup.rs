//! The README's demo: a signup service that notifies an email process and an
//! analytics process, all three under a supervisor. Analytics crashes on a
//! malformed address: the signup service's call says so instead of
//! hanging, the supervisor restarts analytics under its name, and the next
//! signups reach the new process. Nothing else is disturbed.
//!
//! Run it with `cargo run -p beamish-examples --example signup`.

use std::collections::BTreeMap;
use std::time::Duration;

use beamish::{
    async_trait, ChildSpec, Context, ExitReason, Node, Process, ReplyTo, SpawnOpts, Strategy,
    SupervisorRef, SupervisorSpec,
};
use tracing::{info, warn};

/// What the signup service tells the others.
#[derive(Clone, Debug)]
struct UserSignedUp {
    id: u64,
    address: String,
}

// ---------------------------------------------------------------- email

/// Sends welcome emails (here: logs them).
struct Email {
    sent: u64,
}

enum EmailMsg {
    Welcome(UserSignedUp),
    Sent(ReplyTo<u64>),
}

#[async_trait]
impl Process for Email {
    type Args = ();
    type Msg = EmailMsg;

    async fn init(_ctx: &mut Context<EmailMsg>, _: ()) -> Result<Self, ExitReason> {
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

enum AnalyticsMsg {
    /// Count a signup and confirm.
    Count(UserSignedUp, ReplyTo<()>),
    Report(ReplyTo<BTreeMap<String, u64>>),
}

#[async_trait]
impl Process for Analytics {
    type Args = ();
    type Msg = AnalyticsMsg;

    async fn init(_ctx: &mut Context<AnalyticsMsg>, _: ()) -> Result<Self, ExitReason> {
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
/// finds by their registered names: the supervisor may have replaced them.
struct Signup {
    next_id: u64,
}

enum SignupMsg {
    SignUp(String, ReplyTo<u64>),
}

const TIMEOUT: Duration = Duration::from_secs(1);

#[async_trait]
impl Process for Signup {
    type Args = ();
    type Msg = SignupMsg;

    async fn init(_ctx: &mut Context<SignupMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Signup { next_id: 1 })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<SignupMsg>,
        msg: SignupMsg,
    ) -> Result<(), ExitReason> {
        let SignupMsg::SignUp(address, reply) = msg;
        let user = UserSignedUp {
            id: self.next_id,
            address,
        };
        self.next_id += 1;
        info!(user = user.id, "new signup");
        let node = ctx.node();
        // Email is fire and forget; analytics confirms each count.
        node.cast_named("email", EmailMsg::Welcome(user.clone()))
            .await
            .map_err(|err| ExitReason::error(format!("email unreachable: {err}")))?;
        let id = user.id;
        let counted = match node.named::<AnalyticsMsg>("analytics") {
            Ok(analytics) => analytics
                .call(|done| AnalyticsMsg::Count(user, done), TIMEOUT)
                .await
                .map_err(|err| err.to_string()),
            // Between a crash and its restart the name is free.
            Err(err) => Err(err.to_string()),
        };
        if let Err(error) = counted {
            // The call names the crash instead of hanging. The supervisor
            // restarts analytics; this event is not retried (it may be the
            // poison one).
            warn!(user = id, %error, "analytics did not count this signup");
        }
        reply.reply(id);
        Ok(())
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

    let node = Node::builder().name("demo@localhost").build()?;
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
        ))
        .child(ChildSpec::worker_opt::<Signup>(
            "signup",
            named("signup"),
            || (),
        ));
    let sup = SupervisorRef::start(&node, spec, SpawnOpts::new().name("demo_sup")).await?;

    let addresses = [
        "ada@example.com",
        "grace@example.org",
        "mallory-at-example.com", // the bad event
        "linus@example.com",
        "barbara@example.org",
    ];
    let signup = node.named::<SignupMsg>("signup")?;
    let first_analytics = node.whereis("analytics").ok_or("analytics is registered")?;
    let mut analytics_down = node.monitor(first_analytics);
    for address in addresses {
        let id = signup
            .call(
                |reply| SignupMsg::SignUp(address.to_owned(), reply),
                TIMEOUT,
            )
            .await?;
        println!("signed up {address} as user {id}");
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

    let emails_sent = node
        .named::<EmailMsg>("email")?
        .call(EmailMsg::Sent, TIMEOUT)
        .await?;
    let per_domain = node
        .named::<AnalyticsMsg>("analytics")?
        .call(AnalyticsMsg::Report, TIMEOUT)
        .await?;
    println!();
    println!("welcome emails: {emails_sent}");
    println!("counted per domain since the restart: {per_domain:?}");
    println!();
    println!("supervision tree under {}:", sup.pid());
    for child in sup.which_children().await? {
        let pid = child
            .pid
            .map_or_else(|| "-".to_owned(), |pid| pid.to_string());
        println!("  {:<10} {:<30} restarts {}", child.id, pid, child.restarts);
    }
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

    let report = node.shutdown(Duration::from_secs(1)).await;
    println!(
        "shut down: {} stopped, {} killed",
        report.stopped, report.killed
    );
    Ok(())
}
