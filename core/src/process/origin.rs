//! Which peer a message came from, as its connection says.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::decoding::with_decoding;
use crate::NodeName;

/// The node a message came from, as the authenticated connection that
/// carried it says, not as the message says.
///
/// A field of this type in a message lets the receiver hold a peer to
/// the rule every node keeps for signals: a node speaks only for its own
/// processes. The sender writes [`Origin::here`]; nothing of it goes on
/// the wire (it is encoded as nil). When a node decodes the message from
/// a peer's frame, the field holds that peer's name, whatever the sender
/// wrote, so a receiver can refuse what a peer says about processes of
/// other nodes.
///
/// # Examples
///
/// ```
/// use beamish_core::{Message, Origin, Pid};
/// use serde::{Deserialize, Serialize};
///
/// /// A peer's claim that `pid` holds a lease.
/// #[derive(Serialize, Deserialize, Message)]
/// #[message(name = "leases.Claim")]
/// struct Claim {
///     pid: Pid,
///     from: Origin,
/// }
///
/// /// Whether the claim's sender speaks for a process of its own.
/// fn trusted(claim: &Claim) -> bool {
///     match claim.from.node() {
///         Some(peer) => claim.pid.node() == peer,
///         // Made on this node.
///         None => true,
///     }
/// }
///
/// let node = beamish_core::NodeName::new("a@host")?;
/// let pid = Pid::new(node, 1, beamish_core::Creation::fresh());
/// assert!(trusted(&Claim { pid, from: Origin::here() }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Origin(Option<NodeName>);

impl Origin {
    /// For a message made on this node: what a sender writes.
    pub fn here() -> Self {
        Self(None)
    }

    /// The peer whose connection carried the message; `None` for a
    /// message made on this node, decoded outside a node, or left from
    /// an earlier session of a durable transport (whose carrier is gone).
    pub fn node(&self) -> Option<NodeName> {
        self.0
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(node) => write!(f, "Origin({node})"),
            None => f.write_str("Origin(here)"),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Whatever the sender wrote is read and set aside.
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Self(with_decoding(|_, decoding| decoding.from).flatten()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_of_it_is_on_the_wire_and_outside_a_node_it_says_here() {
        let peer = NodeName::new("liar@host").expect("valid");
        let bytes = rmp_serde::to_vec(&Origin(Some(peer))).expect("encodes");
        assert_eq!(bytes, rmp_serde::to_vec(&()).expect("encodes"));
        let decoded: Origin = rmp_serde::from_slice(&bytes).expect("decodes");
        assert_eq!(decoded, Origin::here());
    }
}
