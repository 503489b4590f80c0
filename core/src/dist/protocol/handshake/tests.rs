//! Tests of the handshake, run in memory.

use super::*;
use proptest::prelude::*;

fn config(name: &str, cookie: &str) -> HandshakeConfig {
    HandshakeConfig::new(
        NodeName::new(name).expect("valid"),
        Creation(7),
        Cookie::new(cookie),
    )
}

/// Runs a handshake in memory; returns each side's outcome.
fn run(
    initiator: HandshakeConfig,
    mut acceptor: Handshake,
) -> (Result<Peer, HandshakeError>, Result<Peer, HandshakeError>) {
    let (mut init, mut to_acceptor) = Handshake::initiate(initiator);
    let mut acceptor_done = None;
    loop {
        // Acceptor's turn.
        let to_initiator = match acceptor.handle(&to_acceptor) {
            Ok(Step::Send(bytes)) => bytes,
            Ok(Step::SendAndReady(bytes, peer)) => {
                acceptor_done = Some(Ok(peer));
                bytes
            }
            Ok(Step::SendAndFail(bytes, err)) => {
                acceptor_done = Some(Err(err));
                bytes
            }
            Ok(Step::Ready(_)) => unreachable!("the acceptor sends Ready"),
            Err(err) => {
                return (
                    Err(err),
                    acceptor_done.unwrap_or(Err(HandshakeError::Ended)),
                )
            }
        };
        // Initiator's turn.
        match init.handle(&to_initiator) {
            Ok(Step::Send(bytes)) => to_acceptor = bytes,
            Ok(Step::Ready(peer)) => {
                return (
                    Ok(peer),
                    acceptor_done.unwrap_or(Err(HandshakeError::Ended)),
                )
            }
            Ok(Step::SendAndFail(bytes, err)) => {
                let acceptor_side = match acceptor.handle(&bytes) {
                    Err(refused) => Err(refused),
                    Ok(_) => Err(HandshakeError::Ended),
                };
                return (Err(err), acceptor_side);
            }
            Ok(Step::SendAndReady(..)) => unreachable!("the initiator ends on Ready"),
            Err(err) => {
                return (
                    Err(err),
                    acceptor_done.unwrap_or(Err(HandshakeError::Ended)),
                )
            }
        }
    }
}

#[test]
fn matching_cookies_connect_both_sides() {
    let acceptor = Handshake::accept(config("b@host", "secret").capabilities(0b110), |_| false);
    let (a, b) = run(config("a@host", "secret").capabilities(0b011), acceptor);
    let a = a.expect("initiator connects");
    let b = b.expect("acceptor connects");
    assert_eq!(a.name.as_str(), "b@host");
    assert_eq!(b.name.as_str(), "a@host");
    assert_eq!((a.capabilities, b.capabilities), (0b010, 0b010));
    assert_eq!(a.version, PROTOCOL_VERSION);
}

#[test]
fn a_wrong_cookie_is_refused_on_both_sides() {
    let acceptor = Handshake::accept(config("b@host", "right"), |_| false);
    let (a, b) = run(config("a@host", "wrong"), acceptor);
    assert_eq!(a, Err(HandshakeError::Refused(Refusal::BadCookie)));
    assert_eq!(b, Err(HandshakeError::RefusedByPeer(Refusal::BadCookie)));
}

#[test]
fn a_duplicate_name_is_refused_on_both_sides() {
    let acceptor = Handshake::accept(config("b@host", "s"), |name| name == "a@host");
    let (a, b) = run(config("a@host", "s"), acceptor);
    let refusal = Refusal::DuplicateName("a@host".into());
    assert_eq!(a, Err(HandshakeError::RefusedByPeer(refusal.clone())));
    assert_eq!(b, Err(HandshakeError::Refused(refusal)));
    // Connecting to a node of one's own name is refused the same way.
    let acceptor = Handshake::accept(config("a@host", "s"), |_| false);
    let (a, _) = run(config("a@host", "s"), acceptor);
    assert!(matches!(
        a,
        Err(HandshakeError::RefusedByPeer(Refusal::DuplicateName(_)))
    ));
}

#[test]
fn an_unsupported_version_is_refused() {
    let mut acceptor = Handshake::accept(config("b@host", "s"), |_| false);
    let hello = Wire::Hello {
        low: PROTOCOL_VERSION + 1,
        high: PROTOCOL_VERSION + 3,
        name: "a@host".into(),
        creation: 1,
        capabilities: 0,
        nonce: [0; NONCE],
    };
    match acceptor.handle(&hello.bytes()) {
        Ok(Step::SendAndFail(
            bytes,
            HandshakeError::Refused(Refusal::UnsupportedVersion { .. }),
        )) => {
            let (mut init, _) = Handshake::initiate(config("a@host", "s"));
            assert!(matches!(
                init.handle(&bytes),
                Err(HandshakeError::RefusedByPeer(
                    Refusal::UnsupportedVersion { .. }
                ))
            ));
        }
        other => panic!("expected a version refusal, got {other:?}"),
    }
}

#[test]
fn the_cookie_never_crosses_the_wire() {
    let secret = "a-very-recognisable-cookie";
    let (_, hello) = Handshake::initiate(config("a@host", secret));
    let mut acceptor = Handshake::accept(config("b@host", secret), |_| false);
    let Ok(Step::Send(welcome)) = acceptor.handle(&hello) else {
        panic!("welcome");
    };
    for bytes in [&hello, &welcome] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    assert_eq!(format!("{:?}", Cookie::new(secret)), "Cookie(..)");
}

#[test]
fn a_replayed_acceptor_proof_does_not_pass_as_the_initiators() {
    let (_, hello) = Handshake::initiate(config("a@host", "s"));
    let mut acceptor = Handshake::accept(config("b@host", "s"), |_| false);
    let Ok(Step::Send(welcome)) = acceptor.handle(&hello) else {
        panic!("welcome");
    };
    let Ok(Wire::Welcome { proof, .. }) = rmp_serde::from_slice::<Wire>(&welcome) else {
        panic!("decodes");
    };
    let replay = Wire::Proof { proof }.bytes();
    assert!(matches!(
        acceptor.handle(&replay),
        Ok(Step::SendAndFail(
            _,
            HandshakeError::Refused(Refusal::BadCookie)
        ))
    ));
}

#[test]
fn messages_after_the_end_are_errors() {
    let mut acceptor = Handshake::accept(config("b@host", "s"), |_| false);
    assert!(matches!(
        acceptor.handle(b"junk"),
        Ok(Step::SendAndFail(..))
    ));
    assert!(matches!(
        acceptor.handle(b"junk"),
        Err(HandshakeError::Ended)
    ));
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(first in proptest::collection::vec(any::<u8>(), 0..200), second in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut acceptor = Handshake::accept(config("b@host", "s"), |_| false);
        let _ = acceptor.handle(&first);
        let _ = acceptor.handle(&second);
        let (mut init, _) = Handshake::initiate(config("a@host", "s"));
        let _ = init.handle(&first);
        let _ = init.handle(&second);
    }

    #[test]
    fn any_cookie_pair_agrees_exactly_when_equal(a in "[a-z]{0,12}", b in "[a-z]{0,12}") {
        let acceptor = Handshake::accept(config("b@host", &b), |_| false);
        let (x, y) = run(config("a@host", &a), acceptor);
        prop_assert_eq!(x.is_ok(), a == b);
        prop_assert_eq!(y.is_ok(), a == b);
    }
}
