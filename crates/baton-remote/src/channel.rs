//! A long-lived remote shell: one `sh` on the host, started once through the host's OpenSSH
//! master, that runs command after command sent on its standard input. Starting an ssh
//! session costs about as much as a small command's whole run (the client process, sshd's
//! session set-up and the login shell: ~100 ms of CPU on a small machine), so a host's
//! commands go through a few of these instead of one session each.
//!
//! Each request is one frame written to the shell: a start marker on both streams, the
//! script run by `sh -c` (its standard input, when given, decoded from a base64 here-document,
//! so no byte of it can end the frame early and nothing is written to the host's disk), then
//! an end marker carrying the exit status on standard output and one on standard error. The
//! markers hold a random token made for the channel, so a command's output cannot end its
//! frame by accident; bytes before a start marker (written late by a background process the
//! previous command left holding the stream) are dropped, not taken as the next output.
//!
//! This module must not interpret the output of the commands, and must not keep a channel
//! whose frame was not read to its end: a channel in doubt is closed, never reused.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use base64::Engine as _;

use crate::shell::sh_quote;

/// What running one frame came to.
pub(crate) enum Outcome {
    /// The command ran: exit status, standard output, standard error.
    Done {
        code: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
    /// The channel ended before the frame's end (the connection or the shell went away):
    /// whatever the shell and ssh wrote to standard error, for the caller to classify.
    Lost { stderr: Vec<u8>, started: bool },
}

/// One remote shell. Not shared: a [`crate::ssh::Session`] hands it to one command at a time.
pub(crate) struct Channel {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    out_buf: Vec<u8>,
    err_rx: Receiver<Vec<u8>>,
    err_buf: Vec<u8>,
    /// Set once the stderr reader has seen the end of the stream.
    err_closed: bool,
    token: String,
}

/// The delimiter of the here-document holding a request's standard input (never a base64
/// line: `_` is not in its alphabet).
const HEREDOC: &str = "__BATON_STDIN__";

/// How long to wait for the standard error end marker once standard output's has arrived
/// (both are written one right after the other; this bounds a shell whose stderr is stuck).
const ERR_MARKER_WAIT: Duration = Duration::from_secs(30);

impl Channel {
    /// Starts `ssh` (built by the caller: the master's socket, `-T`, the host) running a
    /// shell, and waits for it to say it is ready. `Err` holds what ssh wrote to standard
    /// error when the shell never started.
    pub(crate) fn open(mut ssh: Command) -> std::io::Result<Result<Channel, Vec<u8>>> {
        let token = new_token();
        ssh.arg("exec sh")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ssh.spawn()?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("ssh started without its pipes"));
        };
        let (tx, err_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("baton-ssh-stderr".into())
            .spawn(move || {
                let mut chunk = vec![0u8; 8192];
                loop {
                    match stderr.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx.send(chunk[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                    }
                }
            })?;
        let mut ch = Channel {
            child,
            stdin: Some(stdin),
            stdout,
            out_buf: Vec::new(),
            err_rx,
            err_buf: Vec::new(),
            err_closed: false,
            token,
        };
        let hello = format!("printf '%s R\\n' {}\n", ch.token);
        let ready = format!("{} R\n", ch.token);
        if ch.send(hello.as_bytes()).is_err() || !ch.read_out_until(ready.as_bytes())? {
            let stderr = ch.drain_stderr();
            ch.close();
            return Ok(Err(stderr));
        }
        ch.out_buf.clear();
        Ok(Ok(ch))
    }

    /// Whether the ssh process is still there (an idle channel whose connection went away
    /// has exited).
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Runs `script` with `sh -c`, `stdin` as its standard input (none: `/dev/null`).
    pub(crate) fn run(&mut self, script: &str, stdin: Option<&[u8]>) -> std::io::Result<Outcome> {
        let t = self.token.clone();
        let t = t.as_str();
        let mut frame = format!("printf '%s B\\n' {t}; printf '%s B\\n' {t} >&2\n");
        match stdin {
            None => frame.push_str(&format!("( eval {} ) </dev/null\n", sh_quote(script))),
            Some(data) => {
                frame.push_str(&format!(
                    "base64 -d <<'{HEREDOC}' | ( eval {} )\n",
                    sh_quote(script)
                ));
                let encoded = base64::engine::general_purpose::STANDARD.encode(data);
                for line in encoded.as_bytes().chunks(76) {
                    frame.push_str(std::str::from_utf8(line).unwrap_or_default());
                    frame.push('\n');
                }
                frame.push_str(HEREDOC);
                frame.push('\n');
            }
        }
        frame.push_str(&format!(
            "printf '\\n%s E %d\\n' {t} \"$?\"; printf '\\n%s E\\n' {t} >&2\n"
        ));
        if self.send(frame.as_bytes()).is_err() {
            return Ok(Outcome::Lost {
                stderr: self.drain_stderr(),
                started: false,
            });
        }
        let begin = format!("{t} B\n");
        if !self.read_out_until(begin.as_bytes())? {
            return Ok(Outcome::Lost {
                stderr: self.drain_stderr(),
                started: false,
            });
        }
        // Whatever came before the start marker was dropped with it.
        let end = format!("\n{t} E ");
        let Some(stdout) = self.take_out_until(end.as_bytes())? else {
            return Ok(Outcome::Lost {
                stderr: self.drain_stderr(),
                started: true,
            });
        };
        let Some(status) = self.take_out_until(b"\n")? else {
            return Ok(Outcome::Lost {
                stderr: self.drain_stderr(),
                started: true,
            });
        };
        let code = std::str::from_utf8(&status)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .unwrap_or(-1);
        // What is left of standard output belongs to nobody yet; a late writer's bytes are
        // dropped before the next start marker.
        self.out_buf.clear();
        let Some(stderr) = self.take_err_frame()? else {
            return Ok(Outcome::Lost {
                stderr: self.drain_stderr(),
                started: true,
            });
        };
        Ok(Outcome::Done {
            code,
            stdout,
            stderr,
        })
    }

    /// Ends the shell (end of its input) and the ssh process.
    pub(crate) fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stdin.take());
        // The shell exits at the end of its input; give it a moment, then make sure.
        for _ in 0..20 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let Some(w) = self.stdin.as_mut() else {
            return Err(std::io::Error::other("channel closed"));
        };
        w.write_all(bytes)?;
        w.flush()
    }

    /// Reads standard output until `needle` has been read; everything up to and including it
    /// is consumed. False at the end of the stream.
    fn read_out_until(&mut self, needle: &[u8]) -> std::io::Result<bool> {
        Ok(self.take_out_until(needle)?.is_some())
    }

    /// Reads standard output until `needle`; returns the bytes before it (the needle is
    /// consumed, what follows stays buffered). `None` at the end of the stream.
    fn take_out_until(&mut self, needle: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        let mut searched = 0;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(i) = find(&self.out_buf[searched..], needle) {
                let at = searched + i;
                let before = self.out_buf[..at].to_vec();
                self.out_buf.drain(..at + needle.len());
                return Ok(Some(before));
            }
            searched = self.out_buf.len().saturating_sub(needle.len() - 1);
            let n = match self.stdout.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(None);
            }
            self.out_buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The standard error of the frame: the bytes between its start and end markers.
    fn take_err_frame(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let begin = format!("{} B\n", self.token);
        let end = format!("\n{} E\n", self.token);
        loop {
            if let Some(b) = find(&self.err_buf, begin.as_bytes()) {
                if let Some(e) = find(&self.err_buf[b + begin.len()..], end.as_bytes()) {
                    let start = b + begin.len();
                    let text = self.err_buf[start..start + e].to_vec();
                    self.err_buf.drain(..start + e + end.len());
                    return Ok(Some(text));
                }
            }
            if self.err_closed {
                return Ok(None);
            }
            match self.err_rx.recv_timeout(ERR_MARKER_WAIT) {
                Ok(bytes) => self.err_buf.extend_from_slice(&bytes),
                Err(RecvTimeoutError::Disconnected) => self.err_closed = true,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(std::io::Error::other(
                        "the remote shell did not finish its standard error",
                    ))
                }
            }
        }
    }

    /// Everything standard error still holds once the channel has ended (ssh's own last
    /// words about the connection among it).
    fn drain_stderr(&mut self) -> Vec<u8> {
        drop(self.stdin.take());
        let _ = self.child.wait();
        while !self.err_closed {
            match self.err_rx.recv_timeout(Duration::from_secs(5)) {
                Ok(bytes) => self.err_buf.extend_from_slice(&bytes),
                Err(_) => self.err_closed = true,
            }
        }
        let t = format!("{} ", self.token);
        // Our own markers are not the host's words.
        let text = String::from_utf8_lossy(&self.err_buf)
            .lines()
            .filter(|l| !l.starts_with(&t))
            .collect::<Vec<_>>()
            .join("\n");
        text.into_bytes()
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.shutdown();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A token no command's output is expected to hold: 128 bits from the clock, the process,
/// a counter and the address space, hashed.
fn new_token() -> String {
    use sha2::Digest as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let local = 0u8;
    let mut h = sha2::Sha256::new();
    h.update(now.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(n.to_le_bytes());
    h.update((&local as *const u8 as usize).to_le_bytes());
    let digest = h.finalize();
    format!("BATON{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A local `sh` stands in for ssh here: the frame protocol is the shell's, not ssh's.
    fn local() -> Channel {
        let cmd = Command::new("sh");
        let mut cmd = cmd;
        cmd.arg("-c");
        match Channel::open(cmd) {
            Ok(Ok(ch)) => ch,
            _ => panic!("cannot start a local shell channel"),
        }
    }

    /// Runs one frame that must complete: (status, stdout, stderr).
    fn done(ch: &mut Channel, script: &str, stdin: Option<&[u8]>) -> (i32, Vec<u8>, Vec<u8>) {
        match ch
            .run(script, stdin)
            .expect("the frame is written and read")
        {
            Outcome::Done {
                code,
                stdout,
                stderr,
            } => (code, stdout, stderr),
            Outcome::Lost { stderr, .. } => {
                panic!("lost: {}", String::from_utf8_lossy(&stderr))
            }
        }
    }

    #[test]
    fn frames_carry_output_status_and_input_exactly() {
        let mut ch = local();
        let binary: Vec<u8> = (0..=255u8).chain(b"\n\n".iter().copied()).collect();
        for _ in 0..3 {
            let (code, stdout, stderr) = done(&mut ch, "cat; echo oops >&2; exit 7", Some(&binary));
            assert_eq!(code, 7);
            assert_eq!(stdout, binary);
            assert_eq!(stderr, b"oops\n");
        }
        let (code, stdout, _) = done(&mut ch, "printf 'no newline'", None);
        assert_eq!((code, stdout.as_slice()), (0, &b"no newline"[..]));
        // A quote in the script, and the empty input.
        let (_, stdout, _) = done(&mut ch, "printf '%s' \"it's\"; cat", Some(b""));
        assert_eq!(stdout, b"it's");
        // Output that arrives with the start marker in one read is the command's.
        for i in 0..50 {
            let (_, stdout, _) = done(&mut ch, &format!("echo {i}"), None);
            assert_eq!(stdout, format!("{i}\n").into_bytes());
        }
    }

    #[test]
    fn late_output_of_a_background_process_is_not_the_next_commands() {
        let mut ch = local();
        let (_, stdout, _) = done(&mut ch, "(sleep 0.3; echo late) & echo now", None);
        assert_eq!(stdout, b"now\n");
        std::thread::sleep(Duration::from_millis(600));
        let (_, stdout, _) = done(&mut ch, "echo next", None);
        assert_eq!(stdout, b"next\n");
    }

    #[test]
    fn a_shell_that_exits_loses_the_frame() {
        let mut ch = local();
        // `exit` in the script ends only its own subshell; killing the channel's shell (`$$`) ends all.
        match ch.run("kill -9 $$", None).expect("the frame is written") {
            Outcome::Lost { started, .. } => assert!(started),
            Outcome::Done { .. } => panic!("the shell was killed"),
        }
        assert!(!ch.alive());
    }
}
