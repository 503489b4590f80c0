//! A supervised subscriber that subscribes in its `init` is subscribed
//! again after each restart; an event that does not decode as its
//! subscribers' type, or names no topic, is a dead letter or dropped,
//! and the router goes on.

mod support;

use std::time::Duration;

use beamish_cluster::topics::{Topic, Topics, ROUTER};
use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Context, Cookie, ExitReason, Message, Node, Origin, Pid, Process, SpawnOpts,
};
use beamish_supervisor::{ChildSpec, Strategy, SupervisorRef, SupervisorSpec};
use serde::{Deserialize, Serialize};
use support::topics::*;
use support::*;
use tokio::sync::mpsc;

/// Subscribes to `crm.#` in its `init`; reports its start and each
/// event; fails on event 3.
struct Crm {
    seen: mpsc::UnboundedSender<(Pid, Numbered)>,
}

#[async_trait]
impl Process for Crm {
    type Args = (
        Topics,
        mpsc::UnboundedSender<(Pid, Numbered)>,
        mpsc::UnboundedSender<Pid>,
    );
    type Msg = Numbered;

    async fn init(
        ctx: &mut Context<Numbered>,
        (topics, seen, started): Self::Args,
    ) -> Result<Self, ExitReason> {
        let topic = Topic::new("crm.#").map_err(|e| ExitReason::error(e.to_string()))?;
        topics
            .subscribe(&ctx.handle(), &topic)
            .await
            .map_err(|e| ExitReason::error(e.to_string()))?;
        let _ = started.send(ctx.pid());
        Ok(Self { seen })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<Numbered>,
        event: Numbered,
    ) -> Result<(), ExitReason> {
        if event.n == 3 {
            return Err(ExitReason::error("cannot take event 3"));
        }
        let _ = self.seen.send((ctx.pid(), event));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_supervised_subscriber_subscribes_again_after_each_restart() {
    let net = LocalNetwork::new();
    let a = TopicsMember::start(&net, "a", &[]).await;
    let b = TopicsMember::start(&net, "b", &["a"]).await;
    mesh(&[&a.member, &b.member]).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let (started, mut starts) = mpsc::unbounded_channel();
    let topics = b.topics.clone();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(5))
        .child(ChildSpec::worker::<Crm>("crm", move || {
            (topics.clone(), seen.clone(), started.clone())
        }));
    let _sup = SupervisorRef::start(b.node(), spec, SpawnOpts::new())
        .await
        .expect("the supervisor starts");
    let first = starts.recv().await.expect("started");
    eventually("a knows the subscriber", || a.knows("crm.lead", &[first])).await;

    for n in 0..5 {
        publish(&a, "crm.lead", "a", n).await;
    }
    // 0, 1, 2 reach the first; 3 ends it; 4 may be lost with it.
    for n in 0..3 {
        assert_eq!(
            heard.recv().await.expect("an event"),
            (
                first,
                Numbered {
                    publisher: "a".into(),
                    n
                }
            )
        );
    }
    let second = starts.recv().await.expect("restarted");
    assert_ne!(second, first);
    eventually("a knows the restarted one alone", || {
        a.knows("crm.lead", &[second])
    })
    .await;
    let _ = drain(&mut heard);
    publish(&a, "crm.lead", "a", 10).await;
    let (to, event) = heard.recv().await.expect("an event after the restart");
    assert_eq!((to, event.n), (second, 10));
}

/// The routers' wire message, as a peer may write it.
#[derive(Serialize, Deserialize, Message)]
#[message(name = "beamish.topics.Event")]
struct Event {
    from: Origin,
    topic: String,
    event_type: u64,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
}

/// A type of another shape under the same wire name as `Numbered`.
#[derive(Serialize, Deserialize)]
struct Impostor {
    count: Vec<bool>,
}

#[tokio::test(start_paused = true)]
async fn an_event_that_does_not_decode_is_a_dead_letter_and_the_router_goes_on() {
    let net = LocalNetwork::new();
    let a = TopicsMember::start(&net, "a", &[]).await;
    let (seen, mut heard) = mpsc::unbounded_channel();
    let subscriber = a.subscriber(&["users.*"], &seen).await;
    let peer = Node::builder()
        .name("peer@localhost")
        .cookie(Cookie::new("the cluster's cookie"))
        .transport(net.transport("peer"))
        .connect("local://a")
        .start()
        .await
        .expect("the peer connects");
    let say = |topic: &str, payload: Vec<u8>| {
        let event = Event {
            from: Origin::here(),
            topic: topic.to_owned(),
            event_type: Numbered::WIRE_ID,
            payload,
        };
        peer.send_remote_named(a.node().name(), ROUTER, &event)
            .expect("sent");
    };
    say("users.new", vec![0xc1, 0xff, 0x00]);
    say(
        "users.new",
        rmp_serde::to_vec_named(&Impostor { count: vec![true] }).expect("encodes"),
    );
    let good = Numbered {
        publisher: "peer".into(),
        n: 7,
    };
    let good = rmp_serde::to_vec_named(&good).expect("encodes");
    // Not topics: dropped before any subscriber is looked at.
    say("users.*", good.clone());
    say("users..new", good.clone());
    say("users.new", good);

    let (to, event) = heard.recv().await.expect("the good event");
    assert_eq!((to, event.n), (subscriber.pid(), 7));
    assert_eq!(a.topics.dead_letters(), 2);
    assert!(drain(&mut heard).is_empty());
    assert!(a.node().is_alive(a.topics.pid()));
    assert!(a.node().is_alive(subscriber.pid()));
}
