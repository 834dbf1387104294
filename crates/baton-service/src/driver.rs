//! What every driver does for the loop: start a replica, tell whether it still runs, stop it
//! gracefully, and list the replicas it finds running (so a restarted agent adopts them instead
//! of starting new ones). Drivers: `exec` (process groups) and `docker` (the Docker Engine API).
//!
//! A driver must not wait for a replica to become healthy (the loop checks health) and must
//! not keep state that is not also findable from the outside: `list` is the truth after a
//! restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::ServiceSpec;

/// One replica to start: which service, which version, its slot and its assigned ports.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaStart<'a> {
    /// The stack the service belongs to (several stacks can share an agent).
    pub stack: &'a str,
    pub spec: &'a ServiceSpec,
    /// 0..replicas.
    pub index: u32,
    /// Port name -> host port.
    pub ports: BTreeMap<String, u16>,
    /// Where the replica's logs go (files rotated by size are the driver's or the loop's).
    pub log_dir: std::path::PathBuf,
    /// The stack's directory (the base of a relative `workdir`).
    pub base_dir: std::path::PathBuf,
}

/// A replica a driver knows about: enough to find, check and stop it again, also from another
/// process after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    pub stack: String,
    pub service: String,
    pub version: String,
    pub index: u32,
    /// The driver's own id: a process group id, a container id.
    pub id: String,
    pub ports: BTreeMap<String, u16>,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
}

/// Whether a replica runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    Running,
    /// It ended: its exit code, or the signal that ended it, when known.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The driver cannot find it.
    Gone,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot start replica {index} of service {service}: {message}")]
    Start {
        service: String,
        index: u32,
        message: String,
    },
    #[error("{driver} is not available: {message}")]
    Unavailable { driver: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// What a driver calls when a replica it started may have ended: the loop's wake-up, so a death
/// is handled at once instead of at the loop's next round.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

pub trait Driver: Send + Sync {
    /// `exec` or `docker`.
    fn name(&self) -> &'static str;
    /// Starts one replica and returns at once.
    fn start(&self, r: &ReplicaStart<'_>) -> Result<Replica, DriverError>;
    fn liveness(&self, r: &Replica) -> Liveness;
    /// `stop_signal` to the whole replica, then after `kill_timeout` SIGKILL to all of it.
    /// Returns once it is gone.
    fn stop(
        &self,
        r: &Replica,
        stop_signal: &str,
        kill_timeout: Duration,
    ) -> Result<(), DriverError>;
    /// Every replica of `stack` this driver finds running (started by any agent process).
    fn list(&self, stack: &str) -> Result<Vec<Replica>, DriverError>;
    /// Registers what to call when a replica this driver starts from now on ends. A driver that
    /// cannot tell keeps the default (nothing): the loop also asks `liveness` every round.
    fn on_exit(&self, _notify: Notify) {}
}
