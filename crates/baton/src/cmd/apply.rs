//! `baton apply` and `baton destroy`: the flags as a run request (plan now, or a saved plan)
//! for the engine's run lifecycle, rendered by [`super::run`].

use super::run::{execute, request};
use super::{plan_opts, Env};
use crate::cli::{ApplyArgs, DestroyArgs, PlanFlags, RunFlags};
use anyhow::anyhow;
use baton_engine::lifecycle::RunKind;
use baton_engine::PlanMode;
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
    run(env, &a.flags, &a.run_flags, mode, a.auto_approve)
}

pub fn destroy(env: &Env, a: DestroyArgs) -> anyhow::Result<ExitCode> {
    run(
        env,
        &a.flags,
        &a.run_flags,
        PlanMode::Destroy,
        a.auto_approve,
    )
}

fn run(
    env: &Env,
    flags: &PlanFlags,
    run_flags: &RunFlags,
    mode: PlanMode,
    auto: bool,
) -> anyhow::Result<ExitCode> {
    let opts = plan_opts(flags, mode)?;
    let mut req = request(
        env,
        RunKind::Apply(opts),
        run_flags,
        flags.parallelism,
        &flags.lock_timeout,
    )?;
    req.policy_dirs = flags.policy_dirs.clone();
    execute(env, req, auto)
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
    let plan = baton_engine::planfile::read(&env.path(file)).map_err(|e| anyhow!(e))?;
    let kind = RunKind::Saved {
        plan: Box::new(plan),
        origin: file.display().to_string(),
    };
    let mut req = request(env, kind, run_flags, flags.parallelism, &flags.lock_timeout)?;
    req.policy_dirs = flags.policy_dirs.clone();
    // A saved plan was approved when it was saved.
    execute(env, req, true)
}
