//! The conversion functions of Terraform's library: `tostring`, `tonumber`, `tobool`,
//! `tolist`, `toset` and `tomap` (Terraform's `MakeToFunc`), with the messages Terraform
//! gives for explicit conversions.
//!
//! `try` and `can` are evaluator forms, not registry functions, and `type` exists only in
//! `terraform console`, so none of them is registered here. Implementations must never log
//! argument values, and must not reveal a sensitive value in an error message.

use super::{FnError, FnResult, Function, Param, Registry, Ret};
use crate::convert::convert;
use crate::types::Type;
use crate::value::Value;
use baton_core::gotext::quote as go_quote;

pub(super) fn register(r: &mut Registry) {
    let to = |name: &'static str, imp| {
        Function::new(
            name,
            vec![Param::new("v", Type::Dynamic)
                .nullable()
                .unknowns()
                .marked()],
            Ret::Dynamic,
            imp,
        )
    };
    r.add(to("tostring", |_, a| to_type(a, &Type::String)));
    r.add(to("tonumber", |_, a| to_type(a, &Type::Number)));
    r.add(to("tobool", |_, a| to_type(a, &Type::Bool)));
    r.add(to("tolist", |_, a| to_type(a, &Type::list(Type::Dynamic))));
    r.add(to("toset", |_, a| to_type(a, &Type::set(Type::Dynamic))));
    r.add(to("tomap", |_, a| to_type(a, &Type::map(Type::Dynamic))));
}

/// cty's `FriendlyNameForConstraint`.
fn constraint_name(t: &Type) -> String {
    match t {
        Type::Dynamic => "any single type".into(),
        Type::List(e) => format!("list of {}", constraint_name(e)),
        Type::Set(e) => format!("set of {}", constraint_name(e)),
        Type::Map(e) => format!("map of {}", constraint_name(e)),
        other => other.friendly_name(),
    }
}

fn to_type(args: &[Value], want: &Type) -> FnResult {
    let Some(v) = args.first() else {
        return Err(FnError::new("missing argument"));
    };
    match convert(v, want) {
        Ok(out) => Ok(out),
        Err(_) => {
            let sensitive = v.contains_sensitive();
            let (plain, _) = v.clone().unmark_deep();
            let got = plain.ty();
            let msg = if sensitive {
                format!(
                    "cannot convert this sensitive {} to {}",
                    got.friendly_name(),
                    constraint_name(want)
                )
            } else {
                match (&got, want, plain.as_str()) {
                    (Type::String, Type::Bool, s) => format!(
                        "cannot convert {} to bool; only the strings \"true\" or \"false\" are allowed",
                        s.map(go_quote).unwrap_or_else(|| "string".into())
                    ),
                    (Type::String, Type::Number, s) => format!(
                        "cannot convert {} to number; given string must be a decimal representation of a number",
                        s.map(go_quote).unwrap_or_else(|| "string".into())
                    ),
                    _ => format!(
                        "cannot convert {} to {}",
                        got.friendly_name(),
                        constraint_name(want)
                    ),
                }
            };
            Err(FnError::arg(
                0,
                format!("Invalid value for \"v\" parameter: {msg}."),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;
    use crate::number::Number;
    use std::collections::BTreeMap;

    fn s(x: &str) -> Value {
        Value::string(x)
    }
    fn err(name: &str, v: Value) -> String {
        call_fn(name, vec![v]).expect_err("fails").message
    }

    #[test]
    fn tostring_cases() {
        let v = call_fn(
            "tostring",
            vec![Value::number(Number::parse("1.50").expect("n"))],
        )
        .expect("ok");
        assert_eq!(v.as_str(), Some("1.5"));
        let v = call_fn("tostring", vec![Value::dynamic_null()]).expect("ok");
        assert!(v.is_null());
        assert_eq!(v.ty(), Type::String);
        assert_eq!(
            err("tostring", Value::tuple(vec![Value::int(1)])),
            "Invalid value for \"v\" parameter: cannot convert tuple to string."
        );
        let v = call_fn("tostring", vec![Value::int(1).mark_sensitive()]).expect("ok");
        assert!(v.is_sensitive());
        let v = call_fn("tostring", vec![Value::unknown(Type::Number)]).expect("ok");
        assert!(!v.is_known());
        assert_eq!(v.ty(), Type::String);
    }

    #[test]
    fn tonumber_and_tobool() {
        let v = call_fn("tonumber", vec![s("1e3")]).expect("ok");
        assert_eq!(v.as_number().map(ToString::to_string), Some("1000".into()));
        assert_eq!(
            err("tonumber", s("0x10")),
            "Invalid value for \"v\" parameter: cannot convert \"0x10\" to number; given string must be a decimal representation of a number."
        );
        assert_eq!(
            err("tonumber", s("x").mark_sensitive()),
            "Invalid value for \"v\" parameter: cannot convert this sensitive string to number."
        );
        assert_eq!(
            err("tonumber", Value::bool(true)),
            "Invalid value for \"v\" parameter: cannot convert bool to number."
        );
        assert_eq!(
            err("tobool", s("yes")),
            "Invalid value for \"v\" parameter: cannot convert \"yes\" to bool; only the strings \"true\" or \"false\" are allowed."
        );
        assert_eq!(
            call_fn("tobool", vec![s("true")]).expect("ok").as_bool(),
            Some(true)
        );
        assert_eq!(
            err("tobool", Value::int(1)),
            "Invalid value for \"v\" parameter: cannot convert number to bool."
        );
    }

    #[test]
    fn collections() {
        let v = call_fn("tolist", vec![Value::tuple(vec![Value::int(1), s("a")])]).expect("ok");
        assert_eq!(v.ty(), Type::list(Type::String));
        assert_eq!(
            err(
                "tolist",
                Value::tuple(vec![Value::int(1), Value::bool(true)])
            ),
            "Invalid value for \"v\" parameter: cannot convert tuple to list of any single type."
        );
        assert_eq!(
            err("tolist", Value::int(1)),
            "Invalid value for \"v\" parameter: cannot convert number to list of any single type."
        );
        let v = call_fn(
            "toset",
            vec![Value::tuple(vec![Value::int(1), s("a"), Value::int(1)])],
        )
        .expect("ok");
        assert_eq!(v.ty(), Type::set(Type::String));
        assert_eq!(v.length(), Some(2));
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::int(1));
        m.insert("b".to_string(), s("x"));
        let v = call_fn("tomap", vec![Value::object(m)]).expect("ok");
        assert_eq!(v.ty(), Type::map(Type::String));
        assert_eq!(
            err("tomap", Value::tuple(vec![Value::int(1)])),
            "Invalid value for \"v\" parameter: cannot convert tuple to map of any single type."
        );
    }
}
