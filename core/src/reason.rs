//! Exit reasons.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Why a process ended, or the reason carried by an exit signal.
///
/// The meanings follow Erlang:
///
/// - [`Normal`](Self::Normal) ends a process quietly: it never takes linked
///   processes down, and an exit signal with this reason sent to a process
///   that does not trap exits is ignored.
/// - [`Shutdown`](Self::Shutdown) is an orderly stop requested by a parent or
///   the node; it is abnormal for links (a linked process that does not trap
///   exits stops too) but is not logged as a crash.
///   [`ShutdownWith`](Self::ShutdownWith) is the same with a detail
///   (Erlang's `{shutdown, Term}`): treated as `Shutdown` everywhere (a
///   transient child is not restarted, it is not a crash), the detail only
///   says why.
/// - [`Kill`](Self::Kill) is only ever a *signal*: sent with
///   [`Context::exit`](crate::Context::exit) it ends the target at once and
///   cannot be trapped. Everyone else then sees the reason
///   [`Killed`](Self::Killed), an ordinary, trappable reason, so one kill
///   does not cascade untrappably through links.
/// - [`Panic`](Self::Panic) is a panic in `init`, `handle`, `handle_signal`
///   or `terminate`, with its message.
/// - [`NoProc`](Self::NoProc): the process did not exist (linking or
///   monitoring a dead process fires at once with this reason).
/// - [`NoConnection`](Self::NoConnection): the process's node could not be
///   reached or was lost.
/// - [`Error`](Self::Error): any other failure, with a description. Any
///   `std::error::Error` converts into it, so `?` works in handlers.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExitReason {
    /// The process finished its work.
    Normal,
    /// An orderly stop was requested.
    Shutdown,
    /// The untrappable kill signal; seen by others as `Killed`.
    Kill,
    /// The process was ended by a `Kill` signal.
    Killed,
    /// The process panicked; the panic message.
    Panic(Arc<str>),
    /// The process did not exist.
    NoProc,
    /// The process's node could not be reached.
    NoConnection,
    /// Any other failure, described.
    Error(Arc<str>),
    /// An orderly stop with a detail (Erlang's `{shutdown, Term}`): a
    /// `Shutdown` in every respect.
    ShutdownWith(Arc<str>),
}

impl ExitReason {
    /// An [`Error`](Self::Error) reason with the given description.
    pub fn error(description: impl fmt::Display) -> Self {
        Self::Error(description.to_string().into())
    }

    /// A [`ShutdownWith`](Self::ShutdownWith) reason: an orderly stop,
    /// with a detail saying why (Erlang's `{shutdown, Term}`).
    pub fn shutdown_with(detail: impl fmt::Display) -> Self {
        Self::ShutdownWith(detail.to_string().into())
    }

    /// `true` for [`Shutdown`](Self::Shutdown) and
    /// [`ShutdownWith`](Self::ShutdownWith).
    pub fn is_shutdown(&self) -> bool {
        matches!(self, Self::Shutdown | Self::ShutdownWith(_))
    }

    /// `true` for [`Normal`](Self::Normal).
    pub fn is_normal(&self) -> bool {
        matches!(self, Self::Normal)
    }

    /// `true` for every reason but `Normal`: the reasons that take down
    /// linked processes that do not trap exits.
    pub fn is_abnormal(&self) -> bool {
        !self.is_normal()
    }

    /// `true` for the reasons worth reporting as a crash: everything but
    /// `Normal`, `Shutdown` and `ShutdownWith`.
    pub fn is_crash(&self) -> bool {
        !self.is_normal() && !self.is_shutdown()
    }

    /// The reason others see: `Kill` becomes `Killed`, anything else stays.
    pub(crate) fn into_seen(self) -> Self {
        match self {
            Self::Kill => Self::Killed,
            other => other,
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Normal => f.write_str("normal"),
            Self::Shutdown => f.write_str("shutdown"),
            Self::Kill => f.write_str("kill"),
            Self::Killed => f.write_str("killed"),
            Self::Panic(msg) => write!(f, "panic: {msg}"),
            Self::NoProc => f.write_str("noproc"),
            Self::NoConnection => f.write_str("noconnection"),
            Self::Error(msg) => write!(f, "error: {msg}"),
            Self::ShutdownWith(detail) => write!(f, "shutdown: {detail}"),
        }
    }
}

impl fmt::Debug for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<E: std::error::Error> From<E> for ExitReason {
    fn from(error: E) -> Self {
        Self::error(error)
    }
}

/// Turns a panic payload into the message of a [`ExitReason::Panic`].
pub(crate) fn panic_reason(payload: Box<dyn std::any::Any + Send>) -> ExitReason {
    let message = if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    };
    ExitReason::Panic(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_convert_with_their_message() {
        let err = "x".parse::<u32>().expect_err("not a number");
        let reason: ExitReason = err.into();
        assert_eq!(reason.to_string(), "error: invalid digit found in string");
    }

    #[test]
    fn kill_is_seen_as_killed() {
        assert_eq!(ExitReason::Kill.into_seen(), ExitReason::Killed);
        assert_eq!(ExitReason::Normal.into_seen(), ExitReason::Normal);
        assert!(!ExitReason::Shutdown.is_crash());
        assert!(ExitReason::Shutdown.is_abnormal());
    }

    #[test]
    fn shutdown_with_a_detail_is_a_shutdown() {
        let reason = ExitReason::shutdown_with("config reloaded");
        assert_eq!(reason, ExitReason::ShutdownWith("config reloaded".into()));
        assert!(reason.is_shutdown());
        assert!(ExitReason::Shutdown.is_shutdown());
        assert!(!reason.is_crash());
        assert!(reason.is_abnormal());
        assert_eq!(reason.to_string(), "shutdown: config reloaded");
        assert!(!ExitReason::error("x").is_shutdown());
    }

    #[test]
    fn panic_payloads_become_messages() {
        let reason = panic_reason(Box::new("boom"));
        assert_eq!(reason, ExitReason::Panic("boom".into()));
        let reason = panic_reason(Box::new(String::from("bang")));
        assert_eq!(reason, ExitReason::Panic("bang".into()));
        let reason = panic_reason(Box::new(5_u8));
        assert_eq!(reason, ExitReason::Panic("non-string panic payload".into()));
    }
}
