//! The durable record of workflow runs: one row per run (its workflow, inputs, definition,
//! status and the lease of the process advancing it) and one per step instance (its status,
//! attempts, outputs, recorded command output, child stack run, approval). A workflow run is
//! advanced by whoever holds its *claim* — a lease with a fencing token, like the state lock
//! but per run — so many runs progress at once in one store and a run whose process died is
//! taken over after its lease expires.
//!
//! Must not interpret inputs, outputs or definitions (they are opaque JSON here) and must not
//! decide what runs next: that is `baton-workflow`'s.

use crate::StateError;
use std::time::Duration;

/// The status of a workflow run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WfRunStatus {
    /// Waiting for a concurrency slot.
    Queued,
    Running,
    /// Nothing can go on until an approval (or a retry's backoff) arrives; no process holds it.
    Waiting,
    Succeeded,
    /// A step failed and the failure policy was `halt`.
    Failed,
    /// A step failed, everything applied was rolled back and the compensations ran.
    RolledBack,
    /// Rolling back did not finish; `baton rollback RUN` finishes it.
    RollbackFailed,
    /// Its process died while it was running (found by a later claim); `baton resume RUN`.
    Interrupted,
    /// Rejected at an approval, or cancelled.
    Cancelled,
}

impl WfRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WfRunStatus::Queued => "queued",
            WfRunStatus::Running => "running",
            WfRunStatus::Waiting => "waiting",
            WfRunStatus::Succeeded => "succeeded",
            WfRunStatus::Failed => "failed",
            WfRunStatus::RolledBack => "rolled_back",
            WfRunStatus::RollbackFailed => "rollback_failed",
            WfRunStatus::Interrupted => "interrupted",
            WfRunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<WfRunStatus> {
        Some(match s {
            "queued" => WfRunStatus::Queued,
            "running" => WfRunStatus::Running,
            "waiting" => WfRunStatus::Waiting,
            "succeeded" => WfRunStatus::Succeeded,
            "failed" => WfRunStatus::Failed,
            "rolled_back" => WfRunStatus::RolledBack,
            "rollback_failed" => WfRunStatus::RollbackFailed,
            "interrupted" => WfRunStatus::Interrupted,
            "cancelled" => WfRunStatus::Cancelled,
            _ => return None,
        })
    }

    /// No step will run again without a `rollback`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            WfRunStatus::Succeeded
                | WfRunStatus::Failed
                | WfRunStatus::RolledBack
                | WfRunStatus::Cancelled
        )
    }
}

/// The status of one step instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WfStepStatus {
    /// Its start is recorded; its outcome is not (yet, or the process died).
    Started,
    /// Waiting for an approval, or for a retry after a backoff.
    Waiting,
    Succeeded,
    Failed,
    /// Not run: a step it depends on failed, or the run stopped.
    Skipped,
    /// An apply or destroy step whose stack run was rolled back.
    RolledBack,
    /// A step whose stack run could not be rolled back.
    RollbackFailed,
}

impl WfStepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WfStepStatus::Started => "started",
            WfStepStatus::Waiting => "waiting",
            WfStepStatus::Succeeded => "succeeded",
            WfStepStatus::Failed => "failed",
            WfStepStatus::Skipped => "skipped",
            WfStepStatus::RolledBack => "rolled_back",
            WfStepStatus::RollbackFailed => "rollback_failed",
        }
    }

    pub fn parse(s: &str) -> Option<WfStepStatus> {
        Some(match s {
            "started" => WfStepStatus::Started,
            "waiting" => WfStepStatus::Waiting,
            "succeeded" => WfStepStatus::Succeeded,
            "failed" => WfStepStatus::Failed,
            "skipped" => WfStepStatus::Skipped,
            "rolled_back" => WfStepStatus::RolledBack,
            "rollback_failed" => WfStepStatus::RollbackFailed,
            _ => return None,
        })
    }
}

/// A workflow run as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct WfRun {
    /// A run id (`r` + UUIDv7 hex), unique across stack and workflow runs.
    pub id: String,
    pub workflow: String,
    /// The inputs, as JSON (opaque here).
    pub inputs: String,
    /// The workflow definition the run follows (the workflow files' texts, as JSON), so that a
    /// resumed run does what it started doing.
    pub definition: String,
    pub status: WfRunStatus,
    /// `user@host` of whoever started it.
    pub who: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `rollback` or `halt`.
    pub on_failure: String,
    /// The run this one is a child of (a `workflow` step), and that step's key.
    pub parent: Option<String>,
    pub parent_step: Option<String>,
    /// The reason of the last status change worth showing (the failed step's error, the
    /// rejection's reason).
    pub note: Option<String>,
}

/// One step instance of a run, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct WfStep {
    pub run_id: String,
    /// The instance key: `migrate`, `smoke["https://a"]`, `smoke[0]`, or a rollback or
    /// compensation entry (`rollback:app`, `compensate:page`).
    pub key: String,
    /// The step's name (`smoke`).
    pub step: String,
    /// `apply`, `destroy`, `command`, `approval`, `workflow`, `rollback`, `compensate`.
    pub kind: String,
    /// Assigned by the store on first insert: the order steps were first recorded.
    pub seq: u64,
    pub status: WfStepStatus,
    pub attempts: u32,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// The step's evaluated arguments (JSON, opaque; sensitive values already redacted).
    pub inputs: Option<String>,
    /// The step's outputs (JSON, opaque; typed by the caller).
    pub outputs: Option<String>,
    pub exit_code: Option<i32>,
    /// Recorded command output, bounded by the caller.
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub error: Option<String>,
    /// An apply or destroy step's stack run, and where that stack's state is.
    pub child_run: Option<String>,
    pub child_store: Option<String>,
    /// A waiting retry: when the next attempt is due (RFC 3339 UTC).
    pub next_attempt_at: Option<String>,
    /// An approval step's decision, as JSON (`{"approved": true, "by": "...", "reason": ...}`).
    pub approval: Option<String>,
}

impl WfStep {
    /// A step instance with nothing recorded yet but its identity.
    pub fn new(run_id: &str, key: &str, step: &str, kind: &str) -> WfStep {
        WfStep {
            run_id: run_id.to_string(),
            key: key.to_string(),
            step: step.to_string(),
            kind: kind.to_string(),
            seq: 0,
            status: WfStepStatus::Started,
            attempts: 0,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            inputs: None,
            outputs: None,
            exit_code: None,
            stdout: None,
            stderr: None,
            error: None,
            child_run: None,
            child_store: None,
            next_attempt_at: None,
            approval: None,
        }
    }
}

/// The right to advance one run: whoever holds the claim with the newest token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WfClaim {
    pub run_id: String,
    /// `user@host pid N`: who holds it.
    pub holder: String,
    /// The fencing token: every write for the run carries it and is refused once a newer
    /// claim exists.
    pub token: u64,
}

/// Who holds a run's claim now, as [`WorkflowStore::claim`] reports a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WfClaimHolder {
    pub holder: String,
    /// RFC 3339 UTC; the claim may be taken over after this.
    pub expires_at: String,
}

/// A cached step result (a step with a `cache_key`).
#[derive(Clone, Debug, PartialEq)]
pub struct WfCacheEntry {
    pub outputs: String,
    pub run_id: String,
    /// RFC 3339 UTC.
    pub stored_at: String,
}

/// Storage of workflow runs. Every write for a run takes the caller's claim token and fails
/// with [`StateError::ClaimLost`] if a newer claim on the run exists.
pub trait WorkflowStore: Send + Sync {
    /// Records a new run (status as given, normally `Queued` or `Running`) and claims it for
    /// `holder` with a lease of `lease`. The run id must be new: a duplicate is refused and
    /// the existing run left as it is.
    fn create_run(&self, run: &WfRun, holder: &str, lease: Duration)
        -> Result<WfClaim, StateError>;

    /// Claims an existing run for `holder`: succeeds if nobody holds it or the holder's lease
    /// expired (a run left `Running` by a holder whose lease expired, or who released it,
    /// becomes `Interrupted` first, so the new holder sees it was interrupted; a run in any
    /// other status keeps it). The
    /// claim always gets a bigger token than any before it, so the previous claim's writes
    /// are refused from then on. `Err(StateError::Claimed { .. })` when another holder has a
    /// live claim (the same holder may claim again); `NoSuchRun` when there is no such run.
    fn claim(&self, run_id: &str, holder: &str, lease: Duration) -> Result<WfClaim, StateError>;

    /// Pushes the claim's expiry `lease` into the future. Fails with `ClaimLost` if it was lost
    /// (a newer claim exists) or released.
    fn renew(&self, claim: &WfClaim, lease: Duration) -> Result<(), StateError>;

    /// Gives the claim up (the run stays as it is, for the next claim, which may be taken at
    /// once). `ClaimLost` if a newer claim exists; releasing twice is harmless.
    fn release(&self, claim: &WfClaim) -> Result<(), StateError>;

    /// Sets the run's status (and `finished_at` when final — cleared when not —, `note` when
    /// given; without a note the last one stays).
    fn set_run_status(
        &self,
        claim: &WfClaim,
        status: WfRunStatus,
        note: Option<&str>,
    ) -> Result<(), StateError>;

    /// Inserts or replaces a step instance's record (keyed by run and key; `seq` is kept from
    /// the first insert). One durable transaction.
    fn put_step(&self, claim: &WfClaim, step: &WfStep) -> Result<(), StateError>;

    /// Writes several step instances in one durable transaction (steps that start or finish
    /// together); each as [`WorkflowStore::put_step`] would.
    fn put_steps(&self, claim: &WfClaim, steps: &[WfStep]) -> Result<(), StateError> {
        for s in steps {
            self.put_step(claim, s)?;
        }
        Ok(())
    }

    fn run(&self, run_id: &str) -> Result<Option<WfRun>, StateError>;

    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<WfRun>, StateError>;

    /// The runs of `workflow` with one of `statuses` (none if it is empty), oldest first.
    fn runs_of(&self, workflow: &str, statuses: &[WfRunStatus]) -> Result<Vec<WfRun>, StateError>;

    /// A run's step instances, in `seq` order.
    fn steps(&self, run_id: &str) -> Result<Vec<WfStep>, StateError>;

    /// Records an approval decision for a waiting approval step without a claim (an approver
    /// is not advancing the run). `NotWaiting` unless the step is a `Waiting` approval step
    /// without a decision yet (so one decision counts when approvers race); `NoSuchRun` if
    /// there is no such run. The step's status is left as it is, for the workflow layer.
    fn decide_approval(&self, run_id: &str, key: &str, decision: &str) -> Result<(), StateError>;

    /// The newest cache entry of (`workflow`, `step`, `key`) stored at or after `since`
    /// (RFC 3339 UTC with whole seconds, as the store writes `stored_at`: the times compare as
    /// text).
    fn cache_get(
        &self,
        workflow: &str,
        step: &str,
        key: &str,
        since: &str,
    ) -> Result<Option<WfCacheEntry>, StateError>;

    fn cache_put(
        &self,
        claim: &WfClaim,
        workflow: &str,
        step: &str,
        key: &str,
        outputs: &str,
    ) -> Result<(), StateError>;

    /// Takes one of `max` slots of the named limit for (`run_id`, `key`); false when all are
    /// taken. Slots held by runs whose claim expired or was released, or that are final, are
    /// freed first (never the caller's own). Taking a slot already held for (`run_id`, `key`)
    /// is true without taking another.
    fn limit_acquire(
        &self,
        claim: &WfClaim,
        limit: &str,
        max: u32,
        key: &str,
    ) -> Result<bool, StateError>;

    fn limit_release(&self, claim: &WfClaim, limit: &str, key: &str) -> Result<(), StateError>;

    /// When the schedule `workflow`/`schedule` last fired (RFC 3339 UTC), if ever.
    fn schedule_last(&self, workflow: &str, schedule: &str) -> Result<Option<String>, StateError>;

    /// Records that the schedule fired for the slot `at`, only if it has not fired for `at` or
    /// later already (true when this call recorded it: exactly one agent fires a slot).
    fn schedule_fire(&self, workflow: &str, schedule: &str, at: &str) -> Result<bool, StateError>;
}
