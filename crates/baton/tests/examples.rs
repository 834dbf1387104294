//! The examples under `examples/` work as their comments say: each is applied in a temporary
//! copy, planned again (no changes), its outputs read, and destroyed, leaving nothing behind.

mod common;

use common::Project;
use std::path::Path;

/// Copies `examples/<name>` (without state or generated files) into a new project.
fn example(name: &str) -> Project {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let p = Project::new(&[]);
    copy(&src, p.path(), &src);
    p
}

fn copy(dir: &Path, to: &Path, root: &Path) {
    for entry in std::fs::read_dir(dir).expect("read example dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if matches!(name.as_str(), ".baton" | "out" | "repos") {
            continue;
        }
        let rel = path.strip_prefix(root).expect("inside the example");
        let dest = to.join(rel);
        if path.is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
            copy(&path, to, root);
        } else {
            std::fs::copy(&path, &dest).expect("copy file");
        }
    }
}

#[test]
fn quickstart_applies_plans_clean_and_destroys() {
    let p = example("quickstart");
    let out = p.baton(["apply", "--auto-approve"]).ok();
    out.assert_stdout_contains("Apply complete! Resources: 7 added");
    assert_eq!(p.read("out/platform.txt"), "Hello, platform!\n");
    assert!(p
        .read("out/index.txt")
        .contains("payments: ./out/payments.txt"));
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");
    let o = p.baton(["output", "--json"]).ok().json();
    assert_eq!(o["files"]["value"][0], "./out/payments.txt");
    p.baton(["destroy", "--auto-approve"])
        .ok()
        .assert_stdout_contains("Destroy complete! Resources: 7 destroyed.");
    assert!(!p.exists("out/platform.txt"));
}

#[test]
fn multi_env_keeps_environments_apart() {
    let p = example("multi-env");
    p.baton([
        "--env",
        "dev",
        "apply",
        "--var-file",
        "envs/dev.tfvars",
        "--auto-approve",
    ])
    .ok();
    p.baton([
        "--env",
        "prod",
        "apply",
        "--var-file",
        "envs/prod.tfvars",
        "--auto-approve",
    ])
    .ok();
    let dev = p.baton(["--env", "dev", "output", "--json"]).ok().json();
    let prod = p.baton(["--env", "prod", "output", "--json"]).ok().json();
    assert_eq!(dev["instances"]["value"]["web"], 1);
    assert_eq!(prod["instances"]["value"]["web"], 3);
    assert_eq!(prod["instances"]["value"]["worker"], 2);
    assert_eq!(
        prod["network"]["value"]["subnets"].as_array().map(Vec::len),
        Some(4)
    );
    assert!(p
        .read("out/prod/manifest.txt")
        .starts_with("environment: prod\n"));
    assert!(p
        .read("out/dev/manifest.txt")
        .starts_with("environment: dev\n"));
    assert!(p.read("out/prod/worker.json").contains("\"port\":9090"));
    // Each environment plans clean against its own state.
    p.baton(["--env", "prod", "plan", "--var-file", "envs/prod.tfvars"])
        .ok()
        .assert_stdout_contains("No changes.");
    // A validation rule guards the inputs.
    p.baton([
        "--env",
        "dev",
        "plan",
        "--var-file",
        "envs/dev.tfvars",
        "--var",
        "subnets=9",
    ])
    .fails()
    .assert_stderr_contains("subnets must be between 1 and 8.");
    p.baton([
        "--env",
        "dev",
        "destroy",
        "--var-file",
        "envs/dev.tfvars",
        "--auto-approve",
    ])
    .ok();
    assert!(!p.exists("out/dev/manifest.txt"));
    assert!(
        p.exists("out/prod/manifest.txt"),
        "destroying dev must not touch prod"
    );
    p.baton([
        "--env",
        "prod",
        "destroy",
        "--var-file",
        "envs/prod.tfvars",
        "--auto-approve",
    ])
    .ok();
}

#[test]
fn shell_git_wraps_a_real_tool() {
    let p = example("shell-git");
    p.baton(["apply", "--auto-approve"]).ok();
    assert!(p.exists("repos/app.git/HEAD"));
    assert_eq!(
        p.read("repos/infra.git/description"),
        "Infrastructure definitions\n"
    );
    let o = p.baton(["output", "--json"]).ok().json();
    assert_eq!(
        o["repos"]["value"]["app"]["description"],
        "Application code"
    );
    p.baton(["plan"]).ok().assert_stdout_contains("No changes.");
    // Drift: a description edited outside Baton is repaired by the update command.
    p.write("repos/app.git/description", "changed by hand\n");
    let plan = p.baton(["plan"]).ok();
    plan.assert_stdout_contains("shell_script.repo[\"app\"]");
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(p.read("repos/app.git/description"), "Application code\n");
    p.baton(["destroy", "--auto-approve"]).ok();
    assert!(!p.exists("repos/app.git"));
}

#[test]
fn workflow_example_deploys_and_the_release_waits_for_its_approval() {
    let p = example("workflow");
    let deploy = p.baton(["workflow", "run", "deploy"]).ok();
    assert!(deploy.stdout.contains("succeeded"), "{}", deploy.stdout);
    assert_eq!(
        p.read("stacks/app/out/dev.conf"),
        format!("subnet = subnet-{}\n", &sha256_hex("10.1.0.0/16")[..8])
    );
    let release = p
        .baton(["workflow", "run", "release", "--input", "env=staging"])
        .ok();
    assert!(
        release.stdout.contains("Promote staging (schema 42)?"),
        "{}",
        release.stdout
    );
    let runs = p.baton(["runs", "--json"]).ok().stdout;
    let runs: serde_json::Value = serde_json::from_str(&runs).expect("JSON");
    let id = runs[0]["id"].as_str().expect("newest run").to_string();
    p.baton(["approve", &id, "promote"]).ok();
    assert!(p.exists("stacks/app/out/staging.conf"));
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// examples/fleet: one apply makes two hosts (sshd servers on loopback ports), configures each
/// (a page and a web server) and checks that each serves its page; a page edited by hand is
/// drift that apply restores; destroy stops the web servers and the hosts.
#[test]
fn fleet_makes_configures_and_checks_hosts() {
    let p = example("fleet");
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    p.write(
        "terraform.tfvars.json",
        &serde_json::json!({
            "hosts": {
                "web1": {"ssh": ports[0], "web": ports[1]},
                "web2": {"ssh": ports[2], "web": ports[3]},
            }
        })
        .to_string(),
    );
    let out = p.baton(["apply", "--auto-approve"]).ok();
    out.assert_stdout_contains("Apply complete! Resources: 7 added");
    let o = p.baton(["output", "--json"]).ok().json();
    assert_eq!(o["pages"]["value"]["web1"], "Hello from web1");
    assert_eq!(o["pages"]["value"]["web2"], "Hello from web2");
    let plan = p.baton(["plan", "--detailed-exitcode"]).run();
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);

    let page = p.path().join(".fleet/web2/root/srv/index.html");
    std::fs::write(&page, "defaced\n").expect("edit");
    let drift = p.baton(["drift"]).run();
    assert_eq!(drift.code, Some(2), "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("remote_file.page[\"web2\"]"),
        "{}",
        drift.stdout
    );
    p.baton(["apply", "--auto-approve"]).ok();
    assert_eq!(
        std::fs::read_to_string(&page).expect("page"),
        "Hello from web2\n"
    );

    p.baton(["destroy", "--auto-approve"])
        .ok()
        .assert_stdout_contains("Destroy complete! Resources: 7 destroyed.");
    assert!(!p.path().join(".fleet/web1").exists());
    for port in [ports[1], ports[3]] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the web server on {port} was stopped"
        );
    }
}
