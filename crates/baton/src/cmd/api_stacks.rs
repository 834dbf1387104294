//! The binary's side of `baton_server::stacks::StackControl`: what the HTTP API asks of the
//! agent's stack (plans, applies, resumes, rollbacks, cancels, drift checks, state, services,
//! policies, workers), built on the same engine calls and run requests as the CLI's commands.
//! Runs started over HTTP go through the engine's run lifecycle (lock, policy gate, audit) on
//! a thread of their own, approved, with the token's name as the actor (`api:NAME`).
//!
//! Must not print what a command would print for a run (the agent's output is its log: one
//! line per run started and ended), and must not hand the server a sensitive value it did not
//! mark: the server redacts what plans and state mark sensitive, so they go over whole, with
//! their marks (and with sensitive values already nulled by the engine's JSON).

use super::run::request;
use super::Env;
use crate::cli::RunFlags;
use baton_engine::audit::Actor as EngineActor;
use baton_engine::lifecycle::{self, Approval, RollbackTarget, RunHooks, RunKind, RunOutcome};
use baton_engine::{NoObserver, Observer, Plan};
use baton_server::stacks::{Actor, ControlError, PlanNow, StackControl, Started};
use baton_state::{RunStatus, StateStore};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a call that starts a run waits for it to pass its checks (lock, configuration,
/// policy gate) before answering 202 anyway.
const EARLY_WAIT: Duration = Duration::from_secs(60);

/// The directory's stack, for the API.
pub struct Stacks {
    env: Env,
    /// The other stacks the agent serves (`--stack DIR`), by name: their drift is shown.
    others: Vec<(String, Env)>,
    state: Arc<dyn baton_server::StateSource>,
    /// The runs this agent carries out for the API, by id: how to stop them.
    running: Arc<Mutex<BTreeMap<String, Handles>>>,
}

#[derive(Clone)]
struct Handles {
    stop: baton_graph::StopHandle,
    cancel: Arc<AtomicBool>,
    kind: String,
}

/// How a background run's start went, told once.
enum Early {
    /// It passed its checks and walks (or was approved with nothing to do).
    Walking,
    /// The policies denied it: nothing changed; the denial is in the audit log.
    Denied,
    /// It could not start: the reason.
    Refused(String),
}

impl Stacks {
    /// The API's view of the directory's stack; `others`: the `--stack` directories the
    /// agent also serves (read for drift only).
    pub fn new(
        env: &Env,
        others: Vec<(String, Env)>,
        state: Arc<dyn baton_server::StateSource>,
    ) -> Stacks {
        Stacks {
            env: env.for_stack(env.dir.clone(), true),
            others,
            state,
            running: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    fn store(&self) -> Result<Option<Arc<dyn StateStore>>, ControlError> {
        self.state.state().map_err(failed)
    }

    /// Starts `kind` for `actor` on a thread of its own; answers once it walks, was denied,
    /// or could not start.
    fn start(&self, kind: RunKind, actor: &Actor) -> Result<Started, ControlError> {
        let mut req = request(&self.env, kind, &RunFlags::default(), 10, "0s").map_err(failed)?;
        req.actor = EngineActor {
            who: format!("api:{}", actor.name),
            args: vec![actor.request.clone()],
        };
        let id = req.run_id.clone();
        let command = req.command().to_string();
        let handles = Handles {
            stop: req.stop.clone(),
            cancel: Arc::clone(&req.cancel),
            kind: command.clone(),
        };
        let location = self.env.location().map_err(failed)?.clone();
        let (tx, rx) = sync_channel::<Early>(1);
        lock(&self.running).insert(id.clone(), handles);
        let running = Arc::clone(&self.running);
        let run_id = id.clone();
        let who = req.actor.who.clone();
        eprintln!("API: {who} started {command} run {run_id}.");
        let what = command.clone();
        std::thread::Builder::new()
            .name(format!("baton-api-{command}"))
            .spawn(move || {
                let command = what;
                let hooks = Background {
                    early: Mutex::new(Some(tx)),
                };
                let said = match super::StoreHandle::open(&location) {
                    Err(e) => {
                        hooks.tell(Early::Refused(format!("{e:#}")));
                        format!("could not open the store: {e:#}")
                    }
                    Ok(store) => match lifecycle::run(&*store.store, &req, &hooks) {
                        Err(e) => {
                            hooks.tell(Early::Refused(e.to_string()));
                            format!("could not start: {e}")
                        }
                        Ok(RunOutcome::Invalid(d)) => {
                            let text = d
                                .iter()
                                .filter(|d| d.severity == baton_core::Severity::Error)
                                .map(|d| format!("{}: {}", d.summary, d.detail))
                                .collect::<Vec<_>>()
                                .join("; ");
                            hooks.tell(Early::Refused(format!("the run has errors: {text}")));
                            "had errors; nothing was changed".to_string()
                        }
                        Ok(RunOutcome::Denied(_)) => {
                            hooks.tell(Early::Denied);
                            "was denied by the policies; nothing was changed".to_string()
                        }
                        Ok(RunOutcome::Declined) => {
                            hooks.tell(Early::Refused("the run was declined".into()));
                            "was declined".to_string()
                        }
                        Ok(RunOutcome::NothingToDo) => {
                            hooks.tell(Early::Refused(
                                "nothing to roll back: every object is already as it was".into(),
                            ));
                            "had nothing to do".to_string()
                        }
                        Ok(RunOutcome::Ran(ran)) => {
                            hooks.tell(Early::Walking);
                            if ran.succeeded() {
                                "succeeded".to_string()
                            } else {
                                "did not succeed (`baton runs show` tells why)".to_string()
                            }
                        }
                    },
                };
                lock(&running).remove(&run_id);
                eprintln!("API: {command} run {run_id} ({who}) {said}.");
            })
            .map_err(|e| failed(format!("cannot start the run's thread: {e}")))?;
        let status = match rx.recv_timeout(EARLY_WAIT) {
            // Still planning after the wait: it goes on in the background.
            Ok(Early::Walking) | Err(RecvTimeoutError::Timeout) => "running",
            Ok(Early::Denied) => "denied",
            Ok(Early::Refused(why)) => return Err(ControlError::Conflict(why)),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(failed(format!(
                    "run {id} ended before saying how it started (see the agent's output)"
                )))
            }
        };
        Ok(Started {
            id,
            kind: command,
            status: status.to_string(),
        })
    }

    /// The workflow run `id`, if it is one.
    fn workflow_run(&self, id: &str) -> Result<Option<baton_state::WfRun>, ControlError> {
        Ok(super::workflow::find_run(&self.env, id)
            .map_err(failed)?
            .map(|(_, r)| r))
    }

    /// Carries out a workflow run's resume or rollback in the background, as the CLI does.
    fn workflow_action(
        &self,
        id: &str,
        what: &'static str,
        actor: &Actor,
    ) -> Result<Started, ControlError> {
        self.audit(
            actor,
            what,
            Some(id.to_string()),
            format!("{what} of workflow run {id} requested"),
        );
        let env = self.env.for_stack(self.env.dir.clone(), true);
        let run_id = id.to_string();
        std::thread::Builder::new()
            .name(format!("baton-api-workflow-{what}"))
            .spawn(move || {
                let done = match super::workflow::find_run(&env, &run_id) {
                    Ok(Some((store, _))) => match what {
                        "resume" => super::workflow::resume(&env, store.as_ref(), &run_id, 10),
                        _ => super::workflow::rollback(&env, store.as_ref(), &run_id),
                    },
                    Ok(None) => Err(anyhow::anyhow!("there is no workflow run {run_id}")),
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    eprintln!("API: {what} of workflow run {run_id}: {e:#}");
                }
            })
            .map_err(|e| failed(format!("cannot start the run's thread: {e}")))?;
        Ok(Started {
            id: id.to_string(),
            kind: "workflow".into(),
            status: "running".into(),
        })
    }

    /// The stack's run `id`, or 404.
    fn stack_run(&self, id: &str) -> Result<baton_state::RunRecord, ControlError> {
        let missing = || ControlError::NotFound(format!("there is no run {id}"));
        let store = self.store()?.ok_or_else(missing)?;
        store.run(id).map_err(failed)?.ok_or_else(missing)
    }

    /// Appends a record of a call that is not a run (the engine records runs) to the audit
    /// log; a log that cannot be written is said on the agent's output, and the call goes on.
    fn audit(&self, actor: &Actor, command: &str, run_id: Option<String>, outcome: String) {
        let store = match self.store() {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                eprintln!("Warning: could not append to the audit log: {e}");
                return;
            }
        };
        let who = EngineActor {
            who: format!("api:{}", actor.name),
            args: vec![actor.request.clone()],
        };
        let r = baton_engine::audit::Record {
            command,
            run_id,
            plan: None,
            plan_digest: None,
            policy: Value::Null,
            outcome,
            changes: Vec::new(),
        };
        if let Err(e) = baton_engine::audit::append(store.as_ref(), &who, &self.env.workspace, r) {
            eprintln!("Warning: could not append to the audit log: {e}");
        }
    }

    /// The newest drift record of the stack `name` in environment `workspace`, from `store`
    /// (`None`: the stack has no state yet).
    fn drift_entry(
        &self,
        name: &str,
        workspace: &str,
        store: Option<&dyn StateStore>,
    ) -> Result<Value, ControlError> {
        let records = match store {
            Some(s) => s.audit_records().map_err(failed)?,
            None => Vec::new(),
        };
        let last = records.iter().rev().find(|r| {
            (r.command == baton_engine::reconcile::COMMAND || r.command == "drift")
                && r.environment == workspace
        });
        let Some(r) = last else {
            return Ok(json!({
                "stack": name, "environment": workspace, "time": null,
                "outcome": null, "drifted": [], "repaired": [],
            }));
        };
        let addresses: Vec<String> = r.changes.iter().map(|c| c.address.clone()).collect();
        let outcome = if r.command == "drift" {
            if addresses.is_empty() {
                "clean".to_string()
            } else {
                "drift-found".to_string()
            }
        } else {
            r.outcome
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let repaired = if outcome == "repaired" {
            addresses.clone()
        } else {
            Vec::new()
        };
        Ok(json!({
            "stack": name, "environment": workspace, "time": r.time,
            "outcome": outcome, "drifted": addresses, "repaired": repaired,
            "summary": r.outcome, "run_id": r.run_id, "actor": r.actor,
        }))
    }
}

fn failed(e: impl std::fmt::Display) -> ControlError {
    ControlError::Failed(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The hooks of a run started over HTTP: approved (the call is the approval), silent, and
/// telling the caller once whether the run got to its walk.
struct Background {
    early: Mutex<Option<SyncSender<Early>>>,
}

impl Background {
    fn tell(&self, e: Early) {
        if let Some(tx) = lock(&self.early).take() {
            let _ = tx.send(e);
        }
    }
}

impl RunHooks for Background {
    fn observer(&self) -> &dyn Observer {
        &NoObserver
    }

    fn approve(&self, _what: Approval, _plan: &Plan) -> bool {
        self.tell(Early::Walking);
        true
    }
}

impl StackControl for Stacks {
    fn run_plan(&self, id: &str) -> Result<Option<Value>, String> {
        let Some(store) = self.store().map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let Some(run) = store.run(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let doc = run
            .plan
            .parse()
            .map_err(|e| format!("run {id}'s plan: {e}"))?;
        if doc.is_null() {
            return Ok(None);
        }
        let plan = baton_engine::planfile::from_json(&doc)?;
        Ok(Some(baton_engine::planjson::plan_json(
            None,
            &plan,
            &baton_state::Snapshot::default(),
            baton_engine::planjson::JsonOpts::default(),
        )))
    }

    fn plan(&self) -> Result<PlanNow, ControlError> {
        let opts = baton_engine::plan::PlanOpts {
            env: std::env::vars().collect(),
            ..Default::default()
        };
        let req = request(
            &self.env,
            RunKind::Apply(opts),
            &RunFlags::default(),
            10,
            "0s",
        )
        .map_err(failed)?;
        let store =
            super::StoreHandle::open(self.env.location().map_err(failed)?).map_err(failed)?;
        let preview = lifecycle::preview(&*store.store, &req)
            .map_err(|e| ControlError::Conflict(e.to_string()))?;
        let errors = preview
            .diags
            .iter()
            .filter(|d| d.severity == baton_core::Severity::Error)
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect();
        Ok(PlanNow {
            plan: preview.json,
            errors,
        })
    }

    fn apply(&self, actor: &Actor) -> Result<Started, ControlError> {
        let opts = baton_engine::plan::PlanOpts {
            env: std::env::vars().collect(),
            ..Default::default()
        };
        self.start(RunKind::Apply(opts), actor)
    }

    fn cancel(&self, id: &str, actor: &Actor) -> Result<Started, ControlError> {
        if let Some(h) = lock(&self.running).get(id).cloned() {
            // As Ctrl-C in the terminal: the first stops scheduling (running actions finish
            // and are saved, the run can be resumed), the second kills running actions too.
            let (status, outcome) = if h.stop.is_stopped() {
                h.cancel.store(true, Ordering::SeqCst);
                (
                    "cancelling",
                    format!("run {id} cancelled: running actions killed"),
                )
            } else {
                h.stop.stop();
                (
                    "stopping",
                    format!("run {id} stopped: no new actions; running ones finish"),
                )
            };
            eprintln!("API: api:{} {status} run {id}.", actor.name);
            self.audit(actor, "cancel", Some(id.to_string()), outcome);
            return Ok(Started {
                id: id.to_string(),
                kind: h.kind,
                status: status.into(),
            });
        }
        if self.workflow_run(id)?.is_some() {
            return Err(ControlError::Conflict(format!(
                "workflow run {id} is not carried out by this agent's API; stop it where it runs (Ctrl-C), then `baton rollback {id}` undoes it"
            )));
        }
        let r = self.stack_run(id)?;
        if r.status == RunStatus::Running {
            return Err(ControlError::Conflict(format!(
                "run {id} is carried out by {} (pid {} on {}), not by this agent: stop it there",
                r.who, r.pid, r.host
            )));
        }
        Err(ControlError::Conflict(format!(
            "run {id} is not running (it is {})",
            r.status.as_str()
        )))
    }

    fn resume(&self, id: &str, actor: &Actor) -> Result<Started, ControlError> {
        if let Some(run) = self.workflow_run(id)? {
            if run.status.is_final() {
                return Err(ControlError::Conflict(format!(
                    "workflow run {id} has finished ({}): there is nothing to resume",
                    run.status.as_str()
                )));
            }
            return self.workflow_action(id, "resume", actor);
        }
        let r = self.stack_run(id)?;
        if lock(&self.running).contains_key(id) || r.status == RunStatus::Running {
            return Err(ControlError::Conflict(format!(
                "run {id} is still running; it cannot be resumed"
            )));
        }
        self.start(
            RunKind::Resume {
                run: id.to_string(),
            },
            actor,
        )
    }

    fn rollback(&self, id: &str, actor: &Actor) -> Result<Started, ControlError> {
        if let Some(run) = self.workflow_run(id)? {
            use baton_state::WfRunStatus::{Cancelled, RolledBack};
            if matches!(run.status, RolledBack | Cancelled) {
                return Err(ControlError::Conflict(format!(
                    "workflow run {id} is {}: there is nothing to roll back",
                    run.status.as_str()
                )));
            }
            return self.workflow_action(id, "rollback", actor);
        }
        let r = self.stack_run(id)?;
        if lock(&self.running).contains_key(id) || r.status == RunStatus::Running {
            return Err(ControlError::Conflict(format!(
                "run {id} is still running; cancel it first"
            )));
        }
        self.start(
            RunKind::Rollback(RollbackTarget::Run(id.to_string())),
            actor,
        )
    }

    fn stacks(&self) -> Result<Value, ControlError> {
        let own = baton_service::handoff::stack_name(&self.env.dir);
        let entry = |name: &str, env: &Env, primary: bool| -> Result<Value, ControlError> {
            Ok(json!({
                "name": name,
                "dir": env.dir.display().to_string(),
                "environment": env.workspace,
                "store": env.location().map_err(failed)?.describe(),
                "primary": primary,
            }))
        };
        let mut stacks = vec![entry(&own, &self.env, true)?];
        for (name, env) in &self.others {
            if *name != own {
                stacks.push(entry(name, env, false)?);
            }
        }
        Ok(json!({ "stacks": stacks }))
    }

    fn drift(&self) -> Result<Value, ControlError> {
        let own = baton_service::handoff::stack_name(&self.env.dir);
        let store = self.store()?;
        let mut stacks = vec![self.drift_entry(&own, &self.env.workspace, store.as_deref())?];
        for (name, env) in &self.others {
            if *name == own {
                continue;
            }
            let store = env.existing_store().map_err(failed)?;
            stacks.push(self.drift_entry(name, &env.workspace, store.as_deref())?);
        }
        Ok(json!({ "stacks": stacks }))
    }

    fn check_drift(&self, actor: &Actor) -> Result<Value, ControlError> {
        let opts = baton_engine::plan::PlanOpts {
            env: std::env::vars().collect(),
            ..Default::default()
        };
        let mut req = request(
            &self.env,
            RunKind::Apply(opts),
            &RunFlags::default(),
            10,
            "0s",
        )
        .map_err(failed)?;
        req.actor = EngineActor {
            who: format!("api:{}", actor.name),
            args: vec![actor.request.clone()],
        };
        let store =
            super::StoreHandle::open(self.env.location().map_err(failed)?).map_err(failed)?;
        let r = baton_engine::reconcile::reconcile(&*store.store, &req, false);
        drop(store);
        let mut v = self.drift()?;
        v["check"] = json!({ "outcome": r.outcome.as_str(), "summary": r.summary() });
        Ok(v)
    }

    fn state(&self) -> Result<Option<(u64, Value)>, ControlError> {
        let Some(store) = self.store()? else {
            return Ok(None);
        };
        let snap = store.current().map_err(failed)?;
        let values = baton_engine::planjson::state_values(
            &snap,
            baton_engine::planjson::JsonOpts::default(),
        );
        Ok(Some((snap.serial, values)))
    }

    fn services(&self) -> Result<Value, ControlError> {
        Ok(super::services::status_json(&self.env))
    }

    fn restart_service(&self, name: &str, actor: &Actor) -> Result<Value, ControlError> {
        let board = baton_service::handoff::Handoff::new(self.env.board().map_err(failed)?);
        let Some(version) = board.request_restart(name).map_err(failed)? else {
            return Err(ControlError::NotFound(format!(
                "there is no service {name} in the stack (`baton status` lists them)"
            )));
        };
        self.audit(
            actor,
            "service restart",
            None,
            format!("rolling restart of service.{name} requested (version {version})"),
        );
        Ok(json!({ "service": name, "version": version, "status": "restarting" }))
    }

    fn policies(&self) -> Result<Value, ControlError> {
        let (ctx, _) = baton_engine::load(&self.env.dir, &self.env.workspace, &self.env.sources);
        let (sets, _) = baton_engine::policy::policy_sets(&self.env.dir, ctx.as_ref(), &[]);
        let policies: Vec<Value> = sets
            .iter()
            .map(|s| {
                let files: Vec<String> = s
                    .dirs
                    .iter()
                    .map(|d| {
                        d.strip_prefix(&self.env.dir)
                            .unwrap_or(d)
                            .display()
                            .to_string()
                    })
                    .collect();
                json!({ "name": s.name, "enforcement": s.enforcement.as_str(), "file": files.join(", ") })
            })
            .collect();
        let mut decisions = Vec::new();
        if let Some(store) = self.store()? {
            for r in store.audit_records().map_err(failed)?.iter().rev() {
                if r.policy.is_null() {
                    continue;
                }
                let messages: Vec<Value> = r
                    .policy
                    .get("findings")
                    .and_then(Value::as_array)
                    .map(|f| f.iter().filter_map(|x| x.get("message").cloned()).collect())
                    .unwrap_or_default();
                decisions.push(json!({
                    "time": r.time, "command": r.command, "actor": r.actor, "run_id": r.run_id,
                    "decision": r.policy.get("outcome").cloned().unwrap_or(Value::Null),
                    "messages": messages,
                }));
                if decisions.len() == 50 {
                    break;
                }
            }
        }
        Ok(json!({ "policies": policies, "decisions": decisions }))
    }

    fn policy_test(&self) -> Result<Value, ControlError> {
        let dir = self.env.dir.join(baton_engine::policy::DEFAULT_DIR);
        if !dir.is_dir() {
            return Err(ControlError::Conflict(format!(
                "there is no {}/ directory in the agent's stack",
                baton_engine::policy::DEFAULT_DIR
            )));
        }
        let sources = baton_core::Sources::new();
        let report = baton_policy::run_tests(&[dir], &baton_policy::TestOpts::default(), &sources);
        Ok(json!({
            "ok": report.ok(),
            "passed": report.passed(),
            "failed": report.failed(),
            "errored": report.errored(),
            "skipped": report.skipped(),
            "tests": report.results.iter().map(|t| json!({
                "package": t.package,
                "name": t.name,
                "file": t.file,
                "line": t.line,
                "outcome": match &t.outcome {
                    baton_policy::TestOutcome::Pass => "pass",
                    baton_policy::TestOutcome::Fail => "fail",
                    baton_policy::TestOutcome::Skip => "skip",
                    baton_policy::TestOutcome::Error(_) => "error",
                },
                "error": match &t.outcome {
                    baton_policy::TestOutcome::Error(d) => Some(format!("{}: {}", d.summary, d.detail)),
                    _ => None,
                },
                "duration_ms": u64::try_from(t.duration.as_millis()).unwrap_or(u64::MAX),
                "output": t.output,
            })).collect::<Vec<_>>(),
            "report": report.render(&sources, true),
        }))
    }

    fn workers(&self) -> Result<Value, ControlError> {
        let workers = super::worker::workers_json(&self.env).map_err(failed)?;
        let (_, agent) = super::services::current(&self.env);
        Ok(json!({
            "workers": workers,
            "agent": {
                "pid": std::process::id(),
                "host": baton_state::lock::current_lock_info("").host,
                "services_agent": agent.map(|(pid, host)| json!({ "pid": pid, "host": host })),
            },
        }))
    }
}
