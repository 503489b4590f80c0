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

use async_trait::async_trait;
use beamish_core::limit::WarningLimiter;
use beamish_core::{
    Context, ExitReason, MonitorRef, NodeName, Origin, Pid, Process, ReplyTo, Signal,
};
use tokio::time::Instant;

use super::wire::{Verdict, Wire};
use super::{valid_name, Names, RegisterError, Resolver, UnregisterError, GLOBAL};

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
        Ok(state)
    }

    async fn handle(&mut self, ctx: &mut Context<Msg>, msg: Msg) -> Result<(), ExitReason> {
        match msg {
            Msg::Register { name, pid, reply } => self.register(ctx, name, pid, reply),
            Msg::Unregister { name, reply } => {
                reply.reply(self.unregister(ctx, &name));
            }
            Msg::Wire(wire) => self.heard(ctx, wire),
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

    /// Tells `node` every name this node's processes hold.
    fn sync(&self, ctx: &Context<Msg>, node: NodeName, answer: bool) {
        let me = ctx.node().name();
        let names = self
            .names
            .all()
            .into_iter()
            .filter(|(_, pid)| pid.node() == me)
            .collect();
        let sync = Wire::Sync {
            from: Origin::here(),
            registry: ctx.pid(),
            names,
            answer,
        };
        Self::send(ctx, node, &sync);
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

    fn unregister(&mut self, ctx: &Context<Msg>, name: &str) -> Result<(), UnregisterError> {
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
    fn release(&mut self, ctx: &Context<Msg>, name: &str, pid: Pid) {
        self.names.remove_if(name, pid);
        if let Some((_, names)) = self.held.get_mut(&pid) {
            names.remove(name);
        }
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
    fn holder_ended(&mut self, ctx: &Context<Msg>, pid: Pid) {
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

    // ---- Peers ----

    /// `node` left, or its registry ended: its processes' names are free,
    /// and no claim waits for it.
    fn peer_gone(&mut self, ctx: &mut Context<Msg>, node: NodeName) {
        if let Some((_, monitor)) = self.peers.remove(&node) {
            ctx.demonitor(monitor);
            self.names.set_peers(self.peers.keys().copied());
        }
        self.names.remove_node(node);
        let numbers: Vec<u64> = self.claims.keys().copied().collect();
        for number in numbers {
            if let Some(claim) = self.claims.get_mut(&number) {
                if claim.waiting.remove(&node) {
                    self.settle(ctx, number);
                }
            }
        }
    }

    /// What a peer's registry said.
    fn heard(&mut self, ctx: &mut Context<Msg>, wire: Wire) {
        match wire {
            Wire::Sync {
                from,
                registry,
                names,
                answer,
            } => self.synced(ctx, from, registry, names, answer),
            Wire::Claim {
                from,
                claim,
                name,
                pid,
            } => self.claimed(ctx, from, claim, &name, pid),
            Wire::Vote {
                from,
                claim,
                verdict,
            } => self.voted(ctx, from, claim, verdict),
            Wire::Registered {
                from,
                claim,
                name,
                pid,
            } => {
                if self.trusted(from, pid, "registered") && valid_name(&name) {
                    self.learn(ctx, &name, pid);
                    let ack = Wire::Vote {
                        from: Origin::here(),
                        claim,
                        verdict: Verdict::Yes,
                    };
                    Self::send(ctx, pid.node(), &ack);
                }
            }
            Wire::Released { from, name, pid } => {
                if self.trusted(from, pid, "released") {
                    self.names.remove_if(&name, pid);
                }
            }
        }
    }

    /// Whether a peer's registry, which `from` says carried a message,
    /// speaks for its own process `pid`; what does not is logged (rate
    /// limited) and refused.
    fn trusted(&self, from: Origin, pid: Pid, what: &'static str) -> bool {
        let Some(peer) = from.node() else {
            return false;
        };
        if pid.node() == peer && self.peers.contains_key(&peer) {
            return true;
        }
        if pid.node() != peer {
            if let Some(held_back) = self.warnings.admit(what, &peer.to_string(), Instant::now()) {
                tracing::warn!(
                    %peer, %pid, held_back, kind = what,
                    "a peer spoke of a global name for a process of another node; refused"
                );
            }
        } else {
            tracing::debug!(%peer, "a global registry message from a node that is not a peer");
        }
        false
    }

    fn synced(
        &mut self,
        ctx: &mut Context<Msg>,
        from: Origin,
        registry: Pid,
        names: Vec<(String, Pid)>,
        answer: bool,
    ) {
        let Some(peer) = from.node() else {
            return;
        };
        // Only visible peers take part, and a registry is its node's own.
        if registry.node() != peer || !ctx.node().nodes().contains(&peer) {
            tracing::debug!(%peer, %registry, "a global sync from a node that is not a peer");
            return;
        }
        let new = match self.peers.get(&peer) {
            Some((known, _)) if *known == registry => false,
            Some((_, monitor)) => {
                let monitor = *monitor;
                ctx.demonitor(monitor);
                true
            }
            None => true,
        };
        if new {
            let monitor = ctx.monitor(registry);
            self.peers.insert(peer, (registry, monitor));
            self.names.set_peers(self.peers.keys().copied());
            // Claims under way ask the new peer too.
            for (number, claim) in &mut self.claims {
                if claim.taken {
                    continue;
                }
                let ask = Wire::Claim {
                    from: Origin::here(),
                    claim: *number,
                    name: claim.name.clone(),
                    pid: claim.pid,
                };
                if Self::send(ctx, peer, &ask) {
                    claim.waiting.insert(peer);
                }
            }
        }
        if answer {
            self.sync(ctx, peer, false);
        }
        // What the peer holds replaces what was known of it.
        let mut listed = BTreeSet::new();
        for (name, pid) in names {
            if !self.trusted(from, pid, "sync") || !valid_name(&name) {
                continue;
            }
            self.learn(ctx, &name, pid);
            listed.insert(name);
        }
        self.names.remove_node_except(peer, &listed);
    }

    fn claimed(&mut self, ctx: &mut Context<Msg>, from: Origin, number: u64, name: &str, pid: Pid) {
        let Some(peer) = from.node() else {
            return;
        };
        if !self.trusted(from, pid, "claim") || !valid_name(name) {
            return;
        }
        let verdict = match self.names.get(name) {
            Some(holder) if holder == pid => Verdict::Yes,
            Some(holder) => Verdict::Held(holder),
            None => self.contend(name, pid),
        };
        let vote = Wire::Vote {
            from: Origin::here(),
            claim: number,
            verdict,
        };
        Self::send(ctx, peer, &vote);
    }

    /// A peer claims `name`, free here, for `pid`: a claim of this node's
    /// for the same name goes on if its pid sorts first, and gives up
    /// otherwise.
    fn contend(&mut self, name: &str, pid: Pid) -> Verdict {
        let ours = self
            .claims
            .iter()
            .find(|(_, claim)| !claim.taken && claim.name == name)
            .map(|(number, claim)| (*number, claim.pid));
        match ours {
            Some((_, mine)) if mine < pid => Verdict::Claimed(mine),
            Some((number, _)) => {
                let why = RegisterError::Contended {
                    name: name.to_owned(),
                    claimant: pid,
                };
                self.fail(number, why);
                Verdict::Yes
            }
            None => Verdict::Yes,
        }
    }

    fn voted(&mut self, ctx: &mut Context<Msg>, from: Origin, number: u64, verdict: Verdict) {
        let Some(peer) = from.node() else {
            return;
        };
        let Some(claim) = self.claims.get_mut(&number) else {
            return;
        };
        if !claim.waiting.remove(&peer) {
            return;
        }
        let name = claim.name.clone();
        match verdict {
            // Once the name is taken, any answer is an acknowledgement.
            _ if claim.taken => self.settle(ctx, number),
            Verdict::Yes => self.settle(ctx, number),
            Verdict::Held(holder) => self.fail(number, RegisterError::Taken { name, holder }),
            Verdict::Claimed(claimant) => {
                self.fail(number, RegisterError::Contended { name, claimant });
            }
        }
    }

    /// A peer's process `pid` holds `name`. If another holds it here, the
    /// resolver keeps one, the same on every node; the loser's node (if
    /// this one) lets it know.
    fn learn(&mut self, ctx: &mut Context<Msg>, name: &str, pid: Pid) {
        let Some(holder) = self.names.get(name) else {
            self.names.insert(name, pid);
            return;
        };
        if holder == pid {
            return;
        }
        let (first, second) = (holder.min(pid), holder.max(pid));
        let chosen = self.resolver.winner(name, first, second);
        let winner = if chosen == second { second } else { first };
        let loser = if winner == first { second } else { first };
        tracing::info!(%name, %winner, %loser, "a global name was held twice; one keeps it");
        self.names.insert(name, winner);
        if loser.node() == ctx.node().name() {
            self.unhold(ctx, name, loser);
            self.resolver.lost(ctx.node(), name, loser, winner);
        }
    }
}
