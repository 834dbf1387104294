//! Command steps on workers: what a command task carries through the queue
//! ([`CommandTask`], [`CommandResult`]), how a worker performs one ([`run_command_task`]),
//! and how a run's step threads submit tasks and wait for their results ([`Remote`], over
//! the queue's shared [`Waiter`]).
//!
//! Must not write the workflow store: the driving thread records outcomes, as for local
//! steps.

use super::perform::{command_step, Performed};
use baton_eval::Value;
use baton_state::queue::{NewTask, TaskOutcome, Waiter, WorkQueue};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The queue task kind of a command step.
pub const COMMAND_TASK: &str = "command";

/// How many times a command task is claimed (a worker killed mid-command loses its claim;
/// the command runs again on another) before the step fails.
const MAX_CLAIMS: u32 = 5;

/// The queue key of a step attempt's task, unique within its run: a retry is a new task, and
/// a coordinator that takes a run over finds the task its predecessor submitted for the same
/// attempt.
pub fn task_key(step: &str, attempt: u32) -> String {
    format!("{step} attempt {attempt}")
}

/// The step instance key and attempt a task's queue key names (`None`: not a step
/// attempt's key).
pub fn task_step(key: &str) -> Option<(&str, u32)> {
    let (step, n) = key.rsplit_once(" attempt ")?;
    n.parse::<u32>().ok().map(|n| (step, n))
}

/// A command step as a worker receives it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommandTask {
    pub command: String,
    pub environment: Vec<(String, String)>,
    /// The working directory (the workflow's directory: workers see the same files).
    pub cwd: PathBuf,
    pub run_id: String,
    pub step: String,
    /// The step's attempt (1 for the first): a retry is a task of its own.
    pub attempt: u32,
    pub timeout_ms: Option<u64>,
    pub sensitive: bool,
}

/// What a worker reports back.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CommandResult {
    pub ok: bool,
    pub exit_code: Option<i32>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub error: Option<String>,
    /// The outputs the command wrote to `$BATON_OUTPUTS`, as JSON.
    pub outputs: Option<serde_json::Value>,
}

/// Performs a command task on a worker and returns its result as JSON. A payload that cannot
/// be read is a failed result saying so (the step fails; the worker goes on).
pub fn run_command_task(payload: &str, worker: &str) -> String {
    let result = match serde_json::from_str::<CommandTask>(payload) {
        Ok(t) => {
            let outputs_file = std::env::temp_dir().join(format!(
                "baton-worker-{}-{}.out",
                std::process::id(),
                super::drive::file_safe(&format!("{}-{}", t.run_id, t.step))
            ));
            let mut env = t.environment.clone();
            env.push(("BATON_WORKER".into(), worker.to_string()));
            let p = command_step(
                &t.command,
                &env,
                &outputs_file,
                &t.cwd,
                &t.run_id,
                t.timeout_ms.map(Duration::from_millis),
            );
            let hidden = "(output suppressed: the command is sensitive)".to_string();
            CommandResult {
                ok: p.ok,
                exit_code: p.exit_code,
                stdout: p
                    .stdout
                    .map(|s| if t.sensitive { hidden.clone() } else { s }),
                stderr: p
                    .stderr
                    .map(|s| if t.sensitive { hidden.clone() } else { s }),
                error: p.error,
                outputs: p.outputs.map(|v| v.to_json()),
            }
        }
        Err(e) => CommandResult {
            error: Some(format!("the worker could not read the task: {e}")),
            ..CommandResult::default()
        },
    };
    serde_json::to_string(&result).unwrap_or_else(|_| "{}".to_string())
}

/// Submits tasks for a run's step threads and waits for their outcomes.
#[derive(Default)]
pub(super) struct Remote {
    waiter: Waiter,
}

impl Remote {
    /// Runs a command step on a worker: submits it and waits for its outcome (or for `stop`
    /// to be set, which leaves the task to run and reports the step unfinished).
    pub(super) fn run_command(
        &self,
        queue: &dyn WorkQueue,
        task: CommandTask,
        run_on: &[(String, String)],
        stop: &std::sync::atomic::AtomicBool,
    ) -> Performed {
        let payload = match serde_json::to_string(&task) {
            Ok(p) => p,
            Err(e) => return failed(format!("cannot encode the task: {e}")),
        };
        let new = NewTask {
            run_id: task.run_id.clone(),
            key: task_key(&task.step, task.attempt),
            kind: COMMAND_TASK.to_string(),
            payload,
            run_on: run_on.iter().cloned().collect(),
            max_claims: MAX_CLAIMS,
        };
        match self.waiter.run(queue, &new, stop) {
            Ok(TaskOutcome::Done { worker, result }) => {
                match serde_json::from_str::<CommandResult>(&result) {
                    Ok(r) => Performed {
                        ok: r.ok,
                        exit_code: r.exit_code,
                        stdout: r.stdout,
                        stderr: r.stderr,
                        error: r.error.map(|e| format!("{e} (on worker {worker})")),
                        outputs: r.outputs.map(|j| Value::from_json_implied(&j)),
                        ..Performed::default()
                    },
                    Err(e) => failed(format!("worker {worker} returned an unreadable result: {e}")),
                }
            }
            Ok(TaskOutcome::Abandoned { claims }) => failed(format!(
                "the step was claimed by workers {claims} times and never finished (each worker stopped before completing it)"
            )),
            // Stopped: the task stays queued or running on its worker.
            Err(e) => Performed {
                error: Some(e),
                unfinished: true,
                ..Performed::default()
            },
        }
    }
}

fn failed(error: String) -> Performed {
    Performed {
        error: Some(error),
        ..Performed::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_key_names_its_step() {
        assert_eq!(task_step(&task_key("migrate", 3)), Some(("migrate", 3)));
        let fanned = r#"smoke["a attempt 2"]"#;
        assert_eq!(task_step(&task_key(fanned, 1)), Some((fanned, 1)));
        assert_eq!(task_step("migrate"), None);
        assert_eq!(task_step("aws_instance.web create"), None);
    }
}
