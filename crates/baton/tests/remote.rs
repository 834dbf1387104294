//! Configuration management over SSH, end to end through the binary against real `sshd`
//! servers started by the test (each a "host" on its own 127.0.0.1 port, with its own host
//! key): `remote_file` and `remote_command` applied to two hosts, drift found and restored, a
//! changed host key refused naming its fingerprint, a failed run rolled back to the prior file
//! contents, an unreachable host failing only its own actions, and destroy running `undo`.
//! Then failure domains: a host down fails alone (its files elsewhere kept, converging once it
//! is back), `max_fail_percentage` exceeded rolls the fleet back, and a host killed mid-apply
//! fails alone with every file whole.

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
            // The failing command is on host a: by default a host failing alone keeps the
            // other host's changes; with no failure tolerated the whole run is undone.
            "--max-fail-percentage",
            "0",
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

// ----- Failure domains: a host that fails fails alone (issue 13) -----

/// Files on a fleet: `files` per host, numbered; hosts with `after = true` get theirs only
/// once every other host's are written (a dependency on the whole `remote_file.f`), so a
/// failure there comes after the other hosts changed. `BATON_SETTINGS` is replaced by the
/// test's `terraform { baton { … } }` arguments.
const FLEET: &str = r#"terraform {
  baton {
    BATON_SETTINGS
  }
}

variable "hosts" {
  type = map(object({ port = number, dir = string, host_key = string, files = number, after = bool }))
}

variable "key" {
  type      = string
  sensitive = true
}

variable "content" {
  type    = string
  default = "v1"
}

locals {
  all = flatten([
    for name, h in var.hosts : [
      for i in range(h.files) : {
        key = "${name}-${i}", i = i, port = h.port, dir = h.dir, host_key = h.host_key, after = h.after
      }
    ]
  ])
}

resource "remote_file" "f" {
  for_each = { for x in local.all : x.key => x if !x.after }

  connection {
    host        = "127.0.0.1"
    port        = each.value.port
    user        = "root"
    private_key = var.key
    host_key    = each.value.host_key
  }

  path    = "${each.value.dir}/f${each.value.i}"
  content = "${var.content} ${each.key}\n"
}

resource "remote_file" "after" {
  for_each = { for x in local.all : x.key => x if x.after }

  connection {
    host        = "127.0.0.1"
    port        = each.value.port
    user        = "root"
    private_key = var.key
    host_key    = each.value.host_key
  }

  path       = "${each.value.dir}/f${each.value.i}"
  content    = "${var.content} ${each.key}\n"
  depends_on = [remote_file.f]
}
"#;

/// Test hosts by name, each with how many files it gets and whether after the others.
struct Fleet {
    hosts: Vec<(&'static str, TestSshd, usize, bool)>,
    dirs: tempfile::TempDir,
}

fn fleet(spec: &[(&'static str, usize, bool)]) -> Fleet {
    let mut hosts: Vec<(&'static str, TestSshd, usize, bool)> = Vec::new();
    for &(name, files, after) in spec {
        let s = TestSshd::start().unwrap_or_else(|e| panic!("sshd {name}: {e}"));
        if let Some((_, first, _, _)) = hosts.first() {
            s.authorize(first).expect("one key for every host");
        }
        hosts.push((name, s, files, after));
    }
    Fleet {
        hosts,
        dirs: tempfile::tempdir().expect("dirs"),
    }
}

impl Fleet {
    fn host(&mut self, name: &str) -> &mut TestSshd {
        self.hosts
            .iter_mut()
            .find(|h| h.0 == name)
            .map(|h| &mut h.1)
            .expect("a host of the fleet")
    }

    /// `127.0.0.1:PORT`: how the run names a host's failure domain.
    fn domain(&mut self, name: &str) -> String {
        format!("127.0.0.1:{}", self.host(name).port())
    }

    fn file(&self, host: &str, i: usize) -> std::path::PathBuf {
        self.dirs.path().join(host).join(format!("f{i}"))
    }

    /// The content of file `i` of `host`, or `None` when it does not exist.
    fn content(&self, host: &str, i: usize) -> Option<String> {
        std::fs::read_to_string(self.file(host, i)).ok()
    }

    fn project(&self, settings: &str) -> Project {
        let mut hosts = serde_json::Map::new();
        for (name, s, files, after) in &self.hosts {
            hosts.insert(
                name.to_string(),
                json!({
                    "port": s.port(), "dir": self.dirs.path().join(name),
                    "host_key": s.host_key_line().expect("host key"),
                    "files": files, "after": after,
                }),
            );
        }
        let key = self.hosts[0].1.client_key_text().expect("client key");
        let p = Project::new(&[("main.tf", &FLEET.replace("BATON_SETTINGS", settings))]);
        p.write(
            "terraform.tfvars.json",
            &json!({ "key": key, "hosts": hosts }).to_string(),
        );
        p
    }
}

/// Quick retries, so that an unreachable host fails its action soon (still retried once).
const QUICK_RETRY: [&str; 4] = ["--retry-attempts", "2", "--retry-backoff", "10ms"];

fn apply_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec!["apply".into(), "--auto-approve".into()];
    a.extend(QUICK_RETRY.iter().map(|s| s.to_string()));
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The newest run's record from `runs show --json`.
fn last_run(p: &Project) -> serde_json::Value {
    let runs = p.baton(["runs", "--json"]).ok().json();
    let id = runs[0]["id"].as_str().expect("a run id").to_string();
    p.baton(["runs", "show", &id, "--json"]).ok().json()
}

#[test]
fn an_unreachable_host_fails_alone_and_converges_when_back() {
    let mut f = fleet(&[("a", 2, false), ("b", 2, false), ("c", 2, false)]);
    let p = f.project("");
    let c = f.domain("c");
    f.host("c").kill();
    let out = p.baton(apply_args(&[])).fails();
    assert!(
        out.stderr.contains("1 of 3 hosts failed (33%"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{c} (host unreachable")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("rolled back"), "{}", out.stderr);
    for host in ["a", "b"] {
        for i in 0..2 {
            assert_eq!(
                f.content(host, i).as_deref(),
                Some(format!("v1 {host}-{i}\n").as_str()),
                "{host} was configured and kept"
            );
        }
    }
    assert_eq!(f.content("c", 0), None);
    // The journal names the failed host.
    let run = last_run(&p);
    assert_eq!(run["status"], "failed", "{run}");
    let failed = run["failed_domains"].as_object().expect("failed_domains");
    assert_eq!(failed.keys().collect::<Vec<_>>(), [&c], "{run}");
    // Back up: the next apply configures it, and then nothing is left to do.
    f.host("c").start_again().expect("c back");
    let out = p.baton(apply_args(&[])).ok();
    assert!(out.stdout.contains("2 added"), "{}", out.stdout);
    for i in 0..2 {
        assert_eq!(f.content("c", i), Some(format!("v1 c-{i}\n")));
    }
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
}

#[test]
fn a_failed_host_beyond_max_fail_percentage_rolls_the_fleet_back() {
    // c's file is written after every file of a and b: its failure comes after their change.
    let mut f = fleet(&[("a", 1, false), ("b", 1, false), ("c", 1, true)]);
    let p = f.project("max_fail_percentage = 0");
    p.baton(apply_args(&[])).ok();
    let c = f.domain("c");
    f.host("c").kill();
    let out = p.baton(apply_args(&["--var", "content=v2"])).fails();
    assert!(
        out.stderr
            .contains("1 of 3 hosts failed (33%, max_fail_percentage 0)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&c), "{}", out.stderr);
    assert!(out.stderr.contains("was rolled back"), "{}", out.stderr);
    for host in ["a", "b"] {
        assert_eq!(
            f.content(host, 0),
            Some(format!("v1 {host}-0\n")),
            "{host}'s change was undone"
        );
    }
    let run = last_run(&p);
    assert_eq!(run["status"], "rolled_back", "{run}");
    let undone = run["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|e| e["phase"] == "rollback" && e["status"] == "done")
        .count();
    assert_eq!(undone, 2, "both good hosts were rolled back: {run}");
}

#[test]
fn a_host_killed_mid_apply_fails_alone_without_torn_files() {
    const MANY: usize = 40;
    let mut f = fleet(&[("k", MANY, false), ("a", 3, false)]);
    let p = f.project("");
    p.baton(apply_args(&[])).ok();
    let k = f.domain("k");
    // Change every file; kill k's sshd once a few of its files have the new content.
    let run = p
        .baton(apply_args(&["--var", "content=v2", "--parallelism", "2"]))
        .spawn();
    let new = |f: &Fleet, i: usize| f.content("k", i) == Some(format!("v2 k-{i}\n"));
    loop {
        let changed = (0..MANY).filter(|&i| new(&f, i)).count();
        if changed >= 3 {
            break;
        }
        assert!(!run.has_exited(), "the apply ended before k was killed");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    f.host("k").kill();
    let out = run.wait();
    assert_ne!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("1 of 2 hosts failed (50%"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&k), "{}", out.stderr);
    // The other host was finished and kept.
    for i in 0..3 {
        assert_eq!(f.content("a", i), Some(format!("v2 a-{i}\n")));
    }
    // Every file of k is whole: old or new content, never a torn write.
    let mut changed = 0;
    for i in 0..MANY {
        let c = f.content("k", i);
        if c == Some(format!("v2 k-{i}\n")) {
            changed += 1;
        } else {
            assert_eq!(c, Some(format!("v1 k-{i}\n")), "file {i} of k");
        }
    }
    assert!(changed < MANY, "k was killed before it was done");
    let run = last_run(&p);
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["failed_domains"][&k].is_string(), "{run}");
    // Back up: the next apply converges, and then nothing is left to do.
    f.host("k").start_again().expect("k back");
    p.baton(apply_args(&["--var", "content=v2"])).ok();
    for i in 0..MANY {
        assert_eq!(
            f.content("k", i),
            Some(format!("v2 k-{i}\n")),
            "file {i} of k"
        );
    }
    let plan = p
        .baton(["plan", "--detailed-exitcode", "--var", "content=v2"])
        .run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
}
