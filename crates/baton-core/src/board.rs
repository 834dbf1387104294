//! The service board: where `baton apply` leaves the services a stack declares for the agent
//! (`baton serve`) and where the agent reports back, kept in the stack's store (an SQLite file
//! beside the state, or the stack's PostgreSQL schema) so that an agent on another machine can
//! serve a stack whose state is in PostgreSQL.
//!
//! One board belongs to one stack environment (it lives where that environment's state
//! lives). It holds the desired services (one record per service, written by the `service`
//! resource's apply and removed by its destroy), the agent's lease on the stack (one agent
//! serves a stack at a time; a second one waits and takes over when the first stops renewing),
//! and the status the lease holder reports.
//!
//! This is the contract only, here because the provider layer (the `service` resource), the
//! stores (SQLite in `baton-state`, PostgreSQL in `baton-backend`) and the agent all meet on
//! it. Must not interpret specs or statuses: they are opaque JSON text here.

use std::time::Duration;

/// A failure of the board's store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    /// The store could not be read or written (the message names the store, never a password).
    #[error("{0}")]
    Store(String),
    /// A status written by an agent that does not hold the stack's lease.
    #[error("the agent {agent} does not hold this stack's services (held by {holder})")]
    NotHolder { agent: String, holder: String },
}

/// One desired service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredService {
    /// The service's name (its address without `service.`).
    pub name: String,
    /// The stack's name for the agent (labels, directories).
    pub stack: String,
    /// The stack's directory on the machine that applied it (the working directory of its
    /// processes when the agent runs there too).
    pub dir: String,
    /// The specification, as JSON.
    pub spec: String,
}

/// Who serves the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentId {
    /// Unique per agent process (host, pid and a random part).
    pub id: String,
    pub host: String,
    pub pid: u32,
}

/// The agent holding a stack's lease, and for how much longer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLease {
    pub agent: AgentId,
    /// Milliseconds until the lease expires, by the store's clock.
    pub remaining_ms: u64,
}

/// The last status the lease holder reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The agent that wrote it.
    pub agent: String,
    /// Milliseconds since it was written, by the store's clock.
    pub age_ms: u64,
    /// The status, as JSON.
    pub body: String,
}

/// The board of one stack environment. Shared between the threads of a process.
pub trait ServiceBoard: Send + Sync {
    /// The store, for messages (never with a password).
    fn describe(&self) -> String;

    /// Records (or replaces) a desired service.
    fn put_desired(&self, service: &DesiredService) -> Result<(), BoardError>;

    /// Removes a desired service (nothing when there is none).
    fn remove_desired(&self, name: &str) -> Result<(), BoardError>;

    /// Every desired service, by name.
    fn desired(&self) -> Result<Vec<DesiredService>, BoardError>;

    /// Takes or renews the stack's lease for `ttl`. `Ok(None)` when `me` holds it now;
    /// `Ok(Some(holder))` when another agent's lease is live (nothing changes).
    fn claim(&self, me: &AgentId, ttl: Duration) -> Result<Option<AgentLease>, BoardError>;

    /// Gives up the lease if `agent` holds it (an agent stopping).
    fn release(&self, agent: &str) -> Result<(), BoardError>;

    /// The live lease holder, if any.
    fn agent(&self) -> Result<Option<AgentLease>, BoardError>;

    /// Replaces the status report. Refused with [`BoardError::NotHolder`] unless `agent` holds
    /// a live lease, so an agent that lost the stack cannot overwrite its successor's report.
    fn put_status(&self, agent: &str, body: &str) -> Result<(), BoardError>;

    /// The last status report.
    fn status(&self) -> Result<Option<StatusReport>, BoardError>;
}

impl std::fmt::Debug for dyn ServiceBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceBoard({})", self.describe())
    }
}
