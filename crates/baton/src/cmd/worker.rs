//! `baton worker` and `baton workers`: the terminal side of the worker loop (flags in,
//! events printed) and the list of registered workers; and opening the work queue of the
//! store a command uses.
//!
//! Must not perform tasks or decide anything about them: `baton-worker` does.

use super::Env;
use crate::cli::{WorkerArgs, WorkersArgs};
use anyhow::{anyhow, bail};
use baton_backend::location::Location;
use baton_state::queue::{
    parse_labels, ClaimedTask, Coordinator, NewTask, TaskOutcome, TaskRow, WorkQueue, WorkerInfo,
    WorkerRow,
};
use baton_state::StateError;
use baton_worker::Event;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The work queue of the directory: with the embedded store, `queue.db` beside the default
/// environment's state file (`.baton/queue.db`, created if missing: processes on this machine
/// share it); with PostgreSQL, the store's queue schema. Every environment of the directory
/// uses the same queue, so one set of workers serves them all.
pub(super) fn open_queue(env: &Env) -> anyhow::Result<Arc<dyn WorkQueue>> {
    let location = env.workflow_location()?;
    location
        .open_queue()
        .map(Arc::from)
        .map_err(|e| anyhow!("cannot open the work queue: {e}"))
}

/// The queue for a stack run, which may turn out to need it only once its configuration is
/// read (a `terraform { baton { executor = "workers" } }` setting): opened now when `wanted`
/// (an error then stops the run before anything changes) or the store is PostgreSQL (as
/// before: the queue is part of the store); otherwise on first use, so a run that stays local
/// never creates `.baton/queue.db`.
pub(super) fn queue_for_run(env: &Env, wanted: bool) -> anyhow::Result<Arc<dyn WorkQueue>> {
    let location = env.workflow_location()?;
    match location.sqlite_queue_path() {
        Some(path) if !wanted => Ok(Arc::new(OnFirstUse {
            location: location.clone(),
            path,
            queue: std::sync::Mutex::new(None),
        })),
        _ => open_queue(env),
    }
}

/// The directory's queue if it has one already (PostgreSQL, or an existing `queue.db`): for
/// the agent, which continues runs whose coordinator died but never creates a queue.
pub(super) fn existing_queue(env: &Env) -> Option<Arc<dyn WorkQueue>> {
    let location = env.workflow_location().ok()?;
    if location.sqlite_queue_path().is_some_and(|p| !p.exists()) {
        return None;
    }
    location.open_queue().ok().map(Arc::from)
}

/// Takes over one run whose coordinator died, if any, for `holder`, and continues it (see
/// [`resume_orphan`]); what happened goes to stderr.
pub(super) fn take_over_orphan(
    queue: &Arc<dyn WorkQueue>,
    store: Option<&str>,
    holder: &str,
    lease: Duration,
) {
    match queue.take_orphan(holder, lease) {
        Ok(Some(c)) => {
            eprintln!(
                "the coordinator of {} run {} is gone: continuing it (baton resume in {})",
                c.kind, c.run_id, c.dir
            );
            if let Err(e) = resume_orphan(Arc::clone(queue), store, &c) {
                eprintln!("cannot continue run {}: {e}", c.run_id);
            }
        }
        Ok(None) => {}
        Err(e) => eprintln!("store error (retrying): {e}"),
    }
}

/// A run's tasks on workers, for `runs show` (none when the directory has no queue or it
/// cannot be read: showing the run does not depend on it). An SQLite queue is not created.
pub(super) fn run_tasks(env: &Env, run_id: &str) -> Vec<baton_state::TaskRow> {
    let Ok(location) = env.workflow_location() else {
        return Vec::new();
    };
    if location.sqlite_queue_path().is_some_and(|p| !p.exists()) {
        return Vec::new();
    }
    location
        .open_queue()
        .and_then(|q| q.tasks(run_id))
        .unwrap_or_default()
}

/// An SQLite queue opened when a run first uses it (see [`queue_for_run`]). A failed open is
/// an error of that call, and is tried again on the next.
struct OnFirstUse {
    location: Location,
    path: std::path::PathBuf,
    queue: std::sync::Mutex<Option<Arc<dyn WorkQueue>>>,
}

impl OnFirstUse {
    fn get(&self) -> Result<Arc<dyn WorkQueue>, baton_state::StateError> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = q.as_ref() {
            return Ok(Arc::clone(q));
        }
        let opened: Arc<dyn WorkQueue> = Arc::from(self.location.open_queue()?);
        *q = Some(Arc::clone(&opened));
        Ok(opened)
    }
}

impl WorkQueue for OnFirstUse {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn submit(&self, tasks: &[NewTask]) -> Result<Vec<u64>, StateError> {
        self.get()?.submit(tasks)
    }

    fn claim(&self, w: &WorkerInfo, lease: Duration) -> Result<Option<ClaimedTask>, StateError> {
        self.get()?.claim(w, lease)
    }

    fn renew(&self, id: u64, token: u64, lease: Duration) -> Result<bool, StateError> {
        self.get()?.renew(id, token, lease)
    }

    fn complete(&self, id: u64, token: u64, w: &str, result: &str) -> Result<bool, StateError> {
        self.get()?.complete(id, token, w, result)
    }

    fn complete_and_claim(
        &self,
        done: (u64, u64, &str),
        w: &WorkerInfo,
        lease: Duration,
    ) -> Result<(bool, Option<ClaimedTask>), StateError> {
        self.get()?.complete_and_claim(done, w, lease)
    }

    fn outcomes(&self, ids: &[u64]) -> Result<Vec<(u64, TaskOutcome)>, StateError> {
        self.get()?.outcomes(ids)
    }

    fn wait(&self, timeout: Duration) -> Result<(), StateError> {
        self.get()?.wait(timeout)
    }

    fn heartbeat(&self, w: &WorkerInfo) -> Result<(), StateError> {
        self.get()?.heartbeat(w)
    }

    fn deregister(&self, worker_id: &str) -> Result<(), StateError> {
        self.get()?.deregister(worker_id)
    }

    fn workers(&self, liveness: Duration) -> Result<Vec<WorkerRow>, StateError> {
        self.get()?.workers(liveness)
    }

    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRow>, StateError> {
        self.get()?.tasks(run_id)
    }

    fn counts(&self) -> Result<baton_state::queue::QueueCounts, StateError> {
        self.get()?.counts()
    }

    fn find_task(&self, run_id: &str, key: &str) -> Result<Option<u64>, StateError> {
        self.get()?.find_task(run_id, key)
    }

    fn coordinate(&self, c: &Coordinator, lease: Duration) -> Result<(), StateError> {
        self.get()?.coordinate(c, lease)
    }

    fn end_coordination(&self, run_id: &str) -> Result<(), StateError> {
        self.get()?.end_coordination(run_id)
    }

    fn take_orphan(
        &self,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<Coordinator>, StateError> {
        self.get()?.take_orphan(holder, lease)
    }
}

pub fn worker(env: &Env, a: &WorkerArgs) -> anyhow::Result<ExitCode> {
    if a.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let labels = parse_labels(&a.labels).map_err(|e| anyhow!("invalid --labels: {e}"))?;
    let lease = super::parse_duration("--lease", &a.lease)?;
    let until = match &a.for_ {
        Some(d) => Some(std::time::Instant::now() + super::parse_duration("--for", d)?),
        None => None,
    };
    let queue = open_queue(env)?;
    let opts = baton_worker::Options {
        concurrency: a.concurrency,
        labels,
        lease,
    };
    let stop = Arc::new(AtomicBool::new(false));
    crate::ui::on_interrupt_flag(stop.clone());
    if let Some(until) = until {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    let events = |e: Event<'_>| match e {
        Event::Started(w) => eprintln!(
            "Worker {} serving {} (concurrency {}{}).",
            w.id,
            queue.describe(),
            w.concurrency,
            if w.labels.is_empty() {
                String::new()
            } else {
                format!(
                    ", labels {}",
                    w.labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        ),
        Event::Claimed(t) => eprintln!(
            "claimed task {} ({} {} of run {}, claim {})",
            t.id, t.kind, t.key, t.run_id, t.claims
        ),
        Event::Finished { task, recorded } => {
            if !recorded {
                eprintln!(
                    "task {} finished, but its claim was lost (another worker took it over): result not recorded",
                    task.id
                );
            }
        }
        Event::StoreError(m) => eprintln!("store error (retrying): {m}"),
        Event::TakingOver(c) => eprintln!(
            "the coordinator of {} run {} is gone: continuing it (baton resume in {})",
            c.kind, c.run_id, c.dir
        ),
    };
    let take_over = |c: &Coordinator| {
        if let Err(e) = resume_orphan(Arc::clone(&queue), env.store_flag(), c) {
            eprintln!("cannot continue run {}: {e}", c.run_id);
        }
    };
    let ran = baton_worker::run(&*queue, &opts, &stop, &events, &take_over);
    // The plugins the worker's tasks started stop with it.
    baton_engine::apply::release_task_providers();
    ran.map_err(|e| anyhow!(e))?;
    eprintln!("Worker stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Continues a run whose coordinator died: `baton resume RUN` in its directory, on workers,
/// in a process of its own (which records itself as the run's coordinator). When it ends,
/// the run's coordination record goes with it.
fn resume_orphan(
    queue: Arc<dyn WorkQueue>,
    store: Option<&str>,
    c: &Coordinator,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find this program: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--chdir").arg(&c.dir);
    if !c.env.is_empty() {
        cmd.arg("--env").arg(&c.env);
    }
    cmd.arg("resume").arg(&c.run_id).arg("--auto-approve");
    if c.kind == "stack" {
        // Wait for the dead coordinator's state lock to lapse (on another host: its lease).
        cmd.args(["--lock-timeout", "2m"]);
    }
    // The store goes by the environment (never the command line, where others could read
    // a password): the worker's own, which is the run's (its queue is the store's).
    if let Some(store) = store {
        cmd.env("BATON_STORE", store);
    }
    cmd.env("BATON_EXECUTOR", "workers")
        .stdin(std::process::Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow!("cannot start baton resume: {e}"))?;
    let run = c.run_id.clone();
    let queue_desc = queue.describe();
    std::thread::spawn(move || {
        let status = child.wait();
        eprintln!(
            "continued run {run} ({queue_desc}): {}",
            match status {
                Ok(s) if s.success() => "done".to_string(),
                Ok(s) => format!("baton resume ended with {s}"),
                Err(e) => format!("cannot wait for baton resume: {e}"),
            }
        );
        let _ = queue.end_coordination(&run);
    });
    Ok(())
}

pub fn workers(env: &Env, a: &WorkersArgs) -> anyhow::Result<ExitCode> {
    let (rows, place) = worker_rows(env)?;
    if a.json {
        let v: Vec<_> = rows.iter().map(worker_json).collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("No workers are registered in {place}.");
    }
    for w in rows {
        let labels: Vec<String> = w
            .info
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        outln!(
            "{}  concurrency {}  labels [{}]  heartbeat {}{}  {}",
            w.info.id,
            w.info.concurrency,
            labels.join(","),
            w.heartbeat_at,
            if w.stale { " (stale)" } else { "" },
            if w.current.is_empty() {
                "idle".to_string()
            } else {
                w.current
                    .iter()
                    .map(|(id, run, key)| format!("task {id} ({key} of {run})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The queue's workers (an SQLite queue nobody opened yet has none and is not created for
/// asking) and where the queue is.
fn worker_rows(env: &Env) -> anyhow::Result<(Vec<baton_state::WorkerRow>, String)> {
    let liveness = std::time::Duration::from_secs(90);
    // An SQLite queue nobody opened yet has no workers (and is not created for asking).
    Ok(match env.workflow_location()?.sqlite_queue_path() {
        Some(p) if !p.exists() => (Vec::new(), p.display().to_string()),
        _ => {
            let queue = open_queue(env)?;
            let rows = queue.workers(liveness).map_err(|e| anyhow!(e))?;
            (rows, queue.describe())
        }
    })
}

/// One worker as `baton workers --json` and the API show it.
fn worker_json(w: &baton_state::WorkerRow) -> serde_json::Value {
    serde_json::json!({
        "id": w.info.id,
        "host": w.info.host,
        "pid": w.info.pid,
        "labels": w.info.labels,
        "concurrency": w.info.concurrency,
        "started_at": w.started_at,
        "heartbeat_at": w.heartbeat_at,
        "stale": w.stale,
        "current": w.current.iter().map(|(id, run, key)| serde_json::json!({"task": id, "run": run, "key": key})).collect::<Vec<_>>(),
    })
}

/// `baton workers --json`'s list.
pub(super) fn workers_json(env: &Env) -> anyhow::Result<Vec<serde_json::Value>> {
    Ok(worker_rows(env)?.0.iter().map(worker_json).collect())
}
