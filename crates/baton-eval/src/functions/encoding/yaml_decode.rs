//! `yamldecode`'s semantics: go-cty-yaml's conversion of YAML events into a value.
//!
//! go-cty-yaml reads the document twice: once for its type (`ImpliedType`), then for its
//! value (`Unmarshal`), which is finally converted to that type. The two readings differ in
//! places and the first error of the first reading wins, so both are kept here as two
//! passes over the events: [`Pass::Types`] reports the errors of the type analysis (a merge
//! of something other than a mapping; an untagged quoted or block scalar is a string there,
//! never an error), then [`Pass::Values`] builds the value (where a block scalar such as
//! `|-\n  yes` is resolved, then converted to the string `"true"`).
//!
//! Plain scalars are resolved with go-cty-yaml's rules, which are YAML 1.1's for booleans
//! (`y`, `yes`, `on`, `True`...) and nulls, YAML 1.2's for numbers (`0x`, `0o`, no `_`),
//! and timestamps as RFC 3339 strings. Keys are resolved the same way and converted to
//! strings; a later duplicate key wins; `<<` merges a mapping into the current one.
//!
//! `.inf` and `-.inf` are go-cty's infinities (`Number::cty_infinity`), as in Terraform.
//! This module must not recurse on the document: nesting is an explicit stack.

use super::go_b64_decode;
use super::go_quote;
use super::yaml_parse::{ErrorStage, EventKind, Mark, Parser, ScalarStyle, SyntaxError};
use crate::number::Number;
use crate::types::Type;
use crate::value::{Kind, Value};
use std::collections::{BTreeMap, HashMap};

const STR_TAG: &str = "tag:yaml.org,2002:str";
const BOOL_TAG: &str = "tag:yaml.org,2002:bool";
const INT_TAG: &str = "tag:yaml.org,2002:int";
const FLOAT_TAG: &str = "tag:yaml.org,2002:float";
const NULL_TAG: &str = "tag:yaml.org,2002:null";
const TIMESTAMP_TAG: &str = "tag:yaml.org,2002:timestamp";
const BINARY_TAG: &str = "tag:yaml.org,2002:binary";
const MAP_TAG: &str = "tag:yaml.org,2002:map";
const SEQ_TAG: &str = "tag:yaml.org,2002:seq";

/// Nesting deeper than this is refused (as `jsondecode` does), to keep every later
/// recursive walk over the value safe.
const MAX_DEPTH: usize = 1000;
/// How many nodes aliases may add in all, against documents that expand exponentially.
const MAX_ALIAS_EXPANSION: u64 = 10_000_000;

/// Decodes one YAML document; the error is go-cty-yaml's message, without a final period.
pub(super) fn decode(src: &str) -> Result<Value, String> {
    let src = if src.is_empty() { "\n" } else { src };
    Walker::new(src, Pass::Types).document()?;
    Walker::new(src, Pass::Values).document()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Types,
    Values,
}

/// A scalar resolved by go-cty-yaml's rules.
#[derive(Clone, Debug, PartialEq)]
enum Resolved {
    Str(String),
    Bool(bool),
    Num(Number),
    Null,
    /// The `<<` merge key.
    Merge,
}

/// go-cty-yaml's position prefix for an error found at an event.
fn at_event(mark: Mark, msg: impl Into<String>) -> String {
    let msg = msg.into();
    if mark.line == 0 {
        msg
    } else {
        format!("on line {}, column {}: {msg}", mark.line, mark.column + 1)
    }
}

/// go-cty-yaml's position prefix for a syntax error of the scanner or parser.
fn syntax_error(e: SyntaxError) -> String {
    if e.problem_mark.line != 0 {
        let (line, column) = if e.stage == ErrorStage::Scanner {
            (e.problem_mark.line + 1, 0)
        } else {
            (e.problem_mark.line, e.problem_mark.column)
        };
        format!("on line {line}, column {}: {}", column + 1, e.problem)
    } else if e.context_mark.line != 0 {
        format!(
            "on line {}, column {}: {}",
            e.context_mark.line,
            e.context_mark.column + 1,
            e.problem
        )
    } else {
        e.problem
    }
}

/// cty's friendly name for a value's type, as merge errors print it.
fn friendly_name(v: &Value) -> &'static str {
    let ty = match v.kind() {
        Kind::Null(t) | Kind::Unknown(t) => t.clone(),
        _ => v.ty(),
    };
    match ty {
        Type::String => "string",
        Type::Number => "number",
        Type::Bool => "bool",
        Type::Dynamic => "dynamic",
        _ => match v.kind() {
            Kind::Tuple(_) => "tuple",
            Kind::Object(_) => "object",
            Kind::List(..) => "list",
            Kind::Set(..) => "set",
            Kind::Map(..) => "map",
            _ => "value",
        },
    }
}

enum Pending {
    Key,
    Value(String),
    Merge(Mark),
}

enum Frame {
    Seq {
        anchor: String,
        items: Vec<Value>,
        size: u64,
    },
    Map {
        anchor: String,
        attrs: BTreeMap<String, Value>,
        size: u64,
        pending: Pending,
    },
}

struct Walker {
    parser: Parser,
    pass: Pass,
    anchors_pending: HashMap<String, usize>,
    anchor_vals: HashMap<String, (Value, u64)>,
    expanded: u64,
}

impl Walker {
    fn new(src: &str, pass: Pass) -> Walker {
        Walker {
            parser: Parser::new(src),
            pass,
            anchors_pending: HashMap::new(),
            anchor_vals: HashMap::new(),
            expanded: 0,
        }
    }

    fn next(&mut self) -> Result<super::yaml_parse::Event, String> {
        self.parser.next_event().map_err(syntax_error)
    }

    fn document(&mut self) -> Result<Value, String> {
        let e = self.next()?;
        if e.kind != EventKind::StreamStart {
            return Err(at_event(e.start, "missing stream start token"));
        }
        let e = self.next()?;
        if e.kind != EventKind::DocumentStart {
            return Err(at_event(e.start, "missing start of document"));
        }
        let v = self.node()?;
        let e = self.next()?;
        if e.kind == EventKind::DocumentStart {
            return Err(at_event(e.start, "only a single document is allowed"));
        }
        if e.kind != EventKind::DocumentEnd {
            return Err(at_event(
                e.start,
                format!(
                    "unexpected extra content ({}) after value",
                    e.kind.go_name()
                ),
            ));
        }
        let e = self.next()?;
        if e.kind != EventKind::StreamEnd {
            return Err(at_event(e.start, "unexpected extra content after value"));
        }
        Ok(v)
    }

    fn begin_anchor(&mut self, name: &str) {
        if !name.is_empty() {
            *self.anchors_pending.entry(name.to_string()).or_insert(0) += 1;
        }
    }

    fn complete_anchor(&mut self, name: &str, v: &Value, size: u64) {
        if name.is_empty() {
            return;
        }
        if let Some(n) = self.anchors_pending.get_mut(name) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.anchors_pending.remove(name);
            }
        }
        self.anchor_vals.insert(name.to_string(), (v.clone(), size));
    }

    /// Reads one node (from its first event to its last) and returns its value.
    fn node(&mut self) -> Result<Value, String> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let e = self.next()?;
            let wants_key = matches!(
                stack.last(),
                Some(Frame::Map {
                    pending: Pending::Key,
                    ..
                })
            );
            let done: (Value, u64) = if wants_key {
                match e.kind {
                    EventKind::MappingEnd => match stack.pop() {
                        Some(Frame::Map {
                            anchor,
                            attrs,
                            size,
                            ..
                        }) => {
                            let v = Value::object(attrs);
                            self.complete_anchor(&anchor, &v, size);
                            (v, size)
                        }
                        _ => return Err("unexpected end of mapping".into()),
                    },
                    EventKind::Scalar {
                        tag, value, style, ..
                    } => {
                        let pending = if tag.is_empty() && value == "<<" {
                            Pending::Merge(e.start)
                        } else {
                            match resolve(&tag, &value, style)? {
                                Resolved::Merge => Pending::Merge(e.start),
                                Resolved::Null => {
                                    return Err(at_event(e.start, "mapping key cannot be null"))
                                }
                                r => Pending::Value(key_string(r)),
                            }
                        };
                        if let Some(Frame::Map { pending: p, .. }) = stack.last_mut() {
                            *p = pending;
                        }
                        continue;
                    }
                    _ => {
                        return Err(at_event(
                            e.start,
                            "only strings are allowed as mapping keys",
                        ))
                    }
                }
            } else {
                match e.kind {
                    EventKind::Scalar {
                        anchor,
                        tag,
                        value,
                        implicit,
                        style,
                    } => {
                        self.begin_anchor(&anchor);
                        let v = self
                            .scalar(&tag, value, implicit, style)
                            .map_err(|m| at_event(e.start, m))?;
                        self.complete_anchor(&anchor, &v, 1);
                        (v, 1)
                    }
                    EventKind::Alias { anchor } => {
                        if self.anchors_pending.contains_key(&anchor) {
                            return Err(at_event(
                                e.start,
                                format!(
                                    "cannot refer to anchor {} from inside its own definition",
                                    go_quote(&anchor)
                                ),
                            ));
                        }
                        let Some((v, size)) = self.anchor_vals.get(&anchor).cloned() else {
                            return Err(at_event(
                                e.start,
                                format!("reference to undefined anchor {}", go_quote(&anchor)),
                            ));
                        };
                        self.expanded = self.expanded.saturating_add(size);
                        if self.expanded > MAX_ALIAS_EXPANSION {
                            return Err("document contains excessive aliasing".into());
                        }
                        (v, size)
                    }
                    EventKind::MappingStart { anchor, tag } => {
                        if !tag.is_empty() && tag != MAP_TAG {
                            return Err(at_event(
                                e.start,
                                format!("can't interpret mapping as {tag}"),
                            ));
                        }
                        if stack.len() >= MAX_DEPTH {
                            return Err(at_event(e.start, "exceeded max depth"));
                        }
                        self.begin_anchor(&anchor);
                        stack.push(Frame::Map {
                            anchor,
                            attrs: BTreeMap::new(),
                            size: 1,
                            pending: Pending::Key,
                        });
                        continue;
                    }
                    EventKind::SequenceStart { anchor, tag } => {
                        if !tag.is_empty() && tag != SEQ_TAG {
                            return Err(at_event(
                                e.start,
                                format!("can't interpret sequence as {tag}"),
                            ));
                        }
                        if stack.len() >= MAX_DEPTH {
                            return Err(at_event(e.start, "exceeded max depth"));
                        }
                        self.begin_anchor(&anchor);
                        stack.push(Frame::Seq {
                            anchor,
                            items: Vec::new(),
                            size: 1,
                        });
                        continue;
                    }
                    EventKind::SequenceEnd if matches!(stack.last(), Some(Frame::Seq { .. })) => {
                        match stack.pop() {
                            Some(Frame::Seq {
                                anchor,
                                items,
                                size,
                            }) => {
                                let v = Value::tuple(items);
                                self.complete_anchor(&anchor, &v, size);
                                (v, size)
                            }
                            _ => return Err("unexpected end of sequence".into()),
                        }
                    }
                    EventKind::DocumentStart => {
                        return Err(at_event(e.start, "only a single document is allowed"))
                    }
                    EventKind::StreamEnd => {
                        return Err(at_event(e.start, "expecting value but found end of stream"))
                    }
                    EventKind::MappingEnd => {
                        return Err(at_event(
                            e.start,
                            "expecting value but found end of mapping",
                        ))
                    }
                    EventKind::SequenceEnd => {
                        return Err(at_event(
                            e.start,
                            "expecting value but found end of sequence",
                        ))
                    }
                    k => {
                        return Err(at_event(
                            e.start,
                            format!("unexpected parser event {}", k.go_name()),
                        ))
                    }
                }
            };
            let (v, size) = done;
            match stack.last_mut() {
                None => return Ok(v),
                Some(Frame::Seq { items, size: s, .. }) => {
                    items.push(v);
                    *s = s.saturating_add(size);
                }
                Some(Frame::Map {
                    attrs,
                    size: s,
                    pending,
                    ..
                }) => {
                    *s = s.saturating_add(size);
                    match std::mem::replace(pending, Pending::Key) {
                        Pending::Value(k) => {
                            attrs.insert(k, v);
                        }
                        Pending::Merge(mark) => merge_into(attrs, &v, mark)?,
                        Pending::Key => return Err("unexpected mapping value".into()),
                    }
                }
            }
        }
    }

    /// A scalar's value in this pass; the error gets its position from the caller.
    fn scalar(
        &self,
        tag: &str,
        value: String,
        implicit: bool,
        style: ScalarStyle,
    ) -> Result<Value, String> {
        // An untagged quoted or block scalar is a string in the type analysis.
        let string_typed = tag.is_empty() && !implicit;
        if self.pass == Pass::Types {
            if string_typed {
                return Ok(Value::string(value));
            }
            return Ok(match resolve(tag, &value, style)? {
                Resolved::Str(s) => Value::string(s),
                Resolved::Bool(b) => Value::bool(b),
                Resolved::Num(n) => Value::number(n),
                Resolved::Null => Value::dynamic_null(),
                Resolved::Merge => Value::string("<<"),
            });
        }
        let r = resolve(tag, &value, style)?;
        if string_typed {
            return Ok(match r {
                Resolved::Null => Value::null(Type::String),
                r => Value::string(key_string(r)),
            });
        }
        Ok(match r {
            Resolved::Str(s) => Value::string(s),
            Resolved::Bool(b) => Value::bool(b),
            Resolved::Num(n) => Value::number(n),
            Resolved::Null => Value::dynamic_null(),
            Resolved::Merge => Value::string("<<"),
        })
    }
}

/// Merges a `<<` value into a mapping under construction: a later key wins.
fn merge_into(attrs: &mut BTreeMap<String, Value>, v: &Value, mark: Mark) -> Result<(), String> {
    match v.kind() {
        Kind::Object(m) => {
            for (k, x) in m.iter() {
                attrs.insert(k.clone(), x.clone());
            }
            Ok(())
        }
        _ => Err(at_event(
            mark,
            format!("cannot merge {} into mapping", friendly_name(v)),
        )),
    }
}

/// A resolved scalar converted to a string, as cty converts a key (or a block scalar).
fn key_string(r: Resolved) -> String {
    match r {
        Resolved::Str(s) => s,
        Resolved::Bool(b) => b.to_string(),
        Resolved::Num(n) => n.to_string(),
        Resolved::Null => String::new(),
        Resolved::Merge => "<<".into(),
    }
}

fn resolvable(tag: &str) -> bool {
    matches!(
        tag,
        "" | STR_TAG | BOOL_TAG | INT_TAG | FLOAT_TAG | NULL_TAG | TIMESTAMP_TAG | BINARY_TAG
    )
}

/// The values YAML 1.1 spells with words (and the empty plain scalar, null).
fn resolve_map(src: &str) -> Option<Resolved> {
    Some(match src {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Resolved::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        // go-cty's own `cty.PositiveInfinity` and `cty.NegativeInfinity`.
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            Resolved::Num(Number::cty_infinity(false))
        }
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Num(Number::cty_infinity(true)),
        _ => return None,
    })
}

/// The first character's hint of what a plain scalar may be (0: only a string).
fn hint(src: &str) -> u8 {
    match src.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    }
}

/// go-cty-yaml's `resolveScalar`.
fn resolve(tag: &str, src: &str, style: ScalarStyle) -> Result<Resolved, String> {
    if !resolvable(tag) {
        return Err(format!("unsupported tag {}", go_quote(tag)));
    }
    let mut tag = tag;
    let h = hint(src);
    if h != 0 && tag != STR_TAG && tag != BINARY_TAG {
        if matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) {
            return Ok(Resolved::Str(src.to_string()));
        }
        if let Some(r) = resolve_map(src) {
            return Ok(r);
        }
        if tag.is_empty() && matches!(src, ".nan" | ".NaN" | ".NAN") {
            return Err("floating point NaN is not supported".into());
        }
        match h {
            b'.' => {
                if let Some(r) = parse_float(src) {
                    return Ok(r);
                }
            }
            b'D' | b'S' => {
                if tag.is_empty() || tag == TIMESTAMP_TAG {
                    if let Some(t) = parse_timestamp(src) {
                        return Ok(Resolved::Str(t));
                    }
                }
                if is_int_literal(src) {
                    tag = INT_TAG;
                } else if is_float_literal(src) {
                    tag = FLOAT_TAG;
                }
            }
            _ => {}
        }
    }
    if tag.is_empty() && src == "<<" {
        return Ok(Resolved::Merge);
    }
    let cannot = |tag: &str| format!("cannot parse {} as {tag}", go_quote(src));
    match tag {
        STR_TAG => Ok(Resolved::Str(src.to_string())),
        BINARY_TAG => {
            if go_b64_decode(src.as_bytes()).is_err() {
                return Err(format!("{}: not valid base64", cannot(tag)));
            }
            Ok(Resolved::Str(src.to_string()))
        }
        BOOL_TAG => match resolve_map(src) {
            Some(Resolved::Bool(b)) => Ok(Resolved::Bool(b)),
            _ => Err(cannot(tag)),
        },
        INT_TAG | FLOAT_TAG => {
            let plain: String = src.chars().filter(|&c| c != '_').collect();
            if let Some(r) = parse_float(&plain) {
                return Ok(r);
            }
            if let Some(i) = go_parse_int(&plain, true).and_then(|v| i64::try_from(v).ok()) {
                return Ok(Resolved::Num(Number::from_i64(i)));
            }
            if let Some(u) = go_parse_int(&plain, false).and_then(|v| u64::try_from(v).ok()) {
                return Ok(Resolved::Num(Number::from_u64(u)));
            }
            Err(cannot(tag))
        }
        TIMESTAMP_TAG => parse_timestamp(src)
            .map(Resolved::Str)
            .ok_or_else(|| cannot(tag)),
        NULL_TAG => Ok(Resolved::Null),
        "" => Ok(Resolved::Str(src.to_string())),
        _ => Err(format!("unsupported tag {}", go_quote(tag))),
    }
}

/// `cty.ParseNumberVal` (`big.ParseFloat` in base 10, `Inf` included).
fn parse_float(s: &str) -> Option<Resolved> {
    Number::parse(s).map(Resolved::Num)
}

/// Go's `strconv.ParseInt(s, 0, 64)` (`signed`) or `ParseUint(s, 0, 64)` magnitude check:
/// the value as an `i128`, before the range check of the caller.
fn go_parse_int(s: &str, signed: bool) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') if signed => (false, &s[1..]),
        Some(b'-') if signed => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        v = v
            .checked_mul(i128::from(radix))?
            .checked_add(i128::from(d))?;
        if v > i128::from(u64::MAX) + 1 {
            return None;
        }
    }
    Some(if neg { -v } else { v })
}

/// YAML 1.2's integer forms, as go-cty-yaml recognizes them in plain scalars.
fn is_int_literal(s: &str) -> bool {
    let digits_in = |d: &str, f: fn(&char) -> bool| !d.is_empty() && d.chars().all(|c| f(&c));
    if let Some(d) = s.strip_prefix("0o") {
        return digits_in(d, |c| ('0'..='7').contains(c));
    }
    if let Some(d) = s.strip_prefix("0x") {
        return digits_in(d, char::is_ascii_hexdigit);
    }
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    digits_in(d, char::is_ascii_digit)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_float_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-cty-yaml's timestamps: Go's `time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), `2006-1-2 15:4:5.999999999` and
/// `2006-1-2`, formatted as RFC 3339 (whole seconds).
fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // Quick check: all the formats start with YYYY-.
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut i = 0usize;
    let num = |i: &mut usize, fixed: bool| -> Option<u32> {
        let d0 = b.get(*i).filter(|c| c.is_ascii_digit())?;
        let mut v = u32::from(d0 - b'0');
        *i += 1;
        match b.get(*i).filter(|c| c.is_ascii_digit()) {
            Some(d1) => {
                v = v * 10 + u32::from(d1 - b'0');
                *i += 1;
            }
            None if fixed => return None,
            None => {}
        }
        Some(v)
    };
    let lit = |i: &mut usize, c: u8| -> Option<()> { (b.get(*i) == Some(&c)).then(|| *i += 1) };
    let year: u32 = s.get(..4)?.parse().ok()?;
    i += 4;
    lit(&mut i, b'-')?;
    let month = num(&mut i, false)?;
    lit(&mut i, b'-')?;
    let day = num(&mut i, false)?;
    let (mut hour, mut minute, mut second, mut offset) = (0, 0, 0, 0i64);
    if i < b.len() {
        let sep = b[i];
        if !matches!(sep, b'T' | b't' | b' ') {
            return None;
        }
        i += 1;
        hour = num(&mut i, false)?;
        lit(&mut i, b':')?;
        minute = num(&mut i, false)?;
        lit(&mut i, b':')?;
        second = num(&mut i, false)?;
        if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if sep != b' ' {
            if b.get(i) == Some(&b'Z') {
                i += 1;
            } else {
                let sign = *b.get(i)?;
                if b.len() < i + 6 || b[i + 3] != b':' {
                    return None;
                }
                i += 1;
                let hh = i64::from(num(&mut i, true)?);
                lit(&mut i, b':')?;
                let mm = i64::from(num(&mut i, true)?);
                if hh > 24 || mm > 60 {
                    return None;
                }
                offset = (hh * 60 + mm) * 60;
                match sign {
                    b'+' => {}
                    b'-' => offset = -offset,
                    _ => return None,
                }
            }
        }
        if hour >= 24 || minute >= 60 || second >= 60 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days {
        return None;
    }
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let m = offset.abs() / 60;
        let sign = if offset < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", m / 60, m % 60)
    };
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{zone}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: &Value) -> String {
        v.as_number().map(ToString::to_string).unwrap_or_default()
    }

    #[test]
    fn timestamps_follow_go() {
        let t = |s: &str| parse_timestamp(s);
        assert_eq!(
            t("2001-12-14t21:59:43.10-05:00").as_deref(),
            Some("2001-12-14T21:59:43-05:00")
        );
        assert_eq!(t("2002-12-14").as_deref(), Some("2002-12-14T00:00:00Z"));
        assert_eq!(
            t("2001-12-15 2:59:43.10").as_deref(),
            Some("2001-12-15T02:59:43Z")
        );
        assert_eq!(t("2024-1-2").as_deref(), Some("2024-01-02T00:00:00Z"));
        assert_eq!(
            t("2024-01-02T10:00:00+00:00").as_deref(),
            Some("2024-01-02T10:00:00Z")
        );
        assert_eq!(
            t("2024-01-02T10:00:00+00:60").as_deref(),
            Some("2024-01-02T10:00:00+01:00")
        );
        assert_eq!(t("0000-01-01").as_deref(), Some("0000-01-01T00:00:00Z"));
        for bad in [
            "2001-12-14 21:59:43.10 -5",
            "2024-02-30",
            "2023-02-29",
            "2024-01-02T25:00:00Z",
            "2024-01-02T10:00Z",
            "2024-01-02T10:00:00+0530",
            "2024-01-02T10:00:00z",
            "2024-01-02T10:00:60Z",
            "2024-01-02x",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn number_literals() {
        for (s, int) in [("12", true), ("+12", true), ("0o17", true), ("0x1F", true)] {
            assert_eq!(is_int_literal(s), int, "{s}");
        }
        for s in ["0x", "0o", "+0x1F", "0X1F", "0O17", "1_0", "-0o17"] {
            assert!(!is_int_literal(s), "{s}");
        }
        for s in ["1.", ".5", "-.5", "1e3", "1E-3", "0.1e1"] {
            assert!(is_float_literal(s), "{s}");
        }
        for s in ["1e", "1.0e+", ".", "1e3.5", "1.5p3"] {
            assert!(!is_float_literal(s), "{s}");
        }
        assert_eq!(
            go_parse_int("-0x8000000000000000", true),
            Some(-(1i128 << 63))
        );
        assert_eq!(go_parse_int("0b101", true), Some(5));
        assert_eq!(go_parse_int("0x", true), None);
        assert_eq!(go_parse_int("+5", false), None);
    }

    #[test]
    fn resolution() {
        let r = |s: &str| resolve("", s, ScalarStyle::Plain);
        assert_eq!(r("yes"), Ok(Resolved::Bool(true)));
        assert_eq!(r("yEs"), Ok(Resolved::Str("yEs".into())));
        assert_eq!(
            r("0o17").ok().and_then(|x| match x {
                Resolved::Num(n) => Some(n.to_string()),
                _ => None,
            }),
            Some("15".into())
        );
        assert_eq!(r("-.Inf"), Ok(Resolved::Num(Number::cty_infinity(true))));
        assert_eq!(
            resolve(FLOAT_TAG, "+Inf", ScalarStyle::Plain),
            Ok(Resolved::Num(Number::infinity(false)))
        );
        assert_eq!(r(".iNf"), Ok(Resolved::Str(".iNf".into())));
        assert!(r("0x1ffffffffffffffff").is_err());
        assert_eq!(
            resolve("", "yes", ScalarStyle::DoubleQuoted),
            Ok(Resolved::Str("yes".into()))
        );
        assert_eq!(
            resolve(NULL_TAG, "x", ScalarStyle::DoubleQuoted),
            Ok(Resolved::Null)
        );
        assert_eq!(resolve(INT_TAG, "", ScalarStyle::Plain), Ok(Resolved::Null));
    }

    #[test]
    fn block_scalars_resolve_then_become_strings() {
        let v = decode("a: |-\n  yes\nb: >-\n  123\nd: |-\n  ~\n").expect("decodes");
        assert_eq!(v.get_attr("a").and_then(Value::as_str), Some("true"));
        assert_eq!(v.get_attr("b").and_then(Value::as_str), Some("123"));
        let d = v.get_attr("d").expect("d");
        assert!(d.is_null());
        assert_eq!(d.ty(), Type::String);
        assert_eq!(num(&decode("0x0A74AE").expect("hex")), "685230");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let src = "[".repeat(5000);
        assert_eq!(decode(&src), Err("exceeded max depth".into()));
        let ok = format!("{}{}", "[".repeat(900), "]".repeat(900));
        assert!(decode(&ok).is_ok());
    }
}
