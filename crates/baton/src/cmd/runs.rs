//! `baton runs [show RUN]`, `baton resume RUN` and `baton rollback RUN | --to-version N`:
//! the journal of runs, finishing an interrupted run, and undoing one.

use super::apply::{do_apply, finish};
use super::{apply_opts, lock, print_diags, Env};
use crate::cli::{ResumeArgs, RollbackArgs, RunsArgs};
use crate::render::render_plan;
use anyhow::{anyhow, bail};
use baton_state::{RunRecord, RunStatus, StateStore};
use serde_json::json;
use std::process::ExitCode;

fn run_json(r: &RunRecord) -> serde_json::Value {
    json!({
        "id": r.id, "kind": r.kind, "status": r.status.as_str(), "who": r.who, "host": r.host,
        "pid": r.pid, "started_at": r.started_at, "finished_at": r.finished_at,
        "serial": r.serial, "summary": r.summary, "parent": r.parent, "on_failure": r.on_failure,
    })
}

pub fn runs(env: &Env, a: &RunsArgs) -> anyhow::Result<ExitCode> {
    let Some(store) = env.existing_store()? else {
        if a.json {
            outln!("[]");
        } else {
            outln!("No runs yet.");
        }
        return Ok(ExitCode::SUCCESS);
    };
    match a.args.as_slice() {
        [] => {
            let runs = store.runs()?;
            if a.json {
                let v: Vec<_> = runs.iter().map(run_json).collect();
                outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            if runs.is_empty() {
                outln!("No runs yet.");
                return Ok(ExitCode::SUCCESS);
            }
            for r in runs {
                outln!(
                    "{}  {:<8} {:<15} {}  {}  {}",
                    r.id,
                    r.kind,
                    r.status.as_str(),
                    r.started_at,
                    r.who,
                    r.summary
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        [cmd, id] if cmd == "show" => show(&store, id, a.json),
        _ => bail!("usage: baton runs [--json] | baton runs show RUN [--json]"),
    }
}

fn show(store: &baton_state::SqliteStore, id: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let Some(r) = store.run(id)? else {
        bail!("There is no run with id {id}. `baton runs` lists them.");
    };
    let entries = store.journal(id)?;
    // A run whose rollback did not finish: what is left to undo against the current state.
    let left = if r.status == RunStatus::RollbackFailed {
        baton_engine::rollback::remaining(store, id)?
    } else {
        Vec::new()
    };
    if as_json {
        let mut v = run_json(&r);
        if r.status == RunStatus::RollbackFailed {
            v["left_to_undo"] = json!(left);
        }
        v["actions"] = serde_json::Value::Array(
            entries
                .iter()
                .map(|e| {
                    json!({
                        "seq": e.seq, "phase": e.phase, "action": e.action, "address": e.addr,
                        "deposed": if e.deposed.is_empty() { None } else { Some(&e.deposed) },
                        "status": e.status.as_str(), "attempts": e.attempts,
                        "started_at": e.started_at, "duration_ms": e.duration_ms, "error": e.error,
                    })
                })
                .collect(),
        );
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("Run:        {}", r.id);
    outln!("Kind:       {}", r.kind);
    outln!("Status:     {}", r.status.as_str());
    outln!("Who:        {} (pid {})", r.who, r.pid);
    outln!("Started:    {}", r.started_at);
    outln!("Finished:   {}", r.finished_at.as_deref().unwrap_or("-"));
    outln!("Plan:       {}", r.summary);
    outln!("On failure: {}", r.on_failure);
    outln!("State:      version {}", r.serial);
    if let Some(p) = &r.parent {
        outln!("Parent run: {p}");
    }
    outln!("\nActions:");
    if entries.is_empty() {
        outln!("  (none)");
    }
    for e in &entries {
        let dep = if e.deposed.is_empty() {
            String::new()
        } else {
            format!(" (deposed {})", e.deposed)
        };
        let dur = e
            .duration_ms
            .map(|d| format!("{:.1}s", d as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        let status = match e.status {
            baton_state::EntryStatus::Started => "unknown (never finished)",
            s => s.as_str(),
        };
        outln!(
            "  {:>3}. [{}] {:<7} {}{}  {}  attempts {}  {}",
            e.seq,
            e.phase,
            e.action,
            e.addr,
            dep,
            status,
            e.attempts,
            dur
        );
        if let Some(err) = &e.error {
            outln!("       error: {err}");
        }
    }
    if !left.is_empty() {
        outln!("\nLeft to undo (`baton rollback {id}` finishes it):");
        for l in &left {
            outln!("  - {l}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn resume(env: &Env, a: &ResumeArgs) -> anyhow::Result<ExitCode> {
    let store = env.open_store()?;
    let guard = lock(env, &store.store, "resume", &a.lock_timeout)?;
    settle_orphans(&store.store, &a.run)?;
    let prep = match baton_engine::resume::prepare(&store.store, &a.run)? {
        Ok(p) => p,
        Err(d) => {
            print_diags(&d.into(), &env.sources);
            return Ok(ExitCode::from(1));
        }
    };
    let fs = baton_config::MemFs::new(&env.dir, &prep.plan.config_files);
    let (ctx, d) = baton_engine::load_with(&env.dir, &prep.plan.workspace, &env.sources, &fs);
    if print_diags(&d, &env.sources) {
        return Ok(ExitCode::from(1));
    }
    let Some(ctx) = ctx else {
        return Ok(ExitCode::from(1));
    };
    outln!(
        "Resuming run {} ({}): {} action(s) already done, {} with a lost outcome to check first.",
        prep.run.id,
        prep.run.summary,
        prep.done,
        prep.unknown
    );
    if !a.auto_approve
        && !crate::ui::confirm(
            "Do you want to finish this run?",
            "Baton will perform the remaining actions of the run's plan.",
        )
    {
        eprintln!("\nError: Resume cancelled.");
        return Ok(ExitCode::from(1));
    }
    // The policy recorded with the run, not today's configuration: the run finishes as it
    // was started (an explicit --on-failure still wins).
    let recorded = prep
        .run
        .on_failure
        .parse::<baton_engine::apply::FailurePolicy>()
        .map_err(|e| anyhow::anyhow!("run {}: the recorded failure policy: {e}", prep.run.id))?;
    let mut opts = apply_opts(&a.run_flags, Some(recorded), a.parallelism, "resume")?;
    opts.fence = guard.fence();
    opts.parent = Some(prep.run.id.clone());
    opts.resume = Some(prep.info);
    let current = store.current()?;
    let progress = crate::ui::Progress::new();
    let report = do_apply(
        env,
        &ctx,
        &prep.plan,
        &store,
        &current,
        &opts,
        &progress,
        serde_json::Value::Null,
    )?;
    let ok = !report.diags.has_errors() && !report.stopped && report.rollback.is_none();
    if ok {
        store.finish_run(guard.fence(), &prep.run.id, RunStatus::Resumed)?;
    } else if report.status == Some(RunStatus::RolledBack) {
        // The resume failed and undid its own changes; the original run's changes remain.
        store.finish_run(guard.fence(), &prep.run.id, RunStatus::Failed)?;
    } else {
        store.finish_run(guard.fence(), &prep.run.id, RunStatus::Failed)?;
    }
    finish(env, &prep.plan, &report, &opts)
}

pub fn rollback(env: &Env, a: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let store = env.open_store()?;
    let guard = lock(env, &store.store, "rollback", &a.lock_timeout)?;
    let current = store.current()?;
    let (plan, diags, parent, config_files) = match (&a.run, a.to_version) {
        (Some(run), None) => {
            let Some(r) = store.run(run)? else {
                bail!("There is no run with id {run}. `baton runs` lists them.");
            };
            if r.kind == "rollback" {
                bail!(
                    "Run {run} is itself a rollback; roll back its parent {} instead.",
                    r.parent.unwrap_or_default()
                );
            }
            settle_orphans(&store.store, run)?;
            let files = r
                .plan
                .parse()
                .ok()
                .and_then(|j| baton_engine::planfile::from_json(&j).ok())
                .map(|p| (p.config_files, p.workspace))
                .unwrap_or_default();
            let (p, d) =
                baton_engine::rollback::plan_for_run(&store.store, run, &current, Some(&env.dir))?;
            (p, d, Some(r.id), files)
        }
        (None, Some(v)) => {
            if v > current.serial {
                bail!("State version {v} does not exist (the latest is {}); `baton state history` lists them.", current.serial);
            }
            let (p, d) = baton_engine::rollback::plan_to_version(&store.store, v, &current)?;
            (p, d, None, (Vec::new(), env.workspace.clone()))
        }
        _ => {
            bail!("Say what to roll back: `baton rollback RUN` or `baton rollback --to-version N`.")
        }
    };
    if print_diags(&diags, &env.sources) {
        return Ok(ExitCode::from(1));
    }
    // Destroy-time provisioners need the configuration the objects were made with.
    let ctx = {
        let (files, workspace) = &config_files;
        let fs = baton_config::MemFs::new(&env.dir, files);
        let loaded = if files.is_empty() {
            baton_engine::load(&env.dir, workspace, &env.sources).0
        } else {
            baton_engine::load_with(&env.dir, workspace, &env.sources, &fs).0
        };
        loaded.unwrap_or_else(|| baton_engine::Context::empty(&env.dir, workspace, &env.sources))
    };
    if !plan.has_changes() {
        outln!("Nothing to roll back: every object is already as it was.");
        if let Some(p) = &parent {
            store.finish_run(guard.fence(), p, RunStatus::RolledBack)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    out!("{}", render_plan(&plan));
    if !a.auto_approve
        && !crate::ui::confirm(
            "Do you want to roll back?",
            "Baton will return the objects shown above to their earlier values.",
        )
    {
        eprintln!("\nError: Rollback cancelled.");
        return Ok(ExitCode::from(1));
    }
    let mut opts = apply_opts(&a.run_flags, None, a.parallelism, "rollback")?;
    opts.fence = guard.fence();
    opts.parent = parent.clone();
    let progress = crate::ui::Progress::new();
    let report = do_apply(
        env,
        &ctx,
        &plan,
        &store,
        &current,
        &opts,
        &progress,
        serde_json::Value::Null,
    )?;
    if let Some(p) = &parent {
        let ok = !report.diags.has_errors() && !report.stopped;
        store.finish_run(
            guard.fence(),
            p,
            if ok {
                RunStatus::RolledBack
            } else {
                RunStatus::RollbackFailed
            },
        )?;
        if !ok {
            eprintln!("The rollback of run {p} did not finish.");
            crate::cmd::apply::print_left(&baton_engine::rollback::remaining(&store.store, p)?);
            eprintln!("Run `baton rollback {p}` again to finish what is left.");
        }
    }
    finish(env, &plan, &report, &opts).map_err(|e| anyhow!(e))
}

/// Before finishing or undoing a run whose process died: waits for the commands it left
/// running (a killed Baton's shell commands go on) to end, killing them after a while, so that
/// what they do is seen when objects are looked for.
fn settle_orphans(store: &baton_state::SqliteStore, run: &str) -> anyhow::Result<()> {
    let interrupted = store
        .run(run)?
        .is_some_and(|r| r.status == RunStatus::Interrupted);
    if !interrupted {
        return Ok(());
    }
    let left = baton_provider::exec::commands_of_run(run);
    if left.is_empty() {
        return Ok(());
    }
    eprintln!(
        "Run {run} left {} process(es) running when it was interrupted; waiting up to 30s for them to end (then they are stopped)...",
        left.len()
    );
    baton_provider::exec::settle_commands_of_run(run, std::time::Duration::from_secs(30));
    Ok(())
}
