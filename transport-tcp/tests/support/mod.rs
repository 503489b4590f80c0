//! Helpers shared by the integration tests: what the transport logs, and
//! waits that fail instead of hanging.

// Each test binary uses a part of these.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, TransportError};
use bytes::Bytes;
use tokio::sync::watch;
use tracing_subscriber::fmt::MakeWriter;

/// How long any one wait in these tests may take before it fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// `future`'s output, or a panic naming `what` if it takes longer than
/// [`PATIENCE`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(out) => out,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Any free port on loopback.
pub(crate) fn any_port() -> Endpoint {
    "tcp://127.0.0.1:0".parse().expect("valid")
}

/// The next frame's payload.
pub(crate) async fn recv(conn: &mut Connection) -> Result<Option<Bytes>, TransportError> {
    conn.stream.recv().await.map(|f| f.map(|f| f.payload))
}

/// The lines this crate logs (debug and up) on the current thread, as
/// they are written. Tests that read them run on a current-thread
/// runtime, so that every task they spawn logs here too.
#[derive(Debug, Clone)]
pub(crate) struct Logs {
    lines: watch::Sender<Vec<String>>,
}

impl Logs {
    /// Captures until the guard is dropped.
    pub(crate) fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self {
            lines: watch::Sender::new(Vec::new()),
        };
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("beamish_transport_tcp=debug")
            .with_writer(logs.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// Waits until `count` lines satisfy `matches`, and returns every
    /// line that does.
    pub(crate) async fn wait_for(
        &self,
        count: usize,
        matches: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut lines = self.lines.subscribe();
        let lines = lines
            .wait_for(|lines| lines.iter().filter(|l| matches(l)).count() >= count)
            .await
            .expect("the sender lives in self");
        lines.iter().filter(|l| matches(l)).cloned().collect()
    }

    /// Every line so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.borrow().clone()
    }
}

/// One log line being written.
#[derive(Debug)]
pub(crate) struct Line {
    text: Vec<u8>,
    logs: Logs,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.text).trim_end().to_owned();
        self.logs.lines.send_modify(|lines| lines.push(line));
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            text: Vec::new(),
            logs: self.clone(),
        }
    }
}
