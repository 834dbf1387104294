//! The policy gate of a run: which policy sets apply (`policies/` beside the configuration,
//! `--policy DIR`, and the sets named in `terraform { baton { policy_set "NAME" { ... } } }`),
//! the input document the policies see (the plan JSON plus a `baton` object with the run
//! context), and the decision as JSON for the plan document and the audit trail.
//!
//! Evaluation itself is `baton_policy`'s. This module never prints and never touches state;
//! the decision's JSON carries finding messages, never input values.

use crate::audit::Actor;
use crate::context::Context;
use baton_config::ast::ExprKind;
use baton_core::{Diagnostic, Diagnostics, Sources};
use baton_policy::{
    Decision, Enforcement, FindingKind, InputShape, Namespaces, Outcome, PolicySet,
};
use serde_json::{json, Value as J};
use std::path::{Path, PathBuf};

/// The directory searched by default, beside the configuration.
pub const DEFAULT_DIR: &str = "policies";

/// What the gate decided for one plan.
pub struct Gate {
    pub sets: Vec<PolicySet>,
    pub decision: Decision,
    /// The decision as recorded in plan JSON and the audit log.
    pub json: J,
    /// The run must stop.
    pub blocked: bool,
    /// The reason a soft-mandatory denial was overridden with.
    pub overridden: Option<String>,
}

impl Gate {
    /// The audit log's `policy` field: the decision, or null when no policy applies.
    pub fn audit_json(&self) -> J {
        if self.applies() {
            self.json.clone()
        } else {
            J::Null
        }
    }

    /// Whether any policy applied (or failed to load): a gate that does not has nothing to say.
    pub fn applies(&self) -> bool {
        !(self.sets.is_empty() && self.decision.errors.is_empty())
    }
}

/// What the gate looks at: a plan of a loaded configuration, the state it was made against,
/// the run it belongs to.
pub struct GateInput<'a> {
    pub ctx: &'a Context,
    pub plan: &'a crate::Plan,
    pub prior: &'a baton_state::Snapshot,
    /// `--policy` directories (relative ones against the configuration directory).
    pub extra_dirs: &'a [PathBuf],
    pub run: RunContext,
    /// The reason given to override a soft-mandatory denial.
    pub override_reason: Option<&'a str>,
}

/// Evaluates the policies that apply to a plan. Configuration errors in the policy sets and
/// Rego errors are in the decision; both deny (the gate fails closed). Paths are resolved
/// against the configuration's directory, never the process's.
pub fn gate(g: GateInput<'_>) -> Gate {
    let dir = g.ctx.dir.as_path();
    let (sets, diags) = policy_sets(dir, Some(g.ctx), g.extra_dirs);
    let mut decision = if diags.has_errors() {
        Decision::from_load_errors(diags)
    } else if sets.is_empty() {
        // No policy applies: do not even build the input.
        Decision::pass()
    } else {
        // The document `terraform show -json` would give, sensitive values included: the
        // sets that do not opt in see them redacted.
        let doc = crate::planjson::plan_json(
            Some(g.ctx),
            g.plan,
            g.prior,
            crate::planjson::JsonOpts {
                show_sensitive: true,
            },
        );
        let input = input(doc, &g.run);
        let mut d = evaluate(&sets, dir, &input, &g.ctx.sources);
        // Only a set that sees sensitive values could echo one.
        if sets.iter().any(|s| s.include_sensitive) {
            scrub_sensitive(&mut d, &input);
        }
        // The input (the whole plan as JSON) is not needed again: freeing a 10,000-resource
        // document node by node costs more than the policies do, so another thread does it
        // while the run goes on.
        let _ = std::thread::Builder::new()
            .name("policy-input-drop".into())
            .spawn(move || drop(input));
        d
    };
    decision.prints.clear();
    let overridden = match (decision.outcome, g.override_reason) {
        (Outcome::SoftFail, Some(r)) => Some(r.to_string()),
        _ => None,
    };
    let blocked = decision.blocks(overridden.is_some());
    let json = decision_json(&decision, &sets, &g.ctx.sources, overridden.as_deref());
    Gate {
        sets,
        decision,
        json,
        blocked,
        overridden,
    }
}

/// Who runs what, where: the `baton` object of the policy input.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    /// The environment (`--env`; `default` without it).
    pub environment: String,
    pub user: String,
    pub host: String,
    /// The run's id, when the command starts a run (a plan alone has none).
    pub run_id: Option<String>,
    /// `plan`, `apply`, `destroy`...
    pub command: String,
    /// RFC 3339, UTC.
    pub time: String,
}

impl RunContext {
    /// The context of the current process: user and host from the system, time now.
    pub fn current(environment: &str, command: &str, run_id: Option<String>) -> RunContext {
        Self::for_actor(environment, &Actor::current(Vec::new()), command, run_id)
    }

    /// The context of a run `actor` asked for (`user@host`), time now.
    pub fn for_actor(
        environment: &str,
        actor: &Actor,
        command: &str,
        run_id: Option<String>,
    ) -> RunContext {
        let (user, host) = match actor.who.split_once('@') {
            Some((u, h)) => (u.to_string(), h.to_string()),
            None => (actor.who.clone(), String::new()),
        };
        let host = if host.is_empty() {
            baton_state::lock::current_lock_info(command).host
        } else {
            host
        };
        RunContext {
            environment: environment.to_string(),
            user,
            host,
            run_id,
            command: command.to_string(),
            time: crate::now_rfc3339(),
        }
    }

    pub fn to_json(&self) -> J {
        json!({
            "environment": self.environment,
            "user": self.user,
            "host": self.host,
            "run_id": self.run_id,
            "command": self.command,
            "time": self.time,
        })
    }
}

/// The policy input: the plan JSON (`terraform show -json`'s shape) with a `baton` object.
pub fn input(plan_json: J, rc: &RunContext) -> J {
    let mut doc = plan_json;
    if let Some(m) = doc.as_object_mut() {
        m.insert("baton".into(), rc.to_json());
    }
    doc
}

/// The policy sets of a run: `policies/` in `dir` when it exists (set `default`,
/// hard-mandatory), each `--policy` directory (set named after it, hard-mandatory), and the
/// sets the root module names. Errors in the configured sets (unknown argument, bad
/// enforcement level) are reported with their location.
pub fn policy_sets(
    dir: &Path,
    ctx: Option<&Context>,
    extra: &[PathBuf],
) -> (Vec<PolicySet>, Diagnostics) {
    let mut sets = Vec::new();
    let (configured, diags) = configured_sets(dir, ctx);
    let default_dir = dir.join(DEFAULT_DIR);
    if default_dir.is_dir() {
        // A configured set whose source is inside `policies/` is evaluated with its own
        // enforcement level only, not a second time as part of the default set.
        let claimed: Vec<PathBuf> = configured
            .iter()
            .flat_map(|s| s.dirs.iter().map(|d| normalize(d)))
            .collect();
        let dirs = unclaimed(&default_dir, &claimed);
        if !dirs.is_empty() {
            sets.push(PolicySet::new("default", dirs));
        }
    }
    for d in extra {
        let path = if d.is_absolute() {
            d.clone()
        } else {
            dir.join(d)
        };
        sets.push(PolicySet::new(d.display().to_string(), vec![path]));
    }
    sets.extend(configured);
    (sets, diags)
}

/// `a/./b/../c` → `a/c`, lexically (the directories may not exist).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The parts of `root` not inside any `claimed` path: `root` itself when nothing in it is
/// claimed, otherwise its unclaimed entries (recursively), skipping hidden entries and tests.
fn unclaimed(root: &Path, claimed: &[PathBuf]) -> Vec<PathBuf> {
    let r = normalize(root);
    if claimed.iter().any(|c| r.starts_with(c)) {
        return Vec::new();
    }
    if !claimed.iter().any(|c| c.starts_with(&r)) {
        return vec![root.to_path_buf()];
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(root) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => return Vec::new(),
    };
    entries.sort();
    let mut out = Vec::new();
    for e in entries {
        let name = e
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') || claimed.iter().any(|c| normalize(&e).starts_with(c)) {
            continue;
        }
        if e.is_dir() {
            out.extend(unclaimed(&e, claimed));
        } else if (name.ends_with(".rego") && !name.ends_with("_test.rego"))
            || name.ends_with(".json")
            || name.ends_with(".yaml")
            || name.ends_with(".yml")
        {
            out.push(e);
        }
    }
    out
}

/// The sets named in `terraform { baton { policy_set "NAME" { ... } } }`.
fn configured_sets(dir: &Path, ctx: Option<&Context>) -> (Vec<PolicySet>, Diagnostics) {
    let mut sets = Vec::new();
    let mut diags = Diagnostics::new();
    if let Some(c) = ctx {
        for b in &c.config.module.terraform.baton.policy_sets {
            let Some((name, _)) = b.labels.first() else {
                diags.push(
                    Diagnostic::error(
                        "Missing name for policy_set",
                        "A policy_set block needs a name: policy_set \"NAME\" { ... }.",
                    )
                    .at(b.def_span),
                );
                continue;
            };
            let mut set = PolicySet::new(name.clone(), Vec::new());
            let mut ok = true;
            for a in &b.body.attrs {
                match a.name.as_str() {
                    "source" | "sources" => {
                        let items: Vec<&baton_config::ast::Expr> = match &a.expr.kind {
                            ExprKind::Tuple(xs) => xs.iter().collect(),
                            _ => vec![&a.expr],
                        };
                        for x in items {
                            match x.as_static_str() {
                                Some(s) => {
                                    let p = Path::new(s);
                                    let path = if p.is_absolute() {
                                        p.to_path_buf()
                                    } else {
                                        dir.join(p)
                                    };
                                    if !path.exists() {
                                        diags.push(
                                            Diagnostic::error(
                                                "Policy source not found",
                                                format!("Policy set {name:?}: there is no file or directory {s:?} (paths are relative to the configuration directory)."),
                                            )
                                            .at(x.span),
                                        );
                                        ok = false;
                                    }
                                    set.dirs.push(path);
                                }
                                None => {
                                    diags.push(
                                        Diagnostic::error(
                                            "Invalid policy source",
                                            "A policy set's source must be a literal path (or a list of them), relative to the configuration directory.",
                                        )
                                        .at(x.span),
                                    );
                                    ok = false;
                                }
                            }
                        }
                    }
                    "enforcement" | "enforcement_level" => {
                        match a.expr.as_static_str().map(str::parse::<Enforcement>) {
                            Some(Ok(e)) => set.enforcement = e,
                            Some(Err(e)) => {
                                diags.push(
                                    Diagnostic::error("Invalid enforcement level", format!("{e}."))
                                        .at(a.expr.span),
                                );
                                ok = false;
                            }
                            None => {
                                diags.push(
                                Diagnostic::error(
                                    "Invalid enforcement level",
                                    "The enforcement level must be a literal string: \"advisory\", \"soft-mandatory\" or \"hard-mandatory\".",
                                )
                                .at(a.expr.span),
                            );
                                ok = false;
                            }
                        }
                    }
                    "include_sensitive" => match &a.expr.kind {
                        ExprKind::Bool(v) => set.include_sensitive = *v,
                        _ => {
                            diags.push(
                                Diagnostic::error(
                                    "Invalid include_sensitive",
                                    "include_sensitive must be true or false.",
                                )
                                .at(a.expr.span),
                            );
                            ok = false;
                        }
                    },
                    "input_shape" => match a.expr.as_static_str().map(str::parse::<InputShape>) {
                        Some(Ok(s)) => set.input_shape = s,
                        Some(Err(e)) => {
                            diags.push(
                                Diagnostic::error(
                                    "Invalid input shape",
                                    format!("Policy set {name:?}: {e}."),
                                )
                                .at(a.expr.span),
                            );
                            ok = false;
                        }
                        None => {
                            diags.push(
                                    Diagnostic::error(
                                        "Invalid input shape",
                                        format!("Policy set {name:?}: input_shape must be a literal string: \"plan\", \"spacelift\", \"hcp-terraform\" (also \"terraform-enterprise\", \"env0\") or \"scalr\"."),
                                    )
                                    .at(a.expr.span),
                                );
                            ok = false;
                        }
                    },
                    "namespaces" => match namespaces(&a.expr) {
                        Some(n) => set.namespaces = n,
                        None => {
                            diags.push(
                                Diagnostic::error(
                                    "Invalid namespaces",
                                    format!("Policy set {name:?}: namespaces must be \"all\" or a non-empty list of package names, e.g. [\"main\"] (conftest's default)."),
                                )
                                .at(a.expr.span),
                            );
                            ok = false;
                        }
                    },
                    other => {
                        diags.push(
                            Diagnostic::error(
                                "Unsupported argument",
                                format!("An argument named {other:?} is not expected in a policy_set block; expected source, enforcement, include_sensitive, input_shape or namespaces."),
                            )
                            .at(a.name_span),
                        );
                        ok = false;
                    }
                }
            }
            if set.dirs.is_empty() && ok {
                diags.push(
                    Diagnostic::error(
                        "Missing policy source",
                        format!(
                            "Policy set {name:?} needs a source: the directory of its .rego files."
                        ),
                    )
                    .at(b.def_span),
                );
                ok = false;
            }
            if ok {
                sets.push(set);
            }
        }
    }
    (sets, diags)
}

/// `namespaces = "all"` or `namespaces = ["main", "terraform.aws"]`.
fn namespaces(expr: &baton_config::ast::Expr) -> Option<Namespaces> {
    if expr.as_static_str() == Some("all") {
        return Some(Namespaces::All);
    }
    let ExprKind::Tuple(items) = &expr.kind else {
        return None;
    };
    let names: Vec<String> = items
        .iter()
        .map(|x| x.as_static_str().map(str::to_string))
        .collect::<Option<_>>()?;
    if names.is_empty() || names.iter().any(String::is_empty) {
        return None;
    }
    Some(Namespaces::Only(names))
}

/// Loads `sets` and evaluates them over `input`; files inside `base` (the configuration
/// directory) are named relative to it. Failing to load fails closed (a hard denial carrying
/// the errors). With no sets, the gate passes.
pub fn evaluate(sets: &[PolicySet], base: &Path, input: &J, sources: &Sources) -> Decision {
    if sets.is_empty() {
        return Decision::pass();
    }
    match baton_policy::load_in(sets, base, sources) {
        Ok(loaded) => baton_policy::evaluate(&loaded, input),
        Err(d) => Decision::from_load_errors(d),
    }
}

pub fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::HardFail => "hard_fail",
        Outcome::SoftFail => "soft_fail",
        Outcome::Warn => "warn",
        Outcome::Pass => "pass",
    }
}

/// The decision as JSON (in plan JSON under `policy`, and in the audit record): the outcome,
/// every finding, and every error's summary and location. `overridden` is the reason a
/// soft-mandatory denial was overridden with, if it was.
pub fn decision_json(
    d: &Decision,
    sets: &[PolicySet],
    sources: &Sources,
    overridden: Option<&str>,
) -> J {
    let findings: Vec<J> = d
        .findings
        .iter()
        .map(|f| {
            json!({
                "set": f.set,
                "enforcement": f.enforcement.as_str(),
                "kind": match f.kind { FindingKind::Deny => "deny", FindingKind::Warn => "warn" },
                "policy": f.policy_files,
                "package": f.package,
                "rule": f.rule,
                "address": f.address,
                "message": f.message,
            })
        })
        .collect();
    let errors: Vec<J> = d
        .errors
        .iter()
        .map(|e| {
            let loc = e.subject.and_then(|s| {
                let f = sources.get(s.file)?;
                let p = f.pos(s.start as usize);
                Some(json!({"file": f.name, "line": p.line, "column": p.column}))
            });
            json!({"summary": e.summary, "detail": e.detail, "location": loc})
        })
        .collect();
    let mut j = json!({
        "outcome": outcome_str(d.outcome),
        "sets": sets.iter().map(|s| json!({"name": s.name, "enforcement": s.enforcement.as_str()})).collect::<Vec<_>>(),
        "findings": findings,
        "errors": errors,
    });
    if let Some(reason) = overridden {
        j["override"] = json!({ "reason": reason });
    }
    j
}

/// Removes sensitive values from what the policies said: a set that opts in to sensitive
/// values could echo one in a message, and messages reach the terminal, the plan JSON and the
/// audit log. Every string (or number) the redacted input hides is replaced in the messages.
pub fn scrub_sensitive(d: &mut Decision, input: &J) {
    if d.findings.is_empty() {
        return;
    }
    let redacted = baton_policy::redact(input);
    let mut secrets = Vec::new();
    hidden_values(input, &redacted, &mut secrets);
    secrets.retain(|s| !s.is_empty());
    if secrets.is_empty() {
        return;
    }
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    for f in &mut d.findings {
        for s in &secrets {
            if f.message.contains(s.as_str()) {
                f.message = f.message.replace(s.as_str(), baton_policy::REDACTED);
            }
        }
    }
}

/// The leaves of `orig` that `redacted` replaced, as text.
fn hidden_values(orig: &J, redacted: &J, out: &mut Vec<String>) {
    match (orig, redacted) {
        (J::Object(a), J::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => hidden_values(v, w, out),
                    None => leaves(v, out),
                }
            }
        }
        (J::Array(a), J::Array(b)) => {
            for (i, v) in a.iter().enumerate() {
                match b.get(i) {
                    Some(w) => hidden_values(v, w, out),
                    None => leaves(v, out),
                }
            }
        }
        (a, b) if a != b => leaves(a, out),
        _ => {}
    }
}

fn leaves(v: &J, out: &mut Vec<String>) {
    match v {
        J::String(s) => out.push(s.clone()),
        J::Number(n) => out.push(n.to_string()),
        J::Array(xs) => xs.iter().for_each(|x| leaves(x, out)),
        J::Object(m) => m.values().for_each(|x| leaves(x, out)),
        J::Bool(_) | J::Null => {}
    }
}
