//! The end-to-end test harness: a temporary project directory with given files, the `baton`
//! binary run in it (arguments, environment, stdin, a timeout) with its stdout, stderr and exit
//! code captured, and assertion and normalisation helpers for snapshots.
//!
//! Every child runs in its own process group; when a command times out, is crashed on purpose
//! or is dropped, its group and every process it started (Baton runs provisioners in groups of
//! their own) are killed, so no test leaves a process behind. The harness must not know anything about Baton's internals: it only runs the
//! binary and looks at files.

#![allow(dead_code)]

pub mod keypaths;
pub mod server;
pub mod services;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one command may take before the test fails (and the command is killed).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The `baton` binary that Cargo built for these tests.
pub fn baton_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// `/work/main/tests/fixtures/e2e/<name>`: a fixture configuration and its expected outputs.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/e2e")
        .join(name)
}

/// A temporary project directory, removed when dropped.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project with these files (relative path, content).
    pub fn new(files: &[(&str, &str)]) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("baton-e2e-")
            .tempdir()
            .expect("create a temporary directory");
        let p = Project { dir };
        for (name, content) in files {
            p.write(name, content);
        }
        p
    }

    /// A project holding a copy of the fixture's files, except its `expected*` files.
    pub fn from_fixture(name: &str) -> Project {
        let p = Project::new(&[]);
        let src = fixture_dir(name);
        let entries =
            std::fs::read_dir(&src).unwrap_or_else(|e| panic!("fixture {}: {e}", src.display()));
        for entry in entries {
            let entry = entry.expect("read fixture entry");
            let fname = entry.file_name().to_string_lossy().to_string();
            if fname.starts_with("expected") || !entry.path().is_file() {
                continue;
            }
            std::fs::copy(entry.path(), p.path().join(&fname)).expect("copy fixture file");
        }
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The project path as a string (for embedding in configurations and normalising).
    pub fn path_str(&self) -> String {
        self.path().to_string_lossy().to_string()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    pub fn read(&self, rel: &str) -> String {
        let p = self.join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.join(rel).exists()
    }

    pub fn remove(&self, rel: &str) {
        let p = self.join(rel);
        std::fs::remove_file(&p).unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
    }

    /// A `baton` command run in this project's directory.
    pub fn baton<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Cmd::new(self.path(), args)
    }

    /// Every file under the project (relative paths, sorted), with a digest of its content,
    /// except the state directory. Used to assert that nothing changed on disk.
    pub fn snapshot_files(&self) -> Vec<(String, u64)> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .to_string();
                if p.is_dir() {
                    out.push((format!("{rel}/"), 0));
                    walk(root, &p, out);
                } else {
                    let bytes = std::fs::read(&p).unwrap_or_default();
                    out.push((rel, fnv1a(&bytes)));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), self.path(), &mut out);
        out.retain(|(p, _)| !p.starts_with(".baton"));
        out.sort();
        out
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A command to run: the binary, its arguments, environment and stdin.
pub struct Cmd {
    cwd: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    timeout: Duration,
}

impl Cmd {
    fn new<I, S>(cwd: &Path, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Cmd {
            cwd: cwd.to_path_buf(),
            args: args.into_iter().map(|a| a.as_ref().to_string()).collect(),
            env: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Cmd {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub fn stdin(mut self, s: &str) -> Cmd {
        self.stdin = Some(s.to_string());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    /// The command line as a person would type it (for failure messages).
    pub fn display(&self) -> String {
        format!("baton {}", self.args.join(" "))
    }

    fn command(&self) -> Command {
        let mut c = Command::new(baton_bin());
        c.args(&self.args).current_dir(&self.cwd);
        // Hermetic: nothing from the developer's environment changes Baton's behaviour.
        for (k, _) in std::env::vars() {
            if k.starts_with("TF_VAR_")
                || k.starts_with("BATON_")
                || k.starts_with("TF_")
                || k == "PG_CONN_STR"
                || k == "PG_SCHEMA_NAME"
            {
                c.env_remove(&k);
            }
        }
        c.env("NO_COLOR", "1");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        c
    }

    /// Starts the command without waiting for it.
    pub fn spawn(self) -> Running {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", baton_bin().display()));
        if let Some(input) = &self.stdin {
            let mut si = child.stdin.take().expect("stdin is piped");
            let input = input.clone();
            // Write from a thread so a child that does not read cannot block us.
            std::thread::spawn(move || {
                let _ = si.write_all(input.as_bytes());
            });
        }
        let out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");
        Running {
            display: self.display(),
            timeout: self.timeout,
            pid: child.id(),
            child: Some(child),
            out: Some(reader(out)),
            err: Some(reader(err)),
        }
    }

    /// Runs the command to completion (or the timeout, which fails the test).
    pub fn run(self) -> Output {
        self.spawn().wait()
    }

    /// Runs the command and asserts that it succeeded.
    pub fn ok(self) -> Output {
        let o = self.run();
        o.assert_success();
        o
    }

    /// Runs the command and asserts that it failed.
    pub fn fails(self) -> Output {
        let o = self.run();
        o.assert_failure();
        o
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Kills every process of a process group (the command and whatever it started).
pub fn kill_group(pgid: u32) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -KILL -- -{pgid} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The fields of `/proc/<pid>/stat` after the command name: state, ppid, pgrp, ...
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid pgrp ...": the fields follow the last ')'.
    let i = stat.rfind(')')?;
    Some(
        stat[i + 1..]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// Is `pid` (our child, not reaped yet) a zombie, that is, has it exited?
fn exited_unreaped(pid: u32) -> bool {
    proc_stat(pid)
        .and_then(|f| f.first().cloned())
        .is_some_and(|s| s == "Z" || s == "X")
}

/// Every living descendant of `pid`, with whether it leads its own process group.
fn descendants(pid: u32) -> Vec<(u32, bool)> {
    let mut procs = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(f) = proc_stat(p) {
                let ppid = f.get(1).and_then(|x| x.parse::<u32>().ok()).unwrap_or(0);
                let pgrp = f.get(2).and_then(|x| x.parse::<u32>().ok()).unwrap_or(0);
                procs.push((p, ppid, pgrp == p));
            }
        }
    }
    let mut out: Vec<(u32, bool)> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, ppid, leader) in &procs {
            if *ppid == parent && !out.iter().any(|(q, _)| q == p) {
                out.push((*p, *leader));
                frontier.push(*p);
            }
        }
    }
    out
}

/// Kills the command's process group and every process it started, including those in
/// process groups of their own (Baton runs each provisioner in its own group). `pid` must not
/// be reaped yet, so that its number still names our process group.
fn kill_tree(pid: u32) {
    let mut targets = vec![format!("-{pid}")];
    for (p, leader) in descendants(pid) {
        targets.push(p.to_string());
        if leader {
            targets.push(format!("-{p}"));
        }
    }
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -KILL -- {} 2>/dev/null", targets.join(" ")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A command that is running. Dropping it kills its whole process group.
pub struct Running {
    display: String,
    timeout: Duration,
    pid: u32,
    child: Option<Child>,
    out: Option<JoinHandle<String>>,
    err: Option<JoinHandle<String>>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Has the command exited (without waiting, and without reaping it)?
    pub fn has_exited(&self) -> bool {
        self.child.is_none() || exited_unreaped(self.pid)
    }

    /// Sends SIGINT to the command only, as Ctrl-C in a terminal would.
    pub fn interrupt(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Kills the command and everything it started with SIGKILL, at once, and reaps it: what
    /// a crash leaves behind (no cleanup code runs).
    pub fn crash(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("the command is still owned");
        // The leader is not reaped yet, so its pid still names our process group.
        kill_tree(self.pid);
        let _ = child.kill();
        child.wait().expect("reap the killed command")
    }

    /// Waits for the command to exit (failing the test after the timeout) and collects its
    /// output. Whatever it started and left running is killed.
    pub fn wait(mut self) -> Output {
        let mut child = self.child.take().expect("the command is still owned");
        let deadline = Instant::now() + self.timeout;
        // Wait without reaping (the child becomes a zombie), so that its pid keeps naming our
        // process group while we kill whatever it left running; then reap.
        let status = loop {
            if exited_unreaped(self.pid) {
                kill_group(self.pid);
                break Some(child.wait().expect("reap the command"));
            }
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                // No /proc: fall back to reaping directly.
                if let Ok(Some(s)) = child.try_wait() {
                    break Some(s);
                }
            }
            if Instant::now() >= deadline {
                kill_tree(self.pid);
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let status = match status {
            Some(s) => s,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = self.out.take().map(|h| h.join().unwrap_or_default());
                let stderr = self.err.take().map(|h| h.join().unwrap_or_default());
                panic!(
                    "`{}` did not finish within {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.display,
                    self.timeout,
                    stdout.unwrap_or_default(),
                    stderr.unwrap_or_default()
                );
            }
        };
        let stdout = self
            .out
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .err
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Output {
            display: self.display.clone(),
            code: status.code(),
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_tree(self.pid);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What a finished command printed and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    pub display: String,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    fn dump(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.display, self.code, self.stdout, self.stderr
        )
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn assert_success(&self) -> &Output {
        assert!(self.success(), "expected success\n{}", self.dump());
        self
    }

    pub fn assert_failure(&self) -> &Output {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected a non-zero exit code\n{}",
            self.dump()
        );
        self
    }

    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n{}",
            self.dump()
        );
        self
    }

    /// stdout then stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn assert_stdout_contains(&self, needle: &str) -> &Output {
        assert!(
            self.stdout.contains(needle),
            "stdout should contain {needle:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn assert_stderr_contains(&self, needle: &str) -> &Output {
        assert!(
            self.stderr.contains(needle),
            "stderr should contain {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// Somewhere in stdout or stderr.
    pub fn assert_contains(&self, needle: &str) -> &Output {
        assert!(
            self.all().contains(needle),
            "output should contain {needle:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn assert_not_contains(&self, needle: &str) -> &Output {
        assert!(
            !self.all().contains(needle),
            "output must not contain {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()))
    }

    /// stdout lines (trimmed at the end), without empty ones.
    pub fn lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// Makes output stable for snapshots: the project path becomes `<DIR>`, ids in `[id=...]`
/// become `<ID>`, UUIDs `<UUID>`, durations `<T>`. Trailing spaces are removed.
pub fn normalize(s: &str, dir: &Path) -> String {
    let mut s = s.to_string();
    let d = dir.to_string_lossy().to_string();
    if let Ok(c) = dir.canonicalize() {
        let c = c.to_string_lossy().to_string();
        if c != d {
            s = s.replace(&c, "<DIR>");
        }
    }
    s = s.replace(&d, "<DIR>");
    s = replace_between(&s, "[id=", "]", "<ID>");
    s = replace_uuids(&s);
    s = replace_durations(&s);
    s.lines()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Drops the `...: Refreshing state...` lines, whose order depends on scheduling.
pub fn without_refresh_lines(s: &str) -> String {
    s.lines()
        .filter(|l| !l.contains(": Refreshing state..."))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn replace_between(s: &str, open: &str, close: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) if !after[..j].contains('\n') => {
                out.push_str(&rest[..i + open.len()]);
                out.push_str(with);
                rest = &after[j..];
            }
            _ => {
                out.push_str(&rest[..i + open.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_uuid(b: &[u8]) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    if b.len() != 36 {
        return false;
    }
    let mut i = 0;
    for (g, n) in GROUPS.iter().enumerate() {
        for _ in 0..*n {
            if !b[i].is_ascii_hexdigit() {
                return false;
            }
            i += 1;
        }
        if g < 4 {
            if b[i] != b'-' {
                return false;
            }
            i += 1;
        }
    }
    true
}

fn replace_uuids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut last = 0;
    while i + 36 <= b.len() {
        if is_uuid(&b[i..i + 36]) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            out.push_str(&s[last..i]);
            out.push_str("<UUID>");
            i += 36;
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// ` after 12s`, ` after 1m3s`, `[4s elapsed]` → `<T>`.
fn replace_durations(s: &str) -> String {
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        let mut l = line.to_string();
        if let Some(i) = l.find(" after ") {
            let start = i + " after ".len();
            let tail = &l[start..];
            let n = tail
                .find(|c: char| {
                    !(c.is_ascii_digit() || c == 'm' || c == 's' || c == 'h' || c == '.')
                })
                .unwrap_or(tail.len());
            if n > 0 && tail[..n].ends_with('s') && tail.as_bytes()[0].is_ascii_digit() {
                l = format!("{}<T>{}", &l[..start], &tail[n..]);
            }
        }
        if let Some(i) = l.find(" elapsed]") {
            if let Some(j) = l[..i].rfind('[') {
                l = format!("{}[<T>{}", &l[..j], &l[i..]);
            }
        }
        out.push_str(&l);
    }
    out
}

/// The lines of `s` that contain `needle`.
pub fn lines_with<'a>(s: &'a str, needle: &str) -> Vec<&'a str> {
    s.lines().filter(|l| l.contains(needle)).collect()
}

/// Polls until `f` holds (failing the test after `timeout`). For waiting on a file a
/// provisioner writes, not for measuring time.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Is process `pid` alive with `needle` in its command line? (For checking that a process a
/// test started, identified by a pid it wrote to a file, is gone.)
pub fn process_running(pid: u32, needle: &str) -> bool {
    let alive = proc_stat(pid)
        .and_then(|f| f.first().cloned())
        .is_some_and(|s| s != "Z" && s != "X");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    alive && String::from_utf8_lossy(&cmdline).contains(needle)
}

/// Kills process `pid` if it is alive with `needle` in its command line.
pub fn kill_if_running(pid: u32, needle: &str) {
    if process_running(pid, needle) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// This machine's host name as the kernel reports it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
