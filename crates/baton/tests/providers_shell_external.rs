//! End-to-end tests of the command-backed providers through the `baton` binary: a
//! `shell_script` resource wrapping real command-line tools (`sh`, `cat`, `sed`, `wc`) through
//! create, a no-change plan, an in-place `update`, drift repair, replacement by `triggers` and
//! destroy — with every command's side effects counted on disk — the `shell_script` data
//! source, the `external` data source feeding a `terraform_data` input, and failures that
//! carry stderr but never a `sensitive_environment` value.
//!
//! Each test works in its own temporary directory (see `common`) and leaves no process behind.

mod common;

use common::Project;

/// A value that must never be printed.
const SECRET: &str = "hunter2-VERY-secret";

/// A `shell_script` that keeps `data.txt` (the content passed through `sed`) and appends one
/// line per command run to `events.log`; `update` also saves its stdin to `previous.json`.
fn shell_config(content: &str, trigger: &str) -> String {
    format!(
        r#"resource "shell_script" "file" {{
  lifecycle_commands {{
    create = <<-EOT
      printf '%s\n' "$CONTENT" | sed 's/o/0/g' > data.txt
      echo create >> events.log
      printf '{{"content":"%s","lines":"%s"}}\n' "$(cat data.txt)" "$(wc -l < data.txt | tr -d ' ')"
    EOT
    read   = <<-EOT
      [ -f data.txt ] || exit 0
      echo read >> reads.log
      printf '{{"content":"%s","lines":"%s"}}\n' "$(cat data.txt)" "$(wc -l < data.txt | tr -d ' ')"
    EOT
    update = <<-EOT
      cat > previous.json
      printf '%s\n' "$CONTENT" | sed 's/o/0/g' > data.txt
      echo update >> events.log
      printf '{{"content":"%s","lines":"%s"}}\n' "$(cat data.txt)" "$(wc -l < data.txt | tr -d ' ')"
    EOT
    delete = <<-EOT
      cat > deleted.json
      rm -f data.txt
      echo delete >> events.log
    EOT
  }}

  environment = {{
    CONTENT = "{content}"
  }}

  sensitive_environment = {{
    TOKEN = "{SECRET}"
  }}

  triggers = {{
    generation = "{trigger}"
  }}
}}

output "content" {{
  value = shell_script.file.output["content"]
}}

output "lines" {{
  value = shell_script.file.output["lines"]
}}
"#
    )
}

fn events(p: &Project) -> Vec<String> {
    if !p.exists("events.log") {
        return Vec::new();
    }
    p.read("events.log").lines().map(str::to_string).collect()
}

fn outputs(p: &Project) -> serde_json::Value {
    p.baton(["output", "--json"]).ok().json()
}

#[test]
fn shell_script_create_update_drift_replace_destroy() {
    let p = Project::new(&[("main.tf", &shell_config("hello world", "g1"))]);

    // Create: the command runs once, its JSON becomes `output`, visible through outputs.
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("shell_script.file will be created");
    let apply = p.baton(["apply", "--auto-approve"]).ok();
    apply.assert_not_contains(SECRET);
    assert_eq!(events(&p), ["create"]);
    assert_eq!(p.read("data.txt"), "hell0 w0rld\n");
    let out = outputs(&p);
    assert_eq!(out["content"]["value"], "hell0 w0rld");
    assert_eq!(out["lines"]["value"], "1");

    // A second plan refreshes (runs `read`) and finds nothing to do.
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("No changes.")
        .assert_not_contains(SECRET);
    assert_eq!(events(&p), ["create"]);
    assert!(p.exists("reads.log"), "refresh ran the read command");

    // Changing `environment` with an `update` command: updated in place, the previous
    // output arrives on stdin.
    p.write("main.tf", &shell_config("good morning", "g1"));
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("updated in-place");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(events(&p), ["create", "update"]);
    assert_eq!(p.read("data.txt"), "g00d m0rning\n");
    let previous: serde_json::Value =
        serde_json::from_str(&p.read("previous.json")).expect("previous output is JSON");
    assert_eq!(
        previous,
        serde_json::json!({"content": "hell0 w0rld", "lines": "1"})
    );
    assert_eq!(outputs(&p)["content"]["value"], "g00d m0rning");
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");

    // Drift: the file is edited outside Baton; refresh marks the object dirty and the next
    // apply repairs it with `update`.
    p.write("data.txt", "tampered\n");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(events(&p), ["create", "update", "update"]);
    assert_eq!(p.read("data.txt"), "g00d m0rning\n");
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");

    // Changing `triggers` replaces the object: delete, then create.
    p.write("main.tf", &shell_config("good morning", "g2"));
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("must be replaced");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        events(&p),
        ["create", "update", "update", "delete", "create"]
    );
    let deleted: serde_json::Value =
        serde_json::from_str(&p.read("deleted.json")).expect("delete got the output on stdin");
    assert_eq!(deleted["content"], "g00d m0rning");
    assert_eq!(outputs(&p)["content"]["value"], "g00d m0rning");
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");

    // Destroy runs `delete`.
    p.baton(["destroy", "--auto-approve"])
        .ok()
        .assert_not_contains(SECRET);
    assert_eq!(
        events(&p),
        ["create", "update", "update", "delete", "create", "delete"]
    );
    assert!(!p.exists("data.txt"));
    assert!(p.baton(["state", "list"]).ok().lines().is_empty());
}

#[test]
fn shell_script_gone_after_refresh_is_created_again() {
    let p = Project::new(&[("main.tf", &shell_config("abc", "g1"))]);
    p.baton(["apply", "--auto-approve"]).ok();
    // `read` prints no JSON object when data.txt is missing: the object is gone.
    p.remove("data.txt");
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("shell_script.file will be created");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(events(&p), ["create", "create"]);
    assert_eq!(p.read("data.txt"), "abc\n");
}

#[test]
fn shell_script_failure_shows_stderr_but_never_the_secret() {
    let p = Project::new(&[(
        "main.tf",
        &format!(
            r#"resource "shell_script" "bad" {{
  lifecycle_commands {{
    create = "echo \"login with $TOKEN failed\" >&2; exit 3"
    delete = "true"
  }}
  sensitive_environment = {{
    TOKEN = "{SECRET}"
  }}
}}
"#
        ),
    )]);
    let o = p.baton(["apply", "--auto-approve"]).fails();
    o.assert_contains("Error occurred during shell execution")
        .assert_contains("create command failed with exit code 3")
        .assert_contains("login with ****** failed")
        .assert_not_contains(SECRET);
    assert!(p.baton(["state", "list"]).ok().lines().is_empty());
}

#[test]
fn shell_script_data_source_reads_a_command() {
    let p = Project::new(&[
        ("words.txt", "alpha\nbeta\ngamma\n"),
        (
            "main.tf",
            r#"data "shell_script" "count" {
  lifecycle_commands {
    read = <<-EOT
      printf '{"words":"%s","first":"%s","stdin":%s}' "$(wc -l < "$FILE" | tr -d ' ')" "$(sed -n 1p "$FILE")" "$(cat | sed 's/"/\\"/g; s/^/"/; s/$/"/')"
    EOT
  }
  environment = {
    FILE = "words.txt"
  }
}

output "words" {
  value = data.shell_script.count.output["words"]
}

output "first" {
  value = data.shell_script.count.output["first"]
}

output "stdin" {
  value = data.shell_script.count.output["stdin"]
}
"#,
        ),
    ]);
    p.baton(["apply", "--auto-approve"]).ok();
    let out = outputs(&p);
    assert_eq!(out["words"]["value"], "3");
    assert_eq!(out["first"]["value"], "alpha");
    assert_eq!(out["stdin"]["value"], "{}");
}

const EXTERNAL_PROGRAM: &str = r#"#!/bin/sh
# Reads {"name": "..."} on stdin and greets; counts its runs.
query=$(cat)
name=$(printf '%s' "$query" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
echo run >> external-runs.log
printf '{"greeting":"hello %s","arg":"%s"}\n' "$name" "$1"
"#;

fn external_config(name: &str) -> String {
    format!(
        r#"data "external" "greet" {{
  program = ["${{path.module}}/greet.sh", "first-arg"]
  query = {{
    name = "{name}"
  }}
}}

resource "terraform_data" "greeting" {{
  input = data.external.greet.result["greeting"]
}}

output "greeting" {{
  value = terraform_data.greeting.output
}}

output "arg" {{
  value = data.external.greet.result.arg
}}

output "id" {{
  value = data.external.greet.id
}}
"#
    )
}

fn project_with_program(config: &str) -> Project {
    let p = Project::new(&[("greet.sh", EXTERNAL_PROGRAM), ("main.tf", config)]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.join("greet.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    p
}

#[test]
fn external_data_source_feeds_a_terraform_data_input() {
    let p = project_with_program(&external_config("baton"));
    p.baton(["apply", "--auto-approve"]).ok();
    let out = outputs(&p);
    assert_eq!(out["greeting"]["value"], "hello baton");
    assert_eq!(out["arg"]["value"], "first-arg");
    assert_eq!(out["id"]["value"], "-");
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");

    // A new query changes the result, which updates the dependent input in place.
    p.write("main.tf", &external_config("world"));
    p.baton(["plan"])
        .ok()
        .assert_stdout_contains("updated in-place");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(outputs(&p)["greeting"]["value"], "hello world");
    p.baton(["destroy", "--auto-approve"]).ok();
}

#[test]
fn external_program_failures_are_reported_with_stderr() {
    let p = Project::new(&[(
        "main.tf",
        r#"data "external" "broken" {
  program = ["sh", "-c", "echo 'no such thing' >&2; exit 5"]
}
"#,
    )]);
    p.baton(["plan"])
        .fails()
        .assert_contains("External Program Execution Failed")
        .assert_contains("no such thing")
        .assert_contains("exit code 5");

    p.write(
        "main.tf",
        r#"data "external" "numbers" {
  program = ["echo", "{\"n\": 1}"]
}
"#,
    );
    p.baton(["plan"])
        .fails()
        .assert_contains("Unexpected External Program Results");
}

/// The `provider "shell"` block gives every object its defaults: environment (an object's own
/// win), the interpreter; a block with an argument the provider does not take is an error.
#[test]
fn shell_provider_block_sets_defaults_for_every_object() {
    let p = Project::new(&[(
        "main.tf",
        r#"provider "shell" {
  environment = {
    GREETING = "hello"
    WHO      = "provider"
  }
  interpreter = ["/bin/sh", "-c"]
}

resource "shell_script" "a" {
  lifecycle_commands {
    create = "echo \"$GREETING $WHO\" > a.txt; echo '{}'"
    delete = "rm -f a.txt"
  }
  environment = {
    WHO = "object"
  }
}
"#,
    )]);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(p.read("a.txt"), "hello object\n");
    p.write("main.tf", "provider \"shell\" {\n  colour = \"blue\"\n}\n");
    let out = p.baton(["validate"]).fails();
    assert!(
        out.stderr.contains("Unsupported argument"),
        "{}",
        out.stderr
    );
}
