//! Frames of a session a durable node does not know are taken as left
//! from its earlier life and delivered by name, without a handshake: so
//! only those signed with the cluster's key are. A broker user without the
//! cookie who publishes into a node's inbox gets nothing delivered, and
//! nor does a node of another cluster; what they sent is acknowledged,
//! dropped and counted. Through the broker on 127.0.0.1:5672: without one
//! these tests fail; they never skip.

mod support;

use std::sync::Arc;

use beamish_core::dist::Cookie;
use beamish_core::forge;
use beamish_core::transport::{SharedSecret, Transport};
use beamish_core::{async_trait, ClusterConfig, Context, ExitReason, Node, Process, SpawnOpts};
use beamish_transport_amqp::{AmqpTransport, Mode};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use support::{
    at, broker, eventually, publish_raw, queue_depth, secret, transport, unique, COOKIE, WAIT,
};
use tokio::sync::mpsc;

/// Forwards every text it gets to a channel.
struct Inbox {
    out: mpsc::UnboundedSender<String>,
}

#[async_trait]
impl Process for Inbox {
    type Args = mpsc::UnboundedSender<String>;
    type Msg = String;

    async fn init(_ctx: &mut Context<String>, out: Self::Args) -> Result<Self, ExitReason> {
        Ok(Inbox { out })
    }

    async fn handle(&mut self, _ctx: &mut Context<String>, text: String) -> Result<(), ExitReason> {
        let _ = self.out.send(text);
        Ok(())
    }
}

/// A durable node of the tests' cluster with an exported process
/// registered as `inbox`, as a node that takes what its earlier life left
/// is set up.
struct Victim {
    name: String,
    _node: Node,
    amqp: AmqpTransport,
    got: mpsc::UnboundedReceiver<String>,
}

impl Victim {
    async fn start(name: &str) -> Self {
        let node = Node::builder().name(name).build().expect("runtime");
        let (tx, got) = mpsc::unbounded_channel();
        let inbox = node
            .start::<Inbox>(tx, SpawnOpts::new().name("inbox"))
            .await
            .expect("starts");
        node.export(&inbox);
        let amqp = transport(name, Mode::Durable);
        let transports: Vec<Arc<dyn Transport>> = vec![Arc::new(amqp.clone())];
        node.join(
            ClusterConfig::new(Cookie::new(COOKIE)),
            transports,
            &[broker()],
        )
        .await
        .expect("joins");
        Self {
            name: name.to_owned(),
            _node: node,
            amqp,
            got,
        }
    }

    /// Waits until `n` frames were refused, failing the test if one is
    /// delivered meanwhile.
    async fn refuses(&mut self, n: u64) {
        let amqp = self.amqp.clone();
        tokio::select! {
            () = eventually("refused", || amqp.unauthenticated_frames() == n) => {}
            delivered = self.got.recv() => panic!("delivered: {delivered:?}"),
        }
        assert!(self.got.try_recv().is_err(), "nothing was delivered");
    }

    /// Leaves the broker, and checks that nothing it was sent waits in its
    /// inbox: what it refused was acknowledged, not left for its next life.
    async fn leaves_an_empty_inbox(self) {
        self.amqp.shutdown().await;
        assert_eq!(
            queue_depth(&self.amqp.inbox()).await,
            0,
            "the inbox drained"
        );
        self.amqp.delete_inbox().await.expect("deleted");
    }
}

fn victim_name() -> String {
    format!("{}@localhost", unique("victim"))
}

/// Sends `texts` by name to `inbox` on `victim` from a node holding
/// `secret`, in a session the victim's first life accepted and then died
/// without handling: they are left in its inbox, for its next life.
async fn left_from_an_earlier_life(
    victim: &str,
    secret: SharedSecret,
    texts: &[&str],
) -> AmqpTransport {
    let first = transport(victim, Mode::Durable);
    let mut listener = first.listen(&broker()).await.expect("listens");
    let sender = transport(&format!("{}@localhost", unique("sender")), Mode::Durable);
    sender.use_secret(secret);
    let mut session = sender.connect(&at(victim)).await.expect("opens");
    let accepted = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("in time")
        .expect("accepted");
    let frames = texts
        .iter()
        .map(|text| forge::message_to_name("inbox", &(*text).to_owned()))
        .collect();
    session.sink.send(frames).await.expect("confirmed");
    first.shutdown().await;
    drop((listener, accepted));
    sender
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_published_without_the_cookie_is_acknowledged_and_never_delivered() {
    let mut victim = Victim::start(&victim_name()).await;
    // Shaped as a durable data frame of a session the node does not know,
    // addressed by name to an exported process: all it lacks is a
    // signature, which takes the cookie.
    let forged = forge::message_to_name("inbox", &"forged".to_owned());
    let properties = BasicProperties::default()
        .with_type("data".into())
        .with_reply_to("intruder@localhost".into())
        .with_correlation_id("4242".into())
        .with_message_id("1".into())
        .with_delivery_mode(2);
    publish_raw(&victim.name, vec![(forged.to_vec(), properties.clone())]).await;
    // And with a signature header that is not one.
    let mut headers = FieldTable::default();
    headers.insert(
        "x-beamish-mac".into(),
        AMQPValue::LongString(vec![0_u8; 32].into()),
    );
    let guessed = properties.with_headers(headers);
    publish_raw(&victim.name, vec![(forged.to_vec(), guessed)]).await;

    victim.refuses(2).await;
    victim.leaves_an_empty_inbox().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_signed_under_another_cookie_is_refused() {
    let name = victim_name();
    let other = Cookie::new("another cluster's cookie").transport_secret();
    let sender = left_from_an_earlier_life(&name, other, &["one", "two"]).await;

    let mut victim = Victim::start(&name).await;
    victim.refuses(2).await;
    victim.leaves_an_empty_inbox().await;
    sender.delete_inbox().await.expect("deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_frame_from_an_earlier_life_is_delivered_by_name() {
    let name = victim_name();
    let sender = left_from_an_earlier_life(&name, secret(), &["one", "two"]).await;

    let mut victim = Victim::start(&name).await;
    for want in ["one", "two"] {
        let got = tokio::time::timeout(WAIT, victim.got.recv())
            .await
            .expect("in time")
            .expect("delivered");
        assert_eq!(got, want);
    }
    assert_eq!(victim.amqp.unauthenticated_frames(), 0);
    victim.amqp.shutdown().await;
    victim.amqp.delete_inbox().await.expect("deleted");
    sender.delete_inbox().await.expect("deleted");
}
