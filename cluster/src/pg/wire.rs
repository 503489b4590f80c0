//! What the scope processes of one scope tell each other, and how what a
//! peer says is checked: a node speaks only for its own processes.

use beamish_core::{Message, NodeName, Origin, Pid};
use serde::{Deserialize, Serialize};

/// The longest group name, in bytes, taken from anyone.
pub const MAX_GROUP_NAME: usize = 1024;

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
    /// replacing what the receiver knew of that node.
    Sync {
        /// The node that carried it.
        from: Origin,
        /// The sender's scope process.
        scope: Pid,
        /// Each group with members on the sender's node, and them.
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
