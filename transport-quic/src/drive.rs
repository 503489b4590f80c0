//! Where quinn's drivers run: every driver of one endpoint (the endpoint's
//! own, which reads the socket and routes datagrams, and one per
//! connection) is polled by one task, instead of a task each.
//!
//! A datagram then reaches its connection within the same poll instead of
//! by waking another task. That matters for calls: on each side the
//! node's reader and then the process (or caller) run in turn, and tokio
//! runs at most three woken tasks in a row on one worker before it wakes
//! another worker to share the work. With a task per driver the chain was
//! one longer than that, so every call woke the second worker, and the two
//! contended for the connection.
//!
//! A driver woken while the task is polling is polled again before the
//! task returns, without waking the task (which tokio would count as the
//! task yielding, and wake another worker for).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use parking_lot::Mutex;
use quinn::{AsyncTimer, AsyncUdpSocket, Runtime, TokioRuntime};

type Driver = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Rounds of polling woken drivers before the task gives others a turn.
const ROUNDS: usize = 64;

/// quinn's tokio runtime, with the drivers it spawns polled together by
/// one task (see the module docs). One per endpoint.
pub(crate) struct Drivers {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Drivers spawned and not yet taken up by the task.
    spawned: Vec<Driver>,
    /// Drivers woken since the task last looked.
    woken: Vec<usize>,
    /// Whether the task is polling: a driver woken meanwhile is polled
    /// again before it returns, so the task need not be woken.
    polling: bool,
    /// The task, to wake otherwise.
    task: Option<Waker>,
    /// Set once quinn has dropped the runtime: no driver will be spawned.
    closed: bool,
}

impl Shared {
    /// Notes news for the task (under the lock, by `note`) and wakes it
    /// unless it is polling.
    fn tell(&self, note: impl FnOnce(&mut State)) {
        let task = {
            let mut state = self.state.lock();
            note(&mut state);
            if state.polling {
                None
            } else {
                state.task.take()
            }
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// Wakes one driver of the pool.
struct DriverWaker {
    shared: Arc<Shared>,
    at: usize,
}

impl Wake for DriverWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.tell(|state| state.woken.push(self.at));
    }
}

impl Drivers {
    /// A runtime whose drivers run in a task on the current tokio runtime.
    pub(crate) fn start() -> Arc<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        tokio::spawn(run(Arc::clone(&shared)));
        Arc::new(Self { shared })
    }
}

impl Drop for Drivers {
    /// quinn holds its runtime for as long as a driver may spawn another:
    /// once it is dropped, the task ends with its last driver.
    fn drop(&mut self) {
        self.shared.tell(|state| state.closed = true);
    }
}

impl fmt::Debug for Drivers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drivers").finish_non_exhaustive()
    }
}

impl Runtime for Drivers {
    fn new_timer(&self, i: Instant) -> Pin<Box<dyn AsyncTimer>> {
        TokioRuntime.new_timer(i)
    }

    fn spawn(&self, future: Driver) {
        self.shared.tell(|state| state.spawned.push(future));
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        TokioRuntime.wrap_udp_socket(socket)
    }

    fn now(&self) -> Instant {
        TokioRuntime.now()
    }
}

/// The drivers the task polls, each with its waker; finished ones leave
/// their place free for the next.
#[derive(Default)]
struct Pool {
    drivers: Vec<Option<(Driver, Waker)>>,
    free: Vec<usize>,
}

impl Pool {
    /// Takes up a new driver; it is to be polled at once.
    fn add(&mut self, shared: &Arc<Shared>, driver: Driver) -> usize {
        let at = self.free.pop().unwrap_or(self.drivers.len());
        let waker = Waker::from(Arc::new(DriverWaker {
            shared: Arc::clone(shared),
            at,
        }));
        if at == self.drivers.len() {
            self.drivers.push(Some((driver, waker)));
        } else {
            self.drivers[at] = Some((driver, waker));
        }
        at
    }

    fn poll(&mut self, at: usize) {
        let Some(Some((driver, waker))) = self.drivers.get_mut(at) else {
            // Woken after it finished.
            return;
        };
        if driver
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_ready()
        {
            self.drivers[at] = None;
            self.free.push(at);
        }
    }

    fn is_empty(&self) -> bool {
        self.free.len() == self.drivers.len()
    }
}

/// Polls the drivers woken, and new ones, until none is left to poll;
/// ends once quinn has dropped the runtime and the last driver finished.
async fn run(shared: Arc<Shared>) {
    let mut pool = Pool::default();
    poll_fn(|cx: &mut Context<'_>| {
        for _ in 0..ROUNDS {
            let (spawned, woken, closed) = {
                let mut state = shared.state.lock();
                if !state
                    .task
                    .as_ref()
                    .is_some_and(|task| task.will_wake(cx.waker()))
                {
                    state.task = Some(cx.waker().clone());
                }
                let spawned = std::mem::take(&mut state.spawned);
                let woken = std::mem::take(&mut state.woken);
                // Nothing more to do in this poll: from now on a wake-up
                // wakes the task.
                state.polling = !(spawned.is_empty() && woken.is_empty());
                (spawned, woken, state.closed)
            };
            if spawned.is_empty() && woken.is_empty() {
                return if closed && pool.is_empty() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            }
            for driver in spawned {
                let at = pool.add(&shared, driver);
                pool.poll(at);
            }
            for at in woken {
                pool.poll(at);
            }
            if !tokio::task::coop::has_budget_remaining() {
                break;
            }
        }
        // Others' turn: look again soon.
        shared.state.lock().polling = false;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// A driver that wakes itself `times` times before it finishes, and
    /// counts its polls.
    fn restless(times: usize, polls: Arc<AtomicUsize>) -> Driver {
        let mut left = times;
        Box::pin(poll_fn(move |cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            if left == 0 {
                return Poll::Ready(());
            }
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn drivers_run_until_they_finish() {
        let drivers = Drivers::start();
        let (done, finished) = oneshot::channel();
        let (go, went) = oneshot::channel::<()>();
        drivers.spawn(Box::pin(async move {
            let _ = went.await;
            let _ = done.send(());
        }));
        // Woken from elsewhere while the task sleeps.
        go.send(()).expect("the driver waits");
        tokio::time::timeout(Duration::from_secs(1), finished)
            .await
            .expect("in time")
            .expect("finished");
    }

    /// Counts the times it is woken.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn wake_ups_during_a_poll_do_not_wake_the_task() {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        let polls = Arc::new(AtomicUsize::new(0));
        shared.tell(|state| state.spawned.push(restless(5, Arc::clone(&polls))));
        let mut task = Box::pin(run(Arc::clone(&shared)));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(task.as_mut().poll(&mut cx).is_pending());
        // The driver ran to its end within the one poll.
        assert_eq!(polls.load(Ordering::Relaxed), 6);
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        // Once the runtime is dropped, the task is woken, and ends.
        shared.tell(|state| state.closed = true);
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(task.as_mut().poll(&mut cx).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_ends_with_the_last_driver_after_the_runtime() {
        let drivers = Drivers::start();
        let polls = Arc::new(AtomicUsize::new(0));
        // More wake-ups than one turn of the task takes: it yields between.
        drivers.spawn(restless(ROUNDS * 2, Arc::clone(&polls)));
        let weak = Arc::downgrade(&drivers.shared);
        drop(drivers);
        // Once quinn drops the runtime and the last driver is done, the
        // task ends and lets go of the pool.
        tokio::time::timeout(Duration::from_secs(1), async {
            while weak.strong_count() > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the task ended");
        assert_eq!(polls.load(Ordering::Relaxed), ROUNDS * 2 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn places_of_finished_drivers_are_used_again() {
        let mut pool = Pool::default();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        let first = pool.add(&shared, Box::pin(async {}));
        pool.poll(first);
        assert!(pool.is_empty());
        let second = pool.add(&shared, Box::pin(std::future::pending()));
        assert_eq!(first, second);
        pool.poll(second);
        assert!(!pool.is_empty());
        // A stale wake-up for a place polls whatever is there: harmless.
        pool.poll(7);
    }
}
