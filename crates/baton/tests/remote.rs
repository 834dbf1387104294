//! Configuration management over SSH, end to end through the binary against real `sshd`
//! servers started by the test (each a "host" on its own 127.0.0.1 port, with its own host
//! key): `remote_file` and `remote_command` applied to two hosts, drift found and restored, a
//! changed host key refused naming its fingerprint, a failed run rolled back to the prior file
//! contents, an unreachable host failing only its own actions, and destroy running `undo`.

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;

const MAIN: &str = r#"variable "hosts" {
  type = map(object({ port = number, dir = string, host_key = string }))
}

variable "key" {
  type      = string
  sensitive = true
}

variable "motd" {
  type    = string
  default = "v1"
}

variable "fail" {
  type    = bool
  default = false
}

resource "remote_file" "motd" {
  for_each = var.hosts

  connection {
    host        = "127.0.0.1"
    port        = each.value.port
    user        = "root"
    private_key = var.key
    host_key    = each.value.host_key
  }

  path    = "${each.value.dir}/etc/motd"
  content = "${var.motd} on ${each.key}\n"
  mode    = "0640"
}

resource "remote_command" "marker" {
  for_each = var.hosts

  connection {
    host        = "127.0.0.1"
    port        = each.value.port
    user        = "root"
    private_key = var.key
    host_key    = each.value.host_key
  }

  command = "mkdir -p ${each.value.dir} && echo made > ${each.value.dir}/marker"
  creates = "${each.value.dir}/marker"
  undo    = "rm -f ${each.value.dir}/marker"
}

resource "remote_command" "gate" {
  count = var.fail ? 1 : 0

  connection {
    host        = "127.0.0.1"
    port        = var.hosts["a"].port
    user        = "root"
    private_key = var.key
    host_key    = var.hosts["a"].host_key
  }

  command    = "echo refusing >&2; exit 4"
  depends_on = [remote_file.motd]
}

output "ids" {
  value = { for k, f in remote_file.motd : k => f.id }
}
"#;

struct Hosts {
    a: TestSshd,
    b: Option<TestSshd>,
    /// Host b's port and key, kept after it is stopped.
    b_port: u16,
    b_key: String,
    dirs: tempfile::TempDir,
}

fn hosts() -> Hosts {
    let a = TestSshd::start().expect("sshd a");
    let b = TestSshd::start().expect("sshd b");
    b.authorize(&a).expect("one key for both hosts");
    Hosts {
        a,
        b_port: b.port(),
        b_key: b.host_key_line().expect("host key b"),
        b: Some(b),
        dirs: tempfile::tempdir().expect("dirs"),
    }
}

impl Hosts {
    fn dir(&self, h: &str) -> std::path::PathBuf {
        self.dirs.path().join(h)
    }

    /// The same client key logs in to both hosts (each test server authorizes its own key,
    /// so host b gets host a's client key added).
    fn vars(&self) -> String {
        json!({
            "key": self.a.client_key_text().expect("client key"),
            "hosts": {
                "a": {"port": self.a.port(), "dir": self.dir("a"), "host_key": self.a.host_key_line().expect("host key a")},
                "b": {"port": self.b_port, "dir": self.dir("b"), "host_key": self.b_key},
            }
        })
        .to_string()
    }
}

fn project(h: &Hosts) -> Project {
    let p = Project::new(&[("main.tf", MAIN)]);
    p.write("terraform.tfvars.json", &h.vars());
    p
}

#[test]
fn files_and_commands_reach_two_hosts_and_drift_is_restored() {
    let h = hosts();
    let p = project(&h);
    let out = p.baton(["apply", "--auto-approve"]).ok();
    assert!(out.stdout.contains("4 added"), "{}", out.stdout);
    for host in ["a", "b"] {
        let motd = std::fs::read_to_string(h.dir(host).join("etc/motd")).expect("motd");
        assert_eq!(motd, format!("v1 on {host}\n"));
        assert!(h.dir(host).join("marker").exists());
    }
    // Nothing to do the second time.
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    // Edited by hand on host b: drift, then restored.
    std::fs::write(h.dir("b").join("etc/motd"), "hand edit\n").expect("edit");
    let drift = p.baton(["drift"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("remote_file.motd[\"b\"]"),
        "{}",
        drift.stdout
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        std::fs::read_to_string(h.dir("b").join("etc/motd")).expect("motd"),
        "v1 on b\n"
    );
    // The key never shows.
    assert!(!drift.stdout.contains("PRIVATE KEY"));
    // Destroy removes the files and runs the commands' undo.
    p.baton(["destroy", "--auto-approve"]).ok();
    for host in ["a", "b"] {
        assert!(!h.dir(host).join("etc/motd").exists());
        assert!(!h.dir(host).join("marker").exists(), "undo ran on {host}");
    }
}

#[test]
fn a_changed_host_key_is_refused_with_its_fingerprint() {
    let mut h = hosts();
    let p = project(&h);
    p.baton(["apply", "--auto-approve"]).ok();
    h.a.restart_with_new_host_key().expect("new host key");
    let out = p.baton(["plan"]).fails();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("SHA256:"), "the fingerprint is named: {all}");
    assert!(all.contains("127.0.0.1"), "the host is named: {all}");
}

#[test]
fn a_failed_run_rolls_the_files_back() {
    let h = hosts();
    let p = project(&h);
    p.baton(["apply", "--auto-approve"]).ok();
    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--var",
            "motd=v2",
            "--var",
            "fail=true",
        ])
        .fails();
    assert!(out.stderr.contains("exit status 4"), "{}", out.stderr);
    for host in ["a", "b"] {
        assert_eq!(
            std::fs::read_to_string(h.dir(host).join("etc/motd")).expect("motd"),
            format!("v1 on {host}\n"),
            "rolled back on {host}"
        );
    }
}

#[test]
fn an_unreachable_host_fails_only_its_own_actions() {
    let mut h = hosts();
    let p = project(&h);
    drop(h.b.take());
    let out = p
        .baton([
            "apply",
            "--auto-approve",
            "--on-failure",
            "halt",
            "--retry-attempts",
            "2",
            "--retry-backoff",
            "10ms",
        ])
        .fails();
    assert!(
        out.stderr.contains("unreachable") || out.stderr.contains("Unreachable"),
        "{}",
        out.stderr
    );
    assert!(
        h.dir("a").join("etc/motd").exists(),
        "host a was configured"
    );
    assert!(!h.dir("b").join("etc/motd").exists());
}
