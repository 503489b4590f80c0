//! The table of node names known to this process.
//!
//! A name's identity is a 64-bit keyed hash of its text (keys chosen at
//! random when the process starts, so no peer can pick names that clash).
//! The table keeps the text of every *pinned* name (a connected peer, a
//! node's own name, a configured peer) and of the last [`RECENT`] others
//! seen; older unpinned texts are forgotten. A forgotten name keeps its
//! identity: it still equals the same name met again, whose text then
//! comes back.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};

use lru::LruCache;
use parking_lot::RwLock;

/// How many names that nothing pins keep their text.
pub(crate) const RECENT: usize = 16_384;

/// A hasher for identities that already are keyed hashes.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ById = BuildHasherDefault<Identity>;

/// A text whose identity is already taken by another text.
#[derive(Debug)]
pub(crate) struct Clash;

struct Pinned {
    text: Arc<str>,
    count: u32,
}

/// Known names: pinned ones, and the most recently seen others.
pub(crate) struct Names {
    pinned: HashMap<u64, Pinned, ById>,
    recent: LruCache<u64, Arc<str>, ById>,
}

impl Names {
    fn new(recent: usize) -> Self {
        let cap = NonZeroUsize::new(recent.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            pinned: HashMap::default(),
            recent: LruCache::with_hasher(cap, ById::default()),
        }
    }

    fn lookup(&self, id: u64) -> Option<&Arc<str>> {
        match self.pinned.get(&id) {
            Some(pinned) => Some(&pinned.text),
            None => self.recent.peek(&id),
        }
    }

    /// Records `text` under `id`.
    fn insert(&mut self, id: u64, text: &str) -> Result<(), Clash> {
        match self.lookup(id) {
            Some(known) if &**known == text => Ok(()),
            Some(_) => Err(Clash),
            None => {
                self.recent.push(id, Arc::from(text));
                Ok(())
            }
        }
    }

    /// Pins `id`; false if its text is not known.
    fn pin(&mut self, id: u64) -> bool {
        if let Some(pinned) = self.pinned.get_mut(&id) {
            pinned.count = pinned.count.saturating_add(1);
            return true;
        }
        match self.recent.pop(&id) {
            Some(text) => {
                self.pinned.insert(id, Pinned { text, count: 1 });
                true
            }
            None => false,
        }
    }

    fn unpin(&mut self, id: u64) {
        let Some(pinned) = self.pinned.get_mut(&id) else {
            return;
        };
        pinned.count -= 1;
        if pinned.count == 0 {
            if let Some(pinned) = self.pinned.remove(&id) {
                self.recent.push(id, pinned.text);
            }
        }
    }

    fn len(&self) -> usize {
        self.pinned.len() + self.recent.len()
    }
}

fn table() -> &'static RwLock<Names> {
    static TABLE: OnceLock<RwLock<Names>> = OnceLock::new();
    TABLE.get_or_init(|| RwLock::new(Names::new(RECENT)))
}

/// The identity of `text`.
pub(crate) fn id_of(text: &str) -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    KEYS.get_or_init(RandomState::new).hash_one(text)
}

/// Makes `text` known and returns its identity.
pub(crate) fn intern(text: &str) -> Result<u64, Clash> {
    let id = id_of(text);
    match table().read().lookup(id) {
        Some(known) if &**known == text => return Ok(id),
        Some(_) => return Err(Clash),
        None => {}
    }
    table().write().insert(id, text)?;
    Ok(id)
}

/// The text of `id`, if it is known.
pub(crate) fn text(id: u64) -> Option<Arc<str>> {
    table().read().lookup(id).cloned()
}

/// Calls `f` with the text of `id`, if it is known, without copying it.
pub(crate) fn with_text<R>(id: u64, f: impl FnOnce(Option<&str>) -> R) -> R {
    let names = table().read();
    f(names.lookup(id).map(|text| &**text))
}

/// Keeps the text of `id` until as many [`unpin`]s; false (and nothing
/// pinned) if the text is not known.
pub(crate) fn pin(id: u64) -> bool {
    table().write().pin(id)
}

/// Undoes one [`pin`].
pub(crate) fn unpin(id: u64) {
    table().write().unpin(id);
}

/// How many names have a known text now.
pub(crate) fn known() -> usize {
    table().read().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpinned_names_past_the_bound_are_forgotten_oldest_first() {
        let mut names = Names::new(2);
        for (id, text) in [(1, "a@h"), (2, "b@h"), (3, "c@h")] {
            names.insert(id, text).expect("no clash");
        }
        assert!(names.lookup(1).is_none(), "the oldest is forgotten");
        assert_eq!(names.lookup(3).map(|t| &**t), Some("c@h"));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn a_pinned_name_is_kept_whatever_comes_after_it() {
        let mut names = Names::new(2);
        names.insert(1, "kept@h").expect("no clash");
        assert!(names.pin(1));
        assert!(names.pin(1), "pins count");
        for id in 2..100 {
            names.insert(id, &format!("n{id}@h")).expect("no clash");
        }
        assert_eq!(names.lookup(1).map(|t| &**t), Some("kept@h"));
        names.unpin(1);
        assert!(names.lookup(1).is_some(), "one pin is left");
        names.unpin(1);
        // Unpinned, it is the most recent, then ages out like any other.
        names.insert(200, "x@h").expect("no clash");
        assert!(names.lookup(1).is_some());
        names.insert(201, "y@h").expect("no clash");
        assert!(names.lookup(1).is_none());
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn a_forgotten_name_cannot_be_pinned_and_a_clash_is_refused() {
        let mut names = Names::new(1);
        names.insert(1, "a@h").expect("no clash");
        assert!(matches!(names.insert(1, "other@h"), Err(Clash)));
        names.insert(2, "b@h").expect("no clash");
        assert!(!names.pin(1));
        names.unpin(1);
        assert_eq!(names.len(), 1);
    }
}
