//! Many files on one host, read back together: the refresh of `remote_file` objects gathers a
//! host's reads into a few commands (crates/baton-remote/src/fileread.rs). Each file must still
//! come back as its own: after hand edits, deletions and a mode change among 40 files, the plan
//! names exactly those, and apply restores them.

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;

const MAIN: &str = r#"variable "port" {
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

resource "remote_file" "f" {
  for_each = toset([for i in range(40) : format("f%02d", i)])

  connection {
    host        = "127.0.0.1"
    port        = var.port
    user        = "root"
    private_key = var.key
    host_key    = var.host_key
  }

  path    = "${var.dir}/${each.key} name with 'quote'"
  content = "content of ${each.key}\n"
  mode    = "0644"
}
"#;

#[test]
fn each_of_many_files_read_together_is_its_own() {
    let host = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let p = Project::new(&[("main.tf", MAIN)]);
    p.write(
        "terraform.tfvars.json",
        &json!({
            "port": host.port(),
            "key": host.client_key_text().expect("key"),
            "host_key": host.host_key_line().expect("host key"),
            "dir": dir.path(),
        })
        .to_string(),
    );
    let file = |k: &str| dir.path().join(format!("{k} name with 'quote'"));
    // Two files already there: planning their creation reads them (all of the host's files
    // read together, ahead of the planner): one kept for destroy to write back, one too
    // large to keep, which the plan warns about.
    std::fs::write(file("f05"), "old five\n").expect("f05");
    std::fs::write(file("f06"), "y".repeat(1024 * 1024 + 1)).expect("f06");
    let plan = p.baton(["plan", "--no-color"]).ok();
    let warned: Vec<&str> = plan
        .stdout
        .lines()
        .chain(plan.stderr.lines())
        .filter(|l| l.contains("Rollback cannot restore"))
        .collect();
    assert_eq!(warned.len(), 1, "{}\n{}", plan.stdout, plan.stderr);
    let out = p.baton(["apply", "--auto-approve"]).ok();
    assert!(out.stdout.contains("40 added"), "{}", out.stdout);
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

    // Edited (one to the same length, so only the content tells), deleted, a mode changed,
    // and one made much longer.
    std::fs::write(file("f03"), "CONTENT OF f03\n").expect("edit");
    std::fs::remove_file(file("f17")).expect("delete");
    std::fs::remove_file(file("f18")).expect("delete");
    std::process::Command::new("chmod")
        .arg("600")
        .arg(file("f25"))
        .status()
        .expect("chmod");
    std::fs::write(file("f31"), "x".repeat(100_000)).expect("edit");

    let plan = p.baton(["plan", "--no-color"]).ok();
    let changed: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("# remote_file.f[") && l.contains(" will be "))
        .collect();
    for k in ["f03", "f17", "f18", "f25", "f31"] {
        assert!(
            changed.iter().any(|l| l.contains(&format!("[\"{k}\"]"))),
            "{k} not in the plan:\n{}",
            plan.stdout
        );
    }
    assert_eq!(changed.len(), 5, "{}", plan.stdout);
    assert!(
        plan.stdout.contains("2 to add, 3 to change"),
        "{}",
        plan.stdout
    );
    p.baton(["apply", "--auto-approve"]).ok();
    for i in 0..40 {
        let k = format!("f{i:02}");
        assert_eq!(
            std::fs::read_to_string(file(&k)).expect("file"),
            format!("content of {k}\n")
        );
    }
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    // Destroy writes back what was there before Baton: f05's old content; the rest go.
    p.baton(["destroy", "--auto-approve"]).ok();
    assert_eq!(
        std::fs::read_to_string(file("f05")).expect("f05 restored"),
        "old five\n"
    );
    assert!(!file("f00").exists());
}
