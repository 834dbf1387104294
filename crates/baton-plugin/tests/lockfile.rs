//! Tests for the lock file and CLI configuration modules: realistic texts, byte-exact round
//! trips, error positions, and a cross-check against the real `terraform` binary (offline, with
//! a fake provider package in a filesystem mirror). They must not touch the network.

use std::path::Path;
use std::process::Command;

use baton_plugin::cliconfig::{self, InstallMethod};
use baton_plugin::lockfile::{self, LockError, LockFile, LockedProvider};

const REAL: &str = r#"# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.31.0"
  constraints = "~> 5.0"
  hashes = [
    "h1:ltxyuBWIy9cq0kIKDJH1jeWJy/y7XJLjS4QrsQK4plA=",
    "zh:0cdb9c2083bf0902442384f7309367791e4640581652dda456f2d6d7abf0de8d",
    "zh:2fe4884cb9642f48a5889f8dff8f5f511418a18537a9dfa77ada3bcdad391e4e",
  ]
}

provider "registry.terraform.io/hashicorp/random" {
  version = "3.6.0"
  hashes = [
    "h1:p6WG1IPHnqx1fnJVKNjv733FBaArIugqy58HRZnpPCk=",
  ]
}
"#;

#[test]
fn parses_a_real_lock_file() {
    let lock = lockfile::parse(REAL, ".terraform.lock.hcl").expect("parses");
    assert_eq!(lock.providers.len(), 2);
    let aws = &lock.providers["registry.terraform.io/hashicorp/aws"];
    assert_eq!(aws.version, "5.31.0");
    assert_eq!(aws.constraints.as_deref(), Some("~> 5.0"));
    assert_eq!(aws.hashes.len(), 3);
    assert!(aws.hashes[0].starts_with("h1:"));
    let random = &lock.providers["registry.terraform.io/hashicorp/random"];
    assert_eq!(random.constraints, None);
}

#[test]
fn round_trip_is_byte_identical() {
    let lock = lockfile::parse(REAL, "x").expect("parses");
    assert_eq!(lockfile::render(&lock), REAL);
}

#[test]
fn render_sorts_providers_and_hashes() {
    let mut lock = LockFile::default();
    lock.providers.insert(
        "registry.terraform.io/hashicorp/random".into(),
        LockedProvider {
            version: "3.6.0".into(),
            constraints: None,
            hashes: vec!["h1:p6WG1IPHnqx1fnJVKNjv733FBaArIugqy58HRZnpPCk=".into()],
        },
    );
    lock.providers.insert(
        "registry.terraform.io/hashicorp/aws".into(),
        LockedProvider {
            version: "5.31.0".into(),
            constraints: Some("~> 5.0".into()),
            hashes: vec![
                "zh:2fe4884cb9642f48a5889f8dff8f5f511418a18537a9dfa77ada3bcdad391e4e".into(),
                "h1:ltxyuBWIy9cq0kIKDJH1jeWJy/y7XJLjS4QrsQK4plA=".into(),
                "zh:0cdb9c2083bf0902442384f7309367791e4640581652dda456f2d6d7abf0de8d".into(),
                "h1:ltxyuBWIy9cq0kIKDJH1jeWJy/y7XJLjS4QrsQK4plA=".into(),
            ],
        },
    );
    assert_eq!(lockfile::render(&lock), REAL);
}

#[test]
fn empty_lock_file_is_just_the_header() {
    let text = lockfile::render(&LockFile::default());
    assert_eq!(text, lockfile::HEADER);
    assert_eq!(
        lockfile::parse(&text, "x").expect("parses"),
        LockFile::default()
    );
}

fn syntax_pos(e: LockError) -> (String, usize, usize) {
    match e {
        LockError::Syntax {
            file, line, column, ..
        } => (file, line, column),
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn errors_name_file_line_and_column() {
    let bad_syntax = "provider \"a/b/c\" {\n  version = \"1.0.0\n}\n";
    let (file, line, _) = syntax_pos(lockfile::parse(bad_syntax, "lock.hcl").expect_err("bad"));
    assert_eq!(file, "lock.hcl");
    assert_eq!(line, 2);

    let bad_value = "provider \"a/b/c\" {\n  version = 1\n}\n";
    let e = lockfile::parse(bad_value, "lock.hcl").expect_err("bad");
    assert!(e.to_string().starts_with("lock.hcl:2:13:"), "{e}");

    let bad_hash = "provider \"a/b/c\" {\n  version = \"1\"\n  hashes = [\"h1:x\", 3]\n}\n";
    let e = lockfile::parse(bad_hash, "lock.hcl").expect_err("bad");
    assert_eq!(syntax_pos(e), ("lock.hcl".into(), 3, 21));

    let missing = "\nprovider \"a/b/c\" {\n}\n";
    let e = lockfile::parse(missing, "lock.hcl").expect_err("bad");
    assert_eq!(syntax_pos(e), ("lock.hcl".into(), 2, 1));

    let unknown = "provider \"a/b/c\" {\n  version = \"1\"\n  bogus = \"x\"\n}\n";
    let e = lockfile::parse(unknown, "lock.hcl").expect_err("bad");
    assert_eq!(syntax_pos(e), ("lock.hcl".into(), 3, 3));
}

/// A fake provider package laid out as an unpacked filesystem mirror; returns the package dir.
fn fake_mirror(root: &Path, name: &str, version: &str) -> std::path::PathBuf {
    let pkg = root.join(format!("example.com/baton/{name}/{version}/linux_amd64"));
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let exe = pkg.join(format!("terraform-provider-{name}_v{version}"));
    std::fs::write(
        &exe,
        format!("#!/bin/sh\necho not a real provider {name}\n"),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    pkg
}

#[test]
fn h1_hash_matches_go_dirhash_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("b.txt"), b"b\n").expect("write");
    std::fs::write(dir.path().join("sub/a.txt"), b"a\n").expect("write");
    let h = lockfile::package_hash_h1(dir.path()).expect("hash");
    // Computed independently: sha256 of "<hex>  b.txt\n<hex>  sub/a.txt\n", base64.
    let expect = {
        use base64::Engine as _;
        use sha2::{Digest, Sha256};
        let hex = |b: &[u8]| {
            Sha256::digest(b)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
        };
        let summary = format!("{}  b.txt\n{}  sub/a.txt\n", hex(b"b\n"), hex(b"a\n"));
        format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
        )
    };
    assert_eq!(h, expect);
    assert!(lockfile::verify(dir.path(), &["zh:00".into(), h.clone()]));
    std::fs::write(dir.path().join("b.txt"), b"changed\n").expect("write");
    assert!(!lockfile::verify(dir.path(), &[h]));
    assert!(!lockfile::verify(&dir.path().join("missing"), &[]));
}

#[test]
fn matches_terraform_providers_lock() {
    let Ok(out) = Command::new("terraform").arg("version").output() else {
        panic!("terraform must be on PATH for this test");
    };
    assert!(out.status.success());
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    let pkg = fake_mirror(&mirror, "batontest", "0.1.0");
    let other = fake_mirror(&mirror, "another", "1.2.3");
    // A second package with two files, one in a subdirectory.
    std::fs::create_dir(other.join("docs")).expect("mkdir");
    std::fs::write(other.join("docs/README"), b"readme\n").expect("write");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    std::fs::write(
        work.join("main.tf"),
        "terraform {\n  required_providers {\n    batontest = {\n      source  = \"example.com/baton/batontest\"\n      version = \"0.1.0\"\n    }\n    another = {\n      source = \"example.com/baton/another\"\n    }\n  }\n}\n",
    )
    .expect("write");
    let out = Command::new("terraform")
        .current_dir(&work)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .arg("providers")
        .arg("lock")
        .arg(format!("-fs-mirror={}", mirror.display()))
        .arg("-platform=linux_amd64")
        .arg("example.com/baton/batontest")
        .arg("example.com/baton/another")
        .output()
        .expect("run terraform");
    assert!(
        out.status.success(),
        "terraform failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(work.join(".terraform.lock.hcl")).expect("lock file");
    let lock = lockfile::parse(&written, ".terraform.lock.hcl").expect("parses");
    // (a) byte-identical rendering
    assert_eq!(lockfile::render(&lock), written);
    // (b) our h1 hash of the package directory is the one terraform recorded
    let p = &lock.providers["example.com/baton/batontest"];
    assert_eq!(p.version, "0.1.0");
    let h1 = lockfile::package_hash_h1(&pkg).expect("hash");
    assert!(p.hashes.contains(&h1), "{h1} not in {:?}", p.hashes);
    assert!(lockfile::verify(&pkg, &p.hashes));
    let a = &lock.providers["example.com/baton/another"];
    assert_eq!(
        (a.version.as_str(), a.constraints.as_deref()),
        ("1.2.3", None)
    );
    assert!(lockfile::verify(&other, &a.hashes), "{:?}", a.hashes);
    assert!(!lockfile::verify(&other, &p.hashes));
    assert_eq!(lock.providers.len(), 2);
}

const CLI: &str = r#"# ~/.terraformrc
plugin_cache_dir   = "$HOME/.terraform.d/plugin-cache"
disable_checkpoint = true

credentials "app.terraform.io" {
  token = "not-read"
}

provider_installation {
  dev_overrides {
    "registry.terraform.io/hashicorp/aws" = "/home/dev/go/bin"
    "example.com/baton/batontest"         = "/opt/batontest"
  }
  filesystem_mirror {
    path    = "/usr/share/terraform/providers"
    include = ["example.com/*/*"]
  }
  network_mirror {
    url = "https://mirror.example.com/providers/"
  }
  direct {
    exclude = ["example.com/*/*", "registry.terraform.io/hashicorp/aws"]
  }
}
"#;

#[test]
fn parses_cli_config() {
    let cfg = cliconfig::parse(CLI, ".terraformrc").expect("parses");
    assert_eq!(
        cfg.plugin_cache_dir.as_deref(),
        Some("$HOME/.terraform.d/plugin-cache")
    );
    let inst = cfg.provider_installation.expect("installation");
    assert_eq!(inst.dev_overrides.len(), 2);
    assert_eq!(
        inst.dev_overrides["registry.terraform.io/hashicorp/aws"],
        "/home/dev/go/bin"
    );
    assert_eq!(inst.methods.len(), 3);
    match &inst.methods[0] {
        InstallMethod::FilesystemMirror { path, filter } => {
            assert_eq!(path, "/usr/share/terraform/providers");
            assert_eq!(filter.include, vec!["example.com/*/*".to_string()]);
            assert!(filter.exclude.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&inst.methods[1], InstallMethod::NetworkMirror { url, .. } if url == "https://mirror.example.com/providers/")
    );
    match &inst.methods[2] {
        InstallMethod::Direct { filter } => assert_eq!(filter.exclude.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cli_config_without_installation_block() {
    let cfg = cliconfig::parse("plugin_cache_dir = \"/tmp/c\"\n", "rc").expect("parses");
    assert_eq!(cfg.plugin_cache_dir.as_deref(), Some("/tmp/c"));
    assert_eq!(cfg.provider_installation, None);
    assert_eq!(
        cliconfig::parse("", "rc").expect("empty"),
        Default::default()
    );
}

#[test]
fn cli_config_errors_name_file_line_and_column() {
    let e = cliconfig::parse("plugin_cache_dir = 3\n", "rc").expect_err("bad");
    assert_eq!(syntax_pos(e), ("rc".into(), 1, 20));

    let text =
        "provider_installation {\n  filesystem_mirror {\n    include = [\"a/*/*\"]\n  }\n}\n";
    let e = cliconfig::parse(text, "rc").expect_err("no path");
    assert_eq!(syntax_pos(e), ("rc".into(), 2, 3));

    let text = "provider_installation {\n  dev_overrides {\n    \"a/b/c\" = 1\n  }\n}\n";
    let e = cliconfig::parse(text, "rc").expect_err("bad dir");
    assert_eq!(syntax_pos(e), ("rc".into(), 3, 15));

    let text = "provider_installation {\n  teleport {}\n}\n";
    let e = cliconfig::parse(text, "rc").expect_err("unknown method");
    assert_eq!(syntax_pos(e), ("rc".into(), 2, 3));

    let e = cliconfig::parse("provider_installation {\n", "rc").expect_err("syntax");
    assert_eq!(syntax_pos(e).0, "rc");
}
