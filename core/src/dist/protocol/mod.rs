//! The distribution protocol's building blocks, free of sockets and clocks
//! (in the spirit of quinn-proto): length-prefixed frames with a size
//! limit, the authenticated handshake and heartbeats. Transports only
//! move the bytes these produce.
//!
//! Applications need none of this (what they use is in
//! [`dist`](crate::dist) and at the crate's root); it is public for
//! transport authors ([`FrameCodec`]) and for tests that speak the
//! protocol by hand.

mod frame;
mod handshake;
mod heartbeat;

pub use frame::{FrameCodec, FrameError, DEFAULT_MAX_FRAME};
pub(crate) use handshake::SHORT_COOKIE;
pub use handshake::{
    Cookie, CookieFileError, Handshake, HandshakeConfig, HandshakeError, Peer, RandomnessError,
    Refusal, Step, MAX_HANDSHAKE_FRAME, PROTOCOL_VERSION,
};
pub use heartbeat::{Beat, Heartbeat, HeartbeatConfig};
