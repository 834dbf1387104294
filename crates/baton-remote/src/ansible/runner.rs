//! One `ansible-playbook` run, shared by the `ansible_module` and `ansible_playbook` resources
//! and the workflows' `ansible_playbook` step: the executable found (`BATON_ANSIBLE`, else
//! `PATH`), a private 0700 directory holding everything the run needs (the stdout callback, a
//! one-host inventory made from a `connection`, a pinned host key, the private key, the
//! extra variables, a generated one-task playbook for a module), the command built, run and
//! its output read back into per-task results and the per-host recap.
//!
//! Must not put a module argument, an extra variable or key material on a command line or in
//! the environment (they travel in files of the private directory, removed with it when the run
//! ends), must not print, and knows nothing of plans, state or workflows.

use crate::ssh::{Connection, HostKeyChecking};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming Ansible: the `ansible` or `ansible-playbook` executable,
/// or the directory holding them (a virtualenv's `bin`, or the virtualenv itself).
pub const ANSIBLE_ENV: &str = "BATON_ANSIBLE";

/// The stdout callback that prints each result as one JSON line, and the recap.
const CALLBACK: &str = include_str!("baton_json.py");
const RESULT: &str = "BATON-RESULT ";
const STATS: &str = "BATON-STATS ";
const NO_HOSTS: &str = "BATON-NO-HOSTS ";

/// What can go wrong running Ansible (a task that fails is not an error here: it is in the
/// run's results and recap).
#[derive(Debug, thiserror::Error)]
pub enum AnsibleError {
    #[error("Ansible not found: {detail}")]
    NotFound { detail: String },
    #[error("cannot prepare the Ansible run ({what}): {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {exe}: {source}")]
    Spawn {
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `ansible-playbook` ended without reporting a recap: a syntax error, a missing file, a
    /// bad option. `stderr` is the end of what it printed.
    #[error("ansible-playbook exited with {status} and reported no result:\n{stderr}")]
    NoResult { status: String, stderr: String },
}

/// Where `ansible-playbook` is: `BATON_ANSIBLE` (the `ansible-playbook` beside the `ansible`
/// it names, or in the directory it names, or its `bin`), else `ansible-playbook` on `PATH`.
pub fn playbook_executable() -> Result<PathBuf, AnsibleError> {
    const EXE: &str = "ansible-playbook";
    if let Some(p) = std::env::var_os(ANSIBLE_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        let candidates = if p.is_dir() {
            vec![p.join(EXE), p.join("bin").join(EXE)]
        } else {
            vec![p.with_file_name(EXE)]
        };
        return candidates.into_iter().find(|c| c.is_file()).ok_or_else(|| {
            AnsibleError::NotFound {
                detail: format!(
                    "{ANSIBLE_ENV} is {}, and there is no {EXE} beside or in it.",
                    p.display()
                ),
            }
        });
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(EXE);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(AnsibleError::NotFound {
        detail: format!("`{EXE}` is not on PATH: install ansible-core (e.g. `python3 -m venv V && V/bin/pip install ansible-core`) and put it on PATH or set {ANSIBLE_ENV} to its directory."),
    })
}

/// What to run.
#[derive(Clone, Debug)]
pub enum Play {
    /// A playbook file of the user's.
    File(PathBuf),
    /// One module with its arguments on every host (a generated one-task playbook, facts not
    /// gathered).
    Module {
        module: String,
        args: serde_json::Value,
    },
}

/// Which hosts.
#[derive(Clone, Debug)]
pub enum Hosts {
    /// An inventory file or directory of the user's.
    Inventory(PathBuf),
    /// One host reached through `connection`, named `name` in a generated inventory and a
    /// member of `groups`.
    Connection {
        connection: Box<Connection>,
        name: String,
        groups: Vec<String>,
        python: Option<String>,
    },
}

/// One run's settings.
#[derive(Clone, Debug)]
pub struct RunOpts {
    pub play: Play,
    pub hosts: Hosts,
    /// Extra variables (`-e @FILE`: never on the command line).
    pub extra_vars: Option<serde_json::Value>,
    pub limit: Option<String>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    /// `--check`: report what would change, change nothing.
    pub check: bool,
    /// The directory it runs in (relative paths of the playbook resolve against it).
    pub cwd: Option<PathBuf>,
}

/// How a task went on a host, as the callback reported it.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Ok,
    /// Skipped: a `when`, or in check mode a module without check mode.
    Skipped,
    Failed,
    /// Failed, with `ignore_errors`.
    Ignored,
    Unreachable,
}

/// One task's result on one host.
#[derive(Clone, Debug)]
pub struct TaskResult {
    pub host: String,
    pub task: String,
    pub status: Status,
    pub changed: bool,
    /// The module's JSON result.
    pub result: serde_json::Value,
    /// The diff as Ansible renders it (empty when the module reports none).
    pub diff: String,
}

impl TaskResult {
    /// The module's message, with its stderr when it has one.
    pub fn msg(&self) -> String {
        let mut m = self
            .result
            .get("msg")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string();
        for k in ["stderr", "module_stderr"] {
            if let Some(e) = self.result.get(k).and_then(|e| e.as_str()) {
                if !e.trim().is_empty() {
                    m.push_str(&format!("\n{k}: {}", e.trim()));
                }
            }
        }
        if m.is_empty() {
            m = self.result.to_string();
        }
        m
    }
}

/// A host's line of the play recap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostRecap {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub rescued: u64,
    pub ignored: u64,
}

impl HostRecap {
    /// The counts by name, as recorded.
    pub fn counts(&self) -> [(&'static str, u64); 7] {
        [
            ("ok", self.ok),
            ("changed", self.changed),
            ("unreachable", self.unreachable),
            ("failed", self.failed),
            ("skipped", self.skipped),
            ("rescued", self.rescued),
            ("ignored", self.ignored),
        ]
    }
}

/// What a run reported.
#[derive(Clone, Debug, Default)]
pub struct PlaybookRun {
    pub results: Vec<TaskResult>,
    /// By host name. Empty when the run reported no recap (see [`AnsibleError::NoResult`]).
    pub recap: BTreeMap<String, HostRecap>,
    /// No host matched the play's pattern (and `limit`).
    pub no_hosts_matched: bool,
    pub exit_code: Option<i32>,
    /// The end of its stderr (warnings, errors).
    pub stderr: String,
}

impl PlaybookRun {
    /// Whether anything changed (or would, in check mode).
    pub fn changed(&self) -> bool {
        self.recap.values().any(|r| r.changed > 0)
    }

    /// `HOST: TASK` of each task that changed (or would).
    pub fn changed_tasks(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| r.status == Status::Ok && r.changed)
            .map(|r| format!("{}: {}", r.host, r.task))
            .collect()
    }

    /// Hosts that failed or could not be reached, each with its failed tasks' messages.
    pub fn failures(&self) -> Vec<(String, Vec<String>)> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (h, r) in &self.recap {
            if r.failed > 0 || r.unreachable > 0 {
                out.entry(h.clone()).or_default();
            }
        }
        for r in &self.results {
            if matches!(r.status, Status::Failed | Status::Unreachable) {
                let what = if r.status == Status::Unreachable {
                    "unreachable"
                } else {
                    "failed"
                };
                out.entry(r.host.clone()).or_default().push(format!(
                    "{what} at task {:?}: {}",
                    r.task,
                    r.msg()
                ));
            }
        }
        out.into_iter().collect()
    }

    /// The failures as a message: one paragraph per host.
    pub fn failure_message(&self) -> String {
        self.failures()
            .into_iter()
            .map(|(h, msgs)| {
                if msgs.is_empty() {
                    format!("{h}: failed")
                } else {
                    format!("{h}: {}", msgs.join("\n  "))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The recap as Ansible prints it, one host a line.
    pub fn recap_text(&self) -> String {
        self.recap
            .iter()
            .map(|(h, r)| {
                let counts: Vec<String> =
                    r.counts().iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{h} : {}", counts.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `opts` with `exe` (`ansible-playbook`).
pub fn run(exe: &Path, opts: &RunOpts) -> Result<PlaybookRun, AnsibleError> {
    let dir = tempfile::Builder::new()
        .prefix("baton-ansible-")
        .tempdir()
        .map_err(|e| io_err("temporary directory", e))?;
    let mut cmd = command(exe, opts, dir.path())?;
    let out = cmd.output().map_err(|e| AnsibleError::Spawn {
        exe: exe.to_path_buf(),
        source: e,
    })?;
    drop(dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = tail_lines(&String::from_utf8_lossy(&out.stderr), 30);
    let mut run = parse_output(&stdout);
    run.exit_code = out.status.code();
    run.stderr = stderr;
    if run.recap.is_empty() && run.results.is_empty() && !run.no_hosts_matched {
        return Err(AnsibleError::NoResult {
            status: out.status.to_string(),
            stderr: run.stderr,
        });
    }
    Ok(run)
}

/// The `ansible-playbook` command for `opts`, its files written into `dir` (a private 0700
/// directory the caller removes after the run).
pub fn command(exe: &Path, opts: &RunOpts, dir: &Path) -> Result<Command, AnsibleError> {
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err("temporary directory", e))?;
    }
    let cb = dir.join("callbacks");
    std::fs::create_dir(&cb).map_err(|e| io_err("temporary directory", e))?;
    write_private(&cb.join("baton_json.py"), CALLBACK)?;

    let playbook = match &opts.play {
        Play::File(p) => p.clone(),
        Play::Module { module, args } => {
            let mut task = serde_json::Map::new();
            task.insert("name".into(), module.clone().into());
            task.insert(module.clone(), args.clone());
            let play = serde_json::json!([{
                "hosts": "all",
                "gather_facts": false,
                "tasks": [serde_json::Value::Object(task)],
            }]);
            let p = dir.join("module.yml");
            write_private(&p, &play.to_string())?;
            p
        }
    };
    let inventory = match &opts.hosts {
        Hosts::Inventory(p) => p.clone(),
        Hosts::Connection {
            connection,
            name,
            groups,
            python,
        } => {
            let vars = host_vars(connection, python.as_deref(), dir)?;
            let mut host = serde_json::Map::new();
            host.insert(name.clone(), vars);
            let mut children = serde_json::Map::new();
            for g in groups {
                let mut member = serde_json::Map::new();
                member.insert(name.clone(), serde_json::Value::Null);
                children.insert(g.clone(), serde_json::json!({ "hosts": member }));
            }
            let inv = serde_json::json!({
                "all": { "hosts": host, "children": children }
            });
            let p = dir.join("inventory.json");
            write_private(&p, &inv.to_string())?;
            p
        }
    };

    let mut cmd = Command::new(exe);
    cmd.arg("-i").arg(&inventory).arg("--diff");
    if let Some(vars) = &opts.extra_vars {
        let p = dir.join("extra-vars.json");
        write_private(&p, &vars.to_string())?;
        cmd.arg("-e").arg(format!("@{}", p.display()));
    }
    if let Some(l) = &opts.limit {
        cmd.arg("--limit").arg(l);
    }
    if !opts.tags.is_empty() {
        cmd.arg("--tags").arg(opts.tags.join(","));
    }
    if !opts.skip_tags.is_empty() {
        cmd.arg("--skip-tags").arg(opts.skip_tags.join(","));
    }
    if let Hosts::Connection { connection, .. } = &opts.hosts {
        cmd.arg("-T")
            .arg(connection.timeout.as_secs().max(1).to_string());
    }
    if opts.check {
        cmd.arg("--check");
    }
    cmd.arg(&playbook);
    if let Some(cwd) = &opts.cwd {
        cmd.current_dir(cwd);
    }
    cmd.env("ANSIBLE_CALLBACK_PLUGINS", &cb)
        .env("ANSIBLE_STDOUT_CALLBACK", "baton_json")
        .env("ANSIBLE_LOAD_CALLBACK_PLUGINS", "1")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_PIPELINING", "True")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_LOCAL_TEMP", dir.join("local-tmp"))
        .env("PYTHONWARNINGS", "ignore")
        .stdin(std::process::Stdio::null());
    if matches!(opts.hosts, Hosts::Connection { .. }) {
        // Replaces Ansible's default ControlMaster/ControlPersist arguments: a shared master
        // would skip the host key check of later runs.
        cmd.env(
            "ANSIBLE_SSH_ARGS",
            "-o ControlMaster=no -o ControlPath=none",
        );
    }
    Ok(cmd)
}

/// The inventory variables that reach `conn`'s host as Baton's own SSH connection would.
fn host_vars(
    conn: &Connection,
    python: Option<&str>,
    dir: &Path,
) -> Result<serde_json::Value, AnsibleError> {
    let mut ssh: Vec<String> = vec![
        "-o BatchMode=yes".into(),
        format!("-o ConnectTimeout={}", conn.timeout.as_secs().max(1)),
    ];
    if let Some(key) = &conn.host_key {
        let kh = dir.join("known_hosts");
        write_private(
            &kh,
            &format!(
                "{} {}\n",
                known_hosts_name(&conn.host, conn.port),
                key.trim()
            ),
        )?;
        ssh.push(format!(
            "-o UserKnownHostsFile={}",
            crate::shell::sh_quote(&kh.to_string_lossy())
        ));
        ssh.push("-o GlobalKnownHostsFile=/dev/null".into());
        ssh.push("-o StrictHostKeyChecking=yes".into());
    } else {
        if let Some(kh) = &conn.known_hosts {
            ssh.push(format!(
                "-o UserKnownHostsFile={}",
                crate::shell::sh_quote(&kh.to_string_lossy())
            ));
        }
        ssh.push(match conn.strict_host_key_checking {
            HostKeyChecking::Yes => "-o StrictHostKeyChecking=yes".into(),
            HostKeyChecking::AcceptNew => "-o StrictHostKeyChecking=accept-new".into(),
        });
    }
    if !conn.agent {
        ssh.push("-o IdentityAgent=none".into());
    }
    if let Some(b) = &conn.bastion {
        let user = b
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        ssh.push(format!("-o ProxyJump={user}{}:{}", b.host, b.port));
    }
    let key_file = match (&conn.private_key, &conn.private_key_file) {
        (Some(text), _) => {
            let p = dir.join("id");
            let mut text = text.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            write_private(&p, &text)?;
            Some(p)
        }
        (None, Some(p)) => Some(p.clone()),
        _ => None,
    };
    if key_file.is_some() {
        // Only the given key: ssh would otherwise offer the agent's keys first.
        ssh.push("-o IdentitiesOnly=yes".into());
    }
    let mut vars = serde_json::Map::new();
    vars.insert("ansible_host".into(), conn.host.clone().into());
    vars.insert("ansible_port".into(), u64::from(conn.port).into());
    vars.insert("ansible_user".into(), conn.user.clone().into());
    vars.insert("ansible_connection".into(), "ssh".into());
    vars.insert("ansible_ssh_common_args".into(), ssh.join(" ").into());
    vars.insert(
        "ansible_python_interpreter".into(),
        python.unwrap_or("auto_silent").into(),
    );
    if let Some(k) = key_file {
        vars.insert(
            "ansible_ssh_private_key_file".into(),
            k.to_string_lossy().to_string().into(),
        );
    }
    Ok(serde_json::Value::Object(vars))
}

/// Reads the callback's lines out of `ansible-playbook`'s stdout.
pub fn parse_output(stdout: &str) -> PlaybookRun {
    let mut run = PlaybookRun::default();
    for line in stdout.lines() {
        if let Some(j) = line.strip_prefix(RESULT) {
            if let Ok(j) = serde_json::from_str::<serde_json::Value>(j) {
                run.results.push(task_result(&j));
            }
        } else if let Some(j) = line.strip_prefix(STATS) {
            if let Ok(serde_json::Value::Object(hosts)) = serde_json::from_str(j) {
                for (h, c) in hosts {
                    let n = |k: &str| c.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
                    run.recap.insert(
                        h,
                        HostRecap {
                            ok: n("ok"),
                            changed: n("changed"),
                            unreachable: n("unreachable"),
                            failed: n("failures"),
                            skipped: n("skipped"),
                            rescued: n("rescued"),
                            ignored: n("ignored"),
                        },
                    );
                }
            }
        } else if line.starts_with(NO_HOSTS) {
            run.no_hosts_matched = true;
        }
    }
    run
}

fn task_result(j: &serde_json::Value) -> TaskResult {
    let str_of = |k: &str| j.get(k).and_then(|s| s.as_str()).unwrap_or("").to_string();
    let status = match j.get("status").and_then(|s| s.as_str()) {
        Some("ok") => Status::Ok,
        Some("skipped") => Status::Skipped,
        Some("unreachable") => Status::Unreachable,
        Some("ignored") => Status::Ignored,
        _ => Status::Failed,
    };
    let result = j.get("result").cloned().unwrap_or(serde_json::Value::Null);
    let changed = result
        .get("changed")
        .and_then(|c| c.as_bool())
        .unwrap_or(false);
    TaskResult {
        host: str_of("host"),
        task: str_of("task"),
        status,
        changed,
        result,
        diff: str_of("diff_text"),
    }
}

fn io_err(what: &str, e: std::io::Error) -> AnsibleError {
    AnsibleError::Io {
        what: what.to_string(),
        source: e,
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), AnsibleError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let what = || format!("{}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err(&what(), e))?;
    f.write_all(text.as_bytes()).map_err(|e| io_err(&what(), e))
}

/// The host's name in a known_hosts file.
fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The last `n` lines of `s`.
fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_results_and_the_recap() {
        let out = "noise\nBATON-RESULT {\"status\": \"skipped\", \"host\": \"target\", \"task\": \"t\", \"result\": {\"changed\": false, \"msg\": \"Command would have run if not in check mode\"}, \"diff_text\": \"\"}\nBATON-RESULT {\"status\": \"failed\", \"host\": \"web1\", \"task\": \"install\", \"result\": {\"msg\": \"boom\"}}\nBATON-STATS {\"target\": {\"ok\": 2, \"changed\": 1, \"failures\": 0, \"unreachable\": 0, \"skipped\": 1, \"rescued\": 0, \"ignored\": 0}, \"web1\": {\"ok\": 0, \"changed\": 0, \"failures\": 1, \"unreachable\": 0, \"skipped\": 0, \"rescued\": 0, \"ignored\": 0}}\n";
        let r = parse_output(out);
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[0].status, Status::Skipped);
        assert!(r.results[0].msg().contains("would have run"));
        assert_eq!(r.recap["target"].changed, 1);
        assert!(r.changed());
        assert_eq!(r.failures().len(), 1);
        assert!(r
            .failure_message()
            .contains("web1: failed at task \"install\": boom"));
        assert!(r.recap_text().contains("target : ok=2 changed=1"));
        assert!(parse_output("ERROR! nothing\n").recap.is_empty());
    }

    #[test]
    fn known_hosts_names_carry_the_port() {
        assert_eq!(known_hosts_name("h", 22), "h");
        assert_eq!(known_hosts_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    /// Module arguments, extra variables and the private key are in files of the private
    /// directory, never on the command line or in the environment (where `ps` shows them).
    #[test]
    fn secrets_never_reach_the_command_line() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = Connection::new("127.0.0.1", "root");
        conn.private_key = Some("-----BEGIN KEY----- s3cr3t-key".into());
        let opts = RunOpts {
            play: Play::Module {
                module: "ansible.builtin.copy".into(),
                args: serde_json::json!({"dest": "/x", "content": "s3cr3t-arg"}),
            },
            hosts: Hosts::Connection {
                connection: Box::new(conn),
                name: "target".into(),
                groups: vec!["web".into()],
                python: None,
            },
            extra_vars: Some(serde_json::json!({"password": "s3cr3t-var"})),
            limit: None,
            tags: vec!["deploy".into()],
            skip_tags: vec![],
            check: true,
            cwd: None,
        };
        let cmd = command(Path::new("/bin/false"), &opts, dir.path()).expect("command");
        let mut seen: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        for (k, v) in cmd.get_envs() {
            seen.push(k.to_string_lossy().to_string());
            seen.extend(v.map(|v| v.to_string_lossy().to_string()));
        }
        let all = seen.join(" ");
        assert!(
            !all.contains("s3cr3t"),
            "a secret on the command line: {all}"
        );
        assert!(
            all.contains("--check") && all.contains("--tags deploy"),
            "{all}"
        );
        assert!(all.contains("extra-vars.json"), "{all}");
        // The files hold them, readable by the owner only, in a 0700 directory.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        for f in ["module.yml", "extra-vars.json", "id", "inventory.json"] {
            assert_eq!(mode(&dir.path().join(f)), 0o600, "{f}");
        }
        let play = std::fs::read_to_string(dir.path().join("module.yml")).expect("play");
        assert!(play.contains("s3cr3t-arg"));
        let inv = std::fs::read_to_string(dir.path().join("inventory.json")).expect("inv");
        assert!(inv.contains("\"web\""), "{inv}");
    }
}
