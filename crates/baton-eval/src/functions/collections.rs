//! The collections functions of Terraform's library: `length`, `concat`, `merge`, `lookup`,
//! `flatten`, the set functions and the rest of Terraform 1.11's list/map/set helpers.
//!
//! Each implementation follows go-cty's two phases: a *type* step (which may fail, and which
//! decides the type of an unknown result) and an *implementation* step. Parameters are declared
//! `.unknowns()` so that, as in go-cty, only a *top-level* unknown argument makes the result
//! unknown: `concat(["a"], [x])` stays a known tuple even while `x` is unknown. Parameters go-cty
//! declares `AllowMarked` are `.marked()` here, so that a sensitive element stays on that element
//! instead of marking the whole result.
//!
//! Implementations receive converted, non-null arguments (see `functions/mod.rs`) and must
//! never log argument values, nor put a sensitive value into an error message.

use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::convert::{convert, convertible, unify};
use crate::number::Number;
use crate::ops::equals;
use crate::types::Type;
use crate::value::{Kind, Value};
use std::collections::BTreeMap;
use unicode_segmentation::UnicodeSegmentation;

pub(super) fn register(r: &mut Registry) {
    let any = || Type::Dynamic;
    let list_any = || Type::list(Type::Dynamic);
    let set_any = || Type::set(Type::Dynamic);
    let p = |name: &'static str, t: Type| Param::new(name, t).unknowns();
    let pm = |name: &'static str, t: Type| Param::new(name, t).unknowns().marked();
    let fixed = Ret::Fixed;

    r.add(Function::new(
        "alltrue",
        vec![p("list", Type::list(Type::Bool))],
        fixed(Type::Bool),
        alltrue,
    ));
    r.add(Function::new(
        "anytrue",
        vec![p("list", Type::list(Type::Bool))],
        fixed(Type::Bool),
        anytrue,
    ));
    r.add(Function::new(
        "chunklist",
        vec![pm("list", list_any()), pm("size", Type::Number)],
        Ret::Dynamic,
        chunklist,
    ));
    r.add(
        Function::new("coalesce", vec![], Ret::Dynamic, coalesce)
            .variadic(p("vals", any()).nullable()),
    );
    r.add(
        Function::new("coalescelist", vec![], Ret::Dynamic, coalescelist)
            .variadic(p("vals", any()).nullable()),
    );
    r.add(Function::new(
        "compact",
        vec![p("list", Type::list(Type::String))],
        fixed(Type::list(Type::String)),
        compact,
    ));
    r.add(Function::new("concat", vec![], Ret::Dynamic, concat).variadic(pm("seqs", any())));
    r.add(Function::new(
        "contains",
        vec![p("list", any()), p("value", any())],
        fixed(Type::Bool),
        contains,
    ));
    r.add(Function::new(
        "distinct",
        vec![p("list", list_any())],
        Ret::SameAsArg(0),
        distinct,
    ));
    r.add(Function::new(
        "element",
        vec![pm("list", any()), p("index", Type::Number)],
        Ret::Dynamic,
        element,
    ));
    r.add(Function::new(
        "flatten",
        vec![pm("list", any())],
        Ret::Dynamic,
        flatten,
    ));
    r.add(Function::new(
        "index",
        vec![p("list", any()), p("value", any())],
        fixed(Type::Number),
        index,
    ));
    r.add(Function::new(
        "keys",
        vec![pm("inputMap", any())],
        Ret::Dynamic,
        keys,
    ));
    r.add(Function::new(
        "length",
        vec![pm("value", any())],
        fixed(Type::Number),
        length,
    ));
    r.add(
        Function::new(
            "lookup",
            vec![pm("inputMap", any()), pm("key", Type::String)],
            Ret::Dynamic,
            lookup,
        )
        .variadic(pm("default", any()).nullable()),
    );
    r.add(Function::new(
        "matchkeys",
        vec![
            p("values", list_any()),
            p("keys", list_any()),
            p("searchset", list_any()),
        ],
        Ret::SameAsArg(0),
        matchkeys,
    ));
    r.add(
        Function::new("merge", vec![], Ret::Dynamic, merge).variadic(pm("maps", any()).nullable()),
    );
    r.add(Function::new(
        "one",
        vec![p("list", any())],
        Ret::Dynamic,
        one,
    ));
    r.add(
        Function::new("range", vec![], fixed(Type::list(Type::Number)), range)
            .variadic(p("params", Type::Number)),
    );
    r.add(Function::new(
        "reverse",
        vec![pm("list", any())],
        Ret::Dynamic,
        reverse,
    ));
    r.add(
        Function::new(
            "setintersection",
            vec![p("first_set", set_any())],
            Ret::Dynamic,
            setintersection,
        )
        .variadic(p("other_sets", set_any())),
    );
    r.add(
        Function::new("setproduct", vec![], Ret::Dynamic, setproduct).variadic(pm("sets", any())),
    );
    r.add(Function::new(
        "setsubtract",
        vec![p("a", set_any()), p("b", set_any())],
        Ret::Dynamic,
        setsubtract,
    ));
    r.add(
        Function::new(
            "setunion",
            vec![p("first_set", set_any())],
            Ret::Dynamic,
            setunion,
        )
        .variadic(p("other_sets", set_any())),
    );
    r.add(Function::new(
        "slice",
        vec![
            pm("list", any()),
            p("start_index", Type::Number),
            p("end_index", Type::Number),
        ],
        Ret::Dynamic,
        slice,
    ));
    r.add(Function::new(
        "sort",
        vec![p("list", Type::list(Type::String))],
        fixed(Type::list(Type::String)),
        sort,
    ));
    r.add(Function::new(
        "sum",
        vec![p("list", any())],
        fixed(Type::Number),
        sum,
    ));
    r.add(Function::new(
        "transpose",
        vec![p("values", Type::map(Type::list(Type::String)))],
        fixed(Type::map(Type::list(Type::String))),
        transpose,
    ));
    r.add(Function::new(
        "values",
        vec![pm("mapping", any())],
        Ret::Dynamic,
        values,
    ));
    r.add(Function::new(
        "zipmap",
        vec![pm("keys", Type::list(Type::String)), pm("values", any())],
        Ret::Dynamic,
        zipmap,
    ));
    // Removed in Terraform 0.12 but still registered there, so that calls get this message.
    r.add(
        Function::new("list", vec![], Ret::Dynamic, list_removed)
            .variadic(p("vals", any()).nullable()),
    );
    r.add(
        Function::new("map", vec![], Ret::Dynamic, map_removed)
            .variadic(p("vals", any()).nullable()),
    );
}

// ----- errors -----

/// A failure not tied to one argument; Terraform prints it followed by a period.
fn fail(msg: impl std::fmt::Display) -> FnError {
    FnError::new(format!("{msg}."))
}

/// A failure blamed on argument `i` (go-cty's `NewArgError`), in Terraform's wording.
fn arg_fail(i: usize, param: &str, msg: impl std::fmt::Display) -> FnError {
    FnError::arg(
        i,
        format!("Invalid value for \"{param}\" parameter: {msg}."),
    )
}

fn arity() -> FnError {
    FnError::new("wrong number of arguments.")
}

/// gocty's message when a number does not fit a Go `int`.
const WHOLE_NUMBER: &str =
    "value must be a whole number, between -9223372036854775808 and 9223372036854775807";

/// A number as a Go `int`, as `gocty.FromCtyValue` converts it.
fn go_int(v: &Value) -> Result<i64, &'static str> {
    v.as_number().and_then(Number::to_i64).ok_or(WHOLE_NUMBER)
}

// ----- shared helpers -----

/// An argument of unknown type given to a parameter that does not accept one: go-cty returns
/// an unknown value of unknown type before any type checking.
fn dynamic_unknown(v: &Value) -> bool {
    !v.is_known() && v.ty() == Type::Dynamic
}

fn dyn_unknown_result(sensitive: bool) -> FnResult {
    Ok(Value::dynamic_unknown().with_sensitive(sensitive))
}

fn unknown(t: Type, sensitive: bool) -> FnResult {
    Ok(Value::unknown(t).with_sensitive(sensitive))
}

fn elem_type(t: &Type) -> Type {
    t.element_type().cloned().unwrap_or(Type::Dynamic)
}

fn is_seq_type(t: &Type) -> bool {
    matches!(t, Type::List(_) | Type::Set(_) | Type::Tuple(_))
}

/// The elements of a known sequence, or the values (in key order) of a map or object.
fn children(v: &Value) -> Vec<Value> {
    match v.kind() {
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => (**items).clone(),
        Kind::Map(_, items) | Kind::Object(items) => items.values().cloned().collect(),
        _ => Vec::new(),
    }
}

fn seq(v: &Value) -> &[Value] {
    v.as_seq().unwrap_or(&[])
}

/// The length go-cty knows for an unmarked value (`Value.Length`): a tuple's always, an unknown
/// collection's never, and a set's only when it has no unknown elements or a single element.
fn known_len(v: &Value) -> Option<usize> {
    match v.kind() {
        Kind::Tuple(items) => Some(items.len()),
        Kind::Unknown(Type::Tuple(ts)) => Some(ts.len()),
        Kind::Unknown(_) => None,
        Kind::Set(_, items) => (items.len() == 1 || v.is_wholly_known()).then_some(items.len()),
        _ => v.length(),
    }
}

/// go-cty's `convert.UnifyUnsafe`, including how it treats values of unknown type: mixed with
/// collections or structures of one kind they make the result type unknown, and otherwise they
/// are the last resort when no concrete type fits.
fn unify_unsafe(types: &[Type]) -> Option<Type> {
    if types.is_empty() {
        return None;
    }
    let concrete: Vec<Type> = types
        .iter()
        .filter(|t| **t != Type::Dynamic)
        .cloned()
        .collect();
    let has_dynamic = concrete.len() != types.len();
    if has_dynamic && !concrete.is_empty() {
        let same_kind = |f: fn(&Type) -> bool| concrete.iter().all(f);
        if same_kind(|t| matches!(t, Type::Map(_)))
            || same_kind(|t| matches!(t, Type::List(_)))
            || same_kind(|t| matches!(t, Type::Set(_)))
            || same_kind(|t| matches!(t, Type::Object(_)))
            || same_kind(|t| matches!(t, Type::Tuple(_)))
        {
            return Some(Type::Dynamic);
        }
        // Maps mixed with objects take go-cty's general path: the most general of the given
        // types that all of them convert to, else the unknown type.
        if same_kind(|t| matches!(t, Type::Map(_) | Type::Object(_))) {
            let generality = |t: &Type| match t {
                Type::Map(e) if **e == Type::String => 2,
                Type::Map(_) => 1,
                _ => 0,
            };
            let mut best: Option<&Type> = None;
            for c in &concrete {
                let fits = concrete.iter().all(|t| t == c || convertible(t, c));
                if fits && best.is_none_or(|b| generality(c) > generality(b)) {
                    best = Some(c);
                }
            }
            return Some(best.cloned().unwrap_or(Type::Dynamic));
        }
    }
    match unify(&concrete) {
        Some(t) => Some(t),
        None if has_dynamic => Some(Type::Dynamic),
        None => None,
    }
}

use baton_core::gotext::quote as go_quote;

// ----- alltrue, anytrue -----

fn alltrue(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if !list.is_known() {
        return unknown(Type::Bool, false);
    }
    for v in seq(list) {
        if !v.is_known() {
            return unknown(Type::Bool, false);
        }
        if v.is_null() || v.as_bool() == Some(false) {
            return Ok(Value::bool(false));
        }
    }
    Ok(Value::bool(true))
}

fn anytrue(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if !list.is_known() {
        return unknown(Type::Bool, false);
    }
    let mut has_unknown = false;
    for v in seq(list) {
        if !v.is_known() {
            has_unknown = true;
        } else if v.as_bool() == Some(true) {
            return Ok(Value::bool(true));
        }
    }
    if has_unknown {
        return unknown(Type::Bool, false);
    }
    Ok(Value::bool(false))
}

// ----- chunklist -----

fn chunklist(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list, size] = args else {
        return Err(arity());
    };
    let (list, ls) = list.clone().unmark();
    let (size, ss) = size.clone().unmark();
    let s = ls || ss;
    let list_ty = list.ty();
    if !list.is_known() || !size.is_known() {
        return unknown(Type::list(list_ty), s);
    }
    let size = go_int(&size).map_err(|e| fail(format!("invalid size: {e}")))?;
    if size < 0 {
        return Err(fail("the size argument must be positive"));
    }
    let items = seq(&list);
    if items.is_empty() {
        return Ok(Value::list(list_ty, Vec::new()).with_sensitive(s));
    }
    if size == 0 {
        return Ok(Value::list(list_ty, vec![list.clone()]).with_sensitive(s));
    }
    let ety = elem_type(&list_ty);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let chunks = items
        .chunks(size)
        .map(|c| Value::list(ety.clone(), c.to_vec()))
        .collect();
    Ok(Value::list(list_ty, chunks).with_sensitive(s))
}

// ----- coalesce, coalescelist, compact -----

fn coalesce(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let types: Vec<Type> = args.iter().map(Value::ty).collect();
    let ret = unify_unsafe(&types).ok_or_else(|| fail("all arguments must have the same type"))?;
    for a in args {
        // As in Terraform, a value that does not convert to the unified type counts as null.
        let Ok(a) = convert(a, &ret) else { continue };
        if !a.is_known() {
            return unknown(ret, false);
        }
        if a.is_null() || (ret == Type::String && a.as_str() == Some("")) {
            continue;
        }
        return Ok(a);
    }
    Err(fail("no non-null, non-empty-string arguments"))
}

fn coalescelist(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let Some(first) = args.first() else {
        return Err(fail("at least one argument is required"));
    };
    let mut ret = Some(first.ty());
    for a in args {
        if !a.is_known() {
            ret = None;
            break;
        }
        let t = a.ty();
        if !matches!(t, Type::List(_) | Type::Tuple(_)) {
            return Err(fail("coalescelist arguments must be lists or tuples"));
        }
        if ret.as_ref().is_some_and(|r| *r != t) {
            ret = None;
        }
    }
    let ret = ret.unwrap_or(Type::Dynamic);
    for a in args {
        if !a.is_known() {
            return unknown(ret, false);
        }
        if a.is_null() {
            continue;
        }
        if !seq(a).is_empty() {
            return Ok(a.clone());
        }
    }
    Err(fail("no non-null arguments"))
}

fn compact(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if !list.is_wholly_known() {
        return unknown(Type::list(Type::String), false);
    }
    let out = seq(list)
        .iter()
        .filter(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .collect();
    Ok(Value::list(Type::String, out))
}

// ----- concat -----

fn concat_type(args: &[Value]) -> Result<Type, FnError> {
    let Some(first) = args.first() else {
        return Err(fail("at least one argument is required"));
    };
    if matches!(first.ty(), Type::List(_)) {
        let tys: Vec<Type> = args.iter().map(Value::ty).collect();
        if tys.iter().all(|t| matches!(t, Type::List(_))) {
            if let Some(t) = unify_unsafe(&tys) {
                return Ok(t);
            }
        }
    }
    let mut etys = Vec::new();
    for (i, a) in args.iter().enumerate() {
        match a.ty() {
            Type::Tuple(ts) => etys.extend(ts.iter().cloned()),
            Type::List(et) => {
                if !a.is_known() {
                    return Ok(Type::Dynamic);
                }
                etys.extend(std::iter::repeat_n(*et, seq(a).len()));
            }
            other => {
                return Err(arg_fail(
                    i,
                    "seqs",
                    format!(
                        "all arguments must be lists or tuples; got {}",
                        other.friendly_name()
                    ),
                ))
            }
        }
    }
    Ok(Type::tuple(etys))
}

fn concat(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let s = args.iter().any(Value::is_sensitive);
    if args.iter().any(dynamic_unknown) {
        return dyn_unknown_result(s);
    }
    let ret = concat_type(args)?;
    if args.iter().any(|a| !a.is_known()) {
        return unknown(ret, s);
    }
    let mut vals = Vec::new();
    match &ret {
        Type::List(et) => {
            for (i, a) in args.iter().enumerate() {
                let a = convert(a, &ret).map_err(|e| arg_fail(i, "seqs", e))?;
                vals.extend(seq(&a).iter().cloned());
            }
            Ok(Value::list((**et).clone(), vals).with_sensitive(s))
        }
        _ => {
            for a in args {
                vals.extend(seq(a).iter().cloned());
            }
            Ok(Value::tuple(vals).with_sensitive(s))
        }
    }
}

// ----- contains, distinct, index -----

fn contains(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list, value] = args else {
        return Err(arity());
    };
    if dynamic_unknown(list) || dynamic_unknown(value) {
        return dyn_unknown_result(false);
    }
    if !list.is_known() || !value.is_known() {
        return unknown(Type::Bool, false);
    }
    if !is_seq_type(&list.ty()) {
        return Err(fail("argument must be list, tuple, or set"));
    }
    let mut has_unknown = false;
    for v in seq(list) {
        match equals(value, v) {
            None => has_unknown = true,
            Some(true) => return Ok(Value::bool(true)),
            Some(false) => {}
        }
    }
    if has_unknown {
        return unknown(Type::Bool, false);
    }
    Ok(Value::bool(false))
}

fn distinct(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    let ret = list.ty();
    if !list.is_wholly_known() {
        return unknown(ret, false);
    }
    let mut out: Vec<Value> = Vec::new();
    for v in seq(list) {
        if !out.iter().any(|o| equals(o, v) == Some(true)) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(elem_type(&ret), out))
}

fn index(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list, value] = args else {
        return Err(arity());
    };
    if dynamic_unknown(list) || dynamic_unknown(value) {
        return dyn_unknown_result(false);
    }
    if !list.is_known() || !value.is_known() {
        return unknown(Type::Number, false);
    }
    if !matches!(list.ty(), Type::List(_) | Type::Tuple(_)) {
        return Err(fail("argument must be a list or tuple"));
    }
    let items = seq(list);
    if items.is_empty() {
        return Err(fail("cannot search an empty list"));
    }
    for (i, v) in items.iter().enumerate() {
        match equals(v, value) {
            None => return unknown(Type::Number, false),
            Some(true) => return Ok(Value::number(Number::from(i))),
            Some(false) => {}
        }
    }
    Err(fail("item not found"))
}

// ----- element -----

fn element(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list, idx] = args else {
        return Err(arity());
    };
    if dynamic_unknown(list) {
        return dyn_unknown_result(list.is_sensitive());
    }
    let ret = match list.ty() {
        Type::List(et) => *et,
        Type::Tuple(ts) => {
            if !idx.is_known() {
                Type::Dynamic
            } else {
                let i = go_int(idx).map_err(|e| fail(format!("invalid index: {e}")))?;
                let n = i64::try_from(ts.len()).unwrap_or(i64::MAX);
                if n == 0 {
                    return Err(fail("cannot use element function with an empty list"));
                }
                // go-cty 1.16 indexes the tuple's types without wrapping a negative
                // remainder, and fails; a negative multiple of the length still works.
                let at = usize::try_from(i % n).map_err(|_| {
                    fail("cannot use element function with a negative index on a tuple")
                })?;
                ts.get(at).cloned().unwrap_or(Type::Dynamic)
            }
        }
        other => {
            return Err(fail(format!(
                "cannot read elements from {}",
                other.friendly_name()
            )))
        }
    };
    let (list, s) = list.clone().unmark();
    if !list.is_known() || !idx.is_known() {
        return unknown(ret, s);
    }
    let i = go_int(idx).map_err(|e| fail(format!("invalid index: {e}")))?;
    let items = seq(&list);
    let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if n == 0 {
        return Err(fail("cannot use element function with an empty list"));
    }
    let at = usize::try_from(i.rem_euclid(n)).unwrap_or(0);
    let v = items
        .get(at)
        .cloned()
        .ok_or_else(|| fail("cannot use element function with an empty list"))?;
    Ok(v.with_sensitive(s))
}

// ----- flatten -----

fn flatten(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if dynamic_unknown(list) {
        return dyn_unknown_result(list.is_sensitive());
    }
    let ret = if !list.is_wholly_known() {
        Type::Dynamic
    } else {
        if !is_seq_type(&list.ty()) {
            return Err(fail("can only flatten lists, sets and tuples"));
        }
        match flattener(list) {
            (out, _, true) => Type::tuple(out.iter().map(Value::ty).collect()),
            _ => Type::Dynamic,
        }
    };
    if !list.is_known() {
        return unknown(ret, list.is_sensitive());
    }
    let (unmarked, s) = list.clone().unmark();
    if unmarked.length() == Some(0) {
        return Ok(Value::empty_tuple().with_sensitive(s));
    }
    match flattener(list) {
        (out, s, true) => Ok(Value::tuple(out).with_sensitive(s)),
        (_, s, false) => unknown(ret, s),
    }
}

/// go-cty's `flattener`: the flattened elements, whether any sequence flattened was sensitive,
/// and whether the result is known (an unknown nested sequence or an element of unknown type
/// could still change its length).
fn flattener(v: &Value) -> (Vec<Value>, bool, bool) {
    let (v, mut sensitive) = v.clone().unmark();
    if known_len(&v).is_none() {
        return (Vec::new(), sensitive, false);
    }
    let mut out = Vec::new();
    let mut known = true;
    for el in children(&v) {
        let ty = el.ty();
        if !el.is_known() && ty == Type::Dynamic && !el.is_sensitive() {
            known = false;
        }
        if !el.is_null() && is_seq_type(&ty) {
            if !el.is_known() {
                known = false;
                sensitive |= el.is_sensitive();
                continue;
            }
            let (res, s, k) = flattener(&el);
            sensitive |= s;
            if k {
                out.extend(res);
            } else {
                known = false;
            }
        } else {
            out.push(el);
        }
    }
    (out, sensitive, known)
}

// ----- keys, values, length, lookup -----

fn keys(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [m] = args else { return Err(arity()) };
    if dynamic_unknown(m) {
        return dyn_unknown_result(m.is_sensitive());
    }
    let (m, s) = m.clone().unmark();
    match m.ty() {
        Type::Map(_) => {
            let Some(entries) = m.as_entries() else {
                return unknown(Type::list(Type::String), s);
            };
            let keys = entries.keys().map(|k| Value::string(k.as_str())).collect();
            Ok(Value::list(Type::String, keys).with_sensitive(s))
        }
        Type::Object(o) => {
            let keys = o.attrs.keys().map(|k| Value::string(k.as_str())).collect();
            Ok(Value::tuple(keys).with_sensitive(s))
        }
        _ => Err(arg_fail(0, "inputMap", "must have map or object type")),
    }
}

fn values(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [m] = args else { return Err(arity()) };
    if dynamic_unknown(m) {
        return dyn_unknown_result(m.is_sensitive());
    }
    let ret = match m.ty() {
        Type::Map(et) => Type::list(*et),
        Type::Object(o) => Type::tuple(o.attrs.values().cloned().collect()),
        _ => return Err(fail("values() requires a map as the first argument")),
    };
    let (m, s) = m.clone().unmark();
    if !m.is_known() {
        return unknown(ret, s);
    }
    let vals = children(&m);
    let out = match ret {
        Type::List(et) => Value::list(*et, vals),
        _ => Value::tuple(vals),
    };
    Ok(out.with_sensitive(s))
}

fn length(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [v] = args else { return Err(arity()) };
    let (v, s) = v.clone().unmark();
    let n = match v.ty() {
        Type::Dynamic => None,
        Type::Tuple(ts) => Some(ts.len()),
        Type::Object(o) => Some(o.attrs.len()),
        // Grapheme clusters, as go-cty's `strlen` counts them.
        Type::String => v.as_str().map(|t| t.graphemes(true).count()),
        Type::List(_) | Type::Set(_) | Type::Map(_) => known_len(&v),
        Type::Bool | Type::Number => {
            return Err(fail(
                "argument must be a string, a collection type, or a structural type",
            ))
        }
    };
    match n {
        Some(n) => Ok(Value::number(Number::from(n)).with_sensitive(s)),
        None => unknown(Type::Number, s),
    }
}

fn lookup(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    if args.len() > 3 {
        return Err(fail(format!(
            "lookup() takes two or three arguments, got {}",
            args.len()
        )));
    }
    let (Some(map), Some(key)) = (args.first(), args.get(1)) else {
        return Err(arity());
    };
    let default = args.get(2);
    let (mapv, ms) = map.clone().unmark();
    let (keyv, ks) = key.clone().unmark();
    let ret = if dynamic_unknown(&mapv) {
        Type::Dynamic
    } else {
        match mapv.ty() {
            Type::Object(o) => match keyv.as_str() {
                None => Type::Dynamic,
                Some(k) => match (o.attrs.get(k), default) {
                    (Some(t), _) => t.clone(),
                    (None, Some(d)) => d.ty(),
                    (None, None) => {
                        return Err(arg_fail(
                            0,
                            "inputMap",
                            format!("the given object has no attribute {}", go_quote(k)),
                        ))
                    }
                },
            },
            Type::Map(et) => {
                if let Some(d) = default {
                    if convert(d, &et).is_err() {
                        return Err(arg_fail(
                            2,
                            "default",
                            "the default value must have the same type as the map elements",
                        ));
                    }
                }
                *et
            }
            _ => {
                return Err(arg_fail(
                    0,
                    "inputMap",
                    "lookup() requires a map as the first argument",
                ))
            }
        }
    };
    let s = ms || ks;
    if !mapv.is_known() || !keyv.is_known() {
        return unknown(ret, s);
    }
    let k = keyv.as_str().unwrap_or_default();
    if let Some(v) = mapv.get_attr(k) {
        return Ok(v.clone().with_sensitive(s));
    }
    if let Some(d) = default {
        let d = convert(d, &ret).map_err(fail)?;
        return Ok(d.with_sensitive(s));
    }
    let shown = if ks {
        "(sensitive value)".to_string()
    } else {
        go_quote(k)
    };
    Err(fail(format!("lookup failed to find key {shown}")))
}

// ----- matchkeys -----

fn matchkeys(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [vals, keys, search] = args else {
        return Err(arity());
    };
    let kty = unify_unsafe(&[keys.ty(), search.ty()])
        .ok_or_else(|| fail("keys and searchset must be of the same type"))?;
    let ret = vals.ty();
    let empty = || Ok(Value::list(elem_type(&ret), Vec::new()));
    if !vals.is_known() || !keys.is_known() || !search.is_known() {
        return unknown(ret, false);
    }
    if seq(vals).len() != seq(keys).len() {
        return Err(fail("length of keys and values should be equal"));
    }
    let keys = convert(keys, &kty).map_err(fail)?;
    let search = convert(search, &kty).map_err(fail)?;
    if seq(&search).is_empty() {
        return empty();
    }
    if !vals.is_wholly_known() || !keys.is_wholly_known() {
        return unknown(ret, false);
    }
    let mut out = Vec::new();
    for (v, k) in seq(vals).iter().zip(seq(&keys)) {
        for s in seq(&search) {
            match equals(k, s) {
                // Terraform gives up with an empty list when a comparison is unknown.
                None => return empty(),
                Some(true) => {
                    out.push(v.clone());
                    break;
                }
                Some(false) => {}
            }
        }
    }
    Ok(Value::list(elem_type(&ret), out))
}

// ----- merge -----

fn merge_type(args: &[Value]) -> Result<Type, FnError> {
    let Some(first) = args.first() else {
        return Ok(Type::empty_object());
    };
    let first = first.ty();
    let mut attrs: BTreeMap<String, Type> = BTreeMap::new();
    let mut matching = true;
    let mut attrs_known = true;
    for a in args {
        let ty = a.ty();
        match &ty {
            Type::Dynamic => return Ok(Type::Dynamic),
            Type::Object(o) => {
                if !a.is_null() {
                    attrs.extend(o.attrs.iter().map(|(k, t)| (k.clone(), t.clone())));
                }
            }
            Type::Map(et) => {
                if let Some(entries) = a.as_entries() {
                    for k in entries.keys() {
                        attrs.insert(k.clone(), (**et).clone());
                    }
                } else if !a.is_known() {
                    attrs_known = false;
                }
            }
            other => return Err(merge_arg_error(other)),
        }
        if ty != first {
            matching = false;
        }
    }
    if matching {
        return Ok(first);
    }
    if !attrs_known {
        return Ok(Type::Dynamic);
    }
    Ok(Type::object(attrs))
}

fn merge_arg_error(t: &Type) -> FnError {
    fail(format!(
        "arguments must be maps or objects, got {}",
        go_quote(&t.friendly_name())
    ))
}

fn merge(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ret = merge_type(args)?;
    if args.iter().any(|a| !a.is_known()) {
        return unknown(ret, args.iter().any(Value::is_sensitive));
    }
    let mut out = BTreeMap::new();
    let mut s = false;
    for a in args {
        if a.is_null() {
            continue;
        }
        let (a, m) = a.clone().unmark();
        s |= m;
        let Some(entries) = a.as_entries() else {
            return Err(merge_arg_error(&a.ty()));
        };
        out.extend(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let v = match ret {
        Type::Map(et) => Value::map(*et, out),
        _ => Value::object(out),
    };
    Ok(v.with_sensitive(s))
}

// ----- one -----

fn one(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if dynamic_unknown(list) {
        return dyn_unknown_result(false);
    }
    let bad = || {
        arg_fail(
            0,
            "list",
            "must be a list, set, or tuple value with either zero or one elements",
        )
    };
    let ret = match list.ty() {
        Type::List(et) | Type::Set(et) => *et,
        Type::Tuple(ts) => match ts.as_slice() {
            [] => Type::Dynamic,
            [t] => t.clone(),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    if !list.is_known() {
        return unknown(ret, false);
    }
    match known_len(list) {
        None => unknown(ret, false),
        Some(0) => Ok(Value::null(ret)),
        Some(1) => Ok(seq(list)
            .first()
            .cloned()
            .unwrap_or_else(|| Value::null(ret))),
        Some(_) => Err(bad()),
    }
}

// ----- range -----

fn range(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let nums: Vec<&Number> = args.iter().filter_map(Value::as_number).collect();
    if nums.len() != args.len() {
        return unknown(Type::list(Type::Number), false);
    }
    let zero = Number::zero();
    let up = Number::from_i64(1);
    let down = Number::from_i64(-1);
    let (start, end, step) = match nums.as_slice() {
        [e] if **e < zero => (zero.clone(), (*e).clone(), down),
        [e] => (zero.clone(), (*e).clone(), up),
        [s, e] if *e < *s => ((*s).clone(), (*e).clone(), down),
        [s, e] => ((*s).clone(), (*e).clone(), up),
        [s, e, st] => ((*s).clone(), (*e).clone(), (*st).clone()),
        _ => return Err(fail("must have one, two, or three arguments")),
    };
    // go-cty's "step must not be zero" check compares value identity and never fires for a
    // number from the configuration: a zero step runs into the element limit instead.
    let descending = step < zero;
    if descending && end > start {
        return Err(arg_fail(
            1,
            "params",
            "end must be less than start when step is negative",
        ));
    }
    if !descending && end < start {
        return Err(arg_fail(
            1,
            "params",
            "end must be greater than start when step is positive",
        ));
    }
    let mut vals = Vec::new();
    let mut num = start;
    loop {
        let done = if descending { num <= end } else { num >= end };
        if done {
            break;
        }
        if vals.len() >= 1024 {
            return Err(fail("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step"));
        }
        let next = num.checked_add(&step).map_err(|_| {
            fail("panic in function implementation: addition of infinities with opposite signs")
        })?;
        vals.push(Value::number(num));
        num = next;
    }
    Ok(Value::list(Type::Number, vals))
}

// ----- reverse, slice -----

fn reverse(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if dynamic_unknown(list) {
        return dyn_unknown_result(list.is_sensitive());
    }
    let ret = match list.ty() {
        Type::Tuple(ts) => Type::tuple(ts.iter().rev().cloned().collect()),
        Type::List(et) | Type::Set(et) => Type::list(*et),
        other => {
            return Err(arg_fail(
                0,
                "list",
                format!(
                    "can only reverse list or tuple values, not {}",
                    other.friendly_name()
                ),
            ))
        }
    };
    let (list, s) = list.clone().unmark();
    if !list.is_known() {
        return unknown(ret, s);
    }
    let items: Vec<Value> = seq(&list).iter().rev().cloned().collect();
    let out = match ret {
        Type::List(et) => Value::list(*et, items),
        _ => Value::tuple(items),
    };
    Ok(out.with_sensitive(s))
}

fn slice(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list, start, end] = args else {
        return Err(arity());
    };
    if dynamic_unknown(list) {
        return dyn_unknown_result(list.is_sensitive());
    }
    let ty = list.ty();
    match ty {
        Type::Set(_) => return Err(arg_fail(0, "list", "cannot slice a set, because its elements do not have indices; explicitly convert to a list if the ordering of the result is not important")),
        Type::List(_) | Type::Tuple(_) => {}
        _ => return Err(arg_fail(0, "list", "must be a list or tuple value")),
    }
    let (list, s) = list.clone().unmark();
    let len = known_len(&list);
    let index = |v: &Value, i: usize, param: &str, what: &str| -> Result<Option<usize>, FnError> {
        if !v.is_known() {
            return Ok(None);
        }
        let n = go_int(v).map_err(|e| arg_fail(i, param, format!("invalid {what} index: {e}")))?;
        let n = usize::try_from(n)
            .map_err(|_| arg_fail(i, param, format!("{what} index must not be less than zero")))?;
        if len.is_some_and(|l| n > l) {
            return Err(arg_fail(
                i,
                param,
                format!("{what} index must not be greater than the length of the list"),
            ));
        }
        Ok(Some(n))
    };
    let from = index(start, 1, "start_index", "start")?;
    let to = index(end, 2, "end_index", "end")?;
    let bounds = match (from, to) {
        (Some(f), Some(t)) if f > t => {
            return Err(arg_fail(
                1,
                "start_index",
                "start index must not be greater than end index",
            ))
        }
        (Some(f), Some(t)) => Some((f, t)),
        _ => None,
    };
    let ret = match (&ty, bounds) {
        (Type::Tuple(ts), Some((f, t))) => Type::tuple(ts.get(f..t).unwrap_or_default().to_vec()),
        (Type::Tuple(_), None) => Type::Dynamic,
        _ => ty.clone(),
    };
    let (Some((f, t)), true) = (bounds, list.is_known()) else {
        return unknown(ret, s);
    };
    let items = seq(&list).get(f..t).unwrap_or_default().to_vec();
    let out = match ret {
        Type::List(et) => Value::list(*et, items),
        _ => Value::tuple(items),
    };
    Ok(out.with_sensitive(s))
}

// ----- set functions -----

fn set_op_type(args: &[Value]) -> Result<Type, FnError> {
    let mut etys = Vec::new();
    for a in args {
        let ety = elem_type(&a.ty());
        if a.is_known() && a.length() == Some(0) && ety == Type::Dynamic {
            continue;
        }
        etys.push(ety);
    }
    if etys.is_empty() {
        return Ok(Type::set(Type::Dynamic));
    }
    unify_unsafe(&etys)
        .map(Type::set)
        .ok_or_else(|| fail("given sets must all have compatible element types"))
}

/// The parameter names of a set function: the first argument's, then the others'.
type SetParams = (&'static str, &'static str);

fn set_op(
    args: &[Value],
    names: SetParams,
    allow_unknowns: bool,
    op: fn(Vec<Value>, &[Value]) -> Vec<Value>,
) -> FnResult {
    let ret = set_op_type(args)?;
    if args.iter().any(|a| !a.is_known()) {
        return unknown(ret, false);
    }
    let mut acc: Vec<Value> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let name = if i == 0 { names.0 } else { names.1 };
        let a = convert(a, &ret).map_err(|e| arg_fail(i, name, e))?;
        if !allow_unknowns && !a.is_wholly_known() {
            return unknown(ret, false);
        }
        acc = if i == 0 {
            seq(&a).to_vec()
        } else {
            op(acc, seq(&a))
        };
    }
    Ok(Value::set(elem_type(&ret), acc))
}

fn contains_raw(set: &[Value], v: &Value) -> bool {
    set.iter().any(|x| x.raw_equal(v))
}

fn setunion(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    set_op(args, ("first_set", "other_sets"), true, |mut acc, other| {
        acc.extend(other.iter().cloned());
        acc
    })
}

fn setintersection(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    set_op(args, ("first_set", "other_sets"), false, |acc, other| {
        acc.into_iter().filter(|v| contains_raw(other, v)).collect()
    })
}

fn setsubtract(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    set_op(args, ("a", "b"), false, |acc, other| {
        acc.into_iter()
            .filter(|v| !contains_raw(other, v))
            .collect()
    })
}

/// The most elements `setproduct` builds (in all its tuples together); Terraform has no limit
/// and would exhaust memory instead.
const MAX_PRODUCT_VALUES: usize = 1 << 20;

fn setproduct(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    if args.len() < 2 {
        return Err(fail("at least two arguments are required"));
    }
    if args.iter().any(dynamic_unknown) {
        return dyn_unknown_result(args.iter().any(Value::is_sensitive));
    }
    let mut lists = 0;
    let mut etys = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        match a.ty() {
            Type::Set(et) => etys.push(*et),
            Type::List(et) => {
                etys.push(*et);
                lists += 1;
            }
            Type::Tuple(ts) => {
                let ety = if ts.is_empty() {
                    Type::Dynamic
                } else {
                    unify_unsafe(&ts).ok_or_else(|| {
                        arg_fail(i, "sets", "all elements must be of the same type")
                    })?
                };
                etys.push(ety);
                lists += 1;
            }
            _ => return Err(arg_fail(i, "sets", "a set or a list is required")),
        }
    }
    let ety = Type::tuple(etys.clone());
    let all_lists = lists == args.len();
    let make = |items: Vec<Value>| {
        if all_lists {
            Value::list(ety.clone(), items)
        } else {
            Value::set(ety.clone(), items)
        }
    };
    let mut s = false;
    let mut seqs = Vec::with_capacity(args.len());
    let mut total: usize = 1;
    let mut unknown_len = false;
    for a in args {
        let (a, m) = a.clone().unmark();
        s |= m;
        match (a.is_known(), known_len(&a)) {
            (true, Some(n)) => {
                total = total.saturating_mul(n);
                seqs.push(seq(&a).to_vec());
            }
            _ => unknown_len = true,
        }
    }
    if unknown_len {
        let t = if all_lists {
            Type::list(ety)
        } else {
            Type::set(ety)
        };
        return unknown(t, s);
    }
    if total == 0 {
        return Ok(make(Vec::new()).with_sensitive(s));
    }
    if total.saturating_mul(args.len()) > MAX_PRODUCT_VALUES {
        return Err(fail(format!(
            "the cartesian product would have {total} elements, more than Baton builds"
        )));
    }
    let mut product = Vec::with_capacity(total);
    let mut pos = vec![0usize; seqs.len()];
    for _ in 0..total {
        let mut tuple = Vec::with_capacity(seqs.len());
        for ((items, &p), t) in seqs.iter().zip(&pos).zip(&etys) {
            let v = items
                .get(p)
                .cloned()
                .unwrap_or_else(|| Value::null(t.clone()));
            let v = if v.ty() == *t {
                v
            } else {
                convert(&v, t).map_err(fail)?
            };
            tuple.push(v);
        }
        product.push(Value::tuple(tuple));
        for j in (0..pos.len()).rev() {
            if let (Some(p), Some(items)) = (pos.get_mut(j), seqs.get(j)) {
                *p += 1;
                if *p < items.len() {
                    break;
                }
                *p = 0;
            }
        }
    }
    Ok(make(product).with_sensitive(s))
}

// ----- sort, sum, transpose -----

fn sort(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if !list.is_known() {
        return unknown(Type::list(Type::String), false);
    }
    if !list.is_wholly_known() {
        // The order is not known yet, but the length is (cty refines the unknown result
        // with it, and Terraform's plan shows a list of that many unknown strings).
        let n = seq(list).len();
        return Ok(Value::list(
            Type::String,
            vec![Value::unknown(Type::String); n],
        ));
    }
    let mut strs = Vec::with_capacity(seq(list).len());
    for (i, v) in seq(list).iter().enumerate() {
        match v.as_str() {
            Some(s) => strs.push(s),
            None => {
                return Err(fail(format!(
                    "given list element {i} is null; a null string cannot be sorted"
                )))
            }
        }
    }
    strs.sort_unstable();
    Ok(Value::list(
        Type::String,
        strs.into_iter().map(Value::string).collect(),
    ))
}

fn sum(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [list] = args else { return Err(arity()) };
    if dynamic_unknown(list) {
        return dyn_unknown_result(false);
    }
    if !list.is_known() {
        return unknown(Type::Number, false);
    }
    let ty = list.ty();
    let Some(n) = list.length() else {
        return Err(arg_fail(0, "list", "cannot sum noniterable"));
    };
    if n == 0 {
        return Err(arg_fail(0, "list", "cannot sum an empty list"));
    }
    if !is_seq_type(&ty) {
        return Err(arg_fail(
            0,
            "list",
            format!(
                "argument must be list, set, or tuple. Received {}",
                ty.friendly_name()
            ),
        ));
    }
    if !list.is_wholly_known() {
        return unknown(Type::Number, false);
    }
    let not_numbers = || {
        arg_fail(
            0,
            "list",
            "argument must be list, set, or tuple of number values",
        )
    };
    let mut total: Option<Number> = None;
    for v in seq(list) {
        if v.is_null() {
            return Err(not_numbers());
        }
        let v = convert(v, &Type::Number).map_err(|_| not_numbers())?;
        let Some(x) = v.as_number() else {
            return Err(not_numbers());
        };
        total = Some(match total {
            None => x.clone(),
            Some(t) => t
                .checked_add(x)
                .map_err(|_| fail("can't compute sum of opposing infinities"))?,
        });
    }
    total.map(Value::number).ok_or_else(not_numbers)
}

fn transpose(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [m] = args else { return Err(arity()) };
    let ret = Type::map(Type::list(Type::String));
    if !m.is_wholly_known() {
        return unknown(ret, false);
    }
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, list) in m.as_entries().into_iter().flatten() {
        if list.is_null() {
            return Err(fail("input must not contain null list"));
        }
        for v in seq(list) {
            let Some(s) = v.as_str() else {
                return Err(fail("input list must not contain null string"));
            };
            out.entry(s.to_string()).or_default().push(k.clone());
        }
    }
    let out = out
        .into_iter()
        .map(|(k, mut ks)| {
            ks.sort();
            let ks = ks.into_iter().map(Value::string).collect();
            (k, Value::list(Type::String, ks))
        })
        .collect();
    Ok(Value::map(Type::list(Type::String), out))
}

// ----- zipmap -----

fn zipmap(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [keys, vals] = args else {
        return Err(arity());
    };
    if dynamic_unknown(vals) {
        return dyn_unknown_result(keys.is_sensitive() || vals.is_sensitive());
    }
    let (keys, ks) = keys.clone().unmark();
    let (vals, vs) = vals.clone().unmark();
    let mismatch = |k: usize, v: usize| {
        fail(format!(
            "number of keys ({k}) does not match number of values ({v})"
        ))
    };
    let null_key = |i: usize| fail(format!("keys list has null value at index {i}"));
    let ret = match vals.ty() {
        Type::List(et) => Type::map(*et),
        Type::Tuple(ts) => {
            if !keys.is_wholly_known() {
                Type::Dynamic
            } else {
                let ks = seq(&keys);
                if ks.len() != ts.len() {
                    return Err(mismatch(ks.len(), ts.len()));
                }
                let mut attrs = BTreeMap::new();
                for (i, (k, t)) in ks.iter().zip(ts.iter()).enumerate() {
                    let k = k.as_str().ok_or_else(|| null_key(i))?;
                    attrs.insert(k.to_string(), t.clone());
                }
                Type::object(attrs)
            }
        }
        _ => return Err(fail("values argument must be a list or tuple value")),
    };
    let mut s = ks || vs;
    if !keys.is_wholly_known() || !vals.is_known() {
        return unknown(ret, s);
    }
    let (kl, vl) = (seq(&keys), seq(&vals));
    if kl.len() != vl.len() {
        return Err(mismatch(kl.len(), vl.len()));
    }
    let mut out = BTreeMap::new();
    for (i, (k, v)) in kl.iter().zip(vl).enumerate() {
        let (k, m) = k.clone().unmark();
        s |= m;
        let k = k.as_str().ok_or_else(|| null_key(i))?;
        out.insert(k.to_string(), v.clone());
    }
    let out = match ret {
        Type::Map(et) => Value::map(*et, out),
        _ => Value::object(out),
    };
    Ok(out.with_sensitive(s))
}

// ----- removed functions -----

fn list_removed(_: &FnCtx<'_>, _: &[Value]) -> FnResult {
    Err(fail("the \"list\" function was deprecated in Terraform v0.12 and is no longer available; use tolist([ ... ]) syntax to write a literal list"))
}

fn map_removed(_: &FnCtx<'_>, _: &[Value]) -> FnResult {
    Err(fail("the \"map\" function was deprecated in Terraform v0.12 and is no longer available; use tomap({ ... }) syntax to write a literal map"))
}

#[cfg(test)]
mod tests {
    //! Expected results are those of Terraform 1.11 (`terraform output -json` for known
    //! values, `terraform console` for unknown and sensitive ones).

    use crate::convert::convert;
    use crate::eval::{EmptyScope, Evaluator};
    use crate::types::Type;
    use crate::value::Value;
    use crate::FnCtx;
    use baton_core::{FileId, Sources};

    fn eval_in(src: &str, symbols: Vec<(&str, Value)>) -> Result<Value, String> {
        let sources = Sources::new();
        let dir = std::env::temp_dir();
        let expr = baton_config::syntax::parse_expr(FileId(0), src).map_err(|d| d.detail)?;
        let ctx = FnCtx {
            base_dir: &dir,
            sources: &sources,
            planning: false,
            plan_timestamp: None,
        };
        let symbols = symbols
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        Evaluator::new(&EmptyScope, ctx)
            .with_symbols(symbols)
            .eval(&expr)
            .map_err(|d| d.detail)
    }

    fn lit(src: &str) -> Value {
        eval_in(src, Vec::new()).expect("literal evaluates")
    }

    /// `tolist`, `tomap` and `toset` of a literal, without depending on those functions.
    fn to(t: Type, src: &str) -> Value {
        convert(&lit(src), &t).expect("literal converts")
    }
    fn list(src: &str) -> Value {
        to(Type::list(Type::Dynamic), src)
    }
    fn map(src: &str) -> Value {
        to(Type::map(Type::Dynamic), src)
    }
    fn set(src: &str) -> Value {
        to(Type::set(Type::Dynamic), src)
    }

    /// Names every test may use: `u` an unknown string, `d` an unknown value of unknown type,
    /// `ul` an unknown list of strings, `s` a sensitive string.
    fn env() -> Vec<(&'static str, Value)> {
        vec![
            ("u", Value::unknown(Type::String)),
            ("d", Value::dynamic_unknown()),
            ("ul", Value::unknown(Type::list(Type::String))),
            ("s", Value::string("sec").mark_sensitive()),
        ]
    }

    fn show(v: &Value) -> String {
        let mut out = format!("{} {}", v.ty().to_json(), v.to_json());
        if !v.is_known() {
            out.push_str(" (unknown)");
        } else if !v.is_wholly_known() {
            out.push_str(" (partly unknown)");
        }
        if v.is_sensitive() {
            out.push_str(" (sensitive)");
        } else if v.contains_sensitive() {
            out.push_str(" (sensitive inside)");
        }
        out
    }

    fn run(src: &str, symbols: Vec<(&'static str, Value)>) -> Result<Value, String> {
        let mut all = env();
        all.extend(symbols);
        eval_in(src, all)
    }

    #[track_caller]
    fn check_with(src: &str, symbols: Vec<(&'static str, Value)>, want: &str) {
        let got = match run(src, symbols) {
            Ok(v) => show(&v),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, want, "{src}");
    }

    #[track_caller]
    fn check(src: &str, want: &str) {
        check_with(src, Vec::new(), want);
    }

    /// The call fails with Terraform's message `want` (Baton may prefix it).
    #[track_caller]
    fn check_err_with(src: &str, symbols: Vec<(&'static str, Value)>, want: &str) {
        match run(src, symbols) {
            Ok(v) => panic!("{src}: expected an error, got {}", show(&v)),
            Err(e) => assert!(e.ends_with(want), "{src}: {e:?} does not end with {want:?}"),
        }
    }

    #[track_caller]
    fn check_err(src: &str, want: &str) {
        check_err_with(src, Vec::new(), want);
    }

    #[test]
    fn alltrue_anytrue() {
        check("alltrue([])", r#""bool" true"#);
        check(r#"alltrue([true, "true"])"#, r#""bool" true"#);
        check("alltrue([true, null])", r#""bool" false"#);
        check(r#"alltrue([false, u == ""])"#, r#""bool" false"#);
        check(r#"alltrue([true, u == ""])"#, r#""bool" null (unknown)"#);
        check_err(r#"alltrue(["x"])"#, "a bool is required.");
        check("anytrue([])", r#""bool" false"#);
        check("anytrue([false, null, true])", r#""bool" true"#);
        check(r#"anytrue([true, u == ""])"#, r#""bool" true"#);
        check(r#"anytrue([false, u == ""])"#, r#""bool" null (unknown)"#);
        check_err(
            "anytrue(null)",
            r#"Invalid value for "list" parameter: argument must not be null."#,
        );
    }

    #[test]
    fn chunklist() {
        check(
            "chunklist([1,2,3,4,5],2)",
            r#"["list",["list","number"]] [[1,2],[3,4],[5]]"#,
        );
        check("chunklist([],2)", r#"["list",["list","dynamic"]] []"#);
        check(
            "chunklist([1,2],0)",
            r#"["list",["list","number"]] [[1,2]]"#,
        );
        check(
            r#"chunklist([1,"a"],1)"#,
            r#"["list",["list","string"]] [["1"],["a"]]"#,
        );
        check(
            r#"chunklist(["a", u], 1)"#,
            r#"["list",["list","string"]] [["a"],[null]] (partly unknown)"#,
        );
        check(r#"chunklist([s, "b"], 1)[1]"#, r#"["list","string"] ["b"]"#);
        check("length(chunklist(ul, 1))", r#""number" null (unknown)"#);
        check_err(
            "chunklist([1,2],-1)",
            "failed: the size argument must be positive.",
        );
        check_err(
            "chunklist([1,2],1.5)",
            "invalid size: value must be a whole number, between -9223372036854775808 and 9223372036854775807.",
        );
        check_err(
            "chunklist([1,true],1)",
            "all list elements must have the same type.",
        );
    }

    #[test]
    fn coalesce() {
        check(r#"coalesce("", "a")"#, r#""string" "a""#);
        check(r#"coalesce(null, 1, "x")"#, r#""string" "1""#);
        check("coalesce(null, null, 0)", r#""number" 0"#);
        check("coalesce([], [1])", r#"["list","number"] []"#);
        check("coalesce({}, {a=1})", r#"["map","number"] {}"#);
        check("coalesce(null, [1], [1,2])", r#"["tuple",["number"]] [1]"#);
        check(
            "coalesce(null, {a=1}, {b=2})",
            r#"["object",{"a":"number"}] {"a":1}"#,
        );
        check("coalesce(null, 1, true)", r#""number" 1"#);
        let maps = || vec![("n", map("{a=1}")), ("t", map(r#"{b="x"}"#))];
        check_with(
            r#"coalesce(null, {b="x"}, n)"#,
            maps(),
            r#"["map","number"] {"a":1}"#,
        );
        check_with(
            "coalesce(null, {c=2}, n, t)",
            maps(),
            r#"["map","string"] {"c":"2"}"#,
        );
        check_with(
            "coalesce(null, {b=true}, n)",
            maps(),
            r#"["object",{"b":"bool"}] {"b":true}"#,
        );
        check_with(
            r#"coalesce(n, {b="x"})"#,
            maps(),
            r#"["map","string"] {"a":"1"}"#,
        );
        check(r#"coalesce("a", u)"#, r#""string" "a""#);
        check(r#"coalesce(u, "a")"#, r#""string" null (unknown)"#);
        check(r#"coalesce("a", s)"#, r#""string" "a" (sensitive)"#);
        check_with(
            "coalesce(null, a, b)",
            vec![("a", list("[1]")), ("b", list(r#"["a"]"#))],
            r#"["list","number"] [1]"#,
        );
        check_err(
            r#"coalesce("", null)"#,
            "failed: no non-null, non-empty-string arguments.",
        );
        check_err(
            "coalesce()",
            "failed: all arguments must have the same type.",
        );
        check_err(
            "coalesce(true, 1)",
            "failed: all arguments must have the same type.",
        );
    }

    #[test]
    fn coalescelist() {
        check("coalescelist([], [1])", r#"["tuple",["number"]] [1]"#);
        check(
            r#"coalescelist(["a"], [1])"#,
            r#"["tuple",["string"]] ["a"]"#,
        );
        check(
            r#"coalescelist(["a"], [u])"#,
            r#"["tuple",["string"]] ["a"]"#,
        );
        check(r#"coalescelist(ul, ["a"])"#, r#""dynamic" null (unknown)"#);
        check_with(
            r#"coalescelist(a, ["x", 1])"#,
            vec![("a", list("[]"))],
            r#"["tuple",["string","number"]] ["x",1]"#,
        );
        check_err("coalescelist([], [])", "failed: no non-null arguments.");
        check_err(
            "coalescelist()",
            "failed: at least one argument is required.",
        );
        check_err(
            r#"coalescelist(null, ["a"])"#,
            "failed: coalescelist arguments must be lists or tuples.",
        );
        check_with(
            "coalescelist(n, [1])",
            vec![("n", Value::null(Type::list(Type::String)))],
            r#"["tuple",["number"]] [1]"#,
        );
    }

    #[test]
    fn compact() {
        check(
            r#"compact(["a","",null,"b"])"#,
            r#"["list","string"] ["a","b"]"#,
        );
        check("compact([])", r#"["list","string"] []"#);
        check(r#"compact([1,"",2])"#, r#"["list","string"] ["1","2"]"#);
        check(
            r#"compact(["a", u])"#,
            r#"["list","string"] null (unknown)"#,
        );
        check_err(
            "compact(null)",
            r#"Invalid value for "list" parameter: argument must not be null."#,
        );
    }

    #[test]
    fn concat() {
        check(
            r#"concat([1],["a"])"#,
            r#"["tuple",["number","string"]] [1,"a"]"#,
        );
        check("concat([], [])", r#"["tuple",[]] []"#);
        check(
            r#"concat(["a"], [u])"#,
            r#"["tuple",["string","string"]] ["a",null] (partly unknown)"#,
        );
        check(
            r#"concat([s], ["b"])"#,
            r#"["tuple",["string","string"]] ["sec","b"] (sensitive inside)"#,
        );
        let lists = || {
            vec![
                ("n", list("[1]")),
                ("t", list(r#"["a"]"#)),
                ("b", list("[true]")),
                ("e", list("[]")),
            ]
        };
        check_with("concat(n, t)", lists(), r#"["list","string"] ["1","a"]"#);
        check_with(
            "concat(n, b)",
            lists(),
            r#"["tuple",["number","bool"]] [1,true]"#,
        );
        check_with(
            "concat(n, [true])",
            lists(),
            r#"["tuple",["number","bool"]] [1,true]"#,
        );
        check_with("concat(e, e)", lists(), r#"["list","dynamic"] []"#);
        check(r#"concat(ul, ["a"])"#, r#""dynamic" null (unknown)"#);
        check_err("concat()", "failed: at least one argument is required.");
        check_err(
            r#"concat("a")"#,
            r#"Invalid value for "seqs" parameter: all arguments must be lists or tuples; got string."#,
        );
        check_err_with(
            "concat([1], x)",
            vec![("x", set("[2]"))],
            r#"Invalid value for "seqs" parameter: all arguments must be lists or tuples; got set of number."#,
        );
    }

    #[test]
    fn contains_and_index() {
        check("contains([1,2],1)", r#""bool" true"#);
        check(r#"contains([1,2],"1")"#, r#""bool" false"#);
        check("contains([[1]], [1])", r#""bool" true"#);
        check_with("contains(x, 1)", vec![("x", set("[1]"))], r#""bool" true"#);
        check(r#"contains(["a", u], "a")"#, r#""bool" true"#);
        check(r#"contains(["a", u], "b")"#, r#""bool" null (unknown)"#);
        check("contains([], u)", r#""bool" null (unknown)"#);
        check_err(
            r#"contains("a","a")"#,
            "failed: argument must be list, tuple, or set.",
        );
        check_err(
            "contains([null], null)",
            r#"Invalid value for "value" parameter: argument must not be null."#,
        );

        check(r#"index(["a","b"],"b")"#, r#""number" 1"#);
        check("index([[1]],[1])", r#""number" 0"#);
        check(r#"index(["a", u, "b"], "a")"#, r#""number" 0"#);
        check(r#"index([u, "a"], "a")"#, r#""number" null (unknown)"#);
        check_err("index([],1)", "failed: cannot search an empty list.");
        check_err(r#"index([1,2],"2")"#, "failed: item not found.");
        check_err_with(
            r#"index(x, "a")"#,
            vec![("x", set(r#"["a"]"#))],
            "failed: argument must be a list or tuple.",
        );
    }

    #[test]
    fn distinct() {
        check(r#"distinct([1,2,1,"1"])"#, r#"["list","string"] ["1","2"]"#);
        check("distinct([])", r#"["list","dynamic"] []"#);
        check(
            r#"distinct(["b","a","b"])"#,
            r#"["list","string"] ["b","a"]"#,
        );
        check(
            "distinct([[1],[1]])",
            r#"["list",["tuple",["number"]]] [[1]]"#,
        );
        check("distinct([null, null])", r#"["list","dynamic"] [null]"#);
        check(
            r#"distinct(["a", u])"#,
            r#"["list","string"] null (unknown)"#,
        );
        check(
            r#"distinct([s, "b"])"#,
            r#"["list","string"] ["sec","b"] (sensitive)"#,
        );
        check_err(
            "distinct([1,true])",
            "all list elements must have the same type.",
        );
    }

    #[test]
    fn element() {
        check("element([1,2],3)", r#""number" 2"#);
        check(r#"element([1,"b"], 3)"#, r#""string" "b""#);
        check("element([1,2,3],-3)", r#""number" 1"#);
        let l = || vec![("l", list("[1,2,3]"))];
        check_with("element(l, -1)", l(), r#""number" 3"#);
        check_with("element(l, -4)", l(), r#""number" 3"#);
        check_with("element(l, -7)", l(), r#""number" 3"#);
        check(r#"element(["a", u], 0)"#, r#""string" "a""#);
        check("element([s, 2], 1)", r#""number" 2"#);
        check("element(ul, 0)", r#""string" null (unknown)"#);
        check("element(d, 0)", r#""dynamic" null (unknown)"#);
        check_err(
            "element([],0)",
            "failed: cannot use element function with an empty list.",
        );
        check_err(
            r#"element([1,"a"],1.5)"#,
            "failed: invalid index: value must be a whole number, between -9223372036854775808 and 9223372036854775807.",
        );
        check_err(
            r#"element("abc",1)"#,
            "failed: cannot read elements from string.",
        );
        check_err_with(
            "element(x, 0)",
            vec![("x", set("[1]"))],
            "failed: cannot read elements from set of number.",
        );
        check_err(
            "element([1,2,3],-1)",
            "failed: cannot use element function with a negative index on a tuple.",
        );
    }

    #[test]
    fn flatten() {
        check(
            r#"flatten([[1,2],[3,[4,["a"]]]])"#,
            r#"["tuple",["number","number","number","number","string"]] [1,2,3,4,"a"]"#,
        );
        check("flatten([])", r#"["tuple",[]] []"#);
        check(
            "flatten([null, [1]])",
            r#"["tuple",["dynamic","number"]] [null,1]"#,
        );
        check("flatten([[], [[]]])", r#"["tuple",[]] []"#);
        check(
            r#"flatten([{a=[1]}])"#,
            r#"["tuple",[["object",{"a":["tuple",["number"]]}]]] [{"a":[1]}]"#,
        );
        check_with(
            "flatten([x, [3]])",
            vec![("x", set("[2,1]"))],
            r#"["tuple",["number","number","number"]] [1,2,3]"#,
        );
        check(
            r#"flatten([["a"], [u]])"#,
            r#"["tuple",["string","string"]] ["a",null] (partly unknown)"#,
        );
        check(r#"flatten([["a"], ul])"#, r#""dynamic" null (unknown)"#);
        check(r#"flatten(["a", d])"#, r#""dynamic" null (unknown)"#);
        check(
            "flatten([[s], [2]])",
            r#"["tuple",["string","number"]] ["sec",2] (sensitive inside)"#,
        );
        check_with(
            "flatten([x, [2]])",
            vec![("x", Value::tuple(vec![Value::int(1)]).mark_sensitive())],
            r#"["tuple",["number","number"]] [1,2] (sensitive)"#,
        );
        check_err(
            r#"flatten("a")"#,
            "failed: can only flatten lists, sets and tuples.",
        );
        check_err(
            "flatten({a=1})",
            "failed: can only flatten lists, sets and tuples.",
        );
    }

    #[test]
    fn keys_and_values() {
        check(
            r#"keys({b=1,a="x"})"#,
            r#"["tuple",["string","string"]] ["a","b"]"#,
        );
        check("keys({})", r#"["tuple",[]] []"#);
        check_with(
            "keys(m)",
            vec![("m", map("{b=1,a=2}"))],
            r#"["list","string"] ["a","b"]"#,
        );
        check_with("keys(m)", vec![("m", map("{}"))], r#"["list","string"] []"#);
        check("keys({a = u})", r#"["tuple",["string"]] ["a"]"#);
        check("keys({a = s})", r#"["tuple",["string"]] ["a"]"#);
        check_with(
            "keys(m)",
            vec![("m", map("{a=1}").mark_sensitive())],
            r#"["list","string"] ["a"] (sensitive)"#,
        );
        check_with(
            "keys(m)",
            vec![("m", Value::unknown(Type::map(Type::Number)))],
            r#"["list","string"] null (unknown)"#,
        );
        check_err(
            "keys([1])",
            r#"Invalid value for "inputMap" parameter: must have map or object type."#,
        );

        check(
            r#"values({b=1,a="x"})"#,
            r#"["tuple",["string","number"]] ["x",1]"#,
        );
        check("values({})", r#"["tuple",[]] []"#);
        check_with(
            "values(m)",
            vec![("m", map("{b=1,a=2}"))],
            r#"["list","number"] [2,1]"#,
        );
        check_with(
            "values(m)",
            vec![("m", map("{}"))],
            r#"["list","dynamic"] []"#,
        );
        check(
            "values({a = u})",
            r#"["tuple",["string"]] [null] (partly unknown)"#,
        );
        check(r#"values({a = s, b = 2})[1]"#, r#""number" 2"#);
        check_err(
            "values([1])",
            "failed: values() requires a map as the first argument.",
        );
        check_err(
            "values(null)",
            r#"Invalid value for "mapping" parameter: argument must not be null."#,
        );
    }

    #[test]
    fn length() {
        check(r#"length("héllo👍🏽")"#, r#""number" 6"#);
        check(r#"length("e\u0301")"#, r#""number" 1"#);
        check(r#"length("🇫🇷🇩🇪")"#, r#""number" 2"#);
        check("length([1,2])", r#""number" 2"#);
        check("length({a=1})", r#""number" 1"#);
        check_with("length(x)", vec![("x", set("[1,1]"))], r#""number" 1"#);
        check("length([u])", r#""number" 1"#);
        check("length(ul)", r#""number" null (unknown)"#);
        check("length(d)", r#""number" null (unknown)"#);
        let unknown_set = |items: Vec<Value>| Value::set(Type::String, items);
        check_with(
            "length(x)",
            vec![("x", unknown_set(vec![Value::unknown(Type::String)]))],
            r#""number" 1"#,
        );
        check_with(
            "length(x)",
            vec![(
                "x",
                unknown_set(vec![Value::string("a"), Value::unknown(Type::String)]),
            )],
            r#""number" null (unknown)"#,
        );
        check("length(s)", r#""number" 3 (sensitive)"#);
        check("length([s])", r#""number" 1"#);
        check_err(
            "length(1)",
            "failed: argument must be a string, a collection type, or a structural type.",
        );
        check_err(
            "length(null)",
            r#"Invalid value for "value" parameter: argument must not be null."#,
        );
    }

    #[test]
    fn lookup() {
        check(r#"lookup({a=1},"a")"#, r#""number" 1"#);
        check(r#"lookup({a=1},"b","x")"#, r#""string" "x""#);
        check(
            r#"lookup({a={x=1}},"a",{y=2})"#,
            r#"["object",{"x":"number"}] {"x":1}"#,
        );
        check(r#"lookup({a=1},"z",null)"#, r#""dynamic" null"#);
        let m = || vec![("m", map(r#"{a="1"}"#))];
        check_with(r#"lookup(m,"a", 2)"#, m(), r#""string" "1""#);
        check_with(r#"lookup(m,"b", 2)"#, m(), r#""string" "2""#);
        check(r#"lookup({a=u, b="x"}, "b")"#, r#""string" "x""#);
        check(r#"lookup({a="x"}, u, "d")"#, r#""dynamic" null (unknown)"#);
        check(r#"lookup({a=s, b=2}, "b")"#, r#""number" 2"#);
        check(r#"lookup({a=s}, "a")"#, r#""string" "sec" (sensitive)"#);
        check_err(
            r#"lookup({a=1},"b")"#,
            r#"Invalid value for "inputMap" parameter: the given object has no attribute "b"."#,
        );
        check_err_with(
            r#"lookup(m,"b", true)"#,
            vec![("m", map("{a=1}"))],
            r#"Invalid value for "default" parameter: the default value must have the same type as the map elements."#,
        );
        check_err_with(
            r#"lookup(m,"b")"#,
            m(),
            r#"failed: lookup failed to find key "b"."#,
        );
        check_err_with(
            "lookup(m, s)",
            m(),
            "failed: lookup failed to find key (sensitive value).",
        );
        check_err(
            r#"lookup({a=1},"a","b","c")"#,
            "failed: lookup() takes two or three arguments, got 4.",
        );
        check_err(
            r#"lookup([1],"0")"#,
            r#"Invalid value for "inputMap" parameter: lookup() requires a map as the first argument."#,
        );
    }

    #[test]
    fn matchkeys() {
        check(
            r#"matchkeys(["a","b","c"],["x","y","z"],["y"])"#,
            r#"["list","string"] ["b"]"#,
        );
        check(
            r#"matchkeys(["a","b"],["x","y"],[])"#,
            r#"["list","string"] []"#,
        );
        check(
            r#"matchkeys([1,2],[1,2],["1"])"#,
            r#"["list","number"] [1]"#,
        );
        check(r#"matchkeys([],[],["a"])"#, r#"["list","dynamic"] []"#);
        check(
            r#"matchkeys(["a","b","c"],[1,2,3],[3,1])"#,
            r#"["list","string"] ["a","c"]"#,
        );
        check(
            r#"matchkeys(["a","b"], ["x", u], ["x"])"#,
            r#"["list","string"] null (unknown)"#,
        );
        check(
            r#"matchkeys(["a","b"], ["x", "y"], [u])"#,
            r#"["list","string"] []"#,
        );
        check_err(
            r#"matchkeys(["a"],["x","y"],["x"])"#,
            "failed: length of keys and values should be equal.",
        );
        check_err(
            "matchkeys([1,2],[1,2],[true])",
            "failed: keys and searchset must be of the same type.",
        );
    }

    #[test]
    fn merge() {
        check("merge()", r#"["object",{}] {}"#);
        check(
            r#"merge({a=1},{b="x"})"#,
            r#"["object",{"a":"number","b":"string"}] {"a":1,"b":"x"}"#,
        );
        check(
            "merge({a=1},null,{a=2})",
            r#"["object",{"a":"number"}] {"a":2}"#,
        );
        check("merge(null)", r#"["object",{}] {}"#);
        check(
            r#"merge({a=1},{a="s"})"#,
            r#"["object",{"a":"string"}] {"a":"s"}"#,
        );
        let maps = || {
            vec![
                ("n", map("{a=1}")),
                ("n2", map("{b=2}")),
                ("t", map(r#"{b="x"}"#)),
                ("t2", map(r#"{a="x"}"#)),
                ("e", map("{}")),
            ]
        };
        check_with("merge(n, n2)", maps(), r#"["map","number"] {"a":1,"b":2}"#);
        check_with(
            "merge(n, t)",
            maps(),
            r#"["object",{"a":"number","b":"string"}] {"a":1,"b":"x"}"#,
        );
        check_with(
            r#"merge(n, {b="x"})"#,
            maps(),
            r#"["object",{"a":"number","b":"string"}] {"a":1,"b":"x"}"#,
        );
        check_with(
            "merge(n, t2)",
            maps(),
            r#"["object",{"a":"string"}] {"a":"x"}"#,
        );
        check_with("merge(e, e)", maps(), r#"["map","dynamic"] {}"#);
        check_with(
            "merge(n, null)",
            maps(),
            r#"["object",{"a":"number"}] {"a":1}"#,
        );
        check(
            "merge({a=u}, {b=1})",
            r#"["object",{"a":"string","b":"number"}] {"a":null,"b":1} (partly unknown)"#,
        );
        check("merge({a=s}, {b=2}).b", r#""number" 2"#);
        check_err(
            "merge([1])",
            r#"failed: arguments must be maps or objects, got "tuple"."#,
        );
    }

    #[test]
    fn one() {
        check("one([])", r#""dynamic" null"#);
        check("one([1])", r#""number" 1"#);
        check_with("one(x)", vec![("x", set(r#"["a"]"#))], r#""string" "a""#);
        check_with("one(x)", vec![("x", list("[]"))], r#""dynamic" null"#);
        check("one([u])", r#""string" null (unknown)"#);
        check("one([s])", r#""string" "sec" (sensitive)"#);
        check_err(
            "one([1,2])",
            r#"Invalid value for "list" parameter: must be a list, set, or tuple value with either zero or one elements."#,
        );
        check_err_with(
            "one(x)",
            vec![("x", list(r#"["a","b"]"#))],
            r#"Invalid value for "list" parameter: must be a list, set, or tuple value with either zero or one elements."#,
        );
        check_err(r#"one("a")"#, "with either zero or one elements.");
    }

    #[test]
    fn range() {
        check("range(3)", r#"["list","number"] [0,1,2]"#);
        check("range(-3)", r#"["list","number"] [0,-1,-2]"#);
        check("range(0)", r#"["list","number"] []"#);
        check("range(4,1)", r#"["list","number"] [4,3,2]"#);
        check("range(1.5)", r#"["list","number"] [0,1]"#);
        check("range(10, 0, -3)", r#"["list","number"] [10,7,4,1]"#);
        check(
            "range(0.1, 0.35, 0.05)",
            r#"["list","number"] [0.1,0.15,0.2,0.25,0.3]"#,
        );
        check(
            "range(1e30, 1e30+3)",
            r#"["list","number"] [1000000000000000000000000000000,1000000000000000000000000000001,1000000000000000000000000000002]"#,
        );
        check("range(5,5,0)", r#"["list","number"] []"#);
        check("length(range(1024))", r#""number" 1024"#);
        let limit = "failed: more than 1024 values were generated; either decrease the difference between start and end or use a smaller step.";
        check_err("range(1025)", limit);
        check_err("range(0,5,0)", limit);
        check_err("range(0, 1e300, 1e-300)", limit);
        check_err(
            "range(0,-3,1)",
            r#"Invalid value for "params" parameter: end must be greater than start when step is positive."#,
        );
        check_err(
            "range(0,3,-1)",
            r#"Invalid value for "params" parameter: end must be less than start when step is negative."#,
        );
        check_err("range()", "failed: must have one, two, or three arguments.");
        check_err(
            "range(1,2,3,4)",
            "failed: must have one, two, or three arguments.",
        );
    }

    #[test]
    fn reverse() {
        check(
            r#"reverse([1,"a"])"#,
            r#"["tuple",["string","number"]] ["a",1]"#,
        );
        check("reverse([])", r#"["tuple",[]] []"#);
        check_with(
            "reverse(x)",
            vec![("x", list("[1,2]"))],
            r#"["list","number"] [2,1]"#,
        );
        check_with(
            "reverse(x)",
            vec![("x", set("[2,1]"))],
            r#"["list","number"] [2,1]"#,
        );
        check_with(
            "reverse(x)",
            vec![("x", list("[]"))],
            r#"["list","dynamic"] []"#,
        );
        check(
            r#"reverse(["a", u])"#,
            r#"["tuple",["string","string"]] [null,"a"] (partly unknown)"#,
        );
        check("reverse([s, 2])[0]", r#""number" 2"#);
        check_err(
            r#"reverse("abc")"#,
            r#"Invalid value for "list" parameter: can only reverse list or tuple values, not string."#,
        );
    }

    #[test]
    fn set_functions() {
        check("setintersection([1])", r#"["set","number"] [1]"#);
        check(r#"setintersection(["a"],[1])"#, r#"["set","string"] []"#);
        check("setintersection([], [1])", r#"["set","number"] []"#);
        check("setintersection([],[])", r#"["set","dynamic"] []"#);
        check(
            r#"setintersection(["a"], [u])"#,
            r#"["set","string"] null (unknown)"#,
        );
        check_err(
            "setintersection([true],[1])",
            "failed: given sets must all have compatible element types.",
        );
        check(r#"setunion([1],["a"])"#, r#"["set","string"] ["1","a"]"#);
        check(
            "setunion([[1]],[[2]])",
            r#"["set",["tuple",["number"]]] [[1],[2]]"#,
        );
        check(r#"setunion([], ["a"])"#, r#"["set","string"] ["a"]"#);
        check(
            r#"setunion(["b","a"],["c"])"#,
            r#"["set","string"] ["a","b","c"]"#,
        );
        check("setunion([10, 9, 1])", r#"["set","number"] [1,9,10]"#);
        check(
            r#"setunion(["a"], [u])"#,
            r#"["set","string"] ["a",null] (partly unknown)"#,
        );
        check(
            r#"setunion(["a"], [s])"#,
            r#"["set","string"] ["a","sec"] (sensitive)"#,
        );
        check_err(
            "setunion([true],[1])",
            "failed: given sets must all have compatible element types.",
        );
        check("setsubtract([1,2,3],[2])", r#"["set","number"] [1,3]"#);
        check("setsubtract([1],[])", r#"["set","number"] [1]"#);
        check("setsubtract([],[1])", r#"["set","number"] []"#);
        check_err(
            "setsubtract([], null)",
            r#"Invalid value for "b" parameter: argument must not be null."#,
        );
    }

    #[test]
    fn setproduct() {
        check(
            r#"setproduct(["a","b"],[1,2])"#,
            r#"["list",["tuple",["string","number"]]] [["a",1],["a",2],["b",1],["b",2]]"#,
        );
        check_with(
            "setproduct(x, [1])",
            vec![("x", set(r#"["a"]"#))],
            r#"["set",["tuple",["string","number"]]] [["a",1]]"#,
        );
        check(
            "setproduct([], [1])",
            r#"["list",["tuple",["dynamic","number"]]] []"#,
        );
        check(
            r#"setproduct([1,"x"],[true])"#,
            r#"["list",["tuple",["string","bool"]]] [["1",true],["x",true]]"#,
        );
        check(
            "setproduct([], [])",
            r#"["list",["tuple",["dynamic","dynamic"]]] []"#,
        );
        check(
            r#"setproduct(["a"], [u])"#,
            r#"["list",["tuple",["string","string"]]] [["a",null]] (partly unknown)"#,
        );
        check(
            r#"setproduct(["a"], ul)"#,
            r#"["list",["tuple",["string","string"]]] null (unknown)"#,
        );
        check(
            r#"setproduct([s,"b"],[1])[1]"#,
            r#"["tuple",["string","number"]] ["b",1]"#,
        );
        check_err(
            "setproduct([1])",
            "failed: at least two arguments are required.",
        );
        check_err(
            "setproduct([1,true],[1])",
            r#"Invalid value for "sets" parameter: all elements must be of the same type."#,
        );
        check_err(
            r#"setproduct("a",[1])"#,
            r#"Invalid value for "sets" parameter: a set or a list is required."#,
        );
        check_err(
            "setproduct(range(1024), range(1024), range(1024))",
            "more than Baton builds.",
        );
    }

    #[test]
    fn slice() {
        check("slice([1,2,3],1,2)", r#"["tuple",["number"]] [2]"#);
        check(r#"slice([1,"a"],0,0)"#, r#"["tuple",[]] []"#);
        let l = || vec![("l", list("[1,2,3]"))];
        check_with("slice(l,0,3)", l(), r#"["list","number"] [1,2,3]"#);
        check_with("slice(l,1,1)", l(), r#"["list","number"] []"#);
        check(r#"slice(["a", u], 0, 1)"#, r#"["tuple",["string"]] ["a"]"#);
        check("slice(ul, 0, 1)", r#"["list","string"] null (unknown)"#);
        check("slice([s, 2], 1, 2)", r#"["tuple",["number"]] [2]"#);
        check_err(
            "slice([1,2,3],2,1)",
            r#"Invalid value for "start_index" parameter: start index must not be greater than end index."#,
        );
        check_err(
            "slice([1,2,3],-1,1)",
            r#"Invalid value for "start_index" parameter: start index must not be less than zero."#,
        );
        check_err(
            "slice([1,2,3],0,4)",
            r#"Invalid value for "end_index" parameter: end index must not be greater than the length of the list."#,
        );
        check_err(
            "slice([1,2,3],4,4)",
            r#"Invalid value for "start_index" parameter: start index must not be greater than the length of the list."#,
        );
        check_err(
            "slice([1,2],0,-1)",
            r#"Invalid value for "end_index" parameter: end index must not be less than zero."#,
        );
        check_err(
            "slice([1,2],1.5,2)",
            r#"Invalid value for "start_index" parameter: invalid start index: value must be a whole number, between -9223372036854775808 and 9223372036854775807."#,
        );
        check_err(
            r#"slice("abc",0,1)"#,
            r#"Invalid value for "list" parameter: must be a list or tuple value."#,
        );
        check_err_with(
            "slice(x,0,1)",
            vec![("x", set("[1]"))],
            r#"Invalid value for "list" parameter: cannot slice a set, because its elements do not have indices; explicitly convert to a list if the ordering of the result is not important."#,
        );
    }

    #[test]
    fn sort() {
        check(
            r#"sort(["b","a","B","10","9"])"#,
            r#"["list","string"] ["10","9","B","a","b"]"#,
        );
        check("sort([3,20,1])", r#"["list","string"] ["1","20","3"]"#);
        check("sort([])", r#"["list","string"] []"#);
        check(
            r#"sort(["é","e","z"])"#,
            r#"["list","string"] ["e","z","é"]"#,
        );
        // Unknown elements: the length is known, the order is not.
        check(
            r#"sort(["b", u])"#,
            r#"["list","string"] [null,null] (partly unknown)"#,
        );
        check(
            r#"sort([s, "a"])"#,
            r#"["list","string"] ["a","sec"] (sensitive)"#,
        );
        check_err(
            r#"sort(["a",null])"#,
            "failed: given list element 1 is null; a null string cannot be sorted.",
        );
    }

    #[test]
    fn sum() {
        check("sum([1,2.5])", r#""number" 3.5"#);
        check(
            "sum([12345678901234567890123, 1])",
            r#""number" 12345678901234567890124"#,
        );
        check(r#"sum(["1", 2])"#, r#""number" 3"#);
        check_with("sum(x)", vec![("x", set("[1,1,2]"))], r#""number" 3"#);
        check("sum([1, length(ul)])", r#""number" null (unknown)"#);
        check_err(
            "sum([])",
            r#"Invalid value for "list" parameter: cannot sum an empty list."#,
        );
        check_err(
            "sum([1/0, -1/0])",
            "can't compute sum of opposing infinities.",
        );
        check_err(
            "range(1/0, 0, -1/0)",
            "addition of infinities with opposite signs.",
        );
        check_err(
            "sum([1, null])",
            r#"Invalid value for "list" parameter: argument must be list, set, or tuple of number values."#,
        );
        check_err(
            r#"sum(["a"])"#,
            r#"Invalid value for "list" parameter: argument must be list, set, or tuple of number values."#,
        );
        check_err(
            "sum({a=1})",
            r#"Invalid value for "list" parameter: argument must be list, set, or tuple. Received object."#,
        );
        check_err(
            r#"sum("abc")"#,
            r#"Invalid value for "list" parameter: cannot sum noniterable."#,
        );
    }

    #[test]
    fn transpose() {
        check(
            r#"transpose({a=["1","2"], b=["2","3"]})"#,
            r#"["map",["list","string"]] {"1":["a"],"2":["a","b"],"3":["b"]}"#,
        );
        check("transpose({})", r#"["map",["list","string"]] {}"#);
        check("transpose({a=[]})", r#"["map",["list","string"]] {}"#);
        check(
            r#"transpose({a=["x","x"]})"#,
            r#"["map",["list","string"]] {"x":["a","a"]}"#,
        );
        check(
            "transpose({a=[u]})",
            r#"["map",["list","string"]] null (unknown)"#,
        );
        check_err(
            r#"transpose({a=["x"], b=null})"#,
            "failed: input must not contain null list.",
        );
        check_err(
            r#"transpose({a=["x", null]})"#,
            "failed: input list must not contain null string.",
        );
    }

    #[test]
    fn zipmap() {
        check(
            r#"zipmap(["a","b"],[1,2])"#,
            r#"["object",{"a":"number","b":"number"}] {"a":1,"b":2}"#,
        );
        check(
            r#"zipmap(["a","b"],[1,"x"])"#,
            r#"["object",{"a":"number","b":"string"}] {"a":1,"b":"x"}"#,
        );
        check("zipmap([],[])", r#"["object",{}] {}"#);
        check(
            r#"zipmap(["a","a"],[1,2])"#,
            r#"["object",{"a":"number"}] {"a":2}"#,
        );
        check("zipmap([1], [2])", r#"["object",{"1":"number"}] {"1":2}"#);
        let v = || vec![("v", list("[1,2]")), ("e", list("[]"))];
        check_with(
            r#"zipmap(["a","b"], v)"#,
            v(),
            r#"["map","number"] {"a":1,"b":2}"#,
        );
        check_with(
            r#"zipmap(["a","a"], v)"#,
            v(),
            r#"["map","number"] {"a":2}"#,
        );
        check_with("zipmap([], e)", v(), r#"["map","dynamic"] {}"#);
        check(
            r#"zipmap(["a"], [u])"#,
            r#"["object",{"a":"string"}] {"a":null} (partly unknown)"#,
        );
        check(r#"zipmap([u], ["a"])"#, r#""dynamic" null (unknown)"#);
        check(r#"zipmap(["a","b"],[s, 2]).b"#, r#""number" 2"#);
        check(
            r#"zipmap([s],[2])"#,
            r#"["object",{"sec":"number"}] {"sec":2} (sensitive)"#,
        );
        check_err(
            r#"zipmap(["a"],[1,2])"#,
            "failed: number of keys (1) does not match number of values (2).",
        );
        check_err_with(
            r#"zipmap(["a"], v)"#,
            v(),
            "failed: number of keys (1) does not match number of values (2).",
        );
        check_err(
            r#"zipmap(["a"], "x")"#,
            "failed: values argument must be a list or tuple value.",
        );
        check_err(
            r#"zipmap(["a", null],[1,2])"#,
            "failed: keys list has null value at index 1.",
        );
        check_err_with(
            r#"zipmap(["a", null], v)"#,
            v(),
            "failed: keys list has null value at index 1.",
        );
    }

    #[test]
    fn arguments_of_unknown_type_give_unknown_results() {
        for src in [
            "coalescelist(d, [1])",
            "concat(d, [1])",
            "contains(d, 1)",
            "element(d, 0)",
            "flatten(d)",
            "index(d, 1)",
            "keys(d)",
            "length(d)",
            r#"lookup(d, "a")"#,
            r#"lookup(d, "a", "x")"#,
            "merge(d, {a=1})",
            "one(d)",
            "reverse(d)",
            "setproduct(d, [1])",
            "slice(d, 0, 1)",
            "sum(d)",
            "values(d)",
            r#"zipmap(["a"], d)"#,
        ] {
            let v = run(src, Vec::new()).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert!(!v.is_known(), "{src}: {}", show(&v));
        }
        check(r#"coalesce(d, "a")"#, r#""string" null (unknown)"#);
    }

    #[test]
    fn removed_functions() {
        check_err(
            "list(1,2)",
            r#"failed: the "list" function was deprecated in Terraform v0.12 and is no longer available; use tolist([ ... ]) syntax to write a literal list."#,
        );
        check_err(
            r#"map("a",1)"#,
            r#"failed: the "map" function was deprecated in Terraform v0.12 and is no longer available; use tomap({ ... }) syntax to write a literal map."#,
        );
        check_err("list()", "syntax to write a literal list.");
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(
            super::go_quote("a\"b\\c\n\u{1}é\u{a0}"),
            r#""a\"b\\c\n\x01é\u00a0""#
        );
    }
}
