//! Undoing a failed workflow run: every stack run the workflow run applied (or destroyed) is
//! rolled back through the engine's rollback, newest first, then the `compensate` blocks run
//! in the order written. Each rollback and compensation is recorded like a step
//! (`rollback:KEY`, `compensate:NAME`), so an interrupted rollback is finished by running it
//! again without undoing anything twice (the engine's rollback is idempotent).
//!
//! Must not print.

use super::perform::{perform, Prepared, Work};
use super::{Advance, Runner, WfError};
use crate::model::{StepKind, Workflow};
use baton_engine::lifecycle::{self, RollbackTarget, RunKind, RunOutcome, RunRequest};
use baton_state::{RunStatus, WfClaim, WfRun, WfStep, WfStepStatus};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Rolls back what `run` applied, then compensates. `why` is the failure being undone.
pub(super) fn roll_back(
    runner: &Runner<'_>,
    run: &WfRun,
    claim: &WfClaim,
    wf: &Workflow,
    why: &str,
) -> Result<Advance, WfError> {
    let steps = runner.store.steps(&run.id)?;
    // Stack steps that ran, newest first (by when they were first recorded).
    let mut stacks: Vec<&WfStep> = steps
        .iter()
        .filter(|s| (s.kind == "apply" || s.kind == "destroy") && s.child_run.is_some())
        .filter(|s| {
            matches!(
                s.status,
                WfStepStatus::Succeeded | WfStepStatus::Failed | WfStepStatus::Started
            )
        })
        .collect();
    stacks.sort_by_key(|s| std::cmp::Reverse(s.seq));
    runner
        .hooks
        .notice(&format!("Run {} failed ({why}); rolling back.", run.id));
    let mut ok = true;
    for s in stacks {
        let key = format!("rollback:{}", s.key);
        if steps
            .iter()
            .any(|x| x.key == key && x.status == WfStepStatus::Succeeded)
        {
            continue;
        }
        let mut rec = steps
            .iter()
            .find(|x| x.key == key)
            .cloned()
            .unwrap_or_else(|| WfStep::new(&run.id, &key, &s.step, "rollback"));
        rec.status = WfStepStatus::Started;
        rec.started_at = Some(baton_engine::now_rfc3339());
        rec.child_run = s.child_run.clone();
        rec.child_store = s.child_store.clone();
        runner.store.put_step(claim, &rec)?;
        runner.hooks.step_started(&run.id, &key, "rollback");
        let start = Instant::now();
        let result = undo_stack(runner, s);
        rec.attempts += 1;
        rec.finished_at = Some(baton_engine::now_rfc3339());
        rec.duration_ms = Some(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
        let mut stack_rec = s.clone();
        match result {
            Ok(()) => {
                rec.status = WfStepStatus::Succeeded;
                rec.error = None;
                stack_rec.status = WfStepStatus::RolledBack;
            }
            Err(e) => {
                ok = false;
                rec.status = WfStepStatus::Failed;
                rec.error = Some(e);
                stack_rec.status = WfStepStatus::RollbackFailed;
            }
        }
        runner.store.put_step(claim, &rec)?;
        runner.store.put_step(claim, &stack_rec)?;
        runner.hooks.step_finished(&run.id, &rec);
    }
    if !ok {
        return Ok(Advance::RollbackFailed(format!(
            "{why}; rolling back did not finish (`baton rollback {}` tries again)",
            run.id
        )));
    }
    for c in &wf.compensate {
        let key = format!("compensate:{}", c.name);
        if steps
            .iter()
            .any(|x| x.key == key && x.status == WfStepStatus::Succeeded)
        {
            continue;
        }
        let work = match &c.kind {
            StepKind::Command { command } => {
                let text = match super::values::const_string(
                    runner.store,
                    &runner.sources,
                    run,
                    wf,
                    command,
                ) {
                    Ok(t) => t,
                    Err(e) => {
                        record_compensation(runner, claim, run, &key, &c.name, Err(e))?;
                        ok = false;
                        continue;
                    }
                };
                Work::Command {
                    command: text,
                    environment: vec![
                        ("BATON_STEP".into(), key.clone()),
                        ("BATON_WORKFLOW".into(), wf.name.clone()),
                        ("BATON_FAILURE".into(), why.to_string()),
                    ],
                    outputs_file: wf
                        .dir
                        .join(".baton")
                        .join("workflow-outputs")
                        .join(&run.id)
                        .join(format!("compensate-{}.out", c.name)),
                    cwd: wf.dir.clone(),
                    run_id: run.id.clone(),
                    sensitive: false,
                    on_workers: None,
                }
            }
            StepKind::Workflow { name, .. } => Work::Workflow {
                name: name.clone(),
                inputs: Default::default(),
                parent_run: run.id.clone(),
            },
            other => {
                record_compensation(
                    runner,
                    claim,
                    run,
                    &key,
                    &c.name,
                    Err(format!(
                        "a compensation cannot be a {} step",
                        other.as_str()
                    )),
                )?;
                ok = false;
                continue;
            }
        };
        let mut rec = WfStep::new(&run.id, &key, &c.name, "compensate");
        rec.started_at = Some(baton_engine::now_rfc3339());
        runner.store.put_step(claim, &rec)?;
        runner.hooks.step_started(&run.id, &key, "compensate");
        let done = perform(
            runner,
            &Prepared {
                key: key.clone(),
                work,
                retry: c.retry,
                timeout: c.timeout,
                attempts_done: 0,
            },
        );
        rec.attempts = done.attempts;
        rec.exit_code = done.exit_code;
        rec.stdout = done.stdout;
        rec.stderr = done.stderr;
        rec.duration_ms = Some(u64::try_from(done.duration.as_millis()).unwrap_or(u64::MAX));
        rec.finished_at = Some(baton_engine::now_rfc3339());
        rec.status = if done.ok {
            WfStepStatus::Succeeded
        } else {
            ok = false;
            WfStepStatus::Failed
        };
        rec.error = done.error;
        runner.store.put_step(claim, &rec)?;
        runner.hooks.step_finished(&run.id, &rec);
    }
    if ok {
        Ok(Advance::RolledBack(why.to_string()))
    } else {
        Ok(Advance::RollbackFailed(format!(
            "{why}; a compensation failed (`baton rollback {}` tries again)",
            run.id
        )))
    }
}

fn record_compensation(
    runner: &Runner<'_>,
    claim: &WfClaim,
    run: &WfRun,
    key: &str,
    name: &str,
    result: Result<(), String>,
) -> Result<(), WfError> {
    let mut rec = WfStep::new(&run.id, key, name, "compensate");
    rec.finished_at = Some(baton_engine::now_rfc3339());
    match result {
        Ok(()) => rec.status = WfStepStatus::Succeeded,
        Err(e) => {
            rec.status = WfStepStatus::Failed;
            rec.error = Some(e);
        }
    }
    runner.store.put_step(claim, &rec)?;
    runner.hooks.step_finished(&run.id, &rec);
    Ok(())
}

/// Rolls back every stack run of a stack step, newest first.
fn undo_stack(runner: &Runner<'_>, s: &WfStep) -> Result<(), String> {
    let Some(store_path) = s.child_store.as_deref().map(PathBuf::from) else {
        return Ok(());
    };
    // The stack directory and environment: the record holds the stack's default state path,
    // DIR/.baton/state.db or DIR/.baton/envs/ENV/state.db.
    let dir = stack_dir(&store_path).ok_or_else(|| {
        format!(
            "cannot tell the stack directory of {}",
            store_path.display()
        )
    })?;
    let env = env_of(&store_path);
    let location = super::stack_location(&dir, &env)?;
    if let baton_backend::Location::Sqlite(p) = &location {
        if !p.exists() {
            // The stack run never got as far as its state: nothing to undo.
            return Ok(());
        }
    }
    let store = location.open_state().map_err(|e| e.to_string())?;
    let runs: Vec<String> = s
        .child_run
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for id in runs.iter().rev() {
        let Some(rec) = store.run(id).map_err(|e| e.to_string())? else {
            continue;
        };
        if matches!(rec.status, RunStatus::RolledBack) {
            continue;
        }
        let mut req = RunRequest::new(
            &dir,
            &env,
            RunKind::Rollback(RollbackTarget::Run(id.clone())),
        );
        req.actor = runner.actor.clone();
        req.board = location.open_services().ok();
        req.lock_timeout = Duration::from_secs(600);
        let hooks = Approve;
        match lifecycle::run(store.as_ref(), &req, &hooks) {
            Ok(RunOutcome::Ran(ran)) if !ran.succeeded() => {
                return Err(format!(
                    "the rollback of stack run {id} in {} did not finish: {}",
                    dir.display(),
                    ran.report
                        .diags
                        .errors()
                        .map(|d| d.detail.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            }
            Ok(_) => {}
            Err(e) => return Err(format!("stack run {id} in {}: {e}", dir.display())),
        }
    }
    Ok(())
}

fn stack_dir(store: &std::path::Path) -> Option<PathBuf> {
    let mut p = store.parent()?;
    // .../.baton/envs/ENV/state.db → .../.baton
    if p.parent()
        .and_then(|q| q.file_name())
        .is_some_and(|n| n == "envs")
    {
        p = p.parent()?.parent()?;
    }
    Some(p.parent()?.to_path_buf())
}

fn env_of(store: &std::path::Path) -> String {
    let parent = store.parent();
    match parent.and_then(|p| p.parent()).and_then(|q| q.file_name()) {
        Some(n) if n == "envs" => parent
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "default".into()),
        _ => "default".into(),
    }
}

/// A rollback inside a workflow is approved by the workflow's failure policy.
struct Approve;

impl baton_engine::lifecycle::RunHooks for Approve {
    fn observer(&self) -> &dyn baton_engine::Observer {
        &baton_engine::NoObserver
    }
    fn approve(&self, _w: baton_engine::lifecycle::Approval, _p: &baton_engine::Plan) -> bool {
        true
    }
}
