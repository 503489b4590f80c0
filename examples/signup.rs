//! The README's demo: a signup service that notifies an email process and an
//! analytics process. Analytics crashes on a malformed address; the signup
//! service traps exits, sees the crash, starts a fresh analytics process
//! and replays what the dead one could not take. Nothing else is disturbed.
//!
//! Run it with `cargo run -p beamish-examples --example signup`.

use std::collections::BTreeMap;
use std::time::Duration;

use beamish::{
    async_trait, Context, ExitReason, Handle, Node, Process, ReplyTo, Signal, SpawnOpts,
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

/// Takes signups, assigns ids and notifies email and analytics.
struct Signup {
    next_id: u64,
    email: Handle<EmailMsg>,
    analytics: Handle<AnalyticsMsg>,
    analytics_restarts: u64,
}

enum SignupMsg {
    SignUp(String, ReplyTo<u64>),
    Summary(ReplyTo<Summary>),
}

#[derive(Debug)]
struct Summary {
    signups: u64,
    emails_sent: u64,
    analytics_restarts: u64,
    per_domain: BTreeMap<String, u64>,
}

#[async_trait]
impl Process for Signup {
    type Args = ();
    type Msg = SignupMsg;

    async fn init(ctx: &mut Context<SignupMsg>, _: ()) -> Result<Self, ExitReason> {
        // Crashes of our workers arrive as messages instead of taking us down.
        ctx.trap_exit(true);
        ctx.register("signup")?;
        let email = ctx.spawn_link::<Email>((), SpawnOpts::new())?;
        let analytics = ctx.spawn_link::<Analytics>((), SpawnOpts::new())?;
        Ok(Signup {
            next_id: 1,
            email,
            analytics,
            analytics_restarts: 0,
        })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<SignupMsg>,
        msg: SignupMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            SignupMsg::SignUp(address, reply) => {
                let user = UserSignedUp {
                    id: self.next_id,
                    address,
                };
                self.next_id += 1;
                info!(user = user.id, "new signup");
                // Email is fire and forget; analytics confirms each count.
                self.email.cast(EmailMsg::Welcome(user.clone())).await?;
                let id = user.id;
                let counted = self
                    .analytics
                    .call(
                        |done| AnalyticsMsg::Count(user, done),
                        Duration::from_secs(1),
                    )
                    .await;
                if let Err(error) = counted {
                    // The call names the crash instead of hanging: replace
                    // the worker and go on (the poison event is not retried).
                    warn!(user = id, %error, "analytics failed; starting a fresh one");
                    self.restart_analytics(ctx)?;
                }
                reply.reply(id);
            }
            SignupMsg::Summary(reply) => {
                let emails_sent = self
                    .email
                    .call(EmailMsg::Sent, Duration::from_secs(1))
                    .await?;
                let per_domain = self
                    .analytics
                    .call(AnalyticsMsg::Report, Duration::from_secs(1))
                    .await?;
                reply.reply(Summary {
                    signups: self.next_id - 1,
                    emails_sent,
                    analytics_restarts: self.analytics_restarts,
                    per_domain,
                });
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<SignupMsg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let Signal::Exit { from, reason } = signal else {
            return Ok(());
        };
        if from == self.email.pid() {
            // Without email there is no service: stop too.
            return Err(reason);
        }
        if from == self.analytics.pid() {
            if reason == ExitReason::Shutdown {
                info!(%from, "analytics was shut down");
                return Ok(());
            }
            warn!(%from, %reason, "analytics crashed; starting a fresh one");
            return self.restart_analytics(ctx);
        }
        if !self.replaced(from) {
            // Our parent, or the node shutting down.
            return Err(reason);
        }
        info!(%from, %reason, "exit of a replaced analytics process seen");
        Ok(())
    }
}

impl Signup {
    fn restart_analytics(&mut self, ctx: &mut Context<SignupMsg>) -> Result<(), ExitReason> {
        self.analytics = ctx.spawn_link::<Analytics>((), SpawnOpts::new())?;
        self.analytics_restarts += 1;
        Ok(())
    }

    /// Whether `pid` was an analytics process this service already replaced
    /// (analytics processes are the only children it replaces).
    fn replaced(&self, pid: beamish::Pid) -> bool {
        pid.id() > self.email.pid().id() && pid.id() < self.analytics.pid().id()
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
    let signup = node.start::<Signup>((), SpawnOpts::new()).await?;

    let addresses = [
        "ada@example.com",
        "grace@example.org",
        "mallory-at-example.com", // the bad event
        "linus@example.com",
        "barbara@example.org",
    ];
    for address in addresses {
        let id = signup
            .call(
                |reply| SignupMsg::SignUp(address.to_owned(), reply),
                Duration::from_secs(1),
            )
            .await?;
        println!("signed up {address} as user {id}");
    }

    let summary = signup
        .call(SignupMsg::Summary, Duration::from_secs(1))
        .await?;
    println!();
    println!("signups:            {}", summary.signups);
    println!("welcome emails:     {}", summary.emails_sent);
    println!("analytics restarts: {}", summary.analytics_restarts);
    println!(
        "counted per domain since the restart: {:?}",
        summary.per_domain
    );
    println!();
    println!("processes on {}:", node.name());
    for info in node.processes() {
        let name = info.name.as_deref().unwrap_or("-");
        println!(
            "  {:<28} {:<8} handled {:>3}  links {:?}",
            info.pid.to_string(),
            name,
            info.messages_handled,
            info.links
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
