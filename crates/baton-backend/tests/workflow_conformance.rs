//! The PostgreSQL workflow store against a real server: the workflow store conformance suite
//! (the same checks the SQLite store passes), each check on a fresh schema with new handles
//! per `open`; plus what only a server store has: handles opening a fresh schema at once,
//! tables kept apart from the state store's by their `wf_` prefix, a schema written by a newer
//! Baton refused, and a handle that keeps working after its connections are killed.
//!
//! Must only touch schemas it names itself (`TestServer::fresh_schema`), and kill only the
//! connections it opened (found by their `application_name`).

use baton_backend::location::PgTarget;
use baton_backend::pg;
use baton_backend::pg::workflow::PgWorkflowStore;
use baton_backend::testing::TestServer;
use baton_state::{StateError, WfRun, WfRunStatus, WfStep, WfStepStatus, WorkflowStore};
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// An opener for a fresh, empty schema: each call a new handle on it.
fn new_database() -> Box<dyn Fn() -> Box<dyn WorkflowStore>> {
    let target = fresh_target("wf", None);
    Box::new(move || {
        Box::new(PgWorkflowStore::open(&target).expect("open the PostgreSQL workflow store"))
    })
}

/// A target on a schema of its own; with `app`, its connections carry that
/// `application_name`.
fn fresh_target(what: &str, app: Option<&str>) -> PgTarget {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    let schema = server.fresh_schema(what);
    let url = match app {
        Some(app) => {
            let sep = if server.url().contains('?') { '&' } else { '?' };
            format!("{}{sep}application_name={app}", server.url())
        }
        None => server.url().to_string(),
    };
    PgTarget::parse(&url, Some(&schema)).expect("target")
}

mod conformance {
    baton_state::workflow_store_conformance!(super::new_database());
}

fn run(id: &str) -> WfRun {
    WfRun {
        id: id.to_string(),
        workflow: "deploy".to_string(),
        inputs: "{}".to_string(),
        definition: "{}".to_string(),
        status: WfRunStatus::Running,
        who: "alice@host-a".to_string(),
        started_at: "2024-05-01T12:00:00Z".to_string(),
        finished_at: None,
        on_failure: "rollback".to_string(),
        parent: None,
        parent_step: None,
        note: None,
    }
}

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn many_handles_open_a_fresh_schema_at_once() {
    const HANDLES: usize = 8;
    let target = fresh_target("wf_open", None);
    let start = Arc::new(Barrier::new(HANDLES));
    let openers: Vec<_> = (0..HANDLES)
        .map(|_| {
            let target = target.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                PgWorkflowStore::open(&target).map(|_| ())
            })
        })
        .collect();
    for o in openers {
        match o.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("a handle failed to open: {e}"),
            Err(_) => panic!("an opener panicked"),
        }
    }
    let store = PgWorkflowStore::open(&target).expect("open");
    store
        .create_run(&run("r1"), "alice", LONG)
        .expect("create_run");
}

#[test]
fn every_table_is_prefixed_and_versioned() {
    let target = fresh_target("wf_prefix", None);
    let _store = PgWorkflowStore::open(&target).expect("open");
    let mut c = pg::connect(&target).expect("connect");
    let names: Vec<String> = c
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1",
            &[&target.schema],
        )
        .expect("relations")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(names.len() > 8, "{names:?}");
    for n in &names {
        assert!(n.starts_with("wf_"), "{n} is not prefixed wf_ ({names:?})");
    }
    let version: i32 = c
        .query_one("SELECT version FROM wf_meta", &[])
        .expect("version")
        .get(0);
    assert_eq!(
        usize::try_from(version).expect("version"),
        pg::workflow::WORKFLOW_SCHEMA_VERSION
    );
}

#[test]
fn a_schema_from_a_newer_baton_is_refused() {
    let target = fresh_target("wf_newer", None);
    drop(PgWorkflowStore::open(&target).expect("open"));
    let mut c = pg::connect(&target).expect("connect");
    c.execute("UPDATE wf_meta SET version = version + 1", &[])
        .expect("bump the version");
    match PgWorkflowStore::open(&target) {
        Err(StateError::Corrupt { message, .. }) => {
            assert!(message.contains("newer"), "{message}")
        }
        Err(e) => panic!("expected Corrupt, got {e:?}"),
        Ok(_) => panic!("a schema from a newer Baton was opened"),
    }
}

/// Kills every connection named `app` from another connection; returns how many.
fn kill(app: &str) -> i64 {
    let server = TestServer::shared().expect("server");
    let mut c = postgres::Client::connect(server.url(), postgres::NoTls).expect("connect");
    let killed: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()) k",
            &[&app],
        )
        .expect("terminate")
        .get(0);
    killed
}

#[test]
fn a_handle_keeps_working_after_its_connections_are_killed() {
    let app = format!("baton_wf_kill_{}", std::process::id());
    let target = fresh_target("wf_kill", Some(&app));
    let store = Arc::new(PgWorkflowStore::open(&target).expect("open"));
    let claim = store
        .create_run(&run("r1"), "alice", LONG)
        .expect("create_run");
    // Several idle connections, from threads working at once.
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let store = Arc::clone(&store);
            let claim = claim.clone();
            std::thread::spawn(move || {
                let k = format!("s{i}");
                store
                    .put_step(&claim, &WfStep::new("r1", &k, "s", "command"))
                    .expect("put_step");
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }

    assert!(kill(&app) > 0, "the handle's connections were found");
    // A read after the kill.
    assert_eq!(store.steps("r1").expect("steps after the kill").len(), 3);

    kill(&app);
    // A write after the kill, with its claim checked.
    let mut s = WfStep::new("r1", "s0", "s", "command");
    s.status = WfStepStatus::Succeeded;
    store.put_step(&claim, &s).expect("put_step after the kill");

    kill(&app);
    store
        .set_run_status(&claim, WfRunStatus::Succeeded, None)
        .expect("set_run_status after the kill");
    assert!(store
        .schedule_fire("deploy", "hourly", "2024-05-01T12:00:00Z")
        .expect("schedule_fire after the kill"));

    let steps = store.steps("r1").expect("steps");
    assert_eq!(steps.len(), 3);
    assert_eq!(
        steps.iter().find(|s| s.key == "s0").map(|s| s.status),
        Some(WfStepStatus::Succeeded)
    );
    assert_eq!(
        store.run("r1").expect("run").map(|r| r.status),
        Some(WfRunStatus::Succeeded)
    );
}
