//! Baton's client against HashiCorp's go-plugin library itself (what every Go provider is
//! served by): `tests/goplugin/main.go` is built with Debian's Go and go-plugin packages
//! (`.ci/run` installs them) into a temp dir, started, asked for its schema and stopped.
//!
//! The server has no tfplugin6 service, so the schema call must fail with gRPC `Unimplemented`
//! *from the Go server* — which proves the handshake, the mTLS with go-plugin's P-521
//! certificates and HTTP/2 all worked. Needs no network.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use baton_plugin::{Ended, PluginError, ProviderProcess, StartOpts};

/// Debian's Go packages live in this GOPATH.
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

fn build_go_plugin(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src/gotest");
    std::fs::create_dir_all(&src).expect("source dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/goplugin/main.go"),
        src.join("main.go"),
    )
    .expect("copy main.go");
    assert!(
        Path::new(DEBIAN_GOPATH)
            .join("src/github.com/hashicorp/go-plugin")
            .is_dir(),
        "go-plugin sources missing: apt-get install golang-go \
         golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev (as .ci/run does)"
    );
    let exe = dir.join("terraform-provider-gotest");
    let mut go = Command::new("go");
    if std::env::var_os("HOME").is_none() && std::env::var_os("XDG_CACHE_HOME").is_none() {
        // Go needs a build cache; without a home, keep it in the temp dir.
        go.env("GOCACHE", dir.join("gocache"));
    }
    let out = go
        .args(["build", "-o"])
        .arg(&exe)
        .arg(".")
        .current_dir(&src)
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("GOPATH", format!("{}:{DEBIAN_GOPATH}", dir.display()))
        .output()
        .expect("go runs (apt-get install golang-go)");
    assert!(
        out.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

#[tokio::test]
async fn handshake_mtls_and_shutdown_with_go_plugin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = build_go_plugin(dir.path());

    let p = ProviderProcess::start(&StartOpts::new(&exe))
        .await
        .expect("go-plugin server starts");
    assert_eq!(p.protocol(), baton_plugin::Protocol::V6);
    let err = p.schema().await.expect_err("no tfplugin6 service");
    let PluginError::Rpc { status, .. } = &err else {
        panic!("expected an Rpc error, got {err:?}");
    };
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    assert!(
        status.message().contains("tfplugin6.Provider"),
        "{status:?}"
    );
    let stderr = p.stderr();
    assert!(
        stderr.contains("go-plugin test server starting"),
        "{stderr}"
    );
    assert!(stderr.contains("automatic mTLS"), "{stderr}");
    assert_eq!(
        p.stop(Duration::from_secs(5)).await.expect("stop"),
        Ended::Exited
    );
}
