//! The layout of a message frame, the one frame kind on the hot path,
//! laid out by hand so that encoding takes one buffer and decoding reads a
//! few fixed fields instead of running a serde decoder:
//!
//! ```text
//! 0x00 | id: u64 | creation: u32 | type: u64 | payload            (to a pid)
//! 0x01 | name_len: u16 | name | type: u64 | payload              (to a name)
//! 0x03 | count: u16 | (id: u64 | creation: u32) × count | type: u64 | payload
//!                                                   (to several pids: a multicast)
//! ```
//!
//! Integers are big-endian; `type` is the message's
//! [`WIRE_ID`](crate::Message::WIRE_ID); the payload, the message encoded
//! with rmp-serde (structs as maps, so that they can gain fields), runs to
//! the end of the frame. A multicast carries one payload for up to
//! [`MAX_MULTICAST`] processes of the receiving node, which delivers it to
//! each (a peer learns in the handshake whether the node reads them).
//! Every other frame is an
//! rmp-serde encoded envelope, which never starts with these bytes (an
//! envelope is a map), and an empty frame is a heartbeat tick.

use bytes::Bytes;
use serde::Serialize;

use super::envelope::Dest;
use super::send::RemoteSendError;
use crate::{Creation, Message, Pid};

const TO_PID: u8 = 0x00;
const TO_NAME: u8 = 0x01;
/// 0x02 is the leave notice (`connection::LEAVING`).
const TO_MANY: u8 = 0x03;

/// The most processes one multicast frame names; a sender splits a longer
/// list into several frames, and a receiver refuses a frame naming more.
pub const MAX_MULTICAST: usize = 1024;

/// The bytes naming one process in a multicast frame.
const TARGET_LEN: usize = 8 + 4;

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

/// A multicast frame, decoded, borrowing from the frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MulticastFrame<'a> {
    /// The processes, [`TARGET_LEN`] bytes each.
    targets: &'a [u8],
    /// The wire id of the sender's message type.
    pub(crate) msg_type: u64,
    pub(crate) payload: &'a [u8],
}

impl MulticastFrame<'_> {
    /// How many processes the frame names.
    pub(crate) fn len(&self) -> usize {
        self.targets.len() / TARGET_LEN
    }

    /// The processes the frame names, in order.
    pub(crate) fn targets(&self) -> impl Iterator<Item = Dest> + '_ {
        self.targets.chunks_exact(TARGET_LEN).map(|target| {
            let (id, creation) = target.split_at(8);
            let mut id_bytes = [0; 8];
            id_bytes.copy_from_slice(id);
            let mut creation_bytes = [0; 4];
            creation_bytes.copy_from_slice(creation);
            Dest::Id {
                id: u64::from_be_bytes(id_bytes),
                creation: Creation(u32::from_be_bytes(creation_bytes)),
            }
        })
    }
}

/// Encodes `msg` once for the processes `to` (all on one node), as
/// multicast frames of at most [`MAX_MULTICAST`] processes each.
pub(crate) fn encode_multicast<M: Message>(
    to: &[Pid],
    msg: &M,
) -> Result<Vec<Bytes>, RemoteSendError> {
    let mut payload = Vec::with_capacity(ENCODE_START);
    encode_payload(&mut payload, msg)?;
    let frames = to
        .chunks(MAX_MULTICAST)
        .map(|chunk| {
            let mut frame =
                Vec::with_capacity(1 + 2 + chunk.len() * TARGET_LEN + 8 + payload.len());
            frame.push(TO_MANY);
            // At most MAX_MULTICAST, which fits.
            let count = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
            frame.extend_from_slice(&count.to_be_bytes());
            for pid in chunk {
                frame.extend_from_slice(&pid.id().to_be_bytes());
                frame.extend_from_slice(&pid.creation().0.to_be_bytes());
            }
            frame.extend_from_slice(&M::WIRE_ID.to_be_bytes());
            frame.extend_from_slice(&payload);
            Bytes::from(frame)
        })
        .collect();
    Ok(frames)
}

/// Whether `frame` is a multicast frame.
pub(crate) fn is_multicast(frame: &[u8]) -> bool {
    frame.first() == Some(&TO_MANY)
}

/// Decodes a multicast frame: it names at least one process and at most
/// [`MAX_MULTICAST`].
pub(crate) fn decode_multicast(frame: &[u8]) -> Result<MulticastFrame<'_>, String> {
    let mut reader = Reader(frame);
    if reader.take(1)? != [TO_MANY] {
        return Err("not a multicast frame".to_owned());
    }
    let count = usize::from(u16::from_be_bytes(reader.array()?));
    if count == 0 || count > MAX_MULTICAST {
        return Err(format!(
            "a multicast to {count} processes (at least 1, at most {MAX_MULTICAST})"
        ));
    }
    let targets = reader.take(count * TARGET_LEN)?;
    let msg_type = u64::from_be_bytes(reader.array()?);
    Ok(MulticastFrame {
        targets,
        msg_type,
        payload: reader.0,
    })
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

    fn pids(n: u64) -> Vec<Pid> {
        let node = crate::NodeName::new("many@localhost").expect("valid");
        (0..n)
            .map(|id| Pid::new(node, id + 1, Creation(9)))
            .collect()
    }

    #[test]
    fn a_multicast_names_every_process_once_and_carries_one_payload() {
        let to = pids(3);
        let frames = encode_multicast(&to, &"hello".to_owned()).expect("encodes");
        assert_eq!(frames.len(), 1);
        assert!(is_multicast(&frames[0]) && !is_message(&frames[0]));
        let decoded = decode_multicast(&frames[0]).expect("decodes");
        assert_eq!(decoded.len(), 3);
        let targets: Vec<Dest> = decoded.targets().collect();
        assert_eq!(
            targets,
            to.iter().map(|pid| Dest::of(*pid)).collect::<Vec<_>>()
        );
        assert_eq!(decoded.msg_type, crate::wire_id("String"));
        let text: String = rmp_serde::from_slice(decoded.payload).expect("payload");
        assert_eq!(text, "hello");
    }

    #[test]
    fn a_long_multicast_is_split_into_frames_of_the_most_processes_one_takes() {
        let count = MAX_MULTICAST as u64 * 2 + 1;
        let frames = encode_multicast(&pids(count), &7_u64).expect("encodes");
        let lens: Vec<usize> = frames
            .iter()
            .map(|frame| decode_multicast(frame).expect("decodes").len())
            .collect();
        assert_eq!(lens, vec![MAX_MULTICAST, MAX_MULTICAST, 1]);
    }

    #[test]
    fn a_multicast_to_none_or_to_too_many_is_refused() {
        let mut none = vec![TO_MANY, 0, 0];
        none.extend_from_slice(&crate::wire_id("u64").to_be_bytes());
        assert!(decode_multicast(&none).is_err());

        let over = MAX_MULTICAST + 1;
        let mut frame = vec![TO_MANY];
        frame.extend_from_slice(&u16::try_from(over).expect("fits").to_be_bytes());
        frame.extend(std::iter::repeat_n(0_u8, over * TARGET_LEN + 8));
        let refused = decode_multicast(&frame).expect_err("too many");
        assert!(refused.contains("at most"), "{refused}");
    }

    proptest! {
        #[test]
        fn cut_or_garbled_frames_are_errors_not_panics(frame in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_message(&frame);
            let _ = decode_multicast(&frame).map(|decoded| decoded.targets().count());
        }

        #[test]
        fn a_multicast_cut_before_its_type_is_refused(n in 1_u64..5, cut in 0_usize..80) {
            let frames = encode_multicast(&pids(n), &1_u64).expect("encodes");
            let header = 1 + 2 + usize::try_from(n).expect("small") * TARGET_LEN + 8;
            prop_assume!(cut < header);
            prop_assert!(decode_multicast(&frames[0][..cut]).is_err());
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
