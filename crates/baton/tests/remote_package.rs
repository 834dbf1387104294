//! `remote_package` end to end through the binary against a real `sshd` started by the test
//! (on 127.0.0.1, logging in as root, so the "host" is this Debian machine). Touches neither
//! the network nor the machine's real packages: the test builds a throwaway `.deb` itself
//! (`baton-test-pkg-<pid>`, one file under `/usr/share/baton-test-<pid>/`), installs it from
//! that file, removes it by hand to find drift, and always `dpkg -r`s it at the end; an
//! installed package (`openssh-server`) is only read; a package apt cannot find fails with
//! apt's error (apt-get install does not go to the network for that).

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;
use std::path::Path;
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

variable "deb" {
  type = string
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

fn project(h: &TestSshd, deb: &Path, resources: &str) -> Project {
    let main = format!("{VARS}\n{}", resources.replace("CONNECTION", CONNECTION));
    let p = Project::new(&[("main.tf", &main)]);
    p.write(
        "terraform.tfvars.json",
        &json!({
            "port": h.port(),
            "key": h.client_key_text().expect("client key"),
            "host_key": h.host_key_line().expect("host key"),
            "deb": deb,
        })
        .to_string(),
    );
    p
}

/// The installed version of `name`, as dpkg says ("install ok installed" only).
fn installed(name: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", name])
        .output()
        .expect("dpkg-query");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.strip_prefix("install ok installed ")
        .map(|v| v.trim().to_string())
}

/// Held by each test: they share the machine's dpkg database (and its lock).
static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn dpkg_lock() -> std::sync::MutexGuard<'static, ()> {
    DPKG.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the test's package however the test ends.
struct PackageGuard(String);

impl Drop for PackageGuard {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["-r", &self.0])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Builds `NAME_1.0_all.deb` in `dir`, holding one file under `/usr/share/baton-test-<pid>/`.
fn build_deb(dir: &Path, name: &str) -> std::path::PathBuf {
    let root = dir.join("root");
    let share = root.join(format!("usr/share/baton-test-{}", std::process::id()));
    std::fs::create_dir_all(&share).expect("share dir");
    std::fs::write(share.join("hello.txt"), "hello\n").expect("file");
    std::fs::create_dir_all(root.join("DEBIAN")).expect("DEBIAN");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: Baton Tests <tests@example.invalid>\n\
             Description: throwaway package of the remote_package tests\n"
        ),
    )
    .expect("control");
    let deb = dir.join(format!("{name}_1.0_all.deb"));
    let out = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&root)
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    deb
}

#[test]
fn a_package_from_a_file_is_installed_reinstalled_after_a_hand_removal_and_destroyed() {
    let _serial = dpkg_lock();
    let name = format!("baton-test-pkg-{}", std::process::id());
    let _guard = PackageGuard(name.clone());
    let dir = tempfile::tempdir().expect("dir");
    let deb = build_deb(dir.path(), &name);
    let h = TestSshd::start().expect("sshd");
    let resources = format!(
        r#"
resource "remote_package" "p" {{
  CONNECTION
  name   = "{name}"
  source = var.deb
}}

output "version" {{
  value = remote_package.p.installed_version
}}
"#
    );
    let p = project(&h, &deb, &resources);

    let out = p.baton(["apply", "--auto-approve"]).ok();
    assert!(out.stdout.contains("1 added"), "{}", out.stdout);
    assert_eq!(installed(&name).as_deref(), Some("1.0"));
    let v = p.baton(["output", "--raw", "version"]).ok();
    assert_eq!(v.stdout.trim(), "1.0");
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

    // Removed by hand: drift, and apply installs it again.
    let st = Command::new("dpkg")
        .args(["-r", &name])
        .output()
        .expect("dpkg -r");
    assert!(st.status.success());
    assert_eq!(installed(&name), None);
    let drift = p.baton(["drift"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("remote_package.p"),
        "{}",
        drift.stdout
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(installed(&name).as_deref(), Some("1.0"), "reinstalled");
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

    // Destroy removes what Baton installed.
    p.baton(["destroy", "--auto-approve"]).ok();
    assert_eq!(installed(&name), None);
}

#[test]
fn an_installed_package_is_read_without_changes() {
    let _serial = dpkg_lock();
    let Some(version) = installed("openssh-server") else {
        eprintln!("openssh-server is not installed here: skipped");
        return;
    };
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        &h,
        dir.path(),
        r#"
resource "remote_package" "sshd" {
  CONNECTION
  name = "openssh-server"
}

output "version" {
  value = remote_package.sshd.installed_version
}

output "adopted" {
  value = remote_package.sshd.adopted
}
"#,
    );
    // Nothing to do on the host: the apply only records the installed version.
    p.baton(["apply", "--auto-approve"]).ok();
    let v = p.baton(["output", "--raw", "version"]).ok();
    assert_eq!(v.stdout.trim(), version);
    let a = p.baton(["output", "--raw", "adopted"]).ok();
    assert_eq!(
        a.stdout.trim(),
        "true",
        "destroy would leave it on the host"
    );
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    assert_eq!(
        installed("openssh-server").as_deref(),
        Some(version.as_str())
    );
    // Not destroyed: the state only goes with the project's directory (an adopted package is
    // left on the host by destroy anyway).
}

#[test]
fn a_failed_install_reports_the_managers_error() {
    let _serial = dpkg_lock();
    let name = format!("baton-test-missing-{}", std::process::id());
    let _guard = PackageGuard(name.clone());
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let resources = format!(
        r#"
resource "remote_package" "p" {{
  CONNECTION
  name    = "{name}"
  manager = "apt"
}}
"#
    );
    let p = project(&h, dir.path(), &resources);
    let out = p.baton(["apply", "--auto-approve"]).run();
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stderr.contains("Cannot install package") && out.stderr.contains(&name),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Unable to locate package"),
        "{}",
        out.stderr
    );
}
