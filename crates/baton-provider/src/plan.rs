//! Generic planning rules shared by every resource type: the proposed new object (Terraform's
//! `objchange.ProposedNew`), schema defaults, which changed attributes force replacement, and
//! marking schema-sensitive attributes.
//!
//! Pure functions over values; no resource-specific behaviour.

use crate::schema::{Nesting, Schema};
use crate::{PlanRequest, PlanResponse};
use baton_eval::{Kind, PathStep, Value};
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
            // A nested attribute's objects keep their computed attributes, as blocks' do.
            match (&a.nested, prior.and_then(|p| p.get_attr(name))) {
                (Some(nested), Some(pv)) => proposed_nested_block(nested, pv, cv),
                _ => cv,
            }
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
            Some(v) => match prior.and_then(|p| p.get_attr(name)) {
                Some(pv) => proposed_nested_block(b, pv, v),
                None => v,
            },
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

/// A nested block's (or nested attribute's) proposed value (Terraform's
/// `proposedNewNestedBlock` and `proposedNewNestedType`): each configured
/// block object merged with the prior object it corresponds to — by index in a list, by key
/// in a map, by equal non-computed attributes in a set — so computed attributes inside blocks
/// keep their prior values; an object without a prior one is taken from the configuration as
/// it is.
fn proposed_nested_block(b: &crate::schema::NestedBlock, prior: &Value, config: Value) -> Value {
    if !config.is_known() || config.is_null() || !prior.is_known() || prior.is_null() {
        return config;
    }
    let merge = |p: &Value, c: &Value| -> Value {
        if p.is_null() || !p.is_known() || c.is_null() || !c.is_known() {
            c.clone()
        } else {
            proposed_new_object(&b.schema, p, c)
        }
    };
    let sensitive = config.is_sensitive();
    let out = match (config.kind(), prior.kind()) {
        (Kind::Object(_), Kind::Object(_)) => merge(prior, &config),
        (Kind::List(ty, items), Kind::List(_, prior_items)) => Value::list(
            ty.clone(),
            items
                .iter()
                .enumerate()
                .map(|(i, c)| match prior_items.get(i) {
                    Some(p) => merge(p, c),
                    None => c.clone(),
                })
                .collect(),
        ),
        (Kind::Map(ty, items), Kind::Map(_, prior_items)) => Value::map(
            ty.clone(),
            items
                .iter()
                .map(|(k, c)| {
                    let v = match prior_items.get(k) {
                        Some(p) => merge(p, c),
                        None => c.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        (Kind::Set(ty, items), Kind::Set(_, prior_items)) => {
            let keys: Vec<Value> = prior_items
                .iter()
                .map(|p| without_computed(&b.schema, p))
                .collect();
            let mut used = vec![false; prior_items.len()];
            let merged = items
                .iter()
                .map(|c| {
                    let found = keys
                        .iter()
                        .enumerate()
                        .find(|(i, k)| !used[*i] && k.raw_equal(c))
                        .map(|(i, _)| i);
                    match found {
                        Some(i) => {
                            used[i] = true;
                            merge(&prior_items[i], c)
                        }
                        None => c.clone(),
                    }
                })
                .collect();
            Value::set(ty.clone(), merged)
        }
        _ => config.clone(),
    };
    out.with_sensitive(sensitive)
}

/// The object with a prior object (both known and not null): configured attributes from the
/// configuration, computed ones the configuration leaves unset from the prior object, nested
/// blocks merged in turn.
fn proposed_new_object(schema: &Schema, prior: &Value, config: &Value) -> Value {
    let mut out = BTreeMap::new();
    for (name, a) in &schema.attrs {
        let cv = config
            .get_attr(name)
            .cloned()
            .unwrap_or_else(|| Value::null(a.ty.clone()));
        let pv = prior.get_attr(name);
        let v = if a.computed && cv.is_null() {
            pv.cloned().unwrap_or_else(|| Value::null(a.ty.clone()))
        } else {
            match (&a.nested, pv) {
                (Some(nested), Some(pv)) if !cv.is_null() => proposed_nested_block(nested, pv, cv),
                _ => cv,
            }
        };
        out.insert(name.clone(), v);
    }
    for (name, b) in &schema.blocks {
        if let Some(cv) = config.get_attr(name).cloned() {
            let v = match prior.get_attr(name) {
                Some(pv) => proposed_nested_block(b, pv, cv),
                None => cv,
            };
            out.insert(name.clone(), v);
        }
    }
    Value::object(out).with_sensitive(config.is_sensitive())
}

/// A prior set element as a configuration would write it: computed attributes null (so it
/// can be matched with the configured element it came from).
fn without_computed(schema: &Schema, v: &Value) -> Value {
    let Some(entries) = v.as_entries() else {
        return v.clone();
    };
    let mut out = entries.to_map();
    for (name, a) in &schema.attrs {
        if a.computed {
            out.insert(name.clone(), Value::null(a.ty.clone()));
        }
    }
    let nested = schema
        .attrs
        .iter()
        .filter(|(_, a)| !a.computed)
        .filter_map(|(n, a)| a.nested.as_deref().map(|b| (n, b)));
    for (name, b) in schema.blocks.iter().chain(nested) {
        if let Some(x) = out.get(name).cloned() {
            let strip = |e: &Value| without_computed(&b.schema, e);
            let stripped = match x.kind() {
                Kind::Object(_) => strip(&x),
                _ => map_elements(&x, strip),
            };
            out.insert(name.clone(), stripped);
        }
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

/// Marks the attributes the schema declares sensitive, inside nested blocks and nested
/// attributes too.
pub fn mark_schema_sensitive(schema: &Schema, v: Value) -> Value {
    if !has_sensitive(schema) {
        return v;
    }
    let Some(entries) = v.as_entries() else {
        return v;
    };
    let mut out = entries.to_map();
    for (name, a) in &schema.attrs {
        let Some(x) = out.get(name).cloned() else {
            continue;
        };
        if a.sensitive {
            // Null too, as Terraform marks by the schema whatever the value.
            out.insert(name.clone(), x.mark_sensitive());
        } else if let Some(n) = &a.nested {
            out.insert(name.clone(), mark_nested(n, x));
        }
    }
    for (name, b) in &schema.blocks {
        if let Some(x) = out.get(name).cloned() {
            out.insert(name.clone(), mark_nested(b, x));
        }
    }
    let s = v.is_sensitive();
    Value::object(out).with_sensitive(s)
}

/// Whether anything in the schema, at any depth, is sensitive.
fn has_sensitive(schema: &Schema) -> bool {
    schema.attrs.values().any(|a| {
        a.sensitive
            || a.nested
                .as_deref()
                .is_some_and(|n| has_sensitive(&n.schema))
    }) || schema.blocks.values().any(|b| has_sensitive(&b.schema))
}

/// A nested block's (or nested attribute's) objects with their sensitive attributes marked.
/// In a set, the marks of its elements are held by the set itself (as cty's are).
fn mark_nested(b: &crate::schema::NestedBlock, x: Value) -> Value {
    if !has_sensitive(&b.schema) || x.is_null() || !x.is_known() {
        return x;
    }
    match x.kind() {
        Kind::Object(_) => mark_schema_sensitive(&b.schema, x),
        Kind::Set(..) => x.mark_sensitive(),
        _ => {
            let s = x.is_sensitive();
            map_elements(&x, |e| mark_schema_sensitive(&b.schema, e.clone())).with_sensitive(s)
        }
    }
}

/// A list, set or map with `f` applied to each element; any other value as it is.
fn map_elements(x: &Value, f: impl Fn(&Value) -> Value) -> Value {
    match x.kind() {
        Kind::List(ty, items) => Value::list(ty.clone(), items.iter().map(&f).collect()),
        Kind::Set(ty, items) => Value::set(ty.clone(), items.iter().map(&f).collect()),
        Kind::Map(ty, items) => Value::map(
            ty.clone(),
            items.iter().map(|(k, e)| (k.clone(), f(e))).collect(),
        ),
        _ => x.clone(),
    }
}

#[cfg(test)]
mod tests {
    //! Terraform's proposed new state inside nested blocks: cases from objchange's rules.
    use super::proposed_new;
    use crate::schema::{Attr, NestedBlock, Nesting, Schema};
    use baton_eval::{Type, Value};
    use std::collections::BTreeMap;

    fn tag_schema() -> Schema {
        Schema::new()
            .attr("key", Attr::required(Type::String))
            .attr("value", Attr::optional(Type::String))
            .attr("ref", Attr::computed(Type::String))
    }

    fn schema(nesting: Nesting) -> Schema {
        Schema::new()
            .attr("id", Attr::computed(Type::String))
            .block(
                "tag",
                NestedBlock {
                    nesting,
                    schema: tag_schema(),
                    min_items: 0,
                    max_items: 0,
                    force_new: false,
                },
            )
    }

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    fn tag(key: &str, value: Option<&str>, r: Option<&str>) -> Value {
        let mut m = BTreeMap::new();
        m.insert("key".to_string(), s(key));
        m.insert(
            "value".to_string(),
            value.map(s).unwrap_or_else(|| Value::null(Type::String)),
        );
        m.insert(
            "ref".to_string(),
            r.map(s).unwrap_or_else(|| Value::null(Type::String)),
        );
        Value::object(m)
    }

    fn obj(id: Option<&str>, tags: Value) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "id".to_string(),
            id.map(s).unwrap_or_else(|| Value::null(Type::String)),
        );
        m.insert("tag".to_string(), tags);
        Value::object(m)
    }

    fn elem_ty() -> Type {
        tag_schema().object_type()
    }

    #[test]
    fn list_blocks_keep_computed_values_by_index_and_new_ones_stay_as_configured() {
        let sc = schema(Nesting::List);
        let prior = obj(
            Some("x"),
            Value::list(elem_ty(), vec![tag("a", Some("1"), Some("ref-a"))]),
        );
        let config = obj(
            None,
            Value::list(
                elem_ty(),
                vec![tag("a", Some("2"), None), tag("b", None, None)],
            ),
        );
        let got = proposed_new(&sc, Some(&prior), &config);
        let want = obj(
            Some("x"),
            Value::list(
                elem_ty(),
                vec![tag("a", Some("2"), Some("ref-a")), tag("b", None, None)],
            ),
        );
        assert!(got.raw_equal(&want), "{got:?}");
    }

    #[test]
    fn set_blocks_match_prior_elements_by_their_configured_attributes() {
        let sc = schema(Nesting::Set);
        let prior = obj(
            Some("x"),
            Value::set(
                elem_ty(),
                vec![
                    tag("a", Some("1"), Some("ref-a")),
                    tag("b", Some("1"), Some("ref-b")),
                ],
            ),
        );
        // `a` unchanged keeps its ref; `b` changed is a new element without one.
        let config = obj(
            None,
            Value::set(
                elem_ty(),
                vec![tag("a", Some("1"), None), tag("b", Some("2"), None)],
            ),
        );
        let got = proposed_new(&sc, Some(&prior), &config);
        let want = obj(
            Some("x"),
            Value::set(
                elem_ty(),
                vec![
                    tag("a", Some("1"), Some("ref-a")),
                    tag("b", Some("2"), None),
                ],
            ),
        );
        assert!(got.raw_equal(&want), "{got:?}");
    }

    #[test]
    fn map_and_single_blocks_correlate_by_key_and_by_presence() {
        let sc = schema(Nesting::Map);
        let mut prior_tags = BTreeMap::new();
        prior_tags.insert("one".to_string(), tag("a", None, Some("ref-a")));
        let prior = obj(Some("x"), Value::map(elem_ty(), prior_tags));
        let mut config_tags = BTreeMap::new();
        config_tags.insert("one".to_string(), tag("a", None, None));
        config_tags.insert("two".to_string(), tag("b", None, None));
        let got = proposed_new(
            &sc,
            Some(&prior),
            &obj(None, Value::map(elem_ty(), config_tags)),
        );
        let mut want_tags = BTreeMap::new();
        want_tags.insert("one".to_string(), tag("a", None, Some("ref-a")));
        want_tags.insert("two".to_string(), tag("b", None, None));
        assert!(got.raw_equal(&obj(Some("x"), Value::map(elem_ty(), want_tags))));

        let sc = schema(Nesting::Single);
        let prior = obj(Some("x"), tag("a", None, Some("ref-a")));
        let got = proposed_new(&sc, Some(&prior), &obj(None, tag("a", Some("v"), None)));
        assert!(got.raw_equal(&obj(Some("x"), tag("a", Some("v"), Some("ref-a")))));
        // A new object proposes its blocks as configured.
        let got = proposed_new(&sc, None, &obj(None, tag("a", None, None)));
        assert_eq!(got.get_attr("tag"), Some(&tag("a", None, None)));
    }
}
