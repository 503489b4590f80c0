//! This node's subscriptions: for each event type, how to decode an
//! event that came from another node, and the processes subscribed, each
//! with its pattern and a way to cast it the event in its own message
//! type.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use beamish_core::{Handle, Message, Pid, TrySendError};
use parking_lot::RwLock;

use super::pattern::matches;

/// Decodes an event of one type, as it came from another node.
pub(crate) type Decode = fn(&[u8]) -> Result<Box<dyn Any + Send + Sync>, String>;

/// The [`Decode`] of `E`.
pub(crate) fn decode<E: Message + Sync>(
    payload: &[u8],
) -> Result<Box<dyn Any + Send + Sync>, String> {
    rmp_serde::from_slice::<E>(payload)
        .map(|event| Box::new(event) as Box<dyn Any + Send + Sync>)
        .map_err(|err| err.to_string())
}

/// Hands an event to one subscriber.
#[async_trait]
pub(crate) trait Deliver: Send + Sync {
    /// Casts `event`, which is of the subscription's event type, to the
    /// subscriber if its mailbox has room now.
    fn try_deliver(&self, event: &(dyn Any + Send + Sync)) -> Delivered;

    /// Casts `event`, waiting for room in a bounded mailbox; `false` if
    /// the subscriber has ended.
    async fn deliver(&self, event: &(dyn Any + Send + Sync)) -> bool;
}

/// What became of an event handed to a subscriber at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// In its mailbox.
    Sent,
    /// Its bounded mailbox is full: wait with [`Deliver::deliver`].
    Full,
    /// It has ended (or the event was not of its type).
    Ended,
}

/// Casts `event` to each of `to`, waiting only where a mailbox is full;
/// how many took it.
pub(crate) async fn deliver_all(
    to: &[Arc<Subscribers>],
    event: &(dyn Any + Send + Sync),
) -> (usize, usize) {
    let (mut sent, mut ended) = (0, 0);
    let mut seen = HashSet::new();
    // With one matching pattern, nobody is listed twice.
    let dedup = to.len() > 1;
    for subscribers in to {
        for (pid, deliver) in subscribers.iter() {
            if dedup && !seen.insert(*pid) {
                continue;
            }
            let taken = match deliver.try_deliver(event) {
                Delivered::Sent => true,
                Delivered::Full => deliver.deliver(event).await,
                Delivered::Ended => false,
            };
            if taken {
                sent += 1;
            } else {
                ended += 1;
            }
        }
    }
    (sent, ended)
}

/// Casts events of type `E` to a process whose messages are `M`.
pub(crate) struct To<E, M> {
    handle: Handle<M>,
    event: PhantomData<fn(E)>,
}

impl<E, M> To<E, M> {
    pub(crate) fn new(handle: Handle<M>) -> Self {
        Self {
            handle,
            event: PhantomData,
        }
    }
}

#[async_trait]
impl<E, M> Deliver for To<E, M>
where
    E: Clone + Send + Sync + 'static,
    M: From<E> + Send + 'static,
{
    fn try_deliver(&self, event: &(dyn Any + Send + Sync)) -> Delivered {
        let Some(event) = event.downcast_ref::<E>() else {
            return Delivered::Ended;
        };
        match self.handle.try_cast(M::from(event.clone())) {
            Ok(()) => Delivered::Sent,
            Err(TrySendError::Full(_)) => Delivered::Full,
            Err(_) => Delivered::Ended,
        }
    }

    async fn deliver(&self, event: &(dyn Any + Send + Sync)) -> bool {
        let Some(event) = event.downcast_ref::<E>() else {
            return false;
        };
        self.handle.cast(M::from(event.clone())).await.is_ok()
    }
}

/// The subscribers of one pattern, shared with deliveries in progress
/// and copied when changed.
pub(crate) type Subscribers = Vec<(Pid, Arc<dyn Deliver>)>;

/// The subscriptions for one event type, by pattern.
struct OfType {
    decode: Decode,
    patterns: HashMap<Arc<str>, Arc<Subscribers>>,
}

/// This node's subscriptions, shared by the router (which changes them)
/// and publishers here (which read them).
#[derive(Default)]
pub(crate) struct Local {
    by_type: RwLock<HashMap<u64, OfType>>,
    dead_letters: AtomicU64,
}

/// The subscribers an event goes to (by pattern; one listed under two
/// patterns gets it once), and how to decode it for them.
pub(crate) struct Matching {
    pub(crate) decode: Decode,
    pub(crate) to: Vec<Arc<Subscribers>>,
}

impl Local {
    /// Adds `pid`'s subscription to `pattern` for events of `event_type`;
    /// `false` if it had it already.
    pub(crate) fn add(
        &self,
        event_type: u64,
        decode: Decode,
        pid: Pid,
        pattern: Arc<str>,
        deliver: Arc<dyn Deliver>,
    ) -> bool {
        let mut by_type = self.by_type.write();
        let of_type = by_type.entry(event_type).or_insert_with(|| OfType {
            decode,
            patterns: HashMap::new(),
        });
        let subscribers = of_type.patterns.entry(pattern).or_default();
        if subscribers.iter().any(|(known, _)| *known == pid) {
            return false;
        }
        Arc::make_mut(subscribers).push((pid, deliver));
        true
    }

    /// Removes `pid`'s subscription to `pattern`; `false` if it had none.
    pub(crate) fn remove(&self, event_type: u64, pid: Pid, pattern: &str) -> bool {
        let mut by_type = self.by_type.write();
        let Some(of_type) = by_type.get_mut(&event_type) else {
            return false;
        };
        let Some(subscribers) = of_type.patterns.get_mut(pattern) else {
            return false;
        };
        let before = subscribers.len();
        Arc::make_mut(subscribers).retain(|(known, _)| *known != pid);
        let removed = subscribers.len() < before;
        if subscribers.is_empty() {
            of_type.patterns.remove(pattern);
        }
        if of_type.patterns.is_empty() {
            by_type.remove(&event_type);
        }
        removed
    }

    /// Removes every subscription of `pid`, which has ended.
    pub(crate) fn remove_pid(&self, pid: Pid) {
        let mut by_type = self.by_type.write();
        for of_type in by_type.values_mut() {
            for subscribers in of_type.patterns.values_mut() {
                if subscribers.iter().any(|(known, _)| *known == pid) {
                    Arc::make_mut(subscribers).retain(|(known, _)| *known != pid);
                }
            }
            of_type
                .patterns
                .retain(|_, subscribers| !subscribers.is_empty());
        }
        by_type.retain(|_, of_type| !of_type.patterns.is_empty());
    }

    /// Whether `pid` has any subscription left.
    pub(crate) fn has(&self, pid: Pid) -> bool {
        self.by_type.read().values().any(|of_type| {
            of_type
                .patterns
                .values()
                .any(|subscribers| subscribers.iter().any(|(known, _)| *known == pid))
        })
    }

    /// The subscribers here of `event_type` whose pattern matches
    /// `topic`.
    pub(crate) fn matching(&self, event_type: u64, topic: &str) -> Option<Matching> {
        let by_type = self.by_type.read();
        let of_type = by_type.get(&event_type)?;
        let to: Vec<Arc<Subscribers>> = of_type
            .patterns
            .iter()
            .filter(|(pattern, _)| matches(pattern, topic))
            .map(|(_, subscribers)| Arc::clone(subscribers))
            .collect();
        (!to.is_empty()).then_some(Matching {
            decode: of_type.decode,
            to,
        })
    }

    /// Counts `n` events that reached a subscriber here but could not be
    /// given to it.
    pub(crate) fn dead_letter(&self, n: usize) {
        self.dead_letters
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn dead_letters(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }
}
