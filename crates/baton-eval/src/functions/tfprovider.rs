//! The functions of Terraform's built-in provider (Terraform 1.8+), called as
//! `provider::terraform::NAME(...)`: `encode_tfvars`, `decode_tfvars` and `encode_expr`.
//!
//! The encoders write HCL the way Terraform does, through `hclwrite.TokensForValue` and the
//! `hclwrite` formatter, which this module reproduces for the tokens values produce:
//! indentation by bracket nesting (including its odd `}, {` lines inside tuples), spacing
//! rules, and `=` aligned across consecutive single-line attributes. `decode_tfvars` reads
//! a `.tfvars` document and evaluates each attribute with no variables and no functions.
//!
//! Known differences: Terraform only offers these functions when the module declares the
//! `terraform` provider (`terraform.io/builtin/terraform`) in `required_providers`; Baton
//! always does. Syntax errors in `decode_tfvars` carry Baton's parser messages, not HCL's.
//! Implementations receive known, unmarked arguments and must never log argument values.

use super::util::str_arg;
use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::types::Type;
use crate::value::{Kind, Value};
use baton_config::ast::{Expr, ExprKind, ObjectKey, TemplatePart};
use std::collections::BTreeMap;
use unicode_segmentation::UnicodeSegmentation;

pub(super) fn register(r: &mut Registry) {
    r.add(Function::new(
        "provider::terraform::encode_tfvars",
        vec![Param::new("value", Type::Dynamic)],
        Ret::Fixed(Type::String),
        encode_tfvars,
    ));
    r.add(Function::new(
        "provider::terraform::decode_tfvars",
        vec![Param::new("src", Type::String)],
        Ret::Dynamic,
        decode_tfvars,
    ));
    r.add(Function::new(
        "provider::terraform::encode_expr",
        vec![Param::new("value", Type::Dynamic)],
        Ret::Fixed(Type::String),
        encode_expr,
    ));
}

/// A failure that Terraform reports as "Call to function ... failed: {msg}."
fn fail(msg: impl std::fmt::Display) -> FnError {
    FnError::new(format!("{msg}."))
}

fn arg(args: &[Value]) -> Result<&Value, FnError> {
    args.first()
        .ok_or_else(|| fail("exactly one argument is required"))
}

/// `encode_tfvars(value)`: one `name = value` line per attribute (or map key), sorted.
fn encode_tfvars(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let v = arg(args)?;
    let entries = match v.kind() {
        Kind::Object(m) | Kind::Map(_, m) => m,
        _ => {
            return Err(fail(
                "invalid value to encode: must be an object whose attribute names will become the encoded variable names",
            ))
        }
    };
    let mut toks = Vec::new();
    for (name, value) in entries.iter() {
        if !valid_identifier(name) {
            return Err(fail(format!(
                "invalid variable name {}: must be a valid identifier, per Terraform's rules for input variable declarations",
                baton_core::gotext::quote(name)
            )));
        }
        toks.push(Tok::new(T::Ident, name.clone()));
        toks.push(Tok::new(T::Equal, "="));
        tokens_for_value(value, &mut toks);
        toks.push(Tok::new(T::Newline, "\n"));
    }
    format(&mut toks);
    Ok(Value::string(render(&toks)))
}

/// `encode_expr(value)`: the value as an HCL expression.
fn encode_expr(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let v = arg(args)?;
    let mut toks = Vec::new();
    tokens_for_value(v, &mut toks);
    format(&mut toks);
    Ok(Value::string(render(&toks).trim()))
}

// ----- hclwrite -----

/// The hclsyntax token types that values produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum T {
    Ident,
    Number,
    OQuote,
    QuotedLit,
    CQuote,
    OBrack,
    CBrack,
    Comma,
    OBrace,
    CBrace,
    Equal,
    Newline,
}

struct Tok {
    t: T,
    bytes: String,
    spaces: usize,
}

impl Tok {
    fn new(t: T, bytes: impl Into<String>) -> Tok {
        Tok {
            t,
            bytes: bytes.into(),
            spaces: 0,
        }
    }
}

/// `hclsyntax.ValidIdentifier`: a letter or `_`, then letters, digits, `_` and `-`.
fn valid_identifier(s: &str) -> bool {
    crate::is_identifier(s)
}

/// `hclwrite.TokensForValue` (before formatting).
fn tokens_for_value(v: &Value, out: &mut Vec<Tok>) {
    match v.kind() {
        Kind::Null(_) | Kind::Unknown(_) => out.push(Tok::new(T::Ident, "null")),
        Kind::Bool(b) => out.push(Tok::new(T::Ident, if *b { "true" } else { "false" })),
        Kind::Number(n) => out.push(Tok::new(T::Number, n.text('f', -1))),
        Kind::String(s) => {
            out.push(Tok::new(T::OQuote, "\""));
            if !s.is_empty() {
                out.push(Tok::new(T::QuotedLit, escape_quoted(s)));
            }
            out.push(Tok::new(T::CQuote, "\""));
        }
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            out.push(Tok::new(T::OBrack, "["));
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(Tok::new(T::Comma, ","));
                }
                tokens_for_value(x, out);
            }
            out.push(Tok::new(T::CBrack, "]"));
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            out.push(Tok::new(T::OBrace, "{"));
            if !m.is_empty() {
                out.push(Tok::new(T::Newline, "\n"));
            }
            for (k, x) in m.iter() {
                if valid_identifier(k) {
                    out.push(Tok::new(T::Ident, k.clone()));
                } else {
                    tokens_for_value(&Value::string(k.as_str()), out);
                }
                out.push(Tok::new(T::Equal, "="));
                tokens_for_value(x, out);
                out.push(Tok::new(T::Newline, "\n"));
            }
            out.push(Tok::new(T::CBrace, "}"));
        }
    }
}

use baton_config::fmt::escape_quoted;

fn bracket_change(t: T) -> i64 {
    match t {
        T::OBrace | T::OBrack => 1,
        T::CBrace | T::CBrack => -1,
        _ => 0,
    }
}

/// One line of tokens: `lead` is `start..assign`, the assignment cell `assign..end`.
struct Line {
    start: usize,
    assign: Option<usize>,
    end: usize,
}

/// hclwrite's `format`: indentation, spaces between tokens, then `=` alignment.
fn format(toks: &mut [Tok]) {
    // Lines, each ending after its newline token.
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        if t.t == T::Newline {
            lines.push(Line {
                start,
                assign: None,
                end: i + 1,
            });
            start = i + 1;
        }
    }
    if start < toks.len() {
        lines.push(Line {
            start,
            assign: None,
            end: toks.len(),
        });
    }
    // The assignment cell: from an `=` (not first) whose right side is balanced.
    for line in &mut lines {
        if let Some(i) = (line.start + 1..line.end).find(|&i| toks[i].t == T::Equal) {
            let net: i64 = toks[i..line.end].iter().map(|t| bracket_change(t.t)).sum();
            if net == 0 {
                line.assign = Some(i);
            }
        }
    }
    // Indentation.
    let mut indents: Vec<i64> = Vec::new();
    for line in &lines {
        if line.start == line.end {
            continue;
        }
        if toks[line.start].t == T::Newline {
            toks[line.start].spaces = 0;
            continue;
        }
        let net: i64 = toks[line.start..line.end]
            .iter()
            .map(|t| bracket_change(t.t))
            .sum();
        if net > 0 {
            toks[line.start].spaces = 2 * indents.len();
            indents.push(net);
        } else {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = indents.last_mut() else {
                    break;
                };
                if closed > *top {
                    closed -= *top;
                    indents.pop();
                } else if closed < *top {
                    *top -= closed;
                    closed = 0;
                } else {
                    indents.pop();
                    closed = 0;
                }
            }
            toks[line.start].spaces = 2 * indents.len();
        }
    }
    // Spaces between the tokens of each cell.
    for line in &lines {
        let lead_end = line.assign.unwrap_or(line.end);
        let mut cells = vec![(line.start, lead_end)];
        if let Some(a) = line.assign {
            toks[a].spaces = 1;
            cells.push((a, line.end));
        }
        for (s, e) in cells {
            for i in s..e {
                if i + 1 >= e {
                    continue;
                }
                let space = space_after(toks[i].t, toks[i + 1].t);
                toks[i + 1].spaces = usize::from(space);
            }
        }
    }
    // Align the `=` of consecutive lines that have an assignment cell.
    let columns = |toks: &[Tok], s: usize, e: usize| -> usize {
        toks[s..e]
            .iter()
            .map(|t| t.spaces + t.bytes.graphemes(true).count())
            .sum()
    };
    let mut i = 0;
    while i < lines.len() {
        if lines[i].assign.is_none() {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut max = 0;
        while j < lines.len() {
            let Some(a) = lines[j].assign else {
                break;
            };
            max = max.max(columns(toks, lines[j].start, a));
            j += 1;
        }
        for line in &lines[i..j] {
            if let Some(a) = line.assign {
                toks[a].spaces = max - columns(toks, line.start, a) + 1;
            }
        }
        i = j;
    }
}

/// hclwrite's `spaceAfterToken`, for the token types values produce (its rules about
/// the token before, for `in` and `-`, cannot apply to them).
fn space_after(subject: T, after: T) -> bool {
    match (subject, after) {
        (_, T::Newline) => false,
        (_, T::Comma) => false,
        (T::Comma, _) => true,
        (T::QuotedLit | T::OQuote, _) | (_, T::QuotedLit | T::CQuote) => false,
        (T::Ident | T::Number | T::CBrack | T::CBrace, T::OBrack) => false,
        (T::OBrace, T::CBrace) => false,
        (T::OBrace, _) | (_, T::CBrace) => true,
        (s, _) if bracket_change(s) > 0 => false,
        (_, a) if bracket_change(a) < 0 => false,
        _ => true,
    }
}

fn render(toks: &[Tok]) -> String {
    let mut out = String::new();
    for t in toks {
        out.extend(std::iter::repeat_n(' ', t.spaces));
        out.push_str(&t.bytes);
    }
    out
}

// ----- decode_tfvars -----

const FILENAME: &str = "<decode_tfvars argument>";

/// `decode_tfvars(src)`: parses a `.tfvars` document and evaluates its attributes as
/// Terraform does with no evaluation context (no variables, no functions).
fn decode_tfvars(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let src = str_arg(args, 0)?;
    let id = ctx
        .sources
        .add(FILENAME, std::path::Path::new(FILENAME), src.to_string());
    let range = |span: baton_core::Span| hcl_range(src, span.start as usize, span.end as usize);
    let body = baton_config::syntax::parse_file(id, src).map_err(|d| {
        if let Some(msg) = d.subject.and_then(|s| redefined(src, s.start as usize)) {
            return fail(format!("invalid tfvars syntax: {msg}"));
        }
        fail(format!(
            "invalid tfvars syntax: {}",
            diag_text(&range, d.subject, &d.summary, &d.detail)
        ))
    })?;
    let mut seen: BTreeMap<&str, baton_core::Span> = BTreeMap::new();
    for a in &body.attrs {
        if let Some(first) = seen.get(a.name.as_str()) {
            return Err(fail(format!(
                "invalid tfvars syntax: {}: Attribute redefined; The argument {} was already set at {}. Each argument may be set only once.",
                range(a.name_span),
                baton_core::gotext::quote(&a.name),
                range(*first)
            )));
        }
        seen.insert(&a.name, a.name_span);
    }
    if let Some(b) = body.blocks.first() {
        let start = b.def_span.start as usize;
        let type_span = hcl_range(src, start, start + b.type_.len());
        return Err(fail(format!(
            "invalid tfvars content: {type_span}: Unexpected {} block; Blocks are not allowed here.",
            baton_core::gotext::quote(&b.type_)
        )));
    }
    let mut attrs = BTreeMap::new();
    for a in &body.attrs {
        let bad = |text: String| {
            fail(format!(
                "invalid expression for variable {}: {text}",
                baton_core::gotext::quote(&a.name)
            ))
        };
        let mut found = Vec::new();
        forbidden(&a.expr, &mut Vec::new(), &mut found);
        if let Some((span, summary, detail)) = found.first() {
            let mut text = diag_text(&range, Some(*span), summary, detail);
            if found.len() > 1 {
                text.push_str(&format!(", and {} other diagnostic(s)", found.len() - 1));
            }
            return Err(bad(text));
        }
        let fctx = FnCtx {
            base_dir: ctx.base_dir,
            sources: ctx.sources,
            planning: ctx.planning,
            plan_timestamp: ctx.plan_timestamp,
        };
        let mut ev = crate::eval::Evaluator::new(&crate::eval::EmptyScope, fctx);
        let v = ev
            .eval(&a.expr)
            .map_err(|d| bad(diag_text(&range, d.subject, &d.summary, &d.detail)))?;
        attrs.insert(a.name.clone(), v);
    }
    Ok(Value::object(attrs))
}

/// HCL's "Attribute redefined" for the attribute whose name starts at byte `at` (the
/// parser refuses a second definition before Baton sees the body).
fn redefined(src: &str, at: usize) -> Option<String> {
    let rest = src.get(at..)?;
    let len = rest
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .map_or(rest.len(), |(i, _)| i);
    let name = rest.get(..len)?;
    if name.is_empty() {
        return None;
    }
    // The first definition: a line of the form `name =` before this one.
    let mut offset = 0usize;
    for line in src.split_inclusive('\n') {
        if offset >= at {
            break;
        }
        let trimmed = line.trim_start_matches([' ', '\t']);
        let indent = line.len() - trimmed.len();
        if let Some(after) = trimmed.strip_prefix(name) {
            if after.trim_start_matches([' ', '\t']).starts_with('=')
                && !after.trim_start_matches([' ', '\t']).starts_with("==")
            {
                let start = offset + indent;
                return Some(format!(
                    "{}: Attribute redefined; The argument {} was already set at {}. Each argument may be set only once.",
                    hcl_range(src, at, at + len),
                    baton_core::gotext::quote(name),
                    hcl_range(src, start, start + len)
                ));
            }
        }
        offset += line.len();
    }
    None
}

/// `hcl.Diagnostic.Error()`: `range: summary; detail`.
fn diag_text(
    range: &dyn Fn(baton_core::Span) -> String,
    subject: Option<baton_core::Span>,
    summary: &str,
    detail: &str,
) -> String {
    match subject {
        Some(s) => format!("{}: {summary}; {detail}", range(s)),
        None => format!("{summary}; {detail}"),
    }
}

/// `hcl.Range.String()` for a byte range of `src`: 1-based lines and columns (columns in
/// characters), end exclusive.
fn hcl_range(src: &str, start: usize, end: usize) -> String {
    let pos = |off: usize| {
        let off = off.min(src.len());
        let before = src.get(..off).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).unwrap_or("").chars().count() + 1;
        (line, col)
    };
    let (l1, c1) = pos(start);
    let (l2, c2) = pos(end);
    if l1 == l2 {
        format!("{FILENAME}:{l1},{c1}-{c2}")
    } else {
        format!("{FILENAME}:{l1},{c1}-{l2},{c2}")
    }
}

type Problem = (baton_core::Span, &'static str, String);

/// The references and calls HCL refuses without an evaluation context, in source order:
/// a call stops there (its arguments are not evaluated); names bound by `for` are allowed,
/// and any other name under a `for` is an unknown variable.
fn forbidden(e: &Expr, bound: &mut Vec<String>, out: &mut Vec<Problem>) {
    match &e.kind {
        ExprKind::Var(name) => {
            if bound.iter().any(|b| b == name) {
                return;
            }
            let root = baton_core::Span {
                file: e.span.file,
                start: e.span.start,
                end: e
                    .span
                    .start
                    .saturating_add(u32::try_from(name.len()).unwrap_or(0)),
            };
            if bound.is_empty() {
                out.push((
                    root,
                    "Variables not allowed",
                    "Variables may not be used here.".into(),
                ));
            } else {
                out.push((
                    root,
                    "Unknown variable",
                    format!(
                        "There is no variable named {}.",
                        baton_core::gotext::quote(name)
                    ),
                ));
            }
        }
        ExprKind::Call { .. } => out.push((
            e.span,
            "Function calls not allowed",
            "Functions may not be called here.".into(),
        )),
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::String(_)
        | ExprKind::SplatItem => {}
        ExprKind::Template(parts) => template_forbidden(parts, bound, out),
        ExprKind::Tuple(items) => {
            for x in items {
                forbidden(x, bound, out);
            }
        }
        ExprKind::Object(items) => {
            for (k, v) in items {
                if let ObjectKey::Expr(k) = k {
                    forbidden(k, bound, out);
                }
                forbidden(v, bound, out);
            }
        }
        ExprKind::GetAttr(x, _) | ExprKind::Unary(_, x) | ExprKind::Parens(x) => {
            forbidden(x, bound, out)
        }
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            forbidden(a, bound, out);
            forbidden(b, bound, out);
        }
        ExprKind::Splat { source, each } => {
            forbidden(source, bound, out);
            forbidden(each, bound, out);
        }
        ExprKind::Conditional(c, t, f) => {
            forbidden(c, bound, out);
            forbidden(t, bound, out);
            forbidden(f, bound, out);
        }
        ExprKind::For(f) => {
            let before = out.len();
            forbidden(&f.collection, bound, out);
            if out.len() > before {
                return;
            }
            let n = bound.len();
            bound.extend(f.key_var.iter().cloned());
            bound.push(f.value_var.clone());
            if let Some(k) = &f.key_expr {
                forbidden(k, bound, out);
            }
            forbidden(&f.value_expr, bound, out);
            if let Some(c) = &f.cond {
                forbidden(c, bound, out);
            }
            bound.truncate(n);
        }
    }
}

fn template_forbidden(parts: &[TemplatePart], bound: &mut Vec<String>, out: &mut Vec<Problem>) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(x) => forbidden(x, bound, out),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                forbidden(cond, bound, out);
                template_forbidden(then, bound, out);
                template_forbidden(otherwise, bound, out);
            }
            TemplatePart::For {
                key_var,
                value_var,
                collection,
                body,
            } => {
                forbidden(collection, bound, out);
                let n = bound.len();
                bound.extend(key_var.iter().cloned());
                bound.push(value_var.clone());
                template_forbidden(body, bound, out);
                bound.truncate(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;
    use crate::number::Number;

    const ENC_TFVARS: &str = "provider::terraform::encode_tfvars";
    const DEC_TFVARS: &str = "provider::terraform::decode_tfvars";
    const ENC_EXPR: &str = "provider::terraform::encode_expr";

    fn s(x: &str) -> Value {
        Value::string(x)
    }
    fn n(x: &str) -> Value {
        Value::number(Number::parse(x).expect("number"))
    }
    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }
    fn ok(name: &str, v: Value) -> String {
        call_fn(name, vec![v])
            .expect("call succeeds")
            .as_str()
            .expect("a string")
            .to_string()
    }
    fn err(name: &str, v: Value) -> String {
        call_fn(name, vec![v]).expect_err("call fails").message
    }

    /// The value of Terraform's tests below:
    /// `{a = 1, bbbb = "x", c = [1, "two", true], d = {e = null, "f-g" = 1.5},
    ///   h = tolist(["x"]), i = toset(["b","a"]), j = tomap({k = "v"}), long_name_here = {}}`
    fn sample() -> Value {
        obj(&[
            ("a", n("1")),
            ("bbbb", s("x")),
            ("c", Value::tuple(vec![n("1"), s("two"), Value::bool(true)])),
            ("d", obj(&[("e", Value::dynamic_null()), ("f-g", n("1.5"))])),
            ("h", Value::list(Type::String, vec![s("x")])),
            ("i", Value::set(Type::String, vec![s("b"), s("a")])),
            (
                "j",
                Value::map(
                    Type::String,
                    [("k".to_string(), s("v"))].into_iter().collect(),
                ),
            ),
            ("long_name_here", Value::empty_object()),
        ])
    }

    #[test]
    fn encode_tfvars_aligns_like_hclwrite() {
        assert_eq!(
            ok(ENC_TFVARS, sample()),
            "a    = 1\nbbbb = \"x\"\nc    = [1, \"two\", true]\nd = {\n  e   = null\n  f-g = 1.5\n}\nh = [\"x\"]\ni = [\"a\", \"b\"]\nj = {\n  k = \"v\"\n}\nlong_name_here = {}\n"
        );
        assert_eq!(ok(ENC_TFVARS, Value::empty_object()), "");
        let m = Value::map(
            Type::Number,
            [("b".to_string(), n("1")), ("a".to_string(), n("2"))]
                .into_iter()
                .collect(),
        );
        assert_eq!(ok(ENC_TFVARS, m), "a = 2\nb = 1\n");
    }

    #[test]
    fn encode_tfvars_errors() {
        assert_eq!(
            err(ENC_TFVARS, obj(&[("a-b", n("1")), ("1x", n("2"))])),
            "invalid variable name \"1x\": must be a valid identifier, per Terraform's rules for input variable declarations."
        );
        assert_eq!(
            err(ENC_TFVARS, Value::tuple(vec![n("1")])),
            "invalid value to encode: must be an object whose attribute names will become the encoded variable names."
        );
        assert_eq!(
            err(ENC_TFVARS, Value::dynamic_null()),
            "Invalid value for \"value\" parameter: argument must not be null."
        );
    }

    #[test]
    fn encode_expr_formats_like_hclwrite() {
        let mut v = sample();
        if let Kind::Object(m) = v.clone().into_kind() {
            let mut m = m.to_map();
            m.insert("1x".into(), Value::empty_tuple());
            m.insert("ab".into(), s("q\"u\\o\nte ${x} %{y} \té"));
            v = Value::object(m);
        }
        assert_eq!(
            ok(ENC_EXPR, v),
            "{\n  \"1x\" = []\n  a    = 1\n  ab   = \"q\\\"u\\\\o\\nte $${x} %%{y} \\té\"\n  bbbb = \"x\"\n  c    = [1, \"two\", true]\n  d = {\n    e   = null\n    f-g = 1.5\n  }\n  h = [\"x\"]\n  i = [\"a\", \"b\"]\n  j = {\n    k = \"v\"\n  }\n  long_name_here = {}\n}"
        );
        assert_eq!(ok(ENC_EXPR, s("s")), "\"s\"");
        assert_eq!(
            ok(ENC_EXPR, n("12345678901234567890.5")),
            "12345678901234567890.5"
        );
        assert_eq!(ok(ENC_EXPR, n("-1.5e-7")), "-0.00000015");
        assert_eq!(ok(ENC_EXPR, Value::list(Type::String, vec![])), "[]");
        assert_eq!(
            ok(
                ENC_EXPR,
                Value::tuple(vec![obj(&[("a", n("1"))]), obj(&[("b", n("2"))])])
            ),
            "[{\n  a = 1\n  }, {\n  b = 2\n}]"
        );
        assert_eq!(
            ok(
                ENC_EXPR,
                obj(&[
                    ("a", Value::tuple(vec![obj(&[("b", n("1"))])])),
                    (
                        "c",
                        Value::tuple(vec![Value::tuple(vec![n("1"), obj(&[("d", n("2"))])])])
                    ),
                ])
            ),
            "{\n  a = [{\n    b = 1\n  }]\n  c = [[1, {\n    d = 2\n  }]]\n}"
        );
        assert_eq!(
            ok(
                ENC_EXPR,
                s("\u{a0} \u{200b} \u{feff} \u{ad} \u{1} 😀 \u{2028} x")
            ),
            "\"\\u00a0 \\u200b \\ufeff \\u00ad \\u0001 😀 \\u2028 x\""
        );
        assert_eq!(
            ok(
                ENC_EXPR,
                obj(&[("a b", n("1")), ("", n("2")), ("_", n("3")), ("é", n("4"))])
            ),
            "{\n  \"\"    = 2\n  _     = 3\n  \"a b\" = 1\n  é     = 4\n}"
        );
        assert_eq!(
            err(ENC_EXPR, Value::dynamic_null()),
            "Invalid value for \"value\" parameter: argument must not be null."
        );
        let v = call_fn(ENC_EXPR, vec![s("x").mark_sensitive()]).expect("ok");
        assert!(v.is_sensitive());
    }

    #[test]
    fn decode_tfvars_evaluates_constants() {
        let v = call_fn(
            DEC_TFVARS,
            vec![s("a = 1\nb = \"x\"\nc = [1, true, null]\nd = {x = 1, \"y-z\" = [2]}\ne = 1 + 2\nf = \"${1 + 1}\"\ng = true ? 1 : 2\nh = [for x in [1, 2] : x * 2]\n")],
        )
        .expect("decodes");
        let json = v.to_json().to_string();
        // A template that is a single interpolation keeps the value's type.
        assert_eq!(
            json,
            r#"{"a":1,"b":"x","c":[1,true,null],"d":{"x":1,"y-z":[2]},"e":3,"f":2,"g":1,"h":[2,4]}"#
        );
        assert_eq!(
            ok(ENC_EXPR, call_fn(DEC_TFVARS, vec![s("")]).expect("empty")),
            "{}"
        );
        assert_eq!(
            call_fn(DEC_TFVARS, vec![s("# comment only\n")])
                .expect("comment")
                .ty(),
            Type::object(Default::default())
        );
    }

    #[test]
    fn decode_tfvars_errors() {
        let e = |src: &str| err(DEC_TFVARS, s(src));
        assert_eq!(
            e("x {}"),
            "invalid tfvars content: <decode_tfvars argument>:1,1-2: Unexpected \"x\" block; Blocks are not allowed here.."
        );
        assert_eq!(
            e("a = var.b"),
            "invalid expression for variable \"a\": <decode_tfvars argument>:1,5-8: Variables not allowed; Variables may not be used here.."
        );
        assert_eq!(
            e("a = upper(\"x\")"),
            "invalid expression for variable \"a\": <decode_tfvars argument>:1,5-15: Function calls not allowed; Functions may not be called here.."
        );
        assert_eq!(
            e("a = 1\na = 2"),
            "invalid tfvars syntax: <decode_tfvars argument>:2,1-2: Attribute redefined; The argument \"a\" was already set at <decode_tfvars argument>:1,1-2. Each argument may be set only once.."
        );
        assert_eq!(
            e("a = 1\n  a = 2"),
            "invalid tfvars syntax: <decode_tfvars argument>:2,3-4: Attribute redefined; The argument \"a\" was already set at <decode_tfvars argument>:1,1-2. Each argument may be set only once.."
        );
        assert!(e("a = ").starts_with("invalid tfvars syntax: <decode_tfvars argument>:1,"));
    }
}
