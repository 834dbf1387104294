//! The state model: what Baton last knew about every resource instance and root output, and
//! the metadata of each state version; and the records of the audit log (their canonical form
//! and verification are in [`crate::audit`]).
//!
//! Attribute values are opaque JSON here (the engine encodes them with their types, unknown
//! and sensitive marks); this crate never interprets them. Plain data, no I/O.

use baton_core::InstanceAddr;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether an object is usable or must be replaced on the next apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    Ready,
    Tainted,
}

/// Identifies one object in state: an instance's current object, or one of its deposed
/// objects (left behind by a create-before-destroy replacement whose destroy did not finish).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub addr: InstanceAddr,
    /// Empty for the current object.
    pub deposed: String,
}

impl ObjectKey {
    pub fn current(addr: InstanceAddr) -> ObjectKey {
        ObjectKey {
            addr,
            deposed: String::new(),
        }
    }
}

/// An opaque JSON document kept as its text: one allocation per object, so holding the
/// state of many thousands of objects stays cheap. Parsed only by whoever interprets it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<serde_json::value::RawValue>);

impl RawJson {
    pub fn from_value(v: &serde_json::Value) -> RawJson {
        match serde_json::value::to_raw_value(v) {
            Ok(r) => RawJson(r),
            Err(_) => RawJson::null(),
        }
    }

    pub fn from_raw(r: Box<serde_json::value::RawValue>) -> RawJson {
        RawJson(r)
    }

    pub fn null() -> RawJson {
        match serde_json::value::RawValue::from_string("null".to_string()) {
            Ok(r) => RawJson(r),
            // "null" is always valid JSON; keep a total function anyway.
            Err(_) => RawJson::from_value(&serde_json::Value::Null),
        }
    }

    pub fn parse(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(self.0.get()).map_err(|e| e.to_string())
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.0.get() == other.0.get()
    }
}

/// One object as recorded in state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceState {
    /// The provider that manages it, e.g. `provider["terraform.io/builtin/terraform"]`.
    pub provider: String,
    pub schema_version: u32,
    /// The object's attributes, encoded by the engine.
    pub value: RawJson,
    pub status: InstanceStatus,
    /// Resources (addresses without keys) this object depended on when it was last applied, so
    /// that it can be destroyed in the right order after its configuration is gone.
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub create_before_destroy: bool,
}

/// A root module output as recorded in state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    /// The value, encoded by the engine.
    pub value: RawJson,
    pub sensitive: bool,
}

/// One state version: the whole state as of a serial.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub lineage: String,
    /// 0 for a state that has never been written.
    pub serial: u64,
    pub objects: BTreeMap<ObjectKey, InstanceState>,
    pub outputs: BTreeMap<String, OutputState>,
}

impl Snapshot {
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.outputs.is_empty()
    }

    /// The current object of an instance, if any.
    pub fn current(&self, addr: &InstanceAddr) -> Option<&InstanceState> {
        self.objects.get(&ObjectKey::current(addr.clone()))
    }
}

/// How a version came to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMeta {
    pub serial: u64,
    pub lineage: String,
    /// The run that wrote it (empty for state commands without a run).
    pub run_id: String,
    /// The command, e.g. `apply`, `destroy`, `state rm`.
    pub command: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// `in_progress` while a run writes it, then `complete` or `failed`.
    pub status: String,
    /// Objects changed in this version.
    pub changes: u64,
}

/// Who holds the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A unique id for this acquisition.
    pub id: String,
    pub pid: u32,
    pub host: String,
    /// user@host
    pub who: String,
    /// What the holder is doing, e.g. `apply`.
    pub operation: String,
    /// RFC 3339 UTC.
    pub since: String,
    /// The holder process's start time as the OS reports it, to tell a live holder from a
    /// reused pid. Empty when unknown.
    #[serde(default)]
    pub process_start: String,
    /// How long the lock stays held without a renewal, in milliseconds: the holder's guard
    /// renews it well before then (see [`crate::store::LockGuard`]); once it has passed, another
    /// holder may take the lock over. 0 only in locks written before leases existed, which
    /// never expire (they are judged by their process alone).
    #[serde(default)]
    pub lease_ms: u64,
}

/// The fencing token of one acquisition of the lock: a number that grows with every
/// acquisition (takeovers included) and is stored with the lock. Every state and journal write
/// carries the token of the lock it was made under and is refused ([`StateError::Fenced`])
/// when the lock now belongs to a later acquisition, so a holder that lost its lease (paused,
/// partitioned) cannot write over its successor.
///
/// [`StateError::Fenced`]: crate::store::StateError::Fenced
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Fence(pub u64);

impl std::fmt::Display for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The lock as a store holds it: who, under which fencing token, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: LockInfo,
    pub fence: Fence,
    /// When the lease runs out unless renewed, in milliseconds since the Unix epoch by the
    /// store's clock; `None` for a lock without a lease (see [`LockInfo::lease_ms`]).
    pub expires_at_ms: Option<u64>,
    /// Whether the lease has run out, or its holder is a process of this host that no longer
    /// exists: another holder may take the lock, and `force-unlock` may remove it.
    pub expired: bool,
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Its process is working on it (or died without saying so: see `interrupted`).
    Running,
    Completed,
    /// Stopped by a failed action; what it did is still applied (halt on failure).
    Failed,
    /// Its process was killed or lost; detected by a later command.
    Interrupted,
    /// Failed, and everything it did was undone.
    RolledBack,
    /// A rollback of it did not finish; `baton rollback RUN` again finishes it.
    RollbackFailed,
    /// Stopped by an interrupt (Ctrl-C) after its running actions finished.
    Stopped,
    /// Finished by a later `baton resume`.
    Resumed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::RolledBack => "rolled_back",
            RunStatus::RollbackFailed => "rollback_failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Resumed => "resumed",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        use RunStatus::*;
        [
            Running,
            Completed,
            Failed,
            Interrupted,
            RolledBack,
            RollbackFailed,
            Stopped,
            Resumed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// Whether the run left work that must be resumed or rolled back before new work starts.
    pub fn needs_resolution(self) -> bool {
        matches!(self, RunStatus::Interrupted | RunStatus::RollbackFailed)
    }
}

/// One execution of a plan (apply, destroy, resume or rollback).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    /// `apply`, `destroy`, `resume` or `rollback`.
    pub kind: String,
    pub status: RunStatus,
    /// user@host
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// The process's start time as the OS reports it (to tell a live run from a reused pid).
    pub process_start: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The state version the run writes.
    pub serial: u64,
    /// Human summary of the plan, e.g. `2 to add, 1 to change, 0 to destroy`.
    pub summary: String,
    /// The plan it executes (the engine's plan document), so the run can be resumed. Only
    /// [`crate::StateStore::run`] loads it; in [`crate::StateStore::runs`] it is null.
    pub plan: RawJson,
    /// The run this one resumes or rolls back.
    pub parent: Option<String>,
    /// `rollback` or `halt`.
    pub on_failure: String,
}

/// Where one action of a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Intent recorded; the outcome is unknown until recorded (a crash leaves it so).
    Started,
    Done,
    Failed,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Started => "started",
            EntryStatus::Done => "done",
            EntryStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<EntryStatus> {
        match s {
            "started" => Some(EntryStatus::Started),
            "done" => Some(EntryStatus::Done),
            "failed" => Some(EntryStatus::Failed),
            _ => None,
        }
    }
}

/// One action of a run: its intent and, once known, its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub run_id: String,
    /// Order within the run (assigned by the store).
    pub seq: u64,
    /// The instance address.
    pub addr: String,
    /// The deposed key, empty for the current object.
    pub deposed: String,
    /// `create`, `update`, `delete`, `read`, `import`, `forget`, `move`.
    pub action: String,
    /// The object before the action (engine-encoded; null when none).
    pub prior: RawJson,
    /// The object the action aims at (engine-encoded; null for a delete).
    pub planned: RawJson,
    pub status: EntryStatus,
    /// The object after the action, once done (engine-encoded; null after a delete).
    pub new_value: Option<RawJson>,
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: String,
    pub duration_ms: Option<u64>,
    /// `apply` for the run's own actions, `rollback` for actions undoing them.
    pub phase: String,
}

/// The outcome of an action, recorded together with the state write it implies.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryOutcome {
    pub status: EntryStatus,
    pub new_value: Option<RawJson>,
    pub error: Option<String>,
    pub attempts: u32,
    pub duration_ms: u64,
}

/// One address a command changed, with its actions (e.g. `["delete", "create"]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditChange {
    pub address: String,
    pub actions: Vec<String>,
}

/// What a command hands to [`crate::StateStore::audit_append`]: a record without the fields
/// the store assigns (id, previous hash, hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// RFC 3339 UTC; empty: the store stamps the time of the append.
    pub time: String,
    /// `user@host`.
    pub actor: String,
    pub command: String,
    /// Already redacted by the caller.
    pub args: Vec<String>,
    pub environment: String,
    pub run_id: Option<String>,
    pub plan_digest: Option<String>,
    /// Policy decisions; opaque here.
    pub policy: serde_json::Value,
    pub outcome: String,
    pub changes: Vec<AuditChange>,
}

/// One record of the log, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1 for the first record, then consecutive.
    pub id: u64,
    pub time: String,
    pub actor: String,
    pub command: String,
    pub args: Vec<String>,
    pub environment: String,
    pub run_id: Option<String>,
    pub plan_digest: Option<String>,
    pub policy: serde_json::Value,
    pub outcome: String,
    pub changes: Vec<AuditChange>,
    /// The previous record's `hash`; [`crate::audit::GENESIS_HASH`] for the first.
    pub prev_hash: String,
    /// Hex SHA-256 of [`AuditRecord::canonical`].
    pub hash: String,
}

/// The outcome of [`crate::audit::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Records that passed every check (all of them when `ok`).
    pub checked: u64,
    /// The first bad record's id (for a missing record, the id it should have had) and what is
    /// wrong with it.
    pub first_bad: Option<(u64, String)>,
}
