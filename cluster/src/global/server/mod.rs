//! The registry process each node runs: it keeps the table of global
//! names, claims names for this node's processes from every peer's
//! registry, answers their claims, and tells peers of what this node's
//! processes hold.
//!
//! How a claim goes: the claimant's registry asks every peer's registry
//! ([`Wire::Claim`]); each answers yes, held (by whom), or claimed (by a
//! concurrent claim of its own whose pid sorts first). A registry that
//! answers yes to a claim whose pid sorts before its own pending claim of
//! the same name gives its own up. Of two concurrent claims, each
//! claimant hears the other's, so both agree that the one whose pid sorts
//! first goes on and the other fails. Once every peer said yes, the
//! claimant takes the name, tells every peer ([`Wire::Registered`]), and
//! answers its caller once they all acknowledged. A peer lost meanwhile
//! (its node down, its registry ended) is not waited for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::limit::WarningLimiter;
use beamish_core::{
    Context, ExitReason, MonitorRef, NodeName, Origin, Pid, Process, ReplyTo, Signal,
};

use super::wire::{Wire, SYNC_PART};
use super::{valid_name, Names, RegisterError, Resolver, UnregisterError, GLOBAL};
use crate::parts::{numbered, Reassembly};

mod peers;

/// What the registry takes: its peers' messages, and this node's requests.
pub(crate) enum Msg {
    /// From another node's registry.
    Wire(Wire),
    /// Claim `name` for the local process `pid`.
    Register {
        name: String,
        pid: Pid,
        reply: ReplyTo<Result<(), RegisterError>>,
    },
    /// Release `name`, held by a local process.
    Unregister {
        name: String,
        reply: ReplyTo<Result<(), UnregisterError>>,
    },
    /// Claim number `0`'s time is up.
    Expired(u64),
    /// Time to tell every peer again what this node's processes hold.
    Resync,
}

impl From<Wire> for Msg {
    fn from(wire: Wire) -> Self {
        Msg::Wire(wire)
    }
}

/// What the registry starts with.
pub(crate) struct Args {
    pub(crate) names: Arc<Names>,
    pub(crate) resolver: Arc<dyn Resolver>,
    pub(crate) claim_timeout: Duration,
    pub(crate) resync_interval: Duration,
}

/// A claim of this node's, waiting for its peers.
struct Claim {
    name: String,
    pid: Pid,
    /// Peers that have not answered yet.
    waiting: BTreeSet<NodeName>,
    /// Every peer said yes: the name is taken, and `waiting` are the
    /// peers yet to acknowledge it.
    taken: bool,
    reply: ReplyTo<Result<(), RegisterError>>,
}

pub(crate) struct Registry {
    /// Every global name known here, shared with readers.
    names: Arc<Names>,
    resolver: Arc<dyn Resolver>,
    claim_timeout: Duration,
    resync_interval: Duration,
    /// Syncs from peers whose last part has not arrived yet: the names
    /// they listed so far.
    incoming: Reassembly<BTreeSet<String>>,
    /// The local processes holding names, each monitored once.
    held: HashMap<Pid, (MonitorRef, BTreeSet<String>)>,
    /// The peers running a registry: theirs, monitored.
    peers: BTreeMap<NodeName, (Pid, MonitorRef)>,
    /// This node's claims under way, by number.
    claims: BTreeMap<u64, Claim>,
    next_claim: u64,
    warnings: WarningLimiter,
}

#[async_trait]
impl Process for Registry {
    type Args = Args;
    type Msg = Msg;

    async fn init(ctx: &mut Context<Msg>, args: Args) -> Result<Self, ExitReason> {
        ctx.monitor_nodes(true);
        let state = Registry {
            names: args.names,
            resolver: args.resolver,
            claim_timeout: args.claim_timeout,
            resync_interval: args.resync_interval,
            incoming: Reassembly::new(),
            held: HashMap::new(),
            peers: BTreeMap::new(),
            claims: BTreeMap::new(),
            next_claim: 0,
            warnings: WarningLimiter::default(),
        };
        // Registries of nodes connected before this started meet it now.
        for node in ctx.node().nodes() {
            state.sync(ctx, node, true);
        }
        drop(ctx.send_after(Msg::Resync, state.resync_interval));
        Ok(state)
    }

    async fn handle(&mut self, ctx: &mut Context<Msg>, msg: Msg) -> Result<(), ExitReason> {
        match msg {
            Msg::Register { name, pid, reply } => self.register(ctx, name, pid, reply),
            Msg::Unregister { name, reply } => {
                reply.reply(self.unregister(ctx, &name));
            }
            Msg::Wire(wire) => self.heard(ctx, wire),
            Msg::Expired(number) => self.expired(number),
            Msg::Resync => {
                // A peer that missed a message (its queue was full, say)
                // agrees again by the next round at the latest.
                for node in self.peers.keys() {
                    self.sync(ctx, *node, false);
                }
                drop(ctx.send_after(Msg::Resync, self.resync_interval));
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
            Signal::NodeUp(node) => self.sync(ctx, node, true),
            Signal::NodeDown(node) => self.peer_gone(ctx, node),
            Signal::Down { monitor, pid, .. } => {
                if self
                    .held
                    .get(&pid)
                    .is_some_and(|(held, _)| *held == monitor)
                {
                    self.holder_ended(ctx, pid);
                } else if self.peers.get(&pid.node()) == Some(&(pid, monitor)) {
                    tracing::info!(peer = %pid.node(), "a peer's global registry ended");
                    self.peer_gone(ctx, pid.node());
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl Registry {
    /// Sends `wire` to `node`'s registry; whether it went.
    fn send(ctx: &Context<Msg>, node: NodeName, wire: &Wire) -> bool {
        match ctx.node().send_remote_named(node, GLOBAL, wire) {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(peer = %node, %error, "could not reach a global registry");
                false
            }
        }
    }

    /// Tells `node` every name this node's processes hold, in parts. A
    /// part that cannot be sent ends the sync: the peer, which never
    /// sees its last part, keeps what it knew until the next one.
    fn sync(&self, ctx: &Context<Msg>, node: NodeName, answer: bool) {
        let me = ctx.node().name();
        let names: Vec<(String, Pid)> = self
            .names
            .all()
            .into_iter()
            .filter(|(_, pid)| pid.node() == me)
            .collect();
        let parts = names.len().div_ceil(SYNC_PART).max(1);
        let mut names = names.into_iter();
        for (part, last) in numbered(parts) {
            let sync = Wire::Sync {
                from: Origin::here(),
                registry: ctx.pid(),
                part,
                last,
                names: names.by_ref().take(SYNC_PART).collect(),
                answer: answer && part == 0,
            };
            if !Self::send(ctx, node, &sync) {
                return;
            }
        }
    }

    // ---- This node's requests ----

    fn register(
        &mut self,
        ctx: &mut Context<Msg>,
        name: String,
        pid: Pid,
        reply: ReplyTo<Result<(), RegisterError>>,
    ) {
        if let Err(refused) = self.may_claim(ctx, &name, pid) {
            reply.reply(refused);
            return;
        }
        let claim = self.next_claim;
        self.next_claim += 1;
        let ask = Wire::Claim {
            from: Origin::here(),
            claim,
            name: name.clone(),
            pid,
        };
        let waiting = self
            .peers
            .keys()
            .copied()
            .filter(|node| Self::send(ctx, *node, &ask))
            .collect();
        let pending = Claim {
            name,
            pid,
            waiting,
            taken: false,
            reply,
        };
        self.claims.insert(claim, pending);
        drop(ctx.send_after(Msg::Expired(claim), self.claim_timeout));
        self.settle(ctx, claim);
    }

    /// Whether `pid` may start claiming `name` here: `Ok(())` to ask the
    /// peers, or the answer to give at once.
    fn may_claim(
        &mut self,
        ctx: &mut Context<Msg>,
        name: &str,
        pid: Pid,
    ) -> Result<(), Result<(), RegisterError>> {
        if !valid_name(name) {
            return Err(Err(RegisterError::BadName { len: name.len() }));
        }
        if pid.node() != ctx.node().name() {
            return Err(Err(RegisterError::NotLocal(pid)));
        }
        if !ctx.node().is_alive(pid) {
            return Err(Err(RegisterError::NoProc(pid)));
        }
        match self.names.get(name) {
            Some(holder) if holder == pid => return Err(Ok(())),
            Some(holder) => {
                return Err(Err(RegisterError::Taken {
                    name: name.to_owned(),
                    holder,
                }))
            }
            None => {}
        }
        if let Some(other) = self.claims.values().find(|claim| claim.name == name) {
            return Err(Err(RegisterError::Contended {
                name: name.to_owned(),
                claimant: other.pid,
            }));
        }
        Ok(())
    }

    /// Moves claim `number` on if no peer is left to answer: takes the
    /// name once all said yes, answers the caller once all know.
    fn settle(&mut self, ctx: &mut Context<Msg>, number: u64) {
        let Some(claim) = self.claims.get_mut(&number) else {
            return;
        };
        if !claim.waiting.is_empty() {
            return;
        }
        if claim.taken {
            if let Some(claim) = self.claims.remove(&number) {
                claim.reply.reply(Ok(()));
            }
            return;
        }
        let (name, pid) = (claim.name.clone(), claim.pid);
        if !ctx.node().is_alive(pid) {
            self.fail(number, RegisterError::NoProc(pid));
            return;
        }
        if let Some(holder) = self.names.get(&name) {
            self.fail(number, RegisterError::Taken { name, holder });
            return;
        }
        self.names.insert(&name, pid);
        self.hold(ctx, &name, pid);
        let told = Wire::Registered {
            from: Origin::here(),
            claim: number,
            name,
            pid,
        };
        let waiting = self
            .peers
            .keys()
            .copied()
            .filter(|node| Self::send(ctx, *node, &told))
            .collect();
        if let Some(claim) = self.claims.get_mut(&number) {
            claim.taken = true;
            claim.waiting = waiting;
        }
        self.settle(ctx, number);
    }

    fn fail(&mut self, number: u64, why: RegisterError) {
        if let Some(claim) = self.claims.remove(&number) {
            tracing::debug!(name = %claim.name, pid = %claim.pid, %why, "a global name was not taken");
            claim.reply.reply(Err(why));
        }
    }

    /// Claim `number` is still under way after the claim timeout: peers
    /// that have not answered are not waited for any longer. A claim they
    /// had not answered fails; a name they had not acknowledged is taken
    /// all the same (they learn it at the latest when they meet again).
    fn expired(&mut self, number: u64) {
        let Some(claim) = self.claims.get(&number) else {
            return;
        };
        let silent: Vec<NodeName> = claim.waiting.iter().copied().collect();
        tracing::warn!(name = %claim.name, ?silent, "global registries did not answer a claim in time");
        if claim.taken {
            if let Some(claim) = self.claims.remove(&number) {
                claim.reply.reply(Ok(()));
            }
        } else {
            self.fail(number, RegisterError::NoAnswer(silent));
        }
    }

    fn unregister(&mut self, ctx: &mut Context<Msg>, name: &str) -> Result<(), UnregisterError> {
        let Some(holder) = self.names.get(name) else {
            return Ok(());
        };
        if holder.node() != ctx.node().name() {
            return Err(UnregisterError::NotLocal {
                name: name.to_owned(),
                holder,
            });
        }
        self.release(ctx, name, holder);
        Ok(())
    }

    // ---- Local holders ----

    /// Notes that the local process `pid` holds `name`, monitoring it.
    fn hold(&mut self, ctx: &mut Context<Msg>, name: &str, pid: Pid) {
        if let Some((_, names)) = self.held.get_mut(&pid) {
            names.insert(name.to_owned());
        } else {
            let monitor = ctx.monitor(pid);
            self.held
                .insert(pid, (monitor, BTreeSet::from([name.to_owned()])));
        }
    }

    /// The local process `pid` no longer holds `name` (as this node's
    /// table may already say); stops monitoring it once it holds none.
    fn unhold(&mut self, ctx: &mut Context<Msg>, name: &str, pid: Pid) {
        if let Some((monitor, names)) = self.held.get_mut(&pid) {
            names.remove(name);
            if names.is_empty() {
                let monitor = *monitor;
                self.held.remove(&pid);
                ctx.demonitor(monitor);
            }
        }
    }

    /// The local process `pid` lets `name` go: every peer is told.
    fn release(&mut self, ctx: &mut Context<Msg>, name: &str, pid: Pid) {
        self.names.remove_if(name, pid);
        self.unhold(ctx, name, pid);
        let told = Wire::Released {
            from: Origin::here(),
            name: name.to_owned(),
            pid,
        };
        for node in self.peers.keys() {
            Self::send(ctx, *node, &told);
        }
    }

    /// A local holder ended: its names are free, everywhere.
    fn holder_ended(&mut self, ctx: &mut Context<Msg>, pid: Pid) {
        let Some((_, names)) = self.held.remove(&pid) else {
            return;
        };
        for name in names {
            if self.names.get(&name) == Some(pid) {
                tracing::debug!(%name, %pid, "a global name's holder ended");
                self.release(ctx, &name, pid);
            }
        }
    }
}
