//! Arbitrary messages to an accepting and an initiating handshake: every
//! input is answered with a step or an error, never a panic.
#![no_main]

use beamish_core::dist::{Cookie, Handshake, HandshakeConfig};
use beamish_core::{Creation, NodeName};
use libfuzzer_sys::fuzz_target;

fn config(name: &str) -> HandshakeConfig {
    let name = NodeName::new(name).unwrap_or_else(|_| NodeName::local_default());
    HandshakeConfig::new(name, Creation(1), Cookie::new("fuzz"))
}

fuzz_target!(|data: &[u8]| {
    let (first, second) = data.split_at(data.len() / 2);
    let mut acceptor = Handshake::accept(config("b@fuzz"), |_| false);
    let _ = acceptor.handle(first);
    let _ = acceptor.handle(second);
    let (mut initiator, _hello) = Handshake::initiate(config("a@fuzz"));
    let _ = initiator.handle(first);
    let _ = initiator.handle(second);
});
