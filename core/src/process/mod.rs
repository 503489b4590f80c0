//! One process: what it is and does. The [`Process`] trait a user
//! implements, the [`Context`] its callbacks get, the typed [`Handle`]
//! others send through, the mailbox, the loop that runs `init`, each
//! message and `terminate`, links, monitors and exit signals, timers and
//! reply tokens.
//!
//! Processes live on a [`Node`](crate::Node) (`node/`), which owns the
//! table they are found in; this folder builds on it and never reaches
//! other nodes itself: a signal for a remote process leaves through the
//! node's seam to distribution.

mod behaviour;
pub(crate) mod cell;
mod context;
pub(crate) mod decoding;
mod handle;
pub(crate) mod links;
pub(crate) mod mailbox;
mod origin;
pub(crate) mod reply;
pub(crate) mod run;
mod spawn;
mod timer;

pub use behaviour::Process;
pub use context::Context;
pub use handle::{Handle, Timeout};
pub use mailbox::MailboxSize;
pub use origin::Origin;
pub use reply::ReplyTo;
pub(crate) use spawn::{OnSpawn, SpawnHook};
pub use spawn::{SpawnOpts, DEFAULT_MAILBOX_HIGH_WATER};
pub use timer::TimerRef;

pub(crate) use links::deliver_exit;
