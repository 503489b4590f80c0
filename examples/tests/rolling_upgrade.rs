//! Two builds of one program whose message types differ as in a rolling
//! upgrade (`examples/upgrade/v1.rs`, `v2.rs`): the same wire name, a
//! field added with `#[serde(default)]`, a renamed Rust type, and variants
//! the old version does not know. Each version serves its worker while
//! the other drives it, as two OS processes over TCP.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const WAIT: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    out: Lines<BufReader<ChildStdout>>,
    endpoint: String,
}

async fn serve(program: &str) -> Server {
    let mut child = Command::new(program)
        .args(["--serve", "tcp://127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = next_line(&mut out).await;
    let endpoint = line
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("says where it listens: {line:?}"))
        .to_owned();
    Server {
        child,
        out,
        endpoint,
    }
}

async fn next_line(out: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(WAIT, out.next_line())
        .await
        .expect("a line in time")
        .expect("readable")
        .expect("a line before the end")
}

/// Runs `program --drive endpoint` to its end; its standard output.
async fn drive(program: &str, endpoint: &str) -> String {
    let output = tokio::time::timeout(
        WAIT,
        Command::new(program)
            .args(["--drive", endpoint])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the driver ends in time")
    .expect("the driver runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the driver failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// What the server wrote to standard error, once it is killed.
async fn stderr_of(mut server: Server) -> String {
    server.child.start_kill().expect("kills");
    let mut err = String::new();
    let mut stderr = server.child.stderr.take().expect("piped");
    stderr.read_to_string(&mut err).await.expect("readable");
    err
}

#[tokio::test]
async fn a_new_version_drives_an_old_worker() {
    let mut old = serve(env!("CARGO_BIN_EXE_beamish-jobs-v1")).await;
    let said = drive(env!("CARGO_BIN_EXE_beamish-jobs-v2"), &old.endpoint).await;

    // The added field is ignored by the old worker, which runs the job.
    assert_eq!(next_line(&mut old.out).await, "ran 2 from v2");
    // A call with a variant the old worker does not know is rejected at
    // once, saying why, and the connection goes on.
    let rejected = said
        .lines()
        .find_map(|line| line.strip_prefix("rejected "))
        .unwrap_or_else(|| panic!("the call was rejected: {said}"));
    assert!(
        rejected.contains("jobs.Worker") && rejected.contains("unknown variant `Describe`"),
        "{rejected}"
    );
    assert!(said.contains("status 1\n"), "{said}");
    // The cast it does not know (Cancel) and the refused call are dead
    // letters there.
    assert!(said.contains("dead_letters 2\n"), "{said}");
    let log = stderr_of(old).await;
    assert!(
        log.contains("unknown variant `Cancel`"),
        "the old worker's node says why it dropped the cast: {log}"
    );
}

#[tokio::test]
async fn an_old_version_drives_a_new_worker() {
    let mut new = serve(env!("CARGO_BIN_EXE_beamish-jobs-v2")).await;
    let said = drive(env!("CARGO_BIN_EXE_beamish-jobs-v1"), &new.endpoint).await;
    // The field the old version does not send is read as its default.
    assert_eq!(next_line(&mut new.out).await, "ran 1 from v1 priority 0");
    assert_eq!(said, "status 1\n");
    let log = stderr_of(new).await;
    assert!(!log.contains("WARN"), "nothing was refused: {log}");
}
