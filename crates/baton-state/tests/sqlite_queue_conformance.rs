//! The SQLite work queue against the shared queue conformance suite (the checks the
//! PostgreSQL queue passes), plus what only the file has: creation with its pragmas, refusal
//! of a state or workflow database, an idle wait that writes nothing, and claims that hold
//! across processes (child processes of this test binary racing for the same tasks).
//!
//! Every test works in its own temporary directory; none may touch `.baton/` of the checkout.

use baton_state::queue::{NewTask, WorkQueue, WorkerInfo};
use baton_state::queue_sqlite::{QUEUE_APPLICATION_ID, QUEUE_SCHEMA_VERSION};
use baton_state::{SqliteQueue, SqliteStore, SqliteWorkflowStore, StateError};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// An opener for a fresh queue database in a temporary directory, removed when the opener is
/// dropped.
fn new_queue() -> Box<dyn Fn() -> Box<dyn WorkQueue>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(".baton").join("queue.db");
    Box::new(move || {
        let _keep = &dir;
        Box::new(SqliteQueue::open(&path).expect("open the queue database"))
    })
}

mod queue_conformance {
    baton_state::queue_conformance!(super::new_queue());
}

fn task(key: &str) -> NewTask {
    NewTask {
        run_id: "r".to_string(),
        key: key.to_string(),
        kind: "command".to_string(),
        payload: "{}".to_string(),
        run_on: BTreeMap::new(),
        max_claims: 3,
    }
}

fn worker(id: &str) -> WorkerInfo {
    WorkerInfo {
        id: id.to_string(),
        host: "test".to_string(),
        pid: std::process::id(),
        labels: BTreeMap::new(),
        concurrency: 1,
    }
}

fn corrupt(result: Result<SqliteQueue, StateError>) -> String {
    match result {
        Err(StateError::Corrupt { message, .. }) => message,
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("expected Corrupt, the file was accepted"),
    }
}

#[test]
fn open_creates_the_file_private_in_wal_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("deep").join(".baton").join("queue.db");
    let q = SqliteQueue::open(&path).expect("create");
    assert_eq!(q.path(), path);
    assert_eq!(q.describe(), path.display().to_string());
    drop(q);
    SqliteQueue::open(&path).expect("reopen");
    let conn = rusqlite::Connection::open(&path).expect("open with rusqlite");
    let pragma = |name: &str| -> i64 {
        conn.pragma_query_value(None, name, |r| r.get(0))
            .expect("pragma")
    };
    assert_eq!(pragma("application_id"), QUEUE_APPLICATION_ID);
    assert_eq!(pragma("user_version"), QUEUE_SCHEMA_VERSION as i64);
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
        assert_eq!(mode & 0o777, 0o600, "payloads may hold secrets");
    }
}

#[test]
fn a_state_or_workflow_database_is_not_a_queue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.db");
    SqliteStore::open(&state).expect("a state database");
    assert!(corrupt(SqliteQueue::open(&state)).contains("not a Baton queue database"));
    let workflows = dir.path().join("workflows.db");
    SqliteWorkflowStore::open(&workflows).expect("a workflow database");
    assert!(corrupt(SqliteQueue::open(&workflows)).contains("not a Baton queue database"));
    let queue = dir.path().join("queue.db");
    SqliteQueue::open(&queue).expect("a queue database");
    assert!(SqliteStore::open(&queue).is_err(), "a queue is not state");
}

#[test]
fn the_queue_sits_beside_the_default_state_file() {
    let p = baton_state::queue_sqlite::beside(Path::new("/srv/stack/.baton/state.db"));
    assert_eq!(p, Path::new("/srv/stack/.baton/queue.db"));
}

/// Waiting on an idle queue only reads: the file and its WAL do not change.
#[test]
fn an_idle_wait_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("queue.db");
    let q = SqliteQueue::open(&path).expect("open");
    q.submit(&[task("a")]).expect("submit");
    q.wait(Duration::from_secs(1)).expect("subscribe");
    let wal = path.with_file_name("queue.db-wal");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let before = (size(&path), size(&wal));
    let modified = std::fs::metadata(&wal).and_then(|m| m.modified()).ok();
    q.wait(Duration::from_millis(300)).expect("wait");
    assert_eq!((size(&path), size(&wal)), before);
    assert_eq!(
        std::fs::metadata(&wal).and_then(|m| m.modified()).ok(),
        modified
    );
}

/// The child side of [`processes_never_take_one_task_twice`]: says it is ready (a file in the
/// directory `BATON_QUEUE_CHILD_DIR`), waits for the `go` file, then claims and completes tasks
/// from `queue.db` there until none is left.
#[test]
fn claim_until_empty_as_a_child() {
    let Ok(dir) = std::env::var("BATON_QUEUE_CHILD_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let q = SqliteQueue::open(&dir.join("queue.db")).expect("open");
    std::fs::write(dir.join(format!("ready-{}", std::process::id())), "").expect("ready");
    wait_for("the go file", || dir.join("go").exists());
    let me = worker(&format!("child-{}", std::process::id()));
    while let Some(t) = q.claim(&me, Duration::from_secs(600)).expect("claim") {
        assert!(q.complete(t.id, t.token, &me.id, "{}").expect("complete"));
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Four processes claiming from one file at once take each task exactly once.
#[test]
fn processes_never_take_one_task_twice() {
    const TASKS: usize = 1000;
    const CHILDREN: usize = 4;
    let dir = tempfile::tempdir().expect("temp dir");
    let q = SqliteQueue::open(&dir.path().join("queue.db")).expect("open");
    let tasks: Vec<NewTask> = (0..TASKS).map(|i| task(&format!("t{i}"))).collect();
    q.submit(&tasks).expect("submit");
    let exe = std::env::current_exe().expect("this test binary");
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "claim_until_empty_as_a_child", "--quiet"])
                .env("BATON_QUEUE_CHILD_DIR", dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start a child")
        })
        .collect();
    wait_for("the children to be ready", || {
        std::fs::read_dir(dir.path())
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("ready-"))
                    .count()
            })
            .unwrap_or(0)
            == CHILDREN
    });
    std::fs::write(dir.path().join("go"), "").expect("go");
    for mut c in children {
        assert!(c.wait().expect("wait for a child").success());
    }
    let rows = q.tasks("r").expect("tasks");
    assert_eq!(rows.len(), TASKS);
    for r in &rows {
        assert_eq!(r.claims, 1, "{r:?}");
        assert_eq!(r.claim_log.len(), 1, "{r:?}");
        assert_eq!(r.state, baton_state::TaskState::Done, "{r:?}");
    }
    // How many of the processes took part depends on scheduling (under load one may take
    // them all), so it is reported, not asserted.
    let by: std::collections::BTreeSet<&str> =
        rows.iter().filter_map(|r| r.worker.as_deref()).collect();
    eprintln!("{} of {CHILDREN} processes took tasks", by.len());
}

#[test]
fn run_all_runs_every_check() {
    baton_state::queue_conformance::run_all(&new_queue);
}

#[test]
fn the_queue_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<SqliteQueue>();
}
