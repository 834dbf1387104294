//! The one connection pool of the PostgreSQL stores (state, workflow runs, the work queue),
//! for stores whose methods take `&self` and are called from several threads: a call takes an
//! idle connection (or opens one), runs, and puts it back. Each connection keeps the
//! statements prepared on it, keyed by their static SQL text.
//!
//! A call that fails in a way that may go away is tried again on a fresh connection, with one
//! backoff, when that is safe. What is safe is said with one vocabulary ([`Failure`],
//! [`Retry`]):
//! - an error before the commit ([`Failure::Db`]) means nothing was written: safe to retry;
//! - an error at the commit, or at a statement that is its own commit ([`Failure::Commit`]),
//!   that the server answered means the transaction did not commit; one it did not answer
//!   (the connection broke) leaves the outcome unknown: such a write is tried again only when
//!   the caller marked it [`Retry::Idempotent`], and otherwise reported as unconfirmed;
//! - a connection that was lost is dropped, with the idle ones (the server went away or ended
//!   its sessions: they are likely gone too, and trying each would use up the attempts);
//! - a value the store cannot read ([`Failure::Corrupt`]) and the store's own answer
//!   ([`Failure::State`]) pass through, and their connection is kept.
//!
//! Must not hold SQL of a particular store, and must not decide whether a write is idempotent:
//! the caller says so.

use super::target::PgTarget;
use super::{connect, describe_error, error, is_connection_lost, is_transient};
use baton_state::StateError;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, IsolationLevel, Row, Statement, Transaction};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How many times a call is tried when its connection fails (or the server reports a transient
/// error), and the first pause between tries (doubling each time, at most [`MAX_PAUSE`]).
const ATTEMPTS: u32 = 6;
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// The parameters of a statement.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Why a step failed, before the database is named.
pub enum Failure {
    /// Before the commit: nothing was written.
    Db(postgres::Error),
    /// At the commit, or at a statement that is its own commit.
    Commit(postgres::Error),
    /// A value the database returned that this build cannot read.
    Corrupt(String),
    /// The store's own answer (`Fenced`, `ClaimLost`, `NoSuchRun`, …).
    State(StateError),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Db(e)
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Failure {
        Failure::State(e)
    }
}

impl Failure {
    /// The failure as a [`StateError`] naming `target` (without its password).
    pub fn at(self, target: &PgTarget) -> StateError {
        match self {
            Failure::Db(e) | Failure::Commit(e) => error(target, &e),
            Failure::Corrupt(message) => StateError::Corrupt {
                path: target.describe(),
                message,
            },
            Failure::State(e) => e,
        }
    }
}

/// A [`Failure::Corrupt`].
pub fn corrupt(what: impl std::fmt::Display) -> Failure {
    Failure::Corrupt(what.to_string())
}

/// Whether a call may be tried again after its connection failed at the commit (or, for a
/// single-statement write, at its only statement): the outcome is unknown then.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads, and writes that land the same way however often they run.
    Idempotent,
    /// Only while the transaction has not reached its commit.
    BeforeCommit,
}

/// The transaction a call runs in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read committed, read-write.
    Write,
    /// One consistent snapshot for several queries, read-only.
    Snapshot,
}

/// What a store sets on its pool.
#[derive(Clone, Copy)]
pub struct Settings {
    /// How many idle connections the pool keeps; more are opened while threads need them, and
    /// closed when they are given back.
    pub max_idle: usize,
    /// The message of a write whose commit could not be confirmed, given the client's error.
    pub unconfirmed: fn(&str) -> String,
}

/// The message of a write whose commit could not be confirmed, for stores without their own.
pub fn unconfirmed(detail: &str) -> String {
    format!(
        "the write's commit was not confirmed, so it may or may not have been recorded: {detail}"
    )
}

/// A pooled connection and the statements prepared on it.
pub struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// A connection or an open transaction, with the connection's prepared statements.
pub struct Db<'a, C> {
    c: &'a mut C,
    statements: &'a mut HashMap<&'static str, Statement>,
}

/// An open transaction on a pooled connection.
pub type Tx<'a, 'b> = Db<'a, Transaction<'b>>;

impl Conn {
    fn new(client: Client) -> Conn {
        Conn {
            client,
            statements: HashMap::new(),
        }
    }

    /// The client, for statements that are not prepared.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The connection outside a transaction: each statement is its own.
    pub fn db(&mut self) -> Db<'_, Client> {
        Db {
            c: &mut self.client,
            statements: &mut self.statements,
        }
    }

    /// Runs one statement outside a transaction (it is its own) and returns its only row:
    /// one round trip once the statement is prepared on this connection.
    pub fn call(&mut self, sql: &'static str, params: Params<'_>) -> Result<Row, Failure> {
        let statement = self.db().prepared(sql)?;
        let mut rows = self
            .client
            .query(&statement, params)
            .map_err(Failure::Commit)?;
        rows.pop()
            .ok_or_else(|| corrupt("a statement returned no row"))
    }
}

impl<C: GenericClient> Db<'_, C> {
    /// The connection or transaction, for what prepared statements do not cover (a `COPY`, a
    /// script).
    pub fn client(&mut self) -> &mut C {
        self.c
    }

    /// `sql` prepared on this connection (once per connection).
    pub fn prepared(&mut self, sql: &'static str) -> Result<Statement, Failure> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    pub fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, Failure> {
        let s = self.prepared(sql)?;
        Ok(self.c.query(&s, params)?)
    }

    /// The first row, if any.
    pub fn query_opt(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, Failure> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The only row of a statement that always returns one (an aggregate, `RETURNING`).
    pub fn query_one(&mut self, sql: &'static str, params: Params<'_>) -> Result<Row, Failure> {
        self.query_opt(sql, params)?
            .ok_or_else(|| corrupt("a statement returned no row"))
    }

    pub fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, Failure> {
        let s = self.prepared(sql)?;
        Ok(self.c.execute(&s, params)?)
    }
}

/// A pool of connections to one PostgreSQL target.
pub struct Pool {
    target: PgTarget,
    settings: Settings,
    /// Idle connections, at most `settings.max_idle`.
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// A pool for `target`, with one connection opened now (so a bad target fails at once).
    pub fn open(target: &PgTarget, settings: Settings) -> Result<Pool, StateError> {
        let first = Conn::new(connect(target)?);
        Ok(Pool {
            target: target.clone(),
            settings,
            idle: Mutex::new(vec![first]),
        })
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        // A panic while the pool was held leaves a usable list of connections.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection that is not known to be closed, else a new one.
    fn take(&self) -> Result<Conn, StateError> {
        loop {
            let next = self.idle().pop();
            match next {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => return Ok(c),
                None => break,
            }
        }
        Ok(Conn::new(connect(&self.target)?))
    }

    fn give(&self, conn: Conn) {
        let mut idle = self.idle();
        if idle.len() < self.settings.max_idle && !conn.client.is_closed() {
            idle.push(conn);
        }
    }

    /// Runs `f` on a connection, trying again on a new one, with backoff, when it failed in a
    /// way that may go away and trying again is safe (see [`Retry`]).
    pub fn with_conn<T>(
        &self,
        retry: Retry,
        mut f: impl FnMut(&mut Conn) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        let mut pause = FIRST_PAUSE;
        let mut attempt = 1;
        loop {
            let mut conn = self.take()?;
            let failure = match f(&mut conn) {
                Ok(v) => {
                    self.give(conn);
                    return Ok(v);
                }
                Err(e) => e,
            };
            let (e, at_commit) = match &failure {
                Failure::Db(e) => (e, false),
                Failure::Commit(e) => (e, true),
                Failure::Corrupt(_) | Failure::State(_) => {
                    self.give(conn);
                    return Err(failure.at(&self.target));
                }
            };
            let lost = is_connection_lost(e) || conn.client.is_closed();
            if lost {
                // The server went away or ended its sessions: the idle ones are likely gone
                // too, and trying each of them would use up the attempts.
                drop(conn);
                self.idle().clear();
            } else {
                self.give(conn);
            }
            // The server answered with an error: its transaction did not commit.
            let refused = e.as_db_error().is_some();
            let unconfirmed = at_commit && !refused && retry == Retry::BeforeCommit;
            let transient = (refused && is_transient(e)) || lost;
            if unconfirmed {
                return Err(StateError::Io {
                    path: self.target.describe(),
                    message: (self.settings.unconfirmed)(&describe_error(e)),
                });
            }
            if !transient || attempt >= ATTEMPTS {
                return Err(failure.at(&self.target));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_PAUSE);
            attempt += 1;
        }
    }

    /// Runs `f` in one transaction, committed if it succeeds (see [`Pool::with_conn`]).
    pub fn transaction<T>(
        &self,
        retry: Retry,
        mode: Mode,
        mut f: impl FnMut(&mut Tx<'_, '_>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.with_conn(retry, |conn| {
            let Conn { client, statements } = conn;
            let mut builder = client.build_transaction();
            if mode == Mode::Snapshot {
                builder = builder
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true);
            }
            let mut tx = builder.start()?;
            let value = f(&mut Db {
                c: &mut tx,
                statements,
            })?;
            tx.commit().map_err(Failure::Commit)?;
            Ok(value)
        })
    }

    /// A write in one transaction, tried again only while it has not reached its commit.
    pub fn write<T>(
        &self,
        f: impl FnMut(&mut Tx<'_, '_>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.transaction(Retry::BeforeCommit, Mode::Write, f)
    }

    /// Reads in one consistent, read-only snapshot.
    pub fn snapshot<T>(
        &self,
        f: impl FnMut(&mut Tx<'_, '_>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.transaction(Retry::Idempotent, Mode::Snapshot, f)
    }

    /// Reads outside a transaction (each statement sees what was committed when it began).
    pub fn read<T>(
        &self,
        mut f: impl FnMut(&mut Db<'_, Client>) -> Result<T, Failure>,
    ) -> Result<T, StateError> {
        self.with_conn(Retry::Idempotent, |conn| f(&mut conn.db()))
    }

    /// One statement as its own transaction; returns its only row.
    pub fn call(
        &self,
        retry: Retry,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Row, StateError> {
        self.with_conn(retry, |conn| conn.call(sql, params))
    }

    /// Runs `f` on a client, for work that is the same if it ran twice or was rolled back
    /// (the work queue's): tried again on a fresh connection when the connection broke.
    pub fn with<T>(
        &self,
        mut f: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StateError> {
        self.with_conn(Retry::Idempotent, |conn| {
            f(&mut conn.client).map_err(Failure::Commit)
        })
    }
}
