//! `ansible_playbook` end to end through the binary against a real `sshd` started by the test
//! (root on 127.0.0.1, the machine's `/usr/bin/python3` as the host's Python) with ansible-core
//! from `baton_remote::testing::ansible`: the resource planned in check mode (the tasks that
//! would change listed, nothing written on the host), applied (the host changed, the recap in
//! state), then nothing to do until the playbook file is edited; a failing playbook's error
//! names the host and the failed task's message and never shows a sensitive extra variable;
//! and the workflow step, checked by `workflow plan` and run (in check mode, then for real),
//! whose recap is in `runs show`.

mod common;

use baton_remote::testing::TestSshd;
use common::Project;
use serde_json::{json, Value as Json};

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

variable "token" {
  type      = string
  sensitive = true
}

resource "ansible_playbook" "site" {
  connection {
    host        = "127.0.0.1"
    port        = var.port
    user        = "root"
    private_key = var.key
    host_key    = var.host_key
  }
  host_name          = "web1"
  groups             = ["web"]
  python_interpreter = "/usr/bin/python3"

  playbook   = "site.yml"
  extra_vars = { dir = var.dir, greeting = "hello", token = var.token }
}

output "recap" {
  value = ansible_playbook.site.recap
}
"#;

const SITE: &str = r#"- hosts: web
  gather_facts: false
  tasks:
    - name: motd
      ansible.builtin.copy:
        dest: "{{ dir }}/motd"
        content: "{{ greeting }} from a playbook\n"
        mode: "0644"
    - name: settings
      ansible.builtin.lineinfile:
        path: "{{ dir }}/settings.conf"
        line: "workers = 4"
        create: true
"#;

const FAILING: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: write the config
      ansible.builtin.copy:
        dest: "{{ dir }}/ok.conf"
        content: "ok\n"
    - name: check the token
      ansible.builtin.fail:
        msg: "refusing token {{ token }} on {{ inventory_hostname }}"
"#;

const SECRET: &str = "s3cr3t-t0ken";

struct Setup {
    _sshd: TestSshd,
    dir: tempfile::TempDir,
    ansible: String,
    p: Project,
}

fn setup(files: &[(&str, &str)]) -> Setup {
    let ansible = baton_remote::testing::ansible().expect("ansible-core");
    let sshd = TestSshd::start().expect("sshd");
    let dir = tempfile::tempdir().expect("dir");
    let p = Project::new(files);
    p.write(
        "terraform.tfvars.json",
        &json!({
            "port": sshd.port(),
            "host_key": sshd.host_key_line().expect("host key"),
            "key": sshd.client_key_text().expect("client key"),
            "dir": dir.path(),
            "token": SECRET,
        })
        .to_string(),
    );
    Setup {
        _sshd: sshd,
        dir,
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
fn a_playbook_plans_in_check_mode_applies_records_its_recap_and_replans_on_edit() {
    let s = setup(&[("main.tf", MAIN), ("site.yml", SITE)]);
    let d = s.dir.path();

    // Plan: check mode; the tasks that would change are listed, nothing is written.
    let plan = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("web1: motd"), "{}", plan.stdout);
    assert!(plan.stdout.contains("web1: settings"), "{}", plan.stdout);
    assert!(!plan.all().contains(SECRET), "{}", plan.all());
    assert!(!d.join("motd").exists(), "check mode wrote nothing");
    assert!(!d.join("settings.conf").exists());

    // Apply: the host changes, the recap is in state.
    let apply = s.baton(&["apply", "--auto-approve"]).ok();
    assert!(apply.stdout.contains("1 added"), "{}", apply.stdout);
    assert!(!apply.all().contains(SECRET), "{}", apply.all());
    assert_eq!(
        std::fs::read_to_string(d.join("motd")).expect("motd"),
        "hello from a playbook\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("settings.conf")).expect("settings"),
        "workers = 4\n"
    );
    let shown = s
        .baton(&["state", "show", "ansible_playbook.site"])
        .ok()
        .stdout;
    assert!(shown.contains("recap"), "{shown}");
    let out: Json =
        serde_json::from_str(&s.baton(&["output", "--json", "recap"]).ok().stdout).expect("json");
    assert_eq!(out["web1"]["changed"], json!(2), "{out}");
    assert_eq!(out["web1"]["failed"], json!(0), "{out}");

    // Converged: the check run changes nothing, the file is the same.
    let again = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);

    // A hand edit on the host is found by the check run.
    std::fs::write(d.join("motd"), "hand edit\n").expect("edit");
    let drift = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("web1: motd"), "{}", drift.stdout);
    s.baton(&["apply", "--auto-approve"]).ok();
    let again = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);

    // Editing the playbook plans a change even when the host would not change.
    s.p.write("site.yml", &format!("{SITE}    # a comment\n"));
    let edited = s.baton(&["plan", "--detailed-exitcode"]).run();
    assert_eq!(edited.code, Some(2), "{}\n{}", edited.stdout, edited.stderr);
    assert!(
        edited.stdout.contains("playbook_sha256"),
        "{}",
        edited.stdout
    );
}

#[test]
fn a_failing_playbook_names_the_host_and_task_and_hides_sensitive_vars() {
    let s = setup(&[("main.tf", MAIN), ("site.yml", FAILING)]);
    let out = s.baton(&["apply", "--auto-approve"]).fails();
    let err = &out.stderr;
    assert!(err.contains("site.yml failed"), "{err}");
    assert!(err.contains("web1"), "{err}");
    assert!(err.contains("check the token"), "{err}");
    assert!(err.contains("refusing token (sensitive) on web1"), "{err}");
    assert!(err.contains("failed=1"), "the recap: {err}");
    assert!(!out.all().contains(SECRET), "{}", out.all());
}

const WORKFLOW: &str = r#"workflow "configure" {
  input "dir" {
    type = string
  }

  step "dry" {
    ansible_playbook {
      playbook   = "site.yml"
      inventory  = "hosts.ini"
      extra_vars = { dir = input.dir, greeting = "hi" }
      check      = true
    }
  }

  step "real" {
    depends_on = [step.dry]
    ansible_playbook {
      playbook   = "site.yml"
      inventory  = "hosts.ini"
      limit      = "web1"
      extra_vars = { dir = input.dir, greeting = "hi" }
    }
  }

  step "after" {
    command = "echo ${step.real.outputs.recap.web1.changed} > changed.txt"
  }
}
"#;

#[test]
fn the_workflow_step_runs_a_playbook_and_records_its_recap() {
    let s = setup(&[("configure.baton.hcl", WORKFLOW), ("site.yml", SITE)]);
    let d = s.dir.path();
    let key = s.p.join("id");
    std::fs::write(&key, s._sshd.client_key_text().expect("key")).expect("key");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let kh = s.p.join("known_hosts");
    std::fs::write(
        &kh,
        format!(
            "[127.0.0.1]:{} {}\n",
            s._sshd.port(),
            s._sshd.host_key_line().expect("host key")
        ),
    )
    .expect("known_hosts");
    s.p.write(
        "hosts.ini",
        &format!(
            "[web]\nweb1 ansible_host=127.0.0.1 ansible_port={} ansible_user=root ansible_ssh_private_key_file={} ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes'\n",
            s._sshd.port(),
            key.display(),
            kh.display()
        ),
    );
    let dir_input = format!("dir={}", d.display());
    // `workflow plan` runs each playbook step in check mode: nothing changes on the host.
    let plan = s
        .baton(&["workflow", "plan", "configure", "--input", &dir_input])
        .ok();
    assert!(
        plan.stdout
            .contains("site.yml (check mode): 2 task(s) would change"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("~ web1: motd"), "{}", plan.stdout);
    assert!(!d.join("motd").exists(), "the plan changed nothing");
    let run = s
        .baton(&["workflow", "run", "configure", "--input", &dir_input])
        .run();
    assert!(run.success(), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(d.join("motd")).expect("motd"),
        "hi from a playbook\n"
    );
    assert_eq!(s.p.read("changed.txt").trim(), "2");

    let runs: Json =
        serde_json::from_str(&s.baton(&["runs", "--json"]).ok().stdout).expect("runs JSON");
    let id = runs
        .as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == "workflow"))
        .and_then(|r| r["id"].as_str())
        .expect("a run")
        .to_string();
    let shown: Json = serde_json::from_str(&s.baton(&["runs", "show", &id, "--json"]).ok().stdout)
        .expect("run JSON");
    let step = |k: &str| -> Json {
        shown["steps"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["key"] == k))
            .cloned()
            .unwrap_or_else(|| panic!("no step {k}: {shown:#}"))
    };
    let dry = step("dry");
    assert_eq!(dry["kind"], "ansible_playbook", "{dry:#}");
    assert_eq!(dry["outputs"]["check"], json!(true), "{dry:#}");
    assert_eq!(
        dry["outputs"]["recap"]["web1"]["changed"],
        json!(2),
        "{dry:#}"
    );
    let real = step("real");
    assert_eq!(real["status"], "succeeded", "{real:#}");
    assert_eq!(
        real["outputs"]["recap"]["web1"]["changed"],
        json!(2),
        "{real:#}"
    );
    assert_eq!(
        real["outputs"]["recap"]["web1"]["failed"],
        json!(0),
        "{real:#}"
    );
    // The human form shows it too.
    let text = s.baton(&["runs", "show", &id]).ok().stdout;
    assert!(text.contains("ansible_playbook"), "{text}");
    assert!(text.contains("recap"), "{text}");
}
