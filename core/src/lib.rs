//! beamish-core: Erlang's processes for Rust services.
//!
//! A [`Node`] runs processes: tokio tasks with a mailbox, a state and an
//! implementation of [`Process`]. Processes talk through typed
//! [`Handle`]s with [`cast`](Handle::cast) (fire and forget) and
//! [`call`](Handle::call) (request and reply, with a timeout), and watch
//! each other through links and monitors, with Erlang's semantics:
//!
//! - **Exit reasons** ([`ExitReason`]): `Normal` never takes links down;
//!   `Kill` ends a process untrappably and is seen by others as `Killed`; a
//!   panic ends only its own process, with `Panic`.
//! - **Links** are bidirectional: an abnormal exit ends linked processes
//!   that do not trap exits, at once, without waiting for their queued
//!   messages; a process that traps exits receives [`Signal::Exit`] instead.
//! - **Monitors** are one-way and deliver [`Signal::Down`]. Linking or
//!   monitoring a dead process fires at once with `NoProc`.
//! - **Ordering**: between two processes, messages and the signals that
//!   become messages arrive in the order they were sent, so "send the
//!   result, then exit" is seen in that order.
//! - **Calls** monitor the callee for their duration: they end with the
//!   reply, [`CallError::Timeout`], [`CallError::NoProc`] or
//!   [`CallError::Exited`], never hang, and a late reply is dropped.
//!
//! Local messages are moved, never serialized.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use beamish_core::{async_trait, Context, ExitReason, Node, Process, ReplyTo};
//!
//! struct Counter(u64);
//!
//! enum Msg {
//!     Add(u64),
//!     Get(ReplyTo<u64>),
//! }
//!
//! #[async_trait]
//! impl Process for Counter {
//!     type Args = u64;
//!     type Msg = Msg;
//!
//!     async fn init(_ctx: &mut Context<Msg>, start: u64) -> Result<Self, ExitReason> {
//!         Ok(Counter(start))
//!     }
//!
//!     async fn handle(&mut self, _ctx: &mut Context<Msg>, msg: Msg) -> Result<(), ExitReason> {
//!         match msg {
//!             Msg::Add(n) => self.0 += n,
//!             Msg::Get(reply) => {
//!                 reply.reply(self.0);
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::new()?;
//! let counter = node.spawn::<Counter>(40)?;
//! counter.cast(Msg::Add(2)).await?;
//! let total = counter.call(Msg::Get, Duration::from_secs(1)).await?;
//! assert_eq!(total, 42);
//! # Ok(())
//! # }
//! ```

mod addr;
mod cell;
mod cluster;
#[cfg(feature = "testing")]
pub mod conformance;
mod context;
mod dial;
pub mod dist;
mod error;
mod export;
mod handle;
mod inbound;
mod info;
mod mailbox;
mod node;
mod outbox;
mod pid;
mod process;
mod reason;
mod remote;
mod remote_call;
mod reply;
mod runtime;
mod shutdown;
mod signal;
mod signals;
mod timer;
pub mod transport;
mod wire;

pub use addr::{Addr, CastError};
pub use async_trait::async_trait;

pub use cluster::{ClusterConfig, ClusterError, NodeEvent, NodeEvents};
pub use context::Context;
pub use error::{
    CallError, LookupError, NamedSendError, NodeError, RegisterError, SendError, SpawnError,
    StartError, TrySendError,
};
pub use handle::Handle;
pub use info::{Failure, NodeStats, ProcessInfo, Status};
pub use mailbox::MailboxSize;
pub use node::{Node, NodeBuilder};
pub use pid::{Creation, NodeName, NodeNameError, ParsePidError, Pid, MAX_NODE_NAME_LEN};
pub use process::Process;
pub use reason::ExitReason;
pub use remote::RemoteSendError;
pub use reply::ReplyTo;
pub use runtime::SpawnOpts;
pub use shutdown::ShutdownReport;
pub use signal::{MonitorRef, Signal, TimerId};
pub use signals::ExitWatch;
pub use timer::TimerRef;
