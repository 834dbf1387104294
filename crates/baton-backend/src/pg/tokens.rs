//! The API tokens on PostgreSQL ([`baton_state::TokenStore`]): table `api_tokens` in the
//! target's queue schema (the schema the user named, shared by every environment, as the
//! work queue is), so every agent sharing the store accepts the same tokens.
//!
//! Must not hold a token in clear (only the SHA-256 its caller hands in).

use super::pool::{self, Pool, Settings};
use super::target::PgTarget;
use baton_state::{Role, StateError, TokenRecord, TokenStore};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
";

/// The advisory lock that serializes creating the table in a fresh schema.
const MIGRATION_LOCK: i64 = 0x6261_746f_6e54; // "batonT"

const SETTINGS: Settings = Settings {
    max_idle: 2,
    unconfirmed: pool::unconfirmed,
};

pub struct PgTokens {
    pool: Pool,
}

impl PgTokens {
    /// Opens the token table of `target` (in its queue schema), creating it if missing.
    pub fn open(target: &PgTarget) -> Result<PgTokens, StateError> {
        let target = &target.queue_target();
        let pool = Pool::open(target, SETTINGS)?;
        pool.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        })?;
        Ok(PgTokens { pool })
    }

    fn record(&self, row: &postgres::Row) -> Result<TokenRecord, StateError> {
        let role: String = row.get(1);
        Ok(TokenRecord {
            name: row.get(0),
            role: Role::parse(&role).ok_or_else(|| StateError::Corrupt {
                path: self.pool.target().describe(),
                message: format!("api_tokens: unknown role {role:?}"),
            })?,
            hash: row.get(2),
            created_at: row.get(3),
        })
    }
}

impl TokenStore for PgTokens {
    fn describe(&self) -> String {
        self.pool.target().describe()
    }

    fn create(&self, t: &TokenRecord) -> Result<bool, StateError> {
        // Tried again after a lost connection, an insert that did commit reads as a taken
        // name; the caller reports it and the token can be revoked and made again.
        self.pool.with(|c| {
            let n = c.execute(
                "INSERT INTO api_tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&t.name, &t.role.as_str(), &t.hash, &t.created_at],
            )?;
            Ok(n == 1)
        })
    }

    fn list(&self) -> Result<Vec<TokenRecord>, StateError> {
        let rows = self.pool.with(|c| {
            c.query(
                "SELECT name, role, hash, created_at FROM api_tokens ORDER BY name COLLATE \"C\"",
                &[],
            )
        })?;
        rows.iter().map(|r| self.record(r)).collect()
    }

    fn find(&self, hash: &str) -> Result<Option<TokenRecord>, StateError> {
        let row = self.pool.with(|c| {
            c.query_opt(
                "SELECT name, role, hash, created_at FROM api_tokens WHERE hash = $1",
                &[&hash],
            )
        })?;
        row.as_ref().map(|r| self.record(r)).transpose()
    }

    fn revoke(&self, name: &str) -> Result<bool, StateError> {
        self.pool
            .with(|c| Ok(c.execute("DELETE FROM api_tokens WHERE name = $1", &[&name])? == 1))
    }
}
