//! What the registries of two nodes tell each other.

use beamish_core::{Message, Origin, Pid};
use serde::{Deserialize, Serialize};

/// How many names one part of a [`Wire::Sync`] carries at most: with
/// names of at most [`MAX_NAME_LEN`](super::MAX_NAME_LEN) bytes, a part
/// stays far below the largest frame a connection takes.
pub(crate) const SYNC_PART: usize = 1024;

/// What one node's registry sends another's. Every pid it names as a
/// holder or claimant is a process of the sending node: a node speaks
/// only for its own processes, and the receiver checks that against
/// `from`, which says which peer's connection carried the message.
#[derive(Debug, Serialize, Deserialize, Message)]
#[message(name = "beamish.cluster.Global")]
pub(crate) enum Wire {
    /// The names the sender's processes hold: all of them, in parts of
    /// at most [`SYNC_PART`] names numbered from 0, which together
    /// replace what the receiver knew of the sender's once the `last`
    /// arrived. Sent when the two nodes meet and again every resync
    /// interval; `answer` (in part 0) asks for the receiver's in return.
    Sync {
        from: Origin,
        /// The sender's registry, which the receiver monitors.
        registry: Pid,
        /// Which part of the sync this is.
        part: u32,
        /// Whether it is the sync's last part.
        last: bool,
        names: Vec<(String, Pid)>,
        answer: bool,
    },
    /// May `pid` take `name`? Answered with a [`Wire::Vote`].
    Claim {
        from: Origin,
        /// The claim's number on the claimant's node.
        claim: u64,
        name: String,
        pid: Pid,
    },
    /// The answer to a claim.
    Vote {
        from: Origin,
        claim: u64,
        verdict: Verdict,
    },
    /// `pid` now holds `name`, as claim `claim` asked: acknowledged with
    /// a [`Wire::Vote`].
    Registered {
        from: Origin,
        claim: u64,
        name: String,
        pid: Pid,
    },
    /// `pid` no longer holds `name`.
    Released {
        from: Origin,
        name: String,
        pid: Pid,
    },
}

/// A node's answer to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Verdict {
    /// The name is free here, as far as this node knows.
    Yes,
    /// The name is held, by this process.
    Held(Pid),
    /// The name is being claimed, on this node, by a process that sorts
    /// first: that claim wins.
    Claimed(Pid),
}
