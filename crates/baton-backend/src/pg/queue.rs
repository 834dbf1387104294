//! The work queue on PostgreSQL ([`baton_state::WorkQueue`]): task rows claimed with
//! `SELECT … FOR UPDATE SKIP LOCKED` (no worker ever waits on another's claim), leases with
//! tokens, and LISTEN/NOTIFY so that an idle worker wakes within milliseconds of a submit and
//! a waiting run within milliseconds of a completion, without polling the database in a loop.
//! Tables `q_tasks`, `q_claims` and `q_workers`, in the target's schema.
//!
//! Must not interpret payloads or results, and must not run anything.

use super::pool::{self, Pool, Settings};
use super::target::PgTarget;
use super::{connect, error, saturating};
use baton_state::queue::{
    ClaimedTask, Coordinator, NewTask, TaskOutcome, TaskRow, TaskState, WorkQueue, WorkerInfo,
    WorkerRow,
};
use baton_state::StateError;
use postgres::fallible_iterator::FallibleIterator;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS q_tasks (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT,
    run_on JSONB NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'queued',
    max_claims INT NOT NULL,
    claims INT NOT NULL DEFAULT 0,
    token BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until TIMESTAMPTZ,
    result TEXT,
    submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS q_tasks_open ON q_tasks (id) WHERE state IN ('queued', 'running');
CREATE UNIQUE INDEX IF NOT EXISTS q_tasks_run_key ON q_tasks (run_id, key);
CREATE INDEX IF NOT EXISTS q_tasks_run ON q_tasks (run_id, id);
CREATE TABLE IF NOT EXISTS q_claims (
    task BIGINT NOT NULL,
    token BIGINT NOT NULL,
    worker TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task, token)
);
CREATE TABLE IF NOT EXISTS q_coordinators (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    dir TEXT NOT NULL,
    env TEXT NOT NULL,
    holder TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS q_workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    labels JSONB NOT NULL,
    concurrency INT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
";

/// The advisory lock that serializes creating the tables in a fresh schema.
const MIGRATION_LOCK: i64 = 0x6261_746f_6e51; // "batonQ"

/// Idle connections kept: a worker's threads claim and complete at once.
const SETTINGS: Settings = Settings {
    max_idle: 8,
    unconfirmed: pool::unconfirmed,
};

const TIME: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"";

pub struct PgQueue {
    pool: Pool,
    /// The connection that LISTENs, opened on the first [`WorkQueue::wait`].
    listener: Mutex<Option<postgres::Client>>,
    /// NOTIFY channels, per schema so that queues in one database stay apart.
    tasks_channel: String,
    done_channel: String,
}

impl PgQueue {
    /// Opens the work queue of `target` (in its queue schema: the schema the user named,
    /// shared by every environment), creating its tables if they are missing.
    pub fn open(target: &PgTarget) -> Result<PgQueue, StateError> {
        let target = &target.queue_target();
        let pool = Pool::open(target, SETTINGS)?;
        pool.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        })?;
        Ok(PgQueue {
            tasks_channel: format!("baton_tasks_{}", target.schema),
            done_channel: format!("baton_done_{}", target.schema),
            pool,
            listener: Mutex::new(None),
        })
    }

    fn time(col: &str) -> String {
        format!("to_char({col} AT TIME ZONE 'UTC', '{TIME}')")
    }
}

fn ms(d: Duration) -> i64 {
    saturating(d.as_millis())
}

fn id_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn labels_json(l: &BTreeMap<String, String>) -> String {
    serde_json::to_string(l).unwrap_or_else(|_| "{}".to_string())
}

impl PgQueue {
    /// Claims the oldest task `worker` may take, inside `tx`: one statement that takes the row
    /// (skipping rows others are claiming), bumps its token and logs the claim. Tasks whose
    /// claims all ran out are given up first, when there is nothing else to take.
    fn claim_in(
        &self,
        tx: &mut postgres::Transaction<'_>,
        worker: &WorkerInfo,
        lease: Duration,
    ) -> Result<Option<ClaimedTask>, postgres::Error> {
        let labels = labels_json(&worker.labels);
        let row = tx.query_opt(
            "WITH c AS (
                 UPDATE q_tasks t
                 SET state = 'running', claims = t.claims + 1, token = t.token + 1,
                     worker = $2, lease_until = now() + $3::bigint * interval '1 millisecond'
                 FROM (SELECT id FROM q_tasks
                       WHERE (state = 'queued'
                              OR (state = 'running' AND lease_until < now()
                                  AND claims < max_claims))
                         AND run_on <@ $1::text::jsonb
                       ORDER BY id
                       FOR UPDATE SKIP LOCKED
                       LIMIT 1) pick
                 WHERE t.id = pick.id
                 RETURNING t.id, t.run_id, t.key, t.kind, t.payload, t.token, t.claims),
             log AS (INSERT INTO q_claims (task, token, worker) SELECT id, token, $2 FROM c)
             SELECT id, run_id, key, kind, payload, token, claims FROM c",
            &[&labels, &worker.id, &ms(lease)],
        )?;
        let Some(row) = row else {
            // Nothing to take: give up tasks whose every claim was lost, and tell their runs.
            let given_up = tx.execute(
                "UPDATE q_tasks SET state = 'abandoned', finished_at = now(), worker = NULL
                 WHERE id IN (SELECT id FROM q_tasks
                              WHERE state = 'running' AND lease_until < now()
                                AND claims >= max_claims
                              FOR UPDATE SKIP LOCKED)",
                &[],
            )?;
            if given_up > 0 {
                tx.batch_execute(&format!("NOTIFY {}", self.done_channel))?;
            }
            return Ok(None);
        };
        let id: i64 = row.get(0);
        let token: i64 = row.get(5);
        let claims: i32 = row.get(6);
        Ok(Some(ClaimedTask {
            id: id_u64(id),
            run_id: row.get(1),
            key: row.get(2),
            kind: row.get(3),
            payload: row.get::<_, Option<String>>(4).unwrap_or_default(),
            token: id_u64(token),
            claims: u32::try_from(claims).unwrap_or(0),
        }))
    }

    /// Records a result inside `tx` if the claim `token` still holds the task; `true` also
    /// when this very completion was already recorded (a retry after a lost reply).
    fn complete_in(
        &self,
        tx: &mut postgres::Transaction<'_>,
        id: u64,
        token: u64,
        worker: &str,
        result: &str,
    ) -> Result<bool, postgres::Error> {
        let n = tx.execute(
            "UPDATE q_tasks SET state = 'done', result = $3, worker = $4,
                    finished_at = now(), lease_until = NULL, payload = NULL
             WHERE id = $1 AND token = $2 AND state = 'running'",
            &[&saturating(id), &saturating(token), &result, &worker],
        )?;
        if n == 1 {
            tx.batch_execute(&format!("NOTIFY {}, '{id}'", self.done_channel))?;
            return Ok(true);
        }
        let again = tx.query_opt(
            "SELECT 1 FROM q_tasks WHERE id = $1 AND token = $2 AND state = 'done' AND worker = $3",
            &[&saturating(id), &saturating(token), &worker],
        )?;
        Ok(again.is_some())
    }
}

impl WorkQueue for PgQueue {
    fn describe(&self) -> String {
        self.pool.target().describe()
    }

    fn submit(&self, tasks: &[NewTask]) -> Result<Vec<u64>, StateError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let notify = format!("NOTIFY {}", self.tasks_channel);
        self.pool.with(|c| {
            let mut tx = c.transaction()?;
            let st = tx.prepare(
                "INSERT INTO q_tasks (run_id, key, kind, payload, run_on, max_claims)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)
                 ON CONFLICT (run_id, key) DO UPDATE SET key = EXCLUDED.key
                 RETURNING id",
            )?;
            let mut ids = Vec::with_capacity(tasks.len());
            for t in tasks {
                let max = i32::try_from(t.max_claims.max(1)).unwrap_or(i32::MAX);
                let row = tx.query_one(
                    &st,
                    &[
                        &t.run_id,
                        &t.key,
                        &t.kind,
                        &t.payload,
                        &labels_json(&t.run_on),
                        &max,
                    ],
                )?;
                ids.push(id_u64(row.get(0)));
            }
            tx.batch_execute(&notify)?;
            tx.commit()?;
            Ok(ids)
        })
    }

    fn claim(
        &self,
        worker: &WorkerInfo,
        lease: Duration,
    ) -> Result<Option<ClaimedTask>, StateError> {
        self.pool.with(|c| {
            let mut tx = c.transaction()?;
            let got = self.claim_in(&mut tx, worker, lease)?;
            tx.commit()?;
            Ok(got)
        })
    }

    fn complete_and_claim(
        &self,
        done: (u64, u64, &str),
        worker: &WorkerInfo,
        lease: Duration,
    ) -> Result<(bool, Option<ClaimedTask>), StateError> {
        let (id, token, result) = done;
        self.pool.with(|c| {
            let mut tx = c.transaction()?;
            let recorded = self.complete_in(&mut tx, id, token, &worker.id, result)?;
            let next = self.claim_in(&mut tx, worker, lease)?;
            tx.commit()?;
            Ok((recorded, next))
        })
    }

    fn renew(&self, id: u64, token: u64, lease: Duration) -> Result<bool, StateError> {
        self.pool.with(|c| {
            let n = c.execute(
                "UPDATE q_tasks SET lease_until = now() + $3::bigint * interval '1 millisecond'
                 WHERE id = $1 AND token = $2 AND state = 'running'",
                &[&saturating(id), &saturating(token), &ms(lease)],
            )?;
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
        self.pool.with(|c| {
            let mut tx = c.transaction()?;
            let recorded = self.complete_in(&mut tx, id, token, worker, result)?;
            tx.commit()?;
            Ok(recorded)
        })
    }

    fn outcomes(&self, ids: &[u64]) -> Result<Vec<(u64, TaskOutcome)>, StateError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|i| saturating(*i)).collect();
        self.pool.with(|c| {
            let rows = c.query(
                "SELECT id, state, worker, result, claims FROM q_tasks
                 WHERE id = ANY($1) AND state IN ('done', 'abandoned')",
                &[&ids],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get(0);
                    let state: String = r.get(1);
                    let outcome = if state == "done" {
                        TaskOutcome::Done {
                            worker: r.get::<_, Option<String>>(2).unwrap_or_default(),
                            result: r.get::<_, Option<String>>(3).unwrap_or_default(),
                        }
                    } else {
                        TaskOutcome::Abandoned {
                            claims: u32::try_from(r.get::<_, i32>(4)).unwrap_or(0),
                        }
                    };
                    (id_u64(id), outcome)
                })
                .collect())
        })
    }

    fn wait(&self, timeout: Duration) -> Result<(), StateError> {
        let mut guard = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            let mut c = connect(self.pool.target())?;
            c.batch_execute(&format!(
                "LISTEN {}; LISTEN {}",
                self.tasks_channel, self.done_channel
            ))
            .map_err(|e| error(self.pool.target(), &e))?;
            *guard = Some(c);
            // Something may have happened before we listened: let the caller look once.
            return Ok(());
        }
        let Some(c) = guard.as_mut() else {
            return Ok(());
        };
        let got = {
            let mut n = c.notifications();
            let first = n.timeout_iter(timeout).next();
            if let Ok(Some(_)) = first {
                // Take whatever else arrived with it, without waiting.
                let mut rest = n.iter();
                while let Ok(Some(_)) = rest.next() {}
            }
            first.map(|_| ())
        };
        got.map_err(|e| {
            let err = error(self.pool.target(), &e);
            *guard = None;
            err
        })
    }

    fn heartbeat(&self, w: &WorkerInfo) -> Result<(), StateError> {
        let labels = labels_json(&w.labels);
        let pid = i64::from(w.pid);
        let conc = i32::try_from(w.concurrency).unwrap_or(i32::MAX);
        self.pool.with(|c| {
            c.execute(
                "INSERT INTO q_workers (id, host, pid, labels, concurrency)
                 VALUES ($1, $2, $3, $4::text::jsonb, $5)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
                &[&w.id, &w.host, &pid, &labels, &conc],
            )?;
            Ok(())
        })
    }

    fn deregister(&self, worker_id: &str) -> Result<(), StateError> {
        self.pool.with(|c| {
            c.execute("DELETE FROM q_workers WHERE id = $1", &[&worker_id])?;
            Ok(())
        })
    }

    fn counts(&self) -> Result<baton_state::queue::QueueCounts, StateError> {
        let row = self.pool.with(|c| {
            c.query_one(
                "SELECT
                     COUNT(*) FILTER (WHERE state = 'queued'),
                     COUNT(*) FILTER (WHERE state = 'running' AND lease_until > now()),
                     COALESCE(SUM(GREATEST(claims - 1, 0)), 0)::bigint
                 FROM q_tasks",
                &[],
            )
        })?;
        let u = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(baton_state::queue::QueueCounts {
            queued: u(row.get(0)),
            running: u(row.get(1)),
            reclaims: u(row.get(2)),
        })
    }

    fn workers(&self, liveness: Duration) -> Result<Vec<WorkerRow>, StateError> {
        let sql = format!(
            "SELECT w.id, w.host, w.pid, w.labels::text, w.concurrency, {}, {},
                    w.heartbeat_at < now() - $1::bigint * interval '1 millisecond'
             FROM q_workers w ORDER BY w.started_at, w.id",
            Self::time("w.started_at"),
            Self::time("w.heartbeat_at")
        );
        self.pool.with(|c| {
            let rows = c.query(&sql, &[&ms(liveness)])?;
            let running = c.query(
                "SELECT worker, id, run_id, key FROM q_tasks
                 WHERE state = 'running' AND worker IS NOT NULL ORDER BY id",
                &[],
            )?;
            let mut current: BTreeMap<String, Vec<(u64, String, String)>> = BTreeMap::new();
            for r in &running {
                current
                    .entry(r.get(0))
                    .or_default()
                    .push((id_u64(r.get(1)), r.get(2), r.get(3)));
            }
            Ok(rows
                .iter()
                .map(|r| {
                    let id: String = r.get(0);
                    let labels: String = r.get(3);
                    WorkerRow {
                        info: WorkerInfo {
                            host: r.get(1),
                            pid: u32::try_from(r.get::<_, i64>(2)).unwrap_or(0),
                            labels: serde_json::from_str(&labels).unwrap_or_default(),
                            concurrency: u32::try_from(r.get::<_, i32>(4)).unwrap_or(0),
                            id: id.clone(),
                        },
                        started_at: r.get(5),
                        heartbeat_at: r.get(6),
                        stale: r.get(7),
                        current: current.remove(&id).unwrap_or_default(),
                    }
                })
                .collect())
        })
    }

    fn tasks(&self, run_id: &str) -> Result<Vec<TaskRow>, StateError> {
        let sql = format!(
            "SELECT id, run_id, key, kind, state, worker, claims, {}, {}
             FROM q_tasks WHERE run_id = $1 ORDER BY id",
            Self::time("submitted_at"),
            Self::time("finished_at")
        );
        let claims_sql = format!(
            "SELECT c.task, c.worker, {} FROM q_claims c JOIN q_tasks t ON t.id = c.task
             WHERE t.run_id = $1 ORDER BY c.task, c.token",
            Self::time("c.at")
        );
        self.pool.with(|c| {
            let rows = c.query(&sql, &[&run_id])?;
            let claim_rows = c.query(&claims_sql, &[&run_id])?;
            let mut log: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
            for r in &claim_rows {
                log.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
            }
            Ok(rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get(0);
                    let state: String = r.get(4);
                    TaskRow {
                        id: id_u64(id),
                        run_id: r.get(1),
                        key: r.get(2),
                        kind: r.get(3),
                        state: TaskState::parse(&state).unwrap_or(TaskState::Queued),
                        worker: r.get(5),
                        claims: u32::try_from(r.get::<_, i32>(6)).unwrap_or(0),
                        submitted_at: r.get(7),
                        finished_at: r.get(8),
                        claim_log: log.remove(&id).unwrap_or_default(),
                    }
                })
                .collect())
        })
    }

    fn find_task(&self, run_id: &str, key: &str) -> Result<Option<u64>, StateError> {
        self.pool.with(|c| {
            let row = c.query_opt(
                "SELECT id FROM q_tasks WHERE run_id = $1 AND key = $2",
                &[&run_id, &key],
            )?;
            Ok(row.map(|r| id_u64(r.get(0))))
        })
    }

    fn coordinate(&self, c: &Coordinator, lease: Duration) -> Result<(), StateError> {
        self.pool.with(|cl| {
            cl.execute(
                "INSERT INTO q_coordinators (run_id, kind, dir, env, holder, lease_until)
                 VALUES ($1, $2, $3, $4, $5, now() + $6::bigint * interval '1 millisecond')
                 ON CONFLICT (run_id) DO UPDATE SET kind = EXCLUDED.kind, dir = EXCLUDED.dir,
                     env = EXCLUDED.env, holder = EXCLUDED.holder,
                     lease_until = EXCLUDED.lease_until",
                &[&c.run_id, &c.kind, &c.dir, &c.env, &c.holder, &ms(lease)],
            )?;
            Ok(())
        })
    }

    fn end_coordination(&self, run_id: &str) -> Result<(), StateError> {
        self.pool.with(|c| {
            c.execute("DELETE FROM q_coordinators WHERE run_id = $1", &[&run_id])?;
            Ok(())
        })
    }

    fn take_orphan(
        &self,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<Coordinator>, StateError> {
        self.pool.with(|c| {
            let row = c.query_opt(
                "UPDATE q_coordinators t
                 SET holder = $1, lease_until = now() + $2::bigint * interval '1 millisecond'
                 FROM (SELECT run_id FROM q_coordinators WHERE lease_until < now()
                       ORDER BY lease_until FOR UPDATE SKIP LOCKED LIMIT 1) pick
                 WHERE t.run_id = pick.run_id
                 RETURNING t.run_id, t.kind, t.dir, t.env, t.holder",
                &[&holder, &ms(lease)],
            )?;
            Ok(row.map(|r| Coordinator {
                run_id: r.get(0),
                kind: r.get(1),
                dir: r.get(2),
                env: r.get(3),
                holder: r.get(4),
            }))
        })
    }
}
