//! Continuous reconciliation of a stack through the binary: `baton serve` re-plans a stack
//! that declares `terraform { baton { reconcile { … } } }` on its interval; a file changed by
//! hand is repaired on the next interval (through the normal apply), only recorded with
//! `repair = false`, and left alone when the policies deny the repair; each round is in the
//! audit log (addresses, never values) and `baton status` shows the last one. Waits are
//! bounded polls, never exact timings.

mod common;

use common::Project;
use serde_json::Value as Json;
use std::time::{Duration, Instant};

/// A stack of one file, reconciled every second.
fn stack(repair: bool) -> String {
    format!(
        r#"terraform {{
  baton {{
    reconcile {{
      interval = "1s"
      repair   = {repair}
    }}
  }}
}}

resource "local_file" "motd" {{
  filename = "${{path.module}}/motd.txt"
  content  = "managed by baton\n"
}}
"#
    )
}

const MANAGED: &str = "managed by baton\n";
const BY_HAND: &str = "edited by hand: secret-by-hand\n";

/// Denies recreating any local file.
const NO_RECREATE: &str = r#"package guard

deny[msg] {
  rc := input.resource_changes[_]
  rc.type == "local_file"
  rc.change.actions[_] == "create"
  msg := sprintf("%s must not be recreated", [rc.address])
}
"#;

fn status(p: &Project) -> Json {
    p.baton(["status", "--json"]).ok().json()
}

fn audit(p: &Project) -> Vec<Json> {
    p.baton(["audit", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn reconcile_records(p: &Project) -> Vec<Json> {
    audit(p)
        .into_iter()
        .filter(|r| r["command"] == "reconcile")
        .collect()
}

/// Polls `cond` every 100ms until it holds; fails the test after `limit`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_file_changed_by_hand_under_a_reconciled_stack_is_repaired_on_the_next_interval() {
    let p = Project::new(&[("main.tf", &stack(true))]);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(p.read("motd.txt"), MANAGED);
    let serve = p
        .baton(["serve", "--for", "60s", "--tick", "100ms"])
        .spawn();
    // A first round finds nothing to do.
    wait_until("a first reconciliation", Duration::from_secs(30), || {
        status(&p)["stack"]["last_reconciliation"]["result"] == "clean"
    });
    p.write("motd.txt", BY_HAND);
    wait_until("the file to be repaired", Duration::from_secs(30), || {
        p.read("motd.txt") == MANAGED
    });
    // The repair is recorded before the next round starts.
    wait_until("the repair to be recorded", Duration::from_secs(30), || {
        status(&p)["stack"]["last_reconciliation_not_clean"]["result"] == "repaired"
    });
    serve.interrupt();
    let out = serve.wait();
    out.assert_success();
    out.assert_stdout_contains("Reconciliation of the stack: repaired: local_file.motd");

    let s = status(&p);
    let repaired = &s["stack"]["last_reconciliation_not_clean"];
    let run_id = repaired["run_id"].as_str().expect("the repair's run id");
    assert!(s["stack"]["last_reconciliation"]["time"].is_string(), "{s}");
    assert_eq!(s["stack"]["reconcile"]["interval"], "1s");
    assert_eq!(s["stack"]["reconcile"]["repair"], true);
    // The repair was an ordinary run.
    p.baton(["runs"]).ok().assert_stdout_contains(run_id);

    let records = reconcile_records(&p);
    let rec = records
        .iter()
        .find(|r| {
            r["outcome"]
                .as_str()
                .is_some_and(|o| o.starts_with("repaired"))
        })
        .expect("a repaired record");
    assert_eq!(rec["run_id"], run_id);
    let addresses: Vec<&str> = rec["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert!(addresses.contains(&"local_file.motd"), "{rec}");
    // What the file held is never recorded.
    let export = p.baton(["audit", "export"]).ok();
    export.assert_not_contains("secret-by-hand");
    p.baton(["audit", "verify"]).ok();

    let text = p.baton(["status"]).ok();
    text.assert_stdout_contains("every 1s, repairing");
    text.assert_stdout_contains("repaired at");
}

#[test]
fn with_repair_false_drift_is_recorded_and_left_alone() {
    let p = Project::new(&[("main.tf", &stack(false))]);
    p.baton(["apply", "--auto-approve"]).ok();
    let runs_before = p.baton(["runs", "--json"]).ok().json();
    p.write("motd.txt", BY_HAND);
    let serve = p
        .baton(["serve", "--for", "60s", "--tick", "100ms"])
        .spawn();
    wait_until("drift to be found", Duration::from_secs(30), || {
        status(&p)["stack"]["last_reconciliation"]["result"] == "drift-found"
    });
    serve.interrupt();
    serve.wait().assert_success();

    assert_eq!(p.read("motd.txt"), BY_HAND);
    let s = status(&p);
    assert_eq!(s["stack"]["last_reconciliation"]["result"], "drift-found");
    assert!(s["stack"]["last_reconciliation"]["run_id"].is_null(), "{s}");
    assert_eq!(s["stack"]["reconcile"]["repair"], false);
    // No run was started.
    assert_eq!(p.baton(["runs", "--json"]).ok().json(), runs_before);
    let records = reconcile_records(&p);
    let rec = records.last().expect("a reconcile record");
    assert!(
        rec["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("drift-found: local_file.motd (deleted outside)")),
        "{rec}"
    );
    p.baton(["status"])
        .ok()
        .assert_stdout_contains("detecting only");
}

#[test]
fn a_repair_the_policies_deny_changes_nothing() {
    let p = Project::new(&[("main.tf", &stack(true))]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.write("policies/guard.rego", NO_RECREATE);
    p.write("motd.txt", BY_HAND);
    let serve = p
        .baton(["serve", "--for", "60s", "--tick", "100ms"])
        .spawn();
    wait_until("the repair to be denied", Duration::from_secs(30), || {
        status(&p)["stack"]["last_reconciliation"]["result"] == "denied"
    });
    serve.interrupt();
    serve.wait().assert_success();

    assert_eq!(p.read("motd.txt"), BY_HAND);
    let s = status(&p);
    assert_eq!(s["stack"]["last_reconciliation"]["result"], "denied");
    let records = audit(&p);
    assert!(
        records.iter().any(|r| r["command"] == "apply"
            && r["outcome"]
                .as_str()
                .is_some_and(|o| o.starts_with("denied by policy"))),
        "the gate's own denial record"
    );
    let rec = records
        .iter()
        .rev()
        .find(|r| r["command"] == "reconcile")
        .expect("a reconcile record");
    let outcome = rec["outcome"].as_str().unwrap_or_default();
    assert!(outcome.starts_with("denied: local_file.motd"), "{rec}");
    assert!(outcome.contains("data.guard.deny"), "{rec}");
    assert!(!rec["policy"].is_null(), "{rec}");
}

#[test]
fn a_round_skips_while_another_run_holds_the_lock() {
    // A stack whose apply takes a while holds the lock while the agent's round comes due.
    let slow = format!(
        "{}\nresource \"terraform_data\" \"slow\" {{\n  input = \"x\"\n  provisioner \"local-exec\" {{\n    command = \"sleep 4\"\n  }}\n}}\n",
        stack(true)
    );
    let p = Project::new(&[("main.tf", &slow)]);
    let apply = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the apply to take the lock",
        Duration::from_secs(30),
        || status(&p)["stack"]["locked_by"].is_object(),
    );
    p.baton(["serve", "--for", "2s", "--tick", "100ms"]).ok();
    apply.wait().assert_success();
    let records = reconcile_records(&p);
    assert!(
        records.iter().any(|r| r["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("skipped-locked"))),
        "{records:?}"
    );
}

#[test]
fn a_bad_reconcile_block_is_an_error_at_its_place() {
    let p = Project::new(&[(
        "main.tf",
        "terraform {\n  baton {\n    reconcile {\n      interval = \"10\"\n      repair   = \"yes\"\n    }\n  }\n}\n",
    )]);
    let out = p.baton(["validate"]).fails();
    out.assert_stderr_contains("Invalid reconcile duration");
    out.assert_stderr_contains("main.tf:4:18");
    out.assert_stderr_contains("Invalid reconcile repair");
    out.assert_stderr_contains("main.tf:5:18");
}
