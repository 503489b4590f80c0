//! A scope as its users see it: started on a node, joined and left
//! through its process, read and monitored without a message.

use std::collections::HashMap;
use std::sync::Arc;

use beamish_core::{Handle, Node, Pid, SpawnOpts};

use super::server::{Args, Msg, ScopeServer};
use super::table::Table;
use super::wire::PgWire;
use super::{GroupEvents, PgError, DEFAULT_SCOPE};
use crate::StartError;

/// A scope of process groups on this node (Erlang's pg scope): its
/// process, which is told of joins and leaves and keeps the other nodes'
/// scopes of the same name in step, and its table, read directly.
///
/// Cheap to clone; clones share the scope. See the [module](super) for
/// how it behaves across nodes.
#[derive(Clone, Debug)]
pub struct Scope {
    node: Node,
    name: Arc<str>,
    table: Arc<Table>,
    server: Handle<Msg>,
}

impl Scope {
    /// Starts the default scope, [`DEFAULT_SCOPE`], on `node`, as
    /// Erlang's `pg:start_link()`.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub async fn start_default(node: &Node) -> Result<Self, StartError> {
        Self::start(node, DEFAULT_SCOPE).await
    }

    /// Starts the scope `name` on `node`, as Erlang's
    /// `pg:start_link(Scope)`: its process is registered and exported
    /// under `name`, and keeps in step with the processes of the same
    /// name on the other nodes. Start it once the node has joined its
    /// cluster, so that it follows the nodes that come and go; on a node
    /// that never joins one, it is a scope of this node alone.
    ///
    /// # Errors
    ///
    /// [`StartError::Start`] if the process did not start: the name is
    /// taken (the scope already runs on this node), the node is shutting
    /// down.
    pub async fn start(node: &Node, name: &str) -> Result<Self, StartError> {
        let name: Arc<str> = name.into();
        let table = Arc::new(Table::new(node.name()));
        let args = Args {
            name: Arc::clone(&name),
            table: Arc::clone(&table),
        };
        let opts = SpawnOpts::new().name(&*name).export_as::<PgWire, Msg>();
        let server = node.start::<ScopeServer>(args, opts).await?;
        Ok(Self {
            node: node.clone(),
            name,
            table,
            server,
        })
    }

    /// The scope's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scope's process on this node.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// The node the scope runs on.
    pub(crate) fn node(&self) -> &Node {
        &self.node
    }

    pub(crate) fn table(&self) -> &Table {
        &self.table
    }

    /// `pids`, processes of this node, join `group`, as Erlang's
    /// `pg:join(Scope, Group, Pids)`. A process may join a group several
    /// times: it is then listed as many times, and must leave as many
    /// times. Members are watched: one that ends leaves every group it was
    /// in, on every node. Returns once this node's table has them; the
    /// other nodes hear of it soon after.
    ///
    /// # Errors
    ///
    /// [`PgError::NotLocal`] for a process of another node (a node speaks
    /// only for its own processes), [`PgError::GroupNameTooLong`],
    /// [`PgError::Scope`] if the scope's process has ended. Nothing joins
    /// then.
    pub async fn join(&self, group: &str, pids: &[Pid]) -> Result<(), PgError> {
        let (group, pids) = (group.to_owned(), pids.to_vec());
        self.server
            .call_infinity(|reply| Msg::Join { group, pids, reply })
            .await?
    }

    /// `pids`, processes of this node, leave `group` once each, as
    /// Erlang's `pg:leave(Scope, Group, Pids)`; those that were not
    /// members are passed over.
    ///
    /// # Errors
    ///
    /// [`PgError::NotJoined`] if none of them was a member,
    /// [`PgError::NotLocal`], [`PgError::GroupNameTooLong`], or
    /// [`PgError::Scope`] as for [`join`](Self::join).
    pub async fn leave(&self, group: &str, pids: &[Pid]) -> Result<(), PgError> {
        let (group, pids) = (group.to_owned(), pids.to_vec());
        self.server
            .call_infinity(|reply| Msg::Leave { group, pids, reply })
            .await?
    }

    /// The members of `group` on every node, as Erlang's
    /// `pg:get_members(Scope, Group)`: a process that joined twice is
    /// listed twice; the order is not specified. Read from the table,
    /// without a message.
    pub fn members(&self, group: &str) -> Vec<Pid> {
        self.table.members(group)
    }

    /// The members of `group` on this node, as Erlang's
    /// `pg:get_local_members(Scope, Group)`.
    pub fn local_members(&self, group: &str) -> Vec<Pid> {
        self.table.local_members(group)
    }

    /// The groups that have members on any node, sorted, as Erlang's
    /// `pg:which_groups(Scope)`.
    pub fn which_groups(&self) -> Vec<String> {
        self.table.which_groups()
    }

    /// The groups that have members on this node, sorted (Erlang's pg has
    /// no such call).
    pub fn which_local_groups(&self) -> Vec<String> {
        self.table.which_local_groups()
    }

    /// The members of `group` now, and from now on every process that
    /// joins or leaves it, as Erlang's `pg:monitor(Scope, Group)`: nothing
    /// is missed or told twice between the two. Dropping the events ends
    /// the monitor (Erlang's `pg:demonitor`); they end when the scope
    /// does.
    pub fn monitor(&self, group: &str) -> (Vec<Pid>, GroupEvents) {
        self.table.monitor(group)
    }

    /// Every group and its members now, and from now on every process
    /// that joins or leaves any group, as Erlang's
    /// `pg:monitor_scope(Scope)`.
    pub fn monitor_scope(&self) -> (HashMap<String, Vec<Pid>>, GroupEvents) {
        self.table.monitor_scope()
    }
}
