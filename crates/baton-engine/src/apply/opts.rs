//! The options of an apply and its failure policy: how many actions at once, retries and
//! backoff, what to do when an action fails, a resumed run's bookkeeping, the state lock's fence.
//!
//! Plain data: must not run anything or read configuration syntax (the policy values come
//! decoded from `baton-config::settings`).

use super::fault::FaultInjection;
use baton_core::InstanceAddr;
use baton_eval::Value;
use baton_state::queue::WorkQueue;
use baton_state::Fence;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Retries of retryable provider failures: `attempts` in all, exponential backoff from `base`
/// capped at `cap`, with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        }
    }
}

pub use baton_config::FailurePolicy;

/// What a resumed run already knows from the interrupted one.
#[derive(Clone, Debug, Default)]
pub struct ResumeInfo {
    /// Create/update/read parts of changes (by index in the plan) already done, with the
    /// object they produced.
    pub done_apply: HashMap<usize, Option<Value>>,
    /// Delete parts already done.
    pub done_destroy: HashSet<usize>,
    /// Parts whose outcome is unknown (the process died while they ran): the real object is
    /// checked before acting, so nothing is created twice.
    pub probe_apply: HashSet<usize>,
    pub probe_destroy: HashSet<usize>,
    /// Deposed keys made by the interrupted run's create-before-destroy replacements.
    pub deposed: HashMap<InstanceAddr, String>,
}

#[derive(Clone, Debug)]
pub struct ApplyOpts {
    pub parallelism: usize,
    pub run_id: String,
    /// `apply`, `destroy`, `resume` or `rollback`: the run's kind and the version's command.
    pub command: String,
    /// Who asks, as the run record shows it (the request's actor, e.g. `user@host` or
    /// `api:NAME`); empty: the user of this process.
    pub who: String,
    pub retry: RetryPolicy,
    pub on_failure: FailurePolicy,
    /// `max_fail_percentage` of the stack's `baton` settings: the share of failure domains
    /// (hosts, see [`super::domains`]) that may fail before the whole run fails. `None`: the
    /// run fails only when every domain failed.
    pub max_fail_percentage: Option<u8>,
    /// The run this one resumes or rolls back.
    pub parent: Option<String>,
    pub resume: Option<ResumeInfo>,
    /// Set to kill in-flight actions (a second interrupt); they are reported as failed.
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
    /// A fault to inject (tests and chaos drills; the binary reads `BATON_FAULT_INJECT`).
    pub fault: Option<FaultInjection>,
    /// The fencing token of the state lock the caller holds ([`baton_state::LockGuard::fence`]);
    /// every write of the run carries it, and fails once another holder took the lock over.
    pub fence: Fence,
    /// Perform the run's provider calls on workers claiming them from this queue (`None`: in
    /// this process).
    pub workers: Option<Workers>,
}

impl Default for ApplyOpts {
    fn default() -> Self {
        ApplyOpts {
            parallelism: 10,
            run_id: String::new(),
            command: "apply".into(),
            who: String::new(),
            retry: RetryPolicy::default(),
            on_failure: FailurePolicy::Rollback,
            max_fail_percentage: None,
            parent: None,
            resume: None,
            cancel: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            fault: None,
            // No lock: matches no acquisition (tokens start at 1), so writes are refused.
            fence: Fence::default(),
            workers: None,
        }
    }
}

/// The queue a run's actions go to, and the labels its workers must carry.
#[derive(Clone)]
pub struct Workers {
    pub queue: Arc<dyn WorkQueue>,
    pub run_on: BTreeMap<String, String>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("queue", &self.queue.describe())
            .field("run_on", &self.run_on)
            .finish()
    }
}
