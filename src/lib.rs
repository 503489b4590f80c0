//! beamish: Erlang/OTP for Rust services.
//!
//! Processes with mailboxes, links and monitors, `call` and `cast`, a
//! local registry and live introspection, with Erlang's semantics, and OTP
//! supervision trees. This facade re-exports [`beamish_core`] and
//! [`beamish_supervisor`], and the transports: with the default feature
//! `tcp` the TCP transport as `tcp`, with `quic` the QUIC transport as
//! `quic`, with `amqp` the AMQP transport as `amqp`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use beamish::{async_trait, Context, ExitReason, Node, Process, ReplyTo};
//!
//! struct Greeter;
//!
//! enum Msg {
//!     Greet(String, ReplyTo<String>),
//! }
//!
//! #[async_trait]
//! impl Process for Greeter {
//!     type Args = ();
//!     type Msg = Msg;
//!
//!     async fn init(_ctx: &mut Context<Msg>, _: ()) -> Result<Self, ExitReason> {
//!         Ok(Greeter)
//!     }
//!
//!     async fn handle(&mut self, _ctx: &mut Context<Msg>, msg: Msg) -> Result<(), ExitReason> {
//!         let Msg::Greet(name, reply) = msg;
//!         reply.reply(format!("hello, {name}"));
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::new()?;
//! let greeter = node.spawn::<Greeter>(())?;
//! let text = greeter
//!     .call(|reply| Msg::Greet("ada".into(), reply), Duration::from_secs(1))
//!     .await?;
//! assert_eq!(text, "hello, ada");
//! # Ok(())
//! # }
//! ```

pub use beamish_core::*;

pub use beamish_supervisor::{
    AutoShutdown, Backoff, ChildCounts, ChildError, ChildInfo, ChildKind, ChildSpec, DynamicChild,
    DynamicError, DynamicMsg, DynamicRef, DynamicSpec, NodeExt, Restart, RunError, Shutdown,
    StartFuture, Strategy, SupervisorError, SupervisorMsg, SupervisorRef, SupervisorSpec, Task,
    TaskError, TaskSpec, TaskSupervisor,
};
/// Distribution over TCP.
#[cfg(feature = "tcp")]
pub use beamish_transport_tcp as tcp;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
/// Distribution through an AMQP 0-9-1 broker.
#[cfg(feature = "amqp")]
pub use beamish_transport_amqp as amqp;
/// Distribution over QUIC.
#[cfg(feature = "quic")]
pub use beamish_transport_quic as quic;
