//! Rate limits for warnings that peers, a broker user or load could set
//! off without end, so that a flood makes a handful of log lines, each
//! counting what was held back since the last: [`Throttle`] for one
//! stream of warnings, [`WarningLimiter`] for warnings by kind and source.
//!
//! Time is given, never read, so that they are tested without a clock.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use parking_lot::Mutex;

/// How often one kind of warning from one source is logged.
pub const PERIOD: Duration = Duration::from_secs(10);

/// The most lines of one kind per period, whatever their sources, so that
/// a flood naming a new source each time is held back too.
pub const LINES: u32 = 4;

/// Sources remembered per kind at most; past this a source is not
/// remembered (it is still held back by the kind's own limit).
pub const KEPT: usize = 1024;

/// Rate limits warnings by kind and source: a kind from one source at
/// most once per [`PERIOD`], and a kind at most [`LINES`] times per
/// period whatever the sources.
///
/// # Examples
///
/// ```
/// use beamish_core::limit::WarningLimiter;
/// use tokio::time::Instant;
///
/// let warnings = WarningLimiter::default();
/// let now = Instant::now();
/// assert_eq!(warnings.admit("garbage", "peer-a", now), Some(0));
/// // The same again at once is held back, and counted.
/// assert_eq!(warnings.admit("garbage", "peer-a", now), None);
/// ```
#[derive(Debug, Default)]
pub struct WarningLimiter {
    kinds: Mutex<HashMap<&'static str, Kind>>,
}

/// One kind of warning.
#[derive(Debug)]
struct Kind {
    /// When the current period began for the kind, and the lines logged
    /// in it.
    since: Instant,
    lines: u32,
    /// Warnings held back since the kind's last line.
    held_back: u64,
    /// When each source last had a line logged.
    sources: HashMap<String, Instant>,
    /// When sources logged more than a period ago were last forgotten.
    swept: Instant,
}

impl WarningLimiter {
    /// Whether a warning of `kind` from `source` is to be logged at `now`:
    /// `Some(n)` with the number of warnings of that kind held back since
    /// the last one logged, or `None` if this one is held back.
    pub fn admit(&self, kind: &'static str, source: &str, now: Instant) -> Option<u64> {
        let mut kinds = self.kinds.lock();
        let kind = kinds.entry(kind).or_insert_with(|| Kind {
            since: now,
            lines: 0,
            held_back: 0,
            sources: HashMap::new(),
            swept: now,
        });
        if now.saturating_duration_since(kind.since) >= PERIOD {
            kind.since = now;
            kind.lines = 0;
        }
        let recent = kind
            .sources
            .get(source)
            .is_some_and(|at| now.saturating_duration_since(*at) < PERIOD);
        if recent || kind.lines >= LINES {
            kind.held_back += 1;
            return None;
        }
        kind.lines += 1;
        kind.remember(source, now);
        Some(std::mem::take(&mut kind.held_back))
    }

    /// The kinds with warnings held back whose period is over at `now`,
    /// each with how many, to be logged as one line of its kind (which
    /// starts a new period), so that the count of a flood that has ended
    /// is not held back for good.
    pub fn overdue(&self, now: Instant) -> Vec<(&'static str, u64)> {
        let mut kinds = self.kinds.lock();
        kinds
            .iter_mut()
            .filter(|(_, kind)| {
                kind.held_back > 0 && now.saturating_duration_since(kind.since) >= PERIOD
            })
            .map(|(name, kind)| {
                kind.since = now;
                kind.lines = 1;
                (*name, std::mem::take(&mut kind.held_back))
            })
            .collect()
    }
}

impl Kind {
    /// `source` had a line logged at `now`.
    fn remember(&mut self, source: &str, now: Instant) {
        if let Some(at) = self.sources.get_mut(source) {
            *at = now;
            return;
        }
        if self.sources.len() >= KEPT && now.saturating_duration_since(self.swept) >= PERIOD {
            self.sources
                .retain(|_, at| now.saturating_duration_since(*at) < PERIOD);
            self.swept = now;
        }
        if self.sources.len() < KEPT {
            self.sources.insert(source.to_owned(), now);
        }
    }
}

/// Lets one warning through per interval and counts the ones held back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use beamish_core::limit::Throttle;
/// use tokio::time::Instant;
///
/// let mut throttle = Throttle::new(Duration::from_secs(10));
/// let now = Instant::now();
/// assert_eq!(throttle.allow(now), Some(0));
/// assert_eq!(throttle.allow(now), None);
/// assert_eq!(throttle.allow(now + Duration::from_secs(10)), Some(1));
/// ```
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    /// When the next warning may go through; `None` before the first.
    next: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    /// At most one warning every `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            next: None,
            held_back: 0,
        }
    }

    /// Whether a warning due at `now` may be logged: `Some` with the
    /// number held back since the last one logged, or `None` to hold this
    /// one back too.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.next.is_some_and(|next| now < next) {
            self.held_back += 1;
            return None;
        }
        self.next = Some(now + self.every);
        Some(std::mem::take(&mut self.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_throttle_lets_one_through_per_interval_and_counts_the_rest() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut throttle = Throttle::new(10 * second);
        assert_eq!(throttle.allow(start), Some(0));
        assert_eq!(throttle.allow(start), None);
        assert_eq!(throttle.allow(start + 9 * second), None);
        assert_eq!(throttle.allow(start + 10 * second), Some(2));
        assert_eq!(throttle.allow(start + 11 * second), None);
        assert_eq!(throttle.allow(start + 60 * second), Some(1));
        assert_eq!(throttle.allow(start + 120 * second), Some(0));
    }

    #[tokio::test(start_paused = true)]
    async fn one_source_is_logged_once_a_period_with_what_was_held_back() {
        let warnings = WarningLimiter::default();
        let start = Instant::now();
        assert_eq!(warnings.admit("garbage", "evil", start), Some(0));
        for i in 1..=1000 {
            let at = start + Duration::from_millis(i);
            assert_eq!(warnings.admit("garbage", "evil", at), None);
        }
        assert_eq!(
            warnings.admit("garbage", "evil", start + PERIOD),
            Some(1000)
        );
        assert_eq!(warnings.admit("garbage", "evil", start + PERIOD), None);
    }

    #[tokio::test(start_paused = true)]
    async fn kinds_and_sources_are_limited_apart() {
        let warnings = WarningLimiter::default();
        let now = Instant::now();
        assert_eq!(warnings.admit("garbage", "a", now), Some(0));
        assert_eq!(warnings.admit("garbage", "b", now), Some(0));
        assert_eq!(warnings.admit("forged", "a", now), Some(0));
        assert_eq!(warnings.admit("garbage", "a", now), None);
        assert_eq!(warnings.admit("forged", "a", now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_naming_a_new_source_each_time_makes_a_few_lines() {
        let warnings = WarningLimiter::default();
        let start = Instant::now();
        let logged = (0..50_000_u64)
            .filter(|i| {
                let at = start + Duration::from_micros(*i);
                warnings.admit("garbage", &i.to_string(), at).is_some()
            })
            .count();
        assert_eq!(logged, LINES as usize);
        let next = warnings.admit("garbage", "late", start + PERIOD);
        assert_eq!(next, Some(50_000 - u64::from(LINES)));
    }

    #[tokio::test(start_paused = true)]
    async fn what_was_held_back_is_overdue_once_the_period_is_over() {
        let warnings = WarningLimiter::default();
        let start = Instant::now();
        warnings.admit("garbage", "evil", start);
        warnings.admit("garbage", "evil", start);
        warnings.admit("forged", "evil", start);
        assert!(warnings.overdue(start + PERIOD / 2).is_empty());
        assert_eq!(warnings.overdue(start + PERIOD), vec![("garbage", 1)]);
        assert!(warnings.overdue(start + PERIOD * 3).is_empty(), "reported");
    }

    #[tokio::test(start_paused = true)]
    async fn the_sources_remembered_are_bounded() {
        let warnings = WarningLimiter::default();
        let start = Instant::now();
        for period in 0..(2 * KEPT as u32) {
            for i in 0..LINES {
                let at = start + PERIOD * period;
                warnings.admit("garbage", &format!("{period}-{i}"), at);
            }
        }
        let kinds = warnings.kinds.lock();
        assert!(kinds["garbage"].sources.len() <= KEPT);
    }
}
