//! What other nodes may ask of a dynamic supervisor: the remote-facing
//! request type, its wire name, and how the supervisor answers it.

use std::fmt;

use beamish_core::{CallError, ExitReason, Message, Pid, Process, ReplyTo, SpawnOpts};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{DynamicError, DynamicMsg, DynamicSpec};
use crate::api::ChildCounts;

/// A process that a dynamic supervisor on another node can start: its
/// arguments travel to that node, its messages are sent to it there, and
/// it has a stable name that the supervisor's requests are known by on
/// the wire.
///
/// # Examples
///
/// ```
/// use beamish_core::{async_trait, Context, ExitReason, Message, Process};
/// use beamish_supervisor::RemoteChild;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Message)]
/// #[message(name = "sessions.Ping")]
/// struct Ping;
///
/// struct Session;
///
/// #[async_trait]
/// impl Process for Session {
///     type Args = String;
///     type Msg = Ping;
///     async fn init(_: &mut Context<Ping>, _user: String) -> Result<Self, ExitReason> {
///         Ok(Session)
///     }
///     async fn handle(&mut self, _: &mut Context<Ping>, _: Ping) -> Result<(), ExitReason> {
///         Ok(())
///     }
/// }
///
/// impl RemoteChild for Session {
///     const NAME: &'static str = "sessions.Session";
/// }
/// ```
pub trait RemoteChild: Process<Args: Serialize + DeserializeOwned + Clone, Msg: Message> {
    /// The child type's name on the wire, stable across builds, as
    /// [`Message::NAME`] is: requests to a dynamic supervisor of this
    /// type are known as `beamish.DynamicSupervisor<NAME>`, so a node
    /// that asks a supervisor of another child type is refused instead of
    /// misread. At most 200 bytes.
    const NAME: &'static str;
}

/// The longest [`RemoteChild::NAME`].
const MAX_CHILD_NAME: usize = 200;
/// Room for the wire name of a dynamic supervisor's requests.
const MAX_NAME: usize = 256;
const PREFIX: &str = "beamish.DynamicSupervisor<";

/// A request to a dynamic supervisor from another node, as a
/// [`DynamicAddr`](super::DynamicAddr) sends it. Known on the wire as
/// `beamish.DynamicSupervisor<NAME>`, `NAME` being the child type's
/// [`RemoteChild::NAME`]; its contents are private.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "P::Args: Serialize",
    deserialize = "P::Args: DeserializeOwned"
))]
pub struct DynamicRequest<P: Process>(pub(super) Request<P>);

#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "P::Args: Serialize",
    deserialize = "P::Args: DeserializeOwned"
))]
pub(super) enum Request<P: Process> {
    StartChild(P::Args, ReplyTo<Result<Pid, WireError>>),
    TerminateChild(Pid, ReplyTo<Result<(), WireError>>),
    WhichChildren(ReplyTo<Vec<WireChild>>),
    CountChildren(ReplyTo<ChildCounts>),
}

/// A [`DynamicError`] as it crosses the wire.
#[derive(Serialize, Deserialize, Debug)]
pub(super) enum WireError {
    Full {
        max: usize,
    },
    NotFound(Pid),
    Start(ExitReason),
    Ignored,
    /// Anything else, said in words.
    Other(String),
}

/// A running child as it crosses the wire.
#[derive(Serialize, Deserialize, Debug)]
pub(super) struct WireChild {
    pub(super) pid: Pid,
    pub(super) restarts: u64,
}

impl<P: RemoteChild> DynamicRequest<P> {
    /// `PREFIX`, the child's name and `>`, in a buffer long enough.
    const SPELLED: ([u8; MAX_NAME], usize) = spell(P::NAME);
}

impl<P: RemoteChild> Message for DynamicRequest<P> {
    const NAME: &'static str = {
        let (bytes, _) = Self::SPELLED.0.split_at(Self::SPELLED.1);
        match std::str::from_utf8(bytes) {
            Ok(name) => name,
            Err(_) => panic!("a wire name made of two strings is a string"),
        }
    };
}

/// `beamish.DynamicSupervisor<name>` at compile time.
const fn spell(name: &str) -> ([u8; MAX_NAME], usize) {
    let mut out = [0u8; MAX_NAME];
    let parts = [PREFIX.as_bytes(), name.as_bytes(), b">"];
    assert!(
        name.len() <= MAX_CHILD_NAME,
        "RemoteChild::NAME is longer than 200 bytes"
    );
    let mut len = 0;
    let mut part = 0;
    while part < parts.len() {
        let bytes = parts[part];
        let mut i = 0;
        while i < bytes.len() {
            out[len] = bytes[i];
            len += 1;
            i += 1;
        }
        part += 1;
    }
    (out, len)
}

impl<P: Process> From<DynamicRequest<P>> for DynamicMsg<P> {
    fn from(request: DynamicRequest<P>) -> Self {
        DynamicMsg::Remote(request)
    }
}

impl<P: Process> fmt::Debug for DynamicRequest<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.0 {
            Request::StartChild(..) => "StartChild(..)",
            Request::TerminateChild(..) => "TerminateChild(..)",
            Request::WhichChildren(_) => "WhichChildren(..)",
            Request::CountChildren(_) => "CountChildren(..)",
        };
        f.debug_tuple("DynamicRequest").field(&what).finish()
    }
}

impl From<DynamicError> for WireError {
    fn from(err: DynamicError) -> Self {
        match err {
            DynamicError::Full { max } => Self::Full { max },
            DynamicError::NotFound(pid) => Self::NotFound(pid),
            DynamicError::Start(reason) => Self::Start(reason),
            DynamicError::Ignored => Self::Ignored,
            other => Self::Other(other.to_string()),
        }
    }
}

impl From<WireError> for DynamicError {
    fn from(err: WireError) -> Self {
        match err {
            WireError::Full { max } => Self::Full { max },
            WireError::NotFound(pid) => Self::NotFound(pid),
            WireError::Start(reason) => Self::Start(reason),
            WireError::Ignored => Self::Ignored,
            WireError::Other(why) => Self::Call(CallError::Rejected(why)),
        }
    }
}

impl<P: RemoteChild> DynamicSpec<P> {
    /// Lets other nodes reach the supervisor and its children: the
    /// supervisor is [exported](beamish_core::Node::export_as) under its
    /// remote-facing requests only ([`DynamicRequest`], which a
    /// [`DynamicAddr`](super::DynamicAddr) sends), and every child is
    /// exported under `P::Msg` from its start and after every restart, so
    /// the address [`DynamicAddr::start_child`](super::DynamicAddr::start_child)
    /// returns reaches it. This replaces an export set in the children's
    /// or the supervisor's own spawn options.
    pub fn exported(mut self) -> Self {
        self.opts = self.opts.export::<P::Msg>();
        self.export = Some(|opts: SpawnOpts| opts.export_as::<DynamicRequest<P>, DynamicMsg<P>>());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beamish_core::{async_trait, Context};

    struct Child;

    #[async_trait]
    impl Process for Child {
        type Args = ();
        type Msg = ();
        async fn init(_: &mut Context<()>, _: ()) -> Result<Self, ExitReason> {
            Ok(Child)
        }
        async fn handle(&mut self, _: &mut Context<()>, _: ()) -> Result<(), ExitReason> {
            Ok(())
        }
    }

    impl RemoteChild for Child {
        const NAME: &'static str = "tests.Child";
    }

    #[test]
    fn the_wire_name_names_the_child_type() {
        assert_eq!(
            <DynamicRequest<Child> as Message>::NAME,
            "beamish.DynamicSupervisor<tests.Child>"
        );
        assert_eq!(
            <DynamicRequest<Child> as Message>::WIRE_ID,
            beamish_core::wire_id("beamish.DynamicSupervisor<tests.Child>")
        );
    }
}
