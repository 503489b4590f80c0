//! Version 2 of the jobs program: the worker's Rust type is renamed, `Run`
//! gains a `priority` (read as 0 from version 1), and two variants are new
//! (`Cancel`, `Describe`), which a version 1 worker refuses without
//! dropping the connection. The wire name, `jobs.Worker`, stays.

use std::error::Error;
use std::time::Duration;

use beamish::{async_trait, CallError, Context, ExitReason, Message, Process, ReplyTo, SpawnOpts};
use beamish_examples::upgrade::{self, Mode};
use serde::{Deserialize, Serialize};

/// The worker's messages, as version 2 knows them.
#[derive(Serialize, Deserialize, Debug, Message)]
#[message(name = "jobs.Worker")]
enum WorkerMsg {
    /// Run a job.
    Run {
        id: u64,
        payload: String,
        /// New in version 2: version 1 does not send it.
        #[serde(default)]
        priority: u8,
    },
    /// How many jobs ran.
    Status(ReplyTo<u64>),
    /// How many messages from other nodes this node could not deliver.
    DeadLetters(ReplyTo<u64>),
    /// New in version 2: forget a job.
    Cancel { id: u64 },
    /// New in version 2: say what this worker is.
    Describe(ReplyTo<String>),
}

struct Worker {
    ran: u64,
}

#[async_trait]
impl Process for Worker {
    type Args = ();
    type Msg = WorkerMsg;

    async fn init(_ctx: &mut Context<WorkerMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Worker { ran: 0 })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<WorkerMsg>,
        msg: WorkerMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            WorkerMsg::Run {
                id,
                payload,
                priority,
            } => {
                self.ran += 1;
                println!("ran {id} {payload} priority {priority}");
            }
            WorkerMsg::Status(reply) => {
                reply.reply(self.ran);
            }
            WorkerMsg::DeadLetters(reply) => {
                reply.reply(ctx.node().stats().dead_letters);
            }
            WorkerMsg::Cancel { id } => println!("cancelled {id}"),
            WorkerMsg::Describe(reply) => {
                reply.reply("jobs worker, version 2".into());
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
            let (node, listening) = upgrade::join("jobs-v2", &[at]).await?;
            let worker = node
                .start::<Worker>((), SpawnOpts::new().name("worker"))
                .await?;
            node.export(&worker);
            println!("listening {}", listening[0]);
            // Serve until killed.
            std::future::pending::<()>().await;
        }
        Mode::Drive(at) => {
            let (node, peer) = upgrade::driver("driver-v2", &at).await?;
            let run = WorkerMsg::Run {
                id: 2,
                payload: "from v2".into(),
                priority: 9,
            };
            node.send_remote_named(peer, "worker", &run)?;
            node.send_remote_named(peer, "worker", &WorkerMsg::Cancel { id: 2 })?;
            match node
                .call_remote_named(peer, "worker", WorkerMsg::Describe, WAIT)
                .await
            {
                Ok(text) => println!("described {text}"),
                Err(CallError::Rejected(why)) => println!("rejected {why}"),
                Err(other) => return Err(other.into()),
            }
            let ran = node
                .call_remote_named(peer, "worker", WorkerMsg::Status, WAIT)
                .await?;
            println!("status {ran}");
            let dead = node
                .call_remote_named(peer, "worker", WorkerMsg::DeadLetters, WAIT)
                .await?;
            println!("dead_letters {dead}");
        }
    }
    Ok(())
}
