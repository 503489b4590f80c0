//! What one node's topic router sends another's: an event, encoded once,
//! for every subscriber there whose pattern matches.

use beamish_core::{Message, Origin};
use serde::{Deserialize, Serialize};

/// One event for the subscribers on the receiving node.
#[derive(Debug, Serialize, Deserialize, Message)]
#[message(name = "beamish.topics.Event")]
pub(crate) struct Event {
    /// The node that carried it.
    pub(crate) from: Origin,
    /// The topic it was published on.
    pub(crate) topic: String,
    /// The wire id of the event's type ([`Message::WIRE_ID`]).
    pub(crate) event_type: u64,
    /// The event, encoded with rmp-serde.
    #[serde(with = "serde_bytes")]
    pub(crate) payload: Vec<u8>,
}
