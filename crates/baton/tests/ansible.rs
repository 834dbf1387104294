//! `ansible_module` end to end through the binary against a real `sshd` started by the test
//! (root on 127.0.0.1, the machine's own `/usr/bin/python3` as the host's Python), with
//! ansible-core from `baton_remote::testing::ansible` (a virtual environment made once per
//! machine, or `BATON_ANSIBLE`): `ansible.builtin.copy`, `lineinfile`, `user` and `command`
//! planned in check mode (the diff shown, nothing changed on the host; `command`, without
//! check mode, known after apply), applied, then nothing to do; drift found and restored; a
//! failing module's message reported; a changed host key refused.

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;

const MAIN: &str = r#"variable "port" {
  type = number
}

variable "host_key" {
  type = string
}

variable "key" {
  type      = string
  sensitive = true
}

variable "dir" {
  type = string
}

variable "user" {
  type = string
}

locals {
  connection = {
    host        = "127.0.0.1"
    port        = var.port
    user        = "root"
    private_key = var.key
    host_key    = var.host_key
  }
}

resource "ansible_module" "copy" {
  connection {
    host        = local.connection.host
    port        = local.connection.port
    user        = local.connection.user
    private_key = local.connection.private_key
    host_key    = local.connection.host_key
  }
  python_interpreter = "/usr/bin/python3"

  module = "ansible.builtin.copy"
  args = {
    dest    = "${var.dir}/motd"
    content = "hello from ansible\n"
    mode    = "0640"
  }
}

resource "ansible_module" "line" {
  connection {
    host        = local.connection.host
    port        = local.connection.port
    user        = local.connection.user
    private_key = local.connection.private_key
    host_key    = local.connection.host_key
  }
  python_interpreter = "/usr/bin/python3"

  module = "ansible.builtin.lineinfile"
  args = {
    path   = "${var.dir}/settings.conf"
    line   = "max_connections = 100"
    create = true
  }
}

resource "ansible_module" "user" {
  connection {
    host        = local.connection.host
    port        = local.connection.port
    user        = local.connection.user
    private_key = local.connection.private_key
    host_key    = local.connection.host_key
  }
  python_interpreter = "/usr/bin/python3"

  module = "ansible.builtin.user"
  args = {
    name        = var.user
    create_home = false
    shell       = "/bin/sh"
  }
}

resource "ansible_module" "command" {
  connection {
    host        = local.connection.host
    port        = local.connection.port
    user        = local.connection.user
    private_key = local.connection.private_key
    host_key    = local.connection.host_key
  }
  python_interpreter = "/usr/bin/python3"

  module = "ansible.builtin.command"
  args = {
    cmd = "touch ${var.dir}/command-ran"
  }
}

output "copy_changed" {
  value = ansible_module.copy.changed
}
"#;

/// Removes the test's user from the machine however the test ends.
struct UserGuard(String);

impl Drop for UserGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn user_exists(name: &str) -> bool {
    std::process::Command::new("getent")
        .args(["passwd", name])
        .stdout(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

struct Setup {
    sshd: TestSshd,
    dir: tempfile::TempDir,
    user: String,
    _guard: UserGuard,
    ansible: String,
    p: Project,
}

fn setup(main: &str) -> Setup {
    let ansible = baton_remote::testing::ansible().expect("ansible-core");
    let sshd = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let user = format!("baton{}", std::process::id());
    let p = Project::new(&[("main.tf", main)]);
    p.write(
        "terraform.tfvars.json",
        &json!({
            "port": sshd.port(),
            "host_key": sshd.host_key_line().expect("host key"),
            "key": sshd.client_key_text().expect("client key"),
            "dir": dir.path(),
            "user": user,
        })
        .to_string(),
    );
    Setup {
        sshd,
        dir,
        _guard: UserGuard(user.clone()),
        user,
        ansible: ansible.to_string_lossy().to_string(),
        p,
    }
}

impl Setup {
    fn baton(&self, args: &[&str]) -> common::Cmd {
        self.p
            .baton(args.iter().copied())
            .env("BATON_ANSIBLE", &self.ansible)
    }
}

#[test]
fn modules_plan_in_check_mode_apply_and_converge() {
    let s = setup(MAIN);
    let d = s.dir.path();

    // Plan: check mode with diff; nothing changes on the host.
    let plan = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
    let out = &plan.stdout;
    if std::env::var_os("BATON_TEST_SHOW").is_some() {
        eprintln!("{out}");
    }
    assert!(out.contains("hello from ansible"), "copy's diff: {out}");
    assert!(
        out.contains("max_connections = 100"),
        "lineinfile's diff: {out}"
    );
    assert!(out.contains("known after apply"), "{out}");
    assert!(!out.contains("PRIVATE KEY"), "the key never shows");
    assert!(!d.join("motd").exists(), "check mode changed nothing");
    assert!(!d.join("settings.conf").exists());
    assert!(!d.join("command-ran").exists());
    assert!(!user_exists(&s.user));

    // Apply: every module runs.
    let apply = s.baton(&["apply", "--auto-approve"]).ok();
    assert!(apply.stdout.contains("4 added"), "{}", apply.stdout);
    assert_eq!(
        std::fs::read_to_string(d.join("motd")).expect("motd"),
        "hello from ansible\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("settings.conf")).expect("settings"),
        "max_connections = 100\n"
    );
    assert!(d.join("command-ran").exists());
    assert!(user_exists(&s.user));

    // Converged: nothing to do.
    let again = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);

    // Drift: edited by hand, shown with the module's diff, restored by apply.
    std::fs::write(d.join("motd"), "hand edit\n").expect("edit");
    let drift = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("ansible_module.copy"),
        "{}",
        drift.stdout
    );
    assert!(drift.stdout.contains("hand edit"), "{}", drift.stdout);
    assert!(
        !drift.stdout.contains("ansible_module.line will"),
        "only the copy drifted: {}",
        drift.stdout
    );
    s.baton(&["apply", "--auto-approve"]).ok();
    assert_eq!(
        std::fs::read_to_string(d.join("motd")).expect("motd"),
        "hello from ansible\n"
    );
    let after = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(after.code, Some(0), "{}\n{}", after.stdout, after.stderr);

    // Destroy forgets the objects and leaves the host as it is.
    s.baton(&["destroy", "--auto-approve"]).ok();
    assert!(d.join("motd").exists());
}

const FAILING: &str = r#"variable "port" {
  type = number
}

variable "host_key" {
  type = string
}

variable "key" {
  type      = string
  sensitive = true
}

variable "dir" {
  type = string
}

variable "user" {
  type = string
}

resource "ansible_module" "missing" {
  connection {
    host        = "127.0.0.1"
    port        = var.port
    private_key = var.key
    host_key    = var.host_key
  }
  python_interpreter = "/usr/bin/python3"

  module = "ansible.builtin.lineinfile"
  args = {
    path = "${var.dir}/absent/file.conf"
    line = "x = 1"
  }
}
"#;

#[test]
fn a_failing_module_reports_its_message_and_a_changed_host_key_is_refused() {
    let mut s = setup(FAILING);
    // The check run fails too: known after apply, and apply reports the module's message.
    let plan = s.baton(&["plan"]).ok();
    assert!(plan.stdout.contains("known after apply"), "{}", plan.stdout);
    let out = s.baton(&["apply", "--auto-approve"]).fails();
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    assert!(
        out.stderr.contains("ansible.builtin.lineinfile"),
        "{}",
        out.stderr
    );
    // The pinned host key is checked: a host with another key is refused, not retried.
    s.sshd.restart_with_new_host_key().expect("new host key");
    let out = s.baton(&["plan"]).fails();
    assert!(out.stderr.contains("host key"), "{}", out.stderr);
}
