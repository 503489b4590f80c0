//! Strangers open connections and say nothing, to tie up the node's
//! handshakes (and sockets, and memory). A listener lets at most
//! `max_handshakes` connections into the handshake at once and closes the
//! others as soon as it accepts them; a place frees as soon as its
//! handshake ends, and a legitimate node that comes then joins.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{closed, config, member, raw, PROMPTLY};

#[tokio::test]
async fn connections_beyond_the_handshake_limit_are_closed_at_once() {
    let limit = 3;
    // The handshake timeout is far away: nothing frees a place by itself.
    let config = config()
        .max_handshakes(limit)
        .handshake_timeout(Duration::from_secs(3600));
    let (b, at) = member("b", config.clone(), true).await;
    let at = at.expect("b listens");

    let mut holding = Vec::new();
    for _ in 0..limit {
        holding.push(raw(&at).await);
    }
    let mut extras = Vec::new();
    for _ in 0..4 {
        extras.push(raw(&at).await);
    }
    for extra in &mut extras {
        assert!(
            closed(extra).await,
            "a connection beyond the limit stays open"
        );
    }
    // Those in the handshake are still waiting for a Hello.
    for socket in &holding {
        let mut buf = [0; 16];
        let read = socket.try_read(&mut buf);
        assert!(
            matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "open and silent: {read:?}"
        );
    }

    // While the places are taken, a legitimate node is turned away too.
    let (a, _) = member("a", config, false).await;
    assert!(a.connect(&at).await.is_err());

    // One of the silent connections says something unintelligible: the
    // node refuses it, and its place is free before the refusal is sent.
    let talker = &mut holding[0];
    talker
        .write_all(&[0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1])
        .await
        .expect("written");
    let mut refusal = [0; 64];
    let read = tokio::time::timeout(PROMPTLY, talker.read(&mut refusal))
        .await
        .expect("the node answers in time");
    assert!(matches!(read, Ok(n) if n > 0), "a refusal: {read:?}");

    a.connect(&at)
        .await
        .expect("a connects through the freed place");
    assert_eq!(b.nodes(), vec![a.name()]);
}
