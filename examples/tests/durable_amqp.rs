//! At least once through a durable AMQP inbox, with real processes: stream
//! 100 000 numbered messages to a node's `tally`, SIGKILL that node
//! midway, start it again under the same name, and check that every number
//! the broker confirmed was handled at least once, reporting duplicates.
//! Needs the RabbitMQ broker on 127.0.0.1:5672; fails without one.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beamish::amqp::{AmqpTransport, Mode};
use beamish::dist::{Cookie, Endpoint, HeartbeatConfig};
use beamish::transport::Transport;
use beamish::{ClusterConfig, Node, NodeName};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const MESSAGES: u64 = 100_000;
const CHUNK: u64 = 1_000;
const WAIT: Duration = Duration::from_secs(120);
const COOKIE: &str = "durable-test";
const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Starts the sink; a slow one takes `handle_ms` per message, so that a
/// backlog builds up in its inbox.
async fn start_sink(name: &str, log: &str, handle_ms: u64) -> (Child, Endpoint) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beamish-durable-sink"))
        .args(["--handle-ms", &handle_ms.to_string()])
        .args([
            "--name",
            name,
            "--broker",
            BROKER,
            "--cookie",
            COOKIE,
            "--log",
            log,
            "--tick-ms",
            "200",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the sink starts");
    let stdout = child.stdout.take().expect("piped");
    let line = tokio::time::timeout(WAIT, BufReader::new(stdout).lines().next_line())
        .await
        .expect("the sink reports in time")
        .expect("readable")
        .expect("a line");
    let endpoint = line
        .strip_prefix("listening ")
        .expect("listening <endpoint>")
        .parse()
        .expect("an endpoint");
    (child, endpoint)
}

/// How often each number was handled, from the sink's record.
fn handled(log: &str) -> HashMap<u64, u32> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut counts = HashMap::new();
    for line in text.lines() {
        if let Ok(n) = line.parse::<u64>() {
            *counts.entry(n).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_confirmed_message_survives_a_sigkill() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let sink_name = format!("sink-{nanos}@localhost");
    let me_name = format!("feeder-{nanos}@localhost");
    let log = std::env::temp_dir().join(format!("beamish-durable-{nanos}.txt"));
    let log = log.to_str().expect("a UTF-8 path").to_owned();
    let (mut sink, at) = start_sink(&sink_name, &log, 1).await;

    let broker: Endpoint = BROKER.parse().expect("valid");
    let me = Node::builder()
        .name(me_name.as_str())
        .build()
        .expect("runtime");
    let amqp = AmqpTransport::new(&broker, Mode::Durable)
        .expect("amqp")
        .inbox_expiry(Duration::from_secs(300));
    let sink_node = NodeName::new(&sink_name).expect("valid");
    let config = ClusterConfig::new(Cookie::new(COOKIE))
        .heartbeat(HeartbeatConfig {
            tick: Duration::from_millis(200),
            missed: 5,
        })
        .peer(sink_node, at.clone())
        .redial_backoff(Duration::from_millis(50), Duration::from_millis(500));
    let transport: Arc<dyn Transport> = Arc::new(amqp.clone());
    me.join(config, vec![transport], std::slice::from_ref(&broker))
        .await
        .expect("joins");

    // Each chunk ends with a confirmed send: once it returns, the whole
    // chunk is with the broker (one lane, confirmed in order). A chunk that
    // fails is sent again, whole: at least once.
    let mut resent = 0_u64;
    let mut killed = false;
    let mut handled_at_kill = 0;
    for chunk in 0..MESSAGES / CHUNK {
        if chunk == MESSAGES / CHUNK / 2 && !killed {
            handled_at_kill = handled(&log).len();
            sink.start_kill().expect("SIGKILL");
            let _ = sink.wait().await;
            killed = true;
            sink = start_sink(&sink_name, &log, 0).await.0;
        }
        let first = chunk * CHUNK;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mut sent = (first..first + CHUNK - 1)
                .all(|n| me.send_remote_named(sink_node, "tally", &n).is_ok());
            if sent {
                let last = first + CHUNK - 1;
                sent = me
                    .send_remote_named_confirmed(sink_node, "tally", &last)
                    .await
                    .is_ok();
            }
            if sent {
                break;
            }
            resent += 1;
            assert!(
                tokio::time::Instant::now() < deadline,
                "chunk {chunk} never went"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(killed);

    // Every number is handled, some perhaps twice.
    let deadline = tokio::time::Instant::now() + WAIT;
    let counts = loop {
        let counts = handled(&log);
        if (0..MESSAGES).all(|n| counts.contains_key(&n)) {
            break counts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {MESSAGES} numbers handled",
            counts.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let duplicates: u64 = counts.values().map(|&c| u64::from(c - 1)).sum();
    let pending = MESSAGES / 2 - handled_at_kill as u64;
    eprintln!(
        "{MESSAGES} numbers, all handled; {duplicates} handled twice or more; \
         {resent} chunks sent again; {pending} confirmed but not yet handled \
         when the node was killed"
    );
    assert!(pending > 0, "the node was killed with a backlog");
    sink.start_kill().expect("SIGKILL");
    let _ = sink.wait().await;
    AmqpTransport::with_inbox(&broker, &sink_name, Mode::Durable)
        .expect("amqp")
        .delete_inbox()
        .await
        .expect("the sink's inbox deleted");
    amqp.delete_inbox()
        .await
        .expect("the feeder's inbox deleted");
    let _ = std::fs::remove_file(&log);
}
