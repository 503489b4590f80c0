//! A durable inbox and its dead-letter queue expire once their node has
//! been gone for the inbox expiry (7 days unless set), not while it runs,
//! and stay for ever when asked to. Through the broker on 127.0.0.1:5672:
//! without one they fail; they never skip.

mod support;

use std::time::Duration;

use beamish_core::transport::Transport;
use beamish_transport_amqp::{AmqpTransport, Mode, DEFAULT_INBOX_EXPIRY};
use bytes::Bytes;
use support::{
    broker, declare_durable, depth, eventually_async, exists, next, unique, until_gone, Pair,
};

/// The default in the broker's terms: `x-expires` in milliseconds.
fn default_millis() -> i64 {
    i64::try_from(DEFAULT_INBOX_EXPIRY.as_millis()).expect("fits")
}

#[test]
fn the_default_expiry_is_seven_days() {
    assert_eq!(DEFAULT_INBOX_EXPIRY, Duration::from_secs(7 * 24 * 3600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_durable_inbox_expires_after_seven_days_by_default() {
    let node = unique("defaulted");
    let amqp =
        AmqpTransport::with_inbox(&broker(), &node, Mode::Durable).expect("an amqp endpoint");
    let _listener = amqp.listen(&broker()).await.expect("listens");
    // The broker takes a declaration only with the queue's own arguments:
    // both queues have x-expires of 7 days, and nothing else will do.
    for queue in [amqp.inbox(), amqp.dead_letters()] {
        declare_durable(&queue, Some(default_millis()))
            .await
            .unwrap_or_else(|err| panic!("{queue} expires after 7 days: {err}"));
        let none = declare_durable(&queue, None).await;
        assert!(
            none.as_ref()
                .is_err_and(|err| err.contains("inequivalent arg 'x-expires'")),
            "{queue} has an expiry: {none:?}"
        );
    }
    amqp.delete_inbox().await.expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_kept_forever_has_no_expiry() {
    let node = unique("forever");
    let amqp = AmqpTransport::with_inbox(&broker(), &node, Mode::Durable)
        .expect("an amqp endpoint")
        .inbox_expiry(Duration::from_secs(60))
        .keep_inbox_forever();
    let _listener = amqp.listen(&broker()).await.expect("listens");
    for queue in [amqp.inbox(), amqp.dead_letters()] {
        declare_durable(&queue, None)
            .await
            .unwrap_or_else(|err| panic!("{queue} has no expiry: {err}"));
    }
    amqp.delete_inbox().await.expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_of_a_node_go_once_it_has_been_gone_for_the_expiry() {
    let expiry = Duration::from_millis(500);
    let node = unique("expiring");
    let amqp = AmqpTransport::with_inbox(&broker(), &node, Mode::Durable)
        .expect("an amqp endpoint")
        .inbox_expiry(expiry);
    let listener = amqp.listen(&broker()).await.expect("listens");
    let (inbox, dead) = (amqp.inbox(), amqp.dead_letters());
    // While the node runs, neither goes: the inbox has its consumer, and
    // the node renews the lease of its dead-letter queue, which has none.
    let watched = tokio::time::Instant::now() + expiry * 4;
    while tokio::time::Instant::now() < watched {
        assert!(exists(&inbox).await, "the inbox of a running node went");
        assert!(
            exists(&dead).await,
            "the dead-letter queue of a running node went"
        );
        tokio::time::sleep(expiry / 5).await;
    }
    drop(listener);
    amqp.shutdown().await;
    // Gone, both, with nothing else done.
    until_gone(&inbox).await;
    until_gone(&dead).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_queue_deleted_while_the_node_runs_is_made_again() {
    let b = AmqpTransport::with_inbox(&broker(), &unique("dead-again"), Mode::Durable)
        .expect("an amqp endpoint")
        .inbox_expiry(Duration::from_secs(60))
        .delivery_limit(1);
    let a = support::transport(&unique("sender"), Mode::Durable);
    let mut pair = Pair::new(a, b).await;
    let dead = pair.b.dead_letters();
    // Someone deletes it, and the lease's next renewal is a minute away
    // (a third of it, 20 s): the dead letter finds it gone.
    delete(&dead).await;
    assert_eq!(depth(&dead).await, None, "deleted");
    pair.ours
        .sink
        .send(vec![Bytes::from_static(b"poison")])
        .await
        .expect("confirmed");
    let frame = next(&mut pair.theirs)
        .await
        .expect("open")
        .expect("a frame");
    let (payload, ack) = frame.into_parts();
    assert_eq!(&payload[..], b"poison");
    // Its handler failed, and one delivery is the limit.
    ack.expect("durable frames are acknowledged")
        .failed()
        .await
        .expect("told");
    eventually_async("the poison is kept", || async {
        depth(&dead).await == Some(1)
    })
    .await;
    pair.remove().await;
}

/// Deletes `queue` with plain lapin, as an operator could.
async fn delete(queue: &str) {
    let conn = lapin::Connection::connect(support::BROKER, lapin::ConnectionProperties::default())
        .await
        .expect("connects");
    let channel = conn.create_channel().await.expect("a channel");
    channel
        .queue_delete(queue.into(), lapin::options::QueueDeleteOptions::default())
        .await
        .expect("deleted");
    let _ = conn.close(200, "done".into()).await;
}
