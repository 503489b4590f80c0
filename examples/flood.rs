//! A sender that outruns its receiver, as two OS processes: the receiving
//! node hosts `slow`, an exported process with a mailbox bounded to 1 000
//! messages that handles one message per millisecond; the sending node
//! streams casts to it as fast as it can. With back-pressure between the
//! nodes, neither process grows past the connection's outbox limit: the
//! full mailbox holds the receiving node's reading back, the socket
//! fills, and the sender's casts wait for room.
//!
//! ```sh
//! cargo run -p beamish-examples --bin beamish-flood -- receive tcp://127.0.0.1:4390 secret
//! cargo run -p beamish-examples --bin beamish-flood -- send tcp://127.0.0.1:4390 secret '<slow@localhost.2.123>'
//! ```
//!
//! The receiver prints `listening <endpoint>` and `slow <pid>`; the sender
//! prints `sent <n>` every 10 000 messages.

use std::sync::Arc;
use std::time::Duration;

use beamish::dist::{Cookie, Endpoint};
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{
    async_trait, ClusterConfig, Context, ExitReason, MailboxSize, Node, Pid, Process, SpawnOpts,
};

/// The size of each message's payload.
const PAYLOAD: usize = 1024;

/// Handles one message per millisecond.
struct Slow;

#[async_trait]
impl Process for Slow {
    type Args = ();
    type Msg = String;

    async fn init(_: &mut Context<String>, _: ()) -> Result<Self, ExitReason> {
        Ok(Slow)
    }

    async fn handle(&mut self, _: &mut Context<String>, _: String) -> Result<(), ExitReason> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(())
    }
}

async fn node(
    name: &str,
    cookie: &str,
    listen: &[Endpoint],
) -> Result<(Node, Vec<Endpoint>), Box<dyn std::error::Error>> {
    let node = Node::builder().name(name).build()?;
    let transport: Arc<dyn Transport> = Arc::new(TcpTransport::new());
    let config = ClusterConfig::new(Cookie::new(cookie));
    let listening = node.join(config, vec![transport], listen).await?;
    Ok((node, listening))
}

async fn receive(listen: Endpoint, cookie: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (node, listening) = node("slow@localhost", cookie, &[listen]).await?;
    let opts = SpawnOpts::new()
        .name("slow")
        .mailbox(MailboxSize::Bounded(1_000));
    let slow = node.start::<Slow>((), opts).await?;
    node.export(&slow);
    let at = listening.first().ok_or("not listening")?;
    println!("listening {at}");
    println!("slow {}", slow.pid());
    std::future::pending::<()>().await;
    Ok(())
}

async fn send(at: Endpoint, cookie: &str, to: Pid) -> Result<(), Box<dyn std::error::Error>> {
    let (node, _) = node("flood@localhost", cookie, &[]).await?;
    node.connect(&at).await?;
    let payload = "x".repeat(PAYLOAD);
    let mut sent = 0_u64;
    loop {
        node.cast_remote(to, &payload).await?;
        sent += 1;
        if sent % 10_000 == 0 {
            println!("sent {sent}");
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    beamish_examples::log_to_stderr();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["receive", listen, cookie] => receive(listen.parse()?, cookie).await,
        ["send", at, cookie, to] => send(at.parse()?, cookie, to.parse()?).await,
        _ => Err(
            "usage: beamish-flood receive <endpoint> <cookie> | send <endpoint> <cookie> <pid>"
                .into(),
        ),
    }
}
