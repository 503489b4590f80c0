//! Supervisors are ordinary processes: a tree nests and can be read from
//! the node's introspection (parents, links, the supervisor type) and from
//! each supervisor (children, pids, restart counts).

mod support;

use beamish_core::ExitReason;
use beamish_supervisor::{ChildSpec, Strategy, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_nested_tree_is_visible() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let inner =
        SupervisorSpec::new(Strategy::OneForOne).child(worker(WorkerArgs::new("leaf", &tx)));
    let top = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker(WorkerArgs::new("front", &tx)))
        .child(ChildSpec::supervisor("inner", inner));
    let sup = start(&node, top).await;
    let _ = next_start(&mut rx).await;
    let (_, leaf) = next_start(&mut rx).await;

    let top_info = node.process_info(sup.pid()).expect("alive");
    assert!(
        top_info.process_type.ends_with("Supervisor"),
        "{}",
        top_info.process_type
    );
    assert!(top_info.trap_exit);
    let inner_pid = pid_of(&sup, "inner").await;
    let inner_info = node.process_info(inner_pid).expect("alive");
    assert!(inner_info.process_type.ends_with("Supervisor"));
    assert_eq!(inner_info.parent, Some(sup.pid()));
    assert!(inner_info.links.contains(&sup.pid()));
    let leaf_info = node.process_info(leaf).expect("alive");
    assert_eq!(leaf_info.parent, Some(inner_pid));
    assert!(leaf_info.process_type.ends_with("Worker"));

    // Restart counts come from the supervisors themselves.
    end_and_wait(&node, leaf, ExitReason::error("x")).await;
    let _ = next_start(&mut rx).await;
    let top_children = sup.which_children().await.expect("answers");
    assert_eq!(
        top_children.iter().map(|c| c.restarts).collect::<Vec<_>>(),
        vec![0, 0]
    );
    let inner_ref = node
        .handle::<beamish_supervisor::SupervisorMsg>(inner_pid)
        .expect("a supervisor");
    let inner_children = inner_ref
        .call(beamish_supervisor::SupervisorMsg::WhichChildren, CALL)
        .await
        .expect("answers");
    assert_eq!(inner_children[0].restarts, 1);
    assert_eq!(node.processes().len(), 4);
}
