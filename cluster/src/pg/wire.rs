//! What the scope processes of one scope tell each other, and how what a
//! peer says is checked: a node speaks only for its own processes.

use beamish_core::{Message, NodeName, Origin, Pid};
use serde::{Deserialize, Serialize};

/// The longest group name, in bytes, taken from anyone.
pub const MAX_GROUP_NAME: usize = 1024;

/// About how many bytes of group names and members one part of a
/// [`PgWire::Sync`] carries, far below the largest frame a connection
/// takes, so a node with millions of memberships can still sync.
pub(crate) const SYNC_PART_BYTES: usize = 256 * 1024;

/// What an encoded member costs in a sync part, at most.
const PID_BYTES: usize = 48;

/// Splits a node's members, group by group, into the groups of each part
/// of a sync: every part but the last carries about
/// [`SYNC_PART_BYTES`]; there is always at least one part.
pub(crate) fn sync_parts(groups: Vec<(String, Vec<Pid>)>) -> Vec<Vec<(String, Vec<Pid>)>> {
    let mut parts = vec![Vec::new()];
    let mut room = SYNC_PART_BYTES;
    for (group, mut pids) in groups {
        while !pids.is_empty() {
            let fits = room.saturating_sub(group.len()) / PID_BYTES;
            if fits == 0 {
                parts.push(Vec::new());
                room = SYNC_PART_BYTES;
                continue;
            }
            let rest = pids.split_off(fits.min(pids.len()));
            room -= group.len() + pids.len() * PID_BYTES;
            if let Some(part) = parts.last_mut() {
                part.push((group.clone(), pids));
            }
            pids = rest;
        }
    }
    parts
}

/// What one scope process sends the same scope's process on another node.
#[derive(Debug, Serialize, Deserialize, Message)]
#[message(name = "beamish.pg.Scope")]
pub(crate) enum PgWire {
    /// The sender's scope process is `scope`: it asks for the members on
    /// the receiver's node (a [`Sync`](Self::Sync)).
    Discover {
        /// The node that carried it.
        from: Origin,
        /// The sender's scope process.
        scope: Pid,
    },
    /// The members on the sender's node, group by group: all of them,
    /// in parts of about [`SYNC_PART_BYTES`] numbered from 0, which
    /// together replace what the receiver knew of that node once the
    /// `last` arrived. A group may span parts.
    Sync {
        /// The node that carried it.
        from: Origin,
        /// The sender's scope process.
        scope: Pid,
        /// Which part of the sync this is.
        part: u32,
        /// Whether it is the sync's last part.
        last: bool,
        /// Groups with members on the sender's node, and (some of) them.
        groups: Vec<(String, Vec<Pid>)>,
    },
    /// Processes of the sender's node joined a group (each once more).
    Join {
        /// The node that carried it.
        from: Origin,
        /// The group.
        group: String,
        /// The processes.
        pids: Vec<Pid>,
    },
    /// Processes of the sender's node left a group (each once).
    Leave {
        /// The node that carried it.
        from: Origin,
        /// The group.
        group: String,
        /// The processes.
        pids: Vec<Pid>,
    },
}

/// A group's name, and processes named in it.
type Named<'a> = (&'a str, &'a [Pid]);

impl PgWire {
    /// The peer that carried this message, if every process it speaks for
    /// (its scope process and the members it names) is on that peer and
    /// every group name is within [`MAX_GROUP_NAME`]; otherwise why not.
    pub(crate) fn speaker(&self) -> Result<NodeName, &'static str> {
        let (from, scope, groups): (&Origin, Option<&Pid>, Vec<Named<'_>>) = match self {
            Self::Discover { from, scope } => (from, Some(scope), Vec::new()),
            Self::Sync {
                from,
                scope,
                groups,
                ..
            } => (
                from,
                Some(scope),
                groups
                    .iter()
                    .map(|(group, pids)| (group.as_str(), pids.as_slice()))
                    .collect(),
            ),
            Self::Join { from, group, pids } | Self::Leave { from, group, pids } => {
                (from, None, vec![(group.as_str(), pids.as_slice())])
            }
        };
        let peer = from.node().ok_or("a scope message not carried by a peer")?;
        let own = |pid: &Pid| pid.node() == peer;
        if !scope.is_none_or(own) {
            return Err("a scope process on another node than the peer's");
        }
        for (group, pids) in groups {
            if group.len() > MAX_GROUP_NAME {
                return Err("a group name over the limit");
            }
            if !pids.iter().all(own) {
                return Err("members on another node than the peer's");
            }
        }
        Ok(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u32) -> Pid {
        format!("<a@localhost.{n}.1>").parse().expect("a pid")
    }

    /// Every part's weight, as [`sync_parts`] counts it.
    fn weight(part: &[(String, Vec<Pid>)]) -> usize {
        part.iter()
            .map(|(group, pids)| group.len() + pids.len() * PID_BYTES)
            .sum()
    }

    #[test]
    fn nothing_to_sync_is_one_empty_part() {
        assert_eq!(sync_parts(Vec::new()), vec![Vec::new()]);
    }

    #[test]
    fn parts_stay_within_the_bound_and_keep_every_member_in_order() {
        let big: Vec<Pid> = (0..20_000).map(pid).collect();
        let long = "l".repeat(MAX_GROUP_NAME);
        let mut groups = vec![("big".to_owned(), big.clone())];
        groups.extend((0..300).map(|n| (format!("{long}{n}"), vec![pid(n)])));
        let parts = sync_parts(groups.clone());
        assert!(parts.len() > 4, "{} parts", parts.len());
        for part in &parts {
            assert!(weight(part) <= SYNC_PART_BYTES);
            assert!(!part.is_empty());
        }
        // Put back together, they are what was split.
        let mut joined: Vec<(String, Vec<Pid>)> = Vec::new();
        for (group, pids) in parts.into_iter().flatten() {
            match joined.last_mut() {
                Some((last, all)) if *last == group => all.extend(pids),
                _ => joined.push((group, pids)),
            }
        }
        assert_eq!(joined, groups);
    }
}
