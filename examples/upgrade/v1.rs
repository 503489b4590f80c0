//! Version 1 of the jobs program: a worker that runs jobs, known to other
//! nodes as `jobs.Worker`. Version 2 (`v2.rs`) adds a field and two
//! variants and renames the Rust type; the two still talk, as they must
//! during a rolling upgrade (see `examples/src/upgrade.rs` for the
//! command line).

use std::error::Error;
use std::time::Duration;

use beamish::{async_trait, Context, ExitReason, Message, Process, ReplyTo, SpawnOpts};
use beamish_examples::upgrade::{self, Mode};
use serde::{Deserialize, Serialize};

/// The worker's messages, as version 1 knows them.
#[derive(Serialize, Deserialize, Debug, Message)]
#[message(name = "jobs.Worker")]
enum JobMsg {
    /// Run a job.
    Run { id: u64, payload: String },
    /// How many jobs ran.
    Status(ReplyTo<u64>),
    /// How many messages from other nodes this node could not deliver.
    DeadLetters(ReplyTo<u64>),
}

struct Worker {
    ran: u64,
}

#[async_trait]
impl Process for Worker {
    type Args = ();
    type Msg = JobMsg;

    async fn init(_ctx: &mut Context<JobMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Worker { ran: 0 })
    }

    async fn handle(&mut self, ctx: &mut Context<JobMsg>, msg: JobMsg) -> Result<(), ExitReason> {
        match msg {
            JobMsg::Run { id, payload } => {
                self.ran += 1;
                println!("ran {id} {payload}");
            }
            JobMsg::Status(reply) => {
                reply.reply(self.ran);
            }
            JobMsg::DeadLetters(reply) => {
                reply.reply(ctx.node().stats().dead_letters);
            }
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    beamish_examples::log_to_stderr();
    const WAIT: Duration = Duration::from_secs(10);
    match upgrade::mode()? {
        Mode::Serve(at) => {
            let (node, listening) = upgrade::join("jobs-v1", &[at]).await?;
            let worker = node
                .start::<Worker>((), SpawnOpts::new().name("worker"))
                .await?;
            node.export(&worker);
            println!("listening {}", listening[0]);
            // Serve until killed.
            std::future::pending::<()>().await;
        }
        Mode::Drive(at) => {
            let (node, peer) = upgrade::driver("driver-v1", &at).await?;
            let run = JobMsg::Run {
                id: 1,
                payload: "from v1".into(),
            };
            node.send_remote_named(peer, "worker", &run)?;
            let ran = node
                .call_remote_named(peer, "worker", JobMsg::Status, WAIT)
                .await?;
            println!("status {ran}");
        }
    }
    Ok(())
}
