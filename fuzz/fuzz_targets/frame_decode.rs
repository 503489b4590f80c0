//! Arbitrary bytes through the frame decoder: it must return frames within
//! the limit or a clear error, never panic or over-allocate.
#![no_main]

use beamish_core::dist::FrameCodec;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let codec = FrameCodec::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        assert!(frame.len() <= codec.max());
    }
});
