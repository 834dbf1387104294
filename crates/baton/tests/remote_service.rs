//! `remote_service` end to end through the binary against a real `sshd` started by the test
//! (on 127.0.0.1, logging in as root, so the "host" is this machine), on its SysV init path:
//! systemd is not PID 1 in the test container, so its command generation and output parsing
//! are unit tests of `baton_remote::service`. Each test writes its own toy init script
//! (`/etc/init.d/baton-test-svc-<pid>-<n>`, an LSB header and a `sleep` as the daemon, with a
//! pidfile under /run) and removes it, its rc links and its daemon however the test ends.

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

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

variable "name" {
  type = string
}

variable "dir" {
  type = string
}

variable "conf" {
  type    = string
  default = "v1"
}
"#;

const CONNECTION: &str = r#"
  connection {
    host        = "127.0.0.1"
    port        = var.port
    user        = "root"
    private_key = var.key
    host_key    = var.host_key
  }
"#;

/// A toy SysV service: its init script, removed (with its links and daemon) on drop.
struct ToyService {
    name: String,
}

impl ToyService {
    fn install(n: u32) -> ToyService {
        let name = format!("baton-test-svc-{}-{n}", std::process::id());
        let script = format!(
            r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Baton test daemon
### END INIT INFO
PIDFILE=/run/{name}.pid
running() {{ [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
case "$1" in
  start) running && exit 0; sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > "$PIDFILE" ;;
  stop) if running; then kill "$(cat "$PIDFILE")"; fi; rm -f "$PIDFILE" ;;
  restart) "$0" stop; "$0" start ;;
  status) running && exit 0; exit 3 ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
"#
        );
        let path = Path::new("/etc/init.d").join(&name);
        std::fs::write(&path, script).expect("init script");
        let st = Command::new("chmod")
            .arg("755")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(st.success());
        ToyService { name }
    }

    fn script(&self) -> PathBuf {
        Path::new("/etc/init.d").join(&self.name)
    }

    /// The daemon's pid, when it runs.
    fn pid(&self) -> Option<String> {
        let st = Command::new(self.script())
            .arg("status")
            .status()
            .expect("status");
        if !st.success() {
            return None;
        }
        std::fs::read_to_string(format!("/run/{}.pid", self.name))
            .ok()
            .map(|p| p.trim().to_string())
    }

    /// Whether an S link in /etc/rc2.d starts it at boot.
    fn enabled(&self) -> bool {
        std::fs::read_dir("/etc/rc2.d")
            .expect("rc2.d")
            .filter_map(Result::ok)
            .any(|e| {
                let f = e.file_name().to_string_lossy().to_string();
                f.starts_with('S') && f.get(3..) == Some(self.name.as_str())
            })
    }

    fn stop_by_hand(&self) {
        let st = Command::new(self.script())
            .arg("stop")
            .status()
            .expect("stop");
        assert!(st.success());
    }
}

impl Drop for ToyService {
    fn drop(&mut self) {
        let _ = Command::new(self.script()).arg("stop").status();
        let _ = std::fs::remove_file(self.script());
        let _ = Command::new("update-rc.d")
            .args([&self.name, "remove"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn project(h: &TestSshd, name: &str, dir: &Path, conf: &str, resources: &str) -> Project {
    let main = format!("{VARS}\n{}", resources.replace("CONNECTION", CONNECTION));
    let p = Project::new(&[("main.tf", &main)]);
    set_vars(&p, h, name, dir, conf);
    p
}

fn set_vars(p: &Project, h: &TestSshd, name: &str, dir: &Path, conf: &str) {
    p.write(
        "terraform.tfvars.json",
        &json!({
            "port": h.port(),
            "key": h.client_key_text().expect("client key"),
            "host_key": h.host_key_line().expect("host key"),
            "name": name,
            "dir": dir,
            "conf": conf,
        })
        .to_string(),
    );
}

const SERVICE: &str = r#"
resource "remote_file" "conf" {
  CONNECTION
  path    = "${var.dir}/toy.conf"
  content = "setting = ${var.conf}\n"
}

resource "remote_service" "toy" {
  CONNECTION
  name       = var.name
  enabled    = true
  state      = "started"
  restart_on = [remote_file.conf.sha256]
}

output "manager" {
  value = remote_service.toy.service_manager
}
"#;

#[test]
fn a_sysv_service_is_started_kept_running_restarted_by_its_handler_and_restored() {
    let toy = ToyService::install(1);
    assert_eq!((toy.pid(), toy.enabled()), (None, false));
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let p = project(&h, &toy.name, dir.path(), "v1", SERVICE);

    // Apply starts and enables it.
    let out = p.baton(["apply", "--auto-approve"]).ok();
    assert!(out.stdout.contains("2 added"), "{}", out.stdout);
    let pid = toy.pid().expect("running after apply");
    assert!(toy.enabled(), "an S link after apply");
    let m = p.baton(["output", "--raw", "manager"]).ok();
    assert_eq!(m.stdout.trim(), "sysv");

    // Nothing changed: no change planned, and an apply does not restart it.
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(toy.pid().as_deref(), Some(pid.as_str()), "not restarted");

    // Stopped by hand: drift, a planned start, and apply starts it again.
    toy.stop_by_hand();
    assert_eq!(toy.pid(), None);
    let drift = p.baton(["drift"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("remote_service.toy"),
        "{}",
        drift.stdout
    );
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("\"stopped\" -> \"started\""),
        "{}",
        plan.stdout
    );
    p.baton(["apply", "--auto-approve"]).ok();
    let pid = toy.pid().expect("started again");

    // The file its handler watches changes: restarted (a new pid).
    set_vars(&p, &h, &toy.name, dir.path(), "v2");
    p.baton(["apply", "--auto-approve"]).ok();
    let restarted = toy.pid().expect("running after the restart");
    assert_ne!(restarted, pid, "restarted by restart_on");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("toy.conf")).expect("conf"),
        "setting = v2\n"
    );
    // The same again: no restart.
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(toy.pid().as_deref(), Some(restarted.as_str()));

    // Destroy brings back what the service was before Baton: stopped, not enabled. The
    // service itself stays.
    p.baton(["destroy", "--auto-approve"]).ok();
    assert_eq!((toy.pid(), toy.enabled()), (None, false));
    assert!(toy.script().exists());
}

#[test]
fn a_missing_service_is_an_error_naming_host_and_service() {
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let name = format!("baton-test-nosuch-{}", std::process::id());
    let p = project(
        &h,
        &name,
        dir.path(),
        "v1",
        r#"
resource "remote_service" "missing" {
  CONNECTION
  name    = var.name
  manager = "sysv"
  state   = "started"
}
"#,
    );
    let out = p.baton(["apply", "--auto-approve"]).run();
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stderr.contains("Service not found")
            && out.stderr.contains(&name)
            && out.stderr.contains("127.0.0.1"),
        "{}",
        out.stderr
    );
}
