//! SSH as OpenSSH users expect it: every connection is made by the system `ssh` binary, so the
//! user's `~/.ssh/config`, agent, known_hosts and ProxyJump work as they do in a terminal.
//!
//! A [`Session`] holds one OpenSSH ControlMaster connection to a host (made on first use, with
//! `ControlPersist`, re-made if it has gone away) and runs every command on that host through
//! it, each command in one of a few remote shells kept open on the host (`channel.rs`); a
//! [`Sessions`] pool hands out one session per [`Connection`] and closes the masters
//! (`ssh -O exit`) when dropped. Failures are typed ([`SshError`]): an unknown or changed host
//! key (named with its fingerprint), an unreachable host (retryable), refused authentication.
//!
//! This module must never prompt (`BatchMode=yes` always), never print key material (a
//! private key given as text lives in a 0600 file in a private directory only while the master
//! connection authenticates), and never weaken host key checking: `accept-new` is only ever an
//! explicit setting, and a changed key is refused whatever the setting.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::channel::{Channel, Outcome};

/// How to reach one host: plain data, decoded from a `connection` block or built by hand.
/// Two equal connections share one [`Session`] in a [`Sessions`] pool.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// Host name or address (as `ssh` resolves it: an alias of the user's config works).
    pub host: String,
    /// TCP port (22 by default).
    pub port: u16,
    /// Remote user.
    pub user: String,
    /// A private key as text (sensitive): written to a 0600 file only while authenticating.
    pub private_key: Option<String>,
    /// A private key file.
    pub private_key_file: Option<PathBuf>,
    /// Whether the user's SSH agent (`SSH_AUTH_SOCK`) may be used (true by default).
    pub agent: bool,
    /// The host's expected public key line (`ssh-ed25519 AAAA…`): when set, the host is checked
    /// against this key alone, and `known_hosts` is not read.
    pub host_key: Option<String>,
    /// The known_hosts file to check and record host keys in (default: the user's).
    pub known_hosts: Option<PathBuf>,
    /// What to do with a host whose key is not known yet.
    pub strict_host_key_checking: HostKeyChecking,
    /// Connect timeout (30 s by default).
    pub timeout: Duration,
    /// A jump host to connect through (`ssh -J`).
    pub bastion: Option<Bastion>,
}

/// A jump host (`ssh -J user@host:port`). Its own host key is checked as the user's ssh
/// configuration says (its known_hosts), not against [`Connection::host_key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    /// The user on the jump host (default: as the user's ssh configuration says).
    pub user: Option<String>,
}

/// `StrictHostKeyChecking`: a changed key is refused under both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HostKeyChecking {
    /// Only hosts whose key is already known (the default).
    #[default]
    Yes,
    /// A host seen for the first time has its key recorded in known_hosts and is accepted.
    AcceptNew,
}

/// What a command did on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteOutput {
    /// The command's exit status (255 is also what `ssh` itself reports for a lost
    /// connection it could not recognise as such).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a command could not be run on a host.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("the host key of {host} is not known (the host presented {fingerprint}) and strict host key checking is on: add it to known_hosts, set host_key, or use accept-new")]
    HostKeyUnknown { host: String, fingerprint: String },
    #[error("the host key of {host} has CHANGED (the host now presents {fingerprint}): refusing to connect; if the host was rebuilt, remove its old key from known_hosts")]
    HostKeyChanged { host: String, fingerprint: String },
    #[error("{host} is unreachable: {message}")]
    Unreachable { host: String, message: String },
    #[error("authentication as {user} on {host} failed: {message}")]
    Auth {
        host: String,
        user: String,
        message: String,
    },
    #[error("invalid SSH connection settings: {message}")]
    Invalid { message: String },
    #[error("ssh to {host} failed: {message}")]
    Ssh { host: String, message: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// One host's multiplexed connection. Commands run concurrently, each in a remote shell kept
/// open for the next ([`Channel`]), at most
/// [`MAX_CONCURRENT_COMMANDS`] at a time (sshd's default `MaxSessions` is 10).
pub struct Session {
    conn: Connection,
    /// The private directory (ControlPath socket, pinned host key, key file while needed);
    /// made on first use. Holding this lock is what makes the master connection one.
    state: Mutex<Option<SessionDir>>,
    /// The master was found or made alive, and no command has found it gone since: commands
    /// go straight through its socket without asking it first (`ssh -O check` is a process
    /// of its own, and would be one per command).
    master_ok: std::sync::atomic::AtomicBool,
    /// The host's remote shells ([`Channel`]): idle ones, and how many are open in all.
    channels: Mutex<ChannelPool>,
    freed: Condvar,
}

#[derive(Default)]
struct ChannelPool {
    idle: Vec<Channel>,
    open: usize,
}

/// What one try of a command came to.
enum Attempt {
    Done(RemoteOutput),
    /// The shared connection was gone before the command could start.
    MasterGone,
}

/// The most commands a session runs at once over its one connection: each has a remote
/// shell of its own ([`Channel`]), opened when needed and kept for the next command. Few:
/// a shell costs an ssh session to start, and commands on one host share its CPUs anyway.
pub const MAX_CONCURRENT_COMMANDS: usize = 2;

/// One [`Session`] per [`Connection`]: pass one pool to everything that runs commands on
/// hosts during a run. Dropping the pool (and the sessions handed out) closes the masters.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<Connection, Arc<Session>>>,
}

impl Connection {
    /// `user@host:22` with the defaults: the user's agent and known_hosts, strict checking,
    /// a 30 s connect timeout, no jump host.
    pub fn new(host: impl Into<String>, user: impl Into<String>) -> Connection {
        Connection {
            host: host.into(),
            port: 22,
            user: user.into(),
            private_key: None,
            private_key_file: None,
            agent: true,
            host_key: None,
            known_hosts: None,
            strict_host_key_checking: HostKeyChecking::Yes,
            timeout: Duration::from_secs(30),
            bastion: None,
        }
    }

    /// `host:port`, as errors name the host.
    pub fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "(sensitive)"),
            )
            .field("private_key_file", &self.private_key_file)
            .field("agent", &self.agent)
            .field("host_key", &self.host_key)
            .field("known_hosts", &self.known_hosts)
            .field("strict_host_key_checking", &self.strict_host_key_checking)
            .field("timeout", &self.timeout)
            .field("bastion", &self.bastion)
            .finish()
    }
}

impl SshError {
    /// Whether trying again later may succeed (the host was unreachable).
    pub fn retryable(&self) -> bool {
        matches!(self, SshError::Unreachable { .. })
    }
}

impl RemoteOutput {
    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Sessions {
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// The pool every resource type of this process shares (a connection per host, reused
    /// by every action and every run of a long-lived worker or agent).
    pub fn shared() -> &'static Sessions {
        static S: std::sync::OnceLock<Sessions> = std::sync::OnceLock::new();
        S.get_or_init(Sessions::new)
    }

    /// The session for `conn`, made (without connecting) if this pool has none yet.
    pub fn get(&self, conn: &Connection) -> Arc<Session> {
        let mut map = lock(&self.sessions);
        Arc::clone(
            map.entry(conn.clone())
                .or_insert_with(|| Arc::new(Session::new(conn.clone()))),
        )
    }
}

impl Session {
    /// A session that connects on first use. Prefer [`Sessions::get`], which shares it.
    pub fn new(conn: Connection) -> Session {
        Session {
            conn,
            state: Mutex::new(None),
            master_ok: std::sync::atomic::AtomicBool::new(false),
            channels: Mutex::new(ChannelPool::default()),
            freed: Condvar::new(),
        }
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Makes sure the master connection is up: connects (checking the host key and
    /// authenticating) if it is not. [`Session::run`] does this itself.
    pub fn connect(&self) -> Result<(), SshError> {
        self.ensure_master().map(|_| ())
    }

    /// Connects and opens one remote shell for the commands to come, when none is open yet;
    /// errors are left for those commands to report (they try again).
    pub fn warm(&self) {
        let Ok((dir, socket)) = self.ensure_master() else {
            return;
        };
        if lock(&self.channels).open > 0 {
            return;
        }
        if let Ok(Ok(ch)) = self.take_channel(&dir, &socket) {
            self.give_back(Some(ch));
        }
    }

    /// The ControlPath socket of the master connection, once one was made.
    pub fn control_path(&self) -> Option<PathBuf> {
        lock(&self.state).as_ref().map(|d| d.socket.clone())
    }

    /// Runs `script` with `sh -c` on the host, `stdin` (if any) as its standard input, and
    /// returns its exit code and output. A non-zero exit is an `Ok`: only failing to run it
    /// is an error.
    pub fn run(&self, script: &str, stdin: Option<&[u8]>) -> Result<RemoteOutput, SshError> {
        match self.run_once(script, stdin)? {
            Attempt::Done(out) => Ok(out),
            // The master went away between commands (its idle time ran out, or it died):
            // the command never started; make a new master and run it once more.
            Attempt::MasterGone => match self.run_once(script, stdin)? {
                Attempt::Done(out) => Ok(out),
                Attempt::MasterGone => Err(SshError::Unreachable {
                    host: self.conn.target(),
                    message: "the shared connection could not be re-established".into(),
                }),
            },
        }
    }

    /// Runs a script made only once a shell is free: `make` is called with a shell in hand,
    /// so whatever it gathers (requests queued by other threads meanwhile) is as much as can
    /// go in one command. `make` returning `None` runs nothing (`Ok(None)`).
    pub fn run_built<T>(
        &self,
        make: impl FnOnce() -> Option<(String, T)>,
    ) -> Result<Option<(T, RemoteOutput)>, SshError> {
        let mut make = Some(make);
        let mut made: Option<(String, T)> = None;
        for _ in 0..2 {
            let (dir, socket) = self.ensure_master()?;
            let channel = match self.take_channel(&dir, &socket)? {
                Ok(ch) => ch,
                Err(_) => continue,
            };
            if made.is_none() {
                made = make.take().and_then(|f| f());
            }
            let Some((script, _)) = &made else {
                self.give_back(Some(channel));
                return Ok(None);
            };
            let script = script.clone();
            if let Attempt::Done(out) = self.run_on(channel, &dir, &socket, &script, None)? {
                return Ok(made.map(|(_, t)| (t, out)));
            }
        }
        Err(SshError::Unreachable {
            host: self.conn.target(),
            message: "the shared connection could not be re-established".into(),
        })
    }

    fn run_once(&self, script: &str, stdin: Option<&[u8]>) -> Result<Attempt, SshError> {
        let (dir, socket) = self.ensure_master()?;
        let channel = match self.take_channel(&dir, &socket)? {
            Ok(ch) => ch,
            Err(gone) => return Ok(gone),
        };
        self.run_on(channel, &dir, &socket, script, stdin)
    }

    /// Runs one command on `channel`, which it gives back (or closes, when in doubt).
    fn run_on(
        &self,
        mut channel: Channel,
        dir: &Path,
        socket: &Path,
        script: &str,
        stdin: Option<&[u8]>,
    ) -> Result<Attempt, SshError> {
        let outcome = channel.run(script, stdin).map_err(|source| SshError::Io {
            what: format!("talking to the shell on {}", self.conn.target()),
            source,
        });
        match outcome {
            Ok(Outcome::Done {
                code,
                stdout,
                stderr,
            }) => {
                self.give_back(Some(channel));
                Ok(Attempt::Done(RemoteOutput {
                    code,
                    stdout,
                    stderr,
                }))
            }
            Ok(Outcome::Lost { stderr, started }) => {
                channel.close();
                self.give_back(None);
                let master_gone = !self.master_alive(dir, socket)?;
                if master_gone {
                    self.master_ok
                        .store(false, std::sync::atomic::Ordering::SeqCst);
                }
                if !started && master_gone {
                    // The command never started: the caller may make a new master and retry.
                    return Ok(Attempt::MasterGone);
                }
                if let Some(err) = lost_connection(&self.conn, &stderr) {
                    return Err(err);
                }
                Err(SshError::Unreachable {
                    host: self.conn.target(),
                    message: if started {
                        let said = summary(&String::from_utf8_lossy(&stderr));
                        format!("the connection was lost while the command ran ({said})")
                    } else {
                        format!(
                            "the remote shell ended before the command started: {}",
                            summary(&String::from_utf8_lossy(&stderr))
                        )
                    },
                })
            }
            Err(e) => {
                channel.close();
                self.give_back(None);
                Err(e)
            }
        }
    }

    /// An idle channel, or a new one when fewer than [`MAX_CONCURRENT_COMMANDS`] are open;
    /// otherwise waits for one to be given back. `Ok(Err(MasterGone))` when a new channel
    /// could not be opened because the master is gone.
    fn take_channel(
        &self,
        dir: &Path,
        socket: &Path,
    ) -> Result<Result<Channel, Attempt>, SshError> {
        {
            let mut pool = lock(&self.channels);
            loop {
                while let Some(mut ch) = pool.idle.pop() {
                    if ch.alive() {
                        return Ok(Ok(ch));
                    }
                    pool.open = pool.open.saturating_sub(1);
                    ch.close();
                }
                if pool.open < MAX_CONCURRENT_COMMANDS {
                    pool.open += 1;
                    break;
                }
                pool = self
                    .freed
                    .wait(pool)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        let mut cmd = Command::new("ssh");
        cmd.args(common_args(&self.conn, dir, false))
            .args(["-o", "ControlMaster=no", "-T", "--"])
            .arg(&self.conn.host);
        let opened = Channel::open(cmd);
        let stderr = match opened {
            Ok(Ok(ch)) => return Ok(Ok(ch)),
            Ok(Err(stderr)) => stderr,
            Err(source) => {
                self.give_back(None);
                return Err(SshError::Io {
                    what: "cannot start ssh".into(),
                    source,
                });
            }
        };
        self.give_back(None);
        if !self.master_alive(dir, socket)? {
            self.master_ok
                .store(false, std::sync::atomic::Ordering::SeqCst);
            return Ok(Err(Attempt::MasterGone));
        }
        if let Some(err) = lost_connection(&self.conn, &stderr) {
            return Err(err);
        }
        Err(SshError::Ssh {
            host: self.conn.target(),
            message: format!(
                "cannot start a shell: {}",
                summary(&String::from_utf8_lossy(&stderr))
            ),
        })
    }

    /// Returns a channel to the pool after a command (`None`: it was closed).
    fn give_back(&self, channel: Option<Channel>) {
        let mut pool = lock(&self.channels);
        match channel {
            Some(ch) => pool.idle.push(ch),
            None => pool.open = pool.open.saturating_sub(1),
        }
        self.freed.notify_one();
    }

    /// The session's directory, with a live master connection in it.
    /// Returns the directory and the control socket.
    fn ensure_master(&self) -> Result<(PathBuf, PathBuf), SshError> {
        validate(&self.conn)?;
        let mut state = lock(&self.state);
        if state.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("baton-ssh-")
                .tempdir_in(short_temp_dir())
                .map_err(|source| SshError::Io {
                    what: "cannot make a private directory for the SSH control socket".into(),
                    source,
                })?;
            if let Some(line) = &self.conn.host_key {
                let pinned = format!("{HOST_KEY_ALIAS} {}\n", line.trim());
                std::fs::write(dir.path().join(PINNED_KNOWN_HOSTS), pinned).map_err(|source| {
                    SshError::Io {
                        what: "cannot write the pinned host key".into(),
                        source,
                    }
                })?;
            }
            let socket = resolve_control_socket(&self.conn, dir.path())?;
            *state = Some(SessionDir { dir, socket });
        }
        let (dir, socket) = match state.as_ref() {
            Some(d) => (d.dir.path().to_path_buf(), d.socket.clone()),
            None => {
                return Err(SshError::Ssh {
                    host: self.conn.target(),
                    message: "no session directory".into(),
                })
            }
        };
        if self.master_ok.load(std::sync::atomic::Ordering::SeqCst) && socket.exists() {
            return Ok((dir, socket));
        }
        if self.master_alive(&dir, &socket)? {
            self.master_ok
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return Ok((dir, socket));
        }
        // A socket left by a master that died would make the new one give up multiplexing.
        let _ = std::fs::remove_file(&socket);
        let key = KeyFile::write(&dir, self.conn.private_key.as_deref())?;
        let log = dir.join("master.err");
        let errfile = std::fs::File::create(&log).map_err(|source| SshError::Io {
            what: "cannot make the ssh error log".into(),
            source,
        })?;
        let mut cmd = Command::new("ssh");
        cmd.args(common_args(&self.conn, &dir, true));
        if let Some(path) = key.path() {
            cmd.arg("-i").arg(path);
        }
        cmd.args([
            "-o",
            "ControlMaster=yes",
            "-o",
            "ControlPersist=60",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=3",
            "-N",
            "-f",
            "--",
        ])
        .arg(&self.conn.host)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: the backgrounded master must not hold our pipe open.
        .stderr(errfile);
        let status = cmd.status().map_err(|source| SshError::Io {
            what: "cannot start ssh".into(),
            source,
        });
        drop(key);
        let status = status?;
        let stderr = std::fs::read(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if status.success() {
            self.master_ok
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return Ok((dir, socket));
        }
        Err(self.classify_connect_failure(&dir, &stderr))
    }

    fn master_alive(&self, dir: &Path, socket: &Path) -> Result<bool, SshError> {
        if !socket.exists() {
            return Ok(false);
        }
        let status = Command::new("ssh")
            .args(common_args(&self.conn, dir, false))
            .args(["-O", "check", "--"])
            .arg(&self.conn.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|source| SshError::Io {
                what: "cannot start ssh".into(),
                source,
            })?;
        Ok(status.success())
    }

    fn classify_connect_failure(&self, dir: &Path, stderr: &[u8]) -> SshError {
        let text = String::from_utf8_lossy(stderr);
        let host = self.conn.target();
        match classify(&text) {
            Failure::HostKeyChanged => SshError::HostKeyChanged {
                host,
                fingerprint: fingerprint_in(&text).unwrap_or_else(|| "an unknown key".into()),
            },
            // With a pinned key, a host presenting a key of another type is not the host
            // expected either.
            Failure::HostKeyUnknown if self.conn.host_key.is_some() => SshError::HostKeyChanged {
                fingerprint: fingerprint_in(&text)
                    .or_else(|| self.probe_fingerprint(dir))
                    .unwrap_or_else(|| "an unknown key".into()),
                host,
            },
            Failure::HostKeyUnknown => SshError::HostKeyUnknown {
                fingerprint: fingerprint_in(&text)
                    .or_else(|| self.probe_fingerprint(dir))
                    .unwrap_or_else(|| "an unknown key".into()),
                host,
            },
            Failure::Unreachable => SshError::Unreachable {
                host,
                message: summary(&text),
            },
            Failure::Auth => SshError::Auth {
                host,
                user: self.conn.user.clone(),
                message: summary(&text),
            },
            Failure::Other => SshError::Ssh {
                host,
                message: summary(&text),
            },
        }
    }

    /// The fingerprint of the key the host presents, which ssh prints only when verbose:
    /// connects once more with `-v` (the host key is refused again, so nothing runs).
    fn probe_fingerprint(&self, dir: &Path) -> Option<String> {
        let out = Command::new("ssh")
            .args(common_args(&self.conn, dir, true))
            .args([
                "-v",
                "-o",
                "ControlMaster=no",
                "-o",
                "ControlPath=none",
                "-o",
                "PasswordAuthentication=no",
                "-o",
                "PubkeyAuthentication=no",
                "-N",
                "--",
            ])
            .arg(&self.conn.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stderr);
        text.lines()
            .rev()
            .filter_map(|l| l.split_once("Server host key: "))
            .filter_map(|(_, rest)| rest.split_whitespace().find(|w| w.starts_with("SHA256:")))
            .next()
            .map(str::to_string)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let pool = std::mem::take(
            self.channels
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for ch in pool.idle {
            ch.close();
        }
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(d) = state.as_ref() {
            if d.socket.exists() {
                let _ = Command::new("ssh")
                    .args(common_args(&self.conn, d.dir.path(), false))
                    .args(["-O", "exit", "--"])
                    .arg(&self.conn.host)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

struct SessionDir {
    dir: tempfile::TempDir,
    /// The ControlPath socket (`<dir>/%C`, expanded).
    socket: PathBuf,
}

/// The private key text in a 0600 file of the session's private directory, removed on drop.
struct KeyFile(Option<PathBuf>);

impl KeyFile {
    fn write(dir: &Path, key: Option<&str>) -> Result<KeyFile, SshError> {
        let Some(key) = key else {
            return Ok(KeyFile(None));
        };
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join("identity");
        let io = |source| SshError::Io {
            what: "cannot write the private key to a temporary file".into(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        let guard = KeyFile(Some(path));
        // OpenSSH rejects a key file whose last line has no newline.
        let mut text = key.replace("\r\n", "\n");
        if !text.ends_with('\n') {
            text.push('\n');
        }
        f.write_all(text.as_bytes()).map_err(io)?;
        Ok(guard)
    }

    fn path(&self) -> Option<&Path> {
        self.0.as_deref()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

const HOST_KEY_ALIAS: &str = "baton-pinned-host";
const PINNED_KNOWN_HOSTS: &str = "pinned_known_hosts";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `/tmp` when it exists: a socket path must stay under ~100 bytes, and `TMPDIR` can be long.
fn short_temp_dir() -> PathBuf {
    let tmp = Path::new("/tmp");
    if tmp.is_dir() {
        tmp.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// The ControlPath socket ssh will use, `%C` expanded, as `ssh -G` resolves it.
fn resolve_control_socket(conn: &Connection, dir: &Path) -> Result<PathBuf, SshError> {
    let out = Command::new("ssh")
        .arg("-G")
        .args(common_args(conn, dir, false))
        .arg("--")
        .arg(&conn.host)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| SshError::Io {
            what: "cannot start ssh".into(),
            source,
        })?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("controlpath "))
        .map(|p| PathBuf::from(p.trim()))
        .ok_or_else(|| SshError::Ssh {
            host: conn.target(),
            message: "ssh -G did not say which control socket it would use".into(),
        })
}

/// The options every invocation for this connection shares: the ControlPath hash `%C` depends
/// on host, port, user and jump host, so all must be passed identically.
fn common_args(conn: &Connection, dir: &Path, authenticating: bool) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut opt = |s: String| {
        a.push("-o".into());
        a.push(s);
    };
    opt("BatchMode=yes".into());
    opt(format!("ControlPath={}/%C", dir.display()));
    opt(format!("ConnectTimeout={}", conn.timeout.as_secs().max(1)));
    if authenticating {
        if conn.host_key.is_some() {
            opt(format!(
                "UserKnownHostsFile={}",
                dir.join(PINNED_KNOWN_HOSTS).display()
            ));
            opt("GlobalKnownHostsFile=/dev/null".into());
            opt(format!("HostKeyAlias={HOST_KEY_ALIAS}"));
            opt("StrictHostKeyChecking=yes".into());
            opt("UpdateHostKeys=no".into());
        } else {
            if let Some(kh) = &conn.known_hosts {
                opt(format!("UserKnownHostsFile={}", kh.display()));
            }
            opt(match conn.strict_host_key_checking {
                HostKeyChecking::Yes => "StrictHostKeyChecking=yes".into(),
                HostKeyChecking::AcceptNew => "StrictHostKeyChecking=accept-new".into(),
            });
        }
        if !conn.agent {
            opt("IdentityAgent=none".into());
        }
        if conn.private_key.is_some() || conn.private_key_file.is_some() {
            opt("IdentitiesOnly=yes".into());
        }
    }
    if authenticating {
        if let Some(file) = &conn.private_key_file {
            a.push("-i".into());
            a.push(file.display().to_string());
        }
    }
    if let Some(b) = &conn.bastion {
        a.push("-J".into());
        a.push(match &b.user {
            Some(u) => format!("{u}@{}:{}", bracket(&b.host), b.port),
            None => format!("{}:{}", bracket(&b.host), b.port),
        });
    }
    a.push("-l".into());
    a.push(conn.user.clone());
    a.push("-p".into());
    a.push(conn.port.to_string());
    a
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Refuses settings that `ssh` would read as options or that would smuggle lines into a
/// known_hosts file.
fn validate(conn: &Connection) -> Result<(), SshError> {
    let bad_name = |what: &str, v: &str| -> Result<(), SshError> {
        if v.is_empty()
            || v.starts_with('-')
            || v.chars().any(|c| c.is_whitespace() || c.is_control())
            || (what.ends_with("user") && v.contains('@'))
        {
            return Err(SshError::Invalid {
                message: format!("{what} {v:?} is not a valid SSH {what}"),
            });
        }
        Ok(())
    };
    bad_name("host", &conn.host)?;
    bad_name("user", &conn.user)?;
    if let Some(b) = &conn.bastion {
        bad_name("bastion host", &b.host)?;
        if let Some(u) = &b.user {
            bad_name("bastion user", u)?;
        }
    }
    if let Some(line) = &conn.host_key {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let ok = !line.contains('\n')
            && !line.contains('\r')
            && (2..=3).contains(&fields.len())
            && fields.first().is_some_and(|t| {
                t.starts_with("ssh-") || t.starts_with("ecdsa-") || t.starts_with("sk-")
            })
            && fields.get(1).is_some_and(|k| {
                k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
            });
        if !ok {
            return Err(SshError::Invalid {
                message: "host_key must be one public key line: \"TYPE BASE64 [comment]\"".into(),
            });
        }
    }
    if conn.timeout.is_zero() {
        return Err(SshError::Invalid {
            message: "timeout must be more than zero".into(),
        });
    }
    Ok(())
}

enum Failure {
    HostKeyChanged,
    HostKeyUnknown,
    Unreachable,
    Auth,
    Other,
}

fn classify(stderr: &str) -> Failure {
    let has = |s: &str| stderr.contains(s);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("has changed and you have requested") {
        Failure::HostKeyChanged
    } else if has("Host key verification failed") || (has("host key is known for") && has("No ")) {
        Failure::HostKeyUnknown
    } else if has("Permission denied")
        || has("Too many authentication failures")
        || has("No more authentication methods")
    {
        Failure::Auth
    } else if UNREACHABLE.iter().any(|p| has(p)) {
        Failure::Unreachable
    } else {
        Failure::Other
    }
}

const UNREACHABLE: &[&str] = &[
    "Connection refused",
    "timed out",
    "No route to host",
    "Network is unreachable",
    "Could not resolve hostname",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Connection closed by",
    "Connection reset",
    "closed by remote host",
    "kex_exchange_identification",
    "Broken pipe",
    "not responding",
];

/// A command's exit 255 whose last stderr line is ssh's own report of the connection going
/// away (the command's own output never ends with these).
fn lost_connection(conn: &Connection, stderr: &[u8]) -> Option<SshError> {
    let text = String::from_utf8_lossy(stderr);
    let last = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let ssh_said = (last.starts_with("Connection to ") && last.contains("closed"))
        || last.starts_with("ssh: ")
        || last.starts_with("mux_client")
        || last.starts_with("Control socket")
        || last.starts_with("Timeout, server")
        || last.starts_with("client_loop:");
    if !ssh_said {
        return None;
    }
    Some(match classify(last) {
        Failure::Auth => SshError::Auth {
            host: conn.target(),
            user: conn.user.clone(),
            message: last.to_string(),
        },
        _ => SshError::Unreachable {
            host: conn.target(),
            message: last.to_string(),
        },
    })
}

/// The first `SHA256:…` fingerprint ssh printed.
fn fingerprint_in(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with("SHA256:") && w.len() > 7)
        .map(|w| w.trim_end_matches('.').to_string())
}

/// ssh's error lines without its banners and advice, for a message.
fn summary(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('@') && !l.starts_with("debug"))
        .collect();
    if lines.is_empty() {
        "ssh failed without saying why".into()
    } else {
        lines.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_private_key() {
        let mut c = Connection::new("h", "u");
        c.private_key = Some("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("(sensitive)"), "{shown}");
    }

    #[test]
    fn fingerprints_and_kinds_are_read_from_ssh_messages() {
        let changed = "@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nThe fingerprint for the ED25519 key sent by the remote host is\nSHA256:/WWCboJFUwgoVfdFdmCkOZPU9w/NpzYd5NI50z2FsOE.\nHost key verification failed.\n";
        assert!(matches!(classify(changed), Failure::HostKeyChanged));
        assert_eq!(
            fingerprint_in(changed).as_deref(),
            Some("SHA256:/WWCboJFUwgoVfdFdmCkOZPU9w/NpzYd5NI50z2FsOE")
        );
        let unknown = "No ED25519 host key is known for [127.0.0.1]:42222 and you have requested strict checking.\nHost key verification failed.\n";
        assert!(matches!(classify(unknown), Failure::HostKeyUnknown));
        assert!(matches!(
            classify("ssh: connect to host 127.0.0.1 port 1: Connection refused"),
            Failure::Unreachable
        ));
        assert!(matches!(
            classify("root@127.0.0.1: Permission denied (publickey)."),
            Failure::Auth
        ));
    }

    #[test]
    fn option_like_hosts_and_forged_host_keys_are_refused() {
        let c = Connection::new("-oProxyCommand=x", "root");
        assert!(matches!(validate(&c), Err(SshError::Invalid { .. })));
        let mut c = Connection::new("h", "root");
        c.host_key = Some("ssh-ed25519 AAAA\n@cert-authority * ssh-ed25519 BBBB".into());
        assert!(matches!(validate(&c), Err(SshError::Invalid { .. })));
    }
}
