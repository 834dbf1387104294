//! Generic planning rules shared by every resource type: the proposed new object (Terraform's
//! `objchange.ProposedNew`), schema defaults, which changed attributes force replacement, and
//! marking schema-sensitive attributes.
//!
//! Pure functions over values; no resource-specific behaviour.

use crate::schema::{Nesting, Schema};
use crate::{PlanRequest, PlanResponse};
use baton_eval::{PathStep, Value};
use std::collections::BTreeMap;

/// The configuration merged with prior state: configured attributes take the configured
/// value; unset computed attributes keep their prior value (or become unknown for a new
/// object); unset attributes with a default take the default.
pub fn proposed_new(schema: &Schema, prior: Option<&Value>, config: &Value) -> Value {
    if !config.is_known() {
        return config.clone();
    }
    let mut out = BTreeMap::new();
    for (name, a) in &schema.attrs {
        let cv = config
            .get_attr(name)
            .cloned()
            .unwrap_or_else(|| Value::null(a.ty.clone()));
        let v = if !cv.is_null() {
            cv
        } else if let Some(d) = &a.default {
            d.clone()
        } else if a.computed {
            match prior.and_then(|p| p.get_attr(name)) {
                Some(pv) => pv.clone(),
                None => Value::unknown(a.ty.clone()),
            }
        } else {
            cv
        };
        out.insert(name.clone(), v);
    }
    for (name, b) in &schema.blocks {
        let cv = config.get_attr(name).cloned();
        let v = match cv {
            Some(v) => v,
            None => match b.nesting {
                Nesting::Single => Value::null(b.schema.object_type()),
                Nesting::List => Value::list(b.schema.object_type(), Vec::new()),
                Nesting::Set => Value::set(b.schema.object_type(), Vec::new()),
                Nesting::Map => Value::map(b.schema.object_type(), BTreeMap::new()),
            },
        };
        out.insert(name.clone(), v);
    }
    Value::object(out)
}

/// Attributes marked `force_new` whose planned value differs from the prior one.
pub fn force_new_changes(schema: &Schema, prior: &Value, planned: &Value) -> Vec<Vec<PathStep>> {
    let mut out = Vec::new();
    for (name, a) in &schema.attrs {
        if !a.force_new {
            continue;
        }
        let p = prior.get_attr(name);
        let n = planned.get_attr(name);
        let same = match (p, n) {
            (Some(p), Some(n)) => n.is_known() && p.raw_equal(n),
            (None, None) => true,
            _ => false,
        };
        if !same {
            out.push(vec![PathStep::Key(name.clone())]);
        }
    }
    for (name, b) in &schema.blocks {
        if !b.force_new {
            continue;
        }
        let same = match (prior.get_attr(name), planned.get_attr(name)) {
            (Some(p), Some(n)) => n.is_wholly_known() && p.raw_equal(n),
            (None, None) => true,
            _ => false,
        };
        if !same {
            out.push(vec![PathStep::Key(name.clone())]);
        }
    }
    out
}

/// The plan of a resource type without custom planning: the proposed object, with
/// replacement forced by `force_new` attributes.
pub fn default_plan(schema: &Schema, req: &PlanRequest<'_>) -> PlanResponse {
    let planned = req.proposed.clone();
    let requires_replace = match req.prior {
        Some(p) => force_new_changes(schema, p, &planned),
        None => Vec::new(),
    };
    PlanResponse {
        planned,
        requires_replace,
        warnings: Vec::new(),
    }
}

/// Marks the attributes the schema declares sensitive.
pub fn mark_schema_sensitive(schema: &Schema, v: Value) -> Value {
    let Some(entries) = v.as_entries() else {
        return v;
    };
    if !schema.attrs.values().any(|a| a.sensitive) {
        return v;
    }
    let mut out = entries.to_map();
    for (name, a) in &schema.attrs {
        if a.sensitive {
            // Null too, as Terraform marks by the schema whatever the value.
            if let Some(x) = out.get(name).cloned() {
                out.insert(name.clone(), x.mark_sensitive());
            }
        }
    }
    let s = v.is_sensitive();
    Value::object(out).with_sensitive(s)
}
