//! End-to-end tests of the core engine through the `baton` binary: validate, plan, apply,
//! destroy, saved plans, drift, diagnostics, sensitive values, locking, parallelism, failure
//! handling, state commands, variables, `--chdir`/`--state`/`--env` and the approval prompt.
//!
//! Each test works in its own temporary directory (see `common`), never asserts wall-clock
//! times, and leaves no process behind. Fixture configurations live in
//! `tests/fixtures/e2e/<name>/` beside their expected output; human output is compared with
//! `expect-test` snapshots (`UPDATE_EXPECT=1` refreshes them) after normalising ids, durations
//! and temporary paths.

mod common;

use common::{fixture_dir, hostname, normalize, wait_until, without_refresh_lines, Project};
use expect_test::{expect, expect_file};
use serde_json::Value as Json;
use std::time::Duration;

/// A sensitive value that must never be printed.
const SECRET: &str = "s3cr3t-VALUE";

/// `state list`, as lines.
fn state_list(p: &Project) -> Vec<String> {
    p.baton(["state", "list"]).ok().lines()
}

/// `state history --json`, as parsed JSON.
fn history(p: &Project) -> Json {
    p.baton(["state", "history", "--json"]).ok().json()
}

/// A configuration read from a fixture directory.
fn fixture_file(name: &str, file: &str) -> String {
    let p = fixture_dir(name).join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------------
// 1. The whole cycle.
// ---------------------------------------------------------------------------------------------

fn lifecycle_config(value: &str, trigger: &str, with_extra: bool) -> String {
    let extra = if with_extra {
        "\nresource \"terraform_data\" \"extra\" {\n  input = \"extra\"\n}\n"
    } else {
        ""
    };
    format!(
        r#"variable "value" {{
  type    = string
  default = "{value}"
}}

variable "trigger" {{
  type    = string
  default = "{trigger}"
}}

resource "terraform_data" "app" {{
  input            = var.value
  triggers_replace = var.trigger
}}

resource "local_file" "conf" {{
  filename = "${{path.module}}/conf.txt"
  content  = "static"
}}
{extra}
output "app" {{
  value = terraform_data.app.output
}}

output "cfg" {{
  value = local_file.conf.filename
}}
"#
    )
}

#[test]
fn full_cycle_validate_plan_apply_update_replace_remove_destroy() {
    let p = Project::new(&[("main.tf", &lifecycle_config("one", "t1", true))]);

    p.baton(["validate"])
        .ok()
        .assert_stdout_contains("Success! The configuration is valid.");

    // Create.
    let plan = p.baton(["plan"]).ok();
    expect![[r#"

        Baton used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:
          + create

        Baton will perform the following actions:

          # local_file.conf will be created
          + resource "local_file" "conf" {
              + content              = "static"
              + content_base64sha256 = (known after apply)
              + content_base64sha512 = (known after apply)
              + content_md5          = (known after apply)
              + content_sha1         = (known after apply)
              + content_sha256       = (known after apply)
              + content_sha512       = (known after apply)
              + directory_permission = "0777"
              + file_permission      = "0777"
              + filename             = "./conf.txt"
              + id                   = (known after apply)
            }

          # terraform_data.app will be created
          + resource "terraform_data" "app" {
              + id               = (known after apply)
              + input            = "one"
              + output           = (known after apply)
              + triggers_replace = "t1"
            }

          # terraform_data.extra will be created
          + resource "terraform_data" "extra" {
              + id     = (known after apply)
              + input  = "extra"
              + output = (known after apply)
            }

        Plan: 3 to add, 0 to change, 0 to destroy.

        Changes to Outputs:
          + app = (known after apply)
          + cfg = "./conf.txt"

        ─────────────────────────────────────────────────────────────────────────────

        Note: You didn't use the --out option to save this plan, so Baton can't guarantee to take exactly these actions if you run "baton apply" now.
    "#]]
    .assert_eq(&normalize(&plan.stdout, p.path()));
    assert!(!p.exists("conf.txt"), "plan must not create anything");

    let apply = p.baton(["apply", "--auto-approve"]).ok();
    for addr in [
        "terraform_data.app",
        "terraform_data.extra",
        "local_file.conf",
    ] {
        apply.assert_stdout_contains(&format!("{addr}: Creating..."));
        apply.assert_stdout_contains(&format!("{addr}: Creation complete after"));
    }
    apply.assert_stdout_contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.");
    assert_eq!(p.read("conf.txt"), "static");

    let out = p.baton(["output", "--json"]).ok().json();
    assert_eq!(out["app"]["value"], "one", "{out:#}");
    assert_eq!(out["app"]["sensitive"], false, "{out:#}");
    assert_eq!(out["app"]["type"], "string", "{out:#}");
    assert_eq!(out["cfg"]["value"], "./conf.txt", "{out:#}");

    // Applied: nothing more to do.
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");

    // Update in place: the input value changes.
    p.write("main.tf", &lifecycle_config("two", "t1", true));
    let plan = p.baton(["plan"]).ok();
    expect![[r#"

        Baton used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:
          ~ update in-place

        Baton will perform the following actions:

          # terraform_data.app will be updated in-place
          ~ resource "terraform_data" "app" {
                id               = "<UUID>"
              ~ input            = "one" -> "two"
              ~ output           = "one" -> (known after apply)
                # (1 unchanged attribute hidden)
            }

        Plan: 0 to add, 1 to change, 0 to destroy.

        Changes to Outputs:
          ~ app = "one" -> (known after apply)

        ─────────────────────────────────────────────────────────────────────────────

        Note: You didn't use the --out option to save this plan, so Baton can't guarantee to take exactly these actions if you run "baton apply" now.
    "#]]
    .assert_eq(&normalize(&without_refresh_lines(&plan.stdout), p.path()));
    let apply = p.baton(["apply", "--auto-approve"]).ok();
    apply.assert_stdout_contains("terraform_data.app: Modifying...");
    apply.assert_stdout_contains("terraform_data.app: Modifications complete after");
    apply.assert_stdout_contains("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.");
    assert_eq!(
        p.baton(["output", "--json"]).ok().json()["app"]["value"],
        "two"
    );

    // Replace: triggers_replace changes.
    p.write("main.tf", &lifecycle_config("two", "t2", true));
    let plan = p.baton(["plan"]).ok();
    expect![[r#"

        Baton used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:
        -/+ destroy and then create replacement

        Baton will perform the following actions:

          # terraform_data.app must be replaced
        -/+ resource "terraform_data" "app" {
              ~ id               = "<UUID>" -> (known after apply)
              ~ output           = "two" -> (known after apply)
              ~ triggers_replace = "t1" -> "t2"
                # (1 unchanged attribute hidden)
            }

        Plan: 1 to add, 0 to change, 1 to destroy.

        Changes to Outputs:
          ~ app = "two" -> (known after apply)

        ─────────────────────────────────────────────────────────────────────────────

        Note: You didn't use the --out option to save this plan, so Baton can't guarantee to take exactly these actions if you run "baton apply" now.
    "#]]
    .assert_eq(&normalize(&without_refresh_lines(&plan.stdout), p.path()));
    let before_id = p.baton(["show", "--json"]).ok().json()["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["address"] == "terraform_data.app")
                .cloned()
        })
        .expect("terraform_data.app in show --json")["values"]["id"]
        .clone();
    let apply = p.baton(["apply", "--auto-approve"]).ok();
    apply.assert_stdout_contains("terraform_data.app: Destroying...");
    apply.assert_stdout_contains("terraform_data.app: Destruction complete after");
    apply.assert_stdout_contains("terraform_data.app: Creation complete after");
    apply.assert_stdout_contains("Apply complete! Resources: 1 added, 0 changed, 1 destroyed.");
    let after_id = p.baton(["show", "--json"]).ok().json()["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["address"] == "terraform_data.app")
                .cloned()
        })
        .expect("terraform_data.app in show --json")["values"]["id"]
        .clone();
    assert_ne!(before_id, after_id, "a replaced object gets a new id");

    // Remove a resource from the configuration: it is destroyed.
    p.write("main.tf", &lifecycle_config("two", "t2", false));
    let plan = p.baton(["plan"]).ok();
    expect![[r#"

        Baton used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:
          - destroy

        Baton will perform the following actions:

          # terraform_data.extra will be destroyed
          # (because terraform_data.extra is not in configuration)
          - resource "terraform_data" "extra" {
              - id     = "<UUID>" -> null
              - input  = "extra" -> null
              - output = "extra" -> null
            }

        Plan: 0 to add, 0 to change, 1 to destroy.

        ─────────────────────────────────────────────────────────────────────────────

        Note: You didn't use the --out option to save this plan, so Baton can't guarantee to take exactly these actions if you run "baton apply" now.
    "#]]
    .assert_eq(&normalize(&without_refresh_lines(&plan.stdout), p.path()));
    let apply = p.baton(["apply", "--auto-approve"]).ok();
    apply.assert_stdout_contains("terraform_data.extra: Destruction complete after");
    apply.assert_stdout_contains("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.");
    assert_eq!(state_list(&p), ["local_file.conf", "terraform_data.app"]);

    // Destroy everything.
    let destroy = p.baton(["destroy", "--auto-approve"]).ok();
    destroy.assert_stdout_contains("local_file.conf: Destruction complete after");
    destroy.assert_stdout_contains("terraform_data.app: Destruction complete after");
    destroy.assert_stdout_contains("Destroy complete! Resources: 2 destroyed.");
    assert!(
        !p.exists("conf.txt"),
        "destroying a local_file removes the file"
    );
    let list = p.baton(["state", "list"]).ok();
    assert_eq!(
        list.stdout, "",
        "state list after destroy must print nothing"
    );
}

/// Terraform shows a string containing newlines as a heredoc (trimmed), not as a quoted
/// string with `\n` escapes.
#[test]
fn plan_renders_multiline_strings_as_heredoc_like_terraform() {
    let p = Project::new(&[(
        "main.tf",
        "resource \"terraform_data\" \"m\" {\n  input = \"first line\\nsecond line\\n\"\n}\n",
    )]);
    let plan = p.baton(["plan"]).ok();
    expect![[r#"

        Baton used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:
          + create

        Baton will perform the following actions:

          # terraform_data.m will be created
          + resource "terraform_data" "m" {
              + id     = (known after apply)
              + input  = <<-EOT
                    first line
                    second line
                EOT
              + output = (known after apply)
            }

        Plan: 1 to add, 0 to change, 0 to destroy.

        ─────────────────────────────────────────────────────────────────────────────

        Note: You didn't use the --out option to save this plan, so Baton can't guarantee to take exactly these actions if you run "baton apply" now.
    "#]]
    .assert_eq(&normalize(&plan.stdout, p.path()));
}

/// Terraform aligns the `=` of output changes on the longest output name, unchanged outputs
/// included.
#[test]
fn plan_aligns_output_changes_like_terraform() {
    let config = |v: &str| {
        format!(
            "output \"a\" {{\n  value = \"{v}\"\n}}\n\noutput \"much_longer_name\" {{\n  value = \"same\"\n}}\n"
        )
    };
    let p = Project::new(&[("main.tf", &config("one"))]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.write("main.tf", &config("two"));
    let plan = p.baton(["plan"]).ok();
    expect![[r#"

        Changes to Outputs:
          ~ a                = "one" -> "two"

        You can apply this plan to save these new output values to the Baton state, without changing any real infrastructure.

        ─────────────────────────────────────────────────────────────────────────────

        Note: You didn't use the --out option to save this plan, so Baton can't guarantee to take exactly these actions if you run "baton apply" now.
    "#]]
    .assert_eq(&normalize(&plan.stdout, p.path()));
}

// ---------------------------------------------------------------------------------------------
// 2. Saved plans.
// ---------------------------------------------------------------------------------------------

const SAVED_PLAN_CONFIG: &str = r#"variable "v" {
  type    = string
  default = "one"
}

resource "terraform_data" "d" {
  input = var.v
}

resource "local_file" "f" {
  filename = "${path.module}/value.txt"
  content  = var.v
}
"#;

/// `plantimestamp()` is the time the plan was made, also when the saved plan is applied by a
/// later process (Terraform records it in the plan).
#[test]
fn saved_plan_applied_later_sees_the_plans_timestamp() {
    let p = Project::new(&[(
        "main.tf",
        r#"resource "terraform_data" "t" {
  input = plantimestamp()
}

output "planned_at" {
  value = plantimestamp()
}

output "recorded" {
  value = terraform_data.t.output
}
"#,
    )]);
    p.baton(["plan", "--out", "t.plan"]).ok();
    let made_at = p.baton(["show", "--json", "t.plan"]).ok().json()["timestamp"].clone();
    assert!(made_at.is_string(), "the plan records its timestamp");
    // The apply process starts in a later second than the plan was made.
    std::thread::sleep(Duration::from_millis(1100));
    p.baton(["apply", "t.plan"]).ok();
    let out = p.baton(["output", "--json"]).ok().json();
    assert_eq!(out["planned_at"]["value"], made_at);
    assert_eq!(out["recorded"]["value"], made_at);
}

#[test]
fn saved_plan_is_applied_exactly_and_without_prompt() {
    let p = Project::new(&[("main.tf", SAVED_PLAN_CONFIG)]);
    let plan = p.baton(["plan", "--out", "p.plan", "--var", "v=two"]).ok();
    plan.assert_stdout_contains("Plan: 2 to add, 0 to change, 0 to destroy.");
    plan.assert_stdout_contains("Saved the plan to: p.plan");
    assert!(p.exists("p.plan"));

    let show = p.baton(["show", "--json", "p.plan"]).ok().json();
    let changes = show["resource_changes"]
        .as_array()
        .expect("resource_changes array");
    let mut addrs: Vec<(String, Json)> = changes
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["change"]["actions"].clone(),
            )
        })
        .collect();
    addrs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        addrs,
        vec![
            ("local_file.f".to_string(), serde_json::json!(["create"])),
            (
                "terraform_data.d".to_string(),
                serde_json::json!(["create"])
            ),
        ],
        "{show:#}"
    );

    // The configuration changes after the plan: the saved plan is still what gets applied.
    p.write(
        "main.tf",
        &format!("{SAVED_PLAN_CONFIG}\nresource \"terraform_data\" \"late\" {{\n  input = \"late\"\n}}\n"),
    );
    // stdin is closed: applying a saved plan must not ask.
    let apply = p.baton(["apply", "p.plan"]).ok();
    apply.assert_not_contains("Enter a value");
    apply.assert_stdout_contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    assert_eq!(state_list(&p), ["local_file.f", "terraform_data.d"]);
    assert_eq!(
        p.read("value.txt"),
        "two",
        "the plan's variable value is applied"
    );

    // Once applied, the plan is stale: applying it again is refused.
    let hist = history(&p);
    let again = p.baton(["apply", "p.plan"]).fails();
    assert!(
        again.stderr.to_lowercase().contains("stale"),
        "{}",
        again.stderr
    );
    assert_eq!(history(&p), hist);
}

#[test]
fn stale_saved_plan_is_refused_and_changes_nothing() {
    let p = Project::new(&[("main.tf", SAVED_PLAN_CONFIG)]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.baton(["plan", "--out", "stale.plan", "--var", "v=two"])
        .ok();
    // Someone else applies in between.
    p.baton(["apply", "--auto-approve", "--var", "v=three"])
        .ok();

    let files = p.snapshot_files();
    let list = state_list(&p);
    let hist = history(&p);
    let show = p.baton(["show", "--json"]).ok().json();

    let apply = p.baton(["apply", "stale.plan"]).fails();
    assert!(
        apply.stderr.to_lowercase().contains("stale"),
        "the refusal must say the plan is stale\n{}",
        apply.stderr
    );
    apply.assert_not_contains("Creating...");
    apply.assert_not_contains("Modifying...");
    apply.assert_not_contains("Destroying...");

    assert_eq!(p.snapshot_files(), files, "files on disk changed");
    assert_eq!(state_list(&p), list);
    assert_eq!(
        history(&p),
        hist,
        "a refused plan must not write a state version"
    );
    assert_eq!(p.baton(["show", "--json"]).ok().json(), show);
    assert_eq!(p.read("value.txt"), "three");
}

// ---------------------------------------------------------------------------------------------
// 3. Drift.
// ---------------------------------------------------------------------------------------------

#[test]
fn local_file_drift_deleted_or_edited_outside_is_detected_and_repaired() {
    let p = Project::new(&[(
        "main.tf",
        "resource \"local_file\" \"f\" {\n  filename = \"${path.module}/managed.txt\"\n  content  = \"desired\\n\"\n}\n",
    )]);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(p.read("managed.txt"), "desired\n");

    // Deleted outside Baton.
    p.remove("managed.txt");
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("Objects have changed outside of Baton");
    plan.assert_stdout_contains("# local_file.f has been deleted");
    plan.assert_stdout_contains("# local_file.f will be created");
    plan.assert_stdout_contains("Plan: 1 to add, 0 to change, 0 to destroy.");
    let apply = p.baton(["apply", "--auto-approve"]).ok();
    apply.assert_stdout_contains("local_file.f: Creation complete after");
    assert_eq!(p.read("managed.txt"), "desired\n");
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");

    // Edited outside Baton.
    p.write("managed.txt", "tampered\n");
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("Objects have changed outside of Baton");
    plan.assert_stdout_contains("Plan: 1 to add,");
    assert!(
        plan.stdout.contains("# local_file.f will be created")
            || plan.stdout.contains("# local_file.f must be replaced"),
        "the edited file must be recreated\n{}",
        plan.stdout
    );
    assert_eq!(
        p.read("managed.txt"),
        "tampered\n",
        "plan must not touch the file"
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        p.read("managed.txt"),
        "desired\n",
        "apply restores the content"
    );
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");
}

// ---------------------------------------------------------------------------------------------
// 4. Invalid configurations: reported with file:line:column, nothing changes.
// ---------------------------------------------------------------------------------------------

/// Runs validate, plan and apply on a fixture with an invalid configuration: each fails with
/// the same diagnostics (checked against `expected.stderr`), and no state is created.
fn check_invalid_fixture(name: &str) -> String {
    let p = Project::from_fixture(name);
    let files = p.snapshot_files();
    let validate = p.baton(["validate"]).fails();
    // The list of valid resource types grows with every provider: the snapshot masks it, and
    // the test checks the types it needs separately.
    expect_file![fixture_dir(name).join("expected.stderr")].assert_eq(&mask_after(
        &normalize(&validate.stderr, p.path()),
        "Valid resource types are: ",
    ));
    assert!(!validate.stdout.contains("Success"), "{}", validate.stdout);
    for args in [vec!["plan"], vec!["apply", "--auto-approve"]] {
        let o = p.baton(&args).fails();
        assert_eq!(
            normalize(&o.stderr, p.path()),
            normalize(&validate.stderr, p.path()),
            "`baton {}` must report the same diagnostics as validate",
            args.join(" ")
        );
        o.assert_not_contains("Creating...");
    }
    assert!(
        !p.exists(".baton"),
        "an invalid configuration must change nothing, but {} was created",
        p.join(".baton").display()
    );
    assert_eq!(p.snapshot_files(), files, "files on disk changed");
    validate.stderr
}

/// Replaces what follows `marker` up to the end of its sentence with `<list>`.
fn mask_after(s: &str, marker: &str) -> String {
    let Some(i) = s.find(marker) else {
        return s.to_string();
    };
    let start = i + marker.len();
    let end = s[start..].find(".\n").map_or(s.len(), |j| start + j);
    format!("{}<list>{}", &s[..start], &s[end..])
}

#[test]
fn cycle_is_an_error_naming_every_member_with_location() {
    let stderr = check_invalid_fixture("cycle");
    for member in [
        "local.a (main.tf:4:3)",
        "local.b (main.tf:5:3)",
        "terraform_data.x (main.tf:8:1)",
        "terraform_data.y (main.tf:12:1)",
    ] {
        assert!(
            stderr.contains(member),
            "the cycle must name {member}\n{stderr}"
        );
    }
}

#[test]
fn syntax_error_is_reported_with_location_and_source_line() {
    let stderr = check_invalid_fixture("syntax_error");
    assert!(stderr.contains("main.tf:6:11"), "{stderr}");
    assert!(
        stderr.contains("  input = = \"broken\""),
        "the source line is shown\n{stderr}"
    );
}

#[test]
fn unknown_resource_type_is_an_error_listing_valid_types() {
    let stderr = check_invalid_fixture("unknown_type");
    assert!(stderr.contains("main.tf:5:10"), "{stderr}");
    assert!(stderr.contains("terraform_dta"), "{stderr}");
    for t in [
        "local_file",
        "local_sensitive_file",
        "null_resource",
        "terraform_data",
    ] {
        assert!(
            stderr.contains(t),
            "valid types must be listed ({t})\n{stderr}"
        );
    }
}

#[test]
fn unknown_attribute_is_an_error_listing_valid_arguments_and_changes_nothing() {
    let stderr = check_invalid_fixture("unknown_attribute");
    assert!(stderr.contains("main.tf:8:3"), "{stderr}");
    assert!(stderr.contains("\"colour\""), "{stderr}");
    for a in [
        "content",
        "filename",
        "file_permission",
        "directory_permission",
    ] {
        assert!(
            stderr.contains(a),
            "valid arguments must be listed ({a})\n{stderr}"
        );
    }
}

#[test]
fn invalid_configuration_leaves_existing_state_unchanged() {
    let p = Project::new(&[(
        "main.tf",
        "resource \"terraform_data\" \"ok\" {\n  input = \"fine\"\n}\n",
    )]);
    p.baton(["apply", "--auto-approve"]).ok();
    let list = state_list(&p);
    let hist = history(&p);
    for fixture in ["cycle", "syntax_error", "unknown_type", "unknown_attribute"] {
        p.write("main.tf", &fixture_file(fixture, "main.tf"));
        for args in [
            vec!["plan"],
            vec!["apply", "--auto-approve"],
            vec!["destroy", "--auto-approve"],
        ] {
            let o = p.baton(&args).run();
            assert!(
                matches!(o.code, Some(c) if c != 0),
                "with the invalid configuration of fixture {fixture}, `baton {}` must fail\n--- stdout ---\n{}\n--- stderr ---\n{}",
                args.join(" "),
                o.stdout,
                o.stderr
            );
            o.assert_stderr_contains("Error:");
            o.assert_not_contains("Destroying...");
            o.assert_not_contains("Creating...");
        }
        assert_eq!(state_list(&p), list, "{fixture}: state changed");
        assert_eq!(history(&p), hist, "{fixture}: a state version was written");
        assert!(!p.exists("never.txt"), "{fixture}: a file was written");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Sensitive values.
// ---------------------------------------------------------------------------------------------

#[test]
fn sensitive_values_are_never_printed() {
    let p = Project::from_fixture("sensitive");
    let run = |args: &[&str]| {
        let o = p.baton(args).env("TF_VAR_secret", SECRET).run();
        let all = o.all().to_lowercase();
        assert!(
            !all.contains(&SECRET.to_lowercase()),
            "`baton {}` printed the sensitive value\n--- stdout ---\n{}\n--- stderr ---\n{}",
            args.join(" "),
            o.stdout,
            o.stderr
        );
        // The literal content of a local_sensitive_file (sensitive in the schema) is hidden in
        // human output. (JSON's `configuration` section shows constants, as Terraform does.)
        assert!(
            args.contains(&"--json") || !all.contains("q7x9z"),
            "`baton {}` printed local_sensitive_file content\n--- stdout ---\n{}\n--- stderr ---\n{}",
            args.join(" "),
            o.stdout,
            o.stderr
        );
        o.assert_success();
        o
    };
    run(&["validate"]);
    run(&["validate", "--json"]);
    run(&["plan"]).assert_stdout_contains("(sensitive value)");
    run(&["plan", "--json"]);
    run(&["plan", "--out", "s.plan"]);
    run(&["show", "s.plan"]);
    run(&["show", "--json", "s.plan"]);
    let apply = run(&["apply", "--auto-approve"]);
    apply.assert_stdout_contains("secret = <sensitive>");
    // The provisioner did run with the real value; its output was not shown.
    assert_eq!(p.read("provisioned.txt").trim(), SECRET);
    assert_eq!(p.read("secret.txt"), format!("password={SECRET}\n"));
    run(&["show"]);
    run(&["show", "--json"]);
    run(&["state", "list"]);
    run(&["state", "show", "local_file.secret"]);
    run(&["state", "show", "local_sensitive_file.key"]);
    run(&["state", "show", "terraform_data.secret"]);
    run(&["state", "history"]);
    run(&["state", "history", "--json"]);
    run(&["graph"]);
    let out = run(&["output"]);
    out.assert_stdout_contains("secret = <sensitive>");
    out.assert_stdout_contains("derived = <sensitive>");
    out.assert_stdout_contains("public = \"not-secret\"");
    run(&["plan"]);
    run(&["apply", "--auto-approve"]);
    // A changed secret: the diff must not show either value.
    let changed = p
        .baton(["plan"])
        .env("TF_VAR_secret", "other-s3cr3t-VALUE")
        .ok();
    assert!(
        !changed.all().to_lowercase().contains("s3cr3t"),
        "{}",
        changed.all()
    );
    run(&["destroy", "--auto-approve"]);

    // A failing command that contains the secret: the error must not show it.
    let f = Project::new(&[(
        "main.tf",
        "variable \"secret\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"terraform_data\" \"x\" {\n  input = \"x\"\n\n  provisioner \"local-exec\" {\n    command = \"echo ${var.secret}; echo ${var.secret} >&2; exit 7\"\n  }\n}\n",
    )]);
    let failed = f
        .baton(["apply", "--auto-approve"])
        .env("TF_VAR_secret", SECRET)
        .run();
    failed.assert_failure();
    failed.assert_stderr_contains("exit status 7");
    assert!(
        !failed.all().contains(SECRET),
        "a failed provisioner printed the sensitive value\n{}",
        failed.all()
    );

    // As in Terraform, asking for one output by name, or for JSON, prints the value.
    p.baton(["apply", "--auto-approve"])
        .env("TF_VAR_secret", SECRET)
        .ok();
    p.baton(["output", "secret"])
        .ok()
        .assert_stdout_contains(SECRET);
    let j = p.baton(["output", "--json"]).ok().json();
    assert_eq!(j["secret"]["value"], SECRET);
    assert_eq!(j["secret"]["sensitive"], true);
}

#[test]
fn output_exposing_sensitive_value_must_be_marked_sensitive() {
    let p = Project::from_fixture("sensitive_output_unmarked");
    for args in [
        vec!["validate"],
        vec!["plan"],
        vec!["apply", "--auto-approve"],
    ] {
        let o = p.baton(&args).fails();
        o.assert_stderr_contains("Output refers to sensitive values");
        o.assert_stderr_contains("main.tf:7:1");
        o.assert_stderr_contains("sensitive = true");
        o.assert_not_contains(SECRET);
    }
    assert!(state_list(&p).is_empty());
    assert_eq!(
        p.baton(["output", "--json"]).ok().json(),
        serde_json::json!({}),
        "no output may be recorded"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Locking.
// ---------------------------------------------------------------------------------------------

/// A resource whose provisioner signals that it started (`started`) and then blocks until the
/// test creates `release` (bounded, and ended early when the project directory is gone, so
/// nothing can hang for ever or outlive its test).
const BLOCKING_CONFIG: &str = r#"resource "terraform_data" "slow" {
  input = "x"

  provisioner "local-exec" {
    command = "touch started; i=0; while [ ! -f release ] && [ -f main.tf ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
  }
}
"#;

#[test]
fn concurrent_apply_fails_at_once_naming_the_lock_holder() {
    let p = Project::new(&[("main.tf", BLOCKING_CONFIG)]);
    let first = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the first apply's provisioner to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );

    // The first apply holds the lock until released: the second must not wait for it.
    let second = p
        .baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(30))
        .run();
    second.assert_failure();
    second.assert_stderr_contains("lock");
    second.assert_stderr_contains(&format!("pid {}", first.pid()));
    let host = hostname();
    assert!(!host.is_empty());
    second.assert_stderr_contains(&host);
    second.assert_not_contains("Creating...");
    assert!(
        !first.has_exited(),
        "the first apply is still blocked in its provisioner"
    );

    p.write("release", "");
    let first = first.wait();
    first.assert_success();
    first.assert_stdout_contains("Apply complete! Resources: 1 added");
    assert_eq!(state_list(&p), ["terraform_data.slow"]);
    assert_eq!(
        history(&p).as_array().map(Vec::len),
        Some(1),
        "only the first apply wrote"
    );
}

/// `force-unlock` refuses a live lease (a running apply renews it) and leaves it in place; with
/// `--override-live-lease` it removes it and says so in the audit log. The displaced apply's
/// next write carries a stale fencing token and is refused, down to closing its version.
#[test]
fn force_unlock_refuses_a_live_lease_unless_overridden() {
    let p = Project::new(&[("main.tf", BLOCKING_CONFIG)]);
    let first = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the first apply's provisioner to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );

    let refused = p.baton(["force-unlock", "--force"]).run();
    refused.assert_code(1);
    refused.assert_stderr_contains("is live");
    refused.assert_stderr_contains("--override-live-lease");
    refused.assert_stderr_contains(&format!("pid {}", first.pid()));
    let blocked = p.baton(["apply", "--auto-approve"]).run();
    blocked.assert_failure();
    blocked.assert_stderr_contains(&format!("pid {}", first.pid()));

    let forced = p
        .baton(["force-unlock", "--force", "--override-live-lease"])
        .run();
    forced.assert_success();
    forced.assert_stdout_contains("successfully unlocked");
    let audit = p.baton(["audit", "list", "--json"]).ok();
    let text = audit.stdout.clone();
    assert!(
        text.contains("force-unlock") && text.contains("overriding its live lease"),
        "the override is audited:\n{text}"
    );

    p.write("release", "");
    let first = first.wait();
    first.assert_failure();
    first.assert_contains("lock was lost");
    // The version it opened was never finished by it: its closing write was refused too.
    let versions = history(&p);
    let status = versions
        .as_array()
        .and_then(|v| v.last())
        .and_then(|v| v.get("status"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    assert_eq!(status.as_deref(), Some("in_progress"), "{versions}");
}

#[test]
fn lock_timeout_waits_for_the_holder_then_succeeds() {
    let p = Project::new(&[("main.tf", BLOCKING_CONFIG)]);
    let first = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the first apply's provisioner to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );
    let second = p
        .baton(["apply", "--auto-approve", "--lock-timeout", "30s"])
        .spawn();
    // Give the second apply the chance to reach the lock (no timing is asserted).
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !second.has_exited(),
        "with --lock-timeout 30s the second apply must wait for the lock, not fail"
    );
    p.write("release", "");
    let first = first.wait();
    first.assert_success();
    let second = second.wait();
    second.assert_success();
    second.assert_stdout_contains("No changes.");
    assert_eq!(state_list(&p), ["terraform_data.slow"]);
}

/// Issue 10: the duration flags take the grammar of `timeouts` blocks (Go's), `1h30m` included,
/// and a bad one is an error naming the flag, not a silent default.
#[test]
fn duration_flags_take_go_durations() {
    let p = Project::new(&[(
        "main.tf",
        "resource \"terraform_data\" \"a\" {\n  input = 1\n}\n",
    )]);
    p.baton(["apply", "--auto-approve", "--lock-timeout", "1h30m"])
        .ok();
    p.baton(["plan", "--lock-timeout", "1.5h"]).ok();
    p.baton([
        "apply",
        "--auto-approve",
        "--retry-backoff",
        "300ms",
        "--retry-max-backoff",
        "1m30s",
    ])
    .ok();
    let out = p.baton(["plan", "--lock-timeout", "5 minutes"]).fails();
    out.assert_stderr_contains("invalid --lock-timeout \"5 minutes\"");
    out.assert_stderr_contains("unknown unit");
    p.baton(["plan", "--lock-timeout=-1s"])
        .fails()
        .assert_stderr_contains("negative duration");
    p.baton(["plan", "--lock-timeout", "30"])
        .fails()
        .assert_stderr_contains("missing unit");
}

#[test]
fn lock_left_by_killed_process_is_cleared_by_next_command() {
    let p = Project::new(&[("main.tf", BLOCKING_CONFIG)]);
    let mut first = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the first apply's provisioner to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );
    let pid = first.pid();
    first.crash();
    drop(first);

    let next = p.baton(["plan"]).ok();
    assert!(
        next.stderr.to_lowercase().contains("stale lock"),
        "the next command must say it cleared a stale lock\n{}",
        next.stderr
    );
    next.assert_stderr_contains(&format!("pid {pid}"));
    // The lock is gone for good.
    let again = p.baton(["plan"]).ok();
    again.assert_not_contains("stale lock");
    p.write("release", "");
    // The killed run is unresolved: new work waits until it is resumed (or rolled back).
    p.baton(["apply", "--auto-approve"])
        .fails()
        .assert_stderr_contains("needs attention first");
    let runs = p.baton(["runs", "--json"]).ok().json();
    let id = runs[0]["id"].as_str().expect("the killed run").to_string();
    p.baton(["resume", &id, "--auto-approve"]).ok();
    p.baton(["apply", "--auto-approve"]).ok();
}

/// An apply killed while an object's provisioner runs has not finished creating that object:
/// the next run must know it (replace it as tainted, or resume it), not take it as complete.
#[test]
fn apply_killed_during_provisioner_is_not_taken_as_complete() {
    let p = Project::new(&[("main.tf", BLOCKING_CONFIG)]);
    let mut first = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until(
        "the first apply's provisioner to start",
        Duration::from_secs(60),
        || p.exists("started"),
    );
    first.crash();
    drop(first);
    let plan = p.baton(["plan"]).ok();
    assert!(
        !plan.stdout.contains("No changes.") && plan.stdout.contains("# terraform_data.slow"),
        "terraform_data.slow's provisioner never finished: the next plan must act on it\n{}",
        plan.stdout
    );
}

const INTERRUPT_CONFIG: &str = r#"resource "terraform_data" "slow" {
  input = "x"

  provisioner "local-exec" {
    command = "echo $$ > prov.pid; touch started; i=0; while [ ! -f release ] && [ -f main.tf ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done"
  }
}

resource "terraform_data" "after" {
  input = terraform_data.slow.output
}
"#;

/// Ctrl-C once: no new action starts, the running one finishes and is saved, the state
/// version is closed, the lock released, and the exit code is an error.
#[test]
fn interrupt_once_stops_scheduling_and_lets_running_actions_finish() {
    let p = Project::new(&[("main.tf", INTERRUPT_CONFIG)]);
    let run = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until("the provisioner to start", Duration::from_secs(60), || {
        p.exists("started") && p.exists("prov.pid") && !p.read("prov.pid").trim().is_empty()
    });
    run.interrupt();
    // Give Baton a moment to take the interrupt, then let the running provisioner finish.
    std::thread::sleep(Duration::from_millis(300));
    p.write("release", "");
    let out = run.wait();
    assert!(
        matches!(out.code, Some(c) if c != 0),
        "an interrupted apply must exit with an error code (not die from the signal)\n`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.display,
        out.code,
        out.stdout,
        out.stderr
    );
    out.assert_stderr_contains("interrupted");
    out.assert_not_contains("terraform_data.after: Creating...");
    // The running action finished and was saved.
    let list = p.baton(["state", "list"]).ok();
    assert!(
        list.stdout.contains("terraform_data.slow"),
        "{}",
        list.stdout
    );
    assert!(
        !list.stdout.contains("terraform_data.after"),
        "{}",
        list.stdout
    );
    let next = p.baton(["plan"]).ok();
    next.assert_not_contains("stale lock");
    let h = history(&p);
    assert!(
        h.as_array()
            .is_some_and(|v| v.iter().all(|m| m["status"] != "in_progress")),
        "the interrupted run must close its state version: {h:#}"
    );
}

/// Ctrl-C twice: the running action is killed with its whole process group (nothing keeps
/// running), the run exits with an error and releases the lock.
#[test]
fn interrupt_twice_kills_running_actions() {
    let p = Project::new(&[("main.tf", INTERRUPT_CONFIG)]);
    let run = p.baton(["apply", "--auto-approve"]).spawn();
    wait_until("the provisioner to start", Duration::from_secs(60), || {
        p.exists("started") && p.exists("prov.pid") && !p.read("prov.pid").trim().is_empty()
    });
    run.interrupt();
    std::thread::sleep(Duration::from_millis(300));
    run.interrupt();
    let out = run.wait();
    let prov: u32 = p.read("prov.pid").trim().parse().expect("provisioner pid");
    let orphan = common::process_running(prov, "touch started");
    common::kill_if_running(prov, "touch started");
    assert!(
        !orphan,
        "the interrupted apply left its provisioner (pid {prov}) running"
    );
    assert!(
        matches!(out.code, Some(c) if c != 0),
        "an interrupted apply must exit with an error code\n--- stderr ---\n{}",
        out.stderr
    );
    out.assert_not_contains("terraform_data.after: Creating...");
    let next = p.baton(["plan"]).ok();
    next.assert_not_contains("stale lock");
}

// ---------------------------------------------------------------------------------------------
// 7. --parallelism.
// ---------------------------------------------------------------------------------------------

/// Six resources whose provisioners record how many of them run at once: each creates
/// `running/<key>`, waits (bounded) until `target` of them run or it is alone for too long,
/// appends the number running to `max.log`, then removes its file.
fn parallelism_config(target: usize) -> String {
    format!(
        r#"resource "terraform_data" "w" {{
  for_each = toset(["a", "b", "c", "d", "e", "f"])
  input    = each.key

  provisioner "local-exec" {{
    command = "mkdir -p running && touch running/${{each.key}}; i=0; while [ $(ls running | wc -l) -lt {target} ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; ls running | wc -l >> max.log; sleep 0.3; rm running/${{each.key}}"
  }}
}}
"#
    )
}

fn observed_concurrency(p: &Project) -> Vec<usize> {
    p.read("max.log")
        .lines()
        .map(|l| {
            l.trim()
                .parse::<usize>()
                .unwrap_or_else(|e| panic!("max.log line {l:?}: {e}"))
        })
        .collect()
}

#[test]
fn parallelism_two_bounds_concurrent_actions_and_reaches_two() {
    let p = Project::new(&[("main.tf", &parallelism_config(2))]);
    p.baton(["apply", "--auto-approve", "--parallelism", "2"])
        .ok();
    let counts = observed_concurrency(&p);
    assert_eq!(counts.len(), 6, "every provisioner ran once: {counts:?}");
    let max = counts.iter().copied().max().unwrap_or(0);
    assert!(
        max <= 2,
        "more than 2 actions ran at once with --parallelism 2: {counts:?}"
    );
    assert_eq!(
        max, 2,
        "--parallelism 2 must run 2 actions at once: {counts:?}"
    );
    assert_eq!(state_list(&p).len(), 6);
}

#[test]
fn parallelism_six_runs_more_than_two_at_once() {
    let p = Project::new(&[("main.tf", &parallelism_config(3))]);
    p.baton(["apply", "--auto-approve", "--parallelism", "6"])
        .ok();
    let counts = observed_concurrency(&p);
    assert_eq!(counts.len(), 6, "every provisioner ran once: {counts:?}");
    let max = counts.iter().copied().max().unwrap_or(0);
    assert!(max <= 6, "{counts:?}");
    assert!(
        max > 2,
        "--parallelism 6 must run more than 2 actions at once: {counts:?}"
    );
}

#[test]
fn parallelism_one_runs_one_at_a_time() {
    let p = Project::new(&[("main.tf", &parallelism_config(1))]);
    p.baton(["apply", "--auto-approve", "--parallelism", "1"])
        .ok();
    let counts = observed_concurrency(&p);
    assert_eq!(
        counts,
        vec![1; 6],
        "--parallelism 1 must run one action at a time"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Failures.
// ---------------------------------------------------------------------------------------------

#[test]
fn failed_action_stops_dependents_but_independent_work_finishes() {
    let p = Project::from_fixture("failures");
    // Terraform's behaviour: what completed stays (the default, rollback, would undo it).
    let apply = p
        .baton(["apply", "--auto-approve", "--on-failure", "halt"])
        .run();
    apply.assert_failure();
    assert!(
        apply.stderr.contains("terraform_data.a")
            || apply.stderr.contains("resource \"terraform_data\" \"a\""),
        "the error must name terraform_data.a\n{}",
        apply.stderr
    );
    apply.assert_stderr_contains("Error:");
    apply.assert_stdout_contains("terraform_data.c: Creation complete after");
    apply.assert_not_contains("terraform_data.b: Creating...");
    assert!(
        p.exists("c-done"),
        "the independent resource's work must finish"
    );
    assert!(
        !p.exists("b-ran"),
        "the dependent resource must not be created"
    );

    assert_eq!(state_list(&p), ["terraform_data.a", "terraform_data.c"]);
    // a is in state as tainted: the next plan replaces it and creates b.
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("# terraform_data.a is tainted, so must be replaced");
    plan.assert_stdout_contains("# terraform_data.b will be created");
    plan.assert_not_contains("# terraform_data.c");
    let h = history(&p);
    assert_eq!(h.as_array().map(Vec::len), Some(1), "{h:#}");
}

#[test]
fn independent_failures_are_all_reported() {
    let p = Project::from_fixture("two_failures");
    let apply = p.baton(["apply", "--auto-approve"]).run();
    apply.assert_failure();
    for (name, line) in [("first", "main.tf:4:3"), ("second", "main.tf:12:3")] {
        assert!(
            apply.stderr.contains(&format!("terraform_data.{name}"))
                || apply
                    .stderr
                    .contains(&format!("resource \"terraform_data\" \"{name}\"")),
            "the error for terraform_data.{name} must be reported\n{}",
            apply.stderr
        );
        apply.assert_stderr_contains(line);
    }
    apply.assert_stderr_contains("exit status 3");
    apply.assert_stderr_contains("exit status 4");
    apply.assert_stdout_contains("terraform_data.fine: Creation complete after");
}

#[test]
fn tainted_object_is_marked_in_show_and_state_show() {
    let p = Project::from_fixture("two_failures");
    p.baton(["apply", "--auto-approve", "--on-failure", "halt"])
        .fails();
    let show = p.baton(["state", "show", "terraform_data.first"]).ok();
    assert!(
        show.stdout
            .starts_with("# terraform_data.first: (tainted)\n"),
        "state show marks a tainted object as Terraform does\n{}",
        show.stdout
    );
    let j = p.baton(["show", "--json"]).ok().json();
    let rs = j["values"]["root_module"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let first = rs
        .iter()
        .find(|r| r["address"] == "terraform_data.first")
        .expect("first in state");
    assert_eq!(
        first["tainted"], true,
        "show --json marks a tainted object: {first:#}"
    );
    let fine = rs
        .iter()
        .find(|r| r["address"] == "terraform_data.fine")
        .expect("fine in state");
    assert!(fine.get("tainted").is_none_or(|t| t == false), "{fine:#}");
}

// ---------------------------------------------------------------------------------------------
// 9. State commands, graph, validate --json.
// ---------------------------------------------------------------------------------------------

const STATE_CONFIG: &str = r#"resource "terraform_data" "a" {
  input = "a"
}

resource "terraform_data" "b" {
  input = terraform_data.a.output
}

resource "terraform_data" "c" {
  input = "c"
}
"#;

#[test]
fn state_show_mv_rm() {
    let p = Project::new(&[("main.tf", STATE_CONFIG)]);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        state_list(&p),
        ["terraform_data.a", "terraform_data.b", "terraform_data.c"]
    );
    assert_eq!(
        p.baton(["state", "list", "terraform_data.b"]).ok().lines(),
        ["terraform_data.b"]
    );

    let show = p.baton(["state", "show", "terraform_data.b"]).ok();
    show.assert_stdout_contains("# terraform_data.b:");
    show.assert_stdout_contains("resource \"terraform_data\" \"b\" {");
    show.assert_stdout_contains("input  = \"a\"");
    let missing = p.baton(["state", "show", "terraform_data.zzz"]).fails();
    missing.assert_stderr_contains("terraform_data.zzz");

    let mv = p
        .baton(["state", "mv", "terraform_data.c", "terraform_data.moved"])
        .ok();
    mv.assert_stdout_contains("Move \"terraform_data.c\" to \"terraform_data.moved\"");
    assert_eq!(
        state_list(&p),
        [
            "terraform_data.a",
            "terraform_data.b",
            "terraform_data.moved"
        ]
    );
    p.baton(["state", "show", "terraform_data.moved"])
        .ok()
        .assert_stdout_contains("input  = \"c\"");
    // Moving onto an existing address is refused.
    p.baton(["state", "mv", "terraform_data.a", "terraform_data.b"])
        .fails();

    let rm = p.baton(["state", "rm", "terraform_data.moved"]).ok();
    rm.assert_stdout_contains("Removed terraform_data.moved");
    assert_eq!(state_list(&p), ["terraform_data.a", "terraform_data.b"]);
    p.baton(["state", "rm", "terraform_data.nothing"]).fails();
    // rm forgets without destroying: the configuration's c is planned as new.
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("# terraform_data.c will be created");
}

#[test]
fn state_show_renders_like_terraform() {
    let p = Project::new(&[("main.tf", STATE_CONFIG)]);
    p.baton(["apply", "--auto-approve"]).ok();
    let show = p.baton(["state", "show", "terraform_data.c"]).ok();
    expect![[r#"
        # terraform_data.c:
        resource "terraform_data" "c" {
            id     = "<UUID>"
            input  = "c"
            output = "c"
        }
    "#]]
    .assert_eq(&normalize(&show.stdout, p.path()));
}

#[test]
fn state_history_has_a_version_per_apply_with_increasing_serials() {
    let p = Project::new(&[("main.tf", STATE_CONFIG)]);
    assert_eq!(history(&p), serde_json::json!([]));
    p.baton(["apply", "--auto-approve"]).ok();
    p.write(
        "main.tf",
        &STATE_CONFIG.replace("input = \"c\"", "input = \"c2\""),
    );
    p.baton(["apply", "--auto-approve"]).ok();
    p.baton(["destroy", "--auto-approve"]).ok();
    let h = history(&p);
    let versions = h.as_array().expect("history is an array");
    assert_eq!(versions.len(), 3, "{h:#}");
    let serials: Vec<i64> = versions
        .iter()
        .map(|v| v["serial"].as_i64().expect("serial"))
        .collect();
    assert!(
        serials.windows(2).all(|w| w[0] < w[1]),
        "serials must increase: {serials:?}"
    );
    let commands: Vec<&str> = versions
        .iter()
        .map(|v| v["command"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(commands, ["apply", "apply", "destroy"], "{h:#}");
    assert!(versions.iter().all(|v| v["status"] == "complete"), "{h:#}");
    let lineage = &versions[0]["lineage"];
    assert!(
        versions.iter().all(|v| &v["lineage"] == lineage),
        "one lineage: {h:#}"
    );
    let human = p.baton(["state", "history"]).ok();
    human.assert_stdout_contains("SERIAL");
    assert_eq!(
        human.lines().len(),
        4,
        "a header and a line per version\n{}",
        human.stdout
    );
}

/// `label` → node id, from `n0 [label="..."];` lines.
fn dot_edges(dot: &str) -> Vec<(String, String)> {
    let mut labels = std::collections::HashMap::new();
    let mut edges = Vec::new();
    for line in dot.lines().map(str::trim) {
        if let Some((id, rest)) = line.split_once(" [label=\"") {
            if let Some(label) = rest.split('"').next() {
                labels.insert(id.trim().to_string(), label.to_string());
            }
        } else if let Some((from, to)) = line.trim_end_matches(';').split_once(" -> ") {
            edges.push((from.trim().to_string(), to.trim().to_string()));
        }
    }
    edges
        .into_iter()
        .map(|(f, t)| {
            let f = labels
                .get(&f)
                .cloned()
                .unwrap_or(f.trim_matches('"').to_string());
            let t = labels
                .get(&t)
                .cloned()
                .unwrap_or(t.trim_matches('"').to_string());
            (f, t)
        })
        .collect()
}

#[test]
fn graph_prints_dot_with_dependency_edges() {
    let p = Project::new(&[(
        "main.tf",
        &format!(
            "{STATE_CONFIG}\nresource \"null_resource\" \"after_b\" {{\n  depends_on = [terraform_data.b]\n}}\n"
        ),
    )]);
    let g = p.baton(["graph"]).ok();
    assert!(g.stdout.trim_start().starts_with("digraph"), "{}", g.stdout);
    let edges = dot_edges(&g.stdout);
    assert!(
        edges.contains(&(
            "terraform_data.b".to_string(),
            "terraform_data.a".to_string()
        )),
        "b depends on a: {edges:?}\n{}",
        g.stdout
    );
    assert!(
        !edges
            .iter()
            .any(|(f, t)| f.contains("terraform_data.c") || t.contains("terraform_data.c")),
        "c depends on nothing: {edges:?}"
    );
    assert!(
        edges.contains(&(
            "null_resource.after_b".to_string(),
            "terraform_data.b".to_string()
        )),
        "depends_on makes an edge: {edges:?}\n{}",
        g.stdout
    );
    g.assert_stdout_contains("terraform_data.c");
    assert!(!p.exists(".baton"), "graph must not create state");
}

#[test]
fn validate_json_has_terraform_shape() {
    let p = Project::from_fixture("validate_json");
    let o = p.baton(["validate", "--json"]).fails();
    let j = o.json();
    expect_file![fixture_dir("validate_json").join("expected.json")]
        .assert_eq(&(serde_json::to_string_pretty(&j).expect("json") + "\n"));
    assert_eq!(j["valid"], false);
    assert_eq!(j["format_version"], "1.0");
    assert_eq!(j["error_count"], 1, "{j:#}");
    assert_eq!(j["warning_count"], 0, "{j:#}");
    let d = &j["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["range"]["filename"], "main.tf");
    assert_eq!(d["range"]["start"]["line"], 11);
    assert_eq!(d["range"]["start"]["column"], 11);
    assert_eq!(d["snippet"]["start_line"], 11);

    let ok = Project::new(&[("main.tf", STATE_CONFIG)]);
    let j = ok.baton(["validate", "--json"]).ok().json();
    assert_eq!(j["valid"], true);
    assert_eq!(j["error_count"], 0);
    assert_eq!(j["warning_count"], 0);
    assert_eq!(j["diagnostics"], serde_json::json!([]));
}

/// Configuration is checked in one pass that collects every error before reporting.
#[test]
fn validate_reports_every_error_at_once() {
    let p = Project::from_fixture("multiple_errors");
    let j = p.baton(["validate", "--json"]).fails().json();
    assert_eq!(j["valid"], false);
    let diags = j["diagnostics"].as_array().expect("diagnostics");
    let mut found: Vec<(i64, String)> = diags
        .iter()
        .map(|d| {
            (
                d["range"]["start"]["line"].as_i64().expect("line"),
                d["summary"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (9, "Unsupported argument".to_string()),
            (13, "Reference to undeclared input variable".to_string()),
        ],
        "{j:#}"
    );
    assert_eq!(j["error_count"], 2, "{j:#}");
    // The human form reports both too.
    let human = p.baton(["validate"]).fails();
    human.assert_stderr_contains("main.tf:9:3");
    human.assert_stderr_contains("main.tf:13:11");
}

/// `validate` checks a counted or `for_each` block's body with `count.index` and `each.*`
/// unknown (the expansion depends on variables, unknown to validate), as Terraform does;
/// references to such blocks are unknown rather than a one-instance placeholder. A misuse
/// (`count.index` without `count`) is still an error.
#[test]
fn validate_accepts_count_and_each_in_repeated_blocks() {
    let p = Project::new(&[
        (
            "main.tf",
            r#"variable "names" {
  type    = map(string)
  default = { a = "x" }
}
variable "n" {
  type    = number
  default = 1
}
resource "terraform_data" "each" {
  for_each = var.names
  input    = "${each.key}=${each.value}"
  lifecycle {
    precondition {
      condition     = each.value != ""
      error_message = "Empty ${each.key}."
    }
  }
}
resource "terraform_data" "counted" {
  count = var.n
  input = count.index + 1
}
module "each" {
  source   = "./m"
  for_each = var.names
  value    = each.value
}
module "counted" {
  source = "./m"
  count  = var.n
  value  = tostring(count.index)
}
output "refs" {
  value = [terraform_data.each["a"].output, terraform_data.counted[0].output,
  [for m in module.each : m.value], module.counted[*].value]
}
"#,
        ),
        (
            "m/main.tf",
            "variable \"value\" {}\noutput \"value\" { value = var.value }\n",
        ),
    ]);
    p.baton(["validate"])
        .ok()
        .assert_stdout_contains("Success! The configuration is valid.");
    p.write(
        "extra.tf",
        "resource \"terraform_data\" \"plain\" {\n  input = count.index\n}\n",
    );
    p.baton(["validate"])
        .fails()
        .assert_stderr_contains("Reference to \"count\" in non-counted context")
        .assert_stderr_contains("extra.tf:2:11");
}

// ---------------------------------------------------------------------------------------------
// 10. Variables.
// ---------------------------------------------------------------------------------------------

#[test]
fn variable_precedence() {
    let mut config = String::new();
    for v in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        config.push_str(&format!(
            "variable \"{v}\" {{\n  default = \"default\"\n}}\n\n"
        ));
    }
    config.push_str(
        "output \"all\" {\n  value = join(\",\", [var.a, var.b, var.c, var.d, var.e, var.f, var.g, var.h])\n}\n",
    );
    let p = Project::new(&[
        ("main.tf", &config),
        ("terraform.tfvars", "c = \"tfvars\"\nd = \"tfvars\"\ne = \"tfvars\"\nf = \"tfvars\"\ng = \"tfvars\"\nh = \"tfvars\"\n"),
        // Auto files are read in lexical order: b after a.
        ("a.auto.tfvars", "d = \"auto-a\"\ne = \"auto-a\"\nf = \"auto-a\"\ng = \"auto-a\"\nh = \"auto-a\"\n"),
        ("b.auto.tfvars", "e = \"auto-b\"\nf = \"auto-b\"\ng = \"auto-b\"\nh = \"auto-b\"\n"),
        // terraform.tfvars.json after terraform.tfvars; *.auto.tfvars.json among the auto files.
        ("terraform.tfvars.json", "{\"c\": \"tfvars-json\", \"d\": \"tfvars-json\"}"),
        ("c.auto.tfvars.json", "{\"f\": \"auto-c-json\", \"g\": \"auto-c-json\", \"h\": \"auto-c-json\"}"),
        ("one.tfvars", "f = \"file-one\"\ng = \"file-one\"\nh = \"file-one\"\n"),
        ("two.tfvars", "h = \"file-two\"\n"),
    ]);
    let env = [
        ("b", "env"),
        ("c", "env"),
        ("d", "env"),
        ("e", "env"),
        ("f", "env"),
        ("g", "env"),
        ("h", "env"),
    ];
    let run = |args: &[&str]| {
        let mut c = p.baton(args);
        for (k, v) in env {
            c = c.env(&format!("TF_VAR_{k}"), v);
        }
        c.ok();
        p.baton(["output", "--raw", "all"]).ok().stdout
    };
    assert_eq!(
        run(&["apply", "--auto-approve"]),
        "default,env,tfvars-json,auto-a,auto-b,auto-c-json,auto-c-json,auto-c-json"
    );
    // --var and --var-file apply in command-line order: the later one wins.
    assert_eq!(
        run(&[
            "apply",
            "--auto-approve",
            "--var-file",
            "one.tfvars",
            "--var",
            "g=cli",
            "--var-file",
            "two.tfvars"
        ]),
        "default,env,tfvars-json,auto-a,auto-b,file-one,cli,file-two"
    );
    assert_eq!(
        run(&[
            "apply",
            "--auto-approve",
            "--var",
            "g=cli",
            "--var",
            "h=cli-h",
            "--var-file",
            "one.tfvars"
        ]),
        "default,env,tfvars-json,auto-a,auto-b,file-one,file-one,file-one"
    );
    assert_eq!(
        run(&[
            "apply",
            "--auto-approve",
            "--var-file",
            "one.tfvars",
            "--var",
            "g=cli",
            "--var",
            "h=cli-h"
        ]),
        "default,env,tfvars-json,auto-a,auto-b,file-one,cli,cli-h"
    );
}

#[test]
fn missing_required_variable_is_an_error_naming_it() {
    let p = Project::new(&[(
        "main.tf",
        "variable \"region_name\" {\n  type = string\n}\n\nresource \"terraform_data\" \"r\" {\n  input = var.region_name\n}\n",
    )]);
    for args in [vec!["plan"], vec!["apply", "--auto-approve"]] {
        let o = p.baton(&args).fails();
        o.assert_stderr_contains("No value for required variable");
        o.assert_stderr_contains("\"region_name\"");
        o.assert_stderr_contains("main.tf:1:1");
    }
    assert!(state_list(&p).is_empty());
    p.baton(["plan", "--var", "region_name=x"]).ok();
    p.baton(["plan"]).env("TF_VAR_region_name", "y").ok();
}

// ---------------------------------------------------------------------------------------------
// 11. --chdir, --state, --env.
// ---------------------------------------------------------------------------------------------

const WORKSPACE_CONFIG: &str = r#"resource "local_file" "ws" {
  filename = "${path.module}/ws-${terraform.workspace}.txt"
  content  = terraform.workspace
}

output "ws" {
  value = terraform.workspace
}
"#;

#[test]
fn chdir_runs_in_the_given_directory() {
    let p = Project::new(&[("infra/main.tf", WORKSPACE_CONFIG)]);
    p.baton(["--chdir", "infra", "validate"]).ok();
    p.baton(["--chdir", "infra", "apply", "--auto-approve"])
        .ok();
    assert!(
        p.exists("infra/.baton/state.db"),
        "the state lives in the --chdir directory"
    );
    assert!(!p.exists(".baton"), "no state in the starting directory");
    assert_eq!(p.read("infra/ws-default.txt"), "default");
    assert_eq!(
        p.baton(["--chdir", "infra", "state", "list"]).ok().lines(),
        ["local_file.ws"]
    );
    // Without --chdir, the starting directory has no configuration and no state.
    assert!(state_list(&p).is_empty());
    let abs = p.join("infra").to_string_lossy().to_string();
    assert_eq!(
        p.baton(["--chdir", &abs, "output", "--raw", "ws"])
            .ok()
            .stdout,
        "default"
    );
    p.baton(["--chdir", "does-not-exist", "plan"]).fails();
}

/// With `--chdir`, every relative path on the command line is relative to that directory
/// (plan files, var files, policy directories, `fmt` paths, `policy eval --input`), while
/// `path.cwd` stays the directory Baton was started in — as Terraform's `-chdir`. The
/// process's working directory is never changed.
#[test]
fn chdir_resolves_relative_paths_against_the_new_directory() {
    let p = Project::new(&[
        (
            "infra/main.tf",
            r#"variable "name" {
  type = string
}

resource "terraform_data" "r" {
  input = var.name
}

output "name" {
  value = var.name
}

output "cwd_is_start" {
  value = path.cwd != abspath(".")
}
"#,
        ),
        ("infra/vars/prod.tfvars", "name = \"prod\"\n"),
        (
            "infra/extra-policies/names.rego",
            "package names\n\nimport rego.v1\n\ndeny contains \"no tests\" if {\n  some rc in input.resource_changes\n  rc.change.after.input == \"test\"\n}\n",
        ),
        ("infra/input.json", "{\"a\": 2}"),
        ("infra/fmt/ugly.tf", "x   =  1\n"),
    ]);
    let chdir = ["--chdir", "infra"];
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = chdir.to_vec();
        all.extend_from_slice(args);
        p.baton(all)
    };
    with(&[
        "plan",
        "--var-file",
        "vars/prod.tfvars",
        "--out",
        "saved.plan",
    ])
    .ok();
    assert!(
        p.exists("infra/saved.plan"),
        "the plan file is written in --chdir"
    );
    assert!(!p.exists("saved.plan"));
    with(&["show", "saved.plan"]).ok();
    with(&["apply", "saved.plan"]).ok();
    assert_eq!(with(&["output", "--raw", "name"]).ok().stdout, "prod");
    assert_eq!(
        with(&["output", "--raw", "cwd_is_start"]).ok().stdout,
        "true",
        "path.cwd is the starting directory, as in Terraform"
    );
    // A policy directory given relative to --chdir is found (and denies).
    let denied = with(&["plan", "--var", "name=test", "--policy", "extra-policies"]).run();
    assert_eq!(denied.code, Some(4), "{}", denied.stderr);
    let eval = with(&[
        "policy",
        "eval",
        "--query",
        "input.a",
        "--input",
        "input.json",
    ])
    .ok();
    assert!(eval.stdout.contains("\"value\": 2"), "{}", eval.stdout);
    with(&["fmt", "fmt"]).ok();
    assert_eq!(p.read("infra/fmt/ugly.tf"), "x = 1\n");
}

#[test]
fn state_flag_writes_state_at_the_given_path() {
    let p = Project::new(&[("main.tf", WORKSPACE_CONFIG)]);
    let db = p.join("elsewhere/custom.db").to_string_lossy().to_string();
    p.baton(["--state", &db, "apply", "--auto-approve"]).ok();
    assert!(p.exists("elsewhere/custom.db"));
    assert!(
        !p.exists(".baton/state.db"),
        "no state in .baton when --state is given"
    );
    assert_eq!(
        p.baton(["--state", &db, "state", "list"]).ok().lines(),
        ["local_file.ws"]
    );
    assert!(state_list(&p).is_empty(), "the default state is untouched");
    // BATON_STATE is the same setting.
    assert_eq!(
        p.baton(["state", "list"])
            .env("BATON_STATE", &db)
            .ok()
            .lines(),
        ["local_file.ws"]
    );
    p.baton(["--state", &db, "destroy", "--auto-approve"]).ok();
    assert!(p
        .baton(["--state", &db, "state", "list"])
        .ok()
        .lines()
        .is_empty());
}

#[test]
fn env_has_its_own_state_and_sets_terraform_workspace() {
    let p = Project::new(&[("main.tf", WORKSPACE_CONFIG)]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.baton(["--env", "staging", "apply", "--auto-approve"])
        .ok();
    assert_eq!(p.read("ws-default.txt"), "default");
    assert_eq!(p.read("ws-staging.txt"), "staging");
    assert_eq!(p.baton(["output", "--raw", "ws"]).ok().stdout, "default");
    assert_eq!(
        p.baton(["--env", "staging", "output", "--raw", "ws"])
            .ok()
            .stdout,
        "staging"
    );
    assert_eq!(
        p.baton(["output", "--raw", "ws"])
            .env("BATON_ENV", "staging")
            .ok()
            .stdout,
        "staging"
    );

    // Destroying one environment leaves the other alone.
    p.baton(["--env", "staging", "destroy", "--auto-approve"])
        .ok();
    assert!(!p.exists("ws-staging.txt"));
    assert!(p.exists("ws-default.txt"));
    assert!(p
        .baton(["--env", "staging", "state", "list"])
        .ok()
        .lines()
        .is_empty());
    assert_eq!(state_list(&p), ["local_file.ws"]);
    // A saved plan belongs to its environment.
    p.baton(["--env", "prod", "plan", "--out", "prod.plan"])
        .ok();
    let wrong = p.baton(["apply", "prod.plan"]).fails();
    wrong.assert_stderr_contains("prod");
    assert!(!p.exists("ws-prod.txt"));
    p.baton(["--env", "bad name", "plan"]).fails();
}

// ---------------------------------------------------------------------------------------------
// 12. The approval prompt.
// ---------------------------------------------------------------------------------------------

const PROMPT_CONFIG: &str = r#"resource "local_file" "f" {
  filename = "${path.module}/approved.txt"
  content  = "approved"
}
"#;

#[test]
fn apply_prompt_answered_no_cancels_and_changes_nothing() {
    let p = Project::new(&[("main.tf", PROMPT_CONFIG)]);
    let o = p.baton(["apply"]).stdin("no\n").fails();
    o.assert_stdout_contains("Do you want to perform these actions?");
    o.assert_stdout_contains("Only 'yes' will be accepted to approve.");
    o.assert_stderr_contains("Apply cancelled.");
    o.assert_not_contains("Creating...");
    assert!(!p.exists("approved.txt"));
    assert!(state_list(&p).is_empty());
    assert_eq!(history(&p), serde_json::json!([]));

    // End of input is not a yes either.
    p.baton(["apply"]).fails();
    assert!(!p.exists("approved.txt"));
}

#[test]
fn apply_prompt_answered_yes_applies() {
    let p = Project::new(&[("main.tf", PROMPT_CONFIG)]);
    let o = p.baton(["apply"]).stdin("yes\n").ok();
    o.assert_stdout_contains("Do you want to perform these actions?");
    o.assert_stdout_contains("local_file.f: Creation complete after");
    o.assert_stdout_contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.");
    assert_eq!(p.read("approved.txt"), "approved");
    assert_eq!(state_list(&p), ["local_file.f"]);

    // destroy asks too.
    let d = p.baton(["destroy"]).stdin("no\n").fails();
    d.assert_stdout_contains("Do you really want to destroy all resources?");
    assert!(p.exists("approved.txt"));
    p.baton(["destroy"]).stdin("yes\n").ok();
    assert!(!p.exists("approved.txt"));
    assert!(state_list(&p).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 13. Plan text against Terraform's.
// ---------------------------------------------------------------------------------------------

/// The part of a plan's text that draws the changes: from the line announcing the actions (or
/// the output changes) up to the separator or the closing advice, whose wording and line
/// wrapping are each tool's own. Product names in the fixed sentences, UUIDs and trailing
/// spaces are normalised; refresh lines are dropped.
fn plan_body(text: &str, dir: &std::path::Path) -> String {
    let text = normalize(&without_refresh_lines(text), dir);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            l.ends_with("will perform the following actions:") || *l == "Changes to Outputs:"
        })
        .unwrap_or(0);
    let mut out: Vec<String> = Vec::new();
    for l in &lines[start..] {
        if l.starts_with('─') || l.starts_with("You can apply this plan") {
            break;
        }
        out.push(l.replace("Terraform will perform", "Baton will perform"));
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n") + "\n"
}

/// Outputs and `any`-typed attributes (nested markers, partial updates, nulls, bare map keys,
/// heredocs, JSON strings, unknowns, type changes): a first plan, then a changed plan after
/// apply, each compared line by line with Terraform 1.11's recorded text.
#[test]
fn plan_text_of_outputs_and_dynamic_values_matches_terraform() {
    let p = Project::from_fixture("plan_render");
    let check = |args: &[&str], expected: &str| {
        let got = plan_body(&p.baton(args).ok().stdout, p.path());
        let want = plan_body(&fixture_file("plan_render", expected), p.path());
        assert!(
            got == want,
            "`baton {}` differs from Terraform's {expected}\n--- terraform ---\n{want}\n--- baton ---\n{got}",
            args.join(" ")
        );
    };
    check(&["plan", "--var", "v=1"], "expected1.txt");
    p.baton(["apply", "--auto-approve", "--var", "v=1"]).ok();
    check(&["plan", "--var", "v=2"], "expected2.txt");
}
