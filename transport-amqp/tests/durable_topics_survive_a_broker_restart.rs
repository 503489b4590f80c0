//! The broker goes away (`rabbitmqctl stop_app`) and comes back
//! (`start_app`) under a durable subscription: a publish meanwhile fails
//! clearly, publishes succeed again once the broker is back, the
//! subscriber's consumer connects again by itself, and every event the
//! broker confirmed, before or after, is handled. Alone in its test
//! binary, since it stops the broker for everyone; the broker is started
//! again however the test ends.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish_cluster::topics::Topic;
use beamish_core::{async_trait, Context, ExitReason, Node, Process};
use beamish_transport_amqp::{DurableSettings, DurableTopics};
use support::{rabbitmqctl, Restart};
use tokio::sync::mpsc;

use support::BROKER;
const WAIT: Duration = Duration::from_secs(60);

struct Subscriber(mpsc::UnboundedSender<u64>);

#[async_trait]
impl Process for Subscriber {
    type Args = mpsc::UnboundedSender<u64>;
    type Msg = u64;

    async fn init(_: &mut Context<u64>, seen: Self::Args) -> Result<Self, ExitReason> {
        Ok(Self(seen))
    }

    async fn handle(&mut self, _: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
        let _ = self.0.send(n);
        Ok(())
    }
}

async fn handled_all(heard: &mut mpsc::UnboundedReceiver<u64>, wanted: std::ops::Range<u64>) {
    let mut got = BTreeSet::new();
    let all: BTreeSet<u64> = wanted.collect();
    while !all.is_subset(&got) {
        let n = tokio::time::timeout(WAIT, heard.recv())
            .await
            .expect("in time")
            .expect("an event");
        got.insert(n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_subscription_outlives_a_broker_restart() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let scope = format!("restart-{}-{nanos}", std::process::id());
    let node = Node::new().expect("a node");
    let topics = DurableTopics::new(&node, BROKER, &scope, DurableSettings::default());
    let (seen, mut heard) = mpsc::unbounded_channel();
    let subscriber = node.spawn::<Subscriber>(seen).expect("spawns");
    let pattern = Topic::<u64>::new("ticks.#").expect("a pattern");
    topics
        .subscribe(&subscriber, &pattern, "steady")
        .await
        .expect("subscribed");
    let topic = Topic::<u64>::new("ticks.n").expect("a topic");
    for n in 0..100 {
        topics.publish(&topic, &n).await.expect("confirmed");
    }
    handled_all(&mut heard, 0..100).await;

    let _restart = Restart;
    rabbitmqctl("stop_app");
    let refused = tokio::time::timeout(WAIT, topics.publish(&topic, &1_000)).await;
    assert!(
        matches!(refused, Ok(Err(_))),
        "a publish without a broker fails: {refused:?}"
    );
    rabbitmqctl("start_app");
    rabbitmqctl("await_startup");

    // Once the broker is back, publishing works again; the consumer has
    // connected again by itself.
    let back = tokio::time::timeout(WAIT, async {
        while topics.publish(&topic, &100).await.is_err() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "publishing never worked again");
    for n in 101..200 {
        topics.publish(&topic, &n).await.expect("confirmed");
    }
    handled_all(&mut heard, 100..200).await;
    assert!(node.is_alive(subscriber.pid()));
    topics.delete("steady").await.expect("deleted");
}
