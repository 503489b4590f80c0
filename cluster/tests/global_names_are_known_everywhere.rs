//! A global name is given to one process in the whole cluster and known
//! on every node; it is refused to others while held, and free again once
//! released.

mod support;

use beamish_cluster::{RegisterError, UnregisterError};
use beamish_core::transport::LocalNetwork;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_name_registered_on_one_node_is_known_on_all_and_refused_to_others() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    let c = Named::start(&net, "c", &["a"]).await;
    let all = [&a, &b, &c];
    registries_meet(&all).await;

    let on_a = a.holder().await;
    a.global.register("leader", on_a).await.expect("registered");
    // Known everywhere once `register` returns: no waiting.
    assert!(all_say(&all, "leader", Some(on_a)));
    for node in all {
        assert_eq!(node.global.registered(), ["leader"]);
    }
    // Again for the same process: nothing changes.
    a.global
        .register("leader", on_a)
        .await
        .expect("the same holder");

    // Held: refused to a process of another node, and of the same node.
    let on_b = b.holder().await;
    let refused = b.global.register("leader", on_b).await;
    assert_eq!(
        refused,
        Err(RegisterError::Taken {
            name: "leader".into(),
            holder: on_a
        })
    );
    let other_on_a = a.holder().await;
    assert!(matches!(
        a.global.register("leader", other_on_a).await,
        Err(RegisterError::Taken { holder, .. }) if holder == on_a
    ));
    assert!(all_say(&all, "leader", Some(on_a)));

    // Only the holder's node releases it.
    assert_eq!(
        b.global.unregister("leader").await,
        Err(UnregisterError::NotLocal {
            name: "leader".into(),
            holder: on_a
        })
    );
    a.global.unregister("leader").await.expect("released");
    assert_eq!(a.global.whereis("leader"), None);
    eventually("released everywhere", || all_say(&all, "leader", None)).await;
    // Releasing a name nobody holds is no error.
    a.global.unregister("leader").await.expect("nothing to do");

    // Free again: b takes it.
    b.global.register("leader", on_b).await.expect("registered");
    assert!(all_say(&all, "leader", Some(on_b)));
}

#[tokio::test(start_paused = true)]
async fn a_node_registers_only_its_own_live_processes_under_sound_names() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    registries_meet(&[&a, &b]).await;

    let on_b = b.holder().await;
    assert_eq!(
        a.global.register("theirs", on_b).await,
        Err(RegisterError::NotLocal(on_b))
    );
    let on_a = a.holder().await;
    assert_eq!(
        a.global.register("", on_a).await,
        Err(RegisterError::BadName { len: 0 })
    );
    let long = "x".repeat(beamish_cluster::MAX_NAME_LEN + 1);
    assert!(matches!(
        a.global.register(&long, on_a).await,
        Err(RegisterError::BadName { .. })
    ));
    a.node().exit(on_a, beamish_core::ExitReason::Kill);
    let _ = a.node().monitor(on_a).await;
    assert_eq!(
        a.global.register("gone", on_a).await,
        Err(RegisterError::NoProc(on_a))
    );
    assert!(a.global.registered().is_empty() && b.global.registered().is_empty());

    // One process may hold several names.
    let several = a.holder().await;
    a.global.register("one", several).await.expect("registered");
    a.global.register("two", several).await.expect("registered");
    assert_eq!(b.global.registered(), ["one", "two"]);
}

#[tokio::test(start_paused = true)]
async fn a_registry_started_late_learns_the_names_held_already() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let on_a = a.holder().await;
    a.global
        .register("early", on_a)
        .await
        .expect("alone, at once");

    let b = Named::start(&net, "b", &["a"]).await;
    registries_meet(&[&a, &b]).await;
    eventually("b learns the name", || {
        b.global.whereis("early") == Some(on_a)
    })
    .await;
}
