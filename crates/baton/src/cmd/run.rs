//! The terminal side of a run (apply, destroy, resume, rollback): builds the engine's run
//! request from the flags, answers the engine's hooks (plan and policy findings on stdout,
//! confirmation prompts, progress and "still running" lines, Ctrl-C, the trace file) and renders
//! the outcome with its exit code.
//!
//! Must not orchestrate: locking, the policy gate, the audit record and the failure policy
//! are the engine's ([`baton_engine::lifecycle`]).

use super::{parse_duration, print_diags, Env};
use crate::cli::RunFlags;
use crate::render::{render_plan, render_value};
use anyhow::{anyhow, bail, Context as _};
use baton_engine::apply::{ApplyReport, FailurePolicy, RetryPolicy};
use baton_engine::audit::Actor;
use baton_engine::lifecycle::{self, Approval, Notice, RunHooks, RunKind, RunOutcome, RunRequest};
use baton_engine::policy::Gate;
use baton_engine::{Observer, Plan, PlanMode};
use std::process::ExitCode;
use std::sync::Mutex;

/// The environment variable that injects a fault into runs (`fail:K` or `kill:K`).
const FAULT_INJECT_ENV: &str = "BATON_FAULT_INJECT";

/// The test and chaos hook (docs/failure-handling.md): the engine and the workflow runner
/// read no environment, the binary gives them this.
pub fn fault_from_env() -> anyhow::Result<Option<baton_engine::apply::FaultInjection>> {
    match std::env::var(FAULT_INJECT_ENV) {
        Ok(spec) => Ok(Some(
            spec.parse::<baton_engine::apply::FaultInjection>()
                .with_context(|| format!("{FAULT_INJECT_ENV}={spec:?}"))?,
        )),
        Err(_) => Ok(None),
    }
}

/// The run request of a command: where and what, with the run flags decoded.
pub fn request(
    env: &Env,
    kind: RunKind,
    flags: &RunFlags,
    parallelism: usize,
    lock_timeout: &str,
) -> anyhow::Result<RunRequest> {
    if parallelism == 0 {
        bail!("--parallelism must be at least 1");
    }
    let on_failure = match &flags.on_failure {
        Some(text) => Some(
            text.parse::<FailurePolicy>()
                .map_err(|e| anyhow!("--on-failure: {e}"))?,
        ),
        None => None,
    };
    let mut retry = RetryPolicy::default();
    if let Some(n) = flags.retry_attempts {
        if n == 0 {
            bail!("--retry-attempts must be at least 1");
        }
        retry.attempts = n;
    }
    if let Some(d) = &flags.retry_backoff {
        retry.base = parse_duration("--retry-backoff", d)?;
    }
    if let Some(d) = &flags.retry_max_backoff {
        retry.cap = parse_duration("--retry-max-backoff", d)?;
    }
    let fault = fault_from_env()?;
    let mut req = RunRequest::new(&env.dir, &env.workspace, kind);
    req.board = env.board().ok();
    req.sources = env.sources.clone();
    req.cwd = Some(env.cwd.clone());
    req.actor = Actor::current(super::audit::redacted_args());
    req.override_policy = flags.override_policy.clone();
    req.on_failure = on_failure;
    req.max_fail_percentage = flags.max_fail_percentage;
    req.retry = retry;
    req.parallelism = parallelism;
    req.lock_timeout = parse_duration("--lock-timeout", lock_timeout)?;
    req.fault = fault;
    executor(env, flags, &mut req)?;
    Ok(req)
}

/// How long a dead coordinator's runs wait before a worker continues them:
/// `BATON_COORDINATOR_LEASE`, else the state lock's lease.
pub(super) fn coordinator_lease() -> anyhow::Result<std::time::Duration> {
    match std::env::var("BATON_COORDINATOR_LEASE") {
        Ok(l) if !l.trim().is_empty() => parse_duration("BATON_COORDINATOR_LEASE", &l),
        _ => Ok(baton_state::DEFAULT_LEASE),
    }
}

/// Where the run's provider calls go: `--executor` (or `BATON_EXECUTOR`) and `--run-on` when
/// given (else the configuration's `executor` and `run_on`), and the directory's work queue
/// (see [`super::worker::queue_for_run`]).
fn executor(env: &Env, flags: &RunFlags, req: &mut RunRequest) -> anyhow::Result<()> {
    let from_env = std::env::var("BATON_EXECUTOR").ok();
    req.executor =
        match flags
            .executor
            .as_deref()
            .or(from_env.as_deref())
            .map(str::trim)
        {
            None | Some("") => None,
            Some(s) => Some(s.parse::<baton_config::Executor>().map_err(|()| {
                anyhow!("invalid executor {s:?}: expected \"local\" or \"workers\"")
            })?),
        };
    if let Some(l) = &flags.run_on {
        req.run_on = Some(
            baton_state::queue::parse_labels(l).map_err(|e| anyhow!("invalid --run-on: {e}"))?,
        );
    }
    // The directory's queue: opened now when the command asks for workers (a queue that
    // cannot be opened stops the run before anything changes), else when the configuration
    // turns out to ask for them.
    let wanted = req.executor == Some(baton_config::Executor::Workers);
    req.queue = Some(super::worker::queue_for_run(env, wanted)?);
    req.coordinator_lease = coordinator_lease()?;
    Ok(())
}

/// Runs `req` against the command's store and renders the outcome.
pub fn execute(env: &Env, req: RunRequest, auto_approve: bool) -> anyhow::Result<ExitCode> {
    let store = env.open_store()?;

    let hooks = Terminal {
        env,
        progress: crate::ui::Progress::new(),
        auto_approve,
        req: &req,
        trace_error: Mutex::new(None),
    };
    let outcome = lifecycle::run(&*store.store, &req, &hooks)?;
    if let Some(e) = hooks.trace_error.lock().ok().and_then(|mut e| e.take()) {
        return Err(e);
    }
    let command = req.command();
    Ok(match outcome {
        RunOutcome::Invalid(_) => ExitCode::from(1),
        RunOutcome::Denied(gate) => {
            super::policy::denied(&gate, command, req.override_policy.is_some())
        }
        RunOutcome::Declined => {
            let mut what = command.to_string();
            if let Some(first) = what.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            eprintln!("\nError: {what} cancelled.");
            ExitCode::from(1)
        }
        RunOutcome::NothingToDo => {
            outln!("Nothing to roll back: every object is already as it was.");
            ExitCode::SUCCESS
        }
        RunOutcome::Ran(ran) => {
            if let Some((p, left)) = &ran.unfinished {
                eprintln!("The rollback of run {p} did not finish.");
                print_left(left);
                eprintln!("Run `baton rollback {p}` again to finish what is left.");
            }
            finish(env, &ran.plan, &ran.report, &ran.run_id)
        }
    })
}

/// The engine's hooks as a terminal answers them.
struct Terminal<'a> {
    env: &'a Env,
    progress: crate::ui::Progress,
    auto_approve: bool,
    req: &'a RunRequest,
    /// A trace file that could not be written (reported after the run).
    trace_error: Mutex<Option<anyhow::Error>>,
}

impl RunHooks for Terminal<'_> {
    fn observer(&self) -> &dyn Observer {
        &self.progress
    }

    fn diagnostics(&self, d: &baton_core::Diagnostics) {
        print_diags(d, &self.env.sources);
    }

    fn notice(&self, n: Notice<'_>) {
        match n {
            Notice::LockCleared(stale) => super::print_stale(stale),
            Notice::SettlingOrphans { run, count } => eprintln!(
                "Run {run} left {count} process(es) running when it was interrupted; waiting up to 30s for them to end (then they are stopped)..."
            ),
            Notice::Resuming(prep) => outln!(
                "Resuming run {} ({}): {} action(s) already done, {} with a lost outcome to check first.",
                prep.run.id,
                prep.run.summary,
                prep.done,
                prep.unknown
            ),
            Notice::AuditFailed(e) => {
                eprintln!("Warning: could not append to the audit log: {e}")
            }
            Notice::CoordinatorUnrecorded(e) => eprintln!(
                "Warning: the run's coordinator could not be recorded ({e}): if this process dies, no worker continues the run by itself; `baton resume` does."
            ),
        }
    }

    fn planned(&self, plan: &Plan) {
        out!("{}", render_plan(plan));
    }

    fn gate(&self, gate: &Gate) {
        super::policy::print(self.env, gate);
    }

    fn approve(&self, what: Approval, plan: &Plan) -> bool {
        let (q, d) = match what {
            // With no changes there is nothing to approve, but the walk still runs: checks
            // whose values were unknown at plan are decided only there, as in Terraform.
            Approval::Apply | Approval::Destroy if self.auto_approve || !plan.has_changes() => {
                outln!();
                return true;
            }
            _ if self.auto_approve => return true,
            Approval::Destroy => (
                "Do you really want to destroy all resources?",
                "Baton will destroy all your managed infrastructure, as shown above.\n  There is no undo.",
            ),
            Approval::Apply => (
                "Do you want to perform these actions?",
                "Baton will perform the actions described above.",
            ),
            Approval::Resume => (
                "Do you want to finish this run?",
                "Baton will perform the remaining actions of the run's plan.",
            ),
            Approval::Rollback => (
                "Do you want to roll back?",
                "Baton will return the objects shown above to their earlier values.",
            ),
        };
        crate::ui::confirm(q, d)
    }

    fn around_walk(&self, run_id: &str, walk: &mut dyn FnMut(&dyn Observer)) {
        crate::ui::on_interrupt(self.req.stop.clone(), self.req.cancel.clone());
        let ticker = crate::ui::Ticker::start(&self.progress);
        let trace = &self.env.trace_file;
        let otlp = crate::telemetry::Telemetry::otlp_endpoint();
        let telemetry =
            crate::telemetry::Telemetry::new(&ticker, run_id, trace.is_some() || otlp.is_some());
        walk(&telemetry);
        if let Some(endpoint) = &otlp {
            // A collector that is down must not fail the run: said, not fatal.
            if let Err(e) = telemetry.export_otlp(endpoint) {
                eprintln!("Warning: {e:#}");
            }
        }
        if let Some(path) = trace {
            if let Err(e) = telemetry.write_trace(path) {
                if let Ok(mut slot) = self.trace_error.lock() {
                    *slot = Some(e);
                }
            }
        }
        drop(telemetry);
        ticker.finish();
    }
}

/// Prints the result of a walk and picks the exit code.
pub fn finish(env: &Env, plan: &Plan, r: &ApplyReport, run_id: &str) -> ExitCode {
    let failed = print_diags(&r.diags, &env.sources);
    let what = match plan.mode {
        PlanMode::Destroy => "Destroy",
        PlanMode::Restore => "Rollback",
        _ => "Apply",
    };
    // Hosts that failed: named whatever else happened (rolled back or not).
    let hosts = r.domains.as_ref().filter(|d| !d.failed.is_empty());
    if let Some(d) = hosts {
        eprintln!("\n{}", d.summary());
        if d.fleet_failed {
            eprintln!("Too many hosts failed: the run failed as a whole.");
        }
    }
    if r.stopped {
        eprintln!(
            "\nError: {what} interrupted\n\nThe run was interrupted before it finished. Resources: {} added, {} changed, {} destroyed; everything that completed is saved in the state (version {}). Run the command again, or `baton rollback {run_id}` to undo what this run did.",
            r.added, r.changed, r.destroyed, r.serial
        );
        return ExitCode::from(1);
    }
    if let Some(rb) = &r.rollback {
        print_diags(&rb.diags, &env.sources);
        if rb.ok {
            eprintln!(
                "{what} failed and was rolled back: every change run {run_id} made was undone ({} action(s)). The state is as it was before the run.",
                rb.undone
            );
        } else {
            eprintln!(
                "{what} failed, and rolling it back did not finish (see the errors above). Run {run_id} is recorded as rollback_failed."
            );
            print_left(&rb.left);
            eprintln!(
                "`baton rollback {run_id}` finishes the rollback once the cause is fixed; `baton runs show {run_id}` lists every action."
            );
        }
        return ExitCode::from(1);
    }
    if failed && hosts.is_some_and(|d| !d.fleet_failed) {
        eprintln!(
            "{what} failed on those hosts only; every other host was configured. Resources: {} added, {} changed, {} destroyed. What completed is kept (including on the failed hosts) and saved in the state (version {}); the next apply retries the failed hosts, and `baton rollback {run_id}` undoes the whole run.",
            r.added, r.changed, r.destroyed, r.serial
        );
        return ExitCode::from(1);
    }
    if failed {
        eprintln!(
            "{what} failed. Resources: {} added, {} changed, {} destroyed. Everything that completed is saved in the state (version {}); `baton rollback {run_id}` undoes it.",
            r.added, r.changed, r.destroyed, r.serial
        );
        return ExitCode::from(1);
    }
    match plan.mode {
        PlanMode::Destroy => {
            outln!("\nDestroy complete! Resources: {} destroyed.", r.destroyed);
            return ExitCode::SUCCESS;
        }
        PlanMode::Restore => {
            outln!(
                "\nRollback complete! Resources: {} created, {} changed, {} destroyed.",
                r.added,
                r.changed,
                r.destroyed
            );
            return ExitCode::SUCCESS;
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
    ExitCode::SUCCESS
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
