//! The loop each process runs: `init`, then each message or signal in
//! turn, then `terminate`; panics caught, and signals that act at once
//! raced against every callback.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use tokio::time::Sleep;
use tracing::Span;

use super::cell::Shared;
use super::links::Departure;
use super::mailbox::{Acked, Envelope, Receiver, Recv};
use super::spawn::Started;
use crate::node::{warn_limited, ProcCore, Settled, Status};
use crate::reason::panic_reason;
use crate::{Context, ExitReason, Node, Pid, Process, Signal};

thread_local! {
    static CURRENT: Cell<Option<Pid>> = const { Cell::new(None) };
}

/// The pid of the process whose task is being polled on this thread, if any.
pub(crate) fn current_pid() -> Option<Pid> {
    CURRENT.with(Cell::get)
}

pin_project_lite::pin_project! {
    /// A process's task: its loop, polled with the process as the current
    /// one and inside its span (kept only when tracing wants it, so an
    /// idle process costs a pointer, not a whole span).
    struct ProcessTask<F> {
        pid: Pid,
        span: Option<Box<Span>>,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for ProcessTask<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        struct Restore(Option<Pid>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|current| current.set(self.0));
            }
        }
        let this = self.project();
        let _entered = this.span.as_deref().map(Span::enter);
        let _restore = Restore(CURRENT.with(|current| current.replace(Some(*this.pid))));
        this.inner.poll(cx)
    }
}

/// The task of a process just spawned: `init`, then its loop, then
/// `terminate`, inside `span` (kept only if tracing wants it).
pub(crate) fn task<P: Process>(
    ctx: Context<P::Msg>,
    args: P::Args,
    started: Option<Started>,
    span: Span,
    high_water: usize,
) -> impl Future<Output = ()> + Send + 'static {
    ProcessTask {
        pid: ctx.pid(),
        span: (!span.is_disabled()).then(|| Box::new(span)),
        inner: run::<P>(ctx, args, started, high_water),
    }
}

/// How a guarded callback ended.
enum Outcome<T> {
    Value(T),
    /// It panicked; the process ends with this reason after `terminate`.
    Panicked(ExitReason),
    /// A signal that acts at once arrived; the process ends without
    /// `terminate`.
    Killed(ExitReason),
}

/// Runs a callback, catching its panic and racing it against signals that
/// act at once. On a panic or kill, the final reason is settled before the
/// callback's future is dropped, so a caller whose reply token dies with it
/// learns why.
fn guard<M, F: Future + Unpin>(shared: &Shared<M>, callback: F) -> Guard<'_, M, F> {
    Guard { shared, callback }
}

/// The future [`guard`] returns: written by hand so that it is no bigger
/// than its two fields, which keeps every process's task small.
struct Guard<'a, M, F> {
    shared: &'a Shared<M>,
    callback: F,
}

impl<M, F: Future + Unpin> Future for Guard<'_, M, F> {
    type Output = Outcome<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let polled =
            panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut this.callback).poll(cx)));
        match polled {
            Ok(Poll::Ready(value)) => return Poll::Ready(Outcome::Value(value)),
            Ok(Poll::Pending) => {}
            Err(payload) => {
                let reason = settle(&this.shared.core, panic_reason(payload));
                return Poll::Ready(Outcome::Panicked(reason));
            }
        }
        match this.shared.mailbox.poll_kill(cx) {
            Poll::Ready(reason) => Poll::Ready(Outcome::Killed(settle(&this.shared.core, reason))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Fixes the final exit reason (the first one settled wins) and returns it.
fn settle(core: &ProcCore, reason: ExitReason) -> ExitReason {
    core.exit.get_or_init(|| reason.into_seen()).clone()
}

async fn run<P: Process>(
    mut ctx: Context<P::Msg>,
    args: P::Args,
    started: Option<Started>,
    high_water: usize,
) {
    let shared = Arc::clone(&ctx.shared);
    let mut rx = Receiver::new(high_water);
    let reason = match guard(&shared, P::init(&mut ctx, args)).await {
        Outcome::Value(Ok(mut state)) => {
            if let Some(started) = started {
                let _ = started.send(Ok(()));
            }
            let (reason, terminate) = serve(&mut state, &mut ctx, &mut rx).await;
            let reason = if terminate {
                shared.core.set_status(Status::Exiting);
                match guard(&shared, state.terminate(&mut ctx, &reason)).await {
                    Outcome::Value(()) => reason,
                    Outcome::Panicked(reason) | Outcome::Killed(reason) => reason,
                }
            } else {
                reason
            };
            let reason = settle(&shared.core, reason);
            drop(state);
            reason
        }
        Outcome::Value(Err(reason)) | Outcome::Panicked(reason) | Outcome::Killed(reason) => {
            let reason = settle(&shared.core, reason);
            if let Some(started) = started {
                let _ = started.send(Err(reason.clone()));
            }
            reason
        }
    };
    finish(&ctx.node, &shared, &mut rx, &reason);
}

/// Handles messages and signals until the process must end. Returns the
/// reason and whether `terminate` should run.
async fn serve<P: Process>(
    state: &mut P,
    ctx: &mut Context<P::Msg>,
    rx: &mut Receiver<P::Msg>,
) -> (ExitReason, bool) {
    let shared = Arc::clone(&ctx.shared);
    let core = &shared.core;
    let mut handled = 0_u64;
    // Armed only for processes with an idle timeout, and kept out of line
    // so that the loop's future stays small for everyone else.
    let mut idle: Option<Pin<Box<Sleep>>> = None;
    // The status changes only when the process parks and wakes, not per
    // message: a store per message would bounce its cache line between
    // the senders' cores and this one.
    let mut parked = true;
    core.set_status(Status::Waiting);
    loop {
        let next = poll_fn(|cx| {
            if let Poll::Ready(next) = rx.poll_recv(&shared.mailbox, cx) {
                return Poll::Ready(next);
            }
            if !parked {
                parked = true;
                core.set_status(Status::Waiting);
            }
            let Some(timeout) = ctx.idle_timeout else {
                return Poll::Pending;
            };
            let sleep = idle.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
            match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Recv::Item(Envelope::Signal(Box::new(Signal::IdleTimeout))))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        // Silence is counted afresh from the end of each item.
        idle = None;
        let item = match next {
            Recv::Kill(reason) => return (settle(core, reason), false),
            Recv::Item(item) => item,
        };
        if std::mem::take(&mut parked) {
            core.set_status(Status::Running);
        }
        if let Some(waiting) = rx.take_crossed() {
            overloaded(ctx, waiting);
        }
        // One await for every kind keeps the loop's future small.
        let mut finished = None;
        let callback = match item {
            Envelope::Msg(msg) => state.handle(ctx, msg),
            Envelope::Acked(acked) => {
                let Acked { msg, finished: f } = *acked;
                finished = Some(f);
                state.handle(ctx, msg)
            }
            Envelope::Signal(signal) => {
                if !accepts(core, &signal) {
                    continue;
                }
                state.handle_signal(ctx, *signal)
            }
        };
        let outcome = guard(&shared, callback).await;
        handled += 1;
        core.handled.store(handled, Ordering::Relaxed);
        // The handler returned: a durable transport may forget the message;
        // it failed: the transport decides whether it comes again.
        if let Some(finished) = finished {
            finished(match outcome {
                Outcome::Value(_) => Settled::Handled,
                Outcome::Panicked(_) | Outcome::Killed(_) => Settled::Failed,
            });
        }
        match outcome {
            Outcome::Value(Ok(())) => {}
            Outcome::Value(Err(reason)) | Outcome::Panicked(reason) => return (reason, true),
            Outcome::Killed(reason) => return (reason, false),
        }
        if let Some(reason) = ctx.stop.take() {
            return (reason, true);
        }
    }
}

/// Says, at most once per period for this process, that its mailbox holds
/// more than its high-water mark: it receives faster than it handles.
#[cold]
fn overloaded<M>(ctx: &Context<M>, waiting: usize) {
    let core = &ctx.shared.core;
    let pid = core.pid;
    let name = core.sig.lock().name.clone();
    warn_limited!(
        ctx.node.inner.warnings,
        "mailbox above its high-water mark",
        pid,
        name = name.as_deref(),
        waiting,
        "a process receives faster than it handles: {waiting} messages wait in its mailbox"
    );
}

/// Whether a queued signal is still wanted: a `Down` for a monitor that was
/// removed meanwhile is discarded.
fn accepts(core: &ProcCore, signal: &Signal) -> bool {
    match signal {
        Signal::Down { monitor, .. } => {
            let mut sig = core.sig.lock();
            match sig
                .rel_mut()
                .monitoring
                .iter()
                .position(|(r, _)| r == monitor)
            {
                Some(at) => {
                    sig.rel_mut().monitoring.swap_remove(at);
                    true
                }
                None => false,
            }
        }
        _ => true,
    }
}

/// Closes the mailbox and tells links, monitors and the node.
fn finish<M: Send + 'static>(
    node: &Node,
    shared: &Shared<M>,
    rx: &mut Receiver<M>,
    reason: &ExitReason,
) {
    let core = &shared.core;
    core.set_status(Status::Exiting);
    let gone = {
        let mut sig = core.sig.lock();
        sig.exited = true;
        Departure {
            rel: sig.take_rel(),
            name: sig.name.take(),
        }
    };
    let mut leftover = rx.take_batch();
    leftover.extend(shared.mailbox.close());
    let unhandled = leftover.iter().filter(|item| item.is_message()).count();
    if unhandled > 0 {
        core.counters
            .dead_letters
            .fetch_add(unhandled as u64, Ordering::Relaxed);
    }
    // Dropping what was left fails the calls still queued, with `reason`;
    // durable messages left were never handled, so their transport
    // delivers them again (to the process registered under the name they
    // were sent to, if it is restarted; a dead letter otherwise).
    drop(leftover);
    node.inner.after_exit(core, reason, gone);
}
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::process::cell::Shared;
    use crate::{Context, ExitReason, Node, Process};

    struct Nop;

    #[async_trait::async_trait]
    impl Process for Nop {
        type Args = ();
        type Msg = u64;
        async fn init(_: &mut Context<u64>, _: ()) -> Result<Self, ExitReason> {
            Ok(Nop)
        }
        async fn handle(&mut self, _: &mut Context<u64>, _: u64) -> Result<(), ExitReason> {
            Ok(())
        }
    }

    /// An idle process costs its shared state plus its task, which tokio
    /// allocates in 128-byte steps; these bounds keep the two within the
    /// budget of 1 KiB per idle process, so a change that grows them is
    /// seen here rather than in a bench run.
    #[tokio::test]
    async fn an_idle_process_stays_small() {
        let node = Node::new().expect("runtime");
        let shared = Arc::new(Shared::<u64>::new(
            node.pid(),
            "Nop",
            None,
            Default::default(),
            Default::default(),
        ));
        assert!(std::mem::size_of::<Shared<u64>>() <= 320);
        let ctx = Context::new(node.clone(), shared, None);
        let task = super::ProcessTask {
            pid: node.pid(),
            span: None,
            inner: super::run::<Nop>(ctx, (), None, usize::MAX),
        };
        assert!(
            std::mem::size_of_val(&task) <= 480,
            "{}",
            std::mem::size_of_val(&task)
        );
    }
}
