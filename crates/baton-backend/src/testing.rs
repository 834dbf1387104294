//! A throwaway PostgreSQL server for tests and benchmarks: the server `BATON_TEST_PG` names
//! (a connection URL; `.ci/run` starts one cluster for the whole suite), or else a new cluster
//! made with `initdb` and started with `pg_ctl` in a temporary directory, listening on
//! 127.0.0.1 only, stopped when the process that started it exits.
//!
//! This is test support (ordinary code so that every crate's tests can use it): failures are
//! `Err(String)` with what went wrong. It must never touch a server it did not start, except
//! the one `BATON_TEST_PG` names, and there only inside schemas it names itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A running server to test against.
pub struct TestServer {
    url: String,
    /// The cluster's directory when this process made it (`None`: `BATON_TEST_PG`).
    _dir: Option<tempfile::TempDir>,
    /// How to stop it, when this process started it.
    stop: Option<Command>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(cmd) = self.stop.as_mut() {
            let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

static SHARED: OnceLock<Result<TestServer, String>> = OnceLock::new();
static NEXT_SCHEMA: AtomicU64 = AtomicU64::new(0);

impl TestServer {
    /// The server every test of this process shares: `BATON_TEST_PG` if set, else a cluster
    /// started on first use (and stopped when the process exits).
    pub fn shared() -> Result<&'static TestServer, String> {
        SHARED
            .get_or_init(|| match std::env::var("BATON_TEST_PG") {
                Ok(url) if !url.is_empty() => Ok(TestServer {
                    url,
                    _dir: None,
                    stop: None,
                }),
                _ => TestServer::start(),
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Starts a new cluster of its own: `initdb` (as the `postgres` user when running as root,
    /// which PostgreSQL refuses to run as), `pg_ctl start` on a free loopback port with its
    /// socket in the cluster's directory, and a watchdog that stops it once this process is
    /// gone.
    pub fn start() -> Result<TestServer, String> {
        let initdb = find_tool("initdb")?;
        let pg_ctl = find_tool("pg_ctl")?;
        let dir = tempfile::Builder::new()
            .prefix("baton-pg-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for the cluster: {e}"))?;
        let as_user = if is_root() { Some("postgres") } else { None };
        if let Some(user) = as_user {
            let status = Command::new("chown")
                .arg(user)
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("cannot give {} to {user}", dir.path().display()));
            }
        }
        let data = dir.path().join("data");
        run(
            as_user,
            Command::new(&initdb).arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "baton",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        )?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let opts = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                dir.path().display()
            );
            let started = run(
                as_user,
                Command::new(&pg_ctl)
                    .arg("-D")
                    .arg(&data)
                    .arg("-o")
                    .arg(&opts)
                    .arg("-l")
                    .arg(dir.path().join("log"))
                    .args(["-w", "-t", "60", "start"]),
                "pg_ctl start",
            );
            match started {
                Ok(()) => {
                    watchdog(as_user, &pg_ctl, &data);
                    let mut stop = match as_user {
                        Some(u) => {
                            let mut c = Command::new("runuser");
                            c.args(["-u", u, "--"]).arg(&pg_ctl);
                            c
                        }
                        None => Command::new(&pg_ctl),
                    };
                    stop.arg("-D").arg(&data).args(["-m", "immediate", "stop"]);
                    return Ok(TestServer {
                        url: format!("postgresql://baton@127.0.0.1:{port}/postgres"),
                        _dir: Some(dir),
                        stop: Some(stop),
                    });
                }
                Err(e) => {
                    let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
                    last = format!("{e}\n{log}");
                }
            }
        }
        Err(last)
    }

    /// The server's connection URL (no password: the test cluster trusts local connections).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A schema name no other test of this run uses: each check works in a schema of its own.
    pub fn fresh_schema(&self, what: &str) -> String {
        let n = NEXT_SCHEMA.fetch_add(1, Ordering::SeqCst);
        let clean: String = what
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(20)
            .collect();
        format!("t_{clean}_{}_{n}", std::process::id())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `name` on the PATH, else in Debian's `/usr/lib/postgresql/VERSION/bin` (newest first).
fn find_tool(name: &str) -> Result<PathBuf, String> {
    if let Some(paths) = std::env::var_os("PATH") {
        for p in std::env::split_paths(&paths) {
            let c = p.join(name);
            if c.is_file() {
                return Ok(c);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .iter()
        .rev()
        .map(|v| v.join("bin").join(name))
        .find(|c| c.is_file())
        .ok_or_else(|| {
            format!("{name} was not found: install PostgreSQL (Debian: apt-get install postgresql) or set BATON_TEST_PG to a server's URL")
        })
}

fn run(as_user: Option<&str>, cmd: &mut Command, what: &str) -> Result<(), String> {
    let mut full = match as_user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"])
                .arg(cmd.get_program())
                .args(cmd.get_args());
            c
        }
        None => {
            let mut c = Command::new(cmd.get_program());
            c.args(cmd.get_args());
            c
        }
    };
    let out = full
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Stops the cluster once this process is gone: a shell that waits for our pid to vanish.
fn watchdog(as_user: Option<&str>, pg_ctl: &Path, data: &Path) {
    let stop = format!(
        "{} -D '{}' -m immediate stop",
        pg_ctl.display(),
        data.display()
    );
    let stop = match as_user {
        Some(u) => format!("runuser -u {u} -- {stop}"),
        None => stop,
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = data.parent().unwrap_or(data).display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
