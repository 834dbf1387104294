//! The restart schedule of one replica slot under a [`RestartPolicy`]: Kubernetes'
//! CrashLoopBackOff (a delay doubling up to a cap, reset after a long enough healthy run), with
//! Nomad's "at most N attempts within an interval" and what to do when they are used up.
//!
//! Pure logic over the instants it is given: it must not read the clock, sleep or restart
//! anything (the loop does).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::spec::{OnExhausted, RestartPolicy};

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start the replica again after this delay.
    RestartAfter(Duration),
    /// The attempts are used up and the policy says fail.
    GiveUp,
}

/// The delay before the restart that follows the `n`th consecutive failure (1-based):
/// `delay * 2^(n-1)`, at most `max_delay`.
pub fn delay_for(policy: &RestartPolicy, n: u32) -> Duration {
    let shift = n.saturating_sub(1).min(31);
    policy
        .delay
        .checked_mul(1u32 << shift)
        .unwrap_or(policy.max_delay)
        .min(policy.max_delay)
}

/// The backoff state of one slot.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    consecutive: u32,
    /// When the restarts within the policy's interval were decided.
    recent: VecDeque<Instant>,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff::default()
    }

    /// Consecutive failures since the last reset.
    pub fn consecutive(&self) -> u32 {
        self.consecutive
    }

    /// The replica failed (exited, vanished, or turned unhealthy) at `now`.
    pub fn on_failure(&mut self, policy: &RestartPolicy, now: Instant) -> Decision {
        while let Some(&first) = self.recent.front() {
            if now.saturating_duration_since(first) >= policy.interval {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if let Some(max) = policy.attempts {
            if self.recent.len() >= max as usize {
                return match policy.on_exhausted {
                    OnExhausted::Fail => Decision::GiveUp,
                    OnExhausted::KeepTrying => {
                        self.consecutive = self.consecutive.saturating_add(1);
                        self.recent.push_back(now);
                        Decision::RestartAfter(policy.max_delay)
                    }
                };
            }
        }
        self.consecutive = self.consecutive.saturating_add(1);
        self.recent.push_back(now);
        Decision::RestartAfter(delay_for(policy, self.consecutive))
    }

    /// The replica has been running healthy for `healthy_for`: after the policy's
    /// `reset_after` the next failure starts the schedule over.
    pub fn on_healthy(&mut self, policy: &RestartPolicy, healthy_for: Duration) {
        if healthy_for >= policy.reset_after {
            self.consecutive = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: Option<u32>, on_exhausted: OnExhausted) -> RestartPolicy {
        RestartPolicy {
            delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
            attempts,
            interval: Duration::from_secs(1800),
            on_exhausted,
        }
    }

    enum Ev {
        /// A failure at this second.
        Fail(u64),
        /// Healthy for this many seconds.
        Healthy(u64),
    }

    /// Runs the events; the decisions of the failures, as seconds (`None`: give up).
    fn check(p: &RestartPolicy, events: &[Ev], expect: &[Option<u64>]) {
        let t0 = Instant::now();
        let mut b = Backoff::new();
        let got: Vec<Option<u64>> = events
            .iter()
            .filter_map(|e| match *e {
                Ev::Fail(s) => Some(match b.on_failure(p, t0 + Duration::from_secs(s)) {
                    Decision::RestartAfter(d) => Some(d.as_secs()),
                    Decision::GiveUp => None,
                }),
                Ev::Healthy(s) => {
                    b.on_healthy(p, Duration::from_secs(s));
                    None
                }
            })
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn doubles_to_the_cap() {
        let p = policy(None, OnExhausted::KeepTrying);
        let fails: Vec<Ev> = (0..8).map(Ev::Fail).collect();
        check(&p, &fails, &[10, 20, 40, 80, 160, 300, 300, 300].map(Some));
    }

    #[test]
    fn a_long_healthy_run_resets() {
        let p = policy(None, OnExhausted::KeepTrying);
        use Ev::*;
        check(
            &p,
            &[
                Fail(0),
                Fail(10),
                Healthy(599),
                Fail(700),
                Healthy(600),
                Fail(1400),
                Fail(1410),
            ],
            &[Some(10), Some(20), Some(40), Some(10), Some(20)],
        );
    }

    #[test]
    fn attempts_within_the_interval() {
        use Ev::*;
        let fail = policy(Some(3), OnExhausted::Fail);
        check(
            &fail,
            &[Fail(0), Fail(10), Fail(30), Fail(70)],
            &[Some(10), Some(20), Some(40), None],
        );
        // Once the first attempt is older than the interval, there is room again.
        check(
            &fail,
            &[Fail(0), Fail(10), Fail(30), Fail(1800)],
            &[Some(10), Some(20), Some(40), Some(80)],
        );
        let keep = policy(Some(2), OnExhausted::KeepTrying);
        check(
            &keep,
            &[Fail(0), Fail(10), Fail(30), Fail(40)],
            &[Some(10), Some(20), Some(300), Some(300)],
        );
    }

    #[test]
    fn delay_formula() {
        let p = policy(None, OnExhausted::Fail);
        assert_eq!(delay_for(&p, 0), Duration::from_secs(10));
        assert_eq!(delay_for(&p, 1), Duration::from_secs(10));
        assert_eq!(delay_for(&p, 3), Duration::from_secs(40));
        assert_eq!(delay_for(&p, 1000), Duration::from_secs(300));
    }
}
