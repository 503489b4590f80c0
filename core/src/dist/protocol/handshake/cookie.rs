//! The cluster's shared secret.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The shared secret of a cluster. It never crosses the wire, and its
/// `Debug` form does not show it.
#[derive(Clone)]
pub struct Cookie(Arc<[u8]>);

impl Cookie {
    /// A cookie from any bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self(Arc::from(secret.as_ref()))
    }

    /// The HMAC-SHA256 of `label` then `transcript` under the cookie.
    pub(super) fn sign(&self, label: &[u8], transcript: &[u8]) -> [u8; 32] {
        self.mac(label, transcript).finalize().into_bytes().into()
    }

    /// Whether `proof` is [`sign`](Self::sign)'s answer, compared in
    /// constant time.
    pub(super) fn verify(&self, label: &[u8], transcript: &[u8], proof: &[u8; 32]) -> bool {
        self.mac(label, transcript).verify_slice(proof).is_ok()
    }

    fn mac(&self, label: &[u8], transcript: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(label);
        mac.update(transcript);
        mac
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(..)")
    }
}
