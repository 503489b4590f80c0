//! Typed handles: `cast`, `try_cast` and `call`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::cell::Shared;
use super::mailbox::Acked;
use super::reply::{Answer, ReplyTo};
use super::run::current_pid;
use super::timer::{self, TimerRef};
use crate::node::{watch_core, AnyProcess, Settled};
use crate::{
    CallError, ExitReason, LookupError, NamedSendError, Node, Pid, SendError, StopError,
    TrySendError,
};

/// How long to wait: for a time, or as long as it takes (Erlang's
/// `infinity`). A [`Duration`] converts into [`After`](Self::After).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// At most this long.
    After(Duration),
    /// As long as it takes.
    Infinity,
}

impl Timeout {
    /// The deadline from now; `Infinity`, or a time too long to represent,
    /// is about thirty years, which is to say never.
    pub(crate) fn deadline(self) -> Instant {
        let now = Instant::now();
        let never = now + Duration::from_secs(30 * 365 * 86_400);
        match self {
            Self::After(timeout) => now.checked_add(timeout).unwrap_or(never),
            Self::Infinity => never,
        }
    }
}

impl From<Duration> for Timeout {
    fn from(timeout: Duration) -> Self {
        Self::After(timeout)
    }
}

/// A typed handle to a process taking messages of type `M`.
///
/// Cheap to clone and `Send + Sync`. Sending through a handle never
/// serializes: the message is moved into the mailbox.
pub struct Handle<M> {
    pub(crate) shared: Arc<Shared<M>>,
}

impl<M: Send + 'static> Handle<M> {
    /// The process's pid.
    pub fn pid(&self) -> Pid {
        self.shared.core.pid
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        !self.shared.mailbox.is_closed()
    }

    /// Sends a message without waiting for it to be handled.
    ///
    /// With an unbounded mailbox (the default) this never waits. With a
    /// bounded one it waits for a free slot (backpressure).
    ///
    /// # Errors
    ///
    /// [`SendError::NoProc`] with the message if the process has ended; the
    /// send is counted as a dead letter.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits for a slot drops the message,
    /// which was then never queued.
    pub async fn cast(&self, msg: M) -> Result<(), SendError<M>> {
        self.shared.mailbox.push_waiting(msg).await.map_err(|msg| {
            self.shared.core.dead_letter();
            SendError::NoProc(msg)
        })
    }

    /// Sends a message, as [`cast`](Self::cast) does, and calls `settled`
    /// once the process is finished with it: [`Settled::Handled`] when its
    /// handler returned, [`Settled::Failed`] when it panicked or the
    /// process was killed while handling it. If the process ends before
    /// it gets to the message, `settled` is dropped without being called
    /// (and with it whatever it owns): what the message stood for, an
    /// event from a broker say, is neither done nor failed, and comes
    /// again from wherever it came.
    ///
    /// This is what a durable source builds on: acknowledge the message
    /// to the broker only once it was handled.
    ///
    /// # Errors
    ///
    /// As [`cast`](Self::cast); `settled` is dropped then, uncalled.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::{Handle, Settled};
    ///
    /// async fn handled(worker: &Handle<u64>) -> bool {
    ///     let (tx, rx) = tokio::sync::oneshot::channel();
    ///     let _ = worker.cast_settled(7, move |settled| {
    ///         let _ = tx.send(settled);
    ///     }).await;
    ///     rx.await == Ok(Settled::Handled)
    /// }
    /// # let _ = handled;
    /// ```
    pub async fn cast_settled(
        &self,
        msg: M,
        settled: impl FnOnce(Settled) + Send + 'static,
    ) -> Result<(), SendError<M>> {
        let acked = Acked {
            msg,
            finished: Box::new(settled),
        };
        self.shared
            .mailbox
            .push_acked(acked)
            .await
            .map_err(|acked| {
                self.shared.core.dead_letter();
                SendError::NoProc(acked.msg)
            })
    }

    /// Sends a message if there is room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the bounded mailbox has no free slot,
    /// [`TrySendError::NoProc`] if the process has ended (a dead letter);
    /// either way the message is handed back.
    pub fn try_cast(&self, msg: M) -> Result<(), TrySendError<M>> {
        match self.shared.mailbox.try_push(msg) {
            Ok(()) => Ok(()),
            Err(Ok(msg)) => Err(TrySendError::Full(msg)),
            Err(Err(msg)) => {
                self.shared.core.dead_letter();
                Err(TrySendError::NoProc(msg))
            }
        }
    }

    /// Sends a request and waits for its reply, like `gen_server:call`.
    ///
    /// `request` builds the message from a [`ReplyTo`] token; a tuple
    /// variant such as `Msg::Get` works as it is. The process answers with
    /// [`ReplyTo::reply`], now or later.
    ///
    /// # Errors
    ///
    /// - [`CallError::Timeout`] if no reply came within `timeout` (a later
    ///   reply is dropped, never delivered elsewhere);
    /// - [`CallError::NoProc`] if the process had ended before the request
    ///   reached it;
    /// - [`CallError::Exited`] with its reason if it ended before replying;
    /// - [`CallError::NoReply`] if it dropped the token without replying;
    /// - [`CallError::CallToSelf`] if a process calls itself.
    ///
    /// [`Timeout::Infinity`] (or [`call_infinity`](Self::call_infinity))
    /// waits as long as it takes, as Erlang's `infinity` does.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the call; a reply is then dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use beamish_core::{async_trait, Context, ExitReason, Node, Process, ReplyTo};
    /// # use std::time::Duration;
    /// # struct Echo;
    /// enum EchoMsg {
    ///     Echo(String, ReplyTo<String>),
    /// }
    /// # #[async_trait]
    /// # impl Process for Echo {
    /// #     type Args = ();
    /// #     type Msg = EchoMsg;
    /// #     async fn init(_: &mut Context<EchoMsg>, _: ()) -> Result<Self, ExitReason> { Ok(Echo) }
    /// #     async fn handle(&mut self, _: &mut Context<EchoMsg>, msg: EchoMsg) -> Result<(), ExitReason> {
    /// #         let EchoMsg::Echo(text, reply) = msg;
    /// #         reply.reply(text);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::new()?;
    /// let echo = node.spawn::<Echo>(())?;
    /// let text = echo
    ///     .call(|reply| EchoMsg::Echo("hi".into(), reply), Duration::from_secs(1))
    ///     .await?;
    /// assert_eq!(text, "hi");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call<R, F>(&self, request: F, timeout: impl Into<Timeout>) -> Result<R, CallError>
    where
        F: FnOnce(ReplyTo<R>) -> M,
    {
        let timeout = timeout.into();
        if current_pid() == Some(self.pid()) {
            return Err(CallError::CallToSelf);
        }
        let (tx, mut rx) = oneshot::channel();
        let msg = request(ReplyTo::local(tx));
        // Waiting for room in a bounded mailbox counts against the timeout;
        // an unbounded one never waits, so its deadline is set lazily.
        let mut deadline = None;
        if self.shared.mailbox.is_bounded() {
            let at = timeout.deadline();
            deadline = Some(at);
            match tokio::time::timeout_at(at, self.cast(msg)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(CallError::NoProc),
                Err(_) => return Err(CallError::Timeout),
            }
        } else if self.cast(msg).await.is_err() {
            return Err(CallError::NoProc);
        }
        // Fast path: give the callee one scheduling round to answer before
        // arming a timer. On a busy runtime the callee usually runs right
        // after us on the same worker, and a reply within the round costs
        // no timer registration at all (the bulk of a bare call's price).
        if let Poll::Ready(answer) = poll_once(&mut rx).await {
            return self.answer(answer).await;
        }
        tokio::task::yield_now().await;
        if let Poll::Ready(answer) = poll_once(&mut rx).await {
            return self.answer(answer).await;
        }
        let deadline = deadline.unwrap_or_else(|| timeout.deadline());
        match tokio::time::timeout_at(deadline, &mut rx).await {
            Ok(answer) => self.answer(answer).await,
            Err(_) => Err(CallError::Timeout),
        }
    }

    /// A [`call`](Self::call) that waits for its reply as long as it takes
    /// (Erlang's `call(Pid, Request, infinity)`): it still ends if the
    /// process ends or drops the request.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call), but never [`CallError::Timeout`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the call; a reply is then dropped.
    pub async fn call_infinity<R, F>(&self, request: F) -> Result<R, CallError>
    where
        F: FnOnce(ReplyTo<R>) -> M,
    {
        self.call(request, Timeout::Infinity).await
    }

    /// Stops the process with `reason` and waits until it has ended, like
    /// `gen_server:stop/3`.
    ///
    /// A process that does not trap exits ends at once with `reason` (even
    /// `Normal`, which an exit signal would not do), without `terminate`.
    /// One that traps exits receives [`Signal::Exit`](crate::Signal::Exit)
    /// from the node and chooses how to end: a supervisor stops its
    /// children first.
    ///
    /// # Errors
    ///
    /// [`StopError::NoProc`] if it had already ended,
    /// [`StopError::Timeout`] if it has not ended within `timeout` (it may
    /// still be stopping), [`StopError::Exited`] if it ended with another
    /// reason.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops only the waiting: the process has been
    /// told to stop.
    ///
    /// # Examples
    ///
    /// ```
    /// # use beamish_core::{async_trait, Context, ExitReason, Node, Process, Timeout};
    /// # struct Idle;
    /// # #[async_trait]
    /// # impl Process for Idle {
    /// #     type Args = ();
    /// #     type Msg = ();
    /// #     async fn init(_: &mut Context<()>, _: ()) -> Result<Self, ExitReason> { Ok(Idle) }
    /// #     async fn handle(&mut self, _: &mut Context<()>, _: ()) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = Node::new()?;
    /// let idle = node.spawn::<Idle>(())?;
    /// idle.stop(ExitReason::Normal, Timeout::Infinity).await?;
    /// assert!(!idle.is_alive());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop(
        &self,
        reason: ExitReason,
        timeout: impl Into<Timeout>,
    ) -> Result<(), StopError> {
        if !self.is_alive() {
            return Err(StopError::NoProc);
        }
        let core = &self.shared.core;
        let ended = watch_core(core);
        let node = Pid::new(core.pid.node(), 0, core.pid.creation());
        if reason == ExitReason::Kill {
            self.shared.kill(ExitReason::Killed);
        } else if core.traps_exits() {
            self.shared.push_signal(crate::Signal::Exit {
                from: node,
                reason: reason.clone(),
            });
        } else {
            self.shared.kill(reason.clone());
        }
        let seen = match tokio::time::timeout_at(timeout.into().deadline(), ended).await {
            Ok(seen) => seen,
            Err(_) => return Err(StopError::Timeout),
        };
        let expected = if reason == ExitReason::Kill {
            ExitReason::Killed
        } else {
            reason
        };
        match seen {
            seen if seen == expected => Ok(()),
            ExitReason::NoProc => Err(StopError::NoProc),
            other => Err(StopError::Exited(other)),
        }
    }

    /// Turns what came back on a call's channel into its result.
    async fn answer<R>(
        &self,
        answer: Result<Answer<R>, oneshot::error::RecvError>,
    ) -> Result<R, CallError> {
        match answer {
            Ok(Answer::Value(reply)) => Ok(reply),
            // The token was dropped while the process panicked: its reason
            // is settled as soon as the panic is caught.
            Ok(Answer::Ending) => Err(CallError::Exited(watch_core(&self.shared.core).await)),
            // The token was dropped: by the mailbox of an ended process
            // (whose reason is settled before its mailbox closes), or by a
            // handler that chose not to reply.
            Err(_) => Err(match self.shared.core.exit.get() {
                Some(reason) => CallError::Exited(reason.clone()),
                None => CallError::NoReply,
            }),
        }
    }

    /// Sends `msg` to the process after `delay`; the returned [`TimerRef`]
    /// cancels it. A message whose process has ended by then is a dead
    /// letter.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn send_after(&self, msg: M, delay: Duration) -> TimerRef {
        let handle = self.clone();
        timer::start(delay, async move {
            let _ = handle.cast(msg).await;
        })
    }
}

/// Polls a future once, registering the task's waker.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M> PartialEq for Handle<M> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<M> Eq for Handle<M> {}

impl<M> fmt::Debug for Handle<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Handle")
            .field(&self.shared.core.pid)
            .finish()
    }
}

impl Node {
    /// A typed handle to a live local process.
    ///
    /// # Errors
    ///
    /// [`LookupError::NoProc`] if it is not alive, [`LookupError::NotLocal`]
    /// for another node's pid, [`LookupError::WrongType`] if it takes
    /// another message type than `M`.
    pub fn handle<M: Send + 'static>(&self, pid: Pid) -> Result<Handle<M>, LookupError> {
        if pid.node() != self.inner.name {
            return Err(LookupError::NotLocal(pid));
        }
        let proc = self.inner.lookup(pid).ok_or(LookupError::NoProc(pid))?;
        let actual = proc.message_type();
        match proc.into_any().downcast::<Shared<M>>() {
            Ok(shared) => Ok(Handle { shared }),
            Err(_) => Err(LookupError::WrongType {
                pid,
                expected: std::any::type_name::<M>(),
                actual,
            }),
        }
    }

    /// A typed handle to the process registered under `name`.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotRegistered`] if no process has the name, or any
    /// error of [`handle`](Self::handle).
    pub fn named<M: Send + 'static>(&self, name: &str) -> Result<Handle<M>, LookupError> {
        let pid = self
            .whereis(name)
            .ok_or_else(|| LookupError::NotRegistered(name.into()))?;
        self.handle(pid)
    }

    /// Sends to the process registered under `name` now, resolving the name
    /// afresh on every call, so a restarted process that registered the same
    /// name receives what is sent after its restart.
    ///
    /// # Errors
    ///
    /// [`NamedSendError::Lookup`] if the name does not resolve to a process
    /// taking `M`, [`NamedSendError::NoProc`] if it ended meanwhile; the
    /// message is handed back.
    pub async fn cast_named<M: Send + 'static>(
        &self,
        name: &str,
        msg: M,
    ) -> Result<(), NamedSendError<M>> {
        let handle = match self.named::<M>(name) {
            Ok(handle) => handle,
            Err(err) => return Err(NamedSendError::Lookup(err, msg)),
        };
        handle
            .cast(msg)
            .await
            .map_err(|err| NamedSendError::NoProc(err.into_inner()))
    }
}
