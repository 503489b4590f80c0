//! Deletes the durable AMQP inboxes (and dead-letter queues) of nodes that
//! are gone for good, by their names, with the messages they hold; a
//! running node's queues are left alone.
//!
//! ```sh
//! cargo run -p beamish-examples --bin beamish-remove-inbox -- \
//!     amqp://guest:guest@127.0.0.1:5672/%2f orders-7f9c@pod orders-b21d@pod
//! ```
//!
//! It prints one line per node and exits with status 1 if any node's
//! queues could not be removed (running, or the broker refused), 2 on
//! wrong arguments.

use std::process::ExitCode;

use beamish::amqp::{remove_inbox, RemoveInboxError};
use beamish::dist::Endpoint;

const USAGE: &str = "usage: beamish-remove-inbox amqp://user:pass@host:port/vhost NODE...";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    beamish_examples::log_to_stderr();
    let mut args = std::env::args().skip(1);
    let broker = match args.next().map(|uri| uri.parse::<Endpoint>()) {
        Some(Ok(broker)) => broker,
        Some(Err(err)) => {
            eprintln!("not an endpoint: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let nodes: Vec<String> = args.collect();
    if nodes.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for node in nodes {
        match remove_inbox(&broker, &node).await {
            Ok(removed) => {
                let said = |queue: Option<u32>| match queue {
                    Some(messages) => format!("removed, {messages} messages"),
                    None => "none".to_owned(),
                };
                println!(
                    "{node}: inbox {}; dead letters {}",
                    said(removed.inbox),
                    said(removed.dead_letters)
                );
            }
            Err(err @ RemoveInboxError::NotAmqp(_)) => {
                eprintln!("{err}\n{USAGE}");
                return ExitCode::from(2);
            }
            Err(err) => {
                println!("{node}: left alone: {err}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
