//! Runs that apply a plan: one made now from the configuration (apply, destroy), or one saved
//! earlier. Both pass the policy gate, evaluated now, before anything changes.
//!
//! Must not print or read the process's state; what the caller sees goes through the hooks.

use super::{Approval, Ran, Run, RunError, RunOutcome};
use crate::audit::Record;
use crate::model::Plan;
use crate::plan::PlanOpts;
use crate::policy::{Gate, GateInput, RunContext};
use crate::{Context, PlanMode};

/// Plans the configuration in the request's directory and applies the plan.
pub(super) fn plan_and_apply(run: &Run<'_>, opts: &PlanOpts) -> Result<RunOutcome, RunError> {
    let req = run.req;
    let ctx = match run.load_checked(None, &req.workspace) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    let guard = run.lock()?;
    super::check_unresolved(run.store)?;
    let prior = run.store.current()?;
    let (plan, d) = crate::plan::plan(&ctx, &prior, opts, run.hooks.observer());
    if run.diagnose(&d) {
        return Ok(RunOutcome::Invalid(d));
    }
    let Some(plan) = plan else {
        return Ok(RunOutcome::Invalid(d));
    };
    run.hooks.planned(&plan);
    let gate = match pass_gate(run, &ctx, &plan, &prior) {
        Ok(g) => g,
        Err(denied) => return Ok(denied),
    };
    let what = if plan.mode == PlanMode::Destroy {
        Approval::Destroy
    } else {
        Approval::Apply
    };
    if !run.hooks.approve(what, &plan) {
        return Ok(RunOutcome::Declined);
    }
    record_override(run, &gate, &plan);
    let aopts = run.apply_opts(ctx.on_failure(), Some(ctx.baton_settings()), guard.fence())?;
    let report = run.walk(&ctx, &plan, &prior, &aopts, gate.audit_json())?;
    drop(guard);
    Ok(RunOutcome::Ran(Box::new(Ran {
        run_id: aopts.run_id,
        plan,
        report,
        unfinished: None,
    })))
}

/// Plans and gates, changing nothing.
pub(super) fn preview(run: &Run<'_>, opts: &PlanOpts) -> Result<super::Preview, RunError> {
    let req = run.req;
    let (ctx, mut diags) = run.load(None, &req.workspace);
    let Some(ctx) = ctx else {
        return Ok(super::Preview {
            plan: None,
            gate: None,
            json: None,
            diags,
        });
    };
    let guard = crate::lifecycle::take_lock(
        run.store,
        "plan",
        req.lock_timeout,
        &req.actor,
        &req.workspace,
    )?;
    let prior = run.store.current()?;
    let (plan, d) = crate::plan::plan(&ctx, &prior, opts, run.hooks.observer());
    diags.extend(d);
    drop(guard);
    let plan = plan.filter(|_| !diags.has_errors());
    let gate = plan.as_ref().map(|p| {
        crate::policy::gate(GateInput {
            ctx: &ctx,
            plan: p,
            prior: &prior,
            extra_dirs: &req.policy_dirs,
            run: RunContext::for_actor(&req.workspace, &req.actor, "plan", None),
            override_reason: req.override_policy.as_deref(),
        })
    });
    let json = plan.as_ref().map(|p| {
        crate::planjson::plan_json(Some(&ctx), p, &prior, crate::planjson::JsonOpts::default())
    });
    Ok(super::Preview {
        plan,
        gate,
        json,
        diags,
    })
}

/// Applies a plan saved earlier, if the state is still the one it was made against.
pub(super) fn apply_saved(
    run: &Run<'_>,
    plan: &Plan,
    origin: &str,
) -> Result<RunOutcome, RunError> {
    let req = run.req;
    if plan.errored {
        return Err(RunError::SavedPlanErrored(origin.to_string()));
    }
    if plan.workspace != req.workspace {
        return Err(RunError::WrongEnvironment {
            origin: origin.to_string(),
            planned: plan.workspace.clone(),
            current: req.workspace.clone(),
        });
    }
    // The configuration as it was when the plan was made, from the plan itself.
    let ctx = match run.load_checked(Some(&plan.config_files), &plan.workspace) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    let guard = run.lock()?;
    super::check_unresolved(run.store)?;
    let current = run.store.current()?;
    // A plan made against a state never written applies to any never-written state.
    let both_empty = current.serial == 0 && plan.serial == 0;
    if !both_empty && (current.lineage != plan.lineage || current.serial != plan.serial) {
        return Err(RunError::StalePlan {
            origin: origin.to_string(),
            plan_serial: plan.serial,
            plan_lineage: plan.lineage.clone(),
            serial: current.serial,
            lineage: current.lineage.clone(),
        });
    }
    // Policies may have changed since the plan was made: the gate runs again, now.
    let gate = match pass_gate(run, &ctx, plan, &current) {
        Ok(g) => g,
        Err(denied) => return Ok(denied),
    };
    record_override(run, &gate, plan);
    let aopts = run.apply_opts(ctx.on_failure(), Some(ctx.baton_settings()), guard.fence())?;
    let report = run.walk(&ctx, plan, &current, &aopts, gate.audit_json())?;
    drop(guard);
    Ok(RunOutcome::Ran(Box::new(Ran {
        run_id: aopts.run_id,
        plan: plan.clone(),
        report,
        unfinished: None,
    })))
}

/// The policy gate before a run changes anything. A denial is recorded in the audit log and
/// returned as the run's outcome.
fn pass_gate(
    run: &Run<'_>,
    ctx: &Context,
    plan: &Plan,
    prior: &baton_state::Snapshot,
) -> Result<Gate, RunOutcome> {
    let req = run.req;
    let command = run.command();
    let gate = crate::policy::gate(GateInput {
        ctx,
        plan,
        prior,
        extra_dirs: &req.policy_dirs,
        run: RunContext::for_actor(
            &req.workspace,
            &req.actor,
            command,
            Some(req.run_id.clone()),
        ),
        override_reason: req.override_policy.as_deref(),
    });
    run.hooks.gate(&gate);
    if !gate.blocked {
        return Ok(gate);
    }
    run.audit(Record {
        command,
        run_id: Some(req.run_id.clone()),
        plan: Some(plan),
        plan_digest: None,
        policy: gate.audit_json(),
        outcome: "denied by policy: nothing was changed".into(),
        changes: Vec::new(),
    });
    Err(RunOutcome::Denied(Box::new(gate)))
}

/// Records a soft-mandatory override in the audit log, with the actor and the reason.
fn record_override(run: &Run<'_>, gate: &Gate, plan: &Plan) {
    let Some(reason) = &gate.overridden else {
        return;
    };
    run.audit(Record {
        command: "policy override",
        run_id: Some(run.req.run_id.clone()),
        plan: Some(plan),
        plan_digest: None,
        policy: gate.audit_json(),
        outcome: format!(
            "overrode the soft-mandatory policy denial of {}: {reason}",
            run.command()
        ),
        changes: Vec::new(),
    });
}
