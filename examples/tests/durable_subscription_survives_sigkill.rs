//! At least once through a durable subscription, with a real process:
//! publish 100 000 numbered signups, each confirmed by the broker, while a
//! `beamish-subscriber` handles them; SIGKILL it midway, start it again,
//! and every signup is handled at least once, duplicates counted. Needs
//! the RabbitMQ broker on 127.0.0.1:5672; fails without one.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish::amqp::{DurableSettings, DurableTopics};
use beamish::cluster::topics::Topic;
use beamish::Node;
use beamish_examples::subscriptions::{SignedUp, SIGNED_UP};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SIGNUPS: u64 = 100_000;
/// Publishes in flight at once.
const PUBLISHERS: u64 = 32;
const WAIT: Duration = Duration::from_secs(180);
const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Starts the subscriber and waits until its worker has subscribed.
async fn start(scope: &str, log: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beamish-subscriber"))
        .args(["--name", "analytics", "--broker", BROKER, "--scope", scope])
        .args(["--log", log, "--prefetch", "500"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the subscriber starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let started = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("in time")
        .expect("readable");
    assert!(
        started
            .as_deref()
            .is_some_and(|line| line.starts_with("started")),
        "{started:?}"
    );
    child
}

fn handled(log: &str) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.parse().ok())
        .collect()
}

/// Waits, reading the log, until `done` holds of what it says.
async fn until(log: &str, what: &str, done: impl Fn(&[u64]) -> bool) {
    let waited = tokio::time::timeout(WAIT, async {
        while !done(&handled(log)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_confirmed_signup_is_handled_at_least_once_across_a_sigkill() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let scope = format!("sigkill-{}-{nanos}", std::process::id());
    let log = std::env::temp_dir().join(format!("{scope}.log"));
    let log = log.to_str().expect("a path").to_owned();
    let mut subscriber = start(&scope, &log).await;

    let node = Node::new().expect("a node");
    let topics = DurableTopics::new(&node, BROKER, &scope, DurableSettings::default());
    let topic = Arc::new(Topic::<SignedUp>::new(SIGNED_UP).expect("a topic"));
    let mut publishers = tokio::task::JoinSet::new();
    for first in 0..PUBLISHERS {
        let (topics, topic) = (topics.clone(), Arc::clone(&topic));
        publishers.spawn(async move {
            let mut n = first;
            while n < SIGNUPS {
                let email = String::new();
                topics
                    .publish(&topic, &SignedUp { n, email })
                    .await
                    .expect("confirmed");
                n += PUBLISHERS;
            }
        });
    }

    // Midway, the whole subscriber node is SIGKILLed, and started again.
    until(&log, "a fifth handled", |handled| {
        handled.len() as u64 >= SIGNUPS / 5
    })
    .await;
    subscriber.start_kill().expect("killed");
    subscriber.wait().await.expect("reaped");
    let at_kill = handled(&log).len();
    let _subscriber = start(&scope, &log).await;
    while let Some(published) = publishers.join_next().await {
        published.expect("every publish confirmed");
    }
    until(&log, "every signup handled", |handled| {
        handled.iter().collect::<BTreeSet<_>>().len() as u64 == SIGNUPS
    })
    .await;
    let all = handled(&log);
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(unique, (0..SIGNUPS).collect());
    eprintln!(
        "{SIGNUPS} signups, {at_kill} handled before the SIGKILL, {} handled twice",
        all.len() - unique.len()
    );
    topics.delete("analytics").await.expect("deleted");
    let _ = std::fs::remove_file(&log);
}
