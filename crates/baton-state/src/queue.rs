//! The work queue contract: a run's ready actions become task rows that worker processes, on
//! any number of machines, claim (each task by one worker at a time, under a lease with a
//! token), keep alive while they work, and complete with a result; the submitting run waits
//! for the results. A task whose worker stopped renewing is claimed again after its lease
//! expires, and the expired holder's completion is refused. Workers register themselves
//! (labels, heartbeat, current task) so `baton workers` can list them, and every claim and
//! completion is kept, so a run's tasks name who did what.
//!
//! Must not interpret payloads or results (opaque JSON here) and must not run anything: the
//! submitting engine builds payloads, the worker loop performs them.

use crate::StateError;
use std::collections::BTreeMap;
use std::time::Duration;

/// The queue at a glance ([`WorkQueue::counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Tasks waiting for a worker.
    pub queued: u64,
    /// Tasks a worker holds under a live lease.
    pub running: u64,
    /// Claims taken after an earlier claim's lease ran out (the sum over tasks of their claims
    /// beyond the first): how often a worker was lost mid-task.
    pub reclaims: u64,
}

/// A task to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTask {
    /// The run it belongs to (a workflow run or a stack run id).
    pub run_id: String,
    /// What it is within the run (a step instance key and attempt, or a resource address and
    /// action): unique within the run.
    pub key: String,
    /// What performs it (`command`, …): the worker dispatches on it.
    pub kind: String,
    /// The task's inputs as JSON (opaque here).
    pub payload: String,
    /// Labels a worker must carry (each `k = v` must be among the worker's), as Nomad
    /// constraints.
    pub run_on: BTreeMap<String, String>,
    /// How many times the task may be claimed before it fails for good (a task that kills
    /// every worker that takes it must not go round forever).
    pub max_claims: u32,
}

/// A task a worker has claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedTask {
    pub id: u64,
    pub run_id: String,
    pub key: String,
    pub kind: String,
    pub payload: String,
    /// The claim's token: renewals and the completion must carry it.
    pub token: u64,
    /// How many times the task has been claimed, this claim included.
    pub claims: u32,
}

/// A task's state as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Queued,
    Running,
    Done,
    /// Claimed `max_claims` times without a completion.
    Abandoned,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Done => "done",
            TaskState::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        Some(match s {
            "queued" => TaskState::Queued,
            "running" => TaskState::Running,
            "done" => TaskState::Done,
            "abandoned" => TaskState::Abandoned,
            _ => return None,
        })
    }
}

/// A task as listed (for `baton runs show` and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    pub id: u64,
    pub run_id: String,
    pub key: String,
    pub kind: String,
    pub state: TaskState,
    /// The worker holding it, or that completed it.
    pub worker: Option<String>,
    pub claims: u32,
    pub submitted_at: String,
    pub finished_at: Option<String>,
    /// Every claim in order: (worker, time).
    pub claim_log: Vec<(String, String)>,
}

/// What a finished task came to: the worker's result (JSON), or why it was abandoned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOutcome {
    Done { worker: String, result: String },
    Abandoned { claims: u32 },
}

/// A worker process as it registers itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerInfo {
    /// Unique per process: `HOST:PID:RANDOM`.
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub labels: BTreeMap<String, String>,
    pub concurrency: u32,
}

/// A worker as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRow {
    pub info: WorkerInfo,
    pub started_at: String,
    pub heartbeat_at: String,
    /// Whether its heartbeat is older than the liveness window it registered with.
    pub stale: bool,
    /// Tasks it holds now: (task id, run, key).
    pub current: Vec<(u64, String, String)>,
}

pub trait WorkQueue: Send + Sync {
    /// For messages: where the queue is (never with a password).
    fn describe(&self) -> String;

    /// Queues tasks (in one transaction) and wakes idle workers; returns their ids in order.
    /// A task with the run and key of one submitted before is not queued again: the earlier
    /// one's id is returned, so a coordinator that takes a run over waits for the work its
    /// predecessor handed out instead of doing it twice.
    fn submit(&self, tasks: &[NewTask]) -> Result<Vec<u64>, StateError>;

    /// Claims the oldest task this worker may take (its `run_on` labels among the worker's):
    /// a queued one, or a running one whose lease expired. Never blocks on tasks other
    /// workers are claiming at the same moment. `None` when there is nothing to take.
    fn claim(
        &self,
        worker: &WorkerInfo,
        lease: Duration,
    ) -> Result<Option<ClaimedTask>, StateError>;

    /// Pushes a claimed task's lease; `false` when the claim was lost (the lease expired and
    /// another worker claimed the task).
    fn renew(&self, id: u64, token: u64, lease: Duration) -> Result<bool, StateError>;

    /// Records a claimed task's result; `false` (recording nothing) when the claim was lost.
    fn complete(&self, id: u64, token: u64, worker: &str, result: &str)
        -> Result<bool, StateError>;

    /// Records a claimed task's result (`done`: id, token, result) and claims the next task
    /// this worker may take, in one step where the store can (one transaction, one commit).
    /// Returns whether the result was recorded, and the next task.
    fn complete_and_claim(
        &self,
        done: (u64, u64, &str),
        worker: &WorkerInfo,
        lease: Duration,
    ) -> Result<(bool, Option<ClaimedTask>), StateError> {
        let recorded = self.complete(done.0, done.1, &worker.id, done.2)?;
        Ok((recorded, self.claim(worker, lease)?))
    }

    /// The outcomes of those of `ids` that are finished (done or abandoned).
    fn outcomes(&self, ids: &[u64]) -> Result<Vec<(u64, TaskOutcome)>, StateError>;

    /// Waits until a task may have been queued or finished, or `timeout` passes (LISTEN/NOTIFY
    /// where the store has it, a short sleep otherwise). Spurious wake-ups are allowed.
    fn wait(&self, timeout: Duration) -> Result<(), StateError>;

    /// Registers the worker or refreshes its heartbeat.
    fn heartbeat(&self, worker: &WorkerInfo) -> Result<(), StateError>;

    /// Removes a worker that stops cleanly.
    fn deregister(&self, worker_id: &str) -> Result<(), StateError>;

    /// Every registered worker; `stale` after `liveness` without a heartbeat.
    fn workers(&self, liveness: Duration) -> Result<Vec<WorkerRow>, StateError>;

    /// A run's tasks, in submission order.
    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRow>, StateError>;

    /// How much is waiting and running across every run, for metrics.
    fn counts(&self) -> Result<QueueCounts, StateError>;

    /// The id of the task a run submitted under `key`, if it did.
    fn find_task(&self, run_id: &str, key: &str) -> Result<Option<u64>, StateError>;

    /// Records that `c.holder` coordinates run `c.run_id` (walks its graph and hands its
    /// actions out) for a lease, replacing any earlier coordinator's record. Renewed by
    /// calling it again; removed with [`WorkQueue::end_coordination`]. Two coordinators of one
    /// run never both act: the run's state lock (or workflow claim) decides; this record only
    /// lets others find a run whose coordinator died.
    fn coordinate(&self, c: &Coordinator, lease: Duration) -> Result<(), StateError>;

    /// Removes the coordination record of a run that ended (or was handed over).
    fn end_coordination(&self, run_id: &str) -> Result<(), StateError>;

    /// Takes over the coordination of one run whose coordinator's lease expired, if any:
    /// the record names `holder` now, leased for `lease`, and is returned.
    fn take_orphan(&self, holder: &str, lease: Duration)
        -> Result<Option<Coordinator>, StateError>;
}

impl std::fmt::Debug for dyn WorkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkQueue({})", self.describe())
    }
}

/// Who coordinates a run handed to workers, and what a successor needs to continue it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinator {
    pub run_id: String,
    /// `stack` (an apply, destroy, resume or rollback) or `workflow`.
    pub kind: String,
    /// The stack's or workflows' directory.
    pub dir: String,
    /// The environment.
    pub env: String,
    /// The process coordinating it now (`host pid N`).
    pub holder: String,
}

/// Submits tasks and waits for their outcomes on behalf of many threads of one run: the first
/// waiting thread listens to the queue ([`WorkQueue::wait`]) and reads the outcomes of every
/// pending task; the others sleep until it wakes them. So a hundred actions in flight cost one
/// listener, not a hundred pollers.
#[derive(Default)]
pub struct Waiter {
    state: std::sync::Mutex<Waiting>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct Waiting {
    /// Tasks submitted and not yet taken back by their thread, with their outcome once known.
    pending: BTreeMap<u64, Option<TaskOutcome>>,
    /// Whether a thread is listening for completions now.
    listening: bool,
}

impl Waiter {
    /// Submits `task` and waits for its outcome, or until `stop` is set (an error: the task
    /// stays queued or running, and a later run submitting the same run and key waits for it).
    pub fn run(
        &self,
        queue: &dyn WorkQueue,
        task: &NewTask,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<TaskOutcome, String> {
        let id = match queue.submit(std::slice::from_ref(task)) {
            Ok(ids) => match ids.first() {
                Some(id) => *id,
                None => return Err("the queue returned no task id".to_string()),
            },
            Err(e) => return Err(format!("cannot queue {}: {e}", task.key)),
        };
        self.wait_for(queue, id, stop)
    }

    /// Waits for the outcome of a task submitted earlier (by this run or one it continues).
    pub fn wait(
        &self,
        queue: &dyn WorkQueue,
        id: u64,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<TaskOutcome, String> {
        self.wait_for(queue, id, stop)
    }

    /// Waits until task `id` is finished: the first waiter listens and reads outcomes for
    /// everyone; the others sleep until it wakes them.
    fn wait_for(
        &self,
        queue: &dyn WorkQueue,
        id: u64,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<TaskOutcome, String> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.pending.insert(id, None);
        loop {
            if let Some(Some(_)) = st.pending.get(&id) {
                if let Some(Some(outcome)) = st.pending.remove(&id) {
                    return Ok(outcome);
                }
            }
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                st.pending.remove(&id);
                return Err("the run was stopped while the step was on a worker".to_string());
            }
            if st.listening {
                st = self
                    .changed
                    .wait_timeout(st, Duration::from_millis(500))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
                continue;
            }
            st.listening = true;
            let ids: Vec<u64> = st
                .pending
                .iter()
                .filter(|(_, o)| o.is_none())
                .map(|(k, _)| *k)
                .collect();
            drop(st);
            let found = queue.outcomes(&ids);
            let waited = match &found {
                Ok(f) if f.is_empty() => queue.wait(Duration::from_millis(500)),
                _ => Ok(()),
            };
            st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.listening = false;
            match found {
                Ok(found) => {
                    let mut any = false;
                    for (k, o) in found {
                        if let Some(slot) = st.pending.get_mut(&k) {
                            *slot = Some(o);
                            any = true;
                        }
                    }
                    if any {
                        self.changed.notify_all();
                    }
                }
                Err(_) => {
                    // The store is unreachable for now: try again shortly (the pool
                    // reconnects with backoff).
                    drop(st);
                    std::thread::sleep(Duration::from_millis(200));
                    st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                }
            }
            // A failed wait reopens its listener next time; outcomes are read again anyway.
            let _ = waited;
            // Let a sleeping waiter take over listening if this one's task is done.
            self.changed.notify_one();
        }
    }
}

/// Keeps a run's coordination record alive while the run is coordinated here (renewed every
/// third of the lease from a thread of its own) and removes it when dropped, so that workers
/// take the run over only if this process dies.
pub struct Beacon {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Beacon {
    /// Records `c` and keeps it alive. Failing to record it is not an error for the run (it
    /// only loses the takeover); the first failure is returned for the caller to report.
    pub fn start(
        queue: std::sync::Arc<dyn WorkQueue>,
        c: Coordinator,
        lease: Duration,
    ) -> (Beacon, Option<StateError>) {
        let first = queue.coordinate(&c, lease).err();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let every = (lease / 3).max(Duration::from_millis(10));
        let thread = std::thread::Builder::new()
            .name("baton-coordinator".to_string())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    let _ = queue.coordinate(&c, lease);
                }
                let _ = queue.end_coordination(&c.run_id);
            })
            .ok();
        (
            Beacon {
                stop: Some(stop),
                thread,
            },
            first,
        )
    }
}

impl Drop for Beacon {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether a worker with `labels` may take a task that requires `run_on`.
pub fn labels_match(run_on: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    run_on.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Parses `k=v,k2=v2` (worker `--labels`); an entry without `=` is an error naming it.
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => return Err(format!("label {part:?} is not of the form key=value")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_parsed_and_matched() {
        let l = parse_labels("zone=eu, gpu=yes").expect("labels");
        assert!(labels_match(&BTreeMap::new(), &l));
        assert!(labels_match(&parse_labels("zone=eu").expect("l"), &l));
        assert!(!labels_match(&parse_labels("zone=us").expect("l"), &l));
        assert!(!labels_match(&parse_labels("arch=arm").expect("l"), &l));
        assert!(parse_labels("zone").is_err());
    }
}
