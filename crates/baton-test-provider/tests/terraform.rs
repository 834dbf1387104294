//! The test provider under the real `terraform`: installed through `dev_overrides` in a CLI
//! configuration written to a temp dir, then `apply`, `destroy` and `import` of a configuration using
//! the resource, its nested block, a sensitive attribute and the data source, offline.
//!
//! Builds nothing: the provider binary comes from Cargo (`CARGO_BIN_EXE_…`). Needs `terraform`
//! on PATH; must not reach the network (dev_overrides means no registry lookup).

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

fn terraform(dir: &Path, protocol: &str, args: &[&str]) -> String {
    let out = Command::new("terraform")
        .args(args)
        .env("BATONTEST_PROTOCOL", protocol)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", dir.join("cli.tfrc"))
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("TF_LOG")
        .output()
        .expect("terraform runs (is it on PATH?)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "terraform {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

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
    let dir = tempfile::tempdir().expect("temp dir");
    let provider_dir = Path::new(PROVIDER)
        .parent()
        .expect("binary has a directory");
    let cli = format!(
        "provider_installation {{\n  dev_overrides {{\n    \"example.com/baton/batontest\" = {:?}\n  }}\n  direct {{}}\n}}\n",
        provider_dir.display().to_string()
    );
    std::fs::write(dir.path().join("cli.tfrc"), cli).expect("write CLI config");
    std::fs::write(dir.path().join("main.tf"), CONFIG).expect("write config");

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
