//! How a node takes part in a cluster: the cookie, heartbeats, limits
//! and known peers.

use std::collections::HashMap;
use std::time::Duration;

use super::outbox::DEFAULT_OUTBOX_LIMIT;
use super::protocol::{Cookie, HeartbeatConfig, DEFAULT_MAX_FRAME, SHORT_COOKIE};
use crate::transport::Endpoint;
use crate::{NodeName, PinnedName};

/// How a node takes part in a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub(crate) cookie: Cookie,
    pub(crate) heartbeat: HeartbeatConfig,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_handshakes: usize,
    pub(crate) max_frame: usize,
    pub(crate) outbox_limit: usize,
    pub(crate) peers: HashMap<NodeName, Endpoint>,
    /// Keeps the configured peers' names known.
    pinned: Vec<PinnedName>,
    pub(crate) redial: (Duration, Duration),
    pub(crate) hidden: bool,
}

impl ClusterConfig {
    /// Members must share `cookie`. Heartbeats default to a 1 s tick with
    /// 4 missed ticks; handshakes must finish within 5 s.
    ///
    /// A cookie shorter than 16 bytes can be guessed: it is logged as a
    /// warning, once for this configuration (its clones do not warn again).
    pub fn new(cookie: Cookie) -> Self {
        if cookie.is_short() {
            tracing::warn!(
                "the cluster cookie is shorter than {SHORT_COOKIE} bytes and can be guessed; \
                 use Cookie::generate or Cookie::from_file"
            );
        }
        Self {
            cookie,
            heartbeat: HeartbeatConfig::default(),
            handshake_timeout: Duration::from_secs(5),
            max_handshakes: 64,
            max_frame: DEFAULT_MAX_FRAME,
            outbox_limit: DEFAULT_OUTBOX_LIMIT,
            peers: HashMap::new(),
            pinned: Vec::new(),
            redial: (Duration::from_millis(100), Duration::from_secs(10)),
            hidden: false,
        }
    }

    /// Makes this a hidden node, as Erlang's `-hidden`: for tools (an
    /// observer, a shell) and clients that talk to a cluster without
    /// being part of it. Its connections are hidden on both sides: the
    /// nodes it connects to do not list it in [`Node::nodes`](crate::Node::nodes)
    /// or report it to [`monitor_nodes`](crate::Node::monitor_nodes), so
    /// they do not announce it to others or mesh with it, and it does not
    /// list them either; both see each other in
    /// [`Node::hidden_nodes`](crate::Node::hidden_nodes). Messages, calls,
    /// links and monitors work as on any connection.
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Says where the node `name` listens, so that sending to it (or
    /// linking, monitoring, calling) connects on first use. Messages sent
    /// while connecting wait and go out in order.
    pub fn peer(mut self, name: NodeName, endpoint: Endpoint) -> Self {
        if self.peers.insert(name, endpoint).is_none() {
            self.pinned.push(name.pin());
        }
        self
    }

    /// After a failed attempt to reach a known peer, the next one waits
    /// `initial`, doubling up to `max` (default 100 ms to 10 s); sends in
    /// between fail at once with `NoConnection` and why the last attempt
    /// failed (a refused handshake, or the transport's error).
    pub fn redial_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.redial = (initial, max.max(initial));
        self
    }

    /// The largest message, encoded, that may be sent or received
    /// (default 8 MiB). A larger one is an error to its sender; a peer
    /// sending one has its connection closed.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// How many bytes may wait to go out to one peer (default
    /// [`DEFAULT_OUTBOX_LIMIT`], 16 MiB), as Erlang's distribution buffer
    /// busy limit: above it, [`Addr::cast`](crate::Addr::cast) and the
    /// confirmed sends wait for room, [`Addr::try_cast`](crate::Addr::try_cast)
    /// hands the message back as `Full`, and
    /// [`Node::send_remote`](crate::Node::send_remote) fails with
    /// [`RemoteSendError::Busy`](crate::RemoteSendError::Busy). Signals, call requests and replies are
    /// never held back (they are counted all the same). One message larger
    /// than the limit still goes when nothing else waits.
    pub fn outbox_limit(mut self, bytes: usize) -> Self {
        self.outbox_limit = bytes.max(1);
        self
    }

    /// Sets the heartbeat.
    pub fn heartbeat(mut self, heartbeat: HeartbeatConfig) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Sets how long a handshake may take.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// At most `n` connections accepted by each listener may be in the
    /// handshake at once (default 64; at least 1). A connection beyond
    /// that is closed as soon as it is accepted, with a warning (one per
    /// listener every 10 s), so that strangers who open connections and
    /// say nothing cannot pile them up. Each connection holds its place
    /// until its handshake ends: at most the
    /// [`handshake_timeout`](Self::handshake_timeout). Connections this
    /// node opens are not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use beamish_core::dist::Cookie;
    /// use beamish_core::ClusterConfig;
    ///
    /// let config = ClusterConfig::new(Cookie::generate()?)
    ///     .max_handshakes(16)
    ///     .handshake_timeout(Duration::from_secs(2));
    /// # let _ = config;
    /// # Ok::<(), beamish_core::dist::RandomnessError>(())
    /// ```
    pub fn max_handshakes(mut self, n: usize) -> Self {
        self.max_handshakes = n.max(1);
        self
    }
}
