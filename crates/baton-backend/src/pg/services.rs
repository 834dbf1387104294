//! The service board on PostgreSQL ([`ServiceBoard`]), in the stack environment's own schema
//! (beside its state): `baton apply` on one machine and the agent (`baton serve`) on another
//! hand services to each other through it. Tables `svc_desired`, `svc_lease` and `svc_status`;
//! lease times are the server's clock (`now()`), so the machines' clocks need not agree.
//!
//! Must not interpret specs or statuses.

use super::pool::{self, Pool, Settings};
use super::saturating;
use super::target::PgTarget;
use baton_core::board::{
    AgentId, AgentLease, BoardError, DesiredService, ServiceBoard, StatusReport,
};
use baton_state::StateError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS svc_desired (
    name TEXT PRIMARY KEY,
    stack TEXT NOT NULL,
    dir TEXT NOT NULL,
    spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS svc_lease (
    singleton INT PRIMARY KEY CHECK (singleton = 1),
    agent TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    until_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS svc_status (
    singleton INT PRIMARY KEY CHECK (singleton = 1),
    agent TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    body TEXT NOT NULL
);
";

/// The advisory lock that serializes creating the tables in a fresh schema.
const MIGRATION_LOCK: i64 = 0x6261_746f_6e53; // "batonS"

const SETTINGS: Settings = Settings {
    max_idle: 2,
    unconfirmed: pool::unconfirmed,
};

/// The live lease, if any: agent, host, pid, milliseconds left.
const LIVE_LEASE: &str = "SELECT agent, host, pid,
        (EXTRACT(EPOCH FROM (until_at - now())) * 1000)::bigint
     FROM svc_lease WHERE singleton = 1 AND until_at > now()";

/// The board in one schema. Connects on first use (a configuration that declares no service
/// never makes a connection for it).
pub struct PgBoard {
    target: PgTarget,
    pool: Mutex<Option<Arc<Pool>>>,
}

impl PgBoard {
    /// The board in `target`'s schema; nothing is connected yet.
    pub fn new(target: &PgTarget) -> PgBoard {
        PgBoard {
            target: target.clone(),
            pool: Mutex::new(None),
        }
    }

    /// Opens the board in `target`'s schema now, creating its tables if they are missing.
    pub fn open(target: &PgTarget) -> Result<PgBoard, StateError> {
        let b = PgBoard::new(target);
        b.pool()?;
        Ok(b)
    }

    fn pool(&self) -> Result<Arc<Pool>, StateError> {
        let mut slot = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let pool = Pool::open(&self.target, SETTINGS)?;
        pool.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        })?;
        let pool = Arc::new(pool);
        *slot = Some(pool.clone());
        Ok(pool)
    }

    fn with<T>(
        &self,
        mut f: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, BoardError> {
        let store = |e: StateError| BoardError::Store(e.to_string());
        self.pool()
            .map_err(store)?
            .with(|c| {
                let mut tx = c.transaction()?;
                let v = f(&mut tx)?;
                tx.commit()?;
                Ok(v)
            })
            .map_err(store)
    }
}

fn live_lease(tx: &mut postgres::Transaction<'_>) -> Result<Option<AgentLease>, postgres::Error> {
    Ok(tx.query_opt(LIVE_LEASE, &[])?.map(|r| AgentLease {
        agent: AgentId {
            id: r.get(0),
            host: r.get(1),
            pid: u32::try_from(r.get::<_, i64>(2)).unwrap_or(0),
        },
        remaining_ms: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
    }))
}

impl ServiceBoard for PgBoard {
    fn describe(&self) -> String {
        self.target.describe()
    }

    fn put_desired(&self, s: &DesiredService) -> Result<(), BoardError> {
        self.with(|tx| {
            tx.execute(
                "INSERT INTO svc_desired (name, stack, dir, spec) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET stack = $2, dir = $3, spec = $4",
                &[&s.name, &s.stack, &s.dir, &s.spec],
            )
            .map(|_| ())
        })
    }

    fn remove_desired(&self, name: &str) -> Result<(), BoardError> {
        self.with(|tx| {
            tx.execute("DELETE FROM svc_desired WHERE name = $1", &[&name])
                .map(|_| ())
        })
    }

    fn desired(&self) -> Result<Vec<DesiredService>, BoardError> {
        self.with(|tx| {
            Ok(tx
                .query(
                    "SELECT name, stack, dir, spec FROM svc_desired ORDER BY name",
                    &[],
                )?
                .into_iter()
                .map(|r| DesiredService {
                    name: r.get(0),
                    stack: r.get(1),
                    dir: r.get(2),
                    spec: r.get(3),
                })
                .collect())
        })
    }

    fn claim(&self, me: &AgentId, ttl: Duration) -> Result<Option<AgentLease>, BoardError> {
        let ttl_ms = saturating(ttl.as_millis());
        self.with(|tx| {
            // Serializes two agents claiming at once, even before the row exists.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('baton_svc_' || current_schema()))",
                &[],
            )?;
            if let Some(l) = live_lease(tx)? {
                if l.agent.id != me.id {
                    return Ok(Some(l));
                }
            }
            tx.execute(
                "INSERT INTO svc_lease (singleton, agent, host, pid, until_at)
                 VALUES (1, $1, $2, $3, now() + $4::bigint * interval '1 millisecond')
                 ON CONFLICT (singleton) DO UPDATE
                 SET agent = $1, host = $2, pid = $3, until_at = EXCLUDED.until_at",
                &[&me.id, &me.host, &i64::from(me.pid), &ttl_ms],
            )?;
            Ok(None)
        })
    }

    fn release(&self, agent: &str) -> Result<(), BoardError> {
        self.with(|tx| {
            tx.execute(
                "DELETE FROM svc_lease WHERE singleton = 1 AND agent = $1",
                &[&agent],
            )
            .map(|_| ())
        })
    }

    fn agent(&self) -> Result<Option<AgentLease>, BoardError> {
        self.with(live_lease)
    }

    fn put_status(&self, agent: &str, body: &str) -> Result<(), BoardError> {
        self.with(|tx| {
            let holder = live_lease(tx)?;
            match holder {
                Some(l) if l.agent.id == agent => {}
                other => {
                    return Ok(Err(BoardError::NotHolder {
                        agent: agent.to_string(),
                        holder: other.map_or_else(|| "nobody".to_string(), |l| l.agent.id),
                    }))
                }
            }
            tx.execute(
                "INSERT INTO svc_status (singleton, agent, at, body) VALUES (1, $1, now(), $2)
                 ON CONFLICT (singleton) DO UPDATE SET agent = $1, at = now(), body = $2",
                &[&agent, &body],
            )?;
            Ok(Ok(()))
        })?
    }

    fn status(&self) -> Result<Option<StatusReport>, BoardError> {
        self.with(|tx| {
            Ok(tx
                .query_opt(
                    "SELECT agent, (EXTRACT(EPOCH FROM (now() - at)) * 1000)::bigint, body
                     FROM svc_status WHERE singleton = 1",
                    &[],
                )?
                .map(|r| StatusReport {
                    agent: r.get(0),
                    age_ms: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                    body: r.get(2),
                }))
        })
    }
}
