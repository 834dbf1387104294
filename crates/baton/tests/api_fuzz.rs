//! The API document fuzzed by schemathesis (PyPI) against a real `baton serve`: every
//! operation of `/api/v1/openapi.json` called with generated parameters and bodies, with an
//! admin token (so every route is reached) — no 5xx, no response that breaks its documented
//! schema, 405 for methods a path does not serve, and nothing answered without a token
//! (schemathesis' `ignored_auth` check). Bounded: a fixed number of cases per operation, a
//! time limit on the whole run.
//!
//! schemathesis comes from `BATON_SCHEMATHESIS`, else the virtual environment `.ci/run` makes
//! (`~/.cache/baton-tests/schemathesis-venv`), which the test makes itself when it is missing.

mod common;

use common::server::{serve, token};
use common::Project;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const STACK: &str = r#"
variable "secret" {
  type      = string
  sensitive = true
  default   = "fuzz-secret-never-returned"
}

resource "terraform_data" "a" {
  input = var.secret
}

resource "terraform_data" "b" {
  input = terraform_data.a.id
}
"#;

const WORKFLOWS: &str = r#"
workflow "hello" {
  input "name" {
    type    = string
    default = "world"
  }

  step "greet" {
    command = "echo hello ${input.name}"
  }
}
"#;

fn schemathesis() -> PathBuf {
    if let Ok(p) = std::env::var("BATON_SCHEMATHESIS") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_string());
    let venv = PathBuf::from(home).join(".cache/baton-tests/schemathesis-venv");
    let bin = venv.join("bin/schemathesis");
    if !bin.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "schemathesis",
                ])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not install schemathesis into {} (python3-venv and PyPI are needed; .ci/run installs them)",
            venv.display()
        );
    }
    bin
}

#[test]
fn the_api_document_fuzzed_finds_no_server_error_and_no_schema_violation() {
    let st = schemathesis();
    let p = Project::new(&[("main.tf", STACK), ("hello.baton.hcl", WORKFLOWS)]);
    p.baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .ok();
    p.baton(["workflow", "run", "hello"])
        .timeout(Duration::from_secs(60))
        .ok();
    let admin = token(&p, "admin", "fuzzer");
    // The fuzzer presents bad tokens on purpose (the ignored_auth check): the failed-login
    // limit must not turn the rest of its requests into 429s.
    let server = serve(&p, &["--login-failures", "1000000"]);
    // Which inputs a workflow takes is its definition's, not the document's: a run request
    // the schema allows may still name an input the workflow does not have (400).
    p.write(
        "schemathesis.toml",
        r#"
[[operations]]
include-path = "/api/v1/workflows/{name}/runs"
include-method = "POST"

[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]
"#,
    );
    // At most ten minutes, whatever happens (coreutils' timeout ends it).
    let out = Command::new("timeout")
        .arg("600")
        .arg(&st)
        .arg("--config-file")
        .arg(p.join("schemathesis.toml"))
        .args(["run", &format!("{}/api/v1/openapi.json", server.base)])
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .args(["--checks", "all", "-n", "25", "--request-timeout", "20"])
        .args(["--seed", "20261207", "--no-color"])
        .current_dir(p.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", st.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("passed"), "{text}");
    assert!(
        !text.contains("fuzz-secret-never-returned"),
        "a sensitive value reached the fuzzer's output"
    );
}
