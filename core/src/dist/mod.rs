//! The distribution protocol's building blocks, free of sockets and clocks
//! (in the spirit of quinn-proto): endpoint addresses, length-prefixed
//! frames with a size limit, and the authenticated handshake. Transports
//! only move the bytes these produce.

mod endpoint;
mod frame;
mod handshake;

pub use endpoint::{Endpoint, EndpointError};
pub use frame::{FrameCodec, FrameError, DEFAULT_MAX_FRAME};
pub use handshake::{
    Cookie, Handshake, HandshakeConfig, HandshakeError, Peer, Refusal, Step, PROTOCOL_VERSION,
};
