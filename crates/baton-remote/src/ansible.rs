//! The `ansible_module` resource: any module installed with ansible-core or a collection, run on
//! a host the way Ansible runs it. Module shipping is Ansible's own: Baton runs the `ansible`
//! ad-hoc CLI (`ansible HOST -i 'HOST,' -m MODULE -a JSON_ARGS [--check] --diff`) with a
//! one-host inventory built from the resource's `connection` block, and reads each result
//! through a small stdout callback plugin of its own (`ansible/baton_json.py`: ansible-core
//! ships no JSON callback), which prints the module's JSON result and the diff as Ansible
//! renders it.
//!
//! - plan runs the module in check mode with diff: `changed` and `diff` are known in the plan
//!   when the module supports check mode, unknown ("known after apply") when it does not (it
//!   reports itself skipped), when the configuration is not known yet, or when the check run
//!   fails (a file an earlier resource creates, say: apply reports the failure). When an
//!   object already exists and its configuration is unchanged, a module without check mode is
//!   not run again (as `remote_command`): change an argument or `triggers` to run it again.
//! - apply runs it for real; a failed module is a provider error with the module's `msg`.
//! - read (refresh, drift) runs it in check mode: a module that would change the host is drift,
//!   recorded as `changed = true` with the would-be `diff`.
//! - destroy does nothing on the host: Ansible modules are not reversible. Configure the
//!   opposite state with another `ansible_module` (e.g. `state = "absent"`) to undo one.
//!
//! Which `ansible`: `BATON_ANSIBLE` (a path to the executable, a virtualenv's say), else the
//! `ansible` on `PATH`. The private key is written to a 0600 temporary file only while Ansible
//! runs; a pinned `host_key` becomes a temporary known_hosts file checked strictly. Each run
//! opens its own SSH connection (no ControlPersist master that would outlive a changed host
//! key). Module arguments are passed on Ansible's command line; results are as Ansible reports
//! them, with `no_log` values already hidden by Ansible. Never prints key material.

use crate::resources::{connection, connection_block, s, sh_quote};
use crate::ssh::{Connection, HostKeyChecking};
use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, Schema};
use baton_provider::{
    ApplyRequest, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming the `ansible` executable to run.
pub const ANSIBLE_ENV: &str = "BATON_ANSIBLE";

/// The stdout callback that prints each host's result as one JSON line.
const CALLBACK: &str = include_str!("ansible/baton_json.py");
const MARKER: &str = "BATON-RESULT ";

/// The `ansible` executable to run: `BATON_ANSIBLE`, else `ansible` on `PATH`.
pub fn ansible_executable() -> Result<PathBuf, ProviderError> {
    if let Some(p) = std::env::var_os(ANSIBLE_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(ProviderError::permanent(
            "Ansible not found",
            format!("{ANSIBLE_ENV} is {}, which is not a file.", p.display()),
        ));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("ansible");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(ProviderError::permanent(
        "Ansible not found",
        format!("ansible_module runs Ansible's `ansible` command, which is not on PATH: install ansible-core (e.g. `python3 -m venv V && V/bin/pip install ansible-core`) and put it on PATH or set {ANSIBLE_ENV} to the `ansible` executable."),
    ))
}

/// How a run went, as the callback reported it.
#[derive(Debug, PartialEq)]
enum Status {
    Ok,
    /// Skipped: in check mode, the module does not support it.
    Skipped,
    Failed,
    Unreachable,
}

/// One module run's outcome.
#[derive(Debug)]
struct Outcome {
    status: Status,
    changed: bool,
    /// The module's JSON result.
    result: serde_json::Value,
    /// The diff as Ansible renders it (empty when the module reports none).
    diff: String,
}

impl Outcome {
    fn msg(&self) -> String {
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

/// Parses the callback's line out of `ansible`'s stdout.
fn parse_output(stdout: &str) -> Option<Outcome> {
    let line = stdout.lines().find_map(|l| l.strip_prefix(MARKER))?;
    let j: serde_json::Value = serde_json::from_str(line).ok()?;
    let status = match j.get("status").and_then(|s| s.as_str()) {
        Some("ok") => Status::Ok,
        Some("skipped") => Status::Skipped,
        Some("unreachable") => Status::Unreachable,
        _ => Status::Failed,
    };
    let result = j.get("result").cloned().unwrap_or(serde_json::Value::Null);
    let changed = result
        .get("changed")
        .and_then(|c| c.as_bool())
        .unwrap_or(false);
    let diff = j
        .get("diff_text")
        .and_then(|d| d.as_str())
        .unwrap_or("")
        .to_string();
    Some(Outcome {
        status,
        changed,
        result,
        diff,
    })
}

/// The temporary files of one run, removed when it is dropped.
struct RunFiles {
    dir: tempfile::TempDir,
}

fn io_err(what: &str, e: std::io::Error) -> ProviderError {
    ProviderError::permanent("Cannot run Ansible", format!("{what}: {e}"))
}

fn write_private(path: &Path, text: &str) -> Result<(), ProviderError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("temporary file", e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| io_err("temporary file", e))
}

/// The host's name in a known_hosts file.
fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The `ansible` command for one run of `module` with `args` on `conn`'s host.
fn command(
    exe: &Path,
    conn: &Connection,
    python: Option<&str>,
    module: &str,
    args: &serde_json::Value,
    check: bool,
    files: &RunFiles,
) -> Result<Command, ProviderError> {
    let dir = files.dir.path();
    let cb = dir.join("callbacks");
    std::fs::create_dir(&cb).map_err(|e| io_err("temporary directory", e))?;
    std::fs::write(cb.join("baton_json.py"), CALLBACK).map_err(|e| io_err("callback", e))?;

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
            sh_quote(&kh.to_string_lossy())
        ));
        ssh.push("-o GlobalKnownHostsFile=/dev/null".into());
        ssh.push("-o StrictHostKeyChecking=yes".into());
    } else {
        if let Some(kh) = &conn.known_hosts {
            ssh.push(format!(
                "-o UserKnownHostsFile={}",
                sh_quote(&kh.to_string_lossy())
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
        let common = format!("{} -o IdentitiesOnly=yes", ssh.join(" "));
        vars.insert("ansible_ssh_common_args".into(), common.into());
    }
    let vars_file = dir.join("vars.json");
    std::fs::write(&vars_file, serde_json::Value::Object(vars).to_string())
        .map_err(|e| io_err("variables file", e))?;

    let mut cmd = Command::new(exe);
    cmd.arg("target")
        .arg("-i")
        .arg("target,")
        .arg("-m")
        .arg(module)
        .arg("-a")
        .arg(args.to_string())
        .arg("-e")
        .arg(format!("@{}", vars_file.display()))
        .arg("--diff")
        .arg("-T")
        .arg(conn.timeout.as_secs().max(1).to_string());
    if check {
        cmd.arg("--check");
    }
    if let Some(k) = key_file {
        cmd.arg("--private-key").arg(k);
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
        // Replaces Ansible's default ControlMaster/ControlPersist arguments: a shared master
        // would skip the host key check of later runs.
        .env(
            "ANSIBLE_SSH_ARGS",
            "-o ControlMaster=no -o ControlPath=none",
        )
        .env("PYTHONWARNINGS", "ignore")
        .stdin(std::process::Stdio::null());
    Ok(cmd)
}

/// Runs `obj`'s module on its host (`check`: in check mode).
fn run(obj: &Value, check: bool) -> Result<Outcome, ProviderError> {
    let conn = connection(obj)?;
    let module = s(obj, "module").ok_or_else(|| {
        ProviderError::permanent("Missing module", "module is required.").on_attr("module")
    })?;
    let args = obj
        .get_attr("args")
        .map(|a| a.clone().unmark_deep().0)
        .filter(|a| !a.is_null())
        .map(|a| a.to_json())
        .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()));
    let exe = ansible_executable()?;
    let files = RunFiles {
        dir: tempfile::Builder::new()
            .prefix("baton-ansible-")
            .tempdir()
            .map_err(|e| io_err("temporary directory", e))?,
    };
    let python = s(obj, "python_interpreter");
    let mut cmd = command(
        &exe,
        &conn,
        python.as_deref(),
        &module,
        &args,
        check,
        &files,
    )?;
    let out = cmd
        .output()
        .map_err(|e| io_err(&format!("{}", exe.display()), e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(outcome) = parse_output(&stdout) else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(ProviderError::permanent(
            "Ansible failed",
            format!(
                "`ansible -m {module}` exited with {} and reported no result:\n{}",
                out.status,
                tail.join("\n")
            ),
        ));
    };
    if outcome.status == Status::Unreachable {
        let msg = outcome.msg();
        let host = format!("{}:{}", conn.host, conn.port);
        if msg.contains("Host key verification failed")
            || msg.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        {
            return Err(ProviderError::permanent(
                "SSH connection failed",
                format!("The host key of {host} does not match: {msg}"),
            ));
        }
        if msg.contains("Permission denied") {
            return Err(ProviderError::permanent(
                "SSH connection failed",
                format!("Authentication to {host} failed: {msg}"),
            ));
        }
        return Err(ProviderError::retryable(
            "Host unreachable",
            format!("{host} is unreachable: {msg}"),
        ));
    }
    Ok(outcome)
}

pub struct AnsibleModule {
    schema: Schema,
}

impl AnsibleModule {
    pub fn new() -> AnsibleModule {
        AnsibleModule {
            schema: Schema::new()
                .block("connection", connection_block())
                .attr(
                    "module",
                    Attr::required(Type::String)
                        .force_new()
                        .describe("The module's name, e.g. \"ansible.builtin.lineinfile\"."),
                )
                .attr(
                    "args",
                    Attr::optional(Type::Dynamic).describe("The module's arguments."),
                )
                .attr(
                    "python_interpreter",
                    Attr::optional(Type::String).describe(
                        "The host's Python (`ansible_python_interpreter`; Ansible discovers it by default).",
                    ),
                )
                .attr(
                    "triggers",
                    Attr::optional(Type::map(Type::String)).force_new(),
                )
                .attr("id", Attr::computed(Type::String))
                .attr("changed", Attr::computed(Type::Bool))
                .attr("diff", Attr::computed(Type::String))
                .attr("result", Attr::computed(Type::String)),
        }
    }
}

impl Default for AnsibleModule {
    fn default() -> Self {
        AnsibleModule::new()
    }
}

fn entries(v: &Value) -> BTreeMap<String, Value> {
    v.as_entries().map(|e| e.to_map()).unwrap_or_default()
}

/// `HOST:MODULE:HASH`, the hash of the arguments the object was created with (kept by
/// in-place updates), so two objects running one module on one host differ.
fn object_id(v: &Value) -> Value {
    use sha2::Digest as _;
    if v.get_attr("args").is_some_and(|a| !a.is_wholly_known()) {
        return Value::unknown(Type::String);
    }
    let host = v.get_attr("connection").and_then(|c| s(c, "host"));
    let args = v
        .get_attr("args")
        .map(|a| a.clone().unmark_deep().0.to_json().to_string())
        .unwrap_or_default();
    match (host, s(v, "module")) {
        (Some(h), Some(m)) => {
            let hash = hex::encode(sha2::Sha256::digest(args.as_bytes()));
            Value::string(format!("{h}:{m}:{}", &hash[..12]))
        }
        _ => Value::unknown(Type::String),
    }
}

/// The module's result as recorded: without the diff (the `diff` attribute renders it) and
/// Ansible's own bookkeeping (`_ansible_*`).
fn result_text(o: &Outcome) -> String {
    let mut r = o.result.clone();
    if let Some(m) = r.as_object_mut() {
        m.retain(|k, _| k != "diff" && !k.starts_with("_ansible"));
    }
    r.to_string()
}

impl ResourceType for AnsibleModule {
    fn type_name(&self) -> &'static str {
        "ansible_module"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let resp = baton_provider::plan::default_plan(&self.schema, &req);
        if req.config.is_null() {
            return Ok(resp);
        }
        let creating = req.prior.is_none() || !resp.requires_replace.is_empty();
        let unchanged = !creating && req.prior.is_some_and(|p| p.raw_equal(&resp.planned));
        let mut m = entries(&resp.planned);
        if creating {
            m.insert("id".into(), object_id(&resp.planned));
        }
        let known_after_apply = |m: &mut BTreeMap<String, Value>| {
            m.insert("changed".into(), Value::unknown(Type::Bool));
            m.insert("diff".into(), Value::unknown(Type::String));
            m.insert("result".into(), Value::unknown(Type::String));
        };
        if !req.config.is_wholly_known() {
            known_after_apply(&mut m);
            return Ok(PlanResponse {
                planned: Value::object(m),
                requires_replace: resp.requires_replace,
                warnings: Vec::new(),
            });
        }
        let check = run(&resp.planned, true)?;
        match check.status {
            Status::Ok if check.changed => {
                m.insert("changed".into(), Value::bool(true));
                m.insert("diff".into(), Value::string(check.diff));
                m.insert("result".into(), Value::unknown(Type::String));
            }
            Status::Ok if creating => {
                m.insert("changed".into(), Value::bool(false));
                m.insert("diff".into(), Value::string(check.diff));
                m.insert("result".into(), Value::unknown(Type::String));
            }
            // Nothing would change: the object stays as recorded.
            Status::Ok => return Ok(resp),
            // No check mode, or the check run failed: known after apply, except for an object
            // whose configuration is unchanged, which is not run again.
            _ if unchanged => return Ok(resp),
            _ => known_after_apply(&mut m),
        }
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace: resp.requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        // Destroy: Ansible modules are not reversible; nothing is done on the host.
        let Some(planned) = req.planned else {
            return Ok(None);
        };
        let o = run(planned, false)?;
        if o.status == Status::Failed {
            let module = s(planned, "module").unwrap_or_default();
            return Err(ProviderError::permanent(
                format!("Ansible module {module} failed"),
                o.msg(),
            ));
        }
        let mut m = entries(planned);
        let id = match planned.get_attr("id") {
            Some(id) if id.is_wholly_known() && !id.is_null() => id.clone(),
            _ => object_id(planned),
        };
        m.insert("id".into(), id);
        m.insert("changed".into(), Value::bool(o.changed));
        m.insert("diff".into(), Value::string(o.diff.clone()));
        m.insert("result".into(), Value::string(result_text(&o)));
        Ok(Some(Value::object(m)))
    }

    fn read(&self, _ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let o = run(state, true)?;
        if o.status == Status::Ok && o.changed {
            // Drift: the module would change the host again.
            let mut m = entries(state);
            m.insert("changed".into(), Value::bool(true));
            m.insert("diff".into(), Value::string(o.diff.clone()));
            m.insert("result".into(), Value::string(result_text(&o)));
            return Ok(Some(Value::object(m)));
        }
        Ok(Some(state.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_callback_line() {
        let out = "noise\nBATON-RESULT {\"status\": \"skipped\", \"host\": \"target\", \"result\": {\"changed\": false, \"msg\": \"Command would have run if not in check mode\"}, \"diff_text\": \"\"}\n";
        let o = parse_output(out).expect("parsed");
        assert_eq!(o.status, Status::Skipped);
        assert!(!o.changed);
        assert!(o.msg().contains("would have run"));
        assert!(parse_output("ERROR! nothing\n").is_none());
    }

    #[test]
    fn known_hosts_names_carry_the_port() {
        assert_eq!(known_hosts_name("h", 22), "h");
        assert_eq!(known_hosts_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }
}
