//! End-to-end tests of failure handling (issue 4) through the `baton` binary: retries with
//! backoff (counted by the commands themselves and by the run journal), timeouts that kill a
//! command's whole process group, automatic rollback (of creates, updates and deletes), a
//! rollback that fails halfway and is finished by a second `baton rollback`, `--on-failure=halt`
//! and its configuration default, `baton rollback --to-version N`, drift (`baton drift`,
//! `apply --refresh-only`), `baton runs show`, and `baton resume` after a crash in the middle
//! of a provider call. Ctrl-C once and twice are tested in `e2e_core.rs`; the fault-injection
//! matrix is in `fault_injection.rs`.
//!
//! Each test works in its own temporary directory (see `common`), asserts no wall-clock time
//! (it only waits, polling, for something that must not happen), and leaves no process behind.

mod common;

use common::{wait_until, Output, Project};
use serde_json::Value as Json;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// `baton state list`, sorted.
fn state_list(p: &Project) -> Vec<String> {
    let mut v = p.baton(["state", "list"]).ok().lines();
    v.sort();
    v
}

/// `baton runs --json`, newest first.
fn runs(p: &Project) -> Vec<Json> {
    p.baton(["runs", "--json"])
        .ok()
        .json()
        .as_array()
        .cloned()
        .expect("`baton runs --json` is an array")
}

/// The id of the newest run.
fn newest_run(p: &Project) -> String {
    runs(p)
        .first()
        .and_then(|r| r["id"].as_str().map(str::to_string))
        .expect("a run")
}

/// The status `baton runs --json` gives run `id`.
fn run_status(p: &Project, id: &str) -> String {
    let all = runs(p);
    all.iter()
        .find(|r| r["id"] == id)
        .and_then(|r| r["status"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("run {id} is not listed: {all:#?}"))
}

/// Asserts that `baton runs` (human) has a line starting with run `id` that says `status`.
fn assert_runs_line(p: &Project, id: &str, status: &str) {
    let o = p.baton(["runs"]).ok();
    let line = o.stdout.lines().find(|l| l.starts_with(id));
    assert!(
        line.is_some_and(|l| l.split_whitespace().any(|w| w == status)),
        "`baton runs` must show run {id} as {status}:\n{}",
        o.stdout
    );
}

/// `baton runs show RUN --json`.
fn run_json(p: &Project, id: &str) -> Json {
    p.baton(["runs", "show", id, "--json"]).ok().json()
}

/// The journal entries of run `id` for `addr` in `phase` (`apply` or `rollback`).
fn entries(p: &Project, id: &str, addr: &str, phase: &str) -> Vec<Json> {
    run_json(p, id)["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["address"] == addr && a["phase"] == phase)
        .cloned()
        .collect()
}

/// The one journal entry of run `id` for `addr` in the apply phase.
fn apply_entry(p: &Project, id: &str, addr: &str) -> Json {
    let e = entries(p, id, addr, "apply");
    assert_eq!(
        e.len(),
        1,
        "run {id} must journal {addr} once: {:#}",
        run_json(p, id)
    );
    e[0].clone()
}

/// A counter file the commands increment (0 when absent).
fn counter(p: &Project, name: &str) -> u32 {
    if !p.exists(name) {
        return 0;
    }
    p.read(name).trim().parse().expect("a number")
}

/// A refresh-only plan has nothing to report: state equals reality.
fn assert_refresh_only_plan_empty(p: &Project) {
    p.baton(["plan", "--refresh-only", "--detailed-exitcode"])
        .run()
        .assert_code(0);
}

/// The objects of `baton show --json` (the current state).
fn state_objects(p: &Project) -> Json {
    p.baton(["show", "--json"]).ok().json()["values"]["root_module"]["resources"].clone()
}

fn lower(o: &Output) -> String {
    o.all().to_lowercase()
}

// ---------------------------------------------------------------------------------------------
// 1. Retries and backoff.
// ---------------------------------------------------------------------------------------------

/// A `shell_script` whose create fails `failures` times (printing `stderr` and exiting with
/// `code`), counting its attempts in `<name>.count`, then succeeds and creates `<name>.obj`.
fn flaky(name: &str, failures: u32, stderr: &str, code: u32, extra: &str) -> String {
    format!(
        r#"resource "shell_script" "{name}" {{
  lifecycle_commands {{
    create = <<-EOT
      n=$(cat {name}.count 2>/dev/null || echo 0)
      n=$((n + 1))
      echo "$n" > {name}.count
      if [ "$n" -le {failures} ]; then
        echo "{stderr}" >&2
        exit {code}
      fi
      touch {name}.obj
      echo '{{"ok":"yes"}}'
    EOT
    read   = <<-EOT
      [ -f {name}.obj ] || exit 0
      echo '{{"ok":"yes"}}'
    EOT
    delete = <<-EOT
      rm -f {name}.obj
    EOT
  }}
{extra}}}
"#
    )
}

const REFUSED: &str = "dial tcp 127.0.0.1:5432: connect: connection refused";

#[test]
fn transient_failure_is_retried_until_it_succeeds() {
    let p = Project::new(&[("main.tf", &flaky("flaky", 2, REFUSED, 1, ""))]);
    p.baton(["apply", "--auto-approve", "--retry-backoff", "10ms"])
        .ok()
        .assert_stdout_contains("Apply complete! Resources: 1 added");
    assert_eq!(counter(&p, "flaky.count"), 3, "two failures, then success");
    assert!(p.exists("flaky.obj"));
    let id = newest_run(&p);
    let e = apply_entry(&p, &id, "shell_script.flaky");
    assert_eq!(e["attempts"], 3, "{e:#}");
    assert_eq!(e["status"], "done", "{e:#}");
    p.baton(["runs", "show", &id])
        .ok()
        .assert_stdout_contains("attempts 3");
    assert_eq!(state_list(&p), ["shell_script.flaky"]);
}

#[test]
fn retry_attempts_flag_caps_the_attempts() {
    let p = Project::new(&[("main.tf", &flaky("flaky", 2, REFUSED, 1, ""))]);
    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--retry-attempts",
            "2",
            "--retry-backoff",
            "10ms",
        ])
        .fails();
    out.assert_contains("connection refused");
    out.assert_contains("2 attempts");
    assert_eq!(counter(&p, "flaky.count"), 2, "exactly two attempts");
    assert!(!p.exists("flaky.obj"));
    let id = newest_run(&p);
    let e = apply_entry(&p, &id, "shell_script.flaky");
    assert_eq!(e["attempts"], 2, "{e:#}");
    assert_eq!(e["status"], "failed", "{e:#}");
    assert!(state_list(&p).is_empty());
}

#[test]
fn permanent_failure_is_not_retried() {
    let p = Project::new(&[(
        "main.tf",
        &flaky("broken", 5, "invalid configuration value", 1, ""),
    )]);
    let out = p
        .baton(["apply", "--auto-approve", "--retry-backoff", "10ms"])
        .fails();
    out.assert_contains("invalid configuration value");
    assert_eq!(
        counter(&p, "broken.count"),
        1,
        "a permanent failure runs once"
    );
    let id = newest_run(&p);
    let e = apply_entry(&p, &id, "shell_script.broken");
    assert_eq!(e["attempts"], 1, "{e:#}");
    assert_eq!(e["status"], "failed", "{e:#}");
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|s| s.contains("invalid configuration value")),
        "the journal keeps the error: {e:#}"
    );
}

#[test]
fn exit_code_75_and_temporarily_unavailable_are_retryable() {
    let config = flaky("tempfail", 1, "try again later", 75, "")
        + &flaky(
            "unavailable",
            1,
            "503 Service Temporarily Unavailable",
            1,
            "",
        );
    let p = Project::new(&[("main.tf", &config)]);
    p.baton(["apply", "--auto-approve", "--retry-backoff", "10ms"])
        .ok();
    assert_eq!(counter(&p, "tempfail.count"), 2);
    assert_eq!(counter(&p, "unavailable.count"), 2);
    let id = newest_run(&p);
    for addr in ["shell_script.tempfail", "shell_script.unavailable"] {
        assert_eq!(apply_entry(&p, &id, addr)["attempts"], 2, "{addr}");
    }
}

/// A `retry` block in the resource overrides the run's default and the command line.
#[test]
fn per_resource_retry_block_overrides_the_run_default() {
    let block = "\n  retry {\n    attempts    = 4\n    backoff     = \"10ms\"\n    max_backoff = \"1s\"\n  }\n";
    let config = flaky("custom", 3, REFUSED, 1, block);

    // The default is 3 attempts: the block's 4 let the fourth succeed.
    let p = Project::new(&[("main.tf", &config)]);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(counter(&p, "custom.count"), 4);
    let id = newest_run(&p);
    assert_eq!(apply_entry(&p, &id, "shell_script.custom")["attempts"], 4);

    // The run's --retry-attempts 2 does not override the resource's own setting.
    let q = Project::new(&[("main.tf", &config)]);
    q.baton(["apply", "--auto-approve", "--retry-attempts", "2"])
        .ok();
    assert_eq!(counter(&q, "custom.count"), 4);

    // Without the block, the same resource fails after the default 3 attempts.
    let r = Project::new(&[("main.tf", &flaky("custom", 3, REFUSED, 1, ""))]);
    r.baton(["apply", "--auto-approve", "--retry-backoff", "10ms"])
        .fails();
    assert_eq!(counter(&r, "custom.count"), 3);
}

// ---------------------------------------------------------------------------------------------
// 2. Timeouts kill the whole process group.
// ---------------------------------------------------------------------------------------------

const TIMEOUT_CONFIG: &str = r#"resource "shell_script" "slow" {
  lifecycle_commands {
    create = <<-EOT
      (sleep 3; touch marker) &
      echo $! > child.pid
      echo $$ > main.pid
      exec sleep 30
    EOT
    delete = "true"
  }

  timeouts {
    create = "1s"
  }
}
"#;

#[test]
fn timeout_kills_the_command_and_every_process_it_started() {
    let p = Project::new(&[("main.tf", TIMEOUT_CONFIG)]);
    let start = Instant::now();
    let out = p
        .baton(["apply", "--auto-approve", "--retry-attempts", "1"])
        .fails();
    let end = Instant::now();
    let msg = lower(&out);
    assert!(
        msg.contains("timed out") || msg.contains("timeout"),
        "the error must say the command timed out:\n{}",
        out.all()
    );
    // The background child would touch `marker` 3 s after it started: wait (polling) until
    // well after that, and it must never appear.
    let deadline = std::cmp::max(
        start + Duration::from_secs(4),
        end + Duration::from_millis(3500),
    );
    let mut appeared = false;
    while Instant::now() < deadline {
        if p.exists("marker") {
            appeared = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids: Vec<(u32, &str)> = [("child.pid", "marker"), ("main.pid", "sleep")]
        .iter()
        .filter(|(f, _)| p.exists(f))
        .filter_map(|(f, needle)| p.read(f).trim().parse().ok().map(|pid| (pid, *needle)))
        .collect();
    let alive: Vec<u32> = pids
        .iter()
        .filter(|(pid, needle)| common::process_running(*pid, needle))
        .map(|(pid, _)| *pid)
        .collect();
    for (pid, needle) in &pids {
        common::kill_if_running(*pid, needle);
    }
    assert_eq!(pids.len(), 2, "the create command ran and wrote its pids");
    assert!(
        !appeared,
        "the timed-out command's background child survived and touched the marker"
    );
    assert!(alive.is_empty(), "processes left running: {alive:?}");
    assert!(state_list(&p).is_empty());
    assert_eq!(run_status(&p, &newest_run(&p)), "rolled_back");
}

// ---------------------------------------------------------------------------------------------
// 3. Automatic rollback, and a rollback that fails halfway.
// ---------------------------------------------------------------------------------------------

/// `terraform_data.a` → `shell_script.s` (its delete fails while `block_delete` exists) →
/// `shell_script.u` → `shell_script.fail` (always fails).
const HALFWAY_CONFIG: &str = r#"resource "terraform_data" "a" {
  input = "a"
}

resource "shell_script" "s" {
  lifecycle_commands {
    create = <<-EOT
      touch s.obj
      printf '{"a":"%s"}\n' "$A"
    EOT
    read   = <<-EOT
      [ -f s.obj ] || exit 0
      printf '{"a":"%s"}\n' "$A"
    EOT
    delete = <<-EOT
      if [ -f block_delete ]; then
        echo "delete blocked by block_delete" >&2
        exit 1
      fi
      rm -f s.obj
    EOT
  }

  environment = {
    A = terraform_data.a.output
  }
}

resource "shell_script" "u" {
  lifecycle_commands {
    create = <<-EOT
      touch u.obj
      printf '{"s":"%s"}\n' "$S"
    EOT
    read   = <<-EOT
      [ -f u.obj ] || exit 0
      printf '{"s":"%s"}\n' "$S"
    EOT
    delete = "rm -f u.obj"
  }

  environment = {
    S = shell_script.s.output["a"]
  }
}

resource "shell_script" "fail" {
  lifecycle_commands {
    create = <<-EOT
      echo "permanent failure" >&2
      exit 1
    EOT
    delete = "true"
  }

  environment = {
    U = shell_script.u.output["s"]
  }
}
"#;

#[test]
fn rollback_that_fails_halfway_is_finished_by_a_second_rollback() {
    let p = Project::new(&[("main.tf", HALFWAY_CONFIG), ("block_delete", "")]);
    let out = p.baton(["apply", "--auto-approve"]).fails();
    let id = newest_run(&p);
    out.assert_contains("permanent failure");
    out.assert_contains("delete blocked by block_delete");
    assert!(
        lower(&out).contains("did not finish"),
        "the message must say the rollback did not finish:\n{}",
        out.stderr
    );
    out.assert_stderr_contains(&format!("baton rollback {id}"));

    // Halfway: u was undone, s could not be, and a (which s depends on) stays with it.
    assert!(!p.exists("u.obj"), "u was rolled back");
    assert!(p.exists("s.obj"), "s's delete was blocked");
    assert_eq!(state_list(&p), ["shell_script.s", "terraform_data.a"]);
    assert_refresh_only_plan_empty(&p);
    assert_runs_line(&p, &id, "rollback_failed");
    let u = entries(&p, &id, "shell_script.u", "rollback");
    assert!(
        u.iter()
            .any(|e| e["action"] == "delete" && e["status"] == "done"),
        "the journal records u's rollback delete: {u:#?}"
    );
    let s = entries(&p, &id, "shell_script.s", "rollback");
    assert!(
        s.iter().any(|e| e["status"] == "failed"
            && e["error"]
                .as_str()
                .is_some_and(|x| x.contains("delete blocked"))),
        "the journal records s's failed rollback delete: {s:#?}"
    );

    // New work is refused until the run is resolved, and the refusal changes nothing.
    let before = p.snapshot_files();
    let refused = p.baton(["apply", "--auto-approve"]).fails();
    refused.assert_contains(&id);
    refused.assert_contains(&format!("baton rollback {id}"));
    assert_eq!(p.snapshot_files(), before);
    assert_eq!(state_list(&p), ["shell_script.s", "terraform_data.a"]);
    assert_eq!(run_status(&p, &id), "rollback_failed");

    // Unblock and finish the rollback.
    p.remove("block_delete");
    p.baton(["rollback", &id, "--auto-approve"]).ok();
    assert!(!p.exists("s.obj") && !p.exists("u.obj"));
    assert!(state_list(&p).is_empty());
    assert_refresh_only_plan_empty(&p);
    assert_runs_line(&p, &id, "rolled_back");
    let next = p.baton(["plan"]).ok();
    next.assert_not_contains("needs attention");
    next.assert_not_contains("stale lock");
}

/// "A failure during rollback is reported with exactly what is left and how to finish":
/// the report names every object the failed rollback leaves behind.
#[test]
fn rollback_failure_report_names_every_object_left() {
    let p = Project::new(&[("main.tf", HALFWAY_CONFIG), ("block_delete", "")]);
    let out = p.baton(["apply", "--auto-approve"]).fails();
    assert_eq!(state_list(&p), ["shell_script.s", "terraform_data.a"]);
    for left in ["shell_script.s", "terraform_data.a"] {
        assert!(
            out.stderr.contains(left),
            "the rollback failure report must name {left}, which is left behind\n--- stderr ---\n{}",
            out.stderr
        );
    }
}

/// When an action fails, the run stops scheduling new actions (with `--parallelism 1`
/// nothing else is in flight, so nothing else may start) before rolling back.
#[test]
fn failed_action_stops_scheduling_new_actions() {
    // A real failure: no apply-phase action may follow the failed one in the journal.
    let config = r#"resource "shell_script" "bad" {
  lifecycle_commands {
    create = <<-EOT
      echo "permanent failure" >&2
      exit 1
    EOT
    delete = "true"
  }
}

resource "terraform_data" "n" {
  count = 4
  input = "n${count.index}"
}
"#;
    let p = Project::new(&[("main.tf", config)]);
    p.baton(["apply", "--auto-approve", "--parallelism", "1"])
        .fails();
    let id = newest_run(&p);
    let applied: Vec<(String, String)> = run_json(&p, &id)["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["phase"] == "apply")
        .map(|a| {
            (
                a["address"].as_str().unwrap_or_default().to_string(),
                a["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let failed = applied
        .iter()
        .position(|(a, s)| a == "shell_script.bad" && s == "failed")
        .unwrap_or_else(|| panic!("the failure is journaled: {applied:?}"));
    assert_eq!(
        failed + 1,
        applied.len(),
        "after shell_script.bad failed (nothing else in flight), new actions started: {:?}",
        &applied[failed + 1..]
    );
    assert!(state_list(&p).is_empty());
    assert_eq!(run_status(&p, &id), "rolled_back");

    // The same with an injected failure of the 2nd action: only the 1st ever ran.
    let config = r#"resource "terraform_data" "n" {
  count = 5
  input = "n${count.index}"
}
"#;
    let p = Project::new(&[("main.tf", config)]);
    let out = p
        .baton(["apply", "--auto-approve", "--parallelism", "1"])
        .env("BATON_FAULT_INJECT", "fail:2")
        .fails();
    let id = newest_run(&p);
    let applied: Vec<(String, String)> = run_json(&p, &id)["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["phase"] == "apply")
        .map(|a| {
            (
                a["address"].as_str().unwrap_or_default().to_string(),
                a["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // The 1st action done, the 2nd (injected) failure journaled, nothing after it.
    assert_eq!(
        applied.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["done", "failed"],
        "after the 2nd action failed, no new action may start; the run went on with {applied:?}\n{}",
        out.stdout
    );
    assert_eq!(
        common::lines_with(&out.stdout, "Creation complete").len(),
        1,
        "{}",
        out.stdout
    );
    assert!(state_list(&p).is_empty());
    assert_eq!(run_status(&p, &id), "rolled_back");
}

/// The automatic rollback returns updated objects to their prior values and recreates the
/// objects the run deleted.
#[test]
fn automatic_rollback_restores_updated_and_deleted_objects() {
    let v1 = r#"resource "local_file" "conf" {
  filename = "${path.module}/conf.txt"
  content  = "v1"
}

resource "terraform_data" "t" {
  input = "one"
}

resource "terraform_data" "old" {
  input = "old"
}
"#;
    let v2 = r#"resource "local_file" "conf" {
  filename = "${path.module}/conf.txt"
  content  = "v2"
}

resource "terraform_data" "t" {
  input = "two"
}

resource "shell_script" "bad" {
  lifecycle_commands {
    create = <<-EOT
      echo "cannot create: $C $T" >&2
      exit 1
    EOT
    delete = "true"
  }

  environment = {
    C = local_file.conf.content
    T = terraform_data.t.output
  }
}
"#;
    let p = Project::new(&[("main.tf", v1)]);
    p.baton(["apply", "--auto-approve"]).ok();
    let before = state_objects(&p);
    p.write("main.tf", v2);
    let out = p.baton(["apply", "--auto-approve"]).fails();
    out.assert_contains("cannot create: v2 two");
    assert_eq!(p.read("conf.txt"), "v1");
    assert_eq!(
        state_list(&p),
        ["local_file.conf", "terraform_data.old", "terraform_data.t"]
    );
    let show = p.baton(["state", "show", "terraform_data.t"]).ok();
    show.assert_stdout_contains("\"one\"");
    show.assert_not_contains("\"two\"");
    assert_eq!(
        state_objects(&p),
        before,
        "the state is as it was before the run"
    );
    assert_eq!(run_status(&p, &newest_run(&p)), "rolled_back");
}

// ---------------------------------------------------------------------------------------------
// 4. --on-failure=halt and its configuration default.
// ---------------------------------------------------------------------------------------------

/// `terraform_data.a` → `shell_script.s` → `shell_script.fail`.
fn halt_config(with_default: bool) -> String {
    let head = if with_default {
        "terraform {\n  baton {\n    on_failure = \"halt\"\n  }\n}\n\n"
    } else {
        ""
    };
    format!(
        r#"{head}resource "terraform_data" "a" {{
  input = "a"
}}

resource "shell_script" "s" {{
  lifecycle_commands {{
    create = <<-EOT
      touch s.obj
      printf '{{"a":"%s"}}\n' "$A"
    EOT
    read   = <<-EOT
      [ -f s.obj ] || exit 0
      printf '{{"a":"%s"}}\n' "$A"
    EOT
    delete = "rm -f s.obj"
  }}

  environment = {{
    A = terraform_data.a.output
  }}
}}

resource "shell_script" "fail" {{
  lifecycle_commands {{
    create = <<-EOT
      echo "permanent failure" >&2
      exit 1
    EOT
    delete = "true"
  }}

  environment = {{
    S = shell_script.s.output["a"]
  }}
}}
"#
    )
}

/// Asserts that the failed run `id` kept what it completed, then undoes it with
/// `baton rollback RUN`.
fn assert_halted_then_roll_back(p: &Project, out: &Output, id: &str) {
    out.assert_contains("permanent failure");
    out.assert_stderr_contains(&format!("baton rollback {id}"));
    assert!(p.exists("s.obj"), "halt keeps the completed objects");
    assert_eq!(state_list(p), ["shell_script.s", "terraform_data.a"]);
    assert_refresh_only_plan_empty(p);
    assert_eq!(run_status(p, id), "failed");
    assert_eq!(run_json(p, id)["on_failure"], "halt");
    assert!(entries(p, id, "shell_script.s", "rollback").is_empty());

    p.baton(["rollback", id, "--auto-approve"]).ok();
    assert!(!p.exists("s.obj"));
    assert!(state_list(p).is_empty());
    assert_refresh_only_plan_empty(p);
    assert_runs_line(p, id, "rolled_back");
}

#[test]
fn on_failure_halt_keeps_completed_objects_until_rollback() {
    let p = Project::new(&[("main.tf", &halt_config(false))]);
    let out = p
        .baton(["apply", "--auto-approve", "--on-failure=halt"])
        .fails();
    let id = newest_run(&p);
    assert_halted_then_roll_back(&p, &out, &id);
}

#[test]
fn configuration_sets_the_on_failure_default_and_the_flag_overrides_it() {
    let p = Project::new(&[("main.tf", &halt_config(true))]);
    let out = p.baton(["apply", "--auto-approve"]).fails();
    let id = newest_run(&p);
    assert_halted_then_roll_back(&p, &out, &id);

    let q = Project::new(&[("main.tf", &halt_config(true))]);
    q.baton(["apply", "--auto-approve", "--on-failure=rollback"])
        .fails();
    let id = newest_run(&q);
    assert!(!q.exists("s.obj"));
    assert!(state_list(&q).is_empty());
    assert_eq!(run_status(&q, &id), "rolled_back");
    assert_eq!(run_json(&q, &id)["on_failure"], "rollback");
}

/// Issue 10: Baton's settings are decoded when the configuration loads. A bad value is an
/// error at its `file:line:col` from `baton validate` (and stops `apply` before any action),
/// never a silent default.
#[test]
fn validate_reports_bad_settings_at_their_location() {
    let config = r#"terraform {
  baton {
    on_failure = "explode"
    max_fail_percentage = 120
  }
}

resource "terraform_data" "a" {
  input = "a"

  retry {
    attempts = "three"
  }

  timeouts {
    create = "5 minutes"
  }
}
"#;
    let p = Project::new(&[("main.tf", config)]);
    let out = p.baton(["validate"]).fails();
    for (loc, summary) in [
        ("main.tf:3:18", "Invalid on_failure policy"),
        ("main.tf:4:27", "Invalid max_fail_percentage"),
        ("main.tf:12:16", "Invalid retry attempts"),
        ("main.tf:16:14", "Invalid timeouts duration"),
    ] {
        out.assert_contains(loc);
        out.assert_contains(summary);
    }
    out.assert_contains("unknown unit \" minutes\"");
    out.assert_contains("not \"explode\"");
    out.assert_contains("from 0 to 100");

    // Each mistake alone is enough.
    for (settings, loc) in [
        ("  retry {\n    attempts = -2\n  }\n", "main.tf:4:16"),
        ("  retry {\n    backoff = 5\n  }\n", "main.tf:4:15"),
        ("  retry {\n    tries = 5\n  }\n", "main.tf:4:5"),
        ("  timeouts {\n    delete = \"-1m\"\n  }\n", "main.tf:4:14"),
        ("  timeouts {\n    create = \"10\"\n  }\n", "main.tf:4:14"),
        ("  timeouts {\n    create = var.t\n  }\n", "main.tf:4:14"),
    ] {
        let config = format!("resource \"terraform_data\" \"a\" {{\n\n{settings}}}\n");
        let p = Project::new(&[("main.tf", &config)]);
        let out = p.baton(["validate"]).fails();
        out.assert_contains(loc);
        let out = p.baton(["apply", "--auto-approve"]).fails();
        out.assert_contains(loc);
        assert!(state_list(&p).is_empty(), "{config}");
    }

    // Go's grammar is accepted: fractions, several units, micro signs.
    let good = "resource \"terraform_data\" \"a\" {\n  retry {\n    attempts    = 2\n    backoff     = \"1.5s\"\n    max_backoff = \"1h30m\"\n  }\n\n  timeouts {\n    create = \"90s\"\n    delete = \"300ms\"\n    update = \"1500µs\"\n  }\n}\n";
    Project::new(&[("main.tf", good)]).baton(["validate"]).ok();
}

/// Issue 10: `baton resume` finishes a run with the failure policy recorded for it. The run was
/// started with `--on-failure=halt` (the configuration says nothing, so its default would be
/// rollback): when the resumed run fails, what completed is kept.
#[test]
fn resume_uses_the_failure_policy_recorded_with_the_run() {
    let config = format!(
        "{MID_ACTION_CONFIG}\nresource \"shell_script\" \"fail\" {{\n  lifecycle_commands {{\n    create = <<-EOT\n      echo \"permanent failure\" >&2\n      exit 1\n    EOT\n    delete = \"true\"\n  }}\n\n  environment = {{\n    V = shell_script.obj.output[\"v\"]\n  }}\n}}\n"
    );
    let p = Project::new(&[("main.tf", &config)]);
    let mut run = p
        .baton(["apply", "--auto-approve", "--on-failure=halt"])
        .spawn();
    wait_until(
        "the create command to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );
    run.crash();
    drop(run);
    p.write("release", "");
    let id = newest_run(&p);
    assert_eq!(run_status(&p, &id), "interrupted");
    assert_eq!(run_json(&p, &id)["on_failure"], "halt");

    let out = p.baton(["resume", &id, "--auto-approve"]).fails();
    out.assert_contains("permanent failure");
    assert!(
        p.exists("obj.marker"),
        "the run's halt policy keeps what completed:\n{}",
        out.all()
    );
    let list = state_list(&p);
    assert!(list.contains(&"shell_script.obj".to_string()), "{list:?}");
    assert!(!list.contains(&"shell_script.fail".to_string()), "{list:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. baton rollback --to-version N.
// ---------------------------------------------------------------------------------------------

#[test]
fn rollback_to_version_returns_managed_objects_to_that_version() {
    let v1 = r#"resource "local_file" "a" {
  filename = "${path.module}/a.txt"
  content  = "version one"
}
"#;
    let v2 = r#"resource "local_file" "a" {
  filename = "${path.module}/a.txt"
  content  = "version two"
}

resource "local_file" "b" {
  filename = "${path.module}/b.txt"
  content  = "added in version two"
}
"#;
    let p = Project::new(&[("main.tf", v1)]);
    p.baton(["apply", "--auto-approve"]).ok();
    let hist = p.baton(["state", "history", "--json"]).ok().json();
    let serial = hist[0]["serial"]
        .as_u64()
        .expect("the first version's serial");
    let objects_v1 = state_objects(&p);

    p.write("main.tf", v2);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(p.read("a.txt"), "version two");
    assert!(p.exists("b.txt"));

    p.baton([
        "rollback",
        "--to-version",
        &serial.to_string(),
        "--auto-approve",
    ])
    .ok();
    assert_eq!(p.read("a.txt"), "version one");
    assert!(!p.exists("b.txt"), "the object added later is gone");
    assert_eq!(state_list(&p), ["local_file.a"]);
    assert_eq!(
        state_objects(&p),
        objects_v1,
        "state matches version {serial}"
    );
    assert_refresh_only_plan_empty(&p);
    let hist = p.baton(["state", "history", "--json"]).ok().json();
    let versions = hist.as_array().expect("versions");
    assert_eq!(
        versions.len(),
        3,
        "the rollback writes a new version: {hist:#}"
    );
    assert!(
        versions.iter().any(|v| v["command"] == "rollback"),
        "{hist:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Drift.
// ---------------------------------------------------------------------------------------------

#[test]
fn drift_is_reported_accepted_by_refresh_only_apply_and_repaired_by_apply() {
    let config = r#"resource "local_file" "a" {
  filename = "${path.module}/a.txt"
  content  = "managed"
}

resource "local_file" "b" {
  filename = "${path.module}/b.txt"
  content  = "untouched"
}
"#;
    let p = Project::new(&[("main.tf", config)]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.baton(["drift"]).run().assert_code(0);

    p.write("a.txt", "edited outside Baton");
    let drift = p.baton(["drift"]).run();
    drift.assert_code(2);
    drift.assert_stdout_contains("local_file.a");
    drift.assert_not_contains("local_file.b");

    let json = p.baton(["drift", "--json"]).run();
    json.assert_code(2);
    let j = json.json();
    let drifted: Vec<&str> = j["resource_drift"]
        .as_array()
        .expect("resource_drift")
        .iter()
        .filter_map(|d| d["address"].as_str())
        .collect();
    assert_eq!(drifted, ["local_file.a"], "{j:#}");

    // A refresh-only plan shows the same, and changes nothing.
    p.baton(["plan", "--refresh-only", "--detailed-exitcode"])
        .run()
        .assert_code(2);

    // An edited local_file no longer matches its recorded content: the provider reports it
    // gone, so accepting reality forgets it (and touches nothing on disk).
    p.baton(["apply", "--refresh-only", "--auto-approve"]).ok();
    assert_eq!(state_list(&p), ["local_file.b"]);
    assert_eq!(p.read("a.txt"), "edited outside Baton");
    p.baton(["drift"]).run().assert_code(0);
    assert_refresh_only_plan_empty(&p);

    // A normal plan recreates it.
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("local_file.a will be created");
    plan.assert_stdout_contains("Plan: 1 to add, 0 to change, 0 to destroy.");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(p.read("a.txt"), "managed");
    p.baton(["drift"]).run().assert_code(0);
}

// ---------------------------------------------------------------------------------------------
// 7. baton runs / runs show.
// ---------------------------------------------------------------------------------------------

#[test]
fn runs_show_lists_every_action_with_attempts_duration_and_error() {
    let config = r#"resource "terraform_data" "a" {
  input = "a"
}
"#
    .to_string()
        + &flaky(
            "flaky",
            1,
            REFUSED,
            1,
            "\n  environment = {\n    A = terraform_data.a.output\n  }\n",
        )
        + r#"
resource "shell_script" "bad" {
  lifecycle_commands {
    create = <<-EOT
      echo "bad thing happened" >&2
      exit 1
    EOT
    delete = "true"
  }

  environment = {
    F = shell_script.flaky.output["ok"]
  }
}
"#;
    let p = Project::new(&[("main.tf", &config)]);
    p.baton(["apply", "--auto-approve", "--retry-backoff", "10ms"])
        .fails();
    let id = newest_run(&p);

    // Human: one line per action with its phase, action, address, status, attempts, duration.
    let show = p.baton(["runs", "show", &id]).ok();
    show.assert_stdout_contains(&id);
    show.assert_stdout_contains("rolled_back");
    show.assert_stdout_contains("bad thing happened");
    let expect = [
        (
            "[apply]",
            "create",
            "terraform_data.a",
            "done",
            "attempts 1",
        ),
        (
            "[apply]",
            "create",
            "shell_script.flaky",
            "done",
            "attempts 2",
        ),
        (
            "[apply]",
            "create",
            "shell_script.bad",
            "failed",
            "attempts 1",
        ),
        (
            "[rollback]",
            "delete",
            "shell_script.flaky",
            "done",
            "attempts 1",
        ),
        (
            "[rollback]",
            "delete",
            "terraform_data.a",
            "done",
            "attempts 1",
        ),
    ];
    for (phase, action, addr, status, attempts) in expect {
        let line = show.stdout.lines().find(|l| {
            l.contains(phase)
                && l.contains(action)
                && l.split_whitespace().any(|w| w == addr)
                && l.contains(status)
        });
        let line = line.unwrap_or_else(|| {
            panic!(
                "no `{phase} {action} {addr} {status}` line in `runs show`:\n{}",
                show.stdout
            )
        });
        assert!(line.contains(attempts), "{line:?} should say {attempts}");
        let has_duration = line.split_whitespace().any(|w| {
            w.strip_suffix('s')
                .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok())
        });
        assert!(has_duration, "{line:?} should show a duration");
    }

    // JSON: the run and every action.
    let j = run_json(&p, &id);
    assert_eq!(j["id"], id.as_str());
    assert_eq!(j["kind"], "apply");
    assert_eq!(j["status"], "rolled_back");
    for key in ["who", "started_at", "finished_at", "summary"] {
        assert!(j[key].is_string(), "runs show --json has {key}: {j:#}");
    }
    let actions = j["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), expect.len(), "{j:#}");
    for (a, (phase, action, addr, status, attempts)) in actions.iter().zip(expect) {
        assert_eq!(
            a["phase"],
            phase.trim_matches(|c| c == '[' || c == ']'),
            "{a:#}"
        );
        assert_eq!(a["action"], action, "{a:#}");
        assert_eq!(a["address"], addr, "{a:#}");
        assert_eq!(a["status"], status, "{a:#}");
        assert_eq!(
            a["attempts"].as_u64(),
            attempts
                .strip_prefix("attempts ")
                .and_then(|n| n.parse().ok()),
            "{a:#}"
        );
        assert!(a["duration_ms"].is_u64(), "{a:#}");
        assert!(a["started_at"].is_string(), "{a:#}");
    }
    let bad = &actions[2];
    assert!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.contains("bad thing happened")),
        "{bad:#}"
    );
    assert!(actions[0]["error"].is_null());

    // `baton runs`: one line per run, id first, newest first.
    p.write(
        "main.tf",
        "resource \"terraform_data\" \"x\" {\n  input = \"x\"\n}\n",
    );
    p.baton(["apply", "--auto-approve"]).ok();
    let second = newest_run(&p);
    assert_ne!(second, id);
    let list = p.baton(["runs"]).ok();
    let ids: Vec<&str> = list
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids, [second.as_str(), id.as_str()], "{}", list.stdout);
    let all = runs(&p);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["id"], second.as_str());
    assert_eq!(all[0]["status"], "completed");
}

// ---------------------------------------------------------------------------------------------
// 8. Resume after a crash in the middle of a provider call.
// ---------------------------------------------------------------------------------------------

/// `shell_script.obj` records each create in `obj.marker`, then blocks (bounded) until
/// `release` exists; `terraform_data.after` uses its output.
const MID_ACTION_CONFIG: &str = r#"resource "shell_script" "obj" {
  lifecycle_commands {
    create = <<-EOT
      echo created >> obj.marker
      touch started
      i=0
      while [ ! -f release ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
      done
      echo '{"v":"made"}'
    EOT
    read   = <<-EOT
      [ -f obj.marker ] || exit 0
      echo '{"v":"made"}'
    EOT
    delete = "rm -f obj.marker"
  }
}

resource "terraform_data" "after" {
  input = shell_script.obj.output["v"]
}
"#;

/// Baton is killed while a create runs (the object exists, its outcome is lost): `resume`
/// finds the object with the provider's read, adopts it instead of creating it twice, and
/// finishes the plan with the object's real values.
#[test]
fn resume_after_crash_during_create_adopts_the_object_without_creating_it_twice() {
    let p = Project::new(&[("main.tf", MID_ACTION_CONFIG)]);
    let mut run = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the create command to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );
    run.crash();
    drop(run);
    p.write("release", "");
    assert_eq!(p.read("obj.marker"), "created\n");

    let id = newest_run(&p);
    assert_eq!(run_status(&p, &id), "interrupted");
    p.baton(["resume", &id, "--auto-approve"]).ok();
    assert_eq!(
        p.read("obj.marker"),
        "created\n",
        "resume must not create the object a second time"
    );
    assert_eq!(state_list(&p), ["shell_script.obj", "terraform_data.after"]);
    let show = p.baton(["state", "show", "terraform_data.after"]).ok();
    show.assert_stdout_contains("\"made\"");
    assert_refresh_only_plan_empty(&p);
    p.baton(["plan", "--detailed-exitcode"])
        .run()
        .assert_code(0)
        .assert_stdout_contains("No changes.");
}

/// Baton is killed while a create command runs; the command goes on and makes its object after
/// the kill. An immediate `baton rollback` waits for the commands the dead run left running,
/// then finds the object the lost create made (the provider's `find`) and deletes it: nothing
/// is orphaned.
#[test]
fn rollback_after_a_crash_finds_and_deletes_what_a_lost_create_made() {
    let config = r#"resource "shell_script" "obj" {
  lifecycle_commands {
    create = <<-EOT
      touch started
      sleep 1
      echo made > obj.marker
      echo '{"v":"made"}'
    EOT
    read   = <<-EOT
      [ -f obj.marker ] || exit 0
      echo '{"v":"made"}'
    EOT
    delete = "rm -f obj.marker"
  }
}
"#;
    let p = Project::new(&[("main.tf", config)]);
    let mut run = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the create command to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );
    run.crash();
    drop(run);
    assert!(
        !p.exists("obj.marker"),
        "the command is still running when the rollback starts"
    );
    let id = newest_run(&p);
    let out = p.baton(["rollback", &id, "--auto-approve"]).ok();
    out.assert_stderr_contains("running when it was interrupted; waiting");
    assert!(
        !p.exists("obj.marker"),
        "the object the lost create made must be deleted\n{}",
        out.all()
    );
    assert!(state_list(&p).is_empty());
    assert_refresh_only_plan_empty(&p);
    assert_runs_line(&p, &id, "rolled_back");
}
