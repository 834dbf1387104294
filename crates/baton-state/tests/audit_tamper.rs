//! Tampering with the audit log directly in the SQLite file — editing, deleting, reordering,
//! inserting and forging records, as someone with write access to `.baton/state.db` could —
//! and checking that `audit_verify` catches each one and names the first bad record.
//!
//! Every test builds its own log in a temporary directory and edits it through a raw
//! `rusqlite` connection (dropping the append-only triggers first, as a tamperer would); none
//! may touch `.baton/` of the checkout.

use baton_state::audit::{hash_of, GENESIS_HASH, HEAD_KEY};
use baton_state::{AuditChange, AuditEntry, AuditRecord, SqliteStore, StateStore, VerifyReport};
use std::path::{Path, PathBuf};

const COMMANDS: [&str; 5] = ["plan", "apply", "destroy", "state rm", "rollback"];

/// A log of `n` records in a fresh database.
struct Log {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: SqliteStore,
    records: Vec<AuditRecord>,
}

fn log_of(n: u64) -> Log {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".baton").join("state.db");
    let store = SqliteStore::open(&path).expect("open");
    let records = (1..=n)
        .map(|i| store.audit_append(entry(i)).expect("append"))
        .collect();
    Log {
        _dir: dir,
        path,
        store,
        records,
    }
}

fn entry(i: u64) -> AuditEntry {
    let command = COMMANDS[(i as usize) % COMMANDS.len()];
    AuditEntry {
        time: format!("2024-05-01T12:00:{i:02}Z"),
        actor: "ana@ci-7".to_string(),
        command: command.to_string(),
        args: vec![command.to_string(), "-var=token=(redacted)".to_string()],
        environment: "prod".to_string(),
        run_id: Some(format!("run-{i}")),
        plan_digest: Some(format!("{i:064x}")),
        policy: serde_json::json!({ "allow": true, "rules": ["tags", "cost"] }),
        outcome: "succeeded".to_string(),
        changes: vec![AuditChange {
            address: format!("terraform_data.d[{i}]"),
            actions: vec!["create".to_string()],
        }],
    }
}

/// A raw connection on the database with the append-only triggers dropped.
fn tamper(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
    .expect("drop triggers");
    conn
}

/// Writes `record` as a row, with a hash recomputed over its canonical form (a forgery that
/// knows the format).
fn insert_forged(conn: &rusqlite::Connection, record: &AuditRecord) -> String {
    let canonical = record.canonical();
    let hash = hash_of(&canonical);
    conn.execute(
        "INSERT INTO audit (id, time, command, run_id, hash, canonical)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            record.id as i64,
            record.time,
            record.command,
            record.run_id,
            hash,
            canonical
        ],
    )
    .expect("insert forged");
    hash
}

/// A record chained after `prev` with id `id`.
fn forged(id: u64, prev_hash: &str, command: &str) -> AuditRecord {
    let e = entry(id);
    AuditRecord {
        id,
        time: e.time,
        actor: "mallory@elsewhere".to_string(),
        command: command.to_string(),
        args: e.args,
        environment: e.environment,
        run_id: e.run_id,
        plan_digest: e.plan_digest,
        policy: e.policy,
        outcome: "succeeded".to_string(),
        changes: vec![],
        prev_hash: prev_hash.to_string(),
        hash: String::new(),
    }
}

#[track_caller]
fn first_bad(store: &SqliteStore) -> (u64, String) {
    let report = store.audit_verify().expect("verify");
    assert!(!report.ok, "tampering was not detected: {report:?}");
    report
        .first_bad
        .expect("a failed report names the first bad record")
}

#[track_caller]
fn assert_bad(store: &SqliteStore, id: u64, reason: &str) {
    assert_eq!(first_bad(store), (id, reason.to_string()));
}

#[test]
fn an_untouched_log_verifies() {
    let log = log_of(10);
    let ok = VerifyReport {
        ok: true,
        checked: 10,
        first_bad: None,
    };
    assert_eq!(log.store.audit_verify().expect("verify"), ok);
    let reopened = SqliteStore::open(&log.path).expect("reopen");
    assert_eq!(reopened.audit_verify().expect("verify"), ok);
    assert_eq!(reopened.audit_records().expect("records"), log.records);
    // Dropping the triggers alone changes nothing that matters.
    drop(tamper(&log.path));
    assert_eq!(log.store.audit_verify().expect("verify"), ok);
}

#[test]
fn the_table_is_append_only() {
    let log = log_of(3);
    let conn = rusqlite::Connection::open(&log.path).expect("raw open");
    for sql in [
        "UPDATE audit SET command = 'plan' WHERE id = 2",
        "DELETE FROM audit WHERE id = 3",
    ] {
        let err = conn.execute(sql, []).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert!(log.store.audit_verify().expect("verify").ok);
}

#[test]
fn a_record_whose_text_was_edited_is_caught() {
    let log = log_of(10);
    let conn = tamper(&log.path);
    let changed = conn
        .execute(
            "UPDATE audit SET canonical = replace(canonical, '\"outcome\":\"succeeded\"',
                 '\"outcome\":\"failed\"') WHERE id = 4",
            [],
        )
        .expect("edit");
    assert_eq!(changed, 1);
    let report = log.store.audit_verify().expect("verify");
    assert_eq!(report.checked, 3, "records before the edit still check out");
    assert_bad(
        &log.store,
        4,
        "record 4: content does not match its hash (edited)",
    );
    // The store shows what the file now says; only verification tells.
    let shown = log.store.audit_record(4).expect("record").expect("present");
    assert_eq!(shown.outcome, "failed");
}

#[test]
fn an_edited_text_with_a_recomputed_hash_breaks_the_next_link() {
    let log = log_of(10);
    let conn = tamper(&log.path);
    let mut edited = log.records[3].clone();
    edited.outcome = "failed".to_string();
    conn.execute("DELETE FROM audit WHERE id = 4", [])
        .expect("delete");
    insert_forged(&conn, &edited);
    assert_bad(
        &log.store,
        5,
        "record 5: previous-hash does not match record 4 (a record was deleted, inserted or reordered)",
    );
}

#[test]
fn a_column_edited_without_its_text_is_caught() {
    let log = log_of(10);
    let conn = tamper(&log.path);
    let original = log.records[5].command.clone();
    conn.execute("UPDATE audit SET command = 'plan' WHERE id = 6", [])
        .expect("edit command");
    assert_ne!(original, "plan");
    assert_bad(
        &log.store,
        6,
        &format!(
            "record 6: the command column says \"plan\" but the hashed content says {original:?} (edited)"
        ),
    );

    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute("UPDATE audit SET run_id = NULL WHERE id = 2", [])
        .expect("edit run_id");
    assert_bad(
        &log.store,
        2,
        "record 2: the run_id column says nothing but the hashed content says \"run-2\" (edited)",
    );

    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute(
        "UPDATE audit SET time = '2030-01-01T00:00:00Z' WHERE id = 9",
        [],
    )
    .expect("edit time");
    assert_bad(
        &log.store,
        9,
        "record 9: the time column says \"2030-01-01T00:00:00Z\" but the hashed content says \"2024-05-01T12:00:09Z\" (edited)",
    );

    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute("UPDATE audit SET time = 42 WHERE id = 3", [])
        .expect("retype time");
    assert_bad(
        &log.store,
        3,
        "record 3: the time column says \"42\" but the hashed content says \"2024-05-01T12:00:03Z\" (edited)",
    );
}

#[test]
fn a_deleted_middle_record_is_caught() {
    let log = log_of(10);
    tamper(&log.path)
        .execute("DELETE FROM audit WHERE id = 5", [])
        .expect("delete");
    assert_bad(
        &log.store,
        5,
        "record 5 is missing: record 4 is followed by record 6 (records were deleted)",
    );

    let log = log_of(10);
    tamper(&log.path)
        .execute("DELETE FROM audit WHERE id IN (1, 2)", [])
        .expect("delete");
    assert_bad(
        &log.store,
        1,
        "records 1 to 2 are missing: the log starts at record 3 (records were deleted)",
    );
}

#[test]
fn a_deleted_record_with_the_rest_renumbered_is_caught() {
    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute_batch(
        "DELETE FROM audit WHERE id = 5; UPDATE audit SET id = id - 1 WHERE id > 5;",
    )
    .expect("delete and renumber");
    assert_bad(
        &log.store,
        5,
        "record 5: the id column says 5 but the hashed content says 6 (edited)",
    );

    // Renumbered inside the text too, hashes recomputed: the chain breaks instead.
    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute("DELETE FROM audit WHERE id >= 5", [])
        .expect("delete");
    let mut last_hash = String::new();
    for r in &log.records[5..] {
        let mut moved = r.clone();
        moved.id -= 1;
        last_hash = insert_forged(&conn, &moved);
    }
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = ?2",
        [
            format!("{{\"hash\":\"{last_hash}\",\"id\":9}}"),
            HEAD_KEY.to_string(),
        ],
    )
    .expect("move the head");
    assert_bad(
        &log.store,
        5,
        "record 5: previous-hash does not match record 4 (a record was deleted, inserted or reordered)",
    );
}

#[test]
fn a_deleted_last_record_is_caught() {
    let log = log_of(10);
    tamper(&log.path)
        .execute("DELETE FROM audit WHERE id = 10", [])
        .expect("delete");
    let report = log.store.audit_verify().expect("verify");
    assert_eq!(report.checked, 9, "every remaining record is intact");
    assert_bad(
        &log.store,
        10,
        "the log ends at record 9 but its head says 10 (records were deleted from the end)",
    );

    // The next append does not paper over the gap.
    let next = log.store.audit_append(entry(11)).expect("append");
    assert_eq!(next.id, 11);
    assert_eq!(next.prev_hash, log.records[9].hash);
    assert_bad(
        &log.store,
        10,
        "record 10 is missing: record 9 is followed by record 11 (records were deleted)",
    );

    let log = log_of(10);
    tamper(&log.path)
        .execute("DELETE FROM audit WHERE id > 7", [])
        .expect("delete");
    assert_bad(
        &log.store,
        8,
        "the log ends at record 7 but its head says 10 (records were deleted from the end)",
    );

    let log = log_of(3);
    tamper(&log.path)
        .execute("DELETE FROM audit", [])
        .expect("delete all");
    assert_bad(
        &log.store,
        1,
        "the log is empty but its head says 3 (records were deleted)",
    );
}

#[test]
fn swapped_records_are_caught() {
    // Whole rows swapped.
    let log = log_of(10);
    tamper(&log.path)
        .execute_batch(
            "UPDATE audit SET id = -7 WHERE id = 7;
             UPDATE audit SET id = 7 WHERE id = 3;
             UPDATE audit SET id = 3 WHERE id = -7;",
        )
        .expect("swap rows");
    assert_bad(
        &log.store,
        3,
        "record 3: the id column says 3 but the hashed content says 7 (edited)",
    );

    // Contents swapped, columns left in place.
    let log = log_of(10);
    tamper(&log.path)
        .execute_batch(
            "CREATE TEMP TABLE t AS SELECT id, hash, canonical FROM audit WHERE id IN (3, 4);
             UPDATE audit SET hash = (SELECT hash FROM t WHERE t.id = 7 - audit.id),
                 canonical = (SELECT canonical FROM t WHERE t.id = 7 - audit.id)
             WHERE id IN (3, 4);",
        )
        .expect("swap contents");
    let (id, reason) = first_bad(&log.store);
    assert_eq!(id, 3);
    assert!(
        reason.starts_with("record 3: the id column says 3 but the hashed content says 4"),
        "{reason}"
    );

    // Swapped and renumbered in the text, hashes recomputed: the chain breaks.
    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute("DELETE FROM audit WHERE id IN (3, 4)", [])
        .expect("delete");
    let mut a = log.records[3].clone();
    a.id = 3;
    let mut b = log.records[2].clone();
    b.id = 4;
    insert_forged(&conn, &a);
    insert_forged(&conn, &b);
    assert_bad(
        &log.store,
        3,
        "record 3: previous-hash does not match record 2 (a record was deleted, inserted or reordered)",
    );
}

#[test]
fn a_forged_record_is_caught() {
    // Appended with a valid hash but linked to the wrong record.
    let log = log_of(10);
    insert_forged(
        &tamper(&log.path),
        &forged(11, &log.records[8].hash, "apply"),
    );
    assert_bad(
        &log.store,
        11,
        "record 11: previous-hash does not match record 10 (a record was deleted, inserted or reordered)",
    );

    // Inserted in the middle, the rest shifted up, with a wrong link.
    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute_batch(
        "UPDATE audit SET id = -id - 1 WHERE id >= 6; UPDATE audit SET id = -id WHERE id < 0;",
    )
    .expect("shift");
    insert_forged(&conn, &forged(6, GENESIS_HASH, "apply"));
    assert_bad(
        &log.store,
        6,
        "record 6: previous-hash does not match record 5 (a record was deleted, inserted or reordered)",
    );

    // Inserted in the middle with the right link: the record after it no longer fits.
    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute_batch(
        "UPDATE audit SET id = -id - 1 WHERE id >= 6; UPDATE audit SET id = -id WHERE id < 0;",
    )
    .expect("shift");
    insert_forged(&conn, &forged(6, &log.records[4].hash, "apply"));
    assert_bad(
        &log.store,
        7,
        "record 7: the id column says 7 but the hashed content says 6 (edited)",
    );

    // Text that hashes right but is not what Baton writes.
    let log = log_of(10);
    let conn = tamper(&log.path);
    let pretty = serde_json::to_string_pretty(&serde_json::json!({ "id": 11 })).expect("json");
    conn.execute(
        "INSERT INTO audit (id, time, command, run_id, hash, canonical)
         VALUES (11, 't', 'c', NULL, ?1, ?2)",
        [hash_of(&pretty), pretty],
    )
    .expect("insert");
    let (id, reason) = first_bad(&log.store);
    assert_eq!(id, 11);
    assert!(
        reason.starts_with("record 11: content is not an audit record"),
        "{reason}"
    );
}

#[test]
fn a_forged_consistent_tail_without_the_head_is_caught() {
    // Records 8 to 10 replaced by a consistent forgery; the head still names the real 10.
    let log = log_of(10);
    let conn = tamper(&log.path);
    conn.execute("DELETE FROM audit WHERE id >= 8", [])
        .expect("delete");
    let mut prev = log.records[6].hash.clone();
    for id in 8..=10 {
        prev = insert_forged(&conn, &forged(id, &prev, "plan"));
    }
    let report = log.store.audit_verify().expect("verify");
    assert_eq!(
        report.checked, 10,
        "the forged chain is consistent in itself"
    );
    assert_bad(
        &log.store,
        10,
        "record 10: does not match the log's head (the end of the log was rewritten)",
    );
    // Appending follows the head, so the forgery stays visible.
    let next = log.store.audit_append(entry(11)).expect("append");
    assert_eq!(next.prev_hash, log.records[9].hash);
    assert_bad(
        &log.store,
        11,
        "record 11: previous-hash does not match record 10 (a record was deleted, inserted or reordered)",
    );

    // A consistent record appended outside Baton.
    let log = log_of(10);
    insert_forged(
        &tamper(&log.path),
        &forged(11, &log.records[9].hash, "apply"),
    );
    assert_bad(
        &log.store,
        11,
        "the log ends at record 11 but its head says 10 (records were added outside Baton)",
    );
    // ... and the head is not moved over it by later appends.
    log.store.audit_append(entry(12)).expect("append");
    assert_bad(
        &log.store,
        11,
        "the log ends at record 12 but its head says 10 (records were added outside Baton)",
    );

    // The head deleted or garbled.
    let log = log_of(10);
    tamper(&log.path)
        .execute("DELETE FROM meta WHERE key = ?1", [HEAD_KEY])
        .expect("delete head");
    assert_bad(
        &log.store,
        10,
        "the log ends at record 10 but has no head (the head was deleted)",
    );
    log.store.audit_append(entry(11)).expect("append");
    assert_bad(
        &log.store,
        11,
        "the log ends at record 11 but has no head (the head was deleted)",
    );

    let log = log_of(10);
    tamper(&log.path)
        .execute(
            "UPDATE meta SET value = 'garbage' WHERE key = ?1",
            [HEAD_KEY],
        )
        .expect("garble head");
    assert_bad(
        &log.store,
        10,
        "the log's head is unreadable (the head was edited)",
    );
}

#[test]
fn a_garbled_record_is_reported_and_appending_goes_on() {
    let log = log_of(5);
    tamper(&log.path)
        .execute("UPDATE audit SET canonical = 'not json' WHERE id = 2", [])
        .expect("garble");
    assert_bad(
        &log.store,
        2,
        "record 2: content does not match its hash (edited)",
    );
    let next = log
        .store
        .audit_append(entry(6))
        .expect("append still works");
    assert_eq!(next.id, 6);
    assert_eq!(next.prev_hash, log.records[4].hash);
    match log.store.audit_records() {
        Err(baton_state::StateError::Corrupt { message, .. }) => {
            assert!(message.contains("audit record 2"), "{message}")
        }
        other => panic!("expected a Corrupt error naming record 2, got {other:?}"),
    }
    assert_eq!(
        log.store.audit_record(3).expect("record 3").as_ref(),
        Some(&log.records[2])
    );
}
