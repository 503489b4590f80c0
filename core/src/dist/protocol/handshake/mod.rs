//! The handshake between two nodes, as a state machine that takes the
//! peer's messages and returns what to send: no I/O, no clock.
//!
//! ```text
//! initiator                                   acceptor
//!   Hello { versions, name, creation, caps, nonce_i } ->
//!                  <- Challenge { version, name, creation, caps, nonce_a }
//!   ChallengeReply { proof_i } ->
//!                  <- ChallengeAck { proof_a }
//! ```
//!
//! `proof_i` and `proof_a` are HMAC-SHA256 under the shared cookie of a
//! transcript holding the chosen version, both names, both creations and
//! both nonces, each with its own role label, so each side proves it knows
//! the cookie without sending it, and neither proof can be replayed as the
//! other.
//!
//! As in Erlang, the side that accepts proves itself only after the side
//! that connects has: anyone may open a connection and send a Hello, and
//! what comes back before a valid `proof_i` (the acceptor's name, creation
//! and nonce) does not depend on the cookie, so it gives nothing to guess
//! the cookie against offline. Whether a node of the caller's name is
//! already connected is checked only once `proof_i` has checked out, so a
//! stranger cannot learn who is connected either.
//!
//! A side that finds something wrong sends `Refuse` with the reason before
//! closing, so both ends report the same clear error. Nothing from the
//! peer is interned or trusted before its proof checks out. `Hello` and
//! `Refuse` keep their shape from one protocol version to the next, so
//! nodes of different versions refuse each other with
//! [`Refusal::UnsupportedVersion`] rather than a garbled message.

mod cookie;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pid::validate;
pub use crate::Refusal;
use crate::{Creation, NodeName, NodeNameError};

pub(crate) use cookie::SHORT_COOKIE;
pub use cookie::{Cookie, CookieFileError, RandomnessError};

/// The version of the distribution protocol this build speaks.
///
/// Version 2 has the accepting side prove itself after the connecting
/// side (version 1 had it prove itself first). Version 3 names a message's
/// type by the wire id of its [`Message::NAME`](crate::Message::NAME)
/// instead of its Rust type path, and encodes structs as maps. Versions do
/// not talk to each other.
pub const PROTOCOL_VERSION: u16 = 3;

/// The largest frame a node takes from a peer before the handshake has
/// completed; a larger one closes the connection at once. Every handshake
/// message is far smaller (a Hello is under 200 bytes).
pub const MAX_HANDSHAKE_FRAME: usize = 4096;

const NONCE: usize = 32;

type Proof = [u8; 32];

/// Labels that keep one role's proof from passing as the other's.
const INITIATOR: &[u8] = b"beamish/initiator";
const ACCEPTOR: &[u8] = b"beamish/acceptor";

/// What a node brings to a handshake.
#[derive(Clone, Debug)]
pub struct HandshakeConfig {
    name: NodeName,
    /// The name's text, as it goes on the wire.
    text: String,
    creation: Creation,
    cookie: Cookie,
    capabilities: u64,
}

impl HandshakeConfig {
    /// This node's name, creation and the cluster cookie.
    pub fn new(name: NodeName, creation: Creation, cookie: Cookie) -> Self {
        Self {
            name,
            text: name.to_string(),
            creation,
            cookie,
            capabilities: 0,
        }
    }

    /// Capability bits this node offers; a peer learns the bits both offer.
    pub fn capabilities(mut self, bits: u64) -> Self {
        self.capabilities = bits;
        self
    }
}

/// The other node, once the handshake succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Peer {
    /// Its name.
    pub name: NodeName,
    /// Its creation.
    pub creation: Creation,
    /// The capability bits both sides offer.
    pub capabilities: u64,
    /// The bits the peer offers, some of which say what it is rather
    /// than what both can do (such as being a hidden node).
    pub offered: u64,
    /// The protocol version in use.
    pub version: u16,
}

/// Why the handshake failed on this side.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer refused us.
    #[error("the peer refused the handshake: {0}")]
    RefusedByPeer(Refusal),
    /// We refused the peer.
    #[error("refused the peer: {0}")]
    Refused(Refusal),
    /// The peer's name is not a valid node name.
    #[error(transparent)]
    BadName(#[from] NodeNameError),
    /// A message came after the handshake had ended.
    #[error("the handshake has already ended")]
    Ended,
}

/// What to do after feeding the handshake a message.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step {
    /// Send these bytes and wait for the peer's next message.
    Send(Vec<u8>),
    /// Send these bytes; the connection is then up with this peer.
    SendAndReady(Vec<u8>, Peer),
    /// The connection is up with this peer.
    Ready(Peer),
    /// Send these bytes (the refusal), then close: the handshake failed.
    SendAndFail(Vec<u8>, HandshakeError),
}

/// The messages. Serialized with variant names, so `Hello` and `Refuse`
/// must keep their names and fields across versions (see the module doc).
#[derive(Serialize, Deserialize)]
enum Wire {
    Hello {
        low: u16,
        high: u16,
        name: String,
        creation: u32,
        capabilities: u64,
        nonce: [u8; NONCE],
    },
    Challenge {
        version: u16,
        name: String,
        creation: u32,
        capabilities: u64,
        nonce: [u8; NONCE],
    },
    ChallengeReply {
        proof: Proof,
    },
    ChallengeAck {
        proof: Proof,
    },
    Refuse(Refusal),
}

impl Wire {
    fn bytes(&self) -> Vec<u8> {
        // Serializing these plain structs into a Vec cannot fail.
        rmp_serde::to_vec(self).unwrap_or_default()
    }
}

enum State {
    /// Initiator, Hello sent.
    AwaitChallenge {
        nonce: [u8; NONCE],
    },
    /// Acceptor, waiting for Hello; `nonce` goes into its Challenge.
    AwaitHello {
        nonce: [u8; NONCE],
    },
    /// Acceptor, Challenge sent.
    AwaitReply {
        transcript: Vec<u8>,
        peer: Pending,
    },
    /// Initiator, its proof sent.
    AwaitAck {
        transcript: Vec<u8>,
        peer: Pending,
    },
    Ended,
}

/// Whether another node of a name, with a creation, is connected.
type Taken = dyn Fn(&str, Creation) -> bool + Send + Sync;

/// The peer as claimed, before it has proved the cookie.
struct Pending {
    name: String,
    creation: u32,
    capabilities: u64,
    offered: u64,
    version: u16,
}

impl Pending {
    fn confirm(self) -> Result<Peer, HandshakeError> {
        Ok(Peer {
            name: NodeName::new(&self.name)?,
            creation: Creation(self.creation),
            capabilities: self.capabilities,
            offered: self.offered,
            version: self.version,
        })
    }
}

/// One side of a handshake.
pub struct Handshake {
    config: HandshakeConfig,
    state: State,
    taken: Box<Taken>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::AwaitChallenge { .. } => "await challenge",
            State::AwaitHello { .. } => "await hello",
            State::AwaitReply { .. } => "await reply",
            State::AwaitAck { .. } => "await ack",
            State::Ended => "ended",
        };
        f.debug_struct("Handshake")
            .field("name", &self.config.name)
            .field("state", &state)
            .finish()
    }
}

impl Handshake {
    /// Starts a handshake as the connecting side; send the returned bytes.
    pub fn initiate(config: HandshakeConfig) -> (Self, Vec<u8>) {
        let nonce = nonce();
        let hello = Wire::Hello {
            low: PROTOCOL_VERSION,
            high: PROTOCOL_VERSION,
            name: config.text.clone(),
            creation: config.creation.0,
            capabilities: config.capabilities,
            nonce,
        };
        let handshake = Self {
            config,
            state: State::AwaitChallenge { nonce },
            taken: Box::new(|_, _| false),
        };
        (handshake, hello.bytes())
    }

    /// Starts a handshake as the accepting side. `taken` says whether
    /// another node of that name (a name and creation) is already
    /// connected; such a peer is refused, once it has proved the cookie.
    pub fn accept(
        config: HandshakeConfig,
        taken: impl Fn(&str, Creation) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            config,
            state: State::AwaitHello { nonce: nonce() },
            taken: Box::new(taken),
        }
    }

    /// Feeds the peer's next message.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::RefusedByPeer`] when the peer sent a refusal,
    /// [`HandshakeError::Ended`] for a message after the end, a bad name in
    /// an otherwise proven message. Every refusal of ours comes as
    /// [`Step::SendAndFail`], so that the peer hears of it.
    pub fn handle(&mut self, bytes: &[u8]) -> Result<Step, HandshakeError> {
        let state = std::mem::replace(&mut self.state, State::Ended);
        if matches!(state, State::Ended) {
            return Err(HandshakeError::Ended);
        }
        let Ok(msg) = rmp_serde::from_slice::<Wire>(bytes) else {
            return Ok(refuse(Refusal::Malformed));
        };
        if let Wire::Refuse(refusal) = msg {
            return Err(HandshakeError::RefusedByPeer(refusal));
        }
        match (state, msg) {
            (
                State::AwaitHello { nonce: ours },
                Wire::Hello {
                    low,
                    high,
                    name,
                    creation,
                    capabilities,
                    nonce: theirs,
                },
            ) => Ok(self.challenge(ours, low..=high, name, creation, capabilities, theirs)),
            (
                State::AwaitChallenge { nonce: ours },
                Wire::Challenge {
                    version,
                    name,
                    creation,
                    capabilities,
                    nonce: theirs,
                },
            ) => {
                if version != PROTOCOL_VERSION {
                    return Ok(refuse(unsupported()));
                }
                let transcript = transcript(
                    version,
                    (self.config.text.as_str(), self.config.creation.0),
                    (&name, creation),
                    &ours,
                    &theirs,
                );
                let proof = self.sign(INITIATOR, &transcript);
                self.state = State::AwaitAck {
                    transcript,
                    peer: Pending {
                        name,
                        creation,
                        capabilities: capabilities & self.config.capabilities,
                        offered: capabilities,
                        version,
                    },
                };
                Ok(Step::Send(Wire::ChallengeReply { proof }.bytes()))
            }
            (State::AwaitReply { transcript, peer }, Wire::ChallengeReply { proof }) => {
                if !self.verify(INITIATOR, &transcript, &proof) {
                    return Ok(refuse(Refusal::BadCookie));
                }
                // Only a peer that knows the cookie learns who is connected.
                if peer.name == self.config.text.as_str()
                    || (self.taken)(&peer.name, Creation(peer.creation))
                {
                    return Ok(refuse(Refusal::DuplicateName(peer.name)));
                }
                let peer = peer.confirm()?;
                let proof = self.sign(ACCEPTOR, &transcript);
                Ok(Step::SendAndReady(
                    Wire::ChallengeAck { proof }.bytes(),
                    peer,
                ))
            }
            (State::AwaitAck { transcript, peer }, Wire::ChallengeAck { proof }) => {
                if !self.verify(ACCEPTOR, &transcript, &proof) {
                    return Ok(refuse(Refusal::BadCookie));
                }
                Ok(Step::Ready(peer.confirm()?))
            }
            _ => Ok(refuse(Refusal::Malformed)),
        }
    }

    /// The acceptor's answer to a Hello: its own challenge, which does not
    /// depend on the cookie, or a refusal that says nothing of who is
    /// connected.
    fn challenge(
        &mut self,
        ours: [u8; NONCE],
        versions: std::ops::RangeInclusive<u16>,
        name: String,
        creation: u32,
        capabilities: u64,
        theirs: [u8; NONCE],
    ) -> Step {
        if !versions.contains(&PROTOCOL_VERSION) {
            return refuse(unsupported());
        }
        if validate(&name).is_err() {
            return refuse(Refusal::Malformed);
        }
        let transcript = transcript(
            PROTOCOL_VERSION,
            (&name, creation),
            (self.config.text.as_str(), self.config.creation.0),
            &theirs,
            &ours,
        );
        self.state = State::AwaitReply {
            transcript,
            peer: Pending {
                name,
                creation,
                capabilities: capabilities & self.config.capabilities,
                offered: capabilities,
                version: PROTOCOL_VERSION,
            },
        };
        Step::Send(
            Wire::Challenge {
                version: PROTOCOL_VERSION,
                name: self.config.text.clone(),
                creation: self.config.creation.0,
                capabilities: self.config.capabilities,
                nonce: ours,
            }
            .bytes(),
        )
    }

    fn sign(&self, label: &[u8], transcript: &[u8]) -> Proof {
        self.config.cookie.sign(label, transcript)
    }

    fn verify(&self, label: &[u8], transcript: &[u8], proof: &Proof) -> bool {
        self.config.cookie.verify(label, transcript, proof)
    }

    /// An acceptor whose challenge carries `nonce`, so that tests can run
    /// two acceptors that differ only in their cookie.
    #[cfg(test)]
    fn with_nonce(mut self, nonce: [u8; NONCE]) -> Self {
        if let State::AwaitHello { nonce: ours } = &mut self.state {
            *ours = nonce;
        }
        self
    }
}

fn unsupported() -> Refusal {
    Refusal::UnsupportedVersion {
        low: PROTOCOL_VERSION,
        high: PROTOCOL_VERSION,
    }
}

fn refuse(refusal: Refusal) -> Step {
    Step::SendAndFail(
        Wire::Refuse(refusal.clone()).bytes(),
        HandshakeError::Refused(refusal),
    )
}

fn nonce() -> [u8; NONCE] {
    let mut nonce = [0; NONCE];
    if getrandom::fill(&mut nonce).is_err() {
        // No OS randomness: fall back to std's randomly keyed hasher, which
        // still makes nonces unpredictable across runs.
        use std::hash::{BuildHasher, Hasher};
        for chunk in nonce.chunks_mut(8) {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u8(0);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    nonce
}

/// Everything both proofs cover, in a fixed order with lengths, so no two
/// different handshakes share a transcript.
fn transcript(
    version: u16,
    initiator: (&str, u32),
    acceptor: (&str, u32),
    initiator_nonce: &[u8; NONCE],
    acceptor_nonce: &[u8; NONCE],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 2 * (8 + 255) + 2 * NONCE);
    out.extend_from_slice(&version.to_be_bytes());
    for (name, creation) in [initiator, acceptor] {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&creation.to_be_bytes());
    }
    out.extend_from_slice(initiator_nonce);
    out.extend_from_slice(acceptor_nonce);
    out
}

#[cfg(test)]
mod tests;
