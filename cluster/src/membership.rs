//! Starting a node's membership, and what it knows.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::{Node, NodeName, Pid, SpawnOpts};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::server::{Args, Membership};
use crate::wire::Gossip;
use crate::Discovery;

/// The name each node's membership process is registered and exported
/// under.
pub const MEMBERSHIP: &str = "beamish.membership";

/// This node's membership in a cluster that finds itself.
///
/// [`Cluster::start`] runs a membership process on the node. It connects
/// to what its [`Discovery`] finds, introduces itself to every node that
/// connects (where it listens, and the members it is connected to), and
/// connects to every member it hears of. So a node that reaches any
/// member reaches them all, and the cluster is a full mesh, as Erlang's
/// is. A member that leaves or is lost is dropped everywhere; it is
/// connected to again only when discovery or a member mentions it. Every
/// poll interval, discovery is asked again and members remind each other
/// of the members they know, which reconnects a mesh after a partition
/// heals.
///
/// Cheap to clone; clones share the membership.
///
/// # Examples
///
/// ```
/// use beamish_cluster::{Cluster, ClusterSettings, StaticDiscovery};
/// use beamish_core::{transport::LocalNetwork, Cookie, Node};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let net = LocalNetwork::new();
/// let cookie = Cookie::new("a cluster of two");
/// let a = Node::builder()
///     .name("a@localhost")
///     .cookie(cookie.clone())
///     .transport(net.transport("a"))
///     .listen("local://a")
///     .start()
///     .await?;
/// let _a = Cluster::start(&a, StaticDiscovery::none(), ClusterSettings::default()).await?;
///
/// let b = Node::builder()
///     .name("b@localhost")
///     .cookie(cookie)
///     .transport(net.transport("b"))
///     .listen("local://b")
///     .start()
///     .await?;
/// let seeds = StaticDiscovery::new(["local://a"])?;
/// let b_cluster = Cluster::start(&b, seeds, ClusterSettings::default()).await?;
/// b_cluster.wait_for_members(&[a.name()]).await;
/// assert_eq!(b_cluster.members(), [a.name()]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    pid: Pid,
    members: watch::Receiver<Vec<NodeName>>,
    watchers: Watchers,
}

/// Who is told of members joining and leaving.
pub(crate) type Watchers = Arc<Mutex<Vec<mpsc::UnboundedSender<MemberEvent>>>>;

/// A member joined or left, as [`Cluster::events`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberEvent {
    /// A node connected and introduced itself as a member.
    Joined(NodeName),
    /// A member's connection ended: it left, was lost, or was cut off.
    Left(NodeName),
}

/// Members joining and leaving, from [`Cluster::events`].
#[derive(Debug)]
pub struct MemberEvents {
    rx: mpsc::UnboundedReceiver<MemberEvent>,
}

impl MemberEvents {
    /// The next event; `None` once membership has stopped.
    pub async fn next(&mut self) -> Option<MemberEvent> {
        self.rx.recv().await
    }
}

impl Cluster {
    /// Starts this node's membership: registers and exports its process
    /// as [`MEMBERSHIP`], asks `discovery` for members at once and then
    /// every [`ClusterSettings::poll_interval`].
    ///
    /// # Errors
    ///
    /// [`StartError::NotJoined`] if `node` has not joined a cluster (give
    /// it a cookie and a transport first), [`StartError::Start`] if the
    /// process could not start (the name is taken: membership already
    /// runs on this node; the node is shutting down).
    pub async fn start(
        node: &Node,
        discovery: impl Discovery,
        settings: ClusterSettings,
    ) -> Result<Self, StartError> {
        // Only to learn whether the node has joined; dropped at once.
        drop(node.monitor_nodes().map_err(|_| StartError::NotJoined)?);
        let (published, members) = watch::channel(Vec::new());
        let watchers = Watchers::default();
        let args = Args {
            discovery: Arc::new(discovery),
            settings,
            members: published,
            watchers: Arc::clone(&watchers),
        };
        let opts = SpawnOpts::new()
            .name(MEMBERSHIP)
            .export_as::<Gossip, crate::server::Msg>();
        let handle = node.start::<Membership>(args, opts).await?;
        Ok(Self {
            pid: handle.pid(),
            members,
            watchers,
        })
    }

    /// Events for every member that joins or leaves from now on, as
    /// Erlang's `net_kernel:monitor_nodes` for the cluster's members. To
    /// take the members already there as well, with nothing missed in
    /// between, use [`monitor`](Self::monitor).
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_cluster::{Cluster, MemberEvent};
    ///
    /// async fn log_members(cluster: &Cluster) {
    ///     let mut events = cluster.events();
    ///     for member in cluster.members() {
    ///         tracing::info!(%member, "member");
    ///     }
    ///     while let Some(event) = events.next().await {
    ///         match event {
    ///             MemberEvent::Joined(member) => tracing::info!(%member, "joined"),
    ///             MemberEvent::Left(member) => tracing::info!(%member, "left"),
    ///             _ => {}
    ///         }
    ///     }
    /// }
    /// # let _ = log_members;
    /// ```
    pub fn events(&self) -> MemberEvents {
        self.monitor().1
    }

    /// The other members now and, from then on, every member that joins
    /// or leaves, with nothing missed or told twice in between: what a
    /// watcher that starts after membership should use.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::BTreeSet;
    /// use beamish_cluster::{Cluster, MemberEvent};
    ///
    /// async fn follow(cluster: &Cluster) {
    ///     let (now, mut events) = cluster.monitor();
    ///     let mut members: BTreeSet<_> = now.into_iter().collect();
    ///     while let Some(event) = events.next().await {
    ///         match event {
    ///             MemberEvent::Joined(member) => members.insert(member),
    ///             MemberEvent::Left(member) => members.remove(&member),
    ///             _ => false,
    ///         };
    ///     }
    /// }
    /// # let _ = follow;
    /// ```
    pub fn monitor(&self) -> (Vec<NodeName>, MemberEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut watchers = self.watchers.lock();
        let now = self.members.borrow().clone();
        watchers.push(tx);
        (now, MemberEvents { rx })
    }

    /// Waits until the other members connected are exactly `expected`
    /// (in any order); for tests and for start-up that needs a quorum.
    pub async fn wait_for_members(&self, expected: &[NodeName]) {
        let mut wanted = expected.to_vec();
        wanted.sort();
        wanted.dedup();
        let mut members = self.members.clone();
        // The sender lives as long as the membership process; once it
        // is gone, nothing changes any more.
        let _ = members.wait_for(|now| *now == wanted).await;
    }

    /// The other members connected now, sorted by name: the nodes that
    /// run membership and introduced themselves. This node is not among
    /// them, as in Erlang's `nodes()`.
    pub fn members(&self) -> Vec<NodeName> {
        self.members.borrow().clone()
    }

    /// The membership process.
    pub fn pid(&self) -> Pid {
        self.pid
    }
}

/// How membership runs, with defaults for production.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use beamish_cluster::ClusterSettings;
///
/// let settings = ClusterSettings::default().poll_interval(Duration::from_secs(30));
/// assert_eq!(settings.poll_interval, Duration::from_secs(30));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterSettings {
    /// How often discovery is asked again and members remind each other
    /// of the members they know (5 s). Discovery that has not answered
    /// within it is given up on until the next poll.
    pub poll_interval: Duration,
    /// How long one attempt to connect to a member may take (10 s).
    pub dial_timeout: Duration,
}

impl ClusterSettings {
    /// Sets [`poll_interval`](Self::poll_interval).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Sets [`dial_timeout`](Self::dial_timeout).
    pub fn dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            dial_timeout: Duration::from_secs(10),
        }
    }
}

/// Why [`Cluster::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The node has not joined a cluster: it has no cookie and transport
    /// to reach others with.
    #[error("the node has not joined a cluster")]
    NotJoined,
    /// The membership process did not start.
    #[error("membership did not start: {0}")]
    Start(#[from] beamish_core::StartError),
}
