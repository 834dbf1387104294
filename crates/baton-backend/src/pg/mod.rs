//! The PostgreSQL stores and what they share: opening a connection with retries and backoff,
//! putting it in the target's schema, turning client errors into [`StateError`]s that name the
//! database without its password, converting between Rust's unsigned numbers and PostgreSQL's
//! `BIGINT`, and bringing a store's tables up to date under an advisory lock. The pool of
//! connections the stores call through, and when a failed call is tried again, are in
//! `pool.rs`.
//!
//! Must not hold SQL of a particular store: each store's tables and queries are in its own
//! module.

use baton_state::StateError;
use pool::{Failure, Params, Tx};
use std::time::Duration;
use target::PgTarget;

mod pool;
pub mod queue;
pub mod services;
pub mod state;
mod state_schema;
pub mod target;
pub mod tokens;
pub mod workflow;

/// How many times, and how long apart at first, a connection is tried before giving up; the
/// delay doubles each time (0.1 s, 0.2 s, … about 6 s in all).
const CONNECT_ATTEMPTS: u32 = 6;
const CONNECT_FIRST_DELAY: Duration = Duration::from_millis(100);

/// Opens a connection to `target`'s database, retrying with backoff while the server cannot
/// be reached, creates the schema if it does not exist and makes it the search path.
pub fn connect(target: &PgTarget) -> Result<postgres::Client, StateError> {
    let mut delay = CONNECT_FIRST_DELAY;
    let mut attempt = 1;
    loop {
        match try_connect(target) {
            Ok(c) => return Ok(c),
            Err(e) if attempt < CONNECT_ATTEMPTS && is_transient(&e) => {
                std::thread::sleep(delay);
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(error(target, &e)),
        }
    }
}

/// One attempt of [`connect`], without retries: for callers that try again on their own
/// schedule (a lease renewer).
pub fn connect_once(target: &PgTarget) -> Result<postgres::Client, postgres::Error> {
    try_connect(target)
}

fn try_connect(target: &PgTarget) -> Result<postgres::Client, postgres::Error> {
    let mut client = postgres::Client::connect(target.conn_str(), postgres::NoTls)?;
    let setup = format!(
        "CREATE SCHEMA IF NOT EXISTS \"{s}\"; SET search_path TO \"{s}\"",
        s = target.schema
    );
    match client.batch_execute(&setup) {
        // Sessions creating the same schema at once: `IF NOT EXISTS` does not stop the loser
        // from failing on the catalog's unique index. The schema exists now.
        Err(e) if is_duplicate(&e) => client.batch_execute(&setup)?,
        other => other?,
    }
    Ok(client)
}

/// A unique violation (23505) or an object that already exists (42P06, 42P07, 42710).
fn is_duplicate(e: &postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| matches!(c.code(), "23505" | "42P06" | "42P07" | "42710"))
}

/// Whether the connection an error came from is gone: closed, cut off (an I/O error) or ended
/// by the server (57P0x, 08xxx). Such a connection must not be used again.
pub fn is_connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() || is_io(e) {
        return true;
    }
    e.code().is_some_and(|code| {
        let c = code.code();
        c.starts_with("08") || c.starts_with("57P0")
    })
}

/// Whether the error is an I/O failure of the connection (the server never answered).
pub fn is_io(e: &postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// Whether an error may go away by trying again: the connection was refused, dropped or
/// timed out, the server is starting or shutting down, or a transaction lost a serialization
/// or deadlock race.
pub fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            // 08: connection exception; 57P0x: admin shutdown / cannot connect now;
            // 40001 serialization failure; 40P01 deadlock; 53300 too many connections.
            c.starts_with("08")
                || c.starts_with("57P0")
                || c == "40001"
                || c == "40P01"
                || c == "53300"
        }
        // No SQLSTATE: an I/O error before or outside the protocol (refused, reset).
        None => true,
    }
}

/// A client error as a [`StateError`] naming the database (without its password).
pub fn error(target: &PgTarget, e: &postgres::Error) -> StateError {
    StateError::Io {
        path: target.describe(),
        message: describe_error(e),
    }
}

/// The error's message with the server's detail, never the connection string.
pub fn describe_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({})", db.message(), d),
            None => db.message().to_string(),
        },
        None => {
            let s = e.to_string();
            match std::error::Error::source(e) {
                Some(src) => format!("{s}: {src}"),
                None => s,
            }
        }
    }
}

/// A `u64` key (a fencing or claim token, a serial, a sequence number) as stored; one beyond
/// `BIGINT` matches no row.
pub(crate) fn key_sql(key: u64) -> i64 {
    i64::try_from(key).unwrap_or(-1)
}

/// A count or a duration as a `BIGINT`; one beyond it is the largest.
pub(crate) fn saturating<N: TryInto<i64>>(n: N) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// A `BIGINT` this store wrote from a `u64`; a negative one is [`Failure::Corrupt`], saying
/// `what` it is ("invalid serial -1").
pub(crate) fn to_u64(n: i64, what: &str) -> Result<u64, Failure> {
    u64::try_from(n).map_err(|_| Failure::Corrupt(format!("{what} {n}")))
}

/// Brings a store's tables up to date inside the open transaction `tx`, after taking the
/// advisory lock the statement `lock` takes (so that handles opening a fresh schema at once
/// create the tables once): `version` reads how far the schema got, a version past `steps` is
/// refused with `newer(found, latest)` (a newer Baton wrote it), the steps after it run in
/// order, and `record(tx, from)` records the new version.
pub(crate) fn migrate(
    tx: &mut Tx<'_, '_>,
    lock: (&'static str, Params<'_>),
    steps: &[&str],
    version: impl FnOnce(&mut Tx<'_, '_>) -> Result<usize, Failure>,
    newer: impl FnOnce(usize, usize) -> String,
    record: impl FnOnce(&mut Tx<'_, '_>, usize) -> Result<(), Failure>,
) -> Result<(), Failure> {
    tx.execute(lock.0, lock.1)?;
    let latest = steps.len();
    let from = version(tx)?;
    if from > latest {
        return Err(Failure::Corrupt(newer(from, latest)));
    }
    if from == latest {
        return Ok(());
    }
    for step in &steps[from..] {
        tx.client().batch_execute(step)?;
    }
    record(tx, from)
}
