//! What members tell each other.

use beamish_core::{Endpoint, Message, NodeName, Origin};
use serde::{Deserialize, Serialize};

/// What one membership process sends another.
#[derive(Debug, Serialize, Deserialize, Message)]
#[message(name = "beamish.cluster.Membership")]
pub(crate) enum Gossip {
    /// A member introduces itself, and the members it is connected to.
    Hello {
        /// The member speaking, as its connection says.
        from: Origin,
        /// Where it listens, as text.
        endpoints: Vec<String>,
        /// The members it is connected to.
        members: Vec<Member>,
    },
}

/// A member, and where it listens.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Member {
    /// Its name.
    pub(crate) node: NodeName,
    /// Where it listens, as text.
    pub(crate) endpoints: Vec<String>,
}

/// Endpoints as they cross the wire.
pub(crate) fn to_text(endpoints: &[Endpoint]) -> Vec<String> {
    endpoints.iter().map(Endpoint::to_string).collect()
}

/// The most endpoints taken from a peer for one member; a node listens at
/// a handful.
pub(crate) const MAX_ENDPOINTS: usize = 8;

/// The most members taken from one hello; the others are heard of from
/// the members taken, or at the next hello.
pub(crate) const MAX_MEMBERS: usize = 256;

/// Endpoints read from a peer, at most [`MAX_ENDPOINTS`]; what does not
/// parse is left out.
pub(crate) fn parse(from: NodeName, endpoints: &[String]) -> Vec<Endpoint> {
    endpoints
        .iter()
        .take(MAX_ENDPOINTS)
        .filter_map(|text| match text.parse() {
            Ok(endpoint) => Some(endpoint),
            Err(error) => {
                tracing::debug!(peer = %from, %error, "a member sent an endpoint that does not parse");
                None
            }
        })
        .collect()
}
