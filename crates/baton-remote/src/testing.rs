//! A throwaway OpenSSH server for tests: a real `sshd` on a free 127.0.0.1 port, with a fresh
//! ed25519 host key and a fresh client key authorized for root, its own `sshd_config` in a
//! temporary directory, run in the foreground (`-D -e`) as a child of the test process and
//! stopped when dropped, or by a watchdog once the test process is gone.
//!
//! This is test support (ordinary code so that every crate's tests can use it): failures are
//! `Err(String)` with what went wrong. It must never touch the machine's own sshd, its
//! configuration or the user's `~/.ssh`: everything lives in its temporary directory (only the
//! privilege separation directory `/run/sshd`, which sshd requires, is created if missing).
//!
//! [`ansible`] provides an ansible-core installation for `ansible_module`'s tests: a Python
//! virtual environment made once per machine (`python3 -m venv`, `pip install ansible-core`)
//! under `~/.cache/baton-tests/ansible-venv`, or the `ansible` that `BATON_ANSIBLE` names.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ssh::Connection;

/// A running sshd to test against.
pub struct TestSshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl TestSshd {
    /// Makes the keys and configuration and starts sshd on a free loopback port.
    pub fn start() -> Result<TestSshd, String> {
        let sshd = Path::new(SSHD);
        if !sshd.is_file() {
            return Err(format!(
                "{SSHD} was not found: install OpenSSH's server (Debian: apt-get install openssh-server)"
            ));
        }
        std::fs::create_dir_all("/run/sshd").map_err(|e| {
            format!("cannot make sshd's privilege separation directory /run/sshd: {e}")
        })?;
        let dir = tempfile::Builder::new()
            .prefix("baton-sshd-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for sshd: {e}"))?;
        keygen(&dir.path().join("host_key"))?;
        keygen(&dir.path().join("client_key"))?;
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .map_err(|e| format!("cannot authorize the client key: {e}"))?;
        let mut server = TestSshd {
            dir,
            port: 0,
            child: None,
        };
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Authorizes another server's client key here too, so one key logs in to several test
    /// hosts (as a fleet shares a deploy key).
    pub fn authorize(&self, other: &TestSshd) -> Result<(), String> {
        let key = std::fs::read_to_string(other.dir.path().join("client_key.pub"))
            .map_err(|e| format!("cannot read the other client key: {e}"))?;
        let path = self.dir.path().join("authorized_keys");
        let mut keys = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read authorized_keys: {e}"))?;
        keys.push_str(&key);
        std::fs::write(&path, keys).map_err(|e| format!("cannot write authorized_keys: {e}"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The private key authorized for root.
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// The private key authorized for root, as text.
    pub fn client_key_text(&self) -> Result<String, String> {
        std::fs::read_to_string(self.client_key_path())
            .map_err(|e| format!("cannot read the client key: {e}"))
    }

    /// The server's public host key line (`ssh-ed25519 AAAA…`), for `Connection::host_key`.
    pub fn host_key_line(&self) -> Result<String, String> {
        let text = std::fs::read_to_string(self.dir.path().join("host_key.pub"))
            .map_err(|e| format!("cannot read the host key: {e}"))?;
        let mut fields = text.split_whitespace();
        match (fields.next(), fields.next()) {
            (Some(kind), Some(key)) => Ok(format!("{kind} {key}")),
            _ => Err("the public host key file is malformed".into()),
        }
    }

    /// The `SHA256:…` fingerprint of the host key, as ssh prints it.
    pub fn host_key_fingerprint(&self) -> Result<String, String> {
        let out = Command::new("ssh-keygen")
            .arg("-l")
            .arg("-f")
            .arg(self.dir.path().join("host_key.pub"))
            .output()
            .map_err(|e| format!("ssh-keygen: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find(|w| w.starts_with("SHA256:"))
            .map(str::to_string)
            .ok_or_else(|| "ssh-keygen printed no fingerprint".into())
    }

    /// root@127.0.0.1 on this server's port, with the client key (as a file, no agent) and
    /// the host key pinned.
    pub fn connection(&self) -> Result<Connection, String> {
        let mut c = Connection::new("127.0.0.1", "root");
        c.port = self.port;
        c.private_key_file = Some(self.client_key_path());
        c.agent = false;
        c.host_key = Some(self.host_key_line()?);
        c.timeout = Duration::from_secs(10);
        Ok(c)
    }

    /// What sshd logged so far (`-e`: to its standard error).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// How many logins the server accepted (each SSH connection authenticates once: this
    /// counts connections, not commands run over them).
    pub fn accepted_logins(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.starts_with("Accepted "))
            .count()
    }

    /// Stops the server (and its connections), makes a new host key and starts it again on
    /// the same port: the host as it looks after a rebuild.
    pub fn restart_with_new_host_key(&mut self) -> Result<(), String> {
        self.stop();
        for f in ["host_key", "host_key.pub"] {
            let _ = std::fs::remove_file(self.dir.path().join(f));
        }
        keygen(&self.dir.path().join("host_key"))?;
        self.launch()
    }

    /// The listening sshd's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the host at once, as a crash or a pulled cable would: SIGKILL to the listening
    /// sshd and to every process it started (each connection's sshd and the commands running
    /// in its sessions), so connections drop mid-command. Nothing listens on the port after.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let mut tree = descendants(child.id());
            // Children first would let the listener start new ones: stop it first.
            let _ = child.kill();
            let _ = child.wait();
            // Sessions forked while the tree was read are found on a second look.
            tree.extend(tree.clone().into_iter().flat_map(descendants));
            for pid in tree {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// Starts a stopped or killed server again on the same port with the same keys: the
    /// host back after an outage.
    pub fn start_again(&mut self) -> Result<(), String> {
        self.stop();
        self.launch()
    }

    /// Starts sshd on `self.port` and waits until it accepts connections.
    fn launch(&mut self) -> Result<(), String> {
        let d = self.dir.path();
        // `SetEnv SHLVL=1`: Debian's bash reads `~/.bashrc` when sshd starts it as the login
        // shell of a command, unless it is not the first shell level; the test hosts' sessions
        // must not depend on the developer's rc files (root's runs `pyenv init` on the build
        // machines, which takes a lock a killed session can leave behind for a minute).
        // `PYENV_REHASH_TIMEOUT=1` bounds that wait should the rc file be read anyway.
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nStrictModes no\n\
             UsePAM no\nMaxStartups 100\nLogLevel INFO\nSetEnv SHLVL=1 PYENV_REHASH_TIMEOUT=1\n",
            port = self.port,
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config)
            .map_err(|e| format!("cannot write sshd_config: {e}"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("sshd.log"))
            .map_err(|e| format!("cannot open sshd's log: {e}"))?;
        let before = self.log().len();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {SSHD}: {e}"))?;
        watchdog(child.id(), &d.join("sshd_config"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("sshd exited ({status}): {}", self.log()));
                }
            }
            if self
                .log()
                .get(before..)
                .is_some_and(|new| new.contains("Server listening on"))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!("sshd did not start listening: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the listener and the connection processes it started.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            // Each connection's sshd runs in a session of its own: end them by parent id.
            let _ = Command::new("pkill")
                .args(["-TERM", "-P", &pid])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        self.stop();
    }
}

const SSHD: &str = "/usr/sbin/sshd";

/// Every process below `pid` (children, their children, …), read from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            // `pid (comm) state ppid …`: the name may hold spaces, so read after the last ')'.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p && !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

fn keygen(path: &Path) -> Result<(), String> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "baton-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ssh-keygen failed: {}",
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

/// Stops sshd (and its connections) once this process is gone: a shell that waits for our
/// pid to vanish, then ends that sshd if the pid is still this one (its title names its
/// configuration file).
fn watchdog(sshd_pid: u32, config: &Path) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         if grep -qF '{config}' /proc/{sshd_pid}/cmdline 2>/dev/null; then \
         pkill -TERM -P {sshd_pid} 2>/dev/null; kill -TERM {sshd_pid} 2>/dev/null; fi",
        pid = std::process::id(),
        config = config.display(),
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// The `ansible` executable for tests: `BATON_ANSIBLE` if set, else the one in
/// `~/.cache/baton-tests/ansible-venv`, made on first use (`python3 -m venv` and
/// `pip install ansible-core`, which needs the package index). Made once per machine: a lock
/// file serializes test processes, and a marker file records a finished installation.
pub fn ansible() -> Result<PathBuf, String> {
    static ANSIBLE: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    ANSIBLE.get_or_init(make_ansible).clone()
}

fn make_ansible() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(crate::ansible::ANSIBLE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    let cache = Path::new(&home).join(".cache/baton-tests");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let lock = std::fs::File::create(cache.join("ansible-venv.lock"))
        .map_err(|e| format!("lock file: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    let venv = cache.join("ansible-venv");
    let exe = venv.join("bin/ansible");
    let ready = venv.join(".baton-ready");
    if ready.is_file() && exe.is_file() {
        return Ok(exe);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{cmd:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{cmd:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    };
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "ansible-core",
    ]))?;
    if !exe.is_file() {
        return Err(format!(
            "{} is missing after installing ansible-core",
            exe.display()
        ));
    }
    std::fs::write(&ready, "").map_err(|e| format!("{}: {e}", ready.display()))?;
    Ok(exe)
}
