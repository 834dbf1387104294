//! The sensitivity functions of Terraform's library: `sensitive`, `nonsensitive`,
//! `issensitive` and `ephemeralasnull`.
//!
//! These functions see their argument with its marks (and possibly unknown or null): they
//! only look at or change the *top-level* sensitive mark, as Terraform does. Baton has no
//! ephemeral values, so `ephemeralasnull` returns its argument unchanged. Implementations
//! must never log argument values.

use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::types::Type;
use crate::value::Value;

pub(super) fn register(r: &mut Registry) {
    let p = || {
        vec![Param::new("value", Type::Dynamic)
            .nullable()
            .unknowns()
            .marked()]
    };
    r.add(Function::new(
        "sensitive",
        p(),
        Ret::SameAsArg(0),
        sensitive,
    ));
    r.add(Function::new(
        "nonsensitive",
        p(),
        Ret::SameAsArg(0),
        nonsensitive,
    ));
    r.add(Function::new(
        "issensitive",
        p(),
        Ret::Fixed(Type::Bool),
        issensitive,
    ));
    r.add(Function::new(
        "ephemeralasnull",
        p(),
        Ret::SameAsArg(0),
        ephemeralasnull,
    ));
}

fn first(args: &[Value]) -> Result<&Value, FnError> {
    args.first().ok_or_else(|| FnError::new("missing argument"))
}

fn sensitive(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(first(args)?.clone().mark_sensitive())
}

fn nonsensitive(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(first(args)?.clone().unmark().0)
}

fn issensitive(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let v = first(args)?;
    if v.is_sensitive() {
        Ok(Value::bool(true))
    } else if !v.is_known() {
        Ok(Value::unknown(Type::Bool))
    } else {
        Ok(Value::bool(false))
    }
}

fn ephemeralasnull(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(first(args)?.clone())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;

    #[test]
    fn sensitive_marks_top_level() {
        let v = call_fn("sensitive", vec![Value::int(1)]).expect("ok");
        assert!(v.is_sensitive());
        let v = call_fn("sensitive", vec![Value::unknown(Type::String)]).expect("ok");
        assert!(v.is_sensitive() && !v.is_known());
        let v = call_fn("sensitive", vec![Value::null(Type::Number)]).expect("ok");
        assert!(v.is_sensitive() && v.is_null());
    }

    #[test]
    fn nonsensitive_removes_only_the_top_mark() {
        let v = call_fn("nonsensitive", vec![Value::int(1).mark_sensitive()]).expect("ok");
        assert!(!v.is_sensitive());
        let v = call_fn("nonsensitive", vec![Value::string("a")]).expect("ok");
        assert_eq!(v.as_str(), Some("a"));
        let inner = Value::tuple(vec![Value::int(1).mark_sensitive()]);
        let v = call_fn("nonsensitive", vec![inner]).expect("ok");
        assert!(v.contains_sensitive());
    }

    #[test]
    fn issensitive_cases() {
        let t = |v: Value| call_fn("issensitive", vec![v]).expect("ok");
        assert_eq!(t(Value::int(1).mark_sensitive()).as_bool(), Some(true));
        assert_eq!(t(Value::int(1)).as_bool(), Some(false));
        assert_eq!(
            t(Value::tuple(vec![Value::int(1).mark_sensitive()])).as_bool(),
            Some(false)
        );
        assert!(!t(Value::unknown(Type::String)).is_known());
        assert_eq!(
            t(Value::unknown(Type::String).mark_sensitive()).as_bool(),
            Some(true)
        );
    }

    #[test]
    fn ephemeralasnull_is_identity() {
        let v = call_fn("ephemeralasnull", vec![Value::int(1).mark_sensitive()]).expect("ok");
        assert!(v.is_sensitive());
        assert_eq!(v.as_number().map(ToString::to_string), Some("1".into()));
        assert!(call_fn("ephemeralasnull", vec![Value::dynamic_null()])
            .expect("ok")
            .is_null());
    }
}
