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
//! A [`DynamicRef`] supervises children started at run time, all running
//! one process type with arguments of their own, one for one, up to a
//! maximum; its children are **`Permanent` unless its spec says
//! otherwise**, as in OTP; a [`DynamicAddr`] reaches one on another node
//! (Erlang's `supervisor:start_child({Name, Node}, Args)`), whose
//! `start_child` returns the child's [`Addr`](beamish_core::Addr). A
//! [`TaskSupervisor`] runs futures as supervised, temporary processes,
//! for their effect or for a result to await ([`Task::join`]).
//! [`NodeExt::run`] is OTP's application rule: the node runs its top
//! supervisor, and when that gives up the node stops and `main` gets an
//! error.
//!
//! Supervisors are ordinary processes, so trees nest
//! ([`ChildSpec::supervisor`], [`ChildSpec::dynamic_supervisor`],
//! [`ChildSpec::task_supervisor`]) and show up in the node's
//! introspection. Each child's start function is called afresh on every
//! restart, so a restarted process never depends on arguments consumed by
//! its first start; a child registered under a name gets its name back.
//! A child whose `init` returns `Err(ExitReason::Normal)` is *ignored*, as
//! OTP's `ignore`: not started, its spec kept.
//!
//! # Examples
//!
//! A tree with a worker, a dynamic supervisor of sessions and a task
//! supervisor, each reached by name:
//!
//! ```
//! use std::time::Duration;
//! use beamish_core::{async_trait, Context, ExitReason, Node, Process, SpawnOpts};
//! use beamish_supervisor::{
//!     ChildSpec, DynamicRef, DynamicSpec, Restart, Strategy, SupervisorRef, SupervisorSpec,
//!     TaskSpec, TaskSupervisor,
//! };
//!
//! struct Db;
//!
//! #[async_trait]
//! impl Process for Db {
//!     type Args = ();
//!     type Msg = ();
//!     async fn init(_ctx: &mut Context<()>, _: ()) -> Result<Self, ExitReason> {
//!         Ok(Db)
//!     }
//!     async fn handle(&mut self, _ctx: &mut Context<()>, _: ()) -> Result<(), ExitReason> {
//!         Ok(())
//!     }
//! }
//!
//! /// One user's session, started at run time.
//! struct Session {
//!     user: String,
//! }
//!
//! #[async_trait]
//! impl Process for Session {
//!     type Args = String;
//!     type Msg = ();
//!     async fn init(_ctx: &mut Context<()>, user: String) -> Result<Self, ExitReason> {
//!         Ok(Session { user })
//!     }
//!     async fn handle(&mut self, _ctx: &mut Context<()>, _: ()) -> Result<(), ExitReason> {
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::new()?;
//! let sessions = DynamicSpec::<Session>::worker()
//!     .restart(Restart::Transient) // a session that logs out is not restarted
//!     .max_children(10_000);
//! let top = SupervisorSpec::new(Strategy::OneForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::worker::<Db>("db", || ()))
//!     .child(ChildSpec::dynamic_supervisor_opt("sessions", SpawnOpts::new().name("sessions"), sessions))
//!     .child(ChildSpec::task_supervisor_opt("jobs", SpawnOpts::new().name("jobs"), TaskSpec::new()));
//! // In a service's `main`: `node.run(top).await?` (see `NodeExt`).
//! let sup = SupervisorRef::start(&node, top, SpawnOpts::new()).await?;
//! assert_eq!(sup.count_children().await?.supervisors, 2);
//!
//! let sessions = DynamicRef::<Session>::named(&node, "sessions")?;
//! let ada = sessions.start_child("ada".to_owned()).await?;
//! ada.cast(()).await?;
//!
//! let jobs = TaskSupervisor::named(&node, "jobs")?;
//! let report = jobs.async_nolink(async { 6 * 7 }).await?;
//! assert_eq!(report.join(Duration::from_secs(5)).await?, 42);
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
pub use dynamic::{
    DynamicAddr, DynamicChild, DynamicChildAddr, DynamicError, DynamicMsg, DynamicRef,
    DynamicRequest, DynamicSpec, RemoteChild,
};
pub use run::{NodeExt, RunError};
pub use server::SupervisorMsg;
pub use spec::{
    AutoShutdown, Backoff, ChildKind, ChildSpec, Restart, Shutdown, StartFuture, Strategy,
    SupervisorSpec,
};
pub use task::{Task, TaskError, TaskSpec, TaskSupervisor};
