//! The AMQP transport on its own, through the broker on 127.0.0.1:5672:
//! unroutable openings, order within a session in both modes, redelivery
//! of unacknowledged frames to a node's next life and of frames dropped
//! unhandled, the delivery limit and dead letters, the frame limit, one node per name, and a dropped transport
//! leaving the broker. Without a broker these tests fail; they
//! never skip.

mod support;

use beamish_core::transport::{Transport, TransportError};
use beamish_transport_amqp::Mode;
use bytes::Bytes;
use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use support::{at, broker, next, secret, transport, unique, Pair, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_session_to_a_node_without_an_inbox_is_unreachable() {
    let a = transport(&unique("lonely"), Mode::Fast);
    let got = a.connect(&at(&unique("nobody"))).await;
    assert!(
        matches!(&got, Err(TransportError::Unreachable(why)) if why.contains("no inbox")),
        "{got:?}"
    );
    let unnamed = a.connect(&broker()).await;
    assert!(matches!(unnamed, Err(TransportError::Io(why)) if why.contains("names no node")));
    a.delete_inbox().await.expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_session_to_a_durable_node_that_is_down_is_unreachable() {
    let down = unique("down");
    let b = transport(&down, Mode::Durable);
    let listener = b.listen(&broker()).await.expect("listens");
    b.shutdown().await;
    drop(listener);
    // Its inbox stays, with no one consuming it.
    let a = transport(&unique("caller"), Mode::Durable);
    let got = a.connect(&at(&down)).await;
    assert!(
        matches!(&got, Err(TransportError::Unreachable(why)) if why.contains("is down")),
        "{got:?}"
    );
    a.delete_inbox().await.expect("deleted");
    b.delete_inbox().await.expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_order_in_both_modes() {
    for mode in [Mode::Fast, Mode::Durable] {
        let (server, client) = (unique("server"), unique("client"));
        let b = transport(&server, mode);
        let a = transport(&client, mode);
        let mut pair = Pair::new(a, b).await;
        assert_eq!(pair.listener.endpoint(), at(&server));
        for batch in 0..10_u32 {
            let frames = (0..50)
                .map(|i| Bytes::from((batch * 50 + i).to_string()))
                .collect();
            pair.ours.sink.send(frames).await.expect("sent");
        }
        for n in 0..500_u32 {
            let frame = next(&mut pair.theirs)
                .await
                .expect("open")
                .expect("a frame");
            assert_eq!(frame.needs_ack(), mode == Mode::Durable);
            assert_eq!(&frame.payload[..], n.to_string().as_bytes(), "{mode:?}");
            frame.ack().await.expect("acknowledged");
        }
        // And back.
        pair.theirs
            .sink
            .send(vec![Bytes::from_static(b"back")])
            .await
            .expect("sent");
        let back = next(&mut pair.ours).await.expect("open").expect("a frame");
        assert_eq!(&back.payload[..], b"back");
        back.ack().await.expect("acknowledged");
        pair.ours.sink.close().await;
        assert!(next(&mut pair.theirs)
            .await
            .expect("an orderly end")
            .is_none());
        pair.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_frames_reach_the_nodes_next_life() {
    let (server, client) = (unique("crashing"), unique("sender"));
    let first = transport(&server, Mode::Durable);
    let a = transport(&client, Mode::Durable);
    // Frames left from an earlier life are taken only if signed with the
    // cluster's key, which a node hands its transports when it joins.
    a.use_secret(secret());
    let Pair {
        a,
        b: first,
        listener,
        mut ours,
        mut theirs,
    } = Pair::new(a, first).await;
    let frames: Vec<Bytes> = ["one", "two", "three"]
        .iter()
        .map(|text| Bytes::from_static(text.as_bytes()))
        .collect();
    ours.sink.send(frames).await.expect("confirmed");
    // The first is handled and acknowledged; two arrive, unhandled, when
    // the node dies: its broker connection goes.
    let one = next(&mut theirs).await.expect("open").expect("a frame");
    one.ack().await.expect("acknowledged");
    let mut unhandled = Vec::new();
    for _ in 0..2 {
        unhandled.push(next(&mut theirs).await.expect("open").expect("a frame"));
    }
    first.shutdown().await;
    drop((listener, theirs, unhandled, first));

    let second =
        transport(&server, Mode::Durable).resumed_idle(std::time::Duration::from_millis(300));
    second.use_secret(secret());
    let mut listener = second.listen(&broker()).await.expect("listens again");
    let mut resumed = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("a resumed session");
    assert_eq!(resumed.resumed_from.as_deref(), Some(client.as_str()));
    for want in ["two", "three"] {
        let frame = next(&mut resumed).await.expect("open").expect("a frame");
        assert_eq!(&frame.payload[..], want.as_bytes());
        frame.ack().await.expect("acknowledged");
    }
    assert!(
        resumed.sink.send(vec![Bytes::new()]).await.is_err(),
        "a resumed session only delivers"
    );
    // Nothing more comes: it ends.
    assert!(next(&mut resumed).await.expect("an end").is_none());
    a.delete_inbox().await.expect("deleted");
    second.delete_inbox().await.expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_dropped_unhandled_comes_again() {
    let b = transport(&unique("dropping"), Mode::Durable);
    let a = transport(&unique("patient"), Mode::Durable);
    let mut pair = Pair::new(a, b).await;
    let frames = ["one", "two"].map(|text| Bytes::from_static(text.as_bytes()));
    pair.ours
        .sink
        .send(frames.to_vec())
        .await
        .expect("confirmed");
    let one = next(&mut pair.theirs)
        .await
        .expect("open")
        .expect("a frame");
    one.ack().await.expect("acknowledged");
    // Its handler failed: dropped without an acknowledgement.
    let two = next(&mut pair.theirs)
        .await
        .expect("open")
        .expect("a frame");
    assert_eq!(&two.payload[..], b"two");
    drop(two);
    let again = next(&mut pair.theirs).await.expect("open").expect("again");
    assert_eq!(&again.payload[..], b"two");
    again.ack().await.expect("acknowledged");
    pair.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_whose_handler_always_fails_comes_as_often_as_the_limit_allows() {
    let b = transport(&unique("failing"), Mode::Durable).delivery_limit(3);
    let a = transport(&unique("persistent"), Mode::Durable);
    let mut pair = Pair::new(a, b).await;
    let frames = ["poison", "fine"].map(|text| Bytes::from_static(text.as_bytes()));
    pair.ours
        .sink
        .send(frames.to_vec())
        .await
        .expect("confirmed");
    let mut poisoned = 0;
    let mut fine = false;
    while poisoned < 3 || !fine {
        let frame = next(&mut pair.theirs)
            .await
            .expect("open")
            .expect("a frame");
        let (payload, ack) = frame.into_parts();
        let ack = ack.expect("durable frames are acknowledged");
        if &payload[..] == b"poison" {
            poisoned += 1;
            assert!(poisoned <= 3, "delivered past the limit");
            // Its handler failed again.
            ack.failed().await.expect("told");
        } else {
            assert_eq!(&payload[..], b"fine");
            fine = true;
            ack.ack().await.expect("acknowledged");
        }
    }
    // Given up: what comes next is what was sent next, never the poison.
    pair.ours
        .sink
        .send(vec![Bytes::from_static(b"after")])
        .await
        .expect("confirmed");
    let after = next(&mut pair.theirs)
        .await
        .expect("open")
        .expect("a frame");
    assert_eq!(&after.payload[..], b"after");
    after.ack().await.expect("acknowledged");
    // The poison is kept, not lost: in b's dead-letter queue, saying how
    // often it failed.
    let kept = dead_letter(&pair.b.dead_letters()).await;
    assert_eq!(&kept.data[..], b"poison");
    let headers = kept.properties.headers().clone().expect("headers");
    let failures = headers
        .inner()
        .get("x-beamish-failures")
        .expect("the failures");
    assert_eq!(*failures, AMQPValue::LongUInt(3));
    pair.remove().await;
}

/// The next message in the queue `queue`, taken with a connection of its
/// own; fails the test if there is none.
async fn dead_letter(queue: &str) -> lapin::message::BasicGetMessage {
    let conn = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("connects");
    let channel = conn.create_channel().await.expect("a channel");
    let message = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("asked")
        .expect("a dead letter");
    let _ = conn.close(200, "done".into()).await;
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_is_refused_both_ways() {
    for mode in [Mode::Fast, Mode::Durable] {
        let b = transport(&unique("small"), mode).max_frame(16);
        let a = transport(&unique("big"), mode).max_frame(64);
        let mut pair = Pair::new(a, b).await;
        // The sender refuses what is over its own limit.
        let refused = pair.ours.sink.send(vec![Bytes::from(vec![0_u8; 65])]).await;
        assert!(
            matches!(&refused, Err(TransportError::Io(why)) if why.contains("exceeds")),
            "{refused:?}"
        );
        // The receiver ends the session over a frame over its limit.
        pair.ours
            .sink
            .send(vec![Bytes::from(vec![0_u8; 40])])
            .await
            .expect("sent");
        let got = next(&mut pair.theirs).await;
        assert!(
            matches!(&got, Err(TransportError::Closed(why)) if why.contains("limit")),
            "{mode:?}: {got:?}"
        );
        pair.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transport_leaves_the_broker() {
    for mode in [Mode::Fast, Mode::Durable] {
        let gone = unique("dropped");
        let b = transport(&gone, mode);
        let listener = b.listen(&broker()).await.expect("listens");
        let a = transport(&unique("prober"), mode);
        let session = a.connect(&at(&gone)).await.expect("b is there");
        drop(session);
        drop((listener, b));
        // Its connection closes: its inbox goes (fast) or is left without
        // a consumer (durable), and it is unreachable.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match a.connect(&at(&gone)).await {
                Err(TransportError::Unreachable(_)) => break,
                other => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{mode:?}: still reachable: {other:?}"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
        a.delete_inbox().await.expect("deleted");
        transport(&gone, mode)
            .delete_inbox()
            .await
            .expect("deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_of_the_same_name_is_refused() {
    for mode in [Mode::Fast, Mode::Durable] {
        let name = unique("twin");
        let first = transport(&name, mode);
        let _listening = first.listen(&broker()).await.expect("listens");
        let second = transport(&name, mode);
        let got = second.listen(&broker()).await;
        assert!(
            matches!(&got, Err(TransportError::InUse(why)) if why.contains(&name)),
            "{mode:?}: {got:?}"
        );
        // The first one goes on serving.
        let a = transport(&unique("caller"), mode);
        a.connect(&at(&name)).await.expect("the first one answers");
        for transport in [a, second, first] {
            transport.delete_inbox().await.expect("deleted");
        }
    }
}
