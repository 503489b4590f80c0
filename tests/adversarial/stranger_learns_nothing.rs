//! A stranger, a caller without the cookie, learns nothing from the node
//! it calls: not who is connected (it claims a connected node's name and
//! hears only that its cookie is wrong), and nothing that depends on the
//! cookie (the handshake's own tests check the bytes).

use beamish::dist::{Cookie, HandshakeError, Refusal};
use beamish::{ClusterConfig, ClusterError};

use crate::support::{config, member};

#[tokio::test]
async fn a_stranger_claiming_a_connected_name_hears_only_that_its_cookie_is_wrong() {
    let (b, at) = member("b", config(), true).await;
    let at = at.expect("b listens");
    let (a, _) = member("a", config(), false).await;
    a.connect(&at).await.expect("a connects");

    for claimed in ["a", "b"] {
        let guess = ClusterConfig::new(Cookie::new("a guess"));
        let (stranger, _) = member(claimed, guess, false).await;
        let got = stranger.connect(&at).await;
        assert_eq!(
            got,
            Err(ClusterError::Handshake(HandshakeError::RefusedByPeer(
                Refusal::BadCookie
            ))),
            "a stranger calling itself {claimed}@localhost"
        );
    }
    assert_eq!(b.nodes(), vec![a.name()]);
}
