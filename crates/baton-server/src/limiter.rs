//! The failed-login limiter: a client (by IP address) that presented [`MAX_FAILURES`] bad
//! tokens (or as many as `baton serve --login-failures` says) within [`WINDOW`] is refused
//! (429) until the oldest of them leaves the window.
//!
//! Must not count requests without a token (they are refused without a guess being made) or
//! successful ones, and must not grow without bound: entries with no failure left in the
//! window are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bad tokens a client may present within [`WINDOW`].
pub const MAX_FAILURES: usize = 10;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Failures per client.
pub struct Limiter {
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    max: usize,
}

impl Default for Limiter {
    fn default() -> Limiter {
        Limiter::new(MAX_FAILURES)
    }
}

impl Limiter {
    /// A limiter refusing a client after `max` bad tokens within [`WINDOW`] (at least 1).
    pub fn new(max: usize) -> Limiter {
        Limiter {
            failures: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    /// `Some(wait)` when `ip` is refused now, with how long until it may try again.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let times = map.get_mut(&ip)?;
        times.retain(|t| now.saturating_duration_since(*t) < WINDOW);
        if times.len() >= self.max {
            let oldest = times.first().copied().unwrap_or(now);
            Some(WINDOW.saturating_sub(now.saturating_duration_since(oldest)))
        } else {
            None
        }
    }

    /// Records a bad token from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, times| {
                times.retain(|t| now.saturating_duration_since(*t) < WINDOW);
                !times.is_empty()
            });
        }
        let times = map.entry(ip).or_default();
        times.retain(|t| now.saturating_duration_since(*t) < WINDOW);
        times.push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_attempt_within_a_minute_is_refused_until_the_window_moves() {
        let l = Limiter::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(l.blocked(a, t0), None, "attempt {}", i + 1);
            l.failed(a, t0 + Duration::from_secs(i as u64));
        }
        let now = t0 + Duration::from_secs(15);
        assert_eq!(l.blocked(a, now), Some(Duration::from_secs(45)));
        assert_eq!(l.blocked(b, now), None, "another client is not affected");
        // The first failure leaves the window after a minute.
        assert_eq!(l.blocked(a, t0 + WINDOW), None);
    }
}
