//! Subscriptions follow their processes and nodes: one that unsubscribes
//! or ends gets no more and is forgotten everywhere; a node that goes
//! takes its subscribers along; a node that joins learns every
//! subscription and is learned.

mod support;

use std::time::Duration;

use beamish_cluster::topics::Topic;
use beamish_core::transport::LocalNetwork;
use beamish_core::ExitReason;
use support::topics::*;
use support::*;
use tokio::sync::mpsc;

#[tokio::test(start_paused = true)]
async fn one_that_unsubscribes_gets_no_more_once_it_is_known() {
    let net = LocalNetwork::new();
    let a = TopicsMember::start(&net, "a", &[]).await;
    let b = TopicsMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let leaving = b.subscriber(&["news.*"], &seen).await;
    let staying = b.subscriber(&["news.*"], &seen).await;
    eventually("a knows both", || {
        a.knows("news.today", &[leaving.pid(), staying.pid()])
    })
    .await;

    let topic = Topic::<Numbered>::new("news.*").expect("a pattern");
    b.topics
        .unsubscribe(leaving.pid(), &topic)
        .await
        .expect("unsubscribed");
    assert!(
        b.topics.unsubscribe(leaving.pid(), &topic).await.is_err(),
        "not subscribed any more"
    );
    eventually("a knows it left", || {
        a.knows("news.today", &[staying.pid()])
    })
    .await;
    for n in 0..20 {
        publish(&a, "news.today", "a", n).await;
    }
    for n in 0..20 {
        let (to, event) = heard.recv().await.expect("an event");
        assert_eq!((to, event.n), (staying.pid(), n));
    }
    assert!(
        drain(&mut heard).is_empty(),
        "nothing for the one that left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_ends_is_forgotten_everywhere() {
    let net = LocalNetwork::new();
    let a = TopicsMember::start(&net, "a", &[]).await;
    let b = TopicsMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let ends = b.subscriber(&["jobs.#"], &seen).await;
    let local = a.subscriber(&["jobs.#"], &seen).await;
    eventually("both known", || {
        a.knows("jobs.x", &[ends.pid(), local.pid()])
            && b.knows("jobs.x", &[ends.pid(), local.pid()])
    })
    .await;

    b.node().exit(ends.pid(), ExitReason::error("done for"));
    a.node().exit(local.pid(), ExitReason::Kill);
    eventually("forgotten on both nodes", || {
        a.knows("jobs.x", &[]) && b.knows("jobs.x", &[])
    })
    .await;
    let topic = Topic::<Numbered>::new("jobs.x").expect("a topic");
    let event = Numbered {
        publisher: "a".into(),
        n: 0,
    };
    let published = a.topics.publish(&topic, &event).await.expect("published");
    assert_eq!((published.local, published.nodes.len()), (0, 0));
    assert!(drain(&mut heard).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_node_that_goes_takes_its_subscribers_and_one_that_joins_learns_them_all() {
    let net = LocalNetwork::new();
    let [a, b, c] = three(&net).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let on_a = a.subscriber(&["orders.#"], &seen).await;
    let on_c = c.subscriber(&["orders.#"], &seen).await;
    eventually("b knows both", || {
        b.knows("orders.new", &[on_a.pid(), on_c.pid()])
    })
    .await;

    c.node().shutdown(Duration::from_secs(1)).await;
    eventually("c's subscriber is gone", || {
        a.knows("orders.new", &[on_a.pid()]) && b.knows("orders.new", &[on_a.pid()])
    })
    .await;

    // d joins later: it learns a's subscriber, and a and b learn d's.
    let d = TopicsMember::start(&net, "d", &["b"]).await;
    let on_d = d.subscriber(&["orders.*"], &seen).await;
    eventually("every node knows a's and d's", || {
        [&a, &b, &d]
            .iter()
            .all(|node| node.knows("orders.new", &[on_a.pid(), on_d.pid()]))
    })
    .await;
    publish(&d, "orders.new", "d", 1).await;
    publish(&b, "orders.new", "b", 2).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let (to, event) = heard.recv().await.expect("an event");
        got.push((to, event.n));
    }
    got.sort();
    let mut expected = vec![
        (on_a.pid(), 1),
        (on_a.pid(), 2),
        (on_d.pid(), 1),
        (on_d.pid(), 2),
    ];
    expected.sort();
    assert_eq!(got, expected);
}
