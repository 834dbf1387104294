//! `baton runs [show RUN]`, `baton resume RUN` and `baton rollback RUN | --to-version N`:
//! the journal of runs, and the run requests that finish an interrupted run or undo one.

use super::run::{execute, request};
use super::Env;
use crate::cli::{ResumeArgs, RollbackArgs, RunsArgs};
use anyhow::bail;
use baton_engine::lifecycle::{RollbackTarget, RunKind};
use baton_state::{RunRecord, RunStatus};
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
    let store = env.existing_store()?;
    let wf_store = super::workflow::existing(env)?;
    match a.args.as_slice() {
        [] => {
            // Stack runs and workflow runs, newest first (ids sort by creation).
            let mut rows: Vec<(String, serde_json::Value, String)> = Vec::new();
            if let Some(store) = &store {
                for r in store.runs()? {
                    let line = format!(
                        "{}  {:<8} {:<15} {}  {}  {}",
                        r.id,
                        r.kind,
                        r.status.as_str(),
                        r.started_at,
                        r.who,
                        r.summary
                    );
                    rows.push((r.id.clone(), run_json(&r), line));
                }
            }
            if let Some(wf) = &wf_store {
                for r in wf.runs()? {
                    let line = format!(
                        "{}  {:<8} {:<15} {}  {}  workflow {}{}",
                        r.id,
                        "workflow",
                        r.status.as_str(),
                        r.started_at,
                        r.who,
                        r.workflow,
                        r.note
                            .as_deref()
                            .map(|n| format!(": {n}"))
                            .unwrap_or_default()
                    );
                    rows.push((r.id.clone(), super::workflow::run_json(&r), line));
                }
            }
            rows.sort_by(|a, b| b.0.cmp(&a.0));
            if a.json {
                let v: Vec<_> = rows.into_iter().map(|(_, j, _)| j).collect();
                outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                outln!("No runs yet.");
            }
            for (_, _, line) in rows {
                outln!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        [cmd, id] if cmd == "show" => {
            if let Some(wf) = &wf_store {
                if let Some(r) = wf.run(id)? {
                    return super::workflow::show(
                        wf.as_ref(),
                        &r,
                        &super::worker::run_tasks(env, &r.id),
                        a.json,
                    );
                }
            }
            match &store {
                Some(store) => show(
                    store.as_ref(),
                    id,
                    &super::worker::run_tasks(env, id),
                    a.json,
                ),
                None => bail!("There is no run with id {id}. `baton runs` lists them."),
            }
        }
        _ => bail!("usage: baton runs [--json] | baton runs show RUN [--json]"),
    }
}

fn show(
    store: &dyn baton_state::StateStore,
    id: &str,
    tasks: &[baton_state::TaskRow],
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(r) = store.run(id)? else {
        bail!("There is no run with id {id}. `baton runs` lists them.");
    };
    let entries = store.journal(id)?;
    // The workers that performed each action handed to them (every claim, in order).
    let workers_of = |e: &baton_state::JournalEntry| -> Vec<String> {
        let key = if e.deposed.is_empty() {
            format!("{} {} {}", e.phase, e.addr, e.action)
        } else {
            format!("{} {} {} deposed {}", e.phase, e.addr, e.action, e.deposed)
        };
        tasks
            .iter()
            .filter(|t| t.key == key)
            .flat_map(|t| t.claim_log.iter().map(|(w, _)| w.clone()))
            .collect()
    };
    // A run whose rollback did not finish: what is left to undo against the current state.
    let left = if r.status == RunStatus::RollbackFailed {
        baton_engine::rollback::remaining(store, id)?
    } else {
        Vec::new()
    };
    // The hosts (failure domains) whose actions failed, each with its first error.
    let failed_hosts = baton_engine::apply::failed_domains(&entries);
    if as_json {
        let mut v = run_json(&r);
        v["failed_domains"] = json!(failed_hosts);
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
                        "workers": workers_of(e),
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
    if !failed_hosts.is_empty() {
        outln!("\nFailed hosts:");
        for (host, why) in &failed_hosts {
            outln!("  - {host}: {why}");
        }
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
        let ran_on = workers_of(e);
        if !ran_on.is_empty() {
            outln!("       worker: {}", ran_on.join(" (lost), then "));
        }
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
    if let Some((store, _)) = super::workflow::find_run(env, &a.run)? {
        return super::workflow::resume(env, store.as_ref(), &a.run, a.parallelism);
    }
    let kind = RunKind::Resume { run: a.run.clone() };
    let req = request(env, kind, &a.run_flags, a.parallelism, &a.lock_timeout)?;
    execute(env, req, a.auto_approve)
}

pub fn rollback(env: &Env, a: &RollbackArgs) -> anyhow::Result<ExitCode> {
    if let Some(run) = &a.run {
        if let Some((store, _)) = super::workflow::find_run(env, run)? {
            return super::workflow::rollback(env, store.as_ref(), run);
        }
    }
    let target = match (&a.run, a.to_version) {
        (Some(run), None) => RollbackTarget::Run(run.clone()),
        (None, Some(v)) => RollbackTarget::Version(v),
        _ => {
            bail!("Say what to roll back: `baton rollback RUN` or `baton rollback --to-version N`.")
        }
    };
    let req = request(
        env,
        RunKind::Rollback(target),
        &a.run_flags,
        a.parallelism,
        &a.lock_timeout,
    )?;
    execute(env, req, a.auto_approve)
}
