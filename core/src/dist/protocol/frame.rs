//! Length-prefixed frames: a 4-byte big-endian length, then the payload.
//! Input is untrusted: a frame over the limit is an error before any of it
//! is buffered, and nothing here panics on any input.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The default largest frame: 8 MiB.
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024 * 1024;

const HEADER: usize = 4;

/// Why a frame could not be written or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is larger than the limit. For a sender, nothing was
    /// written; for a receiver, the connection must be closed.
    #[error("a frame of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The frame's size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// Encodes and decodes frames with a size limit.
///
/// ```
/// use beamish_core::dist::protocol::FrameCodec;
/// use bytes::BytesMut;
///
/// let codec = FrameCodec::new(1024);
/// let mut wire = BytesMut::new();
/// codec.encode(b"hello", &mut wire)?;
/// assert_eq!(codec.decode(&mut wire)?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(codec.decode(&mut wire)?, None);
/// # Ok::<(), beamish_core::dist::protocol::FrameError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    max: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameCodec {
    /// A codec refusing frames over `max` bytes (capped at `u32::MAX`).
    pub fn new(max: usize) -> Self {
        Self {
            max: max.min(u32::MAX as usize),
        }
    }

    /// The largest payload allowed.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Appends one frame holding `payload` to `out`.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLarge`] if the payload is over the limit; `out` is
    /// left as it was.
    pub fn encode(&self, payload: &[u8], out: &mut BytesMut) -> Result<(), FrameError> {
        out.reserve(HEADER + payload.len());
        self.encode_header(payload.len(), out)?;
        out.put_slice(payload);
        Ok(())
    }

    /// Appends only the header of a frame of `size` bytes to `out`, for a
    /// writer that sends the payload from its own memory right after it.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLarge`] if `size` is over the limit; `out` is left
    /// as it was.
    pub fn encode_header(&self, size: usize, out: &mut BytesMut) -> Result<(), FrameError> {
        if size > self.max {
            return Err(FrameError::TooLarge {
                size,
                max: self.max,
            });
        }
        // Checked above: size <= max <= u32::MAX.
        out.put_u32(size as u32);
        Ok(())
    }

    /// Takes the next whole frame's payload out of `buf`, or `None` if
    /// more bytes are needed. The payload shares `buf`'s memory.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLarge`] as soon as a header announces a frame over
    /// the limit; the caller closes the connection.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(header) = buf.get(..HEADER) else {
            return Ok(None);
        };
        let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if size > self.max {
            return Err(FrameError::TooLarge {
                size,
                max: self.max,
            });
        }
        if buf.len() < HEADER + size {
            buf.reserve(HEADER + size - buf.len());
            return Ok(None);
        }
        buf.advance(HEADER);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_header_then_its_payload_is_a_frame() {
        let codec = FrameCodec::new(16);
        let mut whole = BytesMut::new();
        codec.encode(b"payload", &mut whole).expect("fits");
        let mut parts = BytesMut::new();
        codec.encode_header(7, &mut parts).expect("fits");
        parts.extend_from_slice(b"payload");
        assert_eq!(whole, parts);
        let refused = codec.encode_header(17, &mut parts);
        assert!(matches!(
            refused,
            Err(FrameError::TooLarge { size: 17, max: 16 })
        ));
        assert_eq!(parts.len(), 4 + 7, "nothing written for a refused frame");
    }

    #[test]
    fn frames_round_trip_and_wait_for_more() {
        let codec = FrameCodec::new(16);
        let mut wire = BytesMut::new();
        codec.encode(b"one", &mut wire).expect("fits");
        codec.encode(b"", &mut wire).expect("fits");
        codec.encode(b"three", &mut wire).expect("fits");
        let mut partial = wire.split_to(5);
        assert_eq!(codec.decode(&mut partial), Ok(None));
        partial.unsplit(wire);
        let mut wire = partial;
        assert_eq!(
            codec.decode(&mut wire).expect("ok").as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(
            codec.decode(&mut wire).expect("ok").as_deref(),
            Some(&b""[..])
        );
        assert_eq!(
            codec.decode(&mut wire).expect("ok").as_deref(),
            Some(&b"three"[..])
        );
        assert_eq!(codec.decode(&mut wire), Ok(None));
    }

    #[test]
    fn oversized_frames_are_refused_both_ways() {
        let codec = FrameCodec::new(4);
        let mut out = BytesMut::new();
        assert_eq!(
            codec.encode(b"12345", &mut out),
            Err(FrameError::TooLarge { size: 5, max: 4 })
        );
        assert!(out.is_empty());
        let mut wire = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            codec.decode(&mut wire),
            Err(FrameError::TooLarge {
                size: u32::MAX as usize,
                max: 4
            })
        );
    }

    proptest! {
        #[test]
        fn any_payloads_round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20), cut in 0usize..4000) {
            let codec = FrameCodec::new(256);
            let mut wire = BytesMut::new();
            let mut sent = Vec::new();
            for payload in &payloads {
                if codec.encode(payload, &mut wire).is_ok() {
                    sent.push(payload.clone());
                } else {
                    prop_assert!(payload.len() > 256);
                }
            }
            // Deliver in two pieces, split anywhere.
            let cut = cut.min(wire.len());
            let rest = wire.split_off(cut);
            let mut got = Vec::new();
            while let Some(frame) = codec.decode(&mut wire).expect("valid") {
                got.push(frame.to_vec());
            }
            wire.extend_from_slice(&rest);
            while let Some(frame) = codec.decode(&mut wire).expect("valid") {
                got.push(frame.to_vec());
            }
            prop_assert_eq!(got, sent);
            prop_assert!(wire.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let codec = FrameCodec::new(512);
            let mut wire = BytesMut::from(&bytes[..]);
            while let Ok(Some(frame)) = codec.decode(&mut wire) {
                prop_assert!(frame.len() <= 512);
            }
        }
    }
}
