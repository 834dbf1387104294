//! The state store contract. A store persists versioned snapshots, accepts writes one object
//! at a time inside an open version, and provides an exclusive lock with holder information.
//!
//! Every method is safe to call from several threads. Nothing here knows about SQLite.

use crate::audit::{AuditEntry, AuditRecord, VerifyReport};
use crate::model::{
    EntryOutcome, InstanceState, JournalEntry, LockInfo, ObjectKey, OutputState, RunRecord,
    RunStatus, Snapshot, VersionMeta,
};
use std::time::Duration;

/// Writes a run's plan (see [`StateStore::begin_run`]): it may be called more than once and
/// must write the same bytes each time.
pub type PlanWriter<'a> = &'a dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()>;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state is locked by {} (pid {} on {}, since {}, running {})", .0.who, .0.pid, .0.host, .0.since, .0.operation)]
    Locked(Box<LockInfo>),
    #[error("state version {0} does not exist")]
    NoSuchVersion(u64),
    #[error("no version is open for writing (serial {0})")]
    VersionNotOpen(u64),
    #[error("the state store at {path} is not usable: {message}")]
    Corrupt { path: String, message: String },
    #[error("state store I/O failed at {path}: {message}")]
    Io { path: String, message: String },
}

/// Returned by [`StateStore::lock`]; the lock is released when it is dropped. Releasing never
/// fails loudly: if the store is gone, the lock row goes with it or is found stale later.
pub struct LockGuard {
    pub info: LockInfo,
    /// The holder whose lock was cleared to take this one because its process no longer exists
    /// on this host (see [`StateStore::lock`]); the CLI reports it. `None` in the usual case.
    pub cleared_stale: Option<LockInfo>,
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl LockGuard {
    pub fn new(info: LockInfo, release: Box<dyn FnOnce() + Send>) -> LockGuard {
        LockGuard::after_clearing(info, None, release)
    }

    /// A guard for a lock taken after clearing `cleared_stale`, a dead holder's lock.
    pub fn after_clearing(
        info: LockInfo,
        cleared_stale: Option<LockInfo>,
        release: Box<dyn FnOnce() + Send>,
    ) -> LockGuard {
        LockGuard {
            info,
            cleared_stale,
            release: Some(release),
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("info", &self.info)
            .field("cleared_stale", &self.cleared_stale)
            .finish_non_exhaustive()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(r) = self.release.take() {
            r();
        }
    }
}

pub trait StateStore: Send + Sync {
    /// A description for messages, e.g. the database path.
    fn describe(&self) -> String;

    /// Takes the exclusive lock, waiting up to `timeout` for a live holder to release it
    /// (`Duration::ZERO`: fail at once). A lock whose holder is a process that no longer exists
    /// on this host (or whose pid now belongs to another process) is cleared and returned in
    /// [`LockGuard::cleared_stale`]; a holder on another host is never cleared.
    /// Fails with [`StateError::Locked`] naming the holder.
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError>;

    /// The current holder of the lock, if any (without taking it).
    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError>;

    /// Removes the lock whatever its holder (for `force-unlock`); returns what was removed.
    fn force_unlock(&self) -> Result<Option<LockInfo>, StateError>;

    /// The latest state: every object and output as last written, including writes of a
    /// version that is still open or was interrupted.
    fn current(&self) -> Result<Snapshot, StateError>;

    /// Opens a new version (serial = latest + 1) for writing; returns its serial. The
    /// caller should hold the lock. A version still open (its run was interrupted) is closed
    /// with status `interrupted`; its writes stay in the state.
    fn begin_version(&self, run_id: &str, command: &str) -> Result<u64, StateError>;

    /// Records one object in the open version `serial` (`None` removes it). Durable when it
    /// returns. Fails with [`StateError::VersionNotOpen`] unless `serial` is the open version
    /// (the latest, still in progress).
    fn put_object(
        &self,
        serial: u64,
        key: &ObjectKey,
        object: Option<&InstanceState>,
    ) -> Result<(), StateError>;

    /// Replaces all root outputs in the open version `serial`.
    fn put_outputs(
        &self,
        serial: u64,
        outputs: &std::collections::BTreeMap<String, OutputState>,
    ) -> Result<(), StateError>;

    /// Closes version `serial` with a status (`complete` or `failed`). Fails with
    /// [`StateError::VersionNotOpen`] if it is not the open version.
    fn finish_version(&self, serial: u64, status: &str) -> Result<(), StateError>;

    /// Every version, oldest first.
    fn history(&self) -> Result<Vec<VersionMeta>, StateError>;

    /// The state exactly as of a past version (serial 0: the empty state before the first
    /// version). Fails with [`StateError::NoSuchVersion`] for a serial never opened.
    fn at_version(&self, serial: u64) -> Result<Snapshot, StateError>;

    // ----- the run journal -----

    /// Records a new run (status `running`) and its plan, which `plan` writes (it may be
    /// called more than once and must write the same bytes each time); `run.plan` is not read.
    /// Streaming keeps a large plan from being held in memory as one string.
    fn begin_run(&self, run: &RunRecord, plan: PlanWriter<'_>) -> Result<(), StateError>;

    /// Sets a run's status (and its finish time, for final statuses).
    fn finish_run(&self, id: &str, status: RunStatus) -> Result<(), StateError>;

    /// Records an action's intent before it starts; returns its sequence number.
    fn journal_start(&self, entry: &JournalEntry) -> Result<u64, StateError>;

    /// Records an action's outcome and, in the same transaction, the state writes it implies
    /// (so journal and state always agree).
    fn journal_finish(
        &self,
        run_id: &str,
        seq: u64,
        outcome: &EntryOutcome,
        writes: &[StateWrite<'_>],
    ) -> Result<(), StateError>;

    /// Every run, newest first, without its plan (`plan` is null: plans can be large; [`run`]
    /// loads one). A `running` run whose process no longer exists on this host is reported
    /// (and recorded) as `interrupted`.
    ///
    /// [`run`]: StateStore::run
    fn runs(&self) -> Result<Vec<RunRecord>, StateError>;

    /// One run, with its plan; as in [`StateStore::runs`], an orphaned `running` run is
    /// reported and recorded as `interrupted`.
    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError>;

    /// A run's actions in order.
    fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>, StateError>;

    // ----- the audit log -----

    /// Appends a record to the hash-chained audit log and returns it with its id, previous
    /// hash and hash (an empty `time` is stamped with the current time). Atomic, and chained
    /// correctly when several processes append at once. Never takes the state lock: read-only
    /// commands append while another process holds it.
    fn audit_append(&self, entry: AuditEntry) -> Result<AuditRecord, StateError>;

    /// Every audit record, oldest first, as stored (even if tampered with: see
    /// [`StateStore::audit_verify`]).
    fn audit_records(&self) -> Result<Vec<AuditRecord>, StateError>;

    /// One audit record by id.
    fn audit_record(&self, id: u64) -> Result<Option<AuditRecord>, StateError>;

    /// Checks the whole log (see [`crate::audit::verify`]); tampering is a report, not an error.
    fn audit_verify(&self) -> Result<VerifyReport, StateError>;
}

/// A state write that accompanies a journal outcome.
#[derive(Clone, Copy, Debug)]
pub struct StateWrite<'a> {
    pub serial: u64,
    pub key: &'a ObjectKey,
    pub object: Option<&'a InstanceState>,
}
