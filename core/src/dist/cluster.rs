//! Cluster membership: a node listens and connects over transports,
//! authenticates peers with the cookie handshake, keeps connections alive
//! with heartbeats, and reports peers coming and going.
//!
//! Messages between nodes travel over these connections in a later stage;
//! here the connection carries the handshake and heartbeat ticks.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::config::ClusterConfig;
use super::connection::LEAVING;
use super::outbox::{Outbox, Outgoing, Refused};
use super::protocol::HandshakeError;
use super::send::RemoteSendError;
use crate::node::{Distribution, NodeInner};
use crate::transport::{Endpoint, Transport, TransportError};
use crate::{Creation, Lost, Node, NodeName, Pid, PinnedName, Signal};

/// Why [`Cluster::try_send`] did not queue a frame.
pub(crate) enum TrySend {
    /// Too much waits already: the frame, and the queue to wait on (none
    /// while the connection is being made).
    Full(Outgoing, Option<Arc<Outbox>>),
    /// It cannot go.
    Failed(RemoteSendError),
}

/// A peer node coming or going.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// Connected and authenticated.
    Up(NodeName),
    /// The connection ended, with how: the peer went silent
    /// ([`Lost::HeartbeatTimeout`]), left ([`Lost::PeerLeft`]), closed
    /// it, or the transport failed. Match `NodeEvent::Down(name, _)` for
    /// any cause.
    Down(NodeName, Lost),
}

/// Why a node could not join a cluster or connect to a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// `join` was not called, or was called twice.
    #[error("{0}")]
    NotJoined(&'static str),
    /// No transport serves the endpoint's scheme.
    #[error("no transport for {0}")]
    NoTransport(String),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The handshake did not finish in time.
    #[error("the handshake with {0} timed out")]
    HandshakeTimeout(String),
}

/// Node events as they happen (see [`Node::monitor_nodes`]).
#[derive(Debug)]
pub struct NodeEvents {
    rx: mpsc::UnboundedReceiver<NodeEvent>,
}

impl NodeEvents {
    /// The next event; `None` once the node is gone.
    pub async fn next(&mut self) -> Option<NodeEvent> {
        self.rx.recv().await
    }
}

pub(crate) struct Cluster {
    pub(crate) config: ClusterConfig,
    transports: Vec<Arc<dyn Transport>>,
    pub(super) peers: Mutex<HashMap<NodeName, PeerLink>>,
    pub(super) watchers: Mutex<Vec<mpsc::UnboundedSender<NodeEvent>>>,
    /// Processes told of every node coming and going.
    subscribers: Mutex<Vec<Pid>>,
    /// Processes told once when a given node goes down.
    node_monitors: Mutex<Vec<(NodeName, Pid)>>,
    pub(super) next_link: AtomicU64,
    pub(crate) calls: super::call::PendingCalls,
    /// Connections being made on first use, and the backoff after failures.
    pub(crate) dialing: Mutex<HashMap<NodeName, super::dial::Dial>>,
    /// The tasks accepting connections, stopped when the node leaves.
    pub(crate) listening: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Where the node listens.
    endpoints: Mutex<Vec<Endpoint>>,
    /// Set once the node has left: nothing connects any more.
    pub(crate) left: std::sync::atomic::AtomicBool,
    /// Wakes senders waiting on a connection being made, once it is up
    /// or has failed.
    pub(crate) dialed: tokio::sync::Notify,
    pub(crate) node: std::sync::Weak<NodeInner>,
    pub(crate) me: std::sync::Weak<Cluster>,
}

pub(super) struct PeerLink {
    pub(super) id: u64,
    /// Keeps the peer's name known while it is connected.
    pub(super) _name: PinnedName,
    /// Frames for the peer, written in order, in batches.
    pub(super) outbox: Arc<Outbox>,
    /// The peer understands being told that this node leaves.
    pub(super) hears_leaving: bool,
    /// The peer reads multicast frames.
    pub(super) reads_multicast: bool,
    /// This node made the connection (rather than accepted it).
    pub(super) outgoing: bool,
    /// The peer's creation.
    pub(super) creation: Creation,
    /// The connection is hidden: one side is a hidden node.
    pub(super) hidden: bool,
    /// Set when another connection to the same peer took its place: its
    /// end then says nothing of the peer.
    pub(super) replaced: Arc<AtomicBool>,
    /// Dropping it ends the connection's task.
    pub(super) _stop: mpsc::Sender<()>,
}

impl PeerLink {
    /// The peer's creation.
    pub(super) fn creation(&self) -> Creation {
        self.creation
    }

    /// The way out to the peer.
    pub(super) fn outbox(&self) -> Arc<Outbox> {
        Arc::clone(&self.outbox)
    }

    /// Tells the peer this node leaves its cluster, after everything
    /// queued for it, if it understands.
    pub(super) fn say_leaving(&self) {
        if self.hears_leaving {
            drop(
                self.outbox
                    .push(Outgoing::node_level(Bytes::from_static(LEAVING))),
            );
        }
    }
}

impl Drop for PeerLink {
    /// What is queued is still written; then the connection closes.
    fn drop(&mut self) {
        self.outbox.close();
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("peers", &self.peers.lock().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Joins a cluster: keeps `transports` for connecting, and listens at
    /// each of `listen`. Returns the endpoints listened at.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotJoined`] if the node already joined,
    /// [`ClusterError::NoTransport`] for an endpoint no transport serves,
    /// or the transport's error.
    pub async fn join(
        &self,
        config: ClusterConfig,
        transports: Vec<Arc<dyn Transport>>,
        listen: &[Endpoint],
    ) -> Result<Vec<Endpoint>, ClusterError> {
        let secret = config.cookie.transport_secret();
        let name = self.name().to_string();
        for transport in &transports {
            transport.use_secret(secret.clone());
            transport.use_node_name(&name);
        }
        let cluster = Arc::new_cyclic(|me| Cluster {
            config,
            transports,
            peers: Mutex::new(HashMap::new()),
            watchers: Mutex::new(Vec::new()),
            subscribers: Mutex::new(Vec::new()),
            node_monitors: Mutex::new(Vec::new()),
            next_link: AtomicU64::new(1),
            calls: Default::default(),
            dialing: Mutex::new(HashMap::new()),
            dialed: tokio::sync::Notify::new(),
            listening: Mutex::new(Vec::new()),
            endpoints: Mutex::new(Vec::new()),
            left: std::sync::atomic::AtomicBool::new(false),
            node: Arc::downgrade(&self.inner),
            me: me.clone(),
        });
        let mut listening = Vec::new();
        let mut listeners = Vec::new();
        for endpoint in listen {
            let listener = cluster.transport(endpoint)?.listen(endpoint).await?;
            listening.push(listener.endpoint());
            listeners.push(listener);
        }
        self.inner
            .distribution
            .set(Arc::clone(&cluster) as Arc<dyn Distribution>)
            .map_err(|_| ClusterError::NotJoined("the node has already joined a cluster"))?;
        for listener in listeners {
            cluster.listen(self, listener);
        }
        cluster.endpoints.lock().clone_from(&listening);
        Ok(listening)
    }

    /// Where this node listens (with the ports chosen for port 0), until
    /// it leaves its cluster; empty if it has not joined one.
    pub fn listening(&self) -> Vec<Endpoint> {
        match self.inner.cluster() {
            Some(cluster) if !cluster.left.load(Ordering::Acquire) => {
                cluster.endpoints.lock().clone()
            }
            _ => Vec::new(),
        }
    }

    /// Connects to the node at `endpoint` (or returns at once if a node is
    /// already connected through it), and returns its name.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotJoined`] before [`join`](Self::join), the
    /// transport's error, or the handshake's (a wrong cookie, a duplicate
    /// name, an unsupported version), which the peer reports too.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<NodeName, ClusterError> {
        let cluster = self.cluster()?;
        let connection = cluster.transport(endpoint)?.connect(endpoint).await?;
        cluster.initiate(self, connection).await
    }

    /// The nodes connected now, sorted by name, as Erlang's `nodes()`:
    /// hidden nodes ([`ClusterConfig::hidden`](crate::ClusterConfig::hidden))
    /// are not among them.
    pub fn nodes(&self) -> Vec<NodeName> {
        self.connected(false)
    }

    /// The nodes connected now over hidden connections (this node or the
    /// peer is a hidden node), sorted by name, as Erlang's `nodes(hidden)`.
    pub fn hidden_nodes(&self) -> Vec<NodeName> {
        self.connected(true)
    }

    fn connected(&self, hidden: bool) -> Vec<NodeName> {
        let Some(cluster) = self.inner.cluster() else {
            return Vec::new();
        };
        let mut names: Vec<NodeName> = cluster
            .peers
            .lock()
            .iter()
            .filter(|(_, link)| link.hidden == hidden)
            .map(|(name, _)| *name)
            .collect();
        names.sort();
        names
    }

    /// Ends the connection to `name`; returns whether there was one.
    pub fn disconnect(&self, name: NodeName) -> bool {
        self.inner
            .cluster()
            .is_some_and(|cluster| cluster.peers.lock().remove(&name).is_some())
    }

    /// Events for every node that connects or disconnects from now on,
    /// hidden nodes aside.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotJoined`] before [`join`](Self::join).
    pub fn monitor_nodes(&self) -> Result<NodeEvents, ClusterError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.cluster()?.watchers.lock().push(tx);
        Ok(NodeEvents { rx })
    }

    pub(crate) fn cluster(&self) -> Result<Arc<Cluster>, ClusterError> {
        let cluster = self
            .inner
            .cluster()
            .and_then(|cluster| cluster.me.upgrade())
            .ok_or(ClusterError::NotJoined("the node has not joined a cluster"))?;
        if cluster.left.load(Ordering::Acquire) {
            return Err(ClusterError::NotJoined("the node has left its cluster"));
        }
        Ok(cluster)
    }
}

impl NodeInner {
    /// This node's cluster, if it has joined one: the distribution behind
    /// the node's seam.
    pub(crate) fn cluster(&self) -> Option<&Cluster> {
        self.distribution()?.as_any().downcast_ref()
    }
}

impl Cluster {
    pub(super) fn transport(
        &self,
        endpoint: &Endpoint,
    ) -> Result<&Arc<dyn Transport>, ClusterError> {
        self.transports
            .iter()
            .find(|t| t.scheme() == endpoint.scheme())
            .ok_or_else(|| ClusterError::NoTransport(endpoint.to_string()))
    }

    /// Queues a frame for a connected node (a prompt one may be written at
    /// once).
    pub(crate) fn send(&self, node: NodeName, frame: Outgoing) -> Result<(), RemoteSendError> {
        if frame.frame.len() > self.config.max_frame {
            return Err(RemoteSendError::TooLarge {
                size: frame.frame.len(),
                max: self.config.max_frame,
            });
        }
        let peers = self.peers.lock();
        let Some(link) = peers.get(&node) else {
            // Connect on first use, if the node is known; the peers lock is
            // held so the connection cannot come up in between.
            return self.dial(node, frame);
        };
        // Pushed (and a prompt frame perhaps written) outside the peers
        // lock; the order is kept all the same: what waited for the
        // connection was queued before the link could be seen.
        let outbox = Arc::clone(&link.outbox);
        drop(peers);
        outbox
            .push(frame)
            .map_err(|_| RemoteSendError::NoConnection(node, Lost::Closed.into()))
    }

    /// Queues a frame for a connected (or known) node unless what waits
    /// for it is over the outbox limit; then hands the frame back.
    pub(crate) fn try_send(&self, node: NodeName, frame: Outgoing) -> Result<(), TrySend> {
        if frame.frame.len() > self.config.max_frame {
            return Err(TrySend::Failed(RemoteSendError::TooLarge {
                size: frame.frame.len(),
                max: self.config.max_frame,
            }));
        }
        let peers = self.peers.lock();
        let Some(link) = peers.get(&node) else {
            return self.dial_bounded(node, frame);
        };
        let outbox = Arc::clone(&link.outbox);
        drop(peers);
        match outbox.try_push(frame) {
            Ok(()) => Ok(()),
            Err(Refused::Full(frame)) => Err(TrySend::Full(frame, Some(outbox))),
            Err(Refused::Closed) => Err(TrySend::Failed(RemoteSendError::NoConnection(
                node,
                Lost::Closed.into(),
            ))),
        }
    }

    /// Queues a frame for a node, waiting while what waits for it is over
    /// the outbox limit.
    ///
    /// Cancel safety: dropping the future drops the frame unsent.
    pub(crate) async fn send_waiting(
        &self,
        node: NodeName,
        frame: Outgoing,
    ) -> Result<(), RemoteSendError> {
        let mut frame = frame;
        loop {
            match self.try_send(node, frame) {
                Ok(()) => return Ok(()),
                Err(TrySend::Failed(err)) => return Err(err),
                Err(TrySend::Full(back, Some(outbox))) => {
                    let room = outbox.room();
                    tokio::pin!(room);
                    room.as_mut().enable();
                    // Tried again once registered, so that no wake-up is
                    // missed between the refusal and the wait.
                    match outbox.try_push(back) {
                        Ok(()) => return Ok(()),
                        Err(Refused::Full(back)) => {
                            frame = back;
                            room.await;
                        }
                        Err(Refused::Closed) => {
                            return Err(RemoteSendError::NoConnection(node, Lost::Closed.into()))
                        }
                    }
                }
                Err(TrySend::Full(back, None)) => {
                    let dialed = self.dialed.notified();
                    tokio::pin!(dialed);
                    dialed.as_mut().enable();
                    frame = back;
                    if self.dialing.lock().contains_key(&node) {
                        dialed.await;
                    }
                }
            }
        }
    }

    pub(super) fn down(&self, name: NodeName, id: u64, why: &Lost) {
        {
            let mut peers = self.peers.lock();
            // `disconnect` may have removed it already.
            if peers.get(&name).is_some_and(|link| link.id == id) {
                peers.remove(&name);
            }
        }
        tracing::info!(peer = %name, reason = %why, "node down");
    }

    /// Tells who watches nodes of `event`; of a hidden connection, only
    /// those watching that node.
    pub(super) fn notify(&self, node: &NodeInner, event: NodeEvent, hidden: bool) {
        if !hidden {
            self.watchers
                .lock()
                .retain(|watcher| watcher.send(event.clone()).is_ok());
        }
        let signal = match &event {
            NodeEvent::Up(name) => Signal::NodeUp(*name),
            NodeEvent::Down(name, _) => Signal::NodeDown(*name),
        };
        let tell = |pid: Pid| {
            node.lookup(pid)
                .is_some_and(|proc| proc.push_signal(signal.clone()))
        };
        if !hidden {
            self.subscribers.lock().retain(|&pid| tell(pid));
        }
        if let NodeEvent::Down(name, _) = &event {
            self.node_monitors.lock().retain(|&(watched, pid)| {
                if watched == *name {
                    tell(pid);
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Whether `node` is connected and reads multicast frames.
    pub(crate) fn reads_multicast(&self, node: NodeName) -> bool {
        self.peers
            .lock()
            .get(&node)
            .is_some_and(|link| link.reads_multicast)
    }

    /// `pid` hears of `watched` going down; `false` if it is not
    /// connected (the caller tells `pid` at once).
    pub(crate) fn watch_node(&self, watched: NodeName, pid: Pid) -> bool {
        let peers = self.peers.lock();
        if peers.contains_key(&watched) {
            self.node_monitors.lock().push((watched, pid));
            return true;
        }
        false
    }

    /// `pid` hears of every node coming and going, or stops hearing.
    pub(crate) fn subscribe(&self, pid: Pid, on: bool) {
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|&p| p != pid);
        if on {
            subscribers.push(pid);
        }
    }
}
