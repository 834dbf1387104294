//! Running external commands for provisioners and command-backed resources: an interpreter
//! and a command, environment, working directory, optional stdin, a timeout and cancellation
//! that kill the command's whole process group, and bounded output capture.
//!
//! This module never logs what it runs or what the command prints: callers decide what may be
//! shown (a command's text or output can contain sensitive values).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct CommandSpec {
    /// The program and its arguments, e.g. `["/bin/sh", "-c", "echo hi"]`.
    pub argv: Vec<String>,
    /// Extra environment variables (added to Baton's own environment).
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    /// At most this many bytes of each of stdout and stderr are kept.
    pub max_output: usize,
    pub cancel: Arc<AtomicBool>,
    /// The run the command is started for, set as [`RUN_ENV`] in its environment.
    pub run_tag: Option<String>,
}

impl CommandSpec {
    /// `command` run by `interpreter` (default `/bin/sh -c`).
    pub fn shell(command: &str, interpreter: Option<Vec<String>>, cwd: PathBuf) -> CommandSpec {
        let mut argv = interpreter.unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        argv.push(command.to_string());
        CommandSpec {
            argv,
            env: Vec::new(),
            cwd,
            stdin: None,
            timeout: None,
            max_output: 4 * 1024 * 1024,
            cancel: Arc::new(AtomicBool::new(false)),
            run_tag: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Clone, Debug, Default)]
pub struct CommandOutput {
    /// The exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Output beyond `max_output` was dropped.
    pub truncated: bool,
    pub timed_out: bool,
    pub cancelled: bool,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.cancelled
    }
}

enum Event {
    Line(Stream, Vec<u8>),
    Exited(std::io::Result<std::process::ExitStatus>),
}

/// Runs a command to completion, calling `on_line` for every output line as it arrives.
pub fn run(
    spec: &CommandSpec,
    mut on_line: impl FnMut(Stream, &str),
) -> std::io::Result<CommandOutput> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no command given",
        ));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(&spec.cwd)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(run) = &spec.run_tag {
        cmd.env(RUN_ENV, run);
    }
    let mut child = cmd.spawn()?;
    let pgid = child.id();
    if let (Some(input), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let (tx, rx) = mpsc::channel::<Event>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(spawn_reader(out, Stream::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(spawn_reader(err, Stream::Stderr, tx.clone()));
    }
    let waiter_tx = tx.clone();
    std::thread::spawn(move || {
        let status = child.wait();
        let _ = waiter_tx.send(Event::Exited(status));
    });
    drop(tx);

    let started = Instant::now();
    let mut out = CommandOutput::default();
    let mut status = None;
    let mut killed_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Event::Line(stream, bytes)) => {
                let buf = match stream {
                    Stream::Stdout => &mut out.stdout,
                    Stream::Stderr => &mut out.stderr,
                };
                if buf.len() + bytes.len() <= spec.max_output {
                    buf.extend_from_slice(&bytes);
                } else {
                    out.truncated = true;
                }
                let text = String::from_utf8_lossy(&bytes);
                on_line(stream, text.trim_end_matches(['\n', '\r']));
            }
            Ok(Event::Exited(s)) => status = Some(s?),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if status.is_some() {
            // Keep draining output until the readers finish (they end at EOF).
            if readers.iter().all(|r| r.is_finished()) {
                // Pick up lines still queued.
                while let Ok(Event::Line(stream, bytes)) = rx.try_recv() {
                    let buf = match stream {
                        Stream::Stdout => &mut out.stdout,
                        Stream::Stderr => &mut out.stderr,
                    };
                    if buf.len() + bytes.len() <= spec.max_output {
                        buf.extend_from_slice(&bytes);
                    } else {
                        out.truncated = true;
                    }
                    let text = String::from_utf8_lossy(&bytes);
                    on_line(stream, text.trim_end_matches(['\n', '\r']));
                }
                break;
            }
            // A background grandchild may hold the pipes open: stop waiting after a grace period.
            if killed_at.is_none() {
                killed_at = Some(Instant::now());
            } else if killed_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) {
                kill_group(pgid);
                break;
            }
            continue;
        }
        let over_time = spec.timeout.is_some_and(|t| started.elapsed() >= t);
        let cancelled = spec.cancel.load(Ordering::SeqCst);
        if (over_time || cancelled) && killed_at.is_none() {
            out.timed_out = over_time;
            out.cancelled = cancelled && !over_time;
            kill_group(pgid);
            killed_at = Some(Instant::now());
        }
    }
    if let Some(s) = status {
        out.code = s.code();
    }
    Ok(out)
}

fn spawn_reader(
    r: impl Read + Send + 'static,
    stream: Stream,
    tx: mpsc::Sender<Event>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(Event::Line(stream, line)).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

/// The environment variable that marks every command with the run that started it, so that
/// commands a killed Baton left running can be found by the run that resumes or undoes it.
pub const RUN_ENV: &str = "BATON_RUN_ID";

/// Process ids of the commands still running that were started for `run_id` (found through
/// `/proc/*/environ`, for processes of this user; empty where there is no `/proc`).
pub fn commands_of_run(run_id: &str) -> Vec<u32> {
    let needle = format!("{RUN_ENV}={run_id}");
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// Waits up to `patience` for the commands of `run_id` to end, then kills what is left (with
/// their process groups). Returns how many were found at first.
pub fn settle_commands_of_run(run_id: &str, patience: Duration) -> usize {
    let first = commands_of_run(run_id);
    if first.is_empty() {
        return 0;
    }
    let until = Instant::now() + patience;
    loop {
        let left = commands_of_run(run_id);
        if left.is_empty() {
            break;
        }
        if Instant::now() >= until {
            for pid in left {
                if let Ok(p) = i32::try_from(pid) {
                    let pid = nix::unistd::Pid::from_raw(p);
                    if let Ok(pgid) = nix::unistd::getpgid(Some(pid)) {
                        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                    }
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                }
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    first.len()
}

/// Kills a whole process group (the command and everything it started).
pub fn kill_group(pgid: u32) {
    if let Ok(pid) = i32::try_from(pgid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmd: &str) -> CommandSpec {
        CommandSpec::shell(cmd, None, std::env::temp_dir())
    }

    #[test]
    fn captures_output_and_exit_code() {
        let mut lines = Vec::new();
        let out = run(&spec("echo a; echo b >&2; exit 3"), |s, l| {
            lines.push((s, l.to_string()))
        })
        .expect("runs");
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, b"a\n");
        assert_eq!(out.stderr, b"b\n");
        assert!(lines.contains(&(Stream::Stdout, "a".to_string())));
    }

    #[test]
    fn timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("late");
        let mut s = spec(&format!("(sleep 2; touch {}) & sleep 30", marker.display()));
        s.timeout = Some(Duration::from_millis(200));
        let out = run(&s, |_, _| {}).expect("runs");
        assert!(out.timed_out);
        assert!(!out.success());
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            !marker.exists(),
            "the background child must have been killed too"
        );
    }

    #[test]
    fn stdin_and_env_reach_the_command() {
        let mut s = spec("read x; echo \"$x-$FOO\"");
        s.stdin = Some(b"in\n".to_vec());
        s.env.push(("FOO".into(), "bar".into()));
        let out = run(&s, |_, _| {}).expect("runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "in-bar\n");
    }

    #[test]
    fn output_is_bounded() {
        let mut s = spec("yes | head -c 100000");
        s.max_output = 1000;
        let out = run(&s, |_, _| {}).expect("runs");
        assert!(out.truncated);
        assert!(out.stdout.len() <= 1000);
    }
}
