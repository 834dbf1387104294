//! `baton apply` and `baton destroy`: the flags as a run request (plan now, or a saved plan)
//! for the engine's run lifecycle, rendered by [`super::run`].

use super::run::{execute, request};
use super::{plan_opts, Env};
use crate::cli::{ApplyArgs, DestroyArgs, ImportArgs, PlanFlags, RunFlags};
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

/// `baton import ADDR ID`: an apply limited to `ADDR` that imports the object `ID` into it
/// (no other change), with the run's journal, policy gate and audit record. No prompt, as
/// `terraform import` asks none: nothing but state changes.
pub fn import(env: &Env, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let addr = baton_core::InstanceAddr::parse(&a.addr)
        .map_err(|e| anyhow!("Invalid address {:?}: {e}", a.addr))?;
    if a.id.is_empty() {
        return Err(anyhow!("The import ID must be a non-empty string."));
    }
    let mut opts = plan_opts(&a.flags, PlanMode::Normal)?;
    opts.targets = vec![baton_core::Target::parse(&a.addr)
        .map_err(|e| anyhow!("Invalid address {:?}: {e}", a.addr))?];
    opts.imports = vec![(addr, a.id.clone())];
    let mut req = request(
        env,
        RunKind::Apply(opts),
        &a.run_flags,
        a.flags.parallelism,
        &a.flags.lock_timeout,
    )?;
    req.policy_dirs = a.flags.policy_dirs.clone();
    execute(env, req, true)
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
