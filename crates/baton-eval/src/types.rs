//! Terraform's type system (go-cty's): primitive, collection and structural types, the
//! `any` placeholder ([`Type::Dynamic`]), and type constraints with `optional()` attributes and
//! their defaults.
//!
//! Types are plain data: printing (`list(string)`), the JSON form `terraform output -json`
//! uses, and parsing from JSON. No conversion logic lives here (see `convert`).

use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Type {
    Bool,
    Number,
    String,
    /// `any`: a type to be decided by the value (cty's DynamicPseudoType).
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Arc<Vec<Type>>),
    Object(Arc<ObjectType>),
}

/// An object type's attributes; `optional` lists those a type *constraint* marks optional.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct ObjectType {
    pub attrs: BTreeMap<String, Type>,
    pub optional: BTreeSet<String>,
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }
    pub fn tuple(ts: Vec<Type>) -> Type {
        Type::Tuple(Arc::new(ts))
    }
    pub fn object(attrs: BTreeMap<String, Type>) -> Type {
        Type::Object(Arc::new(ObjectType {
            attrs,
            optional: BTreeSet::new(),
        }))
    }
    pub fn empty_object() -> Type {
        Type::object(BTreeMap::new())
    }

    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::Bool | Type::Number | Type::String)
    }
    pub fn is_collection(&self) -> bool {
        matches!(self, Type::List(_) | Type::Set(_) | Type::Map(_))
    }
    pub fn element_type(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }

    /// The type without `optional()` markers (values never carry them).
    pub fn concrete(&self) -> Type {
        match self {
            Type::List(t) => Type::list(t.concrete()),
            Type::Set(t) => Type::set(t.concrete()),
            Type::Map(t) => Type::map(t.concrete()),
            Type::Tuple(ts) => Type::tuple(ts.iter().map(Type::concrete).collect()),
            Type::Object(o) => Type::object(
                o.attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.concrete()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Does this type contain `any` anywhere?
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::Dynamic => true,
            Type::Bool | Type::Number | Type::String => false,
            Type::List(t) | Type::Set(t) | Type::Map(t) => t.has_dynamic(),
            Type::Tuple(ts) => ts.iter().any(Type::has_dynamic),
            Type::Object(o) => o.attrs.values().any(Type::has_dynamic),
        }
    }

    /// A short name for messages: "string", "list of number", "object".
    pub fn friendly_name(&self) -> String {
        match self {
            Type::Bool => "bool".into(),
            Type::Number => "number".into(),
            Type::String => "string".into(),
            Type::Dynamic => "dynamic".into(),
            Type::List(t) => format!("list of {}", t.friendly_name()),
            Type::Set(t) => format!("set of {}", t.friendly_name()),
            Type::Map(t) => format!("map of {}", t.friendly_name()),
            Type::Tuple(_) => "tuple".into(),
            Type::Object(_) => "object".into(),
        }
    }

    /// The JSON form of `terraform output -json` ("string", ["list","number"], ...).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
            Type::Object(o) => {
                let attrs: serde_json::Map<String, serde_json::Value> = o
                    .attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                if o.optional.is_empty() {
                    json!(["object", attrs])
                } else {
                    json!(["object", attrs, o.optional.iter().collect::<Vec<_>>()])
                }
            }
        }
    }

    /// Reads the JSON form back.
    pub fn from_json(v: &serde_json::Value) -> Option<Type> {
        match v {
            serde_json::Value::String(s) => match s.as_str() {
                "bool" => Some(Type::Bool),
                "number" => Some(Type::Number),
                "string" => Some(Type::String),
                "dynamic" => Some(Type::Dynamic),
                _ => None,
            },
            serde_json::Value::Array(a) => {
                let kind = a.first()?.as_str()?;
                let arg = a.get(1)?;
                match kind {
                    "list" => Some(Type::list(Type::from_json(arg)?)),
                    "set" => Some(Type::set(Type::from_json(arg)?)),
                    "map" => Some(Type::map(Type::from_json(arg)?)),
                    "tuple" => Some(Type::tuple(
                        arg.as_array()?
                            .iter()
                            .map(Type::from_json)
                            .collect::<Option<Vec<_>>>()?,
                    )),
                    "object" => {
                        let attrs = arg
                            .as_object()?
                            .iter()
                            .map(|(k, t)| Some((k.clone(), Type::from_json(t)?)))
                            .collect::<Option<BTreeMap<_, _>>>()?;
                        let optional = a
                            .get(2)
                            .and_then(|o| o.as_array())
                            .map(|o| {
                                o.iter()
                                    .filter_map(|s| s.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default();
                        Some(Type::Object(Arc::new(ObjectType { attrs, optional })))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    /// The type-constraint syntax: `list(string)`, `object({a=number})`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Number => f.write_str("number"),
            Type::String => f.write_str("string"),
            Type::Dynamic => f.write_str("any"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(o) => {
                f.write_str("object({")?;
                for (i, (k, t)) in o.attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if o.optional.contains(k) {
                        write!(f, "{k}=optional({t})")?;
                    } else {
                        write!(f, "{k}={t}")?;
                    }
                }
                f.write_str("})")
            }
        }
    }
}

/// A type constraint as written on a variable: the type plus the defaults of its
/// `optional(T, default)` attributes (Terraform's `typeexpr.Defaults`).
#[derive(Clone, Debug, PartialEq)]
pub struct TypeConstraint {
    pub ty: Type,
    pub defaults: Option<Defaults>,
}

/// Default values for optional object attributes, nested along the type: `children` is keyed
/// by attribute name, or by "" for the elements of a collection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Defaults {
    pub values: BTreeMap<String, crate::value::Value>,
    pub children: BTreeMap<String, Defaults>,
}

impl TypeConstraint {
    pub fn any() -> TypeConstraint {
        TypeConstraint {
            ty: Type::Dynamic,
            defaults: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let mut attrs = BTreeMap::new();
        attrs.insert("a".to_string(), Type::list(Type::Number));
        attrs.insert(
            "b".to_string(),
            Type::tuple(vec![Type::Bool, Type::Dynamic]),
        );
        let t = Type::map(Type::object(attrs));
        let j = t.to_json();
        assert_eq!(
            j.to_string(),
            r#"["map",["object",{"a":["list","number"],"b":["tuple",["bool","dynamic"]]}]]"#
        );
        assert_eq!(Type::from_json(&j), Some(t.clone()));
        assert_eq!(
            t.to_string(),
            "map(object({a=list(number), b=tuple([bool, any])}))"
        );
    }
}
