//! Members found through DNS: every address a name resolves to, as a
//! Kubernetes headless service gives one per pod.

use std::collections::BTreeSet;
use std::net::IpAddr;

use async_trait::async_trait;
use beamish_core::Endpoint;

use crate::{Discovery, DiscoveryError};

/// The scheme the members found listen with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Tcp,
    Quic,
}

/// Finds members by resolving a DNS name to its addresses (A and AAAA
/// records, through the system's resolver) at every poll: each address,
/// with the given port, is an endpoint. Pods that come and go behind a
/// headless service are found as they come, and forgotten as they go.
///
/// # Examples
///
/// ```no_run
/// use beamish_cluster::{Cluster, ClusterSettings, DnsDiscovery};
/// use beamish_core::{Cookie, Node};
/// use beamish_transport_tcp::TcpTransport;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::builder()
///     .name("worker-7f9c@10.1.2.3")
///     .cookie(Cookie::from_file("/etc/workers/cookie")?)
///     .transport(TcpTransport::new())
///     .listen("tcp://0.0.0.0:4380")
///     .start()
///     .await?;
/// // Every pod behind the service listens at 4380.
/// let peers = DnsDiscovery::tcp("workers.default.svc.cluster.local", 4380);
/// let cluster = Cluster::start(&node, peers, ClusterSettings::default()).await?;
/// # let _ = cluster;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsDiscovery {
    name: String,
    port: u16,
    scheme: Scheme,
}

impl DnsDiscovery {
    /// Members listening over TCP at `port` on every address of `name`.
    pub fn tcp(name: impl Into<String>, port: u16) -> Self {
        Self {
            name: name.into(),
            port,
            scheme: Scheme::Tcp,
        }
    }

    /// Members listening over QUIC at `port` on every address of `name`.
    pub fn quic(name: impl Into<String>, port: u16) -> Self {
        Self {
            name: name.into(),
            port,
            scheme: Scheme::Quic,
        }
    }

    fn endpoint(&self, ip: IpAddr) -> Endpoint {
        let host = ip.to_string();
        match self.scheme {
            Scheme::Tcp => Endpoint::Tcp {
                host,
                port: self.port,
            },
            Scheme::Quic => Endpoint::Quic {
                host,
                port: self.port,
            },
        }
    }
}

#[async_trait]
impl Discovery for DnsDiscovery {
    async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
        let addresses = tokio::net::lookup_host((self.name.as_str(), self.port))
            .await
            .map_err(|err| DiscoveryError::source(format!("resolving {}: {err}", self.name)))?;
        // One endpoint per address, however many records name it.
        let ips: BTreeSet<IpAddr> = addresses.map(|address| address.ip()).collect();
        Ok(ips.into_iter().map(|ip| self.endpoint(ip)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_address_of_a_name_is_an_endpoint_at_the_port() {
        let found = DnsDiscovery::tcp("localhost", 4380)
            .members()
            .await
            .expect("localhost resolves");
        assert!(
            found.contains(&"tcp://127.0.0.1:4380".parse().expect("an endpoint")),
            "{found:?}"
        );
        assert!(found.iter().all(|endpoint| matches!(
            endpoint,
            Endpoint::Tcp { host, port: 4380 } if host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        )));
        let quic = DnsDiscovery::quic("127.0.0.1", 4381)
            .members()
            .await
            .expect("an address resolves to itself");
        assert_eq!(
            quic,
            vec!["quic://127.0.0.1:4381".parse().expect("an endpoint")]
        );
    }
}
