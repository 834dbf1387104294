//! The `ansible_inventory` data source end to end through the binary: an INI inventory of two
//! real test `sshd` hosts (each on its own 127.0.0.1 port) drives `for_each` of a
//! `remote_file`, and both hosts get their file. Must not reach any host but the test servers.

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;

const MAIN: &str = r#"variable "key" {
  type      = string
  sensitive = true
}

variable "dir" {
  type = string
}

data "ansible_inventory" "fleet" {
  path  = "inventory/hosts"
  limit = "web"
}

resource "remote_file" "motd" {
  for_each = data.ansible_inventory.fleet.hosts

  connection {
    host        = each.value.address
    port        = each.value.port
    user        = each.value.user
    private_key = var.key
    host_key    = each.value.vars.host_key
  }

  path    = "${var.dir}/${each.key}/motd"
  content = "${each.value.vars.greeting} from ${each.key} in ${join(",", each.value.groups)}\n"
}

output "hosts" {
  value = keys(data.ansible_inventory.fleet.hosts)
}

output "web" {
  value = data.ansible_inventory.fleet.groups["web"]
}
"#;

#[test]
fn an_ini_inventory_drives_for_each_over_two_hosts() {
    let a = TestSshd::start().expect("sshd a");
    let b = TestSshd::start().expect("sshd b");
    b.authorize(&a).expect("one key for both hosts");
    let dir = tempfile::tempdir().expect("dir");
    // Each host's port and pinned host key on its line; one more host the limit leaves out.
    let inventory = format!(
        "# The test fleet.\n\
         [web]\n\
         web01 ansible_port={} host_key=\"{}\"\n\
         web02 ansible_port={} host_key=\"{}\"  # the second host\n\
         \n\
         [other]\n\
         elsewhere.invalid\n\
         \n\
         [all:vars]\n\
         ansible_host=127.0.0.1\n\
         ansible_user=root\n\
         \n\
         [web:vars]\n\
         greeting=\"hello\"\n",
        a.port(),
        a.host_key_line().expect("host key a"),
        b.port(),
        b.host_key_line().expect("host key b"),
    );
    let p = Project::new(&[("main.tf", MAIN), ("inventory/hosts", &inventory)]);
    p.write(
        "terraform.tfvars.json",
        &json!({
            "key": a.client_key_text().expect("client key"),
            "dir": dir.path(),
        })
        .to_string(),
    );
    let out = p.baton(["apply", "--auto-approve"]).ok();
    assert!(out.stdout.contains("2 added"), "{}", out.stdout);
    for h in ["web01", "web02"] {
        let motd = std::fs::read_to_string(dir.path().join(h).join("motd")).expect("motd");
        assert_eq!(motd, format!("hello from {h} in web\n"));
    }
    let outputs = p.baton(["output", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&outputs.stdout).expect("json");
    assert_eq!(v["hosts"]["value"], json!(["web01", "web02"]));
    assert_eq!(v["web"]["value"], json!(["web01", "web02"]));
    // Nothing to do the second time.
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
}

#[test]
fn a_malformed_inventory_names_its_line() {
    let p = Project::new(&[
        ("main.tf", MAIN),
        ("inventory/hosts", "[web]\nweb[01:3]\n"),
        (
            "terraform.tfvars.json",
            r#"{"key": "k", "dir": "/nonexistent"}"#,
        ),
    ]);
    let out = p.baton(["plan"]).fails();
    assert!(out.stderr.contains("hosts:2"), "{}", out.stderr);
    assert!(out.stderr.contains("host range"), "{}", out.stderr);
}
