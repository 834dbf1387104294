//! Workflows end to end through the binary: a workflow of two stacks with a command step that
//! fails twice and then succeeds, an approval and a fan-out; a failure that rolls both stacks
//! back and runs the compensation; a crash (SIGKILL) at every step boundary of a 10-step
//! workflow, each followed by `resume`, repeating no completed step; a child workflow; and
//! mistakes in a workflow file reported with file:line:col.

mod common;

use common::Project;
use serde_json::Value as Json;

const NET: &str = r#"variable "cidr" {
  type = string
}

resource "terraform_data" "net" {
  input = var.cidr
}

output "subnet_id" {
  value = "subnet-${var.cidr}"
}
"#;

const APP: &str = r#"variable "subnet_id" {
  type = string
}

variable "fail" {
  type    = bool
  default = false
}

resource "terraform_data" "app" {
  input = var.subnet_id
}

output "urls" {
  value = ["alpha", "beta"]
}

output "db_url" {
  value = "db://${var.subnet_id}"
}

output "password" {
  value     = "hunter2"
  sensitive = true
}
"#;

const RELEASE: &str = r#"workflow "release" {
  input "env" {
    type    = string
    default = "dev"
  }

  step "network" {
    apply = "stacks/net"
    env   = input.env
    vars  = { cidr = "10.0.0.0/16" }
  }

  step "app" {
    apply = "stacks/app"
    env   = input.env
    vars  = { subnet_id = step.network.outputs.subnet_id }
  }

  # Fails twice, then succeeds; its outputs come from $BATON_OUTPUTS.
  step "migrate" {
    command = "n=$(cat tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > tries; echo \"migrating ${step.app.outputs.db_url} (try $n)\"; [ $n -ge 3 ] && echo schema=42 > \"$BATON_OUTPUTS\""
    retry {
      attempts = 5
      backoff  = "10ms"
    }
    timeout = "30s"
  }

  step "promote" {
    depends_on = [step.migrate]
    approval {
      message = "Promote ${input.env} to schema ${step.migrate.outputs.schema}?"
    }
  }

  step "smoke" {
    depends_on = [step.promote]
    for_each   = toset(step.app.outputs.urls)
    command    = "echo ${each.value} >> smoked.txt"
  }

  compensate "page" {
    command = "echo paged > paged.txt"
  }
}
"#;

fn release_project() -> Project {
    Project::new(&[
        ("stacks/net/main.tf", NET),
        ("stacks/app/main.tf", APP),
        ("release.baton.hcl", RELEASE),
    ])
}

/// The id of the newest workflow run.
fn last_run(p: &Project) -> String {
    let runs: Json =
        serde_json::from_str(&p.baton(["runs", "--json"]).ok().stdout).expect("runs JSON");
    runs.as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == "workflow"))
        .and_then(|r| r["id"].as_str())
        .map(str::to_string)
        .expect("a workflow run")
}

fn show(p: &Project, run: &str) -> Json {
    serde_json::from_str(&p.baton(["runs", "show", run, "--json"]).ok().stdout).expect("run JSON")
}

fn step<'a>(run: &'a Json, key: &str) -> &'a Json {
    run["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["key"] == key))
        .unwrap_or_else(|| panic!("no step {key} in {run:#}"))
}

fn state_list(p: &Project, dir: &str, env: &str) -> Vec<String> {
    p.baton(["--chdir", dir, "--env", env, "state", "list"])
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn two_stacks_retries_an_approval_and_a_fan_out() {
    let p = release_project();
    let listed = p.baton(["workflow", "list"]).ok();
    assert!(
        listed.stdout.contains("release  5 step(s), inputs: env"),
        "{}",
        listed.stdout
    );

    let started = p
        .baton(["workflow", "run", "release", "--input", "env=staging"])
        .ok();
    assert!(
        started
            .stdout
            .contains("waiting for approval: Promote staging to schema 42?"),
        "{}",
        started.stdout
    );
    let run = last_run(&p);
    let waiting = show(&p, &run);
    assert_eq!(waiting["status"], "waiting");
    assert_eq!(
        step(&waiting, "migrate")["attempts"],
        3,
        "failed twice, then succeeded"
    );
    assert_eq!(step(&waiting, "migrate")["outputs"]["schema"], "42");
    assert_eq!(step(&waiting, "promote")["status"], "waiting");
    // The stacks were applied in their own environment, with the first one's output.
    assert_eq!(
        state_list(&p, "stacks/net", "staging"),
        ["terraform_data.net"]
    );
    assert_eq!(
        state_list(&p, "stacks/app", "staging"),
        ["terraform_data.app"]
    );
    assert!(!p.exists("smoked.txt"), "nothing after the approval ran");
    // A sensitive stack output stays hidden in what the run shows.
    assert_eq!(step(&waiting, "app")["outputs"]["password"], "(sensitive)");
    assert!(!p
        .baton(["runs", "show", &run])
        .ok()
        .stdout
        .contains("hunter2"));

    let approved = p
        .baton(["approve", &run, "promote", "--reason", "looks good"])
        .ok();
    assert!(approved.stdout.contains("succeeded"), "{}", approved.stdout);
    let done = show(&p, &run);
    assert_eq!(done["status"], "succeeded");
    assert_eq!(step(&done, "promote")["outputs"]["reason"], "looks good");
    assert_eq!(step(&done, "smoke[\"alpha\"]")["status"], "succeeded");
    assert_eq!(step(&done, "smoke[\"beta\"]")["status"], "succeeded");
    let mut smoked: Vec<String> = p.read("smoked.txt").lines().map(str::to_string).collect();
    smoked.sort();
    assert_eq!(smoked, ["alpha", "beta"]);
    // The command's output is recorded.
    let logs = p.baton(["logs", &run, "migrate"]).ok();
    assert!(
        logs.stdout
            .contains("migrating db://subnet-10.0.0.0/16 (try 3)"),
        "{}",
        logs.stdout
    );
    // Approving again is refused: the step no longer waits.
    p.baton(["approve", &run, "promote"]).fails();
    // The audit log has who started the run with which inputs, the approval with the
    // approver, and the outcome; the chain verifies.
    let audit: Json =
        serde_json::from_str(&p.baton(["audit", "list", "--json"]).ok().stdout).expect("JSON");
    let mine: Vec<&Json> = audit
        .as_array()
        .map(|a| a.iter().filter(|r| r["run_id"] == run.as_str()).collect())
        .unwrap_or_default();
    let outcomes: Vec<&str> = mine.iter().filter_map(|r| r["outcome"].as_str()).collect();
    assert!(
        outcomes
            .iter()
            .any(|o| o.starts_with("started workflow release with inputs {\"env\":\"staging\"}")),
        "{outcomes:?}"
    );
    assert!(
        mine.iter().any(|r| r["command"] == "workflow approve"
            && r["outcome"].as_str().is_some_and(
                |o| o.contains("approved step promote of workflow release: looks good")
            )
            && r["actor"].as_str().is_some_and(|a| a.contains('@'))),
        "{mine:#?}"
    );
    assert!(
        outcomes.iter().any(|o| o.starts_with("succeeded")),
        "{outcomes:?}"
    );
    p.baton(["audit", "verify"]).ok();
}

#[test]
fn a_failure_rolls_back_both_stacks_and_runs_the_compensation() {
    let p = release_project();
    // The migration now always fails.
    let failing = RELEASE.replace("[ $n -ge 3 ] &&", "false &&");
    p.write("release.baton.hcl", &failing);
    let out = p.baton(["workflow", "run", "release"]).fails();
    assert!(
        out.stderr.contains("failed and was rolled back"),
        "{}",
        out.stderr
    );
    let run = last_run(&p);
    let r = show(&p, &run);
    assert_eq!(r["status"], "rolled_back");
    assert_eq!(step(&r, "migrate")["status"], "failed");
    assert_eq!(step(&r, "migrate")["attempts"], 5);
    // Both stacks were rolled back, the newer first, then the compensation ran.
    let keys: Vec<&str> = r["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["key"].as_str()).collect())
        .unwrap_or_default();
    let pos = |k: &str| {
        keys.iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("{k} in {keys:?}"))
    };
    assert!(pos("rollback:app") < pos("rollback:network"));
    assert!(pos("rollback:network") < pos("compensate:page"));
    assert_eq!(step(&r, "app")["status"], "rolled_back");
    assert_eq!(step(&r, "network")["status"], "rolled_back");
    assert!(state_list(&p, "stacks/net", "dev").is_empty());
    assert!(state_list(&p, "stacks/app", "dev").is_empty());
    assert_eq!(p.read("paged.txt"), "paged\n");
    assert!(!p.exists("smoked.txt"));
}

#[test]
fn rejecting_an_approval_cancels_the_run_and_rolls_back() {
    let p = release_project();
    p.baton(["workflow", "run", "release"]).ok();
    let run = last_run(&p);
    let out = p
        .baton([
            "approve",
            &run,
            "promote",
            "--reject",
            "--reason",
            "not today",
        ])
        .fails();
    assert!(out.stderr.contains("not today"), "{}", out.stderr);
    let r = show(&p, &run);
    assert_eq!(r["status"], "cancelled");
    assert!(state_list(&p, "stacks/app", "dev").is_empty());
    assert_eq!(p.read("paged.txt"), "paged\n");
}

/// Ten steps in a chain: stacks and commands, every one leaving a mark on disk.
fn chain() -> String {
    let mut s = String::from("workflow \"chain\" {\n");
    for i in 1..=10 {
        let after = if i == 1 {
            String::new()
        } else {
            format!("  depends_on = [step.s{}]\n", i - 1)
        };
        if i % 3 == 0 {
            s.push_str(&format!(
                "  step \"s{i}\" {{\n    apply = \"stacks/s{i}\"\n    vars = {{ n = \"{i}\" }}\n  {after}  }}\n"
            ));
        } else {
            s.push_str(&format!(
                "  step \"s{i}\" {{\n    command = \"echo s{i} >> marks.txt; echo n={i} > $BATON_OUTPUTS\"\n  {after}  }}\n"
            ));
        }
    }
    s.push_str("}\n");
    s
}

fn chain_project() -> Project {
    let mut files: Vec<(String, String)> = vec![("chain.baton.hcl".into(), chain())];
    for i in [3, 6, 9] {
        files.push((
            format!("stacks/s{i}/main.tf"),
            format!(
                "variable \"n\" {{\n  type = string\n}}\n\nresource \"terraform_data\" \"r\" {{\n  input = var.n\n  provisioner \"local-exec\" {{\n    command = \"echo s{i} >> ../../stack-marks.txt\"\n  }}\n}}\n\noutput \"n\" {{\n  value = var.n\n}}\n"
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    Project::new(&refs)
}

#[test]
fn a_crash_at_every_step_boundary_then_resume_repeats_no_completed_step() {
    // The uninterrupted run, for comparison.
    let reference = chain_project();
    reference.baton(["workflow", "run", "chain"]).ok();
    let want_marks = reference.read("marks.txt");
    let want_stack_marks = reference.read("stack-marks.txt");

    for k in 1..=10 {
        let p = chain_project();
        let crashed = p
            .baton(["workflow", "run", "chain"])
            .env("BATON_FAULT_INJECT", &format!("kill:{k}"))
            .env("BATON_WORKFLOW_LEASE", "300ms")
            .run();
        assert_eq!(
            crashed.code, None,
            "kill:{k} should kill the process\n{}",
            crashed.stderr
        );
        let run = last_run(&p);
        let before = show(&p, &run);
        assert_eq!(
            before["status"], "running",
            "a crashed run still says running"
        );
        // The claim of the dead process has to expire before another may continue the run:
        // resume waits for it (the lease is short in tests).
        let resumed = p
            .baton(["resume", &run])
            .env("BATON_WORKFLOW_LEASE", "300ms")
            .run();
        assert!(
            resumed.success(),
            "resume after kill:{k}\n{}\n{}",
            resumed.stdout,
            resumed.stderr
        );
        assert_eq!(
            p.read("marks.txt"),
            want_marks,
            "kill:{k}: each command ran once"
        );
        assert_eq!(
            p.read("stack-marks.txt"),
            want_stack_marks,
            "kill:{k}: each stack was applied once"
        );
        let after = show(&p, &run);
        assert_eq!(after["status"], "succeeded");
        for i in [3, 6, 9] {
            assert_eq!(
                state_list(&p, &format!("stacks/s{i}"), "default"),
                ["terraform_data.r"],
                "kill:{k}"
            );
        }
    }
}

#[test]
fn a_child_workflow_runs_as_a_child_run() {
    let p = Project::new(&[(
        "w.baton.hcl",
        r#"workflow "notify" {
  input "text" {
    type = string
  }
  step "send" {
    command = "echo '${input.text}' > notified.txt"
  }
}

workflow "main" {
  step "first" {
    command = "echo v=1 > $BATON_OUTPUTS"
  }
  step "report" {
    workflow = "notify"
    inputs   = { text = "released ${step.first.outputs.v}" }
  }
}
"#,
    )]);
    p.baton(["workflow", "run", "main"]).ok();
    assert_eq!(p.read("notified.txt"), "released 1\n");
    let runs: Json = serde_json::from_str(&p.baton(["runs", "--json"]).ok().stdout).expect("JSON");
    let runs = runs.as_array().cloned().unwrap_or_default();
    let parent = runs
        .iter()
        .find(|r| r["workflow"] == "main")
        .expect("main run");
    let child = runs
        .iter()
        .find(|r| r["workflow"] == "notify")
        .expect("child run");
    assert_eq!(child["parent"], parent["id"]);
    assert_eq!(child["status"], "succeeded");
    assert_eq!(parent["status"], "succeeded");
}

#[test]
fn mistakes_in_a_workflow_file_are_reported_where_they_are() {
    let p = Project::new(&[(
        "bad.baton.hcl",
        r#"workflow "w" {
  step "a" {
    command = "echo ${step.missing.outputs.x}"
  }
  step "b" {
    command = "true"
    retry {
      attempts = "three"
    }
  }
  step "c" {
    command = "true"
    timeout = "soon"
  }
  step "d" {
    apply   = "x"
    command = "y"
  }
  schedule "s" {
    cron = "61 * * * *"
  }
}
"#,
    )]);
    let out = p.baton(["workflow", "list"]).fails();
    for want in [
        "bad.baton.hcl:3",
        "Reference to undeclared step",
        "bad.baton.hcl:8",
        "Invalid retry attempts",
        "bad.baton.hcl:13",
        "Invalid step duration",
        "Ambiguous step",
        "bad.baton.hcl:20",
        "\"61\" is not a valid minute",
    ] {
        assert!(
            out.stderr.contains(want),
            "missing {want:?} in\n{}",
            out.stderr
        );
    }
    // Nothing was started or created.
    assert!(!p.exists(".baton"));
    p.baton(["workflow", "run", "w"]).fails();
    assert!(!p.exists(".baton/workflows.db"));
}

#[test]
fn bad_inputs_are_refused_before_anything_is_created() {
    let p = release_project();
    let out = p
        .baton(["workflow", "run", "release", "--input", "colour=blue"])
        .fails();
    assert!(out.stderr.contains("has no such input"), "{}", out.stderr);
    let out = p
        .baton(["workflow", "run", "release", "--input", "env"])
        .fails();
    assert!(out.stderr.contains("expected NAME=VALUE"), "{}", out.stderr);
    assert!(!p.exists(".baton"), "nothing was created");
}

#[test]
fn a_cached_step_is_skipped_while_its_key_is_fresh() {
    let p = Project::new(&[(
        "c.baton.hcl",
        r#"workflow "build" {
  input "version" {
    type = string
  }
  step "compile" {
    command   = "echo ${input.version} >> compiled.txt; echo artifact=app-${input.version} > $BATON_OUTPUTS"
    cache_key = "compile-${input.version}"
    cache_ttl = "1h"
  }
  step "use" {
    command = "echo ${step.compile.outputs.artifact} >> used.txt"
  }
}
"#,
    )]);
    p.baton(["workflow", "run", "build", "--input", "version=1"])
        .ok();
    p.baton(["workflow", "run", "build", "--input", "version=1"])
        .ok();
    p.baton(["workflow", "run", "build", "--input", "version=2"])
        .ok();
    assert_eq!(p.read("compiled.txt"), "1\n2\n", "the same key ran once");
    // The cached step's outputs are the cached run's.
    assert_eq!(p.read("used.txt"), "app-1\napp-1\napp-2\n");
}

/// Start and end marks of two runs that must not overlap.
fn assert_one_at_a_time(log: &str) {
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    for pair in lines.chunks(2) {
        assert_eq!(pair, ["start", "end"], "the runs overlapped:\n{log}");
    }
}

#[test]
fn concurrency_queues_runs_of_a_workflow() {
    let p = Project::new(&[(
        "q.baton.hcl",
        r#"workflow "deploy" {
  concurrency = 1
  step "s" {
    command = "echo start >> log.txt; sleep 0.4; echo end >> log.txt"
  }
}
"#,
    )]);
    let a = p.baton(["workflow", "run", "deploy"]).spawn();
    let b = p.baton(["workflow", "run", "deploy"]).spawn();
    a.wait().assert_success();
    b.wait().assert_success();
    assert_one_at_a_time(&p.read("log.txt"));
}

#[test]
fn a_limit_is_shared_across_workflows() {
    let p = Project::new(&[(
        "l.baton.hcl",
        r#"limit "db" {
  max = 1
}

workflow "migrate" {
  step "m" {
    command = "echo start >> log.txt; sleep 0.4; echo end >> log.txt"
    limits  = ["db"]
  }
}

workflow "backup" {
  step "b" {
    command = "echo start >> log.txt; sleep 0.4; echo end >> log.txt"
    limits  = ["db"]
  }
}
"#,
    )]);
    let a = p.baton(["workflow", "run", "migrate"]).spawn();
    let b = p.baton(["workflow", "run", "backup"]).spawn();
    a.wait().assert_success();
    b.wait().assert_success();
    assert_one_at_a_time(&p.read("log.txt"));
}

#[test]
fn serve_fires_schedules_once_per_slot_and_times_out_approvals() {
    let p = Project::new(&[(
        "s.baton.hcl",
        r#"workflow "tick" {
  input "who" {
    type = string
  }
  step "mark" {
    command = "echo ${input.who} >> ticks.txt"
  }
  schedule "every-second" {
    cron   = "* * * * * *"
    inputs = { who = "agent" }
  }
}

workflow "gate" {
  step "ask" {
    approval {
      timeout = "1s"
    }
  }
}
"#,
    )]);
    // A run waiting for an approval that nobody gives.
    p.baton(["workflow", "run", "gate"]).ok();
    let gate = last_run(&p);
    // Two agents on the same directory at once: each slot still fires once.
    let started = std::time::Instant::now();
    let a = p.baton(["serve", "--for", "3s", "--tick", "100ms"]).spawn();
    let b = p.baton(["serve", "--for", "3s", "--tick", "100ms"]).spawn();
    a.wait().assert_success();
    b.wait().assert_success();
    let seconds = started.elapsed().as_secs() + 1;
    let ticks = p.read("ticks.txt");
    let n = ticks.lines().count() as u64;
    assert!(n >= 2, "the schedule fired: {ticks:?}");
    assert!(n <= seconds, "{n} runs in {seconds}s: a slot fired twice");
    assert!(
        ticks.lines().all(|l| l == "agent"),
        "the schedule's inputs: {ticks:?}"
    );
    // The approval timed out while the agent ran: the run failed (nothing to roll back).
    let r = show(&p, &gate);
    assert_eq!(r["status"], "rolled_back", "{r:#}");
    assert!(
        step(&r, "ask")["error"]
            .as_str()
            .is_some_and(|e| e.contains("no decision within")),
        "{r:#}"
    );
}

#[test]
fn workflow_plan_shows_stack_plans_and_changes_nothing() {
    let p = release_project();
    let out = p
        .baton(["workflow", "plan", "release", "--input", "env=qa"])
        .ok();
    assert!(
        out.stdout
            .contains("stacks/net (qa): 1 to add, 0 to change, 0 to destroy; policy: pass"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("planned when it runs: its arguments use the outputs of step.network"),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("step.smoke: command (for_each), after app, promote"));
    assert!(!p.exists("stacks/net/.baton"), "planning created no state");
    assert!(!p.exists(".baton/workflows.db"), "and started no run");
}

const WORKFLOW_POLICY: &str = r#"package workflow.release

import rego.v1

deny contains msg if {
  input.workflow.inputs.env == "prod"
  some rc in input.plan.resource_changes
  "create" in rc.change.actions
  msg := sprintf("no creates in prod: %s", [rc.address])
}

require_approval contains "migrations need a DBA" if {
  input.step.name == "migrate"
}
"#;

#[test]
fn workflow_policies_deny_a_step_or_require_an_approval() {
    let p = release_project();
    p.write("policies/release.rego", WORKFLOW_POLICY);
    // In prod, the network stack's plan creates something: denied before it starts.
    let out = p
        .baton(["workflow", "run", "release", "--input", "env=prod"])
        .fails();
    assert!(
        out.stderr
            .contains("no creates in prod: terraform_data.net"),
        "{}",
        out.stderr
    );
    assert!(state_list(&p, "stacks/net", "prod").is_empty());
    // Elsewhere the stacks go ahead, and the migration waits for the approval the policy
    // asks for.
    let out = p.baton(["workflow", "run", "release"]).ok();
    assert!(
        out.stdout.contains("migrations need a DBA"),
        "{}",
        out.stdout
    );
    let run = last_run(&p);
    let r = show(&p, &run);
    assert_eq!(step(&r, "approve:migrate")["status"], "waiting");
    assert!(!p.exists("tries"), "the migration did not start");
    p.baton(["approve", &run, "approve:migrate"]).ok();
    let r = show(&p, &run);
    assert_eq!(step(&r, "migrate")["status"], "succeeded");
    assert_eq!(step(&r, "promote")["status"], "waiting");
}

#[test]
fn a_crash_during_a_stack_step_resumes_that_stack_run() {
    let p = Project::new(&[
        (
            "w.baton.hcl",
            r#"workflow "w" {
  step "slow" {
    apply = "stacks/slow"
  }
  step "after" {
    command = "echo ${step.slow.outputs.id} >> after.txt"
  }
}
"#,
        ),
        (
            "stacks/slow/main.tf",
            r#"resource "terraform_data" "a" {
  input = "a"
}

resource "terraform_data" "b" {
  input      = "b"
  depends_on = [terraform_data.a]
  provisioner "local-exec" {
    command = "if [ -f ../../slow.log ]; then echo again >> ../../slow.log; else echo started >> ../../slow.log; sleep 31.737; fi"
  }
}

output "id" {
  value = terraform_data.a.id
}
"#,
        ),
    ]);
    let mut running = p
        .baton(["workflow", "run", "w"])
        .env("BATON_WORKFLOW_LEASE", "300ms")
        .spawn();
    // The provisioner's sleep, in a process group of its own.
    let sleepers = || -> Vec<u32> {
        std::fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
                    .filter(|pid| common::process_running(*pid, "31.737"))
                    .collect()
            })
            .unwrap_or_default()
    };
    common::wait_until(
        "the stack step to be in flight",
        std::time::Duration::from_secs(60),
        || p.exists("slow.log") && !sleepers().is_empty(),
    );
    running.crash();
    // What the crash left running would be waited for by resume for up to 30s: end it now.
    for pid in sleepers() {
        common::kill_if_running(pid, "31.737");
    }
    let run = last_run(&p);
    let r = show(&p, &run);
    assert_eq!(step(&r, "slow")["status"], "started");
    let first_stack_run = step(&r, "slow")["child_run"]
        .as_str()
        .expect("the stack run is recorded before it starts")
        .to_string();
    // The first provisioner sleeps; the resumed one finds the mark and is quick.
    let resumed = p
        .baton(["resume", &run])
        .env("BATON_WORKFLOW_LEASE", "300ms")
        .run();
    assert!(resumed.success(), "{}\n{}", resumed.stdout, resumed.stderr);
    let r = show(&p, &run);
    assert_eq!(r["status"], "succeeded", "{r:#}");
    assert!(p.exists("after.txt"));
    let stack_runs = step(&r, "slow")["child_run"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        stack_runs.starts_with(&first_stack_run) && stack_runs.split_whitespace().count() == 2,
        "the interrupted stack run is resumed by a second one: {stack_runs}"
    );
    // `a` was created once: the resume did not create it again.
    let state = p
        .baton(["--chdir", "stacks/slow", "state", "list"])
        .ok()
        .stdout;
    assert_eq!(
        state.lines().filter(|l| *l == "terraform_data.a").count(),
        1,
        "{state}"
    );
}

#[test]
fn a_long_backoff_waits_without_a_process_and_the_agent_continues_it() {
    let p = Project::new(&[(
        "r.baton.hcl",
        r#"workflow "flaky" {
  step "call" {
    command = "n=$(cat tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > tries; [ $n -ge 2 ]"
    retry {
      attempts = 3
      backoff  = "1s"
    }
  }
  step "next" {
    depends_on = [step.call]
    command    = "echo done > done.txt"
  }
}
"#,
    )]);
    // Backoffs longer than 0s are not slept: the first failure leaves the run waiting.
    let out = p
        .baton(["workflow", "run", "flaky"])
        .env("BATON_WORKFLOW_MAX_SLEEP", "0s")
        .ok();
    assert!(out.stdout.contains("is waiting for call"), "{}", out.stdout);
    let run = last_run(&p);
    let r = show(&p, &run);
    assert_eq!(r["status"], "waiting");
    assert_eq!(step(&r, "call")["status"], "waiting");
    assert_eq!(step(&r, "call")["attempts"], 1);
    assert!(!p.exists("done.txt"));
    // The agent runs the second attempt once the backoff is over, and the run goes on.
    p.baton(["serve", "--for", "3s", "--tick", "100ms"])
        .env("BATON_WORKFLOW_MAX_SLEEP", "0s")
        .ok();
    let r = show(&p, &run);
    assert_eq!(r["status"], "succeeded", "{r:#}");
    assert_eq!(step(&r, "call")["attempts"], 2);
    assert_eq!(p.read("done.txt"), "done\n");
}

#[test]
fn a_detached_run_goes_on_in_the_background() {
    let p = Project::new(&[(
        "d.baton.hcl",
        r#"workflow "bg" {
  step "one" {
    command = "sleep 0.3; echo one >> marks.txt"
  }
  step "two" {
    depends_on = [step.one]
    command    = "echo two >> marks.txt"
  }
}
"#,
    )]);
    let out = p.baton(["workflow", "run", "bg", "--detach"]).ok();
    assert!(
        out.stdout.contains("started in the background"),
        "{}",
        out.stdout
    );
    let run = last_run(&p);
    common::wait_until(
        "the background run to finish",
        std::time::Duration::from_secs(60),
        || show(&p, &run)["status"] == "succeeded",
    );
    assert_eq!(p.read("marks.txt"), "one\ntwo\n");
    assert!(p.exists(&format!(".baton/workflow-logs/{run}.log")));
}

#[test]
fn a_command_holding_a_secret_is_not_recorded() {
    let p = Project::new(&[
        ("stacks/app/main.tf", APP),
        (
            "s.baton.hcl",
            r#"workflow "s" {
  step "app" {
    apply = "stacks/app"
    vars  = { subnet_id = "x" }
  }
  step "use" {
    command = "echo using ${step.app.outputs.password}; echo ok > used.txt"
  }
}
"#,
        ),
    ]);
    p.baton(["workflow", "run", "s"]).ok();
    assert_eq!(
        p.read("used.txt"),
        "ok\n",
        "the command ran with the secret"
    );
    let run = last_run(&p);
    let shown = p.baton(["runs", "show", &run, "--json"]).ok().stdout;
    let logs = p.baton(["logs", &run]).ok().all();
    for text in [&shown, &logs] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    assert!(logs.contains("output suppressed"), "{logs}");
    // Nor is it anywhere in the workflow store's file.
    let db = std::fs::read(p.join(".baton/workflows.db")).expect("store");
    let wal = std::fs::read(p.join(".baton/workflows.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!String::from_utf8_lossy(bytes).contains("using hunter2"));
    }
}

#[test]
fn a_value_step_computes_outputs_without_running_anything() {
    let p = Project::new(&[(
        "v.baton.hcl",
        r#"workflow "v" {
  step "pick" {
    for_each = toset(["a", "b"])
    command  = "echo n=${each.key} > $BATON_OUTPUTS"
  }
  step "all" {
    outputs = { names = sort([for k, s in step.pick : s.outputs.n]) }
  }
  step "use" {
    command = "echo ${join(",", step.all.outputs.names)} > names.txt"
  }
  step "bad" {
    depends_on = [step.use]
    outputs    = "not an object"
  }
}
"#,
    )]);
    let out = p.baton(["workflow", "run", "v"]).fails();
    assert!(
        out.stderr.contains("outputs must be an object"),
        "{}",
        out.stderr
    );
    assert_eq!(p.read("names.txt"), "a,b\n");
    let run = last_run(&p);
    let r = show(&p, &run);
    assert_eq!(step(&r, "all")["kind"], "value");
    assert_eq!(step(&r, "all")["status"], "succeeded");
    assert_eq!(
        step(&r, "all")["outputs"]["names"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(step(&r, "bad")["status"], "failed");
}
