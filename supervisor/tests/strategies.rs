//! The three strategies: which siblings are stopped and restarted, and in
//! which order.

mod support;

use std::time::Duration;

use beamish_core::ExitReason;
use beamish_supervisor::{Strategy, SupervisorSpec};
use support::*;

fn spec(strategy: Strategy, events: &tokio::sync::mpsc::UnboundedSender<Ev>) -> SupervisorSpec {
    SupervisorSpec::new(strategy)
        .intensity(10, Duration::from_secs(5))
        .child(worker(WorkerArgs::new("a", events).trapping()))
        .child(worker(WorkerArgs::new("b", events).trapping()))
        .child(worker(WorkerArgs::new("c", events).trapping()))
}

async fn started_in_order(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Ev>,
) -> Vec<beamish_core::Pid> {
    let mut pids = Vec::new();
    for id in ["a", "b", "c"] {
        match next(rx).await {
            Ev::Started(got, pid) => {
                assert_eq!(got, id, "children start in order");
                pids.push(pid);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    pids
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_child() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, spec(Strategy::OneForOne, &tx)).await;
    let old = started_in_order(&mut rx).await;
    end(&node, old[1], ExitReason::error("b broke")).await;
    assert_eq!(
        next(&mut rx).await,
        Ev::Stopped("b", old[1], ExitReason::error("b broke"))
    );
    let Ev::Started("b", new_b) = next(&mut rx).await else {
        panic!("b restarts");
    };
    assert_ne!(new_b, old[1]);
    let now: Vec<_> = pids(&sup).await.into_iter().map(|(_, p)| p).collect();
    assert_eq!(now, vec![Some(old[0]), Some(new_b), Some(old[2])]);
    let info = sup.which_children().await.expect("answers");
    assert_eq!(
        info.iter().map(|c| c.restarts).collect::<Vec<_>>(),
        vec![0, 1, 0]
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_and_restarts_all_in_order() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, spec(Strategy::OneForAll, &tx)).await;
    let old = started_in_order(&mut rx).await;
    end(&node, old[1], ExitReason::error("b broke")).await;
    assert_eq!(
        next(&mut rx).await,
        Ev::Stopped("b", old[1], ExitReason::error("b broke"))
    );
    assert_eq!(
        next(&mut rx).await,
        Ev::Stopped("c", old[2], ExitReason::Shutdown)
    );
    assert_eq!(
        next(&mut rx).await,
        Ev::Stopped("a", old[0], ExitReason::Shutdown)
    );
    let new = started_in_order(&mut rx).await;
    for (o, n) in old.iter().zip(&new) {
        assert_ne!(o, n);
    }
    assert_eq!(sup.count_children().await.expect("answers").active, 3);
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_child_and_those_after_it() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, spec(Strategy::RestForOne, &tx)).await;
    let old = started_in_order(&mut rx).await;
    end(&node, old[1], ExitReason::error("b broke")).await;
    assert_eq!(
        next(&mut rx).await,
        Ev::Stopped("b", old[1], ExitReason::error("b broke"))
    );
    assert_eq!(
        next(&mut rx).await,
        Ev::Stopped("c", old[2], ExitReason::Shutdown)
    );
    let Ev::Started("b", new_b) = next(&mut rx).await else {
        panic!("b restarts first");
    };
    let Ev::Started("c", new_c) = next(&mut rx).await else {
        panic!("then c");
    };
    let now: Vec<_> = pids(&sup).await.into_iter().map(|(_, p)| p).collect();
    assert_eq!(now, vec![Some(old[0]), Some(new_b), Some(new_c)]);
}

#[tokio::test(start_paused = true)]
async fn a_crash_during_a_restart_is_handled_after_it() {
    // c crashes while the supervisor is still busy with b's crash: its
    // exit waits in the supervisor's mailbox and is handled next.
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sup = start(&node, spec(Strategy::OneForOne, &tx)).await;
    let old = started_in_order(&mut rx).await;
    end(&node, old[1], ExitReason::error("b")).await;
    end(&node, old[2], ExitReason::error("c")).await;
    let mut restarted = Vec::new();
    while restarted.len() < 2 {
        if let Ev::Started(id, _) = next(&mut rx).await {
            restarted.push(id);
        }
    }
    restarted.sort_unstable();
    assert_eq!(restarted, vec!["b", "c"]);
    let counts = sup.count_children().await.expect("answers");
    assert_eq!((counts.specs, counts.active), (3, 3));
}

#[tokio::test(start_paused = true)]
async fn a_crash_while_another_child_restarts_waits_its_turn() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(60))
        .child(worker(
            WorkerArgs::new("slow", &tx).slow(Duration::from_secs(1)),
        ))
        .child(worker(WorkerArgs::new("quick", &tx)));
    let sup = start(&node, spec).await;
    let (_, slow) = next_start(&mut rx).await;
    let (_, quick) = next_start(&mut rx).await;
    end_and_wait(&node, slow, ExitReason::error("slow broke")).await;
    // The supervisor is now inside the slow child's restart (its init
    // takes a second); quick crashes meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    end_and_wait(&node, quick, ExitReason::error("quick broke")).await;
    let started = tokio::time::Instant::now();
    assert_eq!(next_start(&mut rx).await.0, "slow");
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    assert_eq!(next_start(&mut rx).await.0, "quick");
    let children = sup.which_children().await.expect("answers");
    assert!(children.iter().all(|c| c.pid.is_some() && c.restarts == 1));
}
