//! The policy gate end to end: Rego policies in `policies/`, `--policy DIR` and configured
//! policy sets stop (or warn about) runs before any change, overrides are audited, a saved
//! plan is checked again against today's policies, Rego errors fail closed, sensitive values
//! never reach policies, logs or the audit log; `baton policy test | eval`; and tampering
//! with the audit log in the SQLite file is caught by `baton audit verify`.

mod common;

use common::{Output, Project};
use serde_json::Value as Json;

/// The exit code of a run the policies denied.
const DENIED: i32 = 4;

const CONFIG: &str = r#"resource "local_file" "f" {
  filename = "${path.module}/made.txt"
  content  = "hello"
}

resource "terraform_data" "bucket" {
  input = { name = "logs", public = true }
}
"#;

/// Denies public buckets (older Rego syntax, `deny` set of strings).
const DENY_PUBLIC: &str = r#"package buckets

deny[msg] {
  rc := input.resource_changes[_]
  rc.type == "terraform_data"
  rc.change.after.input.public == true
  msg := sprintf("%s must not be public", [rc.address])
}
"#;

/// Warns about every created resource (Rego v1, `warn contains`).
const WARN_CREATES: &str = r#"package notes

import rego.v1

warn contains msg if {
  some rc in input.resource_changes
  "create" in rc.change.actions
  msg := sprintf("%s is new", [rc.address])
}
"#;

fn state_list(p: &Project) -> Vec<String> {
    p.baton(["state", "list"]).run().lines()
}

fn audit(p: &Project) -> Vec<Json> {
    let out = p.baton(["audit", "list", "--json"]).ok();
    out.json().as_array().cloned().unwrap_or_default()
}

fn assert_denied(out: &Output) {
    out.assert_code(DENIED);
    out.assert_stderr_contains("Policy check failed");
}

#[test]
fn hard_mandatory_deny_stops_apply_with_nothing_changed() {
    let p = Project::new(&[("main.tf", CONFIG), ("policies/buckets.rego", DENY_PUBLIC)]);
    let before = p.snapshot_files();
    let out = p.baton(["apply", "--auto-approve"]).run();
    assert_denied(&out);
    // The message names the policy file, the rule and the resource address.
    out.assert_stdout_contains("terraform_data.bucket must not be public");
    out.assert_stdout_contains("data.buckets.deny");
    out.assert_stdout_contains("policies/buckets.rego");
    out.assert_stdout_contains("[hard-mandatory] deny: terraform_data.bucket must not be public (data.buckets.deny in policies/buckets.rego, set \"default\")");
    out.assert_not_contains("Creating...");
    assert!(!p.exists("made.txt"), "nothing may be created");
    assert_eq!(p.snapshot_files(), before);
    assert!(state_list(&p).is_empty());
    // The attempt is audited, with the decision.
    let recs = audit(&p);
    let last = recs.last().expect("an audit record");
    assert_eq!(last["command"], "apply");
    assert!(last["outcome"]
        .as_str()
        .unwrap_or("")
        .contains("denied by policy"));
    assert_eq!(last["policy"]["outcome"], "hard_fail");
    assert_eq!(
        last["policy"]["findings"][0]["address"],
        "terraform_data.bucket"
    );

    // `--override-policy` cannot override a hard-mandatory denial.
    let out = p
        .baton(["apply", "--auto-approve", "--override-policy", "I insist"])
        .run();
    assert_denied(&out);
    out.assert_stderr_contains("cannot be overridden");
    assert!(!p.exists("made.txt"));

    // Plan shows the same verdict, exits with the same code and does not save a denied plan.
    let out = p.baton(["plan", "--out", "p.plan"]).run();
    assert_denied(&out);
    out.assert_stdout_contains("Plan: 2 to add");
    out.assert_stdout_contains("Policy result: denied (hard-mandatory)");
    assert!(!p.exists("p.plan"));

    // Fixing the configuration lets the run through.
    p.write(
        "main.tf",
        &CONFIG.replace("public = true", "public = false"),
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert!(p.exists("made.txt"));
}

#[test]
fn policy_flag_adds_a_directory_and_plan_json_carries_the_decision() {
    let p = Project::new(&[("main.tf", CONFIG), ("extra/buckets.rego", DENY_PUBLIC)]);
    // Without the flag nothing applies policies here.
    let out = p.baton(["plan", "--json"]).ok();
    assert!(out.json().get("policy").is_none());
    let out = p.baton(["plan", "--json", "--policy", "extra"]).run();
    out.assert_code(DENIED);
    let j = out.json();
    assert_eq!(j["policy"]["outcome"], "hard_fail");
    let f = &j["policy"]["findings"][0];
    assert_eq!(f["address"], "terraform_data.bucket");
    assert_eq!(f["rule"], "deny");
    assert_eq!(f["package"], "buckets");
    assert_eq!(f["kind"], "deny");
    assert!(
        f["policy"][0]
            .as_str()
            .unwrap_or("")
            .ends_with("extra/buckets.rego"),
        "{f}"
    );
    // The rest of the document is the plan.
    assert!(j["resource_changes"]
        .as_array()
        .is_some_and(|a| a.len() == 2));
}

#[test]
fn advisory_set_warns_and_the_run_continues() {
    let config = format!(
        r#"terraform {{
  baton {{
    policy_set "notes" {{
      source      = "notes"
      enforcement = "advisory"
    }}
  }}
}}

{CONFIG}"#
    )
    .replace("public = true", "public = false");
    let p = Project::new(&[
        ("main.tf", &config),
        ("notes/notes.rego", WARN_CREATES),
        (
            "notes/buckets.rego",
            &DENY_PUBLIC.replace("== true", "== false"),
        ),
    ]);
    let out = p.baton(["apply", "--auto-approve"]).ok();
    out.assert_stdout_contains("Policy checks: notes (advisory)");
    out.assert_stdout_contains("Warning [advisory] warn: local_file.f is new");
    // An advisory set's deny only warns as well.
    out.assert_stdout_contains("Warning [advisory] deny: terraform_data.bucket must not be public");
    out.assert_stdout_contains("Policy result: passed with warnings");
    out.assert_stdout_contains("Apply complete! Resources: 2 added");
    assert!(p.exists("made.txt"));
    let recs = audit(&p);
    let last = recs.last().expect("an audit record");
    assert_eq!(last["policy"]["outcome"], "warn");
}

#[test]
fn soft_mandatory_denial_is_overridden_with_a_reason_that_is_audited() {
    let config = format!(
        r#"terraform {{
  baton {{
    policy_set "buckets" {{
      source      = "policies/buckets.rego"
      enforcement = "soft-mandatory"
    }}
  }}
}}

{CONFIG}"#
    );
    let p = Project::new(&[
        ("main.tf", &config),
        ("policies/buckets.rego", DENY_PUBLIC),
        ("policies/notes.rego", WARN_CREATES),
    ]);
    let out = p.baton(["apply", "--auto-approve"]).run();
    assert_denied(&out);
    out.assert_stdout_contains(
        "Denied  [soft-mandatory] deny: terraform_data.bucket must not be public",
    );
    out.assert_stdout_contains("--override-policy");
    // The file inside policies/ that the configured set claims is not also part of the
    // default (hard-mandatory) set; the rest of policies/ is.
    out.assert_not_contains("[hard-mandatory]");
    out.assert_stdout_contains("default (hard-mandatory), buckets (soft-mandatory)");
    assert!(!p.exists("made.txt"));

    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--override-policy",
            "CHG-42 approved by security",
        ])
        .ok();
    out.assert_stdout_contains("overridden: CHG-42 approved by security");
    assert!(p.exists("made.txt"));

    let recs = audit(&p);
    let ov = recs
        .iter()
        .find(|r| r["command"] == "policy override")
        .unwrap_or_else(|| panic!("an override record: {recs:#?}"));
    assert!(ov["outcome"]
        .as_str()
        .unwrap_or("")
        .contains("CHG-42 approved by security"));
    assert!(
        ov["actor"].as_str().is_some_and(|a| a.contains('@')),
        "{ov}"
    );
    assert_eq!(
        ov["policy"]["override"]["reason"],
        "CHG-42 approved by security"
    );
    let applied = recs.last().expect("the apply record");
    assert_eq!(applied["command"], "apply");
    assert_eq!(applied["run_id"], ov["run_id"]);
    assert_eq!(applied["policy"]["outcome"], "soft_fail");
    p.baton(["audit", "verify"]).ok();

    // An empty reason is refused.
    p.write("main.tf", &config.replace("\"logs\"", "\"logs2\""));
    let out = p
        .baton(["apply", "--auto-approve", "--override-policy", " "])
        .fails();
    out.assert_stderr_contains("needs a reason");
}

#[test]
fn a_policy_added_after_the_plan_is_enforced_when_the_saved_plan_is_applied() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["plan", "--out", "p.plan"]).ok();
    p.write("policies/buckets.rego", DENY_PUBLIC);
    let out = p.baton(["apply", "p.plan"]).run();
    assert_denied(&out);
    out.assert_stdout_contains("terraform_data.bucket must not be public");
    assert!(!p.exists("made.txt"));
    assert!(state_list(&p).is_empty());
    // Removing the policy again: the same saved plan applies.
    p.remove("policies/buckets.rego");
    p.baton(["apply", "p.plan"]).ok();
    assert!(p.exists("made.txt"));
}

#[test]
fn destroy_is_gated_using_the_run_context() {
    let policy = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/policies/no_prod_deletes/no_prod_deletes.rego"),
    )
    .expect("the example policy");
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["--env", "prod", "apply", "--auto-approve"]).ok();
    p.write("policies/no_prod_deletes.rego", &policy);
    let out = p
        .baton(["--env", "prod", "destroy", "--auto-approve"])
        .run();
    assert_denied(&out);
    out.assert_stdout_contains("local_file.f would be deleted: deletes are not allowed in prod");
    assert!(p.exists("made.txt"));
    assert_eq!(
        p.baton(["--env", "prod", "state", "list"])
            .run()
            .lines()
            .len(),
        2
    );
    // The same destroy in another environment is not denied.
    p.baton(["--env", "dev", "apply", "--auto-approve"]).ok();
    p.baton(["--env", "dev", "destroy", "--auto-approve"]).ok();
}

#[test]
fn a_rego_syntax_error_fails_closed_with_its_location() {
    let bad = "package broken\n\ndeny[msg] {\n  msg := \"x\n}\n";
    let p = Project::new(&[
        (
            "main.tf",
            &CONFIG.replace("public = true", "public = false"),
        ),
        ("policies/ok.rego", DENY_PUBLIC),
        ("policies/broken.rego", bad),
    ]);
    let out = p.baton(["apply", "--auto-approve"]).run();
    assert_denied(&out);
    out.assert_stderr_contains("policies/broken.rego:4:");
    out.assert_stdout_contains("the policies could not be evaluated");
    assert!(!p.exists("made.txt"));
    assert!(state_list(&p).is_empty());
    let out = p.baton(["plan"]).run();
    assert_denied(&out);
    out.assert_stderr_contains("policies/broken.rego:4:");
}

#[test]
fn a_runtime_error_fails_closed() {
    // Two values for one complete rule: a conflict at evaluation time.
    let conflict = "package conflict\n\nimport rego.v1\n\nmode := \"a\" if { true }\nmode := \"b\" if { true }\n\ndeny contains \"never\" if { mode == \"c\" }\n";
    let p = Project::new(&[
        (
            "main.tf",
            &CONFIG.replace("public = true", "public = false"),
        ),
        ("policies/conflict.rego", conflict),
    ]);
    let out = p.baton(["apply", "--auto-approve"]).run();
    assert_denied(&out);
    out.assert_stderr_contains("policies/conflict.rego:");
    assert!(!p.exists("made.txt"));
}

const SECRET: &str = "s3cr3t-Value-9f81";

/// Denies when it can see the secret anywhere in its input, and echoes the input.
const SEES_SECRET: &str = r#"package snoop

import rego.v1

deny contains msg if {
  walk(input, [_, v])
  v == "s3cr3t-Value-9f81"
  msg := sprintf("saw the secret in %v", [input.variables])
}

warn contains msg if {
  msg := sprintf("input variables: %v", [input.variables])
}
"#;

#[test]
fn sensitive_values_never_reach_policies_logs_or_the_audit_log() {
    let config = r#"variable "token" {
  type      = string
  sensitive = true
}

resource "terraform_data" "t" {
  input = { token = var.token, name = "svc" }
}
"#;
    let p = Project::new(&[("main.tf", config), ("policies/snoop.rego", SEES_SECRET)]);
    let var = format!("token={SECRET}");
    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--var",
            &var,
            "--log-format",
            "json",
        ])
        .env("BATON_LOG", "debug")
        .ok();
    out.assert_not_contains(SECRET);
    out.assert_stdout_contains("Policy result: passed with warnings");
    let export = p.baton(["audit", "export"]).ok();
    export.assert_not_contains(SECRET);
    let plan = p.baton(["plan", "--json", "--var", &var]).ok();
    let j = plan.json();
    assert!(!j["policy"].to_string().contains(SECRET), "{}", j["policy"]);

    // The test can fail: a set that opts in to sensitive values sees the secret (and denies),
    // yet the message that would echo it is scrubbed everywhere.
    let opt_in = format!(
        r#"terraform {{
  baton {{
    policy_set "snoop" {{
      source            = "policies"
      include_sensitive = true
    }}
  }}
}}

{config}"#
    );
    p.write("main.tf", &opt_in.replace("\"svc\"", "\"svc2\""));
    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--var",
            &var,
            "--log-format",
            "json",
        ])
        .env("BATON_LOG", "debug")
        .run();
    assert_denied(&out);
    out.assert_stdout_contains("saw the secret in");
    out.assert_not_contains(SECRET);
    let export = p.baton(["audit", "export"]).ok();
    export.assert_contains("saw the secret in");
    export.assert_not_contains(SECRET);
}

#[test]
fn policy_test_runs_the_example_policies_tests() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies");
    let examples = examples.to_string_lossy().to_string();
    let out = p.baton(["policy", "test", &examples]).ok();
    out.assert_stdout_contains("PASS");
    out.assert_not_contains("FAIL");

    // A failing test fails the command and is named.
    p.write("policies/buckets.rego", DENY_PUBLIC);
    p.write(
        "policies/buckets_test.rego",
        "package buckets\n\ntest_private_allowed {\n  count(deny) == 0 with input as {\"resource_changes\": [{\"address\": \"a.b\", \"type\": \"terraform_data\", \"change\": {\"after\": {\"input\": {\"public\": false}}}}]}\n}\n\ntest_wrong {\n  count(deny) == 0 with input as {\"resource_changes\": [{\"address\": \"a.b\", \"type\": \"terraform_data\", \"change\": {\"after\": {\"input\": {\"public\": true}}}}]}\n}\n",
    );
    let out = p.baton(["policy", "test"]).run();
    out.assert_code(1);
    out.assert_stdout_contains("test_wrong");
    out.assert_stdout_contains("FAIL");
}

#[test]
fn policy_eval_answers_a_query_over_a_plan_document() {
    let p = Project::new(&[("main.tf", CONFIG), ("policies/buckets.rego", DENY_PUBLIC)]);
    let plan = p.baton(["plan", "--json"]).run();
    plan.assert_code(DENIED);
    p.write("plan.json", &plan.stdout);
    let out = p
        .baton([
            "policy",
            "eval",
            "--input",
            "plan.json",
            "--query",
            "data.buckets.deny",
        ])
        .ok();
    let j = out.json();
    let value = &j["result"][0]["expressions"][0]["value"];
    assert_eq!(
        value,
        &serde_json::json!(["terraform_data.bucket must not be public"])
    );
    let out = p
        .baton([
            "policy",
            "eval",
            "--input",
            "plan.json",
            "--query",
            "data.buckets.nothing",
        ])
        .ok();
    assert_eq!(out.json(), serde_json::json!({}));
}

/// Opens the state database directly, as an attacker with write access would.
fn db(p: &Project) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(p.join(".baton/state.db")).expect("open the state database");
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
    .expect("drop the append-only triggers");
    c
}

fn audited_project() -> Project {
    let p = Project::new(&[(
        "main.tf",
        "resource \"terraform_data\" \"a\" {\n  input = 1\n}\n",
    )]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.write(
        "main.tf",
        "resource \"terraform_data\" \"a\" {\n  input = 2\n}\n",
    );
    p.baton(["plan"]).ok();
    p.baton(["apply", "--auto-approve"]).ok();
    p.baton(["destroy", "--auto-approve"]).ok();
    p.baton(["audit", "verify"])
        .ok()
        .assert_stdout_contains("4 record(s) verified");
    p
}

/// Each tampering, done directly in the SQLite file, and the record `audit verify` must name
/// as the first bad one.
#[test]
fn audit_verify_catches_edited_deleted_reordered_and_truncated_records() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "edit",
            "UPDATE audit SET canonical = replace(canonical, 'completed', 'failed') WHERE id = 3",
            "The first bad record is 3",
        ),
        ("delete", "DELETE FROM audit WHERE id = 2", "The first bad record is 2"),
        (
            "reorder",
            "UPDATE audit SET id = 100 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 100;",
            "The first bad record is 2",
        ),
        ("truncate", "DELETE FROM audit WHERE id = 4", "tampered"),
    ];
    for (what, sql, expected) in cases {
        let p = audited_project();
        db(&p)
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let out = p.baton(["audit", "verify"]).run();
        out.assert_failure();
        assert!(
            out.all().contains(expected),
            "{what}: `audit verify` must say {expected:?}\n{}",
            out.all()
        );
    }
}

#[test]
fn a_bad_policy_set_in_the_configuration_fails_closed_with_its_location() {
    let config = |source: &str, level: &str| {
        format!(
            "terraform {{\n  baton {{\n    policy_set \"sec\" {{\n      source      = \"{source}\"\n      enforcement = \"{level}\"\n    }}\n  }}\n}}\n\n{CONFIG}"
        )
    };
    let p = Project::new(&[
        ("main.tf", &config("nope", "advisory")),
        ("sec/notes.rego", WARN_CREATES),
    ]);
    let out = p.baton(["apply", "--auto-approve"]).run();
    assert_denied(&out);
    out.assert_stderr_contains("Policy source not found");
    out.assert_stderr_contains("main.tf:4:21");
    assert!(!p.exists("made.txt"));

    p.write("main.tf", &config("sec", "mandatory"));
    let out = p.baton(["plan"]).run();
    assert_denied(&out);
    out.assert_stderr_contains("Invalid enforcement level");
    out.assert_stderr_contains("main.tf:5:21");
    // Issue 10: `baton validate` reports it too.
    let out = p.baton(["validate"]).fails();
    out.assert_stderr_contains("Invalid enforcement level");
    out.assert_stderr_contains("main.tf:5:21");

    p.write("main.tf", &config("sec", "advisory"));
    p.baton(["validate"]).ok();
    p.baton(["apply", "--auto-approve"]).ok();
    assert!(p.exists("made.txt"));
}

/// The audit records of `plan --out FILE` and of `apply FILE` carry the same digest: the
/// SHA-256 of the plan file (apply computes it while recording the run).
#[test]
fn saved_plan_and_its_apply_are_audited_with_the_plan_files_digest() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    // A plan is audited once the state database exists.
    p.baton(["apply", "--auto-approve"]).ok();
    p.write("main.tf", &CONFIG.replace("hello", "hello again"));
    p.baton(["plan", "--out", "p.plan"]).ok();
    let bytes = std::fs::read(p.path().join("p.plan")).expect("read the plan file");
    use sha2::Digest as _;
    let want = hex::encode(sha2::Sha256::digest(&bytes));
    p.baton(["apply", "p.plan"]).ok();
    let records = audit(&p);
    let digest_of = |command: &str| {
        records
            .iter()
            .rev()
            .find(|r| r["command"] == command)
            .and_then(|r| r["plan_digest"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("no {command} record with a digest in {records:?}"))
    };
    assert_eq!(digest_of("plan"), want);
    assert_eq!(digest_of("apply"), want);
}

/// Issue 9: a policy library written for Scalr (`input.tfplan`), configured with its shape,
/// denies; without the shape it fails to load (a denial naming the shape), never a silent
/// pass. Its message uses Go's `fmt` widths, and a built-in error in another rule is only
/// undefined.
#[test]
fn a_policy_set_declares_the_input_shape_its_policies_expect() {
    const SCALR: &str = r#"package terraform

import input.tfplan as tfplan

deny[reason] {
  resource := tfplan.resource_changes[_]
  resource.change.after.input.public == true
  reason := sprintf("%-24s|%6s|", [resource.address, "public"])
}

deny["never"] {
  count(tfplan.no_such_list) > 0
}
"#;
    let configured = |shape: &str| {
        format!(
            "terraform {{\n  baton {{\n    policy_set \"scalr\" {{\n      source = \"scalr\"\n{shape}    }}\n  }}\n}}\n\n{CONFIG}"
        )
    };
    let p = Project::new(&[
        ("main.tf", &configured("      input_shape = \"scalr\"\n")),
        ("scalr/terraform.rego", SCALR),
    ]);
    let out = p.baton(["plan"]).run();
    assert_denied(&out);
    out.assert_stdout_contains("deny: terraform_data.bucket   |public| (data.terraform.deny");

    // Without the shape, the policy would find nothing: the gate refuses to load it.
    p.write("main.tf", &configured(""));
    let out = p.baton(["plan"]).run();
    assert_denied(&out);
    out.assert_stderr_contains("Policy written for another input shape");
    out.assert_stderr_contains("Set input_shape = \"scalr\"");

    // A bad value is an error at the attribute, naming the file.
    p.write("main.tf", &configured("      input_shape = \"tfplan\"\n"));
    let out = p.baton(["plan"]).run();
    assert_denied(&out);
    out.assert_stderr_contains("Invalid input shape");
    out.assert_stderr_contains("main.tf:5");
    out.assert_stderr_contains("invalid input shape \"tfplan\"");
}

/// Issue 9: conftest evaluates only package `main` by default; `namespaces` runs a conftest
/// directory as conftest does.
#[test]
fn a_policy_set_can_select_namespaces_like_conftest() {
    let config = format!(
        "terraform {{\n  baton {{\n    policy_set \"conftest\" {{\n      source     = \"conftest\"\n      namespaces = [\"main\"]\n    }}\n  }}\n}}\n\n{CONFIG}"
    );
    let p = Project::new(&[
        ("main.tf", &config),
        (
            "conftest/main.rego",
            "package main\n\nwarn contains \"main warns\" if true\n",
        ),
        (
            "conftest/other.rego",
            "package other\n\ndeny contains \"other denies\" if true\n",
        ),
    ]);
    let out = p.baton(["plan"]).ok();
    out.assert_stdout_contains("main warns");
    out.assert_not_contains("other denies");
}

/// Issue 9: `baton policy test` on a policy that does not compile prints the error only,
/// and `baton policy eval` runs a query that needs no policy.
#[test]
fn policy_test_of_a_broken_file_prints_only_the_error_and_eval_needs_no_policies() {
    let p = Project::new(&[("t_test.rego", "package t\n\ntest_x if {\n")]);
    let out = p.baton(["policy", "test", "t_test.rego"]).run();
    out.assert_code(1);
    out.assert_contains("t_test.rego");
    out.assert_not_contains("PASS: 0/0");

    let out = p.baton(["policy", "eval", "x := 1 + 2"]).ok();
    assert_eq!(out.json()["result"][0]["bindings"]["x"], 3);
}

/// Issue 9: `baton policy eval … | head` — a reader that closes the pipe early ends the output
/// quietly (no panic, no "Broken pipe" message), and the command keeps its exit code.
#[test]
fn a_closed_stdout_pipe_ends_the_output_quietly() {
    use std::io::Read as _;
    let p = Project::new(&[("main.tf", CONFIG)]);
    let mut child = std::process::Command::new(common::baton_bin())
        .current_dir(p.path())
        .args(["policy", "eval", "x := numbers.range(1, 200000)"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn baton");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    stdout
        .read_exact(&mut first)
        .expect("the start of the output");
    drop(stdout);
    let out = child.wait_with_output().expect("wait for baton");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
