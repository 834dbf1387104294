//! End-to-end tests of `baton init` downloading providers: a real HTTPS server on 127.0.0.1
//! (Python's `http.server` wrapped in `ssl`, with a certificate authority made here with
//! `rcgen` and trusted through `SSL_CERT_FILE`) serves a directory laid out as a provider
//! registry or as a provider network mirror. The tests check what is installed, the lock file,
//! a rerun that changes nothing, refused packages that write nothing, and clear errors.
//!
//! No internet: every URL is `https://localhost:PORT/...`. The provider package is a fake one
//! (a small shell script), zipped with Python's `zipfile`.

mod common;

use common::Project;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const VERSION: &str = "0.2.0";

fn os_arch() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (std::env::consts::OS, arch)
}

fn platform() -> String {
    let (os, arch) = os_arch();
    format!("{os}_{arch}")
}

fn zip_name() -> String {
    format!("terraform-provider-batontest_{VERSION}_{}.zip", platform())
}

const SERVER: &str = r#"
import http.server, ssl, sys, functools
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.func.log_message = lambda *a: None
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// An HTTPS server for a directory, its CA certificate file, and a home directory; the server
/// is killed when dropped.
struct Server {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("www");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("mkdir");
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "baton test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("params");
        let cert = params.signed_by(&key, &issuer).expect("certificate");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write");
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(&root)
            .arg(dir.path().join("cert.pem"))
            .arg(dir.path().join("key.pem"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3");
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line).expect("read port");
        }
        let port = match line.trim().parse() {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the HTTPS server did not start: {line:?}");
            }
        };
        Server {
            dir,
            child: Some(child),
            port,
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    fn url(&self) -> String {
        format!("https://{}/", self.host())
    }

    fn put(&self, rel: &str, content: &[u8]) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    /// A CLI configuration file with this body.
    fn cli(&self, body: &str) -> String {
        let p = self.dir.path().join("cli.tfrc");
        std::fs::write(&p, body).expect("write");
        p.display().to_string()
    }

    fn run(&self, p: &Project, cli_file: &str, args: &[&str]) -> common::Cmd {
        p.baton(args)
            .env("TF_CLI_CONFIG_FILE", cli_file)
            .env(
                "SSL_CERT_FILE",
                &self.dir.path().join("ca.pem").display().to_string(),
            )
            .env("HOME", &self.dir.path().join("home").display().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The fake package zip (an executable shell script) and the hex sha256 of the zip.
fn package_zip(dir: &Path) -> (Vec<u8>, String) {
    let zip = dir.join(zip_name());
    let script = format!(
        "import zipfile, sys\n\
         z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n\
         i = zipfile.ZipInfo('terraform-provider-batontest_v{VERSION}', (2020, 1, 1, 0, 0, 0))\n\
         i.external_attr = 0o100755 << 16\n\
         i.compress_type = zipfile.ZIP_DEFLATED\n\
         z.writestr(i, '#!/bin/sh\\necho batontest {VERSION}\\n')\n\
         z.close()\n"
    );
    let st = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&zip)
        .status()
        .expect("python3");
    assert!(st.success());
    let bytes = std::fs::read(&zip).expect("read zip");
    let _ = std::fs::remove_file(&zip);
    (bytes.clone(), sha256_hex(&bytes))
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

fn main_tf(host: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    batontest = {{
      source  = "{host}/baton/batontest"
      version = "~> 0.2"
    }}
  }}
}}
"#
    )
}

/// Lays the server's directory out as a provider registry serving 0.1.0 and 0.2.0 (0.1.0 for
/// another platform only); returns the zip's hex sha256.
fn lay_out_registry(s: &Server, listed_shasum: Option<&str>) -> String {
    let (os, arch) = os_arch();
    let (zip, sum) = package_zip(s.dir.path());
    s.put(
        ".well-known/terraform.json",
        br#"{"providers.v1": "/v1/providers/"}"#,
    );
    s.put(
        "v1/providers/baton/batontest/versions",
        format!(
            r#"{{"versions": [
  {{"version": "0.1.0", "protocols": ["5.0"], "platforms": [{{"os": "plan9", "arch": "mips"}}]}},
  {{"version": "{VERSION}", "protocols": ["5.0", "6.0"], "platforms": [{{"os": "{os}", "arch": "{arch}"}}]}}
]}}"#
        )
        .as_bytes(),
    );
    let shasum = listed_shasum.unwrap_or(&sum);
    s.put(
        &format!("v1/providers/baton/batontest/{VERSION}/download/{os}/{arch}"),
        format!(
            r#"{{"protocols": ["5.0", "6.0"], "os": "{os}", "arch": "{arch}",
  "filename": "{name}",
  "download_url": "{name}",
  "shasum": "{shasum}",
  "shasums_url": "{base}files/terraform-provider-batontest_{VERSION}_SHA256SUMS",
  "shasums_signature_url": "{base}files/terraform-provider-batontest_{VERSION}_SHA256SUMS.sig",
  "signing_keys": {{"gpg_public_keys": []}}}}"#,
            name = zip_name(),
            base = s.url(),
        )
        .as_bytes(),
    );
    // Relative to the download document: next to it.
    s.put(
        &format!(
            "v1/providers/baton/batontest/{VERSION}/download/{os}/{}",
            zip_name()
        ),
        &zip,
    );
    s.put(
        &format!("files/terraform-provider-batontest_{VERSION}_SHA256SUMS"),
        format!(
            "{}  terraform-provider-batontest_{VERSION}_plan9_mips.zip\n{shasum}  {}\n",
            "0".repeat(64),
            zip_name()
        )
        .as_bytes(),
    );
    sum
}

fn installed_dir(host: &str) -> String {
    format!(
        ".terraform/providers/{host}/baton/batontest/{VERSION}/{}",
        platform()
    )
}

#[test]
fn init_downloads_from_a_registry_and_a_rerun_changes_nothing() {
    let mut s = Server::start();
    let sum = lay_out_registry(&s, None);
    let host = s.host();
    let p = Project::new(&[("main.tf", &main_tf(&host))]);
    // No provider_installation block: the origin registry is implied.
    let cli = s.cli("");
    let out = s.run(&p, &cli, &["init"]).ok();
    for line in [
        format!("- Finding {host}/baton/batontest versions matching \"~> 0.2\"..."),
        format!("- Installing {host}/baton/batontest v{VERSION}..."),
        format!(
            "- Installed {host}/baton/batontest v{VERSION} (checksum verified, signature not verified)"
        ),
    ] {
        assert!(
            out.stdout.contains(&line),
            "{line:?} missing in:\n{}",
            out.stdout
        );
    }
    let exe = format!(
        "{}/terraform-provider-batontest_v{VERSION}",
        installed_dir(&host)
    );
    assert!(p.exists(&exe), "{exe}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(p.join(&exe))
            .expect("metadata")
            .permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "executable: {mode:o}");
    let lock = p.read(".terraform.lock.hcl");
    let head = format!(
        "provider \"{host}/baton/batontest\" {{\n  version     = \"{VERSION}\"\n  constraints = \"~> 0.2\"\n  hashes = [\n    \"h1:"
    );
    assert!(lock.contains(&head), "{lock}");
    assert!(lock.contains(&format!("    \"zh:{sum}\",\n")), "{lock}");

    // A rerun changes nothing, and needs no network: the server is gone.
    s.stop();
    let before = p.snapshot_files();
    let out = s.run(&p, &cli, &["init"]).ok();
    assert!(
        out.stdout.contains(&format!(
            "- Using previously-installed {host}/baton/batontest v{VERSION}"
        )),
        "{}",
        out.stdout
    );
    assert_eq!(p.snapshot_files(), before);
}

#[test]
fn a_registry_package_with_the_wrong_checksum_is_refused_and_nothing_is_written() {
    let s = Server::start();
    let wrong = "ab".repeat(32);
    lay_out_registry(&s, Some(&wrong));
    let p = Project::new(&[("main.tf", &main_tf(&s.host()))]);
    let cli = s.cli("provider_installation {\n  direct {}\n}\n");
    let before = p.snapshot_files();
    let out = s.run(&p, &cli, &["init"]).fails();
    assert!(
        out.stderr.contains(&format!(
            "provider {}/baton/batontest v{VERSION}: the checksum of {}v1/providers/baton/batontest/{VERSION}/download/",
            s.host(),
            s.url()
        )) && out.stderr.contains("nothing was installed"),
        "{}",
        out.stderr
    );
    assert_eq!(p.snapshot_files(), before);
}

/// Lays the server's directory out as a network mirror under `mirror/` for the provider
/// `HOST/baton/batontest`; `hashes` overrides the listed hashes. Returns the zip's hex sha256.
fn lay_out_mirror(s: &Server, host: &str, hashes: Option<&str>) -> String {
    let (zip, sum) = package_zip(s.dir.path());
    let dir = format!("mirror/{host}/baton/batontest");
    s.put(
        &format!("{dir}/index.json"),
        format!(r#"{{"versions": {{"0.1.9": {{}}, "{VERSION}": {{}}, "1.0.0": {{}}}}}}"#)
            .as_bytes(),
    );
    let hashes = hashes
        .map(str::to_string)
        .unwrap_or_else(|| format!(r#""zh:{sum}""#));
    s.put(
        &format!("{dir}/{VERSION}.json"),
        format!(
            r#"{{"archives": {{"{}": {{"url": "files/{}", "hashes": [{hashes}]}}}}}}"#,
            platform(),
            zip_name()
        )
        .as_bytes(),
    );
    s.put(&format!("{dir}/files/{}", zip_name()), &zip);
    sum
}

fn mirror_cli(s: &Server, url: &str) -> String {
    s.cli(&format!(
        "provider_installation {{\n  network_mirror {{\n    url = \"{url}\"\n  }}\n}}\n"
    ))
}

#[test]
fn init_downloads_from_a_network_mirror_and_a_rerun_changes_nothing() {
    let s = Server::start();
    let sum = lay_out_mirror(&s, &s.host(), None);
    let host = s.host();
    let p = Project::new(&[("main.tf", &main_tf(&host))]);
    let cli = mirror_cli(&s, &format!("{}mirror/", s.url()));
    let out = s.run(&p, &cli, &["init"]).ok();
    assert!(
        out.stdout.contains(&format!(
            "- Installed {host}/baton/batontest v{VERSION} (verified checksum)"
        )),
        "{}",
        out.stdout
    );
    assert!(p.exists(&format!(
        "{}/terraform-provider-batontest_v{VERSION}",
        installed_dir(&host)
    )));
    // As Terraform for a network mirror: the package's `h1:` hash only.
    let lock = p.read(".terraform.lock.hcl");
    assert!(
        lock.contains(&format!("  version     = \"{VERSION}\"\n")),
        "{lock}"
    );
    assert!(lock.contains("    \"h1:"), "{lock}");
    assert!(!lock.contains(&format!("zh:{sum}")), "{lock}");
    let before = p.snapshot_files();
    s.run(&p, &cli, &["init"]).ok();
    assert_eq!(p.snapshot_files(), before);
}

#[test]
fn a_network_mirror_package_that_matches_no_listed_hash_is_refused() {
    let s = Server::start();
    lay_out_mirror(&s, &s.host(), Some(&format!(r#""zh:{}""#, "0".repeat(64))));
    let p = Project::new(&[("main.tf", &main_tf(&s.host()))]);
    let cli = mirror_cli(&s, &format!("{}mirror/", s.url()));
    let before = p.snapshot_files();
    let out = s.run(&p, &cli, &["init"]).fails();
    assert!(
        out.stderr.contains("nothing was installed") && out.stderr.contains(&zip_name()),
        "{}",
        out.stderr
    );
    assert_eq!(p.snapshot_files(), before);
}

#[test]
fn a_server_that_is_down_is_a_clear_error_naming_the_url() {
    let mut s = Server::start();
    s.stop();
    let p = Project::new(&[("main.tf", &main_tf(&s.host()))]);
    let cli = s.cli("");
    let before = p.snapshot_files();
    let out = s.run(&p, &cli, &["init"]).fails();
    let want = format!(
        "provider {}/baton/batontest: cannot fetch https://{}/.well-known/terraform.json:",
        s.host(),
        s.host()
    );
    assert!(out.stderr.contains(&want), "{want:?} in:\n{}", out.stderr);
    assert_eq!(p.snapshot_files(), before);
}

#[test]
fn a_plain_http_mirror_is_refused() {
    let s = Server::start();
    let p = Project::new(&[("main.tf", &main_tf(&s.host()))]);
    let cli = mirror_cli(&s, &format!("http://{}/mirror/", s.host()));
    let out = s.run(&p, &cli, &["init"]).fails();
    assert!(out.stderr.contains("only https:// URLs"), "{}", out.stderr);
}

/// `terraform init` against the same server, in a fresh directory: its lock file.
fn terraform_lock(s: &Server, cli_file: &str, host: &str) -> (String, std::process::Output) {
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("main.tf"), main_tf(host)).expect("write");
    let out = Command::new("terraform")
        .current_dir(work.path())
        .env("TF_CLI_CONFIG_FILE", cli_file)
        .env("SSL_CERT_FILE", s.dir.path().join("ca.pem"))
        .env("HOME", s.dir.path().join("home"))
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env_remove("TF_PLUGIN_CACHE_DIR")
        .args(["init", "-backend=false", "-input=false", "-no-color"])
        .output()
        .expect("terraform must be on PATH for this test");
    let lock = std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).unwrap_or_default();
    (lock, out)
}

#[test]
fn network_mirror_lock_and_layout_match_terraform() {
    let s = Server::start();
    // Terraform resolves the mirror's paths as relative URLs, so a provider host with a port
    // (`localhost:PORT/...` reads as a URL scheme) fails there; the mirror never contacts the
    // provider's host, so any name does.
    let host = "example.com";
    lay_out_mirror(&s, host, None);
    let cli = mirror_cli(&s, &format!("{}mirror/", s.url()));
    let (tf_lock, out) = terraform_lock(&s, &cli, host);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let p = Project::new(&[("main.tf", &main_tf(host))]);
    s.run(&p, &cli, &["init"]).ok();
    assert_eq!(p.read(".terraform.lock.hcl"), tf_lock);
    assert!(p.exists(&installed_dir(host)));
}

#[test]
fn only_versions_for_this_platform_are_chosen_from_a_registry() {
    let s = Server::start();
    lay_out_registry(&s, None);
    // 0.1.0 is published for another platform only.
    let p = Project::new(&[("main.tf", &main_tf(&s.host()).replace("~> 0.2", "~> 0.1.0"))]);
    let cli = s.cli("");
    let before = p.snapshot_files();
    let out = s.run(&p, &cli, &["init"]).fails();
    assert!(
        out.stderr.contains(&format!(
            "no available version of provider {}/baton/batontest matches the constraints \"~> 0.1.0\" (available: {VERSION})",
            s.host()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(p.snapshot_files(), before);
}
