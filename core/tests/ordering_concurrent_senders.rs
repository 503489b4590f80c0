//! Per pair of processes, messages arrive in send order, however many
//! senders there are.

mod support;

use std::collections::HashMap;

use beamish_core::Pid;
use support::*;

const SENDERS: u64 = 8;
const EACH: u64 = 2_000;

/// Each sender sends `sender * 1_000_000 + seq`; checks every sender's
/// sequence arrives complete and in order.
async fn check_order(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>, receiver: Pid) {
    let mut last: HashMap<u64, u64> = HashMap::new();
    let mut seen = 0;
    while seen < SENDERS * EACH {
        match next(rx).await {
            Event::Got(pid, n) => {
                assert_eq!(pid, receiver);
                let (sender, seq) = (n / 1_000_000, n % 1_000_000);
                let expected = last.get(&sender).map_or(0, |s| s + 1);
                assert_eq!(seq, expected, "sender {sender} out of order");
                last.insert(sender, seq);
                seen += 1;
            }
            Event::Started(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(last.len() as u64, SENDERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_keep_their_order() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let receiver = probe(&node, ProbeArgs::new(&tx)).await;
    let _ = next(&mut rx).await;
    for sender in 0..SENDERS {
        let receiver = receiver.clone();
        tokio::spawn(async move {
            for seq in 0..EACH {
                receiver
                    .cast(Cmd::Num(sender * 1_000_000 + seq))
                    .await
                    .expect("alive");
                if seq % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    check_order(&mut rx, receiver.pid()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_processes_keep_their_order() {
    let node = TestNode::new();
    let (tx, mut rx) = events();
    let (quiet_tx, _quiet_rx) = events();
    let receiver = probe(&node, ProbeArgs::new(&tx)).await;
    let _ = next(&mut rx).await;
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        senders.push(probe(&node, ProbeArgs::new(&quiet_tx)).await);
    }
    // Interleave: every sender process is told to forward its next number
    // in turn, so their sends race each other.
    for seq in 0..EACH {
        for (i, sender) in senders.iter().enumerate() {
            sender
                .cast(Cmd::Forward(receiver.clone(), i as u64 * 1_000_000 + seq))
                .await
                .expect("alive");
        }
    }
    check_order(&mut rx, receiver.pid()).await;
}
