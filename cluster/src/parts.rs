//! Syncs sent in parts: numbering them on the way out, and putting them
//! back together on the way in, peer by peer. A part 0 starts a sync
//! afresh; a part out of turn (one before it could not be sent) ends the
//! sync, and the peer's next one starts again.

use std::collections::HashMap;

use beamish_core::{NodeName, Pid};

/// The number and the `last` flag of each of `count` parts, in order.
pub(crate) fn numbered(count: usize) -> impl Iterator<Item = (u32, bool)> {
    (0..count).map(move |part| (u32::try_from(part).unwrap_or(u32::MAX), part + 1 == count))
}

/// Syncs from peers whose last part has not arrived yet: for each, the
/// process that sends it, the part expected next, and what came so far.
#[derive(Debug)]
pub(crate) struct Reassembly<T> {
    peers: HashMap<NodeName, (Pid, u32, T)>,
}

impl<T: Default> Reassembly<T> {
    pub(crate) fn new() -> Self {
        Self {
            peers: HashMap::new(),
        }
    }

    /// What came so far of `peer`'s sync from `sender`, for part `part`
    /// to be added to: empty for part 0, `None` for a part out of turn
    /// (the sync is dropped).
    pub(crate) fn take(&mut self, peer: NodeName, sender: Pid, part: u32) -> Option<T> {
        match self.peers.remove(&peer) {
            _ if part == 0 => Some(T::default()),
            Some((known, next, so_far)) if known == sender && next == part => Some(so_far),
            _ => None,
        }
    }

    /// Keeps what came so far, `part` added, for the next part.
    pub(crate) fn keep(&mut self, peer: NodeName, sender: Pid, part: u32, so_far: T) {
        self.peers
            .insert(peer, (sender, part.saturating_add(1), so_far));
    }

    /// `peer` is gone: so is its sync under way.
    pub(crate) fn forget(&mut self, peer: NodeName) {
        self.peers.remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_in_turn_add_up_and_one_out_of_turn_drops_the_sync() {
        let peer = NodeName::new("b@localhost").expect("a name");
        let sender: Pid = "<b@localhost.3.1>".parse().expect("a pid");
        let mut parts: Reassembly<Vec<u32>> = Reassembly::new();
        let mut so_far = parts.take(peer, sender, 0).expect("part 0 starts");
        so_far.push(0);
        parts.keep(peer, sender, 0, so_far);
        let mut so_far = parts.take(peer, sender, 1).expect("in turn");
        so_far.push(1);
        assert_eq!(so_far, [0, 1]);
        parts.keep(peer, sender, 1, so_far);
        assert!(parts.take(peer, sender, 3).is_none(), "part 2 went missing");
        assert!(
            parts.take(peer, sender, 2).is_none(),
            "the sync was dropped"
        );
        assert_eq!(parts.take(peer, sender, 0), Some(Vec::new()));
        assert_eq!(numbered(2).collect::<Vec<_>>(), [(0, false), (1, true)]);
    }
}
