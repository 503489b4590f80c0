//! The cluster's shared secret: made from bytes, generated, or read from a
//! file that only its owner may read.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::transport::SharedSecret;

/// Cookies shorter than this many bytes can be guessed; the node warns.
pub(crate) const SHORT_COOKIE: usize = 16;

/// Random bytes in a generated cookie (256 bits).
const GENERATED: usize = 32;

/// The shared secret of a cluster. It never crosses the wire, and its
/// `Debug` form does not show it.
///
/// Nodes prove to each other that they hold the same cookie (see
/// [`Handshake`](super::Handshake)); anyone who holds it can join the
/// cluster and run code on its nodes' behalf, so treat it like a password:
/// at least 16 bytes, and from [`generate`](Self::generate) or a private
/// file ([`from_file`](Self::from_file)) rather than from source code.
///
/// # Examples
///
/// ```
/// use beamish_core::dist::Cookie;
///
/// let cookie = Cookie::generate()?;
/// assert_eq!(format!("{cookie:?}"), "Cookie(..)");
/// # Ok::<(), beamish_core::dist::RandomnessError>(())
/// ```
#[derive(Clone)]
pub struct Cookie(Arc<[u8]>);

impl Cookie {
    /// A cookie from any bytes. Fewer than 16 bytes can be guessed: a
    /// [`ClusterConfig`](crate::ClusterConfig) built with such a cookie
    /// logs a warning.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self(Arc::from(secret.as_ref()))
    }

    /// A new random cookie: 256 bits from the operating system, written
    /// as 64 hexadecimal characters, so that the same secret could be kept
    /// in a text file for [`from_file`](Self::from_file).
    ///
    /// # Errors
    ///
    /// [`RandomnessError`] if the operating system gives no random bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::dist::Cookie;
    /// use beamish_core::ClusterConfig;
    ///
    /// let config = ClusterConfig::new(Cookie::generate()?);
    /// # let _ = config;
    /// # Ok::<(), beamish_core::dist::RandomnessError>(())
    /// ```
    pub fn generate() -> Result<Self, RandomnessError> {
        let mut random = [0; GENERATED];
        getrandom::fill(&mut random).map_err(RandomnessError)?;
        let mut hex = Vec::with_capacity(2 * GENERATED);
        for byte in random {
            hex.push(HEX[usize::from(byte >> 4)]);
            hex.push(HEX[usize::from(byte & 0x0f)]);
        }
        Ok(Self::new(hex))
    }

    /// Reads the cookie from the file at `path`, as Erlang reads
    /// `~/.erlang.cookie`: on unix the file must be neither readable nor
    /// writable by its group or by others (mode `0600` or `0400`). One
    /// trailing line ending (`\n` or `\r\n`) is not part of the cookie;
    /// any other byte is.
    ///
    /// # Errors
    ///
    /// [`CookieFileError::Read`] if the file cannot be opened or read,
    /// [`CookieFileError::Exposed`] if group or others may read or write
    /// it, [`CookieFileError::Empty`] if it holds nothing but a line
    /// ending.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use beamish_core::dist::{Cookie, CookieFileError};
    /// use beamish_core::ClusterConfig;
    ///
    /// // Made with `head -c 32 /dev/urandom | xxd -p -c 64 > /etc/orders/cookie`
    /// // and `chmod 0600 /etc/orders/cookie`.
    /// let cookie = Cookie::from_file("/etc/orders/cookie")?;
    /// let config = ClusterConfig::new(cookie);
    /// # let _ = config;
    /// # Ok::<(), CookieFileError>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, CookieFileError> {
        let path = path.as_ref();
        let read = |source| CookieFileError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read)?;
        // The permissions of the file opened, not of whatever the path
        // names a moment later.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().map_err(read)?.permissions().mode();
            if mode & 0o066 != 0 {
                return Err(CookieFileError::Exposed {
                    path: path.to_owned(),
                    mode: mode & 0o7777,
                });
            }
        }
        let mut secret = Vec::new();
        file.read_to_end(&mut secret).map_err(read)?;
        if secret.ends_with(b"\n") {
            secret.pop();
            if secret.ends_with(b"\r") {
                secret.pop();
            }
        }
        if secret.is_empty() {
            return Err(CookieFileError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Self::new(secret))
    }

    /// Whether the cookie is short enough to be guessed.
    pub(crate) fn is_short(&self) -> bool {
        self.0.len() < SHORT_COOKIE
    }

    /// The secret the node hands its transports
    /// ([`Transport::use_secret`](crate::transport::Transport::use_secret)):
    /// HMAC-SHA256 of a label of its own under the cookie, which no
    /// handshake proof shares, so that it neither reveals the cookie nor
    /// passes for a proof.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::dist::Cookie;
    ///
    /// let secret = Cookie::new("secret").transport_secret();
    /// assert_eq!(secret.expose(), Cookie::new("secret").transport_secret().expose());
    /// assert_eq!(format!("{secret:?}"), "SharedSecret(..)");
    /// ```
    pub fn transport_secret(&self) -> SharedSecret {
        SharedSecret::new(self.sign(b"beamish/transport secret v1", &[]))
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

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Why [`Cookie::generate`] failed: the operating system gave no random
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system gave no random bytes: {0}")]
pub struct RandomnessError(getrandom::Error);

/// Why [`Cookie::from_file`] refused a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CookieFileError {
    /// The file could not be opened or read.
    #[error("cannot read the cookie file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Its group or others may read or write the file: anyone who can
    /// read the cookie can join the cluster.
    #[error(
        "the cookie file {} may be read or written by group or others (mode {mode:o}); \
         make it readable by its owner only (chmod 0600)",
        path.display()
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file holds no cookie (nothing, or only a line ending).
    #[error("the cookie file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in the temporary folder, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        /// A file holding `contents` with permission bits `mode`.
        fn new(contents: &[u8], mode: u32) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("beamish-cookie-test-{}-{n}", std::process::id()));
            std::fs::write(&path, contents).expect("a writable temporary folder");
            let file = Self(path);
            file.chmod(mode);
            file
        }

        #[cfg(unix)]
        fn chmod(&self, mode: u32) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(mode))
                .expect("permissions set");
        }

        #[cfg(not(unix))]
        fn chmod(&self, _mode: u32) {}
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn secret(cookie: &Cookie) -> &[u8] {
        &cookie.0
    }

    #[test]
    fn a_generated_cookie_is_256_random_bits_in_hex() {
        let one = Cookie::generate().expect("randomness");
        let two = Cookie::generate().expect("randomness");
        assert_eq!(secret(&one).len(), 64);
        assert!(secret(&one).iter().all(|b| HEX.contains(b)));
        assert_ne!(secret(&one), secret(&two));
        assert!(!one.is_short());
    }

    #[test]
    fn a_private_file_gives_its_contents_without_the_line_ending() {
        for (contents, expected) in [
            (
                &b"a cookie of some length\n"[..],
                &b"a cookie of some length"[..],
            ),
            (b"windows line\r\n", b"windows line"),
            (b"no line ending", b"no line ending"),
            (b"two\n\n", b"two\n"),
            (b" spaces are kept \n", b" spaces are kept "),
        ] {
            let file = TempFile::new(contents, 0o600);
            let cookie = Cookie::from_file(&file.0).expect("a private file");
            assert_eq!(secret(&cookie), expected);
        }
        let file = TempFile::new(b"read-only is fine", 0o400);
        assert!(Cookie::from_file(&file.0).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_read_or_write_is_refused() {
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o666] {
            let file = TempFile::new(b"a cookie of some length", mode);
            match Cookie::from_file(&file.0) {
                Err(CookieFileError::Exposed { path, mode: got }) => {
                    assert_eq!((path, got), (file.0.clone(), mode));
                }
                other => panic!("mode {mode:o}: expected Exposed, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_empty_file_is_refused() {
        for contents in [&b""[..], b"\n", b"\r\n"] {
            let file = TempFile::new(contents, 0o600);
            assert!(matches!(
                Cookie::from_file(&file.0),
                Err(CookieFileError::Empty { path }) if path == file.0
            ));
        }
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let path = std::env::temp_dir().join("beamish-cookie-test-no-such-file");
        let err = Cookie::from_file(&path).expect_err("no file");
        assert!(matches!(&err, CookieFileError::Read { path: p, .. } if *p == path));
        assert!(err.to_string().contains("beamish-cookie-test-no-such-file"));
    }
}
