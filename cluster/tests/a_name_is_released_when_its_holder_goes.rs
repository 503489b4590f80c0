//! A global name is free again, on every node, once its holder ends, and
//! once its holder's node shuts down or is cut off.

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::ExitReason;
use support::*;

#[tokio::test(start_paused = true)]
async fn a_name_is_released_everywhere_when_its_holder_ends() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    let c = Named::start(&net, "c", &["a"]).await;
    let all = [&a, &b, &c];
    registries_meet(&all).await;

    let holder = b.holder().await;
    b.global
        .register("worker", holder)
        .await
        .expect("registered");
    b.global
        .register("spare", holder)
        .await
        .expect("registered");
    let watch = b.node().monitor(holder);
    b.node().exit(holder, ExitReason::shutdown_with("done"));
    let _ = watch.await;
    eventually("both names released everywhere", || {
        all_say(&all, "worker", None) && all_say(&all, "spare", None)
    })
    .await;

    // Free for another.
    let next = c.holder().await;
    c.global.register("worker", next).await.expect("registered");
    assert!(all_say(&all, "worker", Some(next)));
}

#[tokio::test(start_paused = true)]
async fn a_name_is_released_when_its_node_shuts_down() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    let c = Named::start(&net, "c", &["a"]).await;
    registries_meet(&[&a, &b, &c]).await;

    let holder = c.holder().await;
    c.global
        .register("worker", holder)
        .await
        .expect("registered");
    assert!(all_say(&[&a, &b], "worker", Some(holder)));
    c.node().shutdown(Duration::from_secs(1)).await;
    eventually("released on the others", || {
        all_say(&[&a, &b], "worker", None)
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_name_is_released_where_its_node_is_cut_off() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    let c = Named::start(&net, "c", &["a"]).await;
    registries_meet(&[&a, &b, &c]).await;

    let holder = c.holder().await;
    c.global
        .register("worker", holder)
        .await
        .expect("registered");
    net.partition("a", "c");
    net.partition("b", "c");
    eventually("released where c is lost", || {
        all_say(&[&a, &b], "worker", None)
    })
    .await;
    // c, alone, still has its process holding it.
    assert_eq!(c.global.whereis("worker"), Some(holder));

    // Once healed, every node knows the holder again.
    net.heal("a", "c");
    net.heal("b", "c");
    registries_meet(&[&a, &b, &c]).await;
    eventually("known again everywhere", || {
        all_say(&[&a, &b, &c], "worker", Some(holder))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_names_a_node_spoke_for_go_with_its_registry() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    registries_meet(&[&a, &b]).await;
    let holder = b.holder().await;
    b.global
        .register("worker", holder)
        .await
        .expect("registered");

    b.node().exit(b.global.pid(), ExitReason::Kill);
    eventually("a forgets b's names and b's registry", || {
        a.global.whereis("worker").is_none() && a.global.peers().is_empty()
    })
    .await;
    // Claims on a no longer wait for b.
    let on_a = a.holder().await;
    a.global.register("worker", on_a).await.expect("registered");
}
