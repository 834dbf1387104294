//! `baton plan --json` has the shape of `terraform show -json` (the document policies are
//! written against): the same key paths and the same change values per address, checked live
//! against the `terraform` binary. Skips, saying why, where `terraform` is not installed
//! (CI requires it).

mod common;

use common::keypaths::key_paths;
use common::Project;
use serde_json::Value as Json;
use std::process::Command;

const CONFIG: &str = r#"variable "names" {
  default = ["a", "b"]
}

variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

module "svc" {
  source   = "./modules/svc"
  for_each = toset(var.names)
  name     = each.key
}

resource "terraform_data" "extra" {
  count            = 2
  input            = { name = "x${count.index}", tags = { owner = "me" }, s = var.secret }
  triggers_replace = [1, 2]

  provisioner "local-exec" {
    command = "echo ${self.id}"
  }
  provisioner "local-exec" {
    when        = destroy
    on_failure  = continue
    command     = "echo bye"
    environment = { A = "1" }
  }
}

output "ids" {
  value = { for k, m in module.svc : k => m.label }
}
"#;

const MODULE: &str = r#"variable "name" {
  type = string
}

resource "terraform_data" "this" {
  input = upper(var.name)
}

output "label" {
  value = "svc-${var.name}"
}
"#;

/// Runs `terraform` in the project's directory (offline, no CLI configuration); its stdout.
fn terraform(p: &Project, args: &[&str]) -> Vec<u8> {
    let out = Command::new("terraform")
        .args(args)
        .current_dir(p.path())
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .expect("run terraform");
    assert!(
        out.status.success(),
        "terraform {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn by_addr(j: &Json) -> Vec<(String, Json)> {
    j["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rc| (rc["address"].as_str().unwrap_or("").to_string(), rc.clone()))
        .collect()
}

/// Documented differences: Baton marks `terraform_data`'s whole `output` sensitive when its input has a sensitive
/// part (differential case 011).
fn known_difference(p: &str) -> bool {
    p.contains("after_sensitive.output")
        || p.contains("before_sensitive.output")
        || p.contains("sensitive_values.output")
        // ... and so `output` itself is null in `baton plan --json`, which hides sensitive
        // values.
        || p.contains("values.output")
        || p.contains("before.output")
}

#[test]
fn plan_json_has_the_shape_of_terraform_show_json() {
    if Command::new("terraform").arg("version").output().is_err() {
        eprintln!("SKIPPED: terraform is not installed, so there is nothing to compare with");
        return;
    }
    let p = Project::new(&[("main.tf", CONFIG), ("modules/svc/main.tf", MODULE)]);
    let tf = |args: &[&str]| terraform(&p, args);
    tf(&["init", "-input=false", "-no-color"]);
    tf(&["plan", "-input=false", "-no-color", "-out", "tf.plan"]);
    let theirs: Json = serde_json::from_slice(&tf(&["show", "-json", "tf.plan"])).expect("JSON");
    // Sensitive values are shown, as Terraform's document does, through the policy gate's
    // view: `baton plan --json` itself prints them as null.
    let ours = p.baton(["plan", "--json"]).ok().json();

    assert_same_paths(&theirs, &ours, "fresh plan");
    // The version of the terraform installed here, which Baton follows.
    assert_eq!(theirs["terraform_version"], ours["terraform_version"]);
    let provisioners =
        |j: &Json| j["configuration"]["root_module"]["resources"][0]["provisioners"].clone();
    assert_eq!(provisioners(&theirs), provisioners(&ours));

    compare_changes(&by_addr(&theirs), &by_addr(&ours));

    // After applying (each tool its own state), a changed configuration: prior_state now
    // holds resources, and changes are updates, replacements and deletions.
    tf(&["apply", "-input=false", "-no-color", "-auto-approve"]);
    p.baton(["apply", "--auto-approve"]).ok();
    p.write(
        "main.tf",
        &CONFIG
            .replace("[\"a\", \"b\"]", "[\"a\", \"c\"]")
            .replace("triggers_replace = [1, 2]", "triggers_replace = [1, 3]"),
    );
    tf(&["plan", "-input=false", "-no-color", "-out", "tf.plan"]);
    let theirs: Json = serde_json::from_slice(&tf(&["show", "-json", "tf.plan"])).expect("JSON");
    let ours = p.baton(["plan", "--json"]).ok().json();
    assert_same_paths(&theirs, &ours, "after apply");
    let actions = |j: &Json| -> Vec<(String, Json)> {
        by_addr(j)
            .into_iter()
            .map(|(a, rc)| (a, rc["change"]["actions"].clone()))
            .collect()
    };
    assert_eq!(actions(&theirs), actions(&ours));
}

/// The two documents have the same key paths, known differences aside.
#[track_caller]
fn assert_same_paths(theirs: &Json, ours: &Json, when: &str) {
    let a = key_paths(theirs);
    let b = key_paths(ours);
    let only_tf: Vec<_> = a.difference(&b).filter(|p| !known_difference(p)).collect();
    let only_baton: Vec<_> = b.difference(&a).filter(|p| !known_difference(p)).collect();
    assert!(
        only_tf.is_empty() && only_baton.is_empty(),
        "{when}: key paths only in terraform's: {only_tf:#?}\nonly in baton's: {only_baton:#?}"
    );
}

/// Per address: the same actions, after_unknown and before/after (sensitive ones aside).
fn compare_changes(t: &[(String, Json)], o: &[(String, Json)]) {
    assert_eq!(
        t.iter().map(|(a, _)| a).collect::<Vec<_>>(),
        o.iter().map(|(a, _)| a).collect::<Vec<_>>()
    );
    for ((addr, x), (_, y)) in t.iter().zip(o) {
        for f in ["actions", "after_unknown", "before"] {
            assert_eq!(x["change"][f], y["change"][f], "{addr}: change.{f}");
        }
        for f in [
            "mode",
            "type",
            "name",
            "index",
            "module_address",
            "provider_name",
        ] {
            assert_eq!(x[f], y[f], "{addr}: {f}");
        }
        let mut after = x["change"]["after"].clone();
        if let Some(s) = after.pointer_mut("/input/s") {
            *s = Json::Null; // sensitive: null in `baton plan --json`
        }
        assert_eq!(after, y["change"]["after"], "{addr}: change.after");
    }
}

/// Terraform writes the data sources it reads while planning into the refresh state, so its
/// `prior_state` holds them even on a first plan (with no state at all); they are neither in
/// `planned_values` nor in `resource_changes`.
#[test]
fn data_sources_read_at_plan_time_are_in_prior_state() {
    let p = Project::new(&[
        ("hello.txt", "hi"),
        (
            "main.tf",
            r#"data "local_file" "hello" {
  filename = "hello.txt"
}

resource "terraform_data" "a" {
  input = data.local_file.hello.content
}
"#,
        ),
    ]);
    let doc = p.baton(["plan", "--json"]).ok().json();
    let prior = &doc["prior_state"]["values"]["root_module"]["resources"];
    let data: Vec<&Json> = prior
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["address"] == "data.local_file.hello")
        .collect();
    assert_eq!(data.len(), 1, "prior_state: {:#}", doc["prior_state"]);
    assert_eq!(data[0]["mode"], "data");
    assert_eq!(data[0]["values"]["content"], "hi");
    assert_eq!(
        data[0]["provider_name"],
        "registry.terraform.io/hashicorp/local"
    );
    let changes: Vec<&str> = doc["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|rc| rc["address"].as_str())
        .collect();
    assert_eq!(changes, ["terraform_data.a"]);
}

/// `checks` reports every object with conditions and each instance's status, as Terraform
/// does: failed check assertions with their messages, conditions unknown until apply,
/// validations of module inputs, objects with no instances (`pass`). Also from a saved plan.
/// `relevant_attributes` names the same resource attributes as Terraform's (through locals,
/// module inputs and outputs, literal and dynamic indexes, splats).
#[test]
fn checks_and_relevant_attributes_match_terraform() {
    if Command::new("terraform").arg("version").output().is_err() {
        eprintln!("SKIPPED: terraform is not installed, so there is nothing to compare with");
        return;
    }
    let root = r#"variable "v" {
  default = "abc"
  validation {
    condition     = length(var.v) > 1
    error_message = "short"
  }
}
resource "terraform_data" "a" {
  count = 2
  input = "${var.v}-${count.index}"
  lifecycle {
    precondition {
      condition     = var.v != ""
      error_message = "empty"
    }
    postcondition {
      condition     = self.output != "x"
      error_message = "post"
    }
  }
}
resource "terraform_data" "known" {
  input = "x"
  lifecycle {
    postcondition {
      condition     = self.input == "x"
      error_message = "known at plan"
    }
  }
}
resource "terraform_data" "none" {
  count = 0
  lifecycle {
    precondition {
      condition     = var.v != ""
      error_message = "never evaluated"
    }
  }
}
resource "terraform_data" "e" {
  for_each = toset(["k"])
  input    = each.key
}
resource "terraform_data" "uses" {
  count = 2
  input = [terraform_data.a[count.index].output, terraform_data.e["k"].output, terraform_data.known[*].id]
}
locals {
  l = { for k, v in terraform_data.e : k => v.input }
}
output "l" { value = local.l }
output "o" {
  value = terraform_data.known.id
  precondition {
    condition     = var.v != "z"
    error_message = "zz"
  }
}
check "c" {
  assert {
    condition     = var.v == "nope"
    error_message = "check failed for ${var.v}"
  }
}
module "m" {
  source = "./m"
  count  = 2
  x      = terraform_data.a[count.index].output
}
"#;
    let child = r#"variable "x" {
  validation {
    condition     = var.x != null
    error_message = "x"
  }
}
output "y" {
  value = var.x
  precondition {
    condition     = path.module != ""
    error_message = "m"
  }
}
"#;
    let p = Project::new(&[("main.tf", root), ("m/main.tf", child)]);
    let tf = |args: &[&str]| terraform(&p, args);
    tf(&["init", "-input=false", "-no-color"]);
    tf(&["plan", "-input=false", "-no-color", "-out", "tf.plan"]);
    let theirs: Json = serde_json::from_slice(&tf(&["show", "-json", "tf.plan"])).expect("JSON");
    let ours = p.baton(["plan", "--json"]).ok().json();
    assert_eq!(
        serde_json::to_string_pretty(&ours["checks"]).unwrap_or_default(),
        serde_json::to_string_pretty(&theirs["checks"]).unwrap_or_default()
    );
    assert!(theirs["checks"].as_array().is_some_and(|a| a.len() == 8));
    let relevant = |j: &Json| -> Vec<String> {
        let mut v: Vec<String> = j["relevant_attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(relevant(&ours), relevant(&theirs));
    assert!(relevant(&theirs).len() >= 5, "{:#?}", relevant(&theirs));
    // A saved plan carries them.
    p.baton(["plan", "--out", "saved.plan"]).ok();
    let saved = p.baton(["show", "--json", "saved.plan"]).ok().json();
    assert_eq!(saved["checks"], theirs["checks"]);
}
