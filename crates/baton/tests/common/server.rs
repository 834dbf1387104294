//! Helpers for the end-to-end tests of the HTTP API: `baton serve --listen 127.0.0.1:0`
//! started in a project (the address read from what it prints), tokens made with
//! `baton token create`, and an HTTP client that trusts a given certificate.
//!
//! Like the rest of the harness it knows only the binary's output; it must not link Baton's
//! crates, and every server it starts is killed when its handle is dropped.

use super::{baton_bin, Project};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// A running `baton serve` (killed when dropped) and where it listens.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// The rest of its stderr (kept so that the reader thread never blocks on a full pipe).
    _stderr: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn command(p: &Project, args: &[&str]) -> Command {
    let mut c = Command::new(baton_bin());
    c.args(args).current_dir(p.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("BATON_") || k.starts_with("TF_") || k.starts_with("PG_") {
            c.env_remove(&k);
        }
    }
    c.env("NO_COLOR", "1");
    c
}

/// Starts `baton serve --listen 127.0.0.1:0 EXTRA…` and waits for the address it prints.
pub fn serve(p: &Project, extra: &[&str]) -> Server {
    serve_env(p, extra, &[])
}

/// [`serve`] with `env` added to the agent's environment (a webhook's secret, say). It
/// stops by itself after 300 s.
pub fn serve_env(p: &Project, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--for", "300s"];
    args.extend_from_slice(extra);
    let mut cmd = command(p, &args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start baton serve");
    let err = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("Serving the HTTP API on ") {
                    let base = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches('/')
                        .to_string();
                    return Server {
                        child,
                        base,
                        _stderr: rx,
                    };
                }
                seen.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "baton serve printed no address; stderr:\n{}",
                    seen.join("\n")
                );
            }
        }
    }
}

/// Makes a token with `baton token create` and returns its last line.
pub fn token(p: &Project, role: &str, name: &str) -> String {
    let o = p
        .baton(["token", "create", "--role", role, "--name", name])
        .ok();
    let t = o.stdout.lines().last().unwrap_or_default().to_string();
    assert!(t.starts_with("baton_") && t.len() > 40, "token line: {t:?}");
    t
}

pub fn agent(roots: Option<&[u8]>) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)));
    if let Some(pem) = roots {
        let cert = ureq::tls::Certificate::from_pem(pem).expect("the test certificate");
        cfg = cfg.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
                .build(),
        );
    }
    cfg.build().into()
}
