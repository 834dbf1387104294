//! The conformance suite every [`WorkQueue`] must pass: a task is claimed once and completed
//! under its token, labels decide who may claim, an expired claim is taken over and the old
//! holder's renewal and completion refused, a task whose claims ran out is abandoned, many
//! handles claiming at once take each task once, a submit wakes a waiting handle, workers are
//! listed with their labels and current tasks, a submit is idempotent per run and key,
//! completing and claiming are one step, a run's task is found by its key, and a run whose
//! coordinator's lease ran out is taken over once. It is ordinary code, not `cfg(test)`, so
//! that each queue's crate runs the same checks (see
//! [`queue_conformance!`](crate::queue_conformance)).
//!
//! This is test support: a failed check panics with a message naming what was expected. It
//! must only use the [`WorkQueue`] trait, never a particular queue's internals, and must not
//! assert on how fast anything happens beyond generous bounds (a lease's expiry is polled
//! for, bounded; a wake-up must come well before the wait's timeout, nothing tighter).
//!
//! Every check receives `open`, a function returning a new handle on one fresh, empty queue
//! each time it is called — as another process opening the same queue would.

use crate::queue::{
    parse_labels, Coordinator, NewTask, TaskOutcome, TaskState, WorkQueue, WorkerInfo,
};
use crate::store::StateError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// A function that opens a new handle on the queue under test.
pub type Open<'a> = &'a dyn Fn() -> Box<dyn WorkQueue>;

/// One conformance check.
pub type Check = fn(Open<'_>);

/// `[(name, check)]` from check names.
macro_rules! named {
    ($($check:ident),* $(,)?) => {
        &[$((stringify!($check), $check as Check)),*]
    };
}

/// Every check, by name. [`queue_conformance!`](crate::queue_conformance) makes one test of
/// each.
pub const CHECKS: &[(&str, Check)] = named![
    tasks_are_claimed_once_and_completed,
    labels_decide_who_may_claim,
    an_expired_claim_is_taken_over_and_the_old_completion_refused,
    a_task_whose_claims_ran_out_is_abandoned,
    many_workers_claiming_at_once_take_each_task_once,
    a_submit_wakes_a_waiting_worker,
    a_completion_wakes_a_waiting_run,
    workers_are_listed_with_their_labels_and_current_tasks,
    a_submit_is_idempotent_per_run_and_key,
    complete_and_claim_records_and_claims_in_one_step,
    find_task_names_a_runs_task_by_key,
    an_orphaned_run_is_taken_over_once,
];

/// Runs every check, each on a queue of its own from `new_queue` (which returns an opener for
/// a fresh, empty queue each time it is called).
pub fn run_all(new_queue: &dyn Fn() -> Box<dyn Fn() -> Box<dyn WorkQueue>>) {
    for (name, check) in CHECKS {
        eprintln!("queue conformance: {name}");
        let open = new_queue();
        check(&*open);
    }
}

/// Defines one `#[test]` per conformance check. `$new_queue` is an expression evaluated once
/// per test, returning an opener for a fresh, empty queue
/// (`Box<dyn Fn() -> Box<dyn WorkQueue>>`).
///
/// ```text
/// mod queue_conformance {
///     baton_state::queue_conformance!(super::new_queue());
/// }
/// ```
#[macro_export]
macro_rules! queue_conformance {
    ($new_queue:expr) => {
        $crate::queue_conformance!(@each $new_queue;
            tasks_are_claimed_once_and_completed,
            labels_decide_who_may_claim,
            an_expired_claim_is_taken_over_and_the_old_completion_refused,
            a_task_whose_claims_ran_out_is_abandoned,
            many_workers_claiming_at_once_take_each_task_once,
            a_submit_wakes_a_waiting_worker,
            a_completion_wakes_a_waiting_run,
            workers_are_listed_with_their_labels_and_current_tasks,
            a_submit_is_idempotent_per_run_and_key,
            complete_and_claim_records_and_claims_in_one_step,
            find_task_names_a_runs_task_by_key,
            an_orphaned_run_is_taken_over_once,
        );
    };
    (@each $new_queue:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let open = $new_queue;
                $crate::queue_conformance::$check(&*open);
            }
        )*

        #[test]
        fn every_check_is_run() {
            let run: Vec<&str> = vec![$(stringify!($check)),*];
            let all: Vec<&str> = $crate::queue_conformance::CHECKS
                .iter()
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(run, all, "queue_conformance! and CHECKS disagree");
        }
    };
}

/// A lease no check outlives: a claim taken with it stays live throughout.
const LONG: Duration = Duration::from_secs(3600);
/// A lease short enough to expire while a check polls for it.
const SHORT: Duration = Duration::from_millis(150);

fn task(run: &str, key: &str, run_on: &str) -> NewTask {
    NewTask {
        run_id: run.to_string(),
        key: key.to_string(),
        kind: "command".to_string(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        run_on: labels(run_on),
        max_claims: 3,
    }
}

fn worker(id: &str, l: &str) -> WorkerInfo {
    WorkerInfo {
        id: id.to_string(),
        host: "test".to_string(),
        pid: std::process::id(),
        labels: labels(l),
        concurrency: 1,
    }
}

fn labels(s: &str) -> BTreeMap<String, String> {
    match parse_labels(s) {
        Ok(l) => l,
        Err(e) => panic!("bad labels {s:?} in a check: {e}"),
    }
}

/// Submits one task and returns its id.
fn submit_one(q: &dyn WorkQueue, t: NewTask) -> u64 {
    let ids = must(q.submit(&[t]), "submit");
    assert_eq!(ids.len(), 1, "one id per submitted task");
    ids[0]
}

/// Each task is claimed by one claim at a time, oldest first, with its payload and token 1 on
/// its first claim; outcomes list only finished tasks; a completion is recorded with its
/// worker and result, and `tasks` shows each task's state, holder and claim log, from another
/// handle too.
pub fn tasks_are_claimed_once_and_completed(open: Open<'_>) {
    let q = open();
    let ids = must(
        q.submit(&[task("r1", "a", ""), task("r1", "b", "")]),
        "submit",
    );
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "ids grow in submission order: {ids:?}");
    let counts = |q: &dyn WorkQueue| {
        let c = must(q.counts(), "counts");
        (c.queued, c.running, c.reclaims)
    };
    assert_eq!(counts(&*q), (2, 0, 0), "two tasks wait");
    let w = worker("w1", "");
    let a = must(q.claim(&w, LONG), "claim").expect("task a to claim");
    assert_eq!(counts(&*q), (1, 1, 0), "one waits, one runs");
    assert_eq!((a.key.as_str(), a.claims, a.token), ("a", 1, 1));
    assert_eq!(
        (a.id, a.run_id.as_str(), a.kind.as_str()),
        (ids[0], "r1", "command")
    );
    assert_eq!(a.payload, "{\"key\":\"a\"}");
    let b = must(open().claim(&w, LONG), "claim").expect("task b to claim");
    assert_eq!(b.key, "b");
    assert!(
        must(q.claim(&w, LONG), "claim").is_none(),
        "both tasks are held"
    );
    assert!(must(q.outcomes(&ids), "outcomes").is_empty());
    assert!(must(
        q.complete(a.id, a.token, "w1", "{\"ok\":true}"),
        "complete"
    ));
    // A retried completion (its reply was lost) is accepted again, recording nothing new.
    assert!(must(
        q.complete(a.id, a.token, "w1", "{\"ok\":true}"),
        "complete again"
    ));
    let done = TaskOutcome::Done {
        worker: "w1".to_string(),
        result: "{\"ok\":true}".to_string(),
    };
    assert_eq!(
        must(q.outcomes(&ids), "outcomes"),
        vec![(a.id, done.clone())]
    );
    assert_eq!(
        must(open().outcomes(&[a.id]), "outcomes"),
        vec![(a.id, done)]
    );
    let rows = must(open().tasks("r1"), "tasks");
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].id, rows[0].key.as_str()), (a.id, "a"));
    assert_eq!(rows[0].state, TaskState::Done);
    assert_eq!(rows[0].worker.as_deref(), Some("w1"));
    assert!(rows[0].finished_at.is_some());
    assert_eq!(rows[0].claim_log.len(), 1);
    assert_eq!(rows[0].claim_log[0].0, "w1");
    assert_eq!(rows[1].state, TaskState::Running);
    assert_eq!(rows[1].worker.as_deref(), Some("w1"));
    assert_eq!(rows[1].finished_at, None);
    assert_eq!(rows[1].claims, 1);
    assert!(!rows[1].submitted_at.is_empty());
    assert!(must(q.tasks("r-other"), "tasks").is_empty());
}

/// A task is claimed only by a worker carrying every label it requires.
pub fn labels_decide_who_may_claim(open: Open<'_>) {
    let q = open();
    submit_one(&*q, task("r", "eu-only", "zone=eu,disk=ssd"));
    for (who, l) in [
        ("us", "zone=us,disk=ssd"),
        ("eu-hdd", "zone=eu"),
        ("none", ""),
    ] {
        assert!(
            must(q.claim(&worker(who, l), LONG), "claim").is_none(),
            "a worker with labels {l:?} took a task requiring zone=eu,disk=ssd"
        );
    }
    let eu = worker("eu", "zone=eu,disk=ssd,gpu=yes");
    let t = must(q.claim(&eu, LONG), "claim").expect("the eu worker to claim the task");
    assert_eq!(t.key, "eu-only");
    // A task without labels goes to anyone.
    submit_one(&*q, task("r", "anywhere", ""));
    let t = must(q.claim(&worker("none", ""), LONG), "claim").expect("a task for anyone");
    assert_eq!(t.key, "anywhere");
}

/// Once a claim's lease ran out, another worker claims the task (claim 2, token 2); the old
/// holder can neither renew nor complete it, the new one can; the claim log names both.
pub fn an_expired_claim_is_taken_over_and_the_old_completion_refused(open: Open<'_>) {
    let q = open();
    let ids = must(q.submit(&[task("r", "slow", "")]), "submit");
    let first = must(q.claim(&worker("dead", ""), SHORT), "claim").expect("the task");
    let other = worker("other", "");
    assert!(
        must(q.claim(&other, LONG), "claim").is_none(),
        "a live claim is not taken over"
    );
    let second = eventually("the expired claim to be taken over", || {
        must(open().claim(&other, LONG), "claim")
    });
    assert_eq!((second.id, second.claims, second.token), (first.id, 2, 2));
    let c = must(q.counts(), "counts");
    assert_eq!(
        (c.queued, c.running, c.reclaims),
        (0, 1, 1),
        "one reclaim: {c:?}"
    );
    assert!(!must(q.renew(first.id, first.token, LONG), "renew"));
    assert!(!must(
        q.complete(first.id, first.token, "dead", "{}"),
        "complete"
    ));
    assert!(must(q.renew(second.id, second.token, LONG), "renew"));
    assert!(must(
        q.complete(second.id, second.token, "other", "{\"n\":2}"),
        "complete"
    ));
    let rows = must(q.tasks("r"), "tasks");
    let who: Vec<&str> = rows[0].claim_log.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(who, vec!["dead", "other"]);
    assert_eq!(rows[0].claims, 2);
    assert_eq!(
        must(q.outcomes(&ids), "outcomes"),
        vec![(
            first.id,
            TaskOutcome::Done {
                worker: "other".to_string(),
                result: "{\"n\":2}".to_string()
            }
        )]
    );
}

/// A task claimed `max_claims` times whose last lease ran out is never claimed again: it is
/// abandoned, with its claim count as the outcome.
pub fn a_task_whose_claims_ran_out_is_abandoned(open: Open<'_>) {
    let q = open();
    let mut t = task("r", "poison", "");
    t.max_claims = 1;
    let ids = must(q.submit(&[t]), "submit");
    must(q.claim(&worker("w", ""), SHORT), "claim").expect("the task");
    let w2 = worker("w2", "");
    let out = eventually("the task to be abandoned", || {
        assert!(
            must(q.claim(&w2, LONG), "claim").is_none(),
            "a task claimed max_claims times was claimed again"
        );
        let o = must(q.outcomes(&ids), "outcomes");
        (!o.is_empty()).then_some(o)
    });
    assert_eq!(out, vec![(ids[0], TaskOutcome::Abandoned { claims: 1 })]);
    let rows = must(open().tasks("r"), "tasks");
    assert_eq!(rows[0].state, TaskState::Abandoned);
    assert!(rows[0].finished_at.is_some());
}

/// Eight handles (as eight processes) claiming and completing at once take each of 200 tasks
/// exactly once.
pub fn many_workers_claiming_at_once_take_each_task_once(open: Open<'_>) {
    const TASKS: usize = 200;
    const WORKERS: usize = 8;
    let q = open();
    let tasks: Vec<NewTask> = (0..TASKS)
        .map(|i| task("r", &format!("t{i}"), ""))
        .collect();
    must(q.submit(&tasks), "submit");
    let handles: Vec<Box<dyn WorkQueue>> = (0..WORKERS).map(|_| open()).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let start = Arc::new(Barrier::new(WORKERS));
    std::thread::scope(|s| {
        for (n, h) in handles.into_iter().enumerate() {
            let seen = Arc::clone(&seen);
            let start = Arc::clone(&start);
            s.spawn(move || {
                let w = worker(&format!("w{n}"), "");
                start.wait();
                while let Some(t) = must(h.claim(&w, LONG), "claim") {
                    assert!(must(h.complete(t.id, t.token, &w.id, "{}"), "complete"));
                    seen.lock().unwrap_or_else(|p| p.into_inner()).push(t.key);
                }
            });
        }
    });
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), TASKS, "every task done once");
    assert_eq!(unique.len(), TASKS);
    let rows = must(q.tasks("r"), "tasks");
    assert!(rows
        .iter()
        .all(|r| r.state == TaskState::Done && r.claims == 1));
}

/// A handle waiting for work is woken by a submit on another handle well before its wait's
/// timeout (a wake-up check, not a timing assertion).
pub fn a_submit_wakes_a_waiting_worker(open: Open<'_>) {
    let q = open();
    // The first wait subscribes (and may return at once).
    must(q.wait(Duration::from_secs(5)), "subscribe");
    let other = open();
    let submitter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        must(other.submit(&[task("r", "wake", "")]), "submit");
    });
    let start = Instant::now();
    must(q.wait(Duration::from_secs(20)), "wait");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "woken by the submit, not by the 20 s timeout: {:?}",
        start.elapsed()
    );
    if submitter.join().is_err() {
        panic!("the submitter panicked");
    }
    assert!(must(q.claim(&worker("w", ""), LONG), "claim").is_some());
}

/// A run waiting for its tasks is woken by a completion on another handle well before its
/// wait's timeout.
pub fn a_completion_wakes_a_waiting_run(open: Open<'_>) {
    let q = open();
    let id = submit_one(&*q, task("r", "done-soon", ""));
    // The first wait subscribes (and may return at once).
    must(q.wait(Duration::from_secs(5)), "subscribe");
    let other = open();
    let completer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let t = must(other.claim(&worker("w", ""), LONG), "claim").expect("the task");
        assert!(must(other.complete(t.id, t.token, "w", "{}"), "complete"));
    });
    let start = Instant::now();
    // Spurious wake-ups are allowed: wait again until the outcome is there.
    while must(q.outcomes(&[id]), "outcomes").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "woken by the completion, not by the 20 s timeout: {:?}",
            start.elapsed()
        );
        must(q.wait(Duration::from_secs(20)), "wait");
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "woken by the completion, not by the 20 s timeout: {:?}",
        start.elapsed()
    );
    if completer.join().is_err() {
        panic!("the completer panicked");
    }
}

/// Workers register with their labels and heartbeat; the list shows what each holds and goes
/// stale without heartbeats; a deregistered worker is gone.
pub fn workers_are_listed_with_their_labels_and_current_tasks(open: Open<'_>) {
    let q = open();
    assert!(must(q.workers(LONG), "workers").is_empty());
    let w = worker("w-eu", "zone=eu");
    must(q.heartbeat(&w), "register");
    must(q.heartbeat(&w), "heartbeat");
    let idle = worker("w-idle", "");
    must(open().heartbeat(&idle), "register");
    submit_one(&*q, task("r", "x", ""));
    let t = must(q.claim(&w, LONG), "claim").expect("the task");
    let rows = must(open().workers(Duration::from_secs(60)), "workers");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let eu = rows
        .iter()
        .find(|r| r.info.id == "w-eu")
        .expect("w-eu listed");
    assert_eq!(eu.info, w);
    assert!(!eu.stale);
    assert!(!eu.started_at.is_empty() && !eu.heartbeat_at.is_empty());
    assert_eq!(eu.current, vec![(t.id, "r".to_string(), "x".to_string())]);
    let other = rows
        .iter()
        .find(|r| r.info.id == "w-idle")
        .expect("w-idle listed");
    assert!(other.current.is_empty());
    // Without a heartbeat for longer than the liveness window, a worker is stale.
    let stale = eventually("the workers to go stale", || {
        let rows = must(q.workers(Duration::from_millis(1)), "workers");
        rows.iter().all(|r| r.stale).then_some(rows)
    });
    assert_eq!(stale.len(), 2);
    must(q.deregister("w-eu"), "deregister");
    must(q.deregister("w-idle"), "deregister");
    must(
        q.deregister("never-registered"),
        "deregister an unknown worker",
    );
    assert!(must(q.workers(LONG), "workers").is_empty());
}

/// A task submitted again with the run and key of an earlier one is not queued again: the
/// earlier id comes back (also from another handle, also once it is done), in order among new
/// tasks.
pub fn a_submit_is_idempotent_per_run_and_key(open: Open<'_>) {
    let q = open();
    let first = must(
        q.submit(&[task("r", "a", ""), task("r", "b", "")]),
        "submit",
    );
    let mut changed = task("r", "a", "zone=nowhere");
    changed.payload = "{\"other\":true}".to_string();
    let again = must(
        open().submit(&[task("r", "c", ""), changed, task("r2", "a", "")]),
        "submit again",
    );
    assert_eq!(again.len(), 3);
    assert_eq!(again[1], first[0], "the earlier task's id is returned");
    assert!(!first.contains(&again[0]) && !first.contains(&again[2]));
    assert_ne!(again[0], again[2]);
    let rows = must(q.tasks("r"), "tasks");
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, vec!["a", "b", "c"]);
    // The earlier task is as it was submitted (its labels and payload were kept).
    let w = worker("w", "");
    let t = must(q.claim(&w, LONG), "claim").expect("task a");
    assert_eq!((t.id, t.payload.as_str()), (first[0], "{\"key\":\"a\"}"));
    assert!(must(q.complete(t.id, t.token, "w", "{}"), "complete"));
    assert_eq!(
        must(q.submit(&[task("r", "a", "")]), "submit a done task"),
        vec![first[0]]
    );
    assert_eq!(must(q.outcomes(&[first[0]]), "outcomes").len(), 1);
    assert_eq!(must(q.submit(&[]), "submit nothing"), Vec::<u64>::new());
}

/// `complete_and_claim` records the result and claims the next task the worker may take; a
/// lost claim records nothing but the next task is still claimed.
pub fn complete_and_claim_records_and_claims_in_one_step(open: Open<'_>) {
    let q = open();
    let ids = must(
        q.submit(&[
            task("r", "a", ""),
            task("r", "gpu", "gpu=yes"),
            task("r", "b", ""),
        ]),
        "submit",
    );
    let w = worker("w", "");
    let a = must(q.claim(&w, LONG), "claim").expect("task a");
    let (recorded, next) = must(
        q.complete_and_claim((a.id, a.token, "{\"a\":1}"), &w, LONG),
        "complete_and_claim",
    );
    assert!(recorded);
    let b = next.expect("task b claimed next (gpu is not for this worker)");
    assert_eq!((b.id, b.key.as_str(), b.token), (ids[2], "b", 1));
    assert_eq!(
        must(open().outcomes(&[a.id]), "outcomes"),
        vec![(
            a.id,
            TaskOutcome::Done {
                worker: "w".to_string(),
                result: "{\"a\":1}".to_string()
            }
        )]
    );
    // A stale token records nothing; nothing is left for this worker.
    let (recorded, next) = must(
        q.complete_and_claim((b.id, b.token + 1, "{}"), &w, LONG),
        "complete_and_claim",
    );
    assert!(!recorded);
    assert!(next.is_none());
    assert!(must(q.outcomes(&[b.id]), "outcomes").is_empty());
    let (recorded, next) = must(
        q.complete_and_claim((b.id, b.token, "{\"b\":2}"), &w, LONG),
        "complete_and_claim",
    );
    assert!(recorded && next.is_none());
    let rows = must(q.tasks("r"), "tasks");
    let states: Vec<TaskState> = rows.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        vec![TaskState::Done, TaskState::Queued, TaskState::Done]
    );
}

/// `find_task` names the task a run submitted under a key, and nothing else.
pub fn find_task_names_a_runs_task_by_key(open: Open<'_>) {
    let q = open();
    assert_eq!(must(q.find_task("r", "a"), "find_task"), None);
    let ids = must(
        q.submit(&[task("r", "a", ""), task("r2", "a", ""), task("r", "b", "")]),
        "submit",
    );
    let other = open();
    assert_eq!(must(other.find_task("r", "a"), "find_task"), Some(ids[0]));
    assert_eq!(must(other.find_task("r2", "a"), "find_task"), Some(ids[1]));
    assert_eq!(must(other.find_task("r", "b"), "find_task"), Some(ids[2]));
    assert_eq!(must(other.find_task("r2", "b"), "find_task"), None);
    assert_eq!(must(other.find_task("r", "A"), "find_task"), None);
}

/// A coordination record is found by no one while its lease is live and renewed; once it
/// expires exactly one taker gets it (naming itself, leased again); an ended coordination is
/// never taken.
pub fn an_orphaned_run_is_taken_over_once(open: Open<'_>) {
    let q = open();
    assert_eq!(must(q.take_orphan("w1", LONG), "take_orphan"), None);
    let live = coordinator("run-live", "stack", "alice pid 1");
    must(q.coordinate(&live, LONG), "coordinate");
    let ended = coordinator("run-ended", "workflow", "alice pid 2");
    must(q.coordinate(&ended, SHORT), "coordinate");
    must(q.end_coordination("run-ended"), "end_coordination");
    must(
        q.end_coordination("never-coordinated"),
        "end an unknown coordination",
    );
    let dying = coordinator("run-dying", "workflow", "bob pid 3");
    must(q.coordinate(&dying, SHORT), "coordinate");
    // Renewing replaces the record (here with a long lease): not an orphan.
    let renewed = coordinator("run-renewed", "stack", "carol pid 4");
    must(q.coordinate(&renewed, SHORT), "coordinate");
    must(q.coordinate(&renewed, LONG), "renew");

    let handles: Vec<Box<dyn WorkQueue>> = (0..4).map(|_| open()).collect();
    let taken = eventually("the dying run to be taken over", || {
        must(handles[0].take_orphan("w0", LONG), "take_orphan")
    });
    let mut expected = dying.clone();
    expected.holder = "w0".to_string();
    assert_eq!(taken, expected);
    // Taken once: no one else gets it (its new lease is live), nor any other record.
    std::thread::sleep(SHORT * 2);
    std::thread::scope(|s| {
        for (n, h) in handles.iter().enumerate().skip(1) {
            s.spawn(move || {
                let got = must(h.take_orphan(&format!("w{n}"), LONG), "take_orphan");
                assert_eq!(got, None, "a live or ended coordination was taken");
            });
        }
    });
    // The taker's lease runs out in turn: another worker continues.
    must(
        q.coordinate(&expected, SHORT),
        "coordinate with a short lease",
    );
    let again = eventually("the run to be taken over again", || {
        must(handles[1].take_orphan("w1", LONG), "take_orphan")
    });
    assert_eq!(
        (again.run_id.as_str(), again.holder.as_str()),
        ("run-dying", "w1")
    );
    must(q.end_coordination("run-dying"), "end_coordination");
    must(q.end_coordination("run-live"), "end_coordination");
    must(q.end_coordination("run-renewed"), "end_coordination");
    std::thread::sleep(SHORT * 2);
    assert_eq!(must(q.take_orphan("w2", LONG), "take_orphan"), None);
}

fn coordinator(run: &str, kind: &str, holder: &str) -> Coordinator {
    Coordinator {
        run_id: run.to_string(),
        kind: kind.to_string(),
        dir: format!("/srv/{run}"),
        env: "default".to_string(),
        holder: holder.to_string(),
    }
}

/// Calls `f` until it returns something, for at most 20 seconds.
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
