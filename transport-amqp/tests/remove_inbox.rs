//! `remove_inbox` deletes the queues a node left, by its name, with what
//! they hold; it leaves a running node's alone. Through the broker on
//! 127.0.0.1:5672: without one they fail; they never skip.

mod support;

use beamish_core::dist::Endpoint;
use beamish_core::transport::Transport;
use beamish_transport_amqp::{remove_inbox, AmqpTransport, Mode, RemoveInboxError};
use lapin::BasicProperties;
use support::{broker, depth, publish_raw, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_of_a_node_that_is_gone_are_removed_with_what_they_hold() {
    let node = unique("retired");
    let amqp = AmqpTransport::with_inbox(&broker(), &node, Mode::Durable)
        .expect("an amqp endpoint")
        .keep_inbox_forever();
    let listener = amqp.listen(&broker()).await.expect("listens");
    drop(listener);
    amqp.shutdown().await;
    // Sent while it is gone: kept in its inbox.
    let waiting = (0..3)
        .map(|i| (vec![i], BasicProperties::default()))
        .collect();
    publish_raw(&node, waiting).await;
    let (inbox, dead) = (amqp.inbox(), amqp.dead_letters());
    assert_eq!(depth(&inbox).await, Some(3));
    assert_eq!(depth(&dead).await, Some(0));

    // Named as a node's endpoint, with ?node=, is the same broker.
    let at: Endpoint = format!("{}?node=someone", support::BROKER)
        .parse()
        .expect("valid");
    let removed = remove_inbox(&at, &node).await.expect("removed");
    assert_eq!(removed.inbox, Some(3), "the inbox and what it held");
    assert_eq!(removed.dead_letters, Some(0), "the dead-letter queue");
    assert_eq!(depth(&inbox).await, None, "no inbox");
    assert_eq!(depth(&dead).await, None, "no dead-letter queue");

    // Again: nothing to remove, and no error.
    let again = remove_inbox(&broker(), &node).await.expect("nothing left");
    assert_eq!((again.inbox, again.dead_letters), (None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_of_a_running_node_stay() {
    let node = unique("running");
    let amqp = support::transport(&node, Mode::Durable);
    let _listener = amqp.listen(&broker()).await.expect("listens");
    match remove_inbox(&broker(), &node).await {
        Err(RemoveInboxError::InUse { node: named, queue }) => {
            assert_eq!(named, node);
            assert_eq!(queue, amqp.inbox());
        }
        other => panic!("a running node's inbox was not refused: {other:?}"),
    }
    assert_eq!(depth(&amqp.inbox()).await, Some(0), "the inbox stays");
    assert_eq!(
        depth(&amqp.dead_letters()).await,
        Some(0),
        "the dead-letter queue stays"
    );
    amqp.delete_inbox().await.expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_needs_an_amqp_broker_that_answers() {
    let tcp: Endpoint = "tcp://127.0.0.1:4369".parse().expect("valid");
    assert!(matches!(
        remove_inbox(&tcp, "any").await,
        Err(RemoveInboxError::NotAmqp(_))
    ));
    // Nothing listens on port 1; the password is not in the error.
    let nowhere: Endpoint = "amqp://guest:hunter2@127.0.0.1:1/%2f"
        .parse()
        .expect("valid");
    match remove_inbox(&nowhere, "any").await {
        Err(err @ RemoveInboxError::Unreachable { .. }) => {
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        other => panic!("not unreachable: {other:?}"),
    }
}
