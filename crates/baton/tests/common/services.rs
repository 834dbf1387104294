//! Helpers for the end-to-end tests of services through the binary: `baton serve` started in a
//! project and waited for, the services of `baton status --json`, a plain HTTP/1.0 client, and
//! a guard that kills the exec driver's replica process groups whatever the test's outcome.
//!
//! Like the rest of the harness it knows only the binary's output and the files it documents
//! (`.baton/services/agent/exec/` for the clean-up); it must not link Baton's crates.

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::{Project, Running};

/// `baton status --json`.
pub fn status(p: &Project) -> Json {
    p.baton(["status", "--json"]).ok().json()
}

/// One service of `baton status --json` (`Null` when the agent does not report it).
pub fn service(p: &Project, name: &str) -> Json {
    status(p)["services"]["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or(Json::Null)
}

/// A service's replicas: (index, id, the `http` port), sorted as the status lists them.
pub fn replicas(s: &Json) -> Vec<(u64, String, u16)> {
    s["replicas"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["index"].as_u64().unwrap_or(99),
                        r["id"].as_str().unwrap_or_default().to_string(),
                        r["ports"]["http"].as_u64().unwrap_or(0) as u16,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `cond` every 100 ms until it holds; fails the test after `limit` (a bound, not a
/// measurement).
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET /` over HTTP/1.0: the status code and the body, or `None` when nothing answers.
pub fn http_get(port: u16) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let code = buf
        .strip_prefix("HTTP/1.")?
        .get(2..5)?
        .parse::<u16>()
        .ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// Does `127.0.0.1:port` answer `GET /` with 200?
pub fn http_ok(port: u16) -> bool {
    http_get(port).is_some_and(|(code, _)| code == 200)
}

/// `kill -KILL -- TARGET` (a pid, or `-PGID` for a whole group).
pub fn kill(target: &str) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills every replica process group the exec driver recorded, whatever the test's outcome.
pub struct ExecReplicas(pub std::path::PathBuf);

impl Drop for ExecReplicas {
    fn drop(&mut self) {
        let Ok(stacks) = std::fs::read_dir(self.0.join(".baton/services/agent/exec")) else {
            return;
        };
        for st in stacks.flatten() {
            for f in std::fs::read_dir(st.path()).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let parts: Vec<&str> = name.split('.').collect();
                if parts.len() >= 4 {
                    kill(&format!("-{}", parts[parts.len() - 2]));
                }
            }
        }
    }
}

/// `baton serve` in the project, with `env` added, once `baton status` reports it running.
pub fn serve_with(p: &Project, env: &[(&str, &str)]) -> Running {
    let mut cmd = p.baton(["serve", "--for", "600s", "--tick", "100ms"]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let r = cmd.spawn();
    let pid = r.pid();
    wait_until("the agent to start", Duration::from_secs(30), || {
        status(p)["services"]["agent_pid"].as_u64() == Some(u64::from(pid))
    });
    r
}

pub fn serve(p: &Project) -> Running {
    serve_with(p, &[])
}

/// The agent's name for the project's stack: its directory's last component, other characters
/// than letters, digits, `-` and `_` as `_` (docs/services.md).
pub fn stack_name(p: &Project) -> String {
    p.path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
