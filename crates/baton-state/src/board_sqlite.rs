//! The service board ([`ServiceBoard`]) on an SQLite file, by default `.baton/services.db`
//! beside the environment's state file: `baton apply` and the agent on one machine hand
//! services to each other through it without a server.
//!
//! The file is created by the first write (a plan or a `baton status` that only reads leaves
//! nothing behind). Every write is one immediate transaction; lease times are Unix
//! milliseconds by the local clock, which every process on the machine shares.
//!
//! Must not interpret specs or statuses, and must not be used over a network filesystem.
//!
//! # Schema (version 1)
//! - `svc_desired(name, stack, dir, spec)`: one row per desired service.
//! - `svc_lease(singleton = 1, agent, host, pid, until_ms)`: the agent serving the stack.
//! - `svc_status(singleton = 1, agent, at_ms, body)`: its last report.
//!
//! `PRAGMA application_id` ("Bats") marks the file as Baton's service board.

use crate::sqlite::{self, Failure, Migration, Schema};
use crate::stamp;
use crate::store::StateError;
use baton_core::board::{
    AgentId, AgentLease, BoardError, DesiredService, ServiceBoard, StatusReport,
};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Every schema step of the board database, in order (append; never edit a released one).
pub const BOARD_MIGRATIONS: &[Migration] = &[board_v1];

/// `PRAGMA application_id` of a Baton service board database: "Bats".
pub const BOARD_APPLICATION_ID: i64 = 0x4261_7473;

const SCHEMA: Schema = Schema {
    migrations: BOARD_MIGRATIONS,
    application_id: BOARD_APPLICATION_ID,
    what: "service board",
};

/// The board file of the environment whose state is in `state_file`: `services.db` beside it.
pub fn beside(state_file: &Path) -> PathBuf {
    state_file.with_file_name("services.db")
}

/// A service board in one SQLite database file, opened on first use.
pub struct SqliteBoard {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
}

impl SqliteBoard {
    /// The board at `path`. Nothing is opened or created until it is used; reads of a file
    /// that does not exist find an empty board.
    pub fn new(path: &Path) -> SqliteBoard {
        SqliteBoard {
            path: path.to_path_buf(),
            conn: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a transaction; `None` when the file does not exist and `create` is false.
    fn run<T>(
        &self,
        create: bool,
        f: impl FnOnce(&Transaction<'_>, i64) -> Result<T, Failure>,
    ) -> Result<Option<T>, BoardError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            if !create && !self.path.exists() {
                return Ok(None);
            }
            *guard = Some(sqlite::open_database(&self.path, &SCHEMA).map_err(store_err)?);
        }
        let Some(conn) = guard.as_mut() else {
            return Ok(None);
        };
        let behavior = if create {
            TransactionBehavior::Immediate
        } else {
            TransactionBehavior::Deferred
        };
        let result = (|| {
            let tx = conn.transaction_with_behavior(behavior)?;
            let value = f(&tx, stamp::now_unix_ms())?;
            tx.commit()?;
            Ok(value)
        })();
        result
            .map(Some)
            .map_err(|e: Failure| store_err(e.at(&self.path)))
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, i64) -> Result<T, Failure>,
    ) -> Result<T, BoardError> {
        self.run(true, f)?
            .ok_or_else(|| BoardError::Store(format!("{}: not opened", self.path.display())))
    }
}

fn store_err(e: StateError) -> BoardError {
    BoardError::Store(e.to_string())
}

fn live_lease(tx: &Transaction<'_>, now: i64) -> Result<Option<AgentLease>, Failure> {
    let row = tx
        .query_row(
            "SELECT agent, host, pid, until_ms FROM svc_lease WHERE singleton = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(row.and_then(|(id, host, pid, until)| {
        (until > now).then(|| AgentLease {
            agent: AgentId {
                id,
                host,
                pid: u32::try_from(pid).unwrap_or(0),
            },
            remaining_ms: u64::try_from(until - now).unwrap_or(0),
        })
    }))
}

impl ServiceBoard for SqliteBoard {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn put_desired(&self, s: &DesiredService) -> Result<(), BoardError> {
        self.write(|tx, _| {
            tx.execute(
                "INSERT INTO svc_desired (name, stack, dir, spec) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET stack = ?2, dir = ?3, spec = ?4",
                (&s.name, &s.stack, &s.dir, &s.spec),
            )?;
            Ok(())
        })
    }

    fn remove_desired(&self, name: &str) -> Result<(), BoardError> {
        self.run(false, |tx, _| {
            tx.execute("DELETE FROM svc_desired WHERE name = ?1", [name])?;
            Ok(())
        })
        .map(|_| ())
    }

    fn desired(&self) -> Result<Vec<DesiredService>, BoardError> {
        self.run(false, |tx, _| {
            let mut st =
                tx.prepare_cached("SELECT name, stack, dir, spec FROM svc_desired ORDER BY name")?;
            let rows = st.query_map([], |r| {
                Ok(DesiredService {
                    name: r.get(0)?,
                    stack: r.get(1)?,
                    dir: r.get(2)?,
                    spec: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .map(Option::unwrap_or_default)
    }

    fn claim(&self, me: &AgentId, ttl: Duration) -> Result<Option<AgentLease>, BoardError> {
        self.write(|tx, now| {
            if let Some(l) = live_lease(tx, now)? {
                if l.agent.id != me.id {
                    return Ok(Some(l));
                }
            }
            let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
            tx.execute(
                "INSERT INTO svc_lease (singleton, agent, host, pid, until_ms)
                 VALUES (1, ?1, ?2, ?3, ?4)
                 ON CONFLICT (singleton) DO UPDATE
                 SET agent = ?1, host = ?2, pid = ?3, until_ms = ?4",
                (&me.id, &me.host, i64::from(me.pid), until),
            )?;
            Ok(None)
        })
    }

    fn release(&self, agent: &str) -> Result<(), BoardError> {
        self.run(false, |tx, _| {
            tx.execute(
                "DELETE FROM svc_lease WHERE singleton = 1 AND agent = ?1",
                [agent],
            )?;
            Ok(())
        })
        .map(|_| ())
    }

    fn agent(&self) -> Result<Option<AgentLease>, BoardError> {
        self.run(false, live_lease).map(Option::flatten)
    }

    fn put_status(&self, agent: &str, body: &str) -> Result<(), BoardError> {
        self.write(|tx, now| {
            match live_lease(tx, now)? {
                Some(l) if l.agent.id == agent => {}
                other => {
                    return Ok(Err(BoardError::NotHolder {
                        agent: agent.to_string(),
                        holder: other.map_or_else(|| "nobody".to_string(), |l| l.agent.id),
                    }))
                }
            }
            tx.execute(
                "INSERT INTO svc_status (singleton, agent, at_ms, body) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (singleton) DO UPDATE SET agent = ?1, at_ms = ?2, body = ?3",
                (agent, now, body),
            )?;
            Ok(Ok(()))
        })?
    }

    fn status(&self) -> Result<Option<StatusReport>, BoardError> {
        self.run(false, |tx, now| {
            Ok(tx
                .query_row(
                    "SELECT agent, at_ms, body FROM svc_status WHERE singleton = 1",
                    [],
                    |r| {
                        Ok(StatusReport {
                            agent: r.get(0)?,
                            age_ms: u64::try_from(now - r.get::<_, i64>(1)?).unwrap_or(0),
                            body: r.get(2)?,
                        })
                    },
                )
                .optional()?)
        })
        .map(Option::flatten)
    }
}

fn board_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE svc_desired (
             name TEXT PRIMARY KEY,
             stack TEXT NOT NULL,
             dir TEXT NOT NULL,
             spec TEXT NOT NULL
         );
         CREATE TABLE svc_lease (
             singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
             agent TEXT NOT NULL,
             host TEXT NOT NULL,
             pid INTEGER NOT NULL,
             until_ms INTEGER NOT NULL
         );
         CREATE TABLE svc_status (
             singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
             agent TEXT NOT NULL,
             at_ms INTEGER NOT NULL,
             body TEXT NOT NULL
         );",
    )
}
