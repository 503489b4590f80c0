//! Restart intensity: at most `max` restarts within `period`, counted as
//! OTP counts them.
//!
//! OTP stamps each restart with the monotonic time in whole seconds and
//! keeps a restart while `now - stamp <= period`: a restart exactly one
//! period ago still counts, and so does one a little more than a period
//! ago when both fall on the same whole seconds. Here the seconds are
//! counted from the supervisor's start, and a period is whole seconds too
//! (a period under a second counts the restarts within the same second).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Remembers recent restarts and says when one more is too many.
#[derive(Debug)]
pub(crate) struct Intensity {
    max: usize,
    /// The period in whole seconds.
    period: u64,
    /// Second 0.
    origin: Instant,
    /// The whole second of each recent restart, oldest first.
    recent: VecDeque<u64>,
}

impl Intensity {
    pub(crate) fn new(max: usize, period: Duration) -> Self {
        Self {
            max,
            period: period.as_secs(),
            origin: Instant::now(),
            recent: VecDeque::new(),
        }
    }

    /// Records a restart at `now`. Returns `false` if it makes more than
    /// `max` within the last `period`: the supervisor must give up.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let second = now.saturating_duration_since(self.origin).as_secs();
        while let Some(&oldest) = self.recent.front() {
            if second - oldest > self.period {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        self.recent.push_back(second);
        self.recent.len() <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(intensity: &Intensity, millis: u64) -> Instant {
        intensity.origin + Duration::from_millis(millis)
    }

    #[test]
    fn allows_max_within_the_period_then_refuses() {
        let mut intensity = Intensity::new(3, Duration::from_secs(5));
        for i in 0..3 {
            assert!(intensity.allow(at(&intensity, i * 1000)));
        }
        assert!(!intensity.allow(at(&intensity, 4000)));
    }

    #[test]
    fn a_restart_exactly_one_period_ago_still_counts() {
        // OTP: `intensity 1, period 5`, restarts at 0 s and 5 s: 5 - 0 <= 5,
        // two restarts within the period, one too many.
        let mut intensity = Intensity::new(1, Duration::from_secs(5));
        assert!(intensity.allow(at(&intensity, 0)));
        assert!(!intensity.allow(at(&intensity, 5000)));
    }

    #[test]
    fn seconds_are_whole() {
        // 0.9 s and 5.99 s fall on seconds 0 and 5: still within 5.
        let mut intensity = Intensity::new(1, Duration::from_secs(5));
        assert!(intensity.allow(at(&intensity, 900)));
        assert!(!intensity.allow(at(&intensity, 5990)));
        // 0.9 s and 6.0 s fall on seconds 0 and 6: the first is forgotten.
        let mut intensity = Intensity::new(1, Duration::from_secs(5));
        assert!(intensity.allow(at(&intensity, 900)));
        assert!(intensity.allow(at(&intensity, 6000)));
    }

    #[test]
    fn old_restarts_are_forgotten() {
        let mut intensity = Intensity::new(1, Duration::from_secs(5));
        assert!(intensity.allow(at(&intensity, 0)));
        assert!(intensity.allow(at(&intensity, 6000)));
        assert!(intensity.allow(at(&intensity, 12_000)));
        assert!(!intensity.allow(at(&intensity, 13_000)));
    }

    #[test]
    fn zero_means_no_restart_at_all() {
        let mut intensity = Intensity::new(0, Duration::from_secs(5));
        assert!(!intensity.allow(Instant::now()));
    }
}
