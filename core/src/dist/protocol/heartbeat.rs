//! Heartbeats: detect a silent peer. No clock of its own: the caller says
//! what time it is, so the logic is tested without waiting.

use std::time::Duration;

use tokio::time::Instant;

/// How often to tick and how many silent ticks mean the peer is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// Send a tick when nothing else was sent for this long.
    pub tick: Duration,
    /// Declare the peer down after this many ticks' time without hearing
    /// from it.
    pub missed: u32,
}

impl Default for HeartbeatConfig {
    /// A 1 s tick, down after 4 missed: a dead peer is found within 4 s.
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            missed: 4,
        }
    }
}

/// What to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beat {
    /// Nothing until [`Heartbeat::deadline`].
    Wait,
    /// Send a tick frame (anything sent counts).
    SendTick,
    /// The peer has been silent too long: close the connection and report
    /// it lost.
    PeerDown,
}

/// The heartbeat state of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat {
    config: HeartbeatConfig,
    heard: Instant,
    sent: Instant,
}

impl Heartbeat {
    /// A heartbeat for a connection that came up at `now`.
    pub fn new(config: HeartbeatConfig, now: Instant) -> Self {
        Self {
            config,
            heard: now,
            sent: now,
        }
    }

    /// Something arrived from the peer.
    pub fn heard(&mut self, now: Instant) {
        self.heard = self.heard.max(now);
    }

    /// Something was sent to the peer.
    pub fn sent(&mut self, now: Instant) {
        self.sent = self.sent.max(now);
    }

    /// What to do at `now`. A `SendTick` counts as sent.
    pub fn poll(&mut self, now: Instant) -> Beat {
        if now.saturating_duration_since(self.heard) >= self.silence_limit() {
            return Beat::PeerDown;
        }
        if now.saturating_duration_since(self.sent) >= self.config.tick {
            self.sent = now;
            return Beat::SendTick;
        }
        Beat::Wait
    }

    /// When to poll next.
    pub fn deadline(&self) -> Instant {
        (self.sent + self.config.tick).min(self.heard + self.silence_limit())
    }

    fn silence_limit(&self) -> Duration {
        self.config.tick.saturating_mul(self.config.missed.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HeartbeatConfig {
        HeartbeatConfig {
            tick: Duration::from_secs(1),
            missed: 3,
        }
    }

    #[test]
    fn ticks_when_quiet_and_declares_a_silent_peer_down() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(config(), t0);
        assert_eq!(hb.poll(t0), Beat::Wait);
        assert_eq!(hb.deadline(), t0 + Duration::from_secs(1));
        assert_eq!(hb.poll(t0 + Duration::from_secs(1)), Beat::SendTick);
        assert_eq!(hb.poll(t0 + Duration::from_millis(1500)), Beat::Wait);
        assert_eq!(hb.poll(t0 + Duration::from_secs(2)), Beat::SendTick);
        assert_eq!(hb.deadline(), t0 + Duration::from_secs(3));
        assert_eq!(hb.poll(t0 + Duration::from_secs(3)), Beat::PeerDown);
    }

    #[test]
    fn hearing_from_the_peer_keeps_it_up() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(config(), t0);
        for s in 1..100 {
            let now = t0 + Duration::from_secs(s);
            hb.heard(now);
            assert_ne!(hb.poll(now), Beat::PeerDown);
        }
    }

    #[test]
    fn traffic_sent_replaces_ticks() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(config(), t0);
        for ms in (100..5000).step_by(100) {
            let now = t0 + Duration::from_millis(ms);
            hb.sent(now);
            hb.heard(now);
            assert_eq!(hb.poll(now), Beat::Wait);
        }
    }
}
