//! What the two versions of the jobs program (`beamish-jobs-v1` and
//! `beamish-jobs-v2`) share: how a node joins over TCP, and the command
//! line. Their message types are their own; only the wire name,
//! `jobs.Worker`, is shared.
//!
//! `--serve tcp://127.0.0.1:0` runs the worker under the name `worker`
//! and prints `listening <endpoint>`; `--drive <endpoint>` connects to a
//! worker there and prints what its messages got, one line each.

use std::error::Error;
use std::sync::Arc;

use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{ClusterConfig, Node, NodeName};

const COOKIE: &str = "the jobs cluster's cookie, shared by both versions";

/// What the command line asks for.
#[derive(Debug)]
pub enum Mode {
    /// Serve the worker at this endpoint.
    Serve(Endpoint),
    /// Drive the worker listening at this endpoint.
    Drive(Endpoint),
}

/// Reads `--serve <endpoint>` or `--drive <endpoint>`.
///
/// # Errors
///
/// A missing or unknown flag, or an endpoint that does not parse.
pub fn mode() -> Result<Mode, Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(flag), Some(endpoint)) = (args.next(), args.next()) else {
        return Err("usage: --serve <endpoint> | --drive <endpoint>".into());
    };
    let endpoint: Endpoint = endpoint.parse()?;
    match flag.as_str() {
        "--serve" => Ok(Mode::Serve(endpoint)),
        "--drive" => Ok(Mode::Drive(endpoint)),
        other => Err(format!("unknown flag {other}").into()),
    }
}

/// A node named `name@localhost` in the jobs cluster over TCP, listening
/// at `listen`; returns it and where it listens.
///
/// # Errors
///
/// The node cannot be built or cannot listen.
pub async fn join(
    name: &str,
    listen: &[Endpoint],
) -> Result<(Node, Vec<Endpoint>), Box<dyn Error>> {
    let node = Node::builder().name(format!("{name}@localhost")).build()?;
    let transport: Arc<dyn Transport> = Arc::new(TcpTransport::new());
    let listening = node
        .join(
            ClusterConfig::new(Cookie::new(COOKIE)),
            vec![transport],
            listen,
        )
        .await?;
    Ok((node, listening))
}

/// A node that connects to the worker's node at `at`; returns it and the
/// worker's node.
///
/// # Errors
///
/// The node cannot be built or the worker's node cannot be reached.
pub async fn driver(name: &str, at: &Endpoint) -> Result<(Node, NodeName), Box<dyn Error>> {
    let (node, _) = join(name, &[]).await?;
    let peer = node.connect(at).await?;
    Ok((node, peer))
}
