//! The run journal's tables and SQL: runs (one per apply, destroy, resume or rollback) and
//! their actions, each recorded as an intent before it starts and an outcome after it ends.
//!
//! Only the SQLite store calls the SQL functions; they run inside its transactions so an
//! outcome and the state write it implies commit together. [`is_orphaned`] and [`raw`] serve
//! every store. Nothing here interprets recorded values.

use crate::lock;
use crate::model::{EntryOutcome, EntryStatus, JournalEntry, RawJson, RunRecord, RunStatus};
use crate::store::PlanWriter;
use rusqlite::{OptionalExtension, Transaction};

/// The journal's schema (migration 2).
pub fn schema_v2(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE runs (
             id TEXT PRIMARY KEY,
             kind TEXT NOT NULL,
             status TEXT NOT NULL,
             who TEXT NOT NULL,
             host TEXT NOT NULL,
             pid INTEGER NOT NULL,
             process_start TEXT NOT NULL,
             started_at TEXT NOT NULL,
             finished_at TEXT,
             serial INTEGER NOT NULL,
             summary TEXT NOT NULL,
             plan TEXT NOT NULL,
             parent TEXT,
             on_failure TEXT NOT NULL,
             ordinal INTEGER NOT NULL
         );
         CREATE TABLE journal (
             run_id TEXT NOT NULL REFERENCES runs (id),
             seq INTEGER NOT NULL,
             addr TEXT NOT NULL,
             deposed TEXT NOT NULL,
             action TEXT NOT NULL,
             prior TEXT NOT NULL,
             planned TEXT NOT NULL,
             status TEXT NOT NULL,
             new_value TEXT,
             error TEXT,
             attempts INTEGER NOT NULL,
             started_at TEXT NOT NULL,
             duration_ms INTEGER,
             phase TEXT NOT NULL,
             PRIMARY KEY (run_id, seq)
         ) WITHOUT ROWID;",
    )
}

/// Migration 4: a run's plan moves to its own table, so that updating a run's status (or
/// listing runs) does not read and rewrite a row as large as the plan.
pub fn schema_v4(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE run_plans (
             run_id TEXT PRIMARY KEY REFERENCES runs (id),
             plan TEXT NOT NULL
         );
         INSERT INTO run_plans (run_id, plan) SELECT id, plan FROM runs;
         ALTER TABLE runs DROP COLUMN plan;",
    )
}

/// Records a run and its plan. The plan is streamed into the database (its length measured
/// first, then written into a blob of that size), so a large plan is never held in memory as
/// one string, by Baton or by SQLite.
pub fn insert_run(
    tx: &Transaction<'_>,
    r: &RunRecord,
    plan: PlanWriter<'_>,
) -> Result<(), PlanWriteError> {
    let ordinal: i64 = tx.query_row(
        "SELECT COALESCE(MAX(ordinal), 0) + 1 FROM runs",
        [],
        |row| row.get(0),
    )?;
    tx.prepare_cached(
        "INSERT INTO runs (id, kind, status, who, host, pid, process_start, started_at,
             finished_at, serial, summary, parent, on_failure, ordinal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(rusqlite::params![
        r.id,
        r.kind,
        r.status.as_str(),
        r.who,
        r.host,
        r.pid,
        r.process_start,
        r.started_at,
        r.finished_at,
        r.serial as i64,
        r.summary,
        r.parent,
        r.on_failure,
        ordinal,
    ])?;
    let mut counter = Counter(0);
    plan(&mut counter).map_err(PlanWriteError::Plan)?;
    let len = i64::try_from(counter.0)
        .map_err(|_| PlanWriteError::Plan(std::io::Error::other("the plan is too large")))?;
    tx.prepare_cached("INSERT INTO run_plans (run_id, plan) VALUES (?1, zeroblob(?2))")?
        .execute(rusqlite::params![r.id, len])?;
    let row = tx.last_insert_rowid();
    let blob = tx.blob_open(rusqlite::MAIN_DB, "run_plans", "plan", row, false)?;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, blob);
    plan(&mut out).map_err(PlanWriteError::Plan)?;
    let mut blob = out
        .into_inner()
        .map_err(|e| PlanWriteError::Plan(e.into_error()))?;
    let written = std::io::Seek::stream_position(&mut blob).map_err(PlanWriteError::Plan)?;
    if written != counter.0 {
        return Err(PlanWriteError::Plan(std::io::Error::other(format!(
            "the plan was {} bytes, then {written}",
            counter.0
        ))));
    }
    Ok(())
}

/// Why [`insert_run`] failed.
#[derive(Debug)]
pub enum PlanWriteError {
    Sql(rusqlite::Error),
    /// The plan writer failed, or wrote more than it did the first time.
    Plan(std::io::Error),
}

impl From<rusqlite::Error> for PlanWriteError {
    fn from(e: rusqlite::Error) -> PlanWriteError {
        PlanWriteError::Sql(e)
    }
}

/// Counts the bytes written to it.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn set_status(
    tx: &Transaction<'_>,
    id: &str,
    status: RunStatus,
    now: &str,
) -> rusqlite::Result<usize> {
    let finished = !matches!(status, RunStatus::Running);
    tx.prepare_cached(
        "UPDATE runs SET status = ?2, finished_at = CASE WHEN ?3 THEN ?4 ELSE finished_at END
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![id, status.as_str(), finished, now])
}

pub fn insert_entry(tx: &Transaction<'_>, e: &JournalEntry) -> rusqlite::Result<u64> {
    let seq: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = ?1")?
        .query_row([&e.run_id], |row| row.get(0))?;
    tx.prepare_cached(
        "INSERT INTO journal (run_id, seq, addr, deposed, action, prior, planned, status,
             new_value, error, attempts, started_at, duration_ms, phase)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(rusqlite::params![
        e.run_id,
        seq,
        e.addr,
        e.deposed,
        e.action,
        e.prior.as_str(),
        e.planned.as_str(),
        e.status.as_str(),
        e.new_value.as_ref().map(RawJson::as_str),
        e.error,
        e.attempts,
        e.started_at,
        e.duration_ms.map(|d| d as i64),
        e.phase,
    ])?;
    Ok(seq as u64)
}

pub fn set_outcome(
    tx: &Transaction<'_>,
    run_id: &str,
    seq: u64,
    o: &EntryOutcome,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE journal SET status = ?3, new_value = ?4, error = ?5, attempts = ?6, duration_ms = ?7
         WHERE run_id = ?1 AND seq = ?2",
    )?
    .execute(rusqlite::params![
        run_id,
        seq as i64,
        o.status.as_str(),
        o.new_value.as_ref().map(RawJson::as_str),
        o.error,
        o.attempts,
        o.duration_ms as i64,
    ])
}

/// A stored JSON text as [`RawJson`] (null when it is not JSON).
pub fn raw(s: String) -> RawJson {
    match serde_json::value::RawValue::from_string(s) {
        Ok(r) => RawJson::from_raw(r),
        Err(_) => RawJson::null(),
    }
}

fn row_to_run(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let status: String = row.get("status")?;
    let serial: i64 = row.get("serial")?;
    Ok(RunRecord {
        id: row.get("id")?,
        kind: row.get("kind")?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Interrupted),
        who: row.get("who")?,
        host: row.get("host")?,
        pid: row.get("pid")?,
        process_start: row.get("process_start")?,
        started_at: row.get("started_at")?,
        finished_at: row.get("finished_at")?,
        serial: serial.max(0) as u64,
        summary: row.get("summary")?,
        plan: RawJson::null(),
        parent: row.get("parent")?,
        on_failure: row.get("on_failure")?,
    })
}

const RUN_COLUMNS: &str = "id, kind, status, who, host, pid, process_start, started_at, finished_at, serial, summary, parent, on_failure";

/// Every run, newest first, without their plans (see [`one_run`]).
pub fn all_runs(tx: &Transaction<'_>) -> rusqlite::Result<Vec<RunRecord>> {
    let mut st = tx.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs ORDER BY ordinal DESC"
    ))?;
    let rows = st.query_map([], row_to_run)?;
    rows.collect()
}

/// One run, with its plan.
pub fn one_run(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<RunRecord>> {
    let Some(mut run) = tx
        .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?
        .query_row([id], row_to_run)
        .optional()?
    else {
        return Ok(None);
    };
    // Text when migrated from schema 3, a blob of UTF-8 JSON since.
    let plan: Option<Vec<u8>> = tx
        .prepare_cached("SELECT CAST(plan AS BLOB) FROM run_plans WHERE run_id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    if let Some(plan) = plan.and_then(|p| String::from_utf8(p).ok()) {
        run.plan = raw(plan);
    }
    Ok(Some(run))
}

pub fn entries(tx: &Transaction<'_>, run_id: &str) -> rusqlite::Result<Vec<JournalEntry>> {
    let mut st = tx.prepare_cached(
        "SELECT run_id, seq, addr, deposed, action, prior, planned, status, new_value, error,
                attempts, started_at, duration_ms, phase
         FROM journal WHERE run_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([run_id], |row| {
        let status: String = row.get(7)?;
        let seq: i64 = row.get(1)?;
        let dur: Option<i64> = row.get(12)?;
        Ok(JournalEntry {
            run_id: row.get(0)?,
            seq: seq.max(0) as u64,
            addr: row.get(2)?,
            deposed: row.get(3)?,
            action: row.get(4)?,
            prior: raw(row.get(5)?),
            planned: raw(row.get(6)?),
            status: EntryStatus::parse(&status).unwrap_or(EntryStatus::Started),
            new_value: row.get::<_, Option<String>>(8)?.map(raw),
            error: row.get(9)?,
            attempts: row.get(10)?,
            started_at: row.get(11)?,
            duration_ms: dur.map(|d| d.max(0) as u64),
            phase: row.get(13)?,
        })
    })?;
    rows.collect()
}

/// Whether a `running` run's process is gone (it was killed or lost).
pub fn is_orphaned(r: &RunRecord) -> bool {
    r.status == RunStatus::Running
        && lock::holder_is_gone(&crate::model::LockInfo {
            id: String::new(),
            pid: r.pid,
            host: r.host.clone(),
            who: r.who.clone(),
            operation: r.kind.clone(),
            since: r.started_at.clone(),
            process_start: r.process_start.clone(),
            lease_ms: 0,
        })
}
