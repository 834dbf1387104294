//! `baton apply` and `baton destroy`: plan (or read a saved plan), confirm, apply with
//! progress lines (and, after a failure, the automatic rollback), report.

use super::{apply_opts, check_unresolved, lock, plan_opts, print_diags, Env};
use crate::cli::{ApplyArgs, DestroyArgs, PlanFlags, RunFlags};
use crate::render::{render_plan, render_value};
use anyhow::anyhow;
use baton_engine::apply::{ApplyOpts, ApplyReport};
use baton_engine::{Plan, PlanMode};
use baton_state::StateStore as _;
use std::process::ExitCode;

pub fn apply(env: &Env, a: ApplyArgs) -> anyhow::Result<ExitCode> {
    if let Some(f) = &a.plan_file {
        return apply_saved(env, f, &a.flags, &a.run_flags);
    }
    let mode = if a.destroy {
        PlanMode::Destroy
    } else {
        PlanMode::Normal
    };
    run(env, &a.flags, &a.run_flags, mode, a.auto_approve, "apply")
}

pub fn destroy(env: &Env, a: DestroyArgs) -> anyhow::Result<ExitCode> {
    run(
        env,
        &a.flags,
        &a.run_flags,
        PlanMode::Destroy,
        a.auto_approve,
        "destroy",
    )
}

fn run(
    env: &Env,
    flags: &PlanFlags,
    run_flags: &RunFlags,
    mode: PlanMode,
    auto: bool,
    command: &str,
) -> anyhow::Result<ExitCode> {
    let opts = plan_opts(flags, mode)?;
    let Some(ctx) = env.load() else {
        return Ok(ExitCode::from(1));
    };
    let command = if mode == PlanMode::Destroy {
        "destroy"
    } else {
        command
    };
    let aopts = apply_opts(run_flags, ctx.on_failure(), flags.parallelism, command)?;
    let store = env.open_store()?;
    let guard = lock(env, &store.store, command, &flags.lock_timeout)?;
    // Every write of the run carries the lock's fencing token.
    let aopts = ApplyOpts {
        fence: guard.fence(),
        ..aopts
    };
    check_unresolved(&store.store)?;
    let prior = store.current()?;
    let progress = crate::ui::Progress::new();
    let (plan, diags) = baton_engine::plan::plan(&ctx, &prior, &opts, &progress);
    if print_diags(&diags, &env.sources) {
        return Ok(ExitCode::from(1));
    }
    let Some(plan) = plan else {
        return Ok(ExitCode::from(1));
    };
    out!("{}", render_plan(&plan));
    let gate = match check_policies(env, &ctx, &plan, &prior, &store, flags, run_flags, &aopts)? {
        Ok(g) => g,
        Err(code) => return Ok(code),
    };
    // With no changes there is nothing to approve, but the apply walk still runs: checks
    // whose values were unknown at plan (a module input from `uuid()` under a validation
    // rule, a precondition on `timestamp()`) are decided only there, as in Terraform.
    if !auto && plan.has_changes() {
        let (q, d) = if mode == PlanMode::Destroy {
            (
                "Do you really want to destroy all resources?",
                "Baton will destroy all your managed infrastructure, as shown above.\n  There is no undo.",
            )
        } else {
            (
                "Do you want to perform these actions?",
                "Baton will perform the actions described above.",
            )
        };
        if !crate::ui::confirm(q, d) {
            eprintln!(
                "\nError: {} cancelled.",
                if mode == PlanMode::Destroy {
                    "Destroy"
                } else {
                    "Apply"
                }
            );
            return Ok(ExitCode::from(1));
        }
    } else {
        outln!();
    }
    super::policy::record_override(env, &store.store, &gate, command, &aopts.run_id, &plan);
    let report = do_apply(
        env,
        &ctx,
        &plan,
        &store,
        &prior,
        &aopts,
        &progress,
        gate.audit_json(),
    )?;
    finish(env, &plan, &report, &aopts)
}

/// The policy gate before a run changes anything: prints the findings, and on a denial records
/// it and returns the exit code.
#[allow(clippy::too_many_arguments)]
fn check_policies(
    env: &Env,
    ctx: &baton_engine::Context,
    plan: &Plan,
    prior: &baton_state::Snapshot,
    store: &baton_state::SqliteStore,
    flags: &PlanFlags,
    run_flags: &RunFlags,
    aopts: &ApplyOpts,
) -> anyhow::Result<Result<super::policy::Gate, ExitCode>> {
    let command = aopts.command.as_str();
    let gate = super::policy::gate(
        env,
        ctx,
        plan,
        prior,
        &flags.policy_dirs,
        command,
        Some(aopts.run_id.clone()),
        run_flags.override_policy.as_deref(),
    )?;
    super::policy::print(env, &gate);
    if gate.blocked {
        record_denial(env, store, &gate, command, &aopts.run_id, plan);
        return Ok(Err(super::policy::denied(
            &gate,
            command,
            run_flags.override_policy.is_some(),
        )));
    }
    Ok(Ok(gate))
}

/// The audit record of a run the policies stopped.
fn record_denial(
    env: &Env,
    store: &dyn baton_state::StateStore,
    gate: &super::policy::Gate,
    command: &str,
    run_id: &str,
    plan: &Plan,
) {
    super::audit::record(
        env,
        store,
        super::audit::Record {
            command,
            run_id: Some(run_id.to_string()),
            plan: Some(plan),
            plan_digest: None,
            policy: gate.audit_json(),
            outcome: "denied by policy: nothing was changed".into(),
            changes: Vec::new(),
        },
    );
}

/// Runs the engine's apply with interrupt handling and "still running" lines.
#[allow(clippy::too_many_arguments)]
pub fn do_apply(
    env: &Env,
    ctx: &baton_engine::Context,
    plan: &Plan,
    store: &baton_state::SqliteStore,
    prior: &baton_state::Snapshot,
    opts: &ApplyOpts,
    progress: &crate::ui::Progress,
    policy: serde_json::Value,
) -> anyhow::Result<ApplyReport> {
    let stop = baton_graph::StopHandle::new();
    crate::ui::on_interrupt(stop.clone(), opts.cancel.clone());
    let ticker = crate::ui::Ticker::start(progress);
    let telemetry =
        crate::telemetry::Telemetry::new(&ticker, &opts.run_id, env.trace_file.is_some());
    let r = baton_engine::apply::apply(ctx, plan, store, prior, opts, &telemetry, &stop)
        .map_err(|e| anyhow!(e));
    let outcome = match &r {
        Ok(rep) => rep
            .status
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "unknown".into()),
        Err(e) => format!("error: {e}"),
    };
    super::audit::record(
        env,
        store,
        super::audit::Record {
            command: &opts.command,
            run_id: Some(opts.run_id.clone()),
            plan: Some(plan),
            plan_digest: r.as_ref().ok().and_then(|rep| rep.plan_digest.clone()),
            policy,
            outcome,
            changes: Vec::new(),
        },
    );
    if let Some(path) = &env.trace_file {
        telemetry.write_trace(path)?;
    }
    drop(telemetry);
    ticker.finish();
    r
}

/// Prints the result of an apply and picks the exit code.
pub fn finish(
    env: &super::Env,
    plan: &Plan,
    r: &ApplyReport,
    opts: &ApplyOpts,
) -> anyhow::Result<ExitCode> {
    let failed = print_diags(&r.diags, &env.sources);
    let what = match plan.mode {
        PlanMode::Destroy => "Destroy",
        PlanMode::Restore => "Rollback",
        _ => "Apply",
    };
    if r.stopped {
        eprintln!(
            "\nError: {what} interrupted\n\nThe run was interrupted before it finished. Resources: {} added, {} changed, {} destroyed; everything that completed is saved in the state (version {}). Run the command again, or `baton rollback {}` to undo what this run did.",
            r.added, r.changed, r.destroyed, r.serial, opts.run_id
        );
        return Ok(ExitCode::from(1));
    }
    if let Some(rb) = &r.rollback {
        print_diags(&rb.diags, &env.sources);
        if rb.ok {
            eprintln!(
                "{what} failed and was rolled back: every change run {} made was undone ({} action(s)). The state is as it was before the run.",
                opts.run_id, rb.undone
            );
        } else {
            eprintln!(
                "{what} failed, and rolling it back did not finish (see the errors above). Run {} is recorded as rollback_failed.",
                opts.run_id
            );
            print_left(&rb.left);
            eprintln!(
                "`baton rollback {}` finishes the rollback once the cause is fixed; `baton runs show {}` lists every action.",
                opts.run_id, opts.run_id
            );
        }
        return Ok(ExitCode::from(1));
    }
    if failed {
        eprintln!(
            "{what} failed. Resources: {} added, {} changed, {} destroyed. Everything that completed is saved in the state (version {}); `baton rollback {}` undoes it.",
            r.added, r.changed, r.destroyed, r.serial, opts.run_id
        );
        return Ok(ExitCode::from(1));
    }
    match plan.mode {
        PlanMode::Destroy => {
            outln!("\nDestroy complete! Resources: {} destroyed.", r.destroyed);
            return Ok(ExitCode::SUCCESS);
        }
        PlanMode::Restore => {
            outln!(
                "\nRollback complete! Resources: {} created, {} changed, {} destroyed.",
                r.added,
                r.changed,
                r.destroyed
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let imported = if r.imported > 0 {
        format!("{} imported, ", r.imported)
    } else {
        String::new()
    };
    outln!(
        "\nApply complete! Resources: {imported}{} added, {} changed, {} destroyed.",
        r.added,
        r.changed,
        r.destroyed
    );
    if !r.outputs.is_empty() {
        outln!("\nOutputs:\n");
        for (k, (v, s)) in &r.outputs {
            if *s || v.contains_sensitive() {
                outln!("{k} = <sensitive>");
            } else {
                outln!("{k} = {}", render_value(v));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn apply_saved(
    env: &Env,
    file: &std::path::Path,
    flags: &PlanFlags,
    run_flags: &RunFlags,
) -> anyhow::Result<ExitCode> {
    if !flags.vars.vars.is_empty() || !flags.vars.var_files.is_empty() || !flags.targets.is_empty()
    {
        return Err(anyhow!("A saved plan already contains its variables and targets: --var, --var-file and --target cannot be used with a plan file."));
    }
    let plan = baton_engine::planfile::read(file).map_err(|e| anyhow!(e))?;
    if plan.errored {
        return Err(anyhow!(
            "The plan in {} was saved with errors and cannot be applied.",
            file.display()
        ));
    }
    if plan.workspace != env.workspace {
        return Err(anyhow!(
            "The plan in {} was made for environment {:?}, not {:?}.",
            file.display(),
            plan.workspace,
            env.workspace
        ));
    }
    let fs = baton_config::MemFs::new(&env.dir, &plan.config_files);
    let (ctx, d) = baton_engine::load_with(&env.dir, &plan.workspace, &env.sources, &fs);
    if print_diags(&d, &env.sources) {
        return Ok(ExitCode::from(1));
    }
    let Some(ctx) = ctx else {
        return Ok(ExitCode::from(1));
    };
    let command = if plan.mode == PlanMode::Destroy {
        "destroy"
    } else {
        "apply"
    };
    let aopts = apply_opts(run_flags, ctx.on_failure(), flags.parallelism, command)?;
    let store = env.open_store()?;
    let guard = lock(env, &store.store, command, &flags.lock_timeout)?;
    // Every write of the run carries the lock's fencing token.
    let aopts = ApplyOpts {
        fence: guard.fence(),
        ..aopts
    };
    check_unresolved(&store.store)?;
    let current = store.current()?;
    // A plan made against a state never written applies to any never-written state.
    let both_empty = current.serial == 0 && plan.serial == 0;
    if !both_empty && (current.lineage != plan.lineage || current.serial != plan.serial) {
        return Err(anyhow!(
            "Saved plan is stale: the state changed after the plan in {} was created (the plan was made against state version {} of lineage {}, and the state is now at version {} of lineage {}). Nothing was changed. Create a new plan with `baton plan --out {}` and apply that.",
            file.display(),
            plan.serial,
            plan.lineage,
            current.serial,
            current.lineage,
            file.display()
        ));
    }
    // Policies may have changed since the plan was made: the gate runs again, now.
    let gate = match check_policies(env, &ctx, &plan, &current, &store, flags, run_flags, &aopts)? {
        Ok(g) => g,
        Err(code) => return Ok(code),
    };
    super::policy::record_override(env, &store.store, &gate, command, &aopts.run_id, &plan);
    let progress = crate::ui::Progress::new();
    let report = do_apply(
        env,
        &ctx,
        &plan,
        &store,
        &current,
        &aopts,
        &progress,
        gate.audit_json(),
    )?;
    finish(env, &plan, &report, &aopts)
}

/// Prints what a rollback that did not finish left to undo.
pub fn print_left(left: &[String]) {
    if left.is_empty() {
        return;
    }
    eprintln!("Left to undo:");
    for l in left {
        eprintln!("  - {l}");
    }
}
