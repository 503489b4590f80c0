//! Where members are found: the [`Discovery`] trait and the static list.

use std::error::Error;
use std::sync::Arc;

use async_trait::async_trait;
use beamish_core::{Endpoint, EndpointError, ToEndpoint};

/// A source of endpoints where members of the cluster may listen.
///
/// The membership process asks it when it starts and again every
/// [`ClusterSettings::poll_interval`](crate::ClusterSettings::poll_interval),
/// and connects to each endpoint it does not know yet. It need not list
/// every member, nor only live ones: one live member is enough, since a
/// node learns the others from any member it reaches, and an endpoint
/// where nothing answers is tried again at the next poll.
///
/// Implement it to find members elsewhere (a Kubernetes API, Consul, a
/// file); it is object-safe, so it can be boxed or shared.
///
/// # Examples
///
/// ```
/// use beamish_cluster::{async_trait, Discovery, DiscoveryError};
/// use beamish_core::Endpoint;
///
/// /// Members listed in an environment variable, comma-separated.
/// struct FromEnv(&'static str);
///
/// #[async_trait]
/// impl Discovery for FromEnv {
///     async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
///         let list = std::env::var(self.0).map_err(DiscoveryError::source)?;
///         list.split(',')
///             .map(|text| text.trim().parse().map_err(DiscoveryError::source))
///             .collect()
///     }
/// }
/// ```
#[async_trait]
pub trait Discovery: Send + Sync + 'static {
    /// The endpoints where members may listen now.
    ///
    /// # Errors
    ///
    /// A [`DiscoveryError`] when the source cannot be asked; it is
    /// logged, and asked again at the next poll.
    async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError>;
}

#[async_trait]
impl<D: Discovery + ?Sized> Discovery for Arc<D> {
    async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
        (**self).members().await
    }
}

#[async_trait]
impl<D: Discovery + ?Sized> Discovery for Box<D> {
    async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
        (**self).members().await
    }
}

/// Why a [`Discovery`] source gave no endpoints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The source failed (a server that did not answer, an API that
    /// refused).
    #[error("discovery failed: {0}")]
    Source(#[source] Box<dyn Error + Send + Sync>),
    /// The source did not answer within the poll interval.
    #[error("discovery did not answer in time")]
    TimedOut,
}

impl DiscoveryError {
    /// Wraps the error of a source.
    pub fn source(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Source(error.into())
    }
}

/// A fixed list of seed endpoints, as Erlang's `sync_nodes` or a list of
/// seeds in a configuration file.
///
/// # Examples
///
/// ```
/// use beamish_cluster::StaticDiscovery;
///
/// let seeds = StaticDiscovery::new(["tcp://10.0.0.1:4380", "tcp://10.0.0.2:4380"])?;
/// assert_eq!(seeds.endpoints().len(), 2);
/// let nobody = StaticDiscovery::none();
/// assert!(nobody.endpoints().is_empty());
/// # Ok::<(), beamish_core::EndpointError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaticDiscovery {
    endpoints: Vec<Endpoint>,
}

impl StaticDiscovery {
    /// The seeds at `endpoints` (parsed endpoints or their text).
    ///
    /// # Errors
    ///
    /// An [`EndpointError`] for text that is not an endpoint.
    pub fn new<E: ToEndpoint>(
        endpoints: impl IntoIterator<Item = E>,
    ) -> Result<Self, EndpointError> {
        let endpoints = endpoints
            .into_iter()
            .map(|endpoint| endpoint.to_endpoint())
            .collect::<Result<_, _>>()?;
        Ok(Self { endpoints })
    }

    /// No seeds: the first node of a cluster, found by the others.
    pub fn none() -> Self {
        Self::default()
    }

    /// The seeds.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
}

#[async_trait]
impl Discovery for StaticDiscovery {
    async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
        Ok(self.endpoints.clone())
    }
}
