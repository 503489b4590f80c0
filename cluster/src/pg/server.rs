//! The scope process: one per node per scope, registered and exported
//! under the scope's name, as Erlang's pg runs one. It keeps the table of
//! groups, watches this node's members and the peers' scope processes,
//! and tells every peer of what joins and leaves here.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use beamish_core::limit::WarningLimiter;
use beamish_core::{
    Context, ExitReason, MonitorRef, NodeName, Origin, Pid, Process, ReplyTo, Signal,
};
use tokio::time::Instant;

use super::table::Table;
use super::wire::{sync_parts, PgWire, MAX_GROUP_NAME};
use super::PgError;
use crate::parts::{numbered, Reassembly};

/// What the scope process takes: what peers say, and requests from this
/// node.
pub(crate) enum Msg {
    /// From the same scope on another node.
    Peer(PgWire),
    /// Processes of this node join a group.
    Join {
        group: String,
        pids: Vec<Pid>,
        reply: ReplyTo<Result<(), PgError>>,
    },
    /// Processes of this node leave a group.
    Leave {
        group: String,
        pids: Vec<Pid>,
        reply: ReplyTo<Result<(), PgError>>,
    },
}

impl From<PgWire> for Msg {
    fn from(msg: PgWire) -> Self {
        Msg::Peer(msg)
    }
}

pub(crate) struct Args {
    pub(crate) name: Arc<str>,
    pub(crate) table: Arc<Table>,
}

/// Members by group.
type Members = HashMap<String, Vec<Pid>>;

pub(crate) struct ScopeServer {
    name: Arc<str>,
    table: Arc<Table>,
    /// This node's members: the monitor on each, and the groups it is in,
    /// once per join.
    local: HashMap<Pid, (MonitorRef, Vec<String>)>,
    /// The scope's process on each peer that has one, watched.
    peers: HashMap<NodeName, (Pid, MonitorRef)>,
    /// Syncs from peers whose last part has not arrived yet: the members
    /// so far.
    incoming: Reassembly<Members>,
    warnings: WarningLimiter,
}

#[async_trait]
impl Process for ScopeServer {
    type Args = Args;
    type Msg = Msg;

    async fn init(ctx: &mut Context<Msg>, args: Args) -> Result<Self, ExitReason> {
        ctx.monitor_nodes(true);
        let state = ScopeServer {
            name: args.name,
            table: args.table,
            local: HashMap::new(),
            peers: HashMap::new(),
            incoming: Reassembly::new(),
            warnings: WarningLimiter::default(),
        };
        // The scope on nodes connected before this started hears of it now.
        for node in ctx.node().nodes() {
            state.discover(ctx, node);
        }
        Ok(state)
    }

    async fn handle(&mut self, ctx: &mut Context<Msg>, msg: Msg) -> Result<(), ExitReason> {
        match msg {
            Msg::Peer(msg) => self.heard(ctx, msg).await,
            Msg::Join { group, pids, reply } => {
                let joined = self.join(ctx, group, pids).await;
                reply.reply(joined);
            }
            Msg::Leave { group, pids, reply } => {
                let left = self.leave(ctx, group, pids).await;
                reply.reply(left);
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
            Signal::NodeUp(node) => self.discover(ctx, node),
            Signal::NodeDown(node) => self.drop_peer(ctx, node),
            Signal::Down { monitor, pid, .. } => {
                if self
                    .local
                    .get(&pid)
                    .is_some_and(|(mref, _)| *mref == monitor)
                {
                    self.member_ended(ctx, pid).await;
                } else if self.peers.get(&pid.node()) == Some(&(pid, monitor)) {
                    tracing::debug!(scope = %self.name, peer = %pid.node(), "the scope's process on a peer ended");
                    self.drop_peer(ctx, pid.node());
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn terminate(&mut self, _ctx: &mut Context<Msg>, _reason: &ExitReason) {
        // Those who monitor the scope hear it end.
        self.table.close();
    }
}

impl ScopeServer {
    /// Asks the scope on `node` for its members.
    fn discover(&self, ctx: &Context<Msg>, node: NodeName) {
        let discover = PgWire::Discover {
            from: Origin::here(),
            scope: ctx.pid(),
        };
        if let Err(error) = ctx.node().send_remote_named(node, &self.name, &discover) {
            tracing::debug!(scope = %self.name, peer = %node, %error, "could not reach the scope on a peer");
        }
    }

    /// Tells every peer's scope process `msg`, waiting for room on a
    /// connection that has too much queued, as Erlang's distribution does.
    async fn tell_peers(&self, ctx: &Context<Msg>, msg: &PgWire) {
        for (node, (scope, _)) in &self.peers {
            if let Err(error) = ctx.node().cast_remote(*scope, msg).await {
                // The peer is going: its NodeDown or Down follows.
                tracing::debug!(scope = %self.name, peer = %node, %error, "could not tell a peer");
            }
        }
    }

    async fn join(
        &mut self,
        ctx: &mut Context<Msg>,
        group: String,
        pids: Vec<Pid>,
    ) -> Result<(), PgError> {
        check_local(ctx, &group, &pids)?;
        if pids.is_empty() {
            return Ok(());
        }
        for pid in &pids {
            match self.local.get_mut(pid) {
                Some((_, groups)) => groups.push(group.clone()),
                None => {
                    // One that has ended already is taken out at once.
                    let monitor = ctx.monitor(*pid);
                    self.local.insert(*pid, (monitor, vec![group.clone()]));
                }
            }
        }
        self.table.join(ctx.node().name(), &group, &pids);
        let join = PgWire::Join {
            from: Origin::here(),
            group,
            pids,
        };
        self.tell_peers(ctx, &join).await;
        Ok(())
    }

    async fn leave(
        &mut self,
        ctx: &mut Context<Msg>,
        group: String,
        pids: Vec<Pid>,
    ) -> Result<(), PgError> {
        check_local(ctx, &group, &pids)?;
        let left = self.table.leave(ctx.node().name(), &group, &pids);
        if left.is_empty() {
            return Err(PgError::NotJoined);
        }
        for pid in &left {
            let Some((monitor, groups)) = self.local.get_mut(pid) else {
                continue;
            };
            if let Some(at) = groups.iter().position(|joined| *joined == group) {
                groups.swap_remove(at);
            }
            if groups.is_empty() {
                let monitor = *monitor;
                self.local.remove(pid);
                ctx.demonitor(monitor);
            }
        }
        let leave = PgWire::Leave {
            from: Origin::here(),
            group,
            pids: left,
        };
        self.tell_peers(ctx, &leave).await;
        Ok(())
    }

    /// A member of this node ended: it leaves every group it was in, as
    /// many times as it joined.
    async fn member_ended(&mut self, ctx: &Context<Msg>, pid: Pid) {
        let Some((_, groups)) = self.local.remove(&pid) else {
            return;
        };
        let mut times: HashMap<String, usize> = HashMap::new();
        for group in groups {
            *times.entry(group).or_default() += 1;
        }
        for (group, times) in times {
            let pids = vec![pid; times];
            self.table.leave(ctx.node().name(), &group, &pids);
            let leave = PgWire::Leave {
                from: Origin::here(),
                group,
                pids,
            };
            self.tell_peers(ctx, &leave).await;
        }
    }

    /// The peer, or its scope, is gone: so are its members.
    fn drop_peer(&mut self, ctx: &mut Context<Msg>, node: NodeName) {
        if let Some((_, monitor)) = self.peers.remove(&node) {
            ctx.demonitor(monitor);
        }
        self.incoming.forget(node);
        self.table.drop_node(node);
    }

    /// `scope` is the scope's process on `peer`: it is watched from now on.
    fn follow(&mut self, ctx: &mut Context<Msg>, peer: NodeName, scope: Pid) -> bool {
        match self.peers.get(&peer) {
            Some((known, _)) if *known == scope => false,
            _ => {
                let monitor = ctx.monitor(scope);
                if let Some((_, old)) = self.peers.insert(peer, (scope, monitor)) {
                    ctx.demonitor(old);
                }
                true
            }
        }
    }

    /// What a peer's scope process said, if it speaks for its own node.
    async fn heard(&mut self, ctx: &mut Context<Msg>, msg: PgWire) {
        let peer = match msg.speaker() {
            Ok(peer) => peer,
            Err(why) => return self.refuse(&msg, why),
        };
        match msg {
            PgWire::Discover { scope, .. } => {
                // Sent before the connection was lost.
                if !ctx.node().nodes().contains(&peer) {
                    return;
                }
                let parts = sync_parts(self.local_groups());
                let numbers = numbered(parts.len());
                for ((part, last), groups) in numbers.zip(parts) {
                    let sync = PgWire::Sync {
                        from: Origin::here(),
                        scope: ctx.pid(),
                        part,
                        last,
                        groups,
                    };
                    if let Err(error) = ctx.node().cast_remote(scope, &sync).await {
                        tracing::debug!(scope = %self.name, %peer, %error, "could not answer a peer");
                        break;
                    }
                }
                if self.follow(ctx, peer, scope) {
                    // Erlang's pg discovers back a peer it did not know.
                    self.discover(ctx, peer);
                }
            }
            PgWire::Sync {
                scope,
                part,
                last,
                groups,
                ..
            } => {
                if !ctx.node().nodes().contains(&peer) {
                    return;
                }
                self.follow(ctx, peer, scope);
                let Some(mut merged) = self.incoming.take(peer, scope, part) else {
                    tracing::debug!(scope = %self.name, %peer, part, "a part of a sync out of turn; ignored");
                    return;
                };
                for (group, pids) in groups {
                    merged.entry(group).or_default().extend(pids);
                }
                if last {
                    self.table.sync(peer, merged);
                } else {
                    self.incoming.keep(peer, scope, part, merged);
                }
            }
            // Only from a peer whose scope is known: one that was lost
            // sends everything again in its sync.
            PgWire::Join { group, pids, .. } if self.peers.contains_key(&peer) => {
                self.table.join(peer, &group, &pids);
            }
            PgWire::Leave { group, pids, .. } if self.peers.contains_key(&peer) => {
                self.table.leave(peer, &group, &pids);
            }
            PgWire::Join { .. } | PgWire::Leave { .. } => {}
        }
    }

    /// Drops what a peer said for processes that are not its own, and
    /// says so (rate-limited: a peer could send this without end).
    fn refuse(&self, msg: &PgWire, why: &str) {
        let source = match msg {
            PgWire::Discover { from, .. }
            | PgWire::Sync { from, .. }
            | PgWire::Join { from, .. }
            | PgWire::Leave { from, .. } => from
                .node()
                .map_or_else(|| "this node".to_owned(), |node| node.to_string()),
        };
        if let Some(held_back) = self.warnings.admit("refused", &source, Instant::now()) {
            tracing::warn!(scope = %self.name, peer = %source, held_back, "a scope message was refused: {why}");
        }
    }

    /// This node's members, group by group, for a peer.
    fn local_groups(&self) -> Vec<(String, Vec<Pid>)> {
        let mut groups: HashMap<&str, Vec<Pid>> = HashMap::new();
        for (pid, (_, joined)) in &self.local {
            for group in joined {
                groups.entry(group.as_str()).or_default().push(*pid);
            }
        }
        groups
            .into_iter()
            .map(|(group, pids)| (group.to_owned(), pids))
            .collect()
    }
}

/// Only this node's processes join or leave through it, and group names
/// have a limit.
fn check_local(ctx: &Context<Msg>, group: &str, pids: &[Pid]) -> Result<(), PgError> {
    if group.len() > MAX_GROUP_NAME {
        return Err(PgError::GroupNameTooLong(group.len()));
    }
    let me = ctx.node().name();
    match pids.iter().find(|pid| pid.node() != me) {
        Some(pid) => Err(PgError::NotLocal(*pid)),
        None => Ok(()),
    }
}
