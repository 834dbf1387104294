//! Resuming an interrupted run: its recorded plan, minus what its journal says is done; actions
//! whose outcome was lost (the process died while they ran) are marked to be checked against
//! the real object first, so nothing is created or destroyed twice.

use crate::apply::ResumeInfo;
use crate::model::{Action, Plan};
use baton_core::{Diagnostic, InstanceAddr};
use baton_eval::Value;
use baton_state::{EntryStatus, RunRecord, RunStatus, StateError, StateStore};

/// A run that can be resumed, with what its journal says.
pub struct Resumable {
    pub run: RunRecord,
    pub plan: Plan,
    pub info: ResumeInfo,
    /// Actions whose outcome was lost.
    pub unknown: usize,
    /// Actions already done.
    pub done: usize,
}

fn decode(raw: &baton_state::RawJson) -> Option<Value> {
    let j = raw.parse().ok()?;
    if j.is_null() {
        return None;
    }
    Value::from_typed_json(&j).ok()
}

/// Prepares `run_id` for resuming. `Ok(Err(d))` when it cannot be resumed (and why).
pub fn prepare(
    store: &dyn StateStore,
    run_id: &str,
) -> Result<Result<Resumable, Diagnostic>, StateError> {
    let Some(run) = store.run(run_id)? else {
        return Ok(Err(Diagnostic::error(
            "No such run",
            format!("There is no run with id {run_id}. `baton runs` lists them."),
        )));
    };
    if !matches!(
        run.status,
        RunStatus::Interrupted | RunStatus::Stopped | RunStatus::Failed
    ) {
        return Ok(Err(Diagnostic::error(
            "Run cannot be resumed",
            format!(
                "Run {run_id} is {}; only interrupted, stopped or failed runs can be resumed.",
                run.status.as_str()
            ),
        )));
    }
    if run.kind == "rollback" {
        return Ok(Err(Diagnostic::error(
            "Run cannot be resumed",
            format!(
                "Run {run_id} is a rollback; finish it with `baton rollback {}` instead.",
                run.parent.clone().unwrap_or_default()
            ),
        )));
    }
    let plan = match run
        .plan
        .parse()
        .map_err(|e| e.to_string())
        .and_then(|j| crate::planfile::from_json(&j))
    {
        Ok(p) => p,
        Err(e) => {
            return Ok(Err(Diagnostic::error(
                "Run cannot be resumed",
                format!("The plan recorded with run {run_id} cannot be read: {e}."),
            )));
        }
    };
    let entries = store.journal(run_id)?;
    let mut info = ResumeInfo::default();
    let (mut unknown, mut done) = (0, 0);
    for e in entries.iter().filter(|e| e.phase == "apply") {
        let Ok(addr) = InstanceAddr::parse(&e.addr) else {
            continue;
        };
        if e.action == "depose" && e.status == EntryStatus::Done {
            info.deposed.insert(addr.clone(), e.deposed.clone());
            continue;
        }
        let is_destroy = matches!(e.action.as_str(), "delete" | "forget");
        for (i, c) in plan.changes.iter().enumerate() {
            if c.addr != addr {
                continue;
            }
            let part_matches = if is_destroy {
                matches!(
                    c.action,
                    Action::Delete
                        | Action::Forget
                        | Action::DeleteThenCreate
                        | Action::CreateThenDelete
                ) && (c.deposed.as_deref().unwrap_or("") == e.deposed
                    || c.action == Action::CreateThenDelete)
            } else {
                !matches!(c.action, Action::Delete | Action::Forget)
            };
            if !part_matches {
                continue;
            }
            match (e.status, is_destroy) {
                (EntryStatus::Done, true) => {
                    info.done_destroy.insert(i);
                    done += 1;
                }
                (EntryStatus::Done, false) => {
                    // An import entry alone does not finish an update that follows it.
                    if e.action == "import" && c.action != Action::NoOp {
                        continue;
                    }
                    info.done_apply
                        .insert(i, e.new_value.as_ref().and_then(decode));
                    done += 1;
                }
                (EntryStatus::Started, true) => {
                    info.probe_destroy.insert(i);
                    unknown += 1;
                }
                (EntryStatus::Started, false) => {
                    info.probe_apply.insert(i);
                    unknown += 1;
                }
                (EntryStatus::Failed, _) => {}
            }
        }
    }
    Ok(Ok(Resumable {
        run,
        plan,
        info,
        unknown,
        done,
    }))
}
