//! Go's regular expression syntax (`regexp/syntax` with Perl flags, as Terraform's `regex`,
//! `regexall` and `replace` compile patterns), translated to the `regex` crate's syntax.
//!
//! The translation keeps Go's meaning where the two dialects differ: `\d \s \w \b` are
//! ASCII-only, `{` that does not start a valid repetition is a literal, `\Q...\E` quotes,
//! octal escapes, duplicate or digit-leading group names, and Go's exact syntax errors
//! (code and offending text). It must not accept patterns Go rejects.

use regex::Regex;
use std::sync::{Arc, Mutex};

/// A compiled pattern with Go's capture group names (`""` for unnamed groups), by group
/// number minus one.
pub(crate) struct GoRegex {
    pub re: Regex,
    pub names: Vec<String>,
}

/// A syntax error as Go's `*syntax.Error` reports it: a code and the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub code: &'static str,
    pub expr: String,
}

const ERR_MISSING_PAREN: &str = "missing closing )";
const ERR_UNEXPECTED_PAREN: &str = "unexpected )";
const ERR_MISSING_BRACKET: &str = "missing closing ]";
const ERR_MISSING_REPEAT_ARG: &str = "missing argument to repetition operator";
const ERR_INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const ERR_INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const ERR_INVALID_CHAR_RANGE: &str = "invalid character class range";
const ERR_INVALID_ESCAPE: &str = "invalid escape sequence";
const ERR_TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const ERR_INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const ERR_INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const ERR_NESTING_DEPTH: &str = "expression nests too deeply";
const ERR_LARGE: &str = "expression too large";

const MAX_DEPTH: usize = 1000;

fn err(code: &'static str, expr: &str) -> SyntaxError {
    SyntaxError {
        code,
        expr: expr.to_string(),
    }
}

/// Compiled patterns by source text: a configuration typically calls `replace` or `regex` with
/// the same few patterns once per resource, and compiling dominates the call.
type Cache = std::collections::HashMap<String, Result<Arc<GoRegex>, SyntaxError>>;
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);
/// Beyond this many distinct patterns the cache starts over (bounded memory).
const CACHE_MAX: usize = 512;

/// [`compile_uncached`], remembering the result for the next call with the same pattern.
pub(crate) fn compile(pattern: &str) -> Result<Arc<GoRegex>, SyntaxError> {
    if let Ok(guard) = CACHE.lock() {
        if let Some(hit) = guard.as_ref().and_then(|c| c.get(pattern)) {
            return hit.clone();
        }
    }
    let result = compile_uncached(pattern).map(Arc::new);
    if let Ok(mut guard) = CACHE.lock() {
        let cache = guard.get_or_insert_with(Default::default);
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(pattern.to_string(), result.clone());
    }
    result
}

/// Parses `pattern` with Go's rules and compiles the equivalent Rust pattern.
pub(crate) fn compile_uncached(pattern: &str) -> Result<GoRegex, SyntaxError> {
    let mut p = Parser {
        whole: pattern,
        names: Vec::new(),
    };
    let mut t = pattern;
    let node = p.parse_alt(&mut t, 0)?;
    if !t.is_empty() {
        // Only a ')' stops the top-level alternation early.
        return Err(err(ERR_UNEXPECTED_PAREN, pattern));
    }
    let mut out = String::new();
    emit(&node, &mut out);
    let re = regex::RegexBuilder::new(&out)
        .nest_limit(4 * MAX_DEPTH as u32)
        .size_limit(256 << 20)
        .build()
        .map_err(|_| err(ERR_LARGE, pattern))?;
    Ok(GoRegex { re, names: p.names })
}

#[derive(Debug)]
enum Node {
    Empty,
    Lit(char),
    /// Rust class syntax, brackets included.
    Class(String),
    /// Rust text for an assertion or `.`.
    Raw(&'static str),
    /// An inline flag change `(?flags)` in Rust syntax (without the parens).
    Flags(String),
    Group {
        capture: bool,
        flags: Option<String>,
        sub: Box<Node>,
    },
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        sub: Box<Node>,
        min: i64,
        max: i64,
        op: String,
    },
}

struct Parser<'a> {
    whole: &'a str,
    names: Vec<String>,
}

fn next_char(t: &str) -> Option<(char, &str)> {
    let mut it = t.chars();
    let c = it.next()?;
    Some((c, it.as_str()))
}

impl<'a> Parser<'a> {
    /// Parses alternatives until end of input or an unmatched ')', which is left in `t`.
    fn parse_alt(&mut self, t: &mut &'a str, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(err(ERR_NESTING_DEPTH, self.whole));
        }
        let mut alts = Vec::new();
        let mut cur: Vec<Node> = Vec::new();
        // The text of the last repetition operator, for Go's "invalid nested repetition".
        let mut last_repeat: Option<&'a str> = None;
        while let Some(c0) = t.chars().next() {
            let mut repeat: Option<&'a str> = None;
            match c0 {
                ')' => break,
                '|' => {
                    alts.push(concat(std::mem::take(&mut cur)));
                    *t = &t[1..];
                }
                '(' => {
                    if t.len() >= 2 && t.as_bytes()[1] == b'?' {
                        self.parse_perl_flags(t, &mut cur, depth)?;
                    } else {
                        self.names.push(String::new());
                        *t = &t[1..];
                        let sub = self.parse_alt(t, depth + 1)?;
                        if !t.starts_with(')') {
                            return Err(err(ERR_MISSING_PAREN, self.whole));
                        }
                        *t = &t[1..];
                        cur.push(Node::Group {
                            capture: true,
                            flags: None,
                            sub: Box::new(sub),
                        });
                    }
                }
                '^' => {
                    cur.push(Node::Raw("^"));
                    *t = &t[1..];
                }
                '$' => {
                    cur.push(Node::Raw("$"));
                    *t = &t[1..];
                }
                '.' => {
                    cur.push(Node::Raw("."));
                    *t = &t[1..];
                }
                '[' => {
                    let class = self.parse_class(t)?;
                    cur.push(Node::Class(class));
                }
                '*' | '+' | '?' => {
                    let before = *t;
                    let mut after = &t[1..];
                    let (min, max) = match c0 {
                        '*' => (0, -1),
                        '+' => (1, -1),
                        _ => (0, 1),
                    };
                    self.repeat(&mut cur, min, max, before, &mut after, last_repeat)?;
                    repeat = Some(before);
                    *t = after;
                }
                '{' => {
                    let before = *t;
                    match parse_repeat(t) {
                        None => {
                            cur.push(Node::Lit('{'));
                            *t = &t[1..];
                        }
                        Some((min, max, after)) => {
                            if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                                return Err(err(
                                    ERR_INVALID_REPEAT_SIZE,
                                    &before[..before.len() - after.len()],
                                ));
                            }
                            let mut after = after;
                            self.repeat(&mut cur, min, max, before, &mut after, last_repeat)?;
                            repeat = Some(before);
                            *t = after;
                        }
                    }
                }
                '\\' => self.parse_backslash(t, &mut cur)?,
                _ => {
                    if let Some((c, rest)) = next_char(t) {
                        cur.push(Node::Lit(c));
                        *t = rest;
                    }
                }
            }
            last_repeat = repeat;
        }
        if alts.is_empty() {
            return Ok(concat(cur));
        }
        alts.push(concat(cur));
        Ok(Node::Alt(alts))
    }

    fn repeat(
        &mut self,
        cur: &mut Vec<Node>,
        min: i64,
        max: i64,
        before: &'a str,
        after: &mut &'a str,
        last_repeat: Option<&'a str>,
    ) -> Result<(), SyntaxError> {
        let mut op_end = *after;
        let lazy = op_end.starts_with('?');
        if lazy {
            op_end = &op_end[1..];
        }
        *after = op_end;
        if let Some(last) = last_repeat {
            return Err(err(
                ERR_INVALID_REPEAT_OP,
                &last[..last.len() - after.len()],
            ));
        }
        let op_text = &before[..before.len() - after.len()];
        // The operand: the last node that is not an inline flag change.
        let Some(idx) = cur.iter().rposition(|n| !matches!(n, Node::Flags(_))) else {
            return Err(err(ERR_MISSING_REPEAT_ARG, op_text));
        };
        let sub = cur.remove(idx);
        let node = Node::Repeat {
            sub: Box::new(sub),
            min,
            max,
            op: op_text.to_string(),
        };
        if (min >= 2 || max >= 2) && !repeat_is_valid(&node, 1000) {
            return Err(err(ERR_INVALID_REPEAT_SIZE, op_text));
        }
        cur.insert(idx, node);
        Ok(())
    }

    fn parse_perl_flags(
        &mut self,
        t: &mut &'a str,
        cur: &mut Vec<Node>,
        depth: usize,
    ) -> Result<(), SyntaxError> {
        let s = *t;
        let b = s.as_bytes();
        let starts_with_p = s.len() > 4 && b[2] == b'P' && b[3] == b'<';
        let starts_with_name = s.len() > 3 && b[2] == b'<';
        if starts_with_p || starts_with_name {
            let expr_start = if starts_with_p { 4 } else { 3 };
            let Some(end) = s.find('>') else {
                return Err(err(ERR_INVALID_NAMED_CAPTURE, s));
            };
            let capture = &s[..end + 1];
            let name = &s[expr_start..end];
            if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                return Err(err(ERR_INVALID_NAMED_CAPTURE, capture));
            }
            self.names.push(name.to_string());
            *t = &s[end + 1..];
            let sub = self.parse_alt(t, depth + 1)?;
            if !t.starts_with(')') {
                return Err(err(ERR_MISSING_PAREN, self.whole));
            }
            *t = &t[1..];
            cur.push(Node::Group {
                capture: true,
                flags: None,
                sub: Box::new(sub),
            });
            return Ok(());
        }
        let mut rest = &s[2..];
        let mut on = String::new();
        let mut off = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        while let Some((c, r)) = next_char(rest) {
            rest = r;
            match c {
                'i' | 'm' | 's' | 'U' => {
                    saw_flag = true;
                    if negated {
                        off.push(c);
                    } else {
                        on.push(c);
                    }
                }
                '-' => {
                    if negated {
                        break;
                    }
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    let flags = match (on.is_empty(), off.is_empty()) {
                        (true, true) => None,
                        (_, true) => Some(on.clone()),
                        _ => Some(format!("{on}-{off}")),
                    };
                    *t = rest;
                    if c == ':' {
                        let sub = self.parse_alt(t, depth + 1)?;
                        if !t.starts_with(')') {
                            return Err(err(ERR_MISSING_PAREN, self.whole));
                        }
                        *t = &t[1..];
                        cur.push(Node::Group {
                            capture: false,
                            flags,
                            sub: Box::new(sub),
                        });
                    } else if let Some(f) = flags {
                        cur.push(Node::Flags(f));
                    }
                    return Ok(());
                }
                _ => break,
            }
        }
        Err(err(ERR_INVALID_PERL_OP, &s[..s.len() - rest.len()]))
    }

    fn parse_backslash(&mut self, t: &mut &'a str, cur: &mut Vec<Node>) -> Result<(), SyntaxError> {
        let s = *t;
        let b = s.as_bytes();
        if b.len() >= 2 {
            match b[1] {
                b'A' => {
                    cur.push(Node::Raw(r"\A"));
                    *t = &s[2..];
                    return Ok(());
                }
                b'b' => {
                    cur.push(Node::Raw(r"(?-u:\b)"));
                    *t = &s[2..];
                    return Ok(());
                }
                b'B' => {
                    cur.push(Node::Raw(r"(?-u:\B)"));
                    *t = &s[2..];
                    return Ok(());
                }
                b'C' => return Err(err(ERR_INVALID_ESCAPE, &s[..2])),
                b'Q' => {
                    let body = &s[2..];
                    let (lit, rest) = match body.find(r"\E") {
                        Some(i) => (&body[..i], &body[i + 2..]),
                        None => (body, ""),
                    };
                    cur.extend(lit.chars().map(Node::Lit));
                    *t = rest;
                    return Ok(());
                }
                b'z' => {
                    cur.push(Node::Raw(r"\z"));
                    *t = &s[2..];
                    return Ok(());
                }
                b'p' | b'P' => {
                    if let Some((class, rest)) = parse_unicode_class(s)? {
                        cur.push(Node::Class(format!("[{class}]")));
                        *t = rest;
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        if let Some((class, rest)) = parse_perl_class_escape(s) {
            cur.push(Node::Class(format!("[{class}]")));
            *t = rest;
            return Ok(());
        }
        let (c, rest) = parse_escape(s)?;
        cur.push(Node::Lit(c));
        *t = rest;
        Ok(())
    }

    /// Parses a bracketed class starting at `t` (which begins with '['), returning the Rust
    /// class text.
    fn parse_class(&mut self, t: &mut &'a str) -> Result<String, SyntaxError> {
        let whole = *t;
        let mut s = &whole[1..];
        let mut out = String::from("[");
        if s.starts_with('^') {
            out.push('^');
            s = &s[1..];
        }
        let mut first = true;
        let mut items = 0usize;
        while s.is_empty() || !s.starts_with(']') || first {
            first = false;
            if s.len() > 2 && s.starts_with("[:") {
                if let Some((class, rest)) = parse_named_class(s)? {
                    out.push_str(&class);
                    s = rest;
                    items += 1;
                    continue;
                }
            }
            if let Some((class, rest)) = parse_unicode_class(s)? {
                out.push_str(&class);
                s = rest;
                items += 1;
                continue;
            }
            if let Some((class, rest)) = parse_perl_class_escape(s) {
                out.push_str(&class);
                s = rest;
                items += 1;
                continue;
            }
            let rng = s;
            let (lo, rest) = parse_class_char(s, whole)?;
            s = rest;
            let mut hi = lo;
            if s.len() >= 2 && s.starts_with('-') && !s[1..].starts_with(']') {
                s = &s[1..];
                let (h, rest) = parse_class_char(s, whole)?;
                s = rest;
                hi = h;
                if hi < lo {
                    return Err(err(ERR_INVALID_CHAR_RANGE, &rng[..rng.len() - s.len()]));
                }
            }
            push_class_char(&mut out, lo);
            if hi != lo {
                out.push('-');
                push_class_char(&mut out, hi);
            }
            items += 1;
        }
        *t = &s[1..];
        if items == 0 {
            // Unreachable in practice: Go requires at least one item.
            out.push_str(r"\x{0}");
        }
        out.push(']');
        Ok(out)
    }
}

fn concat(mut v: Vec<Node>) -> Node {
    match v.len() {
        0 => Node::Empty,
        1 => v.pop().unwrap_or(Node::Empty),
        _ => Node::Concat(v),
    }
}

/// Go's `repeatIsValid`: nested repetitions must not exceed `n` copies in total.
fn repeat_is_valid(node: &Node, mut n: i64) -> bool {
    match node {
        Node::Repeat { sub, min, max, .. } => {
            let mut m = *max;
            if m == 0 {
                return true;
            }
            if m < 0 {
                m = *min;
            }
            if m > n {
                return false;
            }
            if m > 0 {
                n /= m;
            }
            repeat_is_valid(sub, n)
        }
        Node::Group { sub, .. } => repeat_is_valid(sub, n),
        Node::Concat(v) | Node::Alt(v) => v.iter().all(|x| repeat_is_valid(x, n)),
        _ => true,
    }
}

/// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}`; `None` if `{` is a literal.
fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
    let s = s.strip_prefix('{')?;
    let (min, s) = parse_int(s)?;
    let mut min = min;
    let max;
    let s = if let Some(s) = s.strip_prefix(',') {
        if s.starts_with('}') {
            max = -1;
            s
        } else {
            let (m, s) = parse_int(s)?;
            max = m;
            if m < 0 {
                min = -1;
            }
            s
        }
    } else {
        max = min;
        s
    };
    let rest = s.strip_prefix('}')?;
    Some((min, max, rest))
}

fn parse_int(s: &str) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    if b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit() {
        return None;
    }
    let end = b
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(b.len());
    let mut n: i64 = 0;
    for &d in &b[..end] {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some((n, &s[end..]))
}

fn parse_class_char<'a>(s: &'a str, whole_class: &str) -> Result<(char, &'a str), SyntaxError> {
    if s.is_empty() {
        return Err(err(ERR_MISSING_BRACKET, whole_class));
    }
    if s.starts_with('\\') {
        return parse_escape(s);
    }
    next_char(s).ok_or_else(|| err(ERR_MISSING_BRACKET, whole_class))
}

fn unhex(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// Go's `parseEscape`: a single-character escape.
fn parse_escape(s: &str) -> Result<(char, &str), SyntaxError> {
    let t = &s[1..];
    let Some((c, t)) = next_char(t) else {
        return Err(err(ERR_TRAILING_BACKSLASH, ""));
    };
    let bad = |t: &str| err(ERR_INVALID_ESCAPE, &s[..s.len() - t.len()]);
    match c {
        '1'..='7' if !t.starts_with(|d: char| ('0'..='7').contains(&d)) => Err(bad(t)),
        '0'..='7' => {
            let mut r = c as u32 - '0' as u32;
            let mut t = t;
            for _ in 1..3 {
                match t.as_bytes().first() {
                    Some(&d @ b'0'..=b'7') => {
                        r = r * 8 + u32::from(d - b'0');
                        t = &t[1..];
                    }
                    _ => break,
                }
            }
            Ok((char::from_u32(r).unwrap_or('\u{FFFD}'), t))
        }
        'x' => {
            let Some((c, t)) = next_char(t) else {
                return Err(bad(t));
            };
            if c == '{' {
                let mut t = t;
                let mut r: u32 = 0;
                let mut nhex = 0;
                loop {
                    let Some((c, rest)) = next_char(t) else {
                        return Err(bad(t));
                    };
                    t = rest;
                    if c == '}' {
                        break;
                    }
                    let Some(v) = unhex(c) else {
                        return Err(bad(t));
                    };
                    r = r * 16 + v;
                    if r > 0x10FFFF {
                        return Err(bad(t));
                    }
                    nhex += 1;
                }
                if nhex == 0 {
                    return Err(bad(t));
                }
                return char::from_u32(r).map(|c| (c, t)).ok_or_else(|| bad(t));
            }
            let x = unhex(c);
            let (c2, t) = match next_char(t) {
                Some((c2, t)) => (Some(c2), t),
                None => (None, t),
            };
            match (x, c2.and_then(unhex)) {
                (Some(x), Some(y)) => Ok((char::from_u32(x * 16 + y).unwrap_or('\u{FFFD}'), t)),
                _ => Err(bad(t)),
            }
        }
        'a' => Ok(('\u{7}', t)),
        'f' => Ok(('\u{c}', t)),
        'n' => Ok(('\n', t)),
        'r' => Ok(('\r', t)),
        't' => Ok(('\t', t)),
        'v' => Ok(('\u{b}', t)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c, t)),
        _ => Err(bad(t)),
    }
}

/// `\d \s \w` and their negations, ASCII-only as in Go, as Rust class items.
fn parse_perl_class_escape(s: &str) -> Option<(String, &str)> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b'\\' {
        return None;
    }
    let class = match b[1] {
        b'd' => "0-9",
        b'D' => "[^0-9]",
        b's' => r"\t\n\x0C\r ",
        b'S' => r"[^\t\n\x0C\r ]",
        b'w' => "0-9A-Za-z_",
        b'W' => "[^0-9A-Za-z_]",
        _ => return None,
    };
    Some((class.to_string(), &s[2..]))
}

const POSIX: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

fn parse_named_class(s: &str) -> Result<Option<(String, &str)>, SyntaxError> {
    let Some(i) = s[2..].find(":]") else {
        return Ok(None);
    };
    let i = i + 2;
    let name = &s[..i + 2];
    let inner = &s[2..i];
    let bare = inner.strip_prefix('^').unwrap_or(inner);
    if !POSIX.contains(&bare) {
        return Err(err(ERR_INVALID_CHAR_RANGE, name));
    }
    Ok(Some((format!("[{name}]"), &s[i + 2..])))
}

/// Go's Unicode general categories and scripts (Unicode 15), the only names `\p{}` accepts.
const UNICODE_NAMES: &[&str] = &[
    "Any",
    "C",
    "Cc",
    "Cf",
    "Co",
    "Cs",
    "L",
    "Ll",
    "Lm",
    "Lo",
    "Lt",
    "Lu",
    "M",
    "Mc",
    "Me",
    "Mn",
    "N",
    "Nd",
    "Nl",
    "No",
    "P",
    "Pc",
    "Pd",
    "Pe",
    "Pf",
    "Pi",
    "Po",
    "Ps",
    "S",
    "Sc",
    "Sk",
    "Sm",
    "So",
    "Z",
    "Zl",
    "Zp",
    "Zs",
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// Go's `parseUnicodeClass`: `\pL`, `\p{Greek}`, `\P{^Greek}`... as a Rust class item.
fn parse_unicode_class(s: &str) -> Result<Option<(String, &str)>, SyntaxError> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b'\\' || (b[1] != b'p' && b[1] != b'P') {
        return Ok(None);
    }
    let mut negate = b[1] == b'P';
    let t = &s[2..];
    let (seq, name, rest) = match next_char(t) {
        Some(('{', _)) => {
            let Some(end) = s.find('}') else {
                return Err(err(ERR_INVALID_CHAR_RANGE, s));
            };
            (&s[..end + 1], &s[3..end], &s[end + 1..])
        }
        Some((_, r)) => {
            let seq = &s[..s.len() - r.len()];
            (seq, &seq[2..], r)
        }
        None => (s, "", ""),
    };
    let name = match name.strip_prefix('^') {
        Some(n) => {
            negate = !negate;
            n
        }
        None => name,
    };
    if !UNICODE_NAMES.contains(&name) {
        return Err(err(ERR_INVALID_CHAR_RANGE, seq));
    }
    let p = if negate { 'P' } else { 'p' };
    Ok(Some((format!("\\{p}{{{name}}}"), rest)))
}

fn push_class_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

fn emit(node: &Node, out: &mut String) {
    match node {
        Node::Empty => {}
        Node::Lit(c) => {
            if c.is_alphanumeric() && !c.is_ascii() || c.is_ascii_alphanumeric() {
                out.push(*c);
            } else {
                out.push_str(&format!("\\x{{{:X}}}", *c as u32));
            }
        }
        Node::Class(s) => out.push_str(s),
        Node::Raw(s) => out.push_str(s),
        Node::Flags(f) => {
            out.push_str("(?");
            out.push_str(f);
            out.push(')');
        }
        Node::Group {
            capture,
            flags,
            sub,
        } => {
            if *capture {
                out.push('(');
            } else {
                out.push_str("(?");
                if let Some(f) = flags {
                    out.push_str(f);
                }
                out.push(':');
            }
            emit(sub, out);
            out.push(')');
        }
        Node::Concat(v) => v.iter().for_each(|n| emit(n, out)),
        Node::Alt(v) => {
            for (i, n) in v.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                out.push_str("(?:");
                emit(n, out);
                out.push(')');
            }
        }
        Node::Repeat { sub, op, .. } => {
            out.push_str("(?:");
            emit(sub, out);
            out.push(')');
            out.push_str(op);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(p: &str) -> (String, String) {
        match compile(p) {
            Ok(_) => (String::new(), String::new()),
            Err(e) => (e.code.to_string(), e.expr),
        }
    }

    #[test]
    fn go_errors() {
        assert_eq!(e("(a"), (ERR_MISSING_PAREN.into(), "(a".into()));
        assert_eq!(e("a)"), (ERR_UNEXPECTED_PAREN.into(), "a)".into()));
        assert_eq!(e("[a"), (ERR_MISSING_BRACKET.into(), "[a".into()));
        assert_eq!(e("*a"), (ERR_MISSING_REPEAT_ARG.into(), "*".into()));
        assert_eq!(e("a**"), (ERR_INVALID_REPEAT_OP.into(), "**".into()));
        assert_eq!(
            e("a{1001}"),
            (ERR_INVALID_REPEAT_SIZE.into(), "{1001}".into())
        );
        assert_eq!(e("[z-a]"), (ERR_INVALID_CHAR_RANGE.into(), "z-a".into()));
        assert_eq!(e("\\q"), (ERR_INVALID_ESCAPE.into(), "\\q".into()));
        assert_eq!(e("\\"), (ERR_TRAILING_BACKSLASH.into(), "".into()));
        assert_eq!(e("(?x) a"), (ERR_INVALID_PERL_OP.into(), "(?x".into()));
        assert_eq!(
            e("(?P<>a)"),
            (ERR_INVALID_NAMED_CAPTURE.into(), "(?P<>".into())
        );
        assert_eq!(
            e("\\x{110000}"),
            (ERR_INVALID_ESCAPE.into(), "\\x{110000".into())
        );
        assert_eq!(
            e("\\p{Foo}"),
            (ERR_INVALID_CHAR_RANGE.into(), "\\p{Foo}".into())
        );
        assert_eq!(
            e("[[:foo:]]"),
            (ERR_INVALID_CHAR_RANGE.into(), "[:foo:]".into())
        );
        assert_eq!(e("a|*"), (ERR_MISSING_REPEAT_ARG.into(), "*".into()));
        assert_eq!(
            e("(a{100}){100}"),
            (ERR_INVALID_REPEAT_SIZE.into(), "{100}".into())
        );
    }

    #[test]
    fn go_semantics() {
        let m = |p: &str, s: &str| {
            compile(p)
                .ok()
                .and_then(|r| r.re.find(s).map(|m| m.as_str().to_string()))
        };
        assert_eq!(m(r"\d+", "١٢3"), Some("3".into()));
        assert_eq!(m(r"\w+", "éa"), Some("a".into()));
        assert_eq!(m(r"a\Qb.c\E", "ab.c"), Some("ab.c".into()));
        assert_eq!(m(r"\101", "A"), Some("A".into()));
        assert_eq!(m(r"a{,2}", "a{,2}"), Some("a{,2}".into()));
        assert_eq!(m(r"[a&&b]", "&"), Some("&".into()));
        assert_eq!(m(r"\s+", "\u{b} \t"), Some(" \t".into()));
        assert_eq!(m(r"[\d-z]+", "1-z"), Some("1-z".into()));
        assert_eq!(m(r"^*a", "a"), Some("a".into()));
        let r = compile("(?P<n>a)(?P<n>b)").expect("ok");
        assert_eq!(r.names, vec!["n".to_string(), "n".to_string()]);
    }
}
