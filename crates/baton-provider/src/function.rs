//! Provider-defined functions (`provider::NAME::FN(...)` in the configuration): the
//! [`ProviderFunction`] contract, its [`Signature`], and [`call`], the one place where the
//! arguments are checked against the signature before the function sees them (arity, nulls,
//! conversion to the parameter types, unknown arguments, sensitive marks), as Terraform does
//! before it sends CallFunction.
//!
//! Must not know where a function comes from (built in, a plugin): a [`crate::Registry`] lists
//! them by provider. Functions are pure: no provider configuration reaches them.

use baton_eval::convert::convert;
pub use baton_eval::functions::FnError;
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
    /// (see [`call`]). An error carries the function's own text and, when one argument is at
    /// fault, its index ([`FnError::arg`]), as a plugin's FunctionError does; [`call`] words
    /// it as Terraform does.
    fn call(&self, args: &[Value]) -> Result<Value, FnError>;
}

/// Calls `f` (named `name` in messages: `provider::NAME::FN`) with `args` as a configuration
/// wrote them, under the rules and with the messages of the built-in functions and Terraform:
/// the wrong number of arguments or a null where the parameter refuses one is an error; the
/// arguments are converted to the parameter types; any argument not wholly known makes the
/// result an unknown of the return type without a call; the result is sensitive when any
/// argument was.
pub fn call(f: &dyn ProviderFunction, name: &str, args: &[Value]) -> Result<Value, FnError> {
    let sig = f.signature();
    let min = sig.params.len();
    if let Some(missing) = sig.params.get(args.len()) {
        return Err(FnError::new(format!(
            "Not enough function arguments: function \"{name}\" expects {}{min} argument(s). Missing value for \"{}\".",
            if sig.variadic.is_some() { "at least " } else { "" },
            missing.name
        )));
    }
    if sig.variadic.is_none() && args.len() > min {
        return Err(FnError::arg(
            min,
            format!(
                "Too many function arguments: function \"{name}\" expects only {min} argument(s)."
            ),
        ));
    }
    let mut sensitive = false;
    let mut known = true;
    let mut converted = Vec::with_capacity(args.len());
    let mut params = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let Some(param) = sig.params.get(i).or(sig.variadic.as_ref()) else {
            return Err(FnError::arg(i, "too many arguments"));
        };
        let invalid = |text: &dyn std::fmt::Display| {
            FnError::arg(
                i,
                format!("Invalid value for \"{}\" parameter: {text}.", param.name),
            )
        };
        let (arg, s) = arg.clone().unmark_deep();
        sensitive |= s;
        let arg = if param.ty == Type::Dynamic {
            arg
        } else {
            convert(&arg, &param.ty).map_err(|e| invalid(&e))?
        };
        if arg.is_null() && !param.allow_null {
            return Err(invalid(&"argument must not be null"));
        }
        known &= arg.is_wholly_known();
        converted.push(arg);
        params.push(param.name.as_str());
    }
    if !known {
        return Ok(Value::unknown(sig.ret.clone()).with_sensitive(sensitive));
    }
    let result = f.call(&converted).map_err(|e| match e.arg {
        Some(i) => FnError::arg(
            i,
            format!(
                "Invalid value for \"{}\" parameter: {}.",
                params.get(i).copied().unwrap_or("?"),
                e.message
            ),
        ),
        None => FnError::new(format!("{}.", e.message)),
    })?;
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

        fn call(&self, args: &[Value]) -> Result<Value, FnError> {
            let sep = args[0].as_str().unwrap_or("");
            if sep == "!" {
                return Err(FnError::arg(0, "not a separator"));
            }
            if sep == "?" {
                return Err(FnError::new("no questions"));
            }
            let parts: Vec<&str> = args[1..].iter().filter_map(Value::as_str).collect();
            Ok(Value::string(parts.join(sep)))
        }
    }

    #[test]
    fn arguments_are_checked_and_converted_before_the_call() {
        let s = Value::string;
        let join = |args: &[Value]| call(&Join, "provider::t::join", args);
        let joined = join(&[s("-"), s("a"), Value::int(1)]).expect("call");
        assert_eq!(joined.as_str(), Some("a-1"));
        let joined = join(&[Value::null(Type::String), s("a"), s("b")]).expect("call");
        assert_eq!(joined.as_str(), Some("ab"));

        let err = join(&[]).expect_err("too few");
        assert_eq!(err.message, "Not enough function arguments: function \"provider::t::join\" expects at least 1 argument(s). Missing value for \"sep\".");
        let err = join(&[s("-"), Value::null(Type::String)]).expect_err("null part");
        assert_eq!(
            err,
            FnError::arg(
                1,
                "Invalid value for \"parts\" parameter: argument must not be null."
            )
        );
        let err = join(&[s("-"), Value::empty_object()]).expect_err("not a string");
        assert_eq!(err.arg, Some(1));
        assert!(
            err.message.starts_with("Invalid value for \"parts\""),
            "{err:?}"
        );

        // The function's own errors, worded as Terraform words a plugin's FunctionError.
        let err = join(&[s("!"), s("a")]).expect_err("refused");
        assert_eq!(
            err,
            FnError::arg(0, "Invalid value for \"sep\" parameter: not a separator.")
        );
        let err = join(&[s("?")]).expect_err("refused");
        assert_eq!(err, FnError::new("no questions."));

        let unknown = join(&[s("-"), Value::unknown(Type::String)]).expect("unknown");
        assert!(!unknown.is_known());
        assert_eq!(unknown.ty(), Type::String);
        let secret = join(&[s("-"), s("a").with_sensitive(true)]).expect("sensitive");
        assert!(secret.contains_sensitive());
        assert_eq!(secret.unmark().0.as_str(), Some("a"));
    }
}
