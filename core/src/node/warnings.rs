//! Warnings that a peer (or a flood) could repeat without end, logged at
//! most once per kind and source in a period, with a count of what was
//! held back, so that 50 000 bad frames make a handful of lines, not
//! 50 000.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// How often one kind of warning from one source is logged.
const PERIOD: Duration = Duration::from_secs(10);

/// Sources remembered at most; past this, the oldest are forgotten (a
/// forgotten source logs at once again, which is harmless).
const KEPT: usize = 1024;

/// Rate limits warnings by kind and source.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    seen: Mutex<HashMap<(&'static str, String), Slot>>,
}

#[derive(Debug)]
struct Slot {
    logged_at: Instant,
    held_back: u64,
}

impl Warnings {
    /// Whether a warning of `kind` from `source` should be logged now:
    /// `Some(n)` with the number held back since the last one logged, or
    /// `None` if it is to be held back.
    pub(crate) fn admit(&self, kind: &'static str, source: &str) -> Option<u64> {
        let now = Instant::now();
        let mut seen = self.seen.lock();
        if let Some(slot) = seen.get_mut(&(kind, source.to_owned())) {
            if now.duration_since(slot.logged_at) < PERIOD {
                slot.held_back += 1;
                return None;
            }
            let held_back = slot.held_back;
            slot.logged_at = now;
            slot.held_back = 0;
            return Some(held_back);
        }
        if seen.len() >= KEPT {
            let oldest = seen
                .iter()
                .min_by_key(|(_, slot)| slot.logged_at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                seen.remove(&oldest);
            }
        }
        seen.insert(
            (kind, source.to_owned()),
            Slot {
                logged_at: now,
                held_back: 0,
            },
        );
        Some(0)
    }
}

/// Logs a warning of one kind from one source through `$warnings`
/// ([`Warnings`]), at most once per period, saying how many like it were
/// held back.
macro_rules! warn_limited {
    ($warnings:expr, $kind:literal, $source:expr, $($arg:tt)+) => {{
        let source = &$source;
        if let Some(held_back) = $warnings.admit($kind, &source.to_string()) {
            tracing::warn!(source = %source, held_back, $($arg)+);
        }
    }};
}
pub(crate) use warn_limited;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_kind_from_one_source_is_logged_once_a_period_with_a_count() {
        let warnings = Warnings::default();
        assert_eq!(warnings.admit("forged", "a@host"), Some(0));
        for _ in 0..49_999 {
            assert_eq!(warnings.admit("forged", "a@host"), None);
        }
        // Another source, or another kind, is not held back.
        assert_eq!(warnings.admit("forged", "b@host"), Some(0));
        assert_eq!(warnings.admit("garbage", "a@host"), Some(0));
        tokio::time::advance(PERIOD).await;
        assert_eq!(warnings.admit("forged", "a@host"), Some(49_999));
        assert_eq!(warnings.admit("forged", "a@host"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sources_remembered_are_bounded() {
        let warnings = Warnings::default();
        for n in 0..KEPT + 10 {
            assert_eq!(warnings.admit("forged", &format!("n{n}@host")), Some(0));
        }
        assert_eq!(warnings.seen.lock().len(), KEPT);
    }
}
