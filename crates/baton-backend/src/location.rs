//! Where a stack's records live: the embedded SQLite file (the default) or a schema of a
//! PostgreSQL database, parsed from what users write — `--store URL`, `BATON_STORE`, or
//! Terraform's `backend "pg" { conn_str = "…" schema_name = "…" }` (with `PG_CONN_STR` and
//! `PG_SCHEMA_NAME` as Terraform reads them).
//!
//! Must never show a password: [`Location::describe`] is the only way a location reaches a
//! message, and it leaves credentials out.

use crate::pg::target::check_schema;
pub use crate::pg::target::{is_postgres, redact, LocationError, PgTarget, DEFAULT_SCHEMA};
use baton_state::{
    SqliteQueue, SqliteStore, SqliteTokens, SqliteWorkflowStore, StateError, StateStore,
    TokenStore, WorkQueue, WorkflowStore,
};
use std::path::{Path, PathBuf};

/// A store's location.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A schema in a PostgreSQL database.
    Postgres(PgTarget),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// Parses a `--store` / `BATON_STORE` value: a `postgres://` or `postgresql://` URL (with
    /// an optional `schema_name` query parameter), a libpq keyword string (`host=… dbname=…`,
    /// optionally with `schema_name=…`), `sqlite://PATH`, `sqlite:PATH`, or a plain path to an
    /// SQLite file. Relative paths are relative to `base`.
    pub fn parse(s: &str, base: &Path) -> Result<Location, LocationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(LocationError::Empty);
        }
        if let Some(rest) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            return Ok(Location::Sqlite(base.join(rest)));
        }
        if is_postgres(s) {
            return PgTarget::parse(s, None).map(Location::Postgres);
        }
        Ok(Location::Sqlite(base.join(s)))
    }

    /// The location for a `backend "pg"` block's settings: `conn_str` (else `PG_CONN_STR`)
    /// and `schema_name` (else `PG_SCHEMA_NAME`, else [`DEFAULT_SCHEMA`]). `None` when no
    /// connection string is given either way.
    pub fn pg_backend(
        conn_str: Option<&str>,
        schema_name: Option<&str>,
    ) -> Option<Result<Location, LocationError>> {
        let env_conn = std::env::var("PG_CONN_STR").ok();
        let conn = conn_str.or(env_conn.as_deref())?;
        let env_schema = std::env::var("PG_SCHEMA_NAME").ok();
        let schema = schema_name.or(env_schema.as_deref());
        Some(PgTarget::parse(conn, schema).map(Location::Postgres))
    }

    /// The location of environment `env`'s state, given this location for the `default`
    /// environment: for PostgreSQL, the schema `SCHEMA_env_ENV` (environments never share
    /// tables); for SQLite, the caller decides (the path is returned unchanged).
    pub fn for_environment(&self, env: &str) -> Result<Location, LocationError> {
        match self {
            Location::Sqlite(_) => Ok(self.clone()),
            Location::Postgres(t) if env == "default" => Ok(Location::Postgres(t.clone())),
            Location::Postgres(t) => {
                let schema = format!("{}_env_{}", t.schema, env.replace('-', "_"));
                check_schema(&schema)?;
                Ok(Location::Postgres(t.in_schema(schema)))
            }
        }
    }

    /// The location for messages: a path, or `postgresql://USER@HOST:PORT/DB (schema S)`
    /// with any password left out.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(t) => t.describe(),
        }
    }
}

impl Location {
    /// Opens the state store here (an SQLite file is created if missing).
    pub fn open_state(&self) -> Result<Box<dyn StateStore>, StateError> {
        match self {
            Location::Sqlite(p) => Ok(Box::new(SqliteStore::open(p)?)),
            Location::Postgres(t) => crate::pg::state::open(t),
        }
    }

    /// Opens the workflow run store here: for SQLite, `workflows.db` beside the state file
    /// ([`Location::sqlite_workflows_path`]); for PostgreSQL, the same schema as the state.
    pub fn open_workflows(&self) -> Result<Box<dyn WorkflowStore>, StateError> {
        match self {
            Location::Sqlite(p) => {
                let path = p.with_file_name("workflows.db");
                Ok(Box::new(SqliteWorkflowStore::open(&path)?))
            }
            Location::Postgres(t) => crate::pg::workflow::open(t),
        }
    }

    /// For SQLite, the file of the workflow run store (`workflows.db` beside the state file).
    pub fn sqlite_workflows_path(&self) -> Option<PathBuf> {
        match self {
            Location::Sqlite(p) => Some(p.with_file_name("workflows.db")),
            Location::Postgres(_) => None,
        }
    }

    /// Opens the work queue workers claim from: for SQLite, `queue.db` beside the state file
    /// ([`Location::sqlite_queue_path`]: processes on this machine only); for PostgreSQL, the
    /// target's queue schema (shared by every environment). Give it the location of the
    /// directory's default environment so that one set of workers serves every environment.
    pub fn open_queue(&self) -> Result<Box<dyn WorkQueue>, StateError> {
        match self {
            Location::Sqlite(p) => Ok(Box::new(SqliteQueue::open(
                &baton_state::queue_sqlite::beside(p),
            )?)),
            Location::Postgres(t) => Ok(Box::new(crate::pg::queue::PgQueue::open(t)?)),
        }
    }

    /// Opens the service board of this stack environment
    /// ([`baton_core::board::ServiceBoard`]): for SQLite, `services.db` beside the state file
    /// (created by its first write); for PostgreSQL, the environment's schema (connected on
    /// first use). Opening it costs nothing.
    pub fn open_services(
        &self,
    ) -> Result<std::sync::Arc<dyn baton_core::board::ServiceBoard>, StateError> {
        match self {
            Location::Sqlite(p) => Ok(std::sync::Arc::new(baton_state::SqliteBoard::new(
                &baton_state::board_sqlite::beside(p),
            ))),
            Location::Postgres(t) => Ok(std::sync::Arc::new(crate::pg::services::PgBoard::new(t))),
        }
    }

    /// Opens the API token store of `baton serve`: for SQLite, `tokens.db` beside the state
    /// file ([`Location::sqlite_tokens_path`]); for PostgreSQL, the table `api_tokens` in the
    /// target's queue schema (shared by every environment). Give it the location of the
    /// directory's default environment, as for the queue.
    pub fn open_tokens(&self) -> Result<Box<dyn TokenStore>, StateError> {
        match self {
            Location::Sqlite(p) => Ok(Box::new(SqliteTokens::open(
                &baton_state::tokens_sqlite::beside(p),
            )?)),
            Location::Postgres(t) => Ok(Box::new(crate::pg::tokens::PgTokens::open(t)?)),
        }
    }

    /// For SQLite, the file of the API tokens (`tokens.db` beside the state file).
    pub fn sqlite_tokens_path(&self) -> Option<PathBuf> {
        match self {
            Location::Sqlite(p) => Some(baton_state::tokens_sqlite::beside(p)),
            Location::Postgres(_) => None,
        }
    }

    /// For SQLite, the file of the work queue (`queue.db` beside the state file).
    pub fn sqlite_queue_path(&self) -> Option<PathBuf> {
        match self {
            Location::Sqlite(p) => Some(baton_state::queue_sqlite::beside(p)),
            Location::Postgres(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_told_apart() {
        let base = Path::new("/srv/stack");
        assert_eq!(
            Location::parse("state.db", base),
            Ok(Location::Sqlite(PathBuf::from("/srv/stack/state.db")))
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db", base),
            Ok(Location::Sqlite(PathBuf::from("/tmp/x.db")))
        );
        let Ok(Location::Postgres(t)) = Location::parse(
            "postgres://u:secret@db:5432/infra?sslmode=disable&schema_name=web",
            base,
        ) else {
            panic!("not postgres")
        };
        assert_eq!(t.schema, "web");
        assert_eq!(
            t.conn_str(),
            "postgres://u:secret@db:5432/infra?sslmode=disable"
        );
        let Ok(Location::Postgres(k)) = Location::parse("host=db user=u password=secret", base)
        else {
            panic!("keyword form is postgres")
        };
        assert_eq!(k.schema, DEFAULT_SCHEMA);
    }

    #[test]
    fn descriptions_never_show_a_password() {
        for conn in [
            "postgres://u:hunter2@db:5432/infra?sslmode=disable",
            "postgresql://u:hunter2@db/infra?password=hunter2",
            "host=db user=u password=hunter2 dbname=infra",
        ] {
            let Ok(t) = PgTarget::parse(conn, None) else {
                panic!("{conn} parses")
            };
            let d = t.describe();
            assert!(!d.contains("hunter2"), "{d}");
            assert!(d.contains("db"), "{d}");
            assert!(!format!("{:?}", Location::Postgres(t)).contains("hunter2"));
        }
    }

    #[test]
    fn environments_get_schemas_of_their_own() {
        let Ok(l) = Location::parse("postgres://u@db/infra?schema_name=web", Path::new("/")) else {
            panic!("parses")
        };
        let Ok(Location::Postgres(s)) = l.for_environment("staging") else {
            panic!("postgres")
        };
        assert_eq!(s.schema, "web_env_staging");
        assert_eq!(l.for_environment("default"), Ok(l.clone()));
    }

    #[test]
    fn bad_schemas_are_refused() {
        assert!(matches!(
            PgTarget::parse("postgres://db/x", Some("a;drop")),
            Err(LocationError::BadSchema(_))
        ));
    }
}
