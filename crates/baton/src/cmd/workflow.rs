//! `baton workflow list | plan | run`, `baton approve`, `baton logs`, and the workflow side
//! of `runs`, `resume` and `rollback`: flags in, the workflow runner called, progress and
//! results printed.
//!
//! Must not decide what runs: that is `baton-workflow`'s.

use super::Env;
use crate::cli::{ApproveArgs, LogsArgs, WorkflowCommand};
use anyhow::{anyhow, bail};
use baton_state::{WfRun, WfStep, WfStepStatus, WorkflowStore};
use baton_workflow::exec::{Advance, InputValue, Runner, WfError, WfHooks};
use baton_workflow::model::Executor;
use serde_json::json;
use std::process::ExitCode;

/// Progress lines on the terminal.
struct Terminal;

impl WfHooks for Terminal {
    fn step_started(&self, _run: &str, key: &str, kind: &str) {
        outln!("step.{key}: started ({kind})");
    }
    fn step_finished(&self, _run: &str, s: &WfStep) {
        let took = s
            .duration_ms
            .map(|d| format!(" in {:.1}s", d as f64 / 1000.0))
            .unwrap_or_default();
        let attempts = if s.attempts > 1 {
            format!(" after {} attempts", s.attempts)
        } else {
            String::new()
        };
        match s.status {
            WfStepStatus::Succeeded => outln!("step.{}: succeeded{took}{attempts}", s.key),
            _ => outln!(
                "step.{}: {}{took}{attempts}: {}",
                s.key,
                s.status.as_str(),
                s.error.as_deref().unwrap_or("")
            ),
        }
    }
    fn waiting(&self, run: &str, key: &str, message: &str) {
        outln!("step.{key}: waiting for approval: {message}\n  baton approve {run} {key}    (or --reject --reason \"...\")");
    }
    fn notice(&self, text: &str) {
        eprintln!("{text}");
    }
}

pub(super) fn open(env: &Env) -> anyhow::Result<Box<dyn WorkflowStore>> {
    env.workflow_location()?
        .open_workflows()
        .map_err(|e| anyhow!(e))
}

/// The workflow store of the directory, if it has one (an SQLite file is not created; a
/// PostgreSQL store is opened).
pub fn existing(env: &Env) -> anyhow::Result<Option<Box<dyn WorkflowStore>>> {
    let location = env.workflow_location()?;
    if let Some(p) = location.sqlite_workflows_path() {
        if !p.exists() {
            return Ok(None);
        }
    }
    location.open_workflows().map(Some).map_err(|e| anyhow!(e))
}

/// The workflow run `id`, if the directory's workflow store has it.
pub fn find_run(env: &Env, id: &str) -> anyhow::Result<Option<(Box<dyn WorkflowStore>, WfRun)>> {
    let Some(store) = existing(env)? else {
        return Ok(None);
    };
    Ok(store.run(id)?.map(|r| (store, r)))
}

pub(super) fn runner<'a>(
    env: &Env,
    store: &'a dyn WorkflowStore,
    log: &'a super::StoreHandle,
    parallelism: usize,
    queue: Option<std::sync::Arc<dyn baton_state::WorkQueue>>,
) -> anyhow::Result<Runner<'a>> {
    let mut r = Runner::new(store, &env.dir, &Terminal);
    r.queue = queue;
    r.executor = executor_override(None)?;
    // The audit log of the directory (its default state database).
    r.audit = Some((&*log.store, env.workspace.clone()));
    r.sources = env.sources.clone();
    r.parallelism = parallelism;
    r.actor = baton_engine::audit::Actor::current(super::audit::redacted_args());
    r.fault = super::run::fault_from_env()?;
    // How long a run's claim lasts unless renewed (tests shorten it; default 30s).
    if let Ok(l) = std::env::var("BATON_WORKFLOW_LEASE") {
        r.lease = super::parse_duration("BATON_WORKFLOW_LEASE", &l)?;
    }
    // The longest retry backoff slept in-process (longer ones wait without a process).
    if let Ok(l) = std::env::var("BATON_WORKFLOW_MAX_SLEEP") {
        r.max_inline_backoff = super::parse_duration("BATON_WORKFLOW_MAX_SLEEP", &l)?;
    }
    Ok(r)
}

/// Runs `f` with a runner of the directory acting as `actor` (the HTTP API's callers and
/// webhooks), with store handles of its own: the outer error is one of opening them.
pub(super) fn as_actor<T>(
    env: &Env,
    actor: baton_engine::audit::Actor,
    f: impl FnOnce(&Runner<'_>) -> Result<T, WfError>,
) -> anyhow::Result<Result<T, WfError>> {
    let store = open(env)?;
    let log = env.open_store()?;
    let queue = queue_if_needed(env, executor_override(None)?)?;
    let mut r = runner(env, store.as_ref(), &log, 10, queue)?;
    r.actor = actor;
    Ok(f(&r))
}

/// Where command steps run, when the command line says: `--executor`, else `BATON_EXECUTOR`
/// (which a detached run's process inherits). `None`: each workflow's own `executor`.
pub(super) fn executor_override(flag: Option<&str>) -> anyhow::Result<Option<Executor>> {
    let from_env = std::env::var("BATON_EXECUTOR").ok();
    match flag.or(from_env.as_deref()).map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<Executor>()
            .map(Some)
            .map_err(|()| anyhow!("invalid executor {s:?}: expected \"local\" or \"workers\"")),
    }
}

/// The store's work queue, when a run may need it: the executor override is `workers`, or a
/// workflow of the directory sets `executor = "workers"`: the directory's queue (with the
/// embedded store, `.baton/queue.db`), opened before the run starts.
pub(super) fn queue_if_needed(
    env: &Env,
    over: Option<Executor>,
) -> anyhow::Result<Option<std::sync::Arc<dyn baton_state::WorkQueue>>> {
    let wanted = match over {
        Some(e) => e == Executor::Workers,
        None => {
            let (wfs, _) = baton_workflow::load_dir(&env.dir, &env.sources);
            wfs.workflows
                .iter()
                .any(|w| w.executor == Executor::Workers)
        }
    };
    if !wanted {
        return Ok(None);
    }
    Ok(Some(super::worker::open_queue(env)?))
}

/// Prints a workflow error (with the files' diagnostics) and gives the exit code.
fn failed(env: &Env, e: WfError) -> anyhow::Result<ExitCode> {
    match e {
        WfError::Invalid(d) => {
            super::print_diags(&d, &env.sources);
            Ok(ExitCode::from(1))
        }
        other => Err(anyhow!(other)),
    }
}

/// Prints how a run stands and picks the exit code.
pub(super) fn report(run_id: &str, a: &Advance) -> ExitCode {
    match a {
        Advance::Succeeded => {
            outln!("\nWorkflow run {run_id} succeeded.");
            ExitCode::SUCCESS
        }
        Advance::Waiting(keys) => {
            outln!(
                "\nWorkflow run {run_id} is waiting for {}. Nothing runs meanwhile: `baton approve {run_id} STEP` continues it after an approval, `baton serve` after a retry's backoff.",
                keys.join(", ")
            );
            ExitCode::SUCCESS
        }
        Advance::Failed(why) => {
            eprintln!("\nError: workflow run {run_id} failed: {why}\n\nWhat completed is kept (on_failure = \"halt\"); `baton rollback {run_id}` undoes it.");
            ExitCode::from(1)
        }
        Advance::RolledBack(why) => {
            eprintln!("\nError: workflow run {run_id} failed and was rolled back: {why}");
            ExitCode::from(1)
        }
        Advance::RollbackFailed(why) => {
            eprintln!(
                "\nError: workflow run {run_id} failed, and rolling it back did not finish: {why}"
            );
            ExitCode::from(1)
        }
        Advance::Cancelled(why) => {
            eprintln!("\nError: workflow run {run_id} was cancelled: {why}");
            ExitCode::from(1)
        }
        Advance::Stopped => {
            eprintln!("\nError: workflow run {run_id} was stopped before it finished; `baton resume {run_id}` goes on.");
            ExitCode::from(1)
        }
    }
}

fn parse_inputs(given: &[String]) -> anyhow::Result<Vec<(String, InputValue)>> {
    given
        .iter()
        .map(|g| {
            let (k, v) = g
                .split_once('=')
                .ok_or_else(|| anyhow!("invalid --input {g:?}: expected NAME=VALUE"))?;
            Ok((k.trim().to_string(), InputValue::Text(v.to_string())))
        })
        .collect()
}

pub fn run(env: &Env, c: &WorkflowCommand) -> anyhow::Result<ExitCode> {
    match c {
        WorkflowCommand::List { json } => list(env, *json),
        WorkflowCommand::Plan { name, inputs } => plan(env, name, inputs),
        WorkflowCommand::Run {
            name,
            inputs,
            parallelism,
            detach,
            executor,
        } => {
            let over = executor_override(executor.as_deref())?;
            if *parallelism == 0 {
                bail!("--parallelism must be at least 1");
            }
            let inputs = parse_inputs(inputs)?;
            // Check the files before anything is created.
            let (wfs, d) = baton_workflow::load_dir(&env.dir, &env.sources);
            if super::print_diags(&d, &env.sources) {
                return Ok(ExitCode::from(1));
            }
            let Some(wf) = wfs.get(name) else {
                return Err(anyhow!(WfError::NoSuchWorkflow(name.clone())));
            };
            // Bad inputs are refused before anything is created.
            if let Err(e) = baton_workflow::exec::check_inputs(wf, &inputs) {
                return failed(env, e);
            }
            // A queue that cannot be opened: refused before anything is created.
            let queue = queue_if_needed(env, over)?;
            let store = open(env)?;
            let log = env.open_store()?;
            let mut r = runner(env, store.as_ref(), &log, *parallelism, queue)?;
            r.executor = over;
            if *detach {
                return match r.create(name, &inputs) {
                    Ok(id) => detached(env, &id, *parallelism, over),
                    Err(e) => failed(env, e),
                };
            }
            crate::ui::on_interrupt_flag(r.stop.clone());
            match r.start(name, &inputs, None) {
                Ok((id, advance)) => {
                    outln!("Workflow run {id}.");
                    Ok(report(&id, &advance))
                }
                Err(e) => failed(env, e),
            }
        }
    }
}

fn list(env: &Env, as_json: bool) -> anyhow::Result<ExitCode> {
    let (wfs, d) = baton_workflow::load_dir(&env.dir, &env.sources);
    if super::print_diags(&d, &env.sources) {
        return Ok(ExitCode::from(1));
    }
    if as_json {
        let v: Vec<_> = wfs
            .workflows
            .iter()
            .map(|w| {
                json!({
                    "name": w.name,
                    "inputs": w.inputs.iter().map(|i| &i.name).collect::<Vec<_>>(),
                    "steps": w.steps.iter().map(|s| json!({"name": s.name, "kind": s.kind.as_str()})).collect::<Vec<_>>(),
                    "schedules": w.schedules.iter().map(|s| json!({"name": s.name, "cron": s.cron, "timezone": s.timezone})).collect::<Vec<_>>(),
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    if wfs.workflows.is_empty() {
        outln!("No workflows: this directory has no *.baton.hcl file declaring one.");
    }
    for w in &wfs.workflows {
        let inputs: Vec<&str> = w.inputs.iter().map(|i| i.name.as_str()).collect();
        outln!(
            "{}  {} step(s){}{}",
            w.name,
            w.steps.len(),
            if inputs.is_empty() {
                String::new()
            } else {
                format!(", inputs: {}", inputs.join(", "))
            },
            if w.schedules.is_empty() {
                String::new()
            } else {
                format!(
                    ", schedules: {}",
                    w.schedules
                        .iter()
                        .map(|s| format!("{} ({})", s.name, s.cron))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn plan(env: &Env, name: &str, inputs: &[String]) -> anyhow::Result<ExitCode> {
    use baton_workflow::preview::{PlaybookPreview, StackPreview};
    let (wfs, d) = baton_workflow::load_dir(&env.dir, &env.sources);
    if super::print_diags(&d, &env.sources) {
        return Ok(ExitCode::from(1));
    }
    let w = wfs
        .get(name)
        .ok_or_else(|| anyhow!(WfError::NoSuchWorkflow(name.to_string())))?;
    let inputs = parse_inputs(inputs)?;
    let steps = match baton_workflow::preview::preview(w, &inputs, &env.sources) {
        Ok(s) => s,
        Err(e) => return failed(env, e),
    };
    outln!("Workflow {name}: {} step(s), in order:", steps.len());
    let mut denied = false;
    let mut errors = false;
    for s in &steps {
        outln!(
            "  step.{}: {}{}{}",
            s.name,
            s.kind,
            s.fan_out.map(|f| format!(" ({f})")).unwrap_or_default(),
            if s.after.is_empty() {
                String::new()
            } else {
                format!(", after {}", s.after.join(", "))
            }
        );
        match &s.stack {
            None => {}
            Some(StackPreview::Later { depends_on }) if depends_on.is_empty() => {
                outln!("      planned when it runs (fanned out)");
            }
            Some(StackPreview::Later { depends_on }) => outln!(
                "      planned when it runs: its arguments use the outputs of {}",
                depends_on
                    .iter()
                    .map(|d| format!("step.{d}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(StackPreview::Planned {
                dir,
                env: e,
                summary,
                policy,
                denied: d,
                findings,
            }) => {
                outln!("      {dir} ({e}): {summary}; policy: {policy}");
                for f in findings {
                    outln!("        - {f}");
                }
                denied |= *d;
            }
            Some(StackPreview::Error(e)) => {
                outln!("      error: {e}");
                errors = true;
            }
        }
        match &s.playbook {
            None => {}
            Some(PlaybookPreview::Later { depends_on }) if depends_on.is_empty() => {
                outln!("      checked when it runs (fanned out)");
            }
            Some(PlaybookPreview::Later { depends_on }) => outln!(
                "      checked when it runs: its arguments use the outputs of {}",
                depends_on
                    .iter()
                    .map(|d| format!("step.{d}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(PlaybookPreview::Checked {
                playbook,
                changed_tasks,
                recap,
                failed,
            }) => {
                outln!(
                    "      {playbook} (check mode): {} task(s) would change",
                    changed_tasks.len()
                );
                for t in changed_tasks {
                    outln!("        ~ {t}");
                }
                for l in recap.lines() {
                    outln!("        {l}");
                }
                if let Some(f) = failed {
                    outln!("      check run failed: {f}");
                }
            }
            Some(PlaybookPreview::Error(e)) => {
                outln!("      error: {e}");
                errors = true;
            }
        }
    }
    let w_comp = &w.compensate;
    if !w_comp.is_empty() {
        outln!(
            "On failure ({}): {}",
            w.on_failure,
            w_comp
                .iter()
                .map(|c| format!("compensate.{}", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(if errors {
        ExitCode::from(1)
    } else if denied {
        ExitCode::from(super::policy::DENIED_EXIT)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn approve(env: &Env, a: &ApproveArgs) -> anyhow::Result<ExitCode> {
    let Some((store, _)) = find_run(env, &a.run)? else {
        bail!(
            "There is no workflow run {} here; `baton runs` lists them.",
            a.run
        );
    };
    let log = env.open_store()?;
    let queue = queue_if_needed(env, executor_override(None)?)?;
    let r = runner(env, store.as_ref(), &log, 10, queue)?;
    match r.decide(&a.run, &a.step, !a.reject, a.reason.as_deref()) {
        Ok(Some(advance)) => Ok(report(&a.run, &advance)),
        Ok(None) => {
            outln!("Recorded. The process running {} continues it.", a.run);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => failed(env, e),
    }
}

/// `baton resume RUN` for a workflow run.
pub fn resume(
    env: &Env,
    store: &dyn WorkflowStore,
    id: &str,
    parallelism: usize,
) -> anyhow::Result<ExitCode> {
    let log = env.open_store()?;
    let queue = queue_if_needed(env, executor_override(None)?)?;
    let r = runner(env, store, &log, parallelism, queue)?;
    crate::ui::on_interrupt_flag(r.stop.clone());
    match r.advance(id) {
        Ok(a) => Ok(report(id, &a)),
        Err(e) => failed(env, e),
    }
}

/// `baton rollback RUN` for a workflow run.
pub fn rollback(env: &Env, store: &dyn WorkflowStore, id: &str) -> anyhow::Result<ExitCode> {
    let log = env.open_store()?;
    let queue = queue_if_needed(env, executor_override(None)?)?;
    let r = runner(env, store, &log, 1, queue)?;
    match r.rollback(id) {
        Ok(a) => Ok(report(id, &a)),
        Err(e) => failed(env, e),
    }
}

pub fn logs(env: &Env, a: &LogsArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = a.run.strip_prefix("service.") {
        super::services::logs(env, name, a.replica, a.follow)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some((store, _)) = find_run(env, &a.run)? else {
        bail!(
            "There is no workflow run {} here; `baton runs` lists them.",
            a.run
        );
    };
    let steps = store.steps(&a.run)?;
    let mut shown = 0;
    for s in &steps {
        if a.step.as_deref().is_some_and(|k| k != s.key) {
            continue;
        }
        shown += 1;
        let (out, err) = (
            s.stdout.as_deref().unwrap_or(""),
            s.stderr.as_deref().unwrap_or(""),
        );
        if a.step.is_none() {
            outln!("== step.{} ({}, {})", s.key, s.kind, s.status.as_str());
        }
        out!("{out}");
        if !err.is_empty() {
            eprint!("{err}");
        }
    }
    if shown == 0 {
        if let Some(k) = &a.step {
            bail!("Run {} has no step {k:?}.", a.run);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_json(r: &WfRun) -> serde_json::Value {
    json!({
        "id": r.id, "kind": "workflow", "workflow": r.workflow, "status": r.status.as_str(),
        "who": r.who, "started_at": r.started_at, "finished_at": r.finished_at,
        "parent": r.parent, "note": r.note, "on_failure": r.on_failure,
    })
}

/// `baton runs show RUN` for a workflow run.
pub fn show(
    store: &dyn WorkflowStore,
    r: &WfRun,
    tasks: &[baton_state::TaskRow],
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let steps = store.steps(&r.id)?;
    // The tasks of each step that went to workers (one per attempt), in order.
    let tasks_of = |key: &str| -> Vec<(u32, &baton_state::TaskRow)> {
        tasks
            .iter()
            .filter_map(|t| match baton_workflow::exec::remote::task_step(&t.key) {
                Some((step, attempt)) if step == key => Some((attempt, t)),
                _ => None,
            })
            .collect()
    };
    // Who ran it: every claim of each of its tasks, in order (the last completed it).
    let workers_of = |key: &str| -> Vec<String> {
        tasks_of(key)
            .iter()
            .flat_map(|(_, t)| t.claim_log.iter().map(|(w, _)| w.clone()))
            .collect()
    };
    if as_json {
        let mut v = run_json(r);
        v["steps"] = steps
            .iter()
            .map(|s| {
                json!({
                    "key": s.key, "step": s.step, "kind": s.kind, "status": s.status.as_str(),
                    "attempts": s.attempts, "started_at": s.started_at, "finished_at": s.finished_at,
                    "duration_ms": s.duration_ms, "exit_code": s.exit_code, "error": s.error,
                    "child_run": s.child_run, "outputs": shown_outputs(s),
                    "workers": workers_of(&s.key),
                    "approval": s.approval.as_deref().and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok()),
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("Run:        {}", r.id);
    outln!("Kind:       workflow {}", r.workflow);
    outln!("Status:     {}", r.status.as_str());
    outln!("Who:        {}", r.who);
    outln!("Started:    {}", r.started_at);
    outln!("Finished:   {}", r.finished_at.as_deref().unwrap_or("-"));
    outln!("On failure: {}", r.on_failure);
    if let Some(n) = &r.note {
        outln!("Note:       {n}");
    }
    if let Some(p) = &r.parent {
        outln!("Parent run: {p}");
    }
    outln!("\nSteps:");
    if steps.is_empty() {
        outln!("  (none)");
    }
    for s in &steps {
        let dur = s
            .duration_ms
            .map(|d| format!("{:.1}s", d as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        outln!(
            "  {:>3}. {:<24} {:<10} {:<15} attempts {}  {}",
            s.seq,
            s.key,
            s.kind,
            s.status.as_str(),
            s.attempts,
            dur
        );
        if let Some(c) = &s.child_run {
            outln!("       run: {c}");
        }
        // Per attempt: a claim that was taken over is "lost".
        let attempts = tasks_of(&s.key);
        let ran_on: Vec<String> = attempts
            .iter()
            .filter(|(_, t)| !t.claim_log.is_empty())
            .map(|(n, t)| {
                let claims: Vec<&str> = t.claim_log.iter().map(|(w, _)| w.as_str()).collect();
                let claims = claims.join(" (lost), then ");
                if attempts.len() > 1 {
                    format!("{claims} (attempt {n})")
                } else {
                    claims
                }
            })
            .collect();
        if !ran_on.is_empty() {
            outln!("       worker: {}", ran_on.join("; "));
        }
        let outs = shown_outputs(s);
        if outs.as_object().is_some_and(|o| !o.is_empty()) {
            outln!("       outputs: {outs}");
        }
        if let Some(e) = &s.error {
            outln!("       error: {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A step's outputs for display, sensitive ones hidden.
fn shown_outputs(s: &WfStep) -> serde_json::Value {
    let Some(v) = s
        .outputs
        .as_deref()
        .and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok())
        .and_then(|j| baton_eval::Value::from_typed_json(&j).ok())
    else {
        return json!({});
    };
    match v.as_entries() {
        Some(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let shown = if v.contains_sensitive() {
                        json!("(sensitive)")
                    } else {
                        v.to_json()
                    };
                    (k.to_string(), shown)
                })
                .collect(),
        ),
        None => json!({}),
    }
}

/// Starts `baton resume RUN` in the background, in a session of its own, its output in
/// `.baton/workflow-logs/RUN.log`.
fn detached(
    env: &Env,
    id: &str,
    parallelism: usize,
    executor: Option<Executor>,
) -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt as _;
    let logs = env.dir.join(".baton").join("workflow-logs");
    std::fs::create_dir_all(&logs).map_err(|e| anyhow!("cannot create {}: {e}", logs.display()))?;
    let log_path = logs.join(format!("{id}.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| anyhow!("cannot create {}: {e}", log_path.display()))?;
    let err = log
        .try_clone()
        .map_err(|e| anyhow!("cannot write {}: {e}", log_path.display()))?;
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find this program: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    if let Some(e) = executor {
        cmd.env(
            "BATON_EXECUTOR",
            match e {
                Executor::Local => "local",
                Executor::Workers => "workers",
            },
        );
    }
    // The store goes by the environment, not the command line, where others could read a
    // connection string's password.
    if let Some(store) = &env.store_flag() {
        cmd.env("BATON_STORE", store);
    }
    if let Some(state) = env.state_flag() {
        cmd.env("BATON_STATE", state);
    }
    let child = cmd
        .arg("--chdir")
        .arg(&env.dir)
        .arg("--env")
        .arg(&env.workspace)
        .arg("resume")
        .arg(id)
        .arg("--parallelism")
        .arg(parallelism.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow!("cannot start the background run: {e}"))?;
    outln!(
        "Workflow run {id} started in the background (pid {}).\n`baton runs show {id}` follows it; its output goes to {}.",
        child.id(),
        log_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
