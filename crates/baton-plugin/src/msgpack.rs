//! Values across the wire: Baton's [`Value`] to and from the msgpack encoding Terraform uses
//! for `DynamicValue` (go-cty's): typed by the schema, unknown as extension 0 (or 12, refined),
//! `dynamic` values as a `[type JSON, value]` pair, numbers as int, float64 or decimal string.
//!
//! Sensitive marks do not cross the wire (the schema carries them); no other conversion (no
//! type unification, no defaults) happens here.

use std::collections::BTreeMap;

use baton_eval::{Kind, Number, Type, Value};

/// A value that does not fit its type, or bytes that are not msgpack.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// Encodes `v`, which must conform to `ty`.
pub fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &to_rmpv(v, ty)?)
        .map_err(|e| ValueError(format!("cannot write msgpack: {e}")))?;
    Ok(out)
}

/// Decodes msgpack bytes as a value of `ty`. Empty bytes are a null.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    if bytes.is_empty() {
        return Ok(Value::null(ty.clone()));
    }
    let raw = rmpv::decode::read_value(&mut &bytes[..])
        .map_err(|e| ValueError(format!("not msgpack: {e}")))?;
    from_rmpv(&raw, ty)
}

fn unknown() -> rmpv::Value {
    rmpv::Value::Ext(0, vec![0])
}

fn to_rmpv(v: &Value, ty: &Type) -> Result<rmpv::Value, ValueError> {
    if !v.is_known() {
        return Ok(unknown());
    }
    if v.is_null() {
        return Ok(rmpv::Value::Nil);
    }
    if *ty == Type::Dynamic {
        let actual = v.ty();
        let type_json = actual.to_json().to_string();
        return Ok(rmpv::Value::Array(vec![
            rmpv::Value::Binary(type_json.into_bytes()),
            to_rmpv(v, &actual)?,
        ]));
    }
    let mismatch = || ValueError(format!("value of type {:?} does not fit {ty:?}", v.ty()));
    Ok(match (v.kind(), ty) {
        (Kind::Bool(b), Type::Bool) => rmpv::Value::Boolean(*b),
        (Kind::String(s), Type::String) => rmpv::Value::from(&**s),
        (Kind::Number(n), Type::Number) => number(n),
        (Kind::List(_, items), Type::List(t)) | (Kind::Set(_, items), Type::Set(t)) => {
            rmpv::Value::Array(
                items
                    .iter()
                    .map(|i| to_rmpv(i, t))
                    .collect::<Result<_, _>>()?,
            )
        }
        (Kind::Tuple(items), Type::Tuple(ts)) if items.len() == ts.len() => rmpv::Value::Array(
            items
                .iter()
                .zip(ts.iter())
                .map(|(i, t)| to_rmpv(i, t))
                .collect::<Result<_, _>>()?,
        ),
        (Kind::Map(_, entries), Type::Map(t)) => rmpv::Value::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((rmpv::Value::from(k.as_str()), to_rmpv(v, t)?)))
                .collect::<Result<_, ValueError>>()?,
        ),
        (Kind::Object(entries), Type::Object(o)) => rmpv::Value::Map(
            o.attrs
                .iter()
                .map(|(k, t)| {
                    let v = match entries.get(k) {
                        Some(v) => to_rmpv(v, t)?,
                        None => rmpv::Value::Nil,
                    };
                    Ok((rmpv::Value::from(k.as_str()), v))
                })
                .collect::<Result<_, ValueError>>()?,
        ),
        _ => return Err(mismatch()),
    })
}

/// go-cty's choice: an integer if it fits int64, else float64 if exact, else the decimal text.
fn number(n: &Number) -> rmpv::Value {
    if n.is_infinite() {
        return rmpv::Value::F64(if n.is_sign_negative() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if n.is_integer() {
        if let Some(i) = n.to_i64() {
            return rmpv::Value::from(i);
        }
    }
    match n.to_f64_exact() {
        Some(f) => rmpv::Value::F64(f),
        None => rmpv::Value::from(n.to_string()),
    }
}

fn from_rmpv(raw: &rmpv::Value, ty: &Type) -> Result<Value, ValueError> {
    let bad = || ValueError(format!("msgpack {raw} does not fit type {ty:?}"));
    match raw {
        rmpv::Value::Ext(0 | 12, _) => return Ok(Value::unknown(ty.clone())),
        rmpv::Value::Nil => return Ok(Value::null(ty.clone())),
        _ => {}
    }
    Ok(match ty {
        Type::Dynamic => {
            let rmpv::Value::Array(pair) = raw else {
                return Err(bad());
            };
            let [type_json, value] = &pair[..] else {
                return Err(bad());
            };
            let text = match type_json {
                rmpv::Value::Binary(b) => String::from_utf8_lossy(b).into_owned(),
                rmpv::Value::String(s) => s.as_str().unwrap_or_default().to_string(),
                _ => return Err(bad()),
            };
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| ValueError(e.to_string()))?;
            let actual = Type::from_json(&json).ok_or_else(bad)?;
            from_rmpv(value, &actual)?
        }
        Type::Bool => Value::bool(raw.as_bool().ok_or_else(bad)?),
        Type::String => Value::string(raw.as_str().ok_or_else(bad)?),
        Type::Number => {
            let n = match raw {
                rmpv::Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
                    (Some(v), _) => Number::from_i64(v),
                    (None, Some(v)) => Number::from_u64(v),
                    _ => return Err(bad()),
                },
                rmpv::Value::F64(f) => float(*f).ok_or_else(bad)?,
                rmpv::Value::F32(f) => float(f64::from(*f)).ok_or_else(bad)?,
                rmpv::Value::String(s) => s.as_str().and_then(Number::parse).ok_or_else(bad)?,
                _ => return Err(bad()),
            };
            Value::number(n)
        }
        Type::List(t) | Type::Set(t) => {
            let items = raw
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|i| from_rmpv(i, t))
                .collect::<Result<Vec<_>, _>>()?;
            if matches!(ty, Type::List(_)) {
                Value::list((**t).clone(), items)
            } else {
                Value::set((**t).clone(), items)
            }
        }
        Type::Tuple(ts) => {
            let items = raw.as_array().ok_or_else(bad)?;
            if items.len() != ts.len() {
                return Err(bad());
            }
            Value::tuple(
                items
                    .iter()
                    .zip(ts.iter())
                    .map(|(i, t)| from_rmpv(i, t))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map(t) => {
            let mut out = BTreeMap::new();
            for (k, v) in raw.as_map().ok_or_else(bad)? {
                out.insert(k.as_str().ok_or_else(bad)?.to_string(), from_rmpv(v, t)?);
            }
            Value::map((**t).clone(), out)
        }
        Type::Object(o) => {
            let entries = raw.as_map().ok_or_else(bad)?;
            let mut out = BTreeMap::new();
            for (name, t) in &o.attrs {
                let v = entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(name))
                    .map(|(_, v)| from_rmpv(v, t))
                    .transpose()?
                    .unwrap_or_else(|| Value::null(t.clone()));
                out.insert(name.clone(), v);
            }
            Value::object(out)
        }
    })
}

fn float(f: f64) -> Option<Number> {
    if f.is_infinite() {
        return Some(Number::infinity(f < 0.0));
    }
    Number::from_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value, ty: Type) {
        let bytes = encode(&v, &ty).expect("encodes");
        let back = decode(&bytes, &ty).expect("decodes");
        assert!(
            back.raw_equal(&v),
            "{v:?} came back as {back:?} via {bytes:?}"
        );
    }

    #[test]
    fn primitives_collections_and_objects_round_trip() {
        round_trip(Value::string("héllo"), Type::String);
        round_trip(Value::bool(true), Type::Bool);
        round_trip(Value::int(-42), Type::Number);
        round_trip(
            Value::number(Number::parse("0.5").expect("number")),
            Type::Number,
        );
        round_trip(
            Value::number(Number::parse("123456789012345678901234567890").expect("number")),
            Type::Number,
        );
        round_trip(
            Value::list(Type::String, vec![Value::string("a"), Value::string("b")]),
            Type::list(Type::String),
        );
        let obj_ty = Type::object(BTreeMap::from([
            ("id".to_string(), Type::String),
            ("n".to_string(), Type::Number),
        ]));
        round_trip(
            Value::object(BTreeMap::from([
                ("id".to_string(), Value::unknown(Type::String)),
                ("n".to_string(), Value::null(Type::Number)),
            ])),
            obj_ty,
        );
        round_trip(Value::string("any"), Type::Dynamic);
    }

    #[test]
    fn unknown_is_extension_zero_and_null_is_nil() {
        assert_eq!(
            encode(&Value::unknown(Type::String), &Type::String).expect("encodes"),
            vec![0xd4, 0, 0]
        );
        assert_eq!(
            encode(&Value::null(Type::String), &Type::String).expect("encodes"),
            vec![0xc0]
        );
        assert!(!decode(&[0xd4, 0, 0], &Type::Number)
            .expect("decodes")
            .is_known());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error() {
        assert!(encode(&Value::bool(true), &Type::String).is_err());
        assert!(decode(&[0xc3], &Type::String).is_err());
    }
}
