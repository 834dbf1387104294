//! End-to-end tests of `baton init` through the built binary: installing a plugin provider from
//! a filesystem mirror named in a CLI configuration given through `TF_CLI_CONFIG_FILE`, the lock
//! file, a rerun that changes nothing, `-upgrade`, built-in providers left alone, and clear
//! errors that write nothing.
//!
//! These tests only run the binary and look at files and output; fake provider packages are
//! small shell scripts in a real mirror directory.

mod common;

use common::Project;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

const ADDR: &str = "example.com/baton/batontest";

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

fn fake_pkg(mirror: &Path, version: &str) {
    let dir = mirror.join(ADDR).join(version).join(platform());
    std::fs::create_dir_all(&dir).expect("mkdir");
    let exe = dir.join(format!("terraform-provider-batontest_v{version}"));
    std::fs::write(&exe, format!("#!/bin/sh\necho {version}\n")).expect("write");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A mirror and a CLI configuration naming it, in their own temporary directory.
struct Mirror {
    dir: tempfile::TempDir,
}

impl Mirror {
    fn new(versions: &[&str], extra_cli: &str) -> Mirror {
        let dir = tempfile::tempdir().expect("tempdir");
        for v in versions {
            fake_pkg(&dir.path().join("mirror"), v);
        }
        std::fs::write(
            dir.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n{extra_cli}}}\n",
                dir.path().join("mirror").display()
            ),
        )
        .expect("write");
        Mirror { dir }
    }

    fn cli_file(&self) -> String {
        self.dir.path().join("cli.tfrc").display().to_string()
    }

    fn mirror(&self) -> PathBuf {
        self.dir.path().join("mirror")
    }
}

const MAIN: &str = r#"terraform {
  required_providers {
    batontest = {
      source  = "example.com/baton/batontest"
      version = "~> 0.1.0"
    }
    random = {
      source = "hashicorp/random"
    }
  }
}

resource "null_resource" "n" {}
"#;

#[test]
fn init_installs_from_a_mirror_and_a_rerun_changes_nothing() {
    let m = Mirror::new(&["0.1.0", "0.1.3", "0.2.0"], "");
    let p = Project::new(&[("main.tf", MAIN)]);
    let home = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        p.baton(args)
            .env("TF_CLI_CONFIG_FILE", &m.cli_file())
            .env("HOME", &home.path().display().to_string())
            .ok()
    };
    let out = run(&["init"]);
    for line in [
        "- registry.terraform.io/hashicorp/null is built in to Baton",
        "- registry.terraform.io/hashicorp/random is built in to Baton",
        "- Finding example.com/baton/batontest versions matching \"~> 0.1.0\"...",
        "- Installing example.com/baton/batontest v0.1.3...",
        "- Installed example.com/baton/batontest v0.1.3 (unauthenticated)",
        "Baton has created a lock file .terraform.lock.hcl",
        "Baton has been successfully initialized!",
    ] {
        assert!(
            out.stdout.contains(line),
            "{line:?} missing in:\n{}",
            out.stdout
        );
    }
    let exe = format!(
        ".terraform/providers/{ADDR}/0.1.3/{}/terraform-provider-batontest_v0.1.3",
        platform()
    );
    assert!(p.exists(&exe), "{exe}");
    let lock = p.read(".terraform.lock.hcl");
    assert!(
        lock.contains("provider \"example.com/baton/batontest\" {\n  version     = \"0.1.3\"\n  constraints = \"~> 0.1.0\"\n  hashes = [\n    \"h1:"),
        "{lock}"
    );
    assert!(!lock.contains("random") && !lock.contains("null"), "{lock}");

    // A rerun is a no-op.
    let before = p.snapshot_files();
    let out = run(&["init"]);
    assert!(
        out.stdout.contains("- Reusing previous version of example.com/baton/batontest from the dependency lock file"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("- Using previously-installed example.com/baton/batontest v0.1.3"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("created a lock file"),
        "{}",
        out.stdout
    );
    assert_eq!(p.snapshot_files(), before);

    // A newer allowed version: kept out by the lock file until -upgrade.
    fake_pkg(&m.mirror(), "0.1.4");
    let out = run(&["init"]);
    assert!(out.stdout.contains("v0.1.3"), "{}", out.stdout);
    let out = run(&["init", "-upgrade"]);
    assert!(
        out.stdout
            .contains("- Installed example.com/baton/batontest v0.1.4 (unauthenticated)"),
        "{}",
        out.stdout
    );
    assert!(p
        .read(".terraform.lock.hcl")
        .contains("version     = \"0.1.4\""));
}

#[test]
fn a_bad_constraint_is_a_clear_error_and_writes_nothing() {
    let m = Mirror::new(&["0.1.0"], "");
    let p = Project::new(&[(
        "versions.tf",
        "terraform {\n  required_providers {\n    batontest = {\n      source  = \"example.com/baton/batontest\"\n      version = \">= banana\"\n    }\n  }\n}\n",
    )]);
    let before = p.snapshot_files();
    let out = p
        .baton(["init"])
        .env("TF_CLI_CONFIG_FILE", &m.cli_file())
        .fails();
    assert!(out.stderr.contains("versions.tf"), "{}", out.stderr);
    assert!(out.stderr.contains(">= banana"), "{}", out.stderr);
    assert!(out.stderr.contains("batontest"), "{}", out.stderr);
    assert_eq!(p.snapshot_files(), before);
}

#[test]
fn a_provider_no_local_source_has_is_a_clear_error() {
    // Only the (empty) filesystem mirror: no network method applies (network downloads are
    // tested in tests/init_network.rs against a local HTTPS server).
    let m = Mirror::new(&[], "");
    let p = Project::new(&[("main.tf", MAIN)]);
    let before = p.snapshot_files();
    let out = p
        .baton(["init"])
        .env("TF_CLI_CONFIG_FILE", &m.cli_file())
        .fails();
    assert!(out.stderr.contains(ADDR), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no other installation method applies to it"),
        "{}",
        out.stderr
    );
    assert_eq!(p.snapshot_files(), before);
}

#[test]
fn a_bad_cli_configuration_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = dir.path().join("broken.tfrc");
    std::fs::write(&cli, "provider_installation {\n  filesystem_mirror {}\n}\n").expect("write");
    let p = Project::new(&[("main.tf", MAIN)]);
    let out = p
        .baton(["init"])
        .env("TF_CLI_CONFIG_FILE", &cli.display().to_string())
        .fails();
    assert!(out.stderr.contains("broken.tfrc"), "{}", out.stderr);
    assert!(!p.exists(".terraform.lock.hcl"));
}

#[test]
fn tf_plugin_cache_dir_is_filled_and_reused() {
    let m = Mirror::new(&["0.1.0"], "");
    let cache = tempfile::tempdir().expect("tempdir");
    let cache_dir = cache.path().display().to_string();
    let one = Project::new(&[("main.tf", MAIN)]);
    let out = one
        .baton(["init"])
        .env("TF_CLI_CONFIG_FILE", &m.cli_file())
        .env("TF_PLUGIN_CACHE_DIR", &cache_dir)
        .ok();
    assert!(
        out.stdout
            .contains("- Installed example.com/baton/batontest v0.1.0"),
        "{}",
        out.stdout
    );
    let cached = cache
        .path()
        .join(ADDR)
        .join("0.1.0")
        .join(platform())
        .join("terraform-provider-batontest_v0.1.0");
    assert!(cached.is_file(), "{}", cached.display());

    // Another configuration with the same lock file: from the cache, with the mirror gone.
    let two = Project::new(&[
        ("main.tf", MAIN),
        (".terraform.lock.hcl", &one.read(".terraform.lock.hcl")),
    ]);
    std::fs::remove_dir_all(m.mirror()).expect("rm mirror");
    let out = two
        .baton(["init"])
        .env("TF_CLI_CONFIG_FILE", &m.cli_file())
        .env("TF_PLUGIN_CACHE_DIR", &cache_dir)
        .ok();
    assert!(
        out.stdout
            .contains("- Using example.com/baton/batontest v0.1.0 from the shared cache directory"),
        "{}",
        out.stdout
    );
}
