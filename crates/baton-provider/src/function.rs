//! Provider-defined functions (`provider::NAME::FN(...)` in the configuration): the
//! [`ProviderFunction`] contract, its [`Signature`], and [`call`], the one place where the
//! arguments are checked against the signature before the function sees them (arity, nulls,
//! conversion to the parameter types, unknown arguments, sensitive marks), as Terraform does
//! before it sends CallFunction.
//!
//! Must not know where a function comes from (built in, a plugin): a [`crate::Registry`] lists
//! them by provider. Functions are pure: no provider configuration reaches them.

use baton_eval::{Type, Value};

/// One parameter of a provider function.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: Type,
    /// Whether a null argument may be passed (otherwise it is refused before the call).
    pub allow_null: bool,
}

/// What a provider function takes and returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    pub params: Vec<Param>,
    /// A final parameter taking zero or more further arguments of its type.
    pub variadic: Option<Param>,
    pub ret: Type,
}

/// A function a provider offers.
pub trait ProviderFunction: Send + Sync {
    fn signature(&self) -> Signature;
    /// Called with wholly known, unmarked arguments already converted to the parameter types
    /// (see [`call`]). An `Err` is the function's own message.
    fn call(&self, args: &[Value]) -> Result<Value, String>;
}

/// Calls `f` with `args` as a configuration wrote them: the wrong number of arguments or a
/// null where the parameter refuses one is an error; the arguments are converted to the
/// parameter types; any argument not wholly known makes the result an unknown of the return
/// type without a call; the result is sensitive when any argument was.
pub fn call(f: &dyn ProviderFunction, args: &[Value]) -> Result<Value, String> {
    let sig = f.signature();
    let n = sig.params.len();
    if args.len() < n || (sig.variadic.is_none() && args.len() > n) {
        return Err(format!(
            "takes {n}{} argument{}, not {}",
            if sig.variadic.is_some() {
                " or more"
            } else {
                ""
            },
            if n == 1 && sig.variadic.is_none() {
                ""
            } else {
                "s"
            },
            args.len()
        ));
    }
    let mut sensitive = false;
    let mut known = true;
    let mut converted = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let Some(param) = sig.params.get(i).or(sig.variadic.as_ref()) else {
            return Err(format!("takes {n} arguments, not {}", args.len()));
        };
        let (arg, s) = arg.clone().unmark_deep();
        sensitive |= s;
        if arg.is_null() && !param.allow_null {
            return Err(format!(
                "argument {} ({}) must not be null",
                i + 1,
                param.name
            ));
        }
        known &= arg.is_wholly_known();
        let arg = baton_eval::convert::convert(&arg, &param.ty)
            .map_err(|e| format!("argument {} ({}): {e}", i + 1, param.name))?;
        converted.push(arg);
    }
    let result = if known {
        f.call(&converted)?
    } else {
        Value::unknown(sig.ret.clone())
    };
    Ok(result.with_sensitive(sensitive))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `join(sep, parts...)`; `sep` may be null (then "").
    struct Join;

    impl ProviderFunction for Join {
        fn signature(&self) -> Signature {
            Signature {
                params: vec![Param {
                    name: "sep".to_string(),
                    ty: Type::String,
                    allow_null: true,
                }],
                variadic: Some(Param {
                    name: "parts".to_string(),
                    ty: Type::String,
                    allow_null: false,
                }),
                ret: Type::String,
            }
        }

        fn call(&self, args: &[Value]) -> Result<Value, String> {
            let sep = args[0].as_str().unwrap_or("");
            let parts: Vec<&str> = args[1..].iter().filter_map(Value::as_str).collect();
            Ok(Value::string(parts.join(sep)))
        }
    }

    #[test]
    fn arguments_are_checked_and_converted_before_the_call() {
        let s = Value::string;
        let joined = call(&Join, &[s("-"), s("a"), Value::int(1)]).expect("call");
        assert_eq!(joined.as_str(), Some("a-1"));
        let joined = call(&Join, &[Value::null(Type::String), s("a"), s("b")]).expect("call");
        assert_eq!(joined.as_str(), Some("ab"));

        let err = call(&Join, &[]).expect_err("too few");
        assert_eq!(err, "takes 1 or more arguments, not 0");
        let err = call(&Join, &[s("-"), Value::null(Type::String)]).expect_err("null part");
        assert_eq!(err, "argument 2 (parts) must not be null");
        let err = call(&Join, &[s("-"), Value::empty_object()]).expect_err("not a string");
        assert!(err.starts_with("argument 2 (parts)"), "{err}");

        let unknown = call(&Join, &[s("-"), Value::unknown(Type::String)]).expect("unknown");
        assert!(!unknown.is_known());
        assert_eq!(unknown.ty(), Type::String);
        let secret = call(&Join, &[s("-"), s("a").with_sensitive(true)]).expect("sensitive");
        assert!(secret.contains_sensitive());
        assert_eq!(secret.unmark().0.as_str(), Some("a"));
    }
}
