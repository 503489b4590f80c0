//! The local registry: register, whereis, unregister; names are freed
//! before an exit is heard of; typed lookups fail clearly.

mod support;

use beamish_core::{ExitReason, LookupError, NamedSendError, RegisterError, SpawnOpts};
use support::*;

#[tokio::test(start_paused = true)]
async fn register_whereis_unregister() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = probe(&node, ProbeArgs::new(&tx)).await;
    assert_eq!(node.whereis("mailer"), None);
    node.register("mailer", p.pid()).expect("free name");
    assert_eq!(node.whereis("mailer"), Some(p.pid()));
    assert_eq!(node.registered(), vec![("mailer".into(), p.pid())]);
    assert_eq!(
        node.process_info(p.pid()).expect("alive").name.as_deref(),
        Some("mailer")
    );
    assert_eq!(node.unregister("mailer"), Some(p.pid()));
    assert_eq!(node.whereis("mailer"), None);
    assert_eq!(node.unregister("mailer"), None);
    assert_eq!(node.process_info(p.pid()).expect("alive").name, None);
}

#[tokio::test(start_paused = true)]
async fn taken_names_and_second_names_are_refused() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let a = probe(&node, ProbeArgs::new(&tx)).await;
    let b = probe(&node, ProbeArgs::new(&tx)).await;
    node.register("one", a.pid()).expect("free");
    assert_eq!(
        node.register("one", b.pid()),
        Err(RegisterError::NameTaken {
            name: "one".into(),
            holder: a.pid()
        })
    );
    assert_eq!(
        node.register("two", a.pid()),
        Err(RegisterError::AlreadyNamed {
            pid: a.pid(),
            name: "one".into()
        })
    );
    assert_eq!(node.register("", b.pid()), Err(RegisterError::EmptyName));
    let spawned = node.spawn_opt::<Probe>(ProbeArgs::new(&tx), SpawnOpts::new().name("one"));
    assert!(matches!(
        spawned,
        Err(beamish_core::SpawnError::Register(
            RegisterError::NameTaken { .. }
        ))
    ));
    // Nothing was left running by the refused spawn.
    assert_eq!(node.stats().processes, 2);
}

#[tokio::test(start_paused = true)]
async fn name_is_free_when_the_exit_is_seen() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let first = node
        .start::<Probe>(ProbeArgs::new(&tx), SpawnOpts::new().name("worker"))
        .await
        .expect("starts");
    let watch = node.monitor(first.pid());
    first
        .cast(Cmd::Stop(ExitReason::Normal))
        .await
        .expect("alive");
    assert_eq!(watch.await, ExitReason::Normal);
    // The moment the exit is known, the name can be taken again.
    assert_eq!(node.whereis("worker"), None);
    let second = node
        .start::<Probe>(ProbeArgs::new(&tx), SpawnOpts::new().name("worker"))
        .await
        .expect("the name is free");
    assert_eq!(node.whereis("worker"), Some(second.pid()));
    assert_eq!(
        node.register("x", first.pid()),
        Err(RegisterError::NoProc(first.pid()))
    );
}

#[tokio::test(start_paused = true)]
async fn typed_lookups_fail_clearly() {
    let node = TestNode::new();
    let (tx, _rx) = events();
    let p = node
        .start::<Probe>(ProbeArgs::new(&tx), SpawnOpts::new().name("probe"))
        .await
        .expect("starts");
    let same = node.named::<Cmd>("probe").expect("right type");
    assert_eq!(same, p);
    match node.named::<String>("probe") {
        Err(LookupError::WrongType {
            pid,
            expected,
            actual,
        }) => {
            assert_eq!(pid, p.pid());
            assert!(expected.contains("String"), "{expected}");
            assert!(actual.contains("Cmd"), "{actual}");
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
    assert_eq!(
        node.named::<Cmd>("nobody").map(|h| h.pid()),
        Err(LookupError::NotRegistered("nobody".into()))
    );
    match node.cast_named("nobody", Cmd::Num(1)).await {
        Err(NamedSendError::Lookup(LookupError::NotRegistered(name), Cmd::Num(1))) => {
            assert_eq!(&*name, "nobody");
        }
        other => panic!("expected a lookup error, got {other:?}"),
    }
    node.cast_named("probe", Cmd::Num(1))
        .await
        .expect("delivered");
}
