//! Subscriptions on members: the topics service on each, and subscribers
//! that report every event they get.

use async_trait::async_trait;
use beamish_cluster::topics::{Topic, Topics};
use beamish_core::transport::LocalNetwork;
use beamish_core::{Context, ExitReason, Handle, Message, Node, Pid, Process};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::Member;

/// An event: who published it, and its number in that publisher's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Message)]
#[message(name = "tests.topics.Numbered")]
pub struct Numbered {
    pub publisher: String,
    pub n: u64,
}

/// A member of the cluster with the topics service.
pub struct TopicsMember {
    pub member: Member,
    pub topics: Topics,
}

impl TopicsMember {
    pub async fn start(net: &LocalNetwork, name: &str, seeds: &[&str]) -> Self {
        let member = Member::start(net, name, seeds).await;
        let topics = Topics::start(&member.node)
            .await
            .expect("the topics service starts");
        Self { member, topics }
    }

    pub fn node(&self) -> &Node {
        &self.member.node
    }

    /// A process subscribed to `patterns` that reports each event it gets
    /// with its own pid.
    pub async fn subscriber(
        &self,
        patterns: &[&str],
        seen: &mpsc::UnboundedSender<(Pid, Numbered)>,
    ) -> Handle<Numbered> {
        let handle = self
            .node()
            .spawn::<Reporter>(seen.clone())
            .expect("the subscriber spawns");
        for pattern in patterns {
            let topic = Topic::<Numbered>::new(pattern).expect("a topic");
            self.topics
                .subscribe(&handle, &topic)
                .await
                .expect("subscribed");
        }
        handle
    }

    /// Whether this node knows exactly `expected` as the subscribers that
    /// `topic` reaches.
    pub fn knows(&self, topic: &str, expected: &[Pid]) -> bool {
        let topic = Topic::<Numbered>::new(topic).expect("a topic");
        let mut known = self.topics.subscribers(&topic);
        known.sort();
        let mut expected = expected.to_vec();
        expected.sort();
        known == expected
    }
}

/// Reports each event it gets, with its own pid.
pub struct Reporter {
    seen: mpsc::UnboundedSender<(Pid, Numbered)>,
}

#[async_trait]
impl Process for Reporter {
    type Args = mpsc::UnboundedSender<(Pid, Numbered)>;
    type Msg = Numbered;

    async fn init(_: &mut Context<Numbered>, seen: Self::Args) -> Result<Self, ExitReason> {
        Ok(Self { seen })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<Numbered>,
        msg: Numbered,
    ) -> Result<(), ExitReason> {
        let _ = self.seen.send((ctx.pid(), msg));
        Ok(())
    }
}

/// Three members, `b` and `c` seeded with `a`, once they form a mesh.
pub async fn three(net: &LocalNetwork) -> [TopicsMember; 3] {
    let a = TopicsMember::start(net, "a", &[]).await;
    let b = TopicsMember::start(net, "b", &["a"]).await;
    let c = TopicsMember::start(net, "c", &["a"]).await;
    super::mesh(&[&a.member, &b.member, &c.member]).await;
    [a, b, c]
}

/// Publishes event `n` of `publisher` on `topic` from `at`.
pub async fn publish(at: &TopicsMember, topic: &str, publisher: &str, n: u64) {
    let topic = Topic::<Numbered>::new(topic).expect("a topic");
    let event = Numbered {
        publisher: publisher.to_owned(),
        n,
    };
    at.topics.publish(&topic, &event).await.expect("published");
}

/// Everything `seen` holds now.
pub fn drain(seen: &mut mpsc::UnboundedReceiver<(Pid, Numbered)>) -> Vec<(Pid, Numbered)> {
    let mut all = Vec::new();
    while let Ok(one) = seen.try_recv() {
        all.push(one);
    }
    all
}
