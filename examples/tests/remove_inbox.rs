//! `beamish-remove-inbox`, run as a person runs it: it removes the durable
//! inbox of a node that is gone and leaves a running node's alone. Needs
//! the RabbitMQ broker on 127.0.0.1:5672; fails without one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish::amqp::{remove_inbox, AmqpTransport, Mode};
use beamish::dist::Endpoint;
use beamish::transport::Transport;
use tokio::process::Command;

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const WAIT: Duration = Duration::from_secs(60);

fn broker() -> Endpoint {
    BROKER.parse().expect("valid")
}

fn unique(role: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{role}-{}-{nanos}@localhost", std::process::id())
}

/// Runs the program with `args`: its exit code and standard output.
async fn run(args: &[&str]) -> (Option<i32>, String) {
    let output = tokio::time::timeout(
        WAIT,
        Command::new(env!("CARGO_BIN_EXE_beamish-remove-inbox"))
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("in time")
    .expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_removes_a_gone_nodes_inbox_and_leaves_a_running_ones() {
    let gone = unique("gone");
    let running = unique("running");
    let left =
        AmqpTransport::with_inbox(&broker(), &gone, Mode::Durable).expect("an amqp endpoint");
    drop(left.listen(&broker()).await.expect("listens"));
    left.shutdown().await;
    let live = AmqpTransport::with_inbox(&broker(), &running, Mode::Durable)
        .expect("an amqp endpoint")
        .inbox_expiry(Duration::from_secs(60));
    let _listener = live.listen(&broker()).await.expect("listens");

    let (code, said) = run(&[BROKER, &gone, &running]).await;
    assert_eq!(code, Some(1), "one node was left alone:\n{said}");
    assert!(
        said.contains(&format!(
            "{gone}: inbox removed, 0 messages; dead letters removed, 0 messages"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("{running}: left alone:")) && said.contains("running"),
        "{said}"
    );
    // The gone node's queues are no more; the running node's are there.
    let again = remove_inbox(&broker(), &gone).await.expect("nothing left");
    assert_eq!((again.inbox, again.dead_letters), (None, None));
    let (code, said) = run(&[BROKER, &gone]).await;
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(&format!("{gone}: inbox none; dead letters none")),
        "{said}"
    );

    live.delete_inbox().await.expect("deleted");
    let (code, _) = run(&[BROKER]).await;
    assert_eq!(code, Some(2), "no node named");
}
