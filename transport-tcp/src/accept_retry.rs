//! Taking connections off a listening socket without letting a passing
//! failure end the listener.
//!
//! `accept` fails for three kinds of reasons. One incoming connection
//! may have failed before it was taken (reset, aborted, or, on Linux, a
//! network error passed on by the kernel): the next one is taken at once,
//! as the failed one has left the queue. The process or the system may
//! be short of something (descriptors, buffers, memory): asking again at
//! once would spin, since the connection waits in the queue until
//! something is freed, so the listener pauses, 5 ms at first and twice as
//! long after each failure in a row up to 1 s, and logs one warning for
//! the whole burst. Errors it does not know are treated as such a
//! shortage. Only a socket that is no longer a usable listener ends it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use beamish_core::limit::Throttle;

/// The first pause after a shortage.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between two tries.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
/// At most one warning about a shortage in this long.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A listening socket that rides out transient accept failures.
#[derive(Debug)]
pub(crate) struct RetryingListener {
    listener: TcpListener,
    at: SocketAddr,
    retry: Retry,
}

impl RetryingListener {
    /// Wraps a bound listener.
    pub(crate) fn new(listener: TcpListener) -> io::Result<Self> {
        let at = listener.local_addr()?;
        Ok(Self {
            listener,
            at,
            retry: Retry::new(),
        })
    }

    /// The next incoming connection, trying again after transient
    /// failures (with a pause where one helps).
    ///
    /// # Errors
    ///
    /// A failure that leaves the socket unusable; the listener is done.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no connection is lost. A call made after one was
    /// dropped during a pause tries at once, and the next failure pauses
    /// longer.
    pub(crate) async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            let err = match self.listener.accept().await {
                Ok(accepted) => {
                    if let Some(failures) = self.retry.succeeded() {
                        tracing::info!(listener = %self.at, failures, "accepting connections again");
                    }
                    return Ok(accepted);
                }
                Err(err) => err,
            };
            match self.retry.failed(&err, Instant::now()) {
                Next::Now => {
                    tracing::debug!(listener = %self.at, %err, "an incoming connection failed before it was accepted");
                }
                Next::After { pause, warn } => {
                    match warn {
                        Some(held_back) => tracing::warn!(
                            listener = %self.at,
                            %err,
                            held_back,
                            "accepting a connection failed; trying again after short pauses"
                        ),
                        None => tracing::debug!(
                            listener = %self.at,
                            %err,
                            ?pause,
                            "accepting a connection failed again"
                        ),
                    }
                    tokio::time::sleep(pause).await;
                }
                Next::Stop => {
                    tracing::error!(listener = %self.at, %err, "the listener stopped");
                    return Err(err);
                }
            }
        }
    }
}

/// Why `accept` failed, as far as what to do next goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// One incoming connection failed before it was taken; the next can
    /// be taken at once.
    OneConnection,
    /// Something ran short (or an error not known here): pause, try again.
    Shortage,
    /// The socket is no longer a usable listener.
    Fatal,
}

impl Failure {
    /// Sorts an error returned by `accept`.
    pub(crate) fn of(err: &io::Error) -> Self {
        #[cfg(unix)]
        if let Some(code) = err.raw_os_error() {
            if let Some(failure) = Self::of_errno(code) {
                return failure;
            }
        }
        use io::ErrorKind::*;
        match err.kind() {
            ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
            | TimedOut | NetworkDown | NetworkUnreachable | HostUnreachable => Self::OneConnection,
            _ => Self::Shortage,
        }
    }

    #[cfg(unix)]
    fn of_errno(code: i32) -> Option<Self> {
        match code {
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => Some(Self::Shortage),
            libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EFAULT => Some(Self::Fatal),
            // Errors of the connection itself, which Linux passes on
            // from accept (accept(2), "Error handling"), and a firewall's
            // refusal.
            libc::ECONNABORTED
            | libc::ECONNRESET
            | libc::EPROTO
            | libc::EPERM
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::ETIMEDOUT
            | libc::EINTR
            | libc::EAGAIN => Some(Self::OneConnection),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            libc::ENONET => Some(Self::OneConnection),
            _ => None,
        }
    }
}

/// What to do after a failed accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Accept again at once.
    Now,
    /// Accept again after `pause`; log a warning if `warn` is `Some`
    /// (with the number of warnings held back since the last one).
    After {
        /// How long to wait.
        pause: Duration,
        /// Whether to warn, and how many warnings were held back.
        warn: Option<u64>,
    },
    /// Give up: the listener is done.
    Stop,
}

/// The state of an accept loop between failures: the pause to come and
/// the warnings already given.
#[derive(Debug)]
pub(crate) struct Retry {
    pause: Option<Duration>,
    failures: u64,
    warnings: Throttle,
}

impl Retry {
    pub(crate) fn new() -> Self {
        Self {
            pause: None,
            failures: 0,
            warnings: Throttle::new(WARN_EVERY),
        }
    }

    /// After `accept` failed with `err` at `now`.
    pub(crate) fn failed(&mut self, err: &io::Error, now: Instant) -> Next {
        match Failure::of(err) {
            Failure::OneConnection => Next::Now,
            Failure::Fatal => Next::Stop,
            Failure::Shortage => {
                self.failures += 1;
                let pause = self
                    .pause
                    .map_or(FIRST_PAUSE, |last| (last * 2).min(LONGEST_PAUSE));
                self.pause = Some(pause);
                let warn = if self.failures == 1 {
                    self.warnings.allow(now)
                } else {
                    None
                };
                Next::After { pause, warn }
            }
        }
    }

    /// After `accept` succeeded: the burst of failures, if any, is over;
    /// returns how many failures it had.
    pub(crate) fn succeeded(&mut self) -> Option<u64> {
        self.pause = None;
        Some(std::mem::take(&mut self.failures)).filter(|&n| n > 0)
    }
}

// The failures are named by their Unix error numbers.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn shortages_pause_connection_failures_do_not_and_a_broken_socket_stops() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert_eq!(Failure::of(&os(code)), Failure::Shortage, "{code}");
        }
        for code in [
            libc::ECONNABORTED,
            libc::ECONNRESET,
            libc::EPROTO,
            libc::EINTR,
        ] {
            assert_eq!(Failure::of(&os(code)), Failure::OneConnection, "{code}");
        }
        for code in [libc::EBADF, libc::EINVAL, libc::ENOTSOCK] {
            assert_eq!(Failure::of(&os(code)), Failure::Fatal, "{code}");
        }
        assert_eq!(
            Failure::of(&io::Error::other("unknown")),
            Failure::Shortage,
            "an unknown error is not fatal"
        );
    }

    #[test]
    fn pauses_double_up_to_a_second_and_start_over_after_a_success() {
        let now = Instant::now();
        let mut retry = Retry::new();
        let pauses: Vec<_> = (0..10)
            .map(|_| match retry.failed(&os(libc::EMFILE), now) {
                Next::After { pause, .. } => pause.as_millis(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(retry.succeeded(), Some(10));
        assert_eq!(retry.succeeded(), None);
        assert!(matches!(
            retry.failed(&os(libc::EMFILE), now),
            Next::After { pause, .. } if pause == FIRST_PAUSE
        ));
        assert_eq!(retry.failed(&os(libc::ECONNRESET), now), Next::Now);
        assert_eq!(retry.failed(&os(libc::EBADF), now), Next::Stop);
    }

    #[test]
    fn one_warning_per_burst_and_at_most_one_per_interval() {
        let start = Instant::now();
        let mut retry = Retry::new();
        let warned = |retry: &mut Retry, at| match retry.failed(&os(libc::EMFILE), at) {
            Next::After { warn, .. } => warn,
            other => panic!("{other:?}"),
        };
        assert_eq!(warned(&mut retry, start), Some(0));
        assert_eq!(warned(&mut retry, start), None, "same burst");
        retry.succeeded();
        assert_eq!(warned(&mut retry, start), None, "a new burst, too soon");
        retry.succeeded();
        assert_eq!(warned(&mut retry, start + WARN_EVERY), Some(1));
    }
}
