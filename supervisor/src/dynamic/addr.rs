//! A dynamic supervisor wherever it runs: Erlang's
//! `supervisor:start_child({Name, Node}, Args)`, answered with the
//! location-transparent address of the child.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use beamish_core::{Addr, CallError, LookupError, Node, NodeName, Pid, Process};

use super::remote::{Request, WireChild};
use super::{DynamicError, DynamicRef, DynamicRequest, RemoteChild};
use crate::api::{ChildCounts, DEFAULT_TIMEOUT};

/// The address of a dynamic supervisor whose children run `P`, on this
/// node or on another: what [`DynamicRef`] is to a [`Handle`](beamish_core::Handle),
/// this is to an [`Addr`]. Its children are reached through the
/// [`Addr`]s it returns.
///
/// A supervisor on another node must be started from a spec marked
/// [`exported`](super::DynamicSpec::exported), which lets other nodes
/// reach it and its children; otherwise its node refuses the requests
/// ([`CallError::Rejected`]).
///
/// An address by name resolves the name on every request, as Erlang's
/// `{Name, Node}` does, so a supervisor restarted under the same name is
/// found again. Holds the node it was made on.
///
/// # Examples
///
/// ```
/// use beamish_core::{async_trait, Context, Cookie, ExitReason, Message, Node, Process, SpawnOpts};
/// use beamish_core::transport::LocalNetwork;
/// use beamish_supervisor::{DynamicAddr, DynamicRef, DynamicSpec, RemoteChild, Restart};
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Serialize, Deserialize, Message)]
/// #[message(name = "shop.Cart")]
/// enum Cart {
///     Add(String),
///     Items(beamish_core::ReplyTo<Vec<String>>),
/// }
///
/// /// One customer's cart, started at run time on the carts node.
/// struct CartServer(Vec<String>);
///
/// #[async_trait]
/// impl Process for CartServer {
///     type Args = String; // the customer
///     type Msg = Cart;
///     async fn init(_: &mut Context<Cart>, _customer: String) -> Result<Self, ExitReason> {
///         Ok(CartServer(Vec::new()))
///     }
///     async fn handle(&mut self, _: &mut Context<Cart>, msg: Cart) -> Result<(), ExitReason> {
///         match msg {
///             Cart::Add(item) => self.0.push(item),
///             Cart::Items(reply) => {
///                 reply.reply(self.0.clone());
///             }
///         }
///         Ok(())
///     }
/// }
///
/// impl RemoteChild for CartServer {
///     const NAME: &'static str = "shop.CartServer";
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let net = LocalNetwork::new();
/// let carts = Node::builder()
///     .name("carts@localhost")
///     .cookie(Cookie::new("shop"))
///     .transport(net.transport("carts"))
///     .listen("local://carts")
///     .start()
///     .await?;
/// let spec = DynamicSpec::<CartServer>::worker()
///     .restart(Restart::Transient)
///     .exported();
/// DynamicRef::start(&carts, spec, SpawnOpts::new().name("cart_sup")).await?;
///
/// let web = Node::builder()
///     .name("web@localhost")
///     .cookie(Cookie::new("shop"))
///     .transport(net.transport("web"))
///     .connect("local://carts")
///     .start()
///     .await?;
/// // supervisor:start_child({cart_sup, 'carts@localhost'}, ["ada"])
/// let cart_sup = DynamicAddr::<CartServer>::named(&web, "cart_sup", carts.name());
/// let cart = cart_sup.start_child("ada".to_owned()).await?;
/// cart.cast(Cart::Add("tea".to_owned())).await?;
/// let items = cart.call(Cart::Items, Duration::from_secs(5)).await?;
/// assert_eq!(items, ["tea"]);
/// assert_eq!(cart_sup.count_children().await?.active, 1);
/// # Ok(())
/// # }
/// ```
pub struct DynamicAddr<P: Process> {
    node: Node,
    to: To<P>,
    timeout: Duration,
}

enum To<P: Process> {
    /// Registered on this node: looked up on every request.
    LocalNamed(Arc<str>),
    /// On this node.
    LocalPid(Pid),
    /// On another node.
    Remote(NodeName, Addr<DynamicRequest<P>>),
}

/// One running child of a dynamic supervisor, as
/// [`DynamicAddr::which_children`] reports it.
#[non_exhaustive]
pub struct DynamicChildAddr<M> {
    /// Its pid.
    pub pid: Pid,
    /// Its address.
    pub addr: Addr<M>,
    /// How many times it has been restarted (each time with a new pid).
    pub restarts: u64,
}

/// Where the requests go, resolved for one request.
enum Via<'a, P: Process> {
    Local(DynamicRef<P>),
    Remote(NodeName, &'a Addr<DynamicRequest<P>>),
}

impl<P: RemoteChild> DynamicAddr<P> {
    /// The dynamic supervisor registered as `name` on the node `at` (this
    /// node or another), as Erlang's `{Name, Node}`.
    pub fn named(node: &Node, name: &str, at: NodeName) -> Self {
        let to = if at == node.name() {
            To::LocalNamed(name.into())
        } else {
            To::Remote(at, node.addr_named(name, at))
        };
        Self::new(node, to)
    }

    /// The dynamic supervisor running as `pid`, on this node or another.
    pub fn from_pid(node: &Node, pid: Pid) -> Self {
        let to = if pid.node() == node.name() {
            To::LocalPid(pid)
        } else {
            match node.addr(pid) {
                Ok(addr) => To::Remote(pid.node(), addr),
                // Only a local pid is looked up, and this one is not local.
                Err(_) => To::LocalPid(pid),
            }
        };
        Self::new(node, to)
    }

    fn new(node: &Node, to: To<P>) -> Self {
        Self {
            node: node.clone(),
            to,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How long requests wait for an answer (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The supervisor's pid, unless it is addressed by name.
    pub fn pid(&self) -> Option<Pid> {
        match &self.to {
            To::LocalNamed(_) => None,
            To::LocalPid(pid) => Some(*pid),
            To::Remote(_, addr) => addr.pid(),
        }
    }

    /// The node the supervisor runs on.
    pub fn node(&self) -> NodeName {
        match &self.to {
            To::LocalNamed(_) => self.node.name(),
            To::LocalPid(pid) => pid.node(),
            To::Remote(at, _) => *at,
        }
    }

    /// Starts a child with `args` on the supervisor's node and returns its
    /// address. A restart gives the child a new pid, which this address
    /// does not follow: register a name and use
    /// [`Node::addr_named`], or ask [`which_children`](Self::which_children).
    ///
    /// # Errors
    ///
    /// [`DynamicError::Full`] at the maximum, [`DynamicError::Start`] if
    /// the child fails to start, [`DynamicError::Ignored`] if its `init`
    /// ended `Normal`; [`DynamicError::Call`] if the supervisor did not
    /// answer: [`CallError::NoProc`] if no such supervisor runs,
    /// [`CallError::NoConnection`] if its node cannot be reached,
    /// [`CallError::Rejected`] if it is not exported or supervises
    /// another type.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request; the child may still
    /// start.
    pub async fn start_child(&self, args: P::Args) -> Result<Addr<P::Msg>, DynamicError> {
        match self.via()? {
            Via::Local(sup) => Ok(Addr::from(sup.start_child(args).await?)),
            Via::Remote(at, addr) => {
                let started = addr
                    .call(
                        |reply| DynamicRequest(Request::StartChild(args, reply)),
                        self.timeout,
                    )
                    .await?;
                Ok(self.child_addr(at, started?)?)
            }
        }
    }

    /// Stops a child by the shutdown rule and forgets it. A pid that is no
    /// longer alive answers `Ok`, as in OTP.
    ///
    /// # Errors
    ///
    /// [`DynamicError::NotFound`] if it is alive but not a child;
    /// [`DynamicError::Call`] if the supervisor did not answer, as for
    /// [`start_child`](Self::start_child).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request; the child may still be
    /// stopped.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), DynamicError> {
        match self.via()? {
            Via::Local(sup) => sup.terminate_child(pid).await,
            Via::Remote(_, addr) => {
                let ended = addr
                    .call(
                        |reply| DynamicRequest(Request::TerminateChild(pid, reply)),
                        self.timeout,
                    )
                    .await?;
                Ok(ended?)
            }
        }
    }

    /// The running children, oldest first (a restarted child keeps its
    /// place).
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer, as for
    /// [`start_child`](Self::start_child).
    pub async fn which_children(&self) -> Result<Vec<DynamicChildAddr<P::Msg>>, CallError> {
        match self.via()? {
            Via::Local(sup) => Ok(sup
                .which_children()
                .await?
                .into_iter()
                .map(|child| DynamicChildAddr {
                    pid: child.pid(),
                    restarts: child.restarts,
                    addr: Addr::from(child.handle),
                })
                .collect()),
            Via::Remote(at, addr) => {
                let children: Vec<WireChild> = addr
                    .call(
                        |reply| DynamicRequest(Request::WhichChildren(reply)),
                        self.timeout,
                    )
                    .await?;
                children
                    .into_iter()
                    .map(|child| {
                        Ok(DynamicChildAddr {
                            pid: child.pid,
                            addr: self.child_addr(at, child.pid)?,
                            restarts: child.restarts,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Counts of the children, as [`DynamicRef::count_children`] gives
    /// them.
    ///
    /// # Errors
    ///
    /// A [`CallError`] if the supervisor does not answer, as for
    /// [`start_child`](Self::start_child).
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        match self.via()? {
            Via::Local(sup) => sup.count_children().await,
            Via::Remote(_, addr) => {
                addr.call(
                    |reply| DynamicRequest(Request::CountChildren(reply)),
                    self.timeout,
                )
                .await
            }
        }
    }

    fn via(&self) -> Result<Via<'_, P>, CallError> {
        let found = match &self.to {
            To::LocalNamed(name) => DynamicRef::named(&self.node, name),
            To::LocalPid(pid) => DynamicRef::from_pid(&self.node, *pid),
            To::Remote(at, addr) => return Ok(Via::Remote(*at, addr)),
        };
        match found {
            Ok(sup) => Ok(Via::Local(sup.with_timeout(self.timeout))),
            Err(err @ LookupError::WrongType { .. }) => Err(CallError::Rejected(err.to_string())),
            Err(_) => Err(CallError::NoProc),
        }
    }

    /// The address of a child that the supervisor on `at` reported.
    fn child_addr(&self, at: NodeName, pid: Pid) -> Result<Addr<P::Msg>, CallError> {
        if pid.node() != at {
            return Err(CallError::BadReply(format!(
                "the supervisor on {at} reported a child on {}",
                pid.node()
            )));
        }
        self.node
            .addr(pid)
            .map_err(|err| CallError::BadReply(err.to_string()))
    }
}

impl<P: Process> Clone for DynamicAddr<P> {
    fn clone(&self) -> Self {
        let to = match &self.to {
            To::LocalNamed(name) => To::LocalNamed(Arc::clone(name)),
            To::LocalPid(pid) => To::LocalPid(*pid),
            To::Remote(at, addr) => To::Remote(*at, addr.clone()),
        };
        Self {
            node: self.node.clone(),
            to,
            timeout: self.timeout,
        }
    }
}

impl<P: Process> fmt::Debug for DynamicAddr<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("DynamicAddr");
        match &self.to {
            To::LocalNamed(name) => out.field("name", name),
            To::LocalPid(pid) => out.field("pid", pid),
            To::Remote(_, addr) => out.field("addr", addr),
        };
        out.finish_non_exhaustive()
    }
}

impl<M> Clone for DynamicChildAddr<M> {
    fn clone(&self) -> Self {
        Self {
            pid: self.pid,
            addr: self.addr.clone(),
            restarts: self.restarts,
        }
    }
}

impl<M> fmt::Debug for DynamicChildAddr<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicChildAddr")
            .field("pid", &self.pid)
            .field("restarts", &self.restarts)
            .finish_non_exhaustive()
    }
}
