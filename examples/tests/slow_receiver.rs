//! Back-pressure between nodes, with real processes: a sender streaming
//! 1 KiB casts to a receiver that handles one message per millisecond
//! (its mailbox bounded to 1 000). Without back-pressure the sender grew
//! by gigabytes within seconds; with it, both processes stay within the
//! connection's outbox limit plus 50 MB, and the receiver keeps handling.

use std::process::Stdio;
use std::time::Duration;

use beamish::DEFAULT_OUTBOX_LIMIT;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long the flood runs; `BEAMISH_FLOOD_SECS` shortens or lengthens it.
fn duration() -> Duration {
    let secs = std::env::var("BEAMISH_FLOOD_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

const COOKIE: &str = "flood-test";
const WAIT: Duration = Duration::from_secs(20);

fn flood(args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beamish-flood"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the flood program starts");
    let stdout = child.stdout.take().expect("piped");
    (child, BufReader::new(stdout).lines())
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the program reports in time")
        .expect("readable")
        .expect("a line")
}

/// The resident set of a process, in bytes.
fn rss(child: &Child) -> u64 {
    let pid = child.id().expect("running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("readable");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_outrunning_a_slow_receiver_stays_bounded_and_so_does_the_receiver() {
    let (mut receiver, mut from_receiver) = flood(&["receive", "tcp://127.0.0.1:0", COOKIE]);
    let at = next_line(&mut from_receiver).await;
    let at = at
        .strip_prefix("listening ")
        .expect("an endpoint")
        .to_owned();
    let slow = next_line(&mut from_receiver).await;
    let slow = slow.strip_prefix("slow ").expect("a pid").to_owned();
    let (mut sender, mut from_sender) = flood(&["send", &at, COOKIE, &slow]);
    // The stream runs: the first ten thousand are out.
    assert_eq!(next_line(&mut from_sender).await, "sent 10000");
    let base = (rss(&sender), rss(&receiver));
    let bound = DEFAULT_OUTBOX_LIMIT as u64 + 50 * 1024 * 1024;
    let (mut peak_sender, mut peak_receiver) = base;
    let mut reports = 1_u64;
    let until = tokio::time::Instant::now() + duration();
    while tokio::time::Instant::now() < until {
        // Sampled twice a second; meanwhile the sender's reports drain.
        let tick = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(tick);
        loop {
            tokio::select! {
                () = &mut tick => break,
                line = from_sender.next_line() => {
                    if matches!(line, Ok(Some(_))) {
                        reports += 1;
                    }
                }
            }
        }
        peak_sender = peak_sender.max(rss(&sender));
        peak_receiver = peak_receiver.max(rss(&receiver));
    }
    let mib = |bytes: u64| bytes / (1024 * 1024);
    println!(
        "over {:?}: sender {} -> peak {} MiB, receiver {} -> peak {} MiB, {} messages sent",
        duration(),
        mib(base.0),
        mib(peak_sender),
        mib(base.1),
        mib(peak_receiver),
        reports * 10_000,
    );
    assert!(
        peak_sender <= bound,
        "the sender grew to {} MiB",
        mib(peak_sender)
    );
    assert!(
        peak_receiver <= bound,
        "the receiver grew to {} MiB",
        mib(peak_receiver)
    );
    // The receiver handles one a millisecond: the sender went on, held to
    // about that pace, and neither took the other for dead (a receiver
    // whose reading is held back still answers heartbeats).
    assert!(reports >= 2, "the stream stalled");
    assert!(
        sender.try_wait().expect("a status").is_none(),
        "the sender stopped: its casts failed"
    );
    assert!(receiver.try_wait().expect("a status").is_none());
}
