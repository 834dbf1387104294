//! The saved plan file (`baton plan --out FILE`): a versioned JSON document holding everything
//! apply needs to apply exactly what was reviewed — the changes with their values (typed, with
//! unknown and sensitive marks), the variables, the identity of the state it was made against,
//! and the configuration's text.
//!
//! Like Terraform's plan files, it contains sensitive values: treat it as a secret. Reading a
//! file that is not a Baton plan, or of another version, is an error, never a panic.

use crate::model::{
    Action, ActionReason, CheckResult, CheckStatus, Checkable, Drift, OutputChange, Plan, PlanMode,
    ResourceChange,
};
use baton_core::{InstanceAddr, InstanceKey, ModuleInstance, Target};
use baton_eval::{PathStep, Value};
use serde_json::{json, Value as J};
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT: &str = "baton-plan";
pub const VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} is not a Baton plan file: {message}")]
    Invalid { path: String, message: String },
}

fn path_json(p: &[PathStep]) -> J {
    J::Array(
        p.iter()
            .map(|s| match s {
                PathStep::Key(k) => json!(k),
                PathStep::Index(i) => json!(i),
            })
            .collect(),
    )
}

fn change_json(c: &ResourceChange) -> J {
    json!({
        "addr": c.addr.to_string(),
        "deposed": c.deposed,
        "provider_name": c.provider_name,
        "provider_source": c.provider_source,
        "actions": c.action.json_actions(),
        "reason": c.reason.map(|r| r.as_json()),
        "before": c.before.to_typed_json(),
        "after": c.after.to_typed_json(),
        "replace_paths": c.replace_paths.iter().map(|p| path_json(p)).collect::<Vec<_>>(),
        "dependencies": c.dependencies,
        "create_before_destroy": c.create_before_destroy,
        "previous_addr": c.previous_addr.as_ref().map(ToString::to_string),
        "importing": c.importing,
    })
}

/// The plan as its file document.
pub fn to_json(plan: &Plan) -> J {
    let mut j = head_json(plan);
    if let Some(m) = j.as_object_mut() {
        m.insert(
            "changes".into(),
            J::Array(plan.changes.iter().map(change_json).collect()),
        );
        m.insert(
            "outputs".into(),
            J::Array(plan.outputs.iter().map(output_json).collect()),
        );
        m.insert(
            "drift".into(),
            J::Array(plan.drift.iter().map(drift_json).collect()),
        );
        m.insert(
            "refreshed".into(),
            J::Array(
                plan.refreshed
                    .iter()
                    .map(|((a, d), v)| refreshed_json(a, d, v))
                    .collect(),
            ),
        );
    }
    j
}

/// Everything but the arrays that grow with the number of objects (those are empty).
fn head_json(plan: &Plan) -> J {
    json!({
        "format": FORMAT,
        "format_version": VERSION,
        "mode": plan.mode.as_str(),
        "lineage": plan.lineage,
        "serial": plan.serial,
        "workspace": plan.workspace,
        "targets": plan.targets,
        "errored": plan.errored,
        "terraform_version": plan.terraform_version,
        "timestamp": plan.timestamp,
        "variables": plan.variables.iter().map(|(k, v)| (k.clone(), v.to_typed_json())).collect::<serde_json::Map<_, _>>(),
        "config_files": plan.config_files.iter().map(|(p, t)| json!({"path": p, "text": t})).collect::<Vec<_>>(),
        "changes": [],
        "outputs": [],
        "drift": [],
        "refreshed": [],
        "moves": plan.moves.iter().map(|(f, t)| json!([f.to_string(), t.to_string()])).collect::<Vec<_>>(),
        "checks": plan.checks.iter().map(check_json).collect::<Vec<_>>(),
        "planned_outputs": plan.planned_outputs.iter().map(|(k, (v, s))| (k.clone(), json!({"value": v.to_typed_json(), "sensitive": s}))).collect::<serde_json::Map<_, _>>(),
    })
}

fn check_json(c: &CheckResult) -> J {
    let (kind, name) = match &c.object {
        Checkable::Resource(r) => ("resource", r.to_string()),
        Checkable::Output(n) => ("output", n.clone()),
        Checkable::Check(n) => ("check", n.clone()),
        Checkable::Var(n) => ("var", n.clone()),
    };
    let key = match &c.key {
        Some(InstanceKey::Int(i)) => json!(i),
        Some(InstanceKey::Str(s)) => json!(s),
        None => J::Null,
    };
    json!({
        "module": c.module.to_string(),
        "kind": kind,
        "name": name,
        "key": key,
        "status": c.status.as_str(),
        "problems": c.problems,
    })
}

fn check_from_json(c: &J) -> Result<CheckResult, String> {
    let module = match s(c, "module")?.as_str() {
        "" => ModuleInstance::root(),
        m => match Target::parse(m).map_err(|e| e.to_string())? {
            Target::Module(mi) => mi,
            _ => return Err(format!("invalid module address {m}")),
        },
    };
    let name = s(c, "name")?;
    let object = match s(c, "kind")?.as_str() {
        "resource" => Checkable::Resource(
            InstanceAddr::parse(&name)
                .map_err(|e| e.to_string())?
                .resource,
        ),
        "output" => Checkable::Output(name),
        "check" => Checkable::Check(name),
        "var" => Checkable::Var(name),
        k => return Err(format!("unknown checkable object kind {k}")),
    };
    let key = match c.get("key") {
        Some(J::Number(n)) => Some(InstanceKey::Int(n.as_i64().ok_or("invalid instance key")?)),
        Some(J::String(k)) => Some(InstanceKey::Str(k.clone())),
        _ => None,
    };
    let status = CheckStatus::parse(&s(c, "status")?).ok_or("invalid check status")?;
    let problems = c
        .get("problems")
        .and_then(J::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(CheckResult {
        module,
        object,
        key,
        status,
        problems,
    })
}

fn output_json(o: &crate::model::OutputChange) -> J {
    json!({
        "name": o.name,
        "actions": o.action.json_actions(),
        "before": o.before.to_typed_json(),
        "after": o.after.to_typed_json(),
        "sensitive": o.sensitive,
    })
}

fn drift_json(d: &crate::model::Drift) -> J {
    json!({
        "addr": d.addr.to_string(),
        "deposed": d.deposed,
        "provider_name": d.provider_name,
        "provider_source": d.provider_source,
        "before": d.before.to_typed_json(),
        "after": d.after.to_typed_json(),
    })
}

fn refreshed_json(a: &InstanceAddr, d: &Option<String>, v: &Value) -> J {
    json!({"addr": a.to_string(), "deposed": d, "value": v.to_typed_json()})
}

/// The parts of [`to_json`] that grow with the number of objects: written element by element
/// by [`write_json`], so that the whole document never exists as a `serde_json::Value`.
const STREAMED: [&str; 4] = ["changes", "drift", "outputs", "refreshed"];

/// Writes exactly the bytes of `serde_json::to_string(&to_json(plan))`, building one element
/// of the large arrays at a time (a plan of 10,000 changes would otherwise need its whole JSON
/// tree in memory to be saved, recorded with its run, or digested).
pub fn write_json<W: std::io::Write + ?Sized>(plan: &Plan, w: &mut W) -> std::io::Result<()> {
    let head = head_json(plan);
    // The head serialized with empty arrays; each `"name":[]` at the top level is where the
    // elements go. Keys are sorted (serde_json's map), and a key's text cannot occur unescaped
    // inside a string value, so each marker is found exactly once.
    let text = serde_json::to_string(&head).map_err(std::io::Error::other)?;
    let mut rest = text.as_str();
    let mut marks: Vec<(usize, &str)> = STREAMED
        .iter()
        .filter_map(|k| text.find(&format!("\"{k}\":[]")).map(|i| (i, *k)))
        .collect();
    marks.sort();
    let mut consumed = 0;
    for (at, k) in marks {
        let open = at + k.len() + 4; // `"k":[` — the elements go before `]`
        w.write_all(&text.as_bytes()[consumed..open])?;
        let one = |w: &mut W, first: &mut bool, j: J| -> std::io::Result<()> {
            if !std::mem::take(first) {
                w.write_all(b",")?;
            }
            serde_json::to_writer(&mut *w, &j).map_err(std::io::Error::other)
        };
        let mut first = true;
        match k {
            "changes" => {
                for c in &plan.changes {
                    one(w, &mut first, change_json(c))?;
                }
            }
            "drift" => {
                for d in &plan.drift {
                    one(w, &mut first, drift_json(d))?;
                }
            }
            "outputs" => {
                for o in &plan.outputs {
                    one(w, &mut first, output_json(o))?;
                }
            }
            _ => {
                for ((a, d), v) in &plan.refreshed {
                    one(w, &mut first, refreshed_json(a, d, v))?;
                }
            }
        }
        consumed = open;
        rest = &text[consumed..];
    }
    w.write_all(rest.as_bytes())
}

/// [`write_json`] into a string.
pub fn to_string(plan: &Plan) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail; serializing our own values cannot either.
    let _ = write_json(plan, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// SHA-256 (hex) of the plan's file form: equal to the digest of a file `write` saved.
pub fn digest(plan: &Plan) -> String {
    let mut sink = std::io::sink();
    let mut w = DigestWriter::new(&mut sink);
    let _ = write_json(plan, &mut w);
    w.finish()
}

/// Passes what is written on to another writer and computes its SHA-256 on the way, so the
/// plan's digest comes from the same pass that writes it.
pub struct DigestWriter<'a, W: std::io::Write + ?Sized> {
    inner: &'a mut W,
    hash: sha2::Sha256,
}

impl<'a, W: std::io::Write + ?Sized> DigestWriter<'a, W> {
    pub fn new(inner: &'a mut W) -> Self {
        use sha2::Digest as _;
        DigestWriter {
            inner,
            hash: sha2::Sha256::new(),
        }
    }

    /// The hex SHA-256 of everything written.
    pub fn finish(self) -> String {
        use sha2::Digest as _;
        hex::encode(self.hash.finalize())
    }
}

impl<W: std::io::Write + ?Sized> std::io::Write for DigestWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub fn write(path: &Path, plan: &Plan) -> std::io::Result<()> {
    let tmp = path.with_extension("baton-tmp");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write_json(plan, &mut f)?;
        std::io::Write::flush(&mut f)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
    }
    std::fs::rename(&tmp, path)
}

pub fn read(path: &Path) -> Result<Plan, PlanFileError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| PlanFileError::Io {
        path: p.clone(),
        message: e.to_string(),
    })?;
    let j: J = serde_json::from_slice(&bytes).map_err(|e| PlanFileError::Invalid {
        path: p.clone(),
        message: format!("not JSON ({e})"),
    })?;
    from_json(&j).map_err(|message| PlanFileError::Invalid { path: p, message })
}

fn s(j: &J, k: &str) -> Result<String, String> {
    j.get(k)
        .and_then(J::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("missing field {k}"))
}

fn v(j: &J, k: &str) -> Result<Value, String> {
    Value::from_typed_json(j.get(k).ok_or_else(|| format!("missing field {k}"))?)
}

fn addr(j: &J, k: &str) -> Result<InstanceAddr, String> {
    InstanceAddr::parse(&s(j, k)?).map_err(|e| e.to_string())
}

fn actions(j: &J) -> Result<Action, String> {
    let a: Vec<String> = j
        .get("actions")
        .and_then(J::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Action::from_json_actions(&a).ok_or_else(|| "invalid actions".to_string())
}

fn paths(j: &J) -> Vec<Vec<PathStep>> {
    j.as_array()
        .map(|a| {
            a.iter()
                .filter_map(J::as_array)
                .map(|p| {
                    p.iter()
                        .filter_map(|s| match s {
                            J::String(k) => Some(PathStep::Key(k.clone())),
                            J::Number(n) => n.as_u64().map(|i| PathStep::Index(i as usize)),
                            _ => None,
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn opt_str(j: &J, k: &str) -> Option<String> {
    j.get(k).and_then(J::as_str).map(str::to_string)
}

pub fn from_json(j: &J) -> Result<Plan, String> {
    if j.get("format").and_then(J::as_str) != Some(FORMAT) {
        return Err("the format marker is missing".into());
    }
    let ver = j.get("format_version").and_then(J::as_u64).unwrap_or(0);
    if ver != VERSION {
        return Err(format!(
            "format version {ver} is not supported (expected {VERSION})"
        ));
    }
    let mode = match s(j, "mode")?.as_str() {
        "normal" => PlanMode::Normal,
        "destroy" => PlanMode::Destroy,
        "refresh-only" => PlanMode::RefreshOnly,
        "restore" => PlanMode::Restore,
        m => return Err(format!("unknown plan mode {m}")),
    };
    let empty = Vec::new();
    let arr = |k: &str| j.get(k).and_then(J::as_array).unwrap_or(&empty).clone();
    let mut changes = Vec::new();
    for c in arr("changes") {
        changes.push(ResourceChange {
            addr: addr(&c, "addr")?,
            deposed: opt_str(&c, "deposed"),
            provider_name: s(&c, "provider_name")?,
            provider_source: s(&c, "provider_source")?,
            action: actions(&c)?,
            reason: opt_str(&c, "reason").and_then(|r| ActionReason::from_json(&r)),
            before: v(&c, "before")?,
            after: v(&c, "after")?,
            replace_paths: paths(c.get("replace_paths").unwrap_or(&J::Null)),
            dependencies: c
                .get("dependencies")
                .and_then(J::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            create_before_destroy: c
                .get("create_before_destroy")
                .and_then(J::as_bool)
                .unwrap_or(false),
            previous_addr: match opt_str(&c, "previous_addr") {
                Some(a) => Some(Box::new(
                    InstanceAddr::parse(&a).map_err(|e| e.to_string())?,
                )),
                None => None,
            },
            importing: opt_str(&c, "importing"),
        });
    }
    let mut outputs = Vec::new();
    for o in arr("outputs") {
        outputs.push(OutputChange {
            name: s(&o, "name")?,
            action: actions(&o)?,
            before: v(&o, "before")?,
            after: v(&o, "after")?,
            sensitive: o.get("sensitive").and_then(J::as_bool).unwrap_or(false),
        });
    }
    let mut drift = Vec::new();
    for d in arr("drift") {
        drift.push(Drift {
            addr: addr(&d, "addr")?,
            deposed: opt_str(&d, "deposed"),
            provider_name: s(&d, "provider_name")?,
            provider_source: s(&d, "provider_source")?,
            before: v(&d, "before")?,
            after: v(&d, "after")?,
        });
    }
    let mut refreshed = BTreeMap::new();
    for r in arr("refreshed") {
        refreshed.insert((addr(&r, "addr")?, opt_str(&r, "deposed")), v(&r, "value")?);
    }
    let mut variables = BTreeMap::new();
    if let Some(m) = j.get("variables").and_then(J::as_object) {
        for (k, x) in m {
            variables.insert(k.clone(), Value::from_typed_json(x)?);
        }
    }
    let mut planned_outputs = BTreeMap::new();
    if let Some(m) = j.get("planned_outputs").and_then(J::as_object) {
        for (k, x) in m {
            planned_outputs.insert(
                k.clone(),
                (
                    v(x, "value")?,
                    x.get("sensitive").and_then(J::as_bool).unwrap_or(false),
                ),
            );
        }
    }
    let mut moves = Vec::new();
    for m in arr("moves") {
        let pair = m.as_array().ok_or("invalid move")?;
        let get = |i: usize| -> Result<InstanceAddr, String> {
            let t = pair.get(i).and_then(J::as_str).ok_or("invalid move")?;
            InstanceAddr::parse(t).map_err(|e| e.to_string())
        };
        moves.push((get(0)?, get(1)?));
    }
    let checks = arr("checks")
        .iter()
        .map(check_from_json)
        .collect::<Result<Vec<_>, String>>()?;
    let config_files = arr("config_files")
        .iter()
        .map(|f| Ok((s(f, "path")?, s(f, "text")?)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Plan {
        mode,
        lineage: s(j, "lineage")?,
        serial: j.get("serial").and_then(J::as_u64).unwrap_or(0),
        changes,
        outputs,
        drift,
        variables,
        config_files,
        targets: j
            .get("targets")
            .and_then(J::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        workspace: s(j, "workspace")?,
        errored: j.get("errored").and_then(J::as_bool).unwrap_or(false),
        refreshed,
        planned_outputs,
        terraform_version: s(j, "terraform_version")?,
        timestamp: s(j, "timestamp")?,
        moves,
        checks,
    })
}
