//! Location-transparent addresses: one typed address for a process on this
//! node or on another, by pid or by registered name, with the same `cast`
//! and `call` either way.

use std::fmt;
use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;

use super::envelope::{encode_send, Dest};
use super::outbox::Outgoing;
use super::via::Via;
use crate::node::NodeInner;
use crate::Disconnect::NotJoined;
use crate::{
    CallError, Handle, LookupError, Message, Node, NodeName, Pid, RemoteSendError, ReplyTo,
    Timeout, TrySendError,
};

/// A typed address of a process taking messages of type `M`, wherever it
/// runs: on this node (messages are moved into its mailbox, never
/// serialized) or on another (encoded with rmp-serde; the process must be
/// [exported](Node::export) there). Get one from [`Node::addr`],
/// [`Node::addr_named`] or a [`Handle`].
///
/// An address by name resolves the name on every send, as Erlang's
/// `{Name, Node} ! Msg` does, so a restarted process that registered the
/// same name receives what is sent after its restart.
///
/// Cheap to clone; holds no strong reference to the node.
///
/// # Examples
///
/// ```
/// use beamish_core::{async_trait, Addr, Context, ExitReason, Node, Process, SpawnOpts};
///
/// struct Greeter;
///
/// #[async_trait]
/// impl Process for Greeter {
///     type Args = ();
///     type Msg = String;
///     async fn init(_: &mut Context<String>, _: ()) -> Result<Self, ExitReason> {
///         Ok(Greeter)
///     }
///     async fn handle(&mut self, _: &mut Context<String>, _: String) -> Result<(), ExitReason> {
///         Ok(())
///     }
/// }
///
/// /// Knows nothing of where the greeter runs.
/// async fn greet(greeter: &Addr<String>) {
///     greeter.cast("hello".to_owned()).await.expect("delivered");
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::new()?;
/// node.start::<Greeter>((), SpawnOpts::new().name("greeter")).await?;
/// // On another node: `node.addr_named("greeter", other_node_name)`.
/// greet(&node.addr_named("greeter", node.name())).await;
/// # Ok(())
/// # }
/// ```
pub struct Addr<M> {
    pub(super) to: To<M>,
}

/// Where an [`Addr`] sends: straight to a process, or through a name
/// registry asked on every send.
pub(super) enum To<M> {
    Direct(Direct<M>),
    Via(Via),
}

/// A process addressed without a registry.
pub(super) enum Direct<M> {
    Local(Handle<M>),
    LocalNamed {
        node: Weak<NodeInner>,
        name: Arc<str>,
    },
    Remote {
        node: Weak<NodeInner>,
        at: NodeName,
        dest: Dest,
    },
}

/// Why a [`cast`](Addr::cast) through an [`Addr`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CastError {
    /// The local process has ended (or no local process has the name, or
    /// no process holds it in the registry of an [`Addr::via`]); counted
    /// as a dead letter.
    #[error("the process does not exist")]
    NoProc,
    /// The local name is held by a process taking another message type.
    #[error(transparent)]
    Lookup(LookupError),
    /// The message could not go to the other node.
    #[error(transparent)]
    Remote(#[from] RemoteSendError),
}

impl CastError {
    /// A failed lookup, as a cast reports it: a name held by a process of
    /// another type says so, anything else is a process that is not there.
    fn from_lookup(err: LookupError) -> Self {
        match err {
            LookupError::WrongType { .. } => Self::Lookup(err),
            _ => Self::NoProc,
        }
    }

    /// Why there was no connection to the process's node, if that is why
    /// the cast failed.
    pub fn no_connection(&self) -> Option<&crate::Disconnect> {
        match self {
            Self::Remote(err) => err.no_connection(),
            _ => None,
        }
    }
}

/// Why a [`try_cast`](Addr::try_cast) did not send; the message is
/// handed back.
#[derive(PartialEq, Eq, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TryCastError<M> {
    /// No room now: a bounded mailbox is full, or too much waits to go out
    /// to the process's node. Try again later, or [`cast`](Addr::cast),
    /// which waits.
    #[error("no room now")]
    Full(M),
    /// It cannot be sent: why.
    #[error("{0}")]
    Failed(CastError, M),
}

impl<M> TryCastError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            Self::Full(msg) | Self::Failed(_, msg) => msg,
        }
    }
}

impl<M> fmt::Debug for TryCastError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Failed(err, _) => f.debug_tuple("Failed").field(err).finish(),
        }
    }
}

impl<M: Message> Addr<M> {
    /// The process's pid, unless it is addressed by name.
    pub fn pid(&self) -> Option<Pid> {
        match &self.to {
            To::Direct(Direct::Local(handle)) => Some(handle.pid()),
            To::Direct(Direct::LocalNamed { .. }) | To::Via(_) => None,
            To::Direct(Direct::Remote { at, dest, .. }) => match dest {
                Dest::Id { id, creation } => Some(Pid::new(*at, *id, *creation)),
                Dest::Name(_) => None,
            },
        }
    }

    /// Whether the process is addressed on this node; `false` for an
    /// address through a registry ([`Addr::via`]), whose name may be held
    /// anywhere.
    pub fn is_local(&self) -> bool {
        matches!(
            self.to,
            To::Direct(Direct::Local(_) | Direct::LocalNamed { .. })
        )
    }

    /// Sends a message without waiting for it to be handled, like
    /// [`Handle::cast`] here and [`Node::send_remote`] elsewhere: over the
    /// wire it returns once the message is queued for the connection,
    /// waiting for room while too much already waits to go out to that
    /// node (the receiver does not keep up), as a bounded mailbox makes a
    /// local cast wait.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the message is queued drops it unsent.
    ///
    /// # Errors
    ///
    /// [`CastError::NoProc`] for a local process that has ended,
    /// [`CastError::Lookup`] for a local name held by a process of another
    /// type, [`CastError::Remote`] if the message cannot go to its node
    /// (no connection, cannot be encoded, too large). A message that
    /// reaches a remote node but no process there is a dead letter on that
    /// node.
    pub async fn cast(&self, msg: M) -> Result<(), CastError> {
        let resolved;
        let direct = match &self.to {
            To::Direct(direct) => direct,
            To::Via(via) => {
                resolved = via.resolve::<M>().map_err(CastError::from_lookup)?;
                &resolved
            }
        };
        match direct {
            Direct::Local(handle) => handle.cast(msg).await.map_err(|_| CastError::NoProc),
            Direct::LocalNamed { node, name } => {
                let handle = local_named::<M>(node, name).map_err(CastError::from_lookup)?;
                handle.cast(msg).await.map_err(|_| CastError::NoProc)
            }
            Direct::Remote { node, at, dest } => {
                let node = upgrade(node).ok_or(RemoteSendError::NoConnection(*at, NotJoined))?;
                let frame = encode_send(dest.clone(), &msg, None)?;
                Ok(node.queue_frame_waiting(*at, Outgoing::new(frame)).await?)
            }
        }
    }

    /// Sends a message if that needs no waiting: a full bounded mailbox
    /// here, or, for another node, a connection with too much waiting to
    /// go out already ([`ClusterConfig::outbox_limit`](crate::ClusterConfig::outbox_limit)),
    /// hands it back as [`TryCastError::Full`].
    ///
    /// # Errors
    ///
    /// [`TryCastError::Full`] as above; [`TryCastError::Failed`] with why
    /// for anything [`cast`](Self::cast) would fail on. The message is
    /// handed back either way.
    ///
    /// # Examples
    ///
    /// A producer that sheds load instead of waiting:
    ///
    /// ```
    /// use beamish_core::{Addr, TryCastError};
    ///
    /// fn offer(worker: &Addr<u64>, job: u64, shed: &mut Vec<u64>) {
    ///     match worker.try_cast(job) {
    ///         Ok(()) => {}
    ///         // No room now: keep it for later.
    ///         Err(TryCastError::Full(job)) => shed.push(job),
    ///         // It cannot go at all (the worker is gone, its node is not
    ///         // connected): the error says why.
    ///         Err(err) => {
    ///             let why = err.to_string();
    ///             tracing::warn!("job {} dropped: {why}", err.into_inner());
    ///         }
    ///     }
    /// }
    /// # let _ = offer;
    /// ```
    pub fn try_cast(&self, msg: M) -> Result<(), TryCastError<M>> {
        let local = |handle: &Handle<M>, msg: M| {
            handle.try_cast(msg).map_err(|err| match err {
                TrySendError::Full(msg) => TryCastError::Full(msg),
                TrySendError::NoProc(msg) => TryCastError::Failed(CastError::NoProc, msg),
            })
        };
        let resolved;
        let direct = match &self.to {
            To::Direct(direct) => direct,
            To::Via(via) => match via.resolve::<M>() {
                Ok(direct) => {
                    resolved = direct;
                    &resolved
                }
                Err(err) => return Err(TryCastError::Failed(CastError::from_lookup(err), msg)),
            },
        };
        match direct {
            Direct::Local(handle) => local(handle, msg),
            Direct::LocalNamed { node, name } => match local_named::<M>(node, name) {
                Ok(handle) => local(&handle, msg),
                Err(err) => Err(TryCastError::Failed(CastError::from_lookup(err), msg)),
            },
            Direct::Remote { node, at, dest } => {
                let Some(node) = upgrade(node) else {
                    let err = RemoteSendError::NoConnection(*at, NotJoined);
                    return Err(TryCastError::Failed(err.into(), msg));
                };
                let frame = match encode_send(dest.clone(), &msg, None) {
                    Ok(frame) => frame,
                    Err(err) => return Err(TryCastError::Failed(err.into(), msg)),
                };
                match node.try_queue_frame(*at, Outgoing::new(frame)) {
                    Ok(()) => Ok(()),
                    Err(RemoteSendError::Busy(_)) => Err(TryCastError::Full(msg)),
                    Err(err) => Err(TryCastError::Failed(err.into(), msg)),
                }
            }
        }
    }

    /// Sends a request and waits for its reply, like [`Handle::call`] here
    /// and [`Node::call_remote`] elsewhere.
    ///
    /// # Errors
    ///
    /// As those: [`CallError::Timeout`], [`CallError::NoProc`],
    /// [`CallError::Exited`], [`CallError::NoReply`],
    /// [`CallError::CallToSelf`], and across nodes
    /// [`CallError::NoConnection`], [`CallError::Rejected`] and
    /// [`CallError::BadReply`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the call; a reply is then dropped.
    pub async fn call<R, F>(&self, request: F, timeout: impl Into<Timeout>) -> Result<R, CallError>
    where
        R: DeserializeOwned + Send + 'static,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        let timeout = timeout.into();
        let resolved;
        let direct = match &self.to {
            To::Direct(direct) => direct,
            To::Via(via) => {
                resolved = via.resolve::<M>().map_err(|_| CallError::NoProc)?;
                &resolved
            }
        };
        match direct {
            Direct::Local(handle) => handle.call(request, timeout).await,
            Direct::LocalNamed { node, name } => {
                let handle = local_named::<M>(node, name).map_err(|_| CallError::NoProc)?;
                handle.call(request, timeout).await
            }
            Direct::Remote { node, at, dest } => {
                let node = upgrade(node).ok_or(CallError::NoConnection(NotJoined))?;
                node.call_dest(*at, dest.clone(), request, timeout).await
            }
        }
    }

    /// [`call`](Self::call) without a timeout (Erlang's `infinity`): the
    /// call ends with the reply or with the callee's end, the loss of its
    /// node, or a refusal, never by itself.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call), without [`CallError::Timeout`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the call; a reply is then dropped.
    pub async fn call_infinity<R, F>(&self, request: F) -> Result<R, CallError>
    where
        R: DeserializeOwned + Send + 'static,
        F: FnOnce(ReplyTo<R>) -> M,
    {
        self.call(request, Timeout::Infinity).await
    }
}

pub(super) fn upgrade(node: &Weak<NodeInner>) -> Option<Node> {
    node.upgrade().map(|inner| Node { inner })
}

fn local_named<M: Send + 'static>(
    node: &Weak<NodeInner>,
    name: &str,
) -> Result<Handle<M>, LookupError> {
    upgrade(node)
        .ok_or_else(|| LookupError::NotRegistered(name.into()))?
        .named(name)
}

impl Node {
    /// A location-transparent address for `pid`: on this node the process
    /// must take `M`; on another node the type is checked when a message
    /// arrives there (a mismatch is a dead letter there, and a call fails
    /// with [`CallError::Rejected`]).
    ///
    /// # Errors
    ///
    /// For a local pid, as [`handle`](Self::handle): not alive, or another
    /// message type.
    pub fn addr<M: Message>(&self, pid: Pid) -> Result<Addr<M>, LookupError> {
        if pid.node() == self.name() {
            return self.handle(pid).map(Addr::from);
        }
        Ok(Addr {
            to: To::Direct(Direct::Remote {
                node: Arc::downgrade(&self.inner),
                at: pid.node(),
                dest: Dest::of(pid),
            }),
        })
    }

    /// A location-transparent address for the process registered as
    /// `name` on `node` (this node or another), resolved on every send.
    pub fn addr_named<M: Message>(&self, name: &str, node: NodeName) -> Addr<M> {
        let direct = if node == self.name() {
            Direct::LocalNamed {
                node: Arc::downgrade(&self.inner),
                name: name.into(),
            }
        } else {
            Direct::Remote {
                node: Arc::downgrade(&self.inner),
                at: node,
                dest: Dest::Name(name.to_owned()),
            }
        };
        Addr {
            to: To::Direct(direct),
        }
    }
}

impl<M> From<Handle<M>> for Addr<M> {
    fn from(handle: Handle<M>) -> Self {
        Self {
            to: To::Direct(Direct::Local(handle)),
        }
    }
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        let to = match &self.to {
            To::Direct(direct) => To::Direct(direct.clone()),
            To::Via(via) => To::Via(via.clone()),
        };
        Self { to }
    }
}

impl<M> fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.to {
            To::Direct(Direct::Local(handle)) => f.debug_tuple("Addr").field(handle).finish(),
            To::Direct(Direct::LocalNamed { name, .. }) => {
                f.debug_tuple("Addr").field(name).finish()
            }
            To::Direct(Direct::Remote { at, dest, .. }) => {
                f.debug_tuple("Addr").field(at).field(dest).finish()
            }
            To::Via(via) => f.debug_tuple("Addr").field(via).finish(),
        }
    }
}

impl<M> Clone for Direct<M> {
    fn clone(&self) -> Self {
        match self {
            Self::Local(handle) => Self::Local(handle.clone()),
            Self::LocalNamed { node, name } => Self::LocalNamed {
                node: node.clone(),
                name: Arc::clone(name),
            },
            Self::Remote { node, at, dest } => Self::Remote {
                node: node.clone(),
                at: *at,
                dest: dest.clone(),
            },
        }
    }
}
