//! The seam between the node and distribution. Everything the local
//! runtime sends to other nodes leaves through [`Distribution`], and
//! everything it takes from them arrives through the types below; `dist/`
//! implements the one and produces the others, and nothing else in the
//! node or in `process/` knows how other nodes are reached.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{AnyProcess, NodeInner};
use crate::{ExitReason, MonitorRef, NodeName, Pid};

/// How a node reaches other nodes: set once, when it joins a cluster.
pub(crate) trait Distribution: Send + Sync + 'static {
    /// Sends `signal` to `node`. Returns `false` if `node` cannot be
    /// reached; the caller then acts as for a lost connection.
    fn signal(&self, node: NodeName, signal: RemoteSignal) -> bool;

    /// `watcher` receives [`Signal::NodeDown`](crate::Signal::NodeDown)
    /// once `node` is lost. Returns `false` if `node` is not connected (the
    /// caller tells the watcher at once).
    fn monitor_node(&self, node: NodeName, watcher: Pid) -> bool;

    /// `watcher` hears of every node that connects or is lost from now on,
    /// or no longer if `on` is `false`.
    fn monitor_nodes(&self, watcher: Pid, on: bool);

    /// The node is shutting down and leaves its cluster: it stops
    /// listening (freeing its endpoints), and closes every connection
    /// once what is queued on it is written, so that peers see it go at
    /// once rather than by its silence. Nothing connects afterwards. The
    /// future returned ends once the endpoints are free.
    fn leave(&self) -> Pin<Box<dyn Future<Output = ()> + Send>>;

    /// The implementation, so that the distribution layer finds its own
    /// state behind the node.
    fn as_any(&self) -> &dyn Any;
}

/// What the local runtime tells another node: the link, monitor and exit
/// signals between processes on either side, and answers to calls made
/// from there.
#[derive(Debug)]
pub(crate) enum RemoteSignal {
    /// `from` links itself to `to`.
    Link { from: Pid, to: Pid },
    /// `from` removes its link to `to`.
    Unlink { from: Pid, to: Pid },
    /// `watcher` starts monitoring `target`.
    Monitor {
        watcher: Pid,
        target: Pid,
        mref: MonitorRef,
    },
    /// `watcher` stops monitoring `target`.
    Demonitor {
        target: Pid,
        mref: MonitorRef,
        watcher: Pid,
    },
    /// A monitored process ended (or did not exist).
    Down {
        mref: MonitorRef,
        watcher: Pid,
        target: Pid,
        reason: ExitReason,
    },
    /// An exit signal: from a link when `link` is set, else `exit/2`.
    Exit {
        from: Pid,
        to: Pid,
        reason: ExitReason,
        link: bool,
    },
    /// The answer to the call numbered `id` made from the receiving node;
    /// `unwatched` if the call's monitor on the callee was taken down with
    /// it.
    Reply {
        id: u64,
        answer: Answered,
        unwatched: bool,
    },
}

/// How a process answered a call made from another node.
#[derive(Debug)]
pub(crate) enum Answered {
    /// The reply, encoded.
    Value(Vec<u8>),
    /// The callee dropped the token, or its reply could not be encoded.
    NoReply,
}

/// A call's request as its callee's node sees it: who called, and the
/// monitor the node holds on the callee for the caller until it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallWatch {
    pub(crate) caller: NodeName,
    pub(crate) id: u64,
    pub(crate) callee: Pid,
    pub(crate) mref: MonitorRef,
}

/// How a message came from another node: the peer whose connection
/// carried it (`None` for a frame left from an earlier session), and, for
/// a call's request, the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub(crate) from: Option<NodeName>,
    pub(crate) call: Option<CallWatch>,
}

/// Called once a message from a durable transport is finished with: its
/// handler returned, or its call was answered ([`Settled::Handled`]); or
/// its handler panicked or was killed, or no process took it, a dead
/// letter ([`Settled::Failed`]). A message left in the mailbox of a process
/// that ended, or of a node that crashed, is never finished with, so the
/// transport delivers it again.
pub(crate) type Finished = Box<dyn FnOnce(Settled) + Send>;

/// How a message from a durable transport, or one cast with
/// [`Handle::cast_settled`](crate::Handle::cast_settled), was finished
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Handled (or, for a call, answered): the transport may forget it.
    Handled,
    /// Its handler failed, or no process took it: the transport decides
    /// whether it comes again.
    Failed,
}

/// How a decoded message went into its mailbox: at once (`true` if it
/// was queued), or by a future that waits for room in a bounded mailbox.
pub(crate) enum Delivery {
    Done(bool),
    Waiting(Pin<Box<dyn Future<Output = bool> + Send>>),
}

/// What an exported process keeps for messages from other nodes: decodes
/// a payload into the process's message type and delivers it; once
/// decoded, the message takes what is to be called when it is finished
/// with (a durable transport's acknowledgement). For a call's request,
/// the call is given, so that its reply token can take the call's monitor
/// down as it answers. It is given the node and the process it was
/// looked up as, so that it holds no reference to either itself.
pub(crate) type Decoder = Arc<
    dyn Fn(
            &Arc<NodeInner>,
            &Arc<dyn AnyProcess>,
            &[u8],
            &mut Option<Finished>,
            Arrival,
        ) -> Result<Delivery, String>
        + Send
        + Sync,
>;

/// What an exported process takes from other nodes: the wire name and id
/// of the message type, and how to decode and deliver one.
pub(crate) struct Exported {
    pub(crate) name: &'static str,
    pub(crate) id: u64,
    pub(crate) decode: Decoder,
}
