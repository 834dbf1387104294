//! Workflow runs: start one, advance it (after an approval, after its process died, after a
//! backoff), approve or reject a waiting step, roll a run back. A run is advanced by whoever
//! holds its claim in the [`WorkflowStore`]; every step's start is recorded before it runs and
//! its outcome before the next step is scheduled, so a run killed at any moment is continued
//! by `advance` without repeating a completed step.
//!
//! Steps are prepared (their expressions evaluated against finished steps) on the driving
//! thread, performed on worker threads (`perform`), and recorded on the driving thread
//! (`drive`). Must not print: the caller sees progress through [`WfHooks`].

mod drive;
mod gate;
pub(crate) mod perform;
pub(crate) mod playbook;
pub mod remote;
mod undo;
mod values;

use crate::model::{Workflow, Workflows};
use baton_core::{Diagnostics, Sources};
use baton_engine::audit::Actor;
use baton_eval::Value;
use baton_state::{StateError, WfClaim, WfRun, WfRunStatus, WfStep, WfStepStatus, WorkflowStore};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where the stack in `dir` keeps environment `env`'s state, as the binary would choose it
/// for a command run there without `--store`: its backend block (with `PG_CONN_STR` and
/// `PG_SCHEMA_NAME`), else the default SQLite file. A mistake in the backend block is an error
/// naming the directory; a backend Baton does not implement is passed over.
pub fn stack_location(dir: &Path, env: &str) -> Result<baton_backend::Location, String> {
    let sources = baton_core::Sources::new();
    let (located, diags) =
        baton_backend::locate(dir, env, &baton_backend::Overrides::pg_env(), &sources);
    match located {
        Some(l) => Ok(l.state.location),
        None => Err(format!(
            "the state store of stack {} cannot be chosen: {}",
            dir.display(),
            diags
                .errors()
                .map(|d| match d.subject.and_then(|s| sources.location(s)) {
                    Some(at) => format!("{at}: {}: {}", d.summary, d.detail),
                    None => format!("{}: {}", d.summary, d.detail),
                })
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// How a run stands after it was advanced as far as it could go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Advance {
    Succeeded,
    /// Waiting for approvals (the step keys); nothing holds a process.
    Waiting(Vec<String>),
    /// A step failed and the failure policy is `halt`.
    Failed(String),
    /// A step failed; every stack it applied was rolled back and the compensations ran.
    RolledBack(String),
    /// A step failed and rolling back did not finish.
    RollbackFailed(String),
    /// Rejected at an approval.
    Cancelled(String),
    /// Stopped on request (an interrupt) after its running steps finished: `resume` goes on.
    Stopped,
}

impl Advance {
    pub fn status(&self) -> WfRunStatus {
        match self {
            Advance::Succeeded => WfRunStatus::Succeeded,
            Advance::Waiting(_) => WfRunStatus::Waiting,
            Advance::Failed(_) => WfRunStatus::Failed,
            Advance::RolledBack(_) => WfRunStatus::RolledBack,
            Advance::RollbackFailed(_) => WfRunStatus::RollbackFailed,
            Advance::Cancelled(_) => WfRunStatus::Cancelled,
            Advance::Stopped => WfRunStatus::Interrupted,
        }
    }
}

/// What a caller is told while a run goes on. Called from the driving thread.
pub trait WfHooks: Sync {
    fn step_started(&self, _run: &str, _key: &str, _kind: &str) {}
    fn step_finished(&self, _run: &str, _step: &WfStep) {}
    /// A step waits for an approval: `baton approve RUN KEY`.
    fn waiting(&self, _run: &str, _key: &str, _message: &str) {}
    /// Rollback and compensation progress, queueing, takeovers.
    fn notice(&self, _text: &str) {}
}

/// Hooks that say nothing.
pub struct Quiet;
impl WfHooks for Quiet {}

/// Why a workflow run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum WfError {
    #[error("the workflow files have errors")]
    Invalid(Diagnostics),
    #[error("there is no workflow {0:?} in this directory's *.baton.hcl files")]
    NoSuchWorkflow(String),
    #[error("there is no workflow run {0}; `baton runs` lists them")]
    NoSuchRun(String),
    #[error("input {name:?}: {message}")]
    BadInput { name: String, message: String },
    #[error("workflow run {run} is {status}: there is nothing left to do")]
    Finished { run: String, status: &'static str },
    #[error("step {key:?} of run {run} {why}")]
    NotApprovable {
        run: String,
        key: String,
        why: String,
    },
    #[error("the recorded definition of run {run} cannot be read: {message}")]
    Definition { run: String, message: String },
    #[error(transparent)]
    State(#[from] StateError),
}

/// Runs workflows of one directory against one store.
pub struct Runner<'a> {
    pub store: &'a dyn WorkflowStore,
    /// The directory of the `*.baton.hcl` files.
    pub dir: PathBuf,
    pub sources: Sources,
    pub hooks: &'a dyn WfHooks,
    /// Steps at once.
    pub parallelism: usize,
    pub actor: Actor,
    /// The claim's lease: a run whose process stopped renewing is taken over after it.
    pub lease: Duration,
    /// Set to stop scheduling new steps (running ones finish and are recorded).
    pub stop: Arc<AtomicBool>,
    /// Tests and chaos drills: `fail:K` fails the K-th step to finish, `kill:K` kills the
    /// process right after the K-th step's outcome is recorded (a crash at a step boundary).
    pub fault: Option<baton_engine::apply::FaultInjection>,
    /// A retry backoff longer than this is not slept: the step waits, recorded, and the run
    /// holds no process until `baton serve` (or `resume`) continues it when it is due.
    pub max_inline_backoff: Duration,
    /// Where runs, outcomes and approvals are recorded in the audit log (the directory's
    /// state store), and the environment named there.
    pub audit: Option<(&'a dyn baton_state::StateStore, String)>,
    /// The work queue command steps go to when they run on workers (`None`: this store has
    /// no queue; a workflow that asks for workers is refused).
    pub queue: Option<Arc<dyn baton_state::WorkQueue>>,
    /// Overrides the workflows' own `executor` setting (`--executor`).
    pub executor: Option<crate::model::Executor>,
    /// Submits command steps to the queue and waits for them, made on first use.
    remote: remote::Remote,
}

impl<'a> Runner<'a> {
    pub fn new(
        store: &'a dyn WorkflowStore,
        dir: impl Into<PathBuf>,
        hooks: &'a dyn WfHooks,
    ) -> Self {
        Runner {
            store,
            dir: dir.into(),
            sources: Sources::new(),
            hooks,
            parallelism: 10,
            actor: Actor::current(Vec::new()),
            lease: baton_state::DEFAULT_LEASE,
            stop: Arc::new(AtomicBool::new(false)),
            fault: None,
            max_inline_backoff: Duration::from_secs(5),
            audit: None,
            queue: None,
            executor: None,
            remote: remote::Remote::default(),
        }
    }

    /// Where `wf`'s command steps run: the `--executor` override, else its own setting.
    pub fn executor_of(&self, wf: &crate::model::Workflow) -> crate::model::Executor {
        self.executor.unwrap_or(wf.executor)
    }

    /// The queue's submitter, when this runner has a queue.
    fn remote(&self) -> Option<(&remote::Remote, &dyn baton_state::WorkQueue)> {
        Some((&self.remote, self.queue.as_deref()?))
    }

    fn holder(&self) -> String {
        format!("{} pid {}", self.actor.who, std::process::id())
    }

    /// Loads the workflow files of the directory.
    pub fn load(&self) -> Result<Workflows, WfError> {
        let (w, d) = crate::load_dir(&self.dir, &self.sources);
        if d.has_errors() {
            return Err(WfError::Invalid(d));
        }
        Ok(w)
    }

    /// Starts a run of `name` with `inputs` (given as text, as on a command line, or as
    /// values) and advances it as far as it goes. Returns the run id and how it stands.
    pub fn start(
        &self,
        name: &str,
        inputs: &[(String, InputValue)],
        parent: Option<(&str, &str)>,
    ) -> Result<(String, Advance), WfError> {
        let (run, claim, wfs) = self.create_run(name, inputs, parent, WfRunStatus::Running)?;
        let advance = self.drive_claimed(&run, &claim, &wfs)?;
        Ok((run.id, advance))
    }

    /// Records a new run of `name` without advancing it (`--detach`: another process
    /// continues it with [`Runner::advance`]). Returns its id.
    pub fn create(&self, name: &str, inputs: &[(String, InputValue)]) -> Result<String, WfError> {
        let (run, claim, _) = self.create_run(name, inputs, None, WfRunStatus::Queued)?;
        self.store.release(&claim)?;
        Ok(run.id)
    }

    fn create_run(
        &self,
        name: &str,
        inputs: &[(String, InputValue)],
        parent: Option<(&str, &str)>,
        status: WfRunStatus,
    ) -> Result<(WfRun, WfClaim, Workflows), WfError> {
        let files = definition_files(&self.dir)?;
        let (wfs, d) = crate::load_texts(&self.dir, &files, &self.sources);
        if d.has_errors() {
            return Err(WfError::Invalid(d));
        }
        let wf = wfs
            .get(name)
            .ok_or_else(|| WfError::NoSuchWorkflow(name.to_string()))?;
        let values = resolve_inputs(wf, inputs)?;
        let run_id = baton_engine::new_run_id();
        let run = WfRun {
            id: run_id.clone(),
            workflow: name.to_string(),
            inputs: inputs_json(&values).to_string(),
            definition: json!({
                "dir": self.dir.to_string_lossy(),
                "files": files,
            })
            .to_string(),
            status,
            who: self.actor.who.clone(),
            started_at: baton_engine::now_rfc3339(),
            finished_at: None,
            on_failure: wf.on_failure.as_str().to_string(),
            parent: parent.map(|(r, _)| r.to_string()),
            parent_step: parent.map(|(_, s)| s.to_string()),
            note: None,
        };
        let claim = self.store.create_run(&run, &self.holder(), self.lease)?;
        let shown = shown_values(&values);
        self.audit(
            "workflow run",
            &run_id,
            format!(
                "started workflow {name} with inputs {}",
                serde_json::Value::Object(shown)
            ),
        );
        Ok((run, claim, wfs))
    }

    /// Advances an existing run: after an approval, or after the process driving it died
    /// (steps already done are not repeated; a command in flight runs again, a stack run in
    /// flight is resumed).
    pub fn advance(&self, run_id: &str) -> Result<Advance, WfError> {
        let run = self
            .store
            .run(run_id)?
            .ok_or_else(|| WfError::NoSuchRun(run_id.to_string()))?;
        if run.status.is_final() {
            return Err(WfError::Finished {
                run: run_id.to_string(),
                status: run.status.as_str(),
            });
        }
        let claim = self.claim_when_free(run_id)?;
        let wfs = self.recorded(&run)?;
        // Claiming turned a run left `running` by a dead process into `interrupted`.
        let run = self.store.run(run_id)?.unwrap_or(run);
        if run.status == WfRunStatus::Interrupted {
            self.hooks.notice(&format!(
                "Run {run_id} was interrupted; continuing it without repeating finished steps."
            ));
        }
        self.drive_claimed(&run, &claim, &wfs)
    }

    /// Claims a run, waiting for a claim left by a process that stopped renewing it to
    /// expire (at most two minutes); a live holder that keeps renewing is not displaced.
    fn claim_when_free(&self, run_id: &str) -> Result<WfClaim, WfError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let mut told = false;
        loop {
            match self.store.claim(run_id, &self.holder(), self.lease) {
                Err(StateError::Claimed { holder, .. }) if std::time::Instant::now() < deadline => {
                    let expires: Option<jiff::Timestamp> = holder.expires_at.parse().ok();
                    let wait = expires
                        .map(|t| t.duration_since(jiff::Timestamp::now()))
                        .and_then(|d| Duration::try_from(d).ok())
                        .unwrap_or(Duration::from_millis(100));
                    if wait > Duration::from_secs(120) {
                        // Renewed far ahead: someone is driving it.
                        return Err(StateError::Claimed {
                            run: run_id.to_string(),
                            holder,
                        }
                        .into());
                    }
                    if !told {
                        self.hooks.notice(&format!(
                            "Run {run_id} is claimed by {} until {}; waiting for the claim to be released or to expire...",
                            holder.holder, holder.expires_at
                        ));
                        told = true;
                    }
                    std::thread::sleep(
                        wait.clamp(Duration::from_millis(50), Duration::from_secs(1)),
                    );
                }
                other => return other.map_err(WfError::from),
            }
        }
    }

    /// Records an approval decision for a waiting step and advances the run (unless another
    /// process holds it, which then sees the decision).
    pub fn decide(
        &self,
        run_id: &str,
        key: &str,
        approved: bool,
        reason: Option<&str>,
    ) -> Result<Option<Advance>, WfError> {
        let run = self.record_decision(run_id, key, approved, reason)?;
        self.continue_decided(&run)
    }

    /// Advances a run whose approval was just decided, unless another process holds it
    /// (which then sees the decision): `None` then.
    pub fn continue_decided(&self, run: &WfRun) -> Result<Option<Advance>, WfError> {
        match self.store.claim(&run.id, &self.holder(), self.lease) {
            Ok(claim) => {
                let wfs = self.recorded(run)?;
                self.drive_claimed(run, &claim, &wfs).map(Some)
            }
            Err(StateError::Claimed { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The approval step `key` of run `run_id` if it waits for a decision: the run, the
    /// step's record and its model (`None` for an approval a policy asked for).
    pub fn waiting_approval(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<(WfRun, WfStep, Option<crate::model::Step>), WfError> {
        let run = self
            .store
            .run(run_id)?
            .ok_or_else(|| WfError::NoSuchRun(run_id.to_string()))?;
        let steps = self.store.steps(run_id)?;
        let Some(step) = steps.iter().find(|s| s.key == key) else {
            let waiting: Vec<&str> = steps
                .iter()
                .filter(|s| s.status == WfStepStatus::Waiting)
                .map(|s| s.key.as_str())
                .collect();
            return Err(WfError::NotApprovable {
                run: run_id.to_string(),
                key: key.to_string(),
                why: if waiting.is_empty() {
                    "does not exist, and no step of the run is waiting".to_string()
                } else {
                    format!("does not exist; waiting: {}", waiting.join(", "))
                },
            });
        };
        if step.kind != "approval" || step.status != WfStepStatus::Waiting {
            return Err(WfError::NotApprovable {
                run: run_id.to_string(),
                key: key.to_string(),
                why: format!(
                    "is a {} step that is {}, not waiting for an approval",
                    step.kind,
                    step.status.as_str()
                ),
            });
        }
        let model = self.recorded(&run).ok().and_then(|w| {
            w.get(&run.workflow)
                .and_then(|w| w.step(&step.step))
                .cloned()
        });
        let step = step.clone();
        Ok((run, step, model))
    }

    /// Records an approval decision (with [`Runner::actor`] as who decided) for a waiting
    /// step, and audits it; does not advance the run. Returns the run.
    pub fn record_decision(
        &self,
        run_id: &str,
        key: &str,
        approved: bool,
        reason: Option<&str>,
    ) -> Result<WfRun, WfError> {
        let (run, _, _) = self.waiting_approval(run_id, key)?;
        let decision = json!({
            "approved": approved,
            "by": self.actor.who,
            "reason": reason,
            "at": baton_engine::now_rfc3339(),
        });
        self.store
            .decide_approval(run_id, key, &decision.to_string())?;
        self.audit(
            if approved {
                "workflow approve"
            } else {
                "workflow reject"
            },
            run_id,
            format!(
                "{} step {key} of workflow {}{}",
                if approved { "approved" } else { "rejected" },
                run.workflow,
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
        );
        Ok(run)
    }

    /// Rolls back every stack a run applied (newest first), then runs its compensations.
    pub fn rollback(&self, run_id: &str) -> Result<Advance, WfError> {
        let run = self
            .store
            .run(run_id)?
            .ok_or_else(|| WfError::NoSuchRun(run_id.to_string()))?;
        let claim = self.claim_when_free(run_id)?;
        let wfs = self.recorded(&run)?;
        let wf = wfs
            .get(&run.workflow)
            .ok_or_else(|| WfError::NoSuchWorkflow(run.workflow.clone()))?;
        let why = run
            .note
            .clone()
            .unwrap_or_else(|| "rolled back on request".to_string());
        let advance = self.with_renewal(&claim, || {
            let advance = undo::roll_back(self, &run, &claim, wf, &why)?;
            self.finish(&claim, &advance)?;
            Ok::<_, WfError>(advance)
        })?;
        self.store.release(&claim)?;
        Ok(advance)
    }

    /// The workflows a run recorded when it started.
    pub fn recorded_workflows(&self, run: &WfRun) -> Result<Workflows, WfError> {
        self.recorded(run)
    }

    fn recorded(&self, run: &WfRun) -> Result<Workflows, WfError> {
        let bad = |message: String| WfError::Definition {
            run: run.id.clone(),
            message,
        };
        let j: serde_json::Value =
            serde_json::from_str(&run.definition).map_err(|e| bad(e.to_string()))?;
        let dir = j
            .get("dir")
            .and_then(|d| d.as_str())
            .map(PathBuf::from)
            .unwrap_or_else(|| self.dir.clone());
        let files: Vec<(String, String)> = j
            .get("files")
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .ok_or_else(|| bad("no files".into()))?;
        let (wfs, d) = crate::load_texts(&dir, &files, &self.sources);
        if d.has_errors() {
            return Err(WfError::Invalid(d));
        }
        Ok(wfs)
    }

    /// Drives a claimed run, renewing its claim meanwhile, then records how it stands and
    /// gives the claim up.
    fn drive_claimed(
        &self,
        run: &WfRun,
        claim: &WfClaim,
        wfs: &Workflows,
    ) -> Result<Advance, WfError> {
        let wf = wfs
            .get(&run.workflow)
            .ok_or_else(|| WfError::NoSuchWorkflow(run.workflow.clone()))?;
        if run.status != WfRunStatus::Running {
            self.store
                .set_run_status(claim, WfRunStatus::Running, None)?;
        }
        // A run on workers says who coordinates it, so that a worker continues it if this
        // process dies (its claim runs out, then `baton resume` takes it).
        let _beacon = match &self.queue {
            Some(q) if self.executor_of(wf) == crate::model::Executor::Workers => {
                let (b, err) = baton_state::Beacon::start(
                    Arc::clone(q),
                    baton_state::Coordinator {
                        run_id: run.id.clone(),
                        kind: "workflow".to_string(),
                        dir: self.dir.display().to_string(),
                        env: String::new(),
                        holder: self.holder(),
                    },
                    self.lease,
                );
                if let Some(e) = err {
                    self.hooks.notice(&format!("the run's coordinator could not be recorded ({e}): if this process dies, `baton resume {}` continues it", run.id));
                }
                Some(b)
            }
            _ => None,
        };
        let advance = self.with_renewal(claim, || {
            let slot = self.take_concurrency_slot(run, claim, wf)?;
            let advance = drive::drive(self, run, claim, wf, wfs);
            if let Some(slot) = slot {
                self.store.limit_release(claim, &slot, "run")?;
            }
            let advance = advance?;
            self.finish(claim, &advance)?;
            Ok::<_, WfError>(advance)
        })?;
        self.store.release(claim)?;
        // The files the run's commands wrote their outputs to are read by now.
        let _ =
            std::fs::remove_dir_all(wf.dir.join(".baton").join("workflow-outputs").join(&run.id));
        // A finished child run hands control back to its parent.
        if !matches!(advance, Advance::Waiting(_)) {
            if let Some(parent) = &run.parent {
                if let Ok(Some(p)) = self.store.run(parent) {
                    if p.status == WfRunStatus::Waiting {
                        let _ = self.advance(parent);
                    }
                }
            }
        }
        Ok(advance)
    }

    /// With `concurrency = N`, waits (queued) until fewer than N runs of the workflow are
    /// being driven, and takes a slot. Returns the slot's name.
    fn take_concurrency_slot(
        &self,
        run: &WfRun,
        claim: &WfClaim,
        wf: &Workflow,
    ) -> Result<Option<String>, WfError> {
        let Some(max) = wf.concurrency else {
            return Ok(None);
        };
        let slot = format!("workflow:{}", wf.name);
        let mut queued = false;
        loop {
            if self.store.limit_acquire(claim, &slot, max, "run")? {
                if queued {
                    self.store
                        .set_run_status(claim, WfRunStatus::Running, Some("dequeued"))?;
                }
                return Ok(Some(slot));
            }
            if !queued {
                self.store.set_run_status(
                    claim,
                    WfRunStatus::Queued,
                    Some(&format!(
                        "waiting: {max} run(s) of {} already running",
                        wf.name
                    )),
                )?;
                self.hooks.notice(&format!(
                    "Run {} is queued: workflow {} allows {max} run(s) at once.",
                    run.id, wf.name
                ));
                queued = true;
            }
            if self.stop.load(Ordering::SeqCst) {
                return Err(WfError::Finished {
                    run: run.id.clone(),
                    status: "queued",
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn finish(&self, claim: &WfClaim, advance: &Advance) -> Result<(), WfError> {
        let note = match advance {
            Advance::Succeeded => Some("every step succeeded".to_string()),
            Advance::Waiting(keys) => Some(format!("waiting for {}", keys.join(", "))),
            Advance::Failed(w)
            | Advance::RolledBack(w)
            | Advance::RollbackFailed(w)
            | Advance::Cancelled(w) => Some(w.clone()),
            Advance::Stopped => Some("stopped before it finished".to_string()),
        };
        self.store
            .set_run_status(claim, advance.status(), note.as_deref())?;
        self.audit(
            "workflow run",
            &claim.run_id,
            match &note {
                Some(n) => format!("{}: {n}", advance.status().as_str()),
                None => advance.status().as_str().to_string(),
            },
        );
        Ok(())
    }

    /// Appends an audit record, if there is an audit log; a failure is told, not fatal.
    fn audit(&self, command: &str, run_id: &str, outcome: String) {
        let Some((store, environment)) = &self.audit else {
            return;
        };
        let r = baton_engine::audit::append(
            *store,
            &self.actor,
            environment,
            baton_engine::audit::Record {
                command,
                run_id: Some(run_id.to_string()),
                plan: None,
                plan_digest: None,
                policy: serde_json::Value::Null,
                outcome,
                changes: Vec::new(),
            },
        );
        if let Err(e) = r {
            self.hooks
                .notice(&format!("Warning: could not append to the audit log: {e}"));
        }
    }
}

/// An input value as given: text from a command line (parsed by the input's type), or a
/// value (a schedule's or a parent step's).
#[derive(Clone, Debug)]
pub enum InputValue {
    Text(String),
    Value(Value),
}

/// The workflow files of `dir` as (name, text), for the run's record.
fn definition_files(dir: &Path) -> Result<Vec<(String, String)>, WfError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| StateError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(crate::SUFFIX) && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let text = std::fs::read_to_string(dir.join(&n)).map_err(|e| StateError::Io {
            path: dir.join(&n).display().to_string(),
            message: e.to_string(),
        })?;
        out.push((n, text));
    }
    Ok(out)
}

/// Checks inputs for `wf` as [`Runner::start`] would take them, without starting anything.
pub fn check_inputs(wf: &Workflow, given: &[(String, InputValue)]) -> Result<(), WfError> {
    resolve_inputs(wf, given).map(|_| ())
}

/// The run's input values: given ones converted to their types, the others from defaults.
pub(crate) fn resolve_inputs(
    wf: &Workflow,
    given: &[(String, InputValue)],
) -> Result<BTreeMap<String, Value>, WfError> {
    let mut out = BTreeMap::new();
    for (name, _) in given {
        if !wf.inputs.iter().any(|i| &i.name == name) {
            let known: Vec<&str> = wf.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(WfError::BadInput {
                name: name.clone(),
                message: format!(
                    "workflow {:?} has no such input{}",
                    wf.name,
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!("; its inputs are {}", known.join(", "))
                    }
                ),
            });
        }
    }
    for i in &wf.inputs {
        let bad = |message: String| WfError::BadInput {
            name: i.name.clone(),
            message,
        };
        let given = given
            .iter()
            .rev()
            .find(|(n, _)| n == &i.name)
            .map(|(_, v)| v);
        let v = match given {
            Some(InputValue::Value(v)) => v.clone(),
            Some(InputValue::Text(t)) => {
                let literal = i
                    .type_
                    .as_ref()
                    .is_none_or(|t| t.ty == baton_eval::Type::String);
                let sources = Sources::new();
                baton_engine::vars::parse_text(
                    t,
                    &format!("--input {}", i.name),
                    literal,
                    &sources,
                    &wf.dir,
                )
                .map_err(|d| bad(d.detail))?
            }
            None => match &i.default {
                Some(e) => baton_engine::vars::eval_const(e, &wf.dir).map_err(|d| bad(d.detail))?,
                None => {
                    return Err(bad(format!(
                        "workflow {:?} needs a value: --input {}=VALUE",
                        wf.name, i.name
                    )))
                }
            },
        };
        let v = match &i.type_ {
            Some(tc) => baton_eval::convert::convert_constraint(&v, tc)
                .map_err(|e| bad(format!("the value does not fit the input's type: {e}")))?,
            None => v,
        };
        out.insert(
            i.name.clone(),
            if i.sensitive { v.mark_sensitive() } else { v },
        );
    }
    Ok(out)
}

/// Values as JSON for people and policies: sensitive ones as `"(sensitive)"`.
pub(crate) fn shown_values(
    values: &BTreeMap<String, Value>,
) -> serde_json::Map<String, serde_json::Value> {
    values
        .iter()
        .map(|(k, v)| {
            let j = if v.contains_sensitive() {
                json!("(sensitive)")
            } else {
                v.to_json()
            };
            (k.clone(), j)
        })
        .collect()
}

fn inputs_json(values: &BTreeMap<String, Value>) -> serde_json::Value {
    let obj = Value::object(values.clone());
    obj.to_typed_json()
}

impl Runner<'_> {
    /// Runs `f` while a thread of its own keeps `claim` alive (renewing it every third of the
    /// lease). A claim that cannot be renewed (taken over) stops the run's scheduling; its
    /// next write fails with `ClaimLost`.
    fn with_renewal<T>(&self, claim: &WfClaim, f: impl FnOnce() -> T) -> T {
        // Dropping the sender wakes the renewer at once when the run stops driving.
        let (done, wake) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            s.spawn(move || {
                let every = (self.lease / 3).max(Duration::from_millis(10));
                loop {
                    match wake.recv_timeout(every) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            if self.store.renew(claim, self.lease).is_err() {
                                self.stop.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                        _ => return,
                    }
                }
            });
            let out = f();
            drop(done);
            out
        })
    }
}

/// The step dependencies of run `run`'s recorded definition, as `(from, to)` step names (`to`
/// runs after `from`: a `depends_on` or a reference), for drawing the run. Read from the
/// definition the run recorded, so a workflow edited since draws as it ran.
pub fn recorded_edges(run: &WfRun) -> Result<Vec<(String, String)>, String> {
    let j: serde_json::Value = serde_json::from_str(&run.definition).map_err(|e| e.to_string())?;
    let dir = j
        .get("dir")
        .and_then(|d| d.as_str())
        .map(PathBuf::from)
        .unwrap_or_default();
    let files: Vec<(String, String)> = j
        .get("files")
        .and_then(|f| serde_json::from_value(f.clone()).ok())
        .ok_or_else(|| "the run recorded no workflow files".to_string())?;
    let (wfs, _) = crate::load_texts(&dir, &files, &Sources::new());
    let wf = wfs
        .get(&run.workflow)
        .ok_or_else(|| format!("the recorded files declare no workflow {}", run.workflow))?;
    let mut out = Vec::new();
    for s in wf.steps.iter().chain(&wf.compensate) {
        for (d, _) in crate::graph::dependencies(s) {
            out.push((d, s.name.clone()));
        }
    }
    Ok(out)
}
