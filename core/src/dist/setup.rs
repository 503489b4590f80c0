//! The short way to a node in a cluster: one builder chain from the name
//! to a node that listens and is connected to its first peers.

use std::sync::Arc;

use super::cluster::ClusterError;
use super::config::ClusterConfig;
use super::protocol::Cookie;
use crate::transport::{Endpoint, EndpointError, Transport};
use crate::{Node, NodeBuilder, NodeError, NodeName};

/// Something that names an endpoint: an [`Endpoint`], or its text
/// (`tcp://127.0.0.1:4380`).
///
/// # Examples
///
/// ```
/// use beamish_core::{Endpoint, ToEndpoint};
///
/// let parsed: Endpoint = "tcp://127.0.0.1:4380".parse()?;
/// assert_eq!("tcp://127.0.0.1:4380".to_endpoint()?, parsed);
/// assert!("not an endpoint".to_endpoint().is_err());
/// # Ok::<(), beamish_core::EndpointError>(())
/// ```
pub trait ToEndpoint {
    /// The endpoint.
    ///
    /// # Errors
    ///
    /// The text does not parse as an endpoint.
    fn to_endpoint(self) -> Result<Endpoint, EndpointError>;
}

impl ToEndpoint for Endpoint {
    fn to_endpoint(self) -> Result<Endpoint, EndpointError> {
        Ok(self)
    }
}

impl ToEndpoint for &Endpoint {
    fn to_endpoint(self) -> Result<Endpoint, EndpointError> {
        Ok(self.clone())
    }
}

impl ToEndpoint for &str {
    fn to_endpoint(self) -> Result<Endpoint, EndpointError> {
        self.parse()
    }
}

impl ToEndpoint for String {
    fn to_endpoint(self) -> Result<Endpoint, EndpointError> {
        self.parse()
    }
}

/// Why [`ClusterNodeBuilder::start`] did not give a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The node could not be built (its name, or no runtime).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// An endpoint given as text does not parse.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// Listening, or connecting to a first peer, failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl NodeBuilder {
    /// Continues with the cluster this node joins, which shares `cookie`
    /// (default settings otherwise; see [`cluster`](Self::cluster)).
    pub fn cookie(self, cookie: Cookie) -> ClusterNodeBuilder {
        self.cluster(ClusterConfig::new(cookie))
    }

    /// Continues with the cluster this node joins, as `config` describes
    /// it: then transports, endpoints to listen at and first peers, and
    /// [`start`](ClusterNodeBuilder::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::transport::LocalNetwork;
    /// use beamish_core::{Cookie, Node};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let net = LocalNetwork::new();
    /// let cookie = Cookie::generate()?;
    /// let orders = Node::builder()
    ///     .name("orders@localhost")
    ///     .cookie(cookie.clone())
    ///     .transport(net.transport("orders"))
    ///     .listen("local://orders")
    ///     .start()
    ///     .await?;
    /// let web = Node::builder()
    ///     .name("web@localhost")
    ///     .cookie(cookie)
    ///     .transport(net.transport("web"))
    ///     .connect("local://orders")
    ///     .start()
    ///     .await?;
    /// assert_eq!(web.nodes(), vec![orders.name()]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cluster(self, config: ClusterConfig) -> ClusterNodeBuilder {
        ClusterNodeBuilder {
            node: self,
            config,
            transports: Vec::new(),
            listen: Vec::new(),
            connect: Vec::new(),
        }
    }
}

/// Builds a node that joins a cluster; from [`NodeBuilder::cookie`] or
/// [`NodeBuilder::cluster`].
#[must_use = "a builder does nothing until started"]
pub struct ClusterNodeBuilder {
    node: NodeBuilder,
    config: ClusterConfig,
    transports: Vec<Arc<dyn Transport>>,
    listen: Vec<Result<Endpoint, EndpointError>>,
    connect: Vec<Result<Endpoint, EndpointError>>,
}

impl std::fmt::Debug for ClusterNodeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let schemes: Vec<&str> = self.transports.iter().map(|t| t.scheme()).collect();
        f.debug_struct("ClusterNodeBuilder")
            .field("node", &self.node)
            .field("transports", &schemes)
            .field("listen", &self.listen)
            .field("connect", &self.connect)
            .finish_non_exhaustive()
    }
}

impl ClusterNodeBuilder {
    /// A transport the node listens and connects with; one per scheme
    /// (`tcp`, `quic`, `amqp`, `local`).
    pub fn transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transports.push(Arc::new(transport));
        self
    }

    /// A transport already shared, as [`transport`](Self::transport).
    pub fn transport_arc(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transports.push(transport);
        self
    }

    /// Listens at `endpoint` (port 0 picks a free port;
    /// [`Node::listening`] says which).
    pub fn listen(mut self, endpoint: impl ToEndpoint) -> Self {
        self.listen.push(endpoint.to_endpoint());
        self
    }

    /// Connects to the node at `endpoint` as the node starts; the start
    /// fails if it cannot.
    pub fn connect(mut self, endpoint: impl ToEndpoint) -> Self {
        self.connect.push(endpoint.to_endpoint());
        self
    }

    /// Makes this a hidden node ([`ClusterConfig::hidden`]): it talks to
    /// the nodes it connects to without becoming one of their members.
    pub fn hidden(mut self) -> Self {
        self.config = self.config.hidden();
        self
    }

    /// Says where the node `name` listens, so that sending to it connects
    /// on first use ([`ClusterConfig::peer`]).
    pub fn peer(mut self, name: NodeName, endpoint: Endpoint) -> Self {
        self.config = self.config.peer(name, endpoint);
        self
    }

    /// Builds the node, listens, and connects to the first peers.
    ///
    /// # Errors
    ///
    /// A [`SetupError`] saying which step failed; a node built before the
    /// failure is shut down.
    pub async fn start(self) -> Result<Node, SetupError> {
        let listen = self.listen.into_iter().collect::<Result<Vec<_>, _>>()?;
        let connect = self.connect.into_iter().collect::<Result<Vec<_>, _>>()?;
        let node = self.node.build()?;
        let joined = async {
            node.join(self.config, self.transports, &listen).await?;
            for endpoint in &connect {
                node.connect(endpoint).await?;
            }
            Ok::<(), ClusterError>(())
        };
        match joined.await {
            Ok(()) => Ok(node),
            Err(err) => {
                node.shutdown(std::time::Duration::ZERO).await;
                Err(err.into())
            }
        }
    }
}
