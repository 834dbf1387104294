//! The canonical layout of the Terraform language: rewrites the text of one `.tf`, `.tfvars`
//! or `.tftest.hcl` file exactly as `terraform fmt` does.
//!
//! `terraform fmt` is HCL's token-based `hclwrite` formatter plus a few clean-ups of
//! Terraform's own; both are replicated here rule for rule:
//!
//! - the text is split into tokens by a scanner that mirrors `hclsyntax`'s (quoted templates
//!   and heredocs included, so the contents of strings, heredocs and comments are never
//!   touched);
//! - Terraform's clean-ups: an attribute whose value is only an interpolation (`"${x}"`) is
//!   unwrapped, the `type` of a `variable` block loses its legacy quotes (`"string"`) and gets
//!   an explicit element type (`list` → `list(any)`), and block labels are written quoted;
//! - `hclwrite`'s passes: indentation by bracket nesting (two spaces a level), the spacing
//!   between the tokens of a line, then alignment of `=` in runs of consecutive one-line
//!   attributes and of trailing line comments in runs of consecutive lines.
//!
//! Architecture invariant: this module is a pure function of the text. It does no I/O, never
//! evaluates anything and never panics. An input with a syntax error is never changed: the
//! error comes back with its line and column instead.

use std::ops::Range;

mod syntax;

/// Why a text could not be formatted: it is not valid HCL native syntax.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct FmtError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// Byte offset of the problem in the input.
    pub offset: usize,
    pub message: String,
}

/// Formats one file's text. Returns the text unchanged when it is already canonical.
pub fn format(src: &str) -> Result<String, FmtError> {
    // hclsyntax skips a UTF-8 byte order mark; hclwrite then never writes it back.
    let text = src.strip_prefix('\u{feff}').unwrap_or(src);
    let bom = src.len() - text.len();
    let err = |offset: usize, message: String| error_at(src, bom + offset, message);

    let scanned = scan(text).map_err(|(o, m)| err(o, m))?;
    let mut toks = scanned.tokens;
    let mut drops = syntax::check(&toks).map_err(|(o, m)| err(o, m))?;
    // hclwrite loses some tokens when it reads the file; so does the result.
    drops.sort_by_key(|r| std::cmp::Reverse(r.start));
    for range in drops {
        if range.start <= range.end && range.end <= toks.len() {
            toks.drain(range);
        }
    }
    let items = Parser { t: &toks, i: 0 }
        .body(false)
        .map_err(|(o, m)| err(o, m))?;

    let mut edits = Vec::new();
    terraform_edits(&items, &toks, &mut Vec::new(), &mut edits);
    // Apply from the end so that earlier ranges stay valid.
    edits.sort_by_key(|e| std::cmp::Reverse(e.0.start));
    for (range, replacement) in edits {
        if range.start <= range.end && range.end <= toks.len() {
            toks.splice(range, replacement);
        }
    }

    format_tokens(&mut toks);

    let mut out = String::with_capacity(text.len() + 16);
    for t in &toks {
        push_spaces(&mut out, t.spaces);
        out.push_str(&t.text);
    }
    // The end-of-file token keeps whatever (space or tab) bytes followed the last token,
    // each written as one space; with no token at all, hclwrite counts from the start of the
    // input, byte order mark included.
    let tail = match scanned.last_end {
        Some(end) => src.len().saturating_sub(bom + end),
        None => src.len(),
    };
    push_spaces(&mut out, tail);
    Ok(out)
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn error_at(src: &str, offset: usize, message: String) -> FmtError {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = src[line_start..offset].chars().count() + 1;
    FmtError {
        line,
        column,
        offset,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    OQuote,
    CQuote,
    OHeredoc,
    CHeredoc,
    Star,
    Slash,
    Plus,
    Minus,
    Percent,
    Equal,
    EqualOp,
    NotEqual,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Bang,
    Dot,
    Comma,
    DoubleColon,
    Ellipsis,
    FatArrow,
    Question,
    Colon,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    QuotedLit,
    StringLit,
    NumberLit,
    Ident,
    Comment,
    Newline,
    /// "No token": before the first token of a cell.
    Nil,
    /// The end of the file (only seen by the syntax check).
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    text: String,
    /// Spaces written before the token (recomputed by the formatter).
    spaces: usize,
    /// Byte offset in the input (0 for tokens made by the clean-ups).
    start: usize,
}

impl Token {
    fn new(kind: Kind, text: &str) -> Token {
        Token {
            kind,
            text: text.to_string(),
            spaces: 0,
            start: 0,
        }
    }

    /// Whether the token ends a line: a newline, or a `#`/`//` comment (which includes the
    /// newline that ends it).
    fn is_newline(&self) -> bool {
        match self.kind {
            Kind::Newline => true,
            Kind::Comment => self.text.ends_with('\n'),
            _ => false,
        }
    }
}

fn bracket_change(k: Kind) -> i64 {
    match k {
        Kind::OBrace
        | Kind::OBrack
        | Kind::OParen
        | Kind::TemplateControl
        | Kind::TemplateInterp => 1,
        Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Scanner: mirrors hclsyntax's `scan_tokens.rl` (the Ragel scanner HCL itself uses).

struct Scanned {
    tokens: Vec<Token>,
    /// Where the last token ends (the end-of-file token's spaces are counted from here).
    last_end: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Main,
    Str,
    Heredoc,
}

struct Heredoc {
    marker: String,
    start_of_line: bool,
}

type ScanError = (usize, String);

fn scan(src: &str) -> Result<Scanned, ScanError> {
    let b = src.as_bytes();
    let mut toks: Vec<Token> = Vec::new();
    let mut modes: Vec<Mode> = vec![Mode::Main];
    let mut braces: i64 = 0;
    let mut ret_braces: Vec<i64> = Vec::new();
    let mut heredocs: Vec<Heredoc> = Vec::new();
    let mut p = 0usize;
    let at = |i: usize| b.get(i).copied().unwrap_or(0);

    let emit = |toks: &mut Vec<Token>, kind: Kind, s: usize, e: usize| {
        toks.push(Token {
            kind,
            text: src.get(s..e).unwrap_or("").to_string(),
            spaces: 0,
            start: s,
        });
    };

    while p < b.len() {
        let mode = modes.last().copied().unwrap_or(Mode::Main);
        match mode {
            Mode::Main => {
                let c = at(p);
                let (kind, len) = match c {
                    b' ' | b'\t' => {
                        p += 1;
                        continue;
                    }
                    b'0'..=b'9' => (Kind::NumberLit, number_len(b, p)),
                    b'#' => (Kind::Comment, line_comment_len(b, p)),
                    b'/' if at(p + 1) == b'/' => (Kind::Comment, line_comment_len(b, p)),
                    b'/' if at(p + 1) == b'*' => match find(b, p + 2, b"*/") {
                        Some(e) => (Kind::Comment, e + 2 - p),
                        None => (Kind::Slash, 1),
                    },
                    b'/' => (Kind::Slash, 1),
                    b'\n' => (Kind::Newline, 1),
                    b'\r' if at(p + 1) == b'\n' => (Kind::Newline, 2),
                    b'=' if at(p + 1) == b'=' => (Kind::EqualOp, 2),
                    b'=' if at(p + 1) == b'>' => (Kind::FatArrow, 2),
                    b'=' => (Kind::Equal, 1),
                    b'!' if at(p + 1) == b'=' => (Kind::NotEqual, 2),
                    b'!' => (Kind::Bang, 1),
                    b'>' if at(p + 1) == b'=' => (Kind::Ge, 2),
                    b'>' => (Kind::Gt, 1),
                    b'<' if at(p + 1) == b'=' => (Kind::Le, 2),
                    b'<' if at(p + 1) == b'<' => match heredoc_intro(src, p) {
                        Some((len, marker)) => {
                            emit(&mut toks, Kind::OHeredoc, p, p + len);
                            heredocs.push(Heredoc {
                                marker,
                                start_of_line: true,
                            });
                            modes.push(Mode::Heredoc);
                            p += len;
                            continue;
                        }
                        None => (Kind::Lt, 1),
                    },
                    b'<' => (Kind::Lt, 1),
                    b'&' if at(p + 1) == b'&' => (Kind::And, 2),
                    b'|' if at(p + 1) == b'|' => (Kind::Or, 2),
                    b':' if at(p + 1) == b':' => (Kind::DoubleColon, 2),
                    b':' => (Kind::Colon, 1),
                    b'.' if at(p + 1) == b'.' && at(p + 2) == b'.' => (Kind::Ellipsis, 3),
                    b'.' => (Kind::Dot, 1),
                    b'[' => (Kind::OBrack, 1),
                    b']' => (Kind::CBrack, 1),
                    b'(' => (Kind::OParen, 1),
                    b')' => (Kind::CParen, 1),
                    b',' => (Kind::Comma, 1),
                    b'*' => (Kind::Star, 1),
                    b'%' => (Kind::Percent, 1),
                    b'+' => (Kind::Plus, 1),
                    b'-' => (Kind::Minus, 1),
                    b'?' => (Kind::Question, 1),
                    b'{' => {
                        braces += 1;
                        (Kind::OBrace, 1)
                    }
                    b'}' | b'~' if c == b'}' || at(p + 1) == b'}' => {
                        let len = if c == b'~' { 2 } else { 1 };
                        let closes = ret_braces.last() == Some(&braces);
                        braces -= 1;
                        if closes {
                            ret_braces.pop();
                            modes.pop();
                            (Kind::TemplateSeqEnd, len)
                        } else if c == b'~' {
                            // hclsyntax emits a sequence end here too and lets the parser
                            // reject it.
                            return Err((
                                p,
                                "Invalid character: \"~}\" outside a template sequence".into(),
                            ));
                        } else {
                            (Kind::CBrace, 1)
                        }
                    }
                    b'"' => {
                        emit(&mut toks, Kind::OQuote, p, p + 1);
                        modes.push(Mode::Str);
                        p += 1;
                        continue;
                    }
                    _ => {
                        let ch = src.get(p..).and_then(|s| s.chars().next()).unwrap_or('\0');
                        if ch == '_' || is_id_start(ch) {
                            (Kind::Ident, ident_len(src, p))
                        } else {
                            return Err((p, invalid_char_message(ch)));
                        }
                    }
                };
                emit(&mut toks, kind, p, p + len);
                p += len;
            }
            Mode::Str => {
                let c = at(p);
                match c {
                    b'$' | b'%' if at(p + 1) == b'{' => {
                        let len = if at(p + 2) == b'~' { 3 } else { 2 };
                        let kind = if c == b'$' {
                            Kind::TemplateInterp
                        } else {
                            Kind::TemplateControl
                        };
                        emit(&mut toks, kind, p, p + len);
                        braces += 1;
                        ret_braces.push(braces);
                        modes.push(Mode::Main);
                        p += len;
                    }
                    b'$' | b'%' => {
                        let len = escaped_intro_len(b, p);
                        emit(&mut toks, Kind::QuotedLit, p, p + len);
                        p += len;
                    }
                    b'"' => {
                        emit(&mut toks, Kind::CQuote, p, p + 1);
                        modes.pop();
                        p += 1;
                    }
                    b'\r' | b'\n' => {
                        return Err((
                            p,
                            "Invalid multi-line string: quoted strings may not be split over multiple lines; use a heredoc or the join function".into(),
                        ));
                    }
                    _ => {
                        let mut q = p;
                        loop {
                            match at(q) {
                                0 if q >= b.len() => break,
                                b'\\' => match at(q + 1) {
                                    b'\r' | b'\n' => break,
                                    _ if q + 1 >= b.len() => break,
                                    _ => q += 1 + utf8_len(at(q + 1)),
                                },
                                b'$' | b'%' | b'"' | b'\r' | b'\n' => break,
                                x => q += utf8_len(x),
                            }
                        }
                        if q == p {
                            return Err((p, "Invalid escape sequence: a backslash must be followed by a character".into()));
                        }
                        let q = q.min(b.len());
                        emit(&mut toks, Kind::QuotedLit, p, q);
                        p = q;
                    }
                }
            }
            Mode::Heredoc => {
                let c = at(p);
                if (c == b'$' || c == b'%') && at(p + 1) == b'{' {
                    let len = if at(p + 2) == b'~' { 3 } else { 2 };
                    let kind = if c == b'$' {
                        Kind::TemplateInterp
                    } else {
                        Kind::TemplateControl
                    };
                    emit(&mut toks, kind, p, p + len);
                    braces += 1;
                    ret_braces.push(braces);
                    if let Some(h) = heredocs.last_mut() {
                        h.start_of_line = false;
                    }
                    modes.push(Mode::Main);
                    p += len;
                    continue;
                }
                // One literal: "$", "$${", "%", "%%{" or a run of other characters, then
                // possibly the end of the line.
                let mut q = if c == b'$' || c == b'%' {
                    p + escaped_intro_len(b, p)
                } else {
                    let mut q = p;
                    while q < b.len() && !matches!(at(q), b'$' | b'%' | b'\r' | b'\n') {
                        q += utf8_len(at(q));
                    }
                    q
                };
                q = q.min(b.len());
                let eol = if at(q) == b'\n' {
                    1
                } else if at(q) == b'\r' && at(q + 1) == b'\n' {
                    2
                } else {
                    0
                };
                if eol == 0 {
                    if q == p {
                        // A lone carriage return: nothing in the heredoc grammar matches it.
                        return Err((
                            p,
                            "Invalid character: a carriage return must be followed by a newline"
                                .into(),
                        ));
                    }
                    if let Some(h) = heredocs.last_mut() {
                        h.start_of_line = false;
                    }
                    emit(&mut toks, Kind::StringLit, p, q);
                    p = q;
                    continue;
                }
                let end = q + eol;
                let is_marker = match heredocs.last() {
                    Some(h) => {
                        h.start_of_line && src.get(p..end).map(str::trim) == Some(h.marker.as_str())
                    }
                    None => false,
                };
                if is_marker {
                    emit(&mut toks, Kind::CHeredoc, p, q);
                    emit(&mut toks, Kind::Newline, q, end);
                    heredocs.pop();
                    modes.pop();
                } else {
                    if let Some(h) = heredocs.last_mut() {
                        h.start_of_line = true;
                    }
                    emit(&mut toks, Kind::StringLit, p, end);
                }
                p = end;
            }
        }
    }
    match modes.last() {
        Some(Mode::Str) => {
            return Err((
                b.len(),
                "Unterminated template string: no closing quote was found for the string".into(),
            ))
        }
        Some(Mode::Heredoc) => {
            let marker = heredocs.last().map(|h| h.marker.as_str()).unwrap_or("");
            return Err((b.len(), format!("Unterminated template string: no closing marker {marker:?} was found for the heredoc")));
        }
        _ if modes.len() > 1 => {
            return Err((
                b.len(),
                "Unterminated template sequence: expected \"}\"".into(),
            ));
        }
        _ => {}
    }
    let last_end = toks.last().map(|t| t.start + t.text.len());
    Ok(Scanned {
        tokens: toks,
        last_end,
    })
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > b.len() {
        return None;
    }
    b[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `#`/`//` comments run to the end of the line and include the newline.
fn line_comment_len(b: &[u8], p: usize) -> usize {
    match b.get(p..).and_then(|s| s.iter().position(|&c| c == b'\n')) {
        Some(i) => i + 1,
        None => b.len() - p,
    }
}

/// `digit (digit | "." | [eE][+-]?digit)*`, not ending in ".".
fn number_len(b: &[u8], p: usize) -> usize {
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut q = p + 1;
    let mut last_good = q;
    loop {
        let c = at(q);
        if c.is_ascii_digit() {
            q += 1;
            last_good = q;
        } else if c == b'.' {
            q += 1;
        } else if c == b'e' || c == b'E' {
            let sign = usize::from(at(q + 1) == b'+' || at(q + 1) == b'-');
            if at(q + 1 + sign).is_ascii_digit() {
                q += 2 + sign;
                last_good = q;
            } else {
                break;
            }
        } else {
            break;
        }
    }
    last_good - p
}

fn ident_len(src: &str, p: usize) -> usize {
    let rest = src.get(p..).unwrap_or("");
    let mut len = 0;
    for (i, ch) in rest.char_indices() {
        let ok = if i == 0 {
            ch == '_' || is_id_start(ch)
        } else {
            ch == '-' || is_id_continue(ch)
        };
        if !ok {
            break;
        }
        len = i + ch.len_utf8();
    }
    len.max(1)
}

fn is_id_start(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        c.is_alphabetic() && !is_combining(c)
    }
}

fn is_id_continue(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        c.is_alphanumeric() || is_combining(c) || matches!(c, '\u{203F}' | '\u{2040}' | '\u{00B7}')
    }
}

/// `<<` `-`? identifier newline: the heredoc introducer's length (newline included) and its
/// closing marker.
fn heredoc_intro(src: &str, p: usize) -> Option<(usize, String)> {
    let b = src.as_bytes();
    let mut q = p + 2;
    if b.get(q) == Some(&b'-') {
        q += 1;
    }
    let first = src.get(q..)?.chars().next()?;
    if !(first == '_' || is_id_start(first)) {
        return None;
    }
    let id = ident_len(src, q);
    let marker = src.get(q..q + id)?.to_string();
    q += id;
    match (b.get(q), b.get(q + 1)) {
        (Some(b'\n'), _) => Some((q + 1 - p, marker)),
        (Some(b'\r'), Some(b'\n')) => Some((q + 2 - p, marker)),
        _ => None,
    }
}

/// A literal `$`/`%` in a template: `$${` (an escaped interpolation, optionally with `~`) or
/// the lone character.
fn escaped_intro_len(b: &[u8], p: usize) -> usize {
    let c = b.get(p).copied().unwrap_or(0);
    if b.get(p + 1) == Some(&c) && b.get(p + 2) == Some(&b'{') {
        if b.get(p + 3) == Some(&b'~') {
            4
        } else {
            3
        }
    } else {
        1
    }
}

fn invalid_char_message(ch: char) -> String {
    match ch {
        '\r' => "Invalid character: a carriage return must be followed by a newline".into(),
        ';' => "Invalid character: the \";\" character is not valid; use newlines to separate arguments and blocks, and commas to separate items in collection values".into(),
        '\'' => "Invalid character: single quotes are not valid; use double quotes (\") to enclose strings".into(),
        '&' => "Invalid character: bitwise operators are not supported; did you mean \"&&\"?".into(),
        '|' => "Invalid character: bitwise operators are not supported; did you mean \"||\"?".into(),
        c => format!("Invalid character: {c:?} is not expected here"),
    }
}

// ---------------------------------------------------------------------------------------------
// Structure: the bodies, attributes and blocks of the file (what Terraform's clean-ups need).

#[derive(Debug)]
enum Item {
    Attr {
        name: usize,
        /// The expression's tokens (without comments before or after it).
        expr: Range<usize>,
    },
    Block {
        type_: usize,
        /// Each label's tokens.
        labels: Vec<Range<usize>>,
        body: Vec<Item>,
    },
}

type ParseError = (usize, String);

struct Parser<'a> {
    t: &'a [Token],
    i: usize,
}

impl Parser<'_> {
    fn kind(&self, i: usize) -> Option<Kind> {
        self.t.get(i).map(|t| t.kind)
    }

    fn offset(&self, i: usize) -> usize {
        match self.t.get(i) {
            Some(t) => t.start,
            None => self.t.last().map(|t| t.start + t.text.len()).unwrap_or(0),
        }
    }

    fn fail<T>(&self, i: usize, what: &str) -> Result<T, ParseError> {
        Err((self.offset(i), what.to_string()))
    }

    /// Skips `/* */` comments (which may stand between the tokens of a line).
    fn skip_inline_comments(&mut self) {
        while let Some(t) = self.t.get(self.i) {
            if t.kind == Kind::Comment && !t.is_newline() {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn body(&mut self, in_block: bool) -> Result<Vec<Item>, ParseError> {
        let mut items = Vec::new();
        loop {
            while matches!(self.kind(self.i), Some(Kind::Newline | Kind::Comment)) {
                self.i += 1;
            }
            match self.kind(self.i) {
                None if in_block => return self.fail(self.i, "Unclosed configuration block: there is no closing brace for this block"),
                None => return Ok(items),
                Some(Kind::CBrace) if in_block => return Ok(items),
                Some(Kind::Ident) => items.push(self.item()?),
                Some(_) => return self.fail(self.i, "Argument or block definition required: an argument or block definition is required here"),
            }
        }
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let name = self.i;
        self.i += 1;
        self.skip_inline_comments();
        if self.kind(self.i) == Some(Kind::Equal) {
            self.i += 1;
            let start = self.i;
            let mut depth: i64 = 0;
            while let Some(t) = self.t.get(self.i) {
                if depth <= 0 && (t.is_newline() || t.kind == Kind::CBrace) {
                    break;
                }
                depth += match t.kind {
                    Kind::OQuote | Kind::OHeredoc => 1,
                    Kind::CQuote | Kind::CHeredoc => -1,
                    k => bracket_change(k),
                };
                self.i += 1;
            }
            let mut s = start;
            let mut e = self.i;
            while s < e && self.kind(s) == Some(Kind::Comment) {
                s += 1;
            }
            while e > s && self.kind(e - 1) == Some(Kind::Comment) {
                e -= 1;
            }
            if s == e {
                return self.fail(
                    self.i,
                    "Invalid expression: expected the start of an expression",
                );
            }
            return Ok(Item::Attr { name, expr: s..e });
        }
        let mut labels = Vec::new();
        loop {
            self.skip_inline_comments();
            match self.kind(self.i) {
                Some(Kind::Ident) => {
                    labels.push(self.i..self.i + 1);
                    self.i += 1;
                }
                Some(Kind::OQuote) => {
                    let s = self.i;
                    self.i += 1;
                    while matches!(self.kind(self.i), Some(Kind::QuotedLit)) {
                        self.i += 1;
                    }
                    if self.kind(self.i) != Some(Kind::CQuote) {
                        return self.fail(self.i, "Invalid block label: template sequences are not allowed in a block label");
                    }
                    self.i += 1;
                    labels.push(s..self.i);
                }
                Some(Kind::OBrace) => break,
                _ => return self.fail(self.i, "Invalid block definition: either a quoted string block label or an opening brace (\"{\") is expected here"),
            }
        }
        self.i += 1;
        let body = self.body(true)?;
        // `body` stops only at the closing brace.
        self.i += 1;
        Ok(Item::Block {
            type_: name,
            labels,
            body,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Terraform's clean-ups (its `fmt` command's `formatBody`).

type Edit = (Range<usize>, Vec<Token>);

fn terraform_edits(
    items: &[Item],
    t: &[Token],
    in_blocks: &mut Vec<String>,
    edits: &mut Vec<Edit>,
) {
    for item in items {
        match item {
            Item::Attr { name, expr } => {
                let Some(toks) = t.get(expr.clone()) else {
                    continue;
                };
                let is_type = in_blocks.len() == 1
                    && in_blocks[0] == "variable"
                    && t.get(*name).map(|n| n.text.as_str()) == Some("type");
                let new = if is_type {
                    format_type_expr(toks)
                } else {
                    format_value_expr(toks)
                };
                if let Some(new) = new {
                    edits.push((expr.clone(), new));
                }
            }
            Item::Block {
                type_,
                labels,
                body,
            } => {
                if let Some(last) = labels.last() {
                    // Everything between the type and the last label (comments included) is
                    // replaced by the labels, each quoted; labels hclwrite cannot read back
                    // as one literal are dropped, as Terraform does.
                    let mut new = Vec::new();
                    for l in labels {
                        if let Some(value) = t.get(l.clone()).and_then(label_value) {
                            new.push(Token::new(Kind::OQuote, "\""));
                            let escaped = escape_quoted(&value);
                            if !escaped.is_empty() {
                                new.push(Token::new(Kind::QuotedLit, &escaped));
                            }
                            new.push(Token::new(Kind::CQuote, "\""));
                        }
                    }
                    edits.push((*type_ + 1..last.end, new));
                }
                let ty = t.get(*type_).map(|x| x.text.clone()).unwrap_or_default();
                in_blocks.push(ty);
                terraform_edits(body, t, in_blocks, edits);
                in_blocks.pop();
            }
        }
    }
}

fn kinds_are(toks: &[Token], kinds: &[Kind]) -> bool {
    toks.len() == kinds.len() && toks.iter().zip(kinds).all(|(t, k)| t.kind == *k)
}

/// A label as hclwrite's `Block.Labels` reads it: an identifier, or a quoted string made of
/// exactly one literal token (or none). Anything else is not read at all.
fn label_value(toks: &[Token]) -> Option<String> {
    if kinds_are(toks, &[Kind::Ident]) {
        return toks.first().map(|t| t.text.clone());
    }
    if kinds_are(toks, &[Kind::OQuote, Kind::CQuote]) {
        return Some(String::new());
    }
    if kinds_are(toks, &[Kind::OQuote, Kind::QuotedLit, Kind::CQuote]) {
        return toks.get(1).and_then(|t| unescape_quoted(&t.text));
    }
    None
}

/// Unwraps an attribute value that is a single interpolation: `"${x}"` → `x`.
fn format_value_expr(toks: &[Token]) -> Option<Vec<Token>> {
    let n = toks.len();
    if n < 5 {
        return None;
    }
    if toks[0].kind != Kind::OQuote
        || toks[1].kind != Kind::TemplateInterp
        || toks[n - 2].kind != Kind::TemplateSeqEnd
        || toks[n - 1].kind != Kind::CQuote
    {
        return None;
    }
    let inside = &toks[2..n - 2];
    let mut quotes = 0i64;
    for t in inside {
        match t.kind {
            Kind::OQuote => quotes += 1,
            Kind::CQuote => quotes -= 1,
            _ if quotes > 0 => {}
            Kind::TemplateInterp | Kind::TemplateSeqEnd | Kind::QuotedLit => return None,
            _ => {}
        }
    }
    let mut s = 0;
    let mut e = inside.len();
    while s < e && inside[s].kind == Kind::Newline {
        s += 1;
    }
    while e > s && inside[e - 1].kind == Kind::Newline {
        e -= 1;
    }
    let trimmed = &inside[s..e];
    let mut multi_line = false;
    let mut leading_paren = false;
    let mut trailing_paren = false;
    for (i, t) in trimmed.iter().enumerate() {
        if i == 0 && t.kind == Kind::OParen {
            leading_paren = true;
        } else if t.kind == Kind::Newline {
            multi_line = true;
        } else if i + 1 == trimmed.len() && t.kind == Kind::CParen {
            trailing_paren = true;
        }
    }
    let mut out = Vec::with_capacity(trimmed.len() + 2);
    let wrap = multi_line && !(leading_paren && trailing_paren);
    if wrap {
        out.push(Token::new(Kind::OParen, "("));
    }
    out.extend(trimmed.iter().cloned());
    if wrap {
        out.push(Token::new(Kind::CParen, ")"));
    }
    Some(out)
}

/// Normalises a `variable` block's `type`: `list` → `list(any)`, `"string"` → `string`,
/// `"list"` → `list(string)`.
fn format_type_expr(toks: &[Token]) -> Option<Vec<Token>> {
    let call = |name: &str, arg: &str| {
        vec![
            Token::new(Kind::Ident, name),
            Token::new(Kind::OParen, "("),
            Token::new(Kind::Ident, arg),
            Token::new(Kind::CParen, ")"),
        ]
    };
    if kinds_are(toks, &[Kind::Ident]) {
        let name = toks[0].text.as_str();
        return match name {
            "list" | "map" | "set" => Some(call(name, "any")),
            _ => None,
        };
    }
    if kinds_are(toks, &[Kind::OQuote, Kind::QuotedLit, Kind::CQuote]) {
        return match toks[1].text.as_str() {
            "string" => Some(vec![Token::new(Kind::Ident, "string")]),
            "list" => Some(call("list", "string")),
            "map" => Some(call("map", "string")),
            _ => None,
        };
    }
    None
}

/// Decodes the escapes of a quoted literal (`\n`, `\"`, `\u00e9`, `$${`, ...).
pub(crate) fn unescape_quoted(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '\\' => {
                let (_, e) = it.next()?;
                match e {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let start = i + 2;
                        let hex = s.get(start..start + n)?;
                        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return None;
                        }
                        out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                        for _ in 0..n {
                            it.next();
                        }
                    }
                    _ => return None,
                }
            }
            '$' | '%' if s.get(i + 1..i + 3) == Some(if c == '$' { "${" } else { "%{" }) => {
                out.push(c);
                out.push('{');
                it.next();
                it.next();
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// hclwrite's `escapeQuotedStringLit`: a string as the text of a quoted HCL literal.
pub fn escape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' | '%' => {
                out.push(c);
                if s.as_bytes().get(i + 1) == Some(&b'{') {
                    out.push(c);
                }
            }
            c if !is_print(c) => {
                let n = u32::from(c);
                if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

use baton_core::gotext::is_print;

// ---------------------------------------------------------------------------------------------
// hclwrite's formatter (`format.go`): indentation, spacing, alignment.

/// One line split into hclwrite's three cells: `lead`, then `assign` (from an attribute's
/// `=` on), then a trailing line `comment`. Ranges index the token list.
struct Line {
    lead: Range<usize>,
    assign: Option<Range<usize>>,
    comment: Option<usize>,
}

fn format_tokens(t: &mut [Token]) {
    let lines = lines_for_format(t);
    format_indent(t, &lines);
    format_spaces(t, &lines);
    format_cells(t, &lines);
}

fn lines_for_format(t: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, tok) in t.iter().enumerate() {
        if tok.is_newline() {
            lines.push(start..i + 1);
            start = i + 1;
        }
    }
    lines.push(start..t.len());

    lines
        .into_iter()
        .map(|range| {
            let mut lead = range.clone();
            let mut comment = None;
            if lead.len() > 1 && t[lead.end - 1].kind == Kind::Comment {
                comment = Some(lead.end - 1);
                lead.end -= 1;
            }
            let mut assign = None;
            if let Some(eq) = (lead.start + 1..lead.end).find(|&i| t[i].kind == Kind::Equal) {
                let net: i64 = t[eq..lead.end].iter().map(|x| bracket_change(x.kind)).sum();
                if net == 0 {
                    assign = Some(eq..lead.end);
                    lead.end = eq;
                }
            }
            Line {
                lead,
                assign,
                comment,
            }
        })
        .collect()
}

fn format_indent(t: &mut [Token], lines: &[Line]) {
    let mut indents: Vec<i64> = Vec::new();
    for line in lines {
        if line.lead.is_empty() {
            continue;
        }
        let first = line.lead.start;
        if t[first].kind == Kind::Newline {
            t[first].spaces = 0;
            continue;
        }
        let mut net: i64 = 0;
        for tok in &t[line.lead.clone()] {
            net += bracket_change(tok.kind);
            if tok.kind == Kind::OHeredoc {
                break;
            }
        }
        if let Some(a) = &line.assign {
            net += t[a.clone()]
                .iter()
                .map(|x| bracket_change(x.kind))
                .sum::<i64>();
        }
        if net > 0 {
            t[first].spaces = 2 * indents.len();
            indents.push(net);
        } else {
            if net < 0 {
                let mut closed = -net;
                while closed > 0 {
                    let Some(top) = indents.last_mut() else { break };
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
            }
            t[first].spaces = 2 * indents.len();
        }
    }
}

fn format_spaces(t: &mut [Token], lines: &[Line]) {
    for line in lines {
        let cells = [Some(line.lead.clone()), line.assign.clone()];
        for (ci, cell) in cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            for i in cell.clone() {
                if ci == 1 && i == cell.start {
                    // The first token of "assign" is the `=`, one space after the name.
                    t[i].spaces = 1;
                }
                if i + 1 >= cell.end {
                    continue;
                }
                let before = if i > cell.start {
                    t[i - 1].kind
                } else {
                    Kind::Nil
                };
                let space = space_after(&t[i], before, t[i + 1].kind);
                t[i + 1].spaces = usize::from(space);
            }
        }
    }
}

fn format_cells(t: &mut [Token], lines: &[Line]) {
    // `=` of consecutive lines with a one-line attribute (any line without one breaks the
    // run, blank lines included) line up one space after the longest lead.
    let mut chain: Vec<usize> = Vec::new();
    let close_assign = |t: &mut [Token], chain: &mut Vec<usize>| {
        let max = chain
            .iter()
            .map(|&l| columns(t, lines[l].lead.clone()))
            .max()
            .unwrap_or(0);
        for &l in chain.iter() {
            let cols = columns(t, lines[l].lead.clone());
            if let Some(a) = &lines[l].assign {
                t[a.start].spaces = max - cols + 1;
            }
        }
        chain.clear();
    };
    for (i, line) in lines.iter().enumerate() {
        if line.assign.is_none() {
            if !chain.is_empty() {
                close_assign(t, &mut chain);
            }
        } else {
            chain.push(i);
        }
    }
    if !chain.is_empty() {
        close_assign(t, &mut chain);
    }

    // Then trailing comments of consecutive lines.
    let width = |t: &[Token], l: &Line| {
        columns(t, l.lead.clone()) + l.assign.clone().map(|a| columns(t, a)).unwrap_or(0)
    };
    let close_comment = |t: &mut [Token], chain: &mut Vec<usize>| {
        let max = chain
            .iter()
            .map(|&l| width(t, &lines[l]))
            .max()
            .unwrap_or(0);
        for &l in chain.iter() {
            let cols = width(t, &lines[l]);
            if let Some(c) = lines[l].comment {
                t[c].spaces = max - cols + 1;
            }
        }
        chain.clear();
    };
    for (i, line) in lines.iter().enumerate() {
        if line.comment.is_none() {
            if !chain.is_empty() {
                close_comment(t, &mut chain);
            }
        } else {
            chain.push(i);
        }
    }
    if !chain.is_empty() {
        close_comment(t, &mut chain);
    }
}

/// hclwrite's `Tokens.Columns`: spaces plus grapheme clusters.
fn columns(t: &[Token], r: Range<usize>) -> usize {
    t.get(r)
        .map(|ts| ts.iter().map(|x| x.spaces + graphemes(&x.text)).sum())
        .unwrap_or(0)
}

/// hclwrite's `spaceAfterToken`: whether `subject` is followed by a space, given the tokens
/// around it on the same line.
fn space_after(subject: &Token, before: Kind, after: Kind) -> bool {
    use Kind::*;
    let s = subject.kind;
    if after == Newline || after == Nil {
        return false;
    }
    if s == Ident && after == OParen {
        return false;
    }
    if (s == Ident && after == DoubleColon) || (s == DoubleColon && after == Ident) {
        return false;
    }
    if s == Dot || after == Dot {
        return false;
    }
    if after == Comma || after == Ellipsis {
        return false;
    }
    if s == Comma {
        return true;
    }
    if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc)
        || matches!(after, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        return false;
    }
    if s == Ident && subject.text == "in" && before == Ident {
        return true;
    }
    if after == OBrack && (s == Ident || s == NumberLit || bracket_change(s) < 0) {
        return false;
    }
    if s == Bang {
        return false;
    }
    if s == Minus {
        // Negation (no space) when the token before cannot end an operand.
        return !matches!(
            before,
            Nil | OParen
                | OBrace
                | OBrack
                | Equal
                | Colon
                | Comma
                | Question
                | Plus
                | Star
                | Slash
                | Percent
                | Minus
                | EqualOp
                | NotEqual
                | Gt
                | Ge
                | Lt
                | Le
                | And
                | Or
                | Bang
        );
    }
    if s == OBrace || after == CBrace {
        return !(s == OBrace && after == CBrace);
    }
    if matches!(s, TemplateInterp | TemplateControl) && after == OBrace {
        return true;
    }
    if s == CBrace && after == TemplateSeqEnd {
        return true;
    }
    if s == TemplateSeqEnd && matches!(after, TemplateInterp | TemplateControl) {
        return false;
    }
    if bracket_change(s) > 0 {
        return false;
    }
    if bracket_change(after) < 0 {
        return false;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Grapheme clusters, approximately (hclwrite counts columns in grapheme clusters).

fn graphemes(s: &str) -> usize {
    let mut n = 0;
    let mut prev: Option<char> = None;
    let mut regional = 0usize;
    for c in s.chars() {
        let joins = match prev {
            None => false,
            Some(p) => {
                (p == '\r' && c == '\n')
                    || is_combining(c)
                    || c == '\u{200D}'
                    || (p == '\u{200D}' && is_pictographic(c))
                    || (is_regional(c) && is_regional(p) && regional % 2 == 1)
            }
        };
        regional = if is_regional(c) { regional + 1 } else { 0 };
        if !joins {
            n += 1;
        }
        prev = Some(c);
    }
    n
}

fn is_regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

fn is_pictographic(c: char) -> bool {
    let n = u32::from(c);
    (0x1F000..=0x1FAFF).contains(&n) || (0x2600..=0x27BF).contains(&n)
}

/// Combining marks and other grapheme extenders (the common ranges).
fn is_combining(c: char) -> bool {
    let n = u32::from(c);
    const RANGES: &[(u32, u32)] = &[
        (0x0300, 0x036F),
        (0x0483, 0x0489),
        (0x0591, 0x05BD),
        (0x05BF, 0x05BF),
        (0x05C1, 0x05C2),
        (0x05C4, 0x05C5),
        (0x05C7, 0x05C7),
        (0x0610, 0x061A),
        (0x064B, 0x065F),
        (0x0670, 0x0670),
        (0x06D6, 0x06DC),
        (0x06DF, 0x06E4),
        (0x06E7, 0x06E8),
        (0x06EA, 0x06ED),
        (0x0900, 0x0903),
        (0x093A, 0x094F),
        (0x0951, 0x0957),
        (0x0962, 0x0963),
        (0x0981, 0x0983),
        (0x09BC, 0x09D7),
        (0x0E31, 0x0E31),
        (0x0E34, 0x0E3A),
        (0x0E47, 0x0E4E),
        (0x1AB0, 0x1AFF),
        (0x1DC0, 0x1DFF),
        (0x200C, 0x200C),
        (0x20D0, 0x20FF),
        (0x302A, 0x302F),
        (0x3099, 0x309A),
        (0xFE00, 0xFE0F),
        (0xFE20, 0xFE2F),
        (0x1F3FB, 0x1F3FF),
        (0xE0020, 0xE007F),
        (0xE0100, 0xE01EF),
    ];
    RANGES.iter().any(|&(lo, hi)| (lo..=hi).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let got = format(input).expect("formats");
        assert_eq!(got, expected, "input: {input:?}");
        assert_eq!(
            format(&got).expect("formats"),
            got,
            "idempotent for {input:?}"
        );
    }

    #[test]
    fn aligns_equals_in_runs() {
        check("a=1\nbbb = 2\n\ncc = 3\n", "a   = 1\nbbb = 2\n\ncc = 3\n");
    }

    #[test]
    fn indents_nested_blocks() {
        check(
            "resource \"a\" \"b\" {\nx = 1\n  nested {\n        y = [1,2]\n}\n}\n",
            "resource \"a\" \"b\" {\n  x = 1\n  nested {\n    y = [1, 2]\n  }\n}\n",
        );
    }

    #[test]
    fn unwraps_interpolation_only_values() {
        check(
            "a = \"${var.x}\"\nb = \"x${y}\"\n",
            "a = var.x\nb = \"x${y}\"\n",
        );
    }

    #[test]
    fn variable_types() {
        check(
            "variable \"x\" {\n  type = \"string\"\n}\nvariable y { type = list }\n",
            "variable \"x\" {\n  type = string\n}\nvariable \"y\" { type = list(any) }\n",
        );
    }

    #[test]
    fn heredoc_contents_are_kept() {
        check(
            "a = <<-EOT\n   x  = 1   \n\ty\n    EOT\n",
            "a = <<-EOT\n   x  = 1   \n\ty\n    EOT\n",
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = format("a = 1\nb = \n}\n").expect_err("error");
        assert_eq!(e.line, 2);
        let e = format("a = \"x\n").expect_err("error");
        assert_eq!((e.line, e.column), (1, 7));
        let e = format("a = 1\na = 2\n").expect_err("error");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("redefined"));
    }

    #[test]
    fn keeps_missing_final_newline_and_crlf() {
        check("a=1", "a = 1");
        check("a=1\r\nbb=2\r\n", "a  = 1\r\nbb = 2\r\n");
    }

    #[test]
    fn label_escapes() {
        assert_eq!(
            unescape_quoted("a\\u00e9\\n$${x}").as_deref(),
            Some("aé\n${x}")
        );
        assert_eq!(escape_quoted("aé\n${x}\u{7}"), "aé\\n$${x}\\u0007");
        assert_eq!(unescape_quoted("\\q"), None);
    }

    #[test]
    fn graphemes_count_clusters() {
        assert_eq!(graphemes("abc"), 3);
        assert_eq!(graphemes("e\u{301}"), 1);
        assert_eq!(graphemes("\r\n"), 1);
        assert_eq!(graphemes("🇫🇷🇩🇪"), 2);
    }

    /// Deep nesting is an error, not a stack overflow.
    #[test]
    fn deep_nesting_is_an_error() {
        for (open, close) in [
            ("[", "]"),
            ("(", ")"),
            ("{", "}"),
            ("f(", ")"),
            ("\"${", "}\""),
            ("-", ""),
        ] {
            let text = format!("a = {}1{}\n", open.repeat(20_000), close.repeat(20_000));
            let e = format(&text).expect_err("too deep");
            assert!(e.message.contains("Nesting too deep"), "{}", e.message);
        }
        let blocks = format!("{}{}", "b {\n".repeat(20_000), "}\n".repeat(20_000));
        assert!(format(&blocks).is_err());
        let directives = format!(
            "a = \"{}{}\"\n",
            "%{if x}".repeat(20_000),
            "%{endif}".repeat(20_000)
        );
        assert!(format(&directives).is_err());
        // Reasonable nesting is fine.
        let text = format!("a = {}1{}\n", "[".repeat(50), "]".repeat(50));
        assert!(format(&text).is_ok());
    }

    /// Random and truncated inputs never panic, and whatever formats is stable.
    #[test]
    fn fuzz_never_panics() {
        let corpus = [
            "resource \"a\" \"b\" {\n  x = \"${foo}\" # c\n  y = <<-EOT\n  hi ${x}\n  EOT\n  z = [for a in b : a if a]\n}\n",
            "locals {\n  m = { a = 1, \"b\" : 2 }\n  t = \"%{if x}y%{else}z%{endif}\"\n  n = -1 + 2 * (3 - -4)\n}\n",
            "/* c */\n// d\n# e\nvariable \"v\" {\n  type = map(object({ a = string }))\n}\n",
            "a = \"\\u00e9 $${x} %%{y}\"\r\nb = x.y[0].*.z\r\n",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = "ab= {}[]()\"$%#/*\n\r\t<<-EOT~,.:?!&|0123456789é\\"
            .chars()
            .collect();
        for text in corpus {
            for cut in 0..=text.len() {
                if let Some(prefix) = text.get(..cut) {
                    if let Ok(out) = format(prefix) {
                        assert_eq!(
                            format(&out).ok().as_deref(),
                            Some(out.as_str()),
                            "{prefix:?}"
                        );
                    }
                }
            }
            for _ in 0..300 {
                let mut chars: Vec<char> = text.chars().collect();
                for _ in 0..(next() % 4 + 1) {
                    let n = usize::try_from(next()).unwrap_or(0);
                    let pos = n % (chars.len() + 1);
                    let c = alphabet[n / 7 % alphabet.len()];
                    match n % 3 {
                        0 if pos < chars.len() => {
                            chars.remove(pos);
                        }
                        1 if pos < chars.len() => chars[pos] = c,
                        _ => chars.insert(pos, c),
                    }
                }
                let s: String = chars.into_iter().collect();
                let _ = format(&s);
            }
        }
        // Short random texts over HCL's punctuation.
        for _ in 0..5000 {
            let len = usize::try_from(next() % 40).unwrap_or(0);
            let s: String = (0..len)
                .map(|_| alphabet[usize::try_from(next()).unwrap_or(0) % alphabet.len()])
                .collect();
            if let Ok(out) = format(&s) {
                assert!(
                    format(&out).is_ok() || out.contains("[]"),
                    "{s:?} -> {out:?}"
                );
            }
        }
    }
}
