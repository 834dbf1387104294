//! More configuration-management resources, end to end through the binary against a real
//! `sshd` started by the test (on 127.0.0.1, logging in as root, so the "host" is this
//! machine): `remote_directory` created with its mode and restored after a hand `chmod`;
//! `remote_line` replacing a line by regexp, appending one, drift after a hand edit restored,
//! lines removed on destroy; `remote_user` created, a hand-changed shell found as drift and
//! restored, deleted on destroy; and `become` running a command as `nobody` through `sudo`.

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

const CONNECTION: &str = r#"
  connection {
    host        = "127.0.0.1"
    port        = var.port
    user        = "root"
    private_key = var.key
    host_key    = var.host_key
    BECOME
  }
"#;

const VARS: &str = r#"variable "port" {
  type = number
}

variable "key" {
  type      = string
  sensitive = true
}

variable "host_key" {
  type = string
}

variable "dir" {
  type = string
}
"#;

/// A project whose resources (each written with a `CONNECTION` placeholder) log in to `h`.
fn project(h: &TestSshd, dir: &std::path::Path, resources: &str, sudo: &str) -> Project {
    let conn = CONNECTION.replace("BECOME", sudo);
    let main = format!("{VARS}\n{}", resources.replace("CONNECTION", &conn));
    let p = Project::new(&[("main.tf", &main)]);
    p.write(
        "terraform.tfvars.json",
        &json!({
            "port": h.port(),
            "key": h.client_key_text().expect("client key"),
            "host_key": h.host_key_line().expect("host key"),
            "dir": dir,
        })
        .to_string(),
    );
    p
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
}

const FILES: &str = r#"
resource "remote_directory" "conf" {
  CONNECTION
  path = "${var.dir}/conf.d"
  mode = "0750"
}

resource "remote_line" "port" {
  CONNECTION
  path   = "${remote_directory.conf.path}/app.conf"
  line   = "Port 22"
  regexp = "^Port "
}

resource "remote_line" "extra" {
  CONNECTION
  path   = "${remote_directory.conf.path}/new.conf"
  line   = "Extra yes"
  create = true
}

output "present" {
  value = remote_line.port.present
}
"#;

#[test]
fn a_directory_and_lines_are_made_drift_is_restored_and_destroy_removes_the_lines() {
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).expect("conf.d");
    let app = conf.join("app.conf");
    std::fs::write(&app, "# header\nPort 1\nTail no\n").expect("app.conf");
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let p = project(&h, dir.path(), FILES, "");

    let out = p.baton(["apply", "--auto-approve"]).ok();
    assert!(out.stdout.contains("3 added"), "{}", out.stdout);
    assert_eq!(mode(&conf), 0o750);
    assert_eq!(
        std::fs::read_to_string(&app).expect("app.conf"),
        "# header\nPort 22\nTail no\n",
        "the regexp's line replaced"
    );
    assert_eq!(mode(&app), 0o600, "the file's mode is kept");
    assert_eq!(
        std::fs::read_to_string(conf.join("new.conf")).expect("new.conf"),
        "Extra yes\n"
    );
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

    // By hand: the directory opened up and the line edited.
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    std::fs::write(&app, "# header\nPort 2222\nTail no\n").expect("hand edit");
    let drift = p.baton(["drift"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("remote_directory.conf"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("remote_line.port"),
        "{}",
        drift.stdout
    );
    let plan = p.baton(["plan"]).ok();
    assert!(plan.stdout.contains("0777"), "{}", plan.stdout);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(mode(&conf), 0o750, "the mode restored");
    assert_eq!(
        std::fs::read_to_string(&app).expect("app.conf"),
        "# header\nPort 22\nTail no\n",
        "the line restored"
    );
    assert!(!drift.stdout.contains("PRIVATE KEY"));

    // Destroy takes the lines out and keeps the (not empty) directory.
    p.baton(["destroy", "--auto-approve"]).ok();
    assert_eq!(
        std::fs::read_to_string(&app).expect("app.conf"),
        "# header\nTail no\n"
    );
    assert_eq!(
        std::fs::read_to_string(conf.join("new.conf")).expect("new.conf"),
        ""
    );
    assert!(conf.is_dir(), "a directory with files in it is kept");
}

#[test]
fn an_empty_directory_goes_on_destroy() {
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let res = r#"
resource "remote_directory" "d" {
  CONNECTION
  path = "${var.dir}/a/b"
}
"#;
    let p = project(&h, dir.path(), res, "");
    p.baton(["apply", "--auto-approve"]).ok();
    let d = dir.path().join("a/b");
    assert_eq!(mode(&d), 0o755);
    p.baton(["destroy", "--auto-approve"]).ok();
    assert!(!d.exists());
}

/// The account, as `getent passwd` prints it.
fn passwd(name: &str) -> Option<String> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .expect("getent");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Deletes the test's account however the test ends.
struct UserGuard(String);

impl Drop for UserGuard {
    fn drop(&mut self) {
        if passwd(&self.0).is_some() {
            let _ = Command::new("userdel").arg(&self.0).status();
        }
    }
}

#[test]
fn a_user_is_made_a_hand_changed_shell_is_restored_and_destroy_deletes_it() {
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let name = format!("batont{}", std::process::id() % 100_000);
    let _guard = UserGuard(name.clone());
    let res = format!(
        r#"
resource "remote_user" "u" {{
  CONNECTION
  name  = "{name}"
  shell = "/bin/sh"
  home  = "${{var.dir}}/home"
}}
"#
    );
    let p = project(&h, dir.path(), &res, "");
    p.baton(["apply", "--auto-approve"]).ok();
    let entry = passwd(&name).expect("the user exists");
    assert!(entry.ends_with(":/bin/sh"), "{entry}");
    assert!(dir.path().join("home").is_dir(), "home made");
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

    let st = Command::new("usermod")
        .args(["-s", "/bin/bash", &name])
        .status()
        .expect("usermod");
    assert!(st.success());
    let drift = p.baton(["drift"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("remote_user.u"), "{}", drift.stdout);
    p.baton(["apply", "--auto-approve"]).ok();
    let entry = passwd(&name).expect("the user exists");
    assert!(entry.ends_with(":/bin/sh"), "restored: {entry}");

    p.baton(["destroy", "--auto-approve"]).ok();
    assert!(passwd(&name).is_none(), "deleted");
}

#[test]
fn become_runs_scripts_as_another_user() {
    // `.ci/run` installs sudo (Debian's package) with the OpenSSH server.
    assert!(
        std::path::Path::new("/usr/bin/sudo").exists(),
        "this test needs /usr/bin/sudo: apt-get install sudo (.ci/run does)"
    );
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    // nobody writes its name here.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let res = r#"
resource "remote_command" "who" {
  CONNECTION
  command = "id -un > ${var.dir}/who"
}
"#;
    let p = project(
        &h,
        dir.path(),
        res,
        "become = true\n    become_user = \"nobody\"",
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("who")).expect("who"),
        "nobody\n"
    );
}
