//! The state store contract. A store persists versioned snapshots, accepts writes one object
//! at a time inside an open version, and provides an exclusive lock with holder information:
//! a lease its guard renews, and a fencing token every write carries.
//!
//! Every method is safe to call from several threads. Nothing here knows about SQLite.

use crate::model::{
    AuditEntry, AuditRecord, EntryOutcome, Fence, InstanceState, JournalEntry, Lease, LockInfo,
    ObjectKey, OutputState, RunRecord, RunStatus, Snapshot, VerifyReport, VersionMeta,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Writes a run's plan (see [`StateStore::begin_run`]): it may be called more than once and
/// must write the same bytes each time.
pub type PlanWriter<'a> = &'a dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()>;

/// The lease of a lock taken with [`crate::lock::current_lock_info`] unless its `lease_ms`
/// says otherwise: long enough that a busy machine renews in time (every third of it), short
/// enough that a holder that vanished from another host blocks others for half a minute.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state is locked by {} (pid {} on {}, since {}, running {})", .0.who, .0.pid, .0.host, .0.since, .0.operation)]
    Locked(Box<LockInfo>),
    /// A write carried the fencing token of a lock that has since been taken over (after its
    /// lease expired) or removed (`force-unlock`): the writer no longer holds the lock.
    #[error("{}", fenced_message(*.fence, .holder.as_deref()))]
    Fenced {
        /// The token the write carried.
        fence: Fence,
        /// Who holds the lock now (`None`: nobody).
        holder: Option<Box<LockInfo>>,
    },
    /// `force-unlock` without the override found a live lease.
    #[error("the lock held by {} (pid {} on {}, since {}, running {}) is live: its lease has not expired", .0.holder.who, .0.holder.pid, .0.holder.host, .0.holder.since, .0.holder.operation)]
    LeaseLive(Box<Lease>),
    #[error("state version {0} does not exist")]
    NoSuchVersion(u64),
    /// A workflow run's claim is held, live, by someone else.
    #[error("workflow run {run} is being advanced by {} (its claim expires at {})", .holder.holder, .holder.expires_at)]
    Claimed {
        run: String,
        holder: Box<crate::workflow::WfClaimHolder>,
    },
    /// A write for a workflow run carried a claim token that a newer claim replaced.
    #[error("the claim on workflow run {run} was lost: this write carries token {token}, and another process has claimed the run since")]
    ClaimLost { run: String, token: u64 },
    #[error("there is no workflow run {0}")]
    NoSuchRun(String),
    /// An approval for a step that is not waiting for one.
    #[error("step {key} of run {run} is not waiting for an approval")]
    NotWaiting { run: String, key: String },
    #[error("no version is open for writing (serial {0})")]
    VersionNotOpen(u64),
    #[error("the state store at {path} is not usable: {message}")]
    Corrupt { path: String, message: String },
    #[error("state store I/O failed at {path}: {message}")]
    Io { path: String, message: String },
}

fn fenced_message(fence: Fence, holder: Option<&LockInfo>) -> String {
    match holder {
        Some(h) => format!(
            "the state lock was lost: this write carries fencing token {fence}, but the lock now belongs to {} (pid {} on {}, since {}, running {})",
            h.who, h.pid, h.host, h.since, h.operation
        ),
        None => format!(
            "the state lock was lost: this write carries fencing token {fence}, but the lock was removed"
        ),
    }
}

/// What `force_unlock` may remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlock {
    /// Only a lock whose lease expired (or whose holder is a process of this host that no
    /// longer exists); a live lease is refused with [`StateError::LeaseLive`].
    IfExpired,
    /// Any lock, even a live lease: the caller records the override (the CLI audits it).
    EvenIfLive,
}

/// A lock that was cleared to take the lock (see [`StateStore::lock`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleLock {
    pub holder: LockInfo,
    pub why: Staleness,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Staleness {
    /// The holder was a process of this host that no longer exists (or whose pid was reused).
    ProcessGone,
    /// The holder stopped renewing its lease and the lease ran out.
    LeaseExpired,
}

/// The outcome of one renewal of a lease (see [`LockGuard::leased`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    Renewed,
    /// The lock belongs to another acquisition now: renewing stops for good.
    Lost,
    /// The store could not be reached this time (busy, I/O); the next renewal tries again.
    Failed,
}

/// Renews a lease once; called by the guard's renewer thread.
pub type Renew = Box<dyn FnMut() -> Renewal + Send>;

/// Returned by [`StateStore::lock`]; the lock is released when it is dropped. While it lives, a
/// background thread it owns renews the lease every third of its duration; the thread is
/// stopped (and joined) before the lock is released. Releasing never fails loudly: if the store
/// is gone, the lock row goes with it or is found expired later.
///
/// Must not be dropped while the thread dropping it holds the store (e.g. inside
/// `SqliteStore::with_transaction`): the renewer may be waiting for it.
pub struct LockGuard {
    pub info: LockInfo,
    /// The holder whose lock was cleared to take this one, and why (see
    /// [`StateStore::lock`]); the CLI reports it. `None` in the usual case.
    pub cleared_stale: Option<StaleLock>,
    fence: Fence,
    lost: Arc<AtomicBool>,
    renewer: Option<Renewer>,
    release: Option<Box<dyn FnOnce() + Send>>,
}

struct Renewer {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl LockGuard {
    /// A guard for the lock `info` acquired with token `fence`, after clearing `cleared_stale`
    /// (if any). When `info.lease_ms` is not 0, a renewer thread calls `renew` every third of
    /// the lease until the guard is dropped or `renew` reports [`Renewal::Lost`]. If the thread
    /// cannot be started, `release` runs and the error is returned.
    pub fn leased(
        info: LockInfo,
        fence: Fence,
        cleared_stale: Option<StaleLock>,
        mut renew: Renew,
        release: Box<dyn FnOnce() + Send>,
    ) -> std::io::Result<LockGuard> {
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = if info.lease_ms == 0 {
            None
        } else {
            let every = Duration::from_millis((info.lease_ms / 3).max(1));
            let (stop, stopped) = mpsc::channel::<()>();
            let flag = Arc::clone(&lost);
            let spawned = std::thread::Builder::new()
                .name("baton-lease".to_string())
                .spawn(move || {
                    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                        if renew() == Renewal::Lost {
                            flag.store(true, Ordering::SeqCst);
                            break;
                        }
                    }
                });
            match spawned {
                Ok(thread) => Some(Renewer { stop, thread }),
                Err(e) => {
                    release();
                    return Err(e);
                }
            }
        };
        Ok(LockGuard {
            info,
            cleared_stale,
            fence,
            lost,
            renewer,
            release: Some(release),
        })
    }

    /// The fencing token every write under this lock carries.
    pub fn fence(&self) -> Fence {
        self.fence
    }

    /// Whether a renewal found the lock taken over or removed: writes under it are refused.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and forgets the lock without releasing it, as a holder that crashed, hung
    /// or was cut off from the store would: the lease runs out and another holder may take the
    /// lock over. For tests and fault drills.
    pub fn abandon(mut self) {
        self.stop_renewer();
        self.release = None;
    }

    fn stop_renewer(&mut self) {
        if let Some(r) = self.renewer.take() {
            drop(r.stop);
            // A renewer that panicked has nothing left to stop.
            let _ = r.thread.join();
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("info", &self.info)
            .field("cleared_stale", &self.cleared_stale)
            .field("fence", &self.fence)
            .field("lost", &self.lost())
            .finish_non_exhaustive()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop_renewer();
        if let Some(r) = self.release.take() {
            r();
        }
    }
}

pub trait StateStore: Send + Sync {
    /// A description for messages, e.g. the database path.
    fn describe(&self) -> String;

    /// Takes the exclusive lock for a lease of `info.lease_ms`, waiting up to `timeout` for a
    /// live holder to release it (`Duration::ZERO`: fail at once). The acquisition gets the next
    /// fencing token ([`LockGuard::fence`]). A lock whose lease expired, or whose holder is a
    /// process that no longer exists on this host (or whose pid now belongs to another
    /// process), is taken over and returned in [`LockGuard::cleared_stale`]; a live lease is
    /// never displaced, whatever host it names. Fails with [`StateError::Locked`] naming the
    /// holder.
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError>;

    /// The current holder of the lock, if any (without taking it).
    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError>;

    /// The current lease, if any: holder, fencing token, expiry, and whether it has expired.
    fn lease(&self) -> Result<Option<Lease>, StateError>;

    /// Removes the lock (for `force-unlock`); returns what was removed. With
    /// [`Unlock::IfExpired`] a live lease is refused with [`StateError::LeaseLive`].
    fn force_unlock(&self, how: Unlock) -> Result<Option<LockInfo>, StateError>;

    /// The latest state: every object and output as last written, including writes of a
    /// version that is still open or was interrupted.
    fn current(&self) -> Result<Snapshot, StateError>;

    /// Opens a new version (serial = latest + 1) for writing; returns its serial.
    ///
    /// Every write below carries `fence`, the token of the lock it is made under
    /// ([`LockGuard::fence`]), and fails with [`StateError::Fenced`], writing nothing, unless
    /// that acquisition still holds the lock — checked in the write's own transaction. A version still open (its run was interrupted) is closed
    /// with status `interrupted`; its writes stay in the state.
    fn begin_version(&self, fence: Fence, run_id: &str, command: &str) -> Result<u64, StateError>;

    /// Records one object in the open version `serial` (`None` removes it). Durable when it
    /// returns. Fails with [`StateError::VersionNotOpen`] unless `serial` is the open version
    /// (the latest, still in progress).
    fn put_object(
        &self,
        fence: Fence,
        serial: u64,
        key: &ObjectKey,
        object: Option<&InstanceState>,
    ) -> Result<(), StateError>;

    /// Replaces all root outputs in the open version `serial`.
    fn put_outputs(
        &self,
        fence: Fence,
        serial: u64,
        outputs: &std::collections::BTreeMap<String, OutputState>,
    ) -> Result<(), StateError>;

    /// Closes version `serial` with a status (`complete` or `failed`). Fails with
    /// [`StateError::VersionNotOpen`] if it is not the open version.
    fn finish_version(&self, fence: Fence, serial: u64, status: &str) -> Result<(), StateError>;

    /// Every version, oldest first.
    fn history(&self) -> Result<Vec<VersionMeta>, StateError>;

    /// The state exactly as of a past version (serial 0: the empty state before the first
    /// version). Fails with [`StateError::NoSuchVersion`] for a serial never opened.
    fn at_version(&self, serial: u64) -> Result<Snapshot, StateError>;

    // ----- the run journal -----

    /// Records a new run (status `running`) and its plan, which `plan` writes (it may be
    /// called more than once and must write the same bytes each time); `run.plan` is not read.
    /// Streaming keeps a large plan from being held in memory as one string.
    fn begin_run(
        &self,
        fence: Fence,
        run: &RunRecord,
        plan: PlanWriter<'_>,
    ) -> Result<(), StateError>;

    /// Sets a run's status (and its finish time, for final statuses).
    fn finish_run(&self, fence: Fence, id: &str, status: RunStatus) -> Result<(), StateError>;

    /// Records an action's intent before it starts; returns its sequence number.
    fn journal_start(&self, fence: Fence, entry: &JournalEntry) -> Result<u64, StateError>;

    /// Records an action's outcome and, in the same transaction, the state writes it implies
    /// (so journal and state always agree).
    fn journal_finish(
        &self,
        fence: Fence,
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
