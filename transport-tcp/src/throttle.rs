//! Rate limits for warnings that peers or load can set off at will: one
//! is logged per interval, the others are counted and the count goes out
//! with the next one logged.

use std::time::Duration;

use tokio::time::Instant;

/// Lets one warning through per interval and counts the ones held back.
#[derive(Debug)]
pub(crate) struct Throttle {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    /// At most one warning every `every`.
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// Whether a warning due at `now` may be logged: `Some` with the
    /// number held back since the last one logged, or `None` to hold this
    /// one back too.
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_goes_out_with_the_count_held_back() {
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
}
