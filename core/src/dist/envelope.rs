//! What travels between nodes: one envelope per frame, and the encoding
//! of a message for another node's process.
//!
//! Messages are encoded with rmp-serde. The envelope carries the wire id
//! of the sender's message type, and the receiving node checks it against
//! the target's before decoding, so a mismatch is a clear error, never
//! garbage. Local sends never come through here.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::send::RemoteSendError;
use crate::{Creation, ExitReason, Message, MonitorRef, Pid};

/// What travels between nodes, one per frame. A received message borrows
/// its type name and payload from the frame: decoding copies nothing.
#[derive(Serialize, Deserialize)]
pub(crate) enum Envelope<'a> {
    /// A call's request: a message for a process, and the number of the
    /// call, so that a request the callee's node refuses is answered at
    /// once rather than left to time out.
    /// The callee's node monitors the callee for `watcher` under `mref`
    /// for the call's duration (no separate `Monitor` frame, and it works
    /// for a callee given by name), or answers at once if there is none.
    Call {
        id: u64,
        to: Dest,
        watcher: Pid,
        mref: MonitorRef,
        msg_type: u64,
        #[serde(with = "serde_bytes")]
        payload: &'a [u8],
    },
    /// The call monitored under `mref` is over: its monitor goes.
    CallEnded { to: Dest, mref: MonitorRef },
    /// `watcher` starts monitoring `target`.
    Monitor {
        watcher: Pid,
        target: Pid,
        mref: MonitorRef,
    },
    /// `watcher` stops monitoring `target`.
    Demonitor {
        target: Pid,
        mref: MonitorRef,
        watcher: Pid,
    },
    /// A monitored process ended (or did not exist).
    Down {
        mref: MonitorRef,
        watcher: Pid,
        target: Pid,
        reason: ExitReason,
    },
    /// `from` links itself to `to`.
    Link { from: Pid, to: Pid },
    /// `from` removes its link to `to`.
    Unlink { from: Pid, to: Pid },
    /// An exit signal: from a link when `link` is set, else `exit/2`.
    Exit {
        from: Pid,
        to: Pid,
        reason: ExitReason,
        link: bool,
    },
    /// The answer to the remote call numbered `id`; `unwatched` if the
    /// callee's node took the call's monitor down with it (the caller
    /// then sends no `CallEnded`).
    Reply {
        id: u64,
        outcome: ReplyOutcome,
        unwatched: bool,
    },
}

/// How a remote call was answered.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum ReplyOutcome {
    /// The reply, encoded.
    Value(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The callee dropped the token (or its reply could not be encoded).
    NoReply,
    /// The callee's node refused the request: why.
    Rejected(String),
    /// The callee did not exist when the request arrived.
    NoProc,
}

/// Who a remote message is for.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// A pid on the receiving node, without the node's name, which the
    /// receiver knows (decoding a name costs more than the rest).
    Id {
        id: u64,
        creation: Creation,
    },
    Name(String),
}

impl Dest {
    /// The destination for `pid`, on the node it names.
    pub(crate) fn of(pid: Pid) -> Self {
        Self::Id {
            id: pid.id(),
            creation: pid.creation(),
        }
    }
}

/// Room reserved before encoding: enough for a small message and an
/// envelope's header.
const ENCODE_START: usize = 128;

/// What makes a message a call's request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallHeader {
    /// The call's number on the calling node.
    pub(crate) id: u64,
    /// Who waits, and the monitor it holds on the callee meanwhile.
    pub(crate) watcher: Pid,
    pub(crate) mref: MonitorRef,
}

/// Encodes a message for `to` as a frame: a plain message, or a call's
/// request.
pub(crate) fn encode_send<M: Message>(
    to: Dest,
    msg: &M,
    call: Option<CallHeader>,
) -> Result<Bytes, RemoteSendError> {
    let Some(CallHeader { id, watcher, mref }) = call else {
        return super::wire::encode_message(&to, msg);
    };
    let encode = |err: rmp_serde::encode::Error| RemoteSendError::Encode(err.to_string());
    let mut payload = Vec::with_capacity(ENCODE_START);
    super::wire::encode_payload(&mut payload, msg)?;
    let envelope = Envelope::Call {
        id,
        to,
        watcher,
        mref,
        msg_type: M::WIRE_ID,
        payload: &payload,
    };
    let mut frame = Vec::with_capacity(payload.len() + ENCODE_START);
    rmp_serde::encode::write(&mut frame, &envelope).map_err(encode)?;
    Ok(Bytes::from(frame))
}
