//! TLS on one end of a connection only: telling it apart from a broken
//! peer, and saying so in words. Without this, a TLS record read as a
//! frame header announces a frame of some 350 MB, and plaintext read as
//! a TLS record is "corrupt".

use std::io;

use tokio_rustls::rustls;

/// Which end of a plaintext connection a frame stream reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plaintext {
    /// The end a listener accepted.
    Accepted,
    /// The end that connected.
    Connected,
}

impl Plaintext {
    /// Why the connection fails when the peer's first bytes are a TLS
    /// record.
    pub(crate) fn peer_speaks_tls(self) -> &'static str {
        match self {
            Self::Accepted => {
                "the peer seems to speak TLS and this listener does not (a TLS record came \
                 where a frame was expected): give both nodes the same TLS setting"
            }
            Self::Connected => {
                "the peer seems to speak TLS and this connection does not (it answered with a \
                 TLS record): give both nodes the same TLS setting"
            }
        }
    }
}

/// Whether `bytes` start with a TLS record header: a content type
/// (change_cipher_spec, alert, handshake or application_data), then
/// version 3.0 to 3.4 (SSL 3.0 up to TLS 1.3's record version).
pub(crate) fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x14..=0x17, 0x03, 0x00..=0x04, ..])
}

/// Why a TLS listener refused a connection: `err` from its handshake,
/// named as plaintext where rustls found no TLS record at all.
pub(crate) fn refusal(err: &io::Error) -> String {
    let inner = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            format!("the peer does not speak TLS (a node without TLS?): {err}")
        }
        _ => err.to_string(),
    }
}

/// Why a TLS handshake this node started failed: `err`, with a hint
/// where the peer closed the connection in the middle of it.
pub(crate) fn handshake_failure(err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        format!(
            "the peer closed the connection during the TLS handshake (does it listen without \
             TLS, or is it refusing connections?): {err}"
        )
    } else {
        err.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_told_from_frame_headers() {
        // A client hello, an alert, TLS 1.3 application data.
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0x00, 0x02]));
        assert!(looks_like_tls(&[0x17, 0x03, 0x03]));
        // A frame header, too few bytes, unknown versions and types.
        assert!(!looks_like_tls(&[0x00, 0x00, 0x00, 0x05]));
        assert!(!looks_like_tls(&[0x16, 0x03]));
        assert!(!looks_like_tls(&[0x16, 0x03, 0x05]));
        assert!(!looks_like_tls(&[0x18, 0x03, 0x01]));
    }

    #[test]
    fn plaintext_at_a_tls_listener_is_named() {
        let corrupt = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert!(refusal(&corrupt).starts_with("the peer does not speak TLS"));
        let other = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge),
        );
        assert_eq!(refusal(&other), other.to_string());
    }
}
