//! What an apply walk's provider calls run with: the [`Worker`] (the providers and their
//! settings, the run's provider context and stop handle), its per-call context and its retry
//! loop.
//!
//! Must not know about plans, state or the journal: it only calls what it is given.

use super::opts::RetryPolicy;
use crate::providers::ProviderConfigs;
use baton_graph::StopHandle;
use baton_provider::{ErrorKind, ProviderCtx, ProviderError, ProviderInfo, Registry};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the perform step runs with: the providers (the context's set) and their settings, the
/// run's provider context (working directory, cancel flag, run id, one-at-a-time lock) and the
/// run's stop handle.
pub(super) struct Worker {
    pub(super) registry: Arc<Registry>,
    pub(super) configs: ProviderConfigs,
    pub(super) ctx: ProviderCtx,
    pub(super) stop: StopHandle,
}

impl Worker {
    /// The provider context of one call to a type of provider `p`: the run's, with `p`'s
    /// settings and the call's time limit.
    pub(super) fn call_ctx(
        &self,
        p: ProviderInfo,
        addr: &baton_core::InstanceAddr,
        timeout: Option<Duration>,
    ) -> ProviderCtx {
        let mut ctx = self.configs.ctx_at(&self.ctx, p, addr);
        ctx.timeout = timeout;
        ctx
    }

    /// Calls `f`, retrying retryable failures with exponential backoff and jitter until the
    /// policy's attempts are used up or the run is stopped or cancelled. Returns the result and
    /// the number of attempts made.
    pub(super) fn with_retries<T>(
        &self,
        policy: RetryPolicy,
        mut f: impl FnMut() -> Result<T, ProviderError>,
    ) -> (Result<T, ProviderError>, u32) {
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return (Ok(v), attempt),
                Err(e)
                    if e.kind == ErrorKind::Retryable
                        && attempt < policy.attempts
                        && !self.stop.is_stopped()
                        && !self.ctx.is_cancelled() =>
                {
                    let exp = policy.base.saturating_mul(1 << (attempt - 1).min(16));
                    let capped = exp.min(policy.cap);
                    // Full jitter on half of the delay: between 50% and 100% of it.
                    let delay = capped.mul_f64(0.5 + rand_fraction() * 0.5);
                    let until = Instant::now() + delay;
                    while Instant::now() < until && !self.ctx.is_cancelled() {
                        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
                    }
                    attempt += 1;
                }
                Err(e) => return (Err(e), attempt),
            }
        }
    }
}

/// A fraction in [0, 1) for the backoff's jitter.
fn rand_fraction() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(n % 1000) / 1000.0
}
