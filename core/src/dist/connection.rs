//! One authenticated connection's life: reading what the peer sends,
//! heartbeats both ways, and why it ended.
//!
//! A node that leaves its cluster says so to each peer that offered
//! [`LEAVE_NOTICE`] in the handshake: a one-byte frame, [`LEAVING`],
//! written after everything else it had queued, before it closes the
//! connection. The peer reads on to the end (a transport with several
//! lanes may deliver the notice before the rest), then reports the node
//! as [`Lost::PeerLeft`] rather than a bare close.

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cluster::Cluster;
use super::outbox::{Outbox, Outgoing};
use super::protocol::{Beat, Heartbeat};
use crate::transport::FrameStream;
use crate::{Lost, Node, NodeName};

impl Cluster {
    /// Keeps one connection alive until it is lost, closed, silent or
    /// stopped, delivering what arrives; a writer task of its own writes
    /// what is queued, in batches while the socket is busy. Returns why the
    /// connection ended.
    pub(super) async fn serve(
        &self,
        node: &Node,
        link: Link,
        stream: Box<dyn FrameStream>,
        stopped: mpsc::Receiver<()>,
    ) -> Lost {
        let mut left = false;
        let why = self.read(node, link, stream, stopped, &mut left).await;
        match why {
            // However it ended once the peer said it leaves, it left.
            Lost::Closed | Lost::Reset(_) | Lost::HeartbeatTimeout if left => Lost::PeerLeft,
            why => why,
        }
    }

    async fn read(
        &self,
        node: &Node,
        link: Link,
        mut stream: Box<dyn FrameStream>,
        mut stopped: mpsc::Receiver<()>,
        left: &mut bool,
    ) -> Lost {
        let Link {
            from,
            via: peer,
            outbox,
            heartbeat,
        } = link;
        // Silence is checked once a tick, and what was heard is noted then
        // too: no clock read or timer per frame.
        let mut clock = tokio::time::interval(self.config.heartbeat.tick);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = false;
        // A peer declared down has its connection closed and what waits
        // for it dropped at once, not written first.
        let silent = || {
            outbox.abort();
            Lost::HeartbeatTimeout
        };
        loop {
            tokio::select! {
                _ = stopped.recv() => return Lost::Disconnected,
                now = clock.tick() => {
                    if !tick(&heartbeat, &outbox, now, std::mem::take(&mut heard)) {
                        return silent();
                    }
                }
                frame = stream.recv() => match frame {
                    Ok(Some(frame)) if frame.payload[..] == *LEAVING => {
                        heard = true;
                        *left = true;
                        let _ = frame.ack().await;
                    }
                    Ok(Some(frame)) => {
                        heard = true;
                        // A delivery may wait for room in a bounded
                        // mailbox, holding the connection's reading back
                        // (the sender feels it); heartbeats go on
                        // meanwhile, the peer counting as heard.
                        let delivery = self.received(node, from, frame);
                        tokio::pin!(delivery);
                        // Most deliveries finish at once: only one that
                        // waits pays for watching the clock meanwhile.
                        let first = poll_fn(|cx| Poll::Ready(delivery.as_mut().poll(cx))).await;
                        let delivered = if let Poll::Ready(delivered) = first {
                            delivered
                        } else {
                            loop {
                                tokio::select! {
                                    delivered = &mut delivery => break delivered,
                                    _ = stopped.recv() => return Lost::Disconnected,
                                    now = clock.tick() => {
                                        if !tick(&heartbeat, &outbox, now, true) {
                                            return silent();
                                        }
                                    }
                                }
                            }
                        };
                        if let Err(why) = delivered {
                            tracing::warn!(%peer, "closing the connection: {why}");
                            return Lost::Protocol(why);
                        }
                    }
                    Ok(None) => return Lost::Closed,
                    Err(err) => return Lost::Reset(err.to_string()),
                },
            }
        }
    }
}

/// The capability bit of a node that tells its peers when it leaves
/// (and understands [`LEAVING`]).
pub(super) const LEAVE_NOTICE: u64 = 1;

/// The bit a hidden node offers ([`ClusterConfig::hidden`](crate::ClusterConfig::hidden)):
/// it says what the node is, so it counts whether or not the other side
/// offers it too.
pub(super) const HIDDEN: u64 = 2;

/// The capability bit of a node that reads multicast frames (see
/// `wire::MAX_MULTICAST`); a peer without it is sent one message frame
/// per process instead.
pub(super) const MULTICAST: u64 = 4;

/// The frame that says the sender leaves its cluster. Neither a message
/// frame (which starts 0x00 or 0x01) nor an envelope (a map), nor a tick
/// (empty).
pub(super) const LEAVING: &[u8] = &[0x02];

/// One heartbeat tick: notes whether the peer was heard since the last
/// one, and sends a tick if it is time. Returns `false` if the peer is to
/// be taken for down.
fn tick(heartbeat: &Mutex<Heartbeat>, outbox: &Outbox, now: Instant, heard: bool) -> bool {
    let beat = {
        let mut beat = heartbeat.lock();
        if heard {
            beat.heard(now);
        }
        beat.poll(now)
    };
    match beat {
        Beat::PeerDown => false,
        // An empty frame is a tick; it goes out with the rest.
        Beat::SendTick => {
            drop(outbox.push(Outgoing::node_level(Bytes::new())));
            true
        }
        Beat::Wait => true,
    }
}

/// An authenticated connection's way out and what its task needs to know.
pub(super) struct Link {
    pub(super) from: NodeName,
    /// The peer's address, for logs.
    pub(super) via: String,
    pub(super) outbox: Arc<Outbox>,
    pub(super) heartbeat: Arc<Mutex<Heartbeat>>,
}
