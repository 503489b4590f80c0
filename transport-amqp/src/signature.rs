//! The signature on durable data frames, so that a frame of a session the
//! node does not know (left from its earlier life, and delivered without a
//! handshake) is taken only if a node that knew the cookie sent it.
//!
//! The key is derived from the secret the node hands its transports when
//! it joins ([`Transport::use_secret`](beamish_core::transport::Transport::use_secret)),
//! itself derived from the cookie: `HMAC-SHA256(secret, "beamish durable
//! frames v1")`. Each durable data frame carries, in its header
//! `x-beamish-mac`, `HMAC-SHA256(key, fields)` (32 bytes) where the fields
//! are the sending node and the receiving node (each as its length in 8
//! bytes, big endian, and its bytes), the session and the frame's number
//! (8 bytes each, big endian), and the body (its length in 8 bytes and its
//! bytes), so that no two frames sign the same bytes: a
//! frame cannot be given another sender, another receiver, another session
//! or another place in it without the key.

use std::fmt;

use hmac::{Hmac, Mac};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use sha2::Sha256;

use beamish_core::transport::SharedSecret;

/// The header that carries a durable frame's signature.
pub(crate) const MAC_HEADER: &str = "x-beamish-mac";

/// What the key for durable frames is derived under.
const LABEL: &[u8] = b"beamish durable frames v1";

/// The length of a signature.
const MAC_LEN: usize = 32;

/// Signs and verifies durable frames.
#[derive(Clone)]
pub(crate) struct FrameKey {
    /// HMAC-SHA256 already keyed, cloned for each frame.
    keyed: Hmac<Sha256>,
}

/// What a signature covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signed<'a> {
    /// The node that sent the frame.
    pub(crate) from: &'a str,
    /// The node whose inbox it was sent to.
    pub(crate) to: &'a str,
    pub(crate) session: u64,
    /// The frame's number in its session, from 1.
    pub(crate) seq: u64,
    pub(crate) body: &'a [u8],
}

/// Why a frame of an unknown session was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unauthenticated {
    /// The node was given no secret to verify frames with (its transport
    /// is used without a node that joined a cluster).
    #[error("this node has no secret to verify it with")]
    NoSecret,
    /// The frame has no signature header.
    #[error("it is not signed")]
    Unsigned,
    /// The signature header, or the frame's number, is not as signed
    /// frames carry them.
    #[error("its signature or its number is malformed")]
    Malformed,
    /// The signature was not made with this cluster's key.
    #[error("its signature does not verify")]
    Forged,
}

impl FrameKey {
    /// The key for durable frames under `secret`.
    pub(crate) fn derive(secret: &SharedSecret) -> Self {
        let key = keyed(secret.expose()).chain_update(LABEL).finalize();
        Self {
            keyed: keyed(&key.into_bytes()),
        }
    }

    /// The signature on `frame`.
    pub(crate) fn sign(&self, frame: &Signed<'_>) -> [u8; MAC_LEN] {
        self.mac(frame).finalize().into_bytes().into()
    }

    /// Adds the signature on `frame` to `properties`.
    pub(crate) fn seal(&self, frame: &Signed<'_>, properties: BasicProperties) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            MAC_HEADER.into(),
            AMQPValue::LongString(self.sign(frame).to_vec().into()),
        );
        properties.with_headers(headers)
    }

    /// Checks, in constant time, that `mac` is the signature on `frame`.
    pub(crate) fn verify(&self, frame: &Signed<'_>, mac: &[u8]) -> Result<(), Unauthenticated> {
        if mac.len() != MAC_LEN {
            return Err(Unauthenticated::Malformed);
        }
        self.mac(frame)
            .verify_slice(mac)
            .map_err(|_| Unauthenticated::Forged)
    }

    fn mac(&self, frame: &Signed<'_>) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        for name in [frame.from, frame.to] {
            mac.update(&(name.len() as u64).to_be_bytes());
            mac.update(name.as_bytes());
        }
        mac.update(&frame.session.to_be_bytes());
        mac.update(&frame.seq.to_be_bytes());
        mac.update(&(frame.body.len() as u64).to_be_bytes());
        mac.update(frame.body);
        mac
    }
}

impl fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FrameKey(..)")
    }
}

/// The signature a delivery carries, if any.
pub(crate) fn mac_of(properties: &BasicProperties) -> Result<&[u8], Unauthenticated> {
    let headers = properties
        .headers()
        .as_ref()
        .ok_or(Unauthenticated::Unsigned)?;
    match headers.inner().get(MAC_HEADER) {
        Some(AMQPValue::LongString(mac)) => Ok(mac.as_bytes()),
        Some(_) => Err(Unauthenticated::Malformed),
        None => Err(Unauthenticated::Unsigned),
    }
}

/// HMAC-SHA256 keyed with `key`.
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of every length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: u8) -> FrameKey {
        FrameKey::derive(&SharedSecret::new([secret; 32]))
    }

    fn frame<'a>() -> Signed<'a> {
        Signed {
            from: "a@host",
            to: "b@host",
            session: 7,
            seq: 1,
            body: b"hello",
        }
    }

    #[test]
    fn a_signed_frame_verifies() {
        let mac = key(1).sign(&frame());
        assert_eq!(key(1).verify(&frame(), &mac), Ok(()));
    }

    #[test]
    fn a_frame_changed_in_any_field_or_signed_under_another_key_does_not() {
        let mac = key(1).sign(&frame());
        let changed = [
            Signed {
                from: "c@host",
                ..frame()
            },
            Signed {
                to: "c@host",
                ..frame()
            },
            Signed {
                session: 8,
                ..frame()
            },
            Signed { seq: 2, ..frame() },
            Signed {
                body: b"hellO",
                ..frame()
            },
            // The same bytes, cut elsewhere between the names.
            Signed {
                from: "a@hostb",
                to: "@host",
                ..frame()
            },
        ];
        for frame in changed {
            assert_eq!(
                key(1).verify(&frame, &mac),
                Err(Unauthenticated::Forged),
                "{frame:?}"
            );
        }
        assert_eq!(key(2).verify(&frame(), &mac), Err(Unauthenticated::Forged));
    }

    #[test]
    fn a_signature_of_the_wrong_length_is_malformed() {
        let mac = key(1).sign(&frame());
        assert_eq!(
            key(1).verify(&frame(), &mac[..31]),
            Err(Unauthenticated::Malformed)
        );
        assert_eq!(
            key(1).verify(&frame(), &[]),
            Err(Unauthenticated::Malformed)
        );
    }

    #[test]
    fn the_signature_travels_in_its_header() {
        let sealed = key(1).seal(&frame(), BasicProperties::default());
        let mac = mac_of(&sealed).expect("signed");
        assert_eq!(key(1).verify(&frame(), mac), Ok(()));
        assert_eq!(
            mac_of(&BasicProperties::default()),
            Err(Unauthenticated::Unsigned)
        );
        let mut headers = FieldTable::default();
        headers.insert(MAC_HEADER.into(), AMQPValue::LongUInt(1));
        let odd = BasicProperties::default().with_headers(headers);
        assert_eq!(mac_of(&odd), Err(Unauthenticated::Malformed));
    }

    #[test]
    fn frames_are_signed_with_a_key_derived_from_the_secret_not_the_secret() {
        let secret = SharedSecret::new([1; 32]);
        let with_the_secret = FrameKey {
            keyed: keyed(secret.expose()),
        };
        assert_ne!(with_the_secret.sign(&frame()), key(1).sign(&frame()));
        assert_eq!(format!("{:?}", key(1)), "FrameKey(..)");
    }
}
