//! Health checks of one replica: running one check (`http`, `tcp`, `command`) with its
//! timeout, and a [`HealthTracker`] that turns the results into a replica's health (grace
//! period, failure and success thresholds, startup checks gating the others).
//!
//! A check runs on the caller's thread and takes at most about its timeout; the loop runs
//! checks on their own threads. The tracker is pure logic over the instants it is given: it
//! must not read the clock, sleep or run checks itself.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::env::replica_env;
use crate::spec::{CheckKind, HealthCheck, ServiceSpec};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the check names port {port:?}, which the replica does not have")]
    NoPort { port: String },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("HTTP exchange with {addr} failed: {source}")]
    Http { addr: SocketAddr, source: io::Error },
    #[error("{addr} answered with something that is not an HTTP status line: {line:?}")]
    BadResponse { addr: SocketAddr, line: String },
    #[error("{addr} answered {status}, expected {expected}")]
    Status {
        addr: SocketAddr,
        status: u16,
        expected: String,
    },
    #[error("the check command is empty")]
    EmptyCommand,
    #[error("cannot run {program:?}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("the check command exited with {code:?}")]
    CommandFailed { code: Option<i32> },
    #[error("the check command did not finish within {timeout:?}")]
    CommandTimeout { timeout: Duration },
}

/// Runs `check` against a replica of `spec` listening on `ports` (127.0.0.1). A `command`
/// check runs in `workdir` with the replica's environment.
pub fn run_check(
    check: &HealthCheck,
    spec: &ServiceSpec,
    ports: &BTreeMap<String, u16>,
    workdir: &Path,
) -> Result<(), CheckError> {
    match check.kind {
        CheckKind::Http => {
            let addr = check_addr(check, spec, ports)?;
            let status = http_status(addr, &check.path, check.timeout)?;
            let ok = match check.expect_status {
                Some(want) => status == want,
                None => (200..=399).contains(&status),
            };
            if ok {
                Ok(())
            } else {
                Err(CheckError::Status {
                    addr,
                    status,
                    expected: check
                        .expect_status
                        .map_or_else(|| "200..=399".to_owned(), |s| s.to_string()),
                })
            }
        }
        CheckKind::Tcp => {
            let addr = check_addr(check, spec, ports)?;
            TcpStream::connect_timeout(&addr, nonzero(check.timeout))
                .map(drop)
                .map_err(|source| CheckError::Connect { addr, source })
        }
        CheckKind::Command => run_command(check, &replica_env(spec, ports), workdir),
    }
}

/// The status code of `GET path` on `addr` over HTTP/1.1, within `timeout` per step.
pub fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, CheckError> {
    let timeout = nonzero(timeout);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|source| CheckError::Connect { addr, source })?;
    let http = |source| CheckError::Http { addr, source };
    stream.set_read_timeout(Some(timeout)).map_err(http)?;
    stream.set_write_timeout(Some(timeout)).map_err(http)?;
    let path = if path.is_empty() { "/" } else { path };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: baton-health\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(http)?;
    // Only the status line is needed.
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).map_err(http)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or("").to_owned();
    parse_status_line(&line).ok_or(CheckError::BadResponse { addr, line })
}

/// `HTTP/1.1 200 OK` -> 200.
pub fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..=599).contains(c))
}

fn check_addr(
    check: &HealthCheck,
    spec: &ServiceSpec,
    ports: &BTreeMap<String, u16>,
) -> Result<SocketAddr, CheckError> {
    let name = match &check.port {
        Some(p) => p.clone(),
        None => spec.ports.first().cloned().unwrap_or_default(),
    };
    let port = ports
        .get(&name)
        .copied()
        .ok_or(CheckError::NoPort { port: name })?;
    Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

fn run_command(
    check: &HealthCheck,
    env: &BTreeMap<String, String>,
    workdir: &Path,
) -> Result<(), CheckError> {
    let Some((program, args)) = check.command.split_first() else {
        return Err(CheckError::EmptyCommand);
    };
    let mut child = Command::new(program)
        .args(args)
        .envs(env)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| CheckError::Spawn {
            program: program.clone(),
            source,
        })?;
    let deadline = Instant::now() + nonzero(check.timeout);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(CheckError::CommandFailed {
                    code: status.code(),
                })
            }
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CheckError::CommandTimeout {
                    timeout: check.timeout,
                });
            }
        }
    }
}

fn nonzero(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}

/// A replica's health as its checks say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    /// Not yet judged (grace period, startup check pending, too few results).
    Pending,
    Healthy,
    /// A check failed `failure_threshold` times in a row.
    Unhealthy,
}

/// The health of one replica from its checks' results.
#[derive(Clone, Debug)]
pub struct HealthTracker {
    checks: Vec<CheckState>,
    health: Health,
    healthy_since: Option<Instant>,
}

#[derive(Clone, Debug)]
struct CheckState {
    startup: bool,
    interval: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    next_due: Instant,
    in_flight: bool,
    ok_run: u32,
    fail_run: u32,
    /// The judged state: `None` until a threshold is reached.
    passing: Option<bool>,
    /// Failures count towards `failure_threshold` (see [`HealthTracker::record`]).
    armed: bool,
}

impl HealthTracker {
    /// For a replica started at `started`: no check runs before its grace period ends.
    pub fn new(checks: &[HealthCheck], started: Instant) -> Self {
        HealthTracker::build(checks, |c| started + c.grace)
    }

    /// For a replica found running (adopted): it had its grace period and its start, so
    /// checks run at once and their failures count from the first.
    pub fn adopted(checks: &[HealthCheck], now: Instant) -> Self {
        let mut t = HealthTracker::build(checks, |_| now);
        for c in &mut t.checks {
            c.armed = true;
        }
        t
    }

    fn build(checks: &[HealthCheck], first: impl Fn(&HealthCheck) -> Instant) -> Self {
        let states: Vec<CheckState> = checks
            .iter()
            .map(|c| CheckState {
                startup: c.startup,
                interval: nonzero(c.interval),
                success_threshold: c.success_threshold.max(1),
                failure_threshold: c.failure_threshold.max(1),
                next_due: first(c),
                in_flight: false,
                ok_run: 0,
                fail_run: 0,
                passing: None,
                armed: c.startup,
            })
            .collect();
        let (health, healthy_since) = if states.is_empty() {
            (Health::Healthy, checks_free_since(&first))
        } else {
            (Health::Pending, None)
        };
        HealthTracker {
            checks: states,
            health,
            healthy_since,
        }
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// How long it has been healthy without interruption at `now`.
    pub fn healthy_for(&self, now: Instant) -> Option<Duration> {
        self.healthy_since
            .map(|since| now.saturating_duration_since(since))
    }

    fn startup_done(&self) -> bool {
        self.checks
            .iter()
            .filter(|c| c.startup)
            .all(|c| c.passing == Some(true))
    }

    /// The checks to run now: due, not already running, and (while a startup check has not
    /// passed) only the startup checks. A passed startup check does not run again.
    pub fn due(&self, now: Instant) -> Vec<usize> {
        let startup_done = self.startup_done();
        self.checks
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                !c.in_flight
                    && c.next_due <= now
                    && if c.startup {
                        c.passing != Some(true)
                    } else {
                        startup_done
                    }
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// When the next check is due (`None`: none will be, or all are running).
    pub fn next_due(&self) -> Option<Instant> {
        let startup_done = self.startup_done();
        self.checks
            .iter()
            .filter(|c| {
                !c.in_flight
                    && if c.startup {
                        c.passing != Some(true)
                    } else {
                        startup_done
                    }
            })
            .map(|c| c.next_due)
            .min()
    }

    /// Check `i` was started (it is not due again until its result is recorded).
    pub fn started(&mut self, i: usize) {
        if let Some(c) = self.checks.get_mut(i) {
            c.in_flight = true;
        }
    }

    /// The result of check `i`, at `now`.
    ///
    /// A startup check's failures always count (its threshold is the time a replica has to
    /// start). Another check's failures count once it has passed, or once the replica's startup
    /// checks have passed: a replica that is still starting stays `Pending` (the rollout's
    /// healthy deadline judges it), it is not restarted for refusing connections.
    pub fn record(&mut self, i: usize, ok: bool, now: Instant) {
        let has_startup = self.checks.iter().any(|c| c.startup);
        let startup_done = self.startup_done();
        let Some(c) = self.checks.get_mut(i) else {
            return;
        };
        if ok || (has_startup && startup_done) {
            c.armed = true;
        }
        c.in_flight = false;
        c.next_due = now + c.interval;
        if ok {
            c.ok_run += 1;
            c.fail_run = 0;
            if c.ok_run >= c.success_threshold || (c.startup && c.passing != Some(false)) {
                c.passing = Some(true);
            }
        } else {
            c.ok_run = 0;
            if c.armed {
                c.fail_run += 1;
            }
            if c.armed && c.fail_run >= c.failure_threshold {
                c.passing = Some(false);
            }
        }
        let health = if self.checks.iter().any(|c| c.passing == Some(false)) {
            Health::Unhealthy
        } else if self.checks.iter().all(|c| c.passing == Some(true)) {
            Health::Healthy
        } else {
            Health::Pending
        };
        if health == Health::Healthy && self.health != Health::Healthy {
            self.healthy_since = Some(now);
        } else if health != Health::Healthy {
            self.healthy_since = None;
        }
        self.health = health;
    }
}

fn checks_free_since(first: &impl Fn(&HealthCheck) -> Instant) -> Option<Instant> {
    // With no checks a replica is healthy from its start (or adoption): the instant `first`
    // gives a check without grace.
    let probe = HealthCheck {
        kind: CheckKind::Tcp,
        port: None,
        path: String::new(),
        expect_status: None,
        command: Vec::new(),
        interval: Duration::ZERO,
        timeout: Duration::ZERO,
        failure_threshold: 1,
        success_threshold: 1,
        grace: Duration::ZERO,
        startup: false,
    };
    Some(first(&probe))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(startup: bool, fail: u32, ok: u32, grace_ms: u64) -> HealthCheck {
        HealthCheck {
            kind: CheckKind::Tcp,
            port: None,
            path: String::new(),
            expect_status: None,
            command: Vec::new(),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(100),
            failure_threshold: fail,
            success_threshold: ok,
            grace: Duration::from_millis(grace_ms),
            startup,
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status_line("HTTP/1.0 404 File not found"), Some(404));
        assert_eq!(parse_status_line("HTTP/1.1 204"), Some(204));
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status_line("HTTP/1.1 2000 OK"), None);
        assert_eq!(parse_status_line(""), None);
    }

    /// Steps: (ms after start, check index, ok) -> the health after each step.
    fn run(checks: &[HealthCheck], steps: &[(u64, usize, bool)]) -> Vec<Health> {
        let t0 = Instant::now();
        let mut t = HealthTracker::new(checks, t0);
        steps
            .iter()
            .map(|&(ms, i, ok)| {
                t.record(i, ok, t0 + Duration::from_millis(ms));
                t.health()
            })
            .collect()
    }

    #[test]
    fn thresholds() {
        use Health::*;
        let c = [check(false, 2, 2, 0)];
        assert_eq!(
            run(
                &c,
                &[
                    (0, 0, true),
                    (1, 0, true),
                    (2, 0, false),
                    (3, 0, true),
                    (4, 0, false),
                    (5, 0, false),
                    (6, 0, true),
                    (7, 0, true)
                ]
            ),
            [Pending, Healthy, Healthy, Healthy, Healthy, Unhealthy, Unhealthy, Healthy]
        );
    }

    #[test]
    fn failures_before_the_first_success_do_not_count() {
        use Health::*;
        let c = [check(false, 1, 1, 0)];
        assert_eq!(
            run(
                &c,
                &[(0, 0, false), (1, 0, false), (2, 0, true), (3, 0, false)]
            ),
            [Pending, Pending, Healthy, Unhealthy]
        );
        // With a startup check, failures count as soon as it passed.
        let c = [check(false, 1, 1, 0), check(true, 2, 1, 0)];
        assert_eq!(
            run(&c, &[(0, 1, false), (1, 1, true), (2, 0, false)]),
            [Pending, Pending, Unhealthy]
        );
        let c = [check(true, 2, 1, 0)];
        assert_eq!(
            run(&c, &[(0, 0, false), (1, 0, false)]),
            [Pending, Unhealthy]
        );
    }

    #[test]
    fn grace_delays_the_first_check() {
        let t0 = Instant::now();
        let t = HealthTracker::new(&[check(false, 1, 1, 500)], t0);
        assert!(t.due(t0).is_empty());
        assert!(t.due(t0 + Duration::from_millis(499)).is_empty());
        assert_eq!(t.due(t0 + Duration::from_millis(500)), [0]);
        assert_eq!(t.next_due(), Some(t0 + Duration::from_millis(500)));
    }

    #[test]
    fn startup_check_gates_the_others() {
        let t0 = Instant::now();
        let mut t = HealthTracker::new(&[check(false, 1, 1, 0), check(true, 3, 1, 0)], t0);
        assert_eq!(t.due(t0), [1]);
        t.started(1);
        assert!(t.due(t0).is_empty());
        t.record(1, false, t0);
        assert_eq!(t.health(), Health::Pending);
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(t.due(t1), [1]);
        t.record(1, true, t1);
        // Startup passed: it does not run again, the liveness check does.
        assert_eq!(t.due(t1), [0]);
        t.record(0, true, t1);
        assert_eq!(t.health(), Health::Healthy);
        assert_eq!(
            t.healthy_for(t1 + Duration::from_millis(50)),
            Some(Duration::from_millis(50))
        );
    }

    #[test]
    fn no_checks_is_healthy_from_the_start() {
        let t0 = Instant::now();
        let t = HealthTracker::new(&[], t0);
        assert_eq!(t.health(), Health::Healthy);
        assert_eq!(t.healthy_for(t0), Some(Duration::ZERO));
    }
}
