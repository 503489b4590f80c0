//! Error types, one per operation.

use std::fmt;
use std::sync::Arc;

use crate::{Disconnect, ExitReason, Pid};

/// A [`cast`](crate::Handle::cast) that could not be delivered; the message
/// is handed back.
#[derive(PartialEq, Eq, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<M> {
    /// The process has ended; the send was counted as a dead letter.
    #[error("the process has ended")]
    NoProc(M),
}

impl<M> SendError<M> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        match self {
            Self::NoProc(msg) => msg,
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoProc(_) => f.write_str("NoProc(..)"),
        }
    }
}

/// A [`try_cast`](crate::Handle::try_cast) that could not be delivered; the
/// message is handed back.
#[derive(PartialEq, Eq, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError<M> {
    /// The bounded mailbox has no free slot.
    #[error("the mailbox is full")]
    Full(M),
    /// The process has ended; the send was counted as a dead letter.
    #[error("the process has ended")]
    NoProc(M),
}

impl<M> TrySendError<M> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        match self {
            Self::Full(msg) | Self::NoProc(msg) => msg,
        }
    }
}

impl<M> fmt::Debug for TrySendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::NoProc(_) => f.write_str("NoProc(..)"),
        }
    }
}

/// Why a [`call`](crate::Handle::call) returned no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No reply came within the timeout; a reply that comes later is dropped.
    #[error("the call timed out")]
    Timeout,
    /// The process had ended before the request reached it.
    #[error("the process does not exist")]
    NoProc,
    /// The process ended before replying, with this reason.
    #[error("the process exited before replying: {0}")]
    Exited(ExitReason),
    /// The process dropped the reply token without replying.
    #[error("the process dropped the request without replying")]
    NoReply,
    /// A process called itself, which could only deadlock.
    #[error("a process cannot call itself")]
    CallToSelf,
    /// The callee's node is not connected, or was lost during the call:
    /// why (a refused handshake, an unreachable endpoint, a lost
    /// connection). Match `CallError::NoConnection(_)` for any cause.
    #[error("no connection to the callee's node: {0}")]
    NoConnection(Disconnect),
    /// The request could not be encoded or the reply decoded.
    #[error("the request or reply could not be encoded or decoded: {0}")]
    BadReply(String),
    /// The callee's node refused the request: the callee takes another
    /// message type, is not exported, or could not decode it.
    #[error("the request was refused: {0}")]
    Rejected(String),
}

impl CallError {
    /// Why there was no connection to the callee's node, if that is why
    /// the call failed.
    pub fn no_connection(&self) -> Option<&Disconnect> {
        match self {
            Self::NoConnection(why) => Some(why),
            _ => None,
        }
    }
}

/// Why a [`stop`](crate::Handle::stop) did not see the process end with
/// the reason it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StopError {
    /// The process had already ended.
    #[error("the process does not exist")]
    NoProc,
    /// The process had not ended within the timeout; it may still run.
    #[error("the process did not stop in time")]
    Timeout,
    /// The process ended, with another reason than the one it was given
    /// (a process that traps exits chooses its own).
    #[error("the process exited with another reason: {0}")]
    Exited(ExitReason),
}

/// Why a process could not be spawned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The node is shutting down and starts no new processes.
    #[error("the node is shutting down")]
    NodeStopping,
    /// The requested name is taken.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// The options were made for processes of another message type (an
    /// export declared with [`SpawnOpts::export`](crate::SpawnOpts::export)
    /// for another type).
    #[error("the process takes {takes}, but its options are for {given}")]
    OptionsType {
        /// The message type of the process.
        takes: &'static str,
        /// The message type the options were made for.
        given: &'static str,
    },
}

/// Why a process started with `start` is not running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// It could not be spawned.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// Its `init` failed (or it was killed during `init`) with this reason.
    #[error("init failed: {0}")]
    Init(ExitReason),
}

/// Why a name could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another process holds the name.
    #[error("the name {name:?} is already registered to {holder}")]
    NameTaken {
        /// The name.
        name: Arc<str>,
        /// The process holding it.
        holder: Pid,
    },
    /// The process already has a name.
    #[error("{pid} is already registered as {name:?}")]
    AlreadyNamed {
        /// The process.
        pid: Pid,
        /// Its current name.
        name: Arc<str>,
    },
    /// The process is not alive on this node.
    #[error("{0} is not a live process on this node")]
    NoProc(Pid),
    /// The name is empty.
    #[error("a registered name must not be empty")]
    EmptyName,
}

/// Why a process could not be found, or not with the asked message type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No process is registered under the name.
    #[error("no process is registered as {0:?}")]
    NotRegistered(Arc<str>),
    /// The process is not alive.
    #[error("{0} is not alive")]
    NoProc(Pid),
    /// The process lives on another node, which this node cannot reach.
    #[error("{0} lives on another node")]
    NotLocal(Pid),
    /// The process takes another message type than the one asked for.
    #[error("{pid} takes messages of type {actual}, not {expected}")]
    WrongType {
        /// The process.
        pid: Pid,
        /// The type asked for.
        expected: &'static str,
        /// The type it takes.
        actual: &'static str,
    },
}

/// Why a message could not be sent by name.
#[derive(PartialEq, Eq, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NamedSendError<M> {
    /// The name could not be resolved to a process taking `M`.
    #[error("{0}")]
    Lookup(LookupError, M),
    /// The process ended before the message was queued.
    #[error("the process has ended")]
    NoProc(M),
}

impl<M> NamedSendError<M> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        match self {
            Self::Lookup(_, msg) | Self::NoProc(msg) => msg,
        }
    }
}

impl<M> fmt::Debug for NamedSendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lookup(err, _) => f.debug_tuple("Lookup").field(err).finish(),
            Self::NoProc(_) => f.write_str("NoProc(..)"),
        }
    }
}

/// Why a node could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node name is not valid.
    #[error(transparent)]
    Name(#[from] crate::NodeNameError),
    /// No tokio runtime was given and none is running here.
    #[error("no tokio runtime: build the node inside one, or give one with NodeBuilder::runtime")]
    NoRuntime,
}
