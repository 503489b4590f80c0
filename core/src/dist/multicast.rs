//! One message for several processes of another node, sent as one frame
//! (a multicast) and delivered there to each, as if each had been sent
//! its own copy.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::cluster::Cluster;
use super::envelope::{encode_send, Dest};
use super::outbox::Outgoing;
use super::send::RemoteSendError;
use super::wire::{self, MulticastFrame};
use crate::node::{Finished, Settled};
use crate::{Message, Node, NodeName, Pid};

impl Node {
    /// Sends `msg` to each of the processes `to`, all on the node `node`,
    /// as [`send_remote`](Self::send_remote) sends to one, but encodes it
    /// once and sends it in one frame (a multicast) that the node
    /// delivers to each: a message for a thousand processes of one node
    /// crosses the wire once, not a thousand times.
    ///
    /// Each process gets the message as if sent alone: it must be
    /// [exported](Self::export) for the message's type, one that has
    /// ended is a dead letter there, and the message keeps its order with
    /// everything else the sending process sends to it. A process listed
    /// twice gets it twice.
    ///
    /// More than [`MAX_MULTICAST`](crate::dist::MAX_MULTICAST) processes
    /// take several frames; a node that does not read multicast frames
    /// (an older one), or is not connected yet, is sent one frame per
    /// process. It never waits: when too much already waits for the node,
    /// it fails with [`RemoteSendError::Busy`], and when several frames
    /// were needed, the first ones may have gone (use
    /// [`cast_remote_many`](Self::cast_remote_many) to wait for room
    /// instead).
    ///
    /// # Errors
    ///
    /// [`RemoteSendError::WrongNode`] if one of `to` is not on `node`
    /// (nothing is sent then), and the errors of
    /// [`send_remote`](Self::send_remote).
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::{Node, Pid, RemoteSendError};
    ///
    /// /// Tells every worker of `workers` (all on one other node) to stop.
    /// fn stop_all(node: &Node, workers: &[Pid]) -> Result<(), RemoteSendError> {
    ///     let Some(first) = workers.first() else { return Ok(()) };
    ///     node.send_remote_many(first.node(), workers, &"stop".to_owned())
    /// }
    /// # let _ = stop_all;
    /// ```
    pub fn send_remote_many<M: Message>(
        &self,
        node: NodeName,
        to: &[Pid],
        msg: &M,
    ) -> Result<(), RemoteSendError> {
        for frame in self.multicast_frames(node, to, msg)? {
            self.try_queue_frame(node, Outgoing::new(frame))?;
        }
        Ok(())
    }

    /// Sends `msg` to each of the processes `to` on `node` as
    /// [`send_remote_many`](Self::send_remote_many) does, but waits for
    /// room while too much already waits to go out to that node, as
    /// [`cast_remote`](Self::cast_remote) does.
    ///
    /// # Errors
    ///
    /// As for [`send_remote_many`](Self::send_remote_many), but never
    /// `Busy`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before every frame is queued drops the frames
    /// not queued yet.
    pub async fn cast_remote_many<M: Message>(
        &self,
        node: NodeName,
        to: &[Pid],
        msg: &M,
    ) -> Result<(), RemoteSendError> {
        for frame in self.multicast_frames(node, to, msg)? {
            self.queue_frame_waiting(node, Outgoing::new(frame)).await?;
        }
        Ok(())
    }

    /// The frames that carry `msg` to each of `to` on `node`.
    fn multicast_frames<M: Message>(
        &self,
        node: NodeName,
        to: &[Pid],
        msg: &M,
    ) -> Result<Vec<Bytes>, RemoteSendError> {
        if let Some(pid) = to.iter().find(|pid| pid.node() != node) {
            return Err(RemoteSendError::WrongNode { pid: *pid, node });
        }
        if to.is_empty() {
            return Ok(Vec::new());
        }
        let reads_multicast = self
            .inner
            .cluster()
            .is_some_and(|cluster| cluster.reads_multicast(node));
        if reads_multicast {
            return wire::encode_multicast(to, msg);
        }
        to.iter()
            .map(|pid| encode_send(Dest::of(*pid), msg, None))
            .collect()
    }
}

impl Cluster {
    /// Delivers a multicast frame from `from` (`None` for one left from an
    /// earlier session) to each process it names, in order, as one message
    /// frame each; a durable transport's acknowledgement goes
    /// once every one of them is finished with (as failed if any failed).
    pub(super) async fn deliver_multicast(
        &self,
        node: &Node,
        from: Option<NodeName>,
        frame: MulticastFrame<'_>,
        finished: Option<Finished>,
    ) {
        let parts = Parts::split(finished, frame.len());
        for to in frame.targets() {
            let message = (frame.msg_type, frame.payload);
            if parts.is_none() && node.deliver_now(from, &to, message) {
                continue;
            }
            let finished = parts.as_ref().map(Parts::part);
            node.dispatch(from, to, frame.msg_type, frame.payload, finished)
                .await;
        }
    }
}

/// One acknowledgement shared by the deliveries of a multicast.
struct Parts {
    /// Deliveries not finished with yet.
    left: AtomicUsize,
    failed: AtomicBool,
    finished: Mutex<Option<Finished>>,
}

impl Parts {
    fn split(finished: Option<Finished>, parts: usize) -> Option<Arc<Self>> {
        finished.map(|finished| {
            Arc::new(Self {
                left: AtomicUsize::new(parts),
                failed: AtomicBool::new(false),
                finished: Mutex::new(Some(finished)),
            })
        })
    }

    /// What one delivery calls once finished with.
    fn part(self: &Arc<Self>) -> Finished {
        let parts = Arc::clone(self);
        Box::new(move |settled| {
            if settled == Settled::Failed {
                parts.failed.store(true, Ordering::Release);
            }
            if parts.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                let all = if parts.failed.load(Ordering::Acquire) {
                    Settled::Failed
                } else {
                    Settled::Handled
                };
                if let Some(finished) = parts.finished.lock().take() {
                    finished(all);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the shared acknowledgement was told, if anything.
    fn settle(parts: usize, each: &[Settled]) -> Vec<Settled> {
        let told = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&told);
        let finished: Finished = Box::new(move |settled| record.lock().push(settled));
        let shared = Parts::split(Some(finished), parts).expect("one to share");
        for settled in each {
            shared.part()(*settled);
        }
        let told = told.lock().clone();
        told
    }

    #[test]
    fn a_multicast_is_acknowledged_once_when_every_delivery_is_finished_with() {
        use Settled::{Failed, Handled};
        assert_eq!(settle(3, &[Handled, Handled]), [], "one still running");
        assert_eq!(settle(3, &[Handled; 3]), [Handled]);
        assert_eq!(
            settle(3, &[Handled, Failed, Handled]),
            [Failed],
            "comes again"
        );
        assert!(Parts::split(None, 3).is_none(), "nothing to acknowledge");
    }
}
