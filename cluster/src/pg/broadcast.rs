//! One message for every member of a group: a cast to each member on
//! this node, and one frame for each other node, which hands it to each
//! of its members there.

use beamish_core::{LookupError, Message, NodeName, RemoteSendError};

use super::Scope;

/// Why a [`broadcast`](Scope::broadcast) did not reach every member: the
/// members it was sent to, and what failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the broadcast reached {sent} members; {} failed", failures.len())]
#[non_exhaustive]
pub struct BroadcastError {
    /// The members it was sent to.
    pub sent: usize,
    /// What failed, member by member on this node, node by node
    /// elsewhere.
    pub failures: Vec<BroadcastFailure>,
}

/// A part of a broadcast that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BroadcastFailure {
    /// A member on this node: it has ended, or it takes another message
    /// type.
    Local(LookupError),
    /// The members on another node: the frame for them could not go.
    Node {
        /// The node.
        node: NodeName,
        /// Its members that were not sent the message.
        members: usize,
        /// Why.
        error: RemoteSendError,
    },
}

impl Scope {
    /// Sends `msg` to every member of `group`, once per listing (a process
    /// that joined twice gets it twice): cast to each member on this node,
    /// which must take `M`, without encoding; encoded once and sent in one
    /// frame to each other node (more than
    /// [`MAX_MULTICAST`](beamish_core::dist::MAX_MULTICAST) members there
    /// take several), which delivers it to each of its members there. Those
    /// must be [exported](beamish_core::Node::export) for `M`, as for any
    /// message from another node; one that is not is a dead letter there.
    ///
    /// Each member gets it in order with everything else the sending
    /// process sends to it. It returns once every frame is queued, waiting
    /// for room where too much waits to go out to a node (and where a
    /// member on this node has a full bounded mailbox), as
    /// [`Addr::cast`](beamish_core::Addr::cast) does; it returns the
    /// number of members it was sent to. Erlang has no such call: there it
    /// is `[Pid ! Msg || Pid <- pg:get_members(Scope, Group)]`, which sends
    /// a node as many copies as it has members.
    ///
    /// # Errors
    ///
    /// [`BroadcastError`] with every part that failed (a member on this
    /// node that ended or takes another type, a node that could not be
    /// sent to) and the number of members it was sent to; the other parts
    /// went.
    pub async fn broadcast<M: Message + Clone>(
        &self,
        group: &str,
        msg: &M,
    ) -> Result<usize, BroadcastError> {
        let node = self.node();
        let me = node.name();
        let mut sent = 0;
        let mut failures = Vec::new();
        let by_node = self.table().by_node(group);
        for (at, pids) in by_node.iter().filter(|(at, _)| *at != me) {
            match node.cast_remote_many(*at, pids, msg).await {
                Ok(()) => sent += pids.len(),
                Err(error) => failures.push(BroadcastFailure::Node {
                    node: *at,
                    members: pids.len(),
                    error,
                }),
            }
        }
        if let Some((_, pids)) = by_node.iter().find(|(at, _)| *at == me) {
            for pid in pids.iter() {
                let cast = match node.handle::<M>(*pid) {
                    Ok(member) => member
                        .cast(msg.clone())
                        .await
                        .map_err(|_| LookupError::NoProc(*pid)),
                    Err(error) => Err(error),
                };
                match cast {
                    Ok(()) => sent += 1,
                    Err(error) => failures.push(BroadcastFailure::Local(error)),
                }
            }
        }
        if failures.is_empty() {
            Ok(sent)
        } else {
            Err(BroadcastError { sent, failures })
        }
    }
}
