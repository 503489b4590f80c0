//! What a process can do to itself and others while it runs.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tracing::Span;

use super::cell::Shared;
use super::spawn::{self, Relation, SpawnOpts};
use super::timer::{self, TimerRef};
use crate::node::AnyProcess;
use crate::{
    ExitReason, Handle, MonitorRef, Node, NodeName, Pid, Process, RegisterError, Signal,
    SpawnError, StartError,
};

/// The context a process's callbacks receive: its own pid and handle, and
/// the Erlang primitives that act on behalf of the process (links,
/// monitors, exit signals, spawning children, timers).
pub struct Context<M> {
    pub(crate) node: Node,
    pub(crate) shared: Arc<Shared<M>>,
    pub(crate) stop: Option<ExitReason>,
    pub(crate) idle_timeout: Option<Duration>,
}

impl<M: Send + 'static> Context<M> {
    pub(crate) fn new(node: Node, shared: Arc<Shared<M>>, idle_timeout: Option<Duration>) -> Self {
        Self {
            node,
            shared,
            stop: None,
            idle_timeout,
        }
    }

    /// This process's pid.
    pub fn pid(&self) -> Pid {
        self.shared.core.pid
    }

    /// A handle to this process.
    pub fn handle(&self) -> Handle<M> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The process that spawned this one, if a process did.
    pub fn parent(&self) -> Option<Pid> {
        self.shared.core.parent()
    }

    /// The node this process runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Ends the process with `reason` once the current callback returns;
    /// `terminate` runs first.
    pub fn stop(&mut self, reason: ExitReason) {
        self.stop = Some(reason);
    }

    /// Starts or stops trapping exits. While trapping, exit signals arrive
    /// as [`Signal::Exit`] through `handle_signal` instead of ending the
    /// process (except `Kill`, which cannot be trapped).
    pub fn trap_exit(&mut self, trap: bool) {
        self.shared.core.trap_exit.store(trap, Ordering::Release);
    }

    /// Whether the process traps exits.
    pub fn traps_exits(&self) -> bool {
        self.shared.core.traps_exits()
    }

    /// Links this process with `pid`: when either ends abnormally, the
    /// other receives an exit signal. Linking a process that is not alive
    /// sends this process an exit signal with `NoProc` (`NoConnection` for a
    /// process on another node) at once.
    pub fn link(&mut self, pid: Pid) {
        self.node.inner.link(&*self.shared, pid);
    }

    /// Removes the link with `pid`, if any. A trapped exit signal from it
    /// that is already queued is still delivered, as in Erlang.
    pub fn unlink(&mut self, pid: Pid) {
        self.node.inner.unlink(&self.shared.core, pid);
    }

    /// Monitors `pid`: when it ends, this process receives
    /// [`Signal::Down`] with the returned reference and the reason
    /// (`NoProc` at once if it is not alive).
    pub fn monitor(&mut self, pid: Pid) -> MonitorRef {
        self.node.inner.monitor(&*self.shared, pid)
    }

    /// Removes a monitor; a `Down` for it that is already queued is
    /// discarded. Returns `false` if the monitor was no longer active.
    pub fn demonitor(&mut self, monitor: MonitorRef) -> bool {
        self.node.inner.demonitor(&self.shared.core, monitor)
    }

    /// Sends an exit signal with `reason` to `pid`, as Erlang's `exit/2`:
    ///
    /// - `Kill` ends it at once and cannot be trapped; others see `Killed`;
    /// - if it traps exits, it receives [`Signal::Exit`];
    /// - otherwise `Normal` is ignored (unless `pid` is this process, which
    ///   then ends normally) and any other reason ends it at once, without
    ///   waiting for its queued messages.
    pub fn exit(&mut self, pid: Pid, reason: ExitReason) {
        self.node.inner.exit(self.pid(), pid, reason);
    }

    /// Delivers [`Signal::NodeDown`] once the connection to `node` is lost
    /// (at once if there is none), like Erlang's `monitor_node`.
    pub fn monitor_node(&mut self, node: NodeName) {
        let watching = self
            .node
            .inner
            .distribution()
            .is_some_and(|dist| dist.monitor_node(node, self.pid()));
        if !watching {
            self.shared.push_signal(Signal::NodeDown(node));
        }
    }

    /// Delivers [`Signal::NodeUp`] and [`Signal::NodeDown`] for every node
    /// that connects or is lost from now on (`false` stops them), like
    /// `net_kernel:monitor_nodes`; hidden nodes
    /// ([`ClusterConfig::hidden`](crate::ClusterConfig::hidden)) aside.
    pub fn monitor_nodes(&mut self, on: bool) {
        if let Some(dist) = self.node.inner.distribution() {
            dist.monitor_nodes(self.pid(), on);
        }
    }

    /// Registers this process under `name` on its node.
    ///
    /// # Errors
    ///
    /// A [`RegisterError`] if the name is empty or taken, or this process
    /// already has a name.
    pub fn register(&mut self, name: &str) -> Result<(), RegisterError> {
        self.node.inner.register(name, &*self.shared)?;
        // Callbacks run inside the process's span, which is current here.
        Span::current().record("name", name);
        Ok(())
    }

    /// Spawns a child process (not linked).
    ///
    /// # Errors
    ///
    /// See [`Node::spawn_opt`].
    pub fn spawn<P: Process>(&mut self, args: P::Args) -> Result<Handle<P::Msg>, SpawnError> {
        self.spawn_opt::<P>(args, SpawnOpts::default())
    }

    /// Spawns a child process with options (not linked).
    ///
    /// # Errors
    ///
    /// See [`Node::spawn_opt`].
    pub fn spawn_opt<P: Process>(
        &mut self,
        args: P::Args,
        opts: SpawnOpts,
    ) -> Result<Handle<P::Msg>, SpawnError> {
        self.spawn_related::<P>(args, opts, Relation::Child)
            .map(|(handle, _)| handle)
    }

    /// Spawns a child process linked to this one, atomically.
    ///
    /// # Errors
    ///
    /// See [`Node::spawn_opt`].
    pub fn spawn_link<P: Process>(
        &mut self,
        args: P::Args,
        opts: SpawnOpts,
    ) -> Result<Handle<P::Msg>, SpawnError> {
        self.spawn_related::<P>(args, opts, Relation::Linked)
            .map(|(handle, _)| handle)
    }

    /// Spawns a child process monitored by this one, atomically.
    ///
    /// # Errors
    ///
    /// See [`Node::spawn_opt`].
    pub fn spawn_monitor<P: Process>(
        &mut self,
        args: P::Args,
        opts: SpawnOpts,
    ) -> Result<(Handle<P::Msg>, MonitorRef), SpawnError> {
        let (handle, mref) = self.spawn_related::<P>(args, opts, Relation::Monitored)?;
        // A monitored spawn always returns its monitor.
        let mref = mref.ok_or(SpawnError::NodeStopping)?;
        Ok((handle, mref))
    }

    /// Spawns a child linked to this process and waits until its `init`
    /// succeeded, like `gen_server:start_link`. This is the start contract
    /// supervisors build on.
    ///
    /// # Errors
    ///
    /// [`StartError::Init`] with the reason if `init` failed (the exit
    /// signal from the failed child also arrives, as in OTP), or
    /// [`StartError::Spawn`].
    pub async fn start_link<P: Process>(
        &mut self,
        args: P::Args,
        opts: SpawnOpts,
    ) -> Result<Handle<P::Msg>, StartError> {
        let me: &dyn AnyProcess = &*self.shared;
        spawn::start::<P>(&self.node, args, &opts, Some((me, Relation::Linked)))
            .await
            .map(|(handle, _)| handle)
    }

    /// Sends `msg` to this process after `delay`; cancel with the returned
    /// [`TimerRef`].
    pub fn send_after(&self, msg: M, delay: Duration) -> TimerRef {
        self.handle().send_after(msg, delay)
    }

    /// Delivers [`Signal::Timer`] with the returned timer's id to this
    /// process after `delay`, unless cancelled first.
    pub fn start_timer(&self, delay: Duration) -> TimerRef {
        let shared = Arc::clone(&self.shared);
        let id = timer::next_id();
        timer::start_with_id(id, delay, async move {
            shared.push_signal(Signal::Timer(id));
        })
    }

    /// Sets or clears the idle timeout: [`Signal::IdleTimeout`] arrives when
    /// no message came for this long.
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        self.idle_timeout = timeout;
    }

    fn spawn_related<P: Process>(
        &mut self,
        args: P::Args,
        opts: SpawnOpts,
        relation: Relation,
    ) -> Result<(Handle<P::Msg>, Option<MonitorRef>), SpawnError> {
        let me: &dyn AnyProcess = &*self.shared;
        spawn::spawn::<P>(&self.node, args, &opts, Some((me, relation)), None)
    }
}

impl<M> fmt::Debug for Context<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("pid", &self.shared.core.pid)
            .finish_non_exhaustive()
    }
}
