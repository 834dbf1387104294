//! The function library: one registry of every built-in function, each declared with its
//! parameters (type, and whether it accepts null, unknown and sensitive values) and an
//! implementation over known values.
//!
//! The call machinery here applies go-cty's rules uniformly so implementations stay simple:
//! arguments are converted to the parameter types, an unknown argument makes the result
//! unknown (unless the parameter allows unknowns), and sensitive marks are removed before the
//! call and put back on the result. Implementations must not print or log argument values.

mod collections;
mod conversion;
mod datetime;
mod encoding;
mod filesystem;
mod hash;
mod ipnet;
mod numeric;
mod sensitivity;
mod strings;
mod tfprovider;

pub use strings::go_quote;

use crate::convert::convert;
use crate::types::Type;
use crate::value::Value;
use baton_core::Sources;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What an implementation may know about where it runs.
pub struct FnCtx<'a> {
    /// The run's working directory, absolute: relative paths given to filesystem functions
    /// resolve against it and `abspath` joins to it. The engine passes the configuration
    /// directory (Terraform's working directory after `-chdir`); nothing reads the process's
    /// working directory, so runs in different directories can share a process.
    pub base_dir: &'a std::path::Path,
    /// Where `templatefile` registers the files it reads, for diagnostics.
    pub sources: &'a Sources,
    /// During planning, impure functions (`timestamp`, `uuid`) return unknown values.
    pub planning: bool,
    /// What `plantimestamp()` returns: the RFC 3339 time the run's plan was made, the same
    /// while planning and while applying that plan. `None` outside a plan (validate,
    /// constants), where it is unknown.
    pub plan_timestamp: Option<&'a str>,
}

/// A function failure: a message for the user, and which argument caused it, if one did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnError {
    pub message: String,
    pub arg: Option<usize>,
}

impl FnError {
    pub fn new(message: impl Into<String>) -> FnError {
        FnError {
            message: message.into(),
            arg: None,
        }
    }
    pub fn arg(arg: usize, message: impl Into<String>) -> FnError {
        FnError {
            message: message.into(),
            arg: Some(arg),
        }
    }
}

pub type FnResult = Result<Value, FnError>;
pub type Impl = fn(&FnCtx<'_>, &[Value]) -> FnResult;

#[derive(Clone, Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Type,
    pub allow_null: bool,
    pub allow_unknown: bool,
    pub allow_marked: bool,
}

impl Param {
    pub fn new(name: &'static str, ty: Type) -> Param {
        Param {
            name,
            ty,
            allow_null: false,
            allow_unknown: false,
            allow_marked: false,
        }
    }
    pub fn nullable(mut self) -> Param {
        self.allow_null = true;
        self
    }
    pub fn unknowns(mut self) -> Param {
        self.allow_unknown = true;
        self
    }
    pub fn marked(mut self) -> Param {
        self.allow_marked = true;
        self
    }
}

/// The result type, used for the unknown result when an argument is unknown.
#[derive(Clone, Debug)]
pub enum Ret {
    Fixed(Type),
    /// Depends on the arguments; an unknown result is of unknown type.
    Dynamic,
    /// The same type as argument N.
    SameAsArg(usize),
}

#[derive(Clone, Debug)]
pub struct Function {
    pub name: &'static str,
    pub params: Vec<Param>,
    pub variadic: Option<Param>,
    pub ret: Ret,
    pub imp: Impl,
    /// True for functions whose result may differ between calls (timestamp, uuid...).
    pub impure: bool,
}

impl Function {
    pub fn new(name: &'static str, params: Vec<Param>, ret: Ret, imp: Impl) -> Function {
        Function {
            name,
            params,
            variadic: None,
            ret,
            imp,
            impure: false,
        }
    }
    pub fn variadic(mut self, p: Param) -> Function {
        self.variadic = Some(p);
        self
    }
    pub fn impure(mut self) -> Function {
        self.impure = true;
        self
    }
}

/// A named registry of functions.
pub struct Registry {
    funcs: HashMap<&'static str, Function>,
}

impl Registry {
    fn new() -> Registry {
        let mut r = Registry {
            funcs: HashMap::new(),
        };
        strings::register(&mut r);
        collections::register(&mut r);
        conversion::register(&mut r);
        encoding::register(&mut r);
        filesystem::register(&mut r);
        hash::register(&mut r);
        numeric::register(&mut r);
        datetime::register(&mut r);
        ipnet::register(&mut r);
        sensitivity::register(&mut r);
        tfprovider::register(&mut r);
        r.add(Function::new(
            "templatestring",
            vec![
                Param::new("template", Type::String),
                Param::new("vars", Type::Dynamic),
            ],
            Ret::Dynamic,
            |_, _| {
                Err(FnError::new(
                    "templatestring must be called through the evaluator",
                ))
            },
        ));
        r
    }

    pub fn add(&mut self, f: Function) {
        self.funcs.insert(f.name, f);
    }

    pub fn get(&self, name: &str) -> Option<&Function> {
        let name = name.strip_prefix("core::").unwrap_or(name);
        self.funcs.get(name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.funcs.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

/// The built-in library (built once).
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::new)
}

/// Calls `f` with `args` under go-cty's rules for conversion, nulls, unknowns and marks.
pub fn call(f: &Function, ctx: &FnCtx<'_>, args: Vec<Value>) -> FnResult {
    let min = f.params.len();
    if args.len() < min {
        let missing = &f.params[args.len()];
        return Err(FnError::new(format!(
            "Not enough function arguments: function \"{}\" expects {}{} argument(s). Missing value for \"{}\".",
            f.name,
            if f.variadic.is_some() { "at least " } else { "" },
            min,
            missing.name
        )));
    }
    if f.variadic.is_none() && args.len() > min {
        return Err(FnError::arg(
            min,
            format!(
                "Too many function arguments: function \"{}\" expects only {} argument(s).",
                f.name, min
            ),
        ));
    }
    let mut sensitive = false;
    let mut unknown = false;
    let mut prepared = Vec::with_capacity(args.len());
    for (i, a) in args.into_iter().enumerate() {
        let p = f
            .params
            .get(i)
            .or(f.variadic.as_ref())
            .ok_or_else(|| FnError::arg(i, "too many arguments"))?;
        let a = if p.ty == Type::Dynamic {
            a
        } else {
            convert(&a, &p.ty).map_err(|e| {
                FnError::arg(
                    i,
                    format!("Invalid value for \"{}\" parameter: {e}.", p.name),
                )
            })?
        };
        if a.is_null() && !p.allow_null {
            return Err(FnError::arg(
                i,
                format!(
                    "Invalid value for \"{}\" parameter: argument must not be null.",
                    p.name
                ),
            ));
        }
        let a = if p.allow_marked {
            a
        } else {
            let (a, s) = a.unmark_deep();
            sensitive |= s;
            a
        };
        if !p.allow_unknown && !a.is_wholly_known() {
            unknown = true;
        }
        prepared.push(a);
    }
    if unknown || (f.impure && ctx.planning) {
        let t = match &f.ret {
            Ret::Fixed(t) => t.clone(),
            Ret::Dynamic => Type::Dynamic,
            Ret::SameAsArg(i) => prepared.get(*i).map(Value::ty).unwrap_or(Type::Dynamic),
        };
        return Ok(Value::unknown(t).with_sensitive(sensitive));
    }
    let out = (f.imp)(ctx, &prepared)?;
    Ok(out.with_sensitive(sensitive))
}

/// Helpers shared by the implementations.
pub(crate) mod util {
    use super::FnError;
    use crate::number::Number;
    use crate::value::Value;

    pub fn str_arg(args: &[Value], i: usize) -> Result<&str, FnError> {
        args.get(i)
            .and_then(Value::as_str)
            .ok_or_else(|| FnError::arg(i, "a string is required"))
    }

    pub fn num_arg(args: &[Value], i: usize) -> Result<&Number, FnError> {
        args.get(i)
            .and_then(Value::as_number)
            .ok_or_else(|| FnError::arg(i, "a number is required"))
    }

    /// A whole number argument that fits an i64.
    pub fn int_arg(args: &[Value], i: usize) -> Result<i64, FnError> {
        let n = num_arg(args, i)?;
        n.to_i64()
            .ok_or_else(|| FnError::arg(i, "a whole number is required"))
    }

    pub fn string(s: impl Into<std::sync::Arc<str>>) -> Result<Value, FnError> {
        Ok(Value::string(s))
    }
}

/// `templatefile(path, vars)`: needs the evaluator, so it is dispatched here rather than
/// through the registry's plain implementations (the registry entry declares its signature).
pub(crate) fn templatefile(
    ev: &mut crate::eval::Evaluator<'_>,
    args: &[Value],
    arg_spans: &[baton_core::Span],
    span: baton_core::Span,
) -> Result<Value, baton_core::Diagnostic> {
    use baton_core::Diagnostic;
    let bad = |i: usize, msg: String| {
        Diagnostic::error(
            "Invalid function argument",
            format!("Call to function \"templatefile\" failed: {msg}"),
        )
        .at(arg_spans.get(i).copied().unwrap_or(span))
    };
    if args.len() != 2 {
        return Err(Diagnostic::error(
            "Invalid function argument",
            "Call to function \"templatefile\" failed: it takes exactly two arguments, a path and an object of variables.",
        )
        .at(span));
    }
    let (path_v, ps) = args[0].clone().unmark();
    let (vars_v, vs) = args[1].clone().unmark();
    if !path_v.is_known() || !vars_v.is_wholly_known() {
        return Ok(Value::unknown(Type::Dynamic).with_sensitive(ps || vs));
    }
    let path = convert(&path_v, &Type::String)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| bad(0, "the path must be a string.".into()))?;
    let vars = match vars_v.as_entries() {
        Some(m) => m.clone(),
        None if vars_v.is_null() => Default::default(),
        None => {
            return Err(bad(
                1,
                "the vars argument must be a map or an object.".into(),
            ))
        }
    };
    for k in vars.keys() {
        if !crate::is_identifier(k) {
            return Err(bad(1, format!("invalid template variable name {k:?}: must start with a letter, followed by zero or more letters, digits, and underscores.")));
        }
    }
    let full = ev.fn_ctx().base_dir.join(&path);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        bad(
            0,
            format!("no file exists at {path:?}, or it cannot be read: {e}."),
        )
    })?;
    let sources = ev.fn_ctx().sources.clone();
    let id = sources.add(path.clone(), &full, text.clone());
    let tpl = baton_config::syntax::parse_template(id, &text)?;
    let symbols: Vec<(String, Value)> = vars.into_iter().collect();
    let ctx = FnCtx {
        base_dir: ev.fn_ctx().base_dir,
        sources: &sources,
        planning: ev.fn_ctx().planning,
        plan_timestamp: ev.fn_ctx().plan_timestamp,
    };
    let mut inner =
        crate::eval::Evaluator::new(&crate::eval::EmptyScope, ctx).with_symbols(symbols);
    let out = inner.eval(&tpl)?;
    Ok(out.with_sensitive(ps || vs))
}

/// `templatestring(ref, vars)`: renders a string value as a template with `vars` in scope.
pub(crate) fn templatestring(
    ev: &mut crate::eval::Evaluator<'_>,
    args: &[Value],
    arg_spans: &[baton_core::Span],
    span: baton_core::Span,
) -> Result<Value, baton_core::Diagnostic> {
    use baton_core::Diagnostic;
    let bad = |i: usize, msg: String| {
        Diagnostic::error(
            "Invalid function argument",
            format!("Call to function \"templatestring\" failed: {msg}"),
        )
        .at(arg_spans.get(i).copied().unwrap_or(span))
    };
    if args.len() != 2 {
        return Err(bad(
            0,
            "it takes exactly two arguments, a template string and an object of variables.".into(),
        ));
    }
    let (tpl_v, ts) = args[0].clone().unmark();
    let (vars_v, vs) = args[1].clone().unmark();
    if !tpl_v.is_known() || !vars_v.is_wholly_known() {
        return Ok(Value::unknown(Type::Dynamic).with_sensitive(ts || vs));
    }
    let text = tpl_v
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| bad(0, "the template must be a string.".into()))?;
    let vars = match vars_v.as_entries() {
        Some(m) => m.clone(),
        None => {
            return Err(bad(
                1,
                "the vars argument must be a map or an object.".into(),
            ))
        }
    };
    let sources = ev.fn_ctx().sources.clone();
    let id = sources.add(
        "<templatestring>",
        std::path::Path::new("<templatestring>"),
        text.clone(),
    );
    let tpl = baton_config::syntax::parse_template(id, &text)?;
    let ctx = FnCtx {
        base_dir: ev.fn_ctx().base_dir,
        sources: &sources,
        planning: ev.fn_ctx().planning,
        plan_timestamp: ev.fn_ctx().plan_timestamp,
    };
    let mut inner = crate::eval::Evaluator::new(&crate::eval::EmptyScope, ctx)
        .with_symbols(vars.into_iter().collect());
    let out = inner.eval(&tpl)?;
    Ok(out.with_sensitive(ts || vs))
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// What `plantimestamp()` returns in [`call_fn`].
    pub const TEST_PLAN_TIMESTAMP: &str = "2024-05-06T07:08:09Z";

    /// The base directory of [`call_fn`]'s context: this crate's directory, fixed at build
    /// time (not the process's working directory).
    pub const TEST_BASE_DIR: &str = env!("CARGO_MANIFEST_DIR");

    /// Calls a function by name on values, in a planning-free context rooted at
    /// [`TEST_BASE_DIR`].
    pub fn call_fn(name: &str, args: Vec<Value>) -> FnResult {
        let f = registry()
            .get(name)
            .ok_or_else(|| FnError::new(format!("no function {name}")))?;
        let sources = Sources::new();
        let ctx = FnCtx {
            base_dir: std::path::Path::new(TEST_BASE_DIR),
            sources: &sources,
            planning: false,
            plan_timestamp: Some(TEST_PLAN_TIMESTAMP),
        };
        call(f, &ctx, args)
    }
}
