//! The membership process each node runs: it connects to what discovery
//! finds, introduces itself to every node that connects, and connects to
//! the members it hears of, so the cluster becomes a full mesh.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::{Context, Endpoint, ExitReason, Node, NodeName, Origin, Process, Signal};
use tokio::sync::watch;

use crate::membership::Watchers;
use crate::wire::{self, Gossip, Member};
use crate::{ClusterSettings, Discovery, DiscoveryError, MemberEvent, MEMBERSHIP};

/// What the membership process takes: gossip from other members, and its
/// own reports.
pub(crate) enum Msg {
    /// From another member.
    Gossip(Gossip),
    /// Time to ask discovery again and to remind members of each other.
    Tick,
    /// What discovery answered.
    Discovered(Result<Vec<Endpoint>, DiscoveryError>),
    /// A connection attempt ended.
    Dialed {
        /// The endpoints it tried, in order.
        tried: Vec<Endpoint>,
        /// The node reached, or why none was.
        result: Result<NodeName, String>,
    },
}

impl From<Gossip> for Msg {
    fn from(gossip: Gossip) -> Self {
        Msg::Gossip(gossip)
    }
}

/// What the membership process starts with.
/// The most endpoints being tried at once.
const MAX_DIALING: usize = 64;

pub(crate) struct Args {
    pub(crate) discovery: Arc<dyn Discovery>,
    pub(crate) settings: ClusterSettings,
    pub(crate) members: watch::Sender<Vec<NodeName>>,
    pub(crate) watchers: Watchers,
}

pub(crate) struct Membership {
    discovery: Arc<dyn Discovery>,
    settings: ClusterSettings,
    /// Connected members that introduced themselves, and where they listen.
    members: BTreeMap<NodeName, Vec<Endpoint>>,
    /// Told of every change to `members`.
    published: watch::Sender<Vec<NodeName>>,
    /// Told of every member that joins or leaves.
    watchers: Watchers,
    /// Endpoints being connected to now.
    dialing: HashSet<Endpoint>,
    /// Discovery is being asked now.
    polling: bool,
}

#[async_trait]
impl Process for Membership {
    type Args = Args;
    type Msg = Msg;

    async fn init(ctx: &mut Context<Msg>, args: Args) -> Result<Self, ExitReason> {
        ctx.monitor_nodes(true);
        let mut state = Membership {
            discovery: args.discovery,
            settings: args.settings,
            members: BTreeMap::new(),
            published: args.members,
            watchers: args.watchers,
            dialing: HashSet::new(),
            polling: false,
        };
        // Nodes connected before this started hear of it now.
        for node in ctx.node().nodes() {
            state.hello(ctx, node);
        }
        state.tick(ctx);
        Ok(state)
    }

    async fn handle(&mut self, ctx: &mut Context<Msg>, msg: Msg) -> Result<(), ExitReason> {
        match msg {
            Msg::Gossip(Gossip::Hello {
                from,
                endpoints,
                members,
            }) => match from.node() {
                Some(node) => self.heard(ctx, node, &endpoints, members),
                // Membership hears only from other nodes.
                None => tracing::debug!("a hello made on this node was ignored"),
            },
            Msg::Tick => self.tick(ctx),
            Msg::Discovered(found) => {
                self.polling = false;
                match found {
                    Ok(endpoints) => self.discovered(ctx, endpoints),
                    Err(error) => tracing::warn!(%error, "cluster discovery failed"),
                }
            }
            Msg::Dialed { tried, result } => {
                for endpoint in &tried {
                    self.dialing.remove(endpoint);
                }
                match result {
                    Ok(node) => tracing::debug!(peer = %node, "connected to a member"),
                    Err(error) => tracing::debug!(?tried, %error, "could not reach a member"),
                }
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<Msg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        match signal {
            Signal::NodeUp(node) => self.hello(ctx, node),
            Signal::NodeDown(node) if self.members.remove(&node).is_some() => {
                tracing::info!(peer = %node, "cluster member gone");
                self.publish(MemberEvent::Left(node));
            }
            _ => {}
        }
        Ok(())
    }

    async fn terminate(&mut self, _ctx: &mut Context<Msg>, _reason: &ExitReason) {
        // Watchers hear that nothing more comes.
        self.watchers.lock().clear();
    }
}

impl Membership {
    /// Asks discovery again (unless it is still answering), reminds every
    /// member of the others, and comes back after the poll interval.
    fn tick(&mut self, ctx: &mut Context<Msg>) {
        if !self.polling {
            self.polling = true;
            let discovery = Arc::clone(&self.discovery);
            let me = ctx.handle();
            let wait = self.settings.poll_interval;
            tokio::spawn(async move {
                let found = tokio::time::timeout(wait, discovery.members())
                    .await
                    .unwrap_or(Err(DiscoveryError::TimedOut));
                // The membership process may have ended meanwhile.
                let _ = me.cast(Msg::Discovered(found)).await;
            });
        }
        let members: Vec<NodeName> = self.members.keys().copied().collect();
        for node in members {
            self.hello(ctx, node);
        }
        drop(ctx.send_after(Msg::Tick, self.settings.poll_interval));
    }

    /// Tells `node` where this node listens and which members it knows.
    fn hello(&self, ctx: &Context<Msg>, node: NodeName) {
        let hello = Gossip::Hello {
            from: Origin::here(),
            endpoints: wire::to_text(&ctx.node().listening()),
            members: self
                .members
                .iter()
                .filter(|(name, _)| **name != node)
                .map(|(name, endpoints)| Member {
                    node: *name,
                    endpoints: wire::to_text(endpoints),
                })
                .collect(),
        };
        if let Err(error) = ctx.node().send_remote_named(node, MEMBERSHIP, &hello) {
            tracing::debug!(peer = %node, %error, "could not introduce this node");
        }
    }

    /// A member introduced itself: it is a member while connected, and
    /// the members it knows are connected to.
    fn heard(
        &mut self,
        ctx: &mut Context<Msg>,
        from: NodeName,
        endpoints: &[String],
        members: Vec<Member>,
    ) {
        let connected = ctx.node().nodes();
        // Sent before the connection was lost.
        if !connected.contains(&from) {
            return;
        }
        let endpoints = wire::parse(from, endpoints);
        if self.members.insert(from, endpoints).is_none() {
            tracing::info!(peer = %from, "cluster member joined");
            self.publish(MemberEvent::Joined(from));
            // The other members hear of it at once.
            let others: Vec<NodeName> = self.members.keys().copied().collect();
            for node in others.into_iter().filter(|node| *node != from) {
                self.hello(ctx, node);
            }
        }
        let me = ctx.node().name();
        if members.len() > wire::MAX_MEMBERS {
            tracing::debug!(peer = %from, listed = members.len(), "a hello listed more members than are taken");
        }
        for member in members.into_iter().take(wire::MAX_MEMBERS) {
            // Two members that hear of each other may both connect: the
            // nodes keep one of the two connections.
            if member.node == me || connected.contains(&member.node) {
                continue;
            }
            let endpoints = wire::parse(from, &member.endpoints);
            self.dial(ctx, endpoints);
        }
    }

    /// Connects to each endpoint discovery found that is neither this
    /// node's nor a member's.
    fn discovered(&mut self, ctx: &mut Context<Msg>, endpoints: Vec<Endpoint>) {
        let own = ctx.node().listening();
        for endpoint in endpoints {
            let known =
                own.contains(&endpoint) || self.members.values().any(|at| at.contains(&endpoint));
            if !known {
                self.dial(ctx, vec![endpoint]);
            }
        }
    }

    /// Connects to one node listening at `endpoints`, trying each in
    /// turn, unless one of them is being tried already.
    ///
    /// At most [`MAX_DIALING`] endpoints are being tried at once, whatever
    /// peers list: the others wait for the next poll or hello.
    fn dial(&mut self, ctx: &mut Context<Msg>, endpoints: Vec<Endpoint>) {
        let own = ctx.node().listening();
        let endpoints: Vec<Endpoint> = endpoints
            .into_iter()
            .filter(|at| !own.contains(at))
            .collect();
        if endpoints.is_empty()
            || self.dialing.len() + endpoints.len() > MAX_DIALING
            || endpoints.iter().any(|at| self.dialing.contains(at))
        {
            return;
        }
        self.dialing.extend(endpoints.iter().cloned());
        let node = ctx.node().clone();
        let me = ctx.handle();
        let timeout = self.settings.dial_timeout;
        tokio::spawn(async move {
            let result = connect(&node, &endpoints, timeout).await;
            let _ = me
                .cast(Msg::Dialed {
                    tried: endpoints,
                    result,
                })
                .await;
        });
    }

    /// Publishes the members and tells watchers of `event`, under the
    /// watchers' lock, so that one who takes the members and starts
    /// watching under it neither misses the event nor gets it twice.
    fn publish(&self, event: MemberEvent) {
        let mut watchers = self.watchers.lock();
        self.published
            .send_replace(self.members.keys().copied().collect());
        watchers.retain(|watcher| watcher.send(event).is_ok());
    }
}

/// Connects to the first of `endpoints` that answers.
async fn connect(
    node: &Node,
    endpoints: &[Endpoint],
    timeout: Duration,
) -> Result<NodeName, String> {
    let mut why = String::new();
    for endpoint in endpoints {
        match tokio::time::timeout(timeout, node.connect(endpoint)).await {
            Ok(Ok(name)) => return Ok(name),
            Ok(Err(error)) => why = error.to_string(),
            Err(_) => why = format!("no answer from {endpoint} in {timeout:?}"),
        }
    }
    Err(why)
}
