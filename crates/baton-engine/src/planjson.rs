//! The plan as JSON in the shape of `terraform show -json` (format 1.2): `planned_values`,
//! `resource_changes`, `output_changes`, `resource_drift`, `prior_state`, `configuration`,
//! so tools and policies written for Terraform plans read it unchanged.
//!
//! Difference by design: sensitive values are redacted to `null` (their `*_sensitive` flags
//! still say where they were) unless the caller asks for them; Baton never prints a sensitive
//! value by default.

use crate::context::Context;
use crate::model::{Action, Plan, PlanMode, ResourceChange};
use crate::statecodec::{decode_object, decode_output};
use baton_config::{Body, Expr, ExprKind, Resource};
use baton_core::{InstanceAddr, InstanceKey, ModuleInstance, ResourceMode};
use baton_eval::{Kind, Value};
use baton_state::Snapshot;
use serde_json::{json, Map, Value as J};
use std::collections::BTreeMap;

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
    // Terraform writes `{}` (not `false`) for a change with no new object.
    let after_unknown = if c.after.is_null() {
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
        let provider = obj
            .provider
            .trim_start_matches("provider[\"")
            .trim_end_matches("\"]")
            .to_string();
        let mut j = resource_values(&k.addr, &provider, &v, &obj.dependencies, o);
        if obj.status == baton_state::InstanceStatus::Tainted {
            if let J::Object(m) = &mut j {
                m.insert("tainted".into(), json!(true));
            }
        }
        entries.push((k.addr.module.clone(), j));
    }
    json!({"outputs": outputs, "root_module": module_tree(entries)})
}

/// The whole plan document.
pub fn plan_json(ctx: Option<&Context>, plan: &Plan, prior: &Snapshot, o: JsonOpts) -> J {
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
    doc.insert("variables".into(), J::Object(vars));
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
        if let J::Object(m) = &mut j {
            m.remove("depends_on");
        }
        entries.push((c.addr.module.clone(), j));
    }
    doc.insert(
        "planned_values".into(),
        json!({"outputs": outputs, "root_module": module_tree(entries)}),
    );
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
    doc.insert("resource_changes".into(), J::Array(changes));
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
    doc.insert("output_changes".into(), J::Object(ocs));
    // The prior state is the refreshed state, into which Terraform's plan walk has already
    // written the root outputs it could evaluate: so they show their new known values.
    let mut prior_values = state_values(prior, o);
    let mut planned_known = false;
    if let Some(J::Object(outs)) = prior_values.get_mut("outputs") {
        for (name, (v, sens)) in &plan.planned_outputs {
            if v.is_wholly_known() && !v.is_null() {
                outs.insert(name.clone(), output_json(v, *sens || v.is_sensitive(), o));
                planned_known = true;
            }
        }
    }
    if !prior.is_empty() || planned_known {
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

fn expression_json(e: &Expr) -> J {
    if let Ok(v) = constant(e) {
        return json!({"constant_value": v});
    }
    let (refs, _) = baton_eval::references(e);
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
    json!({"references": names})
}

/// A literal expression's JSON value (no references, no function calls).
fn constant(e: &Expr) -> Result<J, ()> {
    match &e.kind {
        ExprKind::Null => Ok(J::Null),
        ExprKind::Bool(b) => Ok(json!(b)),
        ExprKind::Number(n) => baton_eval::Number::parse(n)
            .map(|x| baton_eval::value::number_to_json(&x))
            .ok_or(()),
        ExprKind::String(s) => Ok(json!(s)),
        ExprKind::Tuple(items) => items
            .iter()
            .map(constant)
            .collect::<Result<Vec<_>, _>>()
            .map(J::Array),
        ExprKind::Object(items) => {
            let mut m = Map::new();
            for (k, v) in items {
                let key = match k {
                    baton_config::ObjectKey::Ident(s) => s.clone(),
                    baton_config::ObjectKey::Expr(ke) => match &ke.kind {
                        ExprKind::String(s) => s.clone(),
                        _ => return Err(()),
                    },
                };
                m.insert(key, constant(v)?);
            }
            Ok(J::Object(m))
        }
        ExprKind::Parens(x) => constant(x),
        _ => Err(()),
    }
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

fn resource_config_json(r: &Resource, module_prefix: &str) -> J {
    let reg = baton_provider::registry();
    let pname = match r.addr.mode {
        ResourceMode::Managed => reg.resource_type(&r.addr.type_).map(|(p, _)| p.name),
        ResourceMode::Data => reg.data_source(&r.addr.type_).map(|(p, _)| p.name),
    }
    .unwrap_or("unknown");
    let mut m = Map::new();
    m.insert(
        "address".into(),
        json!(format!("{module_prefix}{}", r.addr)),
    );
    m.insert("mode".into(), json!(r.addr.mode.as_str()));
    m.insert("type".into(), json!(r.addr.type_));
    m.insert("name".into(), json!(r.addr.name));
    m.insert("provider_config_key".into(), json!(pname));
    m.insert("expressions".into(), body_expressions(&r.config));
    m.insert("schema_version".into(), json!(0));
    if let Some(c) = &r.count {
        m.insert("count_expression".into(), expression_json(c));
    }
    if let Some(f) = &r.for_each {
        m.insert("for_each_expression".into(), expression_json(f));
    }
    if !r.depends_on.is_empty() {
        let deps: Vec<String> = r
            .depends_on
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
        m.insert("depends_on".into(), json!(deps));
    }
    J::Object(m)
}

fn module_config_json(cfg: &baton_config::Config, prefix: &str) -> J {
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
        outputs.insert(n.clone(), J::Object(om));
    }
    if !outputs.is_empty() {
        out.insert("outputs".into(), J::Object(outputs));
    }
    let resources: Vec<J> = m
        .resources
        .values()
        .map(|r| resource_config_json(r, prefix))
        .collect();
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
        cm.insert("expressions".into(), J::Object(exprs));
        if let Some(e) = &c.count {
            cm.insert("count_expression".into(), expression_json(e));
        }
        if let Some(e) = &c.for_each {
            cm.insert("for_each_expression".into(), expression_json(e));
        }
        if let Some(child) = cfg.children.get(n) {
            cm.insert(
                "module".into(),
                module_config_json(child, &format!("{prefix}module.{n}.")),
            );
        }
        calls.insert(n.clone(), J::Object(cm));
    }
    if !calls.is_empty() {
        out.insert("module_calls".into(), J::Object(calls));
    }
    let mut vars = Map::new();
    for (n, v) in &m.variables {
        let mut vm = Map::new();
        if let Some(d) = &v.default {
            if let Ok(c) = constant(d) {
                vm.insert("default".into(), c);
            }
        }
        if let Some(d) = &v.description {
            vm.insert("description".into(), json!(d));
        }
        if v.sensitive {
            vm.insert("sensitive".into(), json!(true));
        }
        if !v.nullable {
            vm.insert("nullable".into(), json!(false));
        }
        vars.insert(n.clone(), J::Object(vm));
    }
    if !vars.is_empty() {
        out.insert("variables".into(), J::Object(vars));
    }
    J::Object(out)
}

fn configuration_json(ctx: &Context) -> J {
    let reg = baton_provider::registry();
    let mut providers = Map::new();
    for m in ctx.config.all_modules() {
        for r in m.resources.values() {
            let info = match r.addr.mode {
                ResourceMode::Managed => reg.resource_type(&r.addr.type_).map(|(p, _)| p),
                ResourceMode::Data => reg.data_source(&r.addr.type_).map(|(p, _)| p),
            };
            if let Some(p) = info {
                providers.insert(
                    p.name.to_string(),
                    json!({"name": p.name, "full_name": p.source}),
                );
            }
        }
    }
    json!({
        "provider_config": providers,
        "root_module": module_config_json(&ctx.config, ""),
    })
}
