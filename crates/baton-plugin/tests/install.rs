//! Provider installation on real files: version constraints (with `terraform init` as the
//! oracle for version choice and the canonical constraint text), provider addresses,
//! requirements from a loaded configuration, `locate` (dev_overrides, `.terraform/providers`),
//! and `init` from filesystem mirrors and the plugin cache with the lock file.
//!
//! No mocks: fake provider packages are small shell scripts in real mirror directories, and
//! the cross-checks run the real `terraform` with a CLI configuration written by the test (no
//! network is used).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use baton_plugin::cliconfig::{self, CliConfig};
use baton_plugin::install::{
    self, current_platform, Constraints, How, InstallError, ProviderAddr, Requirement, Version,
};
use baton_plugin::lockfile;

const ADDR: &str = "example.com/baton/fake";

/// Writes a fake package `HOST/NS/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION` under
/// `mirror` and returns its directory.
fn fake_pkg(mirror: &Path, addr: &str, version: &str) -> PathBuf {
    let a = ProviderAddr::parse(addr).expect("address");
    let dir = mirror
        .join(&a.hostname)
        .join(&a.namespace)
        .join(&a.type_name)
        .join(version)
        .join(current_platform());
    std::fs::create_dir_all(&dir).expect("mkdir");
    let exe = dir.join(format!("terraform-provider-{}_v{version}", a.type_name));
    std::fs::write(&exe, format!("#!/bin/sh\necho {addr} {version}\n")).expect("write");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn req(addr: &str, constraints: Option<&str>) -> Requirement {
    let a = ProviderAddr::parse(addr).expect("address");
    Requirement {
        local_name: a.type_name.clone(),
        addr: a,
        constraints: constraints.map(|c| Constraints::parse(c).expect("constraint")),
    }
}

fn mirror_cli(mirror: &Path, cache: Option<&Path>) -> CliConfig {
    let mut text = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
        mirror.display()
    );
    if let Some(c) = cache {
        text.push_str(&format!("plugin_cache_dir = \"{}\"\n", c.display()));
    }
    cliconfig::parse(&text, "test.tfrc").expect("cli config")
}

/// Every file and symlink under `dir` with its content (or link target), for "nothing
/// changed" checks.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().expect("file type");
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).expect("readlink");
                out.insert(p, t.to_string_lossy().as_bytes().to_vec());
            } else if ft.is_dir() {
                out.insert(p.clone(), Vec::new());
                walk(&p, out);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("read"));
            }
        }
    }
    walk(dir, &mut out);
    out
}

#[test]
fn constraint_matching_table() {
    // (constraint, version, matches) — the ~> and prerelease rules are those of `terraform
    // init` v1.11 (see `version_choice_matches_terraform_init` for the live check).
    let cases: &[(&str, &str, bool)] = &[
        (">= 1.0, < 2.0", "1.0.0", true),
        (">= 1.0, < 2.0", "1.9.9", true),
        (">= 1.0, < 2.0", "2.0.0", false),
        (">= 1.0, < 2.0", "0.9.0", false),
        (">=1.0,<2.0", "1.5.0", true),
        ("~> 1.2", "1.2.0", true),
        ("~> 1.2", "1.9.0", true),
        ("~> 1.2", "2.0.0", false),
        ("~> 1.2", "1.1.9", false),
        ("~> 1.2.0", "1.2.9", true),
        ("~> 1.2.0", "1.3.0", false),
        ("~> 1.2.3", "1.2.2", false),
        ("~> 1", "1.9.0", true),
        ("~> 1", "2.0.0", false),
        ("= 1.2.3", "1.2.3", true),
        ("= 1.2.3", "1.2.4", false),
        ("1.2.3", "1.2.3", true),
        ("= 1.2", "1.2.0", true),
        ("= 1.2", "1.2.5", false),
        ("1", "1.0.0", true),
        ("1", "1.2.0", false),
        ("!= 1.3.0", "1.3.0", false),
        ("!= 1.3.0", "1.3.1", true),
        ("> 1.2", "1.2.0", false),
        ("> 1.2", "1.2.1", true),
        ("<= 1.2", "1.2.0", true),
        ("<= 1.2", "1.2.1", false),
        ("< 1.2", "1.1.9", true),
        // Prereleases: only an exact term naming them selects them.
        ("2.0.0-beta1", "2.0.0-beta1", true),
        ("= 2.0.0-beta1", "2.0.0-beta1", true),
        (">= 2.0.0-beta1", "2.0.0-beta1", false),
        (">= 2.0.0-beta1", "2.0.0", true),
        (">= 1.0", "2.0.0-beta1", false),
        ("~> 2.1.0-rc1", "2.1.0-rc1", false),
        ("~> 2.1.0-rc1", "2.1.0", true),
        ("< 2.0.0-beta1", "1.3.0", true),
        ("< 2.0.0-beta1", "2.0.0-alpha", false),
        ("2.0.0-beta1, < 3", "2.0.0-beta1", true),
        ("2.0.0-beta1, != 2.0.0-beta1", "2.0.0-beta1", false),
    ];
    for (c, v, want) in cases {
        let cs = Constraints::parse(c).expect("constraint parses");
        let ver = Version::parse(v).expect("version parses");
        assert_eq!(cs.matches(&ver), *want, "{c:?} vs {v}");
    }
    // No constraints: any release, no prerelease.
    let pre = Version::parse("1.0.0-rc1").expect("version");
    assert!(!install::allowed(None, &pre));
    assert!(install::allowed(None, &Version::parse("0.0.1").expect("v")));
}

#[test]
fn constraint_canonical_text_is_terraforms() {
    // Recorded from `terraform init` v1.11 (the `constraints` it wrote to the lock file);
    // `version_choice_matches_terraform_init` re-checks some of them live.
    let cases: &[(&[&str], &str)] = &[
        (&[">=1.0,<2.0"], ">= 1.0.0, < 2.0.0"),
        (&["~> 1.2"], "~> 1.2"),
        (&["~> 1"], "~> 1.0"),
        (&["= 1.2.0"], "1.2.0"),
        (&["= 1.2"], "1.2.0"),
        (&[" >= 1.1.0 , != 2.0.0 "], ">= 1.1.0, != 2.0.0"),
        (
            &["< 2.0.0, >= 1.0.0, != 1.3.0"],
            ">= 1.0.0, != 1.3.0, < 2.0.0",
        ),
        (
            &["~> 1.2.3, >= 1.2.4, < 1.10"],
            "~> 1.2.3, >= 1.2.4, < 1.10.0",
        ),
        (&[">= 1.0", "~> 1.2.0"], ">= 1.0.0, ~> 1.2.0"),
        (&["~> 1.2.0", ">= 1.0"], ">= 1.0.0, ~> 1.2.0"),
        (&["1.2.0", "= 1.2.0"], "1.2.0"),
        (&[">= 1.0", ">= 1.0"], ">= 1.0.0"),
        (&["~> 1.2.0", "~> 1.2"], "~> 1.2.0, ~> 1.2"),
        (
            &["> 1.2.0, >= 1.1, <= 1.3, < 1.4, ~> 1.0, != 1.2.0, = 1.2.5"],
            "~> 1.0, >= 1.1.0, > 1.2.0, != 1.2.0, 1.2.5, <= 1.3.0, < 1.4.0",
        ),
        (
            &[">= 1.2.0, > 1.2.0, != 1.2.0, <= 1.2.0, < 1.2.0, ~> 1.2.0, 1.2.0"],
            "> 1.2.0, >= 1.2.0, 1.2.0, ~> 1.2.0, <= 1.2.0, < 1.2.0, != 1.2.0",
        ),
        (&[">= 2.0.0-beta1, < 3"], ">= 2.0.0-beta1, < 3.0.0"),
    ];
    for (parts, want) in cases {
        let mut c = Constraints::default();
        for p in *parts {
            c.merge(&Constraints::parse(p).expect("parses"));
        }
        assert_eq!(c.to_string(), *want, "{parts:?}");
    }
}

#[test]
fn bad_constraints_are_refused() {
    for bad in [
        "",
        "v1.2.0",
        "~> 1.2.0.1",
        ">= x",
        "1.2,",
        ">= 1.2.",
        "=> 1.0",
        "1.0-",
    ] {
        let e = Constraints::parse(bad).expect_err(bad);
        assert_eq!(e.text, bad);
    }
}

#[test]
fn versions_order_by_semver_precedence() {
    let mut vs: Vec<Version> = [
        "1.10.0",
        "1.2.0",
        "1.2.0-beta.2",
        "1.2.0-beta.10",
        "1.2.0-alpha",
        "1.2.0-beta",
        "0.9.9",
    ]
    .iter()
    .map(|v| Version::parse(v).expect("version"))
    .collect();
    vs.sort();
    let got: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        got,
        [
            "0.9.9",
            "1.2.0-alpha",
            "1.2.0-beta",
            "1.2.0-beta.2",
            "1.2.0-beta.10",
            "1.2.0",
            "1.10.0"
        ]
    );
}

#[test]
fn provider_addresses() {
    let full = |s: &str| ProviderAddr::parse(s).expect(s).to_string();
    assert_eq!(full("hashicorp/aws"), "registry.terraform.io/hashicorp/aws");
    assert_eq!(full("aws"), "registry.terraform.io/hashicorp/aws");
    assert_eq!(full("Example.COM/Baton/Fake"), "example.com/baton/fake");
    assert_eq!(full("localhost:8080/a/b"), "localhost:8080/a/b");
    assert_eq!(full("Example.com:443/a/b"), "example.com/a/b");
    assert_eq!(
        ProviderAddr::for_local_name("aws").to_string(),
        "registry.terraform.io/hashicorp/aws"
    );
    assert_eq!(
        ProviderAddr::for_local_name("terraform").to_string(),
        "terraform.io/builtin/terraform"
    );
    for bad in [
        "",
        "a/b/c/d",
        "a//b",
        "hashicorp/terraform-provider-aws",
        "a/b c",
        "-a/b",
        "localhost:/a/b",
        "localhost:http/a/b",
        "localhost:99999/a/b",
        "a:1:2/b/c",
    ] {
        match ProviderAddr::parse(bad) {
            Err(InstallError::BadAddress { text, .. }) => assert_eq!(text, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

fn load(dir: &Path) -> baton_config::Config {
    let sources = baton_core::Sources::new();
    let (config, diags) = baton_config::load_config(dir, &sources);
    assert!(!diags.has_errors(), "config errors");
    config
}

#[test]
fn requirements_merge_modules_and_imply_sources() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::create_dir(root.join("child")).expect("mkdir");
    std::fs::write(
        root.join("main.tf"),
        r#"terraform {
  required_providers {
    fake = { source = "example.com/baton/fake", version = ">= 1.0" }
    old  = "~> 2.0"
    aws  = { source = "hashicorp/aws" }
  }
}
module "c" { source = "./child" }
resource "null_resource" "n" {}
"#,
    )
    .expect("write");
    std::fs::write(
        root.join("child/main.tf"),
        r#"terraform {
  required_providers {
    f2 = { source = "Example.com/baton/FAKE", version = "~> 1.2.0" }
  }
}
"#,
    )
    .expect("write");
    let reqs = install::requirements(&load(root)).expect("requirements");
    let got: Vec<(String, String, Option<String>)> = reqs
        .iter()
        .map(|r| {
            (
                r.local_name.clone(),
                r.addr.to_string(),
                r.constraints.as_ref().map(|c| c.to_string()),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "fake".into(),
                ADDR.into(),
                Some(">= 1.0.0, ~> 1.2.0".into())
            ),
            (
                "aws".into(),
                "registry.terraform.io/hashicorp/aws".into(),
                None
            ),
            (
                "null".into(),
                "registry.terraform.io/hashicorp/null".into(),
                None
            ),
            (
                "old".into(),
                "registry.terraform.io/hashicorp/old".into(),
                Some("~> 2.0".into())
            ),
        ]
    );
}

#[test]
fn requirements_errors_name_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.tf"), "# nothing here\n").expect("write");
    std::fs::write(
        tmp.path().join("versions.tf"),
        "terraform {\n  required_providers {\n    fake = { source = \"example.com/baton/fake\", version = \">= banana\" }\n  }\n}\n",
    )
    .expect("write");
    let e = install::requirements(&load(tmp.path())).expect_err("bad constraint");
    let msg = e.to_string();
    assert!(msg.contains("versions.tf"), "{msg}");
    assert!(msg.contains(">= banana") && msg.contains("fake"), "{msg}");

    std::fs::write(
        tmp.path().join("versions.tf"),
        "terraform {\n  required_providers {\n    fake = { source = \"a/b/c/d\" }\n  }\n}\n",
    )
    .expect("write");
    let e = install::requirements(&load(tmp.path())).expect_err("bad source");
    assert!(
        matches!(&e, InstallError::BadRequirement { file, .. } if file.ends_with("versions.tf")),
        "{e}"
    );
}

#[test]
fn locate_finds_dev_overrides_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dev = tmp.path().join("dev");
    std::fs::create_dir(&dev).expect("mkdir");
    std::fs::write(dev.join("terraform-provider-fake_v9.9.9"), "#!/bin/sh\n").expect("write");
    std::fs::write(dev.join("README"), "not me\n").expect("write");
    let root = tmp.path().join("root");
    fake_pkg(&root.join(".terraform/providers"), ADDR, "1.0.0");
    let cli = cliconfig::parse(
        &format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{ADDR}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            dev.display()
        ),
        "rc",
    )
    .expect("cli");
    let l = install::locate(&req(ADDR, None), &root, &cli, None)
        .expect("locate")
        .expect("found");
    assert!(l.dev_override);
    assert_eq!(l.version, None);
    assert_eq!(l.executable, dev.join("terraform-provider-fake_v9.9.9"));
    // The exact name wins over a versioned one.
    std::fs::write(dev.join("terraform-provider-fake"), "#!/bin/sh\n").expect("write");
    let l = install::locate(&req(ADDR, None), &root, &cli, None)
        .expect("locate")
        .expect("found");
    assert_eq!(l.executable, dev.join("terraform-provider-fake"));
    // A dev_overrides directory without the executable is an error naming the provider.
    std::fs::remove_file(dev.join("terraform-provider-fake")).expect("rm");
    std::fs::remove_file(dev.join("terraform-provider-fake_v9.9.9")).expect("rm");
    let e = install::locate(&req(ADDR, None), &root, &cli, None).expect_err("no exe");
    assert!(e.to_string().contains(ADDR), "{e}");
}

#[test]
fn locate_reads_the_terraform_providers_layout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let base = root.join(".terraform/providers");
    for v in ["1.0.0", "1.2.0", "2.0.0", "3.0.0-rc1"] {
        fake_pkg(&base, ADDR, v);
    }
    let cli = CliConfig::default();
    let find = |c: Option<&str>, lock: Option<&lockfile::LockFile>| {
        install::locate(&req(ADDR, c), root, &cli, lock)
            .expect("locate")
            .map(|l| l.version.expect("a version"))
    };
    assert_eq!(find(None, None).as_deref(), Some("2.0.0"));
    assert_eq!(find(Some("~> 1.0"), None).as_deref(), Some("1.2.0"));
    assert_eq!(find(Some(">= 5"), None), None);
    let lock = lockfile::parse(
        &format!("provider \"{ADDR}\" {{\n  version = \"1.0.0\"\n}}\n"),
        "lock",
    )
    .expect("lock");
    assert_eq!(find(None, Some(&lock)).as_deref(), Some("1.0.0"));
    let lock9 = lockfile::parse(
        &format!("provider \"{ADDR}\" {{\n  version = \"9.0.0\"\n}}\n"),
        "lock",
    )
    .expect("lock");
    assert_eq!(find(None, Some(&lock9)), None);
    let l = install::locate(&req(ADDR, Some("1.0.0")), root, &cli, None)
        .expect("locate")
        .expect("found");
    assert_eq!(
        l.executable,
        base.join("example.com/baton/fake/1.0.0")
            .join(current_platform())
            .join("terraform-provider-fake_v1.0.0")
    );
    assert!(!l.dev_override);
    // Nothing installed at all.
    let empty = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        install::locate(&req(ADDR, None), empty.path(), &cli, None).expect("locate"),
        None
    );
}

#[test]
fn init_installs_newest_matching_version_and_writes_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    for v in ["1.1.0", "1.2.0", "1.2.5", "1.3.0", "2.0.0", "2.1.0-rc1"] {
        fake_pkg(&mirror, ADDR, v);
    }
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let cli = mirror_cli(&mirror, None);
    let report = install::init(&[req(ADDR, Some("~> 1.2.0"))], &root, &cli, false).expect("init");
    assert!(report.lock_changed);
    let [i] = report.installed.as_slice() else {
        panic!("{report:?}")
    };
    assert_eq!(i.version, "1.2.5");
    assert!(matches!(i.how, How::Mirror(_)));
    let exe = i.package_dir.join("terraform-provider-fake_v1.2.5");
    let mode = std::fs::metadata(&exe)
        .expect("installed")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "executable bit kept");
    assert!(!std::fs::symlink_metadata(&i.package_dir)
        .expect("meta")
        .file_type()
        .is_symlink());
    let lock = lockfile::load(&root.join(".terraform.lock.hcl")).expect("lock");
    let p = &lock.providers[ADDR];
    assert_eq!(p.version, "1.2.5");
    assert_eq!(p.constraints.as_deref(), Some("~> 1.2.0"));
    let h1 = lockfile::package_hash_h1(&i.package_dir).expect("hash");
    assert_eq!(p.hashes, vec![h1]);
    // located where init put it
    let l = install::locate(&req(ADDR, Some("~> 1.2.0")), &root, &cli, Some(&lock))
        .expect("locate")
        .expect("found");
    assert_eq!(l.version.as_deref(), Some("1.2.5"));

    // A rerun changes nothing.
    let before = snapshot(&root);
    let report =
        install::init(&[req(ADDR, Some("~> 1.2.0"))], &root, &cli, false).expect("init again");
    assert!(!report.lock_changed);
    assert_eq!(report.installed[0].how, How::AlreadyInstalled);
    assert_eq!(snapshot(&root), before);
}

#[test]
fn locked_version_stays_unless_upgrade() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    fake_pkg(&mirror, ADDR, "1.2.0");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let cli = mirror_cli(&mirror, None);
    let r = [req(ADDR, Some(">= 1.0"))];
    install::init(&r, &root, &cli, false).expect("init");
    // Keep a hash of another scheme: it must survive while the version is unchanged.
    let lock_path = root.join(".terraform.lock.hcl");
    let mut lock = lockfile::load(&lock_path).expect("lock");
    lock.providers
        .get_mut(ADDR)
        .expect("entry")
        .hashes
        .push("zh:0000".into());
    lockfile::save(&lock, &lock_path).expect("save");

    fake_pkg(&mirror, ADDR, "1.3.0");
    let report = install::init(&r, &root, &cli, false).expect("init again");
    assert_eq!(report.installed[0].version, "1.2.0");
    assert!(report.installed[0].from_lock);
    let lock = lockfile::load(&lock_path).expect("lock");
    assert_eq!(lock.providers[ADDR].version, "1.2.0");
    assert!(lock.providers[ADDR].hashes.contains(&"zh:0000".to_string()));

    let report = install::init(&r, &root, &cli, true).expect("upgrade");
    assert_eq!(report.installed[0].version, "1.3.0");
    assert!(!report.installed[0].from_lock);
    let lock = lockfile::load(&lock_path).expect("lock");
    assert_eq!(lock.providers[ADDR].version, "1.3.0");
    assert_eq!(lock.providers[ADDR].hashes.len(), 1, "old hashes dropped");

    // A lock entry the constraints no longer allow is refused, as Terraform refuses it, and
    // nothing changes; `-upgrade` then gives the newest allowed version.
    let before = std::fs::read_to_string(&lock_path).expect("lock text");
    let err = install::init(&[req(ADDR, Some("< 1.3"))], &root, &cli, false)
        .expect_err("a locked version outside the constraints");
    assert!(err.to_string().contains("-upgrade"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&lock_path).expect("lock text"),
        before
    );
    let report = install::init(&[req(ADDR, Some("< 1.3"))], &root, &cli, true).expect("init");
    assert_eq!(report.installed[0].version, "1.2.0");
}

#[test]
fn plugin_cache_is_filled_and_reused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    fake_pkg(&mirror, ADDR, "0.1.0");
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&cache).expect("mkdir");
    let cli = mirror_cli(&mirror, Some(&cache));
    let root = tmp.path().join("one");
    std::fs::create_dir(&root).expect("mkdir");
    let report = install::init(&[req(ADDR, None)], &root, &cli, false).expect("init");
    let cached = cache
        .join("example.com/baton/fake/0.1.0")
        .join(current_platform());
    assert!(cached.join("terraform-provider-fake_v0.1.0").is_file());
    let target = &report.installed[0].package_dir;
    assert!(std::fs::symlink_metadata(target)
        .expect("meta")
        .file_type()
        .is_symlink());
    assert!(target.join("terraform-provider-fake_v0.1.0").is_file());

    // A second configuration with the same lock file installs from the cache, even with the
    // mirror gone.
    let two = tmp.path().join("two");
    std::fs::create_dir(&two).expect("mkdir");
    std::fs::copy(
        root.join(".terraform.lock.hcl"),
        two.join(".terraform.lock.hcl"),
    )
    .expect("copy lock");
    std::fs::remove_dir_all(&mirror).expect("rm mirror");
    let report = install::init(&[req(ADDR, None)], &two, &cli, false).expect("init from cache");
    assert_eq!(report.installed[0].how, How::Cache(cached.clone()));
    assert!(!report.lock_changed);
    assert_eq!(
        std::fs::read_link(&report.installed[0].package_dir).expect("link"),
        std::fs::canonicalize(&cached).expect("canon")
    );
}

#[test]
fn a_lock_hash_mismatch_is_refused_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    fake_pkg(&mirror, ADDR, "1.0.0");
    fake_pkg(&mirror, "example.com/baton/other", "1.0.0");
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&cache).expect("mkdir");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let lock_text = format!(
        "{}\nprovider \"{ADDR}\" {{\n  version = \"1.0.0\"\n  hashes = [\n    \"h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\n  ]\n}}\n",
        lockfile::HEADER
    );
    std::fs::write(root.join(".terraform.lock.hcl"), &lock_text).expect("write");
    let before_root = snapshot(&root);
    let before_cache = snapshot(&cache);
    // The other provider comes first: it must not be installed either.
    let e = install::init(
        &[req("example.com/baton/other", None), req(ADDR, None)],
        &root,
        &mirror_cli(&mirror, Some(&cache)),
        false,
    )
    .expect_err("mismatch");
    assert!(
        matches!(&e, InstallError::HashMismatch { addr, version, .. } if addr.to_string() == ADDR && version == "1.0.0"),
        "{e}"
    );
    assert!(e.to_string().contains(ADDR), "{e}");
    assert_eq!(snapshot(&root), before_root);
    assert_eq!(snapshot(&cache), before_cache);
}

#[test]
fn no_local_source_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let cli = cliconfig::parse(
        "provider_installation {\n  network_mirror {\n    url = \"https://mirror.example/\"\n  }\n  direct {}\n}\n",
        "rc",
    )
    .expect("cli");
    let e = install::init(&[req(ADDR, None)], root, &cli, false).expect_err("unavailable");
    let msg = e.to_string();
    assert!(msg.contains(ADDR), "{msg}");
    assert!(msg.contains("no network source is reachable"), "{msg}");
    assert!(!root.join(".terraform").exists());
    assert!(!root.join(".terraform.lock.hcl").exists());

    // Versions exist, none allowed: the error lists them.
    let mirror = tmp.path().join("mirror");
    fake_pkg(&mirror, ADDR, "1.0.0");
    let e = install::init(
        &[req(ADDR, Some(">= 2"))],
        root,
        &mirror_cli(&mirror, None),
        false,
    )
    .expect_err("no match");
    assert!(matches!(e, InstallError::NoMatch { .. }), "{e}");
    assert!(e.to_string().contains("1.0.0"), "{e}");

    // include/exclude: a mirror that excludes the provider is not searched.
    let cli = cliconfig::parse(
        &format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n    exclude = [\"example.com/*/*\"]\n  }}\n  direct {{\n    include = [\"example.com/baton/*\"]\n  }}\n}}\n",
            mirror.display()
        ),
        "rc",
    )
    .expect("cli");
    let e = install::init(&[req(ADDR, None)], root, &cli, false).expect_err("excluded");
    assert!(
        e.to_string().contains("no network source is reachable"),
        "{e}"
    );
}

#[test]
fn implied_mirror_dirs_are_searched_without_provider_installation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = tmp.path().join("home/.terraform.d/plugins");
    fake_pkg(&plugins, ADDR, "0.3.0");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let cli = CliConfig {
        implied_mirror_dirs: vec![tmp.path().join("missing"), plugins],
        ..CliConfig::default()
    };
    let report = install::init(&[req(ADDR, None)], &root, &cli, false).expect("init");
    assert_eq!(report.installed[0].version, "0.3.0");
}

#[test]
fn dev_overridden_providers_are_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dev = tmp.path().join("dev");
    std::fs::create_dir(&dev).expect("mkdir");
    std::fs::write(dev.join("terraform-provider-fake"), "#!/bin/sh\n").expect("write");
    let cli = cliconfig::parse(
        &format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{ADDR}\" = \"{}\"\n  }}\n}}\n",
            dev.display()
        ),
        "rc",
    )
    .expect("cli");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let report = install::init(&[req(ADDR, Some("1.0.0"))], &root, &cli, false).expect("init");
    assert!(report.installed.is_empty());
    assert_eq!(report.dev_overrides.len(), 1);
    assert!(!root.join(".terraform.lock.hcl").exists());
}

fn terraform_init(work: &Path, cli_file: &Path) -> std::process::Output {
    Command::new("terraform")
        .current_dir(work)
        .env("TF_CLI_CONFIG_FILE", cli_file)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env_remove("TF_PLUGIN_CACHE_DIR")
        .args(["init", "-backend=false", "-input=false", "-no-color"])
        .output()
        .expect("terraform must be on PATH for this test")
}

fn write_config(dir: &Path, constraint: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(
        dir.join("main.tf"),
        format!(
            "terraform {{\n  required_providers {{\n    fake = {{\n      source  = \"{ADDR}\"\n      version = \"{constraint}\"\n    }}\n  }}\n}}\n"
        ),
    )
    .expect("write");
}

#[test]
fn init_writes_the_lock_terraform_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    for v in ["0.9.0", "1.0.0", "1.4.2", "2.0.0"] {
        let pkg = fake_pkg(&mirror, ADDR, v);
        std::fs::create_dir(pkg.join("docs")).expect("mkdir");
        std::fs::write(pkg.join("docs/CHANGELOG"), format!("{v}\n")).expect("write");
    }
    let cli_file = tmp.path().join("cli.tfrc");
    std::fs::write(
        &cli_file,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            mirror.display()
        ),
    )
    .expect("write");
    let tf_dir = tmp.path().join("tf");
    let bt_dir = tmp.path().join("baton");
    write_config(&tf_dir, ">=1.0,< 2.0");
    write_config(&bt_dir, ">=1.0,< 2.0");
    let out = terraform_init(&tf_dir, &cli_file);
    assert!(
        out.status.success(),
        "terraform init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = cliconfig::load(&cli_file).expect("cli");
    let reqs = install::requirements(&load(&bt_dir)).expect("requirements");
    install::init(&reqs, &bt_dir, &cli, false).expect("init");
    let tf_lock = std::fs::read_to_string(tf_dir.join(".terraform.lock.hcl")).expect("tf lock");
    let bt_lock = std::fs::read_to_string(bt_dir.join(".terraform.lock.hcl")).expect("lock");
    assert_eq!(bt_lock, tf_lock);
    assert!(tf_lock.contains("version     = \"1.4.2\""), "{tf_lock}");
    assert!(
        tf_lock.contains("constraints = \">= 1.0.0, < 2.0.0\""),
        "{tf_lock}"
    );

    // `locate` finds what terraform installed (a symlink into the mirror, with terraform's
    // lock file choosing the version).
    let lock = lockfile::load(&tf_dir.join(".terraform.lock.hcl")).expect("lock");
    let l = install::locate(&reqs[0], &tf_dir, &cli, Some(&lock))
        .expect("locate")
        .expect("found");
    assert_eq!(l.version.as_deref(), Some("1.4.2"));
    assert_eq!(
        std::fs::canonicalize(&l.executable).expect("canon"),
        std::fs::canonicalize(
            mirror
                .join("example.com/baton/fake/1.4.2")
                .join(current_platform())
                .join("terraform-provider-fake_v1.4.2")
        )
        .expect("canon")
    );

    // And terraform accepts the lock Baton wrote: with it, terraform init keeps 1.4.2 even
    // though the constraint would now allow 2.0.0 (its hash check passes).
    write_config(&bt_dir, ">= 1.0");
    let out = terraform_init(&bt_dir, &cli_file);
    assert!(
        out.status.success(),
        "terraform init on Baton's lock failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = lockfile::load(&bt_dir.join(".terraform.lock.hcl")).expect("lock");
    assert_eq!(after.providers[ADDR].version, "1.4.2");
}

#[test]
fn version_choice_matches_terraform_init() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    for v in [
        "1.1.0",
        "1.2.0",
        "1.2.5",
        "1.3.0",
        "2.0.0",
        "2.0.0-beta1",
        "2.1.0-rc1",
    ] {
        fake_pkg(&mirror, ADDR, v);
    }
    let cli_file = tmp.path().join("cli.tfrc");
    std::fs::write(
        &cli_file,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            mirror.display()
        ),
    )
    .expect("write");
    let cli = cliconfig::load(&cli_file).expect("cli");
    for (i, c) in [
        "~> 1.2",
        "= 1.2",
        "> 1.2",
        "!= 1.3.0, < 2.0.0",
        ">= 2.0.0-beta1",
        "2.1.0-rc1",
        "~> 2.1.0-rc1",
    ]
    .iter()
    .enumerate()
    {
        let tf_dir = tmp.path().join(format!("tf{i}"));
        write_config(&tf_dir, c);
        let out = terraform_init(&tf_dir, &cli_file);
        let tf = out.status.success().then(|| {
            let l = lockfile::load(&tf_dir.join(".terraform.lock.hcl")).expect("lock");
            let p = &l.providers[ADDR];
            (p.version.clone(), p.constraints.clone())
        });
        let bt_dir = tmp.path().join(format!("bt{i}"));
        std::fs::create_dir(&bt_dir).expect("mkdir");
        let ours = install::init(&[req(ADDR, Some(c))], &bt_dir, &cli, false)
            .ok()
            .map(|r| {
                (
                    r.installed[0].version.clone(),
                    r.installed[0].constraints.clone(),
                )
            });
        assert_eq!(ours, tf, "constraint {c:?}");
    }
}

/// Writes a packed package `HOST/NS/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip` (the
/// executable with mode 0755, and a README) and returns its path.
fn fake_zip(mirror: &Path, addr: &str, version: &str, entries: &[(&str, &str)]) -> PathBuf {
    use std::io::Write as _;
    let a = ProviderAddr::parse(addr).expect("address");
    let dir = mirror
        .join(&a.hostname)
        .join(&a.namespace)
        .join(&a.type_name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(format!(
        "terraform-provider-{}_{version}_{}.zip",
        a.type_name,
        current_platform()
    ));
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
    let exe = format!("terraform-provider-{}_v{version}", a.type_name);
    let mut all: Vec<(&str, String, u32)> =
        vec![(exe.as_str(), format!("#!/bin/sh\necho {version}\n"), 0o755)];
    for (n, c) in entries {
        all.push((n, c.to_string(), 0o644));
    }
    for (name, content, mode) in all {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode);
        w.start_file(name, opts).expect("start");
        w.write_all(content.as_bytes()).expect("write");
    }
    w.finish().expect("finish");
    path
}

#[test]
fn init_installs_from_a_packed_mirror() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    fake_pkg(&mirror, ADDR, "1.0.0");
    let zip = fake_zip(&mirror, ADDR, "1.1.0", &[("docs/README", "hello\n")]);
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let cli = mirror_cli(&mirror, None);
    let report = install::init(&[req(ADDR, None)], &root, &cli, false).expect("init");
    let i = &report.installed[0];
    assert_eq!(i.version, "1.1.0");
    assert_eq!(i.how, How::Mirror(zip));
    let exe = i.package_dir.join("terraform-provider-fake_v1.1.0");
    let mode = std::fs::metadata(&exe)
        .expect("unpacked")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_to_string(i.package_dir.join("docs/README")).expect("readme"),
        "hello\n"
    );
    // The lock's h1 (computed from the zip) is the hash of what was unpacked.
    let lock = lockfile::load(&root.join(".terraform.lock.hcl")).expect("lock");
    assert_eq!(
        lock.providers[ADDR].hashes,
        vec![lockfile::package_hash_h1(&i.package_dir).expect("hash")]
    );
    // Rerun: nothing changes.
    let before = snapshot(&root);
    let report = install::init(&[req(ADDR, None)], &root, &cli, false).expect("again");
    assert_eq!(report.installed[0].how, How::AlreadyInstalled);
    assert_eq!(snapshot(&root), before);
}

#[test]
fn a_zip_entry_outside_the_package_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    fake_zip(&mirror, ADDR, "1.0.0", &[("../escape", "x\n")]);
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let e = install::init(&[req(ADDR, None)], &root, &mirror_cli(&mirror, None), false)
        .expect_err("refused");
    assert!(matches!(e, InstallError::BadPackage { .. }), "{e}");
    assert!(e.to_string().contains("outside the package"), "{e}");
    assert!(!tmp.path().join("escape").exists());
    assert!(!root.join(".terraform").exists());
}

#[test]
fn packed_mirror_lock_matches_terraform() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    fake_zip(&mirror, ADDR, "0.4.0", &[("LICENSE", "MIT\n")]);
    let cli_file = tmp.path().join("cli.tfrc");
    std::fs::write(
        &cli_file,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            mirror.display()
        ),
    )
    .expect("write");
    let tf_dir = tmp.path().join("tf");
    let bt_dir = tmp.path().join("baton");
    write_config(&tf_dir, "~> 0.4");
    write_config(&bt_dir, "~> 0.4");
    let out = terraform_init(&tf_dir, &cli_file);
    assert!(
        out.status.success(),
        "terraform init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = cliconfig::load(&cli_file).expect("cli");
    let reqs = install::requirements(&load(&bt_dir)).expect("requirements");
    install::init(&reqs, &bt_dir, &cli, false).expect("init");
    assert_eq!(
        std::fs::read_to_string(bt_dir.join(".terraform.lock.hcl")).expect("lock"),
        std::fs::read_to_string(tf_dir.join(".terraform.lock.hcl")).expect("tf lock")
    );
    // Both unpacked the same files.
    let pkg = |root: &Path| {
        root.join(".terraform/providers")
            .join(ADDR)
            .join("0.4.0")
            .join(current_platform())
    };
    assert_eq!(
        lockfile::package_hash_h1(&pkg(&bt_dir)).expect("hash"),
        lockfile::package_hash_h1(&pkg(&tf_dir)).expect("hash")
    );
}
