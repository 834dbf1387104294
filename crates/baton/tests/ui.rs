//! The web UI in a real browser: headless Chromium (Debian's `chromium`) driven by
//! playwright-core (npm) through `tests/ui/flows.js`, against a real `baton serve` — sign in,
//! start a workflow, watch its graph go from running to waiting at the approval, approve it
//! as an approver, see it succeed; read a failed run's failing step log; the plan diff page
//! with a sensitive value hidden; the audit log verified; a 10,000-node run graph drawn; the
//! runs page on a phone's screen. Screenshots are kept in `target/ui-screenshots/`.
//!
//! Needs `node`, Debian's `chromium` and the `playwright-core` package: `.ci/run` installs
//! them (playwright-core in `~/.cache/baton-tests/ui-node`, or where `BATON_PLAYWRIGHT_CORE`
//! says); when the package is missing the test installs it there with npm. A missing browser
//! or node fails the test, saying what to install.

mod common;

use common::server::{serve, token};
use common::Project;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A value the pages must never show.
const SECRET: &str = "pw-ui-9f8e7d-never-shown";

const WORKFLOWS: &str = r#"
workflow "release" {
  input "version" {
    type = string
  }

  step "build" {
    command = "sleep 2; echo built ${input.version}"
  }

  step "gate" {
    depends_on = [step.build]
    approval {
      message = "Ship ${input.version}?"
    }
  }

  step "deploy" {
    depends_on = [step.gate]
    command    = "echo deployed ${input.version}"
  }
}

workflow "broken" {
  step "check" {
    command = "echo checking; echo 'disk full' >&2; exit 3"
  }
}
"#;

fn stack(extra: &str) -> String {
    format!(
        r#"
variable "db_password" {{
  type      = string
  sensitive = true
  default   = "{SECRET}"
}}

resource "terraform_data" "app" {{
  input = "v1"
}}

resource "terraform_data" "db" {{
  input = var.db_password
}}
{extra}"#
    )
}

/// 10,000 instances, and three that depend on all of them.
const BIG: &str = r#"
resource "terraform_data" "n" {
  count = 10000
  input = count.index
}

resource "terraform_data" "m" {
  count = 3
  input = length(terraform_data.n)
}
"#;

/// The directory holding `node_modules/playwright-core`, installing it with npm if needed.
fn playwright_core() -> PathBuf {
    if let Ok(p) = std::env::var("BATON_PLAYWRIGHT_CORE") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_string());
    let dir = PathBuf::from(home).join(".cache/baton-tests/ui-node");
    let module = dir.join("node_modules/playwright-core");
    if !module.join("package.json").exists() {
        std::fs::create_dir_all(&dir).expect("the npm directory");
        let st = Command::new("npm")
            .args([
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "playwright-core@1.65.2",
            ])
            .current_dir(&dir)
            .status()
            .unwrap_or_else(|e| panic!("npm is needed to install playwright-core: {e}"));
        assert!(st.success(), "npm install playwright-core failed");
    }
    module
}

fn chromium() -> PathBuf {
    let p = PathBuf::from(
        std::env::var("BATON_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    assert!(
        p.exists(),
        "{} is missing: install Debian's chromium (`apt-get install chromium`; .ci/run does)",
        p.display()
    );
    p
}

/// The id of the newest run `baton runs --json` lists.
fn newest_run(p: &Project, args: &[&str]) -> String {
    let out = p.baton(args).run();
    let j: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?} is not JSON ({e}): {}", out.all()));
    let list = j
        .as_array()
        .or_else(|| j["runs"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .max()
        .unwrap_or_else(|| panic!("no run in {}", out.stdout))
}

#[test]
fn the_ui_in_a_real_browser() {
    let pw = playwright_core();
    let browser = chromium();
    let p = Project::new(&[("main.tf", &stack("")), ("release.baton.hcl", WORKFLOWS)]);

    // A stack run whose plan the diff page shows, then the 10,000-node one.
    p.baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(120))
        .ok();
    let stack_run = newest_run(&p, &["runs", "--json"]);
    p.write("main.tf", &stack(BIG));
    p.baton(["apply", "--auto-approve"])
        .timeout(Duration::from_secs(300))
        .ok();
    let big_run = newest_run(&p, &["runs", "--json"]);
    assert_ne!(stack_run, big_run);
    // A failed workflow run.
    p.baton(["workflow", "run", "broken"])
        .timeout(Duration::from_secs(60))
        .fails();
    let failed_run = newest_run(&p, &["runs", "--json"]);
    assert!(failed_run != big_run && failed_run != stack_run);

    let tokens = serde_json::json!({
        "operator": token(&p, "operator", "olivia"),
        "approver": token(&p, "approver", "arthur"),
        "viewer": token(&p, "viewer", "vera"),
    });
    let server = serve(&p, &["--tick", "200ms"]);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|t| t.join("ui-screenshots"))
        .unwrap_or_else(|| PathBuf::from("target/ui-screenshots"));
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("the screenshot directory");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui/flows.js");
    let out = Command::new("node")
        .arg(&script)
        .env("BATON_URL", &server.base)
        .env("BATON_TOKENS", tokens.to_string())
        .env("FAILED_RUN", &failed_run)
        .env("STACK_RUN", &stack_run)
        .env("BIG_RUN", &big_run)
        .env("SECRET", SECRET)
        .env("SCREENSHOTS", &shots)
        .env("PLAYWRIGHT_CORE", &pw)
        .env("CHROMIUM", &browser)
        .output()
        .unwrap_or_else(|e| panic!("node is needed for the browser test: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(
        out.status.success(),
        "the browser flows failed (screenshots in {}):\n{text}",
        shots.display()
    );
    assert!(text.contains("ui flows: ok"), "{text}");
    for name in [
        "04-run-waiting",
        "06-run-succeeded",
        "08-failed-log",
        "09-plan-diff",
    ] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name} was not kept"
        );
    }
}
