//! Terraform's type conversion and unification rules (go-cty's `convert` package): what a
//! value becomes when assigned to a type constraint, and the common type of several values
//! (conditionals, `list(any)`, `concat`...).
//!
//! Conversion never loses marks: a sensitive input gives a sensitive output. It must not do
//! I/O or know about configuration.

use crate::number::Number;
use crate::types::{Defaults, Type, TypeConstraint};
use crate::value::{Kind, Value};
use std::collections::BTreeMap;

/// Why a conversion failed, with the path inside the value where it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn err(path: &str, message: impl Into<String>) -> ConvertError {
    ConvertError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Converts `v` to type `t` following Terraform's rules.
pub fn convert(v: &Value, t: &Type) -> Result<Value, ConvertError> {
    convert_at(v, t, "")
}

/// Applies a variable's type constraint: defaults of optional attributes, then conversion.
pub fn convert_constraint(v: &Value, tc: &TypeConstraint) -> Result<Value, ConvertError> {
    let v = match &tc.defaults {
        Some(d) => apply_defaults(v, &tc.ty, d),
        None => v.clone(),
    };
    convert(&v, &tc.ty)
}

fn describe(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::Number => "number".into(),
        Type::String => "string".into(),
        Type::Dynamic => "any".into(),
        Type::List(_) => "list".into(),
        Type::Set(_) => "set".into(),
        Type::Map(_) => "map".into(),
        Type::Tuple(_) => "tuple".into(),
        Type::Object(_) => "object".into(),
    }
}

fn child(path: &str, step: &str) -> String {
    if path.is_empty() {
        step.trim_start_matches('.').to_string()
    } else {
        format!("{path}{step}")
    }
}

fn key_step(k: &str) -> String {
    if crate::is_identifier(k) {
        format!(".{k}")
    } else {
        format!("[{}]", baton_core::addr::quote(k))
    }
}

fn convert_at(v: &Value, t: &Type, path: &str) -> Result<Value, ConvertError> {
    if *t == Type::Dynamic {
        return Ok(v.clone());
    }
    let sensitive = v.is_sensitive();
    let out = match v.kind() {
        Kind::Null(_) => Value::null(t.concrete()),
        Kind::Unknown(vt) => {
            if *vt == Type::Dynamic || convertible(vt, t) {
                Value::unknown(t.concrete())
            } else {
                return Err(err(path, format!("{} required", describe(t))));
            }
        }
        _ => convert_known(v, t, path)?,
    };
    Ok(out.with_sensitive(sensitive))
}

/// Whether values of type `from` can in general convert to `to` (used for unknowns).
pub fn convertible(from: &Type, to: &Type) -> bool {
    if from == to || *to == Type::Dynamic || *from == Type::Dynamic {
        return true;
    }
    match (from, to) {
        (Type::Number | Type::Bool, Type::String) => true,
        (Type::String, Type::Number | Type::Bool) => true,
        (Type::List(a) | Type::Set(a), Type::List(b) | Type::Set(b)) => convertible(a, b),
        (Type::Tuple(ts), Type::List(b) | Type::Set(b)) => ts.iter().all(|t| convertible(t, b)),
        (Type::Map(a), Type::Map(b)) => convertible(a, b),
        (Type::Object(o), Type::Map(b)) => o.attrs.values().all(|t| convertible(t, b)),
        (Type::Tuple(a), Type::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| convertible(x, y))
        }
        (Type::List(_), Type::Tuple(_)) => true,
        (Type::Object(a), Type::Object(b)) => b.attrs.iter().all(|(k, bt)| match a.attrs.get(k) {
            Some(at) => convertible(at, bt),
            None => b.optional.contains(k),
        }),
        (Type::Map(a), Type::Object(b)) => b.attrs.values().all(|bt| convertible(a, bt)),
        _ => false,
    }
}

fn convert_known(v: &Value, t: &Type, path: &str) -> Result<Value, ConvertError> {
    match (v.kind(), t) {
        (Kind::Bool(_), Type::Bool)
        | (Kind::Number(_), Type::Number)
        | (Kind::String(_), Type::String) => Ok(v.clone().unmark().0),
        (Kind::Number(n), Type::String) => Ok(Value::string(n.to_string())),
        (Kind::Bool(b), Type::String) => Ok(Value::string(if *b { "true" } else { "false" })),
        (Kind::String(s), Type::Number) => match Number::parse(s) {
            Some(n) => Ok(Value::number(n)),
            None => Err(err(path, "a number is required")),
        },
        (Kind::String(s), Type::Bool) => match &**s {
            "true" => Ok(Value::bool(true)),
            "false" => Ok(Value::bool(false)),
            _ => Err(err(path, "a bool is required")),
        },
        (
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items),
            Type::List(et) | Type::Set(et),
        ) => {
            let et: Type = if et.has_dynamic() {
                let tys: Vec<Type> = items.iter().map(Value::ty).collect();
                match unify_with(&tys, et) {
                    Some(u) => u,
                    None => {
                        let what = if matches!(t, Type::Set(_)) {
                            "set"
                        } else {
                            "list"
                        };
                        return Err(err(
                            path,
                            format!("all {what} elements must have the same type"),
                        ));
                    }
                }
            } else {
                (**et).clone()
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, x) in items.iter().enumerate() {
                out.push(convert_at(x, &et, &child(path, &format!("[{i}]")))?);
            }
            let et = et.concrete();
            Ok(if matches!(t, Type::List(_)) {
                Value::list(et, out)
            } else {
                Value::set(et, out)
            })
        }
        (Kind::Map(_, items) | Kind::Object(items), Type::Map(et)) => {
            let et: Type = if et.has_dynamic() {
                let tys: Vec<Type> = items.values().map(Value::ty).collect();
                match unify_with(&tys, et) {
                    Some(u) => u,
                    None => return Err(err(path, "all map elements must have the same type")),
                }
            } else {
                (**et).clone()
            };
            let mut out = BTreeMap::new();
            for (k, x) in items.iter() {
                out.insert(k.clone(), convert_at(x, &et, &child(path, &key_step(k)))?);
            }
            Ok(Value::map(et.concrete(), out))
        }
        (Kind::Tuple(items) | Kind::List(_, items), Type::Tuple(ts)) => {
            if items.len() != ts.len() {
                return Err(err(
                    path,
                    format!("tuple required with exactly {} elements", ts.len()),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (x, et)) in items.iter().zip(ts.iter()).enumerate() {
                out.push(convert_at(x, et, &child(path, &format!("[{i}]")))?);
            }
            Ok(Value::tuple(out))
        }
        (Kind::Object(items) | Kind::Map(_, items), Type::Object(ot)) => {
            let mut out = BTreeMap::new();
            for (k, at) in &ot.attrs {
                match items.get(k) {
                    Some(x) => {
                        out.insert(k.clone(), convert_at(x, at, &child(path, &key_step(k)))?);
                    }
                    None if ot.optional.contains(k) => {
                        out.insert(k.clone(), Value::null(at.concrete()));
                    }
                    None => {
                        return Err(err(path, format!("attribute \"{k}\" is required")));
                    }
                }
            }
            Ok(Value::object(out))
        }
        (_, t) => Err(err(path, format!("{} required", describe(t)))),
    }
}

/// The common type of several types, as Terraform unifies them (go-cty's `UnifyUnsafe`, which
/// HCL uses for the two results of a conditional), or `None` if there is none.
///
/// First, types of one structural kind build a new type: collections of one kind unify their
/// element types; objects with the same attribute names unify attribute by attribute (else
/// all attribute types into a map); tuples of one length element by element (else into a
/// list); tuples beside lists are tried as lists, objects beside maps as maps. A `Dynamic`
/// among structural types makes the result `Dynamic`: what it becomes decides the path.
/// Otherwise each input type is tried as the target, most general first (strings before
/// other primitives, collections before their structural counterparts, sequences before
/// sets, `Dynamic` last): the first that every input converts to wins.
pub fn unify(types: &[Type]) -> Option<Type> {
    if types.is_empty() {
        return Some(Type::Dynamic);
    }
    unify_types(types)
}

fn unify_types(types: &[Type]) -> Option<Type> {
    let first = types.first()?;
    if types.iter().all(|t| t == first) {
        return Some(first.clone());
    }
    let n = types.len();
    let count = |f: fn(&Type) -> bool| types.iter().filter(|t| f(t)).count();
    let maps = count(|t| matches!(t, Type::Map(_)));
    let lists = count(|t| matches!(t, Type::List(_)));
    let sets = count(|t| matches!(t, Type::Set(_)));
    let objects = count(|t| matches!(t, Type::Object(_)));
    let tuples = count(|t| matches!(t, Type::Tuple(_)));
    let dynamics = count(|t| *t == Type::Dynamic);
    let has_dynamic = dynamics > 0;
    if maps > 0 && maps + dynamics == n {
        return unify_collections(types, has_dynamic, Type::map);
    }
    if maps > 0 && maps + objects + dynamics == n {
        if let Some(t @ Type::Map(_)) = unify_as(types, Structural::Object, unify_objects_to_map) {
            return Some(t);
        }
    } else if lists > 0 && lists + dynamics == n {
        return unify_collections(types, has_dynamic, Type::list);
    } else if lists > 0 && lists + tuples + dynamics == n {
        if let Some(t @ Type::List(_)) = unify_as(types, Structural::Tuple, unify_tuples_to_list) {
            return Some(t);
        }
    } else if sets > 0 && sets + dynamics == n {
        return unify_collections(types, has_dynamic, Type::set);
    } else if objects > 0 && objects + dynamics == n {
        return if has_dynamic {
            Some(Type::Dynamic)
        } else {
            unify_objects(types)
        };
    } else if tuples > 0 && tuples + dynamics == n {
        return if has_dynamic {
            Some(Type::Dynamic)
        } else {
            unify_tuples(types)
        };
    } else if objects > 0 && tuples > 0 {
        return None;
    }
    // Try each input type as the target, most general first.
    preference_order(types)
        .into_iter()
        .map(|i| &types[i])
        .find(|want| types.iter().all(|t| t == *want || convertible(t, want)))
        .cloned()
}

/// The structural kind `unify_as` folds into a collection.
#[derive(Clone, Copy)]
enum Structural {
    Object,
    Tuple,
}

/// Objects beside maps (or tuples beside lists): unify the objects into a map (the tuples
/// into a list) with `to_collection`, then unify that with the rest.
fn unify_as(
    types: &[Type],
    kind: Structural,
    to_collection: fn(&[Type]) -> Option<Type>,
) -> Option<Type> {
    let is_kind = |t: &Type| match kind {
        Structural::Object => matches!(t, Type::Object(_)),
        Structural::Tuple => matches!(t, Type::Tuple(_)),
    };
    let of_kind: Vec<Type> = types.iter().filter(|t| is_kind(t)).cloned().collect();
    let collection = to_collection(&of_kind)?;
    let replaced: Vec<Type> = types
        .iter()
        .map(|t| {
            if is_kind(t) {
                collection.clone()
            } else {
                t.clone()
            }
        })
        .collect();
    unify_types(&replaced)
}

fn unify_collections(types: &[Type], has_dynamic: bool, make: fn(Type) -> Type) -> Option<Type> {
    if has_dynamic {
        return Some(Type::Dynamic);
    }
    let elems: Vec<Type> = types
        .iter()
        .filter_map(|t| t.element_type().cloned())
        .collect();
    let out = make(unify_types(&elems)?);
    types
        .iter()
        .all(|t| *t == out || convertible(t, &out))
        .then_some(out)
}

fn object_attrs(t: &Type) -> Option<&BTreeMap<String, Type>> {
    match t {
        Type::Object(o) => Some(&o.attrs),
        _ => None,
    }
}

fn tuple_elems(t: &Type) -> Option<&[Type]> {
    match t {
        Type::Tuple(ts) => Some(ts),
        _ => None,
    }
}

/// Objects with the same attribute names unify attribute by attribute; otherwise all their
/// attribute types unify into a map's element type.
fn unify_objects(types: &[Type]) -> Option<Type> {
    let all: Vec<&BTreeMap<String, Type>> = types.iter().filter_map(object_attrs).collect();
    let first = all.first()?;
    if all
        .iter()
        .any(|a| a.len() != first.len() || a.keys().any(|k| !first.contains_key(k)))
    {
        return unify_objects_to_map(types);
    }
    let mut attrs = BTreeMap::new();
    for name in first.keys() {
        let across: Vec<Type> = all.iter().filter_map(|a| a.get(name).cloned()).collect();
        attrs.insert(name.clone(), unify_types(&across)?);
    }
    Some(Type::object(attrs))
}

fn unify_objects_to_map(types: &[Type]) -> Option<Type> {
    let attrs: Vec<Type> = types
        .iter()
        .filter_map(object_attrs)
        .flat_map(|a| a.values().cloned())
        .collect();
    let out = Type::map(unify_types(&attrs)?);
    types.iter().all(|t| convertible(t, &out)).then_some(out)
}

/// Tuples of one length unify element by element; otherwise all their element types unify
/// into a list's element type.
fn unify_tuples(types: &[Type]) -> Option<Type> {
    let all: Vec<&[Type]> = types.iter().filter_map(tuple_elems).collect();
    let first = all.first()?;
    if all.iter().any(|t| t.len() != first.len()) {
        return unify_tuples_to_list(types);
    }
    let mut out = Vec::with_capacity(first.len());
    for i in 0..first.len() {
        let across: Vec<Type> = all.iter().map(|t| t[i].clone()).collect();
        out.push(unify_types(&across)?);
    }
    Some(Type::tuple(out))
}

fn unify_tuples_to_list(types: &[Type]) -> Option<Type> {
    let elems: Vec<Type> = types
        .iter()
        .filter_map(tuple_elems)
        .flat_map(|t| t.iter().cloned())
        .collect();
    let out = Type::list(unify_types(&elems)?);
    types.iter().all(|t| convertible(t, &out)).then_some(out)
}

/// Indices of `types`, most general first: a stable topological order of "more general than"
/// (go-cty's `sortTypes`).
fn preference_order(types: &[Type]) -> Vec<usize> {
    let n = types.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            match compare_generality(&types[i], &types[j]) {
                std::cmp::Ordering::Less => edges[i].push(j),
                std::cmp::Ordering::Greater => edges[j].push(i),
                std::cmp::Ordering::Equal => {}
            }
        }
    }
    let mut in_degree = vec![0usize; n];
    for outs in &edges {
        for &j in outs {
            in_degree[j] += 1;
        }
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| in_degree[i] == 0).collect();
    let mut at = 0;
    while at < order.len() {
        let i = order[at];
        at += 1;
        for &j in &edges[i] {
            in_degree[j] -= 1;
            if in_degree[j] == 0 {
                order.push(j);
            }
        }
    }
    order
}

/// `Less` when `a` is more general than `b` (should be preferred as the unified type),
/// `Greater` when `b` is, `Equal` when neither or unclear (go-cty's `compareTypes`).
fn compare_generality(a: &Type, b: &Type) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (a, b) {
        (Type::Dynamic, Type::Dynamic) => Equal,
        (Type::Dynamic, _) => Greater,
        (_, Type::Dynamic) => Less,
        (Type::String, Type::String) => Equal,
        (Type::String, b) if b.is_primitive() => Less,
        (a, Type::String) if a.is_primitive() => Greater,
        (Type::List(x), Type::List(y))
        | (Type::Set(x), Type::Set(y))
        | (Type::Map(x), Type::Map(y)) => compare_generality(x, y),
        // Collections come before their structural counterparts, and sequences before sets
        // (a set converts to neither a tuple nor, ordered, back; the conversion check
        // decides); element types are left to the conversion check.
        (Type::List(_) | Type::Tuple(_), Type::Set(_))
        | (Type::List(_), Type::Tuple(_))
        | (Type::Map(_), Type::Object(_)) => Less,
        (Type::Set(_), Type::List(_) | Type::Tuple(_))
        | (Type::Tuple(_), Type::List(_))
        | (Type::Object(_), Type::Map(_)) => Greater,
        (Type::Object(x), Type::Object(y)) => {
            if x.attrs.len() != y.attrs.len() {
                return Equal;
            }
            let mut pairs = Vec::with_capacity(x.attrs.len());
            for (k, xt) in &x.attrs {
                let Some(yt) = y.attrs.get(k) else {
                    return Equal;
                };
                pairs.push((xt, yt));
            }
            compare_members(pairs.into_iter())
        }
        (Type::Tuple(x), Type::Tuple(y)) if x.len() == y.len() => {
            compare_members(x.iter().zip(y.iter()))
        }
        _ => Equal,
    }
}

/// Members compared pairwise: one side is more general only if some member is and none of
/// the other side's is.
fn compare_members<'a>(pairs: impl Iterator<Item = (&'a Type, &'a Type)>) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let (mut a_super, mut b_super) = (false, false);
    for (x, y) in pairs {
        match compare_generality(x, y) {
            Less => a_super = true,
            Greater => b_super = true,
            Equal => {}
        }
    }
    match (a_super, b_super) {
        (true, false) => Less,
        (false, true) => Greater,
        _ => Equal,
    }
}

/// Unifies element types for conversion to a collection whose element type contains `any`:
/// with plain `any` the common type; otherwise the constraint itself (e.g. `list(object({a=any}))`).
fn unify_with(tys: &[Type], constraint: &Type) -> Option<Type> {
    if *constraint == Type::Dynamic {
        if tys.is_empty() {
            return Some(Type::Dynamic);
        }
        return unify(tys);
    }
    // A partly-dynamic constraint: convert each element to the constraint, then unify results.
    let converted: Option<Vec<Type>> = tys
        .iter()
        .map(|t| {
            if convertible(t, constraint) {
                Some(fill_dynamic(constraint, t))
            } else {
                None
            }
        })
        .collect();
    let converted = converted?;
    if converted.is_empty() {
        return Some(constraint.clone());
    }
    unify(&converted)
}

/// The type a value of type `actual` takes when converted to `constraint`.
fn fill_dynamic(constraint: &Type, actual: &Type) -> Type {
    match (constraint, actual) {
        (Type::Dynamic, a) => a.clone(),
        (Type::List(c), Type::List(a) | Type::Set(a)) => Type::list(fill_dynamic(c, a)),
        (Type::Set(c), Type::List(a) | Type::Set(a)) => Type::set(fill_dynamic(c, a)),
        (Type::Map(c), Type::Map(a)) => Type::map(fill_dynamic(c, a)),
        (Type::List(c), Type::Tuple(ts)) => Type::list(
            unify(&ts.iter().map(|t| fill_dynamic(c, t)).collect::<Vec<_>>())
                .unwrap_or_else(|| (**c).clone()),
        ),
        (Type::Set(c), Type::Tuple(ts)) => Type::set(
            unify(&ts.iter().map(|t| fill_dynamic(c, t)).collect::<Vec<_>>())
                .unwrap_or_else(|| (**c).clone()),
        ),
        (Type::Map(c), Type::Object(o)) => Type::map(
            unify(
                &o.attrs
                    .values()
                    .map(|t| fill_dynamic(c, t))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_else(|| (**c).clone()),
        ),
        (Type::Object(c), Type::Object(a)) => Type::object(
            c.attrs
                .iter()
                .map(|(k, ct)| {
                    let t = match a.attrs.get(k) {
                        Some(at) => fill_dynamic(ct, at),
                        None => ct.clone(),
                    };
                    (k.clone(), t)
                })
                .collect(),
        ),
        (Type::Object(c), Type::Map(a)) => Type::object(
            c.attrs
                .iter()
                .map(|(k, ct)| (k.clone(), fill_dynamic(ct, a)))
                .collect(),
        ),
        (Type::Tuple(c), Type::Tuple(a)) if c.len() == a.len() => Type::tuple(
            c.iter()
                .zip(a.iter())
                .map(|(c, a)| fill_dynamic(c, a))
                .collect(),
        ),
        (c, _) => c.clone(),
    }
}

/// Fills in `optional(T, default)` defaults, recursively, before conversion (Terraform's
/// `Defaults.Apply`). Only null or missing attributes receive defaults.
pub fn apply_defaults(v: &Value, t: &Type, d: &Defaults) -> Value {
    if v.is_null() || !v.is_known() {
        return v.clone();
    }
    let sensitive = v.is_sensitive();
    let out = match (v.kind(), t) {
        (Kind::Object(items) | Kind::Map(_, items), Type::Object(ot)) => {
            let mut out: BTreeMap<String, Value> = items.to_map();
            for (k, dv) in &d.values {
                let missing = out.get(k).is_none_or(Value::is_null);
                if missing && ot.attrs.contains_key(k) {
                    out.insert(k.clone(), dv.clone());
                }
            }
            for (k, cd) in &d.children {
                if let (Some(x), Some(at)) = (out.get(k).cloned(), ot.attrs.get(k)) {
                    out.insert(k.clone(), apply_defaults(&x, at, cd));
                }
            }
            Value::object(out)
        }
        (
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items),
            Type::List(et) | Type::Set(et),
        ) => match d.children.get("") {
            Some(cd) => Value::tuple(items.iter().map(|x| apply_defaults(x, et, cd)).collect()),
            None => v.clone(),
        },
        (Kind::Map(_, items) | Kind::Object(items), Type::Map(et)) => match d.children.get("") {
            Some(cd) => Value::object(
                items
                    .iter()
                    .map(|(k, x)| (k.clone(), apply_defaults(x, et, cd)))
                    .collect(),
            ),
            None => v.clone(),
        },
        (Kind::Tuple(items), Type::Tuple(ts)) => Value::tuple(
            items
                .iter()
                .zip(ts.iter())
                .enumerate()
                .map(|(i, (x, et))| match d.children.get(&i.to_string()) {
                    Some(cd) => apply_defaults(x, et, cd),
                    None => x.clone(),
                })
                .collect(),
        ),
        _ => v.clone(),
    };
    out.with_sensitive(sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn primitives() {
        assert_eq!(
            convert(&Value::int(5), &Type::String).expect("ok").as_str(),
            Some("5")
        );
        assert!(convert(&s("x"), &Type::Number).is_err());
        assert_eq!(
            convert(&s("true"), &Type::Bool).expect("ok").as_bool(),
            Some(true)
        );
        assert!(convert(&Value::bool(true), &Type::Number).is_err());
    }

    #[test]
    fn tuple_to_list_of_any_unifies() {
        let v = Value::tuple(vec![Value::int(1), s("a")]);
        let out = convert(&v, &Type::list(Type::Dynamic)).expect("ok");
        assert_eq!(out.ty(), Type::list(Type::String));
        let v = Value::tuple(vec![Value::int(1), Value::bool(true)]);
        assert!(convert(&v, &Type::list(Type::Dynamic)).is_err());
    }

    #[test]
    fn object_conversion_drops_extra_and_requires_missing() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::int(1));
        m.insert("extra".to_string(), s("x"));
        let v = Value::object(m);
        let mut attrs = BTreeMap::new();
        attrs.insert("a".to_string(), Type::String);
        let out = convert(&v, &Type::object(attrs.clone())).expect("ok");
        assert_eq!(out.length(), Some(1));
        attrs.insert("b".to_string(), Type::String);
        let e = convert(&v, &Type::object(attrs)).expect_err("missing b");
        assert_eq!(e.message, "attribute \"b\" is required");
    }

    #[test]
    fn unify_rules() {
        assert_eq!(unify(&[Type::Number, Type::String]), Some(Type::String));
        assert_eq!(unify(&[Type::Number, Type::Bool]), None);
        assert_eq!(
            unify(&[Type::tuple(vec![Type::Number]), Type::tuple(vec![])]),
            Some(Type::list(Type::Number))
        );
    }

    #[test]
    fn marks_survive_conversion() {
        let v = s("5").mark_sensitive();
        assert!(convert(&v, &Type::Number).expect("ok").is_sensitive());
    }
}
