//! Durable subscriptions through the broker on 127.0.0.1:5672: publishing
//! persistent, confirmed events to a topic exchange bound to three
//! subscriptions' quorum queues (events/s), beside plain lapin doing the
//! same with the same number of confirmations outstanding; and the time
//! from a publish to the subscriber's handler, one event at a time (p50
//! and p99 are printed once, outside criterion's timing).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use beamish::amqp::{DurableSettings, DurableTopics};
use beamish::cluster::topics::Topic;
use beamish::{async_trait, Context, ExitReason, Handle, Node, Process};
use beamish_benches::{runtime, Flavor};
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, ConnectionProperties, ExchangeKind};
use tokio::sync::mpsc;

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Events per round.
const EVENTS: u64 = 2_000;
/// Publishes awaiting their confirmation at once, for both.
const IN_FLIGHT: usize = 64;
/// The subscriptions bound to the topic.
const SUBSCRIPTIONS: [&str; 3] = ["s0", "s1", "s2"];

fn unique(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("bench-{what}-{}-{nanos}", std::process::id())
}

/// Reports each event it handles.
struct Tell(mpsc::UnboundedSender<Instant>);

#[async_trait]
impl Process for Tell {
    type Args = mpsc::UnboundedSender<Instant>;
    type Msg = u64;

    async fn init(_: &mut Context<u64>, told: Self::Args) -> Result<Self, ExitReason> {
        Ok(Self(told))
    }

    async fn handle(&mut self, _: &mut Context<u64>, _: u64) -> Result<(), ExitReason> {
        let _ = self.0.send(Instant::now());
        Ok(())
    }
}

/// Declares the three subscriptions (bound to `bench.#`) by subscribing
/// a process under each, then stops their consumers, so the publish
/// bench measures publishing alone. Returns the topics.
async fn subscriptions(node: &Node) -> DurableTopics {
    let topics = DurableTopics::new(node, BROKER, &unique("topics"), DurableSettings::default());
    let pattern = Topic::<u64>::new("bench.#").expect("a pattern");
    for name in SUBSCRIPTIONS {
        let (told, _) = mpsc::unbounded_channel();
        let subscriber: Handle<u64> = node.spawn::<Tell>(told).expect("spawns");
        let subscription = topics
            .subscribe(&subscriber, &pattern, name)
            .await
            .expect("subscribes");
        subscription.cancel();
    }
    topics
}

/// Empties the three subscriptions' queues.
async fn purge(channel: &lapin::Channel, queues: &[String]) {
    for queue in queues {
        channel
            .queue_purge(queue.as_str().into(), QueuePurgeOptions::default())
            .await
            .expect("purged");
    }
}

async fn beamish_publish(topics: &DurableTopics, events: u64) -> Duration {
    let topic = Topic::<u64>::new("bench.tick").expect("a topic");
    let start = Instant::now();
    let mut publishers = tokio::task::JoinSet::new();
    for first in 0..IN_FLIGHT as u64 {
        let (topics, topic) = (topics.clone(), topic.clone());
        publishers.spawn(async move {
            let mut n = first;
            while n < events {
                topics.publish(&topic, &n).await.expect("confirmed");
                n += IN_FLIGHT as u64;
            }
        });
    }
    while let Some(done) = publishers.join_next().await {
        done.expect("published");
    }
    start.elapsed()
}

/// Plain lapin: a topic exchange bound to three quorum queues, persistent
/// messages, at most [`IN_FLIGHT`] confirmations outstanding.
struct Plain {
    channel: lapin::Channel,
    exchange: String,
    queues: Vec<String>,
    _conn: lapin::Connection,
}

async fn plain() -> Plain {
    let conn = lapin::Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("the broker");
    let channel = conn.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let exchange = unique("plain");
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declared");
    let mut queues = Vec::new();
    for name in SUBSCRIPTIONS {
        let queue = format!("{exchange}.{name}");
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(queue.as_str().into(), durable, arguments)
            .await
            .expect("declared");
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                "bench.#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bound");
        queues.push(queue);
    }
    Plain {
        channel,
        exchange,
        queues,
        _conn: conn,
    }
}

async fn plain_publish(plain: &Plain, events: u64) -> Duration {
    let start = Instant::now();
    let mut waiting = VecDeque::new();
    for n in 0..events {
        if waiting.len() == IN_FLIGHT {
            let confirm: lapin::PublisherConfirm = waiting.pop_front().expect("one waits");
            assert!(confirm.await.expect("confirmed").is_ack());
        }
        let payload = rmp_payload(n);
        let confirm = plain
            .channel
            .basic_publish(
                plain.exchange.as_str().into(),
                "bench.tick".into(),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("published");
        waiting.push_back(confirm);
    }
    for confirm in waiting {
        assert!(confirm.await.expect("confirmed").is_ack());
    }
    start.elapsed()
}

/// The same bytes beamish sends for `n` (a msgpack integer).
fn rmp_payload(n: u64) -> Vec<u8> {
    let mut out = vec![0xcf];
    out.extend_from_slice(&n.to_be_bytes());
    out
}

fn publish(c: &mut Criterion) {
    let rt = runtime(Flavor::MultiThread);
    let node = rt.block_on(async { Node::new().expect("a node") });
    let topics = rt.block_on(subscriptions(&node));
    let beamish_queues: Vec<String> = SUBSCRIPTIONS
        .iter()
        .map(|name| topics.queue(name))
        .collect();
    let plain = rt.block_on(plain());
    let mut group = c.benchmark_group("durable_publish_to_3_subscriptions");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(EVENTS));
    group.bench_function(BenchmarkId::new("beamish", "publish"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    took += beamish_publish(&topics, EVENTS).await;
                    purge(&plain.channel, &beamish_queues).await;
                }
                took
            })
        })
    });
    group.bench_function(BenchmarkId::new("baseline", "plain_lapin"), |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    took += plain_publish(&plain, EVENTS).await;
                    purge(&plain.channel, &plain.queues).await;
                }
                took
            })
        })
    });
    group.finish();
    rt.block_on(async {
        for name in SUBSCRIPTIONS {
            topics.delete(name).await.expect("deleted");
        }
        for queue in &plain.queues {
            let _ = plain
                .channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    });
}

/// Prints p50 and p99 of the time from a publish to the handler of a
/// subscriber on the same node, one event at a time.
fn report_latency() {
    let rt = runtime(Flavor::MultiThread);
    rt.block_on(async {
        let node = Node::new().expect("a node");
        let topics = DurableTopics::new(&node, BROKER, &unique("latency"), DurableSettings::default());
        let (told, mut heard) = mpsc::unbounded_channel();
        let subscriber: Handle<u64> = node.spawn::<Tell>(told).expect("spawns");
        let pattern = Topic::<u64>::new("bench.#").expect("a pattern");
        topics
            .subscribe(&subscriber, &pattern, "latency")
            .await
            .expect("subscribes");
        let topic = Topic::<u64>::new("bench.tick").expect("a topic");
        let mut took = Vec::new();
        for n in 0..1_100 {
            let sent = Instant::now();
            topics.publish(&topic, &n).await.expect("confirmed");
            let handled = tokio::time::timeout(Duration::from_secs(10), heard.recv())
                .await
                .expect("in time")
                .expect("handled");
            // The first hundred warm the connections up.
            if n >= 100 {
                took.push(handled.duration_since(sent));
            }
        }
        took.sort();
        let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
        eprintln!(
            "durable end to end (publish, confirm, deliver, handle): p50 {:?}, p99 {:?} ({} events)",
            at(0.50),
            at(0.99),
            took.len()
        );
        topics.delete("latency").await.expect("deleted");
    });
}

fn benches_all(c: &mut Criterion) {
    report_latency();
    publish(c);
}

// The macro's generated function carries no docs of its own.
#[allow(missing_docs)]
mod benches {
    use super::*;
    criterion::criterion_group!(benches, benches_all);
}
use benches::benches;

criterion_main!(benches);
