//! What the registry hears from its peers' registries, and how it
//! follows them.

use beamish_core::{Context, NodeName, Origin, Pid};
use tokio::time::Instant;

use super::{Msg, Registry};
use crate::global::wire::{Verdict, Wire};
use crate::global::{valid_name, RegisterError};

impl Registry {
    /// `node` left, or its registry ended: its processes' names are free,
    /// and no claim waits for it.
    pub(super) fn peer_gone(&mut self, ctx: &mut Context<Msg>, node: NodeName) {
        self.incoming.forget(node);
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
    pub(super) fn heard(&mut self, ctx: &mut Context<Msg>, wire: Wire) {
        match wire {
            Wire::Sync {
                from,
                registry,
                part,
                last,
                names,
                answer,
            } => self.synced(ctx, from, registry, (part, last), names, answer),
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
        (part, last): (u32, bool),
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
        let Some(mut listed) = self.incoming.take(peer, registry, part) else {
            tracing::debug!(%peer, part, "a part of a global sync out of turn; ignored");
            return;
        };
        for (name, pid) in names {
            if !self.trusted(from, pid, "sync") || !valid_name(&name) {
                continue;
            }
            self.learn(ctx, &name, pid);
            listed.insert(name);
        }
        if last {
            // What the peer holds replaces what was known of it.
            self.names.remove_node_except(peer, &listed);
        } else {
            self.incoming.keep(peer, registry, part, listed);
        }
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
            // Its node speaks for it: peers that knew it as the holder
            // and have not met the winner's node yet forget it.
            let told = Wire::Released {
                from: Origin::here(),
                name: name.to_owned(),
                pid: loser,
            };
            for node in self.peers.keys() {
                Self::send(ctx, *node, &told);
            }
            self.resolver.lost(ctx.node(), name, loser, winner);
        }
    }
}
