//! The worker process's loop (`baton worker`): registers the worker, claims tasks from a
//! [`WorkQueue`] whose labels it carries (at most `concurrency` at once), renews the leases
//! of the tasks it holds and its own heartbeat, performs each task by its kind, and records
//! the result under the claim's token. It sleeps on the queue's wake-ups (LISTEN/NOTIFY on
//! PostgreSQL, a poll of a tiny counter on SQLite) when there is nothing to do, so an idle
//! worker costs the database one idle connection, or one small read every few milliseconds.
//!
//! Must not know how a kind of task is performed beyond dispatching it: commands are
//! `baton-workflow`'s, provider calls `baton-engine`'s. Must not decide what a run does next: the run's coordinator does.

use baton_state::queue::{ClaimedTask, Coordinator, WorkQueue, WorkerInfo};
use baton_state::StateError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Tasks at once.
    pub concurrency: u32,
    /// Labels tasks may require (`run_on`).
    pub labels: BTreeMap<String, String>,
    /// The lease of each claim, renewed every third of it while the task runs: a worker that
    /// dies loses its tasks to others after this long.
    pub lease: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 1,
            labels: BTreeMap::new(),
            lease: Duration::from_secs(30),
        }
    }
}

/// What the worker tells its caller as it goes (the CLI prints it).
#[derive(Clone, Debug)]
pub enum Event<'a> {
    Started(&'a WorkerInfo),
    Claimed(&'a ClaimedTask),
    Finished {
        task: &'a ClaimedTask,
        recorded: bool,
    },
    /// The store could not be reached; the worker keeps trying.
    StoreError(String),
    /// The coordinator of a run died (its lease ran out): this worker takes the run over.
    TakingOver(&'a Coordinator),
}

/// The task kinds this worker performs, and how.
pub fn perform(task: &ClaimedTask, worker: &str) -> String {
    match task.kind.as_str() {
        baton_workflow::exec::remote::COMMAND_TASK => {
            baton_workflow::exec::remote::run_command_task(&task.payload, worker)
        }
        baton_engine::apply::RESOURCE_TASK => baton_engine::apply::run_resource_task(
            &task.payload,
            baton_engine::providers::builtin(),
            task.claims,
        ),
        other => format!(
            "{{\"ok\":false,\"error\":{}}}",
            quote(&format!(
                "worker {worker} cannot perform tasks of kind {other:?} (is it an older version of baton?)"
            ))
        ),
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// This process's worker identity: `HOST:PID:NONCE`.
pub fn identity(opts: &Options) -> WorkerInfo {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 100_000)
        .unwrap_or(0);
    WorkerInfo {
        id: format!("{host}:{}:{nonce:05}", std::process::id()),
        host,
        pid: std::process::id(),
        labels: opts.labels.clone(),
        concurrency: opts.concurrency.max(1),
    }
}

/// Runs the worker until `stop` is set: then it takes no new task, finishes those it holds,
/// deregisters and returns. Fails only if the worker cannot register at all.
///
/// Between tasks it also looks for runs whose coordinator died (its record's lease ran out)
/// and hands each to `take_over`, which continues the run (the CLI starts `baton resume`).
pub fn run(
    queue: &dyn WorkQueue,
    opts: &Options,
    stop: &AtomicBool,
    events: &(dyn Fn(Event<'_>) + Sync),
    take_over: &(dyn Fn(&Coordinator) + Sync),
) -> Result<(), StateError> {
    let me = identity(opts);
    queue.heartbeat(&me)?;
    events(Event::Started(&me));
    let held: Mutex<BTreeMap<u64, u64>> = Mutex::new(BTreeMap::new());
    let active = AtomicU32::new(0);
    let every = (opts.lease / 3).max(Duration::from_millis(10));
    std::thread::scope(|s| {
        // Heartbeat and lease renewal.
        s.spawn(|| {
            let mut next = Instant::now() + every;
            while !stop.load(Ordering::SeqCst) || active.load(Ordering::SeqCst) > 0 {
                std::thread::sleep(Duration::from_millis(50));
                if Instant::now() < next {
                    continue;
                }
                next = Instant::now() + every;
                if let Err(e) = queue.heartbeat(&me) {
                    events(Event::StoreError(e.to_string()));
                }
                let now: Vec<(u64, u64)> = lock(&held).iter().map(|(k, v)| (*k, *v)).collect();
                for (id, token) in now {
                    if let Err(e) = queue.renew(id, token, opts.lease) {
                        events(Event::StoreError(e.to_string()));
                    }
                }
                if !stop.load(Ordering::SeqCst) {
                    match queue.take_orphan(&me.id, opts.lease) {
                        Ok(Some(c)) => {
                            events(Event::TakingOver(&c));
                            take_over(&c);
                        }
                        Ok(None) => {}
                        Err(e) => events(Event::StoreError(e.to_string())),
                    }
                }
            }
        });
        while !stop.load(Ordering::SeqCst) {
            // Fill the free slots; each slot keeps claiming until the queue is empty.
            while active.load(Ordering::SeqCst) < me.concurrency && !stop.load(Ordering::SeqCst) {
                active.fetch_add(1, Ordering::SeqCst);
                let (me, held, active) = (&me, &held, &active);
                s.spawn(move || {
                    slot(queue, me, opts, held, stop, events);
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            }
            if let Err(e) = queue.wait(Duration::from_secs(1)) {
                events(Event::StoreError(e.to_string()));
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    });
    let _ = queue.deregister(&me.id);
    Ok(())
}

/// One slot: claims and performs tasks until there is none to take (or the worker stops).
/// Recording a result and claiming the next task are one transaction.
fn slot(
    queue: &dyn WorkQueue,
    me: &WorkerInfo,
    opts: &Options,
    held: &Mutex<BTreeMap<u64, u64>>,
    stop: &AtomicBool,
    events: &(dyn Fn(Event<'_>) + Sync),
) {
    let mut next = match queue.claim(me, opts.lease) {
        Ok(t) => t,
        Err(e) => {
            events(Event::StoreError(e.to_string()));
            None
        }
    };
    while let Some(task) = next.take() {
        lock(held).insert(task.id, task.token);
        events(Event::Claimed(&task));
        let result = perform(&task, &me.id);
        let recorded = if stop.load(Ordering::SeqCst) {
            complete(queue, &task, &me.id, &result, events)
        } else {
            match queue.complete_and_claim((task.id, task.token, &result), me, opts.lease) {
                Ok((recorded, claimed)) => {
                    next = claimed;
                    recorded
                }
                Err(e) => {
                    events(Event::StoreError(e.to_string()));
                    let recorded = complete(queue, &task, &me.id, &result, events);
                    next = queue.claim(me, opts.lease).unwrap_or(None);
                    recorded
                }
            }
        };
        lock(held).remove(&task.id);
        events(Event::Finished {
            task: &task,
            recorded,
        });
    }
}

/// Records a result, retrying while the store is unreachable (the lease keeps the claim ours
/// meanwhile, renewed by the heartbeat thread).
fn complete(
    queue: &dyn WorkQueue,
    task: &ClaimedTask,
    worker: &str,
    result: &str,
    events: &(dyn Fn(Event<'_>) + Sync),
) -> bool {
    for _ in 0..20 {
        match queue.complete(task.id, task.token, worker, result) {
            Ok(recorded) => return recorded,
            Err(e) => {
                events(Event::StoreError(e.to_string()));
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    false
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
