//! The SQLite workflow store against the shared workflow conformance suite, plus what only
//! SQLite has: the file itself (creation, pragmas, refusal of a state database, a foreign or
//! corrupt file, or a newer schema) and a handle shared by threads.
//!
//! Every test works in its own temporary directory; none may touch `.baton/` of the checkout.

use baton_state::workflow_sqlite::{WORKFLOW_APPLICATION_ID, WORKFLOW_SCHEMA_VERSION};
use baton_state::{SqliteStore, SqliteWorkflowStore, StateError, WorkflowStore};
use std::path::Path;

/// An opener for a fresh workflow database in a temporary directory, removed when the opener
/// is dropped.
fn new_workflow_database() -> Box<dyn Fn() -> Box<dyn WorkflowStore>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".baton").join("workflows.db");
    Box::new(move || {
        let _keep = &dir;
        Box::new(SqliteWorkflowStore::open(&path).expect("open the workflow database"))
    })
}

mod workflow_conformance {
    baton_state::workflow_store_conformance!(super::new_workflow_database());
}

#[test]
fn run_all_runs_every_check() {
    baton_state::workflow_conformance::run_all(&new_workflow_database);
}

fn corrupt_at(result: Result<SqliteWorkflowStore, StateError>, path: &Path) -> String {
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
fn open_creates_directories_and_sets_the_pragmas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("deep").join(".baton").join("workflows.db");
    let store = SqliteWorkflowStore::open(&path).expect("create");
    assert_eq!(store.path(), path);
    assert!(path.is_file());
    drop(store);
    SqliteWorkflowStore::open(&path).expect("reopen");

    let conn = rusqlite::Connection::open(&path).expect("open with rusqlite");
    let pragma = |name: &str| -> i64 {
        conn.pragma_query_value(None, name, |r| r.get(0))
            .expect("pragma")
    };
    assert_eq!(pragma("application_id"), WORKFLOW_APPLICATION_ID);
    assert_eq!(pragma("user_version"), WORKFLOW_SCHEMA_VERSION as i64);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only its owner reads the workflow database"
        );
    }
}

#[test]
fn a_state_database_is_not_a_workflow_database_nor_the_reverse() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.db");
    SqliteStore::open(&state).expect("create a state database");
    let message = corrupt_at(SqliteWorkflowStore::open(&state), &state);
    assert!(
        message.contains("not a Baton workflow database"),
        "{message}"
    );

    let workflows = dir.path().join("workflows.db");
    SqliteWorkflowStore::open(&workflows).expect("create a workflow database");
    match SqliteStore::open(&workflows) {
        Err(StateError::Corrupt { message, .. }) => {
            assert!(message.contains("not a Baton state database"), "{message}");
        }
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("a workflow database was opened as a state database"),
    }
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).expect("create");
    conn.execute_batch("CREATE TABLE things (x INTEGER);")
        .expect("create a table");
    drop(conn);
    let message = corrupt_at(SqliteWorkflowStore::open(&path), &path);
    assert!(message.contains("holds other tables"), "{message}");
}

#[test]
fn garbage_file_is_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("workflows.db");
    std::fs::write(&path, vec![0x5a; 8192]).expect("write garbage");
    corrupt_at(SqliteWorkflowStore::open(&path), &path);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("workflows.db");
    SqliteWorkflowStore::open(&path).expect("create");
    let conn = rusqlite::Connection::open(&path).expect("open with rusqlite");
    conn.pragma_update(None, "user_version", WORKFLOW_SCHEMA_VERSION as i64 + 1)
        .expect("bump the schema version");
    drop(conn);
    let message = corrupt_at(SqliteWorkflowStore::open(&path), &path);
    assert!(message.contains("newer Baton"), "{message}");
}

#[test]
fn an_unreadable_status_is_corrupt_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("workflows.db");
    let store = SqliteWorkflowStore::open(&path).expect("create");
    let run = baton_state::WfRun {
        id: "r1".to_string(),
        workflow: "deploy".to_string(),
        inputs: "{}".to_string(),
        definition: "{}".to_string(),
        status: baton_state::WfRunStatus::Running,
        who: "alice@host".to_string(),
        started_at: "2024-05-01T12:00:00Z".to_string(),
        finished_at: None,
        on_failure: "rollback".to_string(),
        parent: None,
        parent_step: None,
        note: None,
    };
    store
        .create_run(&run, "alice", std::time::Duration::from_secs(60))
        .expect("create_run");
    let conn = rusqlite::Connection::open(&path).expect("open with rusqlite");
    conn.execute("UPDATE runs SET status = 'sideways'", [])
        .expect("damage the status");
    drop(conn);
    match store.run("r1") {
        Err(StateError::Corrupt { path: p, message }) => {
            assert_eq!(p, path.display().to_string());
            assert!(message.contains("sideways"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn directory_instead_of_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    match SqliteWorkflowStore::open(dir.path()) {
        Err(StateError::Io { path, .. }) => assert_eq!(path, dir.path().display().to_string()),
        Err(other) => panic!("expected Io, got {other:?}"),
        Ok(_) => panic!("a directory was opened as a database"),
    }
}

#[test]
fn the_store_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<SqliteWorkflowStore>();
}
