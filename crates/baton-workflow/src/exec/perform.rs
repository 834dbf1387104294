//! Performing one prepared step instance on a worker thread: a command (with its outputs
//! file, bounded output, timeout and retries), a stack apply or destroy through the engine's
//! run lifecycle (or the resume of one that was in flight), a child workflow run, or an
//! Ansible playbook (`super::playbook`).
//!
//! Must not write the workflow store (the driving thread records outcomes) and must not
//! evaluate workflow expressions (they were resolved when the step was prepared).

use super::{Advance, InputValue, Runner};
use baton_config::Retry;
use baton_core::Diagnostics;
use baton_engine::lifecycle::{self, Approval, RunHooks, RunKind, RunOutcome, RunRequest};
use baton_engine::plan::PlanOpts;
use baton_engine::vars::CliVar;
use baton_engine::{NoObserver, Observer, Plan, PlanMode};
use baton_eval::Value;
use baton_state::{RunStatus, StateStore};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much of a command's stdout and stderr the journal keeps (the end of it).
pub const KEPT_OUTPUT: usize = 64 * 1024;

/// A step instance with everything it needs resolved.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    pub key: String,
    pub work: Work,
    pub retry: Retry,
    pub timeout: Option<Duration>,
    /// Attempts made earlier (before a backoff the run waited out without a process).
    pub attempts_done: u32,
}

#[derive(Clone, Debug)]
pub(super) enum Work {
    Command {
        command: String,
        environment: Vec<(String, String)>,
        /// Where the command writes its outputs (`$BATON_OUTPUTS`).
        outputs_file: PathBuf,
        cwd: PathBuf,
        run_id: String,
        /// The command or its environment holds a secret: neither it nor its output is
        /// recorded.
        sensitive: bool,
        /// It runs on a worker (the workflow's executor is `workers`), which must carry
        /// these labels.
        on_workers: Option<Vec<(String, String)>>,
    },
    Stack {
        dir: PathBuf,
        env: String,
        vars: Vec<(String, Value)>,
        destroy: bool,
        /// The stack run's id (recorded before it starts).
        run_id: String,
        /// Stack runs of this step recorded by an earlier, interrupted attempt to resume.
        earlier: Vec<String>,
    },
    Workflow {
        name: String,
        inputs: BTreeMap<String, Value>,
        parent_run: String,
    },
    /// An `ansible-playbook` run (always in this process, whatever the executor).
    Playbook {
        opts: Box<baton_remote::ansible::runner::RunOpts>,
        /// Its `extra_vars` hold a secret: no task message or stderr is recorded.
        sensitive: bool,
    },
}

/// What performing a step came to.
#[derive(Debug, Default)]
pub(super) struct Performed {
    pub ok: bool,
    /// The child workflow waits (for an approval of its own).
    pub waiting: bool,
    pub attempts: u32,
    pub duration: Duration,
    pub outputs: Option<Value>,
    pub exit_code: Option<i32>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub error: Option<String>,
    /// A stack step's runs (the first and any resumes), or a workflow step's child run.
    pub child_runs: Vec<String>,
    /// The step failed and will be retried after this backoff, which is too long to hold a
    /// process for: the run waits without one.
    pub retry_in: Option<Duration>,
    /// The run was stopped while the step ran on a worker, and the step was left there: no
    /// outcome is recorded, so it stays started and `resume` waits for the same task.
    pub unfinished: bool,
}

/// Performs `p`, retrying a failure as its `retry` says.
pub(super) fn perform(r: &Runner<'_>, p: &Prepared) -> Performed {
    let start = Instant::now();
    let attempts = p.retry.attempts.unwrap_or(1).max(1);
    let cap = p.retry.max_backoff.unwrap_or(Duration::from_secs(30));
    let base = p.retry.backoff.unwrap_or(Duration::from_secs(1));
    // The backoff before attempt n+1 is base·2^(n-1), capped.
    let backoff = |n: u32| -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(30));
        base.saturating_mul(factor).min(cap)
    };
    let mut out = Performed::default();
    for attempt in (p.attempts_done + 1)..=attempts.max(p.attempts_done + 1) {
        out = once(r, p, attempt);
        out.attempts = attempt;
        if out.ok || out.waiting || attempt >= attempts || r.stop.load(Ordering::SeqCst) {
            break;
        }
        let delay = backoff(attempt);
        if delay > r.max_inline_backoff {
            out.retry_in = Some(delay);
            break;
        }
        std::thread::sleep(delay);
    }
    out.duration = start.elapsed();
    out
}

fn once(r: &Runner<'_>, p: &Prepared, attempt: u32) -> Performed {
    match &p.work {
        Work::Command {
            command,
            environment,
            cwd,
            run_id,
            sensitive,
            on_workers: Some(run_on),
            ..
        } => {
            let Some((remote, queue)) = r.remote() else {
                return Performed {
                    error: Some(
                        "this step runs on workers, but no work queue was opened for the store"
                            .to_string(),
                    ),
                    ..Performed::default()
                };
            };
            let task = super::remote::CommandTask {
                command: command.clone(),
                environment: environment.clone(),
                cwd: cwd.clone(),
                run_id: run_id.clone(),
                step: p.key.clone(),
                attempt,
                timeout_ms: p
                    .timeout
                    .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
                sensitive: *sensitive,
            };
            remote.run_command(queue, task, run_on, &r.stop)
        }
        Work::Command {
            command,
            environment,
            outputs_file,
            cwd,
            run_id,
            sensitive,
            on_workers: None,
        } => {
            let mut out = command_step(command, environment, outputs_file, cwd, run_id, p.timeout);
            if *sensitive {
                let hidden = "(output suppressed: the command is sensitive)".to_string();
                out.stdout = out.stdout.map(|_| hidden.clone());
                out.stderr = out.stderr.map(|_| hidden);
            }
            out
        }
        Work::Stack { .. } => stack_step(r, p),
        Work::Playbook { opts, sensitive } => super::playbook::perform(opts, *sensitive),
        Work::Workflow {
            name,
            inputs,
            parent_run,
        } => {
            let given: Vec<(String, InputValue)> = inputs
                .iter()
                .map(|(k, v)| (k.clone(), InputValue::Value(v.clone())))
                .collect();
            match r.start(name, &given, Some((parent_run, &p.key))) {
                Ok((child, advance)) => Performed {
                    ok: advance == Advance::Succeeded,
                    waiting: matches!(advance, Advance::Waiting(_)),
                    error: match &advance {
                        Advance::Succeeded | Advance::Waiting(_) => None,
                        other => Some(format!(
                            "child run {child} of workflow {name:?} ended {}",
                            other.status().as_str()
                        )),
                    },
                    outputs: Some(Value::empty_object()),
                    child_runs: vec![child],
                    ..Performed::default()
                },
                Err(e) => Performed {
                    error: Some(format!("workflow {name:?}: {e}")),
                    ..Performed::default()
                },
            }
        }
    }
}

pub(super) fn command_step(
    command: &str,
    environment: &[(String, String)],
    outputs_file: &std::path::Path,
    cwd: &std::path::Path,
    run_id: &str,
    timeout: Option<Duration>,
) -> Performed {
    if let Some(parent) = outputs_file.parent() {
        if let Err(e) = std::fs::create_dir_all(parent) {
            return Performed {
                error: Some(format!("cannot create {}: {e}", parent.display())),
                ..Performed::default()
            };
        }
    }
    let _ = std::fs::remove_file(outputs_file);
    let mut spec = baton_provider::exec::CommandSpec::shell(command, None, cwd.to_path_buf());
    spec.env = environment.to_vec();
    spec.env.push((
        "BATON_OUTPUTS".into(),
        outputs_file.to_string_lossy().to_string(),
    ));
    spec.timeout = timeout;
    spec.run_tag = Some(run_id.to_string());
    // Without a time limit nothing needs watching: the command writes to files and this
    // thread waits for it (no reader or waiter threads, the common case).
    let result = match timeout {
        None => run_plain(&spec, outputs_file),
        Some(_) => baton_provider::exec::run(&spec, |_, _| {}),
    };
    let out = match result {
        Ok(o) => o,
        Err(e) => {
            return Performed {
                error: Some(format!("cannot run the command: {e}")),
                ..Performed::default()
            }
        }
    };
    let outputs = match read_outputs(outputs_file) {
        Ok(v) => v,
        Err(e) => {
            return Performed {
                exit_code: out.code,
                stdout: Some(tail(&out.stdout)),
                stderr: Some(tail(&out.stderr)),
                error: Some(e),
                ..Performed::default()
            }
        }
    };
    let _ = std::fs::remove_file(outputs_file);
    let ok = out.success();
    let error = if ok {
        None
    } else if out.timed_out {
        Some(format!(
            "the command did not finish within {}",
            timeout.map(|t| format!("{t:?}")).unwrap_or_default()
        ))
    } else {
        Some(match out.code {
            Some(c) => format!("the command exited with status {c}"),
            None => "the command was killed by a signal".to_string(),
        })
    };
    Performed {
        ok,
        exit_code: out.code,
        stdout: Some(tail(&out.stdout)),
        stderr: Some(tail(&out.stderr)),
        error,
        outputs: Some(outputs),
        ..Performed::default()
    }
}

/// Runs `spec` (no stdin, no time limit) with its stdout and stderr in files beside `base`,
/// waiting on this thread, and keeps the end of each.
fn run_plain(
    spec: &baton_provider::exec::CommandSpec,
    base: &std::path::Path,
) -> std::io::Result<baton_provider::exec::CommandOutput> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no command given",
        ));
    };
    let out_path = base.with_extension("stdout");
    let err_path = base.with_extension("stderr");
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .current_dir(&spec.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::fs::File::create(&err_path)?);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(run) = &spec.run_tag {
        cmd.env(baton_provider::exec::RUN_ENV, run);
    }
    let status = cmd.spawn()?.wait()?;
    let out = baton_provider::exec::CommandOutput {
        code: status.code(),
        stdout: read_tail(&out_path)?,
        stderr: read_tail(&err_path)?,
        ..Default::default()
    };
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Ok(out)
}

/// The last [`KEPT_OUTPUT`] bytes of a file.
fn read_tail(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let keep = u64::try_from(KEPT_OUTPUT).unwrap_or(u64::MAX);
    if len > keep {
        f.seek(SeekFrom::Start(len - keep))?;
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// The end of a command's output, as text.
fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(KEPT_OUTPUT);
    String::from_utf8_lossy(&bytes[start..]).to_string()
}

/// A command's outputs: one JSON object, or `key=value` lines (blank lines and `#` comments
/// skipped). No file: no outputs.
pub(super) fn read_outputs(path: &std::path::Path) -> Result<Value, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Value::empty_object()),
        Err(e) => return Err(format!("cannot read $BATON_OUTPUTS: {e}")),
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        let j: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| {
            format!(
                "$BATON_OUTPUTS holds invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            )
        })?;
        return Ok(Value::from_json_implied(&j));
    }
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "$BATON_OUTPUTS line {}: expected KEY=VALUE, got {line:?}",
                n + 1
            ));
        };
        let k = k.trim();
        if !baton_config::model::is_valid_name(k) {
            return Err(format!(
                "$BATON_OUTPUTS line {}: {k:?} is not a valid output name",
                n + 1
            ));
        }
        out.insert(k.to_string(), Value::string(v));
    }
    Ok(Value::object(out))
}

/// The hooks of a stack run inside a workflow: approved by the workflow run itself; the
/// diagnostics are kept for the step's error.
struct StackHooks {
    errors: Mutex<Vec<String>>,
    sources: baton_core::Sources,
}

impl RunHooks for StackHooks {
    fn observer(&self) -> &dyn Observer {
        &NoObserver
    }
    fn diagnostics(&self, d: &Diagnostics) {
        if let Ok(mut e) = self.errors.lock() {
            for x in d.errors() {
                let at = x
                    .subject
                    .and_then(|s| self.sources.location(s))
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                e.push(format!("{}: {}{at}", x.summary, x.detail));
            }
        }
    }
    fn approve(&self, _what: Approval, _plan: &Plan) -> bool {
        true
    }
}

fn stack_step(r: &Runner<'_>, p: &Prepared) -> Performed {
    let Work::Stack {
        dir,
        env,
        vars,
        destroy,
        run_id,
        earlier,
    } = &p.work
    else {
        return Performed::default();
    };
    let opened =
        super::stack_location(dir, env).and_then(|l| l.open_state().map_err(|e| e.to_string()));
    let store = match opened {
        Ok(s) => s,
        Err(e) => {
            return Performed {
                error: Some(e),
                ..Performed::default()
            }
        }
    };
    let mut runs = earlier.clone();
    // A stack run that an interrupted attempt left unfinished is resumed, not started over.
    let unfinished = earlier
        .last()
        .and_then(|id| store.run(id).ok().flatten())
        .filter(|rec| rec.status.needs_resolution() || rec.status == RunStatus::Running);
    let kind = match &unfinished {
        Some(rec) => RunKind::Resume {
            run: rec.id.clone(),
        },
        None => {
            if let Some(done) = earlier
                .last()
                .and_then(|id| store.run(id).ok().flatten())
                .filter(|rec| matches!(rec.status, RunStatus::Completed | RunStatus::Resumed))
            {
                // The stack run finished before the process died: only its outputs are
                // missing from the record.
                return Performed {
                    ok: true,
                    outputs: Some(stack_outputs(store.as_ref())),
                    child_runs: vec![done.id],
                    ..Performed::default()
                };
            }
            RunKind::Apply(PlanOpts {
                mode: if *destroy {
                    PlanMode::Destroy
                } else {
                    PlanMode::Normal
                },
                vars: cli_vars(vars.iter().map(|(k, v)| (k.as_str(), v))),
                env: Vec::new(),
                ..PlanOpts::default()
            })
        }
    };
    let mut req = RunRequest::new(dir, env, kind);
    req.board = super::stack_location(dir, env)
        .ok()
        .and_then(|l| l.open_services().ok());
    req.run_id = run_id.clone();
    req.actor = r.actor.clone();
    req.lock_timeout = Duration::from_secs(600);
    runs.push(run_id.clone());
    let hooks = StackHooks {
        errors: Mutex::new(Vec::new()),
        sources: req.sources.clone(),
    };
    let outcome = with_timeout(&req, p.timeout, || {
        lifecycle::run(store.as_ref(), &req, &hooks)
    });
    let errors = hooks
        .errors
        .lock()
        .map(|e| e.join("; "))
        .unwrap_or_default();
    let fail = |msg: String| Performed {
        error: Some(msg),
        child_runs: runs.clone(),
        ..Performed::default()
    };
    match outcome {
        Err(e) => fail(e.to_string()),
        Ok(RunOutcome::Ran(ran)) if ran.succeeded() => Performed {
            ok: true,
            outputs: Some(outputs_value(&ran.report.outputs)),
            child_runs: runs,
            ..Performed::default()
        },
        Ok(RunOutcome::Ran(ran)) => fail(format!(
            "stack run {} in {} failed{}{}",
            ran.run_id,
            dir.display(),
            if ran.report.rollback.as_ref().is_some_and(|r| r.ok) {
                " and was rolled back"
            } else {
                ""
            },
            if errors.is_empty() {
                String::new()
            } else {
                format!(": {errors}")
            }
        )),
        Ok(RunOutcome::Invalid(_)) => fail(format!(
            "the configuration in {} has errors: {errors}",
            dir.display()
        )),
        Ok(RunOutcome::Denied(gate)) => fail(format!(
            "the policies denied the stack run in {}: {}",
            dir.display(),
            gate.decision
                .findings
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Ok(RunOutcome::Declined) | Ok(RunOutcome::NothingToDo) => Performed {
            ok: true,
            outputs: Some(stack_outputs(store.as_ref())),
            child_runs: runs,
            ..Performed::default()
        },
    }
}

/// Workflow values as `--var`s would give them: strings as they are, anything else as its
/// JSON text (which the language reads as the same value).
pub(crate) fn cli_vars<'v>(vars: impl IntoIterator<Item = (&'v str, &'v Value)>) -> Vec<CliVar> {
    vars.into_iter()
        .map(|(name, v)| match v.as_str() {
            Some(s) => CliVar::Assign(name.to_string(), s.to_string()),
            None => CliVar::Assign(name.to_string(), v.to_json().to_string()),
        })
        .collect()
}

/// A stack's root outputs as one object, sensitive ones marked.
fn outputs_value(outputs: &BTreeMap<String, (Value, bool)>) -> Value {
    Value::object(
        outputs
            .iter()
            .map(|(k, (v, s))| (k.clone(), v.clone().with_sensitive(*s || v.is_sensitive())))
            .collect(),
    )
}

/// The root outputs in a stack's current state.
fn stack_outputs(store: &dyn StateStore) -> Value {
    let Ok(snap) = store.current() else {
        return Value::empty_object();
    };
    Value::object(
        snap.outputs
            .iter()
            .filter_map(|(k, o)| {
                let v = baton_engine::statecodec::decode_output(o).ok()?;
                Some((k.clone(), if o.sensitive { v.mark_sensitive() } else { v }))
            })
            .collect(),
    )
}

/// Runs `f`; after `timeout` the run is stopped (no new actions) and its running actions
/// killed.
fn with_timeout<T>(req: &RunRequest, timeout: Option<Duration>, f: impl FnOnce() -> T) -> T {
    let Some(t) = timeout else {
        return f();
    };
    let done = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            while !done.load(Ordering::SeqCst) {
                if start.elapsed() >= t {
                    req.stop.stop();
                    req.cancel.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let out = f();
        done.store(true, Ordering::SeqCst);
        out
    })
}
