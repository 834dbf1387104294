//! Applies on workers, end to end against a real PostgreSQL server: an apply of 200
//! `local_file` resources performed by 4 `baton worker` processes, two of them killed with
//! SIGKILL at random moments, completes with every file made once, state equal to reality and
//! every action naming the worker that did it; and an apply whose coordinating process is
//! killed is continued by a worker (`baton resume`) to the same end. Without a server, an
//! apply of 20 files on 2 workers sharing the directory's SQLite queue (`.baton/queue.db`)
//! completes the same way.

mod common;

use baton_backend::testing::TestServer;
use common::{Project, Running};
use serde_json::Value as Json;
use std::time::Duration;

const FILES: &str = r#"variable "n" {
  type    = number
  default = 200
}

resource "local_file" "f" {
  count    = var.n
  filename = "out/f${count.index}.txt"
  content  = "file ${count.index}"
}

output "made" {
  value = length(local_file.f)
}
"#;

fn store(name: &str) -> String {
    let server = TestServer::shared().expect("a PostgreSQL server for tests");
    format!("{}?schema_name={}", server.url(), server.fresh_schema(name))
}

fn worker(p: &Project, store: &str) -> Running {
    p.baton(["worker", "--concurrency", "2", "--lease", "1s"])
        .env("BATON_STORE", store)
        .timeout(Duration::from_secs(240))
        .spawn()
}

/// Waits until `n` workers are registered.
fn wait_for_workers(p: &Project, store: &str, n: usize) {
    for _ in 0..200 {
        let out = p
            .baton(["workers", "--json"])
            .env("BATON_STORE", store)
            .run();
        if out.success() {
            let v: Json = serde_json::from_str(&out.stdout).unwrap_or(Json::Null);
            if v.as_array().is_some_and(|a| a.len() >= n) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{n} workers never registered");
}

/// A pseudo-random number of milliseconds in [lo, hi), from the clock.
fn random_ms(lo: u64, hi: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    lo + (nanos / 1000) % (hi - lo)
}

fn files_made(p: &Project) -> usize {
    std::fs::read_dir(p.join("out"))
        .map(|rd| rd.filter_map(Result::ok).count())
        .unwrap_or(0)
}

/// The newest stack run's actions, as `runs show --json` gives them.
fn actions(p: &Project, store: &str, run: &str) -> Vec<Json> {
    let out = p
        .baton(["runs", "show", run, "--json"])
        .env("BATON_STORE", store)
        .ok();
    let v: Json = serde_json::from_str(&out.stdout).expect("runs show --json");
    v["actions"].as_array().cloned().unwrap_or_default()
}

fn runs(p: &Project, store: &str) -> Vec<Json> {
    let out = p.baton(["runs", "--json"]).env("BATON_STORE", store).ok();
    serde_json::from_str::<Json>(&out.stdout)
        .expect("runs --json")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// State equals reality: nothing to change, every file there once with its content.
fn assert_converged(p: &Project, store: &str) {
    assert_eq!(files_made(p), 200);
    for i in [0, 57, 199] {
        assert_eq!(p.read(&format!("out/f{i}.txt")), format!("file {i}"));
    }
    // The run that continued a dead coordinator's may still be releasing the lock.
    let plan = p
        .baton(["plan", "--detailed-exitcode", "--lock-timeout", "30s"])
        .env("BATON_STORE", store)
        .run();
    assert_eq!(
        plan.code,
        Some(0),
        "no changes expected:\n{}\n{}",
        plan.stdout,
        plan.stderr
    );
}

#[test]
fn an_apply_on_workers_survives_two_killed_workers() {
    let p = Project::new(&[("main.tf", FILES)]);
    let store = store("kill_workers");
    let mut ws: Vec<Running> = (0..4).map(|_| worker(&p, &store)).collect();
    wait_for_workers(&p, &store, 4);
    let apply = p
        .baton([
            "apply",
            "--auto-approve",
            "--executor",
            "workers",
            "--parallelism",
            "16",
        ])
        .env("BATON_STORE", &store)
        .timeout(Duration::from_secs(180))
        .spawn();
    let first = random_ms(50, 400);
    std::thread::sleep(Duration::from_micros(random_ms(1, 997)));
    let second = random_ms(50, 400);
    eprintln!("killing worker 0 after {first} ms and worker 1 {second} ms later");
    std::thread::sleep(Duration::from_millis(first));
    let killed = [ws[0].pid(), ws[1].pid()];
    ws[0].crash();
    std::thread::sleep(Duration::from_millis(second));
    ws[1].crash();
    let out = apply.wait();
    out.assert_success();
    assert!(out.stdout.contains("made = 200"), "{}", out.stdout);
    assert_converged(&p, &store);
    // The journal names who did each action: a live worker finished every one.
    let run = runs(&p, &store)[0]["id"]
        .as_str()
        .expect("run id")
        .to_string();
    let acts = actions(&p, &store, &run);
    assert_eq!(acts.len(), 200);
    let reclaimed = acts
        .iter()
        .filter(|a| a["workers"].as_array().is_some_and(|w| w.len() > 1))
        .count();
    eprintln!("{reclaimed} action(s) were taken over from a killed worker");
    let alive: Vec<String> = [ws[2].pid(), ws[3].pid()]
        .iter()
        .map(|p| format!(":{p}:"))
        .collect();
    for a in &acts {
        assert_eq!(a["status"], "done", "{a}");
        let who = a["workers"].as_array().expect("workers");
        let last = who.last().and_then(Json::as_str).unwrap_or_default();
        let by_killed = killed.iter().any(|k| last.contains(&format!(":{k}:")));
        // The last claim completed it: a killed worker can only be the last if it finished
        // the action before it was killed.
        assert!(
            !last.is_empty() && (by_killed || alive.iter().any(|a| last.contains(a.as_str()))),
            "{a}"
        );
    }
    drop(ws);
}

#[test]
fn a_worker_continues_an_apply_whose_coordinator_died() {
    let p = Project::new(&[("main.tf", FILES)]);
    let store = store("kill_coordinator");
    let _ws: Vec<Running> = (0..2).map(|_| worker(&p, &store)).collect();
    wait_for_workers(&p, &store, 2);
    // The coordinator dies right after its 20th action is recorded.
    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--executor",
            "workers",
            "--parallelism",
            "4",
        ])
        .env("BATON_STORE", &store)
        .env("BATON_COORDINATOR_LEASE", "1s")
        .env("BATON_FAULT_INJECT", "kill:20")
        .run();
    assert!(!out.success(), "the coordinator was to be killed");
    assert!(files_made(&p) < 200);
    // A worker finds the run's coordinator gone and continues it.
    let mut done = false;
    for _ in 0..600 {
        let rs = runs(&p, &store);
        if rs
            .iter()
            .any(|r| r["kind"] == "resume" && r["status"] == "completed")
        {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(done, "no worker continued the run: {:?}", runs(&p, &store));
    assert_converged(&p, &store);
    let rs = runs(&p, &store);
    let first = rs.iter().find(|r| r["kind"] == "apply").expect("the apply");
    assert_eq!(first["status"], "resumed", "{first}");
    // No action was performed twice: across the interrupted run and the one that continued
    // it, each file's creation was done by a worker exactly once (what workers finished for
    // the dead coordinator was taken from the queue, not redone).
    let mut by_worker: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &rs {
        let id = r["id"].as_str().expect("id");
        for a in actions(&p, &store, id) {
            // Handed to a worker and claimed (in the interrupted run, an action may show as
            // unfinished there: its outcome was taken by the run that continued it).
            if a["workers"].as_array().is_some_and(|w| !w.is_empty()) {
                *by_worker
                    .entry(a["address"].as_str().unwrap_or_default().to_string())
                    .or_default() += 1;
            }
        }
    }
    assert_eq!(by_worker.len(), 200, "every file was made by a worker");
    let twice: Vec<_> = by_worker.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "performed more than once: {twice:?}");
}

const SETTING: &str = r#"terraform {
  baton {
    executor = "workers"
    run_on   = { zone = "eu" }
  }
}

resource "local_file" "f" {
  count    = 6
  filename = "out/f${count.index}.txt"
  content  = "file ${count.index}"
}
"#;

#[test]
fn a_stack_setting_sends_its_actions_to_labelled_workers() {
    let p = Project::new(&[("main.tf", SETTING)]);
    let store = store("setting");
    let _us = p
        .baton(["worker", "--labels", "zone=us"])
        .env("BATON_STORE", &store)
        .spawn();
    let eu = p
        .baton(["worker", "--labels", "zone=eu"])
        .env("BATON_STORE", &store)
        .spawn();
    wait_for_workers(&p, &store, 2);
    p.baton(["apply", "--auto-approve"])
        .env("BATON_STORE", &store)
        .ok();
    assert_eq!(files_made(&p), 6);
    let run = runs(&p, &store)[0]["id"]
        .as_str()
        .expect("run id")
        .to_string();
    let eu_id = format!(":{}:", eu.pid());
    for a in actions(&p, &store, &run) {
        let who = a["workers"].as_array().expect("workers").clone();
        assert!(
            !who.is_empty()
                && who
                    .iter()
                    .all(|w| w.as_str().is_some_and(|w| w.contains(&eu_id))),
            "only the eu worker may act: {a}"
        );
    }
}

/// The `BATON_STORE` of the embedded default: empty counts as unset, so the directory's
/// `.baton/state.db` is the store and `.baton/queue.db` the queue.
const EMBEDDED: &str = "";

#[test]
fn an_apply_on_two_workers_shares_the_directorys_sqlite_queue() {
    // A local run creates no queue.
    let local = Project::new(&[("main.tf", &FILES.replace("default = 200", "default = 3"))]);
    local.baton(["apply", "--auto-approve"]).ok();
    assert!(local.exists(".baton/state.db"));
    assert!(
        !local.exists(".baton/queue.db"),
        "a local run needs no queue"
    );

    let p = Project::new(&[("main.tf", &FILES.replace("default = 200", "default = 20"))]);
    let ws: Vec<Running> = (0..2).map(|_| worker(&p, EMBEDDED)).collect();
    wait_for_workers(&p, EMBEDDED, 2);
    assert!(p.exists(".baton/queue.db"));
    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--executor",
            "workers",
            "--parallelism",
            "8",
        ])
        .timeout(Duration::from_secs(120))
        .run();
    out.assert_success();
    assert!(out.stdout.contains("made = 20"), "{}", out.stdout);
    assert_eq!(files_made(&p), 20);
    assert_eq!(p.read("out/f7.txt"), "file 7");
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    // Every action was done by one of the two workers, once.
    let run = runs(&p, EMBEDDED)[0]["id"]
        .as_str()
        .expect("run id")
        .to_string();
    let acts = actions(&p, EMBEDDED, &run);
    assert_eq!(acts.len(), 20);
    let ours: Vec<String> = ws.iter().map(|w| format!(":{}:", w.pid())).collect();
    for a in &acts {
        assert_eq!(a["status"], "done", "{a}");
        let who = a["workers"].as_array().expect("workers");
        assert_eq!(who.len(), 1, "{a}");
        let by = who[0].as_str().unwrap_or_default();
        assert!(ours.iter().any(|o| by.contains(o.as_str())), "{a}");
    }
    drop(ws);

    // The stack's own `executor = "workers"` setting finds the same queue, opened when the
    // run first needs it; its labels choose the worker.
    let p = Project::new(&[("main.tf", SETTING)]);
    let _us = p.baton(["worker", "--labels", "zone=us"]).spawn();
    let eu = p.baton(["worker", "--labels", "zone=eu"]).spawn();
    wait_for_workers(&p, EMBEDDED, 2);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(files_made(&p), 6);
    let run = runs(&p, EMBEDDED)[0]["id"]
        .as_str()
        .expect("run id")
        .to_string();
    let eu_id = format!(":{}:", eu.pid());
    for a in actions(&p, EMBEDDED, &run) {
        let who = a["workers"].as_array().expect("workers").clone();
        assert!(
            !who.is_empty()
                && who
                    .iter()
                    .all(|w| w.as_str().is_some_and(|w| w.contains(&eu_id))),
            "only the eu worker may act: {a}"
        );
    }
}

#[test]
fn a_queue_that_cannot_be_opened_stops_the_apply_before_anything_changes() {
    let p = Project::new(&[("main.tf", SETTING)]);
    std::fs::create_dir_all(p.join(".baton/queue.db")).expect("a directory in the way");
    let out = p
        .baton(["apply", "--auto-approve", "--executor", "workers"])
        .fails();
    assert!(
        out.stderr.contains("cannot open the work queue"),
        "the error says why: {}",
        out.stderr
    );
    assert_eq!(files_made(&p), 0);
    assert!(!p.exists(".baton/state.db"), "nothing is created");
}

#[test]
fn the_agent_continues_an_apply_whose_coordinator_died() {
    let p = Project::new(&[("main.tf", FILES)]);
    let store = store("agent_takeover");
    let mut w = worker(&p, &store);
    wait_for_workers(&p, &store, 1);
    let out = p
        .baton(["apply", "--auto-approve", "--executor", "workers"])
        .env("BATON_STORE", &store)
        .env("BATON_COORDINATOR_LEASE", "1s")
        .env("BATON_FAULT_INJECT", "kill:10")
        .run();
    assert!(!out.success(), "the coordinator was to be killed");
    // No worker is left to notice; the agent does.
    w.crash();
    let _agent = p
        .baton(["serve", "--tick", "200ms", "--for", "120s"])
        .env("BATON_STORE", &store)
        .timeout(Duration::from_secs(150))
        .spawn();
    let mut resumed = false;
    for _ in 0..300 {
        if runs(&p, &store).iter().any(|r| r["kind"] == "resume") {
            resumed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        resumed,
        "the agent did not continue the run: {:?}",
        runs(&p, &store)
    );
    // The continuing run hands its actions to workers: one arrives now.
    let _w2 = worker(&p, &store);
    let mut done = false;
    for _ in 0..600 {
        if runs(&p, &store)
            .iter()
            .any(|r| r["kind"] == "resume" && r["status"] == "completed")
        {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        done,
        "the continued run did not finish: {:?}",
        runs(&p, &store)
    );
    assert_converged(&p, &store);
}
