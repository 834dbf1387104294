//! The test provider under the real `terraform`: installed through `dev_overrides` in a CLI
//! configuration written to a temp dir, then, offline and over both protocols: `apply`,
//! `destroy` and `import` of a configuration using the resource, its nested block, a sensitive
//! attribute and the data source; the provider block's `prefix` (and its refusal of `bad`); the
//! provider function `upper`; the upgrade of a hand-written version-0 state; and
//! `batontest_file`'s create, drift, re-create and delete.
//!
//! Builds nothing: the provider binary comes from Cargo (`CARGO_BIN_EXE_…`). Needs `terraform`
//! on PATH; must not reach the network (dev_overrides means no registry lookup). Writes only
//! in its temp dirs.

use std::path::Path;
use std::process::Command;

const PROVIDER: &str = env!("CARGO_BIN_EXE_terraform-provider-batontest");

const CONFIG: &str = r#"
terraform {
  required_providers {
    batontest = { source = "example.com/baton/batontest" }
  }
}

resource "batontest_thing" "a" {
  name   = "alpha"
  secret = "hunter2"
  tag {
    key   = "env"
    value = "test"
  }
}

data "batontest_echo" "e" {
  input = batontest_thing.a.id
}

output "id" { value = batontest_thing.a.id }
output "echo" { value = data.batontest_echo.e.output }
output "tag" { value = one(batontest_thing.a.tag[*].value) }
output "secret" {
  value     = batontest_thing.a.secret
  sensitive = true
}
"#;

/// What one terraform run said.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_terraform(dir: &Path, protocol: &str, args: &[&str]) -> Run {
    let out = Command::new("terraform")
        .args(args)
        .env("BATONTEST_PROTOCOL", protocol)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", dir.join("cli.tfrc"))
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("TF_LOG")
        .output()
        .expect("terraform runs (is it on PATH?)");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs terraform and insists it succeeds; returns its stdout.
fn terraform(dir: &Path, protocol: &str, args: &[&str]) -> String {
    let run = run_terraform(dir, protocol, args);
    assert!(
        run.code == Some(0),
        "terraform {args:?} failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run.stdout
}

/// A temp dir with the CLI configuration pointing at the built provider and `config` as
/// `main.tf`.
fn workspace(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let provider_dir = Path::new(PROVIDER)
        .parent()
        .expect("binary has a directory");
    let cli = format!(
        "provider_installation {{\n  dev_overrides {{\n    \"example.com/baton/batontest\" = {:?}\n  }}\n  direct {{}}\n}}\n",
        provider_dir.display().to_string()
    );
    std::fs::write(dir.path().join("cli.tfrc"), cli).expect("write CLI config");
    std::fs::write(dir.path().join("main.tf"), config).expect("write config");
    dir
}

/// `terraform output -json` without whitespace.
fn outputs(dir: &Path, protocol: &str) -> String {
    terraform(dir, protocol, &["output", "-json"])
        .split_whitespace()
        .collect()
}

const APPLY: &[&str] = &["apply", "-auto-approve", "-input=false", "-no-color"];
const DESTROY: &[&str] = &["destroy", "-auto-approve", "-input=false", "-no-color"];
/// Both protocols: "" lets the provider choose 6.
const PROTOCOLS: [&str; 2] = ["", "5"];

#[test]
fn terraform_applies_and_destroys_with_the_test_provider() {
    scenario("");
}

#[test]
fn terraform_applies_and_destroys_with_the_test_provider_over_protocol_5() {
    scenario("5");
}

/// apply, outputs, plan (refresh), destroy, import, destroy; `protocol` is the test
/// provider's `BATONTEST_PROTOCOL` ("" lets it choose 6).
fn scenario(protocol: &str) {
    let dir = workspace(CONFIG);
    let apply = terraform(
        dir.path(),
        protocol,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    assert!(apply.contains("Resources: 1 added"), "{apply}");
    assert!(
        !apply.contains("hunter2"),
        "sensitive value shown:\n{apply}"
    );

    let outputs = terraform(dir.path(), protocol, &["output", "-json"]);
    let compact: String = outputs.split_whitespace().collect();
    for expected in [
        r#""id":{"sensitive":false,"type":"string","value":"thing-alpha"}"#,
        r#""echo":{"sensitive":false,"type":"string","value":"thing-alpha"}"#,
        r#""tag":{"sensitive":false,"type":"string","value":"test"}"#,
        r#""secret":{"sensitive":true,"type":"string","value":"hunter2"}"#,
    ] {
        assert!(
            compact.contains(expected),
            "missing {expected} in {outputs}"
        );
    }

    // Refresh goes through UpgradeResourceState and ReadResource: no drift.
    let plan = terraform(dir.path(), protocol, &["plan", "-input=false", "-no-color"]);
    assert!(plan.contains("No changes."), "{plan}");

    let destroy = terraform(
        dir.path(),
        protocol,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    );
    assert!(destroy.contains("Resources: 1 destroyed"), "{destroy}");

    // Import: the id gives back the name; the object is read before it goes to state.
    let import = terraform(
        dir.path(),
        protocol,
        &[
            "import",
            "-input=false",
            "-no-color",
            "batontest_thing.a",
            "thing-alpha",
        ],
    );
    assert!(import.contains("Import successful!"), "{import}");
    let shown = terraform(
        dir.path(),
        protocol,
        &["state", "show", "-no-color", "batontest_thing.a"],
    );
    assert!(shown.contains(r#"id   = "thing-alpha""#), "{shown}");
    assert!(shown.contains(r#"name = "alpha""#), "{shown}");
    let destroy = terraform(
        dir.path(),
        protocol,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    );
    assert!(destroy.contains("Resources: 1 destroyed"), "{destroy}");
}

const PROVIDER_BLOCK: &str = r#"
terraform {
  required_providers {
    batontest = { source = "example.com/baton/batontest" }
  }
}
"#;

#[test]
fn terraform_configures_the_prefix_of_new_ids() {
    for protocol in PROTOCOLS {
        let config = format!(
            "{PROVIDER_BLOCK}\nprovider \"batontest\" {{\n  prefix = \"p\"\n}}\n\
             resource \"batontest_thing\" \"a\" {{\n  name = \"alpha\"\n}}\n\
             output \"id\" {{ value = batontest_thing.a.id }}\n"
        );
        let dir = workspace(&config);
        terraform(dir.path(), protocol, APPLY);
        let out = outputs(dir.path(), protocol);
        assert!(
            out.contains(r#""id":{"sensitive":false,"type":"string","value":"p-thing-alpha"}"#),
            "protocol {protocol:?}: {out}"
        );
        terraform(dir.path(), protocol, DESTROY);
        // Import takes the prefixed id as well as the plain one.
        for id in ["p-thing-alpha", "thing-alpha"] {
            terraform(
                dir.path(),
                protocol,
                &[
                    "import",
                    "-input=false",
                    "-no-color",
                    "batontest_thing.a",
                    id,
                ],
            );
            let shown = terraform(
                dir.path(),
                protocol,
                &["state", "show", "-no-color", "batontest_thing.a"],
            );
            assert!(shown.contains(r#"name = "alpha""#), "{shown}");
            terraform(dir.path(), protocol, &["state", "rm", "batontest_thing.a"]);
        }
    }
}

#[test]
fn terraform_reports_the_refused_prefix_on_its_attribute() {
    for protocol in PROTOCOLS {
        let config = format!(
            "{PROVIDER_BLOCK}\nprovider \"batontest\" {{\n  prefix = \"bad\"\n}}\n\
             resource \"batontest_thing\" \"a\" {{\n  name = \"alpha\"\n}}\n"
        );
        let dir = workspace(&config);
        let run = run_terraform(dir.path(), protocol, &["plan", "-input=false", "-no-color"]);
        assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("Invalid prefix"), "{}", run.stderr);
        // Terraform points at the attribute in the provider block.
        assert!(run.stderr.contains(r#"prefix = "bad""#), "{}", run.stderr);
    }
}

#[test]
fn terraform_calls_the_provider_function() {
    for protocol in PROTOCOLS {
        let config = format!(
            "{PROVIDER_BLOCK}\noutput \"up\" {{ value = provider::batontest::upper(\"abc\") }}\n"
        );
        let dir = workspace(&config);
        terraform(dir.path(), protocol, APPLY);
        let out = outputs(dir.path(), protocol);
        assert!(
            out.contains(r#""up":{"sensitive":false,"type":"string","value":"ABC"}"#),
            "protocol {protocol:?}: {out}"
        );

        let config = format!(
            "{PROVIDER_BLOCK}\noutput \"up\" {{ value = provider::batontest::upper(\"\") }}\n"
        );
        let dir = workspace(&config);
        let run = run_terraform(dir.path(), protocol, &["plan", "-input=false", "-no-color"]);
        assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
        // The FunctionError's argument index makes it an argument error (Baton words it
        // the same way).
        assert!(
            run.stderr.contains("Invalid function argument"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains(r#"Invalid value for "s" parameter: empty string."#),
            "{}",
            run.stderr
        );
    }
}

/// A state written by hand as an older Terraform with schema version 0 of `batontest_thing`
/// would have left it: the name is under `label`.
const VERSION_0_STATE: &str = r#"{
  "version": 4,
  "terraform_version": "1.11.0",
  "serial": 1,
  "lineage": "6f0c1f9e-0000-4000-8000-000000000000",
  "outputs": {},
  "resources": [
    {
      "mode": "managed",
      "type": "batontest_thing",
      "name": "a",
      "provider": "provider[\"example.com/baton/batontest\"]",
      "instances": [
        {
          "schema_version": 0,
          "attributes": {"id": "thing-a", "label": "a", "secret": null, "tag": []},
          "sensitive_attributes": []
        }
      ]
    }
  ],
  "check_results": null
}
"#;

#[test]
fn terraform_upgrades_a_version_0_state() {
    for protocol in PROTOCOLS {
        let config = format!(
            "{PROVIDER_BLOCK}\nresource \"batontest_thing\" \"a\" {{\n  name = \"a\"\n}}\n"
        );
        let dir = workspace(&config);
        std::fs::write(dir.path().join("terraform.tfstate"), VERSION_0_STATE).expect("write state");
        // The upgraded object matches the configuration: nothing to do beyond the refresh.
        let plan = terraform(dir.path(), protocol, &["plan", "-input=false", "-no-color"]);
        assert!(plan.contains("No changes."), "{plan}");
        terraform(
            dir.path(),
            protocol,
            &[
                "apply",
                "-refresh-only",
                "-auto-approve",
                "-input=false",
                "-no-color",
            ],
        );
        let state =
            std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("read state");
        let state: serde_json::Value = serde_json::from_str(&state).expect("state is JSON");
        let instance = &state["resources"][0]["instances"][0];
        assert_eq!(instance["schema_version"], 1, "{state}");
        assert_eq!(instance["attributes"]["name"], "a", "{state}");
        assert_eq!(instance["attributes"]["id"], "thing-a", "{state}");
        assert!(instance["attributes"].get("label").is_none(), "{state}");
    }
}

#[test]
fn terraform_sees_drift_and_deletion_of_a_file() {
    for protocol in PROTOCOLS {
        let dir = tempfile::tempdir().expect("temp dir for the file");
        let file = dir.path().join("f.txt");
        let config = format!(
            "{PROVIDER_BLOCK}\nresource \"batontest_file\" \"f\" {{\n  path = {:?}\n  content = \"hello\"\n}}\n\
             output \"id\" {{ value = batontest_file.f.id }}\n",
            file.display().to_string()
        );
        let ws = workspace(&config);
        let ws = ws.path();
        let apply = terraform(ws, protocol, APPLY);
        assert!(apply.contains("Resources: 1 added"), "{apply}");
        assert_eq!(
            std::fs::read_to_string(&file).expect("file written"),
            "hello"
        );
        let out = outputs(ws, protocol);
        assert!(out.contains(&file.display().to_string()), "{out}");

        let detailed = ["plan", "-detailed-exitcode", "-input=false", "-no-color"];
        let plan = run_terraform(ws, protocol, &detailed);
        assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

        // Drift: the file changed behind Terraform's back; the plan puts the content back.
        std::fs::write(&file, "changed").expect("edit file");
        let plan = run_terraform(ws, protocol, &detailed);
        assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
        assert!(plan.stdout.contains("updated in-place"), "{}", plan.stdout);
        assert!(
            plan.stdout.contains(r#""changed" -> "hello""#),
            "{}",
            plan.stdout
        );
        let apply = terraform(ws, protocol, APPLY);
        assert!(apply.contains("1 changed"), "{apply}");
        assert_eq!(std::fs::read_to_string(&file).expect("file"), "hello");

        // Deletion: the object is gone, so the plan creates it again.
        std::fs::remove_file(&file).expect("remove file");
        let plan = run_terraform(ws, protocol, &detailed);
        assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
        assert!(plan.stdout.contains("will be created"), "{}", plan.stdout);
        let apply = terraform(ws, protocol, APPLY);
        assert!(apply.contains("1 added"), "{apply}");
        assert!(file.exists());

        let destroy = terraform(ws, protocol, DESTROY);
        assert!(destroy.contains("Resources: 1 destroyed"), "{destroy}");
        assert!(!file.exists());

        // Import by path reads the content back.
        std::fs::write(&file, "imported").expect("write file");
        let path = file.display().to_string();
        terraform(
            ws,
            protocol,
            &[
                "import",
                "-input=false",
                "-no-color",
                "batontest_file.f",
                &path,
            ],
        );
        let shown = terraform(
            ws,
            protocol,
            &["state", "show", "-no-color", "batontest_file.f"],
        );
        assert!(shown.contains(r#"content = "imported""#), "{shown}");
        terraform(ws, protocol, DESTROY);
        assert!(!file.exists());
    }
}
