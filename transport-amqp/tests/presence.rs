//! Presence through the broker: a node that goes away without closing its
//! sessions (its broker connection gone, as when it is killed) is seen
//! gone by its peers through the broker, in both modes, before any
//! heartbeat would tell. Without a broker these tests fail; they never
//! skip.

mod support;

use std::time::Duration;

use beamish_core::transport::TransportError;
use beamish_transport_amqp::Mode;
use support::{next, transport, unique, Pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_vanishes_is_lost_through_the_broker() {
    for mode in [Mode::Fast, Mode::Durable] {
        let b = transport(&unique("vanishing"), mode);
        let a = transport(&unique("watching"), mode).presence_interval(Duration::from_millis(100));
        let mut pair = Pair::new(a, b).await;
        // Alive: nothing is lost over several checks.
        pair.ours
            .sink
            .send(vec![bytes::Bytes::from_static(b"ping")])
            .await
            .expect("sent");
        let ping = next(&mut pair.theirs)
            .await
            .expect("open")
            .expect("a frame");
        ping.ack().await.expect("acknowledged");
        // Gone, without a word on the session.
        pair.b.shutdown().await;
        let got = next(&mut pair.ours).await;
        assert!(
            matches!(&got, Err(TransportError::Closed(why)) if why.contains("no longer consumes")),
            "{mode:?}: {got:?}"
        );
        pair.remove().await;
    }
}
