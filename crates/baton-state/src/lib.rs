//! State: the model of what Baton last knew about real objects, versioned; the [`StateStore`]
//! trait every backend implements; the embedded SQLite store; and the conformance suite each
//! store must pass. Likewise for workflow runs: the [`WorkflowStore`] trait, its SQLite store
//! ([`SqliteWorkflowStore`], a database file of its own) and its conformance suite
//! ([`workflow_conformance`]). Likewise for the work queue workers claim from: the
//! [`WorkQueue`] trait, its SQLite queue ([`SqliteQueue`], a database file of its own, for
//! processes on one machine) and its conformance suite ([`queue_conformance`]). And the service
//! board the agent and `baton apply` meet on ([`baton_core::board::ServiceBoard`]): its SQLite
//! board ([`SqliteBoard`]) and conformance suite ([`board_conformance`]). And the API
//! tokens of `baton serve`: the [`TokenStore`] trait and its SQLite store ([`SqliteTokens`]).
//!
//! Architecture invariant: stores never interpret attribute values and never decide what to
//! change — they persist exactly what the engine hands them, one object at a time, so that a
//! crash between two actions loses nothing already done.

pub mod audit;
pub mod board_conformance;
pub mod board_sqlite;
pub mod conformance;
pub mod journal;
pub mod lock;
pub mod model;
pub mod queue;
pub mod queue_conformance;
pub mod queue_sqlite;
pub mod sqlite;
pub mod stamp;
pub mod store;
pub mod tokens;
pub mod tokens_sqlite;
pub mod workflow;
pub mod workflow_conformance;
pub mod workflow_sqlite;

pub use audit::{AuditChange, AuditEntry, AuditRecord, VerifyReport};
pub use board_sqlite::SqliteBoard;
pub use model::{
    EntryOutcome, EntryStatus, Fence, InstanceState, InstanceStatus, JournalEntry, Lease, LockInfo,
    ObjectKey, OutputState, RawJson, RunRecord, RunStatus, Snapshot, VersionMeta,
};
pub use queue::{
    Beacon, ClaimedTask, Coordinator, NewTask, TaskOutcome, TaskRow, TaskState, WorkQueue,
    WorkerInfo, WorkerRow,
};
pub use queue_sqlite::SqliteQueue;
pub use sqlite::SqliteStore;
pub use store::{
    LockGuard, PlanWriter, Renewal, StaleLock, Staleness, StateError, StateStore, StateWrite,
    Unlock, DEFAULT_LEASE,
};
pub use tokens::{Role, TokenRecord, TokenStore};
pub use tokens_sqlite::SqliteTokens;
pub use workflow::{
    WfCacheEntry, WfClaim, WfClaimHolder, WfRun, WfRunStatus, WfStep, WfStepStatus, WorkflowStore,
};
pub use workflow_sqlite::SqliteWorkflowStore;
