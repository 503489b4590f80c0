//! The [`Process`] trait: what a process implements, as a `gen_server`
//! callback module does.

use async_trait::async_trait;

use crate::{Context, ExitReason, Signal};

/// A process: its state is the implementing type, built by [`init`] from
/// `Args` and changed by [`handle`] for each message.
///
/// Every callback may fail: returning `Err(reason)` ends the process with
/// that reason, like a crash (any `std::error::Error` converts into an
/// [`ExitReason`], so `?` works). A panic in any callback ends only this
/// process, with [`ExitReason::Panic`]; the node and other processes carry
/// on. [`Context::stop`] ends the process once the current callback returns.
///
/// Calls are messages that carry a [`ReplyTo`](crate::ReplyTo) token, so
/// each request can have its own reply type; see
/// [`Handle::call`](crate::Handle::call).
///
/// [`init`]: Process::init
/// [`handle`]: Process::handle
///
/// # Examples
///
/// ```
/// use beamish_core::{async_trait, Context, ExitReason, Process, ReplyTo};
///
/// struct Counter(u64);
///
/// enum CounterMsg {
///     Add(u64),
///     Get(ReplyTo<u64>),
/// }
///
/// #[async_trait]
/// impl Process for Counter {
///     type Args = u64;
///     type Msg = CounterMsg;
///
///     async fn init(_ctx: &mut Context<CounterMsg>, start: u64) -> Result<Self, ExitReason> {
///         Ok(Counter(start))
///     }
///
///     async fn handle(&mut self, _ctx: &mut Context<CounterMsg>, msg: CounterMsg) -> Result<(), ExitReason> {
///         match msg {
///             CounterMsg::Add(n) => self.0 += n,
///             CounterMsg::Get(reply) => {
///                 reply.reply(self.0);
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Process: Sized + Send + 'static {
    /// What `init` is given.
    type Args: Send + 'static;
    /// The messages the process takes.
    type Msg: Send + 'static;

    /// Builds the state. Messages sent meanwhile wait in the mailbox.
    ///
    /// If it fails, the process ends with the returned reason (links and
    /// monitors fire) and `terminate` is not called; a
    /// [`start`](crate::Node::start) reports the reason to its caller.
    async fn init(ctx: &mut Context<Self::Msg>, args: Self::Args) -> Result<Self, ExitReason>;

    /// Handles one message.
    async fn handle(
        &mut self,
        ctx: &mut Context<Self::Msg>,
        msg: Self::Msg,
    ) -> Result<(), ExitReason>;

    /// Handles a signal the process asked for: an exit signal while it
    /// traps exits, a monitor's `Down`, a timer, or its idle timeout.
    ///
    /// The default ignores them all.
    async fn handle_signal(
        &mut self,
        ctx: &mut Context<Self::Msg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let _ = (ctx, signal);
        Ok(())
    }

    /// Called once when the process ends after a successful `init`: because
    /// a callback returned an error or panicked, or it called
    /// [`Context::stop`]. As in Erlang, it is not called when an exit signal
    /// ends a process that does not trap exits, nor after `Kill`: a process
    /// that must clean up on shutdown traps exits. The state is dropped
    /// afterwards in every case.
    async fn terminate(&mut self, ctx: &mut Context<Self::Msg>, reason: &ExitReason) {
        let _ = (ctx, reason);
    }
}
