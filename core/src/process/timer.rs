//! Timers: `send_after` and `start_timer`, both cancellable.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::TimerId;

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// A running timer. Dropping it does not cancel it; [`cancel`](Self::cancel)
/// does.
pub struct TimerRef {
    id: TimerId,
    state: Arc<AtomicU8>,
    task: AbortHandle,
}

impl TimerRef {
    /// The timer's id, as carried by [`Signal::Timer`](crate::Signal::Timer).
    pub fn id(&self) -> TimerId {
        self.id
    }

    /// Cancels the timer. Returns `true` if it had not fired, in which case
    /// its message or signal is never delivered; `false` if it had already
    /// fired (or was cancelled before).
    pub fn cancel(&self) -> bool {
        let cancelled = self
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if cancelled {
            self.task.abort();
        }
        cancelled
    }

    /// Whether the timer has fired.
    pub fn has_fired(&self) -> bool {
        self.state.load(Ordering::Acquire) == FIRED
    }
}

impl fmt::Debug for TimerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.load(Ordering::Acquire) {
            PENDING => "pending",
            FIRED => "fired",
            _ => "cancelled",
        };
        f.debug_struct("TimerRef")
            .field("id", &self.id)
            .field("state", &state)
            .finish()
    }
}

/// A fresh timer id.
pub(crate) fn next_id() -> TimerId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    TimerId(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs `fire` after `delay` unless cancelled first.
pub(crate) fn start<F>(delay: Duration, fire: F) -> TimerRef
where
    F: Future<Output = ()> + Send + 'static,
{
    start_with_id(next_id(), delay, fire)
}

/// Like [`start`], with an id chosen by the caller.
pub(crate) fn start_with_id<F>(id: TimerId, delay: Duration, fire: F) -> TimerRef
where
    F: Future<Output = ()> + Send + 'static,
{
    let state = Arc::new(AtomicU8::new(PENDING));
    let task_state = Arc::clone(&state);
    let task = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        // Whoever moves the state out of PENDING first wins: either the
        // timer fires or it is cancelled, never both.
        if task_state
            .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            fire.await;
        }
    });
    TimerRef {
        id,
        state,
        task: task.abort_handle(),
    }
}
