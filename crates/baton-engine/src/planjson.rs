//! The plan as JSON in the shape of `terraform show -json` (format 1.2): `planned_values`,
//! `resource_changes`, `output_changes`, `resource_drift`, `prior_state`, `configuration`,
//! so tools and policies written for Terraform plans read it unchanged.
//!
//! Like Terraform's Go structs, empty maps and lists are left out (`omitempty`). Not yet
//! produced: `checks` (check results) and `relevant_attributes`.
//!
//! Difference by design: sensitive values are redacted to `null` (their `*_sensitive` flags
//! still say where they were) unless the caller asks for them; Baton never prints a sensitive
//! value by default.

use crate::context::Context;
use crate::model::{Action, CheckStatus, Checkable, Plan, PlanMode, ResourceChange};
use crate::statecodec::{decode_object, decode_output};
use baton_config::{Body, Expr, ExprKind, Resource};
use baton_core::{InstanceAddr, InstanceKey, ModuleInstance, ResourceMode};
use baton_eval::{Kind, Value};
use baton_provider::Registry;
use baton_state::Snapshot;
use serde_json::{json, Map, Value as J};
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT_VERSION: &str = "1.2";

/// Options for rendering.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonOpts {
    /// Include sensitive values instead of `null`.
    pub show_sensitive: bool,
}

/// Terraform's `unknownAsBool`: where the unknown values are.
pub fn unknown_as_bool(v: &Value) -> J {
    if v.is_null() {
        return J::Bool(false);
    }
    if !v.is_known() {
        return J::Bool(true);
    }
    match v.kind() {
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            J::Array(items.iter().map(unknown_as_bool).collect())
        }
        Kind::Map(_, items) | Kind::Object(items) => {
            let mut m = Map::new();
            for (k, x) in items.iter() {
                let b = unknown_as_bool(x);
                if b != J::Bool(false) {
                    m.insert(k.clone(), b);
                }
            }
            J::Object(m)
        }
        _ => J::Bool(false),
    }
}

/// Terraform's `SensitiveAsBool`: where the sensitive values are.
pub fn sensitive_as_bool(v: &Value) -> J {
    if v.is_sensitive() {
        return J::Bool(true);
    }
    if v.is_null() {
        return J::Bool(false);
    }
    match (v.kind(), v.ty()) {
        (
            Kind::Unknown(_),
            baton_eval::Type::List(_) | baton_eval::Type::Set(_) | baton_eval::Type::Tuple(_),
        ) => J::Array(Vec::new()),
        (Kind::Unknown(_), baton_eval::Type::Map(_) | baton_eval::Type::Object(_)) => {
            J::Object(Map::new())
        }
        (Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items), _) => {
            J::Array(items.iter().map(sensitive_as_bool).collect())
        }
        (Kind::Map(_, items) | Kind::Object(items), _) => {
            let mut m = Map::new();
            for (k, x) in items.iter() {
                let b = sensitive_as_bool(x);
                if b != J::Bool(false) {
                    m.insert(k.clone(), b);
                }
            }
            J::Object(m)
        }
        _ => J::Bool(false),
    }
}

/// Terraform's `omitUnknowns` then JSON: unknown attributes dropped, unknown elements null.
/// Sensitive parts become null unless `show_sensitive`.
pub fn value_json(v: &Value, o: JsonOpts) -> Option<J> {
    if !v.is_known() {
        return None;
    }
    if v.is_sensitive() && !o.show_sensitive {
        return Some(J::Null);
    }
    if v.is_null() {
        return Some(J::Null);
    }
    Some(match v.kind() {
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => J::Array(
            items
                .iter()
                .map(|x| value_json(x, o).unwrap_or(J::Null))
                .collect(),
        ),
        Kind::Map(_, items) | Kind::Object(items) => {
            let mut m = Map::new();
            for (k, x) in items.iter() {
                if let Some(j) = value_json(x, o) {
                    m.insert(k.clone(), j);
                }
            }
            J::Object(m)
        }
        _ => v.to_json(),
    })
}

fn key_json(k: &Option<InstanceKey>) -> Option<J> {
    match k {
        Some(InstanceKey::Int(i)) => Some(json!(i)),
        Some(InstanceKey::Str(s)) => Some(json!(s)),
        None => None,
    }
}

fn resource_header(addr: &InstanceAddr, m: &mut Map<String, J>) {
    m.insert("address".into(), json!(addr.to_string()));
    if !addr.module.is_root() {
        m.insert("module_address".into(), json!(addr.module.to_string()));
    }
    m.insert("mode".into(), json!(addr.resource.mode.as_str()));
    m.insert("type".into(), json!(addr.resource.type_));
    m.insert("name".into(), json!(addr.resource.name));
    if let Some(k) = key_json(&addr.key) {
        m.insert("index".into(), k);
    }
}

fn change_json(c: &ResourceChange, o: JsonOpts) -> J {
    let mut m = Map::new();
    resource_header(&c.addr, &mut m);
    if let Some(d) = &c.deposed {
        m.insert("deposed".into(), json!(d));
    }
    if let Some(p) = &c.previous_addr {
        m.insert("previous_address".into(), json!(p.to_string()));
    }
    m.insert("provider_name".into(), json!(c.provider_source));
    let mut ch = Map::new();
    ch.insert("actions".into(), json!(c.action.json_actions()));
    ch.insert("before".into(), value_json(&c.before, o).unwrap_or(J::Null));
    if let Some(a) = value_json(&c.after, o) {
        ch.insert("after".into(), a);
    }
    // Terraform writes `{}` (not `false`) for a change with no new object, and for a new
    // object that is wholly known (its nested blocks then get no empty entries).
    let after_unknown = if c.after.is_null() || c.after.is_wholly_known() {
        json!({})
    } else {
        unknown_as_bool(&c.after)
    };
    ch.insert("after_unknown".into(), after_unknown);
    ch.insert("before_sensitive".into(), sensitive_as_bool(&c.before));
    ch.insert("after_sensitive".into(), sensitive_as_bool(&c.after));
    if !c.replace_paths.is_empty() {
        let paths: Vec<J> = c
            .replace_paths
            .iter()
            .map(|p| {
                J::Array(
                    p.iter()
                        .map(|s| match s {
                            baton_eval::PathStep::Key(k) => json!(k),
                            baton_eval::PathStep::Index(i) => json!(i),
                        })
                        .collect(),
                )
            })
            .collect();
        ch.insert("replace_paths".into(), J::Array(paths));
    }
    if let Some(id) = &c.importing {
        ch.insert("importing".into(), json!({"id": id}));
    }
    m.insert("change".into(), J::Object(ch));
    if let Some(r) = c.reason {
        m.insert("action_reason".into(), json!(r.as_json()));
    }
    J::Object(m)
}

fn resource_values(
    addr: &InstanceAddr,
    provider: &str,
    v: &Value,
    deps: &[String],
    o: JsonOpts,
) -> J {
    let mut m = Map::new();
    resource_header(addr, &mut m);
    // The values representation (planned_values, prior_state, `show --json`) places a
    // resource by nesting it in its module; only resource_changes name the module.
    m.remove("module_address");
    m.insert("provider_name".into(), json!(provider));
    m.insert("schema_version".into(), json!(0));
    m.insert("values".into(), value_json(v, o).unwrap_or(J::Null));
    m.insert("sensitive_values".into(), sensitive_as_bool(v));
    if !deps.is_empty() {
        m.insert("depends_on".into(), json!(deps));
    }
    J::Object(m)
}

/// Groups resource entries into `root_module` / nested `child_modules` by module instance.
fn module_tree(entries: Vec<(ModuleInstance, J)>) -> J {
    let mut by_module: BTreeMap<ModuleInstance, Vec<J>> = BTreeMap::new();
    for (m, j) in entries {
        by_module.entry(m).or_default().push(j);
    }
    fn build(m: &ModuleInstance, by: &BTreeMap<ModuleInstance, Vec<J>>) -> Map<String, J> {
        let mut out = Map::new();
        if !m.is_root() {
            out.insert("address".into(), json!(m.to_string()));
        }
        if let Some(rs) = by.get(m) {
            out.insert("resources".into(), J::Array(rs.clone()));
        }
        let mut children: Vec<ModuleInstance> = by
            .keys()
            .filter(|k| k.0.len() > m.0.len() && k.0[..m.0.len()] == m.0[..])
            .map(|k| ModuleInstance(k.0[..m.0.len() + 1].to_vec()))
            .collect();
        children.sort();
        children.dedup();
        if !children.is_empty() {
            out.insert(
                "child_modules".into(),
                J::Array(children.iter().map(|c| J::Object(build(c, by))).collect()),
            );
        }
        out
    }
    J::Object(build(&ModuleInstance::root(), &by_module))
}

fn output_json(v: &Value, sensitive: bool, o: JsonOpts) -> J {
    let mut m = Map::new();
    m.insert("sensitive".into(), json!(sensitive));
    if v.is_wholly_known() {
        m.insert("type".into(), v.ty().to_json());
        let redact = (sensitive || v.contains_sensitive()) && !o.show_sensitive;
        m.insert(
            "value".into(),
            if redact {
                J::Null
            } else {
                value_json(&v.clone().unmark_deep().0, o).unwrap_or(J::Null)
            },
        );
    }
    J::Object(m)
}

/// The state as `terraform show -json` prints it (`values` part).
pub fn state_values(s: &Snapshot, o: JsonOpts) -> J {
    state_values_with(s, Vec::new(), o)
}

/// `state_values` with more resource entries (module instance, JSON), placed after the
/// state's own.
fn state_values_with(s: &Snapshot, extra: Vec<(ModuleInstance, J)>, o: JsonOpts) -> J {
    let mut outputs = Map::new();
    for (name, out) in &s.outputs {
        if let Ok(v) = decode_output(out) {
            outputs.insert(name.clone(), output_json(&v, out.sensitive, o));
        }
    }
    let mut entries = Vec::new();
    for (k, obj) in &s.objects {
        if !k.deposed.is_empty() {
            continue;
        }
        let Ok(v) = decode_object(obj) else { continue };
        let provider = crate::providers::state_source(&obj.provider).to_string();
        let mut j = resource_values(&k.addr, &provider, &v, &obj.dependencies, o);
        set_schema_version(&mut j, obj.schema_version);
        if obj.status == baton_state::InstanceStatus::Tainted {
            if let J::Object(m) = &mut j {
                m.insert("tainted".into(), json!(true));
            }
        }
        entries.push((k.addr.module.clone(), j));
    }
    entries.extend(extra);
    let mut values = Map::new();
    insert_nonempty(&mut values, "outputs", J::Object(outputs));
    values.insert("root_module".into(), module_tree(entries));
    J::Object(values)
}

/// The whole plan document. Without the configuration (`ctx`), the built-in providers name
/// the providers of data sources read while planning.
pub fn plan_json(ctx: Option<&Context>, plan: &Plan, prior: &Snapshot, o: JsonOpts) -> J {
    let providers = match ctx {
        Some(c) => c.providers.clone(),
        None => crate::providers::builtin(),
    };
    let mut doc = Map::new();
    doc.insert("format_version".into(), json!(FORMAT_VERSION));
    doc.insert("terraform_version".into(), json!(plan.terraform_version));
    let mut vars = Map::new();
    for (k, v) in &plan.variables {
        vars.insert(
            k.clone(),
            json!({"value": value_json(v, o).unwrap_or(J::Null)}),
        );
    }
    // Like Terraform (Go's `omitempty`), empty maps and lists are left out of the document.
    insert_nonempty(&mut doc, "variables", J::Object(vars));
    // planned_values
    let mut outputs = Map::new();
    for (name, (v, s)) in &plan.planned_outputs {
        outputs.insert(name.clone(), output_json(v, *s || v.is_sensitive(), o));
    }
    let mut entries = Vec::new();
    for c in &plan.changes {
        if matches!(c.action, Action::Delete | Action::Forget) || c.deposed.is_some() {
            continue;
        }
        let mut j = resource_values(&c.addr, &c.provider_source, &c.after, &[], o);
        if c.addr.resource.mode == baton_core::ResourceMode::Managed {
            let v = crate::apply::schema_version(&providers, &c.addr.resource.type_);
            set_schema_version(&mut j, v);
        }
        if let J::Object(m) = &mut j {
            m.remove("depends_on");
        }
        entries.push((c.addr.module.clone(), j));
    }
    let mut planned = Map::new();
    insert_nonempty(&mut planned, "outputs", J::Object(outputs));
    planned.insert("root_module".into(), module_tree(entries));
    doc.insert("planned_values".into(), J::Object(planned));
    if !plan.drift.is_empty() {
        let drift: Vec<J> = plan
            .drift
            .iter()
            .map(|d| {
                let c = ResourceChange {
                    addr: d.addr.clone(),
                    deposed: d.deposed.clone(),
                    provider_name: d.provider_name.clone(),
                    provider_source: d.provider_source.clone(),
                    action: if d.after.is_null() {
                        Action::Delete
                    } else {
                        Action::Update
                    },
                    reason: None,
                    before: d.before.clone(),
                    after: d.after.clone(),
                    replace_paths: Vec::new(),
                    dependencies: Vec::new(),
                    create_before_destroy: false,
                    previous_addr: None,
                    importing: None,
                };
                change_json(&c, o)
            })
            .collect();
        doc.insert("resource_drift".into(), J::Array(drift));
    }
    let changes: Vec<J> = plan.changes.iter().map(|c| change_json(c, o)).collect();
    if !changes.is_empty() {
        doc.insert("resource_changes".into(), J::Array(changes));
    }
    let mut ocs = Map::new();
    for oc in &plan.outputs {
        let mut m = Map::new();
        m.insert("actions".into(), json!(oc.action.json_actions()));
        let redact = |v: &Value| {
            if (oc.sensitive || v.contains_sensitive()) && !o.show_sensitive {
                Some(J::Null)
            } else {
                value_json(&v.clone().unmark_deep().0, o)
            }
        };
        m.insert("before".into(), redact(&oc.before).unwrap_or(J::Null));
        if let Some(a) = redact(&oc.after) {
            if oc.after.is_known() {
                m.insert("after".into(), a);
            }
        }
        // Terraform: `false` for a wholly known value, else where the unknowns are.
        let after_unknown = if oc.after.is_wholly_known() {
            J::Bool(false)
        } else {
            unknown_as_bool(&oc.after)
        };
        m.insert("after_unknown".into(), after_unknown);
        let bs = oc.sensitive || oc.before.contains_sensitive();
        let as_ = oc.sensitive || oc.after.contains_sensitive();
        m.insert("before_sensitive".into(), json!(bs));
        m.insert("after_sensitive".into(), json!(as_));
        ocs.insert(oc.name.clone(), J::Object(m));
    }
    insert_nonempty(&mut doc, "output_changes", J::Object(ocs));
    // The prior state is the refreshed state, into which Terraform's plan walk has already
    // written the root outputs it could evaluate: so they show their new known values.
    // Data sources read while planning are part of Terraform's prior state (its refresh
    // state), even on a first plan.
    let data_reads: Vec<(ModuleInstance, J)> = plan
        .refreshed
        .iter()
        .filter(|((a, d), _)| {
            a.resource.mode == ResourceMode::Data
                && d.is_none()
                && !prior
                    .objects
                    .keys()
                    .any(|k| &k.addr == a && k.deposed.is_empty())
        })
        .map(|((a, _), v)| {
            let provider = providers
                .data_source(&a.resource.type_)
                .map(|(p, _)| p.source)
                .unwrap_or("unknown");
            (a.module.clone(), resource_values(a, provider, v, &[], o))
        })
        .collect();
    let has_data_reads = !data_reads.is_empty();
    let mut prior_values = state_values_with(prior, data_reads, o);
    let mut planned_known = false;
    if let J::Object(pv) = &mut prior_values {
        let mut outs = match pv.remove("outputs") {
            Some(J::Object(outs)) => outs,
            _ => Map::new(),
        };
        for (name, (v, sens)) in &plan.planned_outputs {
            if v.is_wholly_known() && !v.is_null() {
                outs.insert(name.clone(), output_json(v, *sens || v.is_sensitive(), o));
                planned_known = true;
            }
        }
        insert_nonempty(pv, "outputs", J::Object(outs));
    }
    if !prior.is_empty() || planned_known || has_data_reads {
        doc.insert(
            "prior_state".into(),
            json!({
                "format_version": "1.0",
                "terraform_version": plan.terraform_version,
                "values": prior_values,
            }),
        );
    }
    if let Some(ctx) = ctx {
        doc.insert("configuration".into(), configuration_json(ctx));
        let relevant: Vec<J> = crate::relevance::relevant_attributes(ctx, plan)
            .into_iter()
            .map(|r| {
                let steps: Vec<J> = r.attribute.iter().map(step_json).collect();
                json!({"resource": r.resource, "attribute": steps})
            })
            .collect();
        if !relevant.is_empty() {
            doc.insert("relevant_attributes".into(), J::Array(relevant));
        }
        let checks = checks_json(ctx, plan);
        if !checks.is_empty() {
            doc.insert("checks".into(), J::Array(checks));
        }
    }
    doc.insert("timestamp".into(), json!(plan.timestamp));
    doc.insert(
        "applyable".into(),
        json!(!plan.errored && plan.has_changes()),
    );
    doc.insert("complete".into(), json!(!plan.errored));
    doc.insert("errored".into(), json!(plan.errored));
    if plan.mode != PlanMode::Normal {
        doc.insert("plan_mode".into(), json!(plan.mode.as_str()));
    }
    J::Object(doc)
}

/// Terraform's `checks`: every object in the configuration that has conditions (resources
/// with preconditions or postconditions, outputs with preconditions, `check` blocks, variables
/// with validations), with the status of each of its instances as the plan found it and the
/// worst of them as the object's (`pass` for an object with no instances).
fn checks_json(ctx: &Context, plan: &Plan) -> Vec<J> {
    let mut objects: Vec<(String, J, Vec<J>, CheckStatus)> = Vec::new();
    for m in ctx.config.all_modules() {
        let path = &m.path;
        let mut checkables: Vec<Checkable> = Vec::new();
        for r in m.resources.values() {
            if !r.lifecycle.preconditions.is_empty() || !r.lifecycle.postconditions.is_empty() {
                checkables.push(Checkable::Resource(r.addr.clone()));
            }
        }
        for o in m.outputs.values() {
            if !o.preconditions.is_empty() {
                checkables.push(Checkable::Output(o.name.clone()));
            }
        }
        for c in &m.checks {
            checkables.push(Checkable::Check(c.name.clone()));
        }
        for v in m.variables.values() {
            if !v.validations.is_empty() {
                checkables.push(Checkable::Var(v.name.clone()));
            }
        }
        for object in checkables {
            let (mut addr, local) = match &object {
                Checkable::Resource(r) => (
                    json!({
                        "kind": "resource",
                        "mode": if r.mode == ResourceMode::Data { "data" } else { "managed" },
                        "type": r.type_,
                        "name": r.name,
                    }),
                    r.to_string(),
                ),
                Checkable::Output(n) => (
                    json!({"kind": "output_value", "name": n}),
                    format!("output.{n}"),
                ),
                Checkable::Check(n) => (json!({"kind": "check", "name": n}), format!("check.{n}")),
                Checkable::Var(n) => (json!({"kind": "var", "name": n}), format!("var.{n}")),
            };
            let display = prefixed(&path.to_string(), &local);
            if let J::Object(a) = &mut addr {
                if !path.is_root() {
                    a.insert("module".into(), json!(path.to_string()));
                }
                a.insert("to_display".into(), json!(display));
            }
            let mut status = CheckStatus::Pass;
            let mut instances = Vec::new();
            for c in plan
                .checks
                .iter()
                .filter(|c| c.object == object && c.module.path() == *path)
            {
                status = status.max(c.status);
                let module = c.module.to_string();
                let mut ia = Map::new();
                if !c.module.is_root() {
                    ia.insert("module".into(), json!(module));
                }
                let instance_local = match &object {
                    Checkable::Resource(r) => {
                        if let Some(k) = key_json(&c.key) {
                            ia.insert("instance_key".into(), k);
                        }
                        InstanceAddr::new(ModuleInstance::root(), r.clone(), c.key.clone())
                            .to_string()
                    }
                    _ => local.clone(),
                };
                ia.insert(
                    "to_display".into(),
                    json!(prefixed(&module, &instance_local)),
                );
                let mut inst = Map::new();
                inst.insert("address".into(), J::Object(ia));
                inst.insert("status".into(), json!(c.status.as_str()));
                if !c.problems.is_empty() {
                    let problems: Vec<J> =
                        c.problems.iter().map(|p| json!({"message": p})).collect();
                    inst.insert("problems".into(), J::Array(problems));
                }
                instances.push(J::Object(inst));
            }
            objects.push((display, addr, instances, status));
        }
    }
    objects.sort_by(|a, b| a.0.cmp(&b.0));
    objects
        .into_iter()
        .map(|(_, address, instances, status)| {
            let mut m = Map::new();
            m.insert("address".into(), address);
            m.insert("status".into(), json!(status.as_str()));
            if !instances.is_empty() {
                m.insert("instances".into(), J::Array(instances));
            }
            J::Object(m)
        })
        .collect()
}

/// A step of an attribute path as Terraform's JSON writes it: names and string keys as
/// strings, numeric indexes as numbers.
fn step_json(s: &baton_eval::refs::StaticStep) -> J {
    use baton_eval::refs::StaticStep;
    match s {
        StaticStep::Attr(n) | StaticStep::Key(n) => json!(n),
        StaticStep::Number(n) => serde_json::from_str::<serde_json::Number>(n)
            .map(J::Number)
            .unwrap_or_else(|_| json!(n)),
    }
}

/// `module.a.x` from a module address (possibly empty, the root) and a local address.
fn prefixed(module: &str, local: &str) -> String {
    if module.is_empty() {
        local.to_string()
    } else {
        format!("{module}.{local}")
    }
}

/// Terraform's `marshalExpression`: `constant_value` when the expression evaluates without
/// any variables or functions (HCL's nil context), and the references it makes, each also
/// without its last attribute; `{}` when neither applies (e.g. `upper("a")`).
fn expression_json(e: &Expr) -> J {
    let mut m = Map::new();
    let (refs, _) = baton_eval::references(e);
    if refs.is_empty() {
        if let Some(v) = constant(e) {
            m.insert("constant_value".into(), v);
        }
    } else {
        let mut names: Vec<String> = Vec::new();
        for r in refs {
            let base = r.reference.to_string();
            if let Some(a) = &r.next_attr {
                names.push(format!("{base}.{a}"));
            }
            names.push(base);
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        m.insert("references".into(), json!(names));
    }
    J::Object(m)
}

/// The value of an expression that needs no reference and calls no function, if it is
/// wholly known.
fn constant(e: &Expr) -> Option<J> {
    let mut calls = false;
    e.walk(&mut |x| calls |= matches!(x.kind, ExprKind::Call { .. }));
    if calls {
        return None;
    }
    // No function is called, so no path is resolved: the directory is never consulted.
    let v = crate::vars::eval_const(e, Path::new("")).ok()?;
    if !v.is_wholly_known() {
        return None;
    }
    value_json(&v, JsonOpts::default())
}

fn body_expressions(b: &Body) -> J {
    let mut m = Map::new();
    for a in &b.attrs {
        m.insert(a.name.clone(), expression_json(&a.expr));
    }
    for blk in &b.blocks {
        let entry = m
            .entry(blk.type_.clone())
            .or_insert_with(|| J::Array(Vec::new()));
        if let J::Array(v) = entry {
            v.push(body_expressions(&blk.body));
        }
    }
    J::Object(m)
}

/// The provider a resource's type belongs to.
fn resource_provider(reg: &Registry, r: &Resource) -> Option<baton_provider::ProviderInfo> {
    match r.addr.mode {
        ResourceMode::Managed => reg.resource_type(&r.addr.type_).map(|(p, _)| p),
        ResourceMode::Data => reg.data_source(&r.addr.type_).map(|(p, _)| p),
    }
}

/// Terraform's `opaqueProviderKey`: `name` in the root module, `module.a.module.b:name` below.
fn provider_key(name: &str, module: &str) -> String {
    if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}:{name}")
    }
}

/// The provider configurations of `configuration.provider_config`, as Terraform's
/// `marshalProviderConfigs` finds them: one per provider a module's resources use, keyed per
/// module; a module's entry that inherits its parent's configuration points at it (`parent`)
/// and is left out of the document, its resources naming the parent's key instead.
struct ProviderKeys<'r> {
    /// The providers of the configuration's types.
    providers: &'r Registry,
    /// key → (local name, source address, module address, the key it inherits from).
    entries: BTreeMap<String, (String, String, String, Option<String>)>,
}

impl ProviderKeys<'_> {
    fn collect(&mut self, cfg: &baton_config::Config, module: &str, parent: Option<&str>) {
        for (name, source) in &cfg.module.terraform.required_providers {
            let key = provider_key(name, module);
            if self.entries.contains_key(&key) {
                continue;
            }
            let source = full_provider_source(name, source);
            let inherits = parent.and_then(|pm| self.source_key(&provider_key(name, pm), &source));
            self.entries
                .insert(key, (name.clone(), source, module.into(), inherits));
        }
        for r in cfg.module.resources.values() {
            let Some(p) = resource_provider(self.providers, r) else {
                continue;
            };
            let key = provider_key(p.name, module);
            if self.entries.contains_key(&key) {
                continue;
            }
            let inherits =
                parent.and_then(|pm| self.source_key(&provider_key(p.name, pm), p.source));
            self.entries.insert(
                key,
                (p.name.into(), p.source.into(), module.into(), inherits),
            );
        }
        for (name, child) in &cfg.children {
            let path = if module.is_empty() {
                format!("module.{name}")
            } else {
                format!("{module}.module.{name}")
            };
            self.collect(child, &path, Some(module));
        }
    }

    /// Terraform's `findSourceProviderKey`: the configuration `key` stands for, if it exists.
    fn source_key(&self, key: &str, source: &str) -> Option<String> {
        let (_, s, _, parent) = self.entries.get(key)?;
        (s == source).then(|| parent.clone().unwrap_or_else(|| key.to_string()))
    }

    /// The key a resource of `module` names.
    fn resource_key(&self, r: &Resource, module: &str) -> String {
        let name = resource_provider(self.providers, r)
            .map(|p| p.name)
            .unwrap_or("unknown");
        let key = provider_key(name, module);
        match self.entries.get(&key) {
            Some((_, _, _, Some(parent))) => parent.clone(),
            _ => key,
        }
    }

    fn json(&self) -> Map<String, J> {
        let mut out = Map::new();
        for (key, (name, source, module, parent)) in &self.entries {
            if parent.is_some() {
                continue;
            }
            let mut m = Map::new();
            m.insert("name".into(), json!(name));
            m.insert("full_name".into(), json!(source));
            if !module.is_empty() {
                m.insert("module_address".into(), json!(module));
            }
            out.insert(key.clone(), J::Object(m));
        }
        out
    }
}

/// A `required_providers` source as a fully qualified address (`hashicorp/local` →
/// `registry.terraform.io/hashicorp/local`; none: the `hashicorp` provider of that name).
fn full_provider_source(name: &str, source: &str) -> String {
    match source.split('/').count() {
        _ if source.is_empty() => format!("registry.terraform.io/hashicorp/{name}"),
        1 => format!("registry.terraform.io/hashicorp/{source}"),
        2 => format!("registry.terraform.io/{source}"),
        _ => source.to_string(),
    }
}

/// `depends_on` entries as Terraform prints them: each reference's traversal, attributes only.
fn depends_on_json(deps: &[Expr]) -> J {
    let deps: Vec<String> = deps
        .iter()
        .filter_map(|e| {
            e.as_traversal().map(|(root, steps)| {
                let mut s = root.to_string();
                for st in steps {
                    if let baton_config::TraversalStep::Attr(a, _) = st {
                        s.push('.');
                        s.push_str(a);
                    }
                }
                s
            })
        })
        .collect();
    json!(deps)
}

/// Inserts `key` unless `v` is an empty object (Go's `omitempty`).
fn insert_nonempty(m: &mut Map<String, J>, key: &str, v: J) {
    if !matches!(&v, J::Object(o) if o.is_empty()) {
        m.insert(key.into(), v);
    }
}

/// Sets a resource's `schema_version` (the type's, or the one its state records).
fn set_schema_version(j: &mut J, v: u32) {
    if let J::Object(m) = j {
        m.insert("schema_version".into(), json!(v));
    }
}

/// `count_expression`, else `for_each_expression`, each only when not `{}` (as Terraform).
fn repetition_json(m: &mut Map<String, J>, count: Option<&Expr>, for_each: Option<&Expr>) {
    let count = count.map(expression_json);
    if let Some(c) = count.filter(|c| c.as_object().is_some_and(|o| !o.is_empty())) {
        m.insert("count_expression".into(), c);
    } else if let Some(f) = for_each.map(expression_json) {
        insert_nonempty(m, "for_each_expression", f);
    }
}

/// A resource block; its `address` is relative to its module, as in Terraform.
fn resource_config_json(r: &Resource, provider_key: String) -> J {
    let mut m = Map::new();
    m.insert("address".into(), json!(r.addr.to_string()));
    m.insert("mode".into(), json!(r.addr.mode.as_str()));
    m.insert("type".into(), json!(r.addr.type_));
    m.insert("name".into(), json!(r.addr.name));
    m.insert("provider_config_key".into(), json!(provider_key));
    if !r.provisioners.is_empty() {
        // Terraform shows each provisioner's type and arguments; `when`, `on_failure` and
        // `connection` are not part of its JSON configuration.
        let ps: Vec<J> = r
            .provisioners
            .iter()
            .map(|p| {
                let mut pm = Map::new();
                pm.insert("type".into(), json!(p.kind));
                insert_nonempty(&mut pm, "expressions", body_expressions(&p.body));
                J::Object(pm)
            })
            .collect();
        m.insert("provisioners".into(), J::Array(ps));
    }
    insert_nonempty(&mut m, "expressions", body_expressions(&r.config));
    m.insert("schema_version".into(), json!(0));
    repetition_json(&mut m, r.count.as_deref(), r.for_each.as_deref());
    if !r.depends_on.is_empty() {
        m.insert("depends_on".into(), depends_on_json(&r.depends_on));
    }
    J::Object(m)
}

/// A module's configuration; `module` is its path (`module.a.module.b`, empty for the root);
/// `dir` is the run's configuration directory (where variable defaults are evaluated).
fn module_config_json(
    cfg: &baton_config::Config,
    module: &str,
    keys: &ProviderKeys<'_>,
    dir: &Path,
) -> J {
    let m = &cfg.module;
    let mut out = Map::new();
    let mut outputs = Map::new();
    for (n, o) in &m.outputs {
        let mut om = Map::new();
        if o.sensitive {
            om.insert("sensitive".into(), json!(true));
        }
        om.insert("expression".into(), expression_json(&o.value));
        if let Some(d) = &o.description {
            om.insert("description".into(), json!(d));
        }
        if !o.depends_on.is_empty() {
            om.insert("depends_on".into(), depends_on_json(&o.depends_on));
        }
        outputs.insert(n.clone(), J::Object(om));
    }
    if !outputs.is_empty() {
        out.insert("outputs".into(), J::Object(outputs));
    }
    let mut resources: Vec<(String, J)> = m
        .resources
        .values()
        .map(|r| {
            let key = keys.resource_key(r, module);
            let mut j = resource_config_json(r, key);
            if r.addr.mode == baton_core::ResourceMode::Managed {
                let v = crate::apply::schema_version(keys.providers, &r.addr.type_);
                set_schema_version(&mut j, v);
            }
            (r.addr.to_string(), j)
        })
        .collect();
    resources.sort_by(|a, b| a.0.cmp(&b.0));
    let resources: Vec<J> = resources.into_iter().map(|(_, j)| j).collect();
    if !resources.is_empty() {
        out.insert("resources".into(), J::Array(resources));
    }
    let mut calls = Map::new();
    for (n, c) in &m.module_calls {
        let mut cm = Map::new();
        cm.insert("source".into(), json!(c.source));
        let mut exprs = Map::new();
        for a in &c.inputs {
            exprs.insert(a.name.clone(), expression_json(&a.expr));
        }
        insert_nonempty(&mut cm, "expressions", J::Object(exprs));
        repetition_json(&mut cm, c.count.as_ref(), c.for_each.as_ref());
        if let Some(child) = cfg.children.get(n) {
            let path = if module.is_empty() {
                format!("module.{n}")
            } else {
                format!("{module}.module.{n}")
            };
            cm.insert("module".into(), module_config_json(child, &path, keys, dir));
        }
        if !c.depends_on.is_empty() {
            cm.insert("depends_on".into(), depends_on_json(&c.depends_on));
        }
        calls.insert(n.clone(), J::Object(cm));
    }
    if !calls.is_empty() {
        out.insert("module_calls".into(), J::Object(calls));
    }
    let mut vars = Map::new();
    for (n, v) in &m.variables {
        let mut vm = Map::new();
        // The default converted to the variable's type (optional attributes filled in).
        if let Some(d) = &v.default {
            let tc = match &v.type_expr {
                Some(t) => baton_eval::typeexpr::type_constraint(t, dir).ok(),
                None => Some(baton_eval::TypeConstraint::any()),
            };
            let converted = crate::vars::eval_const(d, dir)
                .ok()
                .zip(tc)
                .and_then(|(d, tc)| baton_eval::convert::convert_constraint(&d, &tc).ok());
            if let Some(c) = converted.and_then(|c| value_json(&c, JsonOpts::default())) {
                vm.insert("default".into(), c);
            }
        }
        if let Some(d) = &v.description {
            vm.insert("description".into(), json!(d));
        }
        if v.sensitive {
            vm.insert("sensitive".into(), json!(true));
        }
        vars.insert(n.clone(), J::Object(vm));
    }
    if !vars.is_empty() {
        out.insert("variables".into(), J::Object(vars));
    }
    J::Object(out)
}

fn configuration_json(ctx: &Context) -> J {
    let mut keys = ProviderKeys {
        providers: &ctx.providers,
        entries: BTreeMap::new(),
    };
    keys.collect(&ctx.config, "", None);
    let mut out = Map::new();
    insert_nonempty(&mut out, "provider_config", J::Object(keys.json()));
    out.insert(
        "root_module".into(),
        module_config_json(&ctx.config, "", &keys, &ctx.dir),
    );
    J::Object(out)
}
