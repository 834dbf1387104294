//! Baton's engine: loading a configuration into a [`context::Context`], planning against the
//! state ([`plan::plan`]), applying a plan ([`apply::apply`]) with a bounded parallel walk that
//! saves state after every action, and the plan's wire forms (plan file, plan JSON).
//!
//! Architecture invariant: the engine decides order, parallelism and recovery; it reaches
//! providers only through the provider contract and state only through the `StateStore` trait,
//! and it prints nothing — progress goes to an [`Observer`], results are returned.

pub mod apply;
pub mod audit;
pub mod body;
pub mod checks;
pub mod context;
pub mod expand;
pub mod graph;
pub mod lifecycle;
pub mod migrate;
pub mod model;
pub mod moves;
pub mod nodes;
pub mod plan;
pub mod planfile;
pub mod planjson;
pub mod policy;
mod prepare;
pub mod provider_refs;
pub mod providers;
pub mod reconcile;
pub mod relevance;
pub mod resume;
pub mod rollback;
pub mod runid;
pub mod statecodec;
pub mod tfstate;
pub mod values;
pub mod vars;

use baton_core::InstanceAddr;
use std::time::Duration;

pub use context::{load, load_with, load_with_providers, Context};
pub use model::{Action, Plan, PlanMode};
pub use runid::new_run_id;

/// The Terraform version whose language and JSON formats Baton follows.
pub const TERRAFORM_COMPAT_VERSION: &str = "1.11.4";

/// Progress of a command, for the CLI to render. Never carries attribute values.
#[derive(Clone, Debug)]
pub enum Event {
    RefreshStart {
        addr: InstanceAddr,
    },
    RefreshDone {
        addr: InstanceAddr,
        id: Option<String>,
    },
    ApplyStart {
        addr: InstanceAddr,
        deposed: Option<String>,
        action: Action,
        /// `id` of the object being changed, when it has one.
        id: Option<String>,
    },
    ApplyDone {
        addr: InstanceAddr,
        deposed: Option<String>,
        action: Action,
        elapsed: Duration,
        id: Option<String>,
        /// Provider calls made (retries included).
        attempts: u32,
    },
    ApplyFailed {
        addr: InstanceAddr,
        deposed: Option<String>,
        action: Action,
        elapsed: Duration,
        attempts: u32,
    },
    /// Still working on a long action (emitted every 10 seconds).
    StillRunning {
        addr: InstanceAddr,
        action: Action,
        elapsed: Duration,
    },
    ProvisionerStart {
        addr: InstanceAddr,
        kind: String,
    },
    /// A line a provisioner printed (already suppressed if the command was sensitive).
    ProvisionerOutput {
        addr: InstanceAddr,
        kind: String,
        line: String,
    },
    /// An action failed; the run now undoes what it completed.
    RollbackStart {
        run_id: String,
    },
}

/// Receives events from any thread.
pub trait Observer: Sync {
    fn event(&self, e: Event);
}

/// An observer that ignores everything.
pub struct NoObserver;

impl Observer for NoObserver {
    fn event(&self, _e: Event) {}
}

/// The current time in RFC 3339 UTC with seconds precision.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Formats seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
