//! Durable subscriptions through the broker on 127.0.0.1:5672 (without
//! one these fail; they never skip): events are confirmed on publish and
//! acknowledged only after the handler returned, so one whose handler
//! failed comes again; subscribers under one name share its events; an
//! event that keeps failing goes to the dead-letter queue, where it is
//! listed and from where it is replayed; one that does not decode goes
//! there at once, with why.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beamish_cluster::topics::Topic;
use beamish_core::{
    async_trait, Context, ExitReason, Handle, Message, Node, Pid, Process, SpawnOpts,
};
use beamish_supervisor::{ChildSpec, Strategy, SupervisorRef, SupervisorSpec};
use beamish_transport_amqp::{DurableSettings, DurableTopics};
use lapin::options::{
    BasicPublishOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties};
use serde::{Deserialize, Serialize};
use support::{unique, BROKER, WAIT};
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Message)]
#[message(name = "tests.durable.Numbered")]
struct Numbered {
    n: u64,
}

/// What a subscriber does with event `poison`.
#[derive(Clone)]
struct Rules {
    seen: mpsc::UnboundedSender<(Pid, u64)>,
    /// Panics on this event while `cured` is false.
    poison: Option<u64>,
    cured: Arc<AtomicBool>,
}

struct Subscriber(Rules);

#[async_trait]
impl Process for Subscriber {
    type Args = Rules;
    type Msg = Numbered;

    async fn init(_: &mut Context<Numbered>, rules: Rules) -> Result<Self, ExitReason> {
        Ok(Self(rules))
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<Numbered>,
        event: Numbered,
    ) -> Result<(), ExitReason> {
        if Some(event.n) == self.0.poison && !self.0.cured.load(Ordering::SeqCst) {
            panic!("cannot take event {}", event.n);
        }
        let _ = self.0.seen.send((ctx.pid(), event.n));
        Ok(())
    }
}

/// Subscribes in its `init`, as a supervised subscriber should.
struct Supervised(Subscriber);

#[async_trait]
impl Process for Supervised {
    type Args = (DurableTopics, Rules);
    type Msg = Numbered;

    async fn init(
        ctx: &mut Context<Numbered>,
        (topics, rules): Self::Args,
    ) -> Result<Self, ExitReason> {
        let topic = Topic::new("jobs.#").map_err(|e| ExitReason::error(e.to_string()))?;
        topics
            .subscribe(&ctx.handle(), &topic, "poison")
            .await
            .map_err(|e| ExitReason::error(e.to_string()))?;
        Ok(Self(Subscriber(rules)))
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<Numbered>,
        event: Numbered,
    ) -> Result<(), ExitReason> {
        self.0.handle(ctx, event).await
    }
}

fn rules(seen: &mpsc::UnboundedSender<(Pid, u64)>) -> Rules {
    Rules {
        seen: seen.clone(),
        poison: None,
        cured: Arc::new(AtomicBool::new(false)),
    }
}

/// A scope unique to this run, and its topics on `node`.
fn scope(node: &Node, settings: DurableSettings) -> (String, DurableTopics) {
    let scope = unique("scope");
    let topics = DurableTopics::new(node, BROKER, &scope, settings);
    (scope, topics)
}

async fn publish(topics: &DurableTopics, topic: &str, range: std::ops::Range<u64>) {
    let topic = Topic::<Numbered>::new(topic).expect("a topic");
    for n in range {
        topics
            .publish(&topic, &Numbered { n })
            .await
            .expect("confirmed");
    }
}

/// The messages and consumers of `queue` at the broker.
async fn queue_state(queue: &str) -> (u32, u32) {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("the broker");
    let channel = conn.create_channel().await.expect("a channel");
    let state = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the queue exists");
    (state.message_count(), state.consumer_count())
}

/// Waits, polling the broker, until `done` holds of `queue`'s state.
async fn until_queue(queue: &str, what: &str, done: impl Fn((u32, u32)) -> bool) {
    let waited = tokio::time::timeout(WAIT, async {
        while !done(queue_state(queue).await) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "never happened: {what}");
}

/// Deletes a scope's queues and exchanges.
async fn clean(topics: &DurableTopics, names: &[&str]) {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("the broker");
    let channel = conn.create_channel().await.expect("a channel");
    for name in names {
        for queue in [topics.queue(name), topics.dead_queue(name)] {
            let _ = channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for exchange in [topics.exchange(), format!("{}.dead", topics.exchange())] {
        let _ = channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
}

async fn next(heard: &mut mpsc::UnboundedReceiver<(Pid, u64)>) -> (Pid, u64) {
    tokio::time::timeout(WAIT, heard.recv())
        .await
        .expect("in time")
        .expect("an event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_handled_in_order_and_acknowledged_after_handling() {
    let node = Node::new().expect("a node");
    let (_, topics) = scope(&node, DurableSettings::default());
    let (seen, mut heard) = mpsc::unbounded_channel();
    let subscriber = node.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    let pattern = Topic::<Numbered>::new("user.*").expect("a pattern");
    topics
        .subscribe(&subscriber, &pattern, "crm")
        .await
        .expect("subscribed");
    publish(&topics, "user.signed_up", 0..100).await;
    // Not bound: goes nowhere.
    publish(&topics, "order.placed", 100..110).await;
    for n in 0..100 {
        assert_eq!(next(&mut heard).await, (subscriber.pid(), n));
    }
    until_queue(
        &topics.queue("crm"),
        "every event acknowledged",
        |(messages, _)| messages == 0,
    )
    .await;
    assert!(heard.try_recv().is_err());
    clean(&topics, &["crm"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_handler_failed_comes_again_to_the_next_subscriber() {
    let node = Node::new().expect("a node");
    let (_, topics) = scope(&node, DurableSettings::default());
    let (seen, mut heard) = mpsc::unbounded_channel();
    let mut first_rules = rules(&seen);
    first_rules.poison = Some(3);
    let first = node.spawn::<Subscriber>(first_rules).expect("spawns");
    let ends = node.monitor(first.pid());
    let pattern = Topic::<Numbered>::new("jobs.#").expect("a pattern");
    topics
        .subscribe(&first, &pattern, "jobs")
        .await
        .expect("subscribed");
    publish(&topics, "jobs.new", 0..10).await;
    assert!(matches!(
        tokio::time::timeout(WAIT, ends).await,
        Ok(ExitReason::Panic(_))
    ));

    let second = node.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    topics
        .subscribe(&second, &pattern, "jobs")
        .await
        .expect("subscribed");
    let mut handled = BTreeSet::new();
    let mut by_second = BTreeSet::new();
    while handled.len() < 10 {
        let (pid, n) = next(&mut heard).await;
        handled.insert(n);
        if pid == second.pid() {
            by_second.insert(n);
        }
    }
    assert!(by_second.contains(&3), "the failed event came again");
    until_queue(
        &topics.queue("jobs"),
        "every event acknowledged",
        |(messages, _)| messages == 0,
    )
    .await;
    let _ = node.take_unobserved_failures();
    clean(&topics, &["jobs"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_under_one_name_share_its_events() {
    let (one, two) = (Node::new().expect("a node"), Node::new().expect("a node"));
    let (scope_name, topics_one) = scope(&one, DurableSettings::default().prefetch(5));
    let topics_two = DurableTopics::new(
        &two,
        BROKER,
        &scope_name,
        DurableSettings::default().prefetch(5),
    );
    let (seen, mut heard) = mpsc::unbounded_channel();
    let pattern = Topic::<Numbered>::new("work.*").expect("a pattern");
    let on_one = one.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    let on_two = two.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    topics_one
        .subscribe(&on_one, &pattern, "workers")
        .await
        .expect("subscribed");
    topics_two
        .subscribe(&on_two, &pattern, "workers")
        .await
        .expect("subscribed");
    until_queue(
        &topics_one.queue("workers"),
        "two consumers",
        |(_, consumers)| consumers == 2,
    )
    .await;

    publish(&topics_one, "work.item", 0..200).await;
    let mut all = Vec::new();
    let (mut by_one, mut by_two) = (0, 0);
    for _ in 0..200 {
        let (pid, n) = next(&mut heard).await;
        all.push(n);
        if pid == on_one.pid() {
            by_one += 1;
        } else {
            by_two += 1;
        }
    }
    all.sort_unstable();
    assert_eq!(all, (0..200).collect::<Vec<_>>(), "each once, none lost");
    assert!(by_one > 0 && by_two > 0, "shared: {by_one} and {by_two}");
    until_queue(
        &topics_one.queue("workers"),
        "every event acknowledged",
        |(messages, _)| messages == 0,
    )
    .await;
    clean(&topics_one, &["workers"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_goes_to_the_dead_letter_queue_and_is_replayed() {
    let node = Node::new().expect("a node");
    let (_, topics) = scope(&node, DurableSettings::default().delivery_limit(2));
    let (seen, mut heard) = mpsc::unbounded_channel();
    let mut poisoned = rules(&seen);
    poisoned.poison = Some(13);
    let cured = Arc::clone(&poisoned.cured);
    let args = (topics.clone(), poisoned);
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(100, Duration::from_secs(5))
        .child(ChildSpec::worker::<Supervised>("subscriber", move || {
            args.clone()
        }));
    let _sup = SupervisorRef::start(&node, spec, SpawnOpts::new())
        .await
        .expect("the supervisor starts");
    until_queue(&topics.queue("poison"), "a consumer", |(_, consumers)| {
        consumers == 1
    })
    .await;

    publish(&topics, "jobs.new", 10..20).await;
    let mut handled = BTreeSet::new();
    while handled.len() < 9 {
        handled.insert(next(&mut heard).await.1);
    }
    assert!(!handled.contains(&13));
    until_queue(
        &topics.dead_queue("poison"),
        "the poison event dead-lettered",
        |(messages, _)| messages == 1,
    )
    .await;
    let dead = topics.dead_letters("poison").await.expect("listed");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].topic.as_deref(), Some("jobs.new"));
    assert_eq!(dead[0].event_type.as_deref(), Some(Numbered::NAME));
    assert!(
        dead[0].reason.contains("failed 2 times"),
        "{}",
        dead[0].reason
    );
    // Listing leaves it there.
    assert_eq!(
        topics.dead_letters("poison").await.expect("listed").len(),
        1
    );

    cured.store(true, Ordering::SeqCst);
    assert_eq!(topics.replay("poison").await.expect("replayed"), 1);
    assert_eq!(next(&mut heard).await.1, 13);
    assert!(topics
        .dead_letters("poison")
        .await
        .expect("listed")
        .is_empty());
    let _ = node.take_unobserved_failures();
    clean(&topics, &["poison"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_does_not_decode_is_a_dead_letter_at_once_with_why() {
    let node = Node::new().expect("a node");
    let (_, topics) = scope(&node, DurableSettings::default());
    let (seen, mut heard) = mpsc::unbounded_channel();
    let subscriber: Handle<Numbered> = node.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    let pattern = Topic::<Numbered>::new("user.#").expect("a pattern");
    topics
        .subscribe(&subscriber, &pattern, "strict")
        .await
        .expect("subscribed");
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("the broker");
    let channel = conn.create_channel().await.expect("a channel");
    for (kind, body) in [
        (Numbered::NAME, vec![0xc1, 0x00]),
        ("tests.Other", vec![0x90]),
    ] {
        channel
            .basic_publish(
                topics.exchange().as_str().into(),
                "user.bad".into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_type(kind.into()),
            )
            .await
            .expect("published");
    }
    publish(&topics, "user.good", 1..2).await;
    assert_eq!(next(&mut heard).await, (subscriber.pid(), 1));
    until_queue(
        &topics.dead_queue("strict"),
        "two dead letters",
        |(messages, _)| messages == 2,
    )
    .await;
    let dead = topics.dead_letters("strict").await.expect("listed");
    assert!(dead[0].reason.contains("undecodable"), "{}", dead[0].reason);
    assert!(dead[1].reason.contains("tests.Other"), "{}", dead[1].reason);
    until_queue(&topics.queue("strict"), "nothing loops", |(messages, _)| {
        messages == 0
    })
    .await;
    assert!(node.is_alive(subscriber.pid()));
    clean(&topics, &["strict"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_publish_reaches_fast_and_durable_subscribers_each_in_its_mode() {
    use beamish_cluster::topics::{Mode, Topics};
    let node = Node::new().expect("a node");
    let (_, durable) = scope(&node, DurableSettings::default());
    let topics = Topics::start(&node)
        .await
        .expect("the topics start")
        .with_durable(durable.clone());
    let (seen, mut heard) = mpsc::unbounded_channel();
    let fast = node.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    let kept = node.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    let pattern = Topic::<Numbered>::new("user.*").expect("a pattern");
    topics
        .subscribe_as(&fast, &pattern, Mode::Fast)
        .await
        .expect("subscribed");
    topics
        .subscribe_as(&kept, &pattern, Mode::Durable("audit"))
        .await
        .expect("subscribed");
    until_queue(&durable.queue("audit"), "a consumer", |(_, consumers)| {
        consumers == 1
    })
    .await;

    let topic = Topic::<Numbered>::new("user.signed_up").expect("a topic");
    for n in 0..10 {
        let published = topics
            .publish(&topic, &Numbered { n })
            .await
            .expect("published");
        assert!(published.durable, "confirmed by the broker");
        assert_eq!(published.local, 1, "the fast subscriber");
    }
    let mut by_fast = Vec::new();
    let mut by_kept = Vec::new();
    for _ in 0..20 {
        let (pid, n) = next(&mut heard).await;
        if pid == fast.pid() {
            by_fast.push(n);
        } else {
            assert_eq!(pid, kept.pid());
            by_kept.push(n);
        }
    }
    assert_eq!(by_fast, (0..10).collect::<Vec<_>>());
    assert_eq!(by_kept, (0..10).collect::<Vec<_>>());
    until_queue(
        &durable.queue("audit"),
        "every event acknowledged",
        |(messages, _)| messages == 0,
    )
    .await;
    // Unsubscribed: the consumer stops, and what comes waits in the
    // subscription's queue.
    topics
        .unsubscribe_as(kept.pid(), &pattern, Mode::Durable("audit"))
        .await
        .expect("unsubscribed");
    assert_eq!(
        topics
            .unsubscribe_as(kept.pid(), &pattern, Mode::Durable("audit"))
            .await,
        Err(beamish_cluster::topics::TopicError::NotSubscribed)
    );
    until_queue(&durable.queue("audit"), "no consumer", |(_, consumers)| {
        consumers == 0
    })
    .await;
    topics
        .publish(&topic, &Numbered { n: 10 })
        .await
        .expect("published");
    assert_eq!(next(&mut heard).await, (fast.pid(), 10));
    until_queue(
        &durable.queue("audit"),
        "the event kept",
        |(messages, _)| messages == 1,
    )
    .await;
    // A durable subscription needs a broker behind the topics.
    let alone = Topics::start(&Node::new().expect("a node"))
        .await
        .expect("the topics start");
    let other = node.spawn::<Subscriber>(rules(&seen)).expect("spawns");
    assert_eq!(
        alone
            .subscribe_as(&other, &pattern, Mode::Durable("audit"))
            .await,
        Err(beamish_cluster::topics::TopicError::NoBroker)
    );
    clean(&durable, &["audit"]).await;
}
