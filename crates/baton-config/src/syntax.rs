//! HCL text → Baton's generic body tree ([`Body`], [`Attribute`], [`Block`]) and expression
//! tree ([`Expr`]), using `hcl-edit` for parsing.
//!
//! The conversion keeps a span on every node, decodes number literals from their source text,
//! and applies template strip markers (`~`). It does not interpret block types: that is
//! [`crate::model`]'s job. A syntax error becomes a diagnostic at the parser's position.

use crate::ast::{BinaryOp, Expr, ExprKind, ForExpr, ObjectKey, TemplatePart, UnaryOp};
use baton_core::{Diagnostic, FileId, Span};
use hcl_edit::expr as hx;
use hcl_edit::structure as hs;
use hcl_edit::template as ht;
use hcl_edit::Span as _;

mod for_newlines;

/// A body: attributes and nested blocks in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    pub attrs: Vec<Attribute>,
    pub blocks: Vec<Block>,
    /// The whole body (between the braces for a block body), if known.
    pub span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub name_span: Span,
    pub expr: Expr,
    /// `name = expr` in full.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub type_: String,
    pub labels: Vec<(String, Span)>,
    pub body: Body,
    /// The header: the block type and its labels (what diagnostics point at).
    pub def_span: Span,
    /// The whole block.
    pub span: Span,
}

impl Body {
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub fn blocks_of<'a>(&'a self, type_: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.type_ == type_)
    }
}

/// Parses one file's text. On a syntax error returns the diagnostic (HCL parsing cannot
/// recover, so a file with a syntax error contributes nothing else).
pub fn parse_file(file: FileId, text: &str) -> Result<Body, Diagnostic> {
    if let Some(body) = parse_in_chunks(file, text) {
        return Ok(body);
    }
    let body = parse_with_big_numbers(text, hcl_edit::parser::parse_body)
        .map_err(|e| syntax_error(file, text, &e))?;
    let cx = Cx {
        file,
        text,
        offset: 0,
    };
    Ok(cx.body(&body, None))
}

/// Parses a standalone expression (e.g. a `-var` value or a variable default given as text).
pub fn parse_expr(file: FileId, text: &str) -> Result<Expr, Diagnostic> {
    let expr = parse_with_big_numbers(text, hcl_edit::parser::parse_expr)
        .map_err(|e| syntax_error(file, text, &e))?;
    let cx = Cx {
        file,
        text,
        offset: 0,
    };
    Ok(cx.expr(&expr, Span::new(file, 0, text.len())))
}

/// Parses a standalone template (the contents of a file read by `templatefile`).
pub fn parse_template(file: FileId, text: &str) -> Result<Expr, Diagnostic> {
    let tpl = hcl_edit::parser::parse_template(text).map_err(|e| syntax_error(file, text, &e))?;
    let cx = Cx {
        file,
        text,
        offset: 0,
    };
    let span = Span::new(file, 0, text.len());
    // HCL scans a template file like a heredoc body: literals end at each newline, so a strip
    // marker reaches only the line next to it.
    let mut flat = Vec::new();
    cx.flatten(&tpl, span, &mut flat, Literals::Lines);
    apply_strips(&mut flat);
    Ok(finish_template(flat, span))
}

/// Files larger than this are parsed one top-level block at a time.
const CHUNKED_ABOVE: usize = 64 * 1024;

/// Parses a large file one top-level block at a time, so that `hcl-edit`'s lossless tree (many
/// times the size of the text) exists for one block at a time rather than for the whole file.
/// A chunk starts at a line that begins, in column 0, with a top-level block keyword. A line
/// like that inside a heredoc, a comment or a block leaves the chunk before it unterminated, so
/// that chunk fails to parse; then (as on any error) this returns `None` and the caller parses
/// the whole file, which reports errors exactly as before.
fn parse_in_chunks(file: FileId, text: &str) -> Option<Body> {
    if text.len() <= CHUNKED_ABOVE {
        return None;
    }
    const KEYWORDS: [&str; 12] = [
        "resource",
        "data",
        "variable",
        "output",
        "locals",
        "module",
        "provider",
        "terraform",
        "moved",
        "import",
        "removed",
        "check",
    ];
    let mut starts = vec![0];
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at > 0 {
            let word_end = line
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(line.len());
            let next = line[word_end..].chars().next();
            if KEYWORDS.contains(&&line[..word_end]) && matches!(next, Some(' ' | '\t' | '"' | '{'))
            {
                starts.push(at);
            }
        }
        at += line.len();
    }
    if starts.len() < 2 {
        return None;
    }
    starts.push(text.len());
    let mut out = Body {
        span: None,
        ..Body::default()
    };
    for w in starts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let chunk = text.get(a..b)?;
        let parsed = parse_with_big_numbers(chunk, hcl_edit::parser::parse_body).ok()?;
        let cx = Cx {
            file,
            text,
            offset: a,
        };
        let part = cx.body(&parsed, None);
        out.attrs.extend(part.attrs);
        out.blocks.extend(part.blocks);
    }
    Some(out)
}

/// Runs `parse`; when it fails, parses again with newlines inside object `for` expressions
/// blanked (see [`for_newlines`]), and when it fails inside a decimal literal beyond the range of an `f64`
/// (`1e400`, which `hcl-edit` rejects but HCL accepts: its numbers are arbitrary-precision),
/// parses again with that literal replaced by zeros of the same length. Spans are unchanged,
/// and number literals keep their text from the original (see `Cx::expr`), so the value is
/// exact. Errors are the original text's.
fn parse_with_big_numbers<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, hcl_edit::parser::Error>,
) -> Result<T, hcl_edit::parser::Error> {
    let first = match parse(text) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let mut at = first.location().offset();
    let mut patched = text.to_string();
    // Newlines inside object `for` expressions, which hcl-edit rejects (see `for_newlines`).
    if let Some(joined) = for_newlines::blank_for_newlines(text) {
        match parse(&joined) {
            Ok(v) => return Ok(v),
            Err(e) => at = e.location().offset(),
        }
        patched = joined;
    }
    // Each round fixes one literal; a file rarely has more than a few.
    for _ in 0..64 {
        let Some((start, end)) = huge_literal_at(&patched, at) else {
            return Err(first);
        };
        patched.replace_range(start..end, &"0".repeat(end - start));
        match parse(&patched) {
            Ok(v) => return Ok(v),
            Err(e) => at = e.location().offset(),
        }
    }
    Err(first)
}

/// The byte range of a decimal literal around `offset` whose value overflows an `f64`.
fn huge_literal_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let is_num = |c: u8| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-');
    let offset = offset.min(b.len());
    let mut start = offset;
    while start > 0 && is_num(b[start - 1]) {
        start -= 1;
    }
    // A sign before the literal belongs to an operator, not to it.
    while start < b.len() && matches!(b[start], b'+' | b'-') {
        start += 1;
    }
    let mut end = offset;
    while end < b.len() && is_num(b[end]) {
        end += 1;
    }
    // The literal is the longest prefix of digits, `.`, `e`/`E` and a sign right after the
    // `e`; anything after it (`1e400-x`) is an operator.
    let lit = text.get(start..end)?;
    let mut lit_end = 0;
    let mut prev = ' ';
    for (i, c) in lit.char_indices() {
        let ok = c.is_ascii_digit()
            || matches!(c, '.' | 'e' | 'E')
            || (matches!(c, '+' | '-') && matches!(prev, 'e' | 'E'));
        if !ok {
            break;
        }
        lit_end = i + 1;
        prev = c;
    }
    let lit = &lit[..lit_end];
    if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
        return None; // part of an identifier
    }
    let valid = {
        let (mantissa, exp) = match lit.find(['e', 'E']) {
            Some(i) => (&lit[..i], Some(&lit[i + 1..])),
            None => (lit, None),
        };
        let mantissa_ok = !mantissa.is_empty()
            && mantissa.starts_with(|c: char| c.is_ascii_digit())
            && mantissa.chars().filter(|&c| c == '.').count() <= 1
            && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
            && !mantissa.ends_with('.');
        let exp_ok = exp.is_none_or(|e| {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        });
        mantissa_ok && exp_ok
    };
    if !valid || !lit.parse::<f64>().is_ok_and(f64::is_infinite) {
        return None;
    }
    Some((start, start + lit.len()))
}

fn syntax_error(file: FileId, text: &str, e: &hcl_edit::parser::Error) -> Diagnostic {
    let offset = e.location().offset().min(text.len());
    // Point at one character (or the end of input).
    let end = text[offset..]
        .chars()
        .next()
        .map(|c| offset + c.len_utf8())
        .unwrap_or(offset);
    Diagnostic::error(
        "Invalid syntax",
        format!("The configuration could not be parsed: {}.", e.message()),
    )
    .at(Span::new(file, offset, end))
}

struct Cx<'a> {
    file: FileId,
    /// The whole file's text; spans are absolute offsets into it.
    text: &'a str,
    /// Added to the parser's offsets (non-zero when re-parsing a heredoc body).
    offset: usize,
}

impl Cx<'_> {
    fn span_of(&self, r: Option<std::ops::Range<usize>>, fallback: Span) -> Span {
        match r {
            Some(r) => Span::new(self.file, r.start + self.offset, r.end + self.offset),
            None => fallback,
        }
    }

    fn body(&self, body: &hs::Body, span: Option<Span>) -> Body {
        let mut out = Body {
            span,
            ..Body::default()
        };
        let whole = Span::new(self.file, 0, self.text.len());
        for s in body.iter() {
            match s {
                hs::Structure::Attribute(a) => {
                    let span = self.span_of(a.span(), whole);
                    let name_span = self.span_of(a.key.span(), span);
                    let expr = self.expr(&a.value, span);
                    out.attrs.push(Attribute {
                        name: a.key.as_str().to_string(),
                        name_span,
                        expr,
                        span,
                    });
                }
                hs::Structure::Block(b) => {
                    let span = self.span_of(b.span(), whole);
                    let type_span = self.span_of(b.ident.span(), span);
                    let mut labels = Vec::new();
                    let mut def_end = type_span.end;
                    for l in &b.labels {
                        let (text, r) = match l {
                            hs::BlockLabel::Ident(i) => (i.as_str().to_string(), i.span()),
                            hs::BlockLabel::String(s) => (s.value().to_string(), s.span()),
                        };
                        let ls = self.span_of(r, type_span);
                        def_end = def_end.max(ls.end);
                        labels.push((text, ls));
                    }
                    let def_span = Span {
                        file: self.file,
                        start: type_span.start,
                        end: def_end,
                    };
                    let inner = self.body(&b.body, Some(span));
                    out.blocks.push(Block {
                        type_: b.ident.as_str().to_string(),
                        labels,
                        body: inner,
                        def_span,
                        span,
                    });
                }
            }
        }
        out
    }

    fn expr(&self, e: &hx::Expression, fallback: Span) -> Expr {
        let span = self.span_of(e.span(), fallback);
        let kind = match e {
            hx::Expression::Null(_) => ExprKind::Null,
            hx::Expression::Bool(b) => ExprKind::Bool(*b.value()),
            hx::Expression::Number(n) => {
                let raw = self
                    .text
                    .get(span.start as usize..span.end as usize)
                    .map(str::trim)
                    .filter(|s| {
                        !s.is_empty()
                            && s.chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
                    })
                    .map(str::to_string)
                    .unwrap_or_else(|| n.value().to_string());
                ExprKind::Number(raw)
            }
            hx::Expression::String(s) => ExprKind::String(s.value().to_string()),
            hx::Expression::Array(a) => {
                ExprKind::Tuple(a.iter().map(|x| self.expr(x, span)).collect())
            }
            hx::Expression::Object(o) => {
                let mut items = Vec::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        hx::ObjectKey::Ident(i) => ObjectKey::Ident(i.as_str().to_string()),
                        hx::ObjectKey::Expression(x) => ObjectKey::Expr(self.expr(x, span)),
                    };
                    items.push((key, self.expr(v.expr(), span)));
                }
                ExprKind::Object(items)
            }
            hx::Expression::StringTemplate(t) => return self.template(t, span),
            hx::Expression::HeredocTemplate(h) => return self.heredoc(h, span),
            hx::Expression::Parenthesis(p) => {
                ExprKind::Parens(Box::new(self.expr(p.inner(), span)))
            }
            hx::Expression::Variable(v) => ExprKind::Var(v.as_str().to_string()),
            hx::Expression::Conditional(c) => ExprKind::Conditional(
                Box::new(self.expr(&c.cond_expr, span)),
                Box::new(self.expr(&c.true_expr, span)),
                Box::new(self.expr(&c.false_expr, span)),
            ),
            hx::Expression::FuncCall(f) => {
                let mut name = String::new();
                for ns in &f.name.namespace {
                    name.push_str(ns.as_str());
                    name.push_str("::");
                }
                name.push_str(f.name.name.as_str());
                ExprKind::Call {
                    name,
                    args: f.args.iter().map(|a| self.expr(a, span)).collect(),
                    expand_final: f.args.expand_final(),
                }
            }
            hx::Expression::Traversal(t) => return self.traversal(t, span),
            hx::Expression::UnaryOp(u) => {
                let op = match u.operator.value() {
                    hx::UnaryOperator::Neg => UnaryOp::Neg,
                    hx::UnaryOperator::Not => UnaryOp::Not,
                };
                ExprKind::Unary(op, Box::new(self.expr(&u.expr, span)))
            }
            hx::Expression::BinaryOp(b) => {
                use hx::BinaryOperator as O;
                let op = match b.operator.value() {
                    O::Eq => BinaryOp::Eq,
                    O::NotEq => BinaryOp::NotEq,
                    O::LessEq => BinaryOp::LessEq,
                    O::GreaterEq => BinaryOp::GreaterEq,
                    O::Less => BinaryOp::Less,
                    O::Greater => BinaryOp::Greater,
                    O::Plus => BinaryOp::Add,
                    O::Minus => BinaryOp::Sub,
                    O::Mul => BinaryOp::Mul,
                    O::Div => BinaryOp::Div,
                    O::Mod => BinaryOp::Mod,
                    O::And => BinaryOp::And,
                    O::Or => BinaryOp::Or,
                };
                ExprKind::Binary(
                    op,
                    Box::new(self.expr(&b.lhs_expr, span)),
                    Box::new(self.expr(&b.rhs_expr, span)),
                )
            }
            hx::Expression::ForExpr(f) => ExprKind::For(Box::new(ForExpr {
                key_var: f.intro.key_var.as_ref().map(|k| k.as_str().to_string()),
                value_var: f.intro.value_var.as_str().to_string(),
                collection: self.expr(&f.intro.collection_expr, span),
                key_expr: f.key_expr.as_ref().map(|k| self.expr(k, span)),
                value_expr: self.expr(&f.value_expr, span),
                cond: f.cond.as_ref().map(|c| self.expr(&c.expr, span)),
                grouping: f.grouping,
            })),
        };
        Expr { kind, span }
    }

    fn traversal(&self, t: &hx::Traversal, span: Span) -> Expr {
        let mut cur = self.expr(&t.expr, span);
        let ops: Vec<&hx::TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
        let spans: Vec<Span> = t
            .operators
            .iter()
            .map(|o| self.span_of(o.span(), span))
            .collect();
        let mut i = 0;
        while i < ops.len() {
            let op_end = Span {
                file: self.file,
                start: cur.span.start,
                end: spans[i].end.max(cur.span.end),
            };
            match ops[i] {
                hx::TraversalOperator::GetAttr(id) => {
                    cur = Expr::new(
                        ExprKind::GetAttr(Box::new(cur), id.as_str().to_string()),
                        op_end,
                    );
                    i += 1;
                }
                hx::TraversalOperator::Index(x) => {
                    let key = self.expr(x, spans[i]);
                    cur = Expr::new(ExprKind::Index(Box::new(cur), Box::new(key)), op_end);
                    i += 1;
                }
                hx::TraversalOperator::LegacyIndex(n) => {
                    let key = Expr::new(ExprKind::Number(n.value().to_string()), spans[i]);
                    cur = Expr::new(ExprKind::Index(Box::new(cur), Box::new(key)), op_end);
                    i += 1;
                }
                hx::TraversalOperator::AttrSplat(_) | hx::TraversalOperator::FullSplat(_) => {
                    let full = matches!(ops[i], hx::TraversalOperator::FullSplat(_));
                    let splat_span = spans[i];
                    i += 1;
                    // The operators that apply to each element.
                    let mut each = Expr::new(ExprKind::SplatItem, splat_span);
                    let mut end = splat_span.end;
                    while i < ops.len() {
                        let s = spans[i];
                        let each_span = Span {
                            file: self.file,
                            start: splat_span.start,
                            end: s.end,
                        };
                        match ops[i] {
                            hx::TraversalOperator::GetAttr(id) => {
                                each = Expr::new(
                                    ExprKind::GetAttr(Box::new(each), id.as_str().to_string()),
                                    each_span,
                                );
                            }
                            hx::TraversalOperator::Index(x) if full => {
                                let key = self.expr(x, s);
                                each = Expr::new(
                                    ExprKind::Index(Box::new(each), Box::new(key)),
                                    each_span,
                                );
                            }
                            hx::TraversalOperator::LegacyIndex(n) if full => {
                                let key = Expr::new(ExprKind::Number(n.value().to_string()), s);
                                each = Expr::new(
                                    ExprKind::Index(Box::new(each), Box::new(key)),
                                    each_span,
                                );
                            }
                            _ => break,
                        }
                        end = s.end;
                        i += 1;
                    }
                    let whole = Span {
                        file: self.file,
                        start: cur.span.start,
                        end: end.max(cur.span.end),
                    };
                    cur = Expr::new(
                        ExprKind::Splat {
                            source: Box::new(cur),
                            each: Box::new(each),
                        },
                        whole,
                    );
                }
            }
        }
        cur
    }

    /// A heredoc, processed as HCL does: its body is tokenized line by line, strip markers
    /// act on those line tokens, and `<<-` removes the smallest indentation of the lines.
    fn heredoc(&self, h: &ht::HeredocTemplate, span: Span) -> Expr {
        let (start, end) = (span.start as usize, span.end as usize);
        let Some(src) = self.text.get(start..end) else {
            return self.template(&h.template, span);
        };
        let flush = src.starts_with("<<-");
        let Some(nl) = src.find('\n') else {
            return self.template(&h.template, span);
        };
        let body_start = start + nl + 1;
        let rest = self.text.get(body_start..end).unwrap_or("");
        let last_line = rest
            .trim_end_matches(['\n', '\r'])
            .rfind('\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        let body = &rest[..last_line];
        let Ok(tpl) = hcl_edit::parser::parse_template(body) else {
            return self.template(&h.template, span);
        };
        let cx = Cx {
            file: self.file,
            text: self.text,
            offset: body_start,
        };
        let mut flat = Vec::new();
        cx.flatten(&tpl, span, &mut flat, Literals::Lines);
        apply_strips(&mut flat);
        if flush {
            flush_dedent(&mut flat);
        }
        finish_template(flat, span)
    }

    fn template(&self, t: &ht::Template, span: Span) -> Expr {
        let mut flat = Vec::new();
        self.flatten(t, span, &mut flat, Literals::Quoted);
        apply_strips(&mut flat);
        finish_template(flat, span)
    }

    fn flatten(&self, t: &ht::Template, span: Span, out: &mut Vec<Flat>, lits: Literals) {
        // `hcl-edit` parses the body of a directive in a quoted string as a bare template, so its
        // literals keep their escapes (`\n`, `\"`): they are decoded here from the source.
        let inner = match lits {
            Literals::Quoted | Literals::QuotedDirective => Literals::QuotedDirective,
            Literals::Lines => Literals::Lines,
        };
        for el in t.iter() {
            match el {
                ht::Element::Literal(l) => match lits {
                    Literals::Lines => {
                        for piece in l.value().split_inclusive('\n') {
                            out.push(Flat::Lit(piece.to_string()));
                        }
                    }
                    Literals::Quoted => out.push(Flat::Lit(l.value().to_string())),
                    Literals::QuotedDirective => {
                        let decoded = l
                            .span()
                            .and_then(|r| self.text.get(r.start + self.offset..r.end + self.offset))
                            .and_then(crate::fmt::unescape_quoted);
                        out.push(Flat::Lit(decoded.unwrap_or_else(|| l.value().to_string())))
                    }
                },
                ht::Element::Interpolation(i) => {
                    out.push(Flat::Interp(self.expr(&i.expr, span), i.strip.into()))
                }
                ht::Element::Directive(d) => match d.as_ref() {
                    ht::Directive::If(d) => {
                        out.push(Flat::If(
                            self.expr(&d.if_expr.cond_expr, span),
                            d.if_expr.strip.into(),
                        ));
                        self.flatten(&d.if_expr.template, span, out, inner);
                        if let Some(e) = &d.else_expr {
                            out.push(Flat::Else(e.strip.into()));
                            self.flatten(&e.template, span, out, inner);
                        }
                        out.push(Flat::EndIf(d.endif_expr.strip.into()));
                    }
                    ht::Directive::For(d) => {
                        out.push(Flat::For(
                            d.for_expr.key_var.as_ref().map(|k| k.as_str().to_string()),
                            d.for_expr.value_var.as_str().to_string(),
                            self.expr(&d.for_expr.collection_expr, span),
                            d.for_expr.strip.into(),
                        ));
                        self.flatten(&d.for_expr.template, span, out, inner);
                        out.push(Flat::EndFor(d.endfor_expr.strip.into()));
                    }
                },
            }
        }
    }
}

/// Where a template's literals come from, which decides how they are tokenized.
#[derive(Clone, Copy, Debug)]
enum Literals {
    /// A quoted string: each literal is one token, its escapes decoded by the parser.
    Quoted,
    /// The body of a directive inside a quoted string: one token each, escapes still encoded.
    QuotedDirective,
    /// A heredoc or a template file: HCL's scanner ends a literal token at every newline.
    Lines,
}

#[derive(Clone, Copy, Debug)]
struct Strip {
    start: bool,
    end: bool,
}

impl From<ht::Strip> for Strip {
    fn from(s: ht::Strip) -> Strip {
        Strip {
            start: s.strip_start(),
            end: s.strip_end(),
        }
    }
}

/// Templates flattened into a token stream, so strip markers can reach their neighbours.
enum Flat {
    Lit(String),
    Interp(Expr, Strip),
    If(Expr, Strip),
    Else(Strip),
    EndIf(Strip),
    For(Option<String>, String, Expr, Strip),
    EndFor(Strip),
}

impl Flat {
    fn strip(&self) -> Option<Strip> {
        match self {
            Flat::Lit(_) => None,
            Flat::Interp(_, s)
            | Flat::If(_, s)
            | Flat::Else(s)
            | Flat::EndIf(s)
            | Flat::For(_, _, _, s)
            | Flat::EndFor(s) => Some(*s),
        }
    }
}

fn finish_template(flat: Vec<Flat>, span: Span) -> Expr {
    let mut it = flat.into_iter().peekable();
    let parts = build_parts(&mut it);
    // A template that is a single literal is a plain string.
    let kind = match parts.as_slice() {
        [] => ExprKind::String(String::new()),
        [TemplatePart::Literal(s)] => ExprKind::String(s.clone()),
        _ => ExprKind::Template(parts),
    };
    Expr { kind, span }
}

/// HCL's `flushHeredocTemplateParts`: the smallest indentation of the tokens that begin a
/// line (a directive or interpolation there counts as zero; blank lines do not count) is removed
/// from every counted literal.
fn flush_dedent(flat: &mut [Flat]) {
    let mut min = usize::MAX;
    let mut newline = true;
    let mut adjust: Vec<usize> = Vec::new();
    for (i, tok) in flat.iter().enumerate() {
        if newline {
            newline = false;
            let spaces = match tok {
                Flat::Lit(l) => {
                    let trimmed = l.trim_start();
                    if trimmed.is_empty() && l.ends_with('\n') {
                        usize::MAX
                    } else {
                        adjust.push(i);
                        l[..l.len() - trimmed.len()].chars().count()
                    }
                }
                _ => 0,
            };
            min = min.min(spaces);
        }
        if let Flat::Lit(l) = tok {
            if l.ends_with('\n') {
                newline = true;
            }
        }
    }
    if min == usize::MAX || min == 0 {
        return;
    }
    for i in adjust {
        if let Some(Flat::Lit(l)) = flat.get_mut(i) {
            let cut: usize = l.chars().take(min).map(char::len_utf8).sum();
            *l = l[cut..].to_string();
        }
    }
}

fn apply_strips(flat: &mut [Flat]) {
    for i in 0..flat.len() {
        let Some(s) = flat[i].strip() else { continue };
        if s.start && i > 0 {
            if let Flat::Lit(l) = &mut flat[i - 1] {
                let t = l.trim_end().len();
                l.truncate(t);
            }
        }
        if s.end && i + 1 < flat.len() {
            if let Flat::Lit(l) = &mut flat[i + 1] {
                *l = l.trim_start().to_string();
            }
        }
    }
}

fn build_parts(it: &mut std::iter::Peekable<std::vec::IntoIter<Flat>>) -> Vec<TemplatePart> {
    let mut parts: Vec<TemplatePart> = Vec::new();
    while let Some(tok) = it.peek() {
        match tok {
            Flat::Else(_) | Flat::EndIf(_) | Flat::EndFor(_) => return parts,
            _ => {}
        }
        let Some(tok) = it.next() else { break };
        match tok {
            Flat::Lit(l) => {
                if l.is_empty() {
                    continue;
                }
                if let Some(TemplatePart::Literal(prev)) = parts.last_mut() {
                    prev.push_str(&l);
                } else {
                    parts.push(TemplatePart::Literal(l));
                }
            }
            Flat::Interp(e, _) => parts.push(TemplatePart::Interp(e)),
            Flat::If(cond, _) => {
                let then = build_parts(it);
                let mut otherwise = Vec::new();
                if matches!(it.peek(), Some(Flat::Else(_))) {
                    it.next();
                    otherwise = build_parts(it);
                }
                if matches!(it.peek(), Some(Flat::EndIf(_))) {
                    it.next();
                }
                parts.push(TemplatePart::If {
                    cond,
                    then,
                    otherwise,
                });
            }
            Flat::For(key_var, value_var, collection, _) => {
                let body = build_parts(it);
                if matches!(it.peek(), Some(Flat::EndFor(_))) {
                    it.next();
                }
                parts.push(TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                });
            }
            Flat::Else(_) | Flat::EndIf(_) | Flat::EndFor(_) => {}
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Body {
        parse_file(FileId(0), text).expect("parses")
    }

    #[test]
    fn blocks_attributes_and_spans() {
        let b = parse("resource \"a\" \"b\" {\n  x = 1\n}\n");
        assert_eq!(b.blocks.len(), 1);
        let blk = &b.blocks[0];
        assert_eq!(blk.type_, "resource");
        assert_eq!(blk.labels[0].0, "a");
        assert_eq!(blk.labels[1].0, "b");
        assert_eq!((blk.def_span.start, blk.def_span.end), (0, 16));
        let x = blk.body.attr("x").expect("x");
        assert_eq!(x.expr.kind, ExprKind::Number("1".into()));
        assert_eq!((x.expr.span.start, x.expr.span.end), (25, 26));
    }

    #[test]
    fn strip_markers_are_applied() {
        let b = parse("x = \"a  ${~ 1 ~}  b %{ if true ~}\n  yes\n%{~ endif }\"\n");
        let ExprKind::Template(parts) = &b.attrs[0].expr.kind else {
            panic!("template expected");
        };
        assert_eq!(parts[0], TemplatePart::Literal("a".into()));
        assert_eq!(parts[2], TemplatePart::Literal("b ".into()));
        let TemplatePart::If { then, .. } = &parts[3] else {
            panic!("if expected")
        };
        assert_eq!(then, &vec![TemplatePart::Literal("yes".into())]);
    }

    #[test]
    fn splats() {
        let b = parse("x = a[*].b[0]\ny = a.*.b[0]\n");
        let ExprKind::Splat { each, .. } = &b.attrs[0].expr.kind else {
            panic!("full splat")
        };
        assert!(matches!(each.kind, ExprKind::Index(..)));
        // The attribute-only splat stops before the index.
        assert!(matches!(b.attrs[1].expr.kind, ExprKind::Index(..)));
    }

    #[test]
    fn literals_beyond_f64_keep_their_text() {
        let b =
            parse_file(FileId(0), "a = 1e400\nb = 2.5E+999 * x\nc = 1e400-y\n").expect("parses");
        let nums: Vec<ExprKind> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                let e = &b.attr(n).expect("attr").expr;
                match &e.kind {
                    ExprKind::Binary(_, l, _) => l.kind.clone(),
                    k => k.clone(),
                }
            })
            .collect();
        assert_eq!(
            nums,
            [
                ExprKind::Number("1e400".into()),
                ExprKind::Number("2.5E+999".into()),
                ExprKind::Number("1e400".into())
            ]
        );
        // Other syntax errors are still reported as they were.
        let d = parse_file(FileId(0), "a = 1e400 +\n").expect_err("error");
        assert_eq!(d.summary, "Invalid syntax");
        assert!(huge_literal_at("x = abc1e400", 9).is_none());
    }

    /// The whole-file parse, for comparison.
    fn parse_whole(text: &str) -> Body {
        let parsed = hcl_edit::parser::parse_body(text).expect("parses");
        Cx {
            file: FileId(0),
            text,
            offset: 0,
        }
        .body(&parsed, None)
    }

    #[test]
    fn large_files_parse_in_chunks_to_the_same_body() {
        let mut text = String::from("# header\nterraform {\n  required_version = \">= 1.0\"\n}\n");
        for i in 0..1200 {
            text.push_str(&format!(
                "resource \"terraform_data\" \"r{i}\" {{\n  input = {{ n = {i}, s = \"${{upper(\"x{i}\")}}\" }}\n}}\n\n"
            ));
        }
        // A heredoc whose body has a line that looks like a block start: chunking must not
        // split there (the chunk before would be unterminated, so the whole file is parsed).
        let mut tricky = text.clone();
        tricky.push_str("output \"doc\" {\n  value = <<EOT\nresource \"x\" \"y\" {\nEOT\n}\n");
        tricky.push_str("/*\nvariable \"hidden\" {\n*/\nlocals {\n  a = 1\n}\n");
        for t in [&text, &tricky] {
            assert!(t.len() > CHUNKED_ABOVE);
            let whole = parse_whole(t);
            let file = parse_file(FileId(0), t).expect("parses");
            assert_eq!(file, whole);
        }
        assert!(parse_in_chunks(FileId(0), &text).is_some());
        assert!(parse_in_chunks(FileId(0), &tricky).is_none());
        // A syntax error is reported exactly as by the whole-file parse.
        let bad = format!("{text}resource \"a\" \"b\" {{\n  x = \n}}\n");
        let d = parse_file(FileId(0), &bad).expect_err("error");
        let e = hcl_edit::parser::parse_body(&bad).expect_err("error");
        assert_eq!(
            d.subject.map(|s| s.start as usize),
            Some(e.location().offset())
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let d = parse_file(FileId(0), "x = \n}").expect_err("error");
        assert!(d.subject.is_some());
    }
}
