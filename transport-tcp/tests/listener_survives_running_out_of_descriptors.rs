//! A listener whose process runs out of file descriptors pauses instead
//! of stopping, warns once for the burst, and accepts again once
//! descriptors are free: over plain TCP and over TLS.
//!
//! The tests lower the process's open-file limit, so they have this
//! binary to themselves and take turns.
#![cfg(unix)]

mod support;

use std::fs::File;
use std::sync::{Mutex, PoisonError};

use beamish_core::dist::Endpoint;
use beamish_core::transport::{Connection, Transport};
use beamish_tls::testing::TestCa;
use beamish_transport_tcp::TcpTransport;
use bytes::Bytes;
use support::{any_port, recv, within, Logs};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The open-file limit is the process's: one test at a time, taken
/// before its runtime is built, as building one opens descriptors.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `test` on a current-thread runtime of its own, in its turn.
fn in_turn(test: impl std::future::Future<Output = ()>) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test);
}

/// A lowered soft limit on open files, put back when dropped.
struct FileLimit {
    soft: u64,
    hard: u64,
}

impl FileLimit {
    /// Leaves room for a few dozen more descriptors than are open now.
    fn lower() -> Self {
        let (soft, hard) = rlimit::Resource::NOFILE.get().expect("the limit");
        let open = std::fs::read_dir("/dev/fd").expect("/dev/fd").count() as u64;
        rlimit::Resource::NOFILE
            .set((open + 32).min(soft), hard)
            .expect("lowered");
        Self { soft, hard }
    }
}

impl Drop for FileLimit {
    fn drop(&mut self) {
        let _ = rlimit::Resource::NOFILE.set(self.soft, self.hard);
    }
}

/// Opens files until the process may open no more, and keeps them.
fn fill_descriptor_table() -> Vec<File> {
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => return files,
            Err(err) => panic!("opening /dev/null: {err}"),
        }
        assert!(files.len() < 1000, "the lowered limit holds");
    }
}

fn too_many_open_files(line: &str) -> bool {
    line.to_lowercase().contains("too many open files")
}

async fn accepts_again_once_descriptors_are_free(tcp: TcpTransport) {
    let (logs, _logging) = Logs::capture();
    let mut listener = tcp.listen(&any_port()).await.expect("listens");
    let endpoint = listener.endpoint();
    let Endpoint::Tcp { host, port } = &endpoint else {
        panic!("a TCP endpoint: {endpoint}");
    };
    let address = format!("{host}:{port}");
    // Accept as a node does: until the listener fails.
    let (to_test, mut accepted) = mpsc::unbounded_channel::<Connection>();
    let node = tokio::spawn(async move {
        while let Ok(conn) = listener.accept().await {
            if to_test.send(conn).is_err() {
                return;
            }
        }
    });

    let limit = FileLimit::lower();
    let mut files = fill_descriptor_table();
    // One descriptor for a client, none for the server to accept it with.
    drop(files.pop());
    let stranded = within("a connection", TcpStream::connect(&address))
        .await
        .expect("connects");
    // The first failure warns; the next, after a pause, only says so in
    // debug.
    within(
        "the listener fails twice for want of descriptors",
        logs.wait_for(2, too_many_open_files),
    )
    .await;
    drop(files);
    drop(stranded);

    let mut client = within("a fresh client", tcp.connect(&endpoint))
        .await
        .expect("connects");
    client
        .sink
        .send(vec![Bytes::from_static(b"hello")])
        .await
        .expect("sends");
    let mut server = within("the fresh client is accepted", async {
        loop {
            let mut conn = accepted.recv().await.expect("the listener keeps accepting");
            // The stranded client, accepted late, is closed already.
            if recv(&mut conn).await == Ok(Some(Bytes::from_static(b"hello"))) {
                return conn;
            }
        }
    })
    .await;
    server
        .sink
        .send(vec![Bytes::from_static(b"welcome")])
        .await
        .expect("sends");
    assert_eq!(
        within("the reply", recv(&mut client)).await,
        Ok(Some(Bytes::from_static(b"welcome")))
    );
    drop(limit);

    let warnings: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|line| line.contains("WARN") && too_many_open_files(line))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the burst: {warnings:#?}"
    );
    node.abort();
}

#[test]
fn a_plain_listener_out_of_descriptors_accepts_again_once_they_are_free() {
    in_turn(accepts_again_once_descriptors_are_free(TcpTransport::new()));
}

#[test]
fn a_tls_listener_out_of_descriptors_accepts_again_once_they_are_free() {
    let ca = TestCa::new().expect("a CA");
    let tls = ca.issue(&ca).expect("issued").config().expect("config");
    in_turn(accepts_again_once_descriptors_are_free(
        TcpTransport::new().tls(tls),
    ));
}
