//! The SQLite store against the shared conformance suite, plus what only SQLite has: the file
//! itself (creation, refusal of foreign or corrupt files, schema version), handles on several
//! threads, and the transaction helper later modules build on.
//!
//! Every test works in its own temporary directory; none may touch `.baton/` of the checkout.

use baton_core::InstanceAddr;
use baton_state::lock::current_lock_info;
use baton_state::sqlite::{APPLICATION_ID, SCHEMA_VERSION};
use baton_state::{
    Fence, InstanceState, InstanceStatus, ObjectKey, SqliteStore, StateError, StateStore, Unlock,
};
use std::path::Path;
use std::time::Duration;

/// An opener for a fresh database in a temporary directory, removed when the opener is
/// dropped.
fn new_sqlite_database() -> Box<dyn Fn() -> Box<dyn StateStore>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".baton").join("state.db");
    Box::new(move || {
        let _keep = &dir;
        Box::new(SqliteStore::open(&path).expect("open the state database"))
    })
}

mod conformance {
    baton_state::state_store_conformance!(super::new_sqlite_database());
}

#[test]
fn run_all_runs_every_check() {
    baton_state::conformance::run_all(&new_sqlite_database);
}

fn key(addr: &str) -> ObjectKey {
    ObjectKey::current(InstanceAddr::parse(addr).expect("valid address"))
}

fn object(n: i64) -> InstanceState {
    InstanceState {
        provider: "provider[\"terraform.io/builtin/terraform\"]".to_string(),
        schema_version: 0,
        value: baton_state::RawJson::from_value(&serde_json::json!({ "n": n })),
        status: InstanceStatus::Ready,
        dependencies: vec![],
        create_before_destroy: false,
    }
}

fn corrupt_at(result: Result<SqliteStore, StateError>, path: &Path) -> String {
    match result {
        Err(StateError::Corrupt { path: p, message }) => {
            assert_eq!(p, path.display().to_string());
            message
        }
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("expected Corrupt, the file was accepted"),
    }
}

#[test]
fn open_creates_directories_and_keeps_the_lineage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("deep").join(".baton").join("state.db");
    let lineage = {
        let store = SqliteStore::open(&path).expect("create");
        assert_eq!(store.path(), path);
        assert_eq!(store.describe(), path.display().to_string());
        store.current().expect("current").lineage
    };
    assert!(path.is_file());
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(store.current().expect("current").lineage, lineage);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "state may hold secrets: owner only");
    }
}

#[test]
fn pragmas_and_schema_version_are_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db")).expect("open");
    let (side_table, sync, fks, version, app) = store
        .with_transaction(|tx| {
            let q = |sql: &str| -> Result<String, StateError> {
                tx.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
                    .map(|v| format!("{v:?}"))
                    .map_err(|e| store.sql_error(e))
            };
            Ok((
                q("PRAGMA journal_mode")?,
                q("PRAGMA synchronous")?,
                q("PRAGMA foreign_keys")?,
                q("PRAGMA user_version")?,
                q("PRAGMA application_id")?,
            ))
        })
        .expect("pragmas");
    assert_eq!(side_table, "Text(\"wal\")");
    assert_eq!(sync, "Integer(1)", "synchronous = NORMAL");
    assert_eq!(fks, "Integer(1)");
    assert_eq!(version, format!("Integer({SCHEMA_VERSION})"));
    assert_eq!(app, format!("Integer({APPLICATION_ID})"));
}

/// A database written before run plans had a table of their own (schema 3) opens with its
/// runs and their plans intact, and the plans are no longer in `runs`.
#[test]
fn a_schema_3_database_keeps_its_run_plans() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    {
        let mut conn = rusqlite::Connection::open(&path).expect("create");
        let tx = conn.transaction().expect("transaction");
        for step in &baton_state::sqlite::MIGRATIONS[..3] {
            step(&tx).expect("older schema");
        }
        tx.execute(
            "INSERT INTO runs (id, kind, status, who, host, pid, process_start, started_at,
                 finished_at, serial, summary, plan, parent, on_failure, ordinal)
             VALUES ('r1', 'apply', 'completed', 'ana@h', 'h', 1, '', '2024-05-01T12:00:00Z',
                 '2024-05-01T12:00:01Z', 1, '1 to add', '{\"changes\":[1,2]}', NULL,
                 'rollback', 1)",
            [],
        )
        .expect("old run");
        tx.pragma_update(None, "user_version", 3).expect("version");
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .expect("application id");
        tx.commit().expect("commit");
    }
    let store = SqliteStore::open(&path).expect("open and migrate");
    let run = store.run("r1").expect("run").expect("r1 is kept");
    assert_eq!(run.plan.as_str(), r#"{"changes":[1,2]}"#);
    assert_eq!(run.summary, "1 to add");
    let columns = store
        .with_transaction(|tx| {
            let mut st = tx
                .prepare("SELECT name FROM pragma_table_info('runs')")
                .map_err(|e| store.sql_error(e))?;
            let names = st
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| store.sql_error(e))?;
            Ok(names)
        })
        .expect("columns");
    assert!(!columns.iter().any(|c| c == "plan"), "{columns:?}");
}

/// A database written before leases (schema 4) while a process held the lock opens with that
/// lock kept: it has fencing token 0 and no lease, so it never expires by time and only its
/// process (or `force-unlock` with the override) ends it; the first new acquisition gets
/// token 1.
#[test]
fn a_schema_4_lock_is_kept_without_a_lease() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let mut old = current_lock_info("apply");
    old.host = "elsewhere.invalid".to_string();
    old.lease_ms = 0;
    {
        let mut conn = rusqlite::Connection::open(&path).expect("create");
        let tx = conn.transaction().expect("transaction");
        for step in &baton_state::sqlite::MIGRATIONS[..4] {
            step(&tx).expect("older schema");
        }
        // As Baton wrote it before leases: `lease_ms` absent from the JSON.
        let mut json = serde_json::to_value(&old).expect("json");
        if let Some(o) = json.as_object_mut() {
            o.remove("lease_ms");
        }
        tx.execute(
            "INSERT INTO lock (singleton, id, pid, host, since, info) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![old.id, old.pid, old.host, old.since, json.to_string()],
        )
        .expect("old lock");
        tx.pragma_update(None, "user_version", 4).expect("version");
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .expect("application id");
        tx.commit().expect("commit");
    }
    let store = SqliteStore::open(&path).expect("open and migrate");
    let lease = store.lease().expect("lease").expect("the old lock is kept");
    assert_eq!(lease.holder, old);
    assert_eq!(lease.fence, Fence(0));
    assert_eq!(lease.expires_at_ms, None);
    assert!(!lease.expired);
    assert!(matches!(
        store.lock(current_lock_info("plan"), Duration::ZERO),
        Err(StateError::Locked(_))
    ));
    assert!(matches!(
        store.force_unlock(Unlock::IfExpired),
        Err(StateError::LeaseLive(_))
    ));
    assert_eq!(
        store.force_unlock(Unlock::EvenIfLive).expect("override"),
        Some(old)
    );
    let guard = store
        .lock(current_lock_info("plan"), Duration::ZERO)
        .expect("lock");
    assert_eq!(guard.fence(), Fence(1));
}

#[test]
fn garbage_file_is_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&path, garbage).expect("write garbage");
    let message = corrupt_at(SqliteStore::open(&path), &path);
    assert!(message.contains("not a database"), "{message}");
}

#[test]
fn text_file_is_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("terraform.tfstate");
    std::fs::write(&path, "{\"version\": 4, \"serial\": 3}\n").expect("write");
    corrupt_at(SqliteStore::open(&path), &path);
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("create");
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
            .expect("fill");
    }
    let message = corrupt_at(SqliteStore::open(&path), &path);
    assert!(message.contains("not a Baton state database"), "{message}");
    let conn = rusqlite::Connection::open(&path).expect("reopen");
    let notes: i64 = conn
        .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
        .expect("untouched");
    assert_eq!(notes, 1);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION as i64 + 1)
            .expect("bump");
    }
    let message = corrupt_at(SqliteStore::open(&path), &path);
    assert!(message.contains("newer Baton"), "{message}");
}

#[test]
fn directory_instead_of_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    match SqliteStore::open(dir.path()) {
        Err(StateError::Io { path, .. }) => assert_eq!(path, dir.path().display().to_string()),
        Err(other) => panic!("expected Io, got {other:?}"),
        Ok(_) => panic!("a directory was accepted as a database"),
    }
}

#[test]
fn handles_on_different_threads_see_each_others_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let first = SqliteStore::open(&path).expect("open");
    let lock = first
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock");
    let fence = lock.fence();
    let serial = first.begin_version(fence, "run-1", "apply").expect("begin");
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let second = SqliteStore::open(&path).expect("open on the thread");
            second
                .put_object(
                    fence,
                    serial,
                    &key("terraform_data.from_thread"),
                    Some(&object(1)),
                )
                .expect("put from the thread");
            second.current().expect("current on the thread")
        })
    };
    first
        .put_object(
            fence,
            serial,
            &key("terraform_data.from_main"),
            Some(&object(2)),
        )
        .expect("put from main");
    let seen_by_thread = writer.join().expect("thread");
    assert!(seen_by_thread
        .current(&key("terraform_data.from_thread").addr)
        .is_some());
    let seen_by_main = first.current().expect("current");
    assert_eq!(seen_by_main.objects.len(), 2);
    assert_eq!(
        seen_by_main.current(&key("terraform_data.from_thread").addr),
        Some(&object(1))
    );
}

#[test]
fn handles_opened_at_once_on_a_new_file_share_one_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".baton").join("state.db");
    let lineages: Vec<String> = std::thread::scope(|scope| {
        let openers: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let store = SqliteStore::open(&path).expect("open concurrently");
                    store.current().expect("current").lineage
                })
            })
            .collect();
        openers
            .into_iter()
            .map(|h| h.join().expect("opener thread"))
            .collect()
    });
    assert!(lineages.iter().all(|l| l == &lineages[0]), "{lineages:?}");
}

#[test]
fn with_transaction_writes_state_atomically_with_other_tables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db")).expect("open");
    store
        .with_transaction(|tx| {
            tx.execute("CREATE TABLE side_table (entry TEXT NOT NULL)", [])
                .map_err(|e| store.sql_error(e))?;
            Ok(())
        })
        .expect("create a table");
    let lock = store
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock");
    let fence = lock.fence();
    let serial = store.begin_version(fence, "run-1", "apply").expect("begin");

    let failed: Result<(), StateError> = store.with_transaction(|tx| {
        store.put_object_in(
            tx,
            fence,
            serial,
            &key("terraform_data.a"),
            Some(&object(1)),
        )?;
        tx.execute("INSERT INTO side_table VALUES ('created a')", [])
            .map_err(|e| store.sql_error(e))?;
        Err(StateError::VersionNotOpen(99))
    });
    assert!(matches!(failed, Err(StateError::VersionNotOpen(99))));
    assert!(store.current().expect("current").is_empty(), "rolled back");

    store
        .with_transaction(|tx| {
            store.put_object_in(
                tx,
                fence,
                serial,
                &key("terraform_data.a"),
                Some(&object(1)),
            )?;
            store.put_outputs_in(tx, fence, serial, &Default::default())?;
            tx.execute("INSERT INTO side_table VALUES ('created a')", [])
                .map_err(|e| store.sql_error(e))?;
            Ok(())
        })
        .expect("commit");
    let entries: i64 = store
        .with_transaction(|tx| {
            tx.query_row("SELECT count(*) FROM side_table", [], |r| r.get(0))
                .map_err(|e| store.sql_error(e))
        })
        .expect("count");
    assert_eq!(entries, 1);
    assert_eq!(store.current().expect("current").objects.len(), 1);
}

#[test]
fn releasing_a_lock_after_the_database_is_gone_does_not_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).expect("open");
    let guard = store
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock");
    drop(store);
    std::fs::remove_dir_all(dir.path()).expect("remove the database");
    drop(guard);
}

#[test]
fn lock_guard_is_send() {
    fn send<T: Send>() {}
    send::<baton_state::LockGuard>();
    fn shared<T: Send + Sync>() {}
    shared::<SqliteStore>();
}
