//! The tamper-evident audit log: one record per command that reads or changes state, each
//! holding the SHA-256 of the record before it, so that an edited, deleted, inserted or
//! reordered record breaks the chain and [`verify`] names the first bad one.
//!
//! This module holds the records' canonical form (their types are in [`crate::model`]),
//! verification (pure functions, usable on an export as well as on a database), how an append
//! chains the next record ([`next_record`], which every store uses) and the SQL of the `audit`
//! table, which lives in the state database next to the state (migration 3, [`schema_v3`]).
//! Only the SQLite store calls the SQL functions, each inside one of its transactions.
//!
//! Must not take the state lock (read-only commands such as `plan` append records while another
//! process holds it: the store's write transaction is what serializes appenders), must not redact
//! (callers hand over arguments already redacted), and must not panic on any stored content:
//! whatever is in the file, verification returns a report.
//!
//! # Canonical form
//! A record's hash is the lowercase hex SHA-256 of the UTF-8 bytes of its *canonical text*: the
//! record as one compact JSON object (no whitespace) holding every field except `hash`, with the
//! keys of every object, at every depth, sorted by their UTF-8 bytes:
//!
//! ```text
//! {"actor":"ana@ci-7","args":["apply","-auto-approve"],"changes":[{"actions":["create"],
//!  "address":"terraform_data.a"}],"command":"apply","environment":"prod","id":12,
//!  "outcome":"succeeded","plan_digest":"9f2c…","policy":{"allow":true},"prev_hash":"4be1…",
//!  "run_id":"5b3a…","time":"2024-05-01T12:30:00Z"}
//! ```
//!
//! (shown wrapped; the text is one line). Every key is always present: `run_id` and
//! `plan_digest` are `null` when absent. Strings escape `"` as `\"`, `\` as `\\`, U+0008,
//! U+000C, U+000A, U+000D and U+0009 as `\b`, `\f`, `\n`, `\r`, `\t`, every other character
//! below U+0020 as `\u00xx` (lowercase hex), and nothing else (non-ASCII stays raw UTF-8).
//! Numbers (inside `policy`) are written exactly as they were given. This is what
//! `json.dumps(record_without_hash, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
//! produces in Python for integer numbers, so an external tool can recompute the hashes of an
//! export. `prev_hash` of record 1 is [`GENESIS_HASH`] (64 zeros).
//!
//! # Schema (version 3)
//! - `audit(id, time, command, run_id, hash, canonical)`: one row per record; `canonical` is
//!   the exact text that was hashed (verification hashes what is stored, never a re-encoding),
//!   the other columns repeat fields of it for listing and are checked against it. Triggers
//!   refuse `UPDATE` and `DELETE` (the log is append-only; they stop mistakes, not an attacker).
//! - `meta` key [`HEAD_KEY`]: `{"hash":"…","id":N}`, the last record, rewritten in the same
//!   transaction as each append, so that deleting records from the end is detected too.
//!
//! What the chain proves: that the log is the one Baton wrote, unless someone who can write the
//! file rewrote every record after the one they changed *and* the head. Against that, exported
//! copies (`baton audit export` to a SIEM) are the anchor: a later log must extend them.

pub use crate::model::{AuditChange, AuditEntry, AuditRecord, VerifyReport};
use crate::stamp;
use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Transaction};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `meta` key of the log's head.
pub const HEAD_KEY: &str = "audit_head";

/// One row of the `audit` table exactly as stored (what [`verify`] checks). Columns that do
/// not hold text are rendered as text, so a retyped column is reported, not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub time: String,
    pub command: String,
    pub run_id: Option<String>,
    pub hash: String,
    pub canonical: String,
}

impl AuditRecord {
    /// The canonical text that `hash` is the SHA-256 of (see the module documentation).
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("{\"actor\":");
        write_str(&mut out, &self.actor);
        out.push_str(",\"args\":");
        write_strs(&mut out, &self.args);
        out.push_str(",\"changes\":[");
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"actions\":");
            write_strs(&mut out, &c.actions);
            out.push_str(",\"address\":");
            write_str(&mut out, &c.address);
            out.push('}');
        }
        out.push_str("],\"command\":");
        write_str(&mut out, &self.command);
        out.push_str(",\"environment\":");
        write_str(&mut out, &self.environment);
        let _ = write!(out, ",\"id\":{}", self.id);
        out.push_str(",\"outcome\":");
        write_str(&mut out, &self.outcome);
        out.push_str(",\"plan_digest\":");
        write_opt(&mut out, self.plan_digest.as_deref());
        out.push_str(",\"policy\":");
        write_value(&mut out, &self.policy);
        out.push_str(",\"prev_hash\":");
        write_str(&mut out, &self.prev_hash);
        out.push_str(",\"run_id\":");
        write_opt(&mut out, self.run_id.as_deref());
        out.push_str(",\"time\":");
        write_str(&mut out, &self.time);
        out.push('}');
        out
    }
}

/// Lowercase hex SHA-256 of a canonical text.
pub fn hash_of(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Checks a log, rows in id order, against itself and against its head (the raw `meta` value
/// of [`HEAD_KEY`], `None` if absent): every row's text hashes to its hash, is a record in
/// canonical form, agrees with the row's columns, has the next id and links to the previous
/// row; and the last row is the head. Stops at the first problem.
pub fn verify(rows: &[AuditRow], head: Option<&str>) -> VerifyReport {
    match check(rows, head) {
        Ok(checked) => VerifyReport {
            ok: true,
            checked,
            first_bad: None,
        },
        Err((checked, id, reason)) => VerifyReport {
            ok: false,
            checked,
            first_bad: Some((id, reason)),
        },
    }
}

/// Checks records read back from an export (oldest first): the same checks as [`verify`]
/// except the head, which an export does not carry (a truncated export is not detected).
pub fn verify_records(records: &[AuditRecord]) -> VerifyReport {
    let rows: Vec<AuditRow> = records
        .iter()
        .map(|r| AuditRow {
            id: i64::try_from(r.id).unwrap_or(-1),
            time: r.time.clone(),
            command: r.command.clone(),
            run_id: r.run_id.clone(),
            hash: r.hash.clone(),
            canonical: r.canonical(),
        })
        .collect();
    match check_rows(&rows) {
        Ok(checked) => VerifyReport {
            ok: true,
            checked,
            first_bad: None,
        },
        Err((checked, id, reason)) => VerifyReport {
            ok: false,
            checked,
            first_bad: Some((id, reason)),
        },
    }
}

/// The audit log's schema (migration 3).
pub fn schema_v3(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE audit (
             id INTEGER PRIMARY KEY,
             time TEXT NOT NULL,
             command TEXT NOT NULL,
             run_id TEXT,
             hash TEXT NOT NULL,
             canonical TEXT NOT NULL
         );
         CREATE INDEX audit_by_run ON audit (run_id);
         CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
         CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    )
}

/// Why an audit operation failed, before the store attaches its path.
#[derive(Debug)]
pub enum AuditFailure {
    Sql(rusqlite::Error),
    Corrupt(String),
}

impl From<rusqlite::Error> for AuditFailure {
    fn from(e: rusqlite::Error) -> AuditFailure {
        AuditFailure::Sql(e)
    }
}

/// Appends a record after the log's head. Call inside an immediate transaction: reading the
/// head, inserting and moving the head are then one atomic step, serialized with every other
/// appender on the database.
///
/// The record follows the head when there is one (see [`next_record`]).
pub fn append(tx: &Transaction<'_>, entry: AuditEntry) -> Result<AuditRecord, AuditFailure> {
    let last: Option<(u64, String)> = tx
        .prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)?, text(r, 1)?)))
        .optional()?
        .map(|(id, hash)| (u64::try_from(id).unwrap_or(0), hash.unwrap_or_default()));
    let head = read_head(tx)?;
    let next = next_record(last, head.as_deref(), entry).map_err(AuditFailure::Corrupt)?;
    let record = next.record;
    tx.prepare_cached(
        "INSERT INTO audit (id, time, command, run_id, hash, canonical)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(rusqlite::params![
        record.id as i64,
        record.time,
        record.command,
        record.run_id,
        record.hash,
        next.canonical,
    ])?;
    if let Some(head) = next.head {
        tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
            .execute([HEAD_KEY, &head])?;
    }
    Ok(record)
}

/// The record an append adds, as every store writes it (see [`next_record`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NextRecord {
    /// With its id, previous hash and hash.
    pub record: AuditRecord,
    /// The text to store in the `canonical` column (what `hash` is the SHA-256 of).
    pub canonical: String,
    /// The new value of the [`HEAD_KEY`] meta entry; `None`: leave the head as it is.
    pub head: Option<String>,
}

/// The record that appending `entry` adds to a log whose last row has `last` (id and hash; a
/// row whose id is not a positive number counts as 0) and whose head is `head` (the raw
/// [`HEAD_KEY`] value, `None` if absent); an empty `time` is stamped with the current time.
/// The caller stores it in the same transaction in which it read `last` and `head`, with
/// every other appender shut out.
///
/// The record follows the head when there is one (so records deleted from the end leave a gap
/// that [`verify`] reports), else the last row. The head is not rewritten when it is missing,
/// unreadable or behind the last row: evidence of tampering is never erased by an append.
/// Fails (with the reason) only when the log has no ids left.
pub fn next_record(
    last: Option<(u64, String)>,
    head: Option<&str>,
    entry: AuditEntry,
) -> Result<NextRecord, String> {
    let head = head.map(parse_head);
    let (prev_id, prev_hash, move_head) = match (head, last) {
        (None, None) => (0, GENESIS_HASH.to_string(), true),
        (Some(Some(h)), None) => (h.id, h.hash, true),
        (Some(Some(h)), Some((id, _))) if h.id >= id => (h.id, h.hash, true),
        (_, Some((id, hash))) => (id, hash, false),
        (Some(None), None) => (0, GENESIS_HASH.to_string(), false),
    };
    let id = prev_id
        .checked_add(1)
        .filter(|id| i64::try_from(*id).is_ok())
        .ok_or_else(|| "the audit log has no ids left".to_string())?;
    let AuditEntry {
        time,
        actor,
        command,
        args,
        environment,
        run_id,
        plan_digest,
        policy,
        outcome,
        changes,
    } = entry;
    let mut record = AuditRecord {
        id,
        time: if time.is_empty() {
            stamp::now_rfc3339()
        } else {
            time
        },
        actor,
        command,
        args,
        environment,
        run_id,
        plan_digest,
        policy,
        outcome,
        changes,
        prev_hash,
        hash: String::new(),
    };
    let canonical = record.canonical();
    record.hash = hash_of(&canonical);
    let head = move_head.then(|| head_text(id, &record.hash));
    Ok(NextRecord {
        record,
        canonical,
        head,
    })
}

/// The record a stored row holds, as its hashed text says (the hash from its row). A row
/// whose text is not a record fails with the reason; [`verify`] says more.
pub fn record_of_row(row: &AuditRow) -> Result<AuditRecord, String> {
    let mut record = parse_record(&row.canonical).map_err(|e| {
        format!(
            "audit record {} is unreadable ({e}); `baton audit verify` reports the damage",
            row.id
        )
    })?;
    record.hash.clone_from(&row.hash);
    Ok(record)
}

/// Every record, oldest first, as its hashed text says (the hash from its row). A row whose
/// text is not a record is [`AuditFailure::Corrupt`]; `verify` says more.
pub fn records(tx: &Transaction<'_>) -> Result<Vec<AuditRecord>, AuditFailure> {
    rows(tx, None)?.iter().map(to_record).collect()
}

/// The record whose row has id `id`.
pub fn record(tx: &Transaction<'_>, id: u64) -> Result<Option<AuditRecord>, AuditFailure> {
    let Ok(id) = i64::try_from(id) else {
        return Ok(None);
    };
    rows(tx, Some(id))?.first().map(to_record).transpose()
}

/// [`verify`] on the log and head stored in the database (read in one transaction).
pub fn verify_stored(tx: &Transaction<'_>) -> Result<VerifyReport, AuditFailure> {
    let rows = rows(tx, None)?;
    let head = read_head(tx)?;
    Ok(verify(&rows, head.as_deref()))
}

// ----- verification -----

/// `(checked, first bad id, reason)`.
type Bad = (u64, u64, String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    id: u64,
    hash: String,
}

fn head_text(id: u64, hash: &str) -> String {
    let mut out = String::new();
    out.push_str("{\"hash\":");
    write_str(&mut out, hash);
    let _ = write!(out, ",\"id\":{id}}}");
    out
}

fn parse_head(raw: &str) -> Option<Head> {
    serde_json::from_str(raw).ok()
}

fn check(rows: &[AuditRow], head: Option<&str>) -> Result<u64, Bad> {
    let checked = check_rows(rows)?;
    let last = rows
        .last()
        .map(|r| (u64::try_from(r.id).unwrap_or(0), &r.hash));
    let last_id = last.as_ref().map_or(0, |(id, _)| *id);
    let Some(raw) = head else {
        return match last {
            None => Ok(checked),
            Some((id, _)) => Err((
                checked,
                id,
                format!("the log ends at record {id} but has no head (the head was deleted)"),
            )),
        };
    };
    let Some(head) = parse_head(raw) else {
        return Err((
            checked,
            last_id,
            "the log's head is unreadable (the head was edited)".to_string(),
        ));
    };
    match last {
        None if head.id == 0 => Ok(checked),
        None => Err((
            checked,
            1,
            format!(
                "the log is empty but its head says {} (records were deleted)",
                head.id
            ),
        )),
        Some((id, _)) if id < head.id => Err((
            checked,
            id + 1,
            format!(
                "the log ends at record {id} but its head says {} (records were deleted from the end)",
                head.id
            ),
        )),
        Some((id, _)) if id > head.id => Err((
            checked,
            head.id.saturating_add(1),
            format!(
                "the log ends at record {id} but its head says {} (records were added outside Baton)",
                head.id
            ),
        )),
        Some((id, hash)) if *hash != head.hash => Err((
            checked,
            id,
            format!(
                "record {id}: does not match the log's head (the end of the log was rewritten)"
            ),
        )),
        Some(_) => Ok(checked),
    }
}

fn check_rows(rows: &[AuditRow]) -> Result<u64, Bad> {
    let mut checked = 0u64;
    let mut prev: Option<&AuditRow> = None;
    for row in rows {
        let expected = checked + 1;
        let id = u64::try_from(row.id).unwrap_or(0);
        let bad = |reason: String| (checked, id, reason);
        if hash_of(&row.canonical) != row.hash {
            return Err(bad(format!(
                "record {id}: content does not match its hash (edited)"
            )));
        }
        let record = match parse_record(&row.canonical) {
            Ok(r) => r,
            Err(e) => {
                return Err(bad(format!(
                    "record {id}: content is not an audit record ({e})"
                )))
            }
        };
        if record.canonical() != row.canonical {
            return Err(bad(format!(
                "record {id}: content is not in canonical form (written outside Baton)"
            )));
        }
        if let Some(reason) = column_mismatch(row, &record) {
            return Err(bad(format!("record {id}: {reason} (edited)")));
        }
        if row.id < 1 {
            return Err(bad(format!(
                "record {}: ids start at 1 (the id was edited)",
                row.id
            )));
        }
        let after = match prev {
            Some(p) => format!("record {} is followed by record {id}", p.id),
            None => format!("the log starts at record {id}"),
        };
        if id < expected {
            return Err(bad(format!(
                "record {id}: out of order, {after} (records were duplicated or reordered)"
            )));
        }
        if id > expected {
            let wanted = i64::try_from(expected).unwrap_or(i64::MAX);
            if rows.iter().any(|r| r.id == wanted) {
                return Err(bad(format!(
                    "record {id}: out of order, {after} (records were reordered)"
                )));
            }
            let missing = if id == expected + 1 {
                format!("record {expected} is missing")
            } else {
                format!("records {expected} to {} are missing", id - 1)
            };
            return Err((
                checked,
                expected,
                format!("{missing}: {after} (records were deleted)"),
            ));
        }
        match prev {
            None if record.prev_hash != GENESIS_HASH => {
                return Err(bad(format!(
                    "record {id}: previous-hash is not the start of the log (a record was deleted, inserted or reordered)"
                )))
            }
            Some(p) if record.prev_hash != p.hash => {
                return Err(bad(format!(
                    "record {id}: previous-hash does not match record {} (a record was deleted, inserted or reordered)",
                    p.id
                )))
            }
            _ => {}
        }
        checked = expected;
        prev = Some(row);
    }
    Ok(checked)
}

/// The first column that disagrees with the hashed content, described.
fn column_mismatch(row: &AuditRow, record: &AuditRecord) -> Option<String> {
    let differs = |column: &str, stored: String, hashed: String| {
        Some(format!(
            "the {column} column says {stored} but the hashed content says {hashed}"
        ))
    };
    let opt = |v: &Option<String>| match v {
        Some(s) => format!("{s:?}"),
        None => "nothing".to_string(),
    };
    if u64::try_from(row.id).ok() != Some(record.id) {
        return differs("id", row.id.to_string(), record.id.to_string());
    }
    if row.time != record.time {
        return differs(
            "time",
            format!("{:?}", row.time),
            format!("{:?}", record.time),
        );
    }
    if row.command != record.command {
        return differs(
            "command",
            format!("{:?}", row.command),
            format!("{:?}", record.command),
        );
    }
    if row.run_id != record.run_id {
        return differs("run_id", opt(&row.run_id), opt(&record.run_id));
    }
    None
}

/// The fields of a canonical text (everything but `hash`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Canonical {
    actor: String,
    args: Vec<String>,
    changes: Vec<AuditChange>,
    command: String,
    environment: String,
    id: u64,
    outcome: String,
    plan_digest: Option<String>,
    policy: serde_json::Value,
    prev_hash: String,
    run_id: Option<String>,
    time: String,
}

fn parse_record(canonical: &str) -> Result<AuditRecord, serde_json::Error> {
    let c: Canonical = serde_json::from_str(canonical)?;
    Ok(AuditRecord {
        id: c.id,
        time: c.time,
        actor: c.actor,
        command: c.command,
        args: c.args,
        environment: c.environment,
        run_id: c.run_id,
        plan_digest: c.plan_digest,
        policy: c.policy,
        outcome: c.outcome,
        changes: c.changes,
        prev_hash: c.prev_hash,
        hash: String::new(),
    })
}

// ----- storage -----

fn rows(tx: &Transaction<'_>, id: Option<i64>) -> Result<Vec<AuditRow>, AuditFailure> {
    let mut stmt = tx.prepare_cached(match id {
        None => "SELECT id, time, command, run_id, hash, canonical FROM audit ORDER BY id",
        Some(_) => "SELECT id, time, command, run_id, hash, canonical FROM audit WHERE id = ?1",
    })?;
    let params: &[&dyn rusqlite::ToSql] = match &id {
        None => &[],
        Some(id) => &[id],
    };
    let rows = stmt.query_map(params, |r| {
        Ok(AuditRow {
            id: r.get(0)?,
            time: text(r, 1)?.unwrap_or_default(),
            command: text(r, 2)?.unwrap_or_default(),
            run_id: text(r, 3)?,
            hash: text(r, 4)?.unwrap_or_default(),
            canonical: text(r, 5)?.unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn to_record(row: &AuditRow) -> Result<AuditRecord, AuditFailure> {
    record_of_row(row).map_err(AuditFailure::Corrupt)
}

fn read_head(tx: &Transaction<'_>) -> Result<Option<String>, AuditFailure> {
    Ok(tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([HEAD_KEY], |r| text(r, 0))
        .optional()?
        .flatten())
}

/// A column as text whatever its stored type (`None` for NULL).
fn text(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    })
}

// ----- the canonical writer -----

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_strs(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, s);
    }
    out.push(']');
}

fn write_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.push_str("null"),
    }
}

fn write_value(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: u64, prev_hash: &str) -> AuditRecord {
        let mut r = AuditRecord {
            id,
            time: "2024-05-01T12:30:00Z".to_string(),
            actor: "ana@ci-7".to_string(),
            command: "apply".to_string(),
            args: vec!["apply".to_string(), "-var=x=\"q\"\n\u{1}é".to_string()],
            environment: "prod".to_string(),
            run_id: Some(format!("run-{id}")),
            plan_digest: None,
            policy: json!({ "z": [1, 2.5, { "b": null, "a": true }], "a": "x" }),
            outcome: "succeeded".to_string(),
            changes: vec![AuditChange {
                address: "terraform_data.a".to_string(),
                actions: vec!["delete".to_string(), "create".to_string()],
            }],
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        r.hash = hash_of(&r.canonical());
        r
    }

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for id in 1..=n {
            let prev = out
                .last()
                .map_or(GENESIS_HASH.to_string(), |r| r.hash.clone());
            out.push(record(id, &prev));
        }
        out
    }

    #[test]
    fn canonical_text_is_sorted_compact_json() {
        let r = record(3, GENESIS_HASH);
        let text = r.canonical();
        assert_eq!(
            text,
            concat!(
                r#"{"actor":"ana@ci-7","args":["apply","-var=x=\"q\"\n\u0001é"],"#,
                r#""changes":[{"actions":["delete","create"],"address":"terraform_data.a"}],"#,
                r#""command":"apply","environment":"prod","id":3,"outcome":"succeeded","#,
                r#""plan_digest":null,"policy":{"a":"x","z":[1,2.5,{"a":true,"b":null}]},"#,
                r#""prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","#,
                r#""run_id":"run-3","time":"2024-05-01T12:30:00Z"}"#
            )
        );
        // The same text serde_json writes for the record without its hash, keys sorted.
        let mut v = match serde_json::to_value(&r) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        if let Some(m) = v.as_object_mut() {
            m.remove("hash");
        }
        let mut sorted = String::new();
        write_value(&mut sorted, &v);
        assert_eq!(sorted, text);
        let parsed = match parse_record(&text) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            parsed.canonical(),
            text,
            "the canonical form is a fixed point"
        );
        assert_eq!(r.hash.len(), 64);
    }

    #[test]
    fn exported_records_verify_and_edits_are_caught() {
        let records = chain(4);
        assert_eq!(
            verify_records(&records),
            VerifyReport {
                ok: true,
                checked: 4,
                first_bad: None
            }
        );
        let mut edited = records.clone();
        edited[2].outcome = "failed".to_string();
        let report = verify_records(&edited);
        assert_eq!(report.checked, 2);
        assert_eq!(
            report.first_bad,
            Some((
                3,
                "record 3: content does not match its hash (edited)".to_string()
            ))
        );
        let mut reordered = records.clone();
        reordered.swap(1, 2);
        assert_eq!(verify_records(&reordered).first_bad.map(|b| b.0), Some(3));
        let mut dropped = records;
        dropped.remove(0);
        let report = verify_records(&dropped);
        assert_eq!(
            report.first_bad,
            Some((
                1,
                "record 1 is missing: the log starts at record 2 (records were deleted)"
                    .to_string()
            ))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let rows = [AuditRow {
            id: -3,
            time: String::new(),
            command: "\u{0}".to_string(),
            run_id: None,
            hash: hash_of("[1,2"),
            canonical: "[1,2".to_string(),
        }];
        let report = verify(&rows, Some("{\"id\":18446744073709551615,\"hash\":\"\"}"));
        assert!(!report.ok);
        assert_eq!(report.checked, 0);
        assert!(verify(&[], Some("not json")).first_bad.is_some());
        assert!(verify(&[], None).ok);
        assert!(verify(&[], Some(&head_text(0, GENESIS_HASH))).ok);
    }
}
