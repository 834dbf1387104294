//! Workers end to end through the binary, against the throwaway PostgreSQL test server (each
//! test in a schema of its own): command steps of an `executor = "workers"` workflow run on
//! `baton worker` processes (outputs flow to dependent steps, a failing command fails its
//! step, a retry is a new task, `runs show` names who ran what, `baton workers` lists them);
//! `run_on` labels choose the worker; without PostgreSQL, workers on one machine share the
//! directory's SQLite queue (`.baton/queue.db`) for the same; two of four workers SIGKILLed
//! at random moments lose no step of a 50-step run; and a coordinator SIGKILLed, or interrupted, while its steps are on workers
//! is resumed without running any step twice.
//!
//! Must not assert on wall-clock durations (only on what ran, where and how often), and must
//! leave no process behind (every process is a `Running`, killed on drop).

mod common;

use baton_backend::location::PgTarget;
use baton_backend::pg::queue::PgQueue;
use baton_backend::testing::TestServer;
use baton_state::queue::{WorkQueue, WorkerRow};
use common::{Cmd, Output, Project, Running};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long a test waits for something a process is expected to do soon.
const PATIENCE: Duration = Duration::from_secs(60);

/// A PostgreSQL store in a schema of its own, for one test.
struct Store {
    /// The `BATON_STORE` value.
    url: String,
    queue: PgQueue,
}

impl Store {
    fn new(name: &str) -> Store {
        let server = TestServer::shared().expect("a PostgreSQL server for tests");
        let schema = server.fresh_schema(name);
        let sep = if server.url().contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}schema_name={schema}", server.url());
        let target = PgTarget::parse(server.url(), Some(&schema)).expect("target");
        let queue = PgQueue::open(&target).expect("open the queue");
        Store { url, queue }
    }

    /// A `baton` command in `p` using this store.
    fn baton<'a>(&self, p: &Project, args: impl IntoIterator<Item = &'a str>) -> Cmd {
        p.baton(args).env("BATON_STORE", &self.url)
    }

    /// Starts `baton worker --lease 1s ARGS` in `p`.
    fn worker(&self, p: &Project, args: &[&str]) -> Running {
        let mut all = vec!["worker", "--lease", "1s"];
        all.extend_from_slice(args);
        self.baton(p, all).spawn()
    }

    /// The registered workers, as the queue lists them.
    fn workers(&self) -> Vec<WorkerRow> {
        self.queue
            .workers(Duration::from_secs(90))
            .expect("list the workers")
    }

    /// Waits until the workers with these pids are registered.
    fn wait_for(&self, pids: &[u32]) {
        common::wait_until("the workers to register", PATIENCE, || {
            let up: BTreeSet<u32> = self.workers().iter().map(|w| w.info.pid).collect();
            pids.iter().all(|p| up.contains(p))
        });
    }
}

/// The pid in a worker id (`HOST:PID:NONCE`).
fn pid_of(worker: &str) -> u32 {
    let mut parts = worker.trim().rsplit(':');
    parts.next();
    parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{worker:?} is not a worker id"))
}

/// The id of the newest workflow run.
fn last_run(s: &Store, p: &Project) -> String {
    let runs: Json =
        serde_json::from_str(&s.baton(p, ["runs", "--json"]).ok().stdout).expect("runs JSON");
    runs.as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == "workflow"))
        .and_then(|r| r["id"].as_str())
        .map(str::to_string)
        .expect("a workflow run")
}

fn show(s: &Store, p: &Project, run: &str) -> Json {
    serde_json::from_str(&s.baton(p, ["runs", "show", run, "--json"]).ok().stdout)
        .expect("run JSON")
}

fn step<'a>(run: &'a Json, key: &str) -> &'a Json {
    run["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["key"] == key))
        .unwrap_or_else(|| panic!("no step {key} in {run:#}"))
}

/// A step's `workers` list in `runs show --json`.
fn workers_of(run: &Json, key: &str) -> Vec<String> {
    step(run, key)["workers"]
        .as_array()
        .unwrap_or_else(|| panic!("step {key} has no workers list"))
        .iter()
        .map(|w| w.as_str().expect("a worker id").to_string())
        .collect()
}

/// The non-empty lines of a file in the project.
fn lines(p: &Project, rel: &str) -> Vec<String> {
    p.read(rel)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

/// A fan-out step `s` over `n` keys ("0".."n-1"): each instance appends its worker to
/// `log/KEY` as it starts (one line per execution), waits `secs`, and then writes its worker
/// to `out/KEY` (overwriting: running it again changes nothing but the name).
fn fan_out(name: &str, n: usize, secs: &str, extra: &str) -> String {
    let keys: Vec<String> = (0..n).map(|i| format!("\"{i}\"")).collect();
    format!(
        r#"workflow "{name}" {{
  executor = "workers"

  step "s" {{
    for_each = toset([{keys}])
    command  = "echo $BATON_WORKER >> log/${{each.value}}; sleep {secs}; echo $BATON_WORKER > out/${{each.value}}"
  }}
{extra}}}
"#,
        keys = keys.join(", ")
    )
}

/// A project for [`fan_out`] workflows: `log/` and `out/` exist.
fn fan_out_project(file: &str, workflow: &str) -> Project {
    Project::new(&[(file, workflow), ("log/.keep", ""), ("out/.keep", "")])
}

/// The files written under `dir/` (without the `.keep` placeholder).
fn written(p: &Project, dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(p.join(dir))
        .expect("read the directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

#[test]
fn command_steps_run_on_workers_and_the_run_names_them() {
    let s = Store::new("on_workers");
    let p = Project::new(&[(
        "w.baton.hcl",
        r#"workflow "ok" {
  executor = "workers"

  step "a" {
    command = "echo $BATON_WORKER > a.txt; echo \"greeting=hello from $BATON_STEP\" > $BATON_OUTPUTS"
  }

  step "b" {
    command = "echo $BATON_WORKER > b.txt; echo '${step.a.outputs.greeting}' > b-got.txt"
  }
}

workflow "flaky" {
  executor = "workers"

  step "twice" {
    command = "echo $BATON_WORKER >> twice.txt; [ $(wc -l < twice.txt) -ge 2 ]"
    retry {
      attempts = 2
      backoff  = "10ms"
    }
  }
}

workflow "bad" {
  executor = "workers"

  step "boom" {
    command = "echo $BATON_WORKER > boom.txt; echo failing >&2; exit 7"
  }
}
"#,
    )]);
    let eu = s.worker(&p, &["--labels", "zone=eu,tier=gold", "--concurrency", "2"]);
    let plain = s.worker(&p, &[]);
    s.wait_for(&[eu.pid(), plain.pid()]);

    // `baton workers --json` lists both, with their labels.
    let listed = s.baton(&p, ["workers", "--json"]).ok().json();
    let listed = listed.as_array().expect("a list of workers");
    assert_eq!(listed.len(), 2, "{listed:#?}");
    let by_pid = |pid: u32| {
        listed
            .iter()
            .find(|w| w["pid"].as_u64() == Some(u64::from(pid)))
            .unwrap_or_else(|| panic!("worker {pid} is not listed: {listed:#?}"))
    };
    let w = by_pid(eu.pid());
    assert_eq!(
        w["labels"],
        serde_json::json!({"zone": "eu", "tier": "gold"})
    );
    assert_eq!(w["concurrency"], 2);
    assert_eq!(w["stale"], false);
    assert_eq!(pid_of(w["id"].as_str().expect("an id")), eu.pid());
    assert_eq!(by_pid(plain.pid())["labels"], serde_json::json!({}));
    let text = s.baton(&p, ["workers"]).ok();
    text.assert_stdout_contains("labels [tier=gold,zone=eu]");

    // The steps run on the workers, and a's outputs reach b.
    s.baton(&p, ["workflow", "run", "ok"]).ok();
    let ours = [eu.pid(), plain.pid()];
    let a_by = p.read("a.txt").trim().to_string();
    let b_by = p.read("b.txt").trim().to_string();
    assert!(
        ours.contains(&pid_of(&a_by)),
        "a ran on {a_by}, not {ours:?}"
    );
    assert!(
        ours.contains(&pid_of(&b_by)),
        "b ran on {b_by}, not {ours:?}"
    );
    assert_ne!(pid_of(&a_by), std::process::id());
    assert_eq!(p.read("b-got.txt"), "hello from a\n");
    let run = last_run(&s, &p);
    let r = show(&s, &p, &run);
    assert_eq!(r["status"], "succeeded", "{r:#}");
    assert_eq!(workers_of(&r, "a"), [a_by.as_str()]);
    assert_eq!(workers_of(&r, "b"), [b_by.as_str()]);
    assert_eq!(step(&r, "a")["outputs"]["greeting"], "hello from a");
    let text = s.baton(&p, ["runs", "show", &run]).ok();
    text.assert_stdout_contains(&format!("worker: {a_by}"));

    // A failing command on a worker fails its step with the command's exit status.
    let out = s.baton(&p, ["workflow", "run", "bad"]).fails();
    out.assert_contains("exited with status 7");
    let boom_by = p.read("boom.txt").trim().to_string();
    out.assert_contains(&format!("on worker {boom_by}"));
    let run = last_run(&s, &p);
    let r = show(&s, &p, &run);
    let boom = step(&r, "boom");
    assert_eq!(boom["status"], "failed", "{r:#}");
    assert_eq!(boom["exit_code"], 7);
    assert_eq!(workers_of(&r, "boom"), [boom_by]);
    let logs = s.baton(&p, ["logs", &run, "boom"]).ok();
    logs.assert_contains("failing");

    // A retry is a task of its own; the journal names the worker of each attempt.
    s.baton(&p, ["workflow", "run", "flaky"]).ok();
    let ran = lines(&p, "twice.txt");
    assert_eq!(ran.len(), 2, "{ran:?}");
    let run = last_run(&s, &p);
    let r = show(&s, &p, &run);
    assert_eq!(step(&r, "twice")["attempts"], 2, "{r:#}");
    assert_eq!(workers_of(&r, "twice"), ran);
    let text = s.baton(&p, ["runs", "show", &run]).ok();
    text.assert_stdout_contains(&format!(
        "worker: {} (attempt 1); {} (attempt 2)",
        ran[0], ran[1]
    ));

    // A worker stopped with Ctrl-C deregisters: the list has the other one only.
    eu.interrupt();
    let stopped = eu.wait();
    stopped.assert_success();
    stopped.assert_stderr_contains("Worker stopped.");
    let listed = s.baton(&p, ["workers", "--json"]).ok().json();
    let pids: Vec<u64> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|w| w["pid"].as_u64())
        .collect();
    assert_eq!(pids, [u64::from(plain.pid())]);
}

#[test]
fn run_on_labels_choose_the_worker() {
    let s = Store::new("run_on");
    let mut wf = String::from("workflow \"zones\" {\n  executor = \"workers\"\n");
    for zone in ["eu", "us"] {
        wf.push_str(&format!(
            r#"
  step "{zone}" {{
    for_each = toset(["1", "2", "3", "4", "5", "6"])
    run_on   = {{ zone = "{zone}" }}
    command  = "sleep 0.2; echo $BATON_WORKER > {zone}-${{each.value}}.txt"
  }}
"#
        ));
    }
    wf.push_str(
        r#"
  step "anywhere" {
    command = "echo $BATON_WORKER > anywhere.txt"
  }
}
"#,
    );
    let p = Project::new(&[("zones.baton.hcl", &wf)]);
    let eu = s.worker(&p, &["--labels", "zone=eu", "--concurrency", "2"]);
    let us = s.worker(&p, &["--labels", "zone=us,disk=ssd", "--concurrency", "2"]);
    s.wait_for(&[eu.pid(), us.pid()]);
    s.baton(&p, ["workflow", "run", "zones"]).ok();
    for (zone, pid) in [("eu", eu.pid()), ("us", us.pid())] {
        for i in 1..=6 {
            let by = p.read(&format!("{zone}-{i}.txt"));
            assert_eq!(pid_of(&by), pid, "{zone}[{i}] ran on {by}");
        }
    }
    let anywhere = pid_of(&p.read("anywhere.txt"));
    assert!([eu.pid(), us.pid()].contains(&anywhere));
}

/// The pids of the workers `baton workers --json` lists in `p` (with its own store).
fn listed_pids(p: &Project) -> BTreeSet<u32> {
    let out = p.baton(["workers", "--json"]).run();
    if !out.success() {
        return BTreeSet::new();
    }
    serde_json::from_str::<Json>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|w| w["pid"].as_u64().and_then(|p| u32::try_from(p).ok()))
        .collect()
}

#[test]
fn a_workflow_runs_on_workers_sharing_the_directorys_sqlite_queue() {
    let p = fan_out_project("fan.baton.hcl", &fan_out("fan", 8, "0.2", ""));
    // Asking about workers creates nothing.
    p.baton(["workers"])
        .ok()
        .assert_stdout_contains("No workers are registered");
    assert!(!p.exists(".baton"), "nothing is created");
    // One worker started in the directory, one elsewhere with --chdir: both serve the
    // directory's .baton/queue.db.
    let elsewhere = Project::new(&[("README", "not a stack")]);
    let here = p
        .baton(["worker", "--lease", "1s", "--concurrency", "2"])
        .spawn();
    let dir = p.path_str();
    let there = elsewhere
        .baton([
            "--chdir",
            &dir,
            "worker",
            "--lease",
            "1s",
            "--concurrency",
            "2",
        ])
        .spawn();
    let ours = [here.pid(), there.pid()];
    common::wait_until("the workers to register", PATIENCE, || {
        let up = listed_pids(&p);
        ours.iter().all(|p| up.contains(p))
    });
    assert!(p.exists(".baton/queue.db"));
    assert!(!elsewhere.exists(".baton"), "the queue is the directory's");

    p.baton(["workflow", "run", "fan"]).ok();
    let runs: Json = serde_json::from_str(&p.baton(["runs", "--json"]).ok().stdout).expect("runs");
    let run = runs
        .as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == "workflow"))
        .and_then(|r| r["id"].as_str())
        .expect("a workflow run")
        .to_string();
    let r: Json =
        serde_json::from_str(&p.baton(["runs", "show", &run, "--json"]).ok().stdout).expect("run");
    assert_eq!(r["status"], "succeeded", "{r:#}");
    let mut by = BTreeSet::new();
    for i in 0..8 {
        // Each step ran once, on one of the workers, which the run names.
        let ran = lines(&p, &format!("log/{i}"));
        assert_eq!(ran.len(), 1, "step {i} ran {ran:?}");
        let pid = pid_of(&ran[0]);
        assert!(ours.contains(&pid), "step {i} ran on {}", ran[0]);
        assert_eq!(lines(&p, &format!("out/{i}")), ran);
        assert_eq!(workers_of(&r, &format!("s[\"{i}\"]")), ran);
        by.insert(pid);
    }
    eprintln!("{} worker(s) took part", by.len());

    // `--executor workers` for a local workflow uses the same queue.
    p.write(
        "local.baton.hcl",
        "workflow \"plain\" {\n  step \"a\" {\n    command = \"echo $BATON_WORKER > a.txt\"\n  }\n}\n",
    );
    p.baton(["workflow", "run", "plain", "--executor", "workers"])
        .ok();
    assert!(ours.contains(&pid_of(&p.read("a.txt"))));

    // A queue that cannot be opened is said so, before anything runs.
    drop((here, there));
    let q = Project::new(&[("w.baton.hcl", &fan_out("fan", 1, "0", ""))]);
    std::fs::create_dir_all(q.join(".baton/queue.db")).expect("a directory in the way");
    let out = q.baton(["workflow", "run", "fan"]).fails();
    out.assert_stderr_contains("cannot open the work queue");
    assert!(!q.exists(".baton/workflows.db"), "nothing is created");
    let out = q.baton(["worker", "--for", "1s"]).fails();
    out.assert_stderr_contains("cannot open the work queue");

    // A BATON_STORE that cannot be used is said to be wrong, not taken for the SQLite file.
    for args in [
        &["workflow", "run", "fan"][..],
        &["worker", "--for", "1s"][..],
    ] {
        let out = p
            .baton(args.iter().copied())
            .env(
                "BATON_STORE",
                "postgresql://nobody@127.0.0.1:1/x?schema_name=not-a-name",
            )
            .fails();
        out.assert_stderr_contains("BATON_STORE: schema name \"not-a-name\" is not usable");
    }
}

/// Waits for a spawned `workflow run` to exit; if it does not within [`PATIENCE`], prints
/// what the queue holds and what the workers printed (they are killed for it) before the test
/// fails with the run's own output.
fn finish(s: &Store, p: &Project, run: Running, workers: &mut [Option<Running>]) -> Output {
    let deadline = Instant::now() + PATIENCE;
    while !run.has_exited() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !run.has_exited() {
        eprintln!("the run did not finish; its workflow runs:");
        let runs = s.baton(p, ["runs", "--json"]).run().stdout;
        eprintln!("{runs}");
        let ids: Vec<String> = serde_json::from_str::<Json>(&runs)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        for id in ids {
            for t in s.queue.tasks(&id).unwrap_or_default() {
                if t.state != baton_state::queue::TaskState::Done {
                    eprintln!("task {t:?}");
                }
            }
        }
        for w in s.workers() {
            eprintln!("worker {w:?}");
        }
        for w in workers.iter_mut() {
            if let Some(w) = w.take() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &w.pid().to_string()])
                    .status();
                let out = w.wait();
                eprintln!("--- worker {} ---\n{}", out.display, out.stderr);
            }
        }
    }
    run.wait()
}

/// A small xorshift generator: time-seeded randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[test]
fn killing_two_of_four_workers_loses_no_step() {
    // The seed decides the kill moments and the victims; BATON_KILL_SEED repeats a run.
    let seed = std::env::var("BATON_KILL_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let mut rng = Rng(seed | 1);
    let first = rng.between(200, 1200);
    let moments = [first, first + rng.between(100, 900)];
    println!(
        "kill test: seed {seed} (BATON_KILL_SEED={seed} repeats it): kills at {moments:?} ms after the first step started"
    );

    let s = Store::new("kill_workers");
    let p = fan_out_project("fifty.baton.hcl", &fan_out("fifty", 50, "0.5", ""));
    let mut workers: Vec<Option<Running>> = (0..4)
        .map(|_| Some(s.worker(&p, &["--concurrency", "2"])))
        .collect();
    let pids: Vec<u32> = workers.iter().flatten().map(Running::pid).collect();
    s.wait_for(&pids);

    let run = s
        .baton(&p, ["workflow", "run", "fifty", "--parallelism", "50"])
        .timeout(Duration::from_secs(5))
        .spawn();
    common::wait_until("a step to start on a worker", PATIENCE, || {
        !written(&p, "log").is_empty()
    });
    let t0 = Instant::now();
    let mut killed: Vec<(String, Vec<String>)> = Vec::new();
    for at in moments {
        let wake = t0 + Duration::from_millis(at);
        if let Some(d) = wake.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        // A random one of the live workers that hold a task now (any live one if none does).
        let rows = s.workers();
        let live: Vec<&WorkerRow> = rows
            .iter()
            .filter(|w| workers.iter().flatten().any(|r| r.pid() == w.info.pid))
            .collect();
        let holding: Vec<&WorkerRow> = live
            .iter()
            .copied()
            .filter(|w| !w.current.is_empty())
            .collect();
        let pool = if holding.is_empty() { &live } else { &holding };
        let victim = pool[(rng.next() % pool.len() as u64) as usize];
        let slot = workers
            .iter_mut()
            .find(|r| r.as_ref().is_some_and(|r| r.pid() == victim.info.pid))
            .expect("the victim is one of ours");
        let mut proc = slot.take().expect("alive");
        proc.crash();
        let held: Vec<String> = victim.current.iter().map(|(_, _, k)| k.clone()).collect();
        println!(
            "killed worker {} at {} ms, holding {held:?}",
            victim.info.id,
            t0.elapsed().as_millis()
        );
        killed.push((victim.info.id.clone(), held));
    }

    let out = finish(&s, &p, run, &mut workers);
    out.assert_success();
    let run = last_run(&s, &p);
    let r = show(&s, &p, &run);
    assert_eq!(r["status"], "succeeded", "{r:#}");
    let killed_ids: BTreeSet<&str> = killed.iter().map(|(id, _)| id.as_str()).collect();
    let live_pids: BTreeSet<u32> = workers.iter().flatten().map(Running::pid).collect();

    // Every step's effect exists, once, and each step succeeded once.
    let keys: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(written(&p, "out"), keys.iter().cloned().collect());
    let steps = r["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 50, "one record per step: {r:#}");
    let mut seen = BTreeMap::new();
    for st in steps {
        assert_eq!(st["status"], "succeeded", "{st:#}");
        assert_eq!(st["attempts"], 1, "{st:#}");
        *seen
            .entry(st["key"].as_str().unwrap_or_default().to_string())
            .or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");

    // The journal names who did what: the last worker of each step wrote its file and is
    // alive; a step some killed worker held was taken over by a live one.
    let mut reclaimed = 0;
    for k in &keys {
        let key = format!("s[\"{k}\"]");
        let ws = workers_of(&r, &key);
        let last = ws.last().unwrap_or_else(|| panic!("{key} names no worker"));
        let done_by = p.read(&format!("out/{k}")).trim().to_string();
        assert_eq!(
            &done_by, last,
            "{key}: its file was written by the last claim"
        );
        let ran = lines(&p, &format!("log/{k}"));
        assert_eq!(
            ran.last(),
            Some(last),
            "{key}: executions {ran:?}, claims {ws:?}"
        );
        assert!(
            ran.iter().all(|w| ws.contains(w)),
            "{key}: {ran:?} vs {ws:?}"
        );
        if ws.iter().any(|w| killed_ids.contains(w.as_str())) {
            if killed_ids.contains(last.as_str()) {
                // The killed worker finished it before it died.
                assert_eq!(ws.len(), 1, "{key}: {ws:?}");
                continue;
            }
            assert!(
                killed_ids.contains(ws[0].as_str()),
                "{key} starts with a killed worker: {ws:?}"
            );
            assert!(live_pids.contains(&pid_of(last)), "{key}: {ws:?}");
            reclaimed += 1;
        } else {
            // Live workers keep their claims: one claim, one execution.
            assert_eq!(ws.len(), 1, "{key}: {ws:?}");
            assert_eq!(ran.len(), 1, "{key}: {ran:?}");
            assert!(live_pids.contains(&pid_of(last)), "{key}: {ws:?}");
        }
    }
    // What the killed workers held when they died was finished by others.
    for (id, held) in &killed {
        for task_key in held {
            let (key, _) = baton_workflow::exec::remote::task_step(task_key)
                .unwrap_or_else(|| panic!("{task_key} is a step attempt's task"));
            let ws = workers_of(&r, key);
            let last = ws.last().expect("a worker");
            assert!(
                last == id || live_pids.contains(&pid_of(last)),
                "{key} held by {id}: {ws:?}"
            );
        }
    }
    println!("{reclaimed} step(s) taken over from killed workers");
    assert!(reclaimed >= 1, "a killed worker held a task when it died");
}

#[test]
fn a_killed_coordinator_is_resumed_without_running_steps_twice() {
    let s = Store::new("kill_coordinator");
    let after = r#"
  step "after" {
    depends_on = [step.s]
    command    = "echo $BATON_WORKER >> log/after"
  }
"#;
    let p = fan_out_project("fan.baton.hcl", &fan_out("fan", 8, "1", after));
    // Four slots for eight steps: when the coordinator dies, some steps run on workers and
    // the others wait in the queue.
    let w1 = s.worker(&p, &["--concurrency", "2"]);
    let w2 = s.worker(&p, &["--concurrency", "2"]);
    s.wait_for(&[w1.pid(), w2.pid()]);

    let mut coordinator = s
        .baton(&p, ["workflow", "run", "fan"])
        .env("BATON_WORKFLOW_LEASE", "2s")
        .spawn();
    common::wait_until("a step to start on a worker", PATIENCE, || {
        !written(&p, "log").is_empty()
    });
    let status = coordinator.crash();
    assert!(status.code().is_none(), "killed by a signal: {status:?}");
    let run = last_run(&s, &p);
    let before = show(&s, &p, &run);
    assert_eq!(before["status"], "running", "{before:#}");
    let queued_at_crash = s
        .queue
        .tasks(&run)
        .expect("the run's tasks")
        .iter()
        .filter(|t| t.claim_log.is_empty())
        .count();
    println!("{queued_at_crash} task(s) not yet claimed when the coordinator died");

    let resumed = s
        .baton(&p, ["resume", &run])
        .env("BATON_WORKFLOW_LEASE", "2s")
        .run();
    resumed.assert_success();
    let r = show(&s, &p, &run);
    assert_eq!(r["status"], "succeeded", "{r:#}");
    // Every step ran exactly once, on the worker the journal names.
    for k in (0..8).map(|i| i.to_string()) {
        let key = format!("s[\"{k}\"]");
        let ran = lines(&p, &format!("log/{k}"));
        assert_eq!(ran.len(), 1, "{key} ran once: {ran:?}");
        assert_eq!(workers_of(&r, &key), ran, "{key}");
        assert_eq!(p.read(&format!("out/{k}")).trim(), ran[0]);
        assert_eq!(step(&r, &key)["status"], "succeeded");
    }
    let ran = lines(&p, "log/after");
    assert_eq!(ran.len(), 1, "after ran once: {ran:?}");
    assert_eq!(workers_of(&r, "after"), ran);
    // One task per step: the resumed run waited for the tasks its predecessor queued.
    let tasks = s.queue.tasks(&run).expect("the run's tasks");
    assert_eq!(tasks.len(), 9, "{tasks:#?}");
}

#[test]
fn an_interrupted_coordinator_leaves_its_steps_to_the_workers() {
    let s = Store::new("interrupt_coordinator");
    let p = fan_out_project("fan.baton.hcl", &fan_out("fan", 4, "1", ""));
    // Two slots for four steps: when the run is interrupted, two run and two are queued.
    let worker = s.worker(&p, &["--concurrency", "2"]);
    s.wait_for(&[worker.pid()]);
    let coordinator = s.baton(&p, ["workflow", "run", "fan"]).spawn();
    common::wait_until("a step to start on a worker", PATIENCE, || {
        !written(&p, "log").is_empty()
    });
    coordinator.interrupt();
    let out = coordinator.wait();
    out.assert_failure();
    out.assert_contains("was stopped before it finished");
    out.assert_not_contains("rolled back");
    let run = last_run(&s, &p);
    let r = show(&s, &p, &run);
    assert_eq!(r["status"], "interrupted", "{r:#}");
    for st in r["steps"].as_array().expect("steps") {
        assert_eq!(st["status"], "started", "left to the workers: {st:#}");
    }

    // The resumed run waits for the tasks the stopped one queued: each step runs once.
    s.baton(&p, ["resume", &run]).ok();
    let r = show(&s, &p, &run);
    assert_eq!(r["status"], "succeeded", "{r:#}");
    for k in 0..4 {
        let ran = lines(&p, &format!("log/{k}"));
        assert_eq!(ran.len(), 1, "step {k} ran once: {ran:?}");
        assert_eq!(workers_of(&r, &format!("s[\"{k}\"]")), ran);
    }
}
