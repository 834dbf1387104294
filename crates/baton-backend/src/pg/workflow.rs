//! The PostgreSQL workflow run store: [`baton_state::WorkflowStore`] over one schema of a
//! database, beside the state store's tables (every table, index and sequence of this store
//! is prefixed `wf_`, so that nothing clashes with `runs`, `journal`, `audit`, …). It behaves
//! as the SQLite workflow store does (`baton_state::SqliteWorkflowStore`, the reference) and
//! passes the same conformance suite.
//!
//! Must not interpret inputs, outputs, definitions or approval decisions (opaque JSON here),
//! decide what runs next, log, panic on what the database returns, or show the connection
//! string (errors name the database through [`PgTarget::describe`]). Must not touch the state
//! store's tables.
//!
//! # Concurrency
//! Every write is one transaction (`READ COMMITTED`). A write that carries a claim token locks
//! the run's claim row (`SELECT … FOR UPDATE`) and checks the token in that transaction, so a
//! newer claim (which updates that row) is ordered before or after the whole write, never in
//! the middle of it; the same lock orders a run's step `seq`s. A claim locks the claim row
//! before reading the run's status. Limit slots are counted under a row lock on the limit's
//! row in `wf_limits`; a schedule fires with one `INSERT … ON CONFLICT … DO UPDATE … WHERE`.
//! Locks are always taken claim row first, then anything else, so writes do not deadlock.
//!
//! Leases and every time this store writes (`finished_at`, a cache entry's `stored_at`, a
//! claim's reported expiry) are read from the database server's clock, so handles on hosts
//! whose clocks disagree still agree on when a lease runs out.
//!
//! # Connections
//! A handle calls through the stores' pool (`pool.rs`): it keeps a few idle connections (with
//! their prepared statements) and opens new ones with [`super::connect`] when none is idle, so
//! its `&self` methods may be called from many threads. A connection that broke is dropped
//! (with the idle ones, which likely broke with it) and the call tried again on a new one,
//! with backoff: reads always, writes whose transaction did not reach `COMMIT` (or whose
//! `COMMIT` the server refused). A write whose `COMMIT` got no answer is an error saying the
//! write may or may not have landed.
//!
//! # Schema (version 1)
//! - `wf_meta(singleton, version)`: the schema version of these tables.
//! - `wf_runs(id, workflow, inputs, definition, status, who, started_at, finished_at,
//!   on_failure, parent, parent_step, note)`: one row per run.
//! - `wf_claims(run_id, holder, token, expires_ms)`: one row per run; `holder` is `NULL` once
//!   released; `expires_ms` in Unix milliseconds of the server's clock.
//! - `wf_claim_tokens`: the sequence fencing tokens are drawn from (it only grows).
//! - `wf_steps(run_id, key, seq, …)`: one row per step instance, unique by `(run_id, key)` and
//!   `(run_id, seq)`.
//! - `wf_cache(workflow, step, key, outputs, run_id, stored_at)`: the latest result per key.
//! - `wf_limits(name)`: one row per named limit, locked while its slots are counted.
//! - `wf_limit_slots(name, run_id, key, taken_at)`: the slots held.
//! - `wf_schedules(workflow, schedule, last_fired)`: when each schedule last fired.
//!
//! Text that is compared or ordered (ids, keys, RFC 3339 times) is `COLLATE "C"`: byte order,
//! as SQLite compares, whatever the database's locale.

use super::pool::{self, Db, Failure, Pool, Settings, Tx};
use super::target::PgTarget;
use super::{key_sql, saturating, to_u64};
use baton_state::{
    StateError, WfCacheEntry, WfClaim, WfClaimHolder, WfRun, WfRunStatus, WfStep, WfStepStatus,
    WorkflowStore,
};
use postgres::types::FromSql;
use postgres::{GenericClient, Row};
use std::time::Duration;

/// The current time of the server's clock in Unix milliseconds (SQL).
macro_rules! now_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

/// The current time of the server's clock as RFC 3339 UTC with whole seconds (SQL), the format
/// of `baton_state`'s stamps.
macro_rules! now_text {
    () => {
        "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    };
}

/// A claim's `expires_ms` as RFC 3339 UTC, rounded up to the whole second (so that a claim is
/// never reported to expire before it does) (SQL).
macro_rules! expiry_text {
    () => {
        "to_char(to_timestamp(ceil(expires_ms / 1000.0)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    };
}

macro_rules! select_runs {
    ($tail:literal) => {
        concat!(
            "SELECT id, workflow, inputs, definition, status, who, started_at, finished_at,
                    on_failure, parent, parent_step, note
             FROM wf_runs ",
            $tail
        )
    };
}

/// Every schema step, in order: migration `i` takes `wf_meta.version` from `i` to `i + 1`.
/// Append new steps; never edit a released one.
const MIGRATIONS: &[&str] = &[WORKFLOW_V1];

/// The schema version this build writes.
pub const WORKFLOW_SCHEMA_VERSION: usize = MIGRATIONS.len();

const WORKFLOW_V1: &str = r#"
CREATE TABLE wf_runs (
    id TEXT COLLATE "C" PRIMARY KEY,
    workflow TEXT COLLATE "C" NOT NULL,
    inputs TEXT NOT NULL,
    definition TEXT NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    who TEXT NOT NULL,
    started_at TEXT COLLATE "C" NOT NULL,
    finished_at TEXT COLLATE "C",
    on_failure TEXT NOT NULL,
    parent TEXT,
    parent_step TEXT,
    note TEXT
);
CREATE INDEX wf_runs_by_start ON wf_runs (started_at, id);
CREATE INDEX wf_runs_by_workflow ON wf_runs (workflow, status);
CREATE TABLE wf_claims (
    run_id TEXT COLLATE "C" PRIMARY KEY REFERENCES wf_runs (id),
    holder TEXT,
    token BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE SEQUENCE wf_claim_tokens AS BIGINT;
CREATE TABLE wf_steps (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES wf_runs (id),
    key TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    duration_ms BIGINT,
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
    CONSTRAINT wf_steps_pkey PRIMARY KEY (run_id, key),
    CONSTRAINT wf_steps_seq UNIQUE (run_id, seq)
);
CREATE TABLE wf_cache (
    workflow TEXT COLLATE "C" NOT NULL,
    step TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    outputs TEXT NOT NULL,
    run_id TEXT NOT NULL,
    stored_at TEXT COLLATE "C" NOT NULL,
    CONSTRAINT wf_cache_pkey PRIMARY KEY (workflow, step, key)
);
CREATE TABLE wf_limits (
    name TEXT COLLATE "C" PRIMARY KEY
);
CREATE TABLE wf_limit_slots (
    name TEXT COLLATE "C" NOT NULL,
    run_id TEXT COLLATE "C" NOT NULL REFERENCES wf_runs (id),
    key TEXT COLLATE "C" NOT NULL,
    taken_at TEXT NOT NULL,
    CONSTRAINT wf_limit_slots_pkey PRIMARY KEY (name, run_id, key)
);
CREATE TABLE wf_schedules (
    workflow TEXT COLLATE "C" NOT NULL,
    schedule TEXT COLLATE "C" NOT NULL,
    last_fired TEXT COLLATE "C" NOT NULL,
    CONSTRAINT wf_schedules_pkey PRIMARY KEY (workflow, schedule)
);
"#;

/// The first key of the advisory lock that serializes migrations (the second is the schema's
/// hash): FNV-1a of "baton-workflow-store". Two-key advisory locks never clash with one-key
/// ones, and this first key is this store's own.
const MIGRATION_LOCK: i32 = fnv1a32(b"baton-workflow-store") as i32;

const fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u32;
        h = h.wrapping_mul(0x0100_0193);
        i += 1;
    }
    h
}

/// Idle connections kept per handle; a write whose `COMMIT` got no answer is reported with
/// [`pool::unconfirmed`]'s message.
const SETTINGS: Settings = Settings {
    max_idle: 4,
    unconfirmed: pool::unconfirmed,
};

/// The longest lease recorded: a hundred years (a longer one is as good as forever, and the
/// server's timestamps end at year 294276).
const MAX_LEASE_MS: i64 = 100 * 366 * 24 * 3600 * 1000;

const RUNNING: &str = "running";
const WAITING: &str = "waiting";
const APPROVAL: &str = "approval";

/// The run statuses after which no step runs again without a `rollback`
/// ([`WfRunStatus::is_final`]).
const FINAL_STATUSES: [&str; 4] = ["succeeded", "failed", "rolled_back", "cancelled"];

/// A workflow store in one schema of a PostgreSQL database. Cheap to share between threads;
/// open several (in one process or many): they see each other's writes, and claims hold
/// across them.
pub struct PgWorkflowStore {
    pool: Pool,
}

/// Column `i` of `row`; a value of another type is [`Failure::Corrupt`].
fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, Failure> {
    row.try_get(i).map_err(|e| {
        let name = row.columns().get(i).map_or("?", |c| c.name());
        Failure::Corrupt(format!("cannot read column {name}: {e}"))
    })
}

/// A column holding a count that cannot be negative.
fn unsigned(row: &Row, i: usize) -> Result<u64, Failure> {
    to_u64(get(row, i)?, "negative count")
}

impl PgWorkflowStore {
    /// Opens the workflow store in `target`'s schema (creating the schema if needed) and
    /// brings its tables up to date, under an advisory lock so that handles opening a fresh
    /// schema at once do not race. Tables written by a newer Baton are
    /// [`StateError::Corrupt`].
    pub fn open(target: &PgTarget) -> Result<PgWorkflowStore, StateError> {
        let store = PgWorkflowStore {
            pool: Pool::open(target, SETTINGS)?,
        };
        store.write(migrate)?;
        Ok(store)
    }

    /// The database and schema, for messages (without the password).
    pub fn describe(&self) -> String {
        self.pool.target().describe()
    }

    /// Runs `f` in one transaction and commits it, trying again on a new connection (with
    /// backoff) when the connection breaks or the server asks for a retry before anything was
    /// committed; a `COMMIT` that got no answer is an error saying so.
    fn write<T>(
        &self,
        f: impl FnMut(&mut Tx<'_, '_>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.pool.write(f)
    }

    /// Runs `f` outside a transaction (each statement sees what was committed when it began),
    /// trying again on a new connection when the connection breaks.
    fn read<T>(
        &self,
        f: impl FnMut(&mut Db<'_, postgres::Client>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.pool.read(f)
    }
}

/// Brings the tables up to date inside the open transaction (see [`super::migrate`]),
/// recording how far they got in `wf_meta`.
fn migrate(tx: &mut Tx<'_, '_>) -> Result<(), Failure> {
    super::migrate(
        tx,
        (
            "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
            &[&MIGRATION_LOCK],
        ),
        MIGRATIONS,
        |tx| {
            tx.client().batch_execute(
                "CREATE TABLE IF NOT EXISTS wf_meta (
                     singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
                     version INTEGER NOT NULL
                 )",
            )?;
            let found: i32 = match tx.query_opt("SELECT version FROM wf_meta", &[])? {
                Some(row) => get(&row, 0)?,
                None => 0,
            };
            usize::try_from(found)
                .map_err(|_| Failure::Corrupt(format!("invalid workflow schema version {found}")))
        },
        |found, latest| {
            format!(
                "its workflow tables are at schema version {found}, newer than this build of \
                 Baton knows ({latest}): upgrade Baton"
            )
        },
        |tx, _| {
            let version = i32::try_from(MIGRATIONS.len())
                .map_err(|_| Failure::Corrupt("too many migrations".to_string()))?;
            tx.execute(
                "INSERT INTO wf_meta (singleton, version) VALUES (TRUE, $1)
                 ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
                &[&version],
            )?;
            Ok(())
        },
    )
}

impl WorkflowStore for PgWorkflowStore {
    fn create_run(
        &self,
        run: &WfRun,
        holder: &str,
        lease: Duration,
    ) -> Result<WfClaim, StateError> {
        let lease = lease_ms(lease);
        let status = run.status.as_str();
        self.write(|db| {
            let inserted = db.execute(
                "INSERT INTO wf_runs (id, workflow, inputs, definition, status, who, started_at,
                                      finished_at, on_failure, parent, parent_step, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &run.id,
                    &run.workflow,
                    &run.inputs,
                    &run.definition,
                    &status,
                    &run.who,
                    &run.started_at,
                    &run.finished_at,
                    &run.on_failure,
                    &run.parent,
                    &run.parent_step,
                    &run.note,
                ],
            )?;
            if inserted == 0 {
                // The caller's mistake, not a damaged store; there is no variant of its own.
                return Err(StateError::Io {
                    path: self.describe(),
                    message: format!("workflow run {} already exists", run.id),
                }
                .into());
            }
            take_claim(db, &run.id, holder, lease)
        })
    }

    fn claim(&self, run_id: &str, holder: &str, lease: Duration) -> Result<WfClaim, StateError> {
        let lease = lease_ms(lease);
        self.write(|db| {
            // The claim row first (every write for the run waits on it), then the run's status
            // and the time, read after the lock was granted.
            let previous = db.query_opt(
                concat!(
                    "SELECT holder, expires_ms, ",
                    expiry_text!(),
                    " FROM wf_claims WHERE run_id = $1 FOR UPDATE"
                ),
                &[&run_id],
            )?;
            let Some(row) = db.query_opt(
                concat!("SELECT status, ", now_ms!(), " FROM wf_runs WHERE id = $1"),
                &[&run_id],
            )?
            else {
                return Err(StateError::NoSuchRun(run_id.to_string()).into());
            };
            let status: String = get(&row, 0)?;
            let now: i64 = get(&row, 1)?;
            let previous: Option<(Option<String>, i64, String)> = match previous {
                Some(r) => Some((get(&r, 0)?, get(&r, 1)?, get(&r, 2)?)),
                None => None,
            };
            let (live, note) = match previous {
                Some((Some(h), expires, at)) if expires > now => {
                    if h != holder {
                        return Err(StateError::Claimed {
                            run: run_id.to_string(),
                            holder: Box::new(WfClaimHolder {
                                holder: h,
                                expires_at: at,
                            }),
                        }
                        .into());
                    }
                    (true, String::new())
                }
                Some((Some(h), _, at)) => (
                    false,
                    format!(
                        "interrupted: the claim of {h} expired at {at} while the run was running"
                    ),
                ),
                Some((None, _, _)) => (
                    false,
                    "interrupted: its claim was released while the run was running".to_string(),
                ),
                None => (
                    false,
                    "interrupted: nobody held it while it was running".to_string(),
                ),
            };
            if status == RUNNING && !live {
                let interrupted = WfRunStatus::Interrupted.as_str();
                db.execute(
                    "UPDATE wf_runs SET status = $2, note = $3 WHERE id = $1",
                    &[&run_id, &interrupted, &note],
                )?;
            }
            take_claim(db, run_id, holder, lease)
        })
    }

    fn renew(&self, claim: &WfClaim, lease: Duration) -> Result<(), StateError> {
        let lease = lease_ms(lease);
        let token = key_sql(claim.token);
        self.write(|db| {
            let renewed = db.execute(
                concat!(
                    "UPDATE wf_claims SET expires_ms = ",
                    now_ms!(),
                    " + $3
                     WHERE run_id = $1 AND token = $2 AND holder IS NOT NULL"
                ),
                &[&claim.run_id, &token, &lease],
            )?;
            if renewed == 1 {
                Ok(())
            } else {
                check_claim(db, &claim.run_id, claim)?;
                // The token is current but the claim was released: there is nothing to renew.
                Err(lost(&claim.run_id, claim))
            }
        })
    }

    fn release(&self, claim: &WfClaim) -> Result<(), StateError> {
        self.write(|db| {
            check_claim(db, &claim.run_id, claim)?;
            db.execute(
                "UPDATE wf_claims SET holder = NULL WHERE run_id = $1",
                &[&claim.run_id],
            )?;
            Ok(())
        })
    }

    fn set_run_status(
        &self,
        claim: &WfClaim,
        status: WfRunStatus,
        note: Option<&str>,
    ) -> Result<(), StateError> {
        let finished = status.is_final();
        let status = status.as_str();
        self.write(|db| {
            check_claim(db, &claim.run_id, claim)?;
            db.execute(
                concat!(
                    "UPDATE wf_runs SET status = $2,
                         finished_at = CASE WHEN $3 THEN ",
                    now_text!(),
                    " END,
                         note = coalesce($4, note)
                     WHERE id = $1"
                ),
                &[&claim.run_id, &status, &finished, &note],
            )?;
            Ok(())
        })
    }

    fn put_step(&self, claim: &WfClaim, step: &WfStep) -> Result<(), StateError> {
        self.write(|db| put_step_in(db, claim, step))
    }

    fn put_steps(&self, claim: &WfClaim, steps: &[WfStep]) -> Result<(), StateError> {
        if steps.is_empty() {
            return Ok(());
        }
        self.write(|db| {
            for step in steps {
                put_step_in(db, claim, step)?;
            }
            Ok(())
        })
    }

    fn run(&self, run_id: &str) -> Result<Option<WfRun>, StateError> {
        self.read(|db| {
            db.query_opt(select_runs!("WHERE id = $1"), &[&run_id])?
                .map(|r| row_to_run(&r))
                .transpose()
        })
    }

    fn runs(&self) -> Result<Vec<WfRun>, StateError> {
        self.read(|db| {
            db.query(select_runs!("ORDER BY started_at, id"), &[])?
                .iter()
                .map(row_to_run)
                .collect()
        })
    }

    fn runs_of(&self, workflow: &str, statuses: &[WfRunStatus]) -> Result<Vec<WfRun>, StateError> {
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        self.read(|db| {
            db.query(
                select_runs!("WHERE workflow = $1 AND status = ANY($2) ORDER BY started_at, id"),
                &[&workflow, &statuses],
            )?
            .iter()
            .map(row_to_run)
            .collect()
        })
    }

    fn steps(&self, run_id: &str) -> Result<Vec<WfStep>, StateError> {
        self.read(|db| {
            db.query(
                "SELECT run_id, key, seq, step, kind, status, attempts, started_at,
                        finished_at, duration_ms, inputs, outputs, exit_code, stdout,
                        stderr, error, child_run, child_store, next_attempt_at, approval
                 FROM wf_steps WHERE run_id = $1 ORDER BY seq",
                &[&run_id],
            )?
            .iter()
            .map(row_to_step)
            .collect()
        })
    }

    fn decide_approval(&self, run_id: &str, key: &str, decision: &str) -> Result<(), StateError> {
        self.write(|db| {
            // One decision counts: a racing approver's update waits for this one's row lock,
            // then finds the decision made and updates nothing.
            let decided = db.execute(
                "UPDATE wf_steps SET approval = $3
                 WHERE run_id = $1 AND key = $2 AND status = $4 AND kind = $5
                   AND approval IS NULL",
                &[&run_id, &key, &decision, &WAITING, &APPROVAL],
            )?;
            if decided == 1 {
                return Ok(());
            }
            let step = db.query_opt(
                "SELECT 1 FROM wf_steps WHERE run_id = $1 AND key = $2",
                &[&run_id, &key],
            )?;
            if step.is_none() && !run_exists(db, run_id)? {
                return Err(StateError::NoSuchRun(run_id.to_string()).into());
            }
            Err(StateError::NotWaiting {
                run: run_id.to_string(),
                key: key.to_string(),
            }
            .into())
        })
    }

    fn cache_get(
        &self,
        workflow: &str,
        step: &str,
        key: &str,
        since: &str,
    ) -> Result<Option<WfCacheEntry>, StateError> {
        self.read(|db| {
            db.query_opt(
                "SELECT outputs, run_id, stored_at FROM wf_cache
                 WHERE workflow = $1 AND step = $2 AND key = $3 AND stored_at >= $4",
                &[&workflow, &step, &key, &since],
            )?
            .map(|r| {
                Ok(WfCacheEntry {
                    outputs: get(&r, 0)?,
                    run_id: get(&r, 1)?,
                    stored_at: get(&r, 2)?,
                })
            })
            .transpose()
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
        self.write(|db| {
            check_claim(db, &claim.run_id, claim)?;
            // The newest entry of a key replaces the older one: it is never the newest again.
            db.execute(
                concat!(
                    "INSERT INTO wf_cache (workflow, step, key, outputs, run_id, stored_at)
                     VALUES ($1, $2, $3, $4, $5, ",
                    now_text!(),
                    ")
                     ON CONFLICT (workflow, step, key) DO UPDATE
                         SET outputs = excluded.outputs, run_id = excluded.run_id,
                             stored_at = excluded.stored_at"
                ),
                &[&workflow, &step, &key, &outputs, &claim.run_id],
            )?;
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
        let max = i64::from(max);
        let finals: &[&str] = &FINAL_STATUSES;
        self.write(|db| {
            check_claim(db, &claim.run_id, claim)?;
            // The limit's row, locked: every count of its slots waits for this one.
            db.execute(
                "INSERT INTO wf_limits (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&limit],
            )?;
            db.execute(
                "SELECT 1 FROM wf_limits WHERE name = $1 FOR UPDATE",
                &[&limit],
            )?;
            // Free the limit's slots of runs nobody advances any more: released or expired
            // claims, and final runs. Never the caller's own (its token is current).
            db.execute(
                concat!(
                    "DELETE FROM wf_limit_slots
                     WHERE name = $1 AND run_id <> $2 AND run_id IN (
                         SELECT r.id FROM wf_runs r JOIN wf_claims c ON c.run_id = r.id
                         WHERE c.holder IS NULL OR c.expires_ms <= ",
                    now_ms!(),
                    " OR r.status = ANY($3))"
                ),
                &[&limit, &claim.run_id, &finals],
            )?;
            let Some(row) = db.query_opt(
                "SELECT count(*) FILTER (WHERE run_id = $2 AND key = $3), count(*)
                 FROM wf_limit_slots WHERE name = $1",
                &[&limit, &claim.run_id, &key],
            )?
            else {
                return Ok(false);
            };
            let held: i64 = get(&row, 0)?;
            let taken: i64 = get(&row, 1)?;
            if held > 0 {
                return Ok(true);
            }
            if taken >= max {
                return Ok(false);
            }
            db.execute(
                concat!(
                    "INSERT INTO wf_limit_slots (name, run_id, key, taken_at)
                     VALUES ($1, $2, $3, ",
                    now_text!(),
                    ")"
                ),
                &[&limit, &claim.run_id, &key],
            )?;
            Ok(true)
        })
    }

    fn limit_release(&self, claim: &WfClaim, limit: &str, key: &str) -> Result<(), StateError> {
        self.write(|db| {
            check_claim(db, &claim.run_id, claim)?;
            db.execute(
                "DELETE FROM wf_limit_slots WHERE name = $1 AND run_id = $2 AND key = $3",
                &[&limit, &claim.run_id, &key],
            )?;
            Ok(())
        })
    }

    fn schedule_last(&self, workflow: &str, schedule: &str) -> Result<Option<String>, StateError> {
        self.read(|db| {
            db.query_opt(
                "SELECT last_fired FROM wf_schedules WHERE workflow = $1 AND schedule = $2",
                &[&workflow, &schedule],
            )?
            .map(|r| get(&r, 0))
            .transpose()
        })
    }

    fn schedule_fire(&self, workflow: &str, schedule: &str, at: &str) -> Result<bool, StateError> {
        self.write(|db| {
            // Atomic under concurrency: a racing insert waits for this one, then updates only
            // if its slot is later.
            let recorded = db.execute(
                "INSERT INTO wf_schedules (workflow, schedule, last_fired) VALUES ($1, $2, $3)
                 ON CONFLICT (workflow, schedule) DO UPDATE
                     SET last_fired = excluded.last_fired
                     WHERE wf_schedules.last_fired < excluded.last_fired",
                &[&workflow, &schedule, &at],
            )?;
            Ok(recorded == 1)
        })
    }
}

/// Opens the workflow run store in `target`'s schema, creating or migrating its tables.
pub fn open(target: &PgTarget) -> Result<Box<dyn WorkflowStore>, StateError> {
    Ok(Box::new(PgWorkflowStore::open(target)?))
}

/// Gives `run_id` a new claim for `holder`: the next token, `lease_ms` from now.
fn take_claim(
    db: &mut Tx<'_, '_>,
    run_id: &str,
    holder: &str,
    lease_ms: i64,
) -> Result<WfClaim, Failure> {
    let row = db
        .query_opt(
            concat!(
                "INSERT INTO wf_claims (run_id, holder, token, expires_ms)
                 VALUES ($1, $2, nextval('wf_claim_tokens'), ",
                now_ms!(),
                " + $3)
                 ON CONFLICT (run_id) DO UPDATE
                     SET holder = excluded.holder, token = excluded.token,
                         expires_ms = excluded.expires_ms
                 RETURNING token"
            ),
            &[&run_id, &holder, &lease_ms],
        )?
        .ok_or_else(|| Failure::Corrupt("taking a claim returned no token".to_string()))?;
    let token: i64 = get(&row, 0)?;
    Ok(WfClaim {
        run_id: run_id.to_string(),
        holder: holder.to_string(),
        token: to_u64(token, "invalid claim token")?,
    })
}

/// Refuses a write for `run_id` unless `claim` is that run's current claim: `NoSuchRun` when
/// there is no such run, `ClaimLost` when a newer claim replaced it (or it is another run's).
/// Locks the claim row until the transaction ends, so no claim comes between the check and
/// the write.
fn check_claim(db: &mut Tx<'_, '_>, run_id: &str, claim: &WfClaim) -> Result<(), Failure> {
    let token = match db.query_opt(
        "SELECT token FROM wf_claims WHERE run_id = $1 FOR UPDATE",
        &[&run_id],
    )? {
        Some(r) => Some(get::<i64>(&r, 0)?),
        None => None,
    };
    match token {
        Some(t) if t == key_sql(claim.token) && claim.run_id == run_id => Ok(()),
        Some(_) => Err(lost(run_id, claim)),
        None if run_exists(db, run_id)? => Err(lost(run_id, claim)),
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

fn run_exists<C: GenericClient>(db: &mut Db<'_, C>, run_id: &str) -> Result<bool, Failure> {
    Ok(db
        .query_opt("SELECT 1 FROM wf_runs WHERE id = $1", &[&run_id])?
        .is_some())
}

fn lease_ms(lease: Duration) -> i64 {
    saturating(lease.as_millis()).min(MAX_LEASE_MS)
}

fn row_to_run(r: &Row) -> Result<WfRun, Failure> {
    let status: String = get(r, 4)?;
    Ok(WfRun {
        id: get(r, 0)?,
        workflow: get(r, 1)?,
        inputs: get(r, 2)?,
        definition: get(r, 3)?,
        status: WfRunStatus::parse(&status)
            .ok_or_else(|| Failure::Corrupt(format!("unknown workflow run status {status:?}")))?,
        who: get(r, 5)?,
        started_at: get(r, 6)?,
        finished_at: get(r, 7)?,
        on_failure: get(r, 8)?,
        parent: get(r, 9)?,
        parent_step: get(r, 10)?,
        note: get(r, 11)?,
    })
}

fn row_to_step(r: &Row) -> Result<WfStep, Failure> {
    let status: String = get(r, 5)?;
    let attempts: i64 = get(r, 6)?;
    Ok(WfStep {
        run_id: get(r, 0)?,
        key: get(r, 1)?,
        seq: unsigned(r, 2)?,
        step: get(r, 3)?,
        kind: get(r, 4)?,
        status: WfStepStatus::parse(&status)
            .ok_or_else(|| Failure::Corrupt(format!("unknown step status {status:?}")))?,
        attempts: u32::try_from(attempts)
            .map_err(|_| Failure::Corrupt(format!("invalid attempt count {attempts}")))?,
        started_at: get(r, 7)?,
        finished_at: get(r, 8)?,
        duration_ms: get::<Option<i64>>(r, 9)?
            .map(|_| unsigned(r, 9))
            .transpose()?,
        inputs: get(r, 10)?,
        outputs: get(r, 11)?,
        exit_code: get(r, 12)?,
        stdout: get(r, 13)?,
        stderr: get(r, 14)?,
        error: get(r, 15)?,
        child_run: get(r, 16)?,
        child_store: get(r, 17)?,
        next_attempt_at: get(r, 18)?,
        approval: get(r, 19)?,
    })
}

/// Inserts or replaces one step instance inside a write transaction (keeping its `seq`; a new
/// one gets one more than the run's largest, which the claim row's lock keeps from racing).
fn put_step_in(db: &mut Tx<'_, '_>, claim: &WfClaim, step: &WfStep) -> Result<(), Failure> {
    check_claim(db, &step.run_id, claim)?;
    let status = step.status.as_str();
    let attempts = i64::from(step.attempts);
    // Beyond PostgreSQL's integers (some 292 million years): the longest it can keep.
    let duration = step.duration_ms.map(saturating);
    db.execute(
        "INSERT INTO wf_steps (run_id, key, seq, step, kind, status, attempts, started_at,
                               finished_at, duration_ms, inputs, outputs, exit_code,
                               stdout, stderr, error, child_run, child_store,
                               next_attempt_at, approval)
         VALUES ($1, $2, (SELECT coalesce(max(seq), 0) + 1 FROM wf_steps WHERE run_id = $1),
                 $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         ON CONFLICT (run_id, key) DO UPDATE SET
             step = excluded.step, kind = excluded.kind, status = excluded.status,
             attempts = excluded.attempts, started_at = excluded.started_at,
             finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
             inputs = excluded.inputs, outputs = excluded.outputs,
             exit_code = excluded.exit_code, stdout = excluded.stdout,
             stderr = excluded.stderr, error = excluded.error,
             child_run = excluded.child_run, child_store = excluded.child_store,
             next_attempt_at = excluded.next_attempt_at, approval = excluded.approval",
        &[
            &step.run_id,
            &step.key,
            &step.step,
            &step.kind,
            &status,
            &attempts,
            &step.started_at,
            &step.finished_at,
            &duration,
            &step.inputs,
            &step.outputs,
            &step.exit_code,
            &step.stdout,
            &step.stderr,
            &step.error,
            &step.child_run,
            &step.child_store,
            &step.next_attempt_at,
            &step.approval,
        ],
    )?;
    Ok(())
}
