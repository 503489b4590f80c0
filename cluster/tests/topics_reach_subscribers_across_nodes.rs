//! Subscriptions in fast mode: an event published on one node reaches
//! every subscriber in the cluster whose pattern matches, once each, in
//! the order each publisher published; one frame goes to each node with
//! subscribers.

mod support;

use std::collections::BTreeMap;

use beamish_cluster::topics::{Topic, Topics};
use beamish_core::transport::LocalNetwork;
use beamish_core::{Message, Pid};
use support::pg::{Counting, Sent};
use support::topics::*;
use support::*;
use tokio::sync::mpsc;

#[tokio::test(start_paused = true)]
async fn an_event_reaches_every_matching_subscriber_once_and_no_other() {
    let net = LocalNetwork::new();
    let [a, b, c] = three(&net).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let exact = b.subscriber(&["user.signed_up"], &seen).await;
    let one_word = c.subscriber(&["user.*"], &seen).await;
    let any = a.subscriber(&["user.#"], &seen).await;
    // Two patterns that both match: still one copy.
    let both = c.subscriber(&["user.*", "#.signed_up"], &seen).await;
    let other = b.subscriber(&["order.*"], &seen).await;
    let too_deep = b.subscriber(&["user.*.x"], &seen).await;
    let reached = [exact.pid(), one_word.pid(), any.pid(), both.pid()];
    eventually("every node knows the subscribers", || {
        [&a, &b, &c]
            .iter()
            .all(|node| node.knows("user.signed_up", &reached))
    })
    .await;

    let topic = Topic::<Numbered>::new("user.signed_up").expect("a topic");
    let event = Numbered {
        publisher: "a".into(),
        n: 1,
    };
    let published = a.topics.publish(&topic, &event).await.expect("published");
    assert_eq!(published.local, 1);
    assert_eq!(published.nodes, [b.node().name(), c.node().name()]);
    let mut got = Vec::new();
    for _ in 0..reached.len() {
        got.push(heard.recv().await.expect("an event").0);
    }
    got.sort();
    let mut expected = reached.to_vec();
    expected.sort();
    assert_eq!(got, expected);
    // Nothing more comes: to the others, or twice.
    publish(&a, "order.placed", "a", 2).await;
    let (to, last) = heard.recv().await.expect("the order event");
    assert_eq!((to, last.n), (other.pid(), 2));
    assert!(drain(&mut heard).is_empty());
    let _ = too_deep;

    // A topic nobody subscribes to goes nowhere.
    let nobody = Topic::<Numbered>::new("invoice.paid").expect("a topic");
    let published = a.topics.publish(&nobody, &event).await.expect("published");
    assert_eq!((published.local, published.nodes.len()), (0, 0));
    // Patterns are for subscribing.
    let pattern = Topic::<Numbered>::new("user.*").expect("a pattern");
    assert!(a.topics.publish(&pattern, &event).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn each_publishers_events_arrive_in_order_at_every_subscriber() {
    let net = LocalNetwork::new();
    let [a, b, c] = three(&net).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let mut subscribers = Vec::new();
    for node in [&a, &b, &c] {
        subscribers.push(node.subscriber(&["ticks.#"], &seen).await);
    }
    let pids: Vec<Pid> = subscribers.iter().map(|s| s.pid()).collect();
    eventually("every node knows the subscribers", || {
        [&a, &b, &c].iter().all(|node| node.knows("ticks.n", &pids))
    })
    .await;

    const EVENTS: u64 = 500;
    let from_a = async {
        for n in 0..EVENTS {
            publish(&a, "ticks.n", "a", n).await;
        }
    };
    let from_b = async {
        for n in 0..EVENTS {
            publish(&b, "ticks.n", "b", n).await;
        }
    };
    tokio::join!(from_a, from_b);
    let mut next: BTreeMap<(Pid, String), u64> = BTreeMap::new();
    for _ in 0..EVENTS * 2 * 3 {
        let (to, event) = heard.recv().await.expect("an event");
        let expected = next.entry((to, event.publisher.clone())).or_default();
        assert_eq!(event.n, *expected, "{to} got {event:?} out of order");
        *expected += 1;
    }
    assert_eq!(next.len(), 6);
    assert!(next.values().all(|n| *n == EVENTS));
}

#[tokio::test(start_paused = true)]
async fn an_event_for_many_subscribers_of_a_node_crosses_the_wire_once() {
    let net = LocalNetwork::new();
    let sent = Sent::of::<EventOnWire>();
    let counted = Counting {
        inner: net.transport("a"),
        sent: std::sync::Arc::clone(&sent),
    };
    let member = Member::start_with(counted, "a", &[]).await;
    let topics = Topics::start(&member.node).await.expect("starts");
    let a = TopicsMember { member, topics };
    let b = TopicsMember::start(&net, "b", &["a"]).await;
    let c = TopicsMember::start(&net, "c", &["a"]).await;
    mesh(&[&a.member, &b.member, &c.member]).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let mut pids = Vec::new();
    for _ in 0..100 {
        pids.push(b.subscriber(&["jobs.*"], &seen).await.pid());
    }
    for _ in 0..50 {
        pids.push(c.subscriber(&["jobs.#"], &seen).await.pid());
    }
    eventually("a knows the subscribers", || a.knows("jobs.done", &pids)).await;

    for n in 0..10 {
        publish(&a, "jobs.done", "a", n).await;
    }
    for _ in 0..pids.len() * 10 {
        heard.recv().await.expect("an event");
    }
    assert!(drain(&mut heard).is_empty());
    assert_eq!(sent.single(), 20, "one frame per node per event");
}

/// The routers' wire message, to count its frames.
#[derive(serde::Serialize, serde::Deserialize, Message)]
#[message(name = "beamish.topics.Event")]
struct EventOnWire;
