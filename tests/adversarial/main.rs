//! Attacks on a node, one file per kind, each named for what it tries:
//! peers that know the cookie but speak for others, strangers who do not
//! know it and try the handshake and the listener, and the like. They
//! drive real TCP sockets on loopback; a raw peer that passes the
//! handshake is made with `beamish_core::forge`, one that does not speak
//! the protocol with `tokio::net`.

mod forged_frames;
mod large_frame_before_handshake;
mod silent_connections_capped;
mod stranger_learns_nothing;
mod support;
