//! A poison message through a durable AMQP inbox: the supervised process
//! it is sent to panics every time it handles it. The message comes again
//! as often as the inbox's delivery limit allows, then is dropped, and the
//! messages sent after it are handled. Needs the RabbitMQ broker on
//! 127.0.0.1:5672; fails without one.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish::amqp::{AmqpTransport, Mode};
use beamish::dist::{Cookie, Endpoint};
use beamish::{
    async_trait, ChildSpec, ClusterConfig, Context, ExitReason, Node, Process, SpawnOpts, Strategy,
    SupervisorRef, SupervisorSpec,
};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);
const LIMIT: u32 = 3;

/// Panics on "poison", saying so first; reports anything else.
struct Picky {
    tried: mpsc::UnboundedSender<()>,
    seen: mpsc::UnboundedSender<String>,
}

#[async_trait]
impl Process for Picky {
    type Args = (mpsc::UnboundedSender<()>, mpsc::UnboundedSender<String>);
    type Msg = String;

    async fn init(
        ctx: &mut Context<String>,
        (tried, seen): Self::Args,
    ) -> Result<Self, ExitReason> {
        // Each restart is reachable from other nodes again.
        ctx.node().export(&ctx.handle());
        Ok(Picky { tried, seen })
    }

    async fn handle(&mut self, _ctx: &mut Context<String>, msg: String) -> Result<(), ExitReason> {
        if msg == "poison" {
            let _ = self.tried.send(());
            panic!("cannot digest this");
        }
        let _ = self.seen.send(msg);
        Ok(())
    }
}

fn broker() -> Endpoint {
    "amqp://guest:guest@127.0.0.1:5672/%2f"
        .parse()
        .expect("valid")
}

fn transport(name: &str) -> AmqpTransport {
    AmqpTransport::with_inbox(&broker(), name, Mode::Durable)
        .expect("an amqp endpoint")
        .inbox_expiry(Duration::from_secs(60))
}

async fn next<T>(seen: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("in time")
        .expect("the process reports")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dropped_after_the_delivery_limit() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let b_name = format!("picky-{nanos}@localhost");
    let a_name = format!("feeder-{nanos}@localhost");
    let config = ClusterConfig::new(Cookie::new("poison-test"));

    let b = Node::builder()
        .name(b_name.as_str())
        .build()
        .expect("a node");
    let b_amqp = transport(&b_name).delivery_limit(LIMIT);
    let (tried_tx, mut tried) = mpsc::unbounded_channel();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(20, Duration::from_secs(10))
        .child(ChildSpec::worker_opt::<Picky>(
            "picky",
            SpawnOpts::new().name("picky"),
            move || (tried_tx.clone(), seen_tx.clone()),
        ));
    let _sup = SupervisorRef::start(&b, spec, SpawnOpts::new())
        .await
        .expect("the supervisor starts");
    let at = b
        .join(config.clone(), vec![Arc::new(b_amqp.clone())], &[broker()])
        .await
        .expect("b joins");

    let a = Node::builder()
        .name(a_name.as_str())
        .build()
        .expect("a node");
    let a_amqp = transport(&a_name);
    a.join(config, vec![Arc::new(a_amqp.clone())], &[])
        .await
        .expect("a joins");
    a.connect(&at[0]).await.expect("connects");

    let to = b.name();
    for text in ["poison", "fine"] {
        a.send_remote_named_confirmed(to, "picky", &text.to_owned())
            .await
            .expect("confirmed");
    }
    // The poison comes back after each crash, up to the limit; what was
    // behind it in the crashed process's mailbox comes again too.
    for _ in 0..LIMIT {
        next(&mut tried).await;
    }
    assert_eq!(next(&mut seen).await, "fine");
    // Then it is gone: a message sent now arrives with no attempt more.
    a.send_remote_named_confirmed(to, "picky", &"after".to_owned())
        .await
        .expect("confirmed");
    assert_eq!(next(&mut seen).await, "after");
    assert!(tried.try_recv().is_err(), "delivered past the limit");
    let _ = b.take_unobserved_failures();

    for amqp in [a_amqp, b_amqp] {
        amqp.delete_inbox().await.expect("inbox deleted");
    }
}
