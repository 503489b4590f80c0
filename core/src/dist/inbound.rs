//! What arrives from peers: each frame decoded and delivered, with a
//! durable transport's acknowledgement carried along until the message is
//! handled; and frames left from an earlier session, delivered by name.

use super::cluster::Cluster;
use super::envelope::{Envelope, ReplyOutcome};
use super::wire;
use crate::node::{warn_limited, Finished, Settled};
use crate::node::{Arrival, CallWatch};
use crate::process::links::monitored_for;
use crate::transport::{Ack, Connection, Incoming};
use crate::{Node, NodeName};

impl Cluster {
    /// Handles one frame from a peer: a tick, or an envelope. A frame that
    /// is too large or cannot be decoded ends the connection (and, being
    /// one that can never be handled, is acknowledged).
    pub(crate) async fn received(
        &self,
        node: &Node,
        from: NodeName,
        frame: Incoming,
    ) -> Result<(), String> {
        let (payload, ack) = frame.into_parts();
        let finished = ack.map(|ack| acknowledge(node, ack));
        self.deliver(node, Some(from), &payload, finished).await
    }

    /// Delivers what a connection resumed from an earlier session with
    /// `from` carries (see `Connection::resumed_from`): messages only, by
    /// name or to pids that still exist; signals of that session are void.
    pub(crate) async fn resumed(&self, node: &Node, from: &str, mut conn: Connection) {
        tracing::info!(peer = %from, via = %conn.peer, "delivering frames left from an earlier session");
        let mut delivered = 0_u64;
        loop {
            match conn.stream.recv().await {
                Ok(Some(frame)) => {
                    let (payload, ack) = frame.into_parts();
                    let finished = ack.map(|ack| acknowledge(node, ack));
                    if let Err(why) = self.deliver(node, None, &payload, finished).await {
                        warn_limited!(
                            node.inner.warnings,
                            "earlier session",
                            from,
                            "dropped a frame left from an earlier session: {why}"
                        );
                    }
                    delivered += 1;
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(peer = %from, "frames left from an earlier session: {err}");
                    break;
                }
            }
        }
        tracing::debug!(peer = %from, delivered, "frames left from an earlier session done");
    }

    /// Delivers one frame from `from`, or, for a frame of an earlier
    /// session (`from` is `None`), only the message it carries.
    async fn deliver(
        &self,
        node: &Node,
        from: Option<NodeName>,
        payload: &[u8],
        finished: Option<Finished>,
    ) -> Result<(), String> {
        let done = |finished: Option<Finished>| {
            if let Some(finished) = finished {
                finished(Settled::Handled);
            }
        };
        if payload.is_empty() {
            done(finished);
            return Ok(());
        }
        if payload.len() > self.config.max_frame {
            done(finished);
            return Err(format!(
                "a frame of {} bytes exceeds the limit of {}",
                payload.len(),
                self.config.max_frame
            ));
        }
        if wire::is_multicast(payload) {
            return match wire::decode_multicast(payload) {
                Ok(multicast) => {
                    self.deliver_multicast(node, from, multicast, finished)
                        .await;
                    Ok(())
                }
                Err(err) => {
                    done(finished);
                    Err(format!("undecodable frame: {err}"))
                }
            };
        }
        if wire::is_message(payload) {
            return match wire::decode_message(payload) {
                Ok(message) => {
                    node.dispatch(
                        from,
                        message.to,
                        message.msg_type,
                        message.payload,
                        finished,
                    )
                    .await;
                    Ok(())
                }
                Err(err) => {
                    done(finished);
                    Err(format!("undecodable frame: {err}"))
                }
            };
        }
        match rmp_serde::from_slice::<Envelope>(payload) {
            Ok(Envelope::Call {
                id,
                to,
                watcher,
                mref,
                msg_type,
                payload,
            }) => {
                let Some(caller) = from else {
                    // A call of an earlier session: its caller is gone.
                    done(finished);
                    return Ok(());
                };
                if watcher.node() != caller {
                    done(finished);
                    node.inner
                        .forged(caller, "a call on behalf of another node");
                    return Ok(());
                }
                // The callee is watched for the caller before the request
                // reaches it, so an exit while handling it is reported;
                // the request's reply token takes the watch down as it
                // answers.
                let target = node
                    .inner
                    .resolve(&to)
                    .filter(|proc| monitored_for(&**proc, watcher, mref));
                let outcome = match target {
                    None => {
                        // The caller has its answer: nothing comes again.
                        let answered = Settled::Handled;
                        node.dispatch_to(
                            None,
                            &to,
                            (msg_type, payload),
                            finished,
                            answered,
                            Arrival::default(),
                        )
                        .await;
                        Some(ReplyOutcome::NoProc)
                    }
                    Some(target) => {
                        let callee = target.core().pid;
                        let call = CallWatch {
                            caller,
                            id,
                            callee,
                            mref,
                        };
                        let answered = Settled::Handled;
                        let refused = node
                            .dispatch_to(
                                Some(target),
                                &to,
                                (msg_type, payload),
                                finished,
                                answered,
                                Arrival {
                                    from,
                                    call: Some(call),
                                },
                            )
                            .await;
                        refused.map(|why| {
                            node.inner.unwatch_call(callee, mref);
                            ReplyOutcome::Rejected(why)
                        })
                    }
                };
                if let Some(outcome) = outcome {
                    let reply = Envelope::Reply {
                        id,
                        outcome,
                        unwatched: true,
                    };
                    node.inner.send_control(caller, &reply);
                }
                Ok(())
            }
            Ok(signal) => {
                if let Some(peer) = from {
                    node.inner.remote_signal(peer, signal);
                }
                done(finished);
                Ok(())
            }
            Err(err) => {
                done(finished);
                Err(format!("undecodable frame: {err}"))
            }
        }
    }
}

/// What to call once a message is finished with: send its acknowledgement,
/// off the process's own task.
fn acknowledge(node: &Node, ack: Box<dyn Ack>) -> Finished {
    let runtime = node.inner.runtime.clone();
    Box::new(move |settled| {
        runtime.spawn(async move {
            let told = match settled {
                Settled::Handled => ack.ack().await,
                Settled::Failed => ack.failed().await,
            };
            if let Err(err) = told {
                tracing::debug!("the transport could not be told a frame was settled: {err}");
            }
        });
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::Message;
    use async_trait::async_trait;
    use bytes::Bytes;
    use tokio::sync::{mpsc, Semaphore};

    use super::*;
    use crate::dist::envelope::Dest;
    use crate::dist::Cookie;
    use crate::transport::{FrameSink, FrameStream, LocalNetwork, Transport, TransportError};
    use crate::{ClusterConfig, Context, ExitReason, Pid, Process, SpawnOpts};

    /// What became of a frame's acknowledgement.
    #[derive(Debug, PartialEq, Eq)]
    enum Fate {
        Acked(u64),
        /// Told its handler failed.
        Failed(u64),
        DroppedUnacked(u64),
    }

    #[derive(Debug)]
    struct Tracked {
        id: u64,
        fates: mpsc::UnboundedSender<Fate>,
        acked: bool,
    }

    #[async_trait]
    impl Ack for Tracked {
        async fn ack(mut self: Box<Self>) -> Result<(), TransportError> {
            self.acked = true;
            let _ = self.fates.send(Fate::Acked(self.id));
            Ok(())
        }

        async fn failed(mut self: Box<Self>) -> Result<(), TransportError> {
            self.acked = true;
            let _ = self.fates.send(Fate::Failed(self.id));
            Ok(())
        }
    }

    /// Acknowledges as `Tracked` does, and leaves failures to the default.
    #[derive(Debug)]
    struct Plain(Tracked);

    #[async_trait]
    impl Ack for Plain {
        async fn ack(self: Box<Self>) -> Result<(), TransportError> {
            Box::new(self.0).ack().await
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            if !self.acked {
                let _ = self.fates.send(Fate::DroppedUnacked(self.id));
            }
        }
    }

    /// Reports each number, then waits for a permit before returning;
    /// panics on 13.
    struct Gated {
        seen: mpsc::UnboundedSender<u64>,
        gate: Arc<Semaphore>,
    }

    #[async_trait]
    impl Process for Gated {
        type Args = (mpsc::UnboundedSender<u64>, Arc<Semaphore>);
        type Msg = u64;

        async fn init(_: &mut Context<u64>, (seen, gate): Self::Args) -> Result<Self, ExitReason> {
            Ok(Self { seen, gate })
        }

        async fn handle(&mut self, _: &mut Context<u64>, n: u64) -> Result<(), ExitReason> {
            let _ = self.seen.send(n);
            assert_ne!(n, 13, "unlucky");
            self.gate
                .acquire()
                .await
                .map_err(|_| ExitReason::Shutdown)?
                .forget();
            Ok(())
        }
    }

    struct Fixture {
        node: Node,
        cluster: Arc<Cluster>,
        seen: mpsc::UnboundedReceiver<u64>,
        gate: Arc<Semaphore>,
        fates: mpsc::UnboundedReceiver<Fate>,
        fate_tx: mpsc::UnboundedSender<Fate>,
        pid: Pid,
        peer: NodeName,
    }

    impl Fixture {
        async fn new() -> Self {
            let node = Node::builder()
                .name("inbound@localhost")
                .build()
                .expect("runtime");
            let transport: Arc<dyn Transport> = Arc::new(LocalNetwork::new().transport("i"));
            node.join(ClusterConfig::new(Cookie::new("s")), vec![transport], &[])
                .await
                .expect("joins");
            let (seen_tx, seen) = mpsc::unbounded_channel();
            let gate = Arc::new(Semaphore::new(0));
            let handle = node
                .spawn_opt::<Gated>((seen_tx, Arc::clone(&gate)), SpawnOpts::new().name("p"))
                .expect("spawns");
            node.export(&handle);
            let (fate_tx, fates) = mpsc::unbounded_channel();
            Self {
                cluster: node.cluster().expect("joined"),
                node,
                seen,
                gate,
                fates,
                fate_tx,
                pid: handle.pid(),
                peer: NodeName::new("peer@localhost").expect("valid"),
            }
        }

        fn frame(&self, id: u64, to: Dest, n: u64) -> Incoming {
            Incoming::with_ack(encode(to, n), Box::new(self.tracked(id)))
        }

        /// Hands `frame` to the node as if it came from the peer.
        async fn deliver(&self, frame: Incoming) {
            self.cluster
                .received(&self.node, self.peer, frame)
                .await
                .expect("delivered");
        }

        /// An acknowledgement that reports its fate as `id`.
        fn tracked(&self, id: u64) -> Tracked {
            Tracked {
                id,
                fates: self.fate_tx.clone(),
                acked: false,
            }
        }
    }

    fn encode<M: Message>(to: Dest, msg: M) -> Bytes {
        wire::encode_message(&to, &msg).expect("encodes")
    }

    fn named() -> Dest {
        Dest::Name("p".into())
    }

    #[tokio::test]
    async fn a_frame_is_acknowledged_once_its_handler_returns() {
        let mut f = Fixture::new().await;
        for id in 1..=2 {
            let frame = f.frame(id, named(), id);
            f.deliver(frame).await;
        }
        assert_eq!(f.seen.recv().await, Some(1), "the handler runs");
        assert!(f.fates.try_recv().is_err(), "nothing is acknowledged yet");
        f.gate.add_permits(1);
        assert_eq!(f.fates.recv().await, Some(Fate::Acked(1)));
        assert_eq!(f.seen.recv().await, Some(2));
        assert!(f.fates.try_recv().is_err(), "the second is still running");
        f.gate.add_permits(1);
        assert_eq!(f.fates.recv().await, Some(Fate::Acked(2)));
    }

    /// A durable frame no process takes comes again (its process may be
    /// restarting, or not exported yet), up to the transport's limit.
    #[tokio::test]
    async fn dead_letters_and_wrong_types_are_failures() {
        let mut f = Fixture::new().await;
        let nobody = f.frame(1, Dest::Name("nobody".into()), 1);
        f.deliver(nobody).await;
        assert_eq!(f.fates.recv().await, Some(Fate::Failed(1)));
        let wrong = Incoming::with_ack(encode(named(), "text".to_owned()), Box::new(f.tracked(2)));
        f.deliver(wrong).await;
        assert_eq!(f.fates.recv().await, Some(Fate::Failed(2)));
        assert_eq!(f.node.stats().dead_letters, 2);
    }

    #[tokio::test]
    async fn a_frame_whose_handler_panicked_is_not_acknowledged() {
        let mut f = Fixture::new().await;
        let watch = f.node.monitor(f.pid);
        let poison = f.frame(13, named(), 13);
        f.deliver(poison).await;
        assert!(matches!(watch.await, ExitReason::Panic(_)));
        // The transport hears the handler failed, and decides.
        assert_eq!(f.fates.recv().await, Some(Fate::Failed(13)));
        // The process is gone: what comes next is a dead letter, for the
        // transport to deliver again until the process is back or its
        // limit is reached.
        let next = f.frame(14, named(), 14);
        f.deliver(next).await;
        assert_eq!(f.fates.recv().await, Some(Fate::Failed(14)));
    }

    /// Frames from a vector, then the end of the stream.
    #[derive(Debug)]
    struct Frames(std::vec::IntoIter<Incoming>);

    #[async_trait]
    impl FrameStream for Frames {
        async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
            Ok(self.0.next())
        }
    }

    #[derive(Debug)]
    struct NoSink;

    #[async_trait]
    impl FrameSink for NoSink {
        async fn send(&mut self, _: Vec<Bytes>) -> Result<(), TransportError> {
            Err(TransportError::Closed("receive only".into()))
        }
        async fn close(&mut self) {}
    }

    #[tokio::test]
    async fn frames_of_an_earlier_session_reach_named_processes() {
        let mut f = Fixture::new().await;
        f.gate.add_permits(10);
        let stale_pid = Dest::Id {
            id: f.pid.id(),
            creation: crate::Creation::fresh(),
        };
        let link = Envelope::Link {
            from: f.pid,
            to: f.pid,
        };
        let signal = Incoming::with_ack(
            Bytes::from(rmp_serde::to_vec(&link).expect("encodes")),
            Box::new(f.tracked(3)),
        );
        let frames = vec![f.frame(1, named(), 7), f.frame(2, stale_pid, 8), signal];
        let conn = Connection::new(
            Box::new(NoSink),
            Box::new(Frames(frames.into_iter())),
            "test".into(),
        )
        .resumed("old@localhost");
        f.cluster.resumed(&f.node, "old@localhost", conn).await;
        assert_eq!(f.seen.recv().await, Some(7), "by name: delivered");
        let mut fates = Vec::new();
        for _ in 0..3 {
            fates.push(f.fates.recv().await.expect("a fate"));
        }
        fates.sort_by_key(|fate| format!("{fate:?}"));
        // The stale pid is a dead letter: failed, so the transport's
        // limit decides what becomes of it.
        assert_eq!(
            fates,
            vec![Fate::Acked(1), Fate::Acked(3), Fate::Failed(2)],
            "every frame is finished with"
        );
        assert!(f.seen.try_recv().is_err(), "the stale pid got nothing");
        assert_eq!(f.node.stats().dead_letters, 1, "the stale pid's message");
        assert!(
            f.node
                .process_info(f.pid)
                .is_some_and(|info| info.links.is_empty()),
            "signals of the old session are void"
        );
    }

    #[tokio::test]
    async fn undecodable_or_oversized_frames_end_the_connection() {
        let node = Node::builder()
            .name("u@localhost")
            .build()
            .expect("runtime");
        let transport: Arc<dyn Transport> = Arc::new(LocalNetwork::new().transport("u"));
        let config = ClusterConfig::new(Cookie::new("s")).max_frame(64);
        node.join(config, vec![transport], &[])
            .await
            .expect("joins");
        let cluster = node.cluster().expect("joined");
        let frame = |bytes: Vec<u8>| Incoming::new(Bytes::from(bytes));
        let peer = NodeName::new("peer@localhost").expect("valid");
        assert_eq!(
            cluster.received(&node, peer, frame(vec![])).await,
            Ok(()),
            "a tick"
        );
        let garbage = cluster.received(&node, peer, frame(vec![0xc1; 3])).await;
        assert!(matches!(garbage, Err(why) if why.contains("undecodable")));
        let oversized = cluster.received(&node, peer, frame(vec![0; 65])).await;
        assert!(matches!(oversized, Err(why) if why.contains("exceeds")));
    }

    #[tokio::test]
    async fn by_default_a_failed_frame_is_left_unacknowledged() {
        let mut f = Fixture::new().await;
        let watch = f.node.monitor(f.pid);
        let poison = Incoming::with_ack(encode(named(), 13_u64), Box::new(Plain(f.tracked(13))));
        f.deliver(poison).await;
        assert!(matches!(watch.await, ExitReason::Panic(_)));
        // Unacknowledged: the transport delivers it again.
        assert_eq!(f.fates.recv().await, Some(Fate::DroppedUnacked(13)));
    }

    #[tokio::test]
    async fn frames_left_in_the_mailbox_of_a_process_that_ended_come_again() {
        let mut f = Fixture::new().await;
        let watch = f.node.monitor(f.pid);
        for id in 1..=2 {
            let frame = f.frame(id, named(), id);
            f.deliver(frame).await;
        }
        assert_eq!(f.seen.recv().await, Some(1), "the first is being handled");
        f.node.exit(f.pid, ExitReason::Kill);
        assert_eq!(watch.await, ExitReason::Killed);
        // Killed in its handler: failed; the second was never handled. The
        // transport may hear of them in either order.
        let mut fates = vec![
            f.fates.recv().await.expect("a fate"),
            f.fates.recv().await.expect("a fate"),
        ];
        fates.sort_by_key(|fate| matches!(fate, Fate::DroppedUnacked(_)));
        assert_eq!(fates, vec![Fate::Failed(1), Fate::DroppedUnacked(2)]);
    }
}
