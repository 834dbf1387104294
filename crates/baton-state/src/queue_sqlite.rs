//! The work queue on an SQLite file ([`WorkQueue`]), by default `.baton/queue.db` beside the
//! directory's default state file: several `baton worker` processes and the runs they serve,
//! on one machine, share work without a server.
//!
//! Safe across processes: WAL, a busy timeout, and every write one immediate (write-locking)
//! transaction, so a claim's read-check-update cannot interleave with another process's and
//! two processes never take one task. Leases are measured by the wall clock (Unix
//! milliseconds), as every process on the machine reads the same clock.
//!
//! SQLite has no LISTEN/NOTIFY: submits, completions and abandonments bump a one-row counter
//! (`q_version`), and [`WorkQueue::wait`] polls it every [`POLL`] on a connection of its own
//! until it changes or the timeout passes. An idle worker costs one tiny read per interval
//! and no writes (apart from its heartbeat).
//!
//! Must not interpret payloads or results, must not run anything, and must not be used over a
//! network filesystem (SQLite's locking is unsafe there): one machine only. Every failure is a
//! [`StateError`] naming the file; nothing panics on a bad file.
//!
//! # Schema (version 1)
//! - `q_tasks(id, run_id, key, kind, payload, run_on, state, max_claims, claims, token, worker,
//!   lease_until_ms, result, submitted_ms, finished_ms)`: one row per task, unique by
//!   `(run_id, key)`; `run_on` the required labels as a JSON object; `state` `queued`,
//!   `running`, `done` or `abandoned`; `token` bumped by every claim. Ids are never reused.
//! - `q_claims(task, token, worker, at_ms)`: every claim, in order.
//! - `q_workers(id, host, pid, labels, concurrency, started_ms, heartbeat_ms)`.
//! - `q_coordinators(run_id, kind, dir, env, holder, lease_until_ms)`.
//! - `q_version(singleton = 1, n)`: bumped when a task is queued or finished.
//!
//! Times are Unix milliseconds; `PRAGMA application_id` ("Batq") marks the file as Baton's
//! queue database, so a state or workflow database (or another program's) is refused.

use crate::queue::{
    ClaimedTask, Coordinator, NewTask, TaskOutcome, TaskRow, TaskState, WorkQueue, WorkerInfo,
    WorkerRow,
};
use crate::sqlite::{self, Failure, Migration, Schema};
use crate::stamp;
use crate::store::StateError;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often [`WorkQueue::wait`] reads the version counter.
pub const POLL: Duration = Duration::from_millis(25);

/// Every schema step of the queue database, in order (append; never edit a released one).
pub const QUEUE_MIGRATIONS: &[Migration] = &[queue_v1];

/// The queue database's schema version this build writes (`PRAGMA user_version`).
pub const QUEUE_SCHEMA_VERSION: usize = QUEUE_MIGRATIONS.len();

/// `PRAGMA application_id` of a Baton queue database: "Batq".
pub const QUEUE_APPLICATION_ID: i64 = 0x4261_7471;

const SCHEMA: Schema = Schema {
    migrations: QUEUE_MIGRATIONS,
    application_id: QUEUE_APPLICATION_ID,
    what: "queue",
};

/// The queue file of a directory whose default environment keeps its state in `state_file`:
/// `queue.db` beside it (`.baton/queue.db`).
pub fn beside(state_file: &Path) -> PathBuf {
    state_file.with_file_name("queue.db")
}

/// A work queue in one SQLite database file. Share one handle between the threads of a
/// process (`&self` methods); other processes open their own on the same file.
pub struct SqliteQueue {
    path: PathBuf,
    /// Claims, completions and everything else.
    conn: Mutex<Connection>,
    /// Only for [`WorkQueue::wait`]'s polling, so a poll never queues behind a write.
    watch: Mutex<Connection>,
    /// The version counter as the last [`WorkQueue::wait`] saw it (`None`: never waited).
    seen: Mutex<Option<i64>>,
}

impl SqliteQueue {
    /// Opens the queue database at `path`, creating it (and its parent directories) if
    /// needed. A file that is not a Baton queue database, or one written by a newer Baton, is
    /// [`StateError::Corrupt`].
    pub fn open(path: &Path) -> Result<SqliteQueue, StateError> {
        let conn = sqlite::open_database(path, &SCHEMA)?;
        let watch = sqlite::open_database(path, &SCHEMA)?;
        Ok(SqliteQueue {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            watch: Mutex::new(watch),
            seen: Mutex::new(None),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.run(TransactionBehavior::Immediate, f)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.run(TransactionBehavior::Deferred, f)
    }

    fn run<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        let mut conn = sqlite::lock_conn(&self.conn);
        let result = (|| {
            let tx = conn.transaction_with_behavior(behavior)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        result.map_err(|e: Failure| e.at(&self.path))
    }

    /// The version counter, read on the watching connection.
    fn version(&self) -> Result<i64, StateError> {
        let conn = sqlite::lock_conn(&self.watch);
        conn.prepare_cached("SELECT n FROM q_version WHERE singleton = 1")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(|e| Failure::from(e).at(&self.path))
    }

    fn seen(&self) -> MutexGuard<'_, Option<i64>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn queue_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE q_tasks (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             run_id TEXT NOT NULL,
             key TEXT NOT NULL,
             kind TEXT NOT NULL,
             payload TEXT,
             run_on TEXT NOT NULL DEFAULT '{}',
             state TEXT NOT NULL DEFAULT 'queued',
             max_claims INTEGER NOT NULL,
             claims INTEGER NOT NULL DEFAULT 0,
             token INTEGER NOT NULL DEFAULT 0,
             worker TEXT,
             lease_until_ms INTEGER,
             result TEXT,
             submitted_ms INTEGER NOT NULL,
             finished_ms INTEGER
         );
         CREATE INDEX q_tasks_open ON q_tasks (id) WHERE state IN ('queued', 'running');
         CREATE UNIQUE INDEX q_tasks_run_key ON q_tasks (run_id, key);
         CREATE INDEX q_tasks_run ON q_tasks (run_id, id);
         CREATE TABLE q_claims (
             task INTEGER NOT NULL,
             token INTEGER NOT NULL,
             worker TEXT NOT NULL,
             at_ms INTEGER NOT NULL,
             PRIMARY KEY (task, token)
         ) WITHOUT ROWID;
         CREATE TABLE q_coordinators (
             run_id TEXT PRIMARY KEY,
             kind TEXT NOT NULL,
             dir TEXT NOT NULL,
             env TEXT NOT NULL,
             holder TEXT NOT NULL,
             lease_until_ms INTEGER NOT NULL
         );
         CREATE TABLE q_workers (
             id TEXT PRIMARY KEY,
             host TEXT NOT NULL,
             pid INTEGER NOT NULL,
             labels TEXT NOT NULL,
             concurrency INTEGER NOT NULL,
             started_ms INTEGER NOT NULL,
             heartbeat_ms INTEGER NOT NULL
         );
         CREATE TABLE q_version (
             singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
             n INTEGER NOT NULL
         );
         INSERT INTO q_version (singleton, n) VALUES (1, 0);",
    )
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `now + d` in Unix milliseconds, saturating.
fn after(now: i64, d: Duration) -> i64 {
    now.saturating_add(ms(d))
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn labels_json(l: &BTreeMap<String, String>) -> String {
    serde_json::to_string(l).unwrap_or_else(|_| "{}".to_string())
}

/// Wakes every waiter: a task was queued or finished.
fn bump(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE q_version SET n = n + 1 WHERE singleton = 1")?
        .execute([])?;
    Ok(())
}

/// Claims the oldest task `worker` may take inside `tx` (an immediate transaction, so no other
/// process claims at the same time): a queued one, or a running one whose lease expired and
/// whose claims are not used up. Tasks whose claims all ran out are abandoned first, when
/// there is nothing else to take.
fn claim_in(
    tx: &Transaction<'_>,
    worker: &WorkerInfo,
    lease: Duration,
) -> Result<Option<ClaimedTask>, Failure> {
    let now = stamp::now_unix_ms();
    // A task's labels must each be among the worker's (`run_on <@ labels`).
    let pick: Option<i64> = tx
        .prepare_cached(
            "SELECT t.id FROM q_tasks t
             WHERE t.state IN ('queued', 'running')
               AND (t.state = 'queued' OR (t.lease_until_ms < ?1 AND t.claims < t.max_claims))
               AND (t.run_on = '{}' OR NOT EXISTS (
                     SELECT 1 FROM json_each(t.run_on) r
                     WHERE NOT EXISTS (SELECT 1 FROM json_each(?2) w
                                       WHERE w.key = r.key AND w.value = r.value)))
             ORDER BY t.id
             LIMIT 1",
        )?
        .query_row(rusqlite::params![now, labels_json(&worker.labels)], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(id) = pick else {
        let given_up = tx
            .prepare_cached(
                "UPDATE q_tasks SET state = 'abandoned', finished_ms = ?1, worker = NULL,
                        lease_until_ms = NULL
                 WHERE state IN ('queued', 'running') AND state = 'running'
                   AND lease_until_ms < ?1 AND claims >= max_claims",
            )?
            .execute([now])?;
        if given_up > 0 {
            bump(tx)?;
        }
        return Ok(None);
    };
    let task = tx
        .prepare_cached(
            "UPDATE q_tasks
             SET state = 'running', claims = claims + 1, token = token + 1, worker = ?2,
                 lease_until_ms = ?3
             WHERE id = ?1
             RETURNING id, run_id, key, kind, payload, token, claims",
        )?
        .query_row(rusqlite::params![id, worker.id, after(now, lease)], |r| {
            Ok(ClaimedTask {
                id: to_u64(r.get(0)?),
                run_id: r.get(1)?,
                key: r.get(2)?,
                kind: r.get(3)?,
                payload: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                token: to_u64(r.get(5)?),
                claims: to_u32(r.get(6)?),
            })
        })?;
    tx.prepare_cached("INSERT INTO q_claims (task, token, worker, at_ms) VALUES (?1, ?2, ?3, ?4)")?
        .execute(rusqlite::params![id, to_i64(task.token), worker.id, now])?;
    Ok(Some(task))
}

/// Records a result inside `tx` if the claim `token` still holds the task; `true` also when
/// this very completion was already recorded (a retry after a lost reply).
fn complete_in(
    tx: &Transaction<'_>,
    id: u64,
    token: u64,
    worker: &str,
    result: &str,
) -> Result<bool, Failure> {
    let n = tx
        .prepare_cached(
            "UPDATE q_tasks SET state = 'done', result = ?3, worker = ?4, finished_ms = ?5,
                    lease_until_ms = NULL, payload = NULL
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )?
        .execute(rusqlite::params![
            to_i64(id),
            to_i64(token),
            result,
            worker,
            stamp::now_unix_ms()
        ])?;
    if n == 1 {
        bump(tx)?;
        return Ok(true);
    }
    let again = tx
        .prepare_cached(
            "SELECT 1 FROM q_tasks WHERE id = ?1 AND token = ?2 AND state = 'done' AND worker = ?3",
        )?
        .query_row(rusqlite::params![to_i64(id), to_i64(token), worker], |_| {
            Ok(())
        })
        .optional()?;
    Ok(again.is_some())
}

impl WorkQueue for SqliteQueue {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn submit(&self, tasks: &[NewTask]) -> Result<Vec<u64>, StateError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let now = stamp::now_unix_ms();
            let mut insert = tx.prepare_cached(
                "INSERT INTO q_tasks (run_id, key, kind, payload, run_on, max_claims,
                                      submitted_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (run_id, key) DO NOTHING",
            )?;
            let mut existing =
                tx.prepare_cached("SELECT id FROM q_tasks WHERE run_id = ?1 AND key = ?2")?;
            let mut ids = Vec::with_capacity(tasks.len());
            let mut queued = false;
            for t in tasks {
                let n = insert.execute(rusqlite::params![
                    t.run_id,
                    t.key,
                    t.kind,
                    t.payload,
                    labels_json(&t.run_on),
                    i64::from(t.max_claims.max(1)),
                    now
                ])?;
                queued |= n == 1;
                let id: i64 = existing.query_row([&t.run_id, &t.key], |r| r.get(0))?;
                ids.push(to_u64(id));
            }
            if queued {
                bump(tx)?;
            }
            Ok(ids)
        })
    }

    fn claim(
        &self,
        worker: &WorkerInfo,
        lease: Duration,
    ) -> Result<Option<ClaimedTask>, StateError> {
        self.write(|tx| claim_in(tx, worker, lease))
    }

    fn renew(&self, id: u64, token: u64, lease: Duration) -> Result<bool, StateError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE q_tasks SET lease_until_ms = ?3
                     WHERE id = ?1 AND token = ?2 AND state = 'running'",
                )?
                .execute(rusqlite::params![
                    to_i64(id),
                    to_i64(token),
                    after(stamp::now_unix_ms(), lease)
                ])?;
            Ok(n == 1)
        })
    }

    fn complete(
        &self,
        id: u64,
        token: u64,
        worker: &str,
        result: &str,
    ) -> Result<bool, StateError> {
        self.write(|tx| complete_in(tx, id, token, worker, result))
    }

    fn complete_and_claim(
        &self,
        done: (u64, u64, &str),
        worker: &WorkerInfo,
        lease: Duration,
    ) -> Result<(bool, Option<ClaimedTask>), StateError> {
        let (id, token, result) = done;
        self.write(|tx| {
            let recorded = complete_in(tx, id, token, &worker.id, result)?;
            let next = claim_in(tx, worker, lease)?;
            Ok((recorded, next))
        })
    }

    fn outcomes(&self, ids: &[u64]) -> Result<Vec<(u64, TaskOutcome)>, StateError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|i| to_i64(*i)).collect();
        let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_string());
        self.read(|tx| {
            let mut st = tx.prepare_cached(
                "SELECT id, state, worker, result, claims FROM q_tasks
                 WHERE id IN (SELECT value FROM json_each(?1))
                   AND state IN ('done', 'abandoned')
                 ORDER BY id",
            )?;
            let rows = st.query_map([ids], |r| {
                let id: i64 = r.get(0)?;
                let state: String = r.get(1)?;
                let outcome = if state == "done" {
                    TaskOutcome::Done {
                        worker: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        result: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    }
                } else {
                    TaskOutcome::Abandoned {
                        claims: to_u32(r.get(4)?),
                    }
                };
                Ok((to_u64(id), outcome))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn wait(&self, timeout: Duration) -> Result<(), StateError> {
        let seen = *self.seen();
        let mut now = self.version()?;
        let Some(seen) = seen.filter(|s| *s == now) else {
            // Never waited (something may have happened before: let the caller look once),
            // or something happened since the last wait.
            *self.seen() = Some(now);
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        while now == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(POLL));
            now = self.version()?;
        }
        let mut guard = self.seen();
        *guard = Some(guard.map_or(now, |s| s.max(now)));
        Ok(())
    }

    fn heartbeat(&self, w: &WorkerInfo) -> Result<(), StateError> {
        self.write(|tx| {
            let now = stamp::now_unix_ms();
            tx.prepare_cached(
                "INSERT INTO q_workers (id, host, pid, labels, concurrency, started_ms,
                                        heartbeat_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
            )?
            .execute(rusqlite::params![
                w.id,
                w.host,
                i64::from(w.pid),
                labels_json(&w.labels),
                i64::from(w.concurrency),
                now
            ])?;
            Ok(())
        })
    }

    fn deregister(&self, worker_id: &str) -> Result<(), StateError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM q_workers WHERE id = ?1")?
                .execute([worker_id])?;
            Ok(())
        })
    }

    fn counts(&self) -> Result<crate::queue::QueueCounts, StateError> {
        let now = stamp::now_unix_ms();
        self.read(|tx| {
            let (queued, running, reclaims): (i64, i64, i64) = tx.query_row(
                "SELECT
                     COALESCE(SUM(state = 'queued'), 0),
                     COALESCE(SUM(state = 'running' AND lease_until_ms > ?1), 0),
                     COALESCE(SUM(MAX(claims - 1, 0)), 0)
                 FROM q_tasks",
                [now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let u = |n: i64| u64::try_from(n).unwrap_or(0);
            Ok(crate::queue::QueueCounts {
                queued: u(queued),
                running: u(running),
                reclaims: u(reclaims),
            })
        })
    }

    fn workers(&self, liveness: Duration) -> Result<Vec<WorkerRow>, StateError> {
        let since = stamp::now_unix_ms().saturating_sub(ms(liveness));
        self.read(|tx| {
            let mut current: BTreeMap<String, Vec<(u64, String, String)>> = BTreeMap::new();
            let mut running = tx.prepare_cached(
                "SELECT worker, id, run_id, key FROM q_tasks
                 WHERE state IN ('queued', 'running') AND state = 'running'
                   AND worker IS NOT NULL
                 ORDER BY id",
            )?;
            let rows = running.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (to_u64(r.get(1)?), r.get(2)?, r.get(3)?),
                ))
            })?;
            for row in rows {
                let (worker, task) = row?;
                current.entry(worker).or_default().push(task);
            }
            let mut st = tx.prepare_cached(
                "SELECT id, host, pid, labels, concurrency, started_ms, heartbeat_ms
                 FROM q_workers ORDER BY started_ms, id",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, host, pid, labels, concurrency, started, heartbeat) = row?;
                out.push(WorkerRow {
                    info: WorkerInfo {
                        host,
                        pid: u32::try_from(pid).unwrap_or(0),
                        labels: serde_json::from_str(&labels)?,
                        concurrency: to_u32(concurrency),
                        id: id.clone(),
                    },
                    started_at: stamp::rfc3339_ms(started),
                    heartbeat_at: stamp::rfc3339_ms(heartbeat),
                    stale: heartbeat < since,
                    current: current.remove(&id).unwrap_or_default(),
                });
            }
            Ok(out)
        })
    }

    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRow>, StateError> {
        self.read(|tx| {
            let mut log: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
            let mut claims = tx.prepare_cached(
                "SELECT c.task, c.worker, c.at_ms FROM q_claims c
                 JOIN q_tasks t ON t.id = c.task
                 WHERE t.run_id = ?1
                 ORDER BY c.task, c.token",
            )?;
            let rows = claims.query_map([run_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (task, worker, at) = row?;
                log.entry(task)
                    .or_default()
                    .push((worker, stamp::rfc3339_ms(at)));
            }
            let mut st = tx.prepare_cached(
                "SELECT id, run_id, key, kind, state, worker, claims, submitted_ms, finished_ms
                 FROM q_tasks WHERE run_id = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([run_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, run_id, key, kind, state, worker, claims, submitted, finished) = row?;
                let state = TaskState::parse(&state)
                    .ok_or_else(|| Failure::Corrupt(format!("task {id} has state {state:?}")))?;
                out.push(TaskRow {
                    id: to_u64(id),
                    run_id,
                    key,
                    kind,
                    state,
                    worker,
                    claims: to_u32(claims),
                    submitted_at: stamp::rfc3339_ms(submitted),
                    finished_at: finished.map(stamp::rfc3339_ms),
                    claim_log: log.remove(&id).unwrap_or_default(),
                });
            }
            Ok(out)
        })
    }

    fn find_task(&self, run_id: &str, key: &str) -> Result<Option<u64>, StateError> {
        self.read(|tx| {
            let id: Option<i64> = tx
                .prepare_cached("SELECT id FROM q_tasks WHERE run_id = ?1 AND key = ?2")?
                .query_row([run_id, key], |r| r.get(0))
                .optional()?;
            Ok(id.map(to_u64))
        })
    }

    fn coordinate(&self, c: &Coordinator, lease: Duration) -> Result<(), StateError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO q_coordinators (run_id, kind, dir, env, holder, lease_until_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id) DO UPDATE SET kind = excluded.kind, dir = excluded.dir,
                     env = excluded.env, holder = excluded.holder,
                     lease_until_ms = excluded.lease_until_ms",
            )?
            .execute(rusqlite::params![
                c.run_id,
                c.kind,
                c.dir,
                c.env,
                c.holder,
                after(stamp::now_unix_ms(), lease)
            ])?;
            Ok(())
        })
    }

    fn end_coordination(&self, run_id: &str) -> Result<(), StateError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM q_coordinators WHERE run_id = ?1")?
                .execute([run_id])?;
            Ok(())
        })
    }

    fn take_orphan(
        &self,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<Coordinator>, StateError> {
        self.write(|tx| {
            let now = stamp::now_unix_ms();
            let taken = tx
                .prepare_cached(
                    "UPDATE q_coordinators SET holder = ?1, lease_until_ms = ?3
                     WHERE run_id = (SELECT run_id FROM q_coordinators WHERE lease_until_ms < ?2
                                     ORDER BY lease_until_ms, run_id LIMIT 1)
                     RETURNING run_id, kind, dir, env, holder",
                )?
                .query_row(rusqlite::params![holder, now, after(now, lease)], |r| {
                    Ok(Coordinator {
                        run_id: r.get(0)?,
                        kind: r.get(1)?,
                        dir: r.get(2)?,
                        env: r.get(3)?,
                        holder: r.get(4)?,
                    })
                })
                .optional()?;
            Ok(taken)
        })
    }
}
