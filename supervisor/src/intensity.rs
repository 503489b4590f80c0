//! Restart intensity: at most `max` restarts within `period`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Remembers recent restarts and says when one more is too many.
#[derive(Debug)]
pub(crate) struct Intensity {
    max: usize,
    period: Duration,
    recent: VecDeque<Instant>,
}

impl Intensity {
    pub(crate) fn new(max: usize, period: Duration) -> Self {
        Self {
            max,
            period,
            recent: VecDeque::new(),
        }
    }

    /// Records a restart at `now`. Returns `false` if it makes more than
    /// `max` within the last `period`: the supervisor must give up.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.recent.front() {
            if now.duration_since(oldest) >= self.period {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        self.recent.push_back(now);
        self.recent.len() <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_within_the_period_then_refuses() {
        let start = Instant::now();
        let mut intensity = Intensity::new(3, Duration::from_secs(5));
        for i in 0..3 {
            assert!(intensity.allow(start + Duration::from_secs(i)));
        }
        assert!(!intensity.allow(start + Duration::from_secs(4)));
    }

    #[test]
    fn old_restarts_are_forgotten() {
        let start = Instant::now();
        let mut intensity = Intensity::new(1, Duration::from_secs(5));
        assert!(intensity.allow(start));
        assert!(intensity.allow(start + Duration::from_secs(5)));
        assert!(intensity.allow(start + Duration::from_secs(10)));
        assert!(!intensity.allow(start + Duration::from_secs(11)));
    }

    #[test]
    fn zero_means_no_restart_at_all() {
        let mut intensity = Intensity::new(0, Duration::from_secs(5));
        assert!(!intensity.allow(Instant::now()));
    }
}
