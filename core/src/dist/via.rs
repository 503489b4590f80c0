//! Addresses through a name registry, Erlang's `{via, Module, Name}`: the
//! registry is asked who holds the name on every send.

use std::fmt;
use std::sync::{Arc, Weak};

use super::addr::{upgrade, Addr, Direct, To};
use super::envelope::Dest;
use crate::node::NodeInner;
use crate::{LookupError, Message, Node, Pid};

/// A name registry an [`Addr`] can resolve names through, as Erlang's
/// `{via, Module, Name}` asks `Module:whereis_name(Name)` on every send.
///
/// A cluster-wide registry (`beamish_cluster::Global`, Erlang's `global`)
/// is one; implement it for your own (a registry kept in a database, a
/// consistent-hash ring). It must answer at once, without waiting: it is
/// asked on every send.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, RwLock};
/// use beamish_core::{async_trait, Addr, CastError, Context, ExitReason, Node, Pid, Process};
/// use beamish_core::{Registry, SpawnOpts};
///
/// /// Names kept in a map shared with whoever registers them.
/// #[derive(Default)]
/// struct Names(RwLock<HashMap<String, Pid>>);
///
/// impl Registry for Names {
///     fn whereis(&self, name: &str) -> Option<Pid> {
///         self.0.read().ok()?.get(name).copied()
///     }
/// }
///
/// struct Printer;
///
/// #[async_trait]
/// impl Process for Printer {
///     type Args = ();
///     type Msg = String;
///     async fn init(_: &mut Context<String>, _: ()) -> Result<Self, ExitReason> {
///         Ok(Printer)
///     }
///     async fn handle(&mut self, _: &mut Context<String>, _: String) -> Result<(), ExitReason> {
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::new()?;
/// let names = Arc::new(Names::default());
/// let printer: Addr<String> = Addr::via(&node, names.clone(), "printer");
/// // Nobody holds the name yet: as a process that has ended.
/// assert_eq!(printer.cast("lost".to_owned()).await, Err(CastError::NoProc));
///
/// let pid = node.start::<Printer>((), SpawnOpts::new()).await?.pid();
/// if let Ok(mut table) = names.0.write() {
///     table.insert("printer".to_owned(), pid);
/// }
/// printer.cast("found".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
pub trait Registry: Send + Sync + 'static {
    /// The process that holds `name` now, on this node or another.
    fn whereis(&self, name: &str) -> Option<Pid>;
}

/// A name, and the registry that resolves it.
#[derive(Clone)]
pub(crate) struct Via {
    node: Weak<NodeInner>,
    registry: Arc<dyn Registry>,
    name: Arc<str>,
}

impl Via {
    /// Who holds the name now, addressed directly: a local process must
    /// take `M`.
    pub(super) fn resolve<M: Message>(&self) -> Result<Direct<M>, LookupError> {
        let pid = self
            .registry
            .whereis(&self.name)
            .ok_or_else(|| LookupError::NotRegistered(Arc::clone(&self.name)))?;
        let Some(node) = upgrade(&self.node) else {
            return Err(LookupError::NoProc(pid));
        };
        if pid.node() == node.name() {
            return node.handle::<M>(pid).map(Direct::Local);
        }
        Ok(Direct::Remote {
            node: self.node.clone(),
            at: pid.node(),
            dest: Dest::of(pid),
        })
    }
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "via {:?}", self.name)
    }
}

impl<M: Message> Addr<M> {
    /// An address for the process that holds `name` in `registry`, asked
    /// again on every send, as Erlang's `{via, Module, Name}`: a name that
    /// passes to another process, here or on another node, is followed
    /// by the next send. Sending to a name nobody holds fails as sending
    /// to a process that has ended does ([`CastError::NoProc`](crate::CastError::NoProc),
    /// [`CallError::NoProc`](crate::CallError::NoProc)).
    ///
    /// `node` is the node the messages are sent from.
    pub fn via(node: &Node, registry: Arc<dyn Registry>, name: impl Into<Arc<str>>) -> Self {
        Self {
            to: To::Via(Via {
                node: Arc::downgrade(&node.inner),
                registry,
                name: name.into(),
            }),
        }
    }
}
