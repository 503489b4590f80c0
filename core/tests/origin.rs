//! A message's `Origin` field says which peer's connection carried it,
//! whatever the sender wrote there; on the node that made it, it says
//! "here".

mod support;

use std::time::Duration;

use beamish_core::transport::LocalNetwork;
use beamish_core::{
    async_trait, Context, ExitReason, Message, NodeName, Origin, Process, ReplyTo, SpawnOpts,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// What the listener takes: a remark, or a question about who asks.
#[derive(Serialize, Deserialize, Message)]
#[message(name = "tests.Said")]
enum Said {
    Remark {
        from: Origin,
    },
    WhoAsks {
        from: Origin,
        reply: ReplyTo<Option<NodeName>>,
    },
}

/// The same wire message, as a peer that lies about its name writes it.
#[derive(Serialize, Deserialize, Message)]
#[message(name = "tests.Said")]
enum Forged {
    Remark { from: NodeName },
}

/// Reports the origin of every remark.
struct Listener {
    heard: mpsc::UnboundedSender<Option<NodeName>>,
}

#[async_trait]
impl Process for Listener {
    type Args = mpsc::UnboundedSender<Option<NodeName>>;
    type Msg = Said;

    async fn init(_ctx: &mut Context<Said>, heard: Self::Args) -> Result<Self, ExitReason> {
        Ok(Self { heard })
    }

    async fn handle(&mut self, _ctx: &mut Context<Said>, msg: Said) -> Result<(), ExitReason> {
        match msg {
            Said::Remark { from } => {
                let _ = self.heard.send(from.node());
            }
            Said::WhoAsks { from, reply } => {
                let _ = reply.reply(from.node());
            }
        }
        Ok(())
    }
}

async fn next(heard: &mut mpsc::UnboundedReceiver<Option<NodeName>>) -> Option<NodeName> {
    tokio::time::timeout(Duration::from_secs(30), heard.recv())
        .await
        .expect("in time")
        .expect("the listener runs")
}

#[tokio::test(start_paused = true)]
async fn the_connection_not_the_message_says_where_it_came_from() {
    let net = LocalNetwork::new();
    let a = support::member(&net, "a").await;
    let b = support::member(&net, "b").await;
    b.connect(&support::local("a")).await.expect("connects");
    let (tx, mut heard) = mpsc::unbounded_channel();
    let listener = a
        .start::<Listener>(tx, SpawnOpts::new().name("listener").export::<Said>())
        .await
        .expect("starts");

    // Made here: no peer.
    listener
        .cast(Said::Remark {
            from: Origin::here(),
        })
        .await
        .expect("sent");
    assert_eq!(next(&mut heard).await, None);

    // From b, by cast and by call.
    b.send_remote_named(
        a.name(),
        "listener",
        &Said::Remark {
            from: Origin::here(),
        },
    )
    .expect("sent");
    assert_eq!(next(&mut heard).await, Some(b.name()));
    let asker = b.addr_named::<Said>("listener", a.name());
    let answer = asker
        .call(
            |reply| Said::WhoAsks {
                from: Origin::here(),
                reply,
            },
            Duration::from_secs(5),
        )
        .await
        .expect("answered");
    assert_eq!(answer, Some(b.name()));

    // From b, claiming to be another node.
    let impostor: NodeName = "c@localhost".parse().expect("a name");
    b.send_remote_named(a.name(), "listener", &Forged::Remark { from: impostor })
        .expect("sent");
    assert_eq!(next(&mut heard).await, Some(b.name()));
}
