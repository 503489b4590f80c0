//! Process groups, as Erlang's `pg`: named groups of processes across the
//! cluster, in scopes.
//!
//! A [`Scope`] runs one process on each node that starts it, registered
//! and exported under the scope's name ([`DEFAULT_SCOPE`] for
//! [`Scope::start_default`]). Processes of a node join and leave groups
//! through their node's scope; every node's scope tells the same scope on
//! each other node, so each node knows every group's members everywhere.
//! Group names are strings.
//!
//! | Erlang | beamish |
//! |---|---|
//! | `pg:start_link()` | [`Scope::start_default(&node)`](Scope::start_default) |
//! | `pg:start_link(Scope)` | [`Scope::start(&node, name)`](Scope::start) |
//! | `pg:join(Scope, Group, Pids)` | [`scope.join(group, &pids)`](Scope::join) |
//! | `pg:leave(Scope, Group, Pids)` | [`scope.leave(group, &pids)`](Scope::leave) |
//! | `pg:get_members(Scope, Group)` | [`scope.members(group)`](Scope::members) |
//! | `pg:get_local_members(Scope, Group)` | [`scope.local_members(group)`](Scope::local_members) |
//! | `pg:which_groups(Scope)` | [`scope.which_groups()`](Scope::which_groups) |
//! | `pg:monitor(Scope, Group)` | [`scope.monitor(group)`](Scope::monitor) |
//! | `pg:monitor_scope(Scope)` | [`scope.monitor_scope()`](Scope::monitor_scope) |
//! | `pg:demonitor(Scope, Ref)` | dropping the [`GroupEvents`] |
//! | `[Pid ! Msg \|\| Pid <- pg:get_members(G)]` | [`scope.broadcast(group, &msg)`](Scope::broadcast): one frame per node |
//!
//! As in Erlang:
//!
//! - A process may join a group several times; it is then listed as many
//!   times and must leave as many times.
//! - Only a node's own processes join or leave through it
//!   ([`PgError::NotLocal`] otherwise); a peer that names processes of
//!   another node than its own is refused, and the refusal logged
//!   (rate-limited).
//! - A member that ends leaves every group, on every node; a node that
//!   goes down (or is cut off) takes its members with it, on every other
//!   node; a node that connects, or comes back after a partition, is sent
//!   the members of every node and sends its own, so every node agrees
//!   again. Membership is eventually consistent: for a moment after a
//!   join, other nodes may not list it yet.
//! - Reads (`members`, `local_members`, `which_groups`) come from a table
//!   shared with the scope's process, without a message, as pg reads its
//!   ETS table.
//!
//! The scope follows nodes through [`Signal::NodeUp`](beamish_core::Signal::NodeUp)
//! and `NodeDown`, so start it after the node joined its cluster; hidden
//! nodes take no part. Members reached from other nodes by
//! [`Scope::broadcast`] must be [exported](beamish_core::Node::export).
//!
//! # Examples
//!
//! ```
//! use beamish_cluster::pg::{GroupEvent, Scope};
//! use beamish_core::{async_trait, Context, ExitReason, Node, Process};
//!
//! struct Worker;
//!
//! #[async_trait]
//! impl Process for Worker {
//!     type Args = ();
//!     type Msg = String;
//!     async fn init(_: &mut Context<String>, _: ()) -> Result<Self, ExitReason> {
//!         Ok(Worker)
//!     }
//!     async fn handle(&mut self, _: &mut Context<String>, _: String) -> Result<(), ExitReason> {
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::new()?;
//! let scope = Scope::start_default(&node).await?;
//! let a = node.spawn::<Worker>(())?;
//! let b = node.spawn::<Worker>(())?;
//! let (members, mut events) = scope.monitor("workers");
//! assert!(members.is_empty());
//!
//! scope.join("workers", &[a.pid(), b.pid()]).await?;
//! scope.join("workers", &[a.pid()]).await?; // a is listed twice now
//! assert_eq!(scope.members("workers").len(), 3);
//! assert_eq!(scope.which_groups(), ["workers"]);
//! assert_eq!(scope.broadcast("workers", &"hello".to_owned()).await?, 3);
//!
//! scope.leave("workers", &[a.pid()]).await?;
//! assert_eq!(scope.local_members("workers").len(), 2);
//! assert!(matches!(events.next().await, Some(GroupEvent::Join { pids, .. }) if pids.len() == 2));
//! # Ok(())
//! # }
//! ```

mod broadcast;
mod scope;
mod server;
mod table;
mod wire;

use beamish_core::{CallError, Pid};
use tokio::sync::mpsc;

pub use broadcast::{BroadcastError, BroadcastFailure};
pub use scope::Scope;
pub use wire::MAX_GROUP_NAME;

/// The name of the scope [`Scope::start_default`] starts, as Erlang's
/// default scope is `pg`.
pub const DEFAULT_SCOPE: &str = "beamish.pg";

/// Why a scope refused to join or leave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The process is on another node: only a node's own processes join
    /// or leave through it.
    #[error("{0} is not a process of this node")]
    NotLocal(Pid),
    /// None of the processes was a member of the group.
    #[error("none of the processes is a member of the group")]
    NotJoined,
    /// The group's name is longer than [`MAX_GROUP_NAME`] bytes (how
    /// long it is).
    #[error("a group name of {0} bytes; the limit is {MAX_GROUP_NAME}")]
    GroupNameTooLong(usize),
    /// The scope's process could not be asked: it has ended.
    #[error("the scope's process could not be asked: {0}")]
    Scope(#[from] CallError),
}

/// A change to a group, as [`Scope::monitor`] and
/// [`Scope::monitor_scope`] tell it; Erlang's `{Ref, join, Group, Pids}`
/// and `{Ref, leave, Group, Pids}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupEvent {
    /// `pids` joined `group` (each once more).
    Join {
        /// The group.
        group: String,
        /// The processes, once per join.
        pids: Vec<Pid>,
    },
    /// `pids` left `group` (each once), by leaving or by ending, or with
    /// their node.
    Leave {
        /// The group.
        group: String,
        /// The processes, once per leave.
        pids: Vec<Pid>,
    },
}

/// The changes to a monitored group or scope, in the order the scope made
/// them. Unbounded, as a process's mailbox is: read them. Dropping it
/// ends the monitor.
#[derive(Debug)]
pub struct GroupEvents {
    rx: mpsc::UnboundedReceiver<GroupEvent>,
}

impl GroupEvents {
    /// The next change; `None` once the scope has ended.
    pub async fn next(&mut self) -> Option<GroupEvent> {
        self.rx.recv().await
    }

    /// The next change if there is one already.
    pub fn try_next(&mut self) -> Option<GroupEvent> {
        self.rx.try_recv().ok()
    }
}
