//! Cluster-wide names, as Erlang's `global`: a name held by one process
//! in the whole cluster, found from any node.

mod server;
mod wire;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use beamish_core::{
    Addr, ExitReason, Handle, Message, Node, NodeName, Pid, Registry, SpawnOpts, Timeout,
};
use serde::{Deserialize, Serialize};

use server::{Args, Msg};

/// The name each node's global registry is registered and exported under.
pub const GLOBAL: &str = "beamish.global";

/// The longest global name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// This node's part of the cluster-wide name registry, Erlang's `global`.
///
/// A global name is held by one process in the whole cluster, and every
/// node knows who holds it. [`Global::start`] runs this node's registry
/// process; it meets the registry of every node that connects (and runs
/// one), and they tell each other the names their own processes hold.
///
/// | Erlang | beamish |
/// |---|---|
/// | `global:register_name(Name, Pid)` | [`Global::register`] |
/// | `global:register_name(Name, Pid, Resolve)` | [`Global::register`], with the resolver in [`GlobalSettings::resolver`] |
/// | `global:unregister_name(Name)` | [`Global::unregister`] |
/// | `global:whereis_name(Name)` | [`Global::whereis`] |
/// | `global:registered_names()` | [`Global::registered`] |
/// | `global:send(Name, Msg)`, `{via, global, Name}` | [`Global::addr`] (or [`Addr::global`](GlobalAddr::global)), then `cast` or `call` |
///
/// What holds, and how it differs from Erlang:
///
/// - A node registers names for its own processes only: a node speaks
///   only for its own processes, and what a peer says of a process of
///   another node is refused. (Erlang lets any node register any pid.)
/// - [`register`](Global::register) asks the registry of every connected
///   node and returns once they all agreed and know the new holder, or
///   fails naming who holds the name. Of two nodes claiming one name at
///   once, the claim whose pid sorts first takes it, and the other fails
///   with [`RegisterError::Contended`]. A node that goes down during a
///   claim is not waited for; one whose registry stays silent fails the
///   claim after [`GlobalSettings::claim_timeout`].
/// - A name is released when its holder ends, and when its holder's node
///   goes down (or is cut off).
/// - Two parts of a cluster cut off from each other may each give a name
///   to a process. When they meet again, the [`Resolver`] keeps one, the
///   same on every node (by default the holder whose pid sorts first),
///   and the loser's node tells the loser: by default with an exit signal
///   whose reason is [`conflict_reason`].
/// - One process may hold several names.
///
/// Nodes that connected as hidden take no part.
///
/// Cheap to clone; clones share the registry.
///
/// # Examples
///
/// ```
/// use beamish_cluster::{Global, GlobalSettings};
/// use beamish_core::{async_trait, transport::LocalNetwork, Addr};
/// use beamish_core::{Context, Cookie, ExitReason, Node, Process, SpawnOpts};
///
/// struct Printer;
///
/// #[async_trait]
/// impl Process for Printer {
///     type Args = ();
///     type Msg = String;
///     async fn init(_: &mut Context<String>, _: ()) -> Result<Self, ExitReason> {
///         Ok(Printer)
///     }
///     async fn handle(&mut self, _: &mut Context<String>, _: String) -> Result<(), ExitReason> {
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let net = LocalNetwork::new();
/// let cookie = Cookie::new("names for all");
/// let a = Node::builder()
///     .name("a@localhost")
///     .cookie(cookie.clone())
///     .transport(net.transport("a"))
///     .listen("local://a")
///     .start()
///     .await?;
/// let b = Node::builder()
///     .name("b@localhost")
///     .cookie(cookie)
///     .transport(net.transport("b"))
///     .connect("local://a")
///     .start()
///     .await?;
/// let on_a = Global::start(&a, GlobalSettings::default()).await?;
/// let on_b = Global::start(&b, GlobalSettings::default()).await?;
/// # while on_a.peers().is_empty() || on_b.peers().is_empty() {
/// #     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
/// # }
///
/// let printer = a.start::<Printer>((), SpawnOpts::new().export::<String>()).await?;
/// on_a.register("printer", printer.pid()).await?;
/// // Every node knows the holder once `register` returns.
/// assert_eq!(on_b.whereis("printer"), Some(printer.pid()));
/// let to_printer: Addr<String> = on_b.addr("printer");
/// to_printer.cast("hello from b".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Global {
    handle: Handle<Msg>,
    names: Arc<Names>,
    node: Node,
}

impl Global {
    /// Starts this node's global registry: registers and exports its
    /// process as [`GLOBAL`], and meets the registries of the nodes
    /// connected now and of every node that connects later.
    ///
    /// # Errors
    ///
    /// [`GlobalStartError::NotJoined`] if `node` has not joined a
    /// cluster, [`GlobalStartError::Start`] if the process could not
    /// start (the registry already runs on this node; the node is
    /// shutting down).
    pub async fn start(node: &Node, settings: GlobalSettings) -> Result<Self, GlobalStartError> {
        // Only to learn whether the node has joined; dropped at once.
        drop(
            node.monitor_nodes()
                .map_err(|_| GlobalStartError::NotJoined)?,
        );
        let names = Arc::new(Names::default());
        let args = Args {
            names: Arc::clone(&names),
            resolver: settings.resolver,
            claim_timeout: settings.claim_timeout,
            resync_interval: settings.resync_interval,
        };
        let opts = SpawnOpts::new().name(GLOBAL).export_as::<wire::Wire, Msg>();
        let handle = node.start::<server::Registry>(args, opts).await?;
        Ok(Self {
            handle,
            names,
            node: node.clone(),
        })
    }

    /// Gives `name` to `pid`, a process of this node, in the whole
    /// cluster (Erlang's `global:register_name/2`). It returns once every
    /// connected node's registry agreed and knows it; registering a name
    /// again for the process that holds it is `Ok`.
    ///
    /// # Errors
    ///
    /// [`RegisterError::Taken`] if another process holds the name,
    /// [`RegisterError::Contended`] if a concurrent claim whose pid sorts
    /// first takes it, [`RegisterError::NotLocal`] for a process of
    /// another node, [`RegisterError::NoProc`] if `pid` is not alive,
    /// [`RegisterError::BadName`] for an empty name or one over
    /// [`MAX_NAME_LEN`] bytes, [`RegisterError::NoAnswer`] if a peer's
    /// registry did not answer within [`GlobalSettings::claim_timeout`],
    /// [`RegisterError::NotRunning`] if the registry has ended.
    pub async fn register(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        let name = name.to_owned();
        self.handle
            .call(
                |reply| Msg::Register { name, pid, reply },
                Timeout::Infinity,
            )
            .await
            .map_err(|_| RegisterError::NotRunning)?
    }

    /// Releases `name`, held by a process of this node, everywhere
    /// (Erlang's `global:unregister_name/1`). A name nobody holds is no
    /// error.
    ///
    /// # Errors
    ///
    /// [`UnregisterError::NotLocal`] if a process of another node holds
    /// it (only its node releases it), [`UnregisterError::NotRunning`] if
    /// the registry has ended.
    pub async fn unregister(&self, name: &str) -> Result<(), UnregisterError> {
        let name = name.to_owned();
        self.handle
            .call(|reply| Msg::Unregister { name, reply }, Timeout::Infinity)
            .await
            .map_err(|_| UnregisterError::NotRunning)?
    }

    /// The process that holds `name`, on this node or another, as this
    /// node knows now (Erlang's `global:whereis_name/1`). It reads a
    /// table: no message is sent.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.names.get(name)
    }

    /// Every global name held now, sorted (Erlang's
    /// `global:registered_names/0`).
    pub fn registered(&self) -> Vec<String> {
        let mut names: Vec<String> = self.names.all().into_iter().map(|(name, _)| name).collect();
        names.sort();
        names
    }

    /// An address for whoever holds `name`, resolved on every send, as
    /// Erlang's `{via, global, Name}`: a name that passes to another
    /// process is followed by the next send, and a send to a name nobody
    /// holds fails as one to a process that has ended does.
    pub fn addr<M: Message>(&self, name: &str) -> Addr<M> {
        Addr::via(&self.node, self.registry(), name)
    }

    /// The name table, as a [`Registry`] for [`Addr::via`].
    pub fn registry(&self) -> Arc<dyn Registry> {
        Arc::clone(&self.names) as Arc<dyn Registry>
    }

    /// The nodes whose registries this one has met, sorted.
    pub fn peers(&self) -> Vec<NodeName> {
        self.names.peers()
    }

    /// The registry process.
    pub fn pid(&self) -> Pid {
        self.handle.pid()
    }
}

impl fmt::Debug for Global {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Global")
            .field("node", &self.node.name())
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

/// `Addr::global(&global, name)`: an [`Addr`] for whoever holds a global
/// name, as [`Global::addr`].
///
/// # Examples
///
/// ```
/// use beamish_cluster::{Global, GlobalAddr};
/// use beamish_core::Addr;
///
/// fn printer(global: &Global) -> Addr<String> {
///     Addr::global(global, "printer")
/// }
/// # let _ = printer;
/// ```
pub trait GlobalAddr {
    /// An address for whoever holds `name` in `global`, resolved on
    /// every send.
    fn global(global: &Global, name: &str) -> Self;
}

impl<M: Message> GlobalAddr for Addr<M> {
    fn global(global: &Global, name: &str) -> Self {
        global.addr(name)
    }
}

/// How the global registry runs.
///
/// # Examples
///
/// ```
/// use beamish_cluster::{GlobalSettings, Resolver};
/// use beamish_core::Pid;
///
/// /// Keeps the holder on the node whose name sorts last.
/// struct PreferLast;
///
/// impl Resolver for PreferLast {
///     fn winner(&self, _name: &str, first: Pid, second: Pid) -> Pid {
///         if first.node() > second.node() { first } else { second }
///     }
/// }
///
/// let settings = GlobalSettings::default().resolver(PreferLast);
/// # let _ = settings;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct GlobalSettings {
    /// What happens when two processes are found holding one name
    /// ([`ExitLoser`] by default).
    pub resolver: Arc<dyn Resolver>,
    /// How long a claim waits for the peers' registries (10 s): a claim
    /// some have not answered by then fails with
    /// [`RegisterError::NoAnswer`]. A peer whose node goes down, or whose
    /// registry ends, is not waited for at all.
    pub claim_timeout: Duration,
    /// How often a registry tells each peer again every name this node's
    /// processes hold (30 s), so a peer that missed a message, because
    /// its connection's queue was full, agrees again without waiting for
    /// the two nodes to meet anew.
    pub resync_interval: Duration,
}

impl GlobalSettings {
    /// Sets [`resolver`](Self::resolver).
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// Sets [`claim_timeout`](Self::claim_timeout).
    pub fn claim_timeout(mut self, timeout: Duration) -> Self {
        self.claim_timeout = timeout;
        self
    }

    /// Sets [`resync_interval`](Self::resync_interval).
    pub fn resync_interval(mut self, every: Duration) -> Self {
        self.resync_interval = every;
        self
    }
}

impl Default for GlobalSettings {
    fn default() -> Self {
        Self {
            resolver: Arc::new(ExitLoser),
            claim_timeout: Duration::from_secs(10),
            resync_interval: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for GlobalSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalSettings")
            .field("claim_timeout", &self.claim_timeout)
            .field("resync_interval", &self.resync_interval)
            .finish_non_exhaustive()
    }
}

/// What happens when two processes are found holding one name: two parts
/// of a cluster, cut off from each other, each gave it to a process, and
/// meet again. Erlang's `Resolve` function of `global:register_name/3`.
///
/// Every node that sees both holders asks [`winner`](Self::winner), and
/// must get the same answer to keep the same holder: decide from the
/// arguments alone. Then only the loser's node calls
/// [`lost`](Self::lost), for its own process.
pub trait Resolver: Send + Sync + 'static {
    /// Which of `first` and `second` (which sorts after `first`) keeps
    /// `name`; by default `first`. An answer that is neither is taken as
    /// `first`.
    fn winner(&self, name: &str, first: Pid, second: Pid) -> Pid {
        let _ = (name, second);
        first
    }

    /// Called on the loser's node once `loser` lost `name` to `winner`:
    /// it no longer holds it. By default it is sent an exit signal with
    /// the reason [`conflict_reason`] (which ends it unless it traps
    /// exits); a resolver may instead tell it with a message.
    fn lost(&self, node: &Node, name: &str, loser: Pid, winner: Pid) {
        node.exit(loser, conflict_reason(name, winner));
    }
}

/// The default [`Resolver`]: the holder whose pid sorts first keeps the
/// name, and the other is sent an exit signal with the reason
/// [`conflict_reason`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitLoser;

impl Resolver for ExitLoser {}

/// The reason of the exit signal a process that lost its global name
/// gets by default: an orderly stop with a detail
/// ([`ExitReason::ShutdownWith`]), which a supervisor does not count as
/// a crash, naming the name and the process that kept it.
///
/// # Examples
///
/// ```
/// use beamish_cluster::conflict_reason;
/// use beamish_core::Pid;
///
/// let winner: Pid = "<a@localhost.7.1>".parse()?;
/// let reason = conflict_reason("printer", winner);
/// assert!(reason.is_shutdown());
/// assert_eq!(
///     reason.to_string(),
///     "shutdown: global name conflict: \"printer\" is kept by <a@localhost.7.1>"
/// );
/// # Ok::<(), beamish_core::ParsePidError>(())
/// ```
pub fn conflict_reason(name: &str, winner: Pid) -> ExitReason {
    ExitReason::shutdown_with(format!(
        "global name conflict: {name:?} is kept by {winner}"
    ))
}

/// Why [`Global::register`] did not give the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another process holds the name.
    #[error("the global name {name:?} is held by {holder}")]
    Taken {
        /// The name.
        name: String,
        /// Its holder.
        holder: Pid,
    },
    /// Another claim of the name, made at the same time, goes on instead:
    /// its pid sorts first (or it was made first on this node).
    #[error("the global name {name:?} is being claimed by {claimant}")]
    Contended {
        /// The name.
        name: String,
        /// The process the other claim is for.
        claimant: Pid,
    },
    /// The process is not on this node: a node registers only its own.
    #[error("{0} is not a process of this node; a node registers global names for its own processes only")]
    NotLocal(Pid),
    /// The process is not alive.
    #[error("{0} is not alive")]
    NoProc(Pid),
    /// The name is empty or longer than [`MAX_NAME_LEN`] bytes.
    #[error("a global name is 1 to {MAX_NAME_LEN} bytes long, not {len}")]
    BadName {
        /// Its length in bytes.
        len: usize,
    },
    /// Registries of these connected nodes did not answer within
    /// [`GlobalSettings::claim_timeout`].
    #[error("the global registries of {0:?} did not answer the claim in time")]
    NoAnswer(Vec<NodeName>),
    /// This node's registry has ended.
    #[error("the global registry is not running")]
    NotRunning,
}

/// Why [`Global::unregister`] did not release the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnregisterError {
    /// A process of another node holds it; only its node releases it.
    #[error("the global name {name:?} is held by {holder}, a process of another node")]
    NotLocal {
        /// The name.
        name: String,
        /// Its holder.
        holder: Pid,
    },
    /// This node's registry has ended.
    #[error("the global registry is not running")]
    NotRunning,
}

/// Why [`Global::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GlobalStartError {
    /// The node has not joined a cluster.
    #[error("the node has not joined a cluster")]
    NotJoined,
    /// The registry process did not start.
    #[error("the global registry did not start: {0}")]
    Start(#[from] beamish_core::StartError),
}

/// Whether `name` may be a global name.
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
}

/// The table of global names, written by the registry process only and
/// read by anyone.
#[derive(Default)]
pub(crate) struct Names {
    table: RwLock<HashMap<String, Pid>>,
    peers: RwLock<BTreeSet<NodeName>>,
}

impl Names {
    fn get(&self, name: &str) -> Option<Pid> {
        self.read().get(name).copied()
    }

    fn all(&self) -> Vec<(String, Pid)> {
        self.read()
            .iter()
            .map(|(name, pid)| (name.clone(), *pid))
            .collect()
    }

    fn insert(&self, name: &str, pid: Pid) {
        self.write().insert(name.to_owned(), pid);
    }

    /// Removes `name` if `pid` holds it.
    fn remove_if(&self, name: &str, pid: Pid) {
        let mut table = self.write();
        if table.get(name) == Some(&pid) {
            table.remove(name);
        }
    }

    /// Removes every name held by a process of `node`.
    fn remove_node(&self, node: NodeName) {
        self.remove_node_except(node, &BTreeSet::new());
    }

    /// Removes every name held by a process of `node`, but `kept`.
    fn remove_node_except(&self, node: NodeName, kept: &BTreeSet<String>) {
        self.write()
            .retain(|name, pid| pid.node() != node || kept.contains(name));
    }

    fn peers(&self) -> Vec<NodeName> {
        self.peers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    fn set_peers(&self, peers: impl Iterator<Item = NodeName>) {
        *self.peers.write().unwrap_or_else(PoisonError::into_inner) = peers.collect();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Pid>> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Pid>> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Registry for Names {
    fn whereis(&self, name: &str) -> Option<Pid> {
        self.get(name)
    }
}
