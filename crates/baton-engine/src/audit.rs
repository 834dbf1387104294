//! The audit records a run writes: who did what to which environment, with the plan's digest
//! and changes, the policy decision and the outcome. Appending goes through the `StateStore`
//! (which chains the records by hash).
//!
//! Must not print and must not read the process's command line: the caller says who acts and
//! with which (already redacted) arguments.

use crate::model::{Action, Plan};
use baton_state::{AuditChange, AuditEntry, StateError, StateStore};

/// Who starts runs, as the audit log names them.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    /// `user@host`.
    pub who: String,
    /// The request as the actor gave it (a command line), with secret values redacted.
    pub args: Vec<String>,
}

impl Actor {
    /// The user of this process, with `args` (already redacted).
    pub fn current(args: Vec<String>) -> Actor {
        Actor {
            who: baton_state::lock::current_lock_info("").who,
            args,
        }
    }
}

/// What one command did, for its audit record.
pub struct Record<'a> {
    pub command: &'a str,
    pub run_id: Option<String>,
    pub plan: Option<&'a Plan>,
    /// The plan's digest when it is already known; otherwise computed from `plan`.
    pub plan_digest: Option<String>,
    pub policy: serde_json::Value,
    pub outcome: String,
    /// The changes, when they are not the plan's.
    pub changes: Vec<AuditChange>,
}

/// Appends `r` for `actor` in `environment`.
pub fn append(
    store: &dyn StateStore,
    actor: &Actor,
    environment: &str,
    r: Record<'_>,
) -> Result<(), StateError> {
    let entry = AuditEntry {
        time: String::new(),
        actor: actor.who.clone(),
        command: r.command.to_string(),
        args: actor.args.clone(),
        environment: environment.to_string(),
        run_id: r.run_id,
        plan_digest: r
            .plan_digest
            .or_else(|| r.plan.map(crate::planfile::digest)),
        policy: r.policy,
        outcome: r.outcome,
        changes: if r.changes.is_empty() {
            r.plan.map(plan_changes).unwrap_or_default()
        } else {
            r.changes
        },
    };
    store.audit_append(entry).map(|_| ())
}

/// The addresses a plan changes, with their actions.
pub fn plan_changes(plan: &Plan) -> Vec<AuditChange> {
    plan.changes
        .iter()
        .filter(|c| c.is_effective())
        .map(|c| {
            let mut actions: Vec<String> = c
                .action
                .json_actions()
                .iter()
                .map(|s| s.to_string())
                .collect();
            if c.action == Action::NoOp {
                actions.clear();
            }
            if c.importing.is_some() {
                actions.insert(0, "import".into());
            }
            if c.previous_addr.is_some() {
                actions.insert(0, "move".into());
            }
            AuditChange {
                address: match &c.deposed {
                    Some(d) => format!("{} (deposed {d})", c.addr),
                    None => c.addr.to_string(),
                },
                actions,
            }
        })
        .collect()
}
