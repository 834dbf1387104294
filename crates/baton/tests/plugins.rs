//! Provider plugins, differentially: the workspace's `batontest` provider (a real plugin
//! executable speaking protocol 6 or 5) is run by the real `terraform` and by `baton` on the
//! same configurations, each in its own directory, and what they say must agree: plan JSON
//! (actions, before/after values, unknowns, sensitive paths, replace paths, importing), outputs,
//! state after refresh, a clean plan after apply, import and destroy. Then the failure paths
//! through the binary: a provider that crashes, hangs, or refuses with an attribute path, with
//! rollback of what the run did before.
//!
//! Both tools find the provider through `dev_overrides` in a CLI configuration the test writes
//! (`TF_CLI_CONFIG_FILE`): nothing is downloaded. Must not reach the network, and must not leave
//! provider processes behind (checked).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Cmd, Output, Project};
use serde_json::{json, Value};

/// The test provider, built by Cargo beside the `baton` binary (`cargo test --workspace`
/// builds it). When it is missing or older than its sources (a run of this package's tests
/// alone), it is built here, once.
fn provider_dir() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let dir = common::baton_bin()
        .parent()
        .expect("the baton binary has a directory")
        .to_path_buf();
    BUILT.call_once(|| {
        let exe = dir.join("terraform-provider-batontest");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../baton-test-provider/src");
        let built = std::fs::metadata(&exe).and_then(|m| m.modified()).ok();
        let newest_src = walk_newest(&src);
        if built.is_none() || newest_src.is_some_and(|s| built.is_some_and(|b| s > b)) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
            let ok = Command::new(cargo)
                .args(["build", "-p", "baton-test-provider"])
                .status()
                .expect("cargo runs");
            assert!(ok.success(), "building the test provider failed");
        }
    });
    dir
}

fn walk_newest(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let t = if p.is_dir() {
            walk_newest(&p)
        } else {
            e.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}

const CLI_CONFIG: &str = "cli.tfrc";

/// One configuration in two directories: one for terraform, one for baton.
struct Pair {
    tf: Project,
    baton: Project,
    /// `BATONTEST_PROTOCOL`: "" (the provider picks 6) or "5".
    protocol: &'static str,
}

impl Pair {
    fn new(protocol: &'static str) -> Pair {
        let cli = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"example.com/baton/batontest\" = {:?}\n  }}\n  direct {{}}\n}}\n",
            provider_dir().display().to_string()
        );
        let pair = Pair {
            tf: Project::new(&[]),
            baton: Project::new(&[]),
            protocol,
        };
        pair.write(CLI_CONFIG, &cli);
        pair
    }

    fn write(&self, name: &str, content: &str) {
        self.tf.write(name, content);
        self.baton.write(name, content);
    }

    fn terraform(&self, args: &[&str]) -> Output {
        let out = Command::new("terraform")
            .args(args)
            .current_dir(self.tf.path())
            .env("TF_CLI_CONFIG_FILE", self.tf.join(CLI_CONFIG))
            .env("BATONTEST_PROTOCOL", self.protocol)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env_remove("TF_LOG")
            .output()
            .expect("terraform runs (is it on PATH?)");
        Output {
            display: format!("terraform {}", args.join(" ")),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn baton_cmd(&self, args: &[&str]) -> Cmd {
        self.baton
            .baton(args)
            .env(
                "TF_CLI_CONFIG_FILE",
                &self.baton.join(CLI_CONFIG).display().to_string(),
            )
            .env("BATONTEST_PROTOCOL", self.protocol)
    }

    fn baton(&self, args: &[&str]) -> Output {
        self.baton_cmd(args).run()
    }

    /// Both plans as Terraform's JSON plan format, compared on what a plan decides.
    fn compare_plans(&self, step: &str, destroy: bool) {
        let mut tf_args = vec!["plan", "-out=tfplan", "-input=false"];
        let mut b_args = vec!["plan", "--json"];
        if destroy {
            tf_args.push("-destroy");
            b_args.push("--destroy");
        }
        self.terraform(&tf_args).assert_success();
        let tf = json_of(
            self.terraform(&["show", "-json", "tfplan"])
                .assert_success(),
        );
        let b = json_of(self.baton(&b_args).assert_success());
        assert_eq!(
            plan_essentials(&b),
            plan_essentials(&tf),
            "{step}: baton's plan (left) differs from terraform's (right)"
        );
    }

    /// Applies in both (`-auto-approve`), then compares outputs and state.
    fn apply_and_compare(&self, step: &str) {
        self.terraform(&["apply", "-auto-approve", "-input=false"])
            .assert_success();
        self.baton(&["apply", "--auto-approve"]).assert_success();
        self.compare_results(step);
    }

    fn compare_results(&self, step: &str) {
        let tf_out = json_of(self.terraform(&["output", "-json"]).assert_success());
        let b_out = json_of(self.baton(&["output", "--json"]).assert_success());
        assert_eq!(
            b_out, tf_out,
            "{step}: outputs (baton left, terraform right)"
        );
        let tf_state = json_of(self.terraform(&["show", "-json"]).assert_success());
        let b_state = json_of(self.baton(&["show", "--json"]).assert_success());
        assert_eq!(
            state_essentials(&b_state),
            state_essentials(&tf_state),
            "{step}: state (baton left, terraform right)"
        );
    }

    /// Both see no change after a refresh.
    fn both_clean(&self, step: &str) {
        self.terraform(&["plan", "-detailed-exitcode", "-input=false"])
            .assert_code(0);
        self.baton(&["plan", "--detailed-exitcode"]).assert_code(0);
        let _ = step;
    }
}

fn json_of(o: &Output) -> Value {
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("{} printed no JSON ({e}):\n{}", o.display, o.stdout))
}

/// What a plan decides, per resource (sorted by address) and per output.
fn plan_essentials(plan: &Value) -> Value {
    let mut changes: Vec<Value> = plan["resource_changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|rc| {
            let c = &rc["change"];
            json!({
                "address": rc["address"],
                "provider_name": rc["provider_name"],
                "actions": c["actions"],
                "before": hide_sensitive(&c["before"], &c["before_sensitive"]),
                "after": hide_sensitive(&c["after"], &c["after_sensitive"]),
                "after_unknown": c["after_unknown"],
                "before_sensitive": c["before_sensitive"],
                "after_sensitive": c["after_sensitive"],
                "replace_paths": c.get("replace_paths").cloned().unwrap_or(Value::Null),
                "importing": c.get("importing").cloned().unwrap_or(Value::Null),
                "action_reason": rc.get("action_reason").cloned().unwrap_or(Value::Null),
                "previous_address": rc.get("previous_address").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    changes.sort_by_key(|c| c["address"].to_string());
    let outputs: serde_json::Map<String, Value> = plan["output_changes"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                json!({"actions": v["actions"], "after_unknown": v["after_unknown"]}),
            )
        })
        .collect();
    json!({"resource_changes": changes, "output_changes": outputs})
}

/// `v` with the values `marks` (Terraform's `*_sensitive` shape) marks sensitive as null:
/// Baton's `plan --json` never prints a sensitive value (the language differential suite
/// excuses the same difference), so only where they are is compared, through the marks.
fn hide_sensitive(v: &Value, marks: &Value) -> Value {
    match (v, marks) {
        (_, Value::Bool(true)) => Value::Null,
        (Value::Object(o), Value::Object(m)) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        hide_sensitive(x, m.get(k).unwrap_or(&Value::Null)),
                    )
                })
                .collect(),
        ),
        (Value::Array(a), Value::Array(m)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| hide_sensitive(x, m.get(i).unwrap_or(&Value::Null)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// The state's resources, in the root module and every child module: address, provider,
/// schema version, values and sensitive paths (sorted). The sensitive values themselves are
/// compared through the outputs (`output -json` prints them).
fn state_essentials(state: &Value) -> Value {
    fn collect(module: &Value, out: &mut Vec<Value>) {
        for r in module["resources"].as_array().into_iter().flatten() {
            out.push(json!({
                "address": r["address"],
                "provider_name": r["provider_name"],
                "schema_version": r["schema_version"],
                "values": hide_sensitive(&r["values"], &r["sensitive_values"]),
                "sensitive_values": r["sensitive_values"],
            }));
        }
        for child in module["child_modules"].as_array().into_iter().flatten() {
            collect(child, out);
        }
    }
    let mut rs = Vec::new();
    collect(&state["values"]["root_module"], &mut rs);
    rs.sort_by_key(|r| r["address"].to_string());
    Value::Array(rs)
}

const HEAD: &str = r#"
terraform {
  required_providers {
    batontest = { source = "example.com/baton/batontest" }
  }
}
"#;

fn config(name: &str, tag_value: &str, extra: &str) -> String {
    format!(
        r#"{HEAD}
resource "batontest_thing" "a" {{
  name   = "{name}"
  secret = "hunter2"
  tag {{
    key   = "env"
    value = "{tag_value}"
  }}
  tag {{
    key  = "team"
    note = "private"
  }}
}}

data "batontest_echo" "e" {{
  input = batontest_thing.a.id
}}

output "id" {{ value = batontest_thing.a.id }}
output "echo" {{ value = data.batontest_echo.e.output }}
output "tags" {{ value = batontest_thing.a.tag[*].key }}
output "secret" {{
  value     = batontest_thing.a.secret
  sensitive = true
}}
{extra}"#
    )
}

/// Create, update in place, replace, import, destroy: plan, outputs and state agree at every
/// step.
fn lifecycle(protocol: &'static str) {
    let pair = Pair::new(protocol);
    pair.write("main.tf", &config("alpha", "test", ""));
    pair.compare_plans("create", false);
    pair.apply_and_compare("create");
    pair.both_clean("after create");

    pair.write("main.tf", &config("alpha", "prod", ""));
    pair.compare_plans("update in place", false);
    pair.apply_and_compare("update in place");
    pair.both_clean("after update");

    pair.write("main.tf", &config("bravo", "prod", ""));
    pair.compare_plans("replace", false);
    pair.apply_and_compare("replace");

    let import = r#"
import {
  to = batontest_thing.b
  id = "thing-charlie"
}

resource "batontest_thing" "b" {
  name = "charlie"
}
"#;
    pair.write("main.tf", &config("bravo", "prod", import));
    pair.compare_plans("import", false);
    pair.apply_and_compare("import");
    pair.both_clean("after import");

    pair.compare_plans("destroy", true);
    pair.terraform(&["destroy", "-auto-approve", "-input=false"])
        .assert_success();
    pair.baton(&["destroy", "--auto-approve"]).assert_success();
    pair.compare_results("destroy");
    assert_no_provider_left(&pair.baton.path_str());
}

#[test]
fn baton_and_terraform_agree_on_a_plugin_lifecycle_over_protocol_6() {
    lifecycle("");
}

#[test]
fn baton_and_terraform_agree_on_a_plugin_lifecycle_over_protocol_5() {
    lifecycle("5");
}

/// The provider's own validation (a tag with an empty key, on the path `tag[0].key`) and its
/// plan-time refusal (the name "invalid", on `name`) stop both tools before any change, with the
/// provider's words.
#[test]
fn provider_diagnostics_stop_the_plan_as_in_terraform() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &format!("{HEAD}\nresource \"batontest_thing\" \"a\" {{\n  name = \"invalid\"\n}}\n"),
    );
    let tf = pair.terraform(&["plan", "-input=false"]);
    tf.assert_failure();
    let b = pair.baton(&["plan"]);
    b.assert_failure();
    for text in ["Invalid name", "batontest refuses the name \"invalid\"."] {
        assert!(tf.all().contains(text), "terraform: {}", tf.all());
        assert!(b.all().contains(text), "baton: {}", b.all());
    }
    // Terraform points at the attribute the diagnostic names; so does Baton.
    assert!(tf.all().contains("main.tf line 9"), "{}", tf.all());
    assert!(b.all().contains("main.tf:9:"), "{}", b.all());

    pair.write(
        "main.tf",
        &format!(
            "{HEAD}\nresource \"batontest_thing\" \"a\" {{\n  name = \"ok\"\n  tag {{\n    key = \"\"\n  }}\n}}\n"
        ),
    );
    let tf = pair.terraform(&["validate"]);
    tf.assert_failure();
    let b = pair.baton(&["validate"]);
    b.assert_failure();
    assert!(tf.all().contains("Empty tag key"), "{}", tf.all());
    assert!(b.all().contains("Empty tag key"), "{}", b.all());
    assert!(!pair.baton.exists("terraform.tfstate"));
}

/// `a` is created first; `b` then fails in the provider. The run is rolled back (so `a` is
/// destroyed again) and the error carries the provider's stderr, as Terraform's does.
fn failing_apply(name: &str, env: &[(&str, &str)]) -> Output {
    let pair = Pair::new("");
    let marker = pair.baton.join("a-was-created");
    pair.write(
        "main.tf",
        &format!(
            r#"{HEAD}
resource "batontest_thing" "a" {{
  name = "first"
}}

resource "terraform_data" "witness" {{
  input = batontest_thing.a.id
  provisioner "local-exec" {{
    command = "touch {marker}"
  }}
}}

resource "batontest_thing" "b" {{
  name       = "{name}"
  depends_on = [terraform_data.witness]
}}

output "a" {{ value = batontest_thing.a.id }}
"#,
            marker = marker.display()
        ),
    );
    let mut cmd = pair.baton_cmd(&["apply", "--auto-approve"]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.timeout(Duration::from_secs(120)).run();
    out.assert_failure();
    assert!(marker.exists(), "a was created before b failed");
    // Rolled back: nothing of the run is left in state.
    let state = json_of(pair.baton(&["show", "--json"]).assert_success());
    assert_eq!(
        state_essentials(&state),
        json!([]),
        "the run was rolled back"
    );
    assert!(out.all().contains("rolled back"), "{}", out.all());
    assert_no_provider_left(&pair.baton.path_str());
    out
}

#[test]
fn a_crashing_provider_is_a_retryable_failure_with_its_stderr_and_the_run_rolls_back() {
    let out = failing_apply("crash", &[]);
    let all = out.all();
    // Terraform: "Error: Plugin did not respond ... (*GRPCProvider).ApplyResourceChange call".
    assert!(all.contains("Plugin did not respond"), "{all}");
    assert!(all.contains("ApplyResourceChange"), "{all}");
    assert!(
        all.contains("batontest: crashing as asked by the name \"crash\""),
        "the provider's stderr: {all}"
    );
    assert!(all.contains("after 3 attempts"), "retried: {all}");
}

#[test]
fn a_hanging_provider_times_out_and_the_run_rolls_back() {
    let out = failing_apply("hang", &[("BATON_PROVIDER_TIMEOUT", "1")]);
    let all = out.all();
    assert!(all.contains("Plugin did not respond"), "{all}");
    assert!(all.contains("within 1s"), "{all}");
    assert!(
        all.contains("hanging as asked"),
        "the provider's stderr: {all}"
    );
}

/// A configuration naming a provider that is neither built in nor installed is refused before
/// anything runs, naming the provider and `baton init`.
#[test]
fn a_provider_that_is_not_installed_is_a_clear_error() {
    let p = Project::new(&[(
        "main.tf",
        "terraform {\n  required_providers {\n    nothere = { source = \"example.com/baton/nothere\", version = \"~> 1.0\" }\n  }\n}\n\nresource \"nothere_thing\" \"a\" {}\n",
    )]);
    let out = p
        .baton(["plan"])
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .run();
    out.assert_failure();
    let all = out.all();
    assert!(all.contains("example.com/baton/nothere"), "{all}");
    assert!(all.contains("baton init"), "{all}");
    assert!(!p.exists("terraform.tfstate"));
}

/// No `terraform-provider-batontest` process started from `dir` is still running.
fn assert_no_provider_left(dir: &str) {
    // Providers are stopped before baton exits; give the kernel a moment to reap.
    for _ in 0..20 {
        if running_providers(dir).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "provider processes left running: {:?}",
        running_providers(dir)
    );
}

fn running_providers(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(cmdline) = std::fs::read(p.join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains("terraform-provider-batontest") {
            continue;
        }
        if std::fs::read_link(p.join("cwd")).is_ok_and(|c| Path::new(&c) == Path::new(dir)) {
            out.push(p.display().to_string());
        }
    }
    out
}

/// A filesystem mirror holding the test provider as version 0.1.0, and a CLI configuration
/// that installs only from it (no dev_overrides).
fn mirror_setup(p: &Project) -> String {
    let platform = match std::env::consts::ARCH {
        "x86_64" => "linux_amd64",
        "aarch64" => "linux_arm64",
        other => panic!("no test platform for {other}"),
    };
    let pkg = p.join(&format!(
        "mirror/example.com/baton/batontest/0.1.0/{platform}"
    ));
    std::fs::create_dir_all(&pkg).expect("mirror dir");
    std::fs::copy(
        provider_dir().join("terraform-provider-batontest"),
        pkg.join("terraform-provider-batontest_v0.1.0"),
    )
    .expect("copy the provider into the mirror");
    let cli = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n  }}\n}}\n",
        p.join("mirror").display().to_string()
    );
    p.write("mirror.tfrc", &cli);
    p.join("mirror.tfrc").display().to_string()
}

const PINNED: &str = r#"
terraform {
  required_providers {
    batontest = {
      source  = "example.com/baton/batontest"
      version = "~> 0.1"
    }
  }
}

resource "batontest_thing" "a" {
  name = "installed"
}

output "id" { value = batontest_thing.a.id }
"#;

/// `terraform init` installs the provider from a mirror into `.terraform/providers` and writes
/// the lock file; Baton runs with what it left, as it is. A package changed after the lock
/// recorded its checksum is refused before anything runs.
#[test]
fn what_terraform_init_installed_runs_and_a_changed_package_is_refused() {
    let p = Project::new(&[("main.tf", PINNED)]);
    let cli = mirror_setup(&p);
    let out = Command::new("terraform")
        .args(["init", "-input=false"])
        .current_dir(p.path())
        .env("TF_CLI_CONFIG_FILE", &cli)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform runs");
    assert!(
        out.status.success(),
        "terraform init: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(p.exists(".terraform.lock.hcl"));
    let run = |args: &[&str]| p.baton(args).env("TF_CLI_CONFIG_FILE", &cli).run();
    run(&["apply", "--auto-approve"]).assert_success();
    let out = run(&["output", "--json"]);
    out.assert_success();
    assert_eq!(json_of(&out)["id"]["value"], "thing-installed");
    run(&["destroy", "--auto-approve"]).assert_success();

    // Change the installed package (terraform links it from the mirror): refused.
    let installed =
        std::fs::read_dir(p.join(".terraform/providers/example.com/baton/batontest/0.1.0"))
            .expect("terraform installed the package")
            .flatten()
            .next()
            .expect("one platform directory")
            .path()
            .join("terraform-provider-batontest_v0.1.0");
    let mut bytes = std::fs::read(&installed).expect("read package");
    bytes.extend_from_slice(b"tampered");
    let target = std::fs::canonicalize(&installed).expect("resolve link");
    std::fs::write(&target, bytes).expect("change package");
    let out = run(&["plan"]);
    out.assert_failure();
    assert!(
        out.all().contains("Provider checksum mismatch"),
        "{}",
        out.all()
    );
    assert!(out.all().contains("baton init"), "{}", out.all());
}

/// `baton init` does the same from the mirror; the lock file it writes is the one Baton then
/// checks. Without the lock file, a run refuses the unlocked package.
#[test]
fn baton_init_installs_from_a_mirror_and_runs_use_it() {
    let p = Project::new(&[("main.tf", PINNED)]);
    let cli = mirror_setup(&p);
    let run = |args: &[&str]| p.baton(args).env("TF_CLI_CONFIG_FILE", &cli).run();
    let out = run(&["plan"]);
    out.assert_failure();
    assert!(
        out.all().contains("baton init"),
        "not installed yet: {}",
        out.all()
    );
    run(&["init"]).assert_success();
    assert!(p.exists(".terraform.lock.hcl"));
    run(&["apply", "--auto-approve"]).assert_success();
    run(&["plan", "--detailed-exitcode"]).assert_code(0);
    // A lock file that does not list the provider: refused, as Terraform refuses it.
    p.write(".terraform.lock.hcl", "# empty\n");
    let out = run(&["plan"]);
    out.assert_failure();
    assert!(
        out.all().contains("Inconsistent dependency lock file"),
        "{}",
        out.all()
    );
}

const CONFIGURED: &str = r#"
terraform {
  required_providers {
    batontest = { source = "example.com/baton/batontest" }
  }
}

provider "batontest" {
  prefix = "p"
}

provider "batontest" {
  alias  = "other"
  prefix = "q"
}

resource "batontest_thing" "a" {
  name = "a"
}

resource "batontest_thing" "b" {
  provider = batontest.other
  name     = "b"
}

module "m" {
  source    = "./m"
  providers = { batontest = batontest.other }
}

module "n" {
  source = "./m"
}

output "a" { value = batontest_thing.a.id }
output "b" { value = batontest_thing.b.id }
output "m" { value = module.m.id }
output "n" { value = module.n.id }
output "upper" { value = provider::batontest::upper(batontest_thing.a.name) }
"#;

const MODULE: &str = r#"
terraform {
  required_providers {
    batontest = { source = "example.com/baton/batontest" }
  }
}

resource "batontest_thing" "c" {
  name = "c"
}

output "id" { value = batontest_thing.c.id }
"#;

/// Provider blocks (settings that shape ids), an aliased configuration chosen by a resource's
/// `provider` argument and passed to a module by `providers = { … }`, a module inheriting the
/// default configuration, and a provider function: plan, outputs and state agree; removing the
/// aliased resource deletes it through the configuration state recorded for it.
#[test]
fn provider_configurations_aliases_and_functions_agree_with_terraform() {
    let pair = Pair::new("");
    pair.write("main.tf", CONFIGURED);
    pair.write("m/main.tf", MODULE);
    // Modules only: `init` would look the dev-overridden provider up in a registry.
    pair.terraform(&["get"]).assert_success();
    pair.compare_plans("create", false);
    pair.apply_and_compare("create");
    let out = json_of(pair.baton(&["output", "--json"]).assert_success());
    assert_eq!(out["a"]["value"], "p-thing-a");
    assert_eq!(out["b"]["value"], "q-thing-b");
    assert_eq!(out["m"]["value"], "q-thing-c");
    assert_eq!(out["n"]["value"], "p-thing-c");
    assert_eq!(out["upper"]["value"], "A");
    pair.both_clean("after create");

    let without_b = CONFIGURED
        .replace(
            "resource \"batontest_thing\" \"b\" {\n  provider = batontest.other\n  name     = \"b\"\n}\n",
            "",
        )
        .replace("output \"b\" { value = batontest_thing.b.id }\n", "");
    assert_ne!(without_b, CONFIGURED);
    pair.write("main.tf", &without_b);
    pair.compare_plans("delete the aliased resource", false);
    pair.apply_and_compare("delete the aliased resource");
    pair.compare_plans("destroy", true);
}

/// The provider's own function errors stop the plan as in Terraform, naming the argument.
#[test]
fn a_provider_function_error_names_its_argument_as_in_terraform() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &format!("{HEAD}\noutput \"u\" {{ value = provider::batontest::upper(\"\") }}\n"),
    );
    let tf = pair.terraform(&["plan", "-input=false"]);
    tf.assert_failure();
    let b = pair.baton(&["plan"]);
    b.assert_failure();
    for text in ["Invalid function argument", "empty string"] {
        assert!(tf.all().contains(text), "terraform: {}", tf.all());
        assert!(b.all().contains(text), "baton: {}", b.all());
    }
}

/// A provider block the provider refuses (ConfigureProvider's error on `prefix`) stops the run
/// before any change, as in Terraform.
#[test]
fn a_refused_provider_configuration_stops_the_run() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &format!("{HEAD}\nprovider \"batontest\" {{\n  prefix = \"bad\"\n}}\n\nresource \"batontest_thing\" \"a\" {{\n  name = \"a\"\n}}\n"),
    );
    let tf = pair.terraform(&["apply", "-auto-approve", "-input=false"]);
    tf.assert_failure();
    let b = pair.baton(&["apply", "--auto-approve"]);
    b.assert_failure();
    assert!(tf.all().contains("Invalid prefix"), "{}", tf.all());
    assert!(b.all().contains("Invalid prefix"), "{}", b.all());
    let state = json_of(pair.baton(&["show", "--json"]).assert_success());
    assert_eq!(state_essentials(&state), json!([]));
}

/// A real object (a file) changed or removed behind the tools' backs: both see the drift,
/// plan the same repair and restore it.
#[test]
fn drift_of_a_real_object_is_seen_and_repaired_as_in_terraform() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &format!("{HEAD}\nresource \"batontest_file\" \"f\" {{\n  path    = \"${{path.module}}/managed.txt\"\n  content = \"hello\"\n}}\n"),
    );
    pair.apply_and_compare("create");
    assert_eq!(pair.baton.read("managed.txt"), "hello");
    pair.write("managed.txt", "changed behind our back");
    pair.terraform(&["plan", "-detailed-exitcode", "-input=false"])
        .assert_code(2);
    pair.baton(&["plan", "--detailed-exitcode"]).assert_code(2);
    pair.apply_and_compare("repair the content");
    assert_eq!(pair.baton.read("managed.txt"), "hello");
    pair.baton.remove("managed.txt");
    pair.tf.remove("managed.txt");
    pair.compare_plans("re-create the deleted file", false);
    pair.apply_and_compare("re-create");
    assert_eq!(pair.baton.read("managed.txt"), "hello");
}

/// An object recorded under schema version 0 (`label`, now `name`) is upgraded by the
/// provider before it is read, in both tools: a Terraform state file holding it is taken over
/// by `baton state migrate`, then a refresh-only apply writes it back as version 1.
#[test]
fn an_object_of_an_older_schema_version_is_upgraded_by_the_provider() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &format!("{HEAD}\nresource \"batontest_thing\" \"a\" {{\n  name = \"a\"\n}}\n\noutput \"name\" {{ value = batontest_thing.a.name }}\n"),
    );
    let state = json!({
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": "0f3c1a9e-2b6d-4c1e-9a7f-5d2e8b4c6a10",
        "outputs": {},
        "resources": [{
            "mode": "managed",
            "type": "batontest_thing",
            "name": "a",
            "provider": "provider[\"example.com/baton/batontest\"]",
            "instances": [{
                "schema_version": 0,
                "attributes": {"id": "thing-a", "label": "a", "secret": null, "tag": []},
                "sensitive_attributes": []
            }]
        }],
        "check_results": null
    });
    pair.tf.write("terraform.tfstate", &state.to_string());
    pair.baton.write("old.tfstate", &state.to_string());
    pair.baton(&["state", "migrate", "--from", "old.tfstate"])
        .assert_success();
    pair.compare_plans("plan on the old state", false);
    pair.terraform(&["apply", "-refresh-only", "-auto-approve", "-input=false"])
        .assert_success();
    pair.baton(&["apply", "--refresh-only", "--auto-approve"])
        .assert_success();
    pair.compare_results("after the upgrade");
    let b = json_of(pair.baton(&["show", "--json"]).assert_success());
    assert_eq!(
        b["values"]["root_module"]["resources"][0]["schema_version"],
        json!(1),
        "{b}"
    );
}

/// One provider process per provider configuration for a whole command (its plan and its
/// apply), however many resources use it: 30 resources over the default configuration and an
/// aliased one start two processes, and none is left when the command ends.
#[test]
fn one_process_per_provider_configuration_per_run() {
    let pair = Pair::new("");
    let log = pair.baton.join("starts.log");
    pair.write(
        "main.tf",
        &format!(
            r#"{HEAD}
provider "batontest" {{
  alias  = "other"
  prefix = "o"
}}

resource "batontest_thing" "a" {{
  count = 20
  name  = "a${{count.index}}"
}}

resource "batontest_thing" "b" {{
  provider = batontest.other
  count    = 10
  name     = "b${{count.index}}"
}}
"#
        ),
    );
    let log_str = log.display().to_string();
    pair.baton_cmd(&["apply", "--auto-approve"])
        .env("BATONTEST_START_LOG", &log_str)
        .run()
        .assert_success();
    let starts = std::fs::read_to_string(&log).expect("the provider logged its starts");
    assert_eq!(starts.lines().count(), 2, "processes started: {starts}");
    assert_no_provider_left(&pair.baton.path_str());
}

/// Configurations of built-in types need no plugin and no `baton init`, whether they name a
/// source (`hashicorp/random`) or not, and types named after a built-in provider's
/// (`ansible_module`, Baton's `remote` provider) count as built in.
#[test]
fn built_in_providers_need_no_plugin() {
    let p = Project::new(&[(
        "main.tf",
        r#"
terraform {
  required_providers {
    random = { source = "hashicorp/random", version = "~> 3.0" }
  }
}

resource "random_pet" "p" {}

resource "terraform_data" "d" {
  input = random_pet.p.id
}

resource "ansible_module" "m" {
  module = "ansible.builtin.command"
  args   = { cmd = "true" }
  connection {
    host = "127.0.0.1"
  }
}
"#,
    )]);
    let run = |args: &[&str]| p.baton(args).env("TF_CLI_CONFIG_FILE", "/dev/null").run();
    run(&["validate"]).assert_success();
    let out = run(&["init"]);
    out.assert_success();
    assert!(
        out.all()
            .contains("registry.terraform.io/hashicorp/random is built in to Baton"),
        "{}",
        out.all()
    );
    assert!(!p.exists(".terraform/providers"), "nothing installed");
}

/// A resource using an aliased configuration that no provider block declares is refused by
/// both tools before anything runs.
#[test]
fn an_undeclared_provider_alias_is_refused_as_in_terraform() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &format!("{HEAD}\nresource \"batontest_thing\" \"b\" {{\n  provider = batontest.nope\n  name     = \"b\"\n}}\n"),
    );
    let tf = pair.terraform(&["validate"]);
    tf.assert_failure();
    let b = pair.baton(&["validate"]);
    b.assert_failure();
    for out in [&tf, &b] {
        assert!(
            out.all().contains("Provider configuration not present"),
            "{}",
            out.all()
        );
    }
    assert!(b.all().contains("batontest.nope"), "{}", b.all());
}

/// A `moved` block from one resource type to another: the target type's provider takes the
/// object over (MoveResourceState), so nothing is destroyed or created; a move the provider
/// refuses stops the plan with its words. As in Terraform.
#[test]
fn a_move_across_resource_types_is_the_providers_to_make() {
    let pair = Pair::new("");
    let body = "name = \"a\"\n  secret = \"s3cret\"\n  tag {\n    key = \"k\"\n  }";
    pair.write(
        "main.tf",
        &format!("{HEAD}\nresource \"batontest_thing\" \"a\" {{\n  {body}\n}}\n\nresource \"batontest_thing\" \"b\" {{\n  name = \"b\"\n}}\n"),
    );
    pair.apply_and_compare("create");
    pair.write(
        "main.tf",
        &format!("{HEAD}\nresource \"batontest_item\" \"a\" {{\n  {body}\n}}\n\nmoved {{\n  from = batontest_thing.a\n  to   = batontest_item.a\n}}\n\nresource \"batontest_thing\" \"b\" {{\n  name = \"b\"\n}}\n"),
    );
    pair.compare_plans("move to another type", false);
    pair.apply_and_compare("move to another type");
    pair.both_clean("after the move");
    let state = json_of(pair.baton(&["show", "--json"]).assert_success());
    let item = &state["values"]["root_module"]["resources"][0];
    assert_eq!(item["address"], "batontest_item.a", "{state}");
    assert_eq!(item["values"]["id"], "thing-a", "the same object: {state}");

    // batontest_file does not take things over: both tools stop with the provider's error.
    pair.write(
        "main.tf",
        &format!("{HEAD}\nresource \"batontest_item\" \"a\" {{\n  {body}\n}}\n\nresource \"batontest_file\" \"b\" {{\n  path    = \"${{path.module}}/b.txt\"\n  content = \"b\"\n}}\n\nmoved {{\n  from = batontest_thing.b\n  to   = batontest_file.b\n}}\n"),
    );
    let tf = pair.terraform(&["plan", "-input=false"]);
    tf.assert_failure();
    let b = pair.baton(&["plan"]);
    b.assert_failure();
    for out in [&tf, &b] {
        assert!(out.all().contains("Unsupported move"), "{}", out.all());
    }
}

/// An apply whose actions run on a worker (`--executor workers`): the worker has no plugin of
/// its own, and finds the stack's (its directory resolves it as a run does); every action is
/// the worker's, and the objects are the plugin's, with the aliased configuration's settings.
#[test]
fn actions_on_workers_use_the_stacks_plugins() {
    let pair = Pair::new("");
    let p = &pair.baton;
    p.write(
        "main.tf",
        &format!(
            r#"{HEAD}
provider "batontest" {{
  alias  = "other"
  prefix = "w"
}}

resource "batontest_thing" "t" {{
  count = 4
  name  = "t${{count.index}}"
}}

resource "batontest_thing" "o" {{
  provider = batontest.other
  name     = "o"
}}

output "ids" {{ value = concat(batontest_thing.t[*].id, [batontest_thing.o.id]) }}
"#
        ),
    );
    let cli = p.join(CLI_CONFIG).display().to_string();
    let worker = p
        .baton(["worker", "--concurrency", "2"])
        .env("TF_CLI_CONFIG_FILE", &cli)
        .timeout(Duration::from_secs(120))
        .spawn();
    let mut registered = false;
    for _ in 0..200 {
        let out = p.baton(["workers", "--json"]).run();
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        if v.as_array().is_some_and(|a| !a.is_empty()) {
            registered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(registered, "the worker never registered");
    let out = pair
        .baton_cmd(&["apply", "--auto-approve", "--executor", "workers"])
        .timeout(Duration::from_secs(120))
        .run();
    out.assert_success();
    let outputs = json_of(pair.baton(&["output", "--json"]).assert_success());
    assert_eq!(
        outputs["ids"]["value"],
        json!(["thing-t0", "thing-t1", "thing-t2", "thing-t3", "w-thing-o"])
    );
    let runs: Value =
        serde_json::from_str(&pair.baton(&["runs", "--json"]).assert_success().stdout)
            .expect("runs --json");
    let run = runs[0]["id"].as_str().expect("run id").to_string();
    let shown = json_of(
        pair.baton(&["runs", "show", &run, "--json"])
            .assert_success(),
    );
    let actions = shown["actions"].as_array().cloned().unwrap_or_default();
    assert_eq!(actions.len(), 5, "{shown}");
    let by = format!(":{}:", worker.pid());
    for a in &actions {
        let who = a["workers"].as_array().cloned().unwrap_or_default();
        assert!(
            who.iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains(&by))),
            "done by the worker: {a}"
        );
    }
    pair.baton(&["plan", "--detailed-exitcode"]).assert_code(0);
    // A worker that stops (interrupted) stops the plugins its tasks started.
    worker.interrupt();
    worker.wait().assert_success();
    assert_no_provider_left(&pair.baton.path_str());
}

fn rules_config(rules: &str) -> String {
    format!(
        "{HEAD}\nresource \"batontest_rules\" \"r\" {{\n  token_wo = \"s3cr3t-token\"\n  rules = [\n{rules}\n  ]\n}}\n\noutput \"ids\" {{ value = batontest_rules.r.rules[*].id }}\noutput \"id\" {{ value = batontest_rules.r.id }}\n"
    )
}

/// A nested attribute and a write-only one (protocol 6): objects whose optional attributes the configuration may
/// leave out, and whose computed attributes keep their values from one plan to the next (no
/// perpetual diff); a change to one object, and one more object, are planned as Terraform
/// plans them.
#[test]
fn nested_attributes_are_planned_as_in_terraform() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &rules_config("    { port = 80 },\n    { port = 443, proto = \"tcp\" },"),
    );
    pair.compare_plans("create", false);
    pair.apply_and_compare("create");
    let out = json_of(pair.baton(&["output", "--json"]).assert_success());
    assert_eq!(out["ids"]["value"], json!(["rule-80", "rule-443"]));
    // The write-only token reached the provider, and is not in state.
    assert_eq!(out["id"]["value"], "rules-with-token");
    for args in [
        &["show", "--json"][..],
        &["state", "show", "batontest_rules.r"][..],
    ] {
        let shown = pair.baton(args).assert_success().all();
        assert!(!shown.contains("s3cr3t-token"), "{args:?}: {shown}");
    }
    pair.both_clean("after create");

    pair.write(
        "main.tf",
        &rules_config(
            "    { port = 80 },\n    { port = 443, proto = \"udp\" },\n    { port = 8080 },",
        ),
    );
    pair.compare_plans("change one object, add another", false);
    pair.apply_and_compare("change one object, add another");
    pair.both_clean("after the change");
}

/// A provider that plans a value for a write-only attribute is refused, as Terraform refuses it.
#[test]
fn a_provider_planning_a_write_only_value_is_refused_as_in_terraform() {
    let pair = Pair::new("");
    pair.write(
        "main.tf",
        &rules_config("    { port = 80 },").replace("s3cr3t-token", "leak"),
    );
    let tf = pair.terraform(&["plan", "-input=false"]);
    tf.assert_failure();
    let b = pair.baton(&["plan"]);
    b.assert_failure();
    for out in [&tf, &b] {
        assert!(
            out.all().contains("Provider produced invalid plan"),
            "{}",
            out.all()
        );
        assert!(out.all().contains("write-only attribute"), "{}", out.all());
    }
}

/// `baton providers` says what serves each required provider, by the rules a run uses: not
/// installed (exit 1) before `baton init`, the installed plugin's version and path after it,
/// and Baton's built-in for a built-in address.
#[test]
fn baton_providers_says_what_serves_each_provider() {
    let p = Project::new(&[(
        "main.tf",
        &format!("{PINNED}\nresource \"random_pet\" \"p\" {{}}\n"),
    )]);
    let cli = mirror_setup(&p);
    let run = |args: &[&str]| p.baton(args).env("TF_CLI_CONFIG_FILE", &cli).run();
    let before = run(&["providers"]);
    before.assert_code(1);
    assert!(
        before.stdout.contains(
            "- batontest = example.com/baton/batontest (~> 0.1): not installed (run \"baton init\")"
        ),
        "{}",
        before.all()
    );
    assert!(
        before
            .stdout
            .contains("- random = registry.terraform.io/hashicorp/random: built in to Baton"),
        "{}",
        before.all()
    );
    run(&["init"]).assert_success();
    let after = run(&["providers"]);
    after.assert_success();
    assert!(
        after
            .stdout
            .contains("- batontest = example.com/baton/batontest (~> 0.1): plugin v0.1.0: "),
        "{}",
        after.all()
    );
    assert!(after
        .stdout
        .contains(".terraform/providers/example.com/baton/batontest/0.1.0/"));
}

/// Providers run in the root module's directory, as Terraform starts them after `-chdir`: a
/// relative path in a provider's argument lands there, for both tools.
#[test]
fn providers_run_in_the_root_module_directory() {
    let pair = Pair::new("");
    pair.write(
        "sub/main.tf",
        &format!("{HEAD}\nresource \"batontest_file\" \"f\" {{\n  path    = \"relative.txt\"\n  content = \"here\"\n}}\n"),
    );
    let out = Command::new("terraform")
        .args(["-chdir=sub", "apply", "-auto-approve", "-input=false"])
        .current_dir(pair.tf.path())
        .env("TF_CLI_CONFIG_FILE", pair.tf.join(CLI_CONFIG))
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pair.baton_cmd(&["--chdir", "sub", "apply", "--auto-approve"])
        .run()
        .assert_success();
    for p in [&pair.tf, &pair.baton] {
        assert_eq!(p.read("sub/relative.txt"), "here");
        assert!(
            !p.exists("relative.txt"),
            "not in the directory the tool started in"
        );
    }
}
