//! The embedded SQLite state store (by default `.baton/state.db`, chosen by the CLI): versioned
//! objects and outputs kept as validity ranges, version metadata, the lineage and the state
//! lock, all in one database file that several processes may open at once.
//!
//! Later modules (run journal, audit log) add their tables through [`MIGRATIONS`] and write them
//! in the same transaction as state writes through [`SqliteStore::with_transaction`].
//!
//! Must not interpret attribute values, decide what to change, log, or panic on a bad file: it
//! stores what it is handed and reports every failure as a [`StateError`] naming the database.
//!
//! # Schema (version 1)
//! - `meta(key, value)`: `lineage` (random, fixed at creation) and `created_at`.
//! - `versions(serial, lineage, run_id, command, created_at, status, changes)`: one row per
//!   version; `status` is `in_progress`, `complete`, `failed` or `interrupted`.
//! - `objects(id, addr, deposed, valid_from, valid_to, body)`: one row per object and range of
//!   versions in which it had the value `body` (an [`InstanceState`] as JSON); `valid_to` is
//!   the first version where it no longer had it, `NULL` while it still does. Indexed by
//!   `(addr, deposed, valid_to)`, plus a unique partial index: one current row per object.
//! - `outputs(id, name, valid_from, valid_to, body)`: the same for root outputs.
//! - `lock(singleton = 1, id, pid, host, since, info, token, expires_ms)`: the holder, at most
//!   one row; `info` is the whole [`LockInfo`] as JSON, `token` its fencing token, `expires_ms`
//!   when its lease runs out unless renewed (Unix milliseconds by the local clock; `NULL`: a
//!   lock taken before leases, which never expires). Since migration 5.
//! - `fence(singleton = 1, last)`: the last fencing token handed out; it survives releases, so
//!   tokens only grow. Since migration 5.
//!
//! `PRAGMA user_version` is the schema version and `PRAGMA application_id` marks the file as
//! Baton's, so that another program's database is refused instead of being written into.

use crate::audit::{self, AuditEntry, AuditRecord, VerifyReport};
use crate::journal;
use crate::lock;
use crate::model::{
    EntryOutcome, InstanceState, JournalEntry, LockInfo, ObjectKey, OutputState, RunRecord,
    RunStatus, Snapshot, VersionMeta,
};
use crate::model::{Fence, Lease};
use crate::stamp;
use crate::store::{
    LockGuard, PlanWriter, Renewal, StaleLock, Staleness, StateError, StateStore, StateWrite,
    Unlock,
};
use baton_core::InstanceAddr;
use rusqlite::types::ToSql;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A state store in one SQLite database file. Cheap to share between threads (`&self`
/// methods, one connection behind a mutex); open one per process, or several on the same file:
/// they see each other's writes.
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

/// A step of the schema: migration `i` takes `user_version` from `i` to `i + 1`. Append new
/// steps (run journal, audit log); never edit a released one.
pub type Migration = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// Every schema step, in order.
pub const MIGRATIONS: &[Migration] = &[
    schema_v1,
    journal::schema_v2,
    audit::schema_v3,
    journal::schema_v4,
    lease_v5,
];

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// `PRAGMA application_id` of a Baton state database: "Batn".
pub const APPLICATION_ID: i64 = 0x4261_746e;

/// How long a statement waits for another connection's write transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `lock` looks again while a live holder keeps the lock.
const LOCK_POLL: Duration = Duration::from_millis(100);

const IN_PROGRESS: &str = "in_progress";
const INTERRUPTED: &str = "interrupted";

/// Where a root module keeps the state of an environment by default: `.baton/state.db` in its
/// directory for `default`, `.baton/envs/ENV/state.db` for the others.
pub fn default_path(dir: &Path, environment: &str) -> PathBuf {
    if environment == "default" {
        dir.join(".baton").join("state.db")
    } else {
        dir.join(".baton")
            .join("envs")
            .join(environment)
            .join("state.db")
    }
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (and its parent directories) if needed, and
    /// brings its schema up to date. A file that is not a Baton state database, or one written
    /// by a newer Baton, is [`StateError::Corrupt`].
    pub fn open(path: &Path) -> Result<SqliteStore, StateError> {
        let conn = open_database(path, &STATE_SCHEMA)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` inside one immediate (write-locking) transaction, committed if `f` succeeds and
    /// rolled back otherwise. For modules that keep their tables in this database and must
    /// write them atomically with state (see [`SqliteStore::put_object_in`]).
    ///
    /// `f` must not call other methods of this store nor drop one of its [`LockGuard`]s: the
    /// connection is held while it runs. Use the `*_in` methods to write state from `f`.
    pub fn with_transaction<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        self.write(|tx| f(tx).map_err(Failure::State))
    }

    /// [`StateStore::put_object`] inside a transaction of [`SqliteStore::with_transaction`].
    pub fn put_object_in(
        &self,
        tx: &Transaction<'_>,
        fence: Fence,
        serial: u64,
        key: &ObjectKey,
        object: Option<&InstanceState>,
    ) -> Result<(), StateError> {
        let body = encode(object).map_err(|e| e.at(&self.path))?;
        check_fence(tx, fence)
            .and_then(|()| put_object_tx(tx, serial, key, body.as_deref()))
            .map_err(|e| e.at(&self.path))
    }

    /// [`StateStore::put_outputs`] inside a transaction of [`SqliteStore::with_transaction`].
    pub fn put_outputs_in(
        &self,
        tx: &Transaction<'_>,
        fence: Fence,
        serial: u64,
        outputs: &BTreeMap<String, OutputState>,
    ) -> Result<(), StateError> {
        let bodies = encode_outputs(outputs).map_err(|e| e.at(&self.path))?;
        check_fence(tx, fence)
            .and_then(|()| put_outputs_tx(tx, serial, &bodies))
            .map_err(|e| e.at(&self.path))
    }

    /// Converts an SQLite error met inside [`SqliteStore::with_transaction`] into a
    /// [`StateError`] naming this database.
    pub fn sql_error(&self, e: rusqlite::Error) -> StateError {
        Failure::from(e).at(&self.path)
    }

    /// The [`StateError`] naming this database for a failed audit operation.
    fn audit_error(&self, e: audit::AuditFailure) -> StateError {
        match e {
            audit::AuditFailure::Sql(e) => self.sql_error(e),
            audit::AuditFailure::Corrupt(message) => StateError::Corrupt {
                path: self.path().display().to_string(),
                message,
            },
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock_conn(&self.conn)
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

impl StateStore for SqliteStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        let deadline = Instant::now().checked_add(timeout);
        let info_json =
            serde_json::to_string(&info).map_err(|e| Failure::from(e).at(&self.path))?;
        let lease_ms = i64::try_from(info.lease_ms).unwrap_or(i64::MAX);
        loop {
            let attempt = self.write(|tx| {
                let now = stamp::now_unix_ms();
                let cleared = match read_held(tx)? {
                    None => None,
                    Some(h) => match staleness(&h, now) {
                        Some(why) => Some(StaleLock {
                            holder: h.info,
                            why,
                        }),
                        None => return Ok(Err(h.info)),
                    },
                };
                let token: i64 = tx
                    .prepare_cached("UPDATE fence SET last = last + 1 RETURNING last")?
                    .query_row([], |r| r.get(0))?;
                let expires = (lease_ms > 0).then(|| now.saturating_add(lease_ms));
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO lock
                         (singleton, id, pid, host, since, info, token, expires_ms)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute((
                    &info.id,
                    info.pid,
                    &info.host,
                    &info.since,
                    &info_json,
                    token,
                    expires,
                ))?;
                Ok(Ok((to_fence(token)?, cleared)))
            })?;
            match attempt {
                Ok((fence, cleared)) => {
                    let renew_conn = Arc::clone(&self.conn);
                    let release_conn = Arc::clone(&self.conn);
                    let renew = Box::new(move || renew_lease(&renew_conn, fence, lease_ms));
                    let release = Box::new(move || release_lock(&release_conn, fence));
                    return LockGuard::leased(info, fence, cleared, renew, release).map_err(|e| {
                        StateError::Io {
                            path: self.describe(),
                            message: format!("cannot start the lease renewer: {e}"),
                        }
                    });
                }
                Err(holder) => {
                    let now = Instant::now();
                    let wait = match deadline {
                        Some(d) if now >= d => return Err(StateError::Locked(Box::new(holder))),
                        Some(d) => LOCK_POLL.min(d - now),
                        None => LOCK_POLL,
                    };
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        self.read(read_lock)
    }

    fn lease(&self) -> Result<Option<Lease>, StateError> {
        self.read(|tx| {
            let now = stamp::now_unix_ms();
            Ok(read_held(tx)?.map(|h| h.lease(now)))
        })
    }

    fn force_unlock(&self, how: Unlock) -> Result<Option<LockInfo>, StateError> {
        self.write(|tx| {
            let Some(held) = read_held(tx)? else {
                return Ok(None);
            };
            let lease = held.lease(stamp::now_unix_ms());
            if how == Unlock::IfExpired && !lease.expired {
                return Err(StateError::LeaseLive(Box::new(lease)).into());
            }
            tx.execute("DELETE FROM lock", [])?;
            Ok(Some(lease.holder))
        })
    }

    fn current(&self) -> Result<Snapshot, StateError> {
        self.read(|tx| {
            let serial: Option<i64> =
                tx.query_row("SELECT max(serial) FROM versions", [], |r| r.get(0))?;
            Ok(Snapshot {
                lineage: lineage(tx)?,
                serial: serial.map_or(Ok(0), to_serial)?,
                objects: read_objects(
                    tx,
                    "SELECT addr, deposed, body FROM objects WHERE valid_to IS NULL",
                    [],
                )?,
                outputs: read_outputs(
                    tx,
                    "SELECT name, body FROM outputs WHERE valid_to IS NULL",
                    [],
                )?,
            })
        })
    }

    fn begin_version(&self, fence: Fence, run_id: &str, command: &str) -> Result<u64, StateError> {
        self.write(|tx| {
            check_fence(tx, fence)?;
            let latest: Option<i64> =
                tx.query_row("SELECT max(serial) FROM versions", [], |r| r.get(0))?;
            let serial = latest.unwrap_or(0) + 1;
            tx.execute(
                "UPDATE versions SET status = ?1 WHERE status = ?2",
                (INTERRUPTED, IN_PROGRESS),
            )?;
            tx.execute(
                "INSERT INTO versions (serial, lineage, run_id, command, created_at, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (
                    serial,
                    lineage(tx)?,
                    run_id,
                    command,
                    stamp::now_rfc3339(),
                    IN_PROGRESS,
                ),
            )?;
            to_serial(serial)
        })
    }

    fn put_object(
        &self,
        fence: Fence,
        serial: u64,
        key: &ObjectKey,
        object: Option<&InstanceState>,
    ) -> Result<(), StateError> {
        let body = encode(object).map_err(|e| e.at(&self.path))?;
        self.write(|tx| {
            check_fence(tx, fence)?;
            put_object_tx(tx, serial, key, body.as_deref())
        })
    }

    fn put_outputs(
        &self,
        fence: Fence,
        serial: u64,
        outputs: &BTreeMap<String, OutputState>,
    ) -> Result<(), StateError> {
        let bodies = encode_outputs(outputs).map_err(|e| e.at(&self.path))?;
        self.write(|tx| {
            check_fence(tx, fence)?;
            put_outputs_tx(tx, serial, &bodies)
        })
    }

    fn finish_version(&self, fence: Fence, serial: u64, status: &str) -> Result<(), StateError> {
        self.write(|tx| {
            check_fence(tx, fence)?;
            let s = open_version(tx, serial)?;
            tx.execute(
                "UPDATE versions SET status = ?2 WHERE serial = ?1",
                (s, status),
            )?;
            Ok(())
        })
    }

    fn history(&self) -> Result<Vec<VersionMeta>, StateError> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT serial, lineage, run_id, command, created_at, status, changes
                 FROM versions ORDER BY serial",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    VersionMeta {
                        serial: 0,
                        lineage: r.get(1)?,
                        run_id: r.get(2)?,
                        command: r.get(3)?,
                        created_at: r.get(4)?,
                        status: r.get(5)?,
                        changes: r.get::<_, i64>(6)?.try_into().unwrap_or(0),
                    },
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (serial, meta) = row?;
                out.push(VersionMeta {
                    serial: to_serial(serial)?,
                    ..meta
                });
            }
            Ok(out)
        })
    }

    fn at_version(&self, serial: u64) -> Result<Snapshot, StateError> {
        let s = i64::try_from(serial).map_err(|_| StateError::NoSuchVersion(serial))?;
        self.read(|tx| {
            let lineage = if serial == 0 {
                lineage(tx)?
            } else {
                tx.query_row("SELECT lineage FROM versions WHERE serial = ?1", [s], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or(StateError::NoSuchVersion(serial))?
            };
            Ok(Snapshot {
                lineage,
                serial,
                objects: read_objects(
                    tx,
                    "SELECT addr, deposed, body FROM objects
                     WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1)",
                    [s],
                )?,
                outputs: read_outputs(
                    tx,
                    "SELECT name, body FROM outputs
                     WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1)",
                    [s],
                )?,
            })
        })
    }

    fn begin_run(
        &self,
        fence: Fence,
        run: &RunRecord,
        plan: PlanWriter<'_>,
    ) -> Result<(), StateError> {
        self.write(|tx| {
            check_fence(tx, fence)?;
            journal::insert_run(tx, run, plan).map_err(|e| match e {
                journal::PlanWriteError::Sql(e) => Failure::Sql(e),
                journal::PlanWriteError::Plan(e) => Failure::State(StateError::Io {
                    path: self.path.display().to_string(),
                    message: format!("cannot record the plan of run {}: {e}", run.id),
                }),
            })
        })
    }

    fn finish_run(&self, fence: Fence, id: &str, status: RunStatus) -> Result<(), StateError> {
        let now = stamp::now_rfc3339();
        self.write(|tx| {
            check_fence(tx, fence)?;
            journal::set_status(tx, id, status, &now)?;
            Ok(())
        })
    }

    fn journal_start(&self, fence: Fence, entry: &JournalEntry) -> Result<u64, StateError> {
        self.write(|tx| {
            check_fence(tx, fence)?;
            Ok(journal::insert_entry(tx, entry)?)
        })
    }

    fn journal_finish(
        &self,
        fence: Fence,
        run_id: &str,
        seq: u64,
        outcome: &EntryOutcome,
        writes: &[StateWrite<'_>],
    ) -> Result<(), StateError> {
        let bodies = writes
            .iter()
            .map(|w| encode(w.object))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.at(&self.path))?;
        self.write(|tx| {
            check_fence(tx, fence)?;
            journal::set_outcome(tx, run_id, seq, outcome)?;
            for (w, body) in writes.iter().zip(&bodies) {
                put_object_tx(tx, w.serial, w.key, body.as_deref())?;
            }
            Ok(())
        })
    }

    fn runs(&self) -> Result<Vec<RunRecord>, StateError> {
        let now = stamp::now_rfc3339();
        self.write(|tx| {
            let mut runs = journal::all_runs(tx)?;
            for r in &mut runs {
                if journal::is_orphaned(r) {
                    journal::set_status(tx, &r.id, RunStatus::Interrupted, &now)?;
                    r.status = RunStatus::Interrupted;
                }
            }
            Ok(runs)
        })
    }

    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError> {
        let now = stamp::now_rfc3339();
        self.write(|tx| {
            let mut run = journal::one_run(tx, id)?;
            if let Some(r) = run.as_mut().filter(|r| journal::is_orphaned(r)) {
                journal::set_status(tx, &r.id, RunStatus::Interrupted, &now)?;
                r.status = RunStatus::Interrupted;
            }
            Ok(run)
        })
    }

    fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>, StateError> {
        self.read(|tx| Ok(journal::entries(tx, run_id)?))
    }

    fn audit_append(&self, entry: AuditEntry) -> Result<AuditRecord, StateError> {
        self.write(|tx| Ok(audit::append(tx, entry).map_err(|e| self.audit_error(e))?))
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord>, StateError> {
        self.read(|tx| Ok(audit::records(tx).map_err(|e| self.audit_error(e))?))
    }

    fn audit_record(&self, id: u64) -> Result<Option<AuditRecord>, StateError> {
        self.read(|tx| Ok(audit::record(tx, id).map_err(|e| self.audit_error(e))?))
    }

    fn audit_verify(&self) -> Result<VerifyReport, StateError> {
        self.read(|tx| Ok(audit::verify_stored(tx).map_err(|e| self.audit_error(e))?))
    }
}

/// Why an internal step failed, before the database path is attached.
pub(crate) enum Failure {
    Sql(rusqlite::Error),
    Corrupt(String),
    State(StateError),
}

impl Failure {
    /// The database was busy or locked by another connection.
    pub(crate) fn is_busy(&self) -> bool {
        matches!(
            self,
            Failure::Sql(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::Sql(e)
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Failure {
        Failure::State(e)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Failure {
        Failure::Corrupt(format!("bad JSON: {e}"))
    }
}

impl Failure {
    pub(crate) fn at(self, path: &Path) -> StateError {
        let path = path.display().to_string();
        match self {
            Failure::State(e) => e,
            Failure::Corrupt(message) => StateError::Corrupt { path, message },
            Failure::Sql(e) => {
                let corrupt = matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
                ) || matches!(
                    e,
                    rusqlite::Error::FromSqlConversionFailure(..)
                        | rusqlite::Error::InvalidColumnType(..)
                        | rusqlite::Error::IntegralValueOutOfRange(..)
                );
                let message = e.to_string();
                if corrupt {
                    StateError::Corrupt { path, message }
                } else {
                    StateError::Io { path, message }
                }
            }
        }
    }
}

/// What kind of Baton database a file is: the schema steps that build it and the
/// `application_id` that marks it. The state store and the workflow store keep separate files.
pub(crate) struct Schema {
    pub(crate) migrations: &'static [Migration],
    pub(crate) application_id: i64,
    /// For messages: "not a Baton {what} database".
    pub(crate) what: &'static str,
}

/// The state database's schema.
const STATE_SCHEMA: Schema = Schema {
    migrations: MIGRATIONS,
    application_id: APPLICATION_ID,
    what: "state",
};

/// Opens the database at `path` as a database of `schema`, creating it (and its parent
/// directories) if needed, configuring the connection (WAL, busy timeout) and bringing the
/// schema up to date. A file of another kind, or written by a newer Baton, is
/// [`StateError::Corrupt`].
pub(crate) fn open_database(path: &Path, schema: &Schema) -> Result<Connection, StateError> {
    let io = |e: std::io::Error| StateError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    create_private(path).map_err(io)?;
    let mut conn = Connection::open(path).map_err(|e| Failure::from(e).at(path))?;
    // Several processes (or threads) opening a new file at once race to switch it to WAL
    // and create the schema; SQLite reports some of those conflicts as busy at once,
    // without waiting in the busy handler. Try again for a while.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        let attempt = configure(&conn)
            .map_err(Failure::from)
            .and_then(|()| migrate(&mut conn, schema));
        match attempt {
            Ok(()) => return Ok(conn),
            Err(e) if e.is_busy() && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(e.at(path)),
        }
    }
}

/// Creates the database file readable by its owner only (state holds secrets); SQLite gives
/// its `-wal` and `-shm` files the same permissions. An existing file is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The first statement that reads the file: a garbage file fails here (NotADatabase).
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // A small page cache (256 KiB): state access is one scan to read and single-row writes,
    // and the file is in the OS's cache anyway; the default 2 MiB only adds to the resident
    // size of every command.
    conn.pragma_update(None, "cache_size", -256)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection, schema: &Schema) -> Result<(), Failure> {
    let what = schema.what;
    let latest = schema.migrations.len();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let application: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if version == 0 {
        let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables > 0 {
            return Err(Failure::Corrupt(format!(
                "not a Baton {what} database: it holds other tables"
            )));
        }
    } else if application != schema.application_id {
        return Err(Failure::Corrupt(format!(
            "not a Baton {what} database (application_id {application})"
        )));
    }
    let from = usize::try_from(version)
        .map_err(|_| Failure::Corrupt(format!("invalid schema version {version}")))?;
    if from > latest {
        return Err(Failure::Corrupt(format!(
            "written by a newer Baton (schema version {from}; this one knows up to {latest})"
        )));
    }
    if from < latest {
        for step in &schema.migrations[from..] {
            step(&tx)?;
        }
        tx.pragma_update(None, "application_id", schema.application_id)?;
        tx.pragma_update(None, "user_version", latest as i64)?;
    }
    tx.commit()?;
    Ok(())
}

fn schema_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE meta (
             key TEXT PRIMARY KEY,
             value TEXT NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE versions (
             serial INTEGER PRIMARY KEY,
             lineage TEXT NOT NULL,
             run_id TEXT NOT NULL,
             command TEXT NOT NULL,
             created_at TEXT NOT NULL,
             status TEXT NOT NULL,
             changes INTEGER NOT NULL DEFAULT 0
         );
         CREATE TABLE objects (
             id INTEGER PRIMARY KEY,
             addr TEXT NOT NULL,
             deposed TEXT NOT NULL,
             valid_from INTEGER NOT NULL REFERENCES versions (serial),
             valid_to INTEGER REFERENCES versions (serial),
             body TEXT NOT NULL,
             CHECK (valid_to IS NULL OR valid_to > valid_from)
         );
         CREATE INDEX objects_by_key ON objects (addr, deposed, valid_to);
         CREATE UNIQUE INDEX objects_current ON objects (addr, deposed) WHERE valid_to IS NULL;
         CREATE TABLE outputs (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             valid_from INTEGER NOT NULL REFERENCES versions (serial),
             valid_to INTEGER REFERENCES versions (serial),
             body TEXT NOT NULL,
             CHECK (valid_to IS NULL OR valid_to > valid_from)
         );
         CREATE INDEX outputs_by_name ON outputs (name, valid_to);
         CREATE UNIQUE INDEX outputs_current ON outputs (name) WHERE valid_to IS NULL;
         CREATE TABLE lock (
             singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
             id TEXT NOT NULL,
             pid INTEGER NOT NULL,
             host TEXT NOT NULL,
             since TEXT NOT NULL,
             info TEXT NOT NULL
         );",
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('lineage', ?1), ('created_at', ?2)",
        (stamp::random_id(), stamp::now_rfc3339()),
    )?;
    Ok(())
}

pub(crate) fn lock_conn(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while the connection was held rolled its transaction back (Transaction's drop):
    // the connection itself is still usable.
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Migration 5: leases and fencing tokens. A lock row left by an older Baton keeps token 0
/// and no expiry (judged by its process, as before); tokens handed out from now on start at 1.
fn lease_v5(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE lock ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE lock ADD COLUMN expires_ms INTEGER;
         CREATE TABLE fence (
             singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
             last INTEGER NOT NULL
         );
         INSERT INTO fence (singleton, last) VALUES (1, 0);",
    )
}

/// Deletes the lock row if it is still ours; errors are ignored (the database may be gone, in
/// which case so is the lock; if it is only unwritable, the lease runs out).
fn release_lock(conn: &Mutex<Connection>, fence: Fence) {
    let conn = lock_conn(conn);
    let _ = conn.execute("DELETE FROM lock WHERE token = ?1", [fence_sql(fence)]);
}

/// Pushes the lease of acquisition `fence` to `lease_ms` from now, if it still holds the lock.
fn renew_lease(conn: &Mutex<Connection>, fence: Fence, lease_ms: i64) -> Renewal {
    let conn = lock_conn(conn);
    let expires = stamp::now_unix_ms().saturating_add(lease_ms);
    match conn.execute(
        "UPDATE lock SET expires_ms = ?2 WHERE token = ?1",
        (fence_sql(fence), expires),
    ) {
        Ok(1) => Renewal::Renewed,
        Ok(_) => Renewal::Lost,
        Err(_) => Renewal::Failed,
    }
}

/// Refuses a write whose token is not the current holder's.
fn check_fence(tx: &Transaction<'_>, fence: Fence) -> Result<(), Failure> {
    let token: Option<i64> = tx
        .prepare_cached("SELECT token FROM lock WHERE singleton = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if token == Some(fence_sql(fence)) {
        return Ok(());
    }
    let holder = read_lock(tx)?.map(Box::new);
    Err(StateError::Fenced { fence, holder }.into())
}

/// A fencing token as stored; one beyond SQLite's integers matches no row.
fn fence_sql(fence: Fence) -> i64 {
    i64::try_from(fence.0).unwrap_or(-1)
}

fn to_fence(token: i64) -> Result<Fence, Failure> {
    u64::try_from(token)
        .map(Fence)
        .map_err(|_| Failure::Corrupt(format!("invalid fencing token {token}")))
}

/// The lock row.
struct Held {
    info: LockInfo,
    fence: Fence,
    expires_ms: Option<i64>,
}

impl Held {
    fn lease(self, now: i64) -> Lease {
        lock::lease(self.info, self.fence, self.expires_ms, now)
    }
}

/// Why `held` may be taken over at time `now`, if it may.
fn staleness(held: &Held, now: i64) -> Option<Staleness> {
    lock::staleness(&held.info, held.expires_ms, now)
}

fn read_lock(tx: &Transaction<'_>) -> Result<Option<LockInfo>, Failure> {
    Ok(read_held(tx)?.map(|h| h.info))
}

fn read_held(tx: &Transaction<'_>) -> Result<Option<Held>, Failure> {
    let row = tx
        .prepare_cached(
            "SELECT id, pid, host, since, info, token, expires_ms FROM lock WHERE singleton = 1",
        )?
        .query_row([], |r| {
            Ok((
                (
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ),
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })
        .optional()?;
    let Some(((id, pid, host, since, info), token, expires_ms)) = row else {
        return Ok(None);
    };
    let info = lock::stored_holder(&info, id, pid, host, since);
    Ok(Some(Held {
        info,
        fence: to_fence(token)?,
        expires_ms,
    }))
}

fn lineage(tx: &Transaction<'_>) -> Result<String, Failure> {
    tx.prepare_cached("SELECT value FROM meta WHERE key = 'lineage'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Failure::Corrupt("the lineage is missing".to_string()))
}

fn to_serial(s: i64) -> Result<u64, Failure> {
    u64::try_from(s).map_err(|_| Failure::Corrupt(format!("invalid serial {s}")))
}

/// Checks that `serial` is the open version: the latest, still in progress.
fn open_version(tx: &Transaction<'_>, serial: u64) -> Result<i64, Failure> {
    let latest: Option<(i64, String)> = tx
        .prepare_cached("SELECT serial, status FROM versions ORDER BY serial DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match latest {
        Some((s, status)) if u64::try_from(s) == Ok(serial) && status == IN_PROGRESS => Ok(s),
        _ => Err(StateError::VersionNotOpen(serial).into()),
    }
}

fn encode(object: Option<&InstanceState>) -> Result<Option<String>, Failure> {
    Ok(object.map(serde_json::to_string).transpose()?)
}

fn encode_outputs(
    outputs: &BTreeMap<String, OutputState>,
) -> Result<BTreeMap<String, String>, Failure> {
    outputs
        .iter()
        .map(|(k, v)| Ok((k.clone(), serde_json::to_string(v)?)))
        .collect()
}

fn put_object_tx(
    tx: &Transaction<'_>,
    serial: u64,
    key: &ObjectKey,
    body: Option<&str>,
) -> Result<(), Failure> {
    let s = open_version(tx, serial)?;
    let addr = key.addr.to_string();
    let outcome = write_versioned(tx, &OBJECTS, &[&addr, &key.deposed], s, body)?;
    if outcome == Outcome::FirstChange {
        tx.prepare_cached("UPDATE versions SET changes = changes + 1 WHERE serial = ?1")?
            .execute([s])?;
    }
    Ok(())
}

fn put_outputs_tx(
    tx: &Transaction<'_>,
    serial: u64,
    bodies: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let s = open_version(tx, serial)?;
    let mut names: BTreeSet<String> = tx
        .prepare_cached("SELECT name FROM outputs WHERE valid_to IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    names.extend(bodies.keys().cloned());
    for name in &names {
        let body = bodies.get(name).map(String::as_str);
        write_versioned(tx, &OUTPUTS, &[name], s, body)?;
    }
    Ok(())
}

/// The statements that maintain one table of validity ranges. Key parameters come first
/// (`?1`, or `?1, ?2`), then the serial, then the body.
struct Versioned {
    /// The current row and the row closed by this version, if any: id, valid_from, valid_to,
    /// body. Two exact index searches, so that a long history does not slow writes down.
    lookup: &'static str,
    insert: &'static str,
    /// id, body.
    update_body: &'static str,
    /// id, serial.
    close: &'static str,
    /// id.
    delete: &'static str,
}

const OBJECTS: Versioned = Versioned {
    lookup: "SELECT id, valid_from, valid_to, body FROM objects
             WHERE addr = ?1 AND deposed = ?2 AND valid_to IS NULL
             UNION ALL
             SELECT id, valid_from, valid_to, body FROM objects
             WHERE addr = ?1 AND deposed = ?2 AND valid_to = ?3",
    insert: "INSERT INTO objects (addr, deposed, valid_from, body) VALUES (?1, ?2, ?3, ?4)",
    update_body: "UPDATE objects SET body = ?2 WHERE id = ?1",
    close: "UPDATE objects SET valid_to = ?2 WHERE id = ?1",
    delete: "DELETE FROM objects WHERE id = ?1",
};

const OUTPUTS: Versioned = Versioned {
    lookup:
        "SELECT id, valid_from, valid_to, body FROM outputs WHERE name = ?1 AND valid_to IS NULL
             UNION ALL
             SELECT id, valid_from, valid_to, body FROM outputs WHERE name = ?1 AND valid_to = ?2",
    insert: "INSERT INTO outputs (name, valid_from, body) VALUES (?1, ?2, ?3)",
    update_body: "UPDATE outputs SET body = ?2 WHERE id = ?1",
    close: "UPDATE outputs SET valid_to = ?2 WHERE id = ?1",
    delete: "DELETE FROM outputs WHERE id = ?1",
};

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The value was already that (or already absent).
    Unchanged,
    /// Changed again in a version that had already changed it.
    ChangedAgain,
    /// The first change of this key in this version.
    FirstChange,
}

/// Gives `key` the value `body` (`None`: absent) from version `serial` on, which must be the
/// open version. A row written by this same version is updated or deleted in place, so a key
/// written several times in one version keeps one row per version.
fn write_versioned(
    tx: &Transaction<'_>,
    table: &Versioned,
    key: &[&dyn ToSql],
    serial: i64,
    body: Option<&str>,
) -> Result<Outcome, Failure> {
    let mut params: Vec<&dyn ToSql> = key.to_vec();
    params.push(&serial);
    let mut current: Option<(i64, i64, String)> = None;
    let mut touched = false;
    {
        let mut stmt = tx.prepare_cached(table.lookup)?;
        let mut rows = stmt.query(params.as_slice())?;
        while let Some(r) = rows.next()? {
            let valid_to: Option<i64> = r.get(2)?;
            if valid_to.is_some() {
                touched = true;
            } else {
                current = Some((r.get(0)?, r.get(1)?, r.get(3)?));
            }
        }
    }
    if let Some((_, from, _)) = &current {
        touched |= *from == serial;
    }
    match (current, body) {
        (None, None) => return Ok(Outcome::Unchanged),
        (Some((_, _, old)), Some(new)) if old == new => return Ok(Outcome::Unchanged),
        (Some((id, from, _)), Some(new)) if from == serial => {
            tx.prepare_cached(table.update_body)?.execute((id, new))?;
        }
        (Some((id, from, _)), None) if from == serial => {
            tx.prepare_cached(table.delete)?.execute([id])?;
        }
        (Some((id, _, _)), new) => {
            tx.prepare_cached(table.close)?.execute((id, serial))?;
            if let Some(new) = new {
                params.push(&new);
                tx.prepare_cached(table.insert)?
                    .execute(params.as_slice())?;
            }
        }
        (None, Some(new)) => {
            params.push(&new);
            tx.prepare_cached(table.insert)?
                .execute(params.as_slice())?;
        }
    }
    Ok(if touched {
        Outcome::ChangedAgain
    } else {
        Outcome::FirstChange
    })
}

fn read_objects(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<BTreeMap<ObjectKey, InstanceState>, Failure> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let addr: String = r.get(0)?;
        let deposed: String = r.get(1)?;
        let body: String = r.get(2)?;
        let parsed = InstanceAddr::parse(&addr)
            .map_err(|e| Failure::Corrupt(format!("object address {addr:?}: {e}")))?;
        let object: InstanceState = serde_json::from_str(&body)
            .map_err(|e| Failure::Corrupt(format!("object {addr}: {e}")))?;
        out.insert(
            ObjectKey {
                addr: parsed,
                deposed,
            },
            object,
        );
    }
    Ok(out)
}

fn read_outputs(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<BTreeMap<String, OutputState>, Failure> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        let body: String = r.get(1)?;
        let output: OutputState = serde_json::from_str(&body)
            .map_err(|e| Failure::Corrupt(format!("output {name}: {e}")))?;
        out.insert(name, output);
    }
    Ok(out)
}
