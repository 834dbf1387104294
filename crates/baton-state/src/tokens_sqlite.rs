//! The API token store on an SQLite file ([`TokenStore`]), by default `.baton/tokens.db`
//! beside the directory's default state file (as `queue.db` is): the tokens of the agent that
//! serves the directory, shared by every environment.
//!
//! Must not hold a token in clear (only its SHA-256, handed in by the caller) and must not be
//! used over a network filesystem (SQLite's locking). Every failure is a [`StateError`] naming
//! the file; nothing panics on a bad file.
//!
//! # Schema (version 1)
//! - `tokens(name PRIMARY KEY, role, hash UNIQUE, created_at)`.
//!
//! `PRAGMA application_id` ("Batt") marks the file as Baton's token database.

use crate::sqlite::{self, Failure, Migration, Schema};
use crate::store::StateError;
use crate::tokens::{Role, TokenRecord, TokenStore};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every schema step of the token database, in order (append; never edit a released one).
pub const TOKEN_MIGRATIONS: &[Migration] = &[tokens_v1];

/// `PRAGMA application_id` of a Baton token database: "Batt".
pub const TOKEN_APPLICATION_ID: i64 = 0x4261_7474;

const SCHEMA: Schema = Schema {
    migrations: TOKEN_MIGRATIONS,
    application_id: TOKEN_APPLICATION_ID,
    what: "token",
};

/// The token file of a directory whose default environment keeps its state in `state_file`:
/// `tokens.db` beside it (`.baton/tokens.db`).
pub fn beside(state_file: &Path) -> PathBuf {
    state_file.with_file_name("tokens.db")
}

/// API tokens in one SQLite database file.
pub struct SqliteTokens {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteTokens {
    /// Opens the token database at `path`, creating it (and its parent directories, the file
    /// readable by its owner only) if needed. Another kind of file is [`StateError::Corrupt`].
    pub fn open(path: &Path) -> Result<SqliteTokens, StateError> {
        let conn = sqlite::open_database(path, &SCHEMA)?;
        Ok(SqliteTokens {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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
}

fn tokens_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE tokens (
             name TEXT PRIMARY KEY,
             role TEXT NOT NULL,
             hash TEXT NOT NULL UNIQUE,
             created_at TEXT NOT NULL
         );",
    )
}

fn row(r: &rusqlite::Row<'_>) -> Result<TokenRecord, Failure> {
    let role: String = r.get(1)?;
    Ok(TokenRecord {
        name: r.get(0)?,
        role: Role::parse(&role)
            .ok_or_else(|| Failure::Corrupt(format!("unknown role {role:?}")))?,
        hash: r.get(2)?,
        created_at: r.get(3)?,
    })
}

impl TokenStore for SqliteTokens {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn create(&self, t: &TokenRecord) -> Result<bool, StateError> {
        self.run(TransactionBehavior::Immediate, |tx| {
            let n = tx.execute(
                "INSERT INTO tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                rusqlite::params![t.name, t.role.as_str(), t.hash, t.created_at],
            )?;
            Ok(n == 1)
        })
    }

    fn list(&self) -> Result<Vec<TokenRecord>, StateError> {
        self.run(TransactionBehavior::Deferred, |tx| {
            let mut st =
                tx.prepare("SELECT name, role, hash, created_at FROM tokens ORDER BY name")?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(row(r)?);
            }
            Ok(out)
        })
    }

    fn find(&self, hash: &str) -> Result<Option<TokenRecord>, StateError> {
        self.run(TransactionBehavior::Deferred, |tx| {
            let mut st = tx.prepare_cached(
                "SELECT name, role, hash, created_at FROM tokens WHERE hash = ?1",
            )?;
            let found = st
                .query_row([hash], |r| Ok(row(r)))
                .optional()?
                .transpose()?;
            Ok(found)
        })
    }

    fn revoke(&self, name: &str) -> Result<bool, StateError> {
        self.run(TransactionBehavior::Immediate, |tx| {
            Ok(tx.execute("DELETE FROM tokens WHERE name = ?1", [name])? == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_token_conformance_checks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteTokens::open(&beside(&dir.path().join("state.db"))).expect("open");
        crate::tokens::conformance(&store);
    }

    #[test]
    fn a_state_database_is_not_a_token_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state.db");
        crate::SqliteStore::open(&state).expect("open state");
        match SqliteTokens::open(&state) {
            Err(StateError::Corrupt { path, .. }) => assert!(path.ends_with("state.db")),
            Err(e) => panic!("expected Corrupt, got {e}"),
            Ok(_) => panic!("a state database opened as a token database"),
        }
    }
}
