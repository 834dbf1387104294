//! A Docker daemon and a busybox image for tests: the daemon `BATON_TEST_DOCKER_HOST` names
//! (`unix:///path/docker.sock` or a path), or else a `dockerd` of this test process's own —
//! its socket, data root, exec root and pid file in a directory under `/tmp`, no iptables and
//! no default bridge, its own containerd namespace — stopped (and its directory removed) by a
//! watchdog once the process is gone. The image `baton-test/busybox:1` is imported into the
//! daemon from Debian's `busybox-static` (one static binary and a link per applet), since no
//! image registry needs to be reachable.
//!
//! This is test support (ordinary code so that every crate's tests can use it): failures are
//! `Err(String)` saying what to install. It must never touch containers it did not make: tests
//! work in stacks named by [`TestDocker::stack`].

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;

use crate::docker::{DockerDriver, DockerOpts};
use crate::spec::{DriverKind, Limits, RestartPolicy, ServiceSpec, UpdatePolicy};

/// The image every test container runs: busybox and nothing else (`sh`, `httpd`, `sleep`, ...).
pub const TEST_IMAGE: &str = "baton-test/busybox:1";

/// A daemon to test against, with [`TEST_IMAGE`] present.
pub struct TestDocker {
    socket: PathBuf,
    /// The daemon's directory when this process started it (`None`: `BATON_TEST_DOCKER_HOST`).
    dir: Option<PathBuf>,
}

static SHARED: OnceLock<Result<TestDocker, String>> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

impl TestDocker {
    /// The daemon every test of this process shares: `BATON_TEST_DOCKER_HOST` if set, else a
    /// `dockerd` started on first use (and stopped when the process exits); the test image is
    /// imported once.
    pub fn start() -> Result<&'static TestDocker, String> {
        SHARED
            .get_or_init(|| {
                let docker = match std::env::var("BATON_TEST_DOCKER_HOST") {
                    Ok(h) if !h.is_empty() => TestDocker {
                        socket: PathBuf::from(h.strip_prefix("unix://").unwrap_or(&h)),
                        dir: None,
                    },
                    _ => start_dockerd()?,
                };
                ensure_image(&docker.socket)?;
                Ok(docker)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The directory of the daemon this process started (its log is `dockerd.log` there).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn opts(&self) -> DockerOpts {
        DockerOpts::new(&self.socket)
    }

    /// A new driver on this daemon (each call a separate client, as a restarted agent has).
    pub fn driver(&self) -> DockerDriver {
        match DockerDriver::new(self.opts()) {
            Ok(d) => d,
            Err(e) => panic!("cannot make a docker driver: {e}"),
        }
    }

    /// A stack name no other test of any process uses.
    pub fn stack(&self, what: &str) -> String {
        format!(
            "t-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        )
    }
}

/// A `docker` service running `command` in [`TEST_IMAGE`] with host networking, one port named
/// `http`, and otherwise the defaults.
pub fn docker_spec(name: &str, command: &[&str]) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        version: "v1".to_string(),
        driver: DriverKind::Docker,
        command: command.iter().map(|s| s.to_string()).collect(),
        image: Some(TEST_IMAGE.to_string()),
        env: BTreeMap::new(),
        workdir: None,
        user: None,
        replicas: 1,
        ports: vec!["http".to_string()],
        health: Vec::new(),
        restart: RestartPolicy::default(),
        update: UpdatePolicy::default(),
        stop_signal: "TERM".to_string(),
        kill_timeout: Duration::from_secs(5),
        limits: Limits::default(),
        mounts: Vec::new(),
        network_mode: Some("host".to_string()),
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start_dockerd() -> Result<TestDocker, String> {
    let dockerd = find_tool("dockerd").ok_or_else(|| {
        "dockerd was not found: install Docker (Debian: apt-get install docker.io) or set \
         BATON_TEST_DOCKER_HOST to a running daemon's socket (unix:///path/docker.sock)"
            .to_string()
    })?;
    // Short: containerd's socket lives under the exec root, and socket paths are limited to
    // 107 bytes.
    let dir = PathBuf::from(format!(
        "/tmp/baton-dk-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let socket = dir.join("docker.sock");
    let log = std::fs::File::create(dir.join("dockerd.log"))
        .map_err(|e| format!("cannot make the daemon's log: {e}"))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot make the daemon's log: {e}"))?;
    let namespace = format!("baton-test-{}", std::process::id());
    let mut cmd = Command::new(&dockerd);
    cmd.arg("--host")
        .arg(format!("unix://{}", socket.display()))
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .args([
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            "--shutdown-timeout=2",
            "--log-level=warn",
        ])
        .arg("--containerd-namespace")
        .arg(&namespace)
        .arg("--containerd-plugins-namespace")
        .arg(format!("{namespace}-plugins"));
    // The storage driver is dockerd's own choice (overlay2 where the file system allows it,
    // else vfs) unless BATON_TEST_DOCKER_STORAGE names one.
    if let Ok(s) = std::env::var("BATON_TEST_DOCKER_STORAGE") {
        if !s.is_empty() {
            cmd.arg("--storage-driver").arg(s);
        }
    }
    // Its own process group: a Ctrl-C to the tests must not reach it before the watchdog.
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", dockerd.display()))?;
    watchdog(child.id(), &dir);
    let docker = TestDocker {
        socket,
        dir: Some(dir.clone()),
    };
    let rt = runtime()?;
    let mut last = String::new();
    for _ in 0..600 {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
            return Err(format!("dockerd exited ({status}):\n{log}"));
        }
        if docker.socket.exists() {
            let ping = rt.block_on(async {
                let d = connect(&docker.socket)?;
                d.ping().await.map_err(|e| e.to_string())
            });
            match ping {
                Ok(_) => return Ok(docker),
                Err(e) => last = e,
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
    Err(format!(
        "dockerd did not answer within a minute ({last}):\n{log}"
    ))
}

/// Imports [`TEST_IMAGE`] unless the daemon has it.
fn ensure_image(socket: &Path) -> Result<(), String> {
    let rt = runtime()?;
    let docker = connect(socket)?;
    rt.block_on(docker.ping()).map_err(|e| {
        format!(
            "the Docker daemon at {} does not answer: {e}",
            socket.display()
        )
    })?;
    if rt.block_on(docker.inspect_image(TEST_IMAGE)).is_ok() {
        return Ok(());
    }
    let tar = busybox_rootfs_tar()?;
    let (repo, tag) = TEST_IMAGE.split_once(':').unwrap_or((TEST_IMAGE, "latest"));
    rt.block_on(async {
        let mut progress = docker.create_image(
            Some(CreateImageOptions {
                from_src: Some("-".to_string()),
                repo: Some(repo.to_string()),
                tag: Some(tag.to_string()),
                ..Default::default()
            }),
            Some(bollard::body_full(tar.into())),
            None,
        );
        while let Some(step) = progress.next().await {
            let step = step.map_err(|e| format!("cannot import {TEST_IMAGE}: {e}"))?;
            if let Some(err) = step.error_detail.and_then(|d| d.message) {
                return Err(format!("cannot import {TEST_IMAGE}: {err}"));
            }
        }
        docker
            .inspect_image(TEST_IMAGE)
            .await
            .map(|_| ())
            .map_err(|e| format!("{TEST_IMAGE} is missing after its import: {e}"))
    })
}

/// A tar of a root file system: `/bin/busybox` (statically linked), a link in `/bin` for
/// each of its applets, and an empty `/tmp`.
fn busybox_rootfs_tar() -> Result<Vec<u8>, String> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or("busybox was not found: install busybox-static (Debian: apt-get install busybox-static)")?;
    let bytes = std::fs::read(&busybox).map_err(|e| format!("{}: {e}", busybox.display()))?;
    if has_interpreter(&bytes) {
        return Err(format!(
            "{} is linked dynamically and cannot run alone in an image: install busybox-static \
             (Debian: apt-get install busybox-static)",
            busybox.display()
        ));
    }
    let root = tempfile::Builder::new()
        .prefix("baton-busybox-")
        .tempdir()
        .map_err(|e| format!("cannot make a directory for the image: {e}"))?;
    let bin = root.path().join("bin");
    let tmp = root.path().join("tmp");
    for d in [&bin, &tmp] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(bin.join("busybox"), &bytes).map_err(|e| format!("busybox: {e}"))?;
    let chmod = |p: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    chmod(&bin.join("busybox"), 0o755)?;
    chmod(&tmp, 0o1777)?;
    let list = Command::new(&busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("{} --list: {e}", busybox.display()))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        std::os::unix::fs::symlink("busybox", bin.join(applet))
            .map_err(|e| format!("link {applet}: {e}"))?;
    }
    let out = Command::new("tar")
        .arg("-C")
        .arg(root.path())
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cf", "-", "."])
        .output()
        .map_err(|e| format!("tar: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tar failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// Whether an ELF file asks for a dynamic loader (has a `PT_INTERP` program header). Only
/// 64-bit little-endian files are read; others count as static.
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    };
    if elf.get(0..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..usize::from(phnum)).any(|i| {
        u32_at(phoff as usize + i * usize::from(phentsize)) == Some(3) // PT_INTERP
    })
}

fn connect(socket: &Path) -> Result<bollard::Docker, String> {
    bollard::Docker::connect_with_unix(&socket.to_string_lossy(), 120, bollard::API_DEFAULT_VERSION)
        .map_err(|e| e.to_string())
}

/// A client for tests that check what the driver did from the outside (`docker inspect`,
/// `docker kill`, events), with the API version the daemon speaks.
pub fn client(docker: &TestDocker) -> Result<(tokio::runtime::Runtime, bollard::Docker), String> {
    let rt = runtime()?;
    let d = rt.block_on(async {
        connect(docker.socket())?
            .negotiate_version()
            .await
            .map_err(|e| e.to_string())
    })?;
    Ok((rt, d))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Stops the daemon once this process is gone: a shell that waits for our pid to vanish, sends
/// dockerd SIGTERM (it stops its containers), SIGKILL after 20 s, then unmounts what the daemon
/// left mounted under its directory (the network namespace) and removes the directory.
fn watchdog(dockerd: u32, dir: &Path) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         kill {dockerd} 2>/dev/null; \
         i=0; while kill -0 {dockerd} 2>/dev/null && [ $i -lt 40 ]; do sleep 0.5; i=$((i+1)); done; \
         kill -9 {dockerd} 2>/dev/null; \
         grep -o ' {dir}/[^ ]*' /proc/mounts | sort -r | while read m; do umount -l \"$m\"; done; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
