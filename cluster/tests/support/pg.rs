//! Process groups on members: a scope on each, workers that report what
//! they receive, and a transport that counts the message frames a node
//! sends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use beamish_cluster::pg::Scope;
use beamish_core::transport::{
    Connection, Endpoint, FrameSink, Listener, LocalNetwork, SharedSecret, Transport,
    TransportError,
};
use beamish_core::{Context, ExitReason, Handle, Node, Pid, Process, SpawnOpts};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::Member;

/// A member of the cluster with the default scope.
pub struct PgMember {
    pub member: Member,
    pub scope: Scope,
}

impl PgMember {
    pub async fn start(net: &LocalNetwork, name: &str, seeds: &[&str]) -> Self {
        Self::with(Member::start(net, name, seeds).await).await
    }

    pub async fn with(member: Member) -> Self {
        let scope = Scope::start_default(&member.node)
            .await
            .expect("the scope starts");
        Self { member, scope }
    }

    pub fn node(&self) -> &Node {
        &self.member.node
    }

    /// A worker that reports each message it gets, exported.
    pub fn worker(&self, seen: &mpsc::UnboundedSender<(Pid, String)>) -> Handle<String> {
        self.node()
            .spawn_opt::<Worker>(seen.clone(), SpawnOpts::new().export::<String>())
            .expect("the worker spawns")
    }

    /// A worker that reports nowhere.
    pub fn idle(&self) -> Handle<String> {
        idle_on(self.node())
    }
}

/// A worker on `node` that reports nowhere, exported.
pub fn idle_on(node: &Node) -> Handle<String> {
    let (seen, _) = mpsc::unbounded_channel();
    node.spawn_opt::<Worker>(seen, SpawnOpts::new().export::<String>())
        .expect("the worker spawns")
}

/// Whether every one of `members` lists exactly `expected` (in any
/// order) in `group`.
pub fn all_list(members: &[&PgMember], group: &str, expected: &[Pid]) -> bool {
    let mut expected = expected.to_vec();
    expected.sort();
    members.iter().all(|member| {
        let mut listed = member.scope.members(group);
        listed.sort();
        listed == expected
    })
}

/// Reports each message it gets, with its own pid.
pub struct Worker {
    seen: mpsc::UnboundedSender<(Pid, String)>,
}

#[async_trait]
impl Process for Worker {
    type Args = mpsc::UnboundedSender<(Pid, String)>;
    type Msg = String;

    async fn init(_: &mut Context<String>, seen: Self::Args) -> Result<Self, ExitReason> {
        Ok(Self { seen })
    }

    async fn handle(&mut self, ctx: &mut Context<String>, msg: String) -> Result<(), ExitReason> {
        let _ = self.seen.send((ctx.pid(), msg));
        Ok(())
    }
}

/// The message frames of one message type (by wire id) a node sent: to a
/// single process (first byte 0x00 or 0x01), or a multicast (0x03).
#[derive(Debug)]
pub struct Sent {
    pub wire_id: u64,
    pub single: AtomicU64,
    pub multicast: AtomicU64,
}

impl Sent {
    pub fn of<M: beamish_core::Message>() -> Arc<Self> {
        Arc::new(Self {
            wire_id: M::WIRE_ID,
            single: AtomicU64::new(0),
            multicast: AtomicU64::new(0),
        })
    }

    fn count(&self, frame: &[u8]) {
        let u16_at = |at: usize| {
            frame
                .get(at..at + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        };
        let (counter, type_at) = match frame.first() {
            Some(0x00) => (&self.single, Some(13)),
            Some(0x01) => (&self.single, u16_at(1).map(|len| 3 + len)),
            Some(0x03) => (&self.multicast, u16_at(1).map(|n| 3 + 12 * n)),
            _ => return,
        };
        let wire_id = type_at
            .and_then(|at| frame.get(at..at + 8))
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes);
        if wire_id == Some(self.wire_id) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub fn single(&self) -> u64 {
        self.single.load(Ordering::SeqCst)
    }

    pub fn multicast(&self) -> u64 {
        self.multicast.load(Ordering::SeqCst)
    }
}

/// A transport that counts the message frames its node sends.
pub struct Counting<T> {
    pub inner: T,
    pub sent: Arc<Sent>,
}

#[async_trait]
impl<T: Transport> Transport for Counting<T> {
    fn scheme(&self) -> &'static str {
        self.inner.scheme()
    }

    async fn listen(&self, endpoint: &Endpoint) -> Result<Box<dyn Listener>, TransportError> {
        let inner = self.inner.listen(endpoint).await?;
        Ok(Box::new(CountingListener {
            inner,
            sent: Arc::clone(&self.sent),
        }))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Connection, TransportError> {
        let conn = self.inner.connect(endpoint).await?;
        Ok(counted(conn, &self.sent))
    }

    fn use_secret(&self, secret: SharedSecret) {
        self.inner.use_secret(secret);
    }

    fn use_node_name(&self, name: &str) {
        self.inner.use_node_name(name);
    }
}

fn counted(mut conn: Connection, sent: &Arc<Sent>) -> Connection {
    let sink = std::mem::replace(&mut conn.sink, Box::new(Closed));
    conn.sink = Box::new(CountingSink {
        inner: sink,
        sent: Arc::clone(sent),
    });
    conn
}

#[derive(Debug)]
struct CountingListener {
    inner: Box<dyn Listener>,
    sent: Arc<Sent>,
}

#[async_trait]
impl Listener for CountingListener {
    fn endpoint(&self) -> Endpoint {
        self.inner.endpoint()
    }

    async fn accept(&mut self) -> Result<Connection, TransportError> {
        let conn = self.inner.accept().await?;
        Ok(counted(conn, &self.sent))
    }
}

#[derive(Debug)]
struct CountingSink {
    inner: Box<dyn FrameSink>,
    sent: Arc<Sent>,
}

#[async_trait]
impl FrameSink for CountingSink {
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        for frame in &frames {
            self.sent.count(frame);
        }
        self.inner.send(frames).await
    }

    async fn close(&mut self) {
        self.inner.close().await;
    }
}

/// Stands in for a sink while it is being wrapped.
#[derive(Debug)]
struct Closed;

#[async_trait]
impl FrameSink for Closed {
    async fn send(&mut self, _: Vec<Bytes>) -> Result<(), TransportError> {
        Err(TransportError::Closed("being wrapped".into()))
    }

    async fn close(&mut self) {}
}
