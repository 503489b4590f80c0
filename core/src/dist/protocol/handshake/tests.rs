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
            Ok(Step::Ready(_)) => unreachable!("the acceptor sends its proof last"),
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

/// Plays a peer that does not know the cookie against `acceptor`: it
/// says what an initiator with a guessed cookie would say, for as long as
/// the acceptor answers. Returns what the stranger said and what the
/// acceptor sent back.
fn stranger(name: &str, mut acceptor: Handshake) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut stranger, hello) = Handshake::initiate(config(name, "a guess"));
    let (mut said, mut heard) = (Vec::new(), Vec::new());
    let mut next = hello;
    loop {
        said.push(next.clone());
        match acceptor.handle(&next) {
            Ok(Step::Send(bytes)) => heard.push(bytes),
            Ok(Step::SendAndFail(bytes, _)) => {
                heard.push(bytes);
                return (said, heard);
            }
            Ok(step) => panic!("a stranger was let in: {step:?}"),
            Err(_) => return (said, heard),
        }
        match stranger.handle(heard.last().expect("an answer")) {
            Ok(Step::Send(bytes)) => next = bytes,
            _ => return (said, heard),
        }
    }
}

#[test]
fn matching_cookies_connect_both_sides() {
    let acceptor = Handshake::accept(config("b@host", "secret").capabilities(0b110), |_, _| false);
    let (a, b) = run(config("a@host", "secret").capabilities(0b011), acceptor);
    let a = a.expect("initiator connects");
    let b = b.expect("acceptor connects");
    assert_eq!(a.name.to_string(), "b@host");
    assert_eq!(b.name.to_string(), "a@host");
    assert_eq!((a.capabilities, b.capabilities), (0b010, 0b010));
    assert_eq!(a.version, PROTOCOL_VERSION);
}

#[test]
fn a_wrong_cookie_is_refused_on_both_sides() {
    // The acceptor checks the initiator's proof first, so it is the one
    // that refuses.
    let acceptor = Handshake::accept(config("b@host", "right"), |_, _| false);
    let (a, b) = run(config("a@host", "wrong"), acceptor);
    assert_eq!(a, Err(HandshakeError::RefusedByPeer(Refusal::BadCookie)));
    assert_eq!(b, Err(HandshakeError::Refused(Refusal::BadCookie)));
}

#[test]
fn a_duplicate_name_is_refused_on_both_sides() {
    let acceptor = Handshake::accept(config("b@host", "s"), |name, _| name == "a@host");
    let (a, b) = run(config("a@host", "s"), acceptor);
    let refusal = Refusal::DuplicateName("a@host".into());
    assert_eq!(a, Err(HandshakeError::RefusedByPeer(refusal.clone())));
    assert_eq!(b, Err(HandshakeError::Refused(refusal)));
    // Connecting to a node of one's own name is refused the same way.
    let acceptor = Handshake::accept(config("a@host", "s"), |_, _| false);
    let (a, _) = run(config("a@host", "s"), acceptor);
    assert!(matches!(
        a,
        Err(HandshakeError::RefusedByPeer(Refusal::DuplicateName(_)))
    ));
}

/// Offline cookie guessing: everything the acceptor sends a peer without
/// the cookie is the same whatever the acceptor's cookie is, so it holds
/// no HMAC (nor anything else) to test guesses against.
#[test]
fn a_stranger_gets_nothing_that_depends_on_the_cookie() {
    let nonce = [7; NONCE];
    let acceptor = |cookie: &str| Handshake::accept(config("b@host", cookie), |_, _| false);
    let (said, heard) = stranger("x@host", acceptor("the real cookie").with_nonce(nonce));
    assert!(!heard.is_empty(), "the acceptor answers a Hello");
    // The same words to acceptors that differ only in their cookie.
    for other in ["another cookie", "", "the real cookie, almost"] {
        let mut acceptor = acceptor(other).with_nonce(nonce);
        let answers: Vec<Vec<u8>> = said
            .iter()
            .map_while(|bytes| match acceptor.handle(bytes) {
                Ok(Step::Send(out) | Step::SendAndFail(out, _)) => Some(out),
                _ => None,
            })
            .collect();
        assert_eq!(
            answers, heard,
            "what a stranger hears depends on the cookie"
        );
    }
}

/// Who is connected is told only to a peer that proved the cookie: a
/// stranger claiming the name of a connected node, or the acceptor's own,
/// hears only that its cookie is wrong.
#[test]
fn a_stranger_never_learns_who_is_connected() {
    // a@host is connected; b@host is the acceptor itself.
    for claimed in ["a@host", "b@host"] {
        let acceptor = Handshake::accept(config("b@host", "s"), |name, _| name == "a@host");
        let (_, heard) = stranger(claimed, acceptor);
        let refusals: Vec<Refusal> = heard
            .iter()
            .filter_map(|bytes| match rmp_serde::from_slice::<Wire>(bytes) {
                Ok(Wire::Refuse(refusal)) => Some(refusal),
                _ => None,
            })
            .collect();
        assert_eq!(refusals, vec![Refusal::BadCookie], "claiming {claimed}");
    }
}

#[test]
fn an_unsupported_version_is_refused() {
    // A version 1 node (whose acceptor proved itself first), a version 2
    // node (Rust type paths on the wire), and one from the future.
    for (low, high) in [(1, 1), (1, 2), (PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 3)] {
        let mut acceptor = Handshake::accept(config("b@host", "s"), |_, _| false);
        let hello = Wire::Hello {
            low,
            high,
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
}

#[test]
fn the_cookie_never_crosses_the_wire() {
    let secret = "a-very-recognisable-cookie";
    let mut acceptor = Handshake::accept(config("b@host", secret), |_, _| false);
    let (mut init, hello) = Handshake::initiate(config("a@host", secret));
    let Ok(Step::Send(challenge)) = acceptor.handle(&hello) else {
        panic!("challenge");
    };
    let Ok(Step::Send(reply)) = init.handle(&challenge) else {
        panic!("reply");
    };
    let Ok(Step::SendAndReady(ack, _)) = acceptor.handle(&reply) else {
        panic!("ack");
    };
    assert!(matches!(init.handle(&ack), Ok(Step::Ready(_))));
    for bytes in [hello, challenge, reply, ack] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    assert_eq!(format!("{:?}", Cookie::new(secret)), "Cookie(..)");
}

#[test]
fn a_reflected_initiator_proof_does_not_pass_as_the_acceptors() {
    // An acceptor without the cookie sends the caller's own proof back.
    let (mut init, hello) = Handshake::initiate(config("a@host", "s"));
    let mut acceptor = Handshake::accept(config("b@host", "s"), |_, _| false);
    let Ok(Step::Send(challenge)) = acceptor.handle(&hello) else {
        panic!("challenge");
    };
    let Ok(Step::Send(reply)) = init.handle(&challenge) else {
        panic!("reply");
    };
    let Ok(Wire::ChallengeReply { proof }) = rmp_serde::from_slice::<Wire>(&reply) else {
        panic!("decodes");
    };
    let reflected = Wire::ChallengeAck { proof }.bytes();
    assert!(matches!(
        init.handle(&reflected),
        Ok(Step::SendAndFail(
            _,
            HandshakeError::Refused(Refusal::BadCookie)
        ))
    ));
}

#[test]
fn messages_after_the_end_are_errors() {
    let mut acceptor = Handshake::accept(config("b@host", "s"), |_, _| false);
    assert!(matches!(
        acceptor.handle(b"junk"),
        Ok(Step::SendAndFail(..))
    ));
    assert!(matches!(
        acceptor.handle(b"junk"),
        Err(HandshakeError::Ended)
    ));
}

#[test]
fn the_transport_secret_is_the_cookies_own_and_not_the_cookie() {
    let secret = Cookie::new("s").transport_secret();
    assert_eq!(
        secret.expose(),
        Cookie::new("s").transport_secret().expose()
    );
    assert_ne!(
        secret.expose(),
        Cookie::new("t").transport_secret().expose()
    );
    assert_eq!(format!("{secret:?}"), "SharedSecret(..)");
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(first in proptest::collection::vec(any::<u8>(), 0..200), second in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut acceptor = Handshake::accept(config("b@host", "s"), |_, _| false);
        let _ = acceptor.handle(&first);
        let _ = acceptor.handle(&second);
        let (mut init, _) = Handshake::initiate(config("a@host", "s"));
        let _ = init.handle(&first);
        let _ = init.handle(&second);
    }

    #[test]
    fn any_cookie_pair_agrees_exactly_when_equal(a in "[a-z]{0,12}", b in "[a-z]{0,12}") {
        let acceptor = Handshake::accept(config("b@host", &b), |_, _| false);
        let (x, y) = run(config("a@host", &a), acceptor);
        prop_assert_eq!(x.is_ok(), a == b);
        prop_assert_eq!(y.is_ok(), a == b);
    }
}
