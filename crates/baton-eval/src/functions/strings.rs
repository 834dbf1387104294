//! The strings functions of Terraform's library: `format` and `formatlist` (go-cty's printf
//! dialect), the regular expression functions (Go's RE2 syntax, see `goregex`), and the
//! simple string functions, which count and slice by grapheme clusters as Terraform does.
//!
//! Implementations receive known, unmarked, already-converted arguments (see the call
//! machinery in `functions/mod.rs`) and must never log argument values.

mod goregex;

use super::util::{int_arg, str_arg, string};
use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::number::Number;
use crate::types::Type;
use crate::value::{Kind, Value};
use std::collections::BTreeMap;
use unicode_segmentation::UnicodeSegmentation;

pub(super) fn register(r: &mut Registry) {
    let s = |n: &'static str| Param::new(n, Type::String);
    let str1 = |name, imp| Function::new(name, vec![s("str")], Ret::Fixed(Type::String), imp);
    r.add(str1("chomp", chomp));
    r.add(str1("lower", lower));
    r.add(str1("upper", upper));
    r.add(str1("strrev", strrev));
    r.add(str1("title", title));
    r.add(str1("trimspace", trimspace));
    r.add(Function::new(
        "endswith",
        vec![s("str"), s("suffix")],
        Ret::Fixed(Type::Bool),
        endswith,
    ));
    r.add(Function::new(
        "startswith",
        vec![s("str"), s("prefix")],
        Ret::Fixed(Type::Bool),
        startswith,
    ));
    r.add(Function::new(
        "strcontains",
        vec![s("str"), s("substr")],
        Ret::Fixed(Type::Bool),
        strcontains,
    ));
    r.add(
        Function::new(
            "format",
            vec![s("format")],
            Ret::Fixed(Type::String),
            format,
        )
        .variadic(Param::new("args", Type::Dynamic).nullable()),
    );
    r.add(
        Function::new(
            "formatlist",
            vec![s("format")],
            Ret::Fixed(Type::list(Type::String)),
            formatlist,
        )
        .variadic(Param::new("args", Type::Dynamic).nullable().unknowns()),
    );
    r.add(Function::new(
        "indent",
        vec![Param::new("spaces", Type::Number), s("str")],
        Ret::Fixed(Type::String),
        indent,
    ));
    r.add(
        Function::new("join", vec![s("separator")], Ret::Fixed(Type::String), join)
            .variadic(Param::new("lists", Type::list(Type::String))),
    );
    r.add(Function::new(
        "regex",
        vec![s("pattern"), s("string")],
        Ret::Dynamic,
        regex_fn,
    ));
    r.add(Function::new(
        "regexall",
        vec![s("pattern"), s("string")],
        Ret::Dynamic,
        regexall,
    ));
    r.add(Function::new(
        "replace",
        vec![s("str"), s("substr"), s("replace")],
        Ret::Fixed(Type::String),
        replace,
    ));
    r.add(Function::new(
        "split",
        vec![s("separator"), s("str")],
        Ret::Fixed(Type::list(Type::String)),
        split,
    ));
    r.add(Function::new(
        "substr",
        vec![
            s("str"),
            Param::new("offset", Type::Number),
            Param::new("length", Type::Number),
        ],
        Ret::Fixed(Type::String),
        substr,
    ));
    r.add(Function::new(
        "trim",
        vec![s("str"), s("cutset")],
        Ret::Fixed(Type::String),
        trim,
    ));
    r.add(Function::new(
        "trimprefix",
        vec![s("str"), s("prefix")],
        Ret::Fixed(Type::String),
        trimprefix,
    ));
    r.add(Function::new(
        "trimsuffix",
        vec![s("str"), s("suffix")],
        Ret::Fixed(Type::String),
        trimsuffix,
    ));
}

/// The largest width or precision `format` accepts, and the largest `indent`.
const MAX_PAD: usize = 1_000_000;

// ----- helpers shared with the other function files -----

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub use baton_core::gotext::quote as go_quote;
/// Go's `strconv.QuoteRune` (what `%q` prints for a rune).
pub(super) use baton_core::gotext::quote_rune as go_quote_rune;

fn graphemes(s: &str) -> unicode_segmentation::Graphemes<'_> {
    s.graphemes(true)
}

fn grapheme_count(s: &str) -> usize {
    graphemes(s).count()
}

// ----- simple functions -----

fn chomp(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    string(str_arg(args, 0)?.trim_end_matches(['\r', '\n']))
}

/// Go's `unicode.ToUpper` (simple case mapping).
fn go_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => greek_iota_upper(c).unwrap_or(c),
    }
}

/// Simple uppercase of the Greek letters with ypogegrammeni, whose full mapping is two
/// characters.
fn greek_iota_upper(c: char) -> Option<char> {
    let u = c as u32;
    let m = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => u + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return None,
    };
    char::from_u32(m)
}

/// Go's `unicode.ToLower` (simple case mapping).
fn go_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle`.
fn go_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        '\u{10D0}'..='\u{10FA}' | '\u{10FD}'..='\u{10FF}' => c,
        _ => go_upper(c),
    }
}

fn lower(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    string(str_arg(args, 0)?.chars().map(go_lower).collect::<String>())
}

fn upper(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    string(str_arg(args, 0)?.chars().map(go_upper).collect::<String>())
}

fn strrev(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    string(graphemes(str_arg(args, 0)?).rev().collect::<String>())
}

/// Go's `strings.Title`: upper-cases (title-cases) the first letter of each word.
fn title(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let is_sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    let out: String = str_arg(args, 0)?
        .chars()
        .map(|c| {
            let r = if is_sep(prev) { go_title(c) } else { c };
            prev = c;
            r
        })
        .collect();
    string(out)
}

fn trimspace(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    string(str_arg(args, 0)?.trim())
}

fn endswith(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::bool(str_arg(args, 0)?.ends_with(str_arg(args, 1)?)))
}

fn startswith(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::bool(
        str_arg(args, 0)?.starts_with(str_arg(args, 1)?),
    ))
}

fn strcontains(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::bool(str_arg(args, 0)?.contains(str_arg(args, 1)?)))
}

fn trim(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let cutset = str_arg(args, 1)?;
    string(str_arg(args, 0)?.trim_matches(|c| cutset.contains(c)))
}

fn trimprefix(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let s = str_arg(args, 0)?;
    string(s.strip_prefix(str_arg(args, 1)?).unwrap_or(s))
}

fn trimsuffix(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let s = str_arg(args, 0)?;
    string(s.strip_suffix(str_arg(args, 1)?).unwrap_or(s))
}

/// go-cty's `gocty.FromCtyValue` into an `int`.
fn whole_int(args: &[Value], i: usize) -> Result<i64, FnError> {
    int_arg(args, i).map_err(|_| {
        FnError::new(
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807.",
        )
    })
}

fn indent(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let spaces = whole_int(args, 0)?;
    let s = str_arg(args, 1)?;
    if spaces < 0 {
        return Err(FnError::new(
            "panic in function implementation: strings: negative Repeat count.",
        ));
    }
    let n = usize::try_from(spaces).unwrap_or(usize::MAX);
    let lines = s.matches('\n').count();
    if n > MAX_PAD || n.saturating_mul(lines) > 64 * MAX_PAD {
        return Err(FnError::arg(
            0,
            "Invalid value for \"spaces\" parameter: too many spaces.",
        ));
    }
    let pad = format!("\n{}", " ".repeat(n));
    string(s.replace('\n', &pad))
}

fn join(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let sep = str_arg(args, 0)?;
    let lists = &args[1..];
    if lists.is_empty() {
        return Err(FnError::new("at least one list is required."));
    }
    let mut items: Vec<&str> = Vec::new();
    for (ai, list) in lists.iter().enumerate() {
        let elems = list.as_seq().unwrap_or(&[]);
        for (ei, v) in elems.iter().enumerate() {
            match v.as_str() {
                Some(s) => items.push(s),
                None => {
                    let msg = if lists.len() > 1 {
                        format!(
                            "element {ei} of list {} is null; cannot concatenate null values",
                            ai + 1
                        )
                    } else {
                        format!("element {ei} is null; cannot concatenate null values")
                    };
                    return Err(FnError::arg(
                        ai + 1,
                        format!("Invalid value for \"lists\" parameter: {msg}."),
                    ));
                }
            }
        }
    }
    string(items.join(sep))
}

fn split(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let sep = str_arg(args, 0)?;
    let s = str_arg(args, 1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::string(c.to_string())).collect()
    } else {
        s.split(sep).map(Value::string).collect()
    };
    Ok(Value::list(Type::String, parts))
}

/// go-cty's `substr`, bug for bug (a negative offset that stays negative after adding the
/// length starts at the beginning; with a negative offset a zero length takes the rest).
fn substr(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let s = str_arg(args, 0)?;
    let mut offset = whole_int(args, 1)?;
    let length = whole_int(args, 2)?;
    if offset < 0 {
        offset = offset.saturating_add(grapheme_count(s) as i64);
    } else if length == 0 {
        return string("");
    }
    let mut sub = s;
    if offset > 0 {
        let mut pos = 0i64;
        let mut i = 0usize;
        for g in graphemes(s) {
            i += g.len();
            pos += 1;
            if pos == offset {
                break;
            }
            if i >= s.len() {
                return string("");
            }
        }
        sub = &s[i..];
    }
    if length < 0 {
        return string(sub);
    }
    let mut pos = 0i64;
    let mut i = 0usize;
    for g in graphemes(sub) {
        i += g.len();
        pos += 1;
        if pos == length {
            break;
        }
    }
    string(&sub[..i])
}

// ----- regular expressions -----

fn compile_pattern(pattern: &str) -> Result<std::sync::Arc<goregex::GoRegex>, FnError> {
    goregex::compile(pattern).map_err(|e| {
        FnError::arg(
            0,
            format!(
                "Invalid value for \"pattern\" parameter: invalid regexp pattern: {} in {}.",
                e.code, e.expr
            ),
        )
    })
}

/// The result shape of a pattern: a string, a tuple of unnamed groups or an object of named
/// groups (go-cty's `regexPatternResultType`).
enum Shape {
    Whole,
    Tuple(usize),
    Object(Vec<String>),
}

fn shape(re: &goregex::GoRegex) -> Result<Shape, FnError> {
    let unnamed = re.names.iter().filter(|n| n.is_empty()).count();
    let named = re.names.len() - unnamed;
    match (unnamed, named) {
        (0, 0) => Ok(Shape::Whole),
        (u, 0) => Ok(Shape::Tuple(u)),
        (0, _) => Ok(Shape::Object(re.names.clone())),
        _ => Err(FnError::arg(
            0,
            "Invalid value for \"pattern\" parameter: invalid regexp pattern: cannot mix both named and unnamed capture groups.",
        )),
    }
}

fn shape_type(sh: &Shape) -> Type {
    match sh {
        Shape::Whole => Type::String,
        Shape::Tuple(n) => Type::tuple(vec![Type::String; *n]),
        Shape::Object(names) => {
            Type::object(names.iter().map(|n| (n.clone(), Type::String)).collect())
        }
    }
}

fn match_value(sh: &Shape, caps: &regex::Captures<'_>) -> Value {
    let group = |i: usize| match caps.get(i) {
        Some(m) => Value::string(m.as_str()),
        None => Value::null(Type::String),
    };
    match sh {
        Shape::Whole => group(0),
        Shape::Tuple(n) => Value::tuple((1..=*n).map(group).collect()),
        Shape::Object(names) => {
            let mut attrs = BTreeMap::new();
            for (i, name) in names.iter().enumerate() {
                attrs.insert(name.clone(), group(i + 1));
            }
            Value::object(attrs)
        }
    }
}

fn regex_fn(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let re = compile_pattern(str_arg(args, 0)?)?;
    let sh = shape(&re)?;
    let s = str_arg(args, 1)?;
    match re.re.captures(s) {
        Some(caps) => Ok(match_value(&sh, &caps)),
        None => Err(FnError::new(
            "pattern did not match any part of the given string.",
        )),
    }
}

fn regexall(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let re = compile_pattern(str_arg(args, 0)?)?;
    let sh = shape(&re)?;
    let s = str_arg(args, 1)?;
    let items: Vec<Value> = re
        .re
        .captures_iter(s)
        .map(|c| match_value(&sh, &c))
        .collect();
    Ok(Value::list(shape_type(&sh), items))
}

fn replace(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let s = str_arg(args, 0)?;
    let sub = str_arg(args, 1)?;
    let repl = str_arg(args, 2)?;
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        let pattern = &sub[1..sub.len() - 1];
        let re = goregex::compile(pattern).map_err(|e| {
            FnError::new(format!("error parsing regexp: {}: `{}`.", e.code, e.expr))
        })?;
        let mut out = String::with_capacity(s.len());
        let mut last = 0usize;
        for caps in re.re.captures_iter(s) {
            let Some(m) = caps.get(0) else { continue };
            out.push_str(&s[last..m.start()]);
            go_expand(&mut out, repl, &caps, &re.names);
            last = m.end();
        }
        out.push_str(&s[last..]);
        return string(out);
    }
    string(s.replace(sub, repl))
}

/// Go's `Regexp.expand`: `$1`, `${1}`, `$name`, `${name}` and `$$`.
fn go_expand(out: &mut String, template: &str, caps: &regex::Captures<'_>, names: &[String]) {
    let mut t = template;
    while let Some(i) = t.find('$') {
        out.push_str(&t[..i]);
        t = &t[i + 1..];
        if let Some(rest) = t.strip_prefix('$') {
            out.push('$');
            t = rest;
            continue;
        }
        let Some((name, rest)) = extract_name(t) else {
            out.push('$');
            continue;
        };
        t = rest;
        let num = go_group_number(name);
        match num {
            Some(n) => {
                if let Some(m) = caps.get(n) {
                    out.push_str(m.as_str());
                }
            }
            None => {
                if let Some(i) = names.iter().position(|x| x == name) {
                    if let Some(m) = caps.get(i + 1) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
    out.push_str(t);
}

fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let rest = &body[end..];
    if brace {
        let rest = rest.strip_prefix('}')?;
        return Some((name, rest));
    }
    Some((name, rest))
}

fn go_group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    if name.len() > 9 {
        return None;
    }
    name.parse().ok()
}

// ----- format -----

fn format(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let f = str_arg(args, 0)?;
    format_fsm(f, &args[1..])
        .map(Value::string)
        .map_err(|e| e.into_fn_error())
}

/// A failure of one formatting run: plain, or about one of the arguments.
enum FmtError {
    Plain(String),
    Arg(usize, String),
}

impl FmtError {
    fn into_fn_error(self) -> FnError {
        match self {
            FmtError::Plain(m) => FnError::new(format!("{m}.")),
            FmtError::Arg(i, m) => {
                FnError::arg(i, format!("Invalid value for \"args\" parameter: {m}."))
            }
        }
    }
    fn message(&self) -> &str {
        match self {
            FmtError::Plain(m) | FmtError::Arg(_, m) => m,
        }
    }
}

fn formatlist(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let fmt = str_arg(args, 0)?;
    let rest = &args[1..];
    let list_ty = Type::list(Type::String);
    if rest.is_empty() {
        let s = format_fsm(fmt, rest).map_err(|e| e.into_fn_error())?;
        return Ok(Value::list(Type::String, vec![Value::string(s)]));
    }
    let mut iter_len: Option<usize> = None;
    let mut chooser = 0usize;
    let mut unknown = false;
    for (i, a) in rest.iter().enumerate() {
        let ty = a.ty();
        let seq_len = match (a.kind(), &ty) {
            (Kind::Null(_), _) => None,
            (Kind::Unknown(_), Type::Tuple(ts)) => Some(ts.len()),
            (Kind::Unknown(_), Type::List(_) | Type::Set(_)) => {
                unknown = true;
                continue;
            }
            _ => a.as_seq().map(<[Value]>::len),
        };
        let Some(len) = seq_len else { continue };
        match iter_len {
            None => {
                iter_len = Some(len);
                chooser = i;
            }
            Some(n) if n != len => {
                return Err(FnError::arg(
                    i + 1,
                    format!(
                        "Invalid value for \"args\" parameter: argument {} has length {len}, which is inconsistent with argument {} of length {n}.",
                        i + 1,
                        chooser + 1
                    ),
                ));
            }
            _ => {}
        }
        if !a.is_known() {
            unknown = true;
        }
    }
    if unknown {
        return Ok(Value::unknown(list_ty));
    }
    let n = iter_len.unwrap_or(1);
    let mut out = Vec::with_capacity(n);
    'results: for idx in 0..n {
        let mut fargs = Vec::with_capacity(rest.len());
        for a in rest {
            let v = match (a.is_null(), a.as_seq()) {
                (false, Some(items)) => items.get(idx).cloned().unwrap_or_else(Value::dynamic_null),
                _ => a.clone(),
            };
            if !v.is_wholly_known() {
                out.push(Value::unknown(Type::String));
                continue 'results;
            }
            fargs.push(v);
        }
        let s = format_fsm(fmt, &fargs).map_err(|e| {
            FnError::new(format!("error on format iteration {idx}: {}.", e.message()))
        })?;
        out.push(Value::string(s));
    }
    Ok(Value::list(Type::String, out))
}

#[derive(Default)]
struct Verb<'a> {
    raw: &'a str,
    offset: usize,
    arg_num: usize,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    has_width: bool,
    width: usize,
    has_prec: bool,
    prec: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    Main,
    Percent,
    Flags,
    Width,
    Prec,
    IdxStart,
    Idx,
    AfterIdx,
}

/// go-cty's `formatFSM`: the printf-like scanner and its formatting.
fn format_fsm(format: &str, args: &[Value]) -> Result<String, FmtError> {
    let mut buf = String::with_capacity(format.len());
    let mut next_arg = 1usize;
    let mut highest = 0usize;
    let mut verb = Verb::default();
    let mut st = St::Main;
    let mut ts = 0usize;
    let b = format.as_bytes();
    let mut p = 0usize;
    let unrecognized = |p: usize| {
        let c = format[p..].chars().next().unwrap_or('\u{FFFD}');
        FmtError::Plain(format!(
            "unrecognized format character {} at offset {p}",
            go_quote_rune(c)
        ))
    };
    let digit = |acc: usize, c: u8| acc.saturating_mul(10).saturating_add(usize::from(c - b'0'));
    while p < b.len() {
        let c = b[p];
        match st {
            St::Main => {
                if c == b'%' {
                    verb = Verb {
                        arg_num: next_arg,
                        ..Verb::default()
                    };
                    ts = p;
                    st = St::Percent;
                } else {
                    // Copy one whole character.
                    let ch = format[p..].chars().next().unwrap_or('\u{FFFD}');
                    buf.push(ch);
                    p += ch.len_utf8();
                    continue;
                }
            }
            St::Percent | St::Flags => match c {
                b' ' => {
                    verb.space = true;
                    st = St::Flags;
                }
                b'#' => {
                    verb.sharp = true;
                    st = St::Flags;
                }
                b'+' => {
                    verb.plus = true;
                    st = St::Flags;
                }
                b'-' => {
                    verb.minus = true;
                    st = St::Flags;
                }
                b'0' => {
                    verb.zero = true;
                    st = St::Flags;
                }
                b'%' if st == St::Percent => {
                    buf.push('%');
                    st = St::Main;
                }
                b'.' => {
                    verb.has_prec = true;
                    verb.prec = 0;
                    st = St::Prec;
                }
                b'[' => {
                    verb.arg_num = 0;
                    st = St::IdxStart;
                }
                b'1'..=b'9' => {
                    verb.has_width = true;
                    verb.width = usize::from(c - b'0');
                    st = St::Width;
                }
                c if c.is_ascii_alphabetic() => {
                    st = St::Main;
                    next_arg = emit_verb(&mut verb, format, ts, p, args, &mut buf, &mut highest)?;
                }
                _ => return Err(unrecognized(p)),
            },
            St::Width => match c {
                b'.' => {
                    verb.has_prec = true;
                    verb.prec = 0;
                    st = St::Prec;
                }
                b'[' => {
                    verb.arg_num = 0;
                    st = St::IdxStart;
                }
                b'0'..=b'9' => verb.width = digit(verb.width, c),
                c if c.is_ascii_alphabetic() => {
                    st = St::Main;
                    next_arg = emit_verb(&mut verb, format, ts, p, args, &mut buf, &mut highest)?;
                }
                _ => return Err(unrecognized(p)),
            },
            St::Prec => match c {
                b'[' => {
                    verb.arg_num = 0;
                    st = St::IdxStart;
                }
                b'0'..=b'9' => verb.prec = digit(verb.prec, c),
                c if c.is_ascii_alphabetic() => {
                    st = St::Main;
                    next_arg = emit_verb(&mut verb, format, ts, p, args, &mut buf, &mut highest)?;
                }
                _ => return Err(unrecognized(p)),
            },
            St::IdxStart => match c {
                b'1'..=b'9' => {
                    verb.arg_num = usize::from(c - b'0');
                    st = St::Idx;
                }
                _ => return Err(unrecognized(p)),
            },
            St::Idx => match c {
                b']' => st = St::AfterIdx,
                b'0'..=b'9' => verb.arg_num = digit(verb.arg_num, c),
                _ => return Err(unrecognized(p)),
            },
            St::AfterIdx => {
                if c.is_ascii_alphabetic() {
                    st = St::Main;
                    next_arg = emit_verb(&mut verb, format, ts, p, args, &mut buf, &mut highest)?;
                } else {
                    return Err(unrecognized(p));
                }
            }
        }
        p += 1;
    }
    if st != St::Main {
        return Err(FmtError::Plain(format!(
            "invalid format string starting at offset {}",
            b.len()
        )));
    }
    if highest < args.len() {
        let first_bad = highest + 1;
        if highest == 0 {
            return Err(FmtError::Arg(
                first_bad,
                "too many arguments; no verbs in format string".into(),
            ));
        }
        return Err(FmtError::Arg(
            first_bad,
            format!("too many arguments; only {highest} used by format string"),
        ));
    }
    Ok(buf)
}

/// The `mode` action: finishes the verb ending at `p` and formats its argument. Returns the
/// next implicit argument number.
fn emit_verb<'a>(
    verb: &mut Verb<'a>,
    format: &'a str,
    ts: usize,
    p: usize,
    args: &[Value],
    buf: &mut String,
    highest: &mut usize,
) -> Result<usize, FmtError> {
    verb.mode = char::from(format.as_bytes()[p]);
    verb.raw = &format[ts..=p];
    verb.offset = ts;
    if verb.arg_num > *highest {
        *highest = verb.arg_num;
    }
    format_append(verb, buf, args)?;
    Ok(verb.arg_num.saturating_add(1))
}

fn unsupported(verb: &Verb<'_>, msg: &str) -> FmtError {
    FmtError::Plain(format!(
        "unsupported value for {} at {}: {msg}",
        go_quote(verb.raw),
        verb.offset
    ))
}

fn format_append(verb: &Verb<'_>, buf: &mut String, args: &[Value]) -> Result<(), FmtError> {
    let Some(arg) = verb.arg_num.checked_sub(1).and_then(|i| args.get(i)) else {
        return Err(FmtError::Plain(format!(
            "not enough arguments for {} at {}: need index {} but have {} total",
            go_quote(verb.raw),
            verb.offset,
            verb.arg_num,
            args.len()
        )));
    };
    if verb.mode != 'v' && arg.is_null() {
        return Err(unsupported(verb, "null value cannot be formatted"));
    }
    if (verb.has_width && verb.width > MAX_PAD) || (verb.has_prec && verb.prec > MAX_PAD) {
        return Err(unsupported(verb, "width or precision too large"));
    }
    match verb.mode {
        'v' => format_as_is(verb, buf, arg),
        't' => {
            let b = to_bool(arg).map_err(|m| unsupported(verb, m))?;
            buf.push_str(if b { "true" } else { "false" });
            Ok(())
        }
        'b' | 'd' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = to_number(arg).map_err(|m| unsupported(verb, m))?;
            if matches!(verb.mode, 'b' | 'd' | 'o' | 'x' | 'X') {
                if !n.is_integer() {
                    return Err(unsupported(verb, "an integer is required"));
                }
                let i = n
                    .to_bigint()
                    .ok_or_else(|| unsupported(verb, "an integer is required"))?;
                buf.push_str(&go_format_int(verb, &i));
            } else {
                buf.push_str(&go_format_float(verb, &n));
            }
            Ok(())
        }
        's' | 'q' => {
            let s = to_string(arg).map_err(|m| unsupported(verb, m))?;
            let mut s: &str = &s;
            if verb.has_prec && verb.prec > 0 {
                let mut end = 0;
                for g in graphemes(s).take(verb.prec) {
                    end += g.len();
                }
                s = &s[..end];
            }
            if verb.mode == 's' {
                buf.push_str(&pad_width(verb, s.to_string()));
            } else {
                let mut q = String::new();
                super::encoding::json_string(&mut q, s);
                buf.push_str(&pad_width(verb, q));
            }
            Ok(())
        }
        m => Err(FmtError::Plain(format!(
            "unsupported format verb {} in {} at offset {}",
            go_quote_rune(m),
            go_quote(verb.raw),
            verb.offset
        ))),
    }
}

fn format_as_is(verb: &Verb<'_>, buf: &mut String, arg: &Value) -> Result<(), FmtError> {
    if !verb.sharp {
        match arg.kind() {
            Kind::String(s) => {
                buf.push_str(&pad_width(verb, s.to_string()));
                return Ok(());
            }
            Kind::Number(n) => {
                buf.push_str(&pad_width(verb, n.text('g', -1)));
                return Ok(());
            }
            _ => {}
        }
    }
    let mut j = String::new();
    super::encoding::json_marshal(&mut j, arg).map_err(|m| unsupported(verb, &m))?;
    buf.push_str(&pad_width(verb, j));
    Ok(())
}

/// go-cty's `formatPadWidth`: pads to the width in grapheme clusters.
fn pad_width(verb: &Verb<'_>, s: String) -> String {
    if !verb.has_width {
        return s;
    }
    let have = grapheme_count(&s);
    if have >= verb.width {
        return s;
    }
    let pad = (if verb.zero { "0" } else { " " }).repeat(verb.width - have);
    if verb.minus {
        s + &pad
    } else {
        pad + &s
    }
}

fn to_bool(v: &Value) -> Result<bool, &'static str> {
    match v.kind() {
        Kind::Bool(b) => Ok(*b),
        Kind::String(s) => match &**s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("a bool is required"),
        },
        _ => Err("bool required"),
    }
}

fn to_number(v: &Value) -> Result<Number, &'static str> {
    match v.kind() {
        Kind::Number(n) => Ok(n.clone()),
        Kind::String(s) => Number::parse(s).ok_or("a number is required"),
        _ => Err("number required"),
    }
}

fn to_string(v: &Value) -> Result<String, &'static str> {
    match v.kind() {
        Kind::String(s) => Ok(s.to_string()),
        Kind::Number(n) => Ok(n.to_string()),
        Kind::Bool(b) => Ok(b.to_string()),
        _ => Err("string required"),
    }
}

/// Go's `fmt` of a `*big.Float` with the verb's flags, width and precision.
fn go_format_float(verb: &Verb<'_>, n: &Number) -> String {
    let prec: i32 = if verb.has_prec {
        i32::try_from(verb.prec).unwrap_or(i32::MAX)
    } else if matches!(verb.mode, 'g' | 'G') {
        -1
    } else {
        6
    };
    let text = n.text(verb.mode, prec);
    // As `(*big.Float).Format`: an infinity's own `+` is its sign (a space flag replaces it),
    // and zero padding does not apply to it.
    let (sign, body) = if let Some(rest) = text.strip_prefix('-') {
        ("-", rest)
    } else if let Some(rest) = text.strip_prefix('+') {
        (if verb.space { " " } else { "+" }, rest)
    } else if verb.plus {
        ("+", text.as_str())
    } else if verb.space {
        (" ", text.as_str())
    } else {
        ("", text.as_str())
    };
    let len = sign.len() + body.len();
    let padding = if verb.has_width && verb.width > len {
        verb.width - len
    } else {
        0
    };
    if verb.zero && !n.is_infinite() {
        format!("{sign}{}{body}", "0".repeat(padding))
    } else if verb.minus {
        format!("{sign}{body}{}", " ".repeat(padding))
    } else {
        format!("{}{sign}{body}", " ".repeat(padding))
    }
}

/// Go's `fmt` of a `*big.Int` (`(*big.Int).Format`).
fn go_format_int(verb: &Verb<'_>, i: &num_bigint::BigInt) -> String {
    use num_bigint::Sign;
    let base = match verb.mode {
        'b' => 2,
        'o' => 8,
        'x' | 'X' => 16,
        _ => 10,
    };
    let sign = if i.sign() == Sign::Minus {
        "-"
    } else if verb.plus {
        "+"
    } else if verb.space {
        " "
    } else {
        ""
    };
    let prefix = if verb.sharp {
        match verb.mode {
            'b' => "0b",
            'o' => "0",
            'x' => "0x",
            'X' => "0X",
            _ => "",
        }
    } else {
        ""
    };
    let mut digits = i.magnitude().to_str_radix(base);
    if verb.mode == 'X' {
        digits = digits.to_uppercase();
    }
    let mut zeros = 0usize;
    if verb.has_prec {
        if digits.len() < verb.prec {
            zeros = verb.prec - digits.len();
        } else if digits == "0" && verb.prec == 0 {
            return String::new();
        }
    }
    let length = sign.len() + prefix.len() + zeros + digits.len();
    let (mut left, mut right) = (0usize, 0usize);
    if verb.has_width && length < verb.width {
        let d = verb.width - length;
        if verb.minus {
            right = d;
        } else if verb.zero && !verb.has_prec {
            zeros = d;
        } else {
            left = d;
        }
    }
    format!(
        "{}{sign}{prefix}{}{digits}{}",
        " ".repeat(left),
        "0".repeat(zeros),
        " ".repeat(right)
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }
    fn n(x: i64) -> Value {
        Value::int(x)
    }
    fn num(x: &str) -> Value {
        Value::number(Number::parse(x).expect("number"))
    }
    fn ok(name: &str, args: Vec<Value>) -> Value {
        call_fn(name, args).expect("call succeeds")
    }
    fn ok_str(name: &str, args: Vec<Value>) -> String {
        ok(name, args).as_str().expect("string").to_string()
    }
    fn err(name: &str, args: Vec<Value>) -> String {
        call_fn(name, args).expect_err("call fails").message
    }
    fn strs(v: &Value) -> Vec<String> {
        v.as_seq()
            .expect("seq")
            .iter()
            .map(|x| x.as_str().unwrap_or("<null>").to_string())
            .collect()
    }

    #[test]
    fn format_numbers() {
        let f = |fmt: &str, args: Vec<Value>| {
            let mut a = vec![s(fmt)];
            a.extend(args);
            ok_str("format", a)
        };
        assert_eq!(
            f(
                "%-08.2f|%08.2f|%+.3e|% d|%+d|%x|%X|%#x|%o|%#o|%b|%#b",
                vec![
                    num("1.5"),
                    num("-1.5"),
                    num("12345.678"),
                    n(5),
                    n(5),
                    n(255),
                    n(255),
                    n(255),
                    n(8),
                    n(8),
                    n(5),
                    n(5)
                ]
            ),
            "00001.50|-0001.50|+1.235e+04| 5|+5|ff|FF|0xff|10|010|101|0b101"
        );
        assert_eq!(
            f(
                "%5d|%-5d|%05d|%.3d|%8.3d|%.0d",
                vec![n(42), n(42), n(-42), n(7), n(7), n(0)]
            ),
            "   42|42   |-0042|007|     007|"
        );
        assert_eq!(
            f(
                "%g|%G|%e|%E|%.2g|%10.4f|%-10.1e|",
                vec![
                    num("1e21"),
                    num("1e-7"),
                    n(0),
                    n(1),
                    n(123456),
                    num("3.14159"),
                    num("31415.9")
                ]
            ),
            "1e+21|1E-07|0.000000e+00|1.000000E+00|1.2e+05|    3.1416|3.1e+04   |"
        );
        assert_eq!(f("%v", vec![n(123456789)]), "1.23456789e+08");
        assert_eq!(
            f("%d", vec![num("1e30")]),
            "1000000000000000000000000000000"
        );
        assert_eq!(f("%x", vec![n(-255)]), "-ff");
        assert_eq!(
            f("%08.3e|%+08d|% 08d", vec![num("-1.5"), n(5), n(5)]),
            "-1.500e+00|+0000005| 0000005"
        );
        assert_eq!(
            f("%.d|%.f|%.e", vec![n(5), num("2.5"), num("2.5")]),
            "5|2|2e+00"
        );
        assert_eq!(f("%d", vec![s("12")]), "12");
    }

    #[test]
    fn format_strings_and_values() {
        let f = |fmt: &str, args: Vec<Value>| {
            let mut a = vec![s(fmt)];
            a.extend(args);
            ok_str("format", a)
        };
        assert_eq!(
            f(
                "%v|%#v|%5v|%-5v|%05v",
                vec![s("a"), s("a"), n(1), Value::bool(true), n(-1)]
            ),
            "a|\"a\"|    1|true |000-1"
        );
        assert_eq!(
            f(
                "%q|%s|%.2s|%5.1s|%-4s|",
                vec![
                    s("a\"<>&\u{2028}"),
                    Value::bool(true),
                    s("héllo"),
                    s("xyz"),
                    s("🇬🇧")
                ]
            ),
            "\"a\\\"\\u003c\\u003e\\u0026\\u2028\"|true|hé|    x|🇬🇧   |"
        );
        let list = Value::tuple(vec![n(1), s("a")]);
        assert_eq!(f("%v", vec![list]), "[1,\"a\"]");
        assert_eq!(f("%%%d%%", vec![n(3)]), "%3%");
        assert_eq!(f("%[1]d %[1]d", vec![n(5)]), "5 5");
        assert_eq!(f("%5[1]d", vec![n(5)]), "    5");
        assert_eq!(
            f("%05s|%-05d|%+s", vec![s("ab"), n(3), s("x")]),
            "000ab|3    |x"
        );
        assert_eq!(f("%v", vec![Value::null(Type::String)]), "null");
    }

    #[test]
    fn format_terraform_fixtures() {
        let f = |fmt: &str, args: Vec<Value>| {
            let mut a = vec![s(fmt)];
            a.extend(args);
            ok_str("format", a)
        };
        assert_eq!(
            f(
                "%.0s|%-6q|%6.2q|%.1q",
                vec![s("abc"), s("a"), s("héllo"), s("<x")]
            ),
            "abc|\"a\"   |  \"hé\"|\"\\u003c\""
        );
        assert_eq!(
            f(
                "%010.3f|%+.2e|% 5d|%b|%5t|%x",
                vec![
                    num("-3.14159"),
                    n(12345),
                    n(42),
                    n(0),
                    Value::bool(true),
                    num("1e20")
                ]
            ),
            "-00003.142|+1.23e+04|   42|0|true|56bc75e2d63100000"
        );
        assert_eq!(
            f(
                "%.3g|%g|%G|%.1f",
                vec![num("0.00001234"), num("1e-5"), num("1e100"), num("0.05")]
            ),
            "1.23e-05|1e-05|1E+100|0.1"
        );
        assert_eq!(
            f("%X|%#X|%#o|%o", vec![n(3054), n(3054), n(0), n(-8)]),
            "BEE|0XBEE|00|-10"
        );
        assert_eq!(
            f("%e", vec![num("123456789012345678901234567890")]),
            "1.234568e+29"
        );
        assert_eq!(f("%f", vec![s("1e3")]), "1000.000000");
        assert_eq!(
            f("%s %v", vec![num("1.50"), num("100000000000000000000")]),
            "1.5 1e+20"
        );
    }

    #[test]
    fn format_errors() {
        let e = |fmt: &str, args: Vec<Value>| {
            let mut a = vec![s(fmt)];
            a.extend(args);
            err("format", a)
        };
        assert_eq!(
            e("%t", vec![n(1)]),
            "unsupported value for \"%t\" at 0: bool required."
        );
        assert_eq!(
            e("%d", vec![s("x")]),
            "unsupported value for \"%d\" at 0: a number is required."
        );
        assert_eq!(
            e("%d", vec![num("1.5")]),
            "unsupported value for \"%d\" at 0: an integer is required."
        );
        assert_eq!(
            e("%z", vec![n(1)]),
            "unsupported format verb 'z' in \"%z\" at offset 0."
        );
        assert_eq!(
            e("%", vec![n(1)]),
            "invalid format string starting at offset 1."
        );
        assert_eq!(
            e("%s", vec![]),
            "not enough arguments for \"%s\" at 0: need index 1 but have 0 total."
        );
        assert_eq!(
            e("a", vec![n(1)]),
            "Invalid value for \"args\" parameter: too many arguments; no verbs in format string."
        );
        assert_eq!(
            e("%s %s", vec![n(1), n(2), n(3)]),
            "Invalid value for \"args\" parameter: too many arguments; only 2 used by format string."
        );
        assert_eq!(
            e("%5%", vec![]),
            "unrecognized format character '%' at offset 2."
        );
        assert_eq!(
            e("%[0]d", vec![n(1)]),
            "unrecognized format character '0' at offset 2."
        );
        assert_eq!(
            e("%ä", vec![n(1)]),
            "unrecognized format character 'ä' at offset 1."
        );
        assert_eq!(
            e("%[1]5d", vec![n(5)]),
            "unrecognized format character '5' at offset 4."
        );
        assert_eq!(
            e("%s", vec![Value::null(Type::String)]),
            "unsupported value for \"%s\" at 0: null value cannot be formatted."
        );
        assert_eq!(
            e("%s", vec![Value::tuple(vec![n(1)])]),
            "unsupported value for \"%s\" at 0: string required."
        );
    }

    #[test]
    fn formatlist_cases() {
        let v = ok(
            "formatlist",
            vec![s("%s-%s"), Value::tuple(vec![s("a"), s("b")]), s("x")],
        );
        assert_eq!(strs(&v), vec!["a-x", "b-x"]);
        assert_eq!(v.ty(), Type::list(Type::String));
        let v = ok("formatlist", vec![s("x")]);
        assert_eq!(strs(&v), vec!["x"]);
        let v = ok("formatlist", vec![s("%s"), Value::empty_tuple()]);
        assert_eq!(v.length(), Some(0));
        assert_eq!(
            err("formatlist", vec![s("%s-%s"), Value::tuple(vec![s("a"), s("b")]), Value::tuple(vec![s("c")])]),
            "Invalid value for \"args\" parameter: argument 2 has length 1, which is inconsistent with argument 1 of length 2."
        );
        assert_eq!(
            err("formatlist", vec![s("a"), Value::tuple(vec![s("x")])]),
            "error on format iteration 0: too many arguments; no verbs in format string."
        );
        let v = ok(
            "formatlist",
            vec![
                s("%s"),
                Value::tuple(vec![s("a"), Value::unknown(Type::String)]),
            ],
        );
        assert!(!v.as_seq().expect("seq")[1].is_known());
    }

    #[test]
    fn substr_cases() {
        let f = |x: &str, o: i64, l: i64| ok_str("substr", vec![s(x), n(o), n(l)]);
        assert_eq!(f("abc", -1, 0), "c");
        assert_eq!(f("abc", -10, 2), "ab");
        assert_eq!(f("abc", 3, 1), "");
        assert_eq!(f("abc", 5, -1), "");
        assert_eq!(f("abc", 1, -2), "bc");
        assert_eq!(f("🇬🇧ab", 0, 1), "🇬🇧");
        assert_eq!(f("abc", 0, 0), "");
        assert_eq!(
            err("substr", vec![s("abc"), num("1.5"), n(1)]),
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807."
        );
    }

    #[test]
    fn case_functions() {
        assert_eq!(ok_str("upper", vec![s("ßǅﬁİᾀ")]), "ßǄﬁİᾈ");
        assert_eq!(ok_str("lower", vec![s("İΣΑΣ ǅ")]), "iσασ ǆ");
        assert_eq!(
            ok_str("title", vec![s("hello wOrld_x-y ǆa ßa ﬁx ⅰx აბ")]),
            "Hello WOrld_x-Y ǅa ßa ﬁx Ⅰx აბ"
        );
        assert_eq!(ok_str("upper", vec![s("აბ")]), "\u{1c90}\u{1c91}");
    }

    #[test]
    fn simple_functions() {
        assert_eq!(ok_str("chomp", vec![s("a\n\r\n\r")]), "a");
        assert_eq!(ok_str("chomp", vec![s("a\n \n")]), "a\n ");
        // Strings are NFC-normalized, as in Terraform: "e\u{301}" becomes "é".
        assert_eq!(ok_str("strrev", vec![s("e\u{301}x🇬🇧")]), "🇬🇧x\u{e9}");
        assert_eq!(ok_str("trim", vec![s("xxaxx"), s("x")]), "a");
        assert_eq!(ok_str("trimspace", vec![s("\u{a0} a \u{3000}")]), "a");
        assert_eq!(ok_str("trimprefix", vec![s("abc"), s("ab")]), "c");
        assert_eq!(ok_str("trimsuffix", vec![s("abc"), s("x")]), "abc");
        assert_eq!(
            ok("startswith", vec![s("abc"), s("")]).as_bool(),
            Some(true)
        );
        assert_eq!(
            ok("endswith", vec![s("abc"), s("bc")]).as_bool(),
            Some(true)
        );
        assert_eq!(
            ok("strcontains", vec![s("abc"), s("d")]).as_bool(),
            Some(false)
        );
        assert_eq!(ok_str("indent", vec![n(2), s("a\nb\n")]), "a\n  b\n  ");
        assert!(err("indent", vec![n(-1), s("a\nb")]).contains("negative Repeat count"));
        assert!(err("indent", vec![num("1.5"), s("a")]).starts_with("value must be a whole number"));
    }

    #[test]
    fn join_and_split() {
        let l = |xs: &[&str]| Value::list(Type::String, xs.iter().map(|x| s(x)).collect());
        assert_eq!(
            ok_str("join", vec![s(","), l(&[]), l(&["a", "b"]), l(&["c"])]),
            "a,b,c"
        );
        assert_eq!(err("join", vec![s(",")]), "at least one list is required.");
        let with_null = Value::list(Type::String, vec![s("a"), Value::null(Type::String)]);
        assert_eq!(
            err("join", vec![s(","), with_null.clone()]),
            "Invalid value for \"lists\" parameter: element 1 is null; cannot concatenate null values."
        );
        assert_eq!(
            err("join", vec![s(","), l(&["a"]), with_null]),
            "Invalid value for \"lists\" parameter: element 1 of list 2 is null; cannot concatenate null values."
        );
        assert_eq!(
            strs(&ok("split", vec![s(""), s("abc")])),
            vec!["a", "b", "c"]
        );
        assert_eq!(ok("split", vec![s(""), s("")]).length(), Some(0));
        assert_eq!(strs(&ok("split", vec![s(","), s("")])), vec![""]);
    }

    #[test]
    fn regex_functions() {
        let v = ok("regex", vec![s("(?P<n>a)(?P<m>b)?"), s("a")]);
        assert_eq!(v.get_attr("n").and_then(Value::as_str), Some("a"));
        assert!(v.get_attr("m").expect("m").is_null());
        let v = ok("regex", vec![s("(a)(b)?"), s("a")]);
        assert_eq!(v.ty(), Type::tuple(vec![Type::String, Type::String]));
        assert_eq!(
            err("regex", vec![s("x"), s("a")]),
            "pattern did not match any part of the given string."
        );
        assert_eq!(
            err("regex", vec![s("(a"), s("a")]),
            "Invalid value for \"pattern\" parameter: invalid regexp pattern: missing closing ) in (a."
        );
        assert_eq!(
            err("regex", vec![s("(?P<n>a)(b)"), s("ab")]),
            "Invalid value for \"pattern\" parameter: invalid regexp pattern: cannot mix both named and unnamed capture groups."
        );
        let v = ok("regex", vec![s("(?P<n>a)(?P<n>b)"), s("ab")]);
        assert_eq!(v.get_attr("n").and_then(Value::as_str), Some("b"));
        let v = ok("regexall", vec![s("a*"), s("baaac")]);
        assert_eq!(strs(&v), vec!["", "aaa", ""]);
        let v = ok("regexall", vec![s("(a)|(b)"), s("ab")]);
        assert_eq!(v.length(), Some(2));
        let v = ok("regexall", vec![s("x"), s("ab")]);
        assert_eq!(v.ty(), Type::list(Type::String));
    }

    #[test]
    fn replace_cases() {
        let f = |a: &str, b: &str, c: &str| ok_str("replace", vec![s(a), s(b), s(c)]);
        assert_eq!(f("baaac", "/a*/", "X"), "XbXcX");
        assert_eq!(
            f("hello world", "/(?P<w>o)(\\w)/", "[$w$21$$ $1x]"),
            "hello w[o$ ]ld"
        );
        assert_eq!(
            f("hello world", "/(?P<w>o)(\\w)/", "[$w$2${1}$$ $1x]"),
            "hello w[oro$ ]ld"
        );
        assert_eq!(f("abc", "", "-"), "-a-b-c-");
        assert_eq!(f("a/b/", "/", "x"), "axbx");
        assert_eq!(f("abc", "//", "x"), "xaxbxcx");
        assert_eq!(f("aaa", "/a/", "$"), "$$$");
        assert_eq!(
            err("replace", vec![s("abc"), s("/(a/"), s("x")]),
            "error parsing regexp: missing closing ): `(a`."
        );
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"\n\u{1}é\u{2028}"), "\"a\\\"\\n\\x01é\\u2028\"");
        assert_eq!(go_quote_rune('\''), "'\\''");
    }
}
