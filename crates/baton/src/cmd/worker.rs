//! `baton worker` and `baton workers`: the terminal side of the worker loop (flags in,
//! events printed) and the list of registered workers; and opening the work queue of the
//! store a command uses.
//!
//! Must not perform tasks or decide anything about them: `baton-worker` does.

use super::Env;
use crate::cli::{WorkerArgs, WorkersArgs};
use anyhow::{anyhow, bail};
use baton_backend::location::Location;
use baton_backend::pg::queue::PgQueue;
use baton_state::queue::{parse_labels, Coordinator, WorkQueue};
use baton_worker::Event;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The work queue of the store this command uses: only a PostgreSQL store has one.
pub(super) fn open_queue(env: &Env) -> anyhow::Result<PgQueue> {
    match env.location()? {
        Location::Postgres(t) => PgQueue::open(t).map_err(|e| anyhow!(e)),
        Location::Sqlite(p) => bail!(
            "workers share a PostgreSQL store, but this command uses the SQLite file {}: set BATON_STORE=postgresql://USER@HOST/DB?schema_name=SCHEMA for every process of the team",
            p.display()
        ),
    }
}

/// A run's tasks on workers, for `runs show` (none when the store has no queue or cannot
/// be reached: showing the run does not depend on it).
pub(super) fn run_tasks(env: &Env, run_id: &str) -> Vec<baton_state::TaskRow> {
    match env.location() {
        Ok(Location::Postgres(t)) => PgQueue::open(t)
            .and_then(|q| q.tasks(run_id))
            .unwrap_or_default(),
        _ => Vec::new(),
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
    let queue = Arc::new(open_queue(env)?);
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
    baton_worker::run(&*queue, &opts, &stop, &events, &take_over).map_err(|e| anyhow!(e))?;
    eprintln!("Worker stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Continues a run whose coordinator died: `baton resume RUN` in its directory, on workers,
/// in a process of its own (which records itself as the run's coordinator). When it ends,
/// the run's coordination record goes with it.
fn resume_orphan(queue: Arc<PgQueue>, store: Option<&str>, c: &Coordinator) -> anyhow::Result<()> {
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
    let queue = open_queue(env)?;
    let liveness = std::time::Duration::from_secs(90);
    let rows = queue.workers(liveness).map_err(|e| anyhow!(e))?;
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|w| {
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
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("No workers are registered in {}.", queue.describe());
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
