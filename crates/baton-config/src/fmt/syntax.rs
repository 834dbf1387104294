//! The syntax check `terraform fmt` makes before it formats: a port of the recursive-descent
//! parser of HCL's `hclsyntax` package (`ParseConfig`), over the formatter's tokens.
//!
//! It only decides whether the text is valid HCL native syntax and, when it is not, where the
//! first error is; it builds no tree. It must accept exactly what `hclsyntax` accepts (a file
//! it rejects is never formatted), so its structure follows `parser.go` and
//! `parser_template.go` step for step, including where newlines are significant. It must not
//! report anything but syntax: no evaluation, no Terraform-level validation.

use super::{Kind, Token};
use std::collections::HashSet;
use std::ops::Range;

/// A syntax error: its byte offset (in the text without a byte order mark) and a message.
pub(super) type SyntaxError = (usize, String);

type R<T = ()> = Result<T, SyntaxError>;

/// Checks the tokens of a whole file (`hclsyntax.ParseConfig`). On success, returns the token
/// ranges that `hclwrite` loses when it reads the file back (see [`P::drops`]).
pub(super) fn check(tokens: &[Token]) -> R<Vec<Range<usize>>> {
    let mut p = P {
        t: tokens,
        next: 0,
        newlines: vec![true],
        scopes: Vec::new(),
        drops: Vec::new(),
        depth: 0,
    };
    p.body(Kind::Eof)?;
    Ok(p.drops)
}

/// One token as the parser sees it: comments are skipped, a `#`/`//` comment counts as a
/// newline where newlines matter, and newlines are skipped where they do not.
#[derive(Clone, Copy)]
struct Peeked {
    kind: Kind,
    /// Index of the token (the token list's length for the end of the file).
    idx: usize,
    next: usize,
}

struct P<'a> {
    t: &'a [Token],
    next: usize,
    /// Whether newlines are significant, innermost last (`PushIncludeNewlines`).
    newlines: Vec<bool>,
    /// The names declared by the `for` expressions and directives around the current point.
    scopes: Vec<Vec<String>>,
    /// The keys of `[true]`, `[false]` and `[null]` index steps in traversals from a variable
    /// (not a `for` variable). `hclwrite` reads such a step back without its key (it only
    /// keeps number and string keys), so `terraform fmt` writes `x[null]` as `x[]`.
    drops: Vec<Range<usize>>,
    /// How many bodies and expressions are open (see [`MAX_DEPTH`]).
    depth: usize,
}

/// Nesting deeper than this is reported as an error rather than risking the stack (HCL has no
/// such limit; no real configuration comes near it).
const MAX_DEPTH: usize = 200;

/// A template's structure, once its parts are read (`templateToken`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Literal,
    If,
    For,
    Else,
    EndIf,
    EndFor,
    End,
}

const BINARY_OPS: &[Kind] = &[
    Kind::Or,
    Kind::And,
    Kind::EqualOp,
    Kind::NotEqual,
    Kind::Gt,
    Kind::Ge,
    Kind::Lt,
    Kind::Le,
    Kind::Plus,
    Kind::Minus,
    Kind::Star,
    Kind::Slash,
    Kind::Percent,
];

impl P<'_> {
    fn peek_token(&self) -> Peeked {
        let include_newlines = self.newlines.last().copied().unwrap_or(true);
        let mut i = self.next;
        while let Some(tok) = self.t.get(i) {
            match tok.kind {
                Kind::Comment => {
                    if include_newlines && tok.text.ends_with('\n') {
                        return Peeked {
                            kind: Kind::Newline,
                            idx: i,
                            next: i + 1,
                        };
                    }
                    i += 1;
                    continue;
                }
                Kind::Newline if !include_newlines => {
                    i += 1;
                    continue;
                }
                k => {
                    return Peeked {
                        kind: k,
                        idx: i,
                        next: i + 1,
                    }
                }
            }
        }
        Peeked {
            kind: Kind::Eof,
            idx: self.t.len(),
            next: self.t.len(),
        }
    }

    fn peek(&self) -> Kind {
        self.peek_token().kind
    }

    fn read(&mut self) -> Peeked {
        let p = self.peek_token();
        self.next = p.next;
        p
    }

    /// Reads the next token and returns its text.
    fn read_name(&mut self) -> String {
        let idx = self.read().idx;
        self.text(idx).to_string()
    }

    fn text(&self, idx: usize) -> &str {
        self.t.get(idx).map(|t| t.text.as_str()).unwrap_or("")
    }

    fn peek_is_keyword(&self, kw: &str) -> bool {
        let p = self.peek_token();
        p.kind == Kind::Ident && self.text(p.idx) == kw
    }

    fn offset(&self, idx: usize) -> usize {
        match self.t.get(idx) {
            Some(t) => t.start,
            None => self.t.last().map(|t| t.start + t.text.len()).unwrap_or(0),
        }
    }

    fn fail<T>(&self, idx: usize, summary: &str, detail: &str) -> R<T> {
        Err((self.offset(idx), format!("{summary}: {detail}")))
    }

    /// Fails at the next token.
    fn fail_next<T>(&self, summary: &str, detail: &str) -> R<T> {
        self.fail(self.peek_token().idx, summary, detail)
    }

    fn with_newlines<T>(&mut self, include: bool, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        self.newlines.push(include);
        let r = f(self);
        self.newlines.pop();
        r
    }

    // -----------------------------------------------------------------------------------------
    // Bodies

    fn body(&mut self, end: Kind) -> R {
        self.nest(|p| p.body_items(end))
    }

    /// Runs `f` one nesting level deeper, failing when that is too deep.
    fn nest(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        if self.depth >= MAX_DEPTH {
            return self.fail_next(
                "Nesting too deep",
                &format!("Blocks and expressions may be nested at most {MAX_DEPTH} levels deep."),
            );
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn body_items(&mut self, end: Kind) -> R {
        let t = self.t;
        let mut names: HashSet<&str> = HashSet::new();
        loop {
            let next = self.peek_token();
            if next.kind == end {
                self.read();
                return Ok(());
            }
            match next.kind {
                Kind::Newline => {
                    self.read();
                }
                Kind::Ident => {
                    if let Some(name_idx) = self.body_item()? {
                        let name = t.get(name_idx).map(|t| t.text.as_str()).unwrap_or("");
                        if !names.insert(name) {
                            return self.fail(
                                name_idx,
                                "Attribute redefined",
                                &format!("The argument {name:?} was already set. Each argument may be set only once."),
                            );
                        }
                    }
                }
                Kind::OQuote => return self.fail(next.idx, "Invalid argument name", "Argument names must not be quoted."),
                Kind::Eof => {
                    return self.fail(
                        next.idx,
                        "Unclosed configuration block",
                        "There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
                    )
                }
                _ => return self.fail(next.idx, "Argument or block definition required", "An argument or block definition is required here."),
            }
        }
    }

    /// Returns the name token of an attribute (`None` for a block).
    fn body_item(&mut self) -> R<Option<usize>> {
        let ident = self.read();
        match self.peek() {
            Kind::Equal => {
                self.attribute(false)?;
                Ok(Some(ident.idx))
            }
            Kind::OQuote | Kind::OBrace | Kind::Ident => {
                self.block()?;
                Ok(None)
            }
            _ => self.fail(
                ident.idx,
                "Argument or block definition required",
                "An argument or block definition is required here. To set an argument, use the equals sign \"=\" to introduce the argument value.",
            ),
        }
    }

    fn attribute(&mut self, single_line: bool) -> R {
        self.read(); // =
        self.expression()?;
        if !single_line {
            let end = self.peek_token();
            match end.kind {
                Kind::Newline | Kind::Eof => {
                    self.read();
                }
                Kind::Comma => {
                    return self.fail(
                        end.idx,
                        "Unexpected comma after argument",
                        "Argument definitions must be separated by newlines, not commas. An argument definition must end with a newline.",
                    )
                }
                _ => return self.fail(end.idx, "Missing newline after argument", "An argument definition must end with a newline."),
            }
        }
        Ok(())
    }

    fn block(&mut self) -> R {
        loop {
            let tok = self.peek_token();
            match tok.kind {
                Kind::OBrace => {
                    self.read();
                    break;
                }
                Kind::OQuote => self.quoted_string_literal()?,
                Kind::Ident => {
                    self.read();
                }
                Kind::Equal => {
                    return self.fail(
                        tok.idx,
                        "Invalid block definition",
                        "The equals sign \"=\" indicates an argument definition, and must not be used when defining a block.",
                    )
                }
                Kind::Newline => {
                    return self.fail(
                        tok.idx,
                        "Invalid block definition",
                        "A block definition must have block content delimited by \"{\" and \"}\", starting on the same line as the block header.",
                    )
                }
                _ => {
                    return self.fail(
                        tok.idx,
                        "Invalid block definition",
                        "Either a quoted string block label or an opening brace (\"{\") is expected here.",
                    )
                }
            }
        }
        match self.peek() {
            Kind::Newline | Kind::Eof | Kind::CBrace => self.body(Kind::CBrace)?,
            _ => {
                self.single_attr_body()?;
                let next = self.peek_token();
                match next.kind {
                    Kind::CBrace => {
                        self.read();
                    }
                    Kind::Comma => {
                        return self.fail(
                            next.idx,
                            "Invalid single-argument block definition",
                            "Single-line block syntax can include only one argument definition. To define multiple arguments, use the multi-line block syntax with one argument definition per line.",
                        )
                    }
                    Kind::Newline => {
                        return self.fail(
                            next.idx,
                            "Invalid single-argument block definition",
                            "An argument definition on the same line as its containing block creates a single-line block definition, which must also be closed on the same line. Place the block's closing brace immediately after the argument definition.",
                        )
                    }
                    Kind::Eof => {
                        return self.fail(
                            next.idx,
                            "Unclosed configuration block",
                            "There is no closing brace for this block before the end of the file.",
                        )
                    }
                    _ => {
                        return self.fail(
                            next.idx,
                            "Invalid single-argument block definition",
                            "A single-line block definition must end with a closing brace immediately after its single argument definition.",
                        )
                    }
                }
            }
        }
        let eol = self.peek_token();
        match eol.kind {
            Kind::Newline | Kind::Eof => {
                self.read();
                Ok(())
            }
            _ => self.fail(
                eol.idx,
                "Missing newline after block definition",
                "A block definition must end with a newline.",
            ),
        }
    }

    fn single_attr_body(&mut self) -> R {
        let ident = self.read();
        if ident.kind != Kind::Ident {
            return self.fail(
                ident.idx,
                "Argument or block definition required",
                "An argument or block definition is required here.",
            );
        }
        match self.peek() {
            Kind::Equal => self.attribute(true),
            Kind::OQuote | Kind::OBrace | Kind::Ident => self.fail(
                ident.idx,
                "Argument definition required",
                "A single-line block definition can contain only a single argument. To define a nested block, place it on a line of its own within its parent block.",
            ),
            _ => self.fail(
                ident.idx,
                "Argument or block definition required",
                "An argument or block definition is required here. To set an argument, use the equals sign \"=\" to introduce the argument value.",
            ),
        }
    }

    /// A block label: a quoted string without template sequences.
    fn quoted_string_literal(&mut self) -> R {
        let open = self.read();
        if open.kind != Kind::OQuote {
            return self.fail(
                open.idx,
                "Invalid string literal",
                "A quoted string is required here.",
            );
        }
        loop {
            let tok = self.read();
            match tok.kind {
                Kind::CQuote => return Ok(()),
                Kind::QuotedLit => self.check_escapes(tok.idx)?,
                Kind::TemplateControl | Kind::TemplateInterp => {
                    let which = if tok.kind == Kind::TemplateControl {
                        "%"
                    } else {
                        "$"
                    };
                    return self.fail(
                        tok.idx,
                        "Invalid string literal",
                        &format!("Template sequences are not allowed in this string. To include a literal {which:?}, double it (as \"{which}{which}\") to escape it."),
                    );
                }
                Kind::Eof => {
                    return self.fail(
                        tok.idx,
                        "Unterminated string literal",
                        "Unable to find the closing quote mark before the end of the file.",
                    )
                }
                _ => {
                    return self.fail(
                        tok.idx,
                        "Invalid string literal",
                        "This item is not valid in a string literal.",
                    )
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Expressions

    fn expression(&mut self) -> R {
        self.binary_ops()?;
        if self.peek() != Kind::Question {
            return Ok(());
        }
        self.read();
        self.expression()?;
        if self.peek() != Kind::Colon {
            return self.fail_next(
                "Missing false expression in conditional",
                "The conditional operator (...?...:...) requires a false expression, delimited by a colon.",
            );
        }
        self.read();
        self.expression()
    }

    fn binary_ops(&mut self) -> R {
        self.expression_with_traversals()?;
        while BINARY_OPS.contains(&self.peek()) {
            self.read();
            self.expression_with_traversals()?;
        }
        Ok(())
    }

    fn expression_with_traversals(&mut self) -> R {
        let variable = self.term()?;
        self.traversals(variable)
    }

    /// The steps after a term; `variable` when the term is a variable's name (not a `for`
    /// variable's), which makes the steps up to the first splat or computed index a traversal.
    fn traversals(&mut self, mut variable: bool) -> R {
        loop {
            match self.peek() {
                Kind::Dot => {
                    self.read();
                    let attr = self.peek_token();
                    match attr.kind {
                        Kind::Ident => {
                            self.read();
                        }
                        Kind::NumberLit => {
                            self.read();
                            self.legacy_index(attr.idx)?;
                        }
                        Kind::Star => {
                            self.read();
                            variable = false;
                            while self.peek() == Kind::Dot {
                                self.read();
                                let next = self.peek_token();
                                match next.kind {
                                    Kind::NumberLit => {
                                        self.read();
                                        self.legacy_index(next.idx)?;
                                    }
                                    Kind::Ident => {
                                        self.read();
                                    }
                                    Kind::Star => {
                                        return self.fail(
                                            next.idx,
                                            "Nested splat expression not allowed",
                                            "A splat expression (*) cannot be used inside another attribute-only splat expression.",
                                        )
                                    }
                                    _ => return self.fail(next.idx, "Invalid attribute name", "An attribute name is required after a dot."),
                                }
                            }
                        }
                        _ => {
                            return self.fail(
                                attr.idx,
                                "Invalid attribute name",
                                "An attribute name is required after a dot.",
                            )
                        }
                    }
                }
                Kind::OBrack => {
                    let open = self.read();
                    if self.peek() == Kind::Star {
                        variable = false;
                        self.read();
                        let close = self.read();
                        if close.kind != Kind::CBrack {
                            return self.fail(
                                close.idx,
                                "Missing close bracket on splat index",
                                "The star for a full splat operator must be immediately followed by a closing bracket (\"]\").",
                            );
                        }
                    } else {
                        let close = self.with_newlines(false, |p| {
                            p.expression()?;
                            let close = p.read();
                            if close.kind != Kind::CBrack {
                                return p.fail(
                                    close.idx,
                                    "Missing close bracket on index",
                                    "The index operator must end with a closing bracket (\"]\").",
                                );
                            }
                            Ok(close.idx)
                        })?;
                        let key = open.idx + 1..close;
                        match self.literal_key(key.clone()) {
                            Some(true) if variable => self.drops.push(key),
                            Some(_) => {}
                            None => variable = false,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Whether an index key is a literal (which keeps a traversal going): `Some(true)` for
    /// `true`, `false` and `null`, `Some(false)` for a number or a string without templates.
    fn literal_key(&self, key: Range<usize>) -> Option<bool> {
        let toks: Vec<&Token> = self
            .t
            .get(key)
            .unwrap_or_default()
            .iter()
            .filter(|t| !matches!(t.kind, Kind::Comment | Kind::Newline))
            .collect();
        let kinds: Vec<Kind> = toks.iter().map(|t| t.kind).collect();
        match kinds.as_slice() {
            [Kind::Ident] => match toks.first().map(|t| t.text.as_str()) {
                Some("true" | "false" | "null") => Some(true),
                _ => None,
            },
            [Kind::NumberLit] => Some(false),
            [Kind::OQuote, middle @ .., Kind::CQuote]
                if middle.iter().all(|k| *k == Kind::QuotedLit) =>
            {
                Some(false)
            }
            [Kind::OHeredoc, middle @ .., Kind::CHeredoc]
                if middle.iter().all(|k| *k == Kind::StringLit) =>
            {
                Some(false)
            }
            _ => None,
        }
    }

    fn is_local(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.iter().any(|n| n == name))
    }

    /// `foo.0`: the legacy index must be a whole number (`foo.0.1` scans as `0.1`).
    fn legacy_index(&self, idx: usize) -> R {
        if self.text(idx).contains('.') {
            return self.fail(
                idx,
                "Invalid legacy index syntax",
                "When using the legacy index syntax, chaining two indexes together is not permitted. Use the proper index syntax instead.",
            );
        }
        self.number(idx)
    }

    /// `cty.ParseNumberVal`: digits, an optional fraction, an optional exponent.
    fn number(&self, idx: usize) -> R {
        let b = self.text(idx).as_bytes();
        let mut i = 0;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        let int = digits(&mut i);
        let mut frac = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            frac = digits(&mut i);
        }
        let mut ok = int + frac > 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            ok &= digits(&mut i) > 0;
        }
        if ok && i == b.len() {
            Ok(())
        } else {
            self.fail(
                idx,
                "Invalid number literal",
                "Failed to recognize the value of this number literal.",
            )
        }
    }

    /// One term; returns whether it is the name of a variable (see [`P::traversals`]).
    fn term(&mut self) -> R<bool> {
        if self.depth >= MAX_DEPTH {
            return self.fail_next(
                "Nesting too deep",
                &format!("Blocks and expressions may be nested at most {MAX_DEPTH} levels deep."),
            );
        }
        self.depth += 1;
        let r = self.term_inner();
        self.depth -= 1;
        r
    }

    fn term_inner(&mut self) -> R<bool> {
        let start = self.peek_token();
        match start.kind {
            Kind::OParen => {
                self.read();
                self.with_newlines(false, |p| {
                    p.expression()?;
                    if p.peek() != Kind::CParen {
                        return p.fail_next(
                            "Unbalanced parentheses",
                            "Expected a closing parenthesis to terminate the expression.",
                        );
                    }
                    p.read();
                    Ok(())
                })?;
            }
            Kind::NumberLit => {
                self.read();
                self.number(start.idx)?;
            }
            Kind::Ident => {
                self.read();
                if matches!(self.peek(), Kind::OParen | Kind::DoubleColon) {
                    self.function_call(start.idx)?;
                    return Ok(false);
                }
                let name = self.text(start.idx);
                return Ok(!matches!(name, "true" | "false" | "null") && !self.is_local(name));
            }
            Kind::OQuote | Kind::OHeredoc => {
                self.read();
                let end = if start.kind == Kind::OQuote {
                    Kind::CQuote
                } else {
                    Kind::CHeredoc
                };
                self.template(end)?;
            }
            Kind::Minus | Kind::Bang => {
                self.read();
                self.expression_with_traversals()?;
            }
            Kind::OBrack => self.tuple()?,
            Kind::OBrace => self.object()?,
            Kind::Eof => {
                return self.fail(
                    start.idx,
                    "Missing expression",
                    "Expected the start of an expression, but found the end of the file.",
                )
            }
            _ => {
                return self.fail(
                    start.idx,
                    "Invalid expression",
                    "Expected the start of an expression, but found an invalid expression token.",
                )
            }
        }
        Ok(false)
    }

    fn function_call(&mut self, name: usize) -> R {
        let mut open = self.read();
        while open.kind == Kind::DoubleColon {
            let next = self.read();
            if next.kind != Kind::Ident {
                return self.fail(
                    next.idx,
                    "Missing function name",
                    "Function scope resolution symbol :: must be followed by a function name in this scope.",
                );
            }
            open = self.read();
        }
        if open.kind != Kind::OParen {
            return self.fail(
                open.idx,
                "Missing open parenthesis",
                "Function selector must be followed by an open parenthesis to begin the function call.",
            );
        }
        self.with_newlines(false, |p| loop {
            if p.peek() == Kind::CParen {
                p.read();
                return Ok(());
            }
            p.expression()?;
            let sep = p.read();
            match sep.kind {
                Kind::CParen => return Ok(()),
                Kind::Ellipsis => {
                    if p.peek() != Kind::CParen {
                        return p.fail(
                            sep.idx,
                            "Missing closing parenthesis",
                            "An expanded function argument (with ...) must be immediately followed by closing parentheses.",
                        );
                    }
                    p.read();
                    return Ok(());
                }
                Kind::Comma => {
                    if p.peek() == Kind::CParen {
                        p.read();
                        return Ok(());
                    }
                }
                Kind::Eof => {
                    return p.fail(
                        name,
                        "Unterminated function call",
                        "There is no closing parenthesis for this function call before the end of the file. This may be caused by incorrect parenthesis nesting elsewhere in this file.",
                    )
                }
                _ => return p.fail(sep.idx, "Missing argument separator", "A comma is required to separate each function argument from the next."),
            }
        })
    }

    fn tuple(&mut self) -> R {
        let open = self.read();
        self.with_newlines(false, |p| {
            if p.peek_is_keyword("for") {
                return p.for_expr(Kind::CBrack);
            }
            loop {
                if p.peek() == Kind::CBrack {
                    p.read();
                    return Ok(());
                }
                p.expression()?;
                let next = p.peek_token();
                match next.kind {
                    Kind::CBrack => {
                        p.read();
                        return Ok(());
                    }
                    Kind::Comma => {
                        p.read();
                    }
                    Kind::Eof => {
                        return p.fail(
                            open.idx,
                            "Unterminated tuple constructor expression",
                            "There is no corresponding closing bracket before the end of the file. This may be caused by incorrect bracket nesting elsewhere in this file.",
                        )
                    }
                    _ => return p.fail(next.idx, "Missing item separator", "Expected a comma to mark the beginning of the next item."),
                }
            }
        })
    }

    fn object(&mut self) -> R {
        let open = self.read();
        let is_for = self.with_newlines(false, |p| Ok(p.peek_is_keyword("for")))?;
        if is_for {
            return self.for_expr(Kind::CBrace);
        }
        self.with_newlines(true, |p| loop {
            match p.peek() {
                Kind::Newline => {
                    p.read();
                    continue;
                }
                Kind::CBrace => {
                    p.read();
                    return Ok(());
                }
                _ => {}
            }
            p.expression()?;
            let next = p.peek_token();
            match next.kind {
                Kind::Equal | Kind::Colon => {
                    p.read();
                }
                Kind::Newline | Kind::Comma => {
                    return p.fail(next.idx, "Missing attribute value", "Expected an attribute value, introduced by an equals sign (\"=\").")
                }
                Kind::Eof => {
                    return p.fail(
                        open.idx,
                        "Unterminated object constructor expression",
                        "There is no corresponding closing brace before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
                    )
                }
                _ => {
                    return p.fail(
                        next.idx,
                        "Missing key/value separator",
                        "Expected an equals sign (\"=\") to mark the beginning of the attribute value.",
                    )
                }
            }
            p.expression()?;
            let next = p.peek_token();
            match next.kind {
                Kind::CBrace => {
                    p.read();
                    return Ok(());
                }
                Kind::Comma | Kind::Newline => {
                    p.read();
                }
                Kind::Eof => {
                    return p.fail(
                        open.idx,
                        "Unterminated object constructor expression",
                        "There is no corresponding closing brace before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
                    )
                }
                _ => {
                    return p.fail(
                        next.idx,
                        "Missing attribute separator",
                        "Expected a newline or comma to mark the beginning of the next attribute.",
                    )
                }
            }
        })
    }

    fn for_expr(&mut self, close: Kind) -> R {
        let make_object = close == Kind::CBrace;
        self.with_newlines(false, |p| {
            p.read(); // for
            if p.peek() != Kind::Ident {
                return p.fail_next(
                    "Invalid 'for' expression",
                    "For expression requires variable name after 'for'.",
                );
            }
            let mut names = vec![p.read_name()];
            if p.peek() == Kind::Comma {
                p.read();
                if p.peek() != Kind::Ident {
                    return p.fail_next(
                        "Invalid 'for' expression",
                        "For expression requires value variable name after comma.",
                    );
                }
                names.push(p.read_name());
            }
            if !p.peek_is_keyword("in") {
                return p.fail_next(
                    "Invalid 'for' expression",
                    "For expression requires the 'in' keyword after its name declarations.",
                );
            }
            p.read();
            p.expression()?;
            if p.peek() != Kind::Colon {
                return p.fail_next(
                    "Invalid 'for' expression",
                    "For expression requires a colon after the collection expression.",
                );
            }
            p.read();
            p.scopes.push(names);
            let r = p.for_body();
            p.scopes.pop();
            let (value_start, key, group) = r?;
            if p.peek() != close {
                return p.fail_next(
                    "Invalid 'for' expression",
                    "Extra characters after the end of the 'for' expression.",
                );
            }
            p.read();
            if !make_object {
                if let Some(k) = key {
                    return p.fail(
                        k,
                        "Invalid 'for' expression",
                        "Key expression is not valid when building a tuple.",
                    );
                }
                if let Some(g) = group {
                    return p.fail(
                        g,
                        "Invalid 'for' expression",
                        "Grouping ellipsis (...) cannot be used when building a tuple.",
                    );
                }
            } else if key.is_none() {
                return p.fail(
                    value_start.idx,
                    "Invalid 'for' expression",
                    "Key expression is required when building an object.",
                );
            }
            Ok(())
        })
    }

    /// A `for` expression's key, value and condition (in the scope of its variables). Returns
    /// where the value starts, the key (if any) and the grouping ellipsis (if any).
    fn for_body(&mut self) -> R<(Peeked, Option<usize>, Option<usize>)> {
        let value_start = self.peek_token();
        self.expression()?;
        let mut key = None;
        if self.peek() == Kind::FatArrow {
            self.read();
            key = Some(value_start.idx);
            self.expression()?;
        }
        let mut group = None;
        if self.peek() == Kind::Ellipsis {
            group = Some(self.read().idx);
        }
        if self.peek_is_keyword("if") {
            self.read();
            self.expression()?;
        }
        Ok((value_start, key, group))
    }

    // -----------------------------------------------------------------------------------------
    // Templates

    /// The parts of a quoted or heredoc template up to `end`, then their structure.
    fn template(&mut self, end: Kind) -> R {
        let scopes = self.scopes.len();
        let r = self.template_parts(end);
        self.scopes.truncate(scopes);
        let parts = r?;
        TemplateStructure {
            parts: &parts,
            pos: 0,
            depth: 0,
            p: &*self,
        }
        .root()
    }

    /// Reads a template's parts. A `for` directive's variables are in scope up to the next
    /// `endfor`.
    fn template_parts(&mut self, end: Kind) -> R<Vec<(Part, usize)>> {
        let outer = self.scopes.len();
        let mut parts: Vec<(Part, usize)> = Vec::new();
        loop {
            let next = self.read();
            if next.kind == end {
                break;
            }
            match next.kind {
                Kind::QuotedLit => {
                    self.check_escapes(next.idx)?;
                    parts.push((Part::Literal, next.idx));
                }
                Kind::StringLit => parts.push((Part::Literal, next.idx)),
                Kind::TemplateInterp => {
                    self.with_newlines(false, |p| {
                        p.expression()?;
                        let close = p.peek_token();
                        if close.kind != Kind::TemplateSeqEnd {
                            return match close.kind {
                                Kind::Eof => p.fail(
                                    next.idx,
                                    "Unclosed template interpolation sequence",
                                    "There is no closing brace for this interpolation sequence before the end of the file. This might be caused by incorrect nesting inside the given expression.",
                                ),
                                Kind::Colon => p.fail(
                                    close.idx,
                                    "Extra characters after interpolation expression",
                                    "Template interpolation doesn't expect a colon at this location. Did you intend this to be a literal sequence to be processed as part of another language? If so, you can escape it by starting with \"$${\" instead of just \"${\".",
                                ),
                                Kind::CQuote | Kind::OQuote if end == Kind::CQuote => p.fail(
                                    next.idx,
                                    "Unclosed template interpolation sequence",
                                    "There is no closing brace for this interpolation sequence before the end of the quoted template. This might be caused by incorrect nesting inside the given expression.",
                                ),
                                _ => p.fail(
                                    close.idx,
                                    "Extra characters after interpolation expression",
                                    "Expected a closing brace to end the interpolation expression, but found extra characters. If this is an embedded sequence for another language, escape it by starting with \"$${\" instead of just \"${\".",
                                ),
                            };
                        }
                        p.read();
                        Ok(())
                    })?;
                    parts.push((Part::Literal, next.idx));
                }
                Kind::TemplateControl => {
                    let part = self.with_newlines(false, |p| p.directive())?;
                    if part == Part::EndFor && self.scopes.len() > outer {
                        self.scopes.pop();
                    }
                    parts.push((part, next.idx));
                }
                _ => {
                    return self.fail(
                        next.idx,
                        "Unterminated template string",
                        "No closing marker was found for the string.",
                    )
                }
            }
        }
        parts.push((Part::End, self.peek_token().idx));
        Ok(parts)
    }

    /// One `%{ ... }` directive, after its opening.
    fn directive(&mut self) -> R<Part> {
        let kw = self.peek_token();
        if kw.kind != Kind::Ident {
            return self.fail(
                kw.idx,
                "Invalid template directive",
                "A template directive keyword (\"if\", \"for\", etc) is expected at the beginning of a %{ sequence.",
            );
        }
        self.read();
        let name = self.text(kw.idx).to_string();
        let part = match name.as_str() {
            "if" => {
                self.expression()?;
                Part::If
            }
            "else" => Part::Else,
            "endif" => Part::EndIf,
            "endfor" => Part::EndFor,
            "for" => {
                if self.peek() != Kind::Ident {
                    return self.fail_next(
                        "Invalid 'for' directive",
                        "For directive requires variable name after 'for'.",
                    );
                }
                let mut names = vec![self.read_name()];
                if self.peek() == Kind::Comma {
                    self.read();
                    if self.peek() != Kind::Ident {
                        return self.fail_next(
                            "Invalid 'for' directive",
                            "For directive requires value variable name after comma.",
                        );
                    }
                    names.push(self.read_name());
                }
                if !self.peek_is_keyword("in") {
                    return self.fail_next(
                        "Invalid 'for' directive",
                        "For directive requires 'in' keyword after names.",
                    );
                }
                self.read();
                self.expression()?;
                // The names are in scope in the directive's body (the collection is outside).
                self.scopes.push(names);
                Part::For
            }
            other => {
                return self.fail(
                    kw.idx,
                    "Invalid template control keyword",
                    &format!("{other:?} is not a valid template control keyword."),
                )
            }
        };
        if self.peek() != Kind::TemplateSeqEnd {
            return self.fail_next(
                &format!("Extra characters in {name} marker"),
                "Expected a closing brace to end the sequence, but found extra characters.",
            );
        }
        self.read();
        Ok(part)
    }

    /// `ParseStringLiteralToken` for a quoted literal: every backslash starts a valid escape.
    fn check_escapes(&self, idx: usize) -> R {
        let s = self.text(idx);
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'\\' {
                i += 1;
                continue;
            }
            let bad = |detail: &str| {
                Err((
                    self.offset(idx) + i,
                    format!("Invalid escape sequence: {detail}"),
                ))
            };
            match b.get(i + 1) {
                Some(b'n' | b'r' | b't' | b'"' | b'\\') => i += 2,
                Some(&u @ (b'u' | b'U')) => {
                    let want = if u == b'u' { 4 } else { 8 };
                    let hex = b[i + 2..]
                        .iter()
                        .take(want)
                        .take_while(|c| c.is_ascii_hexdigit())
                        .count();
                    if hex != want {
                        return bad(if u == b'u' {
                            "The \\u escape sequence must be followed by four hexadecimal digits."
                        } else {
                            "The \\U escape sequence must be followed by eight hexadecimal digits."
                        });
                    }
                    let digits = s.get(i + 2..i + 2 + want).unwrap_or("");
                    let valid = u32::from_str_radix(digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .is_some();
                    if !valid {
                        return bad(&format!("Cannot encode character U+{digits} in UTF-8."));
                    }
                    i += 2 + want;
                }
                Some(_) => {
                    return bad(
                        "The symbol after the backslash is not a valid escape sequence selector.",
                    )
                }
                None => {
                    return bad(
                        "Backslash must be followed by an escape sequence selector character.",
                    )
                }
            }
        }
        Ok(())
    }
}

/// The balance of a template's `if`/`else`/`endif` and `for`/`endfor` directives
/// (`templateParser`).
struct TemplateStructure<'a, 'b> {
    parts: &'a [(Part, usize)],
    pos: usize,
    depth: usize,
    p: &'a P<'b>,
}

impl TemplateStructure<'_, '_> {
    fn peek(&self) -> (Part, usize) {
        self.parts.get(self.pos).copied().unwrap_or((Part::End, 0))
    }

    fn read(&mut self) -> (Part, usize) {
        let r = self.peek();
        if r.0 != Part::End {
            self.pos += 1;
        }
        r
    }

    fn root(&mut self) -> R {
        while self.peek().0 != Part::End {
            self.expr()?;
        }
        Ok(())
    }

    fn expr(&mut self) -> R {
        let (part, idx) = self.peek();
        match part {
            Part::Literal => {
                self.read();
                Ok(())
            }
            Part::If => self.nested(true),
            Part::For => self.nested(false),
            Part::End => self.p.fail(
                idx,
                "Unexpected end of template",
                "The control directives within this template are unbalanced.",
            ),
            Part::Else | Part::EndIf | Part::EndFor => {
                let name = match part {
                    Part::Else => "else",
                    Part::EndIf => "endif",
                    _ => "endfor",
                };
                self.p.fail(
                    idx,
                    &format!("Unexpected {name} directive"),
                    "The control directives within this template are unbalanced.",
                )
            }
        }
    }

    /// The body of an `if` (with at most one `else`) or a `for`, through its end directive.
    fn nested(&mut self, is_if: bool) -> R {
        let (_, open) = self.read();
        if self.depth >= MAX_DEPTH {
            return self.p.fail(
                open,
                "Nesting too deep",
                &format!("Template directives may be nested at most {MAX_DEPTH} levels deep."),
            );
        }
        self.depth += 1;
        let r = self.nested_body(is_if, open);
        self.depth -= 1;
        r
    }

    fn nested_body(&mut self, is_if: bool, open: usize) -> R {
        let mut in_else = false;
        loop {
            let (part, idx) = self.peek();
            match part {
                Part::End => {
                    let which = if is_if {
                        "if directive is missing its corresponding endif"
                    } else {
                        "for directive is missing its corresponding endfor"
                    };
                    return self.p.fail(
                        idx.max(open),
                        "Unexpected end of template",
                        &format!("The {which} directive."),
                    );
                }
                Part::Else if is_if && !in_else => {
                    self.read();
                    in_else = true;
                }
                Part::EndIf if is_if => {
                    self.read();
                    return Ok(());
                }
                Part::EndFor if !is_if => {
                    self.read();
                    return Ok(());
                }
                Part::Else | Part::EndIf | Part::EndFor => {
                    return self.p.fail(
                        idx,
                        "Unexpected directive",
                        if is_if {
                            "Expecting an endif directive for the if."
                        } else {
                            "Expecting an endfor directive for the for."
                        },
                    )
                }
                _ => self.expr()?,
            }
        }
    }
}
