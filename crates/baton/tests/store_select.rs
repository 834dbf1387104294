//! End-to-end tests of choosing the state store and moving state between stores, with SQLite
//! stores and Terraform state files (issue 12): `--store` and `BATON_STORE` and their
//! precedence over `--state`, the `backend` block (a non-literal setting is an error at its
//! place, an unimplemented backend one warning), `state migrate --to`/`--from` between SQLite
//! files, and `state migrate --from terraform.tfstate` after a real `terraform apply`, followed
//! by a plan that must change nothing. The PostgreSQL cases are in `store_postgres.rs`.
//!
//! The Terraform cases run the `terraform` binary (CI requires it) with
//! `TF_CLI_CONFIG_FILE=/dev/null`: their configurations use only `terraform_data`, modules and
//! outputs, which Terraform runs offline. Nothing here writes outside its temporary project.

mod common;

use common::{fixture_dir, Project};
use serde_json::Value as Json;
use std::path::Path;
use std::process::Command;

const CONFIG: &str = r#"
resource "terraform_data" "a" {
  input = "one"
}

output "a" {
  value = terraform_data.a.output
}
"#;

/// A sensitive value that must never be printed.
const SECRET: &str = "s3cr3t-VALUE";

fn state_list(p: &Project, extra: &[&str]) -> Vec<String> {
    let mut args = extra.to_vec();
    args.extend(["state", "list"]);
    p.baton(args).ok().lines()
}

/// Asserts that a `plan --json` document plans no change to any resource or output.
fn assert_no_changes(plan: &Json, what: &str) {
    let mut changed = Vec::new();
    for r in plan["resource_changes"].as_array().into_iter().flatten() {
        if r["change"]["actions"] != serde_json::json!(["no-op"]) {
            changed.push(format!("{} {}", r["address"], r["change"]["actions"]));
        }
    }
    for (k, v) in plan["output_changes"].as_object().into_iter().flatten() {
        if v["actions"] != serde_json::json!(["no-op"]) {
            changed.push(format!("output.{k} {}", v["actions"]));
        }
    }
    assert!(
        changed.is_empty(),
        "{what}: the plan after the import changes {changed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// --store, BATON_STORE, --state
// ---------------------------------------------------------------------------------------------

#[test]
fn store_flag_puts_the_state_in_that_sqlite_file() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["--store", "elsewhere/s.db", "apply", "--auto-approve"])
        .ok();
    assert!(p.exists("elsewhere/s.db"));
    assert!(!p.exists(".baton/state.db"), "the default store was used");
    assert_eq!(
        state_list(&p, &["--store", "elsewhere/s.db"]),
        ["terraform_data.a"]
    );
    // `sqlite:` URLs name a file too.
    assert_eq!(
        state_list(&p, &["--store", "sqlite:elsewhere/s.db"]),
        ["terraform_data.a"]
    );
    // Without --store, this stack has no state.
    assert!(state_list(&p, &[]).is_empty());
}

#[test]
fn baton_store_is_read_and_the_flag_wins_over_it() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["apply", "--auto-approve"])
        .env("BATON_STORE", "env.db")
        .ok();
    assert!(p.exists("env.db"));
    assert!(!p.exists(".baton/state.db"));
    // BATON_STORE wins over --state (and BATON_STATE).
    let o = p
        .baton(["--state", "state.db", "state", "list"])
        .env("BATON_STORE", "env.db")
        .ok();
    assert_eq!(o.lines(), ["terraform_data.a"]);
    assert!(!p.exists("state.db"), "a read-only command created --state");
    // --store wins over BATON_STORE: flag.db is new, so a plan wants to create.
    p.baton(["--store", "flag.db", "plan"])
        .env("BATON_STORE", "env.db")
        .ok()
        .assert_stdout_contains("1 to add");
    // A plan writes nothing, so the database it created is gone again.
    assert!(!p.exists("flag.db"), "plan left an empty store behind");
    // --state still works when nothing else is said.
    p.baton(["--state", "st.db", "apply", "--auto-approve"])
        .ok();
    assert!(p.exists("st.db"));
}

#[test]
fn read_only_commands_do_not_create_an_sqlite_store() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    for args in [
        vec!["--store", "ro.db", "state", "list"],
        vec!["--store", "ro.db", "output"],
        vec!["--store", "ro.db", "state", "history"],
        vec!["--store", "ro.db", "audit", "list"],
    ] {
        p.baton(&args).ok();
        assert!(!p.exists("ro.db"), "{args:?} created the store");
    }
}

// ---------------------------------------------------------------------------------------------
// The backend block
// ---------------------------------------------------------------------------------------------

#[test]
fn a_backend_setting_that_is_not_a_literal_is_an_error_at_its_place() {
    let p = Project::new(&[(
        "main.tf",
        "variable \"db\" {\n  type = string\n}\n\nterraform {\n  backend \"pg\" {\n    conn_str = var.db\n  }\n}\n\nresource \"terraform_data\" \"a\" {}\n",
    )]);
    // Commands that load the configuration, and commands that only read the backend block.
    for args in [
        vec!["validate"],
        vec!["plan"],
        vec!["apply", "--auto-approve"],
        vec!["state", "list"],
    ] {
        let o = p.baton(&args).fails();
        o.assert_stderr_contains("Error: Variables not allowed");
        o.assert_stderr_contains("main.tf:7:16");
        assert_eq!(
            o.stderr.matches("Variables not allowed").count(),
            1,
            "{args:?} reported it more than once:\n{}",
            o.stderr
        );
    }
    assert!(!p.exists(".baton"), "a store was created");
    p.write(
        "main.tf",
        "terraform {\n  backend \"pg\" {\n    conn_str = lower(\"POSTGRES://DB/X\")\n  }\n}\n",
    );
    p.baton(["state", "list"])
        .fails()
        .assert_stderr_contains("main.tf:3:16")
        .assert_stderr_contains("Functions may not be called here");
}

#[test]
fn a_backend_baton_does_not_implement_is_one_warning_and_the_default_store() {
    let p = Project::new(&[(
        "main.tf",
        &format!("terraform {{\n  backend \"s3\" {{\n    bucket = \"b\"\n    key    = \"k\"\n  }}\n}}\n{CONFIG}"),
    )]);
    let o = p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        o.stderr.matches("Warning: Backend not implemented").count(),
        1,
        "{}",
        o.stderr
    );
    o.assert_stderr_contains("the \"s3\" backend")
        .assert_stderr_contains("main.tf:2:3")
        .assert_stderr_contains(".baton/state.db");
    assert!(p.exists(".baton/state.db"));
    // With --store the block does not matter, so there is nothing to warn about.
    let o = p.baton(["--store", "x.db", "state", "list"]).ok();
    assert!(!o.stderr.contains("Warning"), "{}", o.stderr);
}

#[test]
fn a_pg_backend_without_a_connection_string_is_an_error() {
    let p = Project::new(&[(
        "main.tf",
        &format!(
            "terraform {{\n  backend \"pg\" {{\n    schema_name = \"app\"\n  }}\n}}\n{CONFIG}"
        ),
    )]);
    p.baton(["apply", "--auto-approve"])
        .fails()
        .assert_stderr_contains("PG_CONN_STR")
        .assert_stderr_contains("main.tf:2:3");
    assert!(!p.exists(".baton"));
}

// ---------------------------------------------------------------------------------------------
// state migrate between SQLite files
// ---------------------------------------------------------------------------------------------

#[test]
fn migrate_to_and_from_sqlite_files() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.baton(["state", "migrate", "--to", "moved.db"])
        .ok()
        .assert_stdout_contains("Copied 1 object(s) and 1 output(s)");
    assert_eq!(
        state_list(&p, &["--store", "moved.db"]),
        ["terraform_data.a"]
    );
    let history = p
        .baton(["--store", "moved.db", "state", "history", "--json"])
        .ok()
        .json();
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert_eq!(history[0]["command"], "state migrate");
    // The copy is the same state: nothing to do against it.
    p.baton(["--store", "moved.db", "plan"])
        .ok()
        .assert_stdout_contains("No changes.");
    // Both stores record the migration.
    for store in [".baton/state.db", "moved.db"] {
        let audit = p
            .baton(["--store", store, "audit", "list", "--json"])
            .ok()
            .json();
        assert!(
            audit
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["command"] == "state migrate"),
            "{store}: {audit}"
        );
    }
    // A target with state is refused, unless forced.
    p.baton(["state", "migrate", "--to", "moved.db"])
        .fails()
        .assert_stderr_contains("already holds state")
        .assert_stderr_contains("--force");
    p.baton(["state", "migrate", "--to", "moved.db", "--force"])
        .ok();
    // --from: a new stack takes the state over.
    let q = Project::new(&[("main.tf", CONFIG)]);
    let from = p.join("moved.db");
    q.baton(["state", "migrate", "--from", &from.to_string_lossy()])
        .ok()
        .assert_stdout_contains("Imported 1 object(s) and 1 output(s)");
    q.baton(["plan"]).ok().assert_stdout_contains("No changes.");
    // Migrating from a store into itself is refused.
    q.baton(["state", "migrate", "--from", ".baton/state.db"])
        .fails()
        .assert_stderr_contains("already uses");
}

#[test]
fn migrate_needs_a_state_and_a_direction() {
    let p = Project::new(&[("main.tf", CONFIG)]);
    p.baton(["state", "migrate", "--to", "x.db"])
        .fails()
        .assert_stderr_contains("no state to migrate");
    assert!(!p.exists("x.db"));
    p.baton(["state", "migrate"])
        .fails()
        .assert_stderr_contains("--to");
    p.baton(["state", "migrate", "--from", "missing.tfstate"])
        .fails()
        .assert_stderr_contains("missing.tfstate does not exist");
}

// ---------------------------------------------------------------------------------------------
// Terraform state files
// ---------------------------------------------------------------------------------------------

/// Runs `terraform init` and `terraform apply` in `dir` (offline: `terraform_data` is built in).
fn terraform_apply(dir: &Path) {
    for args in [
        vec!["init", "-input=false", "-no-color"],
        vec!["apply", "-auto-approve", "-input=false", "-no-color"],
    ] {
        let out = Command::new("terraform")
            .args(&args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_CLI_ARGS")
            .env_remove("TF_WORKSPACE")
            .env_remove("TF_DATA_DIR")
            .output()
            .unwrap_or_else(|e| {
                panic!("these tests need the `terraform` binary on PATH (CI requires it): {e}")
            });
        assert!(
            out.status.success(),
            "terraform {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Applies the project with Terraform, imports its state file and checks that a plan changes
/// nothing; returns the output of the import.
fn import_then_plan(p: &Project, what: &str) -> common::Output {
    terraform_apply(p.path());
    let imported = p
        .baton(["state", "migrate", "--from", "terraform.tfstate"])
        .ok();
    imported.assert_stdout_contains("Imported");
    let plan = p.baton(["plan", "--json"]).ok().json();
    assert_no_changes(&plan, what);
    imported
}

const TF_CONFIG: &str = r#"
variable "secret" {
  type      = string
  default   = "s3cr3t-VALUE"
  sensitive = true
}

resource "terraform_data" "a" {
  input = { x = 1, y = ["a", "b"], s = var.secret }
}

resource "terraform_data" "c" {
  count            = 2
  input            = count.index
  triggers_replace = [terraform_data.a.id]
}

resource "terraform_data" "f" {
  for_each = toset(["k1", "k2"])
  input    = each.key
  lifecycle {
    create_before_destroy = true
  }
}

module "m" {
  source = "./m"
  v      = ["p", "q"]
}

output "counts" {
  value = terraform_data.c[*].output
}

output "secret" {
  value     = var.secret
  sensitive = true
}

output "from_module" {
  value = module.m.r
}
"#;

const TF_MODULE: &str = r#"
variable "v" {}

resource "terraform_data" "inner" {
  for_each = toset(var.v)
  input    = each.value
}

output "r" {
  value = { for k, r in terraform_data.inner : k => r.output }
}
"#;

#[test]
fn a_terraform_state_is_imported_and_the_plan_changes_nothing() {
    let p = Project::new(&[("main.tf", TF_CONFIG), ("m/main.tf", TF_MODULE)]);
    let imported = import_then_plan(&p, "count, for_each, module, outputs");
    imported.assert_not_contains(SECRET);
    assert_eq!(
        p.baton(["state", "list"]).ok().lines(),
        [
            "terraform_data.a",
            "terraform_data.c[0]",
            "terraform_data.c[1]",
            "terraform_data.f[\"k1\"]",
            "terraform_data.f[\"k2\"]",
            "module.m.terraform_data.inner[\"p\"]",
            "module.m.terraform_data.inner[\"q\"]",
        ]
    );
    // The sensitive output stays sensitive, and what Baton shows hides it.
    p.baton(["output"])
        .ok()
        .assert_stdout_contains("secret = <sensitive>")
        .assert_not_contains(SECRET);
    // Terraform recorded `input.s` as sensitive (not `output`, which its provider computed).
    p.baton(["state", "show", "terraform_data.a"])
        .ok()
        .assert_stdout_contains("s = (sensitive value)");
    let audit = p.baton(["audit", "list", "--json"]).ok();
    audit.assert_not_contains(SECRET);
    // The import is one version; what Terraform created is Baton's to change now.
    p.write(
        "main.tf",
        &TF_CONFIG.replace("input    = each.key", "input    = \"${each.key}-2\""),
    );
    p.baton(["apply", "--auto-approve"])
        .ok()
        .assert_stdout_contains("2 changed");
}

#[test]
fn differential_cases_import_without_changes() {
    for case in [
        "014-foreach-map",
        "025-input-complex",
        // Null outputs, which Terraform does not keep in state.
        "026-null-input",
        // Numbers Terraform wrote in decimal, which Baton computes in binary.
        "065-numbers-misc",
        "113-module-for-each",
        "120-module-foreach-resources",
    ] {
        let p = Project::new(&[]);
        copy_dir(&fixture_dir_diff(case), p.path());
        import_then_plan(&p, case);
    }
}

#[test]
fn a_terraform_state_of_another_format_version_is_refused_by_name() {
    let p = Project::new(&[
        ("main.tf", CONFIG),
        (
            "old.tfstate",
            r#"{"version": 3, "terraform_version": "0.11.14", "serial": 1, "modules": []}"#,
        ),
    ]);
    p.baton(["state", "migrate", "--from", "old.tfstate"])
        .fails()
        .assert_stderr_contains("old.tfstate")
        .assert_stderr_contains("format version 3");
    p.write("bad.tfstate", "{ not json");
    p.baton(["state", "migrate", "--from", "bad.tfstate"])
        .fails()
        .assert_stderr_contains("bad.tfstate is not a Terraform state file");
    assert!(state_list(&p, &[]).is_empty());
}

/// `tests/fixtures/diff/<case>`.
fn fixture_dir_diff(case: &str) -> std::path::PathBuf {
    fixture_dir("../diff").join(case)
}

/// Copies a case's configuration (everything but `expected*`) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("expected") {
            continue;
        }
        let target = to.join(&name);
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
