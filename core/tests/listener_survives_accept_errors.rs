//! A listener whose `accept` fails for a while (a connection reset before
//! it was taken, no file descriptor left) does not stop the node
//! listening: the node pauses a little longer after each error in a row,
//! never more than about a second, and accepts again. Only a listener
//! that says it is closed is given up.

use std::sync::Arc;
use std::time::Duration;

use beamish_core::dist::{Cookie, Endpoint};
use beamish_core::transport::{
    Connection, Listener, LocalNetwork, LocalTransport, Transport, TransportError,
};
use beamish_core::{async_trait, ClusterConfig, Node};
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The in-process transport, with listeners whose first `accept` calls
/// fail.
struct Flaky {
    local: LocalTransport,
    /// What each failing `accept` returns, in order.
    errors: Vec<TransportError>,
    /// When each `accept` was called.
    calls: Arc<Mutex<Vec<Instant>>>,
    /// Told when the listener is dropped.
    dropped: Mutex<Option<oneshot::Sender<()>>>,
}

#[derive(Debug)]
struct FlakyListener {
    inner: Box<dyn Listener>,
    errors: std::vec::IntoIter<TransportError>,
    calls: Arc<Mutex<Vec<Instant>>>,
    dropped: Option<oneshot::Sender<()>>,
}

#[async_trait]
impl Transport for Flaky {
    fn scheme(&self) -> &'static str {
        "local"
    }

    async fn listen(&self, endpoint: &Endpoint) -> Result<Box<dyn Listener>, TransportError> {
        Ok(Box::new(FlakyListener {
            inner: self.local.listen(endpoint).await?,
            errors: self.errors.clone().into_iter(),
            calls: Arc::clone(&self.calls),
            dropped: self.dropped.lock().take(),
        }))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Connection, TransportError> {
        self.local.connect(endpoint).await
    }
}

#[async_trait]
impl Listener for FlakyListener {
    fn endpoint(&self) -> Endpoint {
        self.inner.endpoint()
    }

    async fn accept(&mut self) -> Result<Connection, TransportError> {
        self.calls.lock().push(Instant::now());
        match self.errors.next() {
            Some(err) => Err(err),
            None => self.inner.accept().await,
        }
    }
}

impl Drop for FlakyListener {
    fn drop(&mut self) {
        if let Some(dropped) = self.dropped.take() {
            let _ = dropped.send(());
        }
    }
}

fn local(name: &str) -> Endpoint {
    Endpoint::Local { name: name.into() }
}

fn config() -> ClusterConfig {
    // Long enough for every pause below.
    ClusterConfig::new(Cookie::new("listener tests' cookie"))
        .handshake_timeout(Duration::from_secs(60))
}

fn node(name: &str) -> Node {
    Node::builder()
        .name(format!("{name}@localhost"))
        .build()
        .expect("runtime")
}

#[tokio::test(start_paused = true)]
async fn a_listener_that_fails_for_a_while_keeps_accepting() {
    let net = LocalNetwork::new();
    let failures = 12;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let flaky = Flaky {
        local: net.transport("b"),
        errors: vec![TransportError::Io("too many open files".into()); failures],
        calls: Arc::clone(&calls),
        dropped: Mutex::new(None),
    };
    let b = node("b");
    b.join(config(), vec![Arc::new(flaky)], &[local("b")])
        .await
        .expect("b joins");
    let a = node("a");
    a.join(config(), vec![Arc::new(net.transport("a"))], &[])
        .await
        .expect("a joins");

    assert_eq!(a.connect(&local("b")).await, Ok(b.name()));
    assert_eq!(b.nodes(), vec![a.name()]);

    // The pauses between attempts: a few milliseconds at first, doubling,
    // then about a second each.
    let calls = calls.lock().clone();
    assert!(calls.len() > failures, "accepted after the failures");
    let pauses: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    let pauses = &pauses[..failures];
    assert!(pauses[0] >= Duration::from_millis(1), "{pauses:?}");
    assert!(pauses[0] <= Duration::from_millis(10), "{pauses:?}");
    assert!(pauses.windows(2).all(|w| w[0] <= w[1]), "{pauses:?}");
    assert!(
        pauses[1] >= pauses[0] * 2 - Duration::from_millis(1),
        "{pauses:?}"
    );
    let longest = *pauses.last().expect("pauses");
    assert!(longest >= Duration::from_millis(900), "{pauses:?}");
    assert!(longest <= Duration::from_millis(1100), "{pauses:?}");
}

#[tokio::test(start_paused = true)]
async fn a_closed_listener_is_given_up() {
    let net = LocalNetwork::new();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (dropped, gone) = oneshot::channel();
    let flaky = Flaky {
        local: net.transport("b"),
        errors: vec![
            TransportError::Io("connection reset".into()),
            TransportError::Closed("shut down".into()),
        ],
        calls: Arc::clone(&calls),
        dropped: Mutex::new(Some(dropped)),
    };
    let b = node("b");
    b.join(config(), vec![Arc::new(flaky)], &[local("b")])
        .await
        .expect("b joins");
    gone.await.expect("the node drops a closed listener");
    assert_eq!(calls.lock().len(), 2, "not accepted from after Closed");
}
