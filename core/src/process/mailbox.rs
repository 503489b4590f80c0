//! The mailbox: a multi-producer, single-consumer queue of messages and
//! signals, with an out-of-band slot for signals that act at once.
//!
//! Senders push under a short lock; the owning process swaps the whole
//! queue out in one go and then pops from its private batch without locking,
//! so a busy mailbox costs one lock per batch on the receiving side. Nothing
//! is allocated until the first message arrives, which keeps idle processes
//! small. A bounded mailbox adds a semaphore whose permits are the free
//! slots; signals never take a slot, so an exiting process is never blocked
//! by a full mailbox.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::node::Finished;
use crate::{ExitReason, Signal};

/// A batch whose buffer grew beyond this many slots is freed once drained,
/// so a burst does not pin its memory for the life of the process.
const SHRINK_ABOVE: usize = 1024;

/// How big a mailbox may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailboxSize {
    /// No limit (the default, as in Erlang): `cast` never waits.
    #[default]
    Unbounded,
    /// At most this many queued messages (at least 1): `cast` waits for
    /// room and `try_cast` returns `Full`. Signals never count against the
    /// bound.
    Bounded(usize),
}

/// One item in a mailbox. Signals are boxed: they are rare, and a small
/// envelope keeps a queue of small messages compact.
pub(crate) enum Envelope<M> {
    Msg(M),
    Signal(Box<Signal>),
    /// A message from a durable transport, to acknowledge once handled.
    Acked(Box<Acked<M>>),
}

/// A message and what to call once it is finished with.
pub(crate) struct Acked<M> {
    pub(crate) msg: M,
    pub(crate) finished: Finished,
}

impl<M> Envelope<M> {
    /// Whether it is a message (counted against a bound, a dead letter if
    /// never handled) rather than a signal.
    pub(crate) fn is_message(&self) -> bool {
        !matches!(self, Self::Signal(_))
    }
}

/// What the owner takes out of its mailbox.
pub(crate) enum Recv<M> {
    /// A signal that acts at once: the process must end with this reason.
    Kill(ExitReason),
    Item(Envelope<M>),
}

pub(crate) struct Mailbox<M> {
    inner: Mutex<Inner<M>>,
    /// Set with `inner.kill`, so the owner can see it without locking.
    urgent: AtomicBool,
    /// Free slots of a bounded mailbox (boxed: most mailboxes have none).
    slots: Option<Box<Semaphore>>,
    /// Length of the owner's private batch, published for introspection.
    batch_len: AtomicUsize,
}

struct Inner<M> {
    queue: VecDeque<Envelope<M>>,
    recv_waker: Option<Waker>,
    kill_waker: Option<Waker>,
    kill: Option<ExitReason>,
    closed: bool,
}

impl<M> Mailbox<M> {
    pub(crate) fn new(size: MailboxSize) -> Self {
        let slots = match size {
            MailboxSize::Unbounded => None,
            MailboxSize::Bounded(n) => {
                Some(Box::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))))
            }
        };
        Self {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                recv_waker: None,
                kill_waker: None,
                kill: None,
                closed: false,
            }),
            urgent: AtomicBool::new(false),
            slots,
            batch_len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn is_bounded(&self) -> bool {
        self.slots.is_some()
    }

    /// Appends an item; hands it back if the mailbox is closed.
    pub(crate) fn push(&self, item: Envelope<M>) -> Result<(), Envelope<M>> {
        self.push_as(item, |item| item)
    }

    /// Appends a message; hands it back if the mailbox is closed.
    pub(crate) fn push_msg(&self, msg: M) -> Result<(), M> {
        self.push_as(msg, Envelope::Msg)
    }

    fn push_as<T>(&self, value: T, wrap: impl FnOnce(T) -> Envelope<M>) -> Result<(), T> {
        let mut inner = self.inner.lock();
        if inner.closed {
            return Err(value);
        }
        inner.queue.push_back(wrap(value));
        let waker = inner.recv_waker.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Sends a message into a bounded mailbox, waiting for a free slot.
    ///
    /// Cancel safety: dropping the future before it completes drops the
    /// message, which was then never queued.
    pub(crate) async fn push_waiting(&self, msg: M) -> Result<(), M> {
        self.push_waiting_as(msg, Envelope::Msg).await
    }

    /// Sends a message from a durable transport, waiting for a free slot
    /// as [`push_waiting`](Self::push_waiting) does; hands it back if the
    /// mailbox is closed.
    pub(crate) async fn push_acked(&self, acked: Acked<M>) -> Result<(), Acked<M>> {
        self.push_waiting_as(acked, |acked| Envelope::Acked(Box::new(acked)))
            .await
    }

    /// Appends a message from a durable transport to an unbounded
    /// mailbox; hands it back if the mailbox is closed.
    pub(crate) fn push_acked_now(&self, acked: Acked<M>) -> Result<(), Acked<M>> {
        self.push_as(acked, |acked| Envelope::Acked(Box::new(acked)))
    }

    async fn push_waiting_as<T>(
        &self,
        value: T,
        wrap: impl FnOnce(T) -> Envelope<M>,
    ) -> Result<(), T> {
        let Some(slots) = &self.slots else {
            return self.push_as(value, wrap);
        };
        match slots.acquire().await {
            Ok(permit) => {
                self.push_as(value, wrap)?;
                permit.forget();
                Ok(())
            }
            Err(_) => Err(value),
        }
    }

    /// Sends a message without waiting; `Err(Ok(msg))` means full,
    /// `Err(Err(msg))` closed.
    pub(crate) fn try_push(&self, msg: M) -> Result<(), Result<M, M>> {
        let Some(slots) = &self.slots else {
            return self.push_msg(msg).map_err(Err);
        };
        match slots.try_acquire() {
            Ok(permit) => {
                self.push_msg(msg).map_err(Err)?;
                permit.forget();
                Ok(())
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => Err(Ok(msg)),
            Err(tokio::sync::TryAcquireError::Closed) => Err(Err(msg)),
        }
    }

    /// Delivers a signal that acts at once. The first such signal wins.
    /// Returns `false` if the mailbox was already closed.
    pub(crate) fn kill(&self, reason: ExitReason) -> bool {
        let mut inner = self.inner.lock();
        if inner.closed {
            return false;
        }
        if inner.kill.is_none() {
            inner.kill = Some(reason);
        }
        self.urgent.store(true, Ordering::Release);
        let wakers = (inner.recv_waker.take(), inner.kill_waker.take());
        drop(inner);
        if let Some(waker) = wakers.0 {
            waker.wake();
        }
        if let Some(waker) = wakers.1 {
            waker.wake();
        }
        true
    }

    /// Polls for a pending kill while the owner runs a handler.
    pub(crate) fn poll_kill(&self, cx: &mut Context<'_>) -> Poll<ExitReason> {
        let mut inner = self.inner.lock();
        if let Some(reason) = inner.kill.take() {
            return Poll::Ready(reason);
        }
        store_waker(&mut inner.kill_waker, cx);
        Poll::Pending
    }

    /// Closes the mailbox and returns what was still queued. Senders waiting
    /// for a slot fail from now on.
    pub(crate) fn close(&self) -> VecDeque<Envelope<M>> {
        let mut inner = self.inner.lock();
        inner.closed = true;
        inner.kill = None;
        inner.recv_waker = None;
        inner.kill_waker = None;
        let rest = std::mem::take(&mut inner.queue);
        drop(inner);
        if let Some(slots) = &self.slots {
            slots.close();
        }
        rest
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    /// Messages and signals waiting, in the shared queue and in the owner's
    /// current batch.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().queue.len() + self.batch_len.load(Ordering::Relaxed)
    }
}

fn store_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// How often, in messages taken, the private batch's length is published.
const BATCH_LEN_EVERY: usize = 64;

/// The owner's side: a private batch taken from the shared queue.
pub(crate) struct Receiver<M> {
    batch: VecDeque<Envelope<M>>,
    /// A batch this long says the process does not keep up.
    high_water: u32,
    /// Set when a batch at least `high_water` long was taken.
    crossed: bool,
}

impl<M> Receiver<M> {
    /// A receiver that notes batches of `high_water` items or more.
    pub(crate) fn new(high_water: usize) -> Self {
        Self {
            high_water: u32::try_from(high_water).unwrap_or(u32::MAX),
            crossed: false,
            batch: VecDeque::new(),
        }
    }

    /// Takes the next item, or a pending kill, which always comes first.
    pub(crate) fn poll_recv(
        &mut self,
        mailbox: &Mailbox<M>,
        cx: &mut Context<'_>,
    ) -> Poll<Recv<M>> {
        if !mailbox.urgent.load(Ordering::Acquire) {
            if let Some(item) = self.batch.pop_front() {
                return Poll::Ready(Recv::Item(self.took(mailbox, item, false)));
            }
        }
        let mut inner = mailbox.inner.lock();
        if let Some(reason) = inner.kill.take() {
            return Poll::Ready(Recv::Kill(reason));
        }
        let mut swapped = false;
        if self.batch.is_empty() {
            if inner.queue.is_empty() {
                store_waker(&mut inner.recv_waker, cx);
                return Poll::Pending;
            }
            std::mem::swap(&mut inner.queue, &mut self.batch);
            swapped = true;
        }
        drop(inner);
        match self.batch.pop_front() {
            Some(item) => Poll::Ready(Recv::Item(self.took(mailbox, item, swapped))),
            None => Poll::Pending,
        }
    }

    fn took(&mut self, mailbox: &Mailbox<M>, item: Envelope<M>, swapped: bool) -> Envelope<M> {
        if self.batch.is_empty() && self.batch.capacity() > SHRINK_ABOVE {
            self.batch = VecDeque::new();
        }
        // Published for introspection when a batch is taken and then every
        // so often, not per message (see `serve`): exact whenever the
        // batch runs out.
        if swapped || self.batch.len() % BATCH_LEN_EVERY == 0 {
            mailbox.batch_len.store(self.batch.len(), Ordering::Relaxed);
        }
        if swapped && self.batch.len() >= self.high_water as usize {
            self.crossed = true;
        }
        if let (true, Some(slots)) = (item.is_message(), &mailbox.slots) {
            slots.add_permits(1);
        }
        item
    }

    /// How many items wait, if a batch above the high-water mark was taken
    /// since the last call: once per batch, not per item.
    pub(crate) fn take_crossed(&mut self) -> Option<usize> {
        std::mem::take(&mut self.crossed).then_some(self.batch.len())
    }

    /// Drops the private batch, returning it for accounting.
    pub(crate) fn take_batch(&mut self) -> VecDeque<Envelope<M>> {
        std::mem::take(&mut self.batch)
    }

    /// Slots allocated by the private batch and the shared queue together.
    #[cfg(test)]
    pub(crate) fn allocated(&self, mailbox: &Mailbox<M>) -> usize {
        self.batch.capacity() + mailbox.inner.lock().queue.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll(rx: &mut Receiver<u32>, mb: &Mailbox<u32>) -> Poll<Recv<u32>> {
        let mut cx = Context::from_waker(Waker::noop());
        rx.poll_recv(mb, &mut cx)
    }

    fn msg(p: Poll<Recv<u32>>) -> Option<u32> {
        match p {
            Poll::Ready(Recv::Item(Envelope::Msg(m))) => Some(m),
            _ => None,
        }
    }

    #[test]
    fn fifo_across_batches() {
        let mb = Mailbox::new(MailboxSize::Unbounded);
        let mut rx = Receiver::new(usize::MAX);
        for i in 0..3 {
            assert!(mb.push(Envelope::Msg(i)).is_ok());
        }
        assert_eq!(msg(poll(&mut rx, &mb)), Some(0));
        assert!(mb.push(Envelope::Msg(3)).is_ok());
        assert_eq!(mb.len(), 3);
        let got: Vec<_> = (0..3).filter_map(|_| msg(poll(&mut rx, &mb))).collect();
        assert_eq!(got, vec![1, 2, 3]);
        assert!(poll(&mut rx, &mb).is_pending());
    }

    #[test]
    fn kill_overtakes_queued_messages() {
        let mb = Mailbox::new(MailboxSize::Unbounded);
        let mut rx = Receiver::new(usize::MAX);
        for i in 0..10 {
            assert!(mb.push(Envelope::Msg(i)).is_ok());
        }
        assert_eq!(msg(poll(&mut rx, &mb)), Some(0));
        assert!(mb.kill(ExitReason::Shutdown));
        assert!(matches!(
            poll(&mut rx, &mb),
            Poll::Ready(Recv::Kill(ExitReason::Shutdown))
        ));
    }

    #[test]
    fn closed_mailbox_hands_messages_back() {
        let mb = Mailbox::new(MailboxSize::Unbounded);
        assert!(mb.push(Envelope::Msg(1)).is_ok());
        let rest = mb.close();
        assert_eq!(rest.len(), 1);
        assert!(matches!(mb.push(Envelope::Msg(2)), Err(Envelope::Msg(2))));
        assert!(!mb.kill(ExitReason::Kill));
    }

    #[test]
    fn bounded_mailbox_frees_slots_when_taken() {
        let mb = Mailbox::new(MailboxSize::Bounded(2));
        let mut rx = Receiver::new(usize::MAX);
        assert!(mb.try_push(1).is_ok());
        assert!(mb.try_push(2).is_ok());
        assert!(matches!(mb.try_push(3), Err(Ok(3))));
        // Signals never count against the bound.
        assert!(mb
            .push(Envelope::Signal(Box::new(Signal::IdleTimeout)))
            .is_ok());
        assert_eq!(msg(poll(&mut rx, &mb)), Some(1));
        assert!(mb.try_push(3).is_ok());
        mb.close();
        assert!(matches!(mb.try_push(4), Err(Err(4))));
    }

    #[test]
    fn drained_burst_releases_its_buffer() {
        let mb = Mailbox::new(MailboxSize::Unbounded);
        let mut rx = Receiver::new(usize::MAX);
        for i in 0..100_000 {
            assert!(mb.push(Envelope::Msg(i)).is_ok());
        }
        for _ in 0..100_000 {
            assert!(msg(poll(&mut rx, &mb)).is_some());
        }
        assert!(rx.allocated(&mb) <= SHRINK_ABOVE);
    }
}
