//! A service node with a durable subscription, for the tests that kill
//! one mid-stream: its worker appends the number of each signup it
//! handled to a log file, so what it did survives a SIGKILL.
//!
//! ```sh
//! cargo run -p beamish-examples --bin beamish-subscriber -- \
//!     --name analytics --broker amqp://guest:guest@127.0.0.1:5672/%2f \
//!     --scope demo --log /tmp/analytics.log [--crash-on 700] [--prefetch 100] \
//!     [--handle-ms 1]
//! ```
//!
//! It prints `started <pid>` each time its worker starts (subscribed),
//! and serves until it is killed.

use beamish_examples::subscriptions::{serve, Service};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    beamish_examples::log_to_stderr();
    serve(parse(std::env::args().skip(1))?).await
}

/// The command line, as a [`Service`].
fn parse(mut args: impl Iterator<Item = String>) -> Result<Service, String> {
    let mut service = Service {
        name: String::new(),
        broker: String::new(),
        scope: String::new(),
        log: String::new(),
        crash_on: None,
        prefetch: 100,
        pace: std::time::Duration::ZERO,
        join: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--name" => service.name = value,
            "--broker" => service.broker = value,
            "--scope" => service.scope = value,
            "--log" => service.log = value,
            "--crash-on" => {
                service.crash_on = Some(
                    value
                        .parse()
                        .map_err(|_| format!("{flag} takes a number"))?,
                );
            }
            "--handle-ms" => {
                let millis = value
                    .parse()
                    .map_err(|_| format!("{flag} takes a number"))?;
                service.pace = std::time::Duration::from_millis(millis);
            }
            "--prefetch" => {
                service.prefetch = value
                    .parse()
                    .map_err(|_| format!("{flag} takes a number"))?;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    for (flag, value) in [
        ("--name", &service.name),
        ("--broker", &service.broker),
        ("--scope", &service.scope),
        ("--log", &service.log),
    ] {
        if value.is_empty() {
            return Err(format!("{flag} is required"));
        }
    }
    Ok(service)
}
