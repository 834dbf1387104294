//! The `ansible_module` resource: any module installed with ansible-core or a collection, run on
//! a host the way Ansible runs it. Module shipping is Ansible's own: Baton runs a generated
//! one-task playbook with `ansible-playbook [--check] --diff` ([`runner`]) and a one-host
//! inventory built from the resource's `connection` block, and reads each result through a
//! small stdout callback plugin of its own (`ansible/baton_json.py`: ansible-core ships no JSON
//! callback), which prints the module's JSON result and the diff as Ansible renders it.
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
//! Which Ansible: `BATON_ANSIBLE` (the `ansible` or `ansible-playbook` executable, or their
//! directory), else `ansible-playbook` on `PATH`. The private key is written to a 0600
//! temporary file only while Ansible runs; a pinned `host_key` becomes a temporary known_hosts
//! file checked strictly. Each run opens its own SSH connection (no ControlPersist master that
//! would outlive a changed host key). Module arguments are in the generated playbook, a file of
//! a private 0700 directory removed after the run, never on a command line; results are as
//! Ansible reports them, with `no_log` values already hidden by Ansible. Never prints key
//! material.

pub mod runner;

use crate::resources::{connection, connection_block, s};
use baton_eval::{Type, Value};
use baton_provider::schema::{Attr, Schema};
use baton_provider::{
    ApplyRequest, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ResourceType,
};
pub use runner::ANSIBLE_ENV;
use runner::{AnsibleError, Hosts, Play, RunOpts, Status, TaskResult};
use std::collections::BTreeMap;

/// The provider error for a run that could not be made.
pub(crate) fn run_error(e: AnsibleError) -> ProviderError {
    match e {
        AnsibleError::NotFound { detail } => ProviderError::permanent("Ansible not found", detail),
        AnsibleError::NoResult { .. } => ProviderError::permanent("Ansible failed", e.to_string()),
        other => ProviderError::permanent("Cannot run Ansible", other.to_string()),
    }
}

/// The provider error for an unreachable host: a changed host key and a refused login are
/// permanent, anything else retryable.
pub(crate) fn unreachable_error(host: &str, msg: &str) -> ProviderError {
    if msg.contains("Host key verification failed")
        || msg.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        return ProviderError::permanent(
            "SSH connection failed",
            format!("The host key of {host} does not match: {msg}"),
        );
    }
    if msg.contains("Permission denied") {
        return ProviderError::permanent(
            "SSH connection failed",
            format!("Authentication to {host} failed: {msg}"),
        );
    }
    ProviderError::retryable("Host unreachable", format!("{host} is unreachable: {msg}"))
}

/// Runs `obj`'s module on its host (`check`: in check mode).
fn run(obj: &Value, check: bool) -> Result<TaskResult, ProviderError> {
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
    let exe = runner::playbook_executable().map_err(run_error)?;
    let host = format!("{}:{}", conn.host, conn.port);
    let opts = RunOpts {
        play: Play::Module {
            module: module.clone(),
            args,
        },
        hosts: Hosts::Connection {
            connection: Box::new(conn),
            name: "target".into(),
            groups: Vec::new(),
            python: s(obj, "python_interpreter"),
        },
        extra_vars: None,
        limit: None,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        check,
        cwd: None,
    };
    let out = runner::run(&exe, &opts).map_err(run_error)?;
    let Some(outcome) = out.results.into_iter().next() else {
        return Err(ProviderError::permanent(
            "Ansible failed",
            format!(
                "`ansible-playbook` running {module} exited with {} and reported no result:\n{}",
                out.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "a signal".into()),
                out.stderr
            ),
        ));
    };
    if outcome.status == Status::Unreachable {
        return Err(unreachable_error(&host, &outcome.msg()));
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
fn result_text(o: &TaskResult) -> String {
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
