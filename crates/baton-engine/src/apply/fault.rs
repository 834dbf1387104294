//! Fault injection for testing crash and failure handling: the `fail:K`/`kill:K` spec and the
//! count of apply-phase actions that decides when it fires.
//!
//! Must not do anything unless a fault was asked for; it only decides, the runner acts.

use baton_core::{Diagnostic, Diagnostics, InstanceAddr};
use std::sync::Arc;

/// A fault injected into the apply phase of a run: `fail:K` makes the K-th action fail before
/// it starts; `kill:K` makes the process kill itself (SIGKILL) right after the K-th action's
/// intent is journaled, before the provider is called — the worst moment for a crash.
/// Actions are counted from 1 across the run's apply phase; clones share the count.
#[derive(Clone, Debug)]
pub struct FaultInjection {
    pub fault: Fault,
    /// The action (1-based) it hits.
    pub at: u64,
    seen: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Fail,
    Kill,
}

/// A fault injection spec that is not `fail:K` or `kill:K`.
#[derive(Debug, thiserror::Error)]
#[error("invalid fault injection {spec:?}: expected fail:K or kill:K with K at least 1")]
pub struct FaultSpecError {
    pub spec: String,
}

impl FaultInjection {
    pub fn new(fault: Fault, at: u64) -> FaultInjection {
        FaultInjection {
            fault,
            at,
            seen: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }
}

impl std::str::FromStr for FaultInjection {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = || FaultSpecError {
            spec: spec.to_string(),
        };
        let (what, k) = spec.split_once(':').ok_or_else(err)?;
        let fault = match what.trim() {
            "fail" => Fault::Fail,
            "kill" => Fault::Kill,
            _ => return Err(err()),
        };
        match k.trim().parse::<u64>() {
            Ok(at) if at >= 1 => Ok(FaultInjection::new(fault, at)),
            _ => Err(err()),
        }
    }
}

/// What an injected fault does to one action.
#[derive(Debug, PartialEq)]
pub(super) enum Injected {
    Nothing,
    /// Kill the process once this action's intent is journaled.
    KillAfterIntent,
}

/// Counts an action of the apply phase against `fault` ([`FaultInjection`]).
pub(super) fn fault_injection(
    fault: Option<&FaultInjection>,
    phase: &str,
    addr: &InstanceAddr,
) -> Result<Injected, Diagnostics> {
    use std::sync::atomic::Ordering;
    let Some(f) = fault else {
        return Ok(Injected::Nothing);
    };
    if phase != "apply" {
        return Ok(Injected::Nothing);
    }
    let n = f.seen.fetch_add(1, Ordering::SeqCst) + 1;
    if n != f.at {
        return Ok(Injected::Nothing);
    }
    match f.fault {
        Fault::Fail => Err(Diagnostic::error(
            "Injected failure",
            format!("Fault injection failed action {n} ({addr})."),
        )
        .into()),
        Fault::Kill => Ok(Injected::KillAfterIntent),
    }
}

impl FaultInjection {
    /// Counts one event (a workflow step's recorded outcome) and says whether the fault fires
    /// on it.
    pub fn hit(&self) -> Option<Fault> {
        use std::sync::atomic::Ordering;
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        (n == self.at).then_some(self.fault)
    }
}

/// Ends this process at once with SIGKILL, as a crash would: nothing is flushed or cleaned up.
/// For fault injection only.
pub fn kill_this_process() {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    // SIGKILL cannot be caught; if sending it failed, abort is the next best crash.
    std::process::abort();
}
