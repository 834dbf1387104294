//! A run from request to outcome, the one way anything changes infrastructure: take the state
//! lock, refuse to start over an unresolved run, load the configuration, plan (or take a saved
//! plan, a resumed run's plan, a rollback's plan), pass the policy gate, ask for approval,
//! walk the plan with its failure policy, and record the audit trail.
//!
//! A [`RunRequest`] holds everything a run depends on (its directory, environment, store
//! choices, flags, who asks); nothing is read from the process (working directory,
//! environment variables, command line), so one process can carry many runs at once. What a
//! caller shows or asks goes through [`RunHooks`]. Must not print.
//!
//! ```no_run
//! use baton_engine::lifecycle::{self, Approval, RunHooks, RunKind, RunOutcome, RunRequest};
//! use baton_engine::{plan::PlanOpts, NoObserver, Observer, Plan};
//!
//! struct Unattended;
//! impl RunHooks for Unattended {
//!     fn observer(&self) -> &dyn Observer {
//!         &NoObserver
//!     }
//!     fn approve(&self, _what: Approval, _plan: &Plan) -> bool {
//!         true
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let req = RunRequest::new("/srv/web", "production", RunKind::Apply(PlanOpts::default()));
//! let store = baton_state::sqlite::SqliteStore::open("/srv/web/.baton/state.db".as_ref())?;
//! if let RunOutcome::Ran(ran) = lifecycle::run(&store, &req, &Unattended)? {
//!     assert!(ran.succeeded(), "{:?}", ran.report.diags);
//! }
//! # Ok(())
//! # }
//! ```

mod apply;
mod resolve;

use crate::apply::{ApplyOpts, ApplyReport, FailurePolicy, FaultInjection, RetryPolicy};
use crate::audit::{Actor, Record};
use crate::model::Plan;
use crate::plan::PlanOpts;
use crate::policy::Gate;
use crate::resume::Resumable;
use crate::{Observer, PlanMode};
use baton_core::{Diagnostics, Sources};
use baton_graph::StopHandle;
use baton_state::{Fence, LockGuard, LockInfo, RunRecord, StaleLock, StateError, StateStore};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// What to run.
#[derive(Clone, Debug)]
pub enum RunKind {
    /// Plan now and apply that plan (`PlanMode::Destroy` destroys).
    Apply(PlanOpts),
    /// Apply a plan saved earlier; `origin` names it in messages (its file).
    Saved { plan: Box<Plan>, origin: String },
    /// Finish an interrupted, stopped or failed run.
    Resume { run: String },
    /// Undo a run, or return every object to a state version.
    Rollback(RollbackTarget),
}

#[derive(Clone, Debug)]
pub enum RollbackTarget {
    Run(String),
    Version(u64),
}

/// Everything a run depends on. Relative paths (policy directories, variable files) are
/// resolved against `dir`.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The root module's directory.
    pub dir: PathBuf,
    /// What `path.cwd` returns; `None`: `dir`. (Terraform's is the directory it was started
    /// in, before `-chdir`.)
    pub cwd: Option<PathBuf>,
    /// The environment (`terraform.workspace`).
    pub workspace: String,
    /// Where the configuration's source text is kept for diagnostics.
    pub sources: Sources,
    pub kind: RunKind,
    /// The new run's id ([`crate::new_run_id`]).
    pub run_id: String,
    /// Who asks, for the audit trail.
    pub actor: Actor,
    /// Policy directories beyond `policies/` and the configured sets.
    pub policy_dirs: Vec<PathBuf>,
    /// The reason to override a soft-mandatory policy denial.
    pub override_policy: Option<String>,
    /// The failure policy; without it, the configuration's (a resumed run: the run's own),
    /// else roll back.
    pub on_failure: Option<FailurePolicy>,
    /// The share of failure domains (hosts) that may fail before the run fails as a whole;
    /// without it, the configuration's `max_fail_percentage`.
    pub max_fail_percentage: Option<u8>,
    pub retry: RetryPolicy,
    pub parallelism: usize,
    /// How long to wait for the state lock.
    pub lock_timeout: Duration,
    /// A fault to inject (tests and chaos drills).
    pub fault: Option<FaultInjection>,
    /// Stops scheduling new actions (running ones finish and are saved).
    pub stop: StopHandle,
    /// Also kills running actions.
    pub cancel: Arc<AtomicBool>,
    /// The providers the run uses (the built-in set unless the caller brings another).
    pub providers: Arc<baton_provider::Registry>,
    /// The stack environment's service board, handed to the run's provider calls (see
    /// [`crate::Context::board`]); `None`: the `service` type's default of the directory.
    pub board: Option<Arc<dyn baton_core::board::ServiceBoard>>,
    /// Where the run's provider calls are performed (`--executor`); `None`: as the
    /// configuration's `executor` setting says, else in this process.
    pub executor: Option<baton_config::Executor>,
    /// The labels the workers must carry (`--run-on`); `None`: the configuration's `run_on`.
    pub run_on: Option<std::collections::BTreeMap<String, String>>,
    /// The directory's work queue (the PostgreSQL store's, or an SQLite file beside the
    /// state): needed to run on workers.
    pub queue: Option<Arc<dyn baton_state::WorkQueue>>,
    /// How long a run on workers waits, after its coordinating process died, before a worker
    /// continues it.
    pub coordinator_lease: Duration,
}

impl RunRequest {
    /// A request with every default: a new run id, the process's user, rollback on failure,
    /// 10 actions at once, no waiting for the lock.
    pub fn new(dir: impl Into<PathBuf>, workspace: impl Into<String>, kind: RunKind) -> Self {
        RunRequest {
            dir: dir.into(),
            cwd: None,
            workspace: workspace.into(),
            sources: Sources::new(),
            kind,
            run_id: crate::new_run_id(),
            actor: Actor::current(Vec::new()),
            policy_dirs: Vec::new(),
            override_policy: None,
            on_failure: None,
            max_fail_percentage: None,
            retry: RetryPolicy::default(),
            parallelism: 10,
            lock_timeout: Duration::ZERO,
            fault: None,
            stop: StopHandle::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            providers: crate::providers::builtin(),
            board: None,
            executor: None,
            run_on: None,
            queue: None,
            coordinator_lease: baton_state::DEFAULT_LEASE,
        }
    }

    /// The run's kind as journaled and audited: `apply`, `destroy`, `resume`, `rollback`.
    pub fn command(&self) -> &'static str {
        match &self.kind {
            RunKind::Apply(o) if o.mode == PlanMode::Destroy => "destroy",
            RunKind::Apply(_) => "apply",
            RunKind::Saved { plan, .. } if plan.mode == PlanMode::Destroy => "destroy",
            RunKind::Saved { .. } => "apply",
            RunKind::Resume { .. } => "resume",
            RunKind::Rollback(_) => "rollback",
        }
    }
}

/// Something a caller may want to tell its user while a run goes on.
pub enum Notice<'a> {
    /// The state lock was taken over from a holder that was gone or let its lease expire.
    LockCleared(&'a StaleLock),
    /// The resumed or rolled-back run left commands running; waiting for them to end.
    SettlingOrphans { run: &'a str, count: usize },
    /// About to ask whether to finish `run`.
    Resuming(&'a Resumable),
    /// The audit record could not be appended (the run goes on).
    AuditFailed(&'a StateError),
    /// The run is on workers but its coordinator could not be recorded: if this process dies,
    /// no worker continues it by itself (`baton resume` does).
    CoordinatorUnrecorded(&'a StateError),
}

/// What the caller is asked to approve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    Apply,
    Destroy,
    Resume,
    Rollback,
}

/// How a run talks to whoever started it. Called on the run's thread.
pub trait RunHooks: Sync {
    /// Receives the progress of planning (and of the walk, unless [`Self::around_walk`]
    /// says otherwise).
    fn observer(&self) -> &dyn Observer;
    /// Diagnostics as they are found (loading, planning, preparing): warnings, and the errors
    /// that end the run with [`RunOutcome::Invalid`].
    fn diagnostics(&self, _d: &Diagnostics) {}
    fn notice(&self, _n: Notice<'_>) {}
    /// The plan the run will carry out (not called for a saved plan, which was shown then).
    fn planned(&self, _plan: &Plan) {}
    /// The policy gate's decision, before the run goes on or stops.
    fn gate(&self, _gate: &Gate) {}
    /// Whether to go on. Asked before every walk except a saved plan's (approved when saved);
    /// `plan` may have no changes (the walk still checks conditions only known then).
    fn approve(&self, what: Approval, plan: &Plan) -> bool;
    /// Runs the walk: a caller that shows "still running" lines, traces or handles
    /// interrupts wraps it here, and must call `walk` exactly once.
    fn around_walk(&self, _run_id: &str, walk: &mut dyn FnMut(&dyn Observer)) {
        walk(self.observer())
    }
}

/// How a run ended.
pub enum RunOutcome {
    /// The configuration, the plan or the run to resume or undo has errors (also given to
    /// [`RunHooks::diagnostics`]): nothing was changed.
    Invalid(Diagnostics),
    /// The policies denied it: nothing was changed; the denial is in the audit log.
    Denied(Box<Gate>),
    /// The caller did not approve: nothing was changed.
    Declined,
    /// A rollback that found every object already as it was.
    NothingToDo,
    /// The walk ran (see the report for how it went).
    Ran(Box<Ran>),
}

/// A run that walked its plan.
pub struct Ran {
    pub run_id: String,
    pub plan: Plan,
    pub report: ApplyReport,
    /// A rollback of a run that did not finish: that run and what is left to undo.
    pub unfinished: Option<(String, Vec<String>)>,
}

impl Ran {
    /// Every action succeeded, nothing was stopped or rolled back.
    pub fn succeeded(&self) -> bool {
        !self.report.diags.has_errors()
            && !self.report.stopped
            && self.report.rollback.is_none()
            && self.unfinished.is_none()
    }
}

/// Why a run could not start or go on. Its message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("Error acquiring the state lock: the state at {store} is locked by {} (pid {} on host {}, since {}, running {}).\n\nWait for that operation to finish, or retry with --lock-timeout 30s to wait for it. If that process is gone from another host, its lease expires unless renewed and the lock can then be taken or removed with `baton force-unlock`.", holder.who, holder.pid, holder.host, holder.since, holder.operation)]
    Locked {
        store: String,
        holder: Box<LockInfo>,
    },
    #[error("Run {} ({}, started {} by {}) needs attention first: {}.\n\nResolve it before starting new work:\n  baton resume {}     finish the interrupted plan (actions with a lost outcome are checked first)\n  baton rollback {}   undo what the run did\n\n`baton runs show {}` shows every action it recorded.", .0.id, .0.kind, .0.started_at, .0.who, unresolved_why(.0), .0.id, .0.id, .0.id)]
    Unresolved(Box<RunRecord>),
    #[error("--override-policy needs a reason, e.g. --override-policy \"approved in CHG-1234\"")]
    OverrideWithoutReason,
    #[error("The plan in {0} was saved with errors and cannot be applied.")]
    SavedPlanErrored(String),
    #[error("The plan in {origin} was made for environment {planned:?}, not {current:?}.")]
    WrongEnvironment {
        origin: String,
        planned: String,
        current: String,
    },
    #[error("Saved plan is stale: the state changed after the plan in {origin} was created (the plan was made against state version {plan_serial} of lineage {plan_lineage}, and the state is now at version {serial} of lineage {lineage}). Nothing was changed. Create a new plan with `baton plan --out {origin}` and apply that.")]
    StalePlan {
        origin: String,
        plan_serial: u64,
        plan_lineage: String,
        serial: u64,
        lineage: String,
    },
    #[error("There is no run with id {0}. `baton runs` lists them.")]
    NoSuchRun(String),
    #[error("Run {run} is itself a rollback; roll back its parent {parent} instead.")]
    RollbackOfRollback { run: String, parent: String },
    #[error("State version {version} does not exist (the latest is {latest}); `baton state history` lists them.")]
    NoSuchVersion { version: u64, latest: u64 },
    #[error("run {run}: the recorded failure policy: {error}")]
    RecordedPolicy { run: String, error: String },
    #[error("the run's walk was not started by the caller's hooks")]
    WalkSkipped,
    #[error("This run is to be performed by workers (executor = \"workers\"), but no work queue was opened for its store {store}. Use --executor local to run it in this process.")]
    NoQueue { store: String },
    #[error(transparent)]
    State(#[from] StateError),
}

fn unresolved_why(r: &RunRecord) -> &'static str {
    match r.status {
        baton_state::RunStatus::RollbackFailed => "its rollback did not finish",
        _ => "it was interrupted before it finished",
    }
}

/// Carries out `req` against `store`. The caller keeps the store open for the call; the state
/// lock is taken here and released when the run ends.
pub fn run(
    store: &dyn StateStore,
    req: &RunRequest,
    hooks: &dyn RunHooks,
) -> Result<RunOutcome, RunError> {
    if let Some(r) = &req.override_policy {
        if r.trim().is_empty() {
            return Err(RunError::OverrideWithoutReason);
        }
    }
    let run = Run { store, req, hooks };
    match &req.kind {
        RunKind::Apply(opts) => apply::plan_and_apply(&run, opts),
        RunKind::Saved { plan, origin } => apply::apply_saved(&run, plan, origin),
        RunKind::Resume { run: id } => resolve::resume(&run, id),
        RunKind::Rollback(target) => resolve::rollback(&run, target),
    }
}

/// What a run would do, changing nothing (the state is only read, under the lock).
pub struct Preview {
    /// `None` when the configuration or the plan has errors (see `diags`).
    pub plan: Option<Plan>,
    /// The policy gate's decision on the plan.
    pub gate: Option<Gate>,
    /// The plan as `terraform show -json` gives it (sensitive values hidden).
    pub json: Option<serde_json::Value>,
    pub diags: Diagnostics,
}

/// Plans `req` (a `RunKind::Apply`) and runs the policy gate on the plan, changing nothing
/// and recording nothing: what `workflow plan` shows of a stack step.
pub fn preview(store: &dyn StateStore, req: &RunRequest) -> Result<Preview, RunError> {
    let RunKind::Apply(opts) = &req.kind else {
        return Ok(Preview {
            plan: None,
            gate: None,
            json: None,
            diags: Diagnostics::new(),
        });
    };
    let hooks = Silent;
    let run = Run {
        store,
        req,
        hooks: &hooks,
    };
    apply::preview(&run, opts)
}

/// Hooks that approve nothing and say nothing.
struct Silent;

impl RunHooks for Silent {
    fn observer(&self) -> &dyn Observer {
        &crate::NoObserver
    }
    fn approve(&self, _what: Approval, _plan: &Plan) -> bool {
        false
    }
}

/// Takes the state lock for `operation`, recording a stale holder's removal in the audit log
/// (the guard's `cleared_stale` says whom, for the caller to report).
pub fn take_lock(
    store: &dyn StateStore,
    operation: &str,
    timeout: Duration,
    actor: &Actor,
    environment: &str,
) -> Result<LockGuard, RunError> {
    let info = baton_state::lock::current_lock_info(operation);
    let guard = match store.lock(info, timeout) {
        Ok(g) => g,
        Err(StateError::Locked(h)) => {
            return Err(RunError::Locked {
                store: store.describe(),
                holder: h,
            })
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(stale) = &guard.cleared_stale {
        let h = &stale.holder;
        let outcome = match stale.why {
            baton_state::Staleness::ProcessGone => "cleared the stale lock",
            baton_state::Staleness::LeaseExpired => "took over the expired lock",
        };
        crate::audit::append(
            store,
            actor,
            environment,
            Record {
                command: "lock clear",
                run_id: None,
                plan: None,
                plan_digest: None,
                policy: serde_json::Value::Null,
                outcome: format!(
                    "{outcome} of pid {} on {} (held since {} for {})",
                    h.pid, h.host, h.since, h.operation
                ),
                changes: Vec::new(),
            },
        )?;
    }
    Ok(guard)
}

/// Where a root module keeps the state of an environment by default (see
/// [`baton_state::sqlite::default_path`]).
pub use baton_state::sqlite::default_path as default_state_path;

/// Refuses new work while an earlier run is unresolved (interrupted, or its rollback failed).
pub fn check_unresolved(store: &dyn StateStore) -> Result<(), RunError> {
    match store
        .runs()?
        .into_iter()
        .find(|r| r.status.needs_resolution())
    {
        Some(r) => Err(RunError::Unresolved(Box::new(r))),
        None => Ok(()),
    }
}

/// One run in progress: the request, its store and its caller.
struct Run<'a> {
    store: &'a dyn StateStore,
    req: &'a RunRequest,
    hooks: &'a dyn RunHooks,
}

impl Run<'_> {
    fn command(&self) -> &'static str {
        self.req.command()
    }

    /// Takes the lock for this run, telling the caller about a stale holder it cleared.
    fn lock(&self) -> Result<LockGuard, RunError> {
        let g = take_lock(
            self.store,
            self.command(),
            self.req.lock_timeout,
            &self.req.actor,
            &self.req.workspace,
        )?;
        if let Some(stale) = &g.cleared_stale {
            self.hooks.notice(Notice::LockCleared(stale));
        }
        Ok(g)
    }

    /// Appends an audit record; a failure is told to the caller and does not fail the run.
    fn audit(&self, r: Record<'_>) {
        if let Err(e) = crate::audit::append(self.store, &self.req.actor, &self.req.workspace, r) {
            self.hooks.notice(Notice::AuditFailed(&e));
        }
    }

    /// Loads the configuration in the request's directory: its files on disk, or `files` (the
    /// copy a plan recorded) when given.
    fn load(
        &self,
        files: Option<&[(String, String)]>,
        workspace: &str,
    ) -> (Option<crate::Context>, Diagnostics) {
        let req = self.req;
        let providers = req.providers.clone();
        let (ctx, d) = match files {
            Some(files) => {
                let fs = baton_config::MemFs::new(&req.dir, files);
                crate::load_with_providers(&req.dir, workspace, &req.sources, &fs, providers)
            }
            None => crate::load_with_providers(
                &req.dir,
                workspace,
                &req.sources,
                &baton_config::RealFs,
                providers,
            ),
        };
        let ctx = ctx.map(|mut c| {
            if let Some(cwd) = &req.cwd {
                c.cwd = cwd.clone();
            }
            c.board = req.board.clone();
            c
        });
        (ctx, d)
    }

    /// [`Run::load`], handing its diagnostics to the caller; with errors, the run's outcome.
    fn load_checked(
        &self,
        files: Option<&[(String, String)]>,
        workspace: &str,
    ) -> Result<crate::Context, RunOutcome> {
        let (ctx, d) = self.load(files, workspace);
        if self.diagnose(&d) {
            return Err(RunOutcome::Invalid(d));
        }
        ctx.ok_or(RunOutcome::Invalid(d))
    }

    /// Hands diagnostics to the caller; true when they hold errors.
    fn diagnose(&self, d: &Diagnostics) -> bool {
        if !d.is_empty() {
            self.hooks.diagnostics(d);
        }
        d.has_errors()
    }

    /// The apply options of this run; `default_policy` applies when the request names none,
    /// and `settings` (the configuration's, when the run has one) decide the executor when
    /// the request does not.
    fn apply_opts(
        &self,
        default_policy: Option<FailurePolicy>,
        settings: Option<&baton_config::BatonSettings>,
        fence: Fence,
    ) -> Result<ApplyOpts, RunError> {
        let executor = self
            .req
            .executor
            .or(settings.and_then(|s| s.executor))
            .unwrap_or_default();
        let workers = match (executor, &self.req.queue) {
            (baton_config::Executor::Local, _) => None,
            (baton_config::Executor::Workers, Some(q)) => Some(crate::apply::Workers {
                queue: Arc::clone(q),
                run_on: self
                    .req
                    .run_on
                    .clone()
                    .or(settings.and_then(|s| s.run_on.clone()))
                    .unwrap_or_default(),
            }),
            (baton_config::Executor::Workers, None) => {
                return Err(RunError::NoQueue {
                    store: self.store.describe(),
                })
            }
        };
        Ok(ApplyOpts {
            parallelism: self.req.parallelism,
            run_id: self.req.run_id.clone(),
            command: self.command().to_string(),
            who: self.req.actor.who.clone(),
            retry: self.req.retry,
            on_failure: self
                .req
                .on_failure
                .or(default_policy)
                .unwrap_or(FailurePolicy::Rollback),
            max_fail_percentage: self
                .req
                .max_fail_percentage
                .or(settings.and_then(|s| s.max_fail_percentage)),
            parent: None,
            resume: None,
            cancel: self.req.cancel.clone(),
            fault: self.req.fault.clone(),
            fence,
            workers,
        })
    }

    /// Walks `plan` (made against `prior`) through the caller's [`RunHooks::around_walk`],
    /// then records the outcome in the audit log with the policy decision `policy`.
    fn walk(
        &self,
        ctx: &crate::Context,
        plan: &Plan,
        prior: &baton_state::Snapshot,
        opts: &ApplyOpts,
        policy: serde_json::Value,
    ) -> Result<ApplyReport, RunError> {
        // A run on workers says who coordinates it, so that a worker continues it (`baton
        // resume`) if this process dies.
        let _beacon = opts.workers.as_ref().map(|w| {
            let (b, err) = baton_state::Beacon::start(
                Arc::clone(&w.queue),
                baton_state::Coordinator {
                    run_id: opts.run_id.clone(),
                    kind: "stack".to_string(),
                    dir: self.req.dir.display().to_string(),
                    env: self.req.workspace.clone(),
                    holder: format!("{} pid {}", self.req.actor.who, std::process::id()),
                },
                self.req.coordinator_lease,
            );
            if let Some(e) = &err {
                self.hooks.notice(Notice::CoordinatorUnrecorded(e));
            }
            b
        });
        let mut result = None;
        self.hooks.around_walk(&opts.run_id, &mut |observer| {
            result = Some(crate::apply::apply(
                ctx,
                plan,
                self.store,
                prior,
                opts,
                observer,
                &self.req.stop,
            ));
        });
        let r = result.ok_or(RunError::WalkSkipped)?;
        let outcome = match &r {
            Ok(rep) => rep
                .status
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "unknown".into()),
            Err(e) => format!("error: {e}"),
        };
        self.audit(Record {
            command: &opts.command,
            run_id: Some(opts.run_id.clone()),
            plan: Some(plan),
            plan_digest: r.as_ref().ok().and_then(|rep| rep.plan_digest.clone()),
            policy,
            outcome,
            changes: Vec::new(),
        });
        Ok(r?)
    }
}
