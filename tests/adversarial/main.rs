//! Attacks on a node, one file per kind, each named for what it tries:
//! peers that know the cookie but speak for others, and the like. They
//! drive real TCP sockets on loopback; a raw peer is made with
//! `beamish_core::forge`.

mod forged_frames;
