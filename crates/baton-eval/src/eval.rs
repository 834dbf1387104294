//! The expression evaluator: an [`Expr`] plus a [`Scope`] (what references resolve to) gives a
//! [`Value`] or a diagnostic pointing at the offending sub-expression.
//!
//! Semantics are HCL's as Terraform uses them: operands convert to the operator's type,
//! `==` compares without conversion, `&&`/`||` do not short-circuit, a conditional's unchosen
//! branch only contributes its type, unknown and sensitive marks propagate through everything.
//! The evaluator performs no I/O except through filesystem functions, and never puts a
//! sensitive value into a diagnostic.

use crate::convert::{convert, unify};
use crate::functions::{self, FnCtx};
use crate::number::Number;
use crate::ops;
use crate::refs::{parse_reference, root_span, RefAt};
use crate::types::Type;
use crate::value::{Kind, Value};
use baton_config::{BinaryOp, Expr, ExprKind, ObjectKey, TemplatePart, TraversalStep, UnaryOp};
use baton_core::{Diagnostic, Span};
use std::collections::BTreeMap;

/// Resolves references to values. Implemented by the engine for each evaluation site.
pub trait Scope {
    fn get(&self, r: &RefAt) -> Result<Value, Diagnostic>;
    /// Whether the module declares the provider `local_name` in `required_providers` (its
    /// functions, `provider::NAME::f`, are available only then).
    fn provider_declared(&self, _local_name: &str) -> bool {
        true
    }
    /// Calls function `name` of provider `provider` (`provider::PROVIDER::NAME(args)`), if
    /// this scope knows it: `None` leaves the call to the built-in function table. Errors are
    /// worded and attributed (`FnError::arg`) as the built-in functions' are.
    fn provider_function(
        &self,
        _provider: &str,
        _name: &str,
        _args: &[Value],
    ) -> Option<functions::FnResult> {
        None
    }
}

/// A scope in which no reference is valid (constants, `templatefile` bodies).
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn get(&self, r: &RefAt) -> Result<Value, Diagnostic> {
        Err(Diagnostic::error(
            "Invalid reference",
            format!(
                "{} cannot be used here: references are not allowed in this context.",
                r.reference
            ),
        )
        .at(r.span))
    }
}

pub struct Evaluator<'a> {
    scope: &'a dyn Scope,
    fn_ctx: FnCtx<'a>,
    /// Names bound by `for` expressions and directives, innermost last.
    symbols: Vec<(String, Value)>,
    /// The current element inside a splat's per-element expression.
    splat: Vec<Value>,
}

type R = Result<Value, Diagnostic>;

/// A function call's arguments, evaluated.
enum CallArgs {
    /// The values, with the span each came from.
    Evaluated(Vec<Value>, Vec<Span>),
    /// The expanding (`...`) argument is unknown: so is the call, which is this value.
    UnknownExpansion(Value),
}

fn sens(v: Value, s: bool) -> Value {
    v.with_sensitive(s)
}

impl<'a> Evaluator<'a> {
    pub fn new(scope: &'a dyn Scope, fn_ctx: FnCtx<'a>) -> Evaluator<'a> {
        Evaluator {
            scope,
            fn_ctx,
            symbols: Vec::new(),
            splat: Vec::new(),
        }
    }

    /// Binds extra names visible to every expression (used by `templatefile`).
    pub fn with_symbols(mut self, symbols: Vec<(String, Value)>) -> Evaluator<'a> {
        self.symbols = symbols;
        self
    }

    /// Binds a name for the expressions evaluated next (e.g. a `dynamic` block iterator).
    pub fn push_symbol(&mut self, name: &str, v: Value) {
        self.symbols.push((name.to_string(), v));
    }

    /// Removes the most recently bound name.
    pub fn pop_symbol(&mut self) {
        self.symbols.pop();
    }

    pub fn fn_ctx(&self) -> &FnCtx<'a> {
        &self.fn_ctx
    }

    pub fn eval(&mut self, e: &Expr) -> R {
        match &e.kind {
            ExprKind::Null => Ok(Value::dynamic_null()),
            ExprKind::Bool(b) => Ok(Value::bool(*b)),
            ExprKind::Number(text) => Number::parse(text).map(Value::number).ok_or_else(|| {
                Diagnostic::error(
                    "Invalid number literal",
                    format!("{text:?} is not a valid number."),
                )
                .at(e.span)
            }),
            ExprKind::String(s) => Ok(Value::string(s.as_str())),
            ExprKind::Template(parts) => self.template(parts),
            ExprKind::Tuple(items) => {
                let mut out = Vec::with_capacity(items.len());
                for x in items {
                    out.push(self.eval(x)?);
                }
                Ok(Value::tuple(out))
            }
            ExprKind::Object(items) => self.object(items),
            ExprKind::Var(_) | ExprKind::GetAttr(..) | ExprKind::Index(..) => self.traversal(e),
            ExprKind::Parens(x) => self.eval(x),
            ExprKind::SplatItem => self.splat.last().cloned().ok_or_else(|| {
                Diagnostic::error(
                    "Invalid splat",
                    "A splat item is only valid inside a splat expression.",
                )
                .at(e.span)
            }),
            ExprKind::Splat { source, each } => self.splat_expr(source, each, e.span),
            ExprKind::Call {
                name,
                args,
                expand_final,
            } => self.call(name, args, *expand_final, e.span),
            ExprKind::Conditional(c, t, f) => self.conditional(c, t, f, e.span),
            ExprKind::Unary(op, x) => {
                let v = self.eval(x)?;
                match op {
                    UnaryOp::Neg => ops::negate(&v),
                    UnaryOp::Not => ops::not(&v),
                }
                .map_err(|m| operand_error(&m, x.span, "operand"))
            }
            ExprKind::Binary(op, l, r) => {
                let lv = self.eval(l)?;
                let rv = self.eval(r)?;
                ops::binary(*op, &lv, &rv).map_err(|ops::OpError { message, side }| {
                    let (span, which) = match side {
                        ops::Side::Left => (l.span, "left operand"),
                        ops::Side::Right => (r.span, "right operand"),
                        ops::Side::Whole => (e.span, "operands"),
                    };
                    if matches!(side, ops::Side::Whole) {
                        Diagnostic::error(
                            if *op == BinaryOp::Div || *op == BinaryOp::Mod {
                                "Division by zero"
                            } else {
                                "Invalid operation"
                            },
                            message,
                        )
                        .at(span)
                    } else {
                        operand_error(&message, span, which)
                    }
                })
            }
            ExprKind::For(f) => self.for_expr(f, e.span),
        }
    }

    fn object(&mut self, items: &[(ObjectKey, Expr)]) -> R {
        let mut out = BTreeMap::new();
        let mut unknown_key = false;
        let mut sensitive = false;
        for (k, v) in items {
            let key = match k {
                ObjectKey::Ident(s) => s.clone(),
                ObjectKey::Expr(ke) => {
                    let kv = self.eval(ke)?;
                    if kv.is_null() {
                        return Err(Diagnostic::error(
                            "Null value as key",
                            "Can't use a null value as a key.",
                        )
                        .at(ke.span));
                    }
                    let (kv, s) = kv.unmark();
                    sensitive |= s;
                    if !kv.is_known() {
                        unknown_key = true;
                        self.eval(v)?;
                        continue;
                    }
                    match convert(&kv, &Type::String) {
                        Ok(s) => s.as_str().unwrap_or_default().to_string(),
                        Err(_) => {
                            return Err(Diagnostic::error(
                                "Incorrect key type",
                                format!("Can't use this value as a key: a string is required, but this is {}.", kv.ty().friendly_name()),
                            )
                            .at(ke.span))
                        }
                    }
                }
            };
            let val = self.eval(v)?;
            out.insert(key, val);
        }
        if unknown_key {
            return Ok(sens(Value::dynamic_unknown(), sensitive));
        }
        Ok(sens(Value::object(out), sensitive))
    }

    fn lookup_symbol(&self, name: &str) -> Option<&Value> {
        self.symbols
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn traversal(&mut self, e: &Expr) -> R {
        let Some((root, steps)) = e.as_traversal() else {
            // An index or attribute on a computed value.
            return match &e.kind {
                ExprKind::GetAttr(inner, name) => {
                    let v = self.eval(inner)?;
                    get_attr(&v, name, e.span)
                }
                ExprKind::Index(inner, key) => {
                    let v = self.eval(inner)?;
                    let k = self.eval(key)?;
                    index(&v, &k, e.span, key.span)
                }
                _ => Err(Diagnostic::error(
                    "Invalid expression",
                    "This expression is not valid here.",
                )
                .at(e.span)),
            };
        };
        let (mut v, consumed) = if let Some(v) = self.lookup_symbol(root) {
            (v.clone(), 0)
        } else {
            let rs = root_span(e);
            let r = parse_reference(root, rs, &steps)?;
            let consumed = r.consumed;
            (self.scope.get(&r)?, consumed)
        };
        for step in &steps[consumed..] {
            v = match step {
                TraversalStep::Attr(name, span) => get_attr(&v, name, *span)?,
                TraversalStep::Index(k, span) => {
                    let kv = self.eval(k)?;
                    index(&v, &kv, *span, k.span)?
                }
            };
        }
        Ok(v)
    }

    fn splat_expr(&mut self, source: &Expr, each: &Expr, span: Span) -> R {
        let src = self.eval(source)?;
        let (src, s) = src.unmark();
        if !src.is_known() {
            return Ok(sens(Value::dynamic_unknown(), s));
        }
        let (items, as_list) = match src.kind() {
            Kind::Null(_) => return Ok(sens(Value::empty_tuple(), s)),
            Kind::List(_, items) | Kind::Set(_, items) => (items.to_vec(), true),
            Kind::Tuple(items) => (items.to_vec(), false),
            // Any other value is treated as a one-element tuple.
            _ => (vec![src.clone()], false),
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            self.splat.push(item);
            let r = self.eval(each);
            self.splat.pop();
            out.push(r.map_err(|d| d.at_opt(Some(span)))?);
        }
        if as_list {
            let tys: Vec<Type> = out.iter().map(Value::ty).collect();
            if let Some(t) = unify(&tys) {
                let converted: Result<Vec<Value>, _> = out.iter().map(|v| convert(v, &t)).collect();
                if let Ok(c) = converted {
                    let et = if c.is_empty() { each_type(&src) } else { t };
                    return Ok(sens(Value::list(et, c), s));
                }
            }
        }
        Ok(sens(Value::tuple(out), s))
    }

    fn call(&mut self, name: &str, args: &[Expr], expand_final: bool, span: Span) -> R {
        let reg = functions::registry();
        let short = name.strip_prefix("core::").unwrap_or(name);
        if short == "try" || short == "can" {
            return self.try_or_can(short, args, span);
        }
        let provider_fn = name
            .strip_prefix("provider::")
            .map(|rest| rest.split_once("::").unwrap_or((rest, "")));
        if let Some((provider, func)) = provider_fn {
            if !self.scope.provider_declared(provider) {
                return Err(Diagnostic::error(
                    "Unknown provider function",
                    format!("There is no function named \"{name}\". Ensure that provider name \"{provider}\" is declared in this module's required_providers block, and that this provider offers a function named \"{func}\"."),
                )
                .at(span));
            }
        }
        let f = reg.get(name);
        if f.is_none() && provider_fn.is_none() {
            let detail = {
                let names = reg.names();
                match baton_config::model::suggest(name, &names) {
                    Some(s) => {
                        format!("There is no function named \"{name}\". Did you mean \"{s}\"?")
                    }
                    None => format!("There is no function named \"{name}\"."),
                }
            };
            return Err(Diagnostic::error("Call to unknown function", detail).at(span));
        }
        let (values, arg_spans) = match self.call_args(args, expand_final)? {
            CallArgs::Evaluated(values, spans) => (values, spans),
            CallArgs::UnknownExpansion(result) => return Ok(result),
        };
        let fn_error = |e: functions::FnError| {
            let at = e
                .arg
                .and_then(|i| arg_spans.get(i).copied())
                .unwrap_or(span);
            if e.arg.is_some() {
                Diagnostic::error("Invalid function argument", e.message).at(at)
            } else {
                Diagnostic::error(
                    "Error in function call",
                    format!("Call to function \"{name}\" failed: {}", e.message),
                )
                .at(at)
            }
        };
        if let Some((provider, func)) = provider_fn {
            if let Some(r) = self.scope.provider_function(provider, func, &values) {
                return r.map_err(fn_error);
            }
        }
        let Some(f) = f else {
            let detail = if name.contains("::") {
                format!("There is no function named \"{name}\". Provider-defined functions are not available.")
            } else {
                format!("There is no function named \"{name}\".")
            };
            return Err(Diagnostic::error("Call to unknown function", detail).at(span));
        };
        if f.name == "templatefile" {
            return crate::functions::templatefile(self, &values, &arg_spans, span);
        }
        if f.name == "templatestring" {
            return crate::functions::templatestring(self, &values, &arg_spans, span);
        }
        functions::call(f, &self.fn_ctx, values).map_err(fn_error)
    }

    /// A call's arguments, evaluated, with their spans (a final `...` argument expanded).
    fn call_args(&mut self, args: &[Expr], expand_final: bool) -> Result<CallArgs, Diagnostic> {
        let mut values = Vec::with_capacity(args.len());
        let mut arg_spans = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let v = self.eval(a)?;
            if expand_final && i == args.len() - 1 {
                let (v, s) = v.unmark();
                if v.is_null() {
                    return Err(Diagnostic::error(
                        "Invalid expanding argument value",
                        "The expanding argument (indicated by ...) must not be null.",
                    )
                    .at(a.span));
                }
                if !v.is_known() {
                    return Ok(CallArgs::UnknownExpansion(
                        Value::dynamic_unknown().with_sensitive(s),
                    ));
                }
                match v.as_seq() {
                    Some(items) => {
                        for x in items {
                            values.push(x.clone().with_sensitive(s));
                            arg_spans.push(a.span);
                        }
                    }
                    None => {
                        return Err(Diagnostic::error(
                            "Invalid expanding argument value",
                            "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
                        )
                        .at(a.span))
                    }
                }
            } else {
                values.push(v);
                arg_spans.push(a.span);
            }
        }
        Ok(CallArgs::Evaluated(values, arg_spans))
    }

    /// `try(a, b, ...)` returns the first argument that evaluates without error; `can(x)`
    /// says whether `x` evaluates without error. Both need the unevaluated arguments.
    fn try_or_can(&mut self, name: &str, args: &[Expr], span: Span) -> R {
        if name == "can" {
            let [a] = args else {
                return Err(Diagnostic::error(
                    "Invalid function argument",
                    "Call to function \"can\" failed: it takes exactly one argument.",
                )
                .at(span));
            };
            return Ok(match self.eval(a) {
                Ok(v) if !v.is_wholly_known() => Value::unknown(Type::Bool),
                Ok(_) => Value::bool(true),
                Err(_) => Value::bool(false),
            });
        }
        if args.is_empty() {
            return Err(Diagnostic::error(
                "Not enough function arguments",
                "Call to function \"try\" failed: at least one argument is required.",
            )
            .at(span));
        }
        let mut errors = Vec::new();
        for a in args {
            match self.eval(a) {
                Ok(v) if !v.is_wholly_known() => {
                    return Ok(Value::dynamic_unknown().with_sensitive(v.contains_sensitive()))
                }
                Ok(v) => return Ok(v),
                Err(d) => errors.push(d),
            }
        }
        let mut detail =
            String::from("Call to function \"try\" failed: no expression succeeded:\n");
        for d in &errors {
            detail.push_str(&format!("- {}\n  {}\n", d.summary, d.detail));
        }
        detail.push_str("\nAt least one expression must produce a successful result.");
        Err(Diagnostic::error("Error in function call", detail).at(span))
    }

    fn conditional(&mut self, c: &Expr, t: &Expr, f: &Expr, span: Span) -> R {
        let cv = self.eval(c)?;
        if cv.is_null() {
            return Err(Diagnostic::error(
                "Invalid condition result",
                "The condition value is null. Conditions must either be true or false.",
            )
            .at(c.span));
        }
        let (cv, cs) = cv.unmark();
        let cv = convert(&cv, &Type::Bool).map_err(|_| {
            Diagnostic::error(
                "Incorrect condition type",
                format!(
                    "The condition expression must be of type bool, not {}.",
                    cv.ty().friendly_name()
                ),
            )
            .at(c.span)
        })?;
        let chosen_true = cv.as_bool();
        let (chosen, other) = match chosen_true {
            Some(true) | None => (t, f),
            Some(false) => (f, t),
        };
        let cval = self.eval(chosen)?;
        // The other branch contributes its type only; its errors are ignored (as in Terraform)
        // unless the condition is unknown and both results are needed.
        let oval = match self.eval(other) {
            Ok(v) => Some(v),
            Err(d) if chosen_true.is_none() => return Err(d),
            Err(_) => None,
        };
        // HCL's rules: a literal `null` (untyped) takes the other result's type; a result of
        // unknown type leaves the type open; otherwise the two types unify. A typed null
        // (`var.l` declared `list(string)`, unset) takes part in unification like any value.
        let untyped_null = |v: &Value| v.is_null() && v.ty() == Type::Dynamic;
        let result_ty = match &oval {
            Some(o) => {
                let (ct, ot) = (cval.ty(), o.ty());
                if untyped_null(&cval) {
                    Some(ot)
                } else if untyped_null(o) {
                    Some(ct)
                } else if ct == Type::Dynamic || ot == Type::Dynamic {
                    Some(Type::Dynamic)
                } else {
                    match unify(&[ct.clone(), ot.clone()]) {
                        Some(u) => Some(u),
                        None => {
                            let (tt, ft) = if chosen_true == Some(false) {
                                (ot, ct)
                            } else {
                                (ct, ot)
                            };
                            return Err(Diagnostic::error(
                                "Inconsistent conditional result types",
                                format!(
                                    "The true and false result expressions must have consistent types. The 'true' value is {}, but the 'false' value is {}.",
                                    tt.friendly_name(), ft.friendly_name()
                                ),
                            )
                            .at(span));
                        }
                    }
                }
            }
            None => None,
        };
        if chosen_true.is_none() {
            let t = result_ty.unwrap_or(Type::Dynamic);
            let s =
                cval.contains_sensitive() || oval.as_ref().is_some_and(Value::contains_sensitive);
            return Ok(Value::unknown(t).with_sensitive(cs || s));
        }
        let out = match result_ty {
            Some(t) if t != Type::Dynamic => convert(&cval, &t).unwrap_or(cval),
            _ => cval,
        };
        Ok(out.with_sensitive(cs))
    }

    fn template(&mut self, parts: &[TemplatePart]) -> R {
        // A template that is exactly one interpolation returns the value unchanged.
        if let [TemplatePart::Interp(e)] = parts {
            return self.eval(e);
        }
        let mut out = String::new();
        let mut unknown = false;
        let mut sensitive = false;
        self.render_parts(parts, &mut out, &mut unknown, &mut sensitive)?;
        if unknown {
            return Ok(sens(Value::unknown(Type::String), sensitive));
        }
        Ok(sens(Value::string(out), sensitive))
    }

    fn render_parts(
        &mut self,
        parts: &[TemplatePart],
        out: &mut String,
        unknown: &mut bool,
        sensitive: &mut bool,
    ) -> Result<(), Diagnostic> {
        for p in parts {
            match p {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Interp(e) => {
                    let v = self.eval(e)?;
                    let (v, s) = v.unmark();
                    *sensitive |= s;
                    if v.is_null() {
                        return Err(Diagnostic::error(
                            "Invalid template interpolation value",
                            "The expression result is null. Cannot include a null value in a string template.",
                        )
                        .at(e.span));
                    }
                    if !v.is_known() {
                        *unknown = true;
                        continue;
                    }
                    *sensitive |= v.contains_sensitive();
                    let v = v.unmark_deep().0;
                    match convert(&v, &Type::String) {
                        Ok(sv) => out.push_str(sv.as_str().unwrap_or_default()),
                        Err(_) => {
                            return Err(Diagnostic::error(
                                "Invalid template interpolation value",
                                format!("Cannot include the given value in a string template: string required, but have {}.", v.ty().friendly_name()),
                            )
                            .at(e.span))
                        }
                    }
                }
                TemplatePart::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = self.eval(cond)?;
                    let (c, s) = c.unmark();
                    *sensitive |= s;
                    if c.is_null() {
                        return Err(Diagnostic::error(
                            "Invalid template if directive",
                            "The condition value is null. Conditions must either be true or false.",
                        )
                        .at(cond.span));
                    }
                    if !c.is_known() {
                        *unknown = true;
                        continue;
                    }
                    let b = convert(&c, &Type::Bool)
                        .ok()
                        .and_then(|b| b.as_bool())
                        .ok_or_else(|| {
                            Diagnostic::error(
                                "Invalid template if directive",
                                "The condition must be of type bool.",
                            )
                            .at(cond.span)
                        })?;
                    let branch = if b { then } else { otherwise };
                    self.render_parts(branch, out, unknown, sensitive)?;
                }
                TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                } => {
                    let c = self.eval(collection)?;
                    let (c, s) = c.unmark();
                    *sensitive |= s;
                    if c.is_null() {
                        return Err(Diagnostic::error(
                            "Invalid template for directive",
                            "Cannot use a null value in a for directive.",
                        )
                        .at(collection.span));
                    }
                    if !c.is_known() {
                        *unknown = true;
                        continue;
                    }
                    let pairs = iter_pairs(&c).ok_or_else(|| {
                        Diagnostic::error(
                            "Invalid template for directive",
                            format!(
                                "A for directive can only iterate over a collection, not {}.",
                                c.ty().friendly_name()
                            ),
                        )
                        .at(collection.span)
                    })?;
                    for (k, v) in pairs {
                        let n = self.symbols.len();
                        if let Some(kv) = key_var {
                            self.symbols.push((kv.clone(), k));
                        }
                        self.symbols.push((value_var.clone(), v));
                        let r = self.render_parts(body, out, unknown, sensitive);
                        self.symbols.truncate(n);
                        r?;
                    }
                }
            }
        }
        Ok(())
    }

    fn for_expr(&mut self, f: &baton_config::ForExpr, span: Span) -> R {
        let coll = self.eval(&f.collection)?;
        let (coll, cs) = coll.unmark();
        if coll.is_null() {
            return Err(Diagnostic::error(
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
            )
            .at(f.collection.span));
        }
        if !coll.is_known() {
            return Ok(sens(Value::dynamic_unknown(), cs));
        }
        let pairs = iter_pairs(&coll).ok_or_else(|| {
            Diagnostic::error(
                "Iteration over non-iterable value",
                format!(
                    "A value of type {} cannot be used as the collection in a 'for' expression.",
                    coll.ty().friendly_name()
                ),
            )
            .at(f.collection.span)
        })?;
        let mut tuple = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut unknown = false;
        for (k, v) in pairs {
            let n = self.symbols.len();
            if let Some(kv) = &f.key_var {
                self.symbols.push((kv.clone(), k));
            }
            self.symbols.push((f.value_var.clone(), v));
            let r = self.for_item(f, &mut tuple, &mut object, &mut groups, &mut unknown);
            self.symbols.truncate(n);
            r?;
        }
        let _ = span;
        if unknown {
            return Ok(sens(Value::dynamic_unknown(), cs));
        }
        if f.key_expr.is_some() {
            if f.grouping {
                let obj = groups
                    .into_iter()
                    .map(|(k, vs)| (k, Value::tuple(vs)))
                    .collect();
                return Ok(sens(Value::object(obj), cs));
            }
            return Ok(sens(Value::object(object), cs));
        }
        Ok(sens(Value::tuple(tuple), cs))
    }

    fn for_item(
        &mut self,
        f: &baton_config::ForExpr,
        tuple: &mut Vec<Value>,
        object: &mut BTreeMap<String, Value>,
        groups: &mut BTreeMap<String, Vec<Value>>,
        unknown: &mut bool,
    ) -> Result<(), Diagnostic> {
        if let Some(c) = &f.cond {
            let cv = self.eval(c)?;
            if cv.is_null() {
                return Err(Diagnostic::error(
                    "Condition is null",
                    "The value of the 'if' clause must not be null.",
                )
                .at(c.span));
            }
            let (cv, _) = cv.unmark();
            if !cv.is_known() {
                *unknown = true;
                return Ok(());
            }
            let b = convert(&cv, &Type::Bool)
                .ok()
                .and_then(|b| b.as_bool())
                .ok_or_else(|| {
                    Diagnostic::error(
                        "Invalid 'for' condition",
                        "The 'if' clause value must be a bool.",
                    )
                    .at(c.span)
                })?;
            if !b {
                return Ok(());
            }
        }
        match &f.key_expr {
            None => tuple.push(self.eval(&f.value_expr)?),
            Some(ke) => {
                let kv = self.eval(ke)?;
                if kv.is_null() {
                    return Err(Diagnostic::error(
                        "Invalid object key",
                        "Key expression in 'for' expression must not produce a null value.",
                    )
                    .at(ke.span));
                }
                let (kv, _) = kv.unmark();
                if !kv.is_known() {
                    *unknown = true;
                    self.eval(&f.value_expr)?;
                    return Ok(());
                }
                let key = convert(&kv, &Type::String)
                    .ok()
                    .and_then(|s| s.as_str().map(str::to_string))
                    .ok_or_else(|| {
                        Diagnostic::error(
                            "Invalid object key",
                            "The key expression produced an invalid result: string required.",
                        )
                        .at(ke.span)
                    })?;
                let val = self.eval(&f.value_expr)?;
                if f.grouping {
                    groups.entry(key).or_default().push(val);
                } else {
                    match object.entry(key) {
                        std::collections::btree_map::Entry::Occupied(o) => {
                            return Err(Diagnostic::error(
                                "Duplicate object key",
                                format!("Two different items produced the key {:?} in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.", o.key()),
                            )
                            .at(ke.span));
                        }
                        std::collections::btree_map::Entry::Vacant(v) => {
                            v.insert(val);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn each_type(src: &Value) -> Type {
    match src.ty() {
        Type::List(_) | Type::Set(_) => Type::Dynamic,
        t => t,
    }
}

fn operand_error(message: &str, span: Span, which: &str) -> Diagnostic {
    Diagnostic::error(
        "Invalid operand",
        format!("Unsuitable value for {which}: {message}."),
    )
    .at(span)
}

/// Key/value pairs to iterate: lists and tuples by index, sets by value, maps and objects by
/// key in lexical order.
pub fn iter_pairs(v: &Value) -> Option<Vec<(Value, Value)>> {
    match v.kind() {
        Kind::List(_, items) | Kind::Tuple(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::int(i as i64), x.clone()))
                .collect(),
        ),
        Kind::Set(_, items) => Some(items.iter().map(|x| (x.clone(), x.clone())).collect()),
        Kind::Map(_, items) | Kind::Object(items) => Some(
            items
                .iter()
                .map(|(k, x)| (Value::string(k.as_str()), x.clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// `v.name` with Terraform's errors.
pub fn get_attr(v: &Value, name: &str, span: Span) -> R {
    let s = v.is_sensitive();
    match v.kind() {
        Kind::Null(_) => Err(Diagnostic::error(
            "Attempt to get attribute from null value",
            "This value is null, so it does not have any attributes.",
        )
        .at(span)),
        Kind::Unknown(t) => {
            let at = match t {
                Type::Object(o) => match o.attrs.get(name) {
                    Some(at) => at.clone(),
                    None => {
                        return Err(unsupported_attr(name, span));
                    }
                },
                Type::Map(et) => (**et).clone(),
                Type::Dynamic => Type::Dynamic,
                _ => return Err(no_attrs(t, span)),
            };
            Ok(sens(Value::unknown(at), s))
        }
        Kind::Object(attrs) => match attrs.get(name) {
            Some(x) => Ok(sens(x.clone(), s)),
            None => Err(unsupported_attr(name, span)),
        },
        Kind::Map(_, items) => match items.get(name) {
            Some(x) => Ok(sens(x.clone(), s)),
            None => Err(Diagnostic::error(
                "Missing map element",
                format!("This map does not have an element with the key \"{name}\"."),
            )
            .at(span)),
        },
        _ => Err(no_attrs(&v.ty(), span)),
    }
}

fn unsupported_attr(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "Unsupported attribute",
        format!("This object does not have an attribute named \"{name}\"."),
    )
    .at(span)
}

fn no_attrs(t: &Type, span: Span) -> Diagnostic {
    let hint = match t {
        Type::List(_) | Type::Tuple(_) | Type::Set(_) => " To access an attribute of each element, use a splat expression such as x[*].name, or an index such as x[0].name.",
        _ => "",
    };
    Diagnostic::error(
        "Unsupported attribute",
        format!(
            "Can't access attributes on a value of type {}.{hint}",
            t.friendly_name()
        ),
    )
    .at(span)
}

/// `v[k]` with Terraform's errors.
pub fn index(v: &Value, k: &Value, span: Span, key_span: Span) -> R {
    let s = v.is_sensitive() || k.is_sensitive();
    if v.is_null() {
        return Err(Diagnostic::error(
            "Attempt to index null value",
            "This value is null, so it does not have any indices.",
        )
        .at(span));
    }
    if k.is_null() {
        return Err(Diagnostic::error(
            "Invalid index",
            "Can't use a null value as an indexing key.",
        )
        .at(key_span));
    }
    let k = k.clone().unmark().0;
    let invalid =
        |detail: &str| Diagnostic::error("Invalid index", detail.to_string()).at(key_span);
    match v.kind() {
        Kind::Unknown(t) => {
            let et = match t {
                Type::List(e) | Type::Map(e) => (**e).clone(),
                _ => Type::Dynamic,
            };
            Ok(sens(Value::unknown(et), s))
        }
        Kind::List(_, items) | Kind::Tuple(items) => {
            if !k.is_known() {
                let et = match v.ty() {
                    Type::List(e) => *e,
                    _ => Type::Dynamic,
                };
                return Ok(sens(Value::unknown(et), s));
            }
            let n = convert(&k, &Type::Number)
                .ok()
                .and_then(|n| n.as_number().cloned())
                .ok_or_else(|| invalid("The given key does not identify an element in this collection value: a number is required."))?;
            let i = n
                .to_i64()
                .filter(|_| n.is_integer())
                .ok_or_else(|| invalid("The given key does not identify an element in this collection value: a whole number is required."))?;
            if i < 0 || i as usize >= items.len() {
                return Err(invalid(if i < 0 {
                    "The given key does not identify an element in this collection value: a negative number is not a valid index for a sequence."
                } else {
                    "The given key does not identify an element in this collection value: the given index is greater than or equal to the length of the collection."
                }));
            }
            Ok(sens(items[i as usize].clone(), s))
        }
        Kind::Map(et, items) => {
            if !k.is_known() {
                return Ok(sens(Value::unknown(et.clone()), s));
            }
            let key = convert(&k, &Type::String)
                .ok()
                .and_then(|x| x.as_str().map(str::to_string))
                .ok_or_else(|| invalid("The given key does not identify an element in this collection value: string required."))?;
            items
                .get(&key)
                .map(|x| sens(x.clone(), s))
                .ok_or_else(|| invalid("The given key does not identify an element in this collection value."))
        }
        Kind::Object(items) => {
            if !k.is_known() {
                return Ok(sens(Value::dynamic_unknown(), s));
            }
            let key = convert(&k, &Type::String)
                .ok()
                .and_then(|x| x.as_str().map(str::to_string))
                .ok_or_else(|| invalid("The given key does not identify an element in this collection value: string required."))?;
            items.get(&key).map(|x| sens(x.clone(), s)).ok_or_else(|| {
                invalid(&format!("The given key does not identify an element in this collection value: this object has no attribute {key:?}."))
            })
        }
        Kind::Set(..) => Err(invalid("Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set.")),
        _ => Err(Diagnostic::error(
            "Invalid index",
            format!("This value does not have any indices: it is {}.", v.ty().friendly_name()),
        )
        .at(span)),
    }
}
