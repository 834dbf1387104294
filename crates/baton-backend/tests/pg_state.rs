//! What the PostgreSQL state store must do beyond the conformance suite: keep working when the
//! server ends its connections, keep stacks in different schemas of one database apart, let
//! many handles open a new schema at once, refuse a schema that is not its own, keep journal
//! outcomes and their state writes together, and round-trip large plans.
//!
//! Must only end connections it opened itself: each test that kills connections names them
//! with an `application_name` of its own and kills only those.

use baton_backend::location::PgTarget;
use baton_backend::pg::state::PgStore;
use baton_backend::testing::TestServer;
use baton_core::InstanceAddr;
use baton_state::lock::current_lock_info;
use baton_state::{
    AuditEntry, EntryOutcome, EntryStatus, InstanceState, InstanceStatus, JournalEntry, LockInfo,
    ObjectKey, OutputState, RawJson, RunRecord, RunStatus, StateError, StateStore, StateWrite,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn server() -> &'static TestServer {
    TestServer::shared().expect("a PostgreSQL server for tests")
}

/// A fresh schema's target; with `app`, its connections carry that `application_name`.
fn target(what: &str, app: Option<&str>) -> PgTarget {
    let server = server();
    let url = match app {
        Some(app) => {
            let sep = if server.url().contains('?') { '&' } else { '?' };
            format!("{}{sep}application_name={app}", server.url())
        }
        None => server.url().to_string(),
    };
    PgTarget::parse(&url, Some(&server.fresh_schema(what))).expect("a target")
}

fn admin() -> postgres::Client {
    postgres::Client::connect(server().url(), postgres::NoTls).expect("an admin connection")
}

/// Ends every server connection named `app` and waits until they are gone; returns how many.
fn kill(app: &str) -> usize {
    let mut admin = admin();
    let pids: Vec<i32> = admin
        .query(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&app],
        )
        .expect("terminate the store's connections")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                &[&pids],
            )
            .expect("count connections")
            .get(0);
        if left == 0 {
            return pids.len();
        }
        assert!(
            Instant::now() < deadline,
            "{left} connections outlived termination"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn key(addr: &str) -> ObjectKey {
    ObjectKey::current(InstanceAddr::parse(addr).expect("a test address"))
}

fn object(n: i64) -> InstanceState {
    InstanceState {
        provider: "provider[\"terraform.io/builtin/terraform\"]".to_string(),
        schema_version: 0,
        value: RawJson::from_value(&serde_json::json!({ "n": n, "s": "é \u{1} \"q\"" })),
        status: InstanceStatus::Ready,
        dependencies: vec![],
        create_before_destroy: false,
    }
}

fn outputs(n: i64) -> BTreeMap<String, OutputState> {
    BTreeMap::from([(
        "o".to_string(),
        OutputState {
            value: RawJson::from_value(&serde_json::json!(n)),
            sensitive: false,
        },
    )])
}

fn leased(ms: u64) -> LockInfo {
    LockInfo {
        lease_ms: ms,
        ..current_lock_info("apply")
    }
}

fn run_record(id: &str, plan: &RawJson) -> RunRecord {
    let me = current_lock_info("apply");
    RunRecord {
        id: id.to_string(),
        kind: "apply".to_string(),
        status: RunStatus::Running,
        who: me.who,
        host: me.host,
        pid: me.pid,
        process_start: me.process_start,
        started_at: "2024-05-01T12:00:00Z".to_string(),
        finished_at: None,
        serial: 1,
        summary: "1 to add".to_string(),
        plan: plan.clone(),
        parent: None,
        on_failure: "halt".to_string(),
    }
}

fn begin_run(store: &dyn StateStore, fence: baton_state::Fence, run: &RunRecord) {
    let text = run.plan.as_str().to_string();
    store
        .begin_run(fence, run, &move |w: &mut dyn std::io::Write| {
            w.write_all(text.as_bytes())
        })
        .expect("begin_run");
}

fn intent(run_id: &str, addr: &str) -> JournalEntry {
    JournalEntry {
        run_id: run_id.to_string(),
        seq: 0,
        addr: addr.to_string(),
        deposed: String::new(),
        action: "create".to_string(),
        prior: RawJson::null(),
        planned: RawJson::from_value(&serde_json::json!({ "addr": addr })),
        status: EntryStatus::Started,
        new_value: None,
        error: None,
        attempts: 1,
        started_at: "2024-05-01T12:00:00Z".to_string(),
        duration_ms: None,
        phase: "apply".to_string(),
    }
}

fn done(n: i64) -> EntryOutcome {
    EntryOutcome {
        status: EntryStatus::Done,
        new_value: Some(object(n).value),
        error: None,
        attempts: 1,
        duration_ms: 5,
    }
}

fn audit_entry(n: u64) -> AuditEntry {
    AuditEntry {
        time: String::new(),
        actor: "ana@ci-7".to_string(),
        command: "apply".to_string(),
        args: vec![format!("-var=n={n}")],
        environment: String::new(),
        run_id: None,
        plan_digest: None,
        policy: serde_json::Value::Null,
        outcome: "succeeded".to_string(),
        changes: vec![],
    }
}

#[test]
fn a_handle_keeps_working_after_its_connections_are_killed() {
    let app = format!("baton_kill_{}", std::process::id());
    let t = target("killed", Some(&app));
    let store = PgStore::open(&t).expect("open");
    let other = PgStore::open(&target("killed_other", None)).expect("open another schema");
    let lease_ms = 600;
    let guard = store.lock(leased(lease_ms), Duration::ZERO).expect("lock");
    let f = guard.fence();
    let v = store.begin_version(f, "run-1", "apply").expect("begin");
    store
        .put_object(f, v, &key("terraform_data.a"), Some(&object(1)))
        .expect("put a");
    // The renewer has connected (it renews every third of the lease).
    std::thread::sleep(Duration::from_millis(lease_ms));
    assert!(kill(&app) >= 2, "the pool's and the renewer's connections");

    // Writes, reads, the journal and the audit log go on, on new connections.
    store
        .put_object(f, v, &key("terraform_data.b"), Some(&object(2)))
        .expect("put b after the kill");
    kill(&app);
    assert_eq!(store.current().expect("current").objects.len(), 2);
    kill(&app);
    store.put_outputs(f, v, &outputs(1)).expect("put_outputs");
    kill(&app);
    let run = run_record(
        "run-1",
        &RawJson::from_value(&serde_json::json!({ "p": 1 })),
    );
    begin_run(&store, f, &run);
    kill(&app);
    let seq = store
        .journal_start(f, &intent("run-1", "terraform_data.c"))
        .expect("journal_start");
    kill(&app);
    let c = key("terraform_data.c");
    store
        .journal_finish(
            f,
            "run-1",
            seq,
            &done(3),
            &[StateWrite {
                serial: v,
                key: &c,
                object: Some(&object(3)),
            }],
        )
        .expect("journal_finish");
    kill(&app);
    store.audit_append(audit_entry(1)).expect("audit_append");
    kill(&app);
    assert!(store.audit_verify().expect("audit_verify").ok);

    // The renewer reconnects: over several leases the lock stays held.
    for _ in 0..3 {
        kill(&app);
        std::thread::sleep(Duration::from_millis(lease_ms));
    }
    assert!(!guard.lost(), "the renewer reconnected");
    let lease = store.lease().expect("lease").expect("a lease");
    assert!(!lease.expired, "{lease:?}");
    assert_eq!(lease.fence, f);
    let second = PgStore::open(&t).expect("a second handle");
    assert!(matches!(
        second.lock(current_lock_info("plan"), Duration::ZERO),
        Err(StateError::Locked(_))
    ));

    kill(&app);
    store.finish_version(f, v, "complete").expect("finish");
    let journal = store.journal("run-1").expect("journal");
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].status, EntryStatus::Done);
    kill(&app);
    drop(guard);
    assert_eq!(second.lock_holder().expect("lock_holder"), None, "released");
    assert!(other.current().expect("the other schema").is_empty());
}

#[test]
fn concurrent_writers_survive_repeated_kills() {
    let app = format!("baton_kill_many_{}", std::process::id());
    let t = target("killed_many", Some(&app));
    let stores: Vec<Arc<dyn StateStore>> = (0..2)
        .map(|_| Arc::from(baton_backend::pg::state::open(&t).expect("open")))
        .collect();
    let guard = stores[0]
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock");
    let f = guard.fence();
    let v = stores[0].begin_version(f, "run-1", "apply").expect("begin");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let (app, stop) = (app.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(30));
                kill(&app);
                kills += 1;
            }
            kills
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&stores[t % 2]);
            std::thread::spawn(move || {
                for i in 0..40 {
                    let k = key(&format!("terraform_data.t{t}[{i}]"));
                    store
                        .put_object(f, v, &k, Some(&object(i)))
                        .unwrap_or_else(|e| panic!("put {t}/{i}: {e}"));
                    let snap = store
                        .at_version(v)
                        .unwrap_or_else(|e| panic!("read {t}/{i}: {e}"));
                    assert_eq!(snap.objects.get(&k), Some(&object(i)));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("a writer panicked");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(killer.join().expect("the killer panicked") > 0);
    let snap = stores[1].current().expect("current");
    assert_eq!(snap.objects.len(), 160);
    assert_eq!(stores[1].history().expect("history")[0].changes, 160);
}

#[test]
fn two_schemas_in_one_database_are_independent() {
    let (ta, tb) = (target("stack_a", None), target("stack_b", None));
    let a = PgStore::open(&ta).expect("open a");
    let b = PgStore::open(&tb).expect("open b");
    let ga = a
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock a");
    let gb = b
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock b while a is locked");
    let (fa, fb) = (ga.fence(), gb.fence());
    let va = a.begin_version(fa, "run-a", "apply").expect("begin a");
    let vb = b.begin_version(fb, "run-b", "apply").expect("begin b");
    assert_eq!((va, vb), (1, 1));
    a.put_object(fa, va, &key("terraform_data.a"), Some(&object(1)))
        .expect("put a");
    b.put_object(fb, vb, &key("terraform_data.b"), Some(&object(2)))
        .expect("put b");
    b.put_outputs(fb, vb, &outputs(2)).expect("outputs b");
    a.audit_append(audit_entry(1)).expect("audit a");
    let rb = b.audit_append(audit_entry(2)).expect("audit b");
    assert_eq!(rb.id, 1, "each schema has its own audit log");

    let (sa, sb) = (a.current().expect("a"), b.current().expect("b"));
    assert_ne!(sa.lineage, sb.lineage);
    assert_eq!(
        sa.objects.keys().collect::<Vec<_>>(),
        vec![&key("terraform_data.a")]
    );
    assert_eq!(
        sb.objects.keys().collect::<Vec<_>>(),
        vec![&key("terraform_data.b")]
    );
    assert!(sa.outputs.is_empty());
    assert_eq!(sb.outputs, outputs(2));
    assert_eq!(a.history().expect("history a")[0].run_id, "run-a");
    drop(ga);
    assert_eq!(a.lock_holder().expect("holder a"), None);
    assert_eq!(
        b.lock_holder().expect("holder b").map(|h| h.id),
        Some(gb.info.id.clone())
    );
    // A handle opened on one schema never sees the other's writes.
    let a2 = PgStore::open(&ta).expect("reopen a");
    assert_eq!(a2.current().expect("a again"), sa);
    assert_eq!(a2.audit_records().expect("audit a").len(), 1);
}

#[test]
fn many_handles_open_a_fresh_schema_at_once() {
    let t = target("at_once", None);
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let openers: Vec<_> = (0..n)
        .map(|_| {
            let (t, barrier) = (t.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let store = PgStore::open(&t).unwrap_or_else(|e| panic!("open: {e}"));
                store.current().expect("current").lineage
            })
        })
        .collect();
    let lineages: Vec<String> = openers
        .into_iter()
        .map(|o| o.join().expect("an opener panicked"))
        .collect();
    assert!(
        lineages.iter().all(|l| *l == lineages[0]),
        "one schema, one lineage: {lineages:?}"
    );
}

#[test]
fn a_schema_that_is_not_ours_or_is_newer_is_refused() {
    let foreign = target("foreign", None);
    let mut c = baton_backend::pg::connect(&foreign).expect("connect");
    c.batch_execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        .expect("a foreign meta table");
    match PgStore::open(&foreign) {
        Err(StateError::Corrupt { message, path }) => {
            assert!(message.contains("not a Baton state schema"), "{message}");
            assert_eq!(path, foreign.describe());
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("a foreign schema was opened"),
    }

    let newer = target("newer", None);
    drop(PgStore::open(&newer).expect("open"));
    let mut c = baton_backend::pg::connect(&newer).expect("connect");
    c.batch_execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        .expect("pretend a newer Baton wrote it");
    match PgStore::open(&newer) {
        Err(StateError::Corrupt { message, .. }) => {
            assert!(message.contains("newer Baton"), "{message}")
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

#[test]
fn describe_names_the_database_without_the_password() {
    let url = server().url();
    let Some(rest) = url.strip_prefix("postgresql://baton@") else {
        // BATON_TEST_PG names a server of its own: only the plain check applies.
        let t = target("describe", None);
        let store = PgStore::open(&t).expect("open");
        assert_eq!(store.describe(), t.describe());
        return;
    };
    // The test cluster trusts local connections and ignores the password.
    let with_password = format!("postgresql://baton:hunter2@{rest}");
    let t =
        PgTarget::parse(&with_password, Some(&server().fresh_schema("describe"))).expect("target");
    let store = PgStore::open(&t).expect("open");
    let d = store.describe();
    assert!(!d.contains("hunter2"), "{d}");
    assert!(d.contains(&t.schema), "{d}");
}

#[test]
fn journal_entries_are_numbered_in_order_and_outcomes_land_with_their_writes() {
    let t = target("journal", None);
    let stores: Vec<Arc<dyn StateStore>> = (0..2)
        .map(|_| Arc::from(baton_backend::pg::state::open(&t).expect("open")))
        .collect();
    let guard = stores[0]
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock");
    let f = guard.fence();
    let v = stores[0].begin_version(f, "run-1", "apply").expect("begin");
    begin_run(&*stores[0], f, &run_record("run-1", &RawJson::null()));
    let starters: Vec<_> = (0..6)
        .map(|t| {
            let store = Arc::clone(&stores[t % 2]);
            std::thread::spawn(move || {
                (0..15)
                    .map(|i| {
                        let addr = format!("terraform_data.t{t}[{i}]");
                        let seq = store
                            .journal_start(f, &intent("run-1", &addr))
                            .unwrap_or_else(|e| panic!("journal_start: {e}"));
                        (seq, addr)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut started: Vec<(u64, String)> = starters
        .into_iter()
        .flat_map(|s| s.join().expect("a starter panicked"))
        .collect();
    started.sort();
    let seqs: Vec<u64> = started.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=90).collect::<Vec<u64>>(), "one sequence per run");

    let (seq, addr) = &started[0];
    let k = key(addr);
    let write = [StateWrite {
        serial: v,
        key: &k,
        object: Some(&object(1)),
    }];
    stores[1]
        .journal_finish(f, "run-1", *seq, &done(1), &write)
        .expect("journal_finish");
    let entry = &stores[0].journal("run-1").expect("journal")[0];
    assert_eq!(entry.status, EntryStatus::Done);
    assert_eq!(entry.addr, *addr);
    assert_eq!(entry.new_value.as_ref(), Some(&object(1).value));
    assert_eq!(
        stores[0].current().expect("current").objects.get(&k),
        Some(&object(1))
    );

    // A write to a version that is not open refuses the whole outcome.
    let (seq2, addr2) = &started[1];
    let k2 = key(addr2);
    let stale = [
        StateWrite {
            serial: v,
            key: &k2,
            object: Some(&object(2)),
        },
        StateWrite {
            serial: v + 1,
            key: &k2,
            object: None,
        },
    ];
    match stores[0].journal_finish(f, "run-1", *seq2, &done(2), &stale) {
        Err(StateError::VersionNotOpen(s)) => assert_eq!(s, v + 1),
        other => panic!("expected VersionNotOpen, got {other:?}"),
    }
    let entry = &stores[0].journal("run-1").expect("journal")[1];
    assert_eq!(entry.status, EntryStatus::Started, "nothing of it landed");
    assert_eq!(stores[0].current().expect("current").objects.get(&k2), None);
}

#[test]
fn a_large_plan_round_trips() {
    let store = PgStore::open(&target("plan", None)).expect("open");
    let guard = store
        .lock(current_lock_info("apply"), Duration::ZERO)
        .expect("lock");
    let items: Vec<String> = (0..200_000)
        .map(|i| format!("change {i} \u{e9}\u{65e5}"))
        .collect();
    let plan = RawJson::from_value(&serde_json::json!({ "changes": items }));
    assert!(plan.as_str().len() > 4_000_000);
    let run = run_record("run-big", &plan);
    // The writer streams the plan in small pieces, as the engine's serializer does.
    let text = plan.as_str().to_string();
    store
        .begin_run(guard.fence(), &run, &|w: &mut dyn std::io::Write| {
            text.as_bytes()
                .chunks(1000)
                .try_for_each(|c| w.write_all(c))
        })
        .expect("begin_run");
    let read = store.run("run-big").expect("run").expect("the run");
    assert_eq!(read.plan, plan);
    assert_eq!(store.runs().expect("runs")[0].plan, RawJson::null());

    // A writer that writes other bytes the second time is refused, and nothing is recorded.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let flaky = |w: &mut dyn std::io::Write| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        w.write_all(if n == 0 { b"{\"a\":1}" } else { b"{\"a\":12}" })
    };
    let other = run_record("run-flaky", &RawJson::null());
    match store.begin_run(guard.fence(), &other, &flaky) {
        Err(StateError::Io { message, .. }) => assert!(message.contains("plan"), "{message}"),
        r => panic!("expected an I/O error, got {r:?}"),
    }
    assert_eq!(store.run("run-flaky").expect("run"), None);
}
