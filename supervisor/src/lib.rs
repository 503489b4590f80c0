//! beamish-supervisor: OTP supervision for beamish processes.
//!
//! A supervisor starts its children in order, watches them through links,
//! restarts them by its [`Strategy`] (`OneForOne`, `OneForAll`,
//! `RestForOne`) and their [`Restart`] type, and stops them in reverse
//! order by their [`Shutdown`] rule. More than `max_restarts` restarts
//! within `period` (OTP's default: 1 in 5 s) means something is wrong that
//! restarting does not fix: the supervisor stops its children and exits
//! with `Shutdown`, so its own supervisor sees it and applies its strategy.
//!
//! A [`DynamicRef`] supervises workers created at run time from one
//! template, one for one, up to a maximum number.
//!
//! Supervisors are ordinary processes, so trees nest
//! ([`ChildSpec::supervisor`]) and show up in the node's introspection.
//! Each child's start function is called afresh on every restart, so a
//! restarted process never depends on arguments consumed by its first
//! start; a child registered under a name gets its name back.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use beamish_core::{async_trait, Context, ExitReason, Node, Process, SpawnOpts};
//! use beamish_supervisor::{ChildSpec, Strategy, SupervisorRef, SupervisorSpec};
//!
//! struct Worker;
//!
//! #[async_trait]
//! impl Process for Worker {
//!     type Args = ();
//!     type Msg = ();
//!     async fn init(_ctx: &mut Context<()>, _: ()) -> Result<Self, ExitReason> {
//!         Ok(Worker)
//!     }
//!     async fn handle(&mut self, _ctx: &mut Context<()>, _: ()) -> Result<(), ExitReason> {
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::new()?;
//! let spec = SupervisorSpec::new(Strategy::OneForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::worker::<Worker>("a", || ()))
//!     .child(ChildSpec::worker::<Worker>("b", || ()));
//! let sup = SupervisorRef::start(&node, spec, SpawnOpts::new()).await?;
//! assert_eq!(sup.count_children().await?.active, 2);
//! # Ok(())
//! # }
//! ```

mod api;
mod dynamic;
mod intensity;
mod run;
mod server;
mod spec;
mod stop;
mod task;

pub use api::{
    ChildCounts, ChildError, ChildInfo, SupervisorError, SupervisorRef, DEFAULT_TIMEOUT,
};
pub use dynamic::{DynamicChild, DynamicError, DynamicMsg, DynamicRef, DynamicSpec};
pub use run::{NodeExt, RunError};
pub use server::SupervisorMsg;
pub use task::{Task, TaskError, TaskSpec, TaskSupervisor};
pub use spec::{
    AutoShutdown, Backoff, ChildKind, ChildSpec, Restart, Shutdown, StartFuture, Strategy,
    SupervisorSpec,
};
