//! Runs that resolve an earlier run: resuming it (its recorded plan minus what its journal says
//! is done, with the failure policy recorded with it) or rolling it back (or rolling every
//! object back to a state version).
//!
//! Must not print or read the process's state; what the caller sees goes through the hooks.

use super::{Approval, Notice, Ran, RollbackTarget, Run, RunError, RunOutcome};
use crate::Context;
use baton_state::RunStatus;

/// Finishes the interrupted, stopped or failed run `id`.
pub(super) fn resume(run: &Run<'_>, id: &str) -> Result<RunOutcome, RunError> {
    let guard = run.lock()?;
    settle_orphans(run, id)?;
    let prep = match crate::resume::prepare(run.store, id)? {
        Ok(p) => p,
        Err(d) => {
            let d: baton_core::Diagnostics = d.into();
            run.diagnose(&d);
            return Ok(RunOutcome::Invalid(d));
        }
    };
    // The configuration the run was planned with, from its recorded plan.
    let ctx = match run.load_checked(Some(&prep.plan.config_files), &prep.plan.workspace) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    run.hooks.notice(Notice::Resuming(&prep));
    if !run.hooks.approve(Approval::Resume, &prep.plan) {
        return Ok(RunOutcome::Declined);
    }
    // The policy recorded with the run, not today's configuration: the run finishes as it
    // was started (a failure policy in the request still wins).
    let recorded = prep
        .run
        .on_failure
        .parse::<crate::apply::FailurePolicy>()
        .map_err(|e| RunError::RecordedPolicy {
            run: prep.run.id.clone(),
            error: e.to_string(),
        })?;
    let mut opts = run.apply_opts(Some(recorded), None, guard.fence())?;
    opts.parent = Some(prep.run.id.clone());
    opts.resume = Some(prep.info);
    let current = run.store.current()?;
    let report = run.walk(&ctx, &prep.plan, &current, &opts, serde_json::Value::Null)?;
    let ok = !report.diags.has_errors() && !report.stopped && report.rollback.is_none();
    // A resume that failed (and perhaps undid its own changes) leaves the original run's
    // changes in place: that run is failed.
    let status = if ok {
        RunStatus::Resumed
    } else {
        RunStatus::Failed
    };
    run.store.finish_run(guard.fence(), &prep.run.id, status)?;
    drop(guard);
    Ok(RunOutcome::Ran(Box::new(Ran {
        run_id: opts.run_id,
        plan: prep.plan,
        report,
        unfinished: None,
    })))
}

/// Undoes a run, or returns every object to a state version.
pub(super) fn rollback(run: &Run<'_>, target: &RollbackTarget) -> Result<RunOutcome, RunError> {
    let req = run.req;
    let guard = run.lock()?;
    let current = run.store.current()?;
    let (plan, diags, parent, ctx) = match target {
        RollbackTarget::Run(id) => {
            let Some(r) = run.store.run(id)? else {
                return Err(RunError::NoSuchRun(id.clone()));
            };
            if r.kind == "rollback" {
                return Err(RunError::RollbackOfRollback {
                    run: id.clone(),
                    parent: r.parent.unwrap_or_default(),
                });
            }
            settle_orphans(run, id)?;
            let recorded = r
                .plan
                .parse()
                .ok()
                .and_then(|j| crate::planfile::from_json(&j).ok());
            let (config, variables) = recorded
                .map(|p| ((p.config_files, p.workspace), p.variables))
                .unwrap_or_default();
            let ctx = undo_context(run, &config);
            // The run's variables: its providers' settings are evaluated with them, to look
            // for what it may have made and for the walk that undoes it.
            let now = crate::now_rfc3339();
            let (configs, _) = crate::providers::for_apply(&ctx, &variables, &now, true);
            let probe = crate::rollback::Probe {
                dir: &req.dir,
                configs: &configs,
            };
            let (mut p, d) = crate::rollback::plan_for_run(
                run.store,
                id,
                &current,
                &ctx.providers,
                Some(probe),
            )?;
            p.variables = variables;
            (p, d, Some(r.id), ctx)
        }
        RollbackTarget::Version(v) => {
            if *v > current.serial {
                return Err(RunError::NoSuchVersion {
                    version: *v,
                    latest: current.serial,
                });
            }
            let ctx = undo_context(run, &(Vec::new(), req.workspace.clone()));
            let (p, d) = crate::rollback::plan_to_version(run.store, *v, &current, &ctx.providers)?;
            (p, d, None, ctx)
        }
    };
    if run.diagnose(&diags) {
        return Ok(RunOutcome::Invalid(diags));
    }
    if !plan.has_changes() {
        if let Some(p) = &parent {
            run.store
                .finish_run(guard.fence(), p, RunStatus::RolledBack)?;
        }
        return Ok(RunOutcome::NothingToDo);
    }
    run.hooks.planned(&plan);
    if !run.hooks.approve(Approval::Rollback, &plan) {
        return Ok(RunOutcome::Declined);
    }
    let mut opts = run.apply_opts(None, None, guard.fence())?;
    opts.parent = parent.clone();
    let report = run.walk(&ctx, &plan, &current, &opts, serde_json::Value::Null)?;
    let mut unfinished = None;
    if let Some(p) = &parent {
        let ok = !report.diags.has_errors() && !report.stopped;
        let status = if ok {
            RunStatus::RolledBack
        } else {
            RunStatus::RollbackFailed
        };
        run.store.finish_run(guard.fence(), p, status)?;
        if !ok {
            let left = crate::rollback::remaining(run.store, p)?;
            unfinished = Some((p.clone(), left));
        }
    }
    drop(guard);
    Ok(RunOutcome::Ran(Box::new(Ran {
        run_id: opts.run_id,
        plan,
        report,
        unfinished,
    })))
}

/// The configuration the undone objects were made with (destroy-time provisioners need it):
/// the run's recorded files, else the directory's, else none.
fn undo_context(run: &Run<'_>, (files, workspace): &(Vec<(String, String)>, String)) -> Context {
    let req = run.req;
    let loaded = if files.is_empty() {
        run.load(None, workspace).0
    } else {
        run.load(Some(files), workspace).0
    };
    loaded
        .unwrap_or_else(|| Context::empty(&req.dir, workspace, &req.sources, req.providers.clone()))
}

/// Before finishing or undoing a run whose process died: waits for the commands it left
/// running (a killed Baton's shell commands go on) to end, killing them after a while, so that
/// what they do is seen when objects are looked for.
fn settle_orphans(run: &Run<'_>, id: &str) -> Result<(), RunError> {
    let interrupted = run
        .store
        .run(id)?
        .is_some_and(|r| r.status == RunStatus::Interrupted);
    if !interrupted {
        return Ok(());
    }
    let left = baton_provider::exec::commands_of_run(id);
    if left.is_empty() {
        return Ok(());
    }
    run.hooks.notice(Notice::SettlingOrphans {
        run: id,
        count: left.len(),
    });
    baton_provider::exec::settle_commands_of_run(id, std::time::Duration::from_secs(30));
    Ok(())
}
