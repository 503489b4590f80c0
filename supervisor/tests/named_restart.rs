//! A named child gets its name back on restart, and nothing sent by name
//! after the restart is lost.

mod support;

use std::time::Duration;

use beamish_core::{ExitReason, SpawnOpts};
use beamish_supervisor::{ChildSpec, Strategy, SupervisorSpec};
use support::*;

#[tokio::test(start_paused = true)]
async fn restarted_child_is_found_by_name() {
    let node = node();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let args = WorkerArgs::new("mailer", &tx);
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(5))
        .child(ChildSpec::worker_opt::<Worker>(
            "mailer",
            SpawnOpts::new().name("mailer"),
            move || args.clone(),
        ));
    let _sup = start(&node, spec).await;
    let (_, first) = next_start(&mut rx).await;
    assert_eq!(node.whereis("mailer"), Some(first));
    for round in 0..3 {
        let old = node.whereis("mailer").expect("registered");
        node.cast_named("mailer", WMsg::Exit(ExitReason::error("crash")))
            .await
            .expect("delivered");
        let (_, new) = next_start(&mut rx).await;
        assert_ne!(new, old, "round {round}");
        assert_eq!(node.whereis("mailer"), Some(new));
        for _ in 0..100 {
            node.cast_named("mailer", WMsg::Count)
                .await
                .expect("delivered");
        }
        let handle = node.named::<WMsg>("mailer").expect("typed");
        assert_eq!(handle.call(WMsg::Total, CALL).await, Ok(100));
    }
}
