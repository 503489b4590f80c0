//! The task supervisor (Elixir's `Task.Supervisor`): futures run as
//! supervised, temporary processes; `async_nolink` results are awaited
//! with a timeout and a crash comes back as its reason.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beamish_core::{ExitReason, Node, SpawnOpts};
use beamish_supervisor::{
    ChildSpec, DynamicError, Shutdown, Strategy, SupervisorSpec, TaskError, TaskSpec,
    TaskSupervisor,
};
use support::*;
use tokio::sync::oneshot;

async fn tasks(spec: TaskSpec) -> (Node, TaskSupervisor) {
    let node = node();
    let sup = TaskSupervisor::start(&node, spec, SpawnOpts::new())
        .await
        .expect("starts");
    (node, sup)
}

#[tokio::test(start_paused = true)]
async fn a_task_yields_its_result() {
    let (node, sup) = tasks(TaskSpec::new()).await;
    let task = sup
        .async_nolink(async { "done".to_owned() })
        .await
        .expect("starts");
    let ended = node.monitor(task.pid());
    assert_eq!(
        task.join(Duration::from_secs(1)).await,
        Ok("done".to_owned())
    );
    assert_eq!(ended.await, ExitReason::Normal);
    assert_eq!(sup.count_children().await.expect("answers").active, 0);
    assert!(node.is_alive(sup.pid()));
}

#[tokio::test(start_paused = true)]
async fn a_crash_comes_back_as_its_reason_and_is_not_restarted() {
    let (node, sup) = tasks(TaskSpec::new()).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let task = sup
        .async_nolink(async move {
            counted.fetch_add(1, Ordering::SeqCst);
            panic!("bad input");
        })
        .await
        .expect("starts");
    assert_eq!(
        task.join(Duration::from_secs(1)).await,
        Err(TaskError::Exited(ExitReason::Panic("bad input".into())))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1, "temporary: run once");
    assert!(node.is_alive(sup.pid()), "a crashed task is not escalated");
    assert!(sup.which_children().await.expect("answers").is_empty());
}

/// The bug a permanent dynamic child had: a one-shot worker that finished
/// was started again and again until the intensity took the tree down.
#[tokio::test(start_paused = true)]
async fn finished_work_is_not_run_again() {
    let (node, sup) = tasks(TaskSpec::new()).await;
    let (done_tx, done) = oneshot::channel();
    let pid = sup
        .start_child(async move {
            let _ = done_tx.send(());
        })
        .await
        .expect("starts");
    let ended = node.monitor(pid);
    done.await.expect("the task ran");
    let reason = ended.await;
    assert!(
        matches!(reason, ExitReason::Normal | ExitReason::NoProc),
        "it ended once done: {reason:?}"
    );
    for _ in 0..3 {
        let (tx, rx) = oneshot::channel();
        let pid = sup
            .start_child(async move {
                let _ = tx.send(());
            })
            .await
            .expect("starts");
        let ended = node.monitor(pid);
        rx.await.expect("ran");
        ended.await;
    }
    // A restarted runner would be counted, waiting for a job that never
    // comes again.
    assert_eq!(sup.count_children().await.expect("answers").active, 0);
    assert!(node.is_alive(sup.pid()));
}

#[tokio::test(start_paused = true)]
async fn a_slow_task_times_out_and_runs_on() {
    let (_node, sup) = tasks(TaskSpec::new()).await;
    let task = sup
        .async_nolink(async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            1
        })
        .await
        .expect("starts");
    let pid = task.pid();
    assert_eq!(
        task.join(Duration::from_secs(1)).await,
        Err(TaskError::Timeout)
    );
    assert_eq!(sup.which_children().await.expect("answers"), vec![pid]);
}

#[tokio::test(start_paused = true)]
async fn running_tasks_are_listed_counted_and_limited() {
    let (_node, sup) = tasks(TaskSpec::new().max_children(2)).await;
    let (release, gate) = tokio::sync::watch::channel(false);
    let mut joined = Vec::new();
    for n in 0..2_u32 {
        let mut gate = gate.clone();
        let task = sup
            .async_nolink(async move {
                let _ = gate.wait_for(|open| *open).await;
                n
            })
            .await
            .expect("starts");
        joined.push(task);
    }
    let pids: Vec<_> = joined.iter().map(|t| t.pid()).collect();
    assert_eq!(sup.which_children().await.expect("answers"), pids);
    let counts = sup.count_children().await.expect("answers");
    assert_eq!((counts.active, counts.workers), (2, 2));
    assert_eq!(
        sup.start_child(async {}).await,
        Err(DynamicError::Full { max: 2 })
    );
    release.send(true).expect("tasks wait");
    let mut results = Vec::new();
    for task in joined {
        results.push(task.join(Duration::from_secs(1)).await.expect("finishes"));
    }
    assert_eq!(results, vec![0, 1]);
}

#[tokio::test(start_paused = true)]
async fn stopping_the_supervisor_stops_its_tasks() {
    let (node, sup) = tasks(TaskSpec::new().shutdown(Shutdown::BrutalKill)).await;
    let task = sup
        .async_nolink(std::future::pending::<()>())
        .await
        .expect("starts");
    sup.stop(ExitReason::Shutdown, Duration::from_secs(5))
        .await
        .expect("stops");
    assert_eq!(
        task.join(Duration::from_secs(1)).await,
        Err(TaskError::Exited(ExitReason::Killed))
    );
    assert_eq!(node.stats().processes, 0);
}

#[tokio::test(start_paused = true)]
async fn a_task_supervisor_in_a_tree_is_found_by_name() {
    let node = node();
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::task_supervisor_opt(
        "tasks",
        SpawnOpts::new().name("tasks"),
        TaskSpec::new(),
    ));
    let top = start(&node, spec).await;
    let sup = TaskSupervisor::named(&node, "tasks").expect("registered");
    assert_eq!(pid_of(&top, "tasks").await, sup.pid());
    let task = sup.async_nolink(async { 6 * 7 }).await.expect("starts");
    assert_eq!(task.join(Duration::from_secs(1)).await, Ok(42));
}
