//! Values of the Terraform language (go-cty's model): typed nulls, unknowns ("known after
//! apply"), primitives, collections and structural values, each carrying a *sensitive* mark
//! that propagates through every operation.
//!
//! Values are immutable and cheap to clone (collections are shared behind `Arc`). This module
//! holds construction, inspection, equality, ordering and JSON forms; it must not hold
//! conversion rules (`convert`) or operators (`ops`).

use crate::entries::Entries;
use crate::number::Number;
use crate::types::Type;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Value {
    kind: Kind,
    sensitive: bool,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Null(Type),
    Unknown(Type),
    Bool(bool),
    Number(Number),
    String(Arc<str>),
    List(Type, Arc<Vec<Value>>),
    /// Elements are distinct and sorted by [`Value::total_cmp`].
    Set(Type, Arc<Vec<Value>>),
    Map(Type, Arc<Entries>),
    Tuple(Arc<Vec<Value>>),
    Object(Arc<Entries>),
}

impl Value {
    pub fn from_kind(kind: Kind) -> Value {
        Value {
            kind,
            sensitive: false,
        }
    }
    pub fn null(t: Type) -> Value {
        Value::from_kind(Kind::Null(t))
    }
    pub fn dynamic_null() -> Value {
        Value::null(Type::Dynamic)
    }
    pub fn unknown(t: Type) -> Value {
        Value::from_kind(Kind::Unknown(t))
    }
    pub fn dynamic_unknown() -> Value {
        Value::unknown(Type::Dynamic)
    }
    pub fn bool(b: bool) -> Value {
        Value::from_kind(Kind::Bool(b))
    }
    pub fn number(n: Number) -> Value {
        Value::from_kind(Kind::Number(n))
    }
    pub fn int(i: i64) -> Value {
        Value::number(Number::from_i64(i))
    }
    /// A string, normalized to Unicode NFC as Terraform (go-cty) normalizes every string.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        let s: Arc<str> = s.into();
        if !s.is_ascii()
            && unicode_normalization::is_nfc_quick(s.chars())
                != unicode_normalization::IsNormalized::Yes
        {
            use unicode_normalization::UnicodeNormalization;
            let n: String = s.nfc().collect();
            return Value::from_kind(Kind::String(n.into()));
        }
        Value::from_kind(Kind::String(s))
    }
    /// A list of the given element type. The caller guarantees every element has that type.
    pub fn list(elem: Type, items: Vec<Value>) -> Value {
        Value::from_kind(Kind::List(elem, Arc::new(items)))
    }
    /// A set: duplicates (by raw equality) are removed and elements sorted.
    pub fn set(elem: Type, mut items: Vec<Value>) -> Value {
        items.sort_by(Value::total_cmp);
        items.dedup_by(|a, b| a.is_known() && b.is_known() && a.raw_equal(b));
        Value::from_kind(Kind::Set(elem, Arc::new(items)))
    }
    pub fn map(elem: Type, items: BTreeMap<String, Value>) -> Value {
        Value::from_kind(Kind::Map(elem, Arc::new(items.into())))
    }
    pub fn tuple(items: Vec<Value>) -> Value {
        Value::from_kind(Kind::Tuple(Arc::new(items)))
    }
    pub fn object(attrs: BTreeMap<String, Value>) -> Value {
        Value::from_kind(Kind::Object(Arc::new(attrs.into())))
    }
    pub fn empty_object() -> Value {
        Value::object(BTreeMap::new())
    }
    pub fn empty_tuple() -> Value {
        Value::tuple(Vec::new())
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }
    pub fn into_kind(self) -> Kind {
        self.kind
    }

    /// The value's type. Collections report their declared element type.
    pub fn ty(&self) -> Type {
        match &self.kind {
            Kind::Null(t) | Kind::Unknown(t) => t.clone(),
            Kind::Bool(_) => Type::Bool,
            Kind::Number(_) => Type::Number,
            Kind::String(_) => Type::String,
            Kind::List(t, _) => Type::list(t.clone()),
            Kind::Set(t, _) => Type::set(t.clone()),
            Kind::Map(t, _) => Type::map(t.clone()),
            Kind::Tuple(items) => Type::tuple(items.iter().map(Value::ty).collect()),
            Kind::Object(attrs) => {
                Type::object(attrs.iter().map(|(k, v)| (k.clone(), v.ty())).collect())
            }
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null(_))
    }
    pub fn is_known(&self) -> bool {
        !matches!(self.kind, Kind::Unknown(_))
    }
    /// Known all the way down.
    pub fn is_wholly_known(&self) -> bool {
        match &self.kind {
            Kind::Unknown(_) => false,
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                items.iter().all(Value::is_wholly_known)
            }
            Kind::Map(_, items) | Kind::Object(items) => items.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    // ----- marks -----

    /// Is this value itself marked sensitive (not looking inside)?
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }
    /// Is this value, or anything inside it, sensitive?
    pub fn contains_sensitive(&self) -> bool {
        self.sensitive
            || match &self.kind {
                Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                    items.iter().any(Value::contains_sensitive)
                }
                Kind::Map(_, items) | Kind::Object(items) => {
                    items.values().any(Value::contains_sensitive)
                }
                _ => false,
            }
    }
    /// Whether the value is, or contains anywhere, a known infinite number (`1 / 0`).
    /// Terraform cannot save such a value: its JSON encodings (state, plan) have no
    /// infinity, so an output or resource attribute holding one fails the run; callers that
    /// store values check this first (see [`number_to_json`]).
    pub fn contains_infinity(&self) -> bool {
        match &self.kind {
            Kind::Number(n) => n.is_infinite(),
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                items.iter().any(Value::contains_infinity)
            }
            Kind::Map(_, items) | Kind::Object(items) => {
                items.values().any(Value::contains_infinity)
            }
            _ => false,
        }
    }
    pub fn mark_sensitive(mut self) -> Value {
        self.sensitive = true;
        self
    }
    pub fn with_sensitive(mut self, s: bool) -> Value {
        self.sensitive = self.sensitive || s;
        self
    }
    /// Removes the top-level mark, returning whether it was there.
    pub fn unmark(mut self) -> (Value, bool) {
        let s = self.sensitive;
        self.sensitive = false;
        (self, s)
    }
    /// Removes every mark at every depth, returning whether any was there.
    pub fn unmark_deep(self) -> (Value, bool) {
        if !self.contains_sensitive() {
            return (self, false);
        }
        let kind = match self.kind {
            Kind::List(t, items) => Kind::List(t, Arc::new(unmark_vec(&items))),
            Kind::Set(t, items) => Kind::Set(t, Arc::new(unmark_vec(&items))),
            Kind::Tuple(items) => Kind::Tuple(Arc::new(unmark_vec(&items))),
            Kind::Map(t, items) => Kind::Map(t, Arc::new(unmark_map(&items))),
            Kind::Object(items) => Kind::Object(Arc::new(unmark_map(&items))),
            other => other,
        };
        (
            Value {
                kind,
                sensitive: false,
            },
            true,
        )
    }

    /// Paths (as JSON-pointer-like steps) of every sensitive part, for `*_sensitive` plan fields.
    pub fn sensitive_paths(&self) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        collect_sensitive(self, &mut Vec::new(), &mut out);
        out
    }

    /// Marks the parts named by `paths` sensitive (the inverse of [`Value::sensitive_paths`]).
    pub fn mark_paths(self, paths: &[Vec<PathStep>]) -> Value {
        let mut v = self;
        for p in paths {
            v = mark_path(v, p);
        }
        v
    }

    // ----- accessors -----

    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            Kind::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<&Number> {
        match &self.kind {
            Kind::Number(n) => Some(n),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }
    /// The elements of a list, set or tuple.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => Some(items),
            _ => None,
        }
    }
    /// The entries of a map or object.
    pub fn as_entries(&self) -> Option<&Entries> {
        match &self.kind {
            Kind::Map(_, items) | Kind::Object(items) => Some(items),
            _ => None,
        }
    }
    /// An attribute of an object (or a key of a map).
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        self.as_entries().and_then(|m| m.get(name))
    }
    /// Number of elements of a collection or structural value.
    pub fn length(&self) -> Option<usize> {
        match &self.kind {
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => Some(items.len()),
            Kind::Map(_, items) | Kind::Object(items) => Some(items.len()),
            _ => None,
        }
    }

    // ----- equality and order -----

    /// Exact structural equality, including type, nulls, unknowns and marks' absence of effect
    /// (marks are ignored). Unknowns are equal only to unknowns of the same type.
    pub fn raw_equal(&self, other: &Value) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Null(a), Kind::Null(b)) => a == b || *a == Type::Dynamic || *b == Type::Dynamic,
            (Kind::Unknown(a), Kind::Unknown(b)) => a == b,
            (Kind::Bool(a), Kind::Bool(b)) => a == b,
            (Kind::Number(a), Kind::Number(b)) => a == b,
            (Kind::String(a), Kind::String(b)) => a == b,
            (Kind::List(ta, a), Kind::List(tb, b)) | (Kind::Set(ta, a), Kind::Set(tb, b)) => {
                ta == tb
                    && a.len() == b.len()
                    && a.iter().zip(b.iter()).all(|(x, y)| x.raw_equal(y))
            }
            (Kind::Tuple(a), Kind::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.raw_equal(y))
            }
            (Kind::Map(ta, a), Kind::Map(tb, b)) => {
                ta == tb
                    && a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.raw_equal(vb))
            }
            (Kind::Object(a), Kind::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.raw_equal(vb))
            }
            _ => false,
        }
    }

    /// A total order over values, used to sort set elements the way Terraform iterates them:
    /// strings lexically, numbers numerically, false before true; other kinds by structure.
    /// Unknowns sort last.
    pub fn total_cmp(a: &Value, b: &Value) -> Ordering {
        fn rank(k: &Kind) -> u8 {
            match k {
                Kind::Bool(_) => 0,
                Kind::Number(_) => 1,
                Kind::String(_) => 2,
                Kind::List(..) => 3,
                Kind::Set(..) => 4,
                Kind::Tuple(_) => 5,
                Kind::Map(..) => 6,
                Kind::Object(_) => 7,
                Kind::Null(_) => 8,
                Kind::Unknown(_) => 9,
            }
        }
        match (&a.kind, &b.kind) {
            (Kind::Bool(x), Kind::Bool(y)) => x.cmp(y),
            (Kind::Number(x), Kind::Number(y)) => x.cmp(y),
            (Kind::String(x), Kind::String(y)) => x.cmp(y),
            (Kind::List(_, x), Kind::List(_, y))
            | (Kind::Set(_, x), Kind::Set(_, y))
            | (Kind::Tuple(x), Kind::Tuple(y)) => {
                for (p, q) in x.iter().zip(y.iter()) {
                    let o = Value::total_cmp(p, q);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                x.len().cmp(&y.len())
            }
            (Kind::Map(_, x), Kind::Map(_, y)) | (Kind::Object(x), Kind::Object(y)) => {
                for ((kp, p), (kq, q)) in x.iter().zip(y.iter()) {
                    let o = kp.cmp(kq).then_with(|| Value::total_cmp(p, q));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                x.len().cmp(&y.len())
            }
            (Kind::Unknown(_), Kind::Unknown(_)) | (Kind::Null(_), Kind::Null(_)) => {
                Ordering::Equal
            }
            (x, y) => rank(x).cmp(&rank(y)),
        }
    }

    // ----- JSON -----

    /// The plain JSON form of a known value (unknowns become null; marks are ignored).
    /// Numbers keep their full precision.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            Kind::Null(_) | Kind::Unknown(_) => serde_json::Value::Null,
            Kind::Bool(b) => serde_json::Value::Bool(*b),
            Kind::Number(n) => number_to_json(n),
            Kind::String(s) => serde_json::Value::String(s.to_string()),
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Kind::Map(_, items) | Kind::Object(items) => serde_json::Value::Object(
                items
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Which parts are unknown, in the shape of plan JSON's `after_unknown`: `true` for an
    /// unknown value, nested arrays/objects for collections containing unknowns, `false` or an
    /// empty container otherwise.
    pub fn unknown_json(&self) -> serde_json::Value {
        match &self.kind {
            Kind::Unknown(_) => serde_json::Value::Bool(true),
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                serde_json::Value::Array(items.iter().map(Value::unknown_json_inner).collect())
            }
            Kind::Map(_, items) | Kind::Object(items) => serde_json::Value::Object(
                items
                    .iter()
                    .filter(|(_, v)| !v.is_wholly_known())
                    .map(|(k, v)| (k.clone(), v.unknown_json()))
                    .collect(),
            ),
            _ => serde_json::Value::Bool(false),
        }
    }

    fn unknown_json_inner(&self) -> serde_json::Value {
        match &self.kind {
            Kind::Unknown(_) => serde_json::Value::Bool(true),
            Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) | Kind::Map(..) | Kind::Object(_) => {
                self.unknown_json()
            }
            _ => serde_json::Value::Bool(false),
        }
    }

    /// Which parts are sensitive, in the shape of plan JSON's `*_sensitive`.
    pub fn sensitive_json(&self) -> serde_json::Value {
        if self.sensitive {
            return serde_json::Value::Bool(true);
        }
        match &self.kind {
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                serde_json::Value::Array(items.iter().map(Value::sensitive_json_inner).collect())
            }
            Kind::Map(_, items) | Kind::Object(items) => serde_json::Value::Object(
                items
                    .iter()
                    .filter(|(_, v)| v.contains_sensitive())
                    .map(|(k, v)| (k.clone(), v.sensitive_json()))
                    .collect(),
            ),
            _ => serde_json::Value::Bool(false),
        }
    }

    fn sensitive_json_inner(&self) -> serde_json::Value {
        if self.sensitive {
            return serde_json::Value::Bool(true);
        }
        match &self.kind {
            Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) | Kind::Map(..) | Kind::Object(_) => {
                self.sensitive_json()
            }
            _ => serde_json::Value::Bool(false),
        }
    }

    /// Reads plain JSON as a value of the given type (as state and plan files store values).
    /// `Dynamic` takes the implied type.
    pub fn from_json(j: &serde_json::Value, t: &Type) -> Result<Value, String> {
        use serde_json::Value as J;
        if j.is_null() {
            return Ok(Value::null(t.clone()));
        }
        match t {
            Type::Dynamic => Ok(Value::from_json_implied(j)),
            Type::Bool => match j {
                J::Bool(b) => Ok(Value::bool(*b)),
                _ => Err("bool required".into()),
            },
            Type::Number => match j {
                J::Number(n) => Number::parse(&n.to_string())
                    .map(Value::number)
                    .ok_or_else(|| "invalid number".to_string()),
                J::String(s) => Number::parse(s)
                    .map(Value::number)
                    .ok_or_else(|| "number required".to_string()),
                _ => Err("number required".into()),
            },
            Type::String => match j {
                J::String(s) => Ok(Value::string(s.as_str())),
                J::Number(n) => Ok(Value::string(n.to_string())),
                J::Bool(b) => Ok(Value::string(b.to_string())),
                _ => Err("string required".into()),
            },
            Type::List(et) | Type::Set(et) => {
                let J::Array(a) = j else {
                    return Err("array required".into());
                };
                let items = a
                    .iter()
                    .map(|x| Value::from_json(x, et))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if matches!(t, Type::List(_)) {
                    Value::list((**et).clone(), items)
                } else {
                    Value::set((**et).clone(), items)
                })
            }
            Type::Map(et) => {
                let J::Object(o) = j else {
                    return Err("object required".into());
                };
                let items = o
                    .iter()
                    .map(|(k, x)| Ok((k.clone(), Value::from_json(x, et)?)))
                    .collect::<Result<BTreeMap<_, _>, String>>()?;
                Ok(Value::map((**et).clone(), items))
            }
            Type::Tuple(ts) => {
                let J::Array(a) = j else {
                    return Err("array required".into());
                };
                if a.len() != ts.len() {
                    return Err(format!("tuple of {} elements required", ts.len()));
                }
                let items = a
                    .iter()
                    .zip(ts.iter())
                    .map(|(x, t)| Value::from_json(x, t))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::tuple(items))
            }
            Type::Object(ot) => {
                let J::Object(o) = j else {
                    return Err("object required".into());
                };
                let mut attrs = BTreeMap::new();
                for (k, at) in &ot.attrs {
                    let v = match o.get(k) {
                        Some(x) => Value::from_json(x, at)?,
                        None => Value::null(at.clone()),
                    };
                    attrs.insert(k.clone(), v);
                }
                Ok(Value::object(attrs))
            }
        }
    }

    /// Reads JSON with the types `jsondecode` implies: objects become objects, arrays tuples.
    pub fn from_json_implied(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::dynamic_null(),
            J::Bool(b) => Value::bool(*b),
            J::Number(n) => match Number::parse(&n.to_string()) {
                Some(n) => Value::number(n),
                None => Value::string(n.to_string()),
            },
            J::String(s) => Value::string(s.as_str()),
            J::Array(a) => Value::tuple(a.iter().map(Value::from_json_implied).collect()),
            J::Object(o) => Value::object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json_implied(v)))
                    .collect(),
            ),
        }
    }

    /// A typed JSON encoding that round-trips every value exactly, including unknowns and
    /// marks: `{"t": type, "v": value, "u": unknown-paths, "s": sensitive-paths}` (the last two
    /// only when non-empty). Used by state and plan files.
    pub fn to_typed_json(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        o.insert("t".into(), self.ty().to_json());
        o.insert("v".into(), self.to_json());
        let unknown = self.unknown_paths();
        if !unknown.is_empty() {
            o.insert("u".into(), paths_to_json(&unknown));
        }
        let sens = self.sensitive_paths();
        if !sens.is_empty() {
            o.insert("s".into(), paths_to_json(&sens));
        }
        serde_json::Value::Object(o)
    }

    pub fn from_typed_json(j: &serde_json::Value) -> Result<Value, String> {
        let t = j
            .get("t")
            .and_then(Type::from_json)
            .ok_or_else(|| "missing or invalid type".to_string())?;
        let v = j.get("v").cloned().unwrap_or(serde_json::Value::Null);
        let mut value = Value::from_json(&v, &t)?;
        if let Some(u) = j.get("u") {
            for p in paths_from_json(u) {
                value = set_path(value, &p, &|old: Value| Value::unknown(old.ty()));
            }
        }
        if let Some(s) = j.get("s") {
            value = value.mark_paths(&paths_from_json(s));
        }
        Ok(value)
    }

    fn unknown_paths(&self) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        collect_unknown(self, &mut Vec::new(), &mut out);
        out
    }
}

impl PartialEq for Value {
    /// Raw equality (see [`Value::raw_equal`]) that also compares the sensitive marks.
    fn eq(&self, other: &Value) -> bool {
        self.raw_equal(other) && self.sensitive_paths() == other.sensitive_paths()
    }
}

/// One step into a value: an attribute/key or an element index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

fn paths_to_json(paths: &[Vec<PathStep>]) -> serde_json::Value {
    serde_json::Value::Array(
        paths
            .iter()
            .map(|p| {
                serde_json::Value::Array(
                    p.iter()
                        .map(|s| match s {
                            PathStep::Key(k) => serde_json::Value::String(k.clone()),
                            PathStep::Index(i) => serde_json::Value::from(*i as u64),
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

fn paths_from_json(j: &serde_json::Value) -> Vec<Vec<PathStep>> {
    j.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    p.as_array().map(|steps| {
                        steps
                            .iter()
                            .filter_map(|s| match s {
                                serde_json::Value::String(k) => Some(PathStep::Key(k.clone())),
                                serde_json::Value::Number(n) => {
                                    n.as_u64().map(|i| PathStep::Index(i as usize))
                                }
                                _ => None,
                            })
                            .collect()
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn collect_sensitive(v: &Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    if v.sensitive {
        out.push(path.clone());
        return;
    }
    walk_children(v, path, out, collect_sensitive);
}

fn collect_unknown(v: &Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    if !v.is_known() {
        out.push(path.clone());
        return;
    }
    walk_children(v, path, out, collect_unknown);
}

fn walk_children(
    v: &Value,
    path: &mut Vec<PathStep>,
    out: &mut Vec<Vec<PathStep>>,
    f: fn(&Value, &mut Vec<PathStep>, &mut Vec<Vec<PathStep>>),
) {
    match &v.kind {
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            for (i, x) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                f(x, path, out);
                path.pop();
            }
        }
        Kind::Map(_, items) | Kind::Object(items) => {
            for (k, x) in items.iter() {
                path.push(PathStep::Key(k.clone()));
                f(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn mark_path(v: Value, path: &[PathStep]) -> Value {
    set_path(v, path, &|x: Value| x.mark_sensitive())
}

/// Rebuilds `v` with `f` applied at `path` (a missing path leaves `v` unchanged).
pub fn set_path(v: Value, path: &[PathStep], f: &dyn Fn(Value) -> Value) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return f(v);
    };
    let sensitive = v.sensitive;
    let kind = match (v.kind, first) {
        (Kind::List(t, items), PathStep::Index(i)) => {
            Kind::List(t, Arc::new(set_in_vec(&items, *i, rest, f)))
        }
        (Kind::Set(t, items), PathStep::Index(i)) => {
            Kind::Set(t, Arc::new(set_in_vec(&items, *i, rest, f)))
        }
        (Kind::Tuple(items), PathStep::Index(i)) => {
            Kind::Tuple(Arc::new(set_in_vec(&items, *i, rest, f)))
        }
        (Kind::Map(t, items), PathStep::Key(k)) => {
            Kind::Map(t, Arc::new(set_in_map(&items, k, rest, f)))
        }
        (Kind::Object(items), PathStep::Key(k)) => {
            Kind::Object(Arc::new(set_in_map(&items, k, rest, f)))
        }
        (other, _) => other,
    };
    Value { kind, sensitive }
}

fn set_in_vec(
    items: &[Value],
    i: usize,
    rest: &[PathStep],
    f: &dyn Fn(Value) -> Value,
) -> Vec<Value> {
    items
        .iter()
        .enumerate()
        .map(|(j, x)| {
            if j == i {
                set_path(x.clone(), rest, f)
            } else {
                x.clone()
            }
        })
        .collect()
}

fn set_in_map(
    items: &Entries,
    key: &str,
    rest: &[PathStep],
    f: &dyn Fn(Value) -> Value,
) -> Entries {
    items
        .iter()
        .map(|(k, x)| {
            if k == key {
                (k.clone(), set_path(x.clone(), rest, f))
            } else {
                (k.clone(), x.clone())
            }
        })
        .collect()
}

fn unmark_vec(items: &[Value]) -> Vec<Value> {
    items.iter().map(|v| v.clone().unmark_deep().0).collect()
}

fn unmark_map(items: &Entries) -> Entries {
    items
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unmark_deep().0))
        .collect()
}

/// A number as a JSON number with its full decimal expansion.
///
/// JSON has no infinity, and Terraform refuses to encode one ("cannot serialize infinity as
/// JSON"): the engine must not store a value for which [`Value::contains_infinity`] holds.
/// So that this function stays total, an infinity becomes the JSON *string* `"+Inf"` or
/// `"-Inf"` (Go's text for it), which [`Value::from_json`] reads back as the same infinity
/// for a number type; it is never turned into a finite number or null.
pub fn number_to_json(n: &Number) -> serde_json::Value {
    if n.is_infinite() {
        return serde_json::Value::String(n.to_string());
    }
    // JSON (state, outputs) has no negative zero, as in Terraform.
    let s = n.without_negative_zero().to_string();
    match serde_json::from_str::<serde_json::Number>(&s) {
        Ok(num) => serde_json::Value::Number(num),
        Err(_) => serde_json::Value::String(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_sorted_and_distinct() {
        let s = Value::set(
            Type::String,
            vec![Value::string("b"), Value::string("a"), Value::string("b")],
        );
        let items: Vec<&str> = s
            .as_seq()
            .expect("seq")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(items, vec!["a", "b"]);
    }

    #[test]
    fn typed_json_round_trips_unknowns_and_marks() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::string("x").mark_sensitive());
        m.insert("b".to_string(), Value::unknown(Type::Number));
        m.insert(
            "c".to_string(),
            Value::list(Type::Number, vec![Value::int(1), Value::int(2)]),
        );
        let v = Value::object(m);
        let j = v.to_typed_json();
        let back = Value::from_typed_json(&j).expect("decodes");
        assert!(back.raw_equal(&v));
        assert!(back.get_attr("a").expect("a").is_sensitive());
        assert!(!back.get_attr("b").expect("b").is_known());
    }

    #[test]
    fn infinities_are_found_and_kept_apart_in_json() {
        let inf = Number::parse("1")
            .and_then(|one| one.div(&Number::zero()).ok())
            .expect("1/0");
        assert!(Value::number(inf.clone()).contains_infinity());
        assert!(!Value::int(1).contains_infinity());
        assert!(!Value::unknown(Type::Number).contains_infinity());
        let mut m = BTreeMap::new();
        m.insert(
            "a".to_string(),
            Value::list(Type::Number, vec![Value::int(1), Value::number(inf.neg())]),
        );
        m.insert("b".to_string(), Value::string("x"));
        let v = Value::object(m);
        assert!(v.contains_infinity());
        assert!(Value::tuple(vec![v.clone().mark_sensitive()]).contains_infinity());
        // never a finite number or null: Go's text, as a string, read back exactly
        assert_eq!(number_to_json(&inf), serde_json::json!("+Inf"));
        assert_eq!(v.to_json().to_string(), r#"{"a":[1,"-Inf"],"b":"x"}"#);
        let back = Value::from_typed_json(&v.to_typed_json()).expect("decodes");
        assert!(back.raw_equal(&v));
        assert!(back.contains_infinity());
    }

    #[test]
    fn after_unknown_shape() {
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::unknown(Type::String));
        m.insert("x".to_string(), Value::string("k"));
        let v = Value::object(m);
        assert_eq!(v.unknown_json().to_string(), r#"{"id":true}"#);
    }
}
