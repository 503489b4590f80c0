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
use beamish_core::{Handle, Message, Pid};
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
    /// subscriber; `false` if it has ended.
    async fn deliver(&self, event: &(dyn Any + Send + Sync)) -> bool;
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
    async fn deliver(&self, event: &(dyn Any + Send + Sync)) -> bool {
        let Some(event) = event.downcast_ref::<E>() else {
            return false;
        };
        self.handle.cast(M::from(event.clone())).await.is_ok()
    }
}

/// One process's subscription to a pattern.
struct Subscription {
    pid: Pid,
    pattern: Arc<str>,
    deliver: Arc<dyn Deliver>,
}

/// The subscriptions for one event type.
struct OfType {
    decode: Decode,
    subscriptions: Vec<Subscription>,
}

/// This node's subscriptions, shared by the router (which changes them)
/// and publishers here (which read them).
#[derive(Default)]
pub(crate) struct Local {
    by_type: RwLock<HashMap<u64, OfType>>,
    dead_letters: AtomicU64,
}

/// The subscribers an event goes to, and how to decode it for them.
pub(crate) struct Matching {
    pub(crate) decode: Decode,
    pub(crate) to: Vec<Arc<dyn Deliver>>,
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
            subscriptions: Vec::new(),
        });
        if of_type
            .subscriptions
            .iter()
            .any(|sub| sub.pid == pid && sub.pattern == pattern)
        {
            return false;
        }
        of_type.subscriptions.push(Subscription {
            pid,
            pattern,
            deliver,
        });
        true
    }

    /// Removes `pid`'s subscription to `pattern`; `false` if it had none.
    pub(crate) fn remove(&self, event_type: u64, pid: Pid, pattern: &str) -> bool {
        let mut by_type = self.by_type.write();
        let Some(of_type) = by_type.get_mut(&event_type) else {
            return false;
        };
        let before = of_type.subscriptions.len();
        of_type
            .subscriptions
            .retain(|sub| !(sub.pid == pid && &*sub.pattern == pattern));
        let removed = of_type.subscriptions.len() < before;
        if of_type.subscriptions.is_empty() {
            by_type.remove(&event_type);
        }
        removed
    }

    /// Removes every subscription of `pid`, which has ended.
    pub(crate) fn remove_pid(&self, pid: Pid) {
        let mut by_type = self.by_type.write();
        for of_type in by_type.values_mut() {
            of_type.subscriptions.retain(|sub| sub.pid != pid);
        }
        by_type.retain(|_, of_type| !of_type.subscriptions.is_empty());
    }

    /// Whether `pid` has any subscription left.
    pub(crate) fn has(&self, pid: Pid) -> bool {
        self.by_type
            .read()
            .values()
            .any(|of_type| of_type.subscriptions.iter().any(|sub| sub.pid == pid))
    }

    /// The subscribers here of `event_type` whose pattern matches
    /// `topic`, each once however many of its patterns match.
    pub(crate) fn matching(&self, event_type: u64, topic: &str) -> Option<Matching> {
        let by_type = self.by_type.read();
        let of_type = by_type.get(&event_type)?;
        let mut seen = HashSet::new();
        let to: Vec<Arc<dyn Deliver>> = of_type
            .subscriptions
            .iter()
            .filter(|sub| matches(&sub.pattern, topic) && seen.insert(sub.pid))
            .map(|sub| Arc::clone(&sub.deliver))
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
