//! The reply token of a call, local or routed back across nodes.

use std::fmt;
use std::sync::Weak;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::oneshot;

use super::decoding::with_decoding;
use crate::node::{Answered, CallWatch, NodeInner, RemoteSignal};
use crate::NodeName;

/// The token a process answers a call with.
///
/// Reply at once or keep the token and reply later (as `gen_server:reply`
/// allows). Dropping it without replying ends the call with
/// [`CallError::NoReply`](crate::CallError::NoReply).
///
/// A token travels inside the request, so it is serializable: a remote
/// call's token is a route back to the calling node (its name and the
/// call's number), and replying to it sends the reply there. A token for a
/// local call cannot be sent to another node.
pub struct ReplyTo<R> {
    inner: Option<Inner<R>>,
}

enum Inner<R> {
    /// A call on this node.
    Local(oneshot::Sender<Answer<R>>),
    /// On the calling node: stands for a pending remote call.
    Route { node: NodeName, id: u64 },
    /// On the called node: the reply goes back through the cluster.
    Remote {
        node: Weak<NodeInner>,
        caller: NodeName,
        id: u64,
        /// The call's monitor on the callee, for the token of the request
        /// it came in: taken down as the answer goes, so the caller need
        /// not send word that the call is over.
        watch: Option<CallWatch>,
        encode: fn(&R) -> Result<Vec<u8>, String>,
    },
}

/// What travels back to a local caller.
pub(crate) enum Answer<R> {
    Value(R),
    /// The token was dropped by a panicking process.
    Ending,
}

impl<R> ReplyTo<R> {
    pub(crate) fn local(tx: oneshot::Sender<Answer<R>>) -> Self {
        Self {
            inner: Some(Inner::Local(tx)),
        }
    }

    pub(crate) fn route(node: NodeName, id: u64) -> Self {
        Self {
            inner: Some(Inner::Route { node, id }),
        }
    }

    /// Sends the reply. Returns `false` if the caller is known to be no
    /// longer waiting (it timed out or was cancelled) or cannot be reached;
    /// the reply is then dropped.
    pub fn reply(mut self, value: R) -> bool {
        match self.inner.take() {
            Some(Inner::Local(tx)) => tx.send(Answer::Value(value)).is_ok(),
            Some(Inner::Remote {
                node,
                caller,
                id,
                watch,
                encode,
            }) => match encode(&value) {
                Ok(bytes) => answer(&node, caller, id, watch, Answered::Value(bytes)),
                Err(err) => {
                    tracing::warn!(%caller, "a reply could not be encoded: {err}");
                    answer(&node, caller, id, watch, Answered::NoReply)
                }
            },
            Some(Inner::Route { .. }) | None => false,
        }
    }

    /// Whether the caller has stopped waiting (known for local calls only).
    pub fn is_abandoned(&self) -> bool {
        match &self.inner {
            Some(Inner::Local(tx)) => tx.is_closed(),
            Some(_) => false,
            None => true,
        }
    }
}

/// Sends a call's answer back, first taking down the call's monitor on
/// the callee if this token holds it (and saying so).
fn answer(
    node: &Weak<NodeInner>,
    caller: NodeName,
    id: u64,
    watch: Option<CallWatch>,
    answer: Answered,
) -> bool {
    let Some(node) = node.upgrade() else {
        return false;
    };
    if let Some(watch) = watch {
        node.unwatch_call(watch.callee, watch.mref);
    }
    let unwatched = watch.is_some();
    node.send_signal(
        caller,
        RemoteSignal::Reply {
            id,
            answer,
            unwatched,
        },
    )
}

/// Whether the callee of the call `watch` stands for has begun to end:
/// its exit reason is settled before its handler and mailbox are dropped.
fn callee_ending(node: &Weak<NodeInner>, watch: Option<CallWatch>) -> bool {
    let Some(watch) = watch else {
        return false;
    };
    node.upgrade()
        .and_then(|node| node.lookup(watch.callee))
        .is_some_and(|callee| callee.core().exit.get().is_some())
}

impl<R> Drop for ReplyTo<R> {
    fn drop(&mut self) {
        match self.inner.take() {
            Some(Inner::Local(tx)) => {
                if std::thread::panicking() {
                    let _ = tx.send(Answer::Ending);
                }
            }
            Some(Inner::Remote {
                node,
                caller,
                id,
                watch,
                ..
            }) => {
                // The token of a callee that is ending (a panic, a kill,
                // an error, the node's shutdown) says nothing: the call's
                // monitor brings the caller the callee's exit reason, as a
                // local caller learns it. A token dropped by a callee that
                // goes on means it chose not to reply.
                if !std::thread::panicking() && !callee_ending(&node, watch) {
                    answer(&node, caller, id, watch, Answered::NoReply);
                }
            }
            Some(Inner::Route { .. }) | None => {}
        }
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.inner {
            Some(Inner::Local(_)) => "local",
            Some(Inner::Route { .. }) => "route",
            Some(Inner::Remote { .. }) => "remote",
            None => "used",
        };
        f.debug_struct("ReplyTo")
            .field("kind", &kind)
            .field("abandoned", &self.is_abandoned())
            .finish()
    }
}

impl<R> Serialize for ReplyTo<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.inner {
            Some(Inner::Route { node, id }) => (node, id).serialize(serializer),
            Some(Inner::Remote { caller, id, .. }) => (caller, id).serialize(serializer),
            _ => Err(S::Error::custom(
                "the reply token of a local call cannot be sent to another node; use Node::call_remote",
            )),
        }
    }
}

impl<'de, R: Serialize> Deserialize<'de> for ReplyTo<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (caller, id) = <(NodeName, u64)>::deserialize(deserializer)?;
        let (node, watch) = with_decoding(|node, decoding| {
            // Only the call's own token: any other in the request
            // (forwarded from elsewhere) answers a different call.
            let watch = decoding
                .call
                .take_if(|call| call.caller == caller && call.id == id);
            (node.clone(), watch)
        })
        .ok_or_else(|| D::Error::custom("a reply token can only be decoded by a node"))?;
        Ok(Self {
            inner: Some(Inner::Remote {
                node,
                caller,
                id,
                watch,
                encode: |value| rmp_serde::to_vec_named(value).map_err(|err| err.to_string()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_token_cannot_be_sent_to_another_node() {
        let (tx, _rx) = oneshot::channel::<Answer<u8>>();
        let err = rmp_serde::to_vec(&ReplyTo::local(tx)).expect_err("refused");
        assert!(err.to_string().contains("call_remote"), "{err}");
    }

    #[test]
    fn a_token_decodes_only_inside_a_node() {
        let bytes = rmp_serde::to_vec(&ReplyTo::<u8>::route(
            NodeName::new("a@host").expect("valid"),
            7,
        ))
        .expect("a route serializes");
        let outside = rmp_serde::from_slice::<ReplyTo<u8>>(&bytes);
        assert!(outside.is_err());
    }
}
