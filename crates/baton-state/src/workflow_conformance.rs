//! The conformance suite every [`WorkflowStore`] must pass: runs recorded and listed, claims
//! (exclusive across handles, taken over after their lease expires, a running run found
//! interrupted, a queued or waiting one kept as it is, renewal, release, fencing tokens that
//! refuse a displaced holder's writes), step instances and their order, approvals, the step
//! cache, limit slots, schedules fired once per slot by racing agents, and runs advanced at
//! once from several threads. It is ordinary code, not `cfg(test)`, so that each store's crate
//! runs the same checks (see [`workflow_store_conformance!`](crate::workflow_store_conformance)).
//!
//! This is test support: a failed check panics with a message naming what was expected. It
//! must only use the [`WorkflowStore`] trait, never a particular store's internals, and must
//! not wait on fixed sleeps where it can poll (a lease's expiry is polled for, bounded).
//!
//! Every check receives `open`, a function returning a new handle on one fresh, empty database
//! each time it is called — as another process opening the same store would.

use crate::stamp;
use crate::store::StateError;
use crate::workflow::{
    WfCacheEntry, WfClaim, WfClaimHolder, WfRun, WfRunStatus, WfStep, WfStepStatus, WorkflowStore,
};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

/// A function that opens a new handle on the database under test.
pub type Open<'a> = &'a dyn Fn() -> Box<dyn WorkflowStore>;

/// One conformance check.
pub type Check = fn(Open<'_>);

/// `[(name, check)]` from check names.
macro_rules! named {
    ($($check:ident),* $(,)?) => {
        &[$((stringify!($check), $check as Check)),*]
    };
}

/// Every check, by name. [`workflow_store_conformance!`](crate::workflow_store_conformance) makes one test of each.
pub const CHECKS: &[(&str, Check)] = named![
    fresh_store_is_empty,
    runs_are_recorded_and_listed_oldest_first,
    a_run_id_is_recorded_once,
    a_live_claim_is_exclusive_across_handles,
    an_expired_claim_is_taken_over_and_the_old_holder_refused,
    a_takeover_interrupts_only_a_running_run,
    renewing_pushes_the_expiry,
    run_status_sets_the_finish_time_and_the_note,
    steps_keep_the_seq_of_their_first_insert,
    an_approval_is_recorded_only_while_waiting,
    the_cache_returns_the_newest_entry_since,
    limit_slots_are_bounded_and_freed,
    a_schedule_fires_once_per_slot,
    racing_agents_fire_each_slot_once,
    runs_advance_at_once_on_two_handles,
];

/// Runs every check, each on a database of its own from `new_database` (which returns an
/// opener for a fresh, empty database each time it is called).
pub fn run_all(new_database: &dyn Fn() -> Box<dyn Fn() -> Box<dyn WorkflowStore>>) {
    for (name, check) in CHECKS {
        eprintln!("workflow store conformance: {name}");
        let open = new_database();
        check(&*open);
    }
}

/// Defines one `#[test]` per conformance check. `$new_database` is an expression evaluated
/// once per test, returning an opener for a fresh, empty database
/// (`Box<dyn Fn() -> Box<dyn WorkflowStore>>`).
///
/// ```text
/// mod workflow_conformance {
///     baton_state::workflow_store_conformance!(super::new_workflow_database());
/// }
/// ```
#[macro_export]
macro_rules! workflow_store_conformance {
    ($new_database:expr) => {
        $crate::workflow_store_conformance!(@each $new_database;
            fresh_store_is_empty,
            runs_are_recorded_and_listed_oldest_first,
            a_run_id_is_recorded_once,
            a_live_claim_is_exclusive_across_handles,
            an_expired_claim_is_taken_over_and_the_old_holder_refused,
            a_takeover_interrupts_only_a_running_run,
            renewing_pushes_the_expiry,
            run_status_sets_the_finish_time_and_the_note,
            steps_keep_the_seq_of_their_first_insert,
            an_approval_is_recorded_only_while_waiting,
            the_cache_returns_the_newest_entry_since,
            limit_slots_are_bounded_and_freed,
            a_schedule_fires_once_per_slot,
            racing_agents_fire_each_slot_once,
            runs_advance_at_once_on_two_handles,
        );
    };
    (@each $new_database:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let open = $new_database;
                $crate::workflow_conformance::$check(&*open);
            }
        )*

        #[test]
        fn every_check_is_run() {
            let run: Vec<&str> = vec![$(stringify!($check)),*];
            let all: Vec<&str> = $crate::workflow_conformance::CHECKS
                .iter()
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(run, all, "workflow_store_conformance! and CHECKS disagree");
        }
    };
}

/// A lease no check outlives: a claim taken with it stays live throughout.
const LONG: Duration = Duration::from_secs(3600);
/// A lease short enough to expire while a check polls for it.
const SHORT: Duration = Duration::from_millis(150);

const ALICE: &str = "alice@host-a pid 101";
const BOB: &str = "bob@host-b pid 202";

/// A fresh store holds no runs, steps, cache entries or schedule firings.
pub fn fresh_store_is_empty(open: Open<'_>) {
    let store = open();
    assert_eq!(must(store.runs(), "runs"), vec![]);
    assert_eq!(must(store.run("r1"), "run"), None);
    assert_eq!(
        must(
            store.runs_of("deploy", &[WfRunStatus::Running, WfRunStatus::Queued]),
            "runs_of"
        ),
        vec![]
    );
    assert_eq!(must(store.steps("r1"), "steps"), vec![]);
    assert_eq!(
        must(
            store.cache_get("deploy", "build", "k", "1970-01-01T00:00:00Z"),
            "cache_get"
        ),
        None
    );
    assert_eq!(
        must(store.schedule_last("deploy", "nightly"), "schedule_last"),
        None
    );
    match store.claim("r1", ALICE, LONG) {
        Err(StateError::NoSuchRun(id)) => assert_eq!(id, "r1"),
        other => panic!("claim of a run never created: expected NoSuchRun, got {other:?}"),
    }
}

/// A run is read back exactly as created (from another handle too, and after its creator's
/// handle is gone); `runs` lists them oldest first (by start time, then id) whatever the order
/// they were created in; `runs_of` picks a workflow's runs with the given statuses.
pub fn runs_are_recorded_and_listed_oldest_first(open: Open<'_>) {
    let mut full = run(
        "r-b",
        "deploy",
        WfRunStatus::Running,
        "2024-05-01T12:00:00Z",
    );
    full.inputs = r#"{"env":"prod","n":1}"#.to_string();
    full.definition = r#"{"deploy.wf":"step \"a\" {}"}"#.to_string();
    full.finished_at = Some("2024-05-01T12:30:00Z".to_string());
    full.on_failure = "halt".to_string();
    full.parent = Some("r-parent".to_string());
    full.parent_step = Some("child[\"x\"]".to_string());
    full.note = Some("a note".to_string());
    let created = [
        full.clone(),
        run("r-c", "deploy", WfRunStatus::Queued, "2024-05-01T13:00:00Z"),
        run(
            "r-a",
            "deploy",
            WfRunStatus::Succeeded,
            "2024-05-01T12:00:00Z",
        ),
        run(
            "r-0",
            "backup",
            WfRunStatus::Running,
            "2024-05-01T11:00:00Z",
        ),
    ];
    {
        let creator = open();
        for r in &created {
            let claim = must(creator.create_run(r, ALICE, LONG), "create_run");
            assert_eq!(claim.run_id, r.id);
            assert_eq!(claim.holder, ALICE);
        }
    }
    let store = open();
    assert_eq!(must(store.run("r-b"), "run"), Some(full));
    let ids = |runs: Vec<WfRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(must(store.runs(), "runs")),
        ["r-0", "r-a", "r-b", "r-c"],
        "oldest first, then by id"
    );
    assert_eq!(
        must(store.runs(), "runs")[2],
        created[0],
        "runs() returns whole runs"
    );
    assert_eq!(
        ids(must(
            store.runs_of("deploy", &[WfRunStatus::Running, WfRunStatus::Queued]),
            "runs_of"
        )),
        ["r-b", "r-c"]
    );
    assert_eq!(
        ids(must(
            store.runs_of("deploy", &[WfRunStatus::Succeeded]),
            "runs_of"
        )),
        ["r-a"]
    );
    assert_eq!(
        ids(must(
            store.runs_of("backup", &[WfRunStatus::Running]),
            "runs_of"
        )),
        ["r-0"]
    );
    assert_eq!(
        ids(must(
            store.runs_of("deploy", &[WfRunStatus::Failed]),
            "runs_of"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(must(store.runs_of("deploy", &[]), "runs_of")),
        Vec::<String>::new(),
        "no status asked for, no run"
    );
}

/// Creating a run whose id exists fails and leaves the first run (and its claim) as it was.
pub fn a_run_id_is_recorded_once(open: Open<'_>) {
    let store = open();
    let first = run("r1", "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z");
    let claim = must(store.create_run(&first, ALICE, LONG), "create_run");
    let again = run("r1", "other", WfRunStatus::Queued, "2024-05-02T12:00:00Z");
    assert!(
        open().create_run(&again, BOB, LONG).is_err(),
        "a second run with the same id is refused"
    );
    assert_eq!(must(store.run("r1"), "run"), Some(first));
    must(
        store.put_step(&claim, &WfStep::new("r1", "a", "a", "command")),
        "the first claim still writes",
    );
}

/// While one handle holds a run's claim, another handle's claim is refused with `Claimed`
/// naming the holder and when the claim expires. The holder itself may claim again, with a
/// bigger token, which fences its older one. Once released, the run is claimed at once by
/// someone else, with a bigger token still; a released claim cannot be renewed.
pub fn a_live_claim_is_exclusive_across_handles(open: Open<'_>) {
    let a = open();
    let b = open();
    let first = must(
        a.create_run(
            &run("r1", "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
            ALICE,
            LONG,
        ),
        "create_run",
    );
    let before = stamp::now_rfc3339();
    match b.claim("r1", BOB, LONG) {
        Err(StateError::Claimed { run, holder }) => {
            assert_eq!(run, "r1");
            let WfClaimHolder { holder, expires_at } = *holder;
            assert_eq!(holder, ALICE);
            assert!(
                expires_at > before,
                "the claim expires in the future: {expires_at} (now {before})"
            );
        }
        other => panic!("expected Claimed by {ALICE}, got {other:?}"),
    }
    match b.claim("r2", BOB, LONG) {
        Err(StateError::NoSuchRun(id)) => assert_eq!(id, "r2"),
        other => panic!("expected NoSuchRun, got {other:?}"),
    }

    let again = must(a.claim("r1", ALICE, LONG), "the holder claims again");
    assert!(again.token > first.token, "{first:?} then {again:?}");
    claim_lost(
        a.put_step(&first, &WfStep::new("r1", "x", "x", "command")),
        "r1",
        first.token,
        "a write with the holder's older token",
    );
    assert_eq!(
        must(b.run("r1"), "run").map(|r| r.status),
        Some(WfRunStatus::Running),
        "a claim by the live holder does not interrupt its run"
    );

    must(a.release(&again), "release");
    claim_lost(
        a.renew(&again, LONG),
        "r1",
        again.token,
        "renewing a released claim",
    );
    let theirs = must(b.claim("r1", BOB, LONG), "claim after the release");
    assert_eq!(theirs.holder, BOB);
    assert!(theirs.token > again.token, "{again:?} then {theirs:?}");
    claim_lost(
        a.put_step(&again, &WfStep::new("r1", "x", "x", "command")),
        "r1",
        again.token,
        "a write with the released claim after a new claim",
    );
    must(
        b.put_step(&theirs, &WfStep::new("r1", "x", "x", "command")),
        "the new holder writes",
    );
}

/// A holder that stops renewing loses its run: after its short lease expires (polled for,
/// bounded), another handle claims the run with a bigger token and finds it `Interrupted`.
/// Every write of the old holder is then refused with `ClaimLost` and nothing of it lands,
/// while the new holder writes on.
pub fn an_expired_claim_is_taken_over_and_the_old_holder_refused(open: Open<'_>) {
    let a = open();
    let b = open();
    let old = must(
        a.create_run(
            &run("r1", "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
            ALICE,
            SHORT,
        ),
        "create_run",
    );
    let mut started = WfStep::new("r1", "migrate", "migrate", "apply");
    started.attempts = 1;
    // The lease may already have run out: a write is refused only once a newer claim exists.
    must(a.put_step(&old, &started), "put_step before the takeover");

    let new = eventually("the expired claim to be taken over", || {
        match b.claim("r1", BOB, LONG) {
            Ok(c) => Some(c),
            Err(StateError::Claimed { .. }) => None,
            Err(e) => panic!("claim failed: {e} ({e:?})"),
        }
    });
    assert_eq!(new.holder, BOB);
    assert!(
        new.token > old.token,
        "a takeover gets a bigger token: {old:?} then {new:?}"
    );
    for store in [&a, &b] {
        assert_eq!(
            must(store.run("r1"), "run").map(|r| r.status),
            Some(WfRunStatus::Interrupted),
            "a running run whose holder's lease expired is interrupted"
        );
    }

    let mut finished = started.clone();
    finished.status = WfStepStatus::Succeeded;
    let t = old.token;
    claim_lost(a.put_step(&old, &finished), "r1", t, "put_step");
    claim_lost(
        a.set_run_status(&old, WfRunStatus::Succeeded, None),
        "r1",
        t,
        "set_run_status",
    );
    claim_lost(
        a.cache_put(&old, "deploy", "migrate", "k", "{}"),
        "r1",
        t,
        "cache_put",
    );
    claim_lost(
        a.limit_acquire(&old, "db", 1, "migrate").map(|_| ()),
        "r1",
        t,
        "limit_acquire",
    );
    claim_lost(
        a.limit_release(&old, "db", "migrate"),
        "r1",
        t,
        "limit_release",
    );
    claim_lost(a.renew(&old, LONG), "r1", t, "renew");
    claim_lost(a.release(&old), "r1", t, "release");
    let steps = must(b.steps("r1"), "steps");
    assert_eq!(
        steps
            .into_iter()
            .map(|s| WfStep { seq: 0, ..s })
            .collect::<Vec<_>>(),
        vec![started],
        "no refused write landed"
    );
    assert_eq!(
        must(
            b.cache_get("deploy", "migrate", "k", "1970-01-01T00:00:00Z"),
            "cache_get"
        ),
        None
    );
    assert_eq!(
        must(b.run("r1"), "run").map(|r| r.status),
        Some(WfRunStatus::Interrupted)
    );
    // The claim is still the new holder's: a claim by the old one is refused.
    match a.claim("r1", ALICE, LONG) {
        Err(StateError::Claimed { holder, .. }) => assert_eq!(holder.holder, BOB),
        other => panic!("expected Claimed by {BOB}, got {other:?}"),
    }

    must(b.put_step(&new, &finished), "the new holder writes");
    must(
        b.set_run_status(&new, WfRunStatus::Running, None),
        "the new holder resumes the run",
    );
    assert_eq!(
        must(a.steps("r1"), "steps")
            .into_iter()
            .map(|s| s.status)
            .collect::<Vec<_>>(),
        [WfStepStatus::Succeeded]
    );
}

/// Only a run left `Running` becomes `Interrupted` when claimed after its holder's lease
/// expired or its claim was released: a queued, waiting or finished run keeps its status.
pub fn a_takeover_interrupts_only_a_running_run(open: Open<'_>) {
    let a = open();
    let b = open();
    let create = |id: &str, status: WfRunStatus, lease: Duration| {
        must(
            a.create_run(
                &run(id, "deploy", status, "2024-05-01T12:00:00Z"),
                ALICE,
                lease,
            ),
            "create_run",
        )
    };
    create("queued", WfRunStatus::Queued, SHORT);
    create("waiting-expired", WfRunStatus::Waiting, SHORT);
    create("running-expired", WfRunStatus::Running, SHORT);
    let waiting = create("waiting", WfRunStatus::Waiting, LONG);
    let running = create("running", WfRunStatus::Running, LONG);
    let failed = create("failed", WfRunStatus::Failed, LONG);
    for c in [&waiting, &running, &failed] {
        must(a.release(c), "release");
    }

    let take = |id: &str| {
        eventually(&format!("the claim of {id} to be free"), || {
            match b.claim(id, BOB, LONG) {
                Ok(c) => Some(c),
                Err(StateError::Claimed { .. }) => None,
                Err(e) => panic!("claim of {id} failed: {e} ({e:?})"),
            }
        })
    };
    for (id, expected) in [
        ("queued", WfRunStatus::Queued),
        ("waiting-expired", WfRunStatus::Waiting),
        ("running-expired", WfRunStatus::Interrupted),
        ("waiting", WfRunStatus::Waiting),
        ("running", WfRunStatus::Interrupted),
        ("failed", WfRunStatus::Failed),
    ] {
        let claim = take(id);
        assert_eq!(claim.holder, BOB);
        assert_eq!(
            must(a.run(id), "run").map(|r| r.status),
            Some(expected),
            "run {id} after its claim was taken"
        );
    }
}

/// Renewing pushes the expiry: a claim taken with a short lease and renewed with a long one is
/// still refused to others well after the short lease would have run out, and reports the new
/// expiry. A claim that was taken over cannot be renewed.
pub fn renewing_pushes_the_expiry(open: Open<'_>) {
    let a = open();
    let b = open();
    let claim = must(
        a.create_run(
            &run("r1", "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
            ALICE,
            SHORT,
        ),
        "create_run",
    );
    // Even if the short lease already ran out, nobody has claimed the run: renewal works.
    must(a.renew(&claim, LONG), "renew");
    std::thread::sleep(2 * SHORT);
    let later = stamp::rfc3339_utc(SystemTime::now() + LONG / 2);
    match b.claim("r1", BOB, LONG) {
        Err(StateError::Claimed { holder, .. }) => {
            assert_eq!(holder.holder, ALICE);
            assert!(
                holder.expires_at > later,
                "renewed for an hour: expires at {}, not after {later}",
                holder.expires_at
            );
        }
        other => panic!("expected Claimed by the renewed holder, got {other:?}"),
    }
    must(
        a.put_step(&claim, &WfStep::new("r1", "a", "a", "command")),
        "the renewed holder writes",
    );

    // Renewed with a short lease again, it expires and is taken over; renewal then fails.
    must(a.renew(&claim, SHORT), "renew short");
    let theirs = eventually("the renewed short lease to expire", || {
        b.claim("r1", BOB, LONG).ok()
    });
    claim_lost(
        a.renew(&claim, LONG),
        "r1",
        claim.token,
        "renewing a lost claim",
    );
    must(b.renew(&theirs, LONG), "the new holder renews");
}

/// `set_run_status` sets the status; a final status stamps `finished_at` (and a non-final one
/// clears it, as a rolled-back-to-running run is not finished); a note replaces the last one,
/// and no note keeps it.
pub fn run_status_sets_the_finish_time_and_the_note(open: Open<'_>) {
    let store = open();
    let claim = must(
        store.create_run(
            &run("r1", "deploy", WfRunStatus::Queued, "2024-05-01T12:00:00Z"),
            ALICE,
            LONG,
        ),
        "create_run",
    );
    let read = || match must(open().run("r1"), "run") {
        Some(r) => r,
        None => panic!("run r1 is gone"),
    };
    must(
        store.set_run_status(&claim, WfRunStatus::Running, None),
        "set_run_status",
    );
    let r = read();
    assert_eq!(
        (r.status, r.finished_at, r.note),
        (WfRunStatus::Running, None, None)
    );

    let before = stamp::now_rfc3339();
    must(
        store.set_run_status(
            &claim,
            WfRunStatus::Failed,
            Some("step migrate failed: exit 2"),
        ),
        "set_run_status",
    );
    let r = read();
    assert_eq!(r.status, WfRunStatus::Failed);
    assert_eq!(r.note.as_deref(), Some("step migrate failed: exit 2"));
    match &r.finished_at {
        Some(t) => assert!(
            *t >= before && t.ends_with('Z'),
            "finished at {t}, not before {before}"
        ),
        None => panic!("a final status stamps finished_at: {r:?}"),
    }

    must(
        store.set_run_status(&claim, WfRunStatus::Running, None),
        "set_run_status",
    );
    let r = read();
    assert_eq!(r.status, WfRunStatus::Running);
    assert_eq!(r.finished_at, None, "a running run is not finished");
    assert_eq!(
        r.note.as_deref(),
        Some("step migrate failed: exit 2"),
        "no note keeps the last one"
    );

    must(
        store.set_run_status(&claim, WfRunStatus::RolledBack, Some("rolled back")),
        "set_run_status",
    );
    let r = read();
    assert_eq!(r.status, WfRunStatus::RolledBack);
    assert_eq!(r.note.as_deref(), Some("rolled back"));
    assert!(r.finished_at.is_some());
}

/// Step instances are listed in the order they were first recorded; replacing one keeps its
/// `seq` (whatever `seq` the caller passes) and replaces everything else; every field is read
/// back exactly. Each run has its own steps. A write for a run needs that run's claim; a write
/// for a run that does not exist is `NoSuchRun`.
pub fn steps_keep_the_seq_of_their_first_insert(open: Open<'_>) {
    let store = open();
    let r1 = must(
        store.create_run(
            &run("r1", "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
            ALICE,
            LONG,
        ),
        "create_run",
    );
    let r2 = must(
        store.create_run(
            &run("r2", "deploy", WfRunStatus::Running, "2024-05-01T12:00:01Z"),
            ALICE,
            LONG,
        ),
        "create_run",
    );
    let mut migrate = WfStep::new("r1", "migrate", "migrate", "apply");
    migrate.seq = 99;
    let smoke_a = WfStep::new("r1", "smoke[\"https://a\"]", "smoke", "command");
    let smoke_0 = WfStep::new("r1", "smoke[0]", "smoke", "command");
    must(store.put_step(&r1, &migrate), "put migrate");
    must(
        store.put_step(&r2, &WfStep::new("r2", "other", "other", "command")),
        "put r2's step",
    );
    must(store.put_step(&r1, &smoke_a), "put smoke a");
    must(store.put_step(&r1, &smoke_0), "put smoke 0");

    let first = must(open().steps("r1"), "steps");
    let keys: Vec<&str> = first.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["migrate", "smoke[\"https://a\"]", "smoke[0]"]);
    assert!(
        first.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq grows in insert order: {first:?}"
    );

    let full = WfStep {
        run_id: "r1".to_string(),
        key: "migrate".to_string(),
        step: "migrate".to_string(),
        kind: "apply".to_string(),
        seq: 0,
        status: WfStepStatus::RollbackFailed,
        attempts: 3,
        started_at: Some("2024-05-01T12:00:00Z".to_string()),
        finished_at: Some("2024-05-01T12:01:00Z".to_string()),
        duration_ms: Some(60_000),
        inputs: Some(r#"{"n":1}"#.to_string()),
        outputs: Some(r#"{"id":"i-1"}"#.to_string()),
        exit_code: Some(-1),
        stdout: Some("out\nlines".to_string()),
        stderr: Some("err".to_string()),
        error: Some("boom".to_string()),
        child_run: Some("r-child".to_string()),
        child_store: Some("stacks/app/.baton/state.db".to_string()),
        next_attempt_at: Some("2024-05-01T12:02:00Z".to_string()),
        approval: Some(r#"{"approved":true}"#.to_string()),
    };
    must(store.put_step(&r1, &full), "replace migrate");
    let mut smoke_done = smoke_a.clone();
    smoke_done.status = WfStepStatus::Succeeded;
    must(store.put_step(&r1, &smoke_done), "replace smoke a");

    let after = must(open().steps("r1"), "steps");
    assert_eq!(
        after,
        vec![
            WfStep {
                seq: first[0].seq,
                ..full
            },
            WfStep {
                seq: first[1].seq,
                ..smoke_done
            },
            first[2].clone(),
        ],
        "replaced in place, each keeping its first seq"
    );
    let replaced_back = WfStep::new("r1", "migrate", "migrate", "apply");
    must(store.put_step(&r1, &replaced_back), "replace migrate again");
    assert_eq!(
        must(store.steps("r1"), "steps")[0],
        WfStep {
            seq: first[0].seq,
            ..replaced_back
        },
        "a replacement replaces every field (set ones with none too)"
    );
    assert_eq!(
        must(store.steps("r2"), "steps")
            .iter()
            .map(|s| s.key.as_str())
            .collect::<Vec<_>>(),
        ["other"]
    );

    claim_lost(
        store.put_step(&r2, &WfStep::new("r1", "x", "x", "command")),
        "r1",
        r2.token,
        "a step of r1 written with r2's claim",
    );
    let nowhere = WfClaim {
        run_id: "r9".to_string(),
        holder: ALICE.to_string(),
        token: r1.token,
    };
    match store.put_step(&nowhere, &WfStep::new("r9", "x", "x", "command")) {
        Err(StateError::NoSuchRun(id)) => assert_eq!(id, "r9"),
        other => panic!("a step of a run never created: expected NoSuchRun, got {other:?}"),
    }
    assert_eq!(must(store.steps("r9"), "steps"), vec![]);
}

/// An approval is recorded, without a claim (from another handle, while the run's holder
/// keeps its claim), only for an approval step that is waiting and not yet decided; the
/// step's status is left to the workflow layer. Any other step is `NotWaiting`; an unknown
/// run is `NoSuchRun`. Once the workflow layer puts the step back to waiting without a
/// decision, it may be decided again.
pub fn an_approval_is_recorded_only_while_waiting(open: Open<'_>) {
    let runner = open();
    let approver = open();
    let claim = must(
        runner.create_run(
            &run("r1", "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
            ALICE,
            LONG,
        ),
        "create_run",
    );
    let gate = WfStep::new("r1", "gate", "gate", "approval");
    must(runner.put_step(&claim, &gate), "put the started gate");
    let mut waiting_command = WfStep::new("r1", "retry", "retry", "command");
    waiting_command.status = WfStepStatus::Waiting;
    must(
        runner.put_step(&claim, &waiting_command),
        "put a waiting command",
    );

    let not_waiting = |r: Result<(), StateError>, key: &str, what: &str| match r {
        Err(StateError::NotWaiting { run, key: k }) => {
            assert_eq!((run.as_str(), k.as_str()), ("r1", key), "{what}");
        }
        other => panic!("{what}: expected NotWaiting, got {other:?}"),
    };
    let yes = r#"{"approved":true,"by":"carol","reason":null}"#;
    not_waiting(
        approver.decide_approval("r1", "gate", yes),
        "gate",
        "an approval step that is not waiting",
    );
    not_waiting(
        approver.decide_approval("r1", "retry", yes),
        "retry",
        "a waiting step that is not an approval",
    );
    not_waiting(
        approver.decide_approval("r1", "nope", yes),
        "nope",
        "a step never recorded",
    );
    match approver.decide_approval("r9", "gate", yes) {
        Err(StateError::NoSuchRun(id)) => assert_eq!(id, "r9"),
        other => panic!("an approval for a run never created: expected NoSuchRun, got {other:?}"),
    }

    let mut waiting_gate = gate.clone();
    waiting_gate.status = WfStepStatus::Waiting;
    must(
        runner.put_step(&claim, &waiting_gate),
        "put the waiting gate",
    );
    must(approver.decide_approval("r1", "gate", yes), "decide");
    let steps = must(runner.steps("r1"), "steps");
    let Some(decided) = steps.iter().find(|s| s.key == "gate") else {
        panic!("the gate step is gone: {steps:?}");
    };
    assert_eq!(decided.approval.as_deref(), Some(yes));
    assert_eq!(
        decided.status,
        WfStepStatus::Waiting,
        "the status is the workflow layer's"
    );
    assert_eq!(
        must(runner.run("r1"), "run").map(|r| r.status),
        Some(WfRunStatus::Running)
    );
    not_waiting(
        approver.decide_approval("r1", "gate", r#"{"approved":false,"by":"dave"}"#),
        "gate",
        "a second decision",
    );
    assert_eq!(
        must(runner.steps("r1"), "steps")
            .iter()
            .find(|s| s.key == "gate")
            .and_then(|s| s.approval.clone())
            .as_deref(),
        Some(yes),
        "the first decision stands"
    );

    must(
        runner.put_step(&claim, &waiting_gate),
        "put the gate back to waiting, undecided",
    );
    let no = r#"{"approved":false,"by":"dave","reason":"not today"}"#;
    must(approver.decide_approval("r1", "gate", no), "decide again");
    assert_eq!(
        must(runner.steps("r1"), "steps")
            .iter()
            .find(|s| s.key == "gate")
            .and_then(|s| s.approval.clone())
            .as_deref(),
        Some(no)
    );
}

/// `cache_get` returns the newest entry of (workflow, step, key) stored at or after `since`
/// (an RFC 3339 UTC time, compared in that format): none before the first put, the latest put
/// afterwards (with its run and a stored time in the same format), none when `since` is later
/// than it was stored, and nothing for another workflow, step or key.
pub fn the_cache_returns_the_newest_entry_since(open: Open<'_>) {
    let store = open();
    let r1 = must(
        store.create_run(
            &run("r1", "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
            ALICE,
            LONG,
        ),
        "create_run",
    );
    let r2 = must(
        store.create_run(
            &run("r2", "deploy", WfRunStatus::Running, "2024-05-01T12:00:01Z"),
            BOB,
            LONG,
        ),
        "create_run",
    );
    let epoch = "1970-01-01T00:00:00Z";
    let get = |workflow: &str, step: &str, key: &str, since: &str| {
        must(open().cache_get(workflow, step, key, since), "cache_get")
    };
    assert_eq!(get("deploy", "build", "k1", epoch), None);

    let before = stamp::now_rfc3339();
    must(
        store.cache_put(&r1, "deploy", "build", "k1", r#"{"image":"v1"}"#),
        "cache_put",
    );
    let Some(first) = get("deploy", "build", "k1", epoch) else {
        panic!("the entry just put is not found");
    };
    assert_eq!(first.outputs, r#"{"image":"v1"}"#);
    assert_eq!(first.run_id, "r1");
    assert!(
        first.stored_at >= before && first.stored_at <= stamp::now_rfc3339(),
        "stored now: {} (put after {before})",
        first.stored_at
    );
    assert_eq!(
        first.stored_at.len(),
        before.len(),
        "stored in the same format as the time the caller compares with"
    );
    assert_eq!(
        get("deploy", "build", "k1", &first.stored_at),
        Some(first.clone()),
        "an entry stored exactly at `since` counts"
    );
    let later = stamp::rfc3339_utc(SystemTime::now() + Duration::from_secs(3600));
    assert_eq!(get("deploy", "build", "k1", &later), None, "too old");
    assert_eq!(get("deploy", "build", "k2", epoch), None, "another key");
    assert_eq!(get("deploy", "test", "k1", epoch), None, "another step");
    assert_eq!(
        get("backup", "build", "k1", epoch),
        None,
        "another workflow"
    );

    must(
        store.cache_put(&r2, "deploy", "build", "k1", r#"{"image":"v2"}"#),
        "cache_put",
    );
    must(
        store.cache_put(&r1, "deploy", "build", "k2", r#"{"image":"other"}"#),
        "cache_put",
    );
    let newest = get("deploy", "build", "k1", epoch);
    assert_eq!(
        newest
            .as_ref()
            .map(|e| (e.outputs.as_str(), e.run_id.as_str())),
        Some((r#"{"image":"v2"}"#, "r2")),
        "the newest entry: {newest:?}"
    );
    assert_eq!(
        get("deploy", "build", "k2", epoch).map(|e: WfCacheEntry| e.outputs),
        Some(r#"{"image":"other"}"#.to_string())
    );
}

/// A limit has `max` slots: taking one for the same (run, key) again is idempotent; a run
/// whose slot is wanted by a full limit gets false until a slot is released — or freed
/// because its run's claim was released or expired (polled for) or its run is final. A live
/// claim's slot is never freed, and a limit of 0 slots is always full.
pub fn limit_slots_are_bounded_and_freed(open: Open<'_>) {
    let a = open();
    let b = open();
    let create = |store: &dyn WorkflowStore, id: &str, lease: Duration| {
        must(
            store.create_run(
                &run(id, "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
                ALICE,
                lease,
            ),
            "create_run",
        )
    };
    let r1 = create(&*a, "r1", LONG);
    let r2 = create(&*b, "r2", LONG);
    let acquire = |store: &dyn WorkflowStore, c: &WfClaim, limit: &str, max: u32, key: &str| {
        must(store.limit_acquire(c, limit, max, key), "limit_acquire")
    };

    // Two slots; a second acquisition of the same (run, key) does not take another.
    assert!(acquire(&*a, &r1, "db", 2, "migrate"));
    assert!(acquire(&*a, &r1, "db", 2, "migrate"), "idempotent");
    assert!(acquire(&*b, &r2, "db", 2, "migrate"), "the second slot");
    assert!(!acquire(&*a, &r1, "db", 2, "seed"), "full");
    assert!(!acquire(&*b, &r2, "db", 2, "seed"), "full for everyone");
    assert!(acquire(&*b, &r2, "db", 2, "migrate"), "still held");
    assert!(acquire(&*a, &r1, "other", 1, "seed"), "another limit");
    assert!(!acquire(&*a, &r1, "none", 0, "x"), "a limit of no slots");

    must(a.limit_release(&r1, "db", "migrate"), "limit_release");
    must(a.limit_release(&r1, "db", "migrate"), "releasing twice");
    assert!(
        acquire(&*a, &r1, "db", 2, "seed"),
        "a released slot is free"
    );
    assert!(!acquire(&*b, &r2, "db", 2, "seed"), "full again");

    // A final run's slots are freed.
    let r3 = create(&*a, "r3", LONG);
    assert!(acquire(&*a, &r3, "final", 1, "k"));
    assert!(!acquire(&*b, &r2, "final", 1, "k"));
    must(
        a.set_run_status(&r3, WfRunStatus::Succeeded, None),
        "set_run_status",
    );
    assert!(
        acquire(&*b, &r2, "final", 1, "k"),
        "freed: its run is final"
    );

    // A released claim's slots are freed.
    let r4 = create(&*a, "r4", LONG);
    assert!(acquire(&*a, &r4, "released", 1, "k"));
    assert!(!acquire(&*b, &r2, "released", 1, "k"));
    must(a.release(&r4), "release");
    assert!(
        acquire(&*b, &r2, "released", 1, "k"),
        "freed: its run's claim was released"
    );

    // An expired claim's slots are freed once its lease runs out.
    let r5 = create(&*a, "r5", SHORT);
    assert!(acquire(&*a, &r5, "expired", 1, "k"));
    eventually("the slot of an expired claim to be freed", || {
        acquire(&*b, &r2, "expired", 1, "k").then_some(())
    });
    assert!(
        !acquire(&*a, &r1, "expired", 1, "k"),
        "r2 holds it now: its claim is live"
    );
}

/// A schedule records a slot only if it has not fired for that slot or a later one: the first
/// firing of a slot is recorded (true), a repeat or an earlier slot is not (false), and
/// `schedule_last` reports the latest. Schedules are independent of each other.
pub fn a_schedule_fires_once_per_slot(open: Open<'_>) {
    let store = open();
    let other = open();
    let t1 = "2024-05-01T12:00:00Z";
    let t2 = "2024-05-01T13:00:00Z";
    let t0 = "2024-05-01T11:00:00Z";
    assert_eq!(
        must(store.schedule_last("deploy", "hourly"), "schedule_last"),
        None
    );
    assert!(must(store.schedule_fire("deploy", "hourly", t1), "fire"));
    assert!(
        !must(other.schedule_fire("deploy", "hourly", t1), "fire"),
        "again"
    );
    assert!(
        !must(other.schedule_fire("deploy", "hourly", t0), "fire"),
        "an earlier slot"
    );
    assert_eq!(
        must(other.schedule_last("deploy", "hourly"), "schedule_last").as_deref(),
        Some(t1)
    );
    assert!(must(other.schedule_fire("deploy", "hourly", t2), "fire"));
    assert_eq!(
        must(store.schedule_last("deploy", "hourly"), "schedule_last").as_deref(),
        Some(t2)
    );
    assert!(
        must(store.schedule_fire("deploy", "nightly", t0), "fire"),
        "another schedule"
    );
    assert!(
        must(store.schedule_fire("backup", "hourly", t0), "fire"),
        "another workflow's schedule"
    );
    assert_eq!(
        must(store.schedule_last("deploy", "hourly"), "schedule_last").as_deref(),
        Some(t2)
    );
}

/// Four agents (threads, two per handle) fire the same schedule's slots in order, starting
/// together: every slot is recorded by exactly one of them.
pub fn racing_agents_fire_each_slot_once(open: Open<'_>) {
    const AGENTS: usize = 4;
    const SLOTS: usize = 30;
    let handles: [Arc<dyn WorkflowStore>; 2] = [Arc::from(open()), Arc::from(open())];
    let start = Arc::new(Barrier::new(AGENTS));
    let agents: Vec<_> = (0..AGENTS)
        .map(|n| {
            let store = Arc::clone(&handles[n % 2]);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                (0..SLOTS)
                    .map(|i| must(store.schedule_fire("deploy", "tick", &slot(i)), "fire"))
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let mut fired = [0usize; SLOTS];
    for agent in agents {
        match agent.join() {
            Ok(results) => {
                for (i, recorded) in results.into_iter().enumerate() {
                    fired[i] += usize::from(recorded);
                }
            }
            Err(_) => panic!("an agent thread panicked"),
        }
    }
    assert_eq!(fired, [1; SLOTS], "each slot fired exactly once");
    assert_eq!(
        must(handles[0].schedule_last("deploy", "tick"), "schedule_last"),
        Some(slot(SLOTS - 1))
    );
}

/// Four threads on two handles each advance a run of their own at once: every step lands,
/// each run's steps in the order written, and each run ends with its own status.
pub fn runs_advance_at_once_on_two_handles(open: Open<'_>) {
    const RUNS: usize = 4;
    const STEPS: usize = 20;
    let handles: [Arc<dyn WorkflowStore>; 2] = [Arc::from(open()), Arc::from(open())];
    let workers: Vec<_> = (0..RUNS)
        .map(|n| {
            let store = Arc::clone(&handles[n % 2]);
            std::thread::spawn(move || {
                let id = format!("r{n}");
                let claim = must(
                    store.create_run(
                        &run(&id, "deploy", WfRunStatus::Running, "2024-05-01T12:00:00Z"),
                        &format!("worker {n}"),
                        LONG,
                    ),
                    "create_run",
                );
                for i in 0..STEPS {
                    let mut step = WfStep::new(&id, &format!("s[{i}]"), "s", "command");
                    must(store.put_step(&claim, &step), "put_step");
                    step.status = WfStepStatus::Succeeded;
                    step.attempts = 1;
                    must(store.put_step(&claim, &step), "put_step");
                }
                must(
                    store.set_run_status(&claim, WfRunStatus::Succeeded, None),
                    "set_run_status",
                );
            })
        })
        .collect();
    for w in workers {
        if w.join().is_err() {
            panic!("a worker thread panicked");
        }
    }
    let store = open();
    assert_eq!(must(store.runs(), "runs").len(), RUNS);
    for n in 0..RUNS {
        let id = format!("r{n}");
        let steps = must(store.steps(&id), "steps");
        let keys: Vec<String> = steps.iter().map(|s| s.key.clone()).collect();
        let expected: Vec<String> = (0..STEPS).map(|i| format!("s[{i}]")).collect();
        assert_eq!(keys, expected, "run {id}");
        assert!(steps.iter().all(|s| s.status == WfStepStatus::Succeeded));
        assert!(steps.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(
            must(store.run(&id), "run").map(|r| r.status),
            Some(WfRunStatus::Succeeded)
        );
    }
}

/// A run with nothing optional set.
fn run(id: &str, workflow: &str, status: WfRunStatus, started_at: &str) -> WfRun {
    WfRun {
        id: id.to_string(),
        workflow: workflow.to_string(),
        inputs: "{}".to_string(),
        definition: "{}".to_string(),
        status,
        who: "alice@host-a".to_string(),
        started_at: started_at.to_string(),
        finished_at: None,
        on_failure: "rollback".to_string(),
        parent: None,
        parent_step: None,
        note: None,
    }
}

/// The `i`th slot of a minutely schedule.
fn slot(i: usize) -> String {
    format!("2024-05-01T{:02}:{:02}:00Z", 12 + i / 60, i % 60)
}

#[track_caller]
fn claim_lost<T: std::fmt::Debug>(
    result: Result<T, StateError>,
    run: &str,
    token: u64,
    what: &str,
) {
    match result {
        Err(StateError::ClaimLost { run: r, token: t }) => {
            assert_eq!((r.as_str(), t), (run, token), "{what}");
        }
        other => panic!("{what}: expected ClaimLost, got {other:?}"),
    }
}

/// Polls `f` every 20 ms until it returns a value; panics after 20 s (a bound for a stuck
/// store, not a timing assertion).
#[track_caller]
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[track_caller]
fn must<T>(result: Result<T, StateError>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {e} ({e:?})"),
    }
}
