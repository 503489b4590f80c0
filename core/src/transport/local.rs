//! The in-process transport (`local://name`): several nodes in one OS
//! process, with faults injected on purpose: drop the connections between
//! two nodes, partition them, delay or stall what flows between them.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::Endpoint;
use super::{
    check_scheme, Connection, FrameSink, FrameStream, Incoming, Listener, SentNow, Transport,
    TransportError,
};

/// A network of in-process nodes. Cheap to clone; clones share the
/// network.
#[derive(Clone, Default)]
pub struct LocalNetwork {
    inner: Arc<Mutex<Net>>,
}

#[derive(Default)]
struct Net {
    listeners: HashMap<String, mpsc::UnboundedSender<Connection>>,
    partitions: HashSet<Pair>,
    /// The fault settings of every pair that has them.
    modes: HashMap<Pair, Mode>,
    /// Live links, each watched by the forwarders of one connection.
    links: Vec<(Pair, watch::Sender<Mode>)>,
}

/// Two node names, in a fixed order.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Pair(String, String);

impl Pair {
    fn new(a: &str, b: &str) -> Self {
        if a <= b {
            Self(a.to_owned(), b.to_owned())
        } else {
            Self(b.to_owned(), a.to_owned())
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Mode {
    delay: Duration,
    stalled: bool,
    dropped: bool,
}

impl LocalNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// The transport of the node called `name` on this network: it
    /// connects from `name`, and may listen at `local://name`.
    pub fn transport(&self, name: impl Into<String>) -> LocalTransport {
        LocalTransport {
            network: self.clone(),
            name: name.into(),
        }
    }

    /// Cuts `a` off from `b`: existing connections between them are lost
    /// and new ones are refused until [`heal`](Self::heal).
    pub fn partition(&self, a: &str, b: &str) {
        let pair = Pair::new(a, b);
        self.inner.lock().partitions.insert(pair.clone());
        self.drop_pair(&pair);
    }

    /// Ends a partition.
    pub fn heal(&self, a: &str, b: &str) {
        self.inner.lock().partitions.remove(&Pair::new(a, b));
    }

    /// Loses the current connections between `a` and `b` (new ones may be
    /// opened).
    pub fn drop_connections(&self, a: &str, b: &str) {
        self.drop_pair(&Pair::new(a, b));
    }

    /// Delays every frame between `a` and `b` by `delay`, keeping order.
    pub fn delay(&self, a: &str, b: &str, delay: Duration) {
        self.update(&Pair::new(a, b), |mode| mode.delay = delay);
    }

    /// Holds every frame between `a` and `b` until [`resume`](Self::resume).
    pub fn stall(&self, a: &str, b: &str) {
        self.update(&Pair::new(a, b), |mode| mode.stalled = true);
    }

    /// Lets held frames between `a` and `b` flow again, in order.
    pub fn resume(&self, a: &str, b: &str) {
        self.update(&Pair::new(a, b), |mode| mode.stalled = false);
    }

    fn update(&self, pair: &Pair, change: impl Fn(&mut Mode)) {
        let mut net = self.inner.lock();
        change(net.modes.entry(pair.clone()).or_default());
        let mode = net.modes[pair];
        net.links.retain(|(_, link)| !link.is_closed());
        for (_, link) in net.links.iter().filter(|(p, _)| p == pair) {
            link.send_modify(|m| {
                *m = Mode {
                    dropped: m.dropped,
                    ..mode
                }
            });
        }
    }

    fn drop_pair(&self, pair: &Pair) {
        let mut net = self.inner.lock();
        net.links.retain(|(p, link)| {
            if p == pair {
                link.send_modify(|m| m.dropped = true);
                false
            } else {
                !link.is_closed()
            }
        });
    }
}

impl fmt::Debug for LocalNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let net = self.inner.lock();
        f.debug_struct("LocalNetwork")
            .field("listeners", &net.listeners.keys().collect::<Vec<_>>())
            .field("partitions", &net.partitions)
            .finish_non_exhaustive()
    }
}

/// One node's side of a [`LocalNetwork`].
#[derive(Clone, Debug)]
pub struct LocalTransport {
    network: LocalNetwork,
    name: String,
}

#[async_trait]
impl Transport for LocalTransport {
    fn scheme(&self) -> &'static str {
        "local"
    }

    async fn listen(&self, endpoint: &Endpoint) -> Result<Box<dyn Listener>, TransportError> {
        check_scheme("local", endpoint)?;
        let Endpoint::Local { name } = endpoint else {
            return Err(TransportError::Io(format!("{endpoint} is not local")));
        };
        let mut net = self.network.inner.lock();
        if net.listeners.get(name).is_some_and(|tx| !tx.is_closed()) {
            return Err(TransportError::InUse(endpoint.to_string()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        net.listeners.insert(name.clone(), tx);
        Ok(Box::new(LocalListener {
            endpoint: endpoint.clone(),
            incoming: rx,
        }))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Connection, TransportError> {
        check_scheme("local", endpoint)?;
        let Endpoint::Local { name: target } = endpoint else {
            return Err(TransportError::Io(format!("{endpoint} is not local")));
        };
        let pair = Pair::new(&self.name, target);
        let mut net = self.network.inner.lock();
        let unreachable = || TransportError::Unreachable(endpoint.to_string());
        if net.partitions.contains(&pair) {
            return Err(unreachable());
        }
        let listener = net.listeners.get(target).ok_or_else(unreachable)?.clone();
        let mode = net.modes.get(&pair).copied().unwrap_or_default();
        let (control, watched) = watch::channel(mode);
        // Links whose connection has ended are forgotten here, so that a
        // network that sees many short connections does not grow.
        net.links.retain(|(_, link)| !link.is_closed());
        net.links.push((pair, control));
        drop(net);

        let (ours_sink, theirs_stream) = pipe(watched.clone());
        let (theirs_sink, ours_stream) = pipe(watched);
        let theirs = Connection::new(
            Box::new(theirs_sink),
            Box::new(theirs_stream),
            format!("local://{}", self.name),
        );
        listener.send(theirs).map_err(|_| unreachable())?;
        Ok(Connection::new(
            Box::new(ours_sink),
            Box::new(ours_stream),
            endpoint.to_string(),
        ))
    }
}

#[derive(Debug)]
struct LocalListener {
    endpoint: Endpoint,
    incoming: mpsc::UnboundedReceiver<Connection>,
}

#[async_trait]
impl Listener for LocalListener {
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    async fn accept(&mut self) -> Result<Connection, TransportError> {
        self.incoming
            .recv()
            .await
            .ok_or_else(|| TransportError::Closed("the listener is closed".into()))
    }
}

enum Item {
    Frame(Bytes, Instant),
    Close,
}

/// One direction of a connection: the sink's frames pass a forwarder that
/// applies the pair's faults, then reach the stream.
fn pipe(mode: watch::Receiver<Mode>) -> (LocalSink, LocalStream) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Item>();
    let (out, delivered) = mpsc::unbounded_channel::<Item>();
    let mut drop_rx = mode.clone();
    let mut flow_rx = mode.clone();
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                biased;
                _ = dropped(&mut drop_rx) => return,
                item = rx.recv() => match item {
                    Some(item) => item,
                    // The sink went away without closing: the stream sees a
                    // lost connection.
                    None => return,
                },
            };
            if let Item::Frame(_, sent) = &item {
                let sent = *sent;
                tokio::select! {
                    biased;
                    _ = dropped(&mut drop_rx) => return,
                    () = flowing(&mut flow_rx, sent) => {}
                }
            }
            let close = matches!(item, Item::Close);
            if out.send(item).is_err() || close {
                return;
            }
        }
    });
    (
        LocalSink { tx: Some(tx), mode },
        LocalStream {
            rx: delivered,
            ended: false,
        },
    )
}

/// Resolves once the link is dropped.
async fn dropped(mode: &mut watch::Receiver<Mode>) {
    let _ = mode.wait_for(|m| m.dropped).await;
}

/// Resolves once a frame sent at `sent` may be delivered: not stalled, and
/// its delay has passed.
async fn flowing(mode: &mut watch::Receiver<Mode>, sent: Instant) {
    loop {
        let current = *mode.borrow_and_update();
        if !current.stalled {
            // Without a delay, no timer: even an elapsed one waits for the
            // timer wheel's next tick, a millisecond per frame.
            if current.delay.is_zero() {
                return;
            }
            let due = sent + current.delay;
            tokio::select! {
                () = tokio::time::sleep_until(due) => return,
                changed = mode.changed() => if changed.is_err() { return },
            }
        } else if mode.changed().await.is_err() {
            return;
        }
    }
}

struct LocalSink {
    tx: Option<mpsc::UnboundedSender<Item>>,
    mode: watch::Receiver<Mode>,
}

impl fmt::Debug for LocalSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSink")
            .field("open", &self.tx.is_some())
            .finish()
    }
}

impl LocalSink {
    /// Hands frames to the peer's stream; nothing here ever waits.
    fn push(&mut self, frames: impl IntoIterator<Item = Bytes>) -> Result<(), TransportError> {
        let lost = || TransportError::Closed("the connection was lost".into());
        if self.mode.borrow().dropped {
            self.tx = None;
            return Err(lost());
        }
        let tx = self.tx.as_ref().ok_or_else(lost)?;
        let now = Instant::now();
        for frame in frames {
            tx.send(Item::Frame(frame, now)).map_err(|_| lost())?;
        }
        Ok(())
    }
}

#[async_trait]
impl FrameSink for LocalSink {
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.push(frames)
    }

    fn send_now(&mut self, _lane: u32, frame: &Bytes) -> Result<SentNow, TransportError> {
        self.push([frame.clone()])?;
        Ok(SentNow::Taken)
    }

    async fn close(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Item::Close);
        }
    }
}

#[derive(Debug)]
struct LocalStream {
    rx: mpsc::UnboundedReceiver<Item>,
    ended: bool,
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(bytes, _) => write!(f, "Frame({} bytes)", bytes.len()),
            Self::Close => f.write_str("Close"),
        }
    }
}

#[async_trait]
impl FrameStream for LocalStream {
    async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
        if self.ended {
            return Ok(None);
        }
        match self.rx.recv().await {
            Some(Item::Frame(bytes, _)) => Ok(Some(Incoming::new(bytes))),
            Some(Item::Close) => {
                self.ended = true;
                Ok(None)
            }
            None => Err(TransportError::Closed("the connection was lost".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(name: &str) -> Endpoint {
        Endpoint::Local { name: name.into() }
    }

    async fn connected(net: &LocalNetwork) -> (Box<dyn Listener>, Connection, Connection) {
        let mut listener = net
            .transport("b")
            .listen(&local("b"))
            .await
            .expect("listens");
        let a = net
            .transport("a")
            .connect(&local("b"))
            .await
            .expect("connects");
        let b = listener.accept().await.expect("accepts");
        (listener, a, b)
    }

    async fn recv(conn: &mut Connection) -> Result<Option<Bytes>, TransportError> {
        conn.stream.recv().await.map(|f| f.map(|f| f.payload))
    }

    #[tokio::test(start_paused = true)]
    async fn frames_flow_both_ways_in_order() {
        let net = LocalNetwork::new();
        let (_listener, mut a, mut b) = connected(&net).await;
        assert_eq!(b.peer, "local://a");
        let frames: Vec<Bytes> = (0..100u8).map(|i| Bytes::from(vec![i])).collect();
        a.sink.send(frames.clone()).await.expect("sends");
        for frame in &frames {
            assert_eq!(recv(&mut b).await, Ok(Some(frame.clone())));
        }
        b.sink
            .send(vec![Bytes::from_static(b"back")])
            .await
            .expect("sends");
        assert_eq!(recv(&mut a).await, Ok(Some(Bytes::from_static(b"back"))));
        a.sink.close().await;
        assert_eq!(recv(&mut b).await, Ok(None));
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_scheme_unreachable_and_in_use_are_errors() {
        let net = LocalNetwork::new();
        let t = net.transport("a");
        let tcp = Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
        };
        assert!(matches!(
            t.connect(&tcp).await,
            Err(TransportError::WrongScheme { .. })
        ));
        assert!(matches!(
            t.connect(&local("nobody")).await,
            Err(TransportError::Unreachable(_))
        ));
        let _listener = t.listen(&local("a")).await.expect("listens");
        assert!(matches!(
            t.listen(&local("a")).await,
            Err(TransportError::InUse(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_loses_the_connection_but_allows_a_new_one() {
        let net = LocalNetwork::new();
        let mut listener = net
            .transport("b")
            .listen(&local("b"))
            .await
            .expect("listens");
        let mut a = net
            .transport("a")
            .connect(&local("b"))
            .await
            .expect("connects");
        let mut b = listener.accept().await.expect("accepts");
        net.drop_connections("a", "b");
        assert!(matches!(recv(&mut b).await, Err(TransportError::Closed(_))));
        assert!(matches!(recv(&mut a).await, Err(TransportError::Closed(_))));
        assert!(a.sink.send(vec![Bytes::from_static(b"x")]).await.is_err());
        let mut a = net
            .transport("a")
            .connect(&local("b"))
            .await
            .expect("reconnects");
        let mut b = listener.accept().await.expect("accepts");
        a.sink
            .send(vec![Bytes::from_static(b"again")])
            .await
            .expect("sends");
        assert_eq!(recv(&mut b).await, Ok(Some(Bytes::from_static(b"again"))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_refuses_until_healed() {
        let net = LocalNetwork::new();
        let (_listener, _a, mut b) = connected(&net).await;
        net.partition("b", "a");
        assert!(matches!(recv(&mut b).await, Err(TransportError::Closed(_))));
        let t = net.transport("a");
        assert!(matches!(
            t.connect(&local("b")).await,
            Err(TransportError::Unreachable(_))
        ));
        // Other pairs are not affected.
        assert!(net.transport("c").connect(&local("b")).await.is_ok());
        net.heal("a", "b");
        assert!(t.connect(&local("b")).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn delay_and_stall_keep_order() {
        let net = LocalNetwork::new();
        let (_listener, mut a, mut b) = connected(&net).await;
        net.delay("a", "b", Duration::from_millis(250));
        let start = Instant::now();
        a.sink
            .send(vec![Bytes::from_static(b"1"), Bytes::from_static(b"2")])
            .await
            .expect("sends");
        assert_eq!(recv(&mut b).await, Ok(Some(Bytes::from_static(b"1"))));
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        assert_eq!(recv(&mut b).await, Ok(Some(Bytes::from_static(b"2"))));

        net.delay("a", "b", Duration::ZERO);
        net.stall("a", "b");
        a.sink
            .send(vec![Bytes::from_static(b"3")])
            .await
            .expect("sends");
        let held = tokio::time::timeout(Duration::from_secs(60), recv(&mut b)).await;
        assert!(held.is_err(), "a stalled frame must not arrive");
        net.resume("a", "b");
        assert_eq!(recv(&mut b).await, Ok(Some(Bytes::from_static(b"3"))));
    }
}
