//! A broadcast reaches every member exactly once (twice for one listed
//! twice), on this node by a cast and on each other node through one
//! frame, however many members it has there.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use beamish_cluster::pg::BroadcastFailure;
use beamish_core::transport::LocalNetwork;
use beamish_core::{LookupError, Pid};
use support::pg::{all_list, Counting, PgMember, Sent};
use support::*;
use tokio::sync::mpsc;

/// What each worker received, until `total` messages came.
async fn receive(
    seen: &mut mpsc::UnboundedReceiver<(Pid, String)>,
    total: usize,
) -> HashMap<Pid, Vec<String>> {
    let mut got: HashMap<Pid, Vec<String>> = HashMap::new();
    for _ in 0..total {
        let (pid, msg) = tokio::time::timeout(SETTLE, seen.recv())
            .await
            .expect("in time")
            .expect("a message");
        got.entry(pid).or_default().push(msg);
    }
    got
}

#[tokio::test(start_paused = true)]
async fn every_member_gets_it_once_through_one_frame_per_node() {
    let net = LocalNetwork::new();
    let sent = Sent::of::<String>();
    let counting = Counting {
        inner: net.transport("a"),
        sent: Arc::clone(&sent),
    };
    let a = PgMember::with(Member::start_with(counting, "a", &[]).await).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    let c = PgMember::start(&net, "c", &["a"]).await;
    mesh(&[&a.member, &b.member, &c.member]).await;

    let (tx, mut seen) = mpsc::unbounded_channel();
    let on_a: Vec<_> = (0..2).map(|_| a.worker(&tx)).collect();
    let on_b: Vec<_> = (0..5).map(|_| b.worker(&tx)).collect();
    let on_c = c.worker(&tx);
    a.scope
        .join("g", &on_a.iter().map(|w| w.pid()).collect::<Vec<_>>())
        .await
        .expect("joins");
    b.scope
        .join("g", &on_b.iter().map(|w| w.pid()).collect::<Vec<_>>())
        .await
        .expect("joins");
    // Listed twice: it gets the message twice.
    c.scope
        .join("g", &[on_c.pid(), on_c.pid()])
        .await
        .expect("joins");
    let mut all: Vec<Pid> = on_a.iter().chain(&on_b).map(|w| w.pid()).collect();
    all.extend([on_c.pid(), on_c.pid()]);
    eventually("all list the group", || all_list(&[&a, &b, &c], "g", &all)).await;

    let before = (sent.single(), sent.multicast());
    let count = a
        .scope
        .broadcast("g", &"hello".to_owned())
        .await
        .expect("sent to all");
    assert_eq!(count, 9);
    let got = receive(&mut seen, 9).await;
    assert_eq!(got.len(), 8, "every worker: {got:?}");
    for worker in on_a.iter().chain(&on_b) {
        assert_eq!(got[&worker.pid()], ["hello"], "once each");
    }
    assert_eq!(got[&on_c.pid()], ["hello", "hello"], "once per listing");
    tokio::time::sleep(POLL).await;
    assert!(seen.try_recv().is_err(), "nothing more");
    assert_eq!(
        (sent.single() - before.0, sent.multicast() - before.1),
        (0, 2),
        "one frame to b, one to c, none per member"
    );
}

#[tokio::test(start_paused = true)]
async fn a_multicast_keeps_its_order_with_what_the_same_sender_sends_after() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let b = PgMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let workers: Vec<_> = (0..3).map(|_| b.worker(&tx)).collect();
    let pids: Vec<Pid> = workers.iter().map(|w| w.pid()).collect();
    b.scope.join("g", &pids).await.expect("joins");
    eventually("a lists them", || a.scope.members("g").len() == 3).await;

    for round in 0..20 {
        a.scope
            .broadcast("g", &format!("all {round}"))
            .await
            .expect("sent");
        a.node()
            .send_remote(pids[1], &format!("one {round}"))
            .expect("sent");
    }
    let got = receive(&mut seen, 20 * 4).await;
    let expected: Vec<String> = (0..20)
        .flat_map(|round| [format!("all {round}"), format!("one {round}")])
        .collect();
    assert_eq!(got[&pids[1]], expected, "in the order sent");
    assert_eq!(got[&pids[0]].len(), 20);
}

#[tokio::test(start_paused = true)]
async fn what_could_not_be_sent_is_reported() {
    let net = LocalNetwork::new();
    let a = PgMember::start(&net, "a", &[]).await;
    let alive = a.idle();
    let (tx, _seen) = mpsc::unbounded_channel::<(Pid, String)>();
    // A member taking another message type than the broadcast's.
    let other = a.node().spawn::<support::pg::Worker>(tx).expect("spawns");
    a.scope
        .join("g", &[alive.pid(), other.pid()])
        .await
        .expect("joins");
    let failed = a
        .scope
        .broadcast("g", &7_u64)
        .await
        .expect_err("wrong type");
    assert_eq!(failed.sent, 0);
    assert_eq!(failed.failures.len(), 2);
    assert!(failed.failures.iter().all(|failure| matches!(
        failure,
        BroadcastFailure::Local(LookupError::WrongType { .. })
    )));
    assert_eq!(a.scope.broadcast("g", &"fine".to_owned()).await, Ok(2));
    assert_eq!(a.scope.broadcast("nobody", &"fine".to_owned()).await, Ok(0));
}
