//! A node that takes numbers through a durable AMQP inbox and appends each
//! one it has handled to a file, for the at-least-once test: SIGKILL it
//! mid-stream, start it again under the same name, and every number the
//! broker confirmed is in the file, some perhaps twice.
//!
//! ```sh
//! cargo run -p beamish-examples --bin beamish-durable-sink -- \
//!     --name sink@localhost --broker amqp://guest:guest@127.0.0.1:5672/%2f \
//!     --cookie secret --log /tmp/handled.txt [--tick-ms 200] [--handle-ms 1]
//! ```
//!
//! `--handle-ms` makes each message take that long to handle, so that a
//! backlog builds up in the inbox.
//!
//! It prints `listening <endpoint>` once its `tally` process is registered
//! and the node has joined, then serves until it is killed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use beamish::amqp::{AmqpTransport, Mode};
use beamish::dist::{Cookie, Endpoint, HeartbeatConfig};
use beamish::transport::Transport;
use beamish::{async_trait, ClusterConfig, Context, ExitReason, Node, Process, SpawnOpts};

/// Appends every number it handles to its file, one write per number: once
/// the handler returns, the number is on record and the message is
/// acknowledged.
struct Tally {
    log: File,
    pace: Duration,
}

#[async_trait]
impl Process for Tally {
    type Args = (File, Duration);
    type Msg = u64;

    async fn init(_ctx: &mut Context<u64>, (log, pace): Self::Args) -> Result<Self, ExitReason> {
        Ok(Tally { log, pace })
    }

    async fn handle(&mut self, _ctx: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
        if !self.pace.is_zero() {
            tokio::time::sleep(self.pace).await;
        }
        self.log.write_all(format!("{n}\n").as_bytes())?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    beamish_examples::log_to_stderr();
    let mut args = std::env::args().skip(1);
    let (mut name, mut broker, mut cookie, mut log, mut tick) = (None, None, None, None, 1000);
    let mut pace = 0;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--name" => name = Some(value),
            "--broker" => broker = Some(value.parse::<Endpoint>()?),
            "--cookie" => cookie = Some(value),
            "--log" => log = Some(value),
            "--tick-ms" => tick = value.parse()?,
            "--handle-ms" => pace = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let name = name.ok_or("--name is required")?;
    let broker = broker.ok_or("--broker is required")?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log.ok_or("--log is required")?)?;
    let node = Node::builder().name(name.as_str()).build()?;
    // What is left in the inbox from an earlier life is delivered by name:
    // the tally is registered before the node joins.
    let tally = node
        .start::<Tally>(
            (log, Duration::from_millis(pace)),
            SpawnOpts::new().name("tally"),
        )
        .await?;
    node.export(&tally);
    let amqp: Arc<dyn Transport> = Arc::new(AmqpTransport::new(&broker, Mode::Durable)?);
    let heartbeat = HeartbeatConfig {
        tick: Duration::from_millis(tick),
        missed: 5,
    };
    let config =
        ClusterConfig::new(Cookie::new(cookie.ok_or("--cookie is required")?)).heartbeat(heartbeat);
    let at = node.join(config, vec![amqp], &[broker]).await?;
    println!("listening {}", at[0]);
    std::future::pending::<()>().await;
    Ok(())
}
