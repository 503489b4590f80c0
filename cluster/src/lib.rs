//! A beamish cluster that finds itself: discovery and membership;
//! cluster-wide names ([`Global`], as Erlang's `global`), process groups
//! ([`pg`], as Erlang's `pg`) and subscriptions to topics ([`topics`])
//! across it.
//!
//! Each node runs a membership process ([`Cluster::start`]). Given a
//! [`Discovery`] source (a [`StaticDiscovery`] list of seeds, or your
//! own), it connects to what the source finds, tells every node it
//! connects to where it listens and which members it knows, and connects
//! to every member it hears of. A node that reaches one member reaches
//! them all, so the cluster becomes a full mesh, as Erlang's is; a node
//! that joins later is found by every member, and one that leaves or is
//! lost is dropped everywhere. Discovery is asked again periodically,
//! and members remind each other of the members they know, so a mesh cut
//! by a partition joins up again once it heals.
//!
//! Membership works over any transport: the nodes must have joined a
//! cluster (a cookie, a transport, and an endpoint to listen at, so that
//! others can connect back).
//!
//! Cluster-wide names ([`Global`], Erlang's `global`) run beside it: a
//! name held by one process in the whole cluster, known on every node,
//! released when its holder or its node goes, and kept by one holder
//! when two parts of a cluster that each gave it away meet again.
//!
//! | Erlang | beamish |
//! |---|---|
//! | `global:register_name(Name, Pid)` | [`Global::register`] |
//! | `global:register_name(Name, Pid, Resolve)` | [`GlobalSettings::resolver`] ([`Resolver`]) |
//! | `global:unregister_name(Name)` | [`Global::unregister`] |
//! | `global:whereis_name(Name)` | [`Global::whereis`] |
//! | `global:send(Name, Msg)`, `{via, global, Name}` | [`Global::addr`], `Addr::global` ([`GlobalAddr`]) |
//!
//! ```
//! use std::time::Duration;
//! use beamish_cluster::{Cluster, ClusterSettings, StaticDiscovery};
//! use beamish_core::{transport::LocalNetwork, Cookie, Node};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let net = LocalNetwork::new();
//! let cookie = Cookie::new("three nodes, one seed");
//! let mut clusters = Vec::new();
//! for name in ["a", "b", "c"] {
//!     let node = Node::builder()
//!         .name(format!("{name}@localhost"))
//!         .cookie(cookie.clone())
//!         .transport(net.transport(name))
//!         .listen(format!("local://{name}").as_str())
//!         .start()
//!         .await?;
//!     // Every node knows only of `a`; b and c find each other through it.
//!     let seeds = StaticDiscovery::new(["local://a"])?;
//!     clusters.push((Cluster::start(&node, seeds, ClusterSettings::default()).await?, node));
//! }
//! let names: Vec<_> = clusters.iter().map(|(_, node)| node.name()).collect();
//! let (c, _node) = &clusters[2];
//! // c was told of a alone; it finds b through a.
//! tokio::time::timeout(Duration::from_secs(10), c.wait_for_members(&names[..2])).await?;
//! # Ok(())
//! # }
//! ```

mod discovery;
mod dns;
mod global;
mod membership;
mod parts;
pub mod pg;
mod server;
pub mod topics;
mod wire;

pub use async_trait::async_trait;
pub use discovery::{Discovery, DiscoveryError, StaticDiscovery};
pub use dns::DnsDiscovery;
pub use global::{
    conflict_reason, ExitLoser, Global, GlobalAddr, GlobalSettings, GlobalStartError,
    RegisterError, Resolver, UnregisterError, GLOBAL, MAX_NAME_LEN,
};
pub use membership::{Cluster, ClusterSettings, MemberEvent, MemberEvents, StartError, MEMBERSHIP};
