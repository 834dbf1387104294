//! The embedded SQLite workflow store (by default `.baton/workflows.db`, chosen by the workflow
//! layer): workflow runs, their claims and fencing tokens, step instances, the step cache,
//! limit slots and schedule firings, in one database file of its own — separate from the state
//! database — that several threads and processes may open at once.
//!
//! Must not interpret inputs, outputs, definitions or approval decisions (opaque JSON here),
//! decide what runs next, log, or panic on a bad file: it stores what it is handed, enforces
//! claims, and reports every failure as a [`StateError`] naming the database.
//!
//! Every write is one immediate (write-locking) transaction, so a read-check-write (a claim, a
//! fencing check, a slot count, a schedule's last firing) cannot interleave with another
//! process's; it is durable when it returns, as the state store's writes are (WAL,
//! `synchronous = NORMAL`: a process crash loses nothing committed).
//!
//! # Schema (version 1)
//! - `runs(id, workflow, inputs, definition, status, who, started_at, finished_at, on_failure,
//!   parent, parent_step, note, next_seq)`: one row per run ([`WfRun`]); `next_seq` is no
//!   longer used (a new step instance's `seq` is one more than the run's largest, found
//!   through the `(run_id, seq)` index, so that adding a step never rewrites the run's row and
//!   its definition). Indexed by `(started_at, id)` and `(workflow, status)`.
//! - `claims(run_id, holder, token, expires_ms)`: one row per run, apart from the run's row so
//!   that renewing a lease does not rewrite a row as large as the definition. `holder` is
//!   `NULL` once released; `token` is the current claim's fencing token (it stays after a
//!   release); `expires_ms` when the lease runs out unless renewed (Unix milliseconds by the
//!   wall clock).
//! - `tokens(singleton = 1, last)`: the last fencing token handed out, for every run; it only
//!   grows, so a re-claim always gets a bigger token than any before it.
//! - `steps(id, run_id, key, seq, step, kind, status, attempts, started_at, finished_at,
//!   duration_ms, inputs, outputs, exit_code, stdout, stderr, error, child_run, child_store,
//!   next_attempt_at, approval)`: one row per step instance ([`WfStep`]), unique by
//!   `(run_id, key)` and by `(run_id, seq)`.
//! - `cache(id, workflow, step, key, outputs, run_id, stored_at)`: the latest result of each
//!   `(workflow, step, key)` (a newer one replaces it), `stored_at` RFC 3339 UTC.
//! - `limit_slots(name, run_id, key, taken_at)`: the slots held of each named limit.
//! - `schedules(workflow, schedule, last_fired)`: when each schedule last fired (RFC 3339 UTC,
//!   as the caller wrote it).
//!
//! `PRAGMA user_version` is the schema version and `PRAGMA application_id` ("Batw") marks the
//! file as Baton's workflow database: a state database, or another program's, is refused.

use crate::sqlite::{self, Failure, Migration, Schema};
use crate::stamp;
use crate::store::StateError;
use crate::workflow::{
    WfCacheEntry, WfClaim, WfClaimHolder, WfRun, WfRunStatus, WfStep, WfStepStatus, WorkflowStore,
};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

/// A workflow store in one SQLite database file. Cheap to share between threads (`&self`
/// methods, one connection behind a mutex); open one per process, or several on the same file:
/// they see each other's writes, and claims hold across them.
pub struct SqliteWorkflowStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// Every schema step of the workflow database, in order: migration `i` takes `user_version`
/// from `i` to `i + 1`. Append new steps; never edit a released one.
pub const WORKFLOW_MIGRATIONS: &[Migration] = &[workflow_v1];

/// The workflow database's schema version this build writes (`PRAGMA user_version`).
pub const WORKFLOW_SCHEMA_VERSION: usize = WORKFLOW_MIGRATIONS.len();

/// `PRAGMA application_id` of a Baton workflow database: "Batw".
pub const WORKFLOW_APPLICATION_ID: i64 = 0x4261_7477;

const SCHEMA: Schema = Schema {
    migrations: WORKFLOW_MIGRATIONS,
    application_id: WORKFLOW_APPLICATION_ID,
    what: "workflow",
};

const RUNNING: &str = "running";
const WAITING: &str = "waiting";
const APPROVAL: &str = "approval";

/// The run statuses after which no step runs again without a `rollback`
/// ([`WfRunStatus::is_final`]), as a JSON array for `json_each`.
const FINAL_STATUSES: &str = r#"["succeeded","failed","rolled_back","cancelled"]"#;

macro_rules! select_runs {
    ($tail:literal) => {
        concat!(
            "SELECT id, workflow, inputs, definition, status, who, started_at, finished_at,
                    on_failure, parent, parent_step, note
             FROM runs ",
            $tail
        )
    };
}

impl SqliteWorkflowStore {
    /// Opens the workflow database at `path`, creating it (and its parent directories) if
    /// needed, and brings its schema up to date. A file that is not a Baton workflow database
    /// (a state database included), or one written by a newer Baton, is
    /// [`StateError::Corrupt`].
    pub fn open(path: &Path) -> Result<SqliteWorkflowStore, StateError> {
        let conn = sqlite::open_database(path, &SCHEMA)?;
        Ok(SqliteWorkflowStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        sqlite::lock_conn(&self.conn)
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
        let mut conn = self.conn();
        let result = (|| {
            let tx = conn.transaction_with_behavior(behavior)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        result.map_err(|e: Failure| e.at(&self.path))
    }
}

impl WorkflowStore for SqliteWorkflowStore {
    fn create_run(
        &self,
        run: &WfRun,
        holder: &str,
        lease: Duration,
    ) -> Result<WfClaim, StateError> {
        let lease = lease_ms(lease);
        self.write(|tx| {
            if run_status(tx, &run.id)?.is_some() {
                // The caller's mistake, not a damaged file; there is no variant of its own.
                return Err(StateError::Io {
                    path: self.path.display().to_string(),
                    message: format!("workflow run {} already exists", run.id),
                }
                .into());
            }
            tx.prepare_cached(
                "INSERT INTO runs (id, workflow, inputs, definition, status, who, started_at,
                                   finished_at, on_failure, parent, parent_step, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(rusqlite::params![
                run.id,
                run.workflow,
                run.inputs,
                run.definition,
                run.status.as_str(),
                run.who,
                run.started_at,
                run.finished_at,
                run.on_failure,
                run.parent,
                run.parent_step,
                run.note,
            ])?;
            take_claim(tx, &run.id, holder, lease)
        })
    }

    fn claim(&self, run_id: &str, holder: &str, lease: Duration) -> Result<WfClaim, StateError> {
        let lease = lease_ms(lease);
        self.write(|tx| {
            let status =
                run_status(tx, run_id)?.ok_or_else(|| StateError::NoSuchRun(run_id.to_string()))?;
            let now = stamp::now_unix_ms();
            let previous: Option<(Option<String>, i64)> = tx
                .prepare_cached("SELECT holder, expires_ms FROM claims WHERE run_id = ?1")?
                .query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (live, note) = match previous {
                Some((Some(h), expires)) if expires > now => {
                    if h != holder {
                        return Err(StateError::Claimed {
                            run: run_id.to_string(),
                            holder: Box::new(WfClaimHolder {
                                holder: h,
                                expires_at: rfc3339_ms(expires),
                            }),
                        }
                        .into());
                    }
                    (true, String::new())
                }
                Some((Some(h), expires)) => (
                    false,
                    format!(
                        "interrupted: the claim of {h} expired at {} while the run was running",
                        rfc3339_ms(expires)
                    ),
                ),
                Some((None, _)) => (
                    false,
                    "interrupted: its claim was released while the run was running".to_string(),
                ),
                None => (
                    false,
                    "interrupted: nobody held it while it was running".to_string(),
                ),
            };
            if status == RUNNING && !live {
                tx.prepare_cached("UPDATE runs SET status = ?2, note = ?3 WHERE id = ?1")?
                    .execute((run_id, WfRunStatus::Interrupted.as_str(), note))?;
            }
            take_claim(tx, run_id, holder, lease)
        })
    }

    fn renew(&self, claim: &WfClaim, lease: Duration) -> Result<(), StateError> {
        let lease = lease_ms(lease);
        self.write(|tx| {
            let expires = stamp::now_unix_ms().saturating_add(lease);
            let renewed = tx
                .prepare_cached(
                    "UPDATE claims SET expires_ms = ?3
                     WHERE run_id = ?1 AND token = ?2 AND holder IS NOT NULL",
                )?
                .execute((&claim.run_id, token_sql(claim.token), expires))?;
            if renewed == 1 {
                Ok(())
            } else {
                check_claim(tx, &claim.run_id, claim)?;
                // The token is current but the claim was released: there is nothing to renew.
                Err(lost(&claim.run_id, claim))
            }
        })
    }

    fn release(&self, claim: &WfClaim) -> Result<(), StateError> {
        self.write(|tx| {
            check_claim(tx, &claim.run_id, claim)?;
            tx.prepare_cached("UPDATE claims SET holder = NULL WHERE run_id = ?1")?
                .execute([&claim.run_id])?;
            Ok(())
        })
    }

    fn set_run_status(
        &self,
        claim: &WfClaim,
        status: WfRunStatus,
        note: Option<&str>,
    ) -> Result<(), StateError> {
        let finished = status.is_final().then(stamp::now_rfc3339);
        self.write(|tx| {
            check_claim(tx, &claim.run_id, claim)?;
            tx.prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, note = coalesce(?4, note)
                 WHERE id = ?1",
            )?
            .execute((&claim.run_id, status.as_str(), finished, note))?;
            Ok(())
        })
    }

    fn put_step(&self, claim: &WfClaim, step: &WfStep) -> Result<(), StateError> {
        self.write(|tx| put_step_in(tx, claim, step))
    }

    fn put_steps(&self, claim: &WfClaim, steps: &[WfStep]) -> Result<(), StateError> {
        if steps.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for step in steps {
                put_step_in(tx, claim, step)?;
            }
            Ok(())
        })
    }

    fn run(&self, run_id: &str) -> Result<Option<WfRun>, StateError> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(select_runs!("WHERE id = ?1"))?
                .query_row([run_id], row_to_run)
                .optional()?)
        })
    }

    fn runs(&self) -> Result<Vec<WfRun>, StateError> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(select_runs!("ORDER BY started_at, id"))?
                .query_map([], row_to_run)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn runs_of(&self, workflow: &str, statuses: &[WfRunStatus]) -> Result<Vec<WfRun>, StateError> {
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let statuses = serde_json::to_string(&statuses).map_err(|e| StateError::Io {
            path: self.path.display().to_string(),
            message: format!("cannot encode run statuses: {e}"),
        })?;
        self.read(|tx| {
            Ok(tx
                .prepare_cached(select_runs!(
                    "WHERE workflow = ?1 AND status IN (SELECT value FROM json_each(?2))
                     ORDER BY started_at, id"
                ))?
                .query_map((workflow, &statuses), row_to_run)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn steps(&self, run_id: &str) -> Result<Vec<WfStep>, StateError> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT run_id, key, seq, step, kind, status, attempts, started_at,
                            finished_at, duration_ms, inputs, outputs, exit_code, stdout,
                            stderr, error, child_run, child_store, next_attempt_at, approval
                     FROM steps WHERE run_id = ?1 ORDER BY seq",
                )?
                .query_map([run_id], row_to_step)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn decide_approval(&self, run_id: &str, key: &str, decision: &str) -> Result<(), StateError> {
        self.write(|tx| {
            let step: Option<(String, String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT status, kind, approval FROM steps WHERE run_id = ?1 AND key = ?2",
                )?
                .query_row((run_id, key), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            match step {
                // One decision counts: a second one (a racing approver) is refused.
                Some((status, kind, None)) if status == WAITING && kind == APPROVAL => {
                    tx.prepare_cached(
                        "UPDATE steps SET approval = ?3 WHERE run_id = ?1 AND key = ?2",
                    )?
                    .execute((run_id, key, decision))?;
                    Ok(())
                }
                None if run_status(tx, run_id)?.is_none() => {
                    Err(StateError::NoSuchRun(run_id.to_string()).into())
                }
                _ => Err(StateError::NotWaiting {
                    run: run_id.to_string(),
                    key: key.to_string(),
                }
                .into()),
            }
        })
    }

    fn cache_get(
        &self,
        workflow: &str,
        step: &str,
        key: &str,
        since: &str,
    ) -> Result<Option<WfCacheEntry>, StateError> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT outputs, run_id, stored_at FROM cache
                     WHERE workflow = ?1 AND step = ?2 AND key = ?3 AND stored_at >= ?4
                     ORDER BY stored_at DESC, id DESC LIMIT 1",
                )?
                .query_row((workflow, step, key, since), |r| {
                    Ok(WfCacheEntry {
                        outputs: r.get(0)?,
                        run_id: r.get(1)?,
                        stored_at: r.get(2)?,
                    })
                })
                .optional()?)
        })
    }

    fn cache_put(
        &self,
        claim: &WfClaim,
        workflow: &str,
        step: &str,
        key: &str,
        outputs: &str,
    ) -> Result<(), StateError> {
        let now = stamp::now_rfc3339();
        self.write(|tx| {
            check_claim(tx, &claim.run_id, claim)?;
            // An older entry of the same key is never the newest again: drop it.
            tx.prepare_cached("DELETE FROM cache WHERE workflow = ?1 AND step = ?2 AND key = ?3")?
                .execute((workflow, step, key))?;
            tx.prepare_cached(
                "INSERT INTO cache (workflow, step, key, outputs, run_id, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute((workflow, step, key, outputs, &claim.run_id, now))?;
            Ok(())
        })
    }

    fn limit_acquire(
        &self,
        claim: &WfClaim,
        limit: &str,
        max: u32,
        key: &str,
    ) -> Result<bool, StateError> {
        let taken_at = stamp::now_rfc3339();
        self.write(|tx| {
            check_claim(tx, &claim.run_id, claim)?;
            // Free the slots of runs nobody advances any more: released or expired claims, and
            // final runs. Never the caller's own (its token is current).
            tx.prepare_cached(
                "DELETE FROM limit_slots
                 WHERE run_id != ?1 AND run_id IN (
                     SELECT runs.id FROM runs JOIN claims ON claims.run_id = runs.id
                     WHERE claims.holder IS NULL OR claims.expires_ms <= ?2
                        OR runs.status IN (SELECT value FROM json_each(?3)))",
            )?
            .execute((&claim.run_id, stamp::now_unix_ms(), FINAL_STATUSES))?;
            let held: bool = tx
                .prepare_cached(
                    "SELECT count(*) > 0 FROM limit_slots
                     WHERE name = ?1 AND run_id = ?2 AND key = ?3",
                )?
                .query_row((limit, &claim.run_id, key), |r| r.get(0))?;
            if held {
                return Ok(true);
            }
            let taken: i64 = tx
                .prepare_cached("SELECT count(*) FROM limit_slots WHERE name = ?1")?
                .query_row([limit], |r| r.get(0))?;
            if taken >= i64::from(max) {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO limit_slots (name, run_id, key, taken_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((limit, &claim.run_id, key, &taken_at))?;
            Ok(true)
        })
    }

    fn limit_release(&self, claim: &WfClaim, limit: &str, key: &str) -> Result<(), StateError> {
        self.write(|tx| {
            check_claim(tx, &claim.run_id, claim)?;
            tx.prepare_cached(
                "DELETE FROM limit_slots WHERE name = ?1 AND run_id = ?2 AND key = ?3",
            )?
            .execute((limit, &claim.run_id, key))?;
            Ok(())
        })
    }

    fn schedule_last(&self, workflow: &str, schedule: &str) -> Result<Option<String>, StateError> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT last_fired FROM schedules WHERE workflow = ?1 AND schedule = ?2",
                )?
                .query_row((workflow, schedule), |r| r.get(0))
                .optional()?)
        })
    }

    fn schedule_fire(&self, workflow: &str, schedule: &str, at: &str) -> Result<bool, StateError> {
        self.write(|tx| {
            let recorded = tx
                .prepare_cached(
                    "INSERT INTO schedules (workflow, schedule, last_fired) VALUES (?1, ?2, ?3)
                     ON CONFLICT (workflow, schedule) DO UPDATE
                         SET last_fired = excluded.last_fired
                         WHERE last_fired < excluded.last_fired",
                )?
                .execute((workflow, schedule, at))?;
            Ok(recorded == 1)
        })
    }
}

/// Migration 1 of the workflow database: every table (see the module's documentation).
fn workflow_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE runs (
             id TEXT PRIMARY KEY,
             workflow TEXT NOT NULL,
             inputs TEXT NOT NULL,
             definition TEXT NOT NULL,
             status TEXT NOT NULL,
             who TEXT NOT NULL,
             started_at TEXT NOT NULL,
             finished_at TEXT,
             on_failure TEXT NOT NULL,
             parent TEXT,
             parent_step TEXT,
             note TEXT,
             next_seq INTEGER NOT NULL DEFAULT 1
         );
         CREATE INDEX runs_by_start ON runs (started_at, id);
         CREATE INDEX runs_by_workflow ON runs (workflow, status);
         CREATE TABLE claims (
             run_id TEXT PRIMARY KEY REFERENCES runs (id),
             holder TEXT,
             token INTEGER NOT NULL,
             expires_ms INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE tokens (
             singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
             last INTEGER NOT NULL
         );
         INSERT INTO tokens (singleton, last) VALUES (1, 0);
         CREATE TABLE steps (
             id INTEGER PRIMARY KEY,
             run_id TEXT NOT NULL REFERENCES runs (id),
             key TEXT NOT NULL,
             seq INTEGER NOT NULL,
             step TEXT NOT NULL,
             kind TEXT NOT NULL,
             status TEXT NOT NULL,
             attempts INTEGER NOT NULL,
             started_at TEXT,
             finished_at TEXT,
             duration_ms INTEGER,
             inputs TEXT,
             outputs TEXT,
             exit_code INTEGER,
             stdout TEXT,
             stderr TEXT,
             error TEXT,
             child_run TEXT,
             child_store TEXT,
             next_attempt_at TEXT,
             approval TEXT,
             UNIQUE (run_id, key),
             UNIQUE (run_id, seq)
         );
         CREATE TABLE cache (
             id INTEGER PRIMARY KEY,
             workflow TEXT NOT NULL,
             step TEXT NOT NULL,
             key TEXT NOT NULL,
             outputs TEXT NOT NULL,
             run_id TEXT NOT NULL,
             stored_at TEXT NOT NULL
         );
         CREATE INDEX cache_by_key ON cache (workflow, step, key, stored_at);
         CREATE TABLE limit_slots (
             name TEXT NOT NULL,
             run_id TEXT NOT NULL REFERENCES runs (id),
             key TEXT NOT NULL,
             taken_at TEXT NOT NULL,
             PRIMARY KEY (name, run_id, key)
         ) WITHOUT ROWID;
         CREATE TABLE schedules (
             workflow TEXT NOT NULL,
             schedule TEXT NOT NULL,
             last_fired TEXT NOT NULL,
             PRIMARY KEY (workflow, schedule)
         ) WITHOUT ROWID;",
    )
}

/// Gives `run_id` a new claim for `holder`: the next token, `lease_ms` from now.
fn take_claim(
    tx: &Transaction<'_>,
    run_id: &str,
    holder: &str,
    lease_ms: i64,
) -> Result<WfClaim, Failure> {
    let token: i64 = tx
        .prepare_cached("UPDATE tokens SET last = last + 1 RETURNING last")?
        .query_row([], |r| r.get(0))?;
    let expires = stamp::now_unix_ms().saturating_add(lease_ms);
    tx.prepare_cached(
        "INSERT INTO claims (run_id, holder, token, expires_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (run_id) DO UPDATE
             SET holder = excluded.holder, token = excluded.token,
                 expires_ms = excluded.expires_ms",
    )?
    .execute((run_id, holder, token, expires))?;
    Ok(WfClaim {
        run_id: run_id.to_string(),
        holder: holder.to_string(),
        token: u64::try_from(token)
            .map_err(|_| Failure::Corrupt(format!("invalid claim token {token}")))?,
    })
}

/// Refuses a write for `run_id` unless `claim` is that run's current claim: `NoSuchRun` when
/// there is no such run, `ClaimLost` when a newer claim replaced it (or it is another run's).
fn check_claim(tx: &Transaction<'_>, run_id: &str, claim: &WfClaim) -> Result<(), Failure> {
    let token: Option<i64> = tx
        .prepare_cached("SELECT token FROM claims WHERE run_id = ?1")?
        .query_row([run_id], |r| r.get(0))
        .optional()?;
    match token {
        Some(t) if t == token_sql(claim.token) && claim.run_id == run_id => Ok(()),
        Some(_) => Err(lost(run_id, claim)),
        None if run_status(tx, run_id)?.is_some() => Err(lost(run_id, claim)),
        None => Err(StateError::NoSuchRun(run_id.to_string()).into()),
    }
}

fn lost(run_id: &str, claim: &WfClaim) -> Failure {
    StateError::ClaimLost {
        run: run_id.to_string(),
        token: claim.token,
    }
    .into()
}

/// The stored status of `run_id` (as text), if the run exists.
fn run_status(tx: &Transaction<'_>, run_id: &str) -> Result<Option<String>, Failure> {
    Ok(tx
        .prepare_cached("SELECT status FROM runs WHERE id = ?1")?
        .query_row([run_id], |r| r.get(0))
        .optional()?)
}

/// A claim token as stored; one beyond SQLite's integers matches no row.
fn token_sql(token: u64) -> i64 {
    i64::try_from(token).unwrap_or(-1)
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

/// Unix milliseconds as RFC 3339 UTC, rounded up to the whole second (so that a claim is
/// never reported to expire before it does).
fn rfc3339_ms(ms: i64) -> String {
    let secs = u64::try_from(ms).unwrap_or(0).div_ceil(1000);
    let at = UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or(UNIX_EPOCH);
    stamp::rfc3339_utc(at)
}

/// A stored value this build cannot read: reported as a corrupt database.
fn unreadable(column: usize, kind: Type, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, kind, message.into())
}

/// A column holding a count that cannot be negative.
fn unsigned(r: &Row<'_>, column: usize) -> rusqlite::Result<u64> {
    let n: i64 = r.get(column)?;
    u64::try_from(n).map_err(|_| unreadable(column, Type::Integer, format!("negative count {n}")))
}

fn row_to_run(r: &Row<'_>) -> rusqlite::Result<WfRun> {
    let status: String = r.get(4)?;
    Ok(WfRun {
        id: r.get(0)?,
        workflow: r.get(1)?,
        inputs: r.get(2)?,
        definition: r.get(3)?,
        status: WfRunStatus::parse(&status).ok_or_else(|| {
            unreadable(
                4,
                Type::Text,
                format!("unknown workflow run status {status:?}"),
            )
        })?,
        who: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
        on_failure: r.get(8)?,
        parent: r.get(9)?,
        parent_step: r.get(10)?,
        note: r.get(11)?,
    })
}

fn row_to_step(r: &Row<'_>) -> rusqlite::Result<WfStep> {
    let status: String = r.get(5)?;
    Ok(WfStep {
        run_id: r.get(0)?,
        key: r.get(1)?,
        seq: unsigned(r, 2)?,
        step: r.get(3)?,
        kind: r.get(4)?,
        status: WfStepStatus::parse(&status)
            .ok_or_else(|| unreadable(5, Type::Text, format!("unknown step status {status:?}")))?,
        attempts: r.get(6)?,
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
        duration_ms: r
            .get::<_, Option<i64>>(9)?
            .map(|_| unsigned(r, 9))
            .transpose()?,
        inputs: r.get(10)?,
        outputs: r.get(11)?,
        exit_code: r.get(12)?,
        stdout: r.get(13)?,
        stderr: r.get(14)?,
        error: r.get(15)?,
        child_run: r.get(16)?,
        child_store: r.get(17)?,
        next_attempt_at: r.get(18)?,
        approval: r.get(19)?,
    })
}

/// Inserts or replaces one step instance inside a write transaction (keeping its `seq`).
fn put_step_in(tx: &Transaction<'_>, claim: &WfClaim, step: &WfStep) -> Result<(), Failure> {
    check_claim(tx, &step.run_id, claim)?;
    let existing: Option<i64> = tx
        .prepare_cached("SELECT seq FROM steps WHERE run_id = ?1 AND key = ?2")?
        .query_row((&step.run_id, &step.key), |r| r.get(0))
        .optional()?;
    let seq = match existing {
        Some(seq) => seq,
        // The next after the run's last, found through the (run_id, seq) index: updating a
        // counter in the run's row would rewrite that row, definition and all, per step.
        None => tx
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ?1")?
            .query_row([&step.run_id], |r| r.get(0))?,
    };
    tx.prepare_cached(
        "INSERT INTO steps (run_id, key, seq, step, kind, status, attempts, started_at,
                            finished_at, duration_ms, inputs, outputs, exit_code,
                            stdout, stderr, error, child_run, child_store,
                            next_attempt_at, approval)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19, ?20)
         ON CONFLICT (run_id, key) DO UPDATE SET
             step = excluded.step, kind = excluded.kind, status = excluded.status,
             attempts = excluded.attempts, started_at = excluded.started_at,
             finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
             inputs = excluded.inputs, outputs = excluded.outputs,
             exit_code = excluded.exit_code, stdout = excluded.stdout,
             stderr = excluded.stderr, error = excluded.error,
             child_run = excluded.child_run, child_store = excluded.child_store,
             next_attempt_at = excluded.next_attempt_at, approval = excluded.approval",
    )?
    .execute(rusqlite::params![
        step.run_id,
        step.key,
        seq,
        step.step,
        step.kind,
        step.status.as_str(),
        step.attempts,
        step.started_at,
        step.finished_at,
        // Beyond SQLite's integers (some 292 million years): the longest it can keep.
        step.duration_ms
            .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
        step.inputs,
        step.outputs,
        step.exit_code,
        step.stdout,
        step.stderr,
        step.error,
        step.child_run,
        step.child_store,
        step.next_attempt_at,
        step.approval,
    ])?;
    Ok(())
}
