//! The PostgreSQL work queue against a real server: each task is claimed by one worker at a
//! time (also when many claim at once), labels restrict who may claim, an expired claim is
//! taken over and the old holder's completion refused, a task whose claims all ran out is
//! abandoned, NOTIFY wakes a waiting worker, and workers and claim history are listed.

use baton_backend::location::PgTarget;
use baton_backend::pg::queue::PgQueue;
use baton_backend::testing::TestServer;
use baton_state::queue::{parse_labels, NewTask, TaskOutcome, TaskState, WorkQueue, WorkerInfo};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn queue(name: &str) -> (PgTarget, PgQueue) {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    let target = PgTarget::parse(server.url(), Some(&server.fresh_schema(name))).expect("target");
    let q = PgQueue::open(&target).expect("open the queue");
    (target, q)
}

fn task(run: &str, key: &str, run_on: &str) -> NewTask {
    NewTask {
        run_id: run.to_string(),
        key: key.to_string(),
        kind: "command".to_string(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        run_on: parse_labels(run_on).expect("labels"),
        max_claims: 3,
    }
}

fn worker(id: &str, labels: &str) -> WorkerInfo {
    WorkerInfo {
        id: id.to_string(),
        host: "test".to_string(),
        pid: std::process::id(),
        labels: parse_labels(labels).expect("labels"),
        concurrency: 1,
    }
}

#[test]
fn tasks_are_claimed_once_and_completed() {
    let (_, q) = queue("claim_once");
    let ids = q
        .submit(&[task("r1", "a", ""), task("r1", "b", "")])
        .expect("submit");
    assert_eq!(ids.len(), 2);
    let w = worker("w1", "");
    let a = q
        .claim(&w, Duration::from_secs(30))
        .expect("claim")
        .expect("a task");
    assert_eq!((a.key.as_str(), a.claims, a.token), ("a", 1, 1));
    assert!(a.payload.contains("\"a\""));
    let b = q
        .claim(&w, Duration::from_secs(30))
        .expect("claim")
        .expect("b");
    assert_eq!(b.key, "b");
    assert!(q
        .claim(&w, Duration::from_secs(30))
        .expect("claim")
        .is_none());
    assert!(q.outcomes(&ids).expect("outcomes").is_empty());
    assert!(q
        .complete(a.id, a.token, "w1", "{\"ok\":true}")
        .expect("complete"));
    let out = q.outcomes(&ids).expect("outcomes");
    assert_eq!(
        out,
        vec![(
            a.id,
            TaskOutcome::Done {
                worker: "w1".to_string(),
                result: "{\"ok\":true}".to_string()
            }
        )]
    );
    let rows = q.tasks("r1").expect("tasks");
    assert_eq!(rows[0].state, TaskState::Done);
    assert_eq!(rows[1].state, TaskState::Running);
    assert_eq!(rows[1].worker.as_deref(), Some("w1"));
    assert_eq!(rows[0].claim_log.len(), 1);
}

#[test]
fn labels_decide_who_may_claim() {
    let (_, q) = queue("labels");
    q.submit(&[task("r", "eu-only", "zone=eu")])
        .expect("submit");
    let us = worker("us", "zone=us");
    assert!(q
        .claim(&us, Duration::from_secs(30))
        .expect("claim")
        .is_none());
    let eu = worker("eu", "zone=eu,gpu=yes");
    let t = q
        .claim(&eu, Duration::from_secs(30))
        .expect("claim")
        .expect("task");
    assert_eq!(t.key, "eu-only");
}

#[test]
fn an_expired_claim_is_taken_over_and_the_old_completion_refused() {
    let (_, q) = queue("expired");
    let ids = q.submit(&[task("r", "slow", "")]).expect("submit");
    let first = q
        .claim(&worker("dead", ""), Duration::from_millis(200))
        .expect("claim")
        .expect("task");
    assert!(q
        .claim(&worker("other", ""), Duration::from_secs(30))
        .expect("claim")
        .is_none());
    std::thread::sleep(Duration::from_millis(400));
    let second = q
        .claim(&worker("other", ""), Duration::from_secs(30))
        .expect("claim")
        .expect("taken over");
    assert_eq!((second.claims, second.token), (2, 2));
    assert!(!q
        .renew(first.id, first.token, Duration::from_secs(30))
        .expect("renew"));
    assert!(!q
        .complete(first.id, first.token, "dead", "{}")
        .expect("complete"));
    assert!(q
        .renew(second.id, second.token, Duration::from_secs(30))
        .expect("renew"));
    assert!(q
        .complete(second.id, second.token, "other", "{\"n\":2}")
        .expect("complete"));
    let rows = q.tasks("r").expect("tasks");
    let who: Vec<&str> = rows[0].claim_log.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(who, vec!["dead", "other"]);
    assert!(matches!(
        &q.outcomes(&ids).expect("outcomes")[0].1,
        TaskOutcome::Done { worker, .. } if worker == "other"
    ));
}

#[test]
fn a_task_whose_claims_ran_out_is_abandoned() {
    let (_, q) = queue("abandon");
    let mut t = task("r", "poison", "");
    t.max_claims = 1;
    let ids = q.submit(&[t]).expect("submit");
    q.claim(&worker("w", ""), Duration::from_millis(100))
        .expect("claim")
        .expect("task");
    std::thread::sleep(Duration::from_millis(300));
    assert!(q
        .claim(&worker("w2", ""), Duration::from_secs(1))
        .expect("claim")
        .is_none());
    assert_eq!(
        q.outcomes(&ids).expect("outcomes"),
        vec![(ids[0], TaskOutcome::Abandoned { claims: 1 })]
    );
}

#[test]
fn many_workers_claiming_at_once_take_each_task_once() {
    let (target, q) = queue("race");
    let tasks: Vec<NewTask> = (0..200).map(|i| task("r", &format!("t{i}"), "")).collect();
    q.submit(&tasks).expect("submit");
    let seen = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for n in 0..8 {
            let target = target.clone();
            let seen = Arc::clone(&seen);
            s.spawn(move || {
                let q = PgQueue::open(&target).expect("open");
                let w = worker(&format!("w{n}"), "");
                while let Some(t) = q.claim(&w, Duration::from_secs(30)).expect("claim") {
                    assert!(q.complete(t.id, t.token, &w.id, "{}").expect("complete"));
                    seen.lock().expect("lock").push(t.key);
                }
            });
        }
    });
    let seen = seen.lock().expect("lock").clone();
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 200, "every task done once");
    assert_eq!(unique.len(), 200);
}

#[test]
fn a_submit_wakes_a_waiting_worker() {
    let (target, q) = queue("notify");
    // The first wait subscribes and returns at once.
    q.wait(Duration::from_secs(5)).expect("subscribe");
    let submitter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let other = PgQueue::open(&target).expect("open");
        other.submit(&[task("r", "wake", "")]).expect("submit");
    });
    let start = Instant::now();
    q.wait(Duration::from_secs(20)).expect("wait");
    // Woken by the NOTIFY, not by the 20 s timeout.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    submitter.join().expect("submitter");
    assert!(q
        .claim(&worker("w", ""), Duration::from_secs(5))
        .expect("claim")
        .is_some());
}

#[test]
fn workers_are_listed_with_their_labels_and_current_tasks() {
    let (_, q) = queue("workers");
    let w = worker("w-eu", "zone=eu");
    q.heartbeat(&w).expect("register");
    q.heartbeat(&w).expect("heartbeat");
    q.submit(&[task("r", "x", "")]).expect("submit");
    let t = q
        .claim(&w, Duration::from_secs(30))
        .expect("claim")
        .expect("task");
    let rows = q.workers(Duration::from_secs(60)).expect("workers");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].info.labels,
        BTreeMap::from([("zone".into(), "eu".into())])
    );
    assert!(!rows[0].stale);
    assert_eq!(
        rows[0].current,
        vec![(t.id, "r".to_string(), "x".to_string())]
    );
    q.deregister("w-eu").expect("deregister");
    assert!(q
        .workers(Duration::from_secs(60))
        .expect("workers")
        .is_empty());
}
