//! The PostgreSQL state store: [`StateStore`] over one schema of a database, with the same
//! semantics and errors as the SQLite store (`baton_state::sqlite`, the reference), so that both
//! pass the same conformance suite. Its tables and server-side functions are in
//! `state_schema.rs` beside this file.
//!
//! A [`PgStore`] keeps a small pool of connections (the stores' pool, `pool.rs`) and is shared
//! by threads (`&self` methods). A call that meets a connection the server closed or cut off
//! retries on a new connection, with backoff, when that is safe: reads, idempotent writes, and
//! writes whose transaction did not reach its commit (an error the server reports means its
//! transaction did not commit).
//! A write whose commit could not be confirmed fails (the engine's journal resolves it on the
//! next command) rather than risk landing twice; the idempotent ones (`put_object`,
//! `put_outputs`, `journal_finish`, `finish_run`, marking orphaned runs) are tried again
//! instead, since a second run finds them done.
//!
//! PostgreSQL text cannot hold the NUL character: a write of a string holding one (an address,
//! a journal error message) fails. JSON documents are unaffected (JSON escapes it).
//!
//! Must not interpret attribute values (bodies, plans and journal values are stored exactly as
//! handed over), judge a lock other than through `baton_state::lock`, chain audit records other
//! than through `baton_state::audit`, show the connection string (only [`PgTarget::describe`]
//! reaches messages), or panic on anything the database returns.

use super::pool::{corrupt, Failure, Mode, Params, Pool, Retry, Settings, Tx};
use super::state_schema::MIGRATIONS;
use super::target::PgTarget;
use crate::pg::{self, key_sql, saturating, to_u64};
use baton_core::InstanceAddr;
use baton_state::audit::{self, AuditEntry, AuditRecord, AuditRow, VerifyReport};
use baton_state::journal;
use baton_state::lock;
use baton_state::stamp;
use baton_state::{
    EntryOutcome, EntryStatus, Fence, InstanceState, JournalEntry, Lease, LockGuard, LockInfo,
    ObjectKey, OutputState, PlanWriter, RawJson, Renewal, RunRecord, RunStatus, Snapshot,
    StaleLock, StateError, StateStore, StateWrite, Unlock, VersionMeta,
};
use postgres::types::FromSql;
use postgres::{Client, Row};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Opens the state store in `target`'s schema, creating or migrating its tables.
pub fn open(target: &PgTarget) -> Result<Box<dyn StateStore>, StateError> {
    Ok(Box::new(PgStore::open(target)?))
}

/// A state store in one schema of a PostgreSQL database. Open one per process, or several on
/// the same schema: they see each other's writes, and the lock is shared by all of them.
pub struct PgStore {
    /// Shared with the closures of the store's lock guards.
    pool: Arc<Pool>,
}

/// How many idle connections a store keeps, and how it reports a write whose commit could not
/// be confirmed (the engine's journal resolves it on the next command).
const SETTINGS: Settings = Settings {
    max_idle: 4,
    unconfirmed,
};

fn unconfirmed(detail: &str) -> String {
    format!(
        "the connection was lost while the write was being committed; whether it was recorded is unknown ({detail})"
    )
}

/// How often `lock` looks again while a live holder keeps the lock.
const LOCK_POLL: Duration = Duration::from_millis(100);

const IN_PROGRESS: &str = "in_progress";
const INTERRUPTED: &str = "interrupted";

fn json_failure(e: serde_json::Error) -> Failure {
    corrupt(format!("bad JSON: {e}"))
}

/// Column `i` of `row`; a value of the wrong type is a corrupt schema, not a failed connection.
fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, Failure> {
    row.try_get(i)
        .map_err(|e| corrupt(format!("unexpected value in column {i}: {e}")))
}

impl PgStore {
    /// Connects to `target`'s database, creates its schema if needed and brings the state
    /// store's tables up to date. A schema whose `meta` table is not Baton's, or that a newer
    /// Baton wrote, is [`StateError::Corrupt`].
    pub fn open(target: &PgTarget) -> Result<PgStore, StateError> {
        let pool = Pool::open(target, SETTINGS)?;
        pool.write(|tx| migrate(tx, &target.schema))?;
        Ok(PgStore {
            pool: Arc::new(pool),
        })
    }

    /// The target this store was opened on.
    pub fn target(&self) -> &PgTarget {
        self.pool.target()
    }

    /// [`StateError::Fenced`] for a write that carried `fence`, naming the holder now.
    fn fenced(&self, fence: Fence) -> StateError {
        match self.lock_holder() {
            Ok(holder) => StateError::Fenced {
                fence,
                holder: holder.map(Box::new),
            },
            Err(e) => e,
        }
    }

    /// The outcome of a server-side write: 0 done, -1 fenced, else `not_open(code)`.
    fn written(
        &self,
        row: &Row,
        fence: Fence,
        not_open: impl FnOnce(i32) -> StateError,
    ) -> Result<(), StateError> {
        let code: i32 = get(row, 0).map_err(|e| e.at(self.pool.target()))?;
        match code {
            0 => Ok(()),
            -1 => Err(self.fenced(fence)),
            n => Err(not_open(n)),
        }
    }
}

impl StateStore for PgStore {
    fn describe(&self) -> String {
        self.pool.target().describe()
    }

    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        let deadline = Instant::now().checked_add(timeout);
        let info_json =
            serde_json::to_string(&info).map_err(|e| json_failure(e).at(self.pool.target()))?;
        let lease_ms = saturating(info.lease_ms);
        let pid = i64::from(info.pid);
        loop {
            let attempt =
                self.pool.write(|tx| {
                    let row = tx
                        .query_opt(
                            "SELECT last, baton_now_ms() FROM fence WHERE singleton = 1 FOR UPDATE",
                            &[],
                        )?
                        .ok_or_else(|| corrupt("the fencing token is missing"))?;
                    let (last, now): (i64, i64) = (get(&row, 0)?, get(&row, 1)?);
                    let cleared = match read_held(tx, true)? {
                        None => None,
                        Some(h) => match lock::staleness(&h.info, h.expires_ms, now) {
                            Some(why) => Some(StaleLock {
                                holder: h.info,
                                why,
                            }),
                            None => return Ok(Err(h.info)),
                        },
                    };
                    let token = last
                        .checked_add(1)
                        .ok_or_else(|| corrupt("no fencing tokens are left"))?;
                    tx.execute("UPDATE fence SET last = $1 WHERE singleton = 1", &[&token])?;
                    let expires = (lease_ms > 0).then(|| now.saturating_add(lease_ms));
                    tx.execute(
                    "INSERT INTO lock (singleton, id, pid, host, since, info, token, expires_ms)
                     VALUES (1, $1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (singleton) DO UPDATE SET
                         id = EXCLUDED.id, pid = EXCLUDED.pid, host = EXCLUDED.host,
                         since = EXCLUDED.since, info = EXCLUDED.info, token = EXCLUDED.token,
                         expires_ms = EXCLUDED.expires_ms",
                    &[
                        &info.id, &pid, &info.host, &info.since, &info_json, &token, &expires,
                    ],
                )?;
                    Ok(Ok((to_fence(token)?, cleared)))
                })?;
            match attempt {
                Ok((fence, cleared)) => {
                    let renew = renewer(self.pool.target().clone(), fence, lease_ms);
                    let pool = Arc::clone(&self.pool);
                    let release = Box::new(move || release_lock(&pool, fence));
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
        self.pool
            .snapshot(|tx| Ok(read_held(tx, false)?.map(|h| h.info)))
    }

    fn lease(&self) -> Result<Option<Lease>, StateError> {
        self.pool.snapshot(|tx| {
            let now: i64 = get(&tx.query_one("SELECT baton_now_ms()", &[])?, 0)?;
            Ok(read_held(tx, false)?.map(|h| lock::lease(h.info, h.fence, h.expires_ms, now)))
        })
    }

    fn force_unlock(&self, how: Unlock) -> Result<Option<LockInfo>, StateError> {
        self.pool.write(|tx| {
            let row = tx
                .query_opt(
                    "SELECT baton_now_ms() FROM fence WHERE singleton = 1 FOR UPDATE",
                    &[],
                )?
                .ok_or_else(|| corrupt("the fencing token is missing"))?;
            let now: i64 = get(&row, 0)?;
            let Some(held) = read_held(tx, true)? else {
                return Ok(None);
            };
            let lease = lock::lease(held.info, held.fence, held.expires_ms, now);
            if how == Unlock::IfExpired && !lease.expired {
                return Err(StateError::LeaseLive(Box::new(lease)).into());
            }
            tx.execute("DELETE FROM lock WHERE singleton = 1", &[])?;
            Ok(Some(lease.holder))
        })
    }

    fn current(&self) -> Result<Snapshot, StateError> {
        self.pool.snapshot(|tx| {
            let serial: Option<i64> =
                get(&tx.query_one("SELECT max(serial) FROM versions", &[])?, 0)?;
            Ok(Snapshot {
                lineage: lineage(tx)?,
                serial: serial.map_or(Ok(0), to_serial)?,
                objects: read_objects(
                    tx,
                    "SELECT addr, deposed, body FROM objects WHERE valid_to IS NULL",
                    &[],
                )?,
                outputs: read_outputs(
                    tx,
                    "SELECT name, body FROM outputs WHERE valid_to IS NULL",
                    &[],
                )?,
            })
        })
    }

    fn begin_version(&self, fence: Fence, run_id: &str, command: &str) -> Result<u64, StateError> {
        let f = key_sql(fence.0);
        self.pool.write(|tx| {
            // Serializes the versions begun at once before the fencing check.
            let lineage: String = get(
                &tx.query_opt(
                    "SELECT value FROM meta WHERE key = 'lineage' FOR UPDATE",
                    &[],
                )?
                .ok_or_else(|| corrupt("the lineage is missing"))?,
                0,
            )?;
            check_fence(tx, fence, f)?;
            tx.execute(
                "UPDATE versions SET status = $1 WHERE status = $2",
                &[&INTERRUPTED, &IN_PROGRESS],
            )?;
            let row = tx.query_one(
                "INSERT INTO versions (serial, lineage, run_id, command, created_at, status)
                 SELECT COALESCE(max(serial), 0) + 1, $1, $2, $3, $4, $5 FROM versions
                 RETURNING serial",
                &[
                    &lineage,
                    &run_id,
                    &command,
                    &stamp::now_rfc3339(),
                    &IN_PROGRESS,
                ],
            )?;
            to_serial(get(&row, 0)?)
        })
    }

    fn put_object(
        &self,
        fence: Fence,
        serial: u64,
        key: &ObjectKey,
        object: Option<&InstanceState>,
    ) -> Result<(), StateError> {
        let body = encode(object).map_err(|e| e.at(self.pool.target()))?;
        let addr = key.addr.to_string();
        // Idempotent: a second run of the same write finds it done and changes nothing.
        let row = self.pool.call(
            Retry::Idempotent,
            "SELECT baton_put_object($1, $2, $3, $4, $5)",
            &[
                &key_sql(fence.0),
                &key_sql(serial),
                &addr,
                &key.deposed,
                &body.as_deref(),
            ],
        )?;
        self.written(&row, fence, |_| StateError::VersionNotOpen(serial))
    }

    fn put_outputs(
        &self,
        fence: Fence,
        serial: u64,
        outputs: &BTreeMap<String, OutputState>,
    ) -> Result<(), StateError> {
        let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
        let bodies = outputs
            .values()
            .map(serde_json::to_string)
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| json_failure(e).at(self.pool.target()))?;
        let row = self.pool.call(
            Retry::Idempotent,
            "SELECT baton_put_outputs($1, $2, $3, $4)",
            &[&key_sql(fence.0), &key_sql(serial), &names, &bodies],
        )?;
        self.written(&row, fence, |_| StateError::VersionNotOpen(serial))
    }

    fn finish_version(&self, fence: Fence, serial: u64, status: &str) -> Result<(), StateError> {
        let (f, s) = (key_sql(fence.0), key_sql(serial));
        self.pool.write(|tx| {
            let open: bool = get(&tx.query_one("SELECT baton_lock_version($1)", &[&s])?, 0)?;
            check_fence(tx, fence, f)?;
            if !open {
                return Err(StateError::VersionNotOpen(serial).into());
            }
            tx.execute(
                "UPDATE versions SET status = $2 WHERE serial = $1",
                &[&s, &status],
            )?;
            Ok(())
        })
    }

    fn history(&self) -> Result<Vec<VersionMeta>, StateError> {
        self.pool.snapshot(|tx| {
            let rows = tx.query(
                "SELECT serial, lineage, run_id, command, created_at, status, changes
                 FROM versions ORDER BY serial",
                &[],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(VersionMeta {
                        serial: to_serial(get(r, 0)?)?,
                        lineage: get(r, 1)?,
                        run_id: get(r, 2)?,
                        command: get(r, 3)?,
                        created_at: get(r, 4)?,
                        status: get(r, 5)?,
                        changes: u64::try_from(get::<i64>(r, 6)?).unwrap_or(0),
                    })
                })
                .collect()
        })
    }

    fn at_version(&self, serial: u64) -> Result<Snapshot, StateError> {
        let s = i64::try_from(serial).map_err(|_| StateError::NoSuchVersion(serial))?;
        self.pool.snapshot(|tx| {
            let lineage = if serial == 0 {
                lineage(tx)?
            } else {
                let row = tx
                    .query_opt("SELECT lineage FROM versions WHERE serial = $1", &[&s])?
                    .ok_or(StateError::NoSuchVersion(serial))?;
                get(&row, 0)?
            };
            Ok(Snapshot {
                lineage,
                serial,
                objects: read_objects(
                    tx,
                    "SELECT addr, deposed, body FROM objects
                     WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
                    &[&s],
                )?,
                outputs: read_outputs(
                    tx,
                    "SELECT name, body FROM outputs
                     WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)",
                    &[&s],
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
        let f = key_sql(fence.0);
        let serial = saturating(run.serial);
        let pid = i64::from(run.pid);
        self.pool.write(|tx| {
            check_fence(tx, fence, f)?;
            tx.execute(
                "INSERT INTO runs (id, kind, status, who, host, pid, process_start, started_at,
                     finished_at, serial, summary, parent, on_failure)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &run.id,
                    &run.kind,
                    &run.status.as_str(),
                    &run.who,
                    &run.host,
                    &pid,
                    &run.process_start,
                    &run.started_at,
                    &run.finished_at,
                    &serial,
                    &run.summary,
                    &run.parent,
                    &run.on_failure,
                ],
            )?;
            copy_plan(tx, &run.id, plan).map_err(|e| match e {
                PlanFailure::Db(e) => e,
                PlanFailure::Plan(e) => Failure::State(StateError::Io {
                    path: self.describe(),
                    message: format!("cannot record the plan of run {}: {e}", run.id),
                }),
            })
        })
    }

    fn finish_run(&self, fence: Fence, id: &str, status: RunStatus) -> Result<(), StateError> {
        let f = key_sql(fence.0);
        let now = stamp::now_rfc3339();
        // Idempotent: the same status again (with a later finish time at most).
        self.pool.transaction(Retry::Idempotent, Mode::Write, |tx| {
            tx.execute("SELECT 1 FROM runs WHERE id = $1 FOR NO KEY UPDATE", &[&id])?;
            check_fence(tx, fence, f)?;
            set_status(tx, id, status, &now, false)?;
            Ok(())
        })
    }

    fn journal_start(&self, fence: Fence, entry: &JournalEntry) -> Result<u64, StateError> {
        let attempts = i64::from(entry.attempts);
        let duration = entry.duration_ms.map(saturating);
        let row = self.pool.call(
            Retry::BeforeCommit,
            "SELECT baton_journal_start($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &key_sql(fence.0),
                &entry.run_id,
                &entry.addr,
                &entry.deposed,
                &entry.action,
                &entry.prior.as_str(),
                &entry.planned.as_str(),
                &entry.status.as_str(),
                &entry.new_value.as_ref().map(RawJson::as_str),
                &entry.error,
                &attempts,
                &entry.started_at,
                &duration,
                &entry.phase,
            ],
        )?;
        let seq: i64 = get(&row, 0).map_err(|e| e.at(self.pool.target()))?;
        if seq < 0 {
            return Err(self.fenced(fence));
        }
        to_serial(seq).map_err(|e| e.at(self.pool.target()))
    }

    fn journal_finish(
        &self,
        fence: Fence,
        run_id: &str,
        seq: u64,
        outcome: &EntryOutcome,
        writes: &[StateWrite<'_>],
    ) -> Result<(), StateError> {
        let serials: Vec<i64> = writes.iter().map(|w| key_sql(w.serial)).collect();
        let addrs: Vec<String> = writes.iter().map(|w| w.key.addr.to_string()).collect();
        let deposeds: Vec<&str> = writes.iter().map(|w| w.key.deposed.as_str()).collect();
        let bodies = writes
            .iter()
            .map(|w| encode(w.object))
            .collect::<Result<Vec<Option<String>>, _>>()
            .map_err(|e| e.at(self.pool.target()))?;
        let seq_sql = key_sql(seq);
        let duration = saturating(outcome.duration_ms);
        // Idempotent: the same outcome and writes again change nothing.
        let row = self.pool.call(
            Retry::Idempotent,
            "SELECT baton_journal_finish($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &key_sql(fence.0),
                &run_id,
                &seq_sql,
                &outcome.status.as_str(),
                &outcome.new_value.as_ref().map(RawJson::as_str),
                &outcome.error,
                &i64::from(outcome.attempts),
                &duration,
                &serials,
                &addrs,
                &deposeds,
                &bodies,
            ],
        )?;
        self.written(&row, fence, |i| {
            let serial = usize::try_from(i - 1)
                .ok()
                .and_then(|i| writes.get(i))
                .map_or(0, |w| w.serial);
            StateError::VersionNotOpen(serial)
        })
    }

    fn runs(&self) -> Result<Vec<RunRecord>, StateError> {
        let now = stamp::now_rfc3339();
        // Idempotent: only `running` runs whose process is gone are marked.
        self.pool.transaction(Retry::Idempotent, Mode::Write, |tx| {
            let rows = tx.query(
                "SELECT id, kind, status, who, host, pid, process_start, started_at,
                            finished_at, serial, summary, parent, on_failure
                     FROM runs ORDER BY ordinal DESC",
                &[],
            )?;
            let mut runs = rows.iter().map(row_to_run).collect::<Result<Vec<_>, _>>()?;
            for r in &mut runs {
                if journal::is_orphaned(r) {
                    set_status(tx, &r.id, RunStatus::Interrupted, &now, true)?;
                    r.status = RunStatus::Interrupted;
                }
            }
            Ok(runs)
        })
    }

    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError> {
        let now = stamp::now_rfc3339();
        self.pool.transaction(Retry::Idempotent, Mode::Write, |tx| {
            let Some(row) = tx.query_opt(
                "SELECT id, kind, status, who, host, pid, process_start, started_at,
                            finished_at, serial, summary, parent, on_failure
                     FROM runs WHERE id = $1",
                &[&id],
            )?
            else {
                return Ok(None);
            };
            let mut run = row_to_run(&row)?;
            if journal::is_orphaned(&run) {
                set_status(tx, &run.id, RunStatus::Interrupted, &now, true)?;
                run.status = RunStatus::Interrupted;
            }
            let plan = tx.query_opt("SELECT plan FROM run_plans WHERE run_id = $1", &[&id])?;
            if let Some(plan) = plan {
                let bytes: Vec<u8> = get(&plan, 0)?;
                if let Ok(text) = String::from_utf8(bytes) {
                    run.plan = journal::raw(text);
                }
            }
            Ok(Some(run))
        })
    }

    fn journal(&self, run_id: &str) -> Result<Vec<JournalEntry>, StateError> {
        self.pool.snapshot(|tx| {
            let rows = tx.query(
                "SELECT run_id, seq, addr, deposed, action, prior, planned, status, new_value,
                        error, attempts, started_at, duration_ms, phase
                 FROM journal WHERE run_id = $1 ORDER BY seq",
                &[&run_id],
            )?;
            rows.iter()
                .map(|r| {
                    let status: String = get(r, 7)?;
                    let duration: Option<i64> = get(r, 12)?;
                    Ok(JournalEntry {
                        run_id: get(r, 0)?,
                        seq: u64::try_from(get::<i64>(r, 1)?).unwrap_or(0),
                        addr: get(r, 2)?,
                        deposed: get(r, 3)?,
                        action: get(r, 4)?,
                        prior: journal::raw(get(r, 5)?),
                        planned: journal::raw(get(r, 6)?),
                        status: EntryStatus::parse(&status).unwrap_or(EntryStatus::Started),
                        new_value: get::<Option<String>>(r, 8)?.map(journal::raw),
                        error: get(r, 9)?,
                        attempts: u32::try_from(get::<i64>(r, 10)?).unwrap_or(0),
                        started_at: get(r, 11)?,
                        duration_ms: duration.map(|d| u64::try_from(d).unwrap_or(0)),
                        phase: get(r, 13)?,
                    })
                })
                .collect()
        })
    }

    fn audit_append(&self, entry: AuditEntry) -> Result<AuditRecord, StateError> {
        let key = advisory_key("audit", &self.pool.target().schema);
        self.pool.write(|tx| {
            // Appenders from every handle and process form one chain: one at a time.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
            let last = tx
                .query_opt("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", &[])?
                .map(|r| Ok::<_, Failure>((get::<i64>(&r, 0)?, get::<String>(&r, 1)?)))
                .transpose()?
                .map(|(id, hash)| (u64::try_from(id).unwrap_or(0), hash));
            let head = read_audit_head(tx)?;
            let next = audit::next_record(last, head.as_deref(), entry.clone()).map_err(corrupt)?;
            let id = i64::try_from(next.record.id)
                .map_err(|_| corrupt("the audit log has no ids left"))?;
            tx.execute(
                "INSERT INTO audit (id, time, command, run_id, hash, canonical)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &id,
                    &next.record.time,
                    &next.record.command,
                    &next.record.run_id,
                    &next.record.hash,
                    &next.canonical,
                ],
            )?;
            if let Some(head) = &next.head {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[&audit::HEAD_KEY, head],
                )?;
            }
            Ok(next.record)
        })
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord>, StateError> {
        self.pool.snapshot(|tx| {
            audit_rows(tx, None)?
                .iter()
                .map(|r| audit::record_of_row(r).map_err(Failure::Corrupt))
                .collect()
        })
    }

    fn audit_record(&self, id: u64) -> Result<Option<AuditRecord>, StateError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        self.pool.snapshot(|tx| {
            audit_rows(tx, Some(id))?
                .first()
                .map(|r| audit::record_of_row(r).map_err(Failure::Corrupt))
                .transpose()
        })
    }

    fn audit_verify(&self) -> Result<VerifyReport, StateError> {
        self.pool.snapshot(|tx| {
            let rows = audit_rows(tx, None)?;
            let head = read_audit_head(tx)?;
            Ok(audit::verify(&rows, head.as_deref()))
        })
    }
}

// ----- schema -----

/// Brings the schema up to date (see [`pg::migrate`]), recording how far it got in `meta`.
fn migrate(tx: &mut Tx<'_, '_>, schema: &str) -> Result<(), Failure> {
    pg::migrate(
        tx,
        (
            "SELECT pg_advisory_xact_lock($1)",
            &[&advisory_key("migrate", schema)],
        ),
        MIGRATIONS,
        schema_version,
        |from, latest| {
            format!(
                "written by a newer Baton (schema version {from}; this one knows up to {latest})"
            )
        },
        |tx, from| {
            if from == 0 {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('lineage', $1), ('created_at', $2)",
                    &[&stamp::random_id(), &stamp::now_rfc3339()],
                )?;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', $1)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&MIGRATIONS.len().to_string()],
            )?;
            Ok(())
        },
    )
}

/// The schema version `meta` records; 0 for a schema without a `meta` table.
fn schema_version(tx: &mut Tx<'_, '_>) -> Result<usize, Failure> {
    let has_meta: bool = get(
        &tx.query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables
                            WHERE schemaname = current_schema() AND tablename = 'meta')",
            &[],
        )?,
        0,
    )?;
    if !has_meta {
        return Ok(0);
    }
    let row = tx
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
        .ok_or_else(|| {
            corrupt("not a Baton state schema: it has a meta table without a schema version")
        })?;
    let version: String = get(&row, 0)?;
    version
        .parse::<usize>()
        .map_err(|_| corrupt(format!("invalid schema version {version:?}")))
}

/// The key of the advisory lock that serializes `purpose` in `schema` (FNV-1a, so that every
/// client computes the same key).
fn advisory_key(purpose: &str, schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "baton-state:"
        .bytes()
        .chain(purpose.bytes())
        .chain([b':'])
        .chain(schema.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

// ----- the lock -----

/// The lock row.
struct Held {
    info: LockInfo,
    fence: Fence,
    expires_ms: Option<i64>,
}

/// The lock row, locked until the transaction ends when `for_update` (before it is taken
/// over or removed).
fn read_held(tx: &mut Tx<'_, '_>, for_update: bool) -> Result<Option<Held>, Failure> {
    let row = if for_update {
        tx.query_opt(
            "SELECT id, pid, host, since, info, token, expires_ms FROM lock
             WHERE singleton = 1 FOR UPDATE",
            &[],
        )?
    } else {
        tx.query_opt(
            "SELECT id, pid, host, since, info, token, expires_ms FROM lock WHERE singleton = 1",
            &[],
        )?
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let info: String = get(&row, 4)?;
    let info = lock::stored_holder(
        &info,
        get(&row, 0)?,
        get(&row, 1)?,
        get(&row, 2)?,
        get(&row, 3)?,
    );
    Ok(Some(Held {
        info,
        fence: to_fence(get(&row, 5)?)?,
        expires_ms: get(&row, 6)?,
    }))
}

/// Refuses a write whose token `fence` (`f` as stored) is not the current holder's; otherwise
/// keeps the lock row share-locked until the transaction ends.
fn check_fence(tx: &mut Tx<'_, '_>, fence: Fence, f: i64) -> Result<(), Failure> {
    let held: bool = get(&tx.query_one("SELECT baton_fence_held($1)", &[&f])?, 0)?;
    if held {
        return Ok(());
    }
    let holder = read_held(tx, false)?.map(|h| Box::new(h.info));
    Err(StateError::Fenced { fence, holder }.into())
}

/// A renewer for the lease of acquisition `fence`, on a connection of its own (so that it
/// never waits for the store's pool), made again after it fails.
fn renewer(target: PgTarget, fence: Fence, lease_ms: i64) -> baton_state::store::Renew {
    let mut conn: Option<Client> = None;
    Box::new(move || renew_lease(&target, &mut conn, fence, lease_ms))
}

fn renew_lease(
    target: &PgTarget,
    conn: &mut Option<Client>,
    fence: Fence,
    lease_ms: i64,
) -> Renewal {
    if conn.as_ref().is_none_or(Client::is_closed) {
        *conn = pg::connect_once(target).ok();
    }
    let Some(client) = conn.as_mut() else {
        return Renewal::Failed;
    };
    let renewed = client.execute(
        "UPDATE lock SET expires_ms = LEAST(baton_now_ms(), 9223372036854775807 - $2) + $2
         WHERE token = $1",
        &[&key_sql(fence.0), &lease_ms],
    );
    match renewed {
        Ok(1) => Renewal::Renewed,
        Ok(_) => Renewal::Lost,
        Err(e) => {
            if pg::is_connection_lost(&e) {
                *conn = None;
            }
            Renewal::Failed
        }
    }
}

/// Deletes the lock row if it is still ours; errors are ignored (if the database cannot be
/// reached, the lease runs out).
fn release_lock(pool: &Pool, fence: Fence) {
    let f = key_sql(fence.0);
    let _ = pool.with_conn(Retry::Idempotent, |conn| {
        conn.client()
            .execute("DELETE FROM lock WHERE token = $1", &[&f])
            .map_err(Failure::Commit)
    });
}

fn to_fence(token: i64) -> Result<Fence, Failure> {
    to_u64(token, "invalid fencing token").map(Fence)
}

// ----- versions and objects -----

fn to_serial(s: i64) -> Result<u64, Failure> {
    to_u64(s, "invalid serial")
}

fn lineage(tx: &mut Tx<'_, '_>) -> Result<String, Failure> {
    let row = tx
        .query_opt("SELECT value FROM meta WHERE key = 'lineage'", &[])?
        .ok_or_else(|| corrupt("the lineage is missing"))?;
    get(&row, 0)
}

fn encode(object: Option<&InstanceState>) -> Result<Option<String>, Failure> {
    object
        .map(serde_json::to_string)
        .transpose()
        .map_err(json_failure)
}

fn read_objects(
    tx: &mut Tx<'_, '_>,
    sql: &'static str,
    params: Params<'_>,
) -> Result<BTreeMap<ObjectKey, InstanceState>, Failure> {
    let mut out = BTreeMap::new();
    for r in tx.query(sql, params)? {
        let addr: String = get(&r, 0)?;
        let deposed: String = get(&r, 1)?;
        let body: &str = get(&r, 2)?;
        let parsed = InstanceAddr::parse(&addr)
            .map_err(|e| corrupt(format!("object address {addr:?}: {e}")))?;
        let object: InstanceState =
            serde_json::from_str(body).map_err(|e| corrupt(format!("object {addr}: {e}")))?;
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
    tx: &mut Tx<'_, '_>,
    sql: &'static str,
    params: Params<'_>,
) -> Result<BTreeMap<String, OutputState>, Failure> {
    let mut out = BTreeMap::new();
    for r in tx.query(sql, params)? {
        let name: String = get(&r, 0)?;
        let body: &str = get(&r, 1)?;
        let output: OutputState =
            serde_json::from_str(body).map_err(|e| corrupt(format!("output {name}: {e}")))?;
        out.insert(name, output);
    }
    Ok(out)
}

// ----- the run journal -----

/// Sets a run's status, and its finish time for a final status; `only_running`: only if it
/// is still `running` (marking an orphan must not overwrite a status set meanwhile).
fn set_status(
    tx: &mut Tx<'_, '_>,
    id: &str,
    status: RunStatus,
    now: &str,
    only_running: bool,
) -> Result<u64, Failure> {
    let finished = !matches!(status, RunStatus::Running);
    tx.execute(
        "UPDATE runs SET status = $2, finished_at = CASE WHEN $3 THEN $4 ELSE finished_at END
         WHERE id = $1 AND (NOT $5 OR status = 'running')",
        &[&id, &status.as_str(), &finished, &now, &only_running],
    )
}

fn row_to_run(row: &Row) -> Result<RunRecord, Failure> {
    let status: String = get(row, 2)?;
    Ok(RunRecord {
        id: get(row, 0)?,
        kind: get(row, 1)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Interrupted),
        who: get(row, 3)?,
        host: get(row, 4)?,
        pid: u32::try_from(get::<i64>(row, 5)?).unwrap_or(0),
        process_start: get(row, 6)?,
        started_at: get(row, 7)?,
        finished_at: get(row, 8)?,
        serial: u64::try_from(get::<i64>(row, 9)?).unwrap_or(0),
        summary: get(row, 10)?,
        plan: RawJson::null(),
        parent: get(row, 11)?,
        on_failure: get(row, 12)?,
    })
}

/// Why recording a plan failed.
enum PlanFailure {
    /// The database failed (or refused the plan).
    Db(Failure),
    /// The plan writer failed, or wrote other bytes the second time.
    Plan(std::io::Error),
}

/// Streams run `run_id`'s plan into `run_plans` with a binary `COPY`: its length is measured
/// first (one pass of `plan`), then it is written (a second pass) straight into the copy, so
/// that a large plan is never held in memory as one string.
fn copy_plan(tx: &mut Tx<'_, '_>, run_id: &str, plan: PlanWriter<'_>) -> Result<(), PlanFailure> {
    let mut counter = Counter(0);
    plan(&mut counter).map_err(PlanFailure::Plan)?;
    let len = i32::try_from(counter.0).map_err(|_| {
        PlanFailure::Plan(std::io::Error::other(format!(
            "the plan is too large ({} bytes)",
            counter.0
        )))
    })?;
    let id_len = i32::try_from(run_id.len())
        .map_err(|_| PlanFailure::Plan(std::io::Error::other("the run id is too long")))?;
    let writer = tx
        .client()
        .copy_in("COPY run_plans (run_id, plan) FROM STDIN (FORMAT binary)")
        .map_err(|e| PlanFailure::Db(Failure::Db(e)))?;
    let mut out = CopyOut {
        inner: writer,
        written: 0,
        db: None,
    };
    let db_failed = |out: &mut CopyOut<'_>, e: std::io::Error| match out.db.take() {
        Some(db) => PlanFailure::Db(Failure::Db(db)),
        None => PlanFailure::Plan(e),
    };
    // The header (signature, flags, no extension), one tuple of two fields, the trailer.
    let mut head = Vec::with_capacity(32 + run_id.len());
    head.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    head.extend_from_slice(&0i32.to_be_bytes());
    head.extend_from_slice(&0i32.to_be_bytes());
    head.extend_from_slice(&2i16.to_be_bytes());
    head.extend_from_slice(&id_len.to_be_bytes());
    head.extend_from_slice(run_id.as_bytes());
    head.extend_from_slice(&len.to_be_bytes());
    out.write_all(&head).map_err(|e| db_failed(&mut out, e))?;
    out.written = 0;
    if let Err(e) = plan(&mut out) {
        return Err(db_failed(&mut out, e));
    }
    if out.written != counter.0 {
        return Err(PlanFailure::Plan(std::io::Error::other(format!(
            "the plan was {} bytes, then {}",
            counter.0, out.written
        ))));
    }
    out.write_all(&(-1i16).to_be_bytes())
        .map_err(|e| db_failed(&mut out, e))?;
    out.inner
        .finish()
        .map_err(|e| PlanFailure::Db(Failure::Db(e)))?;
    Ok(())
}

/// Counts the bytes written to it.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A copy into the database that counts what is written and keeps the database's error apart
/// from the plan writer's own.
struct CopyOut<'a> {
    inner: postgres::CopyInWriter<'a>,
    written: u64,
    db: Option<postgres::Error>,
}

impl Write for CopyOut<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The copy buffers what it is handed: hand it a bounded piece at a time.
        let piece = &buf[..buf.len().min(64 * 1024)];
        match self.inner.write(piece) {
            Ok(n) => {
                self.written += n as u64;
                Ok(n)
            }
            Err(e) => {
                let kind = e.kind();
                match e
                    .into_inner()
                    .map(|inner| inner.downcast::<postgres::Error>())
                {
                    Some(Ok(db)) => {
                        let message = pg::describe_error(&db);
                        self.db = Some(*db);
                        Err(std::io::Error::other(message))
                    }
                    Some(Err(other)) => Err(std::io::Error::new(kind, other)),
                    None => Err(std::io::Error::from(kind)),
                }
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

// ----- the audit log -----

fn audit_rows(tx: &mut Tx<'_, '_>, id: Option<i64>) -> Result<Vec<AuditRow>, Failure> {
    let rows = match id {
        None => tx.query(
            "SELECT id, time, command, run_id, hash, canonical FROM audit ORDER BY id",
            &[],
        )?,
        Some(id) => tx.query(
            "SELECT id, time, command, run_id, hash, canonical FROM audit WHERE id = $1",
            &[&id],
        )?,
    };
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: get(r, 0)?,
                time: get(r, 1)?,
                command: get(r, 2)?,
                run_id: get(r, 3)?,
                hash: get(r, 4)?,
                canonical: get(r, 5)?,
            })
        })
        .collect()
}

fn read_audit_head(tx: &mut Tx<'_, '_>) -> Result<Option<String>, Failure> {
    tx.query_opt("SELECT value FROM meta WHERE key = $1", &[&audit::HEAD_KEY])?
        .map(|r| get(&r, 0))
        .transpose()
}
