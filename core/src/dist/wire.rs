//! The layout of a message frame, the one frame kind on the hot path,
//! laid out by hand so that encoding takes one buffer and decoding reads a
//! few fixed fields instead of running a serde decoder:
//!
//! ```text
//! 0x00 | id: u64 | creation: u32 | type: u64 | payload            (to a pid)
//! 0x01 | name_len: u16 | name | type: u64 | payload              (to a name)
//! ```
//!
//! Integers are big-endian; `type` is the message's
//! [`WIRE_ID`](crate::Message::WIRE_ID); the payload, the message encoded
//! with rmp-serde (structs as maps, so that they can gain fields), runs to
//! the end of the frame. Every other frame is an
//! rmp-serde encoded envelope, which never starts with these bytes (an
//! envelope is a map), and an empty frame is a heartbeat tick.

use bytes::Bytes;
use serde::Serialize;

use super::envelope::Dest;
use super::send::RemoteSendError;
use crate::{Creation, Message};

const TO_PID: u8 = 0x00;
const TO_NAME: u8 = 0x01;

/// Room reserved before encoding: enough for a small message and the
/// header.
const ENCODE_START: usize = 128;

/// A message frame, decoded, borrowing from the frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MessageFrame<'a> {
    pub(crate) to: Dest,
    /// The wire id of the sender's message type.
    pub(crate) msg_type: u64,
    pub(crate) payload: &'a [u8],
}

thread_local! {
    /// Where frames are encoded before they are copied out at their exact
    /// size: growing a fresh buffer by doubling would copy a large message
    /// several times and, past the allocator's mmap threshold, fault in
    /// fresh pages on every send.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most scratch space kept between sends.
const SCRATCH_KEPT: usize = 1 << 20;

/// Encodes `msg` for `to` as a message frame.
pub(crate) fn encode_message<M: Message>(to: &Dest, msg: &M) -> Result<Bytes, RemoteSendError> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut frame) => {
            frame.clear();
            let encoded =
                write_message(&mut frame, to, msg).map(|()| Bytes::copy_from_slice(&frame));
            if frame.capacity() > SCRATCH_KEPT {
                *frame = Vec::new();
            }
            encoded
        }
        // Encoding a message that encodes a message: no scratch to share.
        Err(_) => {
            let mut frame = Vec::with_capacity(ENCODE_START);
            write_message(&mut frame, to, msg).map(|()| Bytes::from(frame))
        }
    })
}

fn write_message<M: Message>(
    frame: &mut Vec<u8>,
    to: &Dest,
    msg: &M,
) -> Result<(), RemoteSendError> {
    match to {
        Dest::Id { id, creation } => {
            frame.push(TO_PID);
            frame.extend_from_slice(&id.to_be_bytes());
            frame.extend_from_slice(&creation.0.to_be_bytes());
        }
        Dest::Name(name) => {
            frame.push(TO_NAME);
            put_text(frame, name)?;
        }
    }
    frame.extend_from_slice(&M::WIRE_ID.to_be_bytes());
    encode_payload(frame, msg)
}

/// Encodes a message's payload after what `out` holds: structs as maps of
/// their fields, so that a field added with `#[serde(default)]` is read
/// by nodes on either side of an upgrade.
pub(crate) fn encode_payload<M: Serialize>(
    out: &mut Vec<u8>,
    msg: &M,
) -> Result<(), RemoteSendError> {
    rmp_serde::encode::write_named(out, msg).map_err(|err| RemoteSendError::Encode(err.to_string()))
}

fn put_text(frame: &mut Vec<u8>, text: &str) -> Result<(), RemoteSendError> {
    let len = u16::try_from(text.len())
        .map_err(|_| RemoteSendError::Encode(format!("a name of {} bytes", text.len())))?;
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Whether `frame` is a message frame (rather than an envelope).
pub(crate) fn is_message(frame: &[u8]) -> bool {
    matches!(frame.first(), Some(&(TO_PID | TO_NAME)))
}

/// Decodes a message frame.
pub(crate) fn decode_message(frame: &[u8]) -> Result<MessageFrame<'_>, String> {
    let mut reader = Reader(frame);
    let to = match reader.take(1)? {
        [TO_PID] => {
            let id = u64::from_be_bytes(reader.array()?);
            let creation = Creation(u32::from_be_bytes(reader.array()?));
            Dest::Id { id, creation }
        }
        [TO_NAME] => Dest::Name(text(reader.field()?)?.to_owned()),
        _ => return Err("not a message frame".to_owned()),
    };
    let msg_type = u64::from_be_bytes(reader.array()?);
    Ok(MessageFrame {
        to,
        msg_type,
        payload: reader.0,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "a message frame cut short: {n} bytes wanted, {} left",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A field with a 16-bit length before it.
    fn field(&mut self) -> Result<&'a [u8], String> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "a name that is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::envelope::{Envelope, ReplyOutcome};
    use proptest::prelude::*;

    #[test]
    fn message_frames_round_trip() {
        let by_pid = Dest::Id {
            id: 42,
            creation: Creation(7),
        };
        let frame = encode_message(&by_pid, &"hello".to_owned()).expect("encodes");
        assert!(is_message(&frame));
        let decoded = decode_message(&frame).expect("decodes");
        assert_eq!(decoded.to, by_pid);
        assert_eq!(decoded.msg_type, crate::wire_id("String"));
        let text: String = rmp_serde::from_slice(decoded.payload).expect("payload");
        assert_eq!(text, "hello");

        let by_name = Dest::Name("counter".into());
        let frame = encode_message(&by_name, &5_u64).expect("encodes");
        let decoded = decode_message(&frame).expect("decodes");
        assert_eq!(decoded.to, by_name);
        assert_eq!(decoded.msg_type, crate::wire_id("u64"));
    }

    #[test]
    fn envelopes_never_look_like_message_frames() {
        let reply = Envelope::Reply {
            id: 1,
            outcome: ReplyOutcome::NoReply,
            unwatched: true,
        };
        let frame = rmp_serde::to_vec(&reply).expect("encodes");
        assert!(!is_message(&frame));
        assert!(!is_message(b""), "a tick");
    }

    #[test]
    fn a_name_too_long_for_the_header_is_an_error() {
        let long = Dest::Name("n".repeat(70_000));
        assert!(matches!(
            encode_message(&long, &1_u64),
            Err(RemoteSendError::Encode(_))
        ));
    }

    proptest! {
        #[test]
        fn cut_or_garbled_frames_are_errors_not_panics(frame in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_message(&frame);
        }

        #[test]
        fn every_prefix_of_a_frame_is_refused(cut in 0_usize..40) {
            let frame = encode_message(&Dest::Name("svc".into()), &"payload".to_owned())
                .expect("encodes");
            let header = 1 + 2 + 3 + 8;
            prop_assume!(cut < header);
            prop_assert!(decode_message(&frame[..cut]).is_err());
        }
    }
}
