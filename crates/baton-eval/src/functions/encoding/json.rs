//! JSON as Terraform reads and writes it: cty's `json.Marshal` (Go's `encoding/json` string
//! escaping, shortest full-precision numbers, sorted keys) and `jsondecode`'s reader, which
//! follows Go's `json.Decoder.Token` state machine so that error messages are Go's.
//!
//! The reader is iterative (no recursion), and bounds nesting depth.

use crate::number::Number;
use crate::value::{Kind, Value};
use std::collections::BTreeMap;

/// Appends `s` as a JSON string the way Go's `encoding/json` writes it (HTML-safe).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// cty's `json.Marshal` of a wholly known value (with its own type).
pub(crate) fn json_marshal(out: &mut String, v: &Value) -> Result<(), String> {
    match v.kind() {
        Kind::Null(_) => out.push_str("null"),
        Kind::Unknown(_) => return Err("value is not known".into()),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Number(n) => out.push_str(&n.to_string()),
        Kind::String(s) => json_string(out, s),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_marshal(out, x)?;
            }
            out.push(']');
        }
        Kind::Map(_, items) | Kind::Object(items) => {
            out.push('{');
            for (i, (k, x)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                json_marshal(out, x)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// The deepest nesting `jsondecode` accepts (Go has no limit on this path; this bounds
/// memory and recursion elsewhere).
const MAX_DEPTH: usize = 1000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    TopValue,
    ArrayStart,
    ArrayValue,
    ArrayComma,
    ObjectStart,
    ObjectKey,
    ObjectColon,
    ObjectValue,
    ObjectComma,
}

enum Token {
    Delim(u8),
    Key(String),
    Value(Value),
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
    state: Tok,
    stack: Vec<Tok>,
}

/// Go's `quoteChar`: a byte shown as a (Latin-1) character in single quotes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c => {
            let q = baton_core::gotext::quote(&char::from(c).to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {}{context}", quote_char(c))
}

const UNEXPECTED_EOF: &str = "unexpected EOF";

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Decoder<'a> {
    fn peek(&mut self) -> Option<u8> {
        while self.pos < self.b.len() && is_space(self.b[self.pos]) {
            self.pos += 1;
        }
        self.b.get(self.pos).copied()
    }

    fn value_allowed(&self) -> bool {
        matches!(
            self.state,
            Tok::TopValue | Tok::ArrayStart | Tok::ArrayValue | Tok::ObjectValue
        )
    }

    fn value_end(&mut self) {
        match self.state {
            Tok::ArrayStart | Tok::ArrayValue => self.state = Tok::ArrayComma,
            Tok::ObjectValue => self.state = Tok::ObjectComma,
            _ => {}
        }
    }

    fn token_error(&self, c: u8) -> String {
        let context = match self.state {
            Tok::TopValue | Tok::ArrayStart | Tok::ArrayValue | Tok::ObjectValue => {
                " looking for beginning of value"
            }
            Tok::ArrayComma => " after array element",
            Tok::ObjectKey => " looking for beginning of object key string",
            Tok::ObjectColon => " after object key",
            Tok::ObjectComma => " after object key:value pair",
            Tok::ObjectStart => "",
        };
        invalid(c, context)
    }

    fn pop(&mut self) {
        self.state = self.stack.pop().unwrap_or(Tok::TopValue);
    }

    /// Go's `Decoder.Token`.
    fn token(&mut self) -> Result<Token, String> {
        loop {
            let Some(c) = self.peek() else {
                return Err("EOF".into());
            };
            match c {
                b'[' | b'{' => {
                    if !self.value_allowed() {
                        return Err(self.token_error(c));
                    }
                    if self.stack.len() >= MAX_DEPTH {
                        return Err("exceeded max depth".into());
                    }
                    self.pos += 1;
                    self.stack.push(self.state);
                    self.state = if c == b'[' {
                        Tok::ArrayStart
                    } else {
                        Tok::ObjectStart
                    };
                    return Ok(Token::Delim(c));
                }
                b']' => {
                    if self.state != Tok::ArrayStart && self.state != Tok::ArrayComma {
                        return Err(self.token_error(c));
                    }
                    self.pos += 1;
                    self.pop();
                    self.value_end();
                    return Ok(Token::Delim(c));
                }
                b'}' => {
                    if self.state != Tok::ObjectStart && self.state != Tok::ObjectComma {
                        return Err(self.token_error(c));
                    }
                    self.pos += 1;
                    self.pop();
                    self.value_end();
                    return Ok(Token::Delim(c));
                }
                b':' => {
                    if self.state != Tok::ObjectColon {
                        return Err(self.token_error(c));
                    }
                    self.pos += 1;
                    self.state = Tok::ObjectValue;
                }
                b',' => {
                    if self.state == Tok::ArrayComma {
                        self.pos += 1;
                        self.state = Tok::ArrayValue;
                    } else if self.state == Tok::ObjectComma {
                        self.pos += 1;
                        self.state = Tok::ObjectKey;
                    } else {
                        return Err(self.token_error(c));
                    }
                }
                b'"' if matches!(self.state, Tok::ObjectStart | Tok::ObjectKey) => {
                    let s = self.read_string()?;
                    self.state = Tok::ObjectColon;
                    return Ok(Token::Key(s));
                }
                _ => {
                    if !self.value_allowed() {
                        return Err(self.token_error(c));
                    }
                    let v = self.read_scalar()?;
                    self.value_end();
                    return Ok(Token::Value(v));
                }
            }
        }
    }

    /// Go's `Decoder.More`.
    fn more(&mut self) -> bool {
        matches!(self.peek(), Some(c) if c != b']' && c != b'}')
    }

    fn read_scalar(&mut self) -> Result<Value, String> {
        let c = self.b[self.pos];
        match c {
            b'"' => self.read_string().map(Value::string),
            b'-' | b'0'..=b'9' => self.read_number(),
            b't' => self.read_literal(b"true", Value::bool(true)),
            b'f' => self.read_literal(b"false", Value::bool(false)),
            b'n' => self.read_literal(b"null", Value::dynamic_null()),
            _ => Err(invalid(c, " looking for beginning of value")),
        }
    }

    fn read_literal(&mut self, lit: &[u8], v: Value) -> Result<Value, String> {
        let name = String::from_utf8_lossy(lit).to_string();
        for (k, &want) in lit.iter().enumerate().skip(1) {
            match self.b.get(self.pos + k) {
                None => return Err(UNEXPECTED_EOF.into()),
                Some(&got) if got != want => {
                    return Err(invalid(
                        got,
                        &format!(" in literal {name} (expecting {})", quote_char(want)),
                    ))
                }
                _ => {}
            }
        }
        self.pos += lit.len();
        Ok(v)
    }

    fn read_number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let b = self.b;
        let mut i = self.pos;
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        if b[i] == b'-' {
            i += 1;
            match b.get(i) {
                None => return Err(UNEXPECTED_EOF.into()),
                Some(c) if !c.is_ascii_digit() => return Err(invalid(*c, " in numeric literal")),
                _ => {}
            }
        }
        if b[i] == b'0' {
            i += 1;
        } else {
            while digit(i) {
                i += 1;
            }
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            match b.get(i) {
                None => return Err(UNEXPECTED_EOF.into()),
                Some(c) if !c.is_ascii_digit() => {
                    return Err(invalid(*c, " after decimal point in numeric literal"))
                }
                _ => {}
            }
            while digit(i) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            match b.get(i) {
                None => return Err(UNEXPECTED_EOF.into()),
                Some(c) if !c.is_ascii_digit() => {
                    return Err(invalid(*c, " in exponent of numeric literal"))
                }
                _ => {}
            }
            while digit(i) {
                i += 1;
            }
        }
        self.pos = i;
        let text = std::str::from_utf8(&b[start..i]).map_err(|_| "invalid number".to_string())?;
        Number::parse(text)
            .map(Value::number)
            .ok_or_else(|| format!("cannot parse {text:?} as a number"))
    }

    fn read_string(&mut self) -> Result<String, String> {
        let b = self.b;
        let mut i = self.pos + 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = b.get(i) else {
                return Err(UNEXPECTED_EOF.into());
            };
            match c {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    let Some(&e) = b.get(i + 1) else {
                        return Err(UNEXPECTED_EOF.into());
                    };
                    i += 2;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let r = self.hex4(i)?;
                            i += 4;
                            let mut ch = char::from_u32(r);
                            if (0xD800..0xDC00).contains(&r) {
                                ch = Some('\u{FFFD}');
                                if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u') {
                                    if let Ok(r2) = self.hex4(i + 2) {
                                        if (0xDC00..0xE000).contains(&r2) {
                                            let c = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00);
                                            ch = char::from_u32(c);
                                            i += 6;
                                        }
                                    }
                                }
                            }
                            let ch = ch.unwrap_or('\u{FFFD}');
                            let mut tmp = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                        }
                        other => return Err(invalid(other, " in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(invalid(c, " in string literal")),
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    fn hex4(&self, i: usize) -> Result<u32, String> {
        let mut r = 0u32;
        for k in 0..4 {
            let Some(&c) = self.b.get(i + k) else {
                return Err(UNEXPECTED_EOF.into());
            };
            let d = char::from(c)
                .to_digit(16)
                .ok_or_else(|| invalid(c, " in \\u hexadecimal character escape"))?;
            r = r * 16 + d;
        }
        Ok(r)
    }
}

enum Frame {
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>, Option<String>),
}

/// `jsondecode`: objects become objects, arrays tuples, `null` a null of unknown type.
pub(crate) fn json_decode(src: &str) -> Result<Value, String> {
    let mut d = Decoder {
        b: src.as_bytes(),
        pos: 0,
        state: Tok::TopValue,
        stack: Vec::new(),
    };
    let mut frames: Vec<Frame> = Vec::new();
    let result = loop {
        let tok = d.token()?;
        let finished = match tok {
            Token::Delim(b'[') => {
                frames.push(Frame::Array(Vec::new()));
                None
            }
            Token::Delim(b'{') => {
                frames.push(Frame::Object(BTreeMap::new(), None));
                None
            }
            Token::Delim(_) => match frames.pop() {
                Some(Frame::Array(items)) => Some(Value::tuple(items)),
                Some(Frame::Object(attrs, _)) => Some(Value::object(attrs)),
                None => return Err("unexpected delimiter".into()),
            },
            Token::Key(k) => {
                if let Some(Frame::Object(_, key)) = frames.last_mut() {
                    *key = Some(k);
                }
                None
            }
            Token::Value(v) => Some(v),
        };
        if let Some(v) = finished {
            match frames.last_mut() {
                None => break v,
                Some(Frame::Array(items)) => items.push(v),
                Some(Frame::Object(attrs, key)) => {
                    if let Some(k) = key.take() {
                        attrs.insert(k, v);
                    }
                }
            }
        }
    };
    if d.more() {
        return Err("extraneous data after JSON object".into());
    }
    Ok(result)
}
