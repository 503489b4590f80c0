//! Frames as a hostile but authenticated peer could write them, for the
//! adversarial tests of every transport: a raw connection that passes the
//! cookie handshake by hand, and the signal and reply frames a peer that
//! knows the cookie could forge. A node must drop what a peer sends on
//! behalf of processes that are not its own.
//!
//! Only built with the `testing` feature.
//!
//! # Examples
//!
//! ```
//! use beamish_core::{forge, ExitReason, Pid};
//!
//! let from: Pid = "<evil@localhost.1.1>".parse().expect("a pid");
//! let to: Pid = "<victim@localhost.7.1>".parse().expect("a pid");
//! let frame = forge::exit(from, to, ExitReason::Kill, false);
//! assert!(!frame.is_empty());
//! ```

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::dist::envelope::{encode_send, Dest, Envelope, ReplyOutcome};
use crate::dist::protocol::{Handshake, HandshakeConfig, Step};
use crate::dist::Cookie;
use crate::transport::{Connection, Endpoint, Transport};
use crate::{Creation, ExitReason, Message, MonitorRef, NodeName, Pid};

/// How long the hand-made handshake waits for each step.
const WAIT: Duration = Duration::from_secs(10);

/// Connects to the node at `at` through `transport` as `name` and passes
/// the handshake with `cookie`, by hand: the connection is then the
/// peer's, to send whatever frames it likes.
///
/// # Panics
///
/// If the connection or the handshake fails: this is a test tool.
pub async fn authenticated(
    transport: &dyn Transport,
    at: &Endpoint,
    name: NodeName,
    cookie: Cookie,
) -> Connection {
    let mut conn = transport.connect(at).await.expect("the raw peer connects");
    let config = HandshakeConfig::new(name, Creation::fresh(), cookie);
    let (mut handshake, hello) = Handshake::initiate(config);
    conn.sink
        .send(vec![Bytes::from(hello)])
        .await
        .expect("the hello goes out");
    loop {
        let frame = tokio::time::timeout(WAIT, conn.stream.recv())
            .await
            .expect("the handshake goes on")
            .expect("the connection stays")
            .expect("the connection stays open");
        let step = handshake.handle(&frame.payload);
        // Handled: a durable transport forgets it.
        let _ = frame.ack().await;
        match step.expect("the handshake is accepted") {
            Step::Send(bytes) => conn
                .sink
                .send(vec![Bytes::from(bytes)])
                .await
                .expect("the handshake goes out"),
            Step::SendAndReady(bytes, _) => {
                conn.sink
                    .send(vec![Bytes::from(bytes)])
                    .await
                    .expect("the handshake goes out");
                return conn;
            }
            Step::Ready(_) => return conn,
            Step::SendAndFail(_, err) => panic!("the raw peer was refused: {err}"),
        }
    }
}

/// An exit signal from `from` to `to`: through a link if `link`, else as
/// `exit/2` sends it.
pub fn exit(from: Pid, to: Pid, reason: ExitReason, link: bool) -> Bytes {
    encode(&Envelope::Exit {
        from,
        to,
        reason,
        link,
    })
}

/// A message for the process `to`, as a cast from another node carries it.
///
/// # Panics
///
/// If `msg` cannot be encoded.
pub fn message<M: Message>(to: Pid, msg: &M) -> Bytes {
    encode_send(Dest::of(to), msg, None).expect("the message encodes")
}

/// A message for the process registered as `name` on the receiving node,
/// as a cast by name carries it.
///
/// # Panics
///
/// If `msg` cannot be encoded.
pub fn message_to_name<M: Message>(name: &str, msg: &M) -> Bytes {
    encode_send(Dest::Name(name.to_owned()), msg, None).expect("the message encodes")
}

/// A message for each of the processes `to` (all of the receiving node),
/// as multicast frames carry it: one frame per
/// [`MAX_MULTICAST`](crate::dist::MAX_MULTICAST) processes.
///
/// # Panics
///
/// If `msg` cannot be encoded.
pub fn multicast<M: Message>(to: &[Pid], msg: &M) -> Vec<Bytes> {
    crate::dist::wire::encode_multicast(to, msg).expect("the message encodes")
}

/// `from` asks to be linked to `to`.
pub fn link(from: Pid, to: Pid) -> Bytes {
    encode(&Envelope::Link { from, to })
}

/// `watcher` asks to monitor `target` under the reference numbered `mref`.
pub fn monitor(watcher: Pid, target: Pid, mref: MonitorRef) -> Bytes {
    encode(&Envelope::Monitor {
        watcher,
        target,
        mref,
    })
}

/// Word that `target`, monitored by `watcher` under `mref`, ended.
pub fn down(mref: MonitorRef, watcher: Pid, target: Pid, reason: ExitReason) -> Bytes {
    encode(&Envelope::Down {
        mref,
        watcher,
        target,
        reason,
    })
}

/// The answer `value` to the call numbered `id`.
///
/// # Panics
///
/// If `value` cannot be encoded.
pub fn reply<R: Serialize>(id: u64, value: &R) -> Bytes {
    let value = rmp_serde::to_vec_named(value).expect("the reply encodes");
    encode(&Envelope::Reply {
        id,
        outcome: ReplyOutcome::Value(value),
        unwatched: true,
    })
}

fn encode(envelope: &Envelope<'_>) -> Bytes {
    Bytes::from(rmp_serde::to_vec(envelope).expect("an envelope encodes"))
}
