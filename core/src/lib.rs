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
//! # How the crate is laid out
//!
//! The folders are the layers, each building only on those below it:
//!
//! | folder | what it holds |
//! |---|---|
//! | the root | the vocabulary every layer shares: [`Pid`], [`NodeName`], [`ExitReason`], [`Signal`], the error types |
//! | `transport/` | the [`Transport`](transport::Transport) contract (ordered, framed byte connections to an [`Endpoint`](transport::Endpoint)) and the in-process transport |
//! | `node/` | the [`Node`]: its table of live processes, the registry, shutdown, introspection ([`ProcessInfo`]), and the one seam through which it reaches other nodes |
//! | `process/` | one process: the [`Process`] trait, [`Context`], [`Handle`], the mailbox, the run loop, links, monitors and exit signals, timers and [`ReplyTo`] |
//! | `dist/` | other nodes: the [protocol](dist) (frames, handshake, heartbeats), membership and connections, the outbox, wire encoding, remote sends, calls and signals, exports and inbound delivery, and the location-transparent [`Addr`] |
//!
//! `process/` and `node/` never name `dist/`: a signal for a process on
//! another node leaves through the node's seam, which `dist/` implements,
//! so a reader of the local runtime sees exactly where a message leaves
//! the node. A test over the sources (`tests/layers.rs`) keeps the folders
//! free of import cycles.
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

// The derive macro names this crate `::beamish_core`, in its own tests
// too.
extern crate self as beamish_core;

mod disconnect;
mod error;
pub mod limit;
mod message;
mod pid;
mod reason;
mod signal;

pub mod dist;
mod node;
pub mod prelude;
mod process;
pub mod transport;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod forge;

pub use async_trait::async_trait;
pub use beamish_macros::Message;
pub use message::{wire_id, Message};

pub use disconnect::{Disconnect, Lost, Refusal};
pub use dist::addr::{Addr, CastError, TryCastError};
pub use dist::cluster::{ClusterError, NodeEvent, NodeEvents};
pub use dist::config::ClusterConfig;
pub use dist::outbox::DEFAULT_OUTBOX_LIMIT;
pub use dist::send::RemoteSendError;
pub use dist::setup::{ClusterNodeBuilder, SetupError, ToEndpoint};
pub use dist::via::Registry;
pub use dist::{Cookie, CookieFileError, HeartbeatConfig};
pub use error::{
    CallError, LookupError, NamedSendError, NodeError, RegisterError, SendError, SpawnError,
    StartError, StopError, TrySendError,
};
pub use node::{
    ExitWatch, Failure, Node, NodeBuilder, NodeStats, ProcessInfo, Settled, ShutdownReport, Status,
};
pub use pid::{
    known_node_names, Creation, NodeName, NodeNameError, ParsePidError, Pid, PinnedName,
    MAX_NODE_NAME_LEN,
};
pub use process::{
    Context, Handle, MailboxSize, Origin, Process, ReplyTo, SpawnOpts, Timeout, TimerRef,
    DEFAULT_MAILBOX_HIGH_WATER,
};
pub use reason::ExitReason;
pub use signal::{MonitorRef, Signal, TimerId};
pub use transport::{Endpoint, EndpointError};
