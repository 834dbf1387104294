//! Continuous reconciliation of a stack (`terraform { baton { reconcile { … } } }`): one round
//! re-plans the stack under the state lock, says what differs from the configuration (drift
//! found by refresh, and the changes the plan would make: addresses and attribute names, never
//! values), and — when the stack allows repair — applies that plan through the ordinary run
//! lifecycle ([`crate::lifecycle::run`]), policy gate and journal included. Every round ends in
//! one `reconcile` record in the audit log, which is also where the last reconciliation is read
//! back from ([`last`]): the hash-chained log already lives in every store (SQLite and
//! PostgreSQL), so no store grows a table for it.
//!
//! Must not print, sleep or schedule: when the next round is due is the caller's (the agent's)
//! business. Must not put values in the record: attribute names only.

use crate::audit::Record;
use crate::lifecycle::{self, Approval, Notice, RunError, RunHooks, RunOutcome, RunRequest};
use crate::model::{Plan, ResourceChange};
use crate::policy::Gate;
use crate::{Action, Observer};
use baton_core::Diagnostics;
use baton_eval::Value;
use baton_state::{AuditChange, AuditRecord, StateError, StateStore};
use std::sync::Mutex;

/// The audit log's `command` of a reconciliation record.
pub const COMMAND: &str = "reconcile";

/// How a reconciliation round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The plan had no changes.
    Clean,
    /// The plan had changes and the stack does not allow repair (or the repair was not tried).
    DriftFound,
    /// The plan with changes was applied and every action succeeded.
    Repaired,
    /// The repair ran and failed (rolled back, or halted, as the stack's failure policy says).
    RepairFailed,
    /// The policies denied the repair: nothing was changed.
    Denied,
    /// Another run held the state lock: the round was skipped.
    SkippedLocked,
    /// The round could not plan: the configuration has errors, an earlier run needs
    /// attention, or the store failed.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::DriftFound => "drift-found",
            Outcome::Repaired => "repaired",
            Outcome::RepairFailed => "repair-failed",
            Outcome::Denied => "denied",
            Outcome::SkippedLocked => "skipped-locked",
            Outcome::Error => "error",
        }
    }

    /// The outcome named by [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Clean,
            Outcome::DriftFound,
            Outcome::Repaired,
            Outcome::RepairFailed,
            Outcome::Denied,
            Outcome::SkippedLocked,
            Outcome::Error,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object that differs from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The instance address (with ` (deposed KEY)` for a deposed object).
    pub address: String,
    /// `changed outside` or `deleted outside` (drift), else the plan's action (`create`,
    /// `update`, `delete, create`, …).
    pub change: String,
    /// The top-level attributes that differ (names only).
    pub attributes: Vec<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}", self.address, self.change)?;
        if !self.attributes.is_empty() {
            write!(f, ": {}", self.attributes.join(", "))?;
        }
        f.write_str(")")
    }
}

/// What one round found and did.
#[derive(Debug)]
pub struct Reconciliation {
    pub outcome: Outcome,
    /// The repair's run id (when a repair was tried).
    pub run_id: Option<String>,
    pub differences: Vec<Difference>,
    /// Why the round was skipped, denied or failed, in words.
    pub detail: Option<String>,
    /// The configuration's and the plan's diagnostics.
    pub diags: Diagnostics,
    /// The policy decision of a denied repair (recorded with the round).
    pub policy: Option<serde_json::Value>,
    /// The reconciliation record could not be appended to the audit log.
    pub audit_error: Option<StateError>,
}

impl Reconciliation {
    /// The record's `outcome` text: the outcome's keyword first, then what differs.
    pub fn summary(&self) -> String {
        let mut s = self.outcome.as_str().to_string();
        if !self.differences.is_empty() {
            let list: Vec<String> = self.differences.iter().map(|d| d.to_string()).collect();
            s.push_str(": ");
            s.push_str(&list.join("; "));
        }
        if let Some(d) = &self.detail {
            s.push_str(if self.differences.is_empty() {
                ": "
            } else {
                " — "
            });
            s.push_str(d);
        }
        s
    }
}

/// Runs one reconciliation round of the stack `req` describes (its kind must be
/// [`lifecycle::RunKind::Apply`]; its lock timeout is how long to wait for another run, normally zero),
/// and appends its record to the audit log. `repair`: apply a plan with changes.
pub fn reconcile(store: &dyn StateStore, req: &RunRequest, repair: bool) -> Reconciliation {
    let mut r = if repair {
        round_repair(store, req)
    } else {
        round_detect(store, req)
    };
    let policy = r.policy.take().unwrap_or(serde_json::Value::Null);
    if let Err(e) = crate::audit::append(
        store,
        &req.actor,
        &req.workspace,
        Record {
            command: COMMAND,
            run_id: r.run_id.clone(),
            plan: None,
            plan_digest: None,
            policy,
            outcome: r.summary(),
            changes: r
                .differences
                .iter()
                .map(|d| AuditChange {
                    address: d.address.clone(),
                    actions: vec![d.change.clone()],
                })
                .collect(),
        },
    ) {
        r.audit_error = Some(e);
    }
    r
}

/// The last reconciliation recorded for `environment`, newest first in the audit log.
#[derive(Clone, Debug)]
pub struct Last {
    /// RFC 3339 UTC, as the audit log stamped it.
    pub time: String,
    pub outcome: Outcome,
    pub run_id: Option<String>,
    /// The record's outcome text ([`Reconciliation::summary`]).
    pub summary: String,
    /// The audit record's id.
    pub audit_id: u64,
}

/// The newest reconciliation of an environment, and the newest that was not clean (drift
/// found, repaired, denied, …): a repair is followed by clean rounds, and both matter.
#[derive(Clone, Debug, Default)]
pub struct Recent {
    pub last: Option<Last>,
    pub last_not_clean: Option<Last>,
}

/// The newest reconciliation records of `environment` (a scan of the audit log, newest first).
pub fn recent(store: &dyn StateStore, environment: &str) -> Result<Recent, StateError> {
    let mut out = Recent::default();
    for r in store.audit_records()?.iter().rev() {
        if r.command != COMMAND || r.environment != environment {
            continue;
        }
        let l = from_record(r);
        if out.last.is_none() {
            out.last = Some(l.clone());
        }
        if l.outcome != Outcome::Clean {
            out.last_not_clean = Some(l);
            break;
        }
    }
    Ok(out)
}

fn from_record(r: &AuditRecord) -> Last {
    let word = r.outcome.split(':').next().unwrap_or_default().trim();
    Last {
        time: r.time.clone(),
        outcome: Outcome::parse(word).unwrap_or(Outcome::Error),
        run_id: r.run_id.clone(),
        summary: r.outcome.clone(),
        audit_id: r.id,
    }
}

/// What differs in `plan`: its drift, then its effective changes.
pub fn differences(plan: &Plan) -> Vec<Difference> {
    let mut out: Vec<Difference> = plan
        .drift
        .iter()
        .map(|d| Difference {
            address: address(&d.addr.to_string(), d.deposed.as_deref()),
            change: if d.after.is_null() {
                "deleted outside"
            } else {
                "changed outside"
            }
            .to_string(),
            attributes: changed_attributes(&d.before, &d.after),
        })
        .collect();
    out.extend(
        plan.changes
            .iter()
            .filter(|c| c.is_effective())
            .map(change_difference),
    );
    out
}

fn change_difference(c: &ResourceChange) -> Difference {
    let change = match c.action {
        Action::NoOp if c.previous_addr.is_some() => "move".to_string(),
        Action::NoOp if c.importing.is_some() => "import".to_string(),
        a => a.json_actions().join(", "),
    };
    Difference {
        address: address(&c.addr.to_string(), c.deposed.as_deref()),
        change,
        attributes: if c.action == Action::Update {
            changed_attributes(&c.before, &c.after)
        } else {
            Vec::new()
        },
    }
}

fn address(addr: &str, deposed: Option<&str>) -> String {
    match deposed {
        Some(d) => format!("{addr} (deposed {d})"),
        None => addr.to_string(),
    }
}

/// The names of the top-level attributes that differ between two objects (none when either
/// is null or not an object: the whole object differs).
fn changed_attributes(before: &Value, after: &Value) -> Vec<String> {
    let (Some(b), Some(a)) = (before.as_entries(), after.as_entries()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| match (before.get_attr(k), after.get_attr(k)) {
            (Some(x), Some(y)) => !x.is_wholly_known() || !y.is_wholly_known() || !x.raw_equal(y),
            _ => true,
        })
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Detect-only: plan and gate under the lock, change nothing.
fn round_detect(store: &dyn StateStore, req: &RunRequest) -> Reconciliation {
    match lifecycle::preview(store, req) {
        Err(e) => from_error(e),
        Ok(p) => {
            let mut r = empty(Outcome::Error);
            r.diags = p.diags;
            match p.plan {
                None => {
                    r.detail = Some(errors_detail(&r.diags));
                }
                Some(plan) => {
                    r.differences = differences(&plan);
                    r.outcome = if plan.has_changes() {
                        Outcome::DriftFound
                    } else {
                        Outcome::Clean
                    };
                }
            }
            r
        }
    }
}

/// Repair: a detect-only plan first, so that a stack with nothing to repair never reaches
/// the policy gate as a run (a policy that denies the stack as it stands would otherwise
/// record a denied apply every round); then the ordinary run, approved only when its own plan
/// (made again under its lock) has changes.
fn round_repair(store: &dyn StateStore, req: &RunRequest) -> Reconciliation {
    let found = round_detect(store, req);
    if found.outcome != Outcome::DriftFound {
        return found;
    }
    let hooks = Unattended::default();
    let outcome = lifecycle::run(store, req, &hooks);
    let plan = hooks.plan.lock().ok().and_then(|mut p| p.take());
    let mut r = empty(Outcome::Error);
    if let Ok(mut d) = hooks.diags.lock() {
        r.diags = std::mem::take(&mut *d);
    }
    if let Some(p) = &plan {
        r.differences = differences(p);
    }
    match outcome {
        Err(e) => {
            let mut e = from_error(e);
            e.differences = r.differences;
            e.diags = r.diags;
            return e;
        }
        Ok(RunOutcome::Invalid(_)) => r.detail = Some(errors_detail(&r.diags)),
        Ok(RunOutcome::Denied(gate)) => {
            r.outcome = Outcome::Denied;
            r.run_id = Some(req.run_id.clone());
            r.detail = Some(denial_detail(&gate));
            r.policy = Some(gate.audit_json());
        }
        // Declined: the plan had no changes, so there was nothing to approve.
        Ok(RunOutcome::Declined | RunOutcome::NothingToDo) => r.outcome = Outcome::Clean,
        Ok(RunOutcome::Ran(ran)) => {
            r.run_id = Some(ran.run_id.clone());
            if ran.succeeded() {
                r.outcome = Outcome::Repaired;
            } else {
                r.outcome = Outcome::RepairFailed;
                r.diags.extend(ran.report.diags.clone());
                r.detail = Some(errors_detail(&ran.report.diags));
            }
        }
    }
    r
}

fn empty(outcome: Outcome) -> Reconciliation {
    Reconciliation {
        outcome,
        run_id: None,
        differences: Vec::new(),
        detail: None,
        diags: Diagnostics::new(),
        policy: None,
        audit_error: None,
    }
}

fn from_error(e: RunError) -> Reconciliation {
    let mut r = empty(Outcome::Error);
    if let RunError::Locked { holder, .. } = &e {
        r.outcome = Outcome::SkippedLocked;
        r.detail = Some(format!(
            "the state is locked by {} (pid {} on {}, running {})",
            holder.who, holder.pid, holder.host, holder.operation
        ));
    } else {
        // The first paragraph: the rest tells a person at a terminal what to type.
        let text = e.to_string();
        r.detail = Some(text.split("\n\n").next().unwrap_or_default().to_string());
    }
    r
}

fn errors_detail(d: &Diagnostics) -> String {
    let errors: Vec<&str> = d
        .iter()
        .filter(|d| d.severity == baton_core::Severity::Error)
        .map(|d| d.summary.as_str())
        .collect();
    if errors.is_empty() {
        "the plan could not be made".to_string()
    } else {
        errors.join("; ")
    }
}

/// The rules that denied (their names, not their messages, which may quote values).
fn denial_detail(gate: &Gate) -> String {
    let mut rules: Vec<String> = gate
        .decision
        .findings
        .iter()
        .filter(|f| f.kind == baton_policy::FindingKind::Deny)
        .map(|f| format!("data.{}.{}", f.package, f.rule))
        .collect();
    rules.dedup();
    if rules.is_empty() && !gate.decision.errors.is_empty() {
        rules.push("policy evaluation errors".to_string());
    }
    format!(
        "the repair was denied by {}; nothing was changed",
        rules.join(", ")
    )
}

/// The hooks of an unattended round: remembers the plan and diagnostics, approves a plan only
/// when it has changes.
#[derive(Default)]
struct Unattended {
    plan: Mutex<Option<Plan>>,
    diags: Mutex<Diagnostics>,
}

impl RunHooks for Unattended {
    fn observer(&self) -> &dyn Observer {
        &crate::NoObserver
    }
    fn diagnostics(&self, d: &Diagnostics) {
        if let Ok(mut all) = self.diags.lock() {
            all.extend(d.clone());
        }
    }
    fn notice(&self, _n: Notice<'_>) {}
    fn planned(&self, plan: &Plan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(plan.clone());
        }
    }
    fn approve(&self, what: Approval, plan: &Plan) -> bool {
        what == Approval::Apply && plan.has_changes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn obj(attrs: &[(&str, Value)]) -> Value {
        Value::object(
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn changed_attributes_are_names_only() {
        let before = obj(&[
            ("content", Value::string("a").mark_sensitive()),
            ("mode", Value::string("0644")),
            ("path", Value::string("/etc/motd")),
        ]);
        let after = obj(&[
            ("content", Value::string("b").mark_sensitive()),
            ("mode", Value::string("0644")),
            ("owner", Value::string("root")),
            ("path", Value::string("/etc/motd")),
        ]);
        assert_eq!(changed_attributes(&before, &after), ["content", "owner"]);
        assert!(changed_attributes(&before, &Value::null(baton_eval::Type::Dynamic)).is_empty());
    }

    #[test]
    fn outcomes_round_trip_and_summaries_lead_with_them() {
        for o in [
            Outcome::Clean,
            Outcome::DriftFound,
            Outcome::Repaired,
            Outcome::RepairFailed,
            Outcome::Denied,
            Outcome::SkippedLocked,
            Outcome::Error,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        let mut r = empty(Outcome::DriftFound);
        r.differences.push(Difference {
            address: "remote_file.motd".into(),
            change: "changed outside".into(),
            attributes: vec!["content".into(), "mode".into()],
        });
        assert_eq!(
            r.summary(),
            "drift-found: remote_file.motd (changed outside: content, mode)"
        );
        let mut rec = baton_state::AuditRecord {
            id: 7,
            time: "2026-01-01T00:00:00Z".into(),
            actor: String::new(),
            command: COMMAND.into(),
            args: Vec::new(),
            environment: "default".into(),
            run_id: None,
            plan_digest: None,
            policy: serde_json::Value::Null,
            outcome: r.summary(),
            changes: Vec::new(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        assert_eq!(from_record(&rec).outcome, Outcome::DriftFound);
        rec.outcome = "clean".into();
        assert_eq!(from_record(&rec).outcome, Outcome::Clean);
    }
}
