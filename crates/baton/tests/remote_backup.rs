//! Backups of files `remote_file` replaces, end to end through the binary against a real
//! `sshd` started by the test (127.0.0.1, as root, files under a temporary directory): a file
//! already there over the size limit makes `plan` warn that rollback cannot restore it (and
//! apply still writes it); a small one comes back on destroy and when the run that took it over
//! fails and rolls back; with `backup = true` the copies on the host rotate to `backups_kept`.
//! (A failed update rolled back to the prior content is in `remote.rs`.)

mod common;

use baton_remote::resources::BACKUP_LIMIT;
use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::json;
use std::path::Path;

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

variable "path" {
  type = string
}

variable "content" {
  type = string
}

resource "remote_file" "f" {
  connection {
    host        = "127.0.0.1"
    port        = var.port
    user        = "root"
    private_key = var.key
    host_key    = var.host_key
  }

  path         = var.path
  content      = var.content
  backup       = true
  backups_kept = 2
}
"#;

fn project(h: &TestSshd, path: &Path, content: &str) -> Project {
    let p = Project::new(&[("main.tf", MAIN)]);
    set_vars(&p, h, path, content);
    p
}

fn set_vars(p: &Project, h: &TestSshd, path: &Path, content: &str) {
    p.write(
        "terraform.tfvars.json",
        &json!({
            "port": h.port(),
            "key": h.client_key_text().expect("client key"),
            "host_key": h.host_key_line().expect("host key"),
            "path": path,
            "content": content,
        })
        .to_string(),
    );
}

/// The `.baton-bak` copies next to `path`, oldest first, with their content.
fn backups(path: &Path) -> Vec<String> {
    let dir = path.parent().expect("parent");
    let prefix = format!("{}.", path.file_name().expect("name").to_string_lossy());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".baton-bak"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(n)).expect("backup"))
        .collect()
}

#[test]
fn a_file_over_the_limit_warns_at_plan_and_is_still_written() {
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("big.log");
    std::fs::write(&path, "x".repeat(BACKUP_LIMIT + 10)).expect("big file");
    let p = project(&h, &path, "small\n");

    let plan = p.baton(["plan"]).ok();
    let text = format!("{}\n{}", plan.stdout, plan.stderr);
    assert!(
        text.contains("Rollback cannot restore this file's content")
            && text.contains("remote_file")
            && text.contains("\"f\""),
        "{text}"
    );
    assert!(text.contains("over the 1048576 bytes kept"), "{text}");

    let out = p.baton(["apply", "--auto-approve"]).ok();
    assert!(out.stdout.contains("1 added"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&path).expect("file"), "small\n");
    // The copy on the host is all there is of the big content.
    let copies = backups(&path);
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].len(), BACKUP_LIMIT + 10);
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

    // Replaced by hand with big content: drift found by its SHA-256 (the content is not kept
    // in state), a plan that warns again, and apply restores the declared content.
    std::fs::write(&path, "y".repeat(BACKUP_LIMIT * 2)).expect("hand edit");
    let drift = p.baton(["drift"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
    let text = format!("{}\n{}", plan.stdout, plan.stderr);
    assert!(text.contains("was changed outside Baton"), "{text}");
    assert!(
        !text.contains("yyyy"),
        "the big content is not shown: {text}"
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(std::fs::read_to_string(&path).expect("file"), "small\n");
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
}

#[test]
fn backups_on_the_host_rotate_and_a_file_already_there_comes_back_on_destroy() {
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("app.conf");
    std::fs::write(&path, "original\n").expect("file");
    let p = project(&h, &path, "v1\n");

    let plan = p.baton(["plan"]).ok();
    assert!(
        !plan.stderr.contains("Rollback cannot restore")
            && !plan.stdout.contains("Rollback cannot restore"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(backups(&path), vec!["original\n"]);
    for v in ["v2\n", "v3\n", "v4\n"] {
        set_vars(&p, &h, &path, v);
        p.baton(["apply", "--auto-approve"]).ok();
        assert_eq!(std::fs::read_to_string(&path).expect("file"), v);
    }
    // At most two copies: the newest two replaced contents.
    assert_eq!(backups(&path), vec!["v2\n", "v3\n"]);
    // The original content is in state (sensitive: not shown).
    let show = p.baton(["show"]).ok();
    assert!(!show.stdout.contains("original\n"), "{}", show.stdout);

    // Destroy writes back what was there before Baton.
    p.baton(["destroy", "--auto-approve"]).ok();
    assert_eq!(std::fs::read_to_string(&path).expect("file"), "original\n");
}

#[test]
fn a_failed_run_that_took_over_a_file_writes_its_original_back() {
    let h = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("hosts");
    std::fs::write(&path, "original\n").expect("file");
    let main = format!(
        "{MAIN}\n{}",
        r#"
resource "remote_command" "gate" {
  connection {
    host        = "127.0.0.1"
    port        = var.port
    user        = "root"
    private_key = var.key
    host_key    = var.host_key
  }

  command    = "echo refusing >&2; exit 4"
  depends_on = [remote_file.f]
}
"#
    );
    let p = Project::new(&[("main.tf", &main)]);
    set_vars(&p, &h, &path, "managed\n");
    let out = p.baton(["apply", "--auto-approve"]).fails();
    assert!(out.stderr.contains("exit status 4"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        "original\n",
        "the creation rolled back: the file Baton took over has its content again"
    );
}
