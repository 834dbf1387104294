//! The `exec` driver: each replica is a process group on the agent's machine (the replica's
//! first process leads a new group), with the service's environment, working directory, an
//! optional user (when the agent is root), stdout/stderr appended to log files rotated by size,
//! and cgroup v2 memory/CPU limits when the kernel offers a writable cgroup2 hierarchy.
//!
//! Every replica it starts is recorded in a JSON file under the driver's state directory with
//! the process's start time (field 22 of `/proc/PID/stat`), so that a restarted agent finds its
//! replicas again (`list`) and a PID reused by an unrelated process is never mistaken for one.
//!
//! It must not wait for health (the loop does) and must never signal a process group whose
//! leader's start time does not match the record: that group is someone else's.
//!
//! Logs are written by the replica itself to files opened in append mode (no pipe through the
//! agent, so an agent restart does not break an adopted replica's stdout); rotation is
//! "copy then truncate", done when the loop asks for a replica's liveness. A line written
//! between the copy and the truncation can be lost, and a file can outgrow the limit by what
//! the replica writes between two reconciliations.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::{geteuid, Pid};
use serde::{Deserialize, Serialize};

use crate::driver::{Driver, DriverError, Liveness, Notify, Replica, ReplicaStart};
use crate::env::replica_env;
use crate::spec::Limits;

/// A log file is rotated once it reaches this many bytes.
pub const LOG_ROTATE_BYTES: u64 = 10 * 1024 * 1024;
/// Rotated files kept per stream (`.1` the newest).
pub const LOG_KEEP: u32 = 3;
/// A replica's log sizes are looked at no more often than this.
pub const ROTATION_CHECK: Duration = Duration::from_millis(500);

/// How replicas' log files are rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRotation {
    pub max_bytes: u64,
    pub keep: u32,
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation {
            max_bytes: LOG_ROTATE_BYTES,
            keep: LOG_KEEP,
        }
    }
}

/// Settings of an [`ExecDriver`].
#[derive(Clone, Debug, Default)]
pub struct ExecOpts {
    pub rotation: LogRotation,
    /// The cgroup2 mount to create `baton/<stack>/<service>-<index>-<pid>` groups under.
    /// `None`: detect `/sys/fs/cgroup` (used only when it is cgroup2 and writable).
    pub cgroup_root: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("unknown signal {name:?}")]
    UnknownSignal { name: String },
    #[error("unknown user {user:?} (not in /etc/passwd)")]
    UnknownUser { user: String },
    #[error("cannot run as user {user:?}: the agent is not root")]
    NotRoot { user: String },
    #[error("service {service} has an empty command")]
    EmptyCommand { service: String },
    #[error("cannot run {program:?}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("cannot signal process group {pgid}: {source}")]
    Signal { pgid: i32, source: Errno },
    #[error("replica id {id:?} is not a process group id")]
    BadId { id: String },
    #[error("process group {pgid} is still alive after SIGKILL")]
    Unkillable { pgid: i32 },
}

impl From<ExecError> for DriverError {
    fn from(e: ExecError) -> Self {
        DriverError::Other(e.to_string())
    }
}

/// The `exec` driver. Shared by the loop's threads (`Send + Sync`).
pub struct ExecDriver {
    state_dir: PathBuf,
    rotation: LogRotation,
    cgroup_root: Option<PathBuf>,
    /// Replicas this process started: reaped here, so their exit codes are known.
    children: Mutex<HashMap<i32, ChildState>>,
    /// Records read or written, by record path, with when their logs were last looked at
    /// (`liveness` is called on every reconciliation: it must not read files each time).
    records: Mutex<HashMap<PathBuf, (Record, Option<Instant>)>>,
    /// Called when a child ends (see [`ExecDriver::watch`]).
    notify: Mutex<Option<Notify>>,
}

enum ChildState {
    Running(Child),
    Exited(Liveness),
}

/// What the driver writes per replica: enough to find it again and to tell it from a process
/// that reused its PID.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    replica: Replica,
    pid: i32,
    /// Clock ticks after boot (field 22 of `/proc/PID/stat`).
    start_time: u64,
    out_log: PathBuf,
    err_log: PathBuf,
    cgroup: Option<PathBuf>,
}

impl ExecDriver {
    /// A driver keeping its replica records under `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        ExecDriver::with_opts(state_dir, ExecOpts::default())
    }

    pub fn with_opts(state_dir: impl Into<PathBuf>, opts: ExecOpts) -> Self {
        let cgroup_root = match opts.cgroup_root {
            Some(root) => Some(root),
            None => detect_cgroup2(),
        };
        ExecDriver {
            state_dir: state_dir.into(),
            rotation: opts.rotation,
            cgroup_root,
            children: Mutex::new(HashMap::new()),
            records: Mutex::new(HashMap::new()),
            notify: Mutex::new(None),
        }
    }

    /// With a [`Notify`] registered: a small thread waits for the child `pid` to end without
    /// reaping it (`waitid` with `WNOWAIT`: `liveness` still reaps it and reads its status)
    /// and calls it. Without the thread a death is seen at the loop's next round (up to 1 s).
    /// If the thread cannot be made, that is what happens.
    fn watch(&self, pid: i32) {
        let notify = self
            .notify
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(notify) = notify else { return };
        let _ = std::thread::Builder::new()
            .name(format!("exec-wait-{pid}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
                // Ends when the child is a zombie, or at once when it was already reaped
                // (ECHILD): either way the loop looks.
                let _ = waitid(Id::Pid(Pid::from_raw(pid)), flags);
                notify();
            });
    }

    /// The cgroup2 mount limits are applied under, when there is one.
    pub fn cgroup_root(&self) -> Option<&Path> {
        self.cgroup_root.as_deref()
    }

    fn children(&self) -> MutexGuard<'_, HashMap<i32, ChildState>> {
        // A panic while holding the lock leaves the map consistent (single inserts/removes).
        self.children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record_path(&self, r: &Replica) -> PathBuf {
        self.state_dir.join(file_safe(&r.stack)).join(format!(
            "{}.{}.{}.json",
            file_safe(&r.service),
            r.index,
            r.id
        ))
    }

    fn records(&self) -> MutexGuard<'_, HashMap<PathBuf, (Record, Option<Instant>)>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read_record(&self, r: &Replica) -> Option<Record> {
        let path = self.record_path(r);
        if let Some((rec, _)) = self.records().get(&path) {
            return Some(rec.clone());
        }
        let text = fs::read_to_string(&path).ok()?;
        let rec: Record = serde_json::from_str(&text).ok()?;
        self.records().insert(path, (rec.clone(), None));
        Some(rec)
    }

    fn write_record(&self, rec: &Record) -> Result<(), ExecError> {
        let path = self.record_path(&rec.replica);
        let dir = path.parent().unwrap_or(&self.state_dir).to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| ExecError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let text = serde_json::to_string_pretty(rec).map_err(|e| ExecError::Io {
            action: "encode",
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, text).map_err(|source| ExecError::Io {
            action: "write",
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &path).map_err(|source| ExecError::Io {
            action: "rename",
            path: path.clone(),
            source,
        })?;
        self.records().insert(path, (rec.clone(), None));
        Ok(())
    }

    /// Reaps an owned child if it ended; returns its liveness when it is owned.
    fn owned_liveness(&self, pid: i32) -> Option<Liveness> {
        let mut children = self.children();
        let state = children.get_mut(&pid)?;
        match state {
            ChildState::Exited(l) => Some(l.clone()),
            ChildState::Running(child) => match child.try_wait() {
                Ok(Some(status)) => {
                    let l = Liveness::Exited {
                        code: status.code(),
                        signal: status.signal(),
                    };
                    *state = ChildState::Exited(l.clone());
                    Some(l)
                }
                Ok(None) => Some(Liveness::Running),
                Err(_) => None,
            },
        }
    }

    fn start_inner(&self, r: &ReplicaStart<'_>) -> Result<Replica, ExecError> {
        let spec = r.spec;
        let Some((program, args)) = spec.command.split_first() else {
            return Err(ExecError::EmptyCommand {
                service: spec.name.clone(),
            });
        };
        fs::create_dir_all(&r.log_dir).map_err(|source| ExecError::Io {
            action: "create",
            path: r.log_dir.clone(),
            source,
        })?;
        let out_log = r.log_dir.join(format!("{}.{}.out.log", spec.name, r.index));
        let err_log = r.log_dir.join(format!("{}.{}.err.log", spec.name, r.index));
        let open = |path: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| ExecError::Io {
                    action: "open",
                    path: path.to_path_buf(),
                    source,
                })
        };
        let out = open(&out_log)?;
        let err = open(&err_log)?;
        let workdir = match &spec.workdir {
            Some(w) => r.base_dir.join(w),
            None => r.base_dir.clone(),
        };

        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(replica_env(spec, &r.ports))
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        if let Some(user) = &spec.user {
            let (uid, gid) = lookup_user(user)?;
            if geteuid().is_root() {
                cmd.gid(gid).uid(uid);
            } else if uid != geteuid().as_raw() {
                return Err(ExecError::NotRoot { user: user.clone() });
            }
        }
        let child = cmd.spawn().map_err(|source| ExecError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let start_time = proc_stat(pid).map(|s| s.start_time).unwrap_or(0);
        self.children().insert(pid, ChildState::Running(child));
        self.watch(pid);

        let cgroup = match &self.cgroup_root {
            Some(root) if has_limits(&spec.limits) => {
                apply_limits(root, r.stack, &spec.name, r.index, pid, &spec.limits).ok()
            }
            _ => None,
        };
        let replica = Replica {
            stack: r.stack.to_owned(),
            service: spec.name.clone(),
            version: spec.version.clone(),
            index: r.index,
            id: pid.to_string(),
            ports: r.ports.clone(),
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        let rec = Record {
            replica: replica.clone(),
            pid,
            start_time,
            out_log,
            err_log,
            cgroup,
        };
        if let Err(e) = self.write_record(&rec) {
            // Not findable after a restart: do not leave it running unrecorded.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            return Err(e);
        }
        Ok(replica)
    }

    fn stop_inner(&self, r: &Replica, signal: Signal, timeout: Duration) -> Result<(), ExecError> {
        let pid: i32 =
            r.id.parse()
                .map_err(|_| ExecError::BadId { id: r.id.clone() })?;
        let owned = self.children().contains_key(&pid);
        let rec = self.read_record(r);
        let ours = owned
            || match (&rec, proc_stat(pid)) {
                (Some(rec), Some(stat)) => stat.start_time == rec.start_time,
                _ => false,
            };
        if ours {
            signal_group(pid, signal)?;
            let deadline = Instant::now() + timeout;
            while group_alive(pid) && Instant::now() < deadline {
                self.owned_liveness(pid);
                std::thread::sleep(Duration::from_millis(20));
            }
            if group_alive(pid) {
                signal_group(pid, Signal::SIGKILL)?;
                let deadline = Instant::now() + Duration::from_secs(5);
                while group_alive(pid) {
                    self.owned_liveness(pid);
                    if Instant::now() >= deadline {
                        return Err(ExecError::Unkillable { pgid: pid });
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            // Reap the leader (it may still be a zombie after its group is gone).
            if let Some(ChildState::Running(mut child)) = self.children().remove(&pid) {
                let _ = child.wait();
            }
        }
        self.children().remove(&pid);
        if let Some(cg) = rec.as_ref().and_then(|rec| rec.cgroup.as_ref()) {
            // Empty once the group is gone; best effort.
            let _ = fs::remove_dir(cg);
        }
        let path = self.record_path(r);
        self.records().remove(&path);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ExecError::Io {
                action: "remove",
                path,
                source,
            }),
        }
    }

    /// Rotates the replica's logs when they are due to be looked at.
    fn rotate(&self, r: &Replica, rec: &Record) {
        let now = Instant::now();
        {
            let mut records = self.records();
            let Some((_, last)) = records.get_mut(&self.record_path(r)) else {
                return;
            };
            if last.is_some_and(|t| now.saturating_duration_since(t) < ROTATION_CHECK) {
                return;
            }
            *last = Some(now);
        }
        for path in [&rec.out_log, &rec.err_log] {
            // Best effort: a failed rotation leaves the log growing, never the replica stopped.
            let _ = rotate_if_needed(path, self.rotation);
        }
    }
}

impl Driver for ExecDriver {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn start(&self, r: &ReplicaStart<'_>) -> Result<Replica, DriverError> {
        self.start_inner(r).map_err(|e| DriverError::Start {
            service: r.spec.name.clone(),
            index: r.index,
            message: e.to_string(),
        })
    }

    fn liveness(&self, r: &Replica) -> Liveness {
        let Ok(pid) = r.id.parse::<i32>() else {
            return Liveness::Gone;
        };
        let rec = self.read_record(r);
        let live = match self.owned_liveness(pid) {
            Some(l) => l,
            None => {
                let Some(rec) = &rec else {
                    return Liveness::Gone;
                };
                match proc_stat(pid) {
                    Some(stat) if stat.start_time == rec.start_time => {
                        if stat.state == 'Z' || stat.state == 'X' {
                            Liveness::Exited {
                                code: None,
                                signal: None,
                            }
                        } else {
                            Liveness::Running
                        }
                    }
                    _ => Liveness::Gone,
                }
            }
        };
        if live == Liveness::Running {
            if let Some(rec) = &rec {
                self.rotate(r, rec);
            }
        }
        live
    }

    fn stop(
        &self,
        r: &Replica,
        stop_signal: &str,
        kill_timeout: Duration,
    ) -> Result<(), DriverError> {
        let signal = parse_signal(stop_signal)?;
        Ok(self.stop_inner(r, signal, kill_timeout)?)
    }

    fn on_exit(&self, notify: Notify) {
        *self
            .notify
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(notify);
    }

    fn list(&self, stack: &str) -> Result<Vec<Replica>, DriverError> {
        let dir = self.state_dir.join(file_safe(stack));
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(ExecError::Io {
                    action: "read",
                    path: dir,
                    source,
                }
                .into())
            }
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Some(rec) = fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Record>(&t).ok())
            else {
                continue;
            };
            let owned = self.owned_liveness(rec.pid);
            let alive = match &owned {
                Some(l) => *l == Liveness::Running,
                None => matches!(proc_stat(rec.pid),
                    Some(s) if s.start_time == rec.start_time && s.state != 'Z' && s.state != 'X'),
            };
            if alive {
                found.push(rec.replica);
            } else if owned.is_none() {
                // Gone, or its PID now belongs to another process: the record is stale.
                self.records().remove(&path);
                let _ = fs::remove_file(&path);
            }
        }
        found.sort_by(|a, b| (&a.service, a.index, &a.id).cmp(&(&b.service, b.index, &b.id)));
        Ok(found)
    }
}

/// `SIGTERM`, `TERM`, `term`, or a number.
pub fn parse_signal(name: &str) -> Result<Signal, ExecError> {
    let unknown = || ExecError::UnknownSignal {
        name: name.to_owned(),
    };
    let trimmed = name.trim();
    if let Ok(n) = trimmed.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| unknown());
    }
    let upper = trimmed.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().map_err(|_| unknown())
}

/// The uid and gid of `user` from `/etc/passwd`.
pub fn lookup_user(user: &str) -> Result<(u32, u32), ExecError> {
    let path = Path::new("/etc/passwd");
    let text = fs::read_to_string(path).map_err(|source| ExecError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    parse_passwd(&text, user).ok_or_else(|| ExecError::UnknownUser {
        user: user.to_owned(),
    })
}

fn parse_passwd(text: &str, user: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        if name != user {
            return None;
        }
        let _password = f.next()?;
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

/// What the driver reads of `/proc/PID/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub pgrp: i32,
    pub start_time: u64,
}

/// Fields 3 (state), 5 (process group) and 22 (start time) of `/proc/PID/stat`.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        pgrp: f.get(2)?.parse().ok()?,
        start_time: f.get(19)?.parse().ok()?,
    })
}

/// Whether any process of group `pgid` still runs (zombies do not count: their parent, maybe
/// not us, reaps them).
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            return false;
        };
        matches!(proc_stat(pid), Some(s) if s.pgrp == pgid && s.state != 'Z' && s.state != 'X')
    })
}

fn signal_group(pgid: i32, signal: Signal) -> Result<(), ExecError> {
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(source) => Err(ExecError::Signal { pgid, source }),
    }
}

/// Copies `path` to `path.1` (shifting older files up to `keep`) and truncates it, when it has
/// reached `max_bytes`. Returns whether it rotated.
pub fn rotate_if_needed(path: &Path, rot: LogRotation) -> io::Result<bool> {
    let len = fs::metadata(path)?.len();
    if len < rot.max_bytes {
        return Ok(false);
    }
    let numbered = |n: u32| {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    };
    if rot.keep > 0 {
        let _ = fs::remove_file(numbered(rot.keep));
        for n in (1..rot.keep).rev() {
            let from = numbered(n);
            if from.exists() {
                fs::rename(&from, numbered(n + 1))?;
            }
        }
        fs::copy(path, numbered(1))?;
    }
    OpenOptions::new().write(true).open(path)?.set_len(0)?;
    Ok(true)
}

fn has_limits(l: &Limits) -> bool {
    l.memory.is_some() || l.cpu_millis.is_some()
}

/// `/sys/fs/cgroup` when it is a cgroup2 mount we can create groups in.
fn detect_cgroup2() -> Option<PathBuf> {
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    let root = Path::new("/sys/fs/cgroup");
    let is_cgroup2 = mounts.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(1) == Some(&"/sys/fs/cgroup") && f.get(2) == Some(&"cgroup2")
    });
    if !is_cgroup2 {
        return None;
    }
    fs::create_dir_all(root.join("baton")).ok()?;
    Some(root.to_path_buf())
}

/// Creates `baton/<stack>/<service>-<index>-<pid>` under `root`, writes `memory.max` and
/// `cpu.max`, and moves `pid` in. Processes the replica forked before the move stay where they
/// were (the window is the few microseconds after the spawn).
fn apply_limits(
    root: &Path,
    stack: &str,
    service: &str,
    index: u32,
    pid: i32,
    limits: &Limits,
) -> io::Result<PathBuf> {
    let stack_dir = root.join("baton").join(file_safe(stack));
    let dir = stack_dir.join(format!("{}-{index}-{pid}", file_safe(service)));
    fs::create_dir_all(&dir)?;
    for parent in [root.to_path_buf(), root.join("baton"), stack_dir] {
        // Already enabled, or not delegated to us: the writes below then fail and say so.
        let _ = fs::write(parent.join("cgroup.subtree_control"), "+memory +cpu");
    }
    if let Some(bytes) = limits.memory {
        fs::write(dir.join("memory.max"), bytes.to_string())?;
    }
    if let Some(millis) = limits.cpu_millis {
        let period = 100_000u64;
        let quota = u64::from(millis) * period / 1000;
        fs::write(dir.join("cpu.max"), format!("{quota} {period}"))?;
    }
    fs::write(dir.join("cgroup.procs"), pid.to_string())?;
    Ok(dir)
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        for (name, sig) in [
            ("SIGTERM", Signal::SIGTERM),
            ("TERM", Signal::SIGTERM),
            ("int", Signal::SIGINT),
            ("HUP", Signal::SIGHUP),
            ("SIGQUIT", Signal::SIGQUIT),
            ("USR1", Signal::SIGUSR1),
            ("9", Signal::SIGKILL),
        ] {
            assert_eq!(parse_signal(name).ok(), Some(sig), "{name}");
        }
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn passwd_lines() {
        let text = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n";
        assert_eq!(parse_passwd(text, "nobody"), Some((65534, 65534)));
        assert_eq!(parse_passwd(text, "root"), Some((0, 0)));
        assert_eq!(parse_passwd(text, "ghost"), None);
    }

    #[test]
    fn stat_with_odd_command_names() {
        let text = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(text),
            Some(ProcStat {
                state: 'S',
                pgrp: 4242,
                start_time: 987654
            })
        );
    }

    #[test]
    fn rotation_keeps_k_files() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("s.0.out.log");
        let rot = LogRotation {
            max_bytes: 10,
            keep: 2,
        };
        for round in 0..4u8 {
            fs::write(&log, [b'a' + round; 12])?;
            assert!(rotate_if_needed(&log, rot)?);
        }
        assert_eq!(fs::metadata(&log)?.len(), 0);
        assert_eq!(fs::read(dir.path().join("s.0.out.log.1"))?, [b'd'; 12]);
        assert_eq!(fs::read(dir.path().join("s.0.out.log.2"))?, [b'c'; 12]);
        assert!(!dir.path().join("s.0.out.log.3").exists());
        fs::write(&log, b"small")?;
        assert!(!rotate_if_needed(&log, rot)?);
        Ok(())
    }
}
