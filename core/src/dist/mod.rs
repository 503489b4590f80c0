//! Everything about other nodes. The node reaches this folder through
//! one seam (`node::Distribution`), which the cluster implements; nothing
//! in `process/` or `node/` names what is here.
//!
//! - The protocol's building blocks (`protocol/`), free of sockets and clocks (in
//!   the spirit of quinn-proto): length-prefixed frames with a size limit,
//!   the authenticated handshake and heartbeats. Transports only move the
//!   bytes these produce.
//! - Membership and connections (`cluster`): listening (`listen`), the
//!   handshake over a new connection (`authenticate`), registering the
//!   peer, one connection per peer even when both connect at once
//!   (`peers`), connections made on first use (`dial`), the
//!   per-connection queue of frames (`outbox`).
//! - What travels: the envelope (`envelope`) and the hand-laid message
//!   frame (`wire`); sending (`send`), calls (`call`), link, monitor and
//!   exit signals between nodes (`control`), one message for several
//!   processes of a node in one frame (`multicast`), and, on the receiving
//!   side, exports and delivery (`export`, `inbound`).
//! - [`Addr`](crate::Addr), the location-transparent address, which sits
//!   above both the local runtime and distribution, and addresses through
//!   a name [`Registry`](crate::Registry) (`via`).

pub(crate) mod addr;
mod authenticate;
pub(crate) mod call;
pub(crate) mod cluster;
pub(crate) mod config;
mod connection;
pub(crate) mod control;
pub(crate) mod dial;
pub(crate) mod envelope;
pub(crate) mod export;
pub(crate) mod inbound;
mod listen;
pub(crate) mod multicast;
pub(crate) mod outbox;
mod peers;
pub mod protocol;
pub(crate) mod send;
pub(crate) mod setup;
pub(crate) mod via;
pub(crate) mod wire;

pub use crate::transport::{Endpoint, EndpointError};
pub use protocol::{
    Cookie, CookieFileError, HandshakeError, HeartbeatConfig, RandomnessError, Refusal,
    DEFAULT_MAX_FRAME, PROTOCOL_VERSION,
};
pub use setup::{ClusterNodeBuilder, SetupError, ToEndpoint};
pub use wire::MAX_MULTICAST;
