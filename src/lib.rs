//! beamish: Erlang/OTP for Rust services.
//!
//! Processes with mailboxes, links and monitors, `call` and `cast`, a
//! local registry and live introspection, with Erlang's semantics; OTP
//! supervision trees, dynamic supervisors and task supervisors; and
//! location-transparent messaging between nodes over pluggable
//! transports. `use beamish::prelude::*;` brings what most programs use.
//!
//! What is here, by topic:
//!
//! - **Processes**: [`Process`], [`Context`], [`Handle`], [`Node`],
//!   [`SpawnOpts`], [`ReplyTo`], [`ExitReason`], [`Signal`].
//! - **Supervision** (from [`beamish_supervisor`]): [`SupervisorSpec`],
//!   [`ChildSpec`], [`DynamicSpec`] and [`DynamicRef`] for workers started
//!   on demand ([`DynamicAddr`] on another node), [`TaskSupervisor`] for one-shot work, and [`NodeExt::run`]
//!   to end `main` with an error when the tree gives up.
//! - **Distribution**: a node joins a cluster with
//!   [`NodeBuilder::cookie`], a transport and an endpoint
//!   ([`ClusterNodeBuilder`]); messages that cross nodes derive
//!   [`Message`] with a stable wire name; [`Addr`] reaches a process
//!   wherever it runs; [`SpawnOpts::export`] makes a process reachable
//!   from other nodes; errors say why a node is not connected
//!   ([`Disconnect`]).
//! - **The cluster** ([`cluster`]): nodes that find each other from seeds
//!   and form a full mesh ([`cluster::Cluster`], [`cluster::Discovery`]);
//!   cluster-wide names, Erlang's `global` ([`cluster::Global`]), reached
//!   through an [`Addr`] resolved on every send ([`Addr::via`] a
//!   [`Registry`]); process groups, as Erlang's pg ([`cluster::pg`]);
//!   subscriptions to typed topics and patterns ([`cluster::topics`]).
//! - **Transports**: [`tcp`] (TCP, optionally TLS; feature `tcp`, on by
//!   default), `quic` (feature `quic`), `amqp` (through RabbitMQ, feature
//!   `amqp`), and [`transport::LocalNetwork`] for several nodes in one
//!   process with faults you can inject.
//!
//! A crash is logged through [`tracing`](https://docs.rs/tracing) (a
//! panic with its message, an exit nobody watched): install a subscriber,
//! such as `tracing_subscriber::fmt::init()`, or crashes go unseen.
//!
//! # A process
//!
//! ```
//! use std::time::Duration;
//! use beamish::prelude::*;
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
//!
//! # Two nodes
//!
//! A printer on one node, exported from its start, and a node that casts
//! to it by name, over TCP on loopback.
//!
//! ```
//! # #[cfg(feature = "tcp")]
//! # mod with_tcp {
//! use beamish::prelude::*;
//!
//! struct Printer;
//!
//! #[async_trait]
//! impl Process for Printer {
//!     type Args = ();
//!     type Msg = String;
//!
//!     async fn init(_ctx: &mut Context<String>, _: ()) -> Result<Self, ExitReason> {
//!         Ok(Printer)
//!     }
//!
//!     async fn handle(&mut self, _ctx: &mut Context<String>, line: String) -> Result<(), ExitReason> {
//!         println!("{line}");
//!         Ok(())
//!     }
//! }
//!
//! pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let cookie = Cookie::generate()?;
//!     let orders = Node::builder()
//!         .name("orders@localhost")
//!         .cookie(cookie.clone())
//!         .transport(TcpTransport::new())
//!         .listen("tcp://127.0.0.1:0")
//!         .start()
//!         .await?;
//!     orders
//!         .start::<Printer>((), SpawnOpts::new().name("printer").export::<String>())
//!         .await?;
//!
//!     let web = Node::builder()
//!         .name("web@localhost")
//!         .cookie(cookie)
//!         .transport(TcpTransport::new())
//!         .connect(&orders.listening()[0])
//!         .start()
//!         .await?;
//!     let printer = web.addr_named::<String>("printer", orders.name());
//!     printer.cast("order 42 shipped".to_owned()).await?;
//!     Ok(())
//! }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "tcp")]
//! # with_tcp::run().await?;
//! # Ok(())
//! # }
//! ```

pub use beamish_core::*;

/// A cluster that finds itself: discovery and a full mesh of members,
/// cluster-wide names, process groups and subscriptions.
pub use beamish_cluster as cluster;
pub use beamish_supervisor::{
    AutoShutdown, Backoff, ChildCounts, ChildError, ChildInfo, ChildKind, ChildSpec, DynamicAddr,
    DynamicChild, DynamicChildAddr, DynamicError, DynamicMsg, DynamicRef, DynamicRequest,
    DynamicSpec, NodeExt, RemoteChild, Restart, RunError, Shutdown, StartFuture, Strategy,
    SupervisorError, SupervisorMsg, SupervisorRef, SupervisorSpec, Task, TaskError, TaskSpec,
    TaskSupervisor, DEFAULT_TIMEOUT,
};
/// Distribution over TCP, optionally with TLS: [`tcp::TcpTransport`].
#[cfg(feature = "tcp")]
pub use beamish_transport_tcp as tcp;

pub mod prelude {
    //! What most programs use, in one import: processes, supervision,
    //! distribution, and the TCP transport (feature `tcp`).
    //!
    //! ```
    //! use beamish::prelude::*;
    //! # let _ = SpawnOpts::new();
    //! ```

    pub use beamish_core::prelude::*;
    pub use beamish_supervisor::{
        ChildSpec, DynamicAddr, DynamicRef, DynamicSpec, NodeExt, RemoteChild, Restart, Strategy,
        SupervisorRef, SupervisorSpec, TaskSupervisor,
    };
    #[cfg(feature = "tcp")]
    pub use beamish_transport_tcp::TcpTransport;
}

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
