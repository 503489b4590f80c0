//! The README's second demo: the story of our users, end to end. A
//! signup service publishes `user.signed_up`; an email, an analytics and
//! a CRM service, each in its own OS process and all in one cluster over
//! TCP, subscribe twice: durably, each under its own subscription name,
//! and fast. The CRM's durable worker crashes on one signup and its
//! supervisor restarts it; the analytics process is SIGKILLed mid-stream
//! and started again. At the end every service has handled every signup
//! durably, at least once, and fast what it was up for, and the program
//! prints the counts.
//!
//! ```sh
//! cargo run -p beamish-examples --example subscriptions
//! ```
//!
//! It needs RabbitMQ at `amqp://guest:guest@127.0.0.1:5672/%2f` (or
//! `BEAMISH_BROKER`). It exits non-zero if a service missed a signup.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish::amqp::{DurableSettings, DurableTopics};
use beamish::cluster::topics::{Topic, Topics};
use beamish::cluster::{Cluster, ClusterSettings, StaticDiscovery};
use beamish::dist::Cookie;
use beamish::tcp::TcpTransport;
use beamish::Node;
use beamish_examples::subscriptions::{serve, Service, SignedUp, COOKIE, SIGNED_UP};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Signups published.
const SIGNUPS: u64 = 2_000;
/// The services, each a subscription of its own.
const SERVICES: [&str; 3] = ["email", "analytics", "crm"];
/// The signup the CRM worker fails on, once.
const CRM_BUG: u64 = 700;
/// Longer than anything here should take.
const WAIT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    beamish_examples::log_to_stderr();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, name, broker, scope, log, crash_on, seed] = &args[..] {
        if flag == "--serve" {
            return serve(Service {
                name: name.clone(),
                broker: broker.clone(),
                scope: scope.clone(),
                log: log.clone(),
                crash_on: crash_on.parse().ok(),
                prefetch: 50,
                pace: Duration::from_millis(1),
                join: Some(seed.clone()),
            })
            .await;
        }
    }
    let broker = std::env::var("BEAMISH_BROKER")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let scope = format!("demo-{}-{nanos}", std::process::id());
    let dir = std::env::temp_dir().join(&scope);
    std::fs::create_dir_all(&dir)?;
    // The signup service's node is the cluster's first member; the
    // services join through it.
    let node = Node::builder()
        .name("signup@localhost")
        .cookie(Cookie::new(COOKIE))
        .transport(TcpTransport::new())
        .listen("tcp://127.0.0.1:0")
        .start()
        .await?;
    let seed = node.listening().first().ok_or("not listening")?.to_string();
    let cluster = Cluster::start(
        &node,
        StaticDiscovery::new(Vec::<String>::new())?,
        ClusterSettings::default(),
    )
    .await?;
    let durable = DurableTopics::new(&node, &broker, &scope, DurableSettings::default());
    let topics = Topics::start(&node).await?.with_durable(durable.clone());
    let mut demo = Demo {
        broker: broker.clone(),
        scope: scope.clone(),
        seed,
        dir: dir.clone(),
        said: mpsc::unbounded_channel(),
        starts: BTreeMap::new(),
    };

    let mut running = BTreeMap::new();
    for service in SERVICES {
        running.insert(service, demo.start(service).await?);
    }
    let topic = Topic::<SignedUp>::new(SIGNED_UP)?;
    // The fast subscribers are known here once the cluster has told.
    tokio::time::timeout(WAIT, async {
        while topics.subscribers(&topic).len() < SERVICES.len() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .map_err(|_| {
        format!(
            "the fast subscribers were not all known: {:?}",
            topics.subscribers(&topic)
        )
    })?;
    for n in 0..SIGNUPS {
        let email = format!("user{n}@example.com");
        topics.publish(&topic, &SignedUp { n, email }).await?;
        if n == SIGNUPS / 3 {
            if let Some(mut analytics) = running.remove("analytics") {
                analytics.start_kill()?;
                analytics.wait().await?;
                println!("analytics: SIGKILLed after signup {n} was published");
            }
        }
        if n == SIGNUPS / 2 {
            running.insert("analytics", demo.start("analytics").await?);
            println!("analytics: started again after signup {n}");
        }
    }
    println!("signup: {SIGNUPS} signups published, each confirmed by the broker");

    let done = tokio::time::timeout(WAIT, demo.all_handled()).await;
    let mut missed = false;
    for service in SERVICES {
        let handled = demo.handled(service)?;
        let unique: BTreeSet<u64> = handled.iter().copied().collect();
        let fast: BTreeSet<u64> = demo
            .handled_in(&demo.file(&format!("{service}.log.fast")))
            .into_iter()
            .collect();
        let starts = demo.starts.get(service).copied().unwrap_or(0);
        println!(
            "{service}: durable {} of {SIGNUPS} signups, {} of them twice (at least once); \
             fast {} (what it was up for); durable worker starts: {starts}",
            unique.len(),
            handled.len() - unique.len(),
            fast.len(),
        );
        missed |= unique.len() as u64 != SIGNUPS;
    }
    for mut child in running.into_values() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    for service in SERVICES {
        durable.delete(service).await?;
    }
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    if missed || done.is_err() {
        return Err("a service missed a signup".into());
    }
    println!("every service handled every signup");
    Ok(())
}

/// A line a service printed, and which service.
type Said = (&'static str, String);

/// The services' processes and what they print.
struct Demo {
    broker: String,
    scope: String,
    /// Where the services join the cluster.
    seed: String,
    dir: std::path::PathBuf,
    said: (mpsc::UnboundedSender<Said>, mpsc::UnboundedReceiver<Said>),
    /// How many times each service's worker started.
    starts: BTreeMap<&'static str, usize>,
}

impl Demo {
    fn log(&self, service: &str) -> std::path::PathBuf {
        self.dir.join(format!("{service}.log"))
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(name)
    }

    /// Starts `service` as an OS process (this program, serving it), and
    /// waits until its worker has subscribed.
    async fn start(&mut self, service: &'static str) -> Result<Child, Box<dyn Error>> {
        let crash_on = if service == "crm" {
            CRM_BUG.to_string()
        } else {
            "-".to_owned()
        };
        let log = self.log(service);
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve", service, &self.broker, &self.scope])
            .arg(&log)
            .arg(crash_on)
            .arg(&self.seed)
            .stdout(Stdio::piped())
            // The crash is on purpose: its log line, not its backtrace.
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LOG", "warn,lapin=off")
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no output")?;
        let said = self.said.0.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = said.send((service, line));
            }
        });
        // Both its workers have subscribed.
        let mut started = 0;
        let waited = tokio::time::timeout(WAIT, async {
            while let Some((who, line)) = self.said.1.recv().await {
                if self.heard(who, &line) && who == service {
                    started += 1;
                    if started == 2 {
                        return;
                    }
                }
            }
        })
        .await;
        if waited.is_err() {
            return Err(format!("{service} did not start its workers").into());
        }
        Ok(child)
    }

    /// Takes a line a service printed; whether it says a worker started.
    fn heard(&mut self, service: &'static str, line: &str) -> bool {
        if line.starts_with("started durable") {
            *self.starts.entry(service).or_default() += 1;
            return true;
        }
        if line.starts_with("started fast") {
            return true;
        }
        if let Some(n) = line.strip_prefix("crashing on ") {
            println!("{service}: the worker crashed on signup {n}; its supervisor restarts it");
        }
        false
    }

    /// The signups `service` handled durably, as its log says, in order.
    fn handled(&self, service: &str) -> Result<Vec<u64>, Box<dyn Error>> {
        Ok(self.handled_in(&self.log(service)))
    }

    /// The signups the log at `path` says were handled, in order.
    fn handled_in(&self, path: &std::path::Path) -> Vec<u64> {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        log.lines().filter_map(|line| line.parse().ok()).collect()
    }

    /// Waits until every service has handled every signup.
    async fn all_handled(&mut self) {
        loop {
            let complete = SERVICES.iter().all(|service| {
                self.handled(service)
                    .map(|handled| {
                        handled.into_iter().collect::<BTreeSet<u64>>().len() as u64 == SIGNUPS
                    })
                    .unwrap_or(false)
            });
            if complete {
                return;
            }
            // Lines the services print meanwhile are taken as they come.
            let said = tokio::time::timeout(Duration::from_millis(100), self.said.1.recv()).await;
            if let Ok(Some((who, line))) = said {
                self.heard(who, &line);
            }
        }
    }
}
