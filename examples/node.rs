//! A beamish node as an OS process: starts a named node from its arguments,
//! listens over TCP or QUIC (chosen by the listen endpoint's scheme; QUIC
//! in TLS development mode, the cookie authenticating peers), connects to
//! peers, and hosts two exported demo services, `echo` (answers calls) and
//! `counter` (counts casts).
//!
//! ```sh
//! cargo run -p beamish-examples --bin beamish-node -- \
//!     --name a@localhost --listen tcp://127.0.0.1:4370 --cookie secret \
//!     [--peer tcp://127.0.0.1:4371 ...] [--seed-dns localhost:4370]
//! ```
//!
//! It prints `listening <endpoint>`, `echo <pid>` and `counter <pid>` on
//! standard output, then serves until it is killed.
//!
//! With `--seed-dns NAME:PORT` (a name that resolves to the addresses of
//! one or more members, as a Kubernetes headless service does) or
//! `--cluster` (a first member, with no seed), the node runs cluster
//! membership and prints `joined <node>` and `left <node>` as members
//! come and go. With `--group NAME` as well, its `echo` service joins
//! that process group (scope `beamish.pg`), and the node prints
//! `member+ <pid>` and `member- <pid>` as the group's members, on any
//! node, come and go.

use std::sync::Arc;
use std::time::Duration;

use beamish::cluster::pg::{GroupEvent, Scope};
use beamish::cluster::{
    async_trait, Cluster, ClusterSettings, Discovery, DiscoveryError, DnsDiscovery, MemberEvent,
};
use beamish::dist::{Cookie, Endpoint, HeartbeatConfig};
use beamish::quic::QuicTransport;
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{ClusterConfig, Node, SpawnOpts};
use beamish_examples::services::{Counter, Echo};

struct Args {
    name: String,
    listen: Endpoint,
    cookie: String,
    peers: Vec<Endpoint>,
    /// Run membership, with these seeds (none for a first member).
    cluster: Option<Vec<(String, u16)>>,
    /// A process group the `echo` service joins.
    group: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut name = None;
    let mut listen = None;
    let mut cookie = None;
    let mut peers = Vec::new();
    let mut cluster: Option<Vec<(String, u16)>> = None;
    let mut group = None;
    while let Some(flag) = args.next() {
        if flag == "--cluster" {
            cluster.get_or_insert_with(Vec::new);
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--group" => group = Some(value),
            "--seed-dns" => {
                let (host, port) = value
                    .rsplit_once(':')
                    .ok_or(format!("--seed-dns takes NAME:PORT, not {value}"))?;
                let port = port.parse().map_err(|_| format!("not a port: {port}"))?;
                cluster
                    .get_or_insert_with(Vec::new)
                    .push((host.to_owned(), port));
            }
            "--name" => name = Some(value),
            "--listen" => listen = Some(value.parse::<Endpoint>().map_err(|e| e.to_string())?),
            "--cookie" => cookie = Some(value),
            "--peer" => peers.push(value.parse::<Endpoint>().map_err(|e| e.to_string())?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        name: name.ok_or("--name is required")?,
        listen: listen.ok_or("--listen is required")?,
        cookie: cookie.ok_or("--cookie is required")?,
        peers,
        cluster,
        group,
    })
}

/// Every address of every seed name.
struct Seeds(Vec<DnsDiscovery>);

#[async_trait]
impl Discovery for Seeds {
    async fn members(&self) -> Result<Vec<Endpoint>, DiscoveryError> {
        let mut found = Vec::new();
        for seed in &self.0 {
            found.extend(seed.members().await?);
        }
        Ok(found)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    beamish_examples::log_to_stderr();
    let args = parse(std::env::args().skip(1))?;
    let node = Node::builder().name(args.name).build()?;
    // QUIC's keep-alive and idle timeout follow the node's heartbeat, so
    // either notices a dead peer first by the same deadline.
    let heartbeat = HeartbeatConfig::default();
    let transport: Arc<dyn Transport> = match args.listen.scheme() {
        "quic" => Arc::new(QuicTransport::dev()?.heartbeat(heartbeat)?),
        "tcp" => Arc::new(TcpTransport::new()),
        other => return Err(format!("no transport for {other}:// here (tcp or quic)").into()),
    };
    let config = ClusterConfig::new(Cookie::new(args.cookie)).heartbeat(heartbeat);
    let listening = node.join(config, vec![transport], &[args.listen]).await?;
    let echo = node
        .start::<Echo>((), SpawnOpts::new().name("echo"))
        .await?;
    node.export(&echo);
    let counter = node
        .start::<Counter>((), SpawnOpts::new().name("counter"))
        .await?;
    node.export(&counter);
    for peer in &args.peers {
        node.connect(peer).await?;
    }
    let scheme = listening[0].scheme();
    println!("listening {}", listening[0]);
    println!("echo {}", echo.pid());
    println!("counter {}", counter.pid());
    if let Some(seeds) = args.cluster {
        let discovery = Seeds(
            seeds
                .into_iter()
                .map(|(host, port)| match scheme {
                    "quic" => DnsDiscovery::quic(host, port),
                    _ => DnsDiscovery::tcp(host, port),
                })
                .collect(),
        );
        if let Some(group) = args.group {
            // Started before membership connects anyone, so that it meets
            // every node that connects.
            let scope = Scope::start_default(&node).await?;
            scope.join(&group, &[echo.pid()]).await?;
            let (now, mut events) = scope.monitor(&group);
            for pid in now {
                println!("member+ {pid}");
            }
            tokio::spawn(async move {
                let _scope = scope;
                while let Some(event) = events.next().await {
                    match event {
                        GroupEvent::Join { pids, .. } => {
                            for pid in pids {
                                println!("member+ {pid}");
                            }
                        }
                        GroupEvent::Leave { pids, .. } => {
                            for pid in pids {
                                println!("member- {pid}");
                            }
                        }
                        _ => {}
                    }
                }
            });
        }
        let settings = ClusterSettings::default().poll_interval(Duration::from_secs(1));
        let cluster = Cluster::start(&node, discovery, settings).await?;
        let (now, mut events) = cluster.monitor();
        for member in now {
            println!("joined {member}");
        }
        while let Some(event) = events.next().await {
            match event {
                MemberEvent::Joined(member) => println!("joined {member}"),
                MemberEvent::Left(member) => println!("left {member}"),
                _ => {}
            }
        }
    }
    // Serve until killed.
    std::future::pending::<()>().await;
    Ok(())
}
