//! An address for a global name (Erlang's `{via, global, Name}`) finds
//! the holder on every send: it follows the name from a process on one
//! node to one on another, and a send while nobody holds it says so.

mod support;

use std::time::Duration;

use beamish_cluster::GlobalAddr;
use beamish_core::transport::LocalNetwork;
use beamish_core::{Addr, CallError, CastError, ExitReason};
use support::*;

const CALL: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn an_addr_for_a_global_name_follows_it_to_a_new_holder() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    let c = Named::start(&net, "c", &["a"]).await;
    registries_meet(&[&a, &b, &c]).await;
    let service: Addr<Who> = Addr::global(&a.global, "service");

    // Nobody holds it yet.
    assert_eq!(
        service.cast(Who::Note("early".into())).await,
        Err(CastError::NoProc)
    );
    assert!(matches!(
        service.call(Who::Ask, CALL).await,
        Err(CallError::NoProc)
    ));

    // Held on b: reached from a.
    let on_b = b.holder().await;
    b.global
        .register("service", on_b)
        .await
        .expect("registered");
    service.cast(Who::Note("to b".into())).await.expect("sent");
    assert_eq!(service.call(Who::Ask, CALL).await, Ok(on_b));
    assert_eq!(
        service.call(Who::Notes, CALL).await,
        Ok(vec!["to b".to_owned()])
    );

    // Its holder ends and one on c takes the name: the same address
    // reaches it.
    b.node().exit(on_b, ExitReason::Kill);
    eventually("released on a", || a.global.whereis("service").is_none()).await;
    let on_c = c.holder().await;
    c.global
        .register("service", on_c)
        .await
        .expect("registered");
    assert_eq!(service.call(Who::Ask, CALL).await, Ok(on_c));

    // And to a process of a itself, without leaving the node.
    c.global.unregister("service").await.expect("released");
    eventually("released on a", || a.global.whereis("service").is_none()).await;
    let on_a = a.holder().await;
    a.global
        .register("service", on_a)
        .await
        .expect("registered");
    service.try_cast(Who::Note("here".into())).expect("sent");
    assert_eq!(service.call(Who::Ask, CALL).await, Ok(on_a));
    assert_eq!(
        a.global.addr::<Who>("service").call(Who::Notes, CALL).await,
        Ok(vec!["here".to_owned()])
    );
}
