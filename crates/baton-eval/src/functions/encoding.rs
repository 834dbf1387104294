//! The encoding functions of Terraform's library: base64 (with Go's decoder, its newline
//! skipping and error offsets), `base64gzip`, `csvdecode` (Go's `encoding/csv` rules),
//! `jsonencode`/`jsondecode` (see `json`), `textencodebase64`/`textdecodebase64` for the
//! encodings Baton knows, `urlencode` (Go's `url.QueryEscape`) and `yamlencode` (see
//! `yaml_emit`) / `yamldecode` (go-cty-yaml's rules in `yaml_decode`, over libyaml's scanner
//! and parser in `yaml_parse`).
//!
//! Implementations receive known, unmarked, already-converted arguments (see the call
//! machinery in `functions/mod.rs`), except `base64decode`, which sees marks so that its
//! error message can hide a sensitive input. They must never log argument values.

mod json;
mod yaml_decode;
mod yaml_emit;
mod yaml_parse;

pub(crate) use json::{json_marshal, json_string};

use super::util::{str_arg, string};
use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::types::Type;
use crate::value::Value;
use baton_core::gotext::quote as go_quote;
use std::collections::BTreeMap;

pub(super) fn register(r: &mut Registry) {
    let s = |n: &'static str| Param::new(n, Type::String);
    let str_fn =
        |name, p: &'static str, imp| Function::new(name, vec![s(p)], Ret::Fixed(Type::String), imp);
    r.add(Function::new(
        "base64decode",
        vec![s("str").marked().unknowns()],
        Ret::Fixed(Type::String),
        base64decode,
    ));
    r.add(str_fn("base64encode", "str", base64encode));
    r.add(str_fn("base64gzip", "str", base64gzip));
    r.add(str_fn("urlencode", "str", urlencode));
    r.add(Function::new(
        "csvdecode",
        vec![s("str")],
        Ret::Dynamic,
        csvdecode,
    ));
    r.add(Function::new(
        "jsondecode",
        vec![s("str")],
        Ret::Dynamic,
        jsondecode,
    ));
    r.add(Function::new(
        "jsonencode",
        vec![Param::new("val", Type::Dynamic).nullable()],
        Ret::Fixed(Type::String),
        jsonencode,
    ));
    r.add(Function::new(
        "yamldecode",
        vec![s("src")],
        Ret::Dynamic,
        yamldecode,
    ));
    r.add(Function::new(
        "yamlencode",
        vec![Param::new("value", Type::Dynamic).nullable()],
        Ret::Fixed(Type::String),
        yamlencode,
    ));
    r.add(Function::new(
        "textencodebase64",
        vec![s("string"), s("encoding")],
        Ret::Fixed(Type::String),
        textencodebase64,
    ));
    r.add(Function::new(
        "textdecodebase64",
        vec![s("source"), s("encoding")],
        Ret::Fixed(Type::String),
        textdecodebase64,
    ));
}

// ----- base64 -----

fn b64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Go's `base64.StdEncoding.DecodeString`: skips `\r` and `\n`, requires padding, and on
/// failure gives the offset of the offending byte (`CorruptInputError`).
fn go_b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0usize;
    while si < src.len() {
        let mut dbuf = [0u32; 4];
        let mut dlen = 4usize;
        let mut j = 0usize;
        let mut trailing_err: Option<usize> = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_value(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3];
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(e) = trailing_err {
            return Err(e);
        }
        if dlen < 4 {
            break;
        }
    }
    Ok(out)
}

fn base64decode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let arg = args
        .first()
        .cloned()
        .ok_or_else(|| FnError::new("missing argument"))?;
    let (v, sensitive) = arg.unmark();
    if !v.is_known() {
        return Ok(Value::unknown(Type::String).with_sensitive(sensitive));
    }
    let s = v.as_str().unwrap_or_default();
    let decoded = go_b64_decode(s.as_bytes()).map_err(|_| {
        let shown = if sensitive {
            "(sensitive value)".to_string()
        } else {
            go_quote(s)
        };
        FnError::new(format!("failed to decode base64 data {shown}."))
    })?;
    let text = String::from_utf8(decoded).map_err(|_| {
        FnError::new("the result of decoding the provided string is not valid UTF-8.")
    })?;
    Ok(Value::string(text).with_sensitive(sensitive))
}

fn base64encode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    string(b64_encode(str_arg(args, 0)?.as_bytes()))
}

/// gzip framing as Go's `compress/gzip` writes it (no name, zero time, OS 255), a sync
/// flush, then an empty final block. The deflate data itself is flate2's, not Go's.
fn base64gzip(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    let data = str_arg(args, 0)?.as_bytes();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut c = Compress::new(Compression::new(6), false);
    let mut body = Vec::with_capacity(data.len() / 2 + 64);
    let mut input = data;
    loop {
        body.reserve(4096);
        let before_in = c.total_in();
        c.compress_vec(input, &mut body, FlushCompress::Sync)
            .map_err(|e| FnError::new(format!("failed to write gzip raw data: {e}.")))?;
        let consumed = usize::try_from(c.total_in() - before_in).unwrap_or(input.len());
        input = &input[consumed.min(input.len())..];
        if input.is_empty() && body.capacity() > body.len() {
            break;
        }
    }
    out.extend_from_slice(&body);
    out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    string(b64_encode(&out))
}

/// Go's `url.QueryEscape`.
fn urlencode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let s = str_arg(args, 0)?;
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    string(out)
}

// ----- text encodings -----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Utf16Bom,
    Utf16Be,
    Utf16Le,
    Ascii,
    Latin1,
    Windows1252,
}

/// IANA names and aliases (case-insensitive), and each encoding's IANA name.
fn lookup_encoding(name: &str) -> Option<(Enc, &'static str)> {
    let n = name.to_ascii_lowercase();
    let e = match n.as_str() {
        "utf-8" | "csutf8" => (Enc::Utf8, "UTF-8"),
        "utf-16" | "csutf16" => (Enc::Utf16Bom, "UTF-16"),
        "utf-16be" | "csutf16be" => (Enc::Utf16Be, "UTF-16BE"),
        "utf-16le" | "csutf16le" => (Enc::Utf16Le, "UTF-16LE"),
        "us-ascii" | "iso-ir-6" | "ansi_x3.4-1968" | "ansi_x3.4-1986" | "iso_646.irv:1991"
        | "iso646-us" | "us" | "ibm367" | "cp367" | "csascii" => (Enc::Ascii, "US-ASCII"),
        "iso_8859-1:1987" | "iso-ir-100" | "iso_8859-1" | "iso-8859-1" | "latin1" | "l1"
        | "ibm819" | "cp819" | "csisolatin1" => (Enc::Latin1, "ISO_8859-1:1987"),
        "windows-1252" | "cswindows1252" => (Enc::Windows1252, "windows-1252"),
        _ => return None,
    };
    Some(e)
}

const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

fn encode_text(s: &str, enc: Enc) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 2);
    match enc {
        Enc::Utf8 => out.extend_from_slice(s.as_bytes()),
        Enc::Utf16Bom | Enc::Utf16Be | Enc::Utf16Le => {
            if enc == Enc::Utf16Bom {
                out.extend_from_slice(&[0xFE, 0xFF]);
            }
            for u in s.encode_utf16() {
                let b = if enc == Enc::Utf16Le {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
        }
        Enc::Ascii | Enc::Latin1 | Enc::Windows1252 => {
            for c in s.chars() {
                let u = c as u32;
                let b = match enc {
                    Enc::Ascii if u < 0x80 => u as u8,
                    Enc::Latin1 if u < 0x100 => u as u8,
                    Enc::Windows1252 if u < 0x80 || (0xA0..0x100).contains(&u) => u as u8,
                    Enc::Windows1252 => {
                        let i = CP1252_HIGH
                            .iter()
                            .position(|&x| x != 0 && u32::from(x) == u)?;
                        0x80 + i as u8
                    }
                    _ => return None,
                };
                out.push(b);
            }
        }
    }
    Some(out)
}

fn decode_text(b: &[u8], enc: Enc) -> String {
    match enc {
        Enc::Utf8 => String::from_utf8_lossy(b).into_owned(),
        Enc::Utf16Bom | Enc::Utf16Be | Enc::Utf16Le => {
            let mut bytes = b;
            let mut le = enc == Enc::Utf16Le;
            if enc == Enc::Utf16Bom && bytes.len() >= 2 {
                if bytes[0] == 0xFF && bytes[1] == 0xFE {
                    le = true;
                    bytes = &bytes[2..];
                } else if bytes[0] == 0xFE && bytes[1] == 0xFF {
                    bytes = &bytes[2..];
                }
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| {
                    if le {
                        u16::from_le_bytes([p[0], p[1]])
                    } else {
                        u16::from_be_bytes([p[0], p[1]])
                    }
                })
                .collect();
            let mut s: String = char::decode_utf16(units)
                .map(|r| r.unwrap_or('\u{FFFD}'))
                .collect();
            if bytes.len() % 2 == 1 {
                s.push('\u{FFFD}');
            }
            s
        }
        Enc::Ascii => b
            .iter()
            .map(|&x| if x < 0x80 { char::from(x) } else { '\u{FFFD}' })
            .collect(),
        Enc::Latin1 => b.iter().map(|&x| char::from(x)).collect(),
        Enc::Windows1252 => b
            .iter()
            .map(|&x| {
                if (0x80..0xA0).contains(&x) {
                    match CP1252_HIGH[usize::from(x - 0x80)] {
                        0 => '\u{FFFD}',
                        u => char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}'),
                    }
                } else {
                    char::from(x)
                }
            })
            .collect(),
    }
}

fn encoding_arg(args: &[Value]) -> Result<(Enc, &'static str), FnError> {
    let name = str_arg(args, 1)?;
    lookup_encoding(name).ok_or_else(|| {
        FnError::arg(
            1,
            format!(
                "Invalid value for \"encoding\" parameter: {} is not a supported IANA encoding name or alias in this Terraform version.",
                go_quote(name)
            ),
        )
    })
}

fn textencodebase64(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (enc, name) = encoding_arg(args)?;
    let bytes = encode_text(str_arg(args, 0)?, enc).ok_or_else(|| {
        FnError::arg(
            0,
            format!("Invalid value for \"string\" parameter: the given string contains characters that cannot be represented in {name}."),
        )
    })?;
    string(b64_encode(&bytes))
}

fn textdecodebase64(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (enc, name) = encoding_arg(args)?;
    let bytes = go_b64_decode(str_arg(args, 0)?.as_bytes()).map_err(|off| {
        FnError::arg(
            0,
            format!("Invalid value for \"source\" parameter: the given value is has an invalid base64 symbol at offset {off}."),
        )
    })?;
    let s = decode_text(&bytes, enc);
    if s.contains('\u{FFFD}') {
        return Err(FnError::arg(
            0,
            format!("Invalid value for \"source\" parameter: the given string contains symbols that are not defined for {name}."),
        ));
    }
    string(s)
}

// ----- CSV -----

struct CsvError {
    line: usize,
    msg: &'static str,
}

const ERR_BARE_QUOTE: &str = "bare \" in non-quoted-field";
const ERR_QUOTE: &str = "extraneous or missing \" in quoted-field";
const ERR_FIELD_COUNT: &str = "wrong number of fields";

/// Go's `encoding/csv` reader with its default settings.
struct CsvReader<'a> {
    rest: &'a [u8],
    num_line: usize,
    fields_per_record: usize,
}

impl<'a> CsvReader<'a> {
    /// Reads one line, normalizing a final `\r\n` to `\n` (and dropping a `\r` before EOF).
    fn read_line(&mut self) -> Option<Vec<u8>> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(self.rest.len());
        let mut line = self.rest[..end].to_vec();
        self.rest = &self.rest[end..];
        if self.rest.is_empty() && !line.ends_with(b"\n") && line.ends_with(b"\r") {
            line.pop();
        }
        self.num_line += 1;
        let n = line.len();
        if n >= 2 && line[n - 2] == b'\r' && line[n - 1] == b'\n' {
            line.truncate(n - 2);
            line.push(b'\n');
        }
        Some(line)
    }

    fn read_record(&mut self) -> Result<Option<Vec<String>>, CsvError> {
        let mut line = loop {
            match self.read_line() {
                None => return Ok(None),
                Some(l) if l == b"\n" => continue,
                Some(l) => break l,
            }
        };
        let rec_line = self.num_line;
        let mut fields: Vec<Vec<u8>> = Vec::new();
        let mut pos_line = self.num_line;
        let length_nl = |b: &[u8]| usize::from(b.last() == Some(&b'\n'));
        'parse: loop {
            if line.first() != Some(&b'"') {
                let i = line.iter().position(|&b| b == b',');
                let field = match i {
                    Some(i) => &line[..i],
                    None => &line[..line.len() - length_nl(&line)],
                };
                if field.contains(&b'"') {
                    return Err(CsvError {
                        line: self.num_line,
                        msg: ERR_BARE_QUOTE,
                    });
                }
                fields.push(field.to_vec());
                match i {
                    Some(i) => {
                        line = line[i + 1..].to_vec();
                        continue 'parse;
                    }
                    None => break 'parse,
                }
            }
            // Quoted field.
            let mut field: Vec<u8> = Vec::new();
            line = line[1..].to_vec();
            loop {
                if let Some(i) = line.iter().position(|&b| b == b'"') {
                    field.extend_from_slice(&line[..i]);
                    line = line[i + 1..].to_vec();
                    match line.first() {
                        Some(b'"') => {
                            field.push(b'"');
                            line = line[1..].to_vec();
                        }
                        Some(b',') => {
                            line = line[1..].to_vec();
                            fields.push(field);
                            continue 'parse;
                        }
                        _ if length_nl(&line) == line.len() => {
                            fields.push(field);
                            break 'parse;
                        }
                        _ => {
                            return Err(CsvError {
                                line: self.num_line,
                                msg: ERR_QUOTE,
                            })
                        }
                    }
                } else if !line.is_empty() {
                    field.extend_from_slice(&line);
                    match self.read_line() {
                        Some(l) => {
                            pos_line += 1;
                            line = l;
                        }
                        None => line = Vec::new(),
                    }
                } else {
                    return Err(CsvError {
                        line: pos_line,
                        msg: ERR_QUOTE,
                    });
                }
            }
        }
        let record: Vec<String> = fields
            .into_iter()
            .map(|f| String::from_utf8_lossy(&f).into_owned())
            .collect();
        if self.fields_per_record > 0 {
            if record.len() != self.fields_per_record {
                return Err(CsvError {
                    line: rec_line,
                    msg: ERR_FIELD_COUNT,
                });
            }
        } else {
            self.fields_per_record = record.len();
        }
        Ok(Some(record))
    }
}

fn csv_error(e: CsvError) -> FnError {
    FnError::new(format!("CSV parse error on line {}: {}.", e.line, e.msg))
}

fn csvdecode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let mut r = CsvReader {
        rest: str_arg(args, 0)?.as_bytes(),
        num_line: 0,
        fields_per_record: 0,
    };
    let headers = r
        .read_record()
        .map_err(csv_error)?
        .ok_or_else(|| FnError::new("missing header line."))?;
    let mut seen = std::collections::BTreeSet::new();
    for h in &headers {
        if !seen.insert(h.clone()) {
            return Err(FnError::new(format!(
                "duplicate column name {}.",
                go_quote(h)
            )));
        }
    }
    let ety = Type::object(headers.iter().map(|h| (h.clone(), Type::String)).collect());
    let mut rows = Vec::new();
    while let Some(cols) = r.read_record().map_err(csv_error)? {
        let attrs: BTreeMap<String, Value> = headers
            .iter()
            .cloned()
            .zip(cols.into_iter().map(Value::string))
            .collect();
        rows.push(Value::object(attrs));
    }
    Ok(Value::list(ety, rows))
}

// ----- JSON -----

fn jsonencode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let v = args
        .first()
        .ok_or_else(|| FnError::new("missing argument"))?;
    if v.contains_infinity() {
        return Err(FnError::new("cannot serialize infinity as JSON."));
    }
    let mut out = String::new();
    json_marshal(&mut out, v).map_err(|e| FnError::new(format!("{e}.")))?;
    string(out)
}

fn jsondecode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    json::json_decode(str_arg(args, 0)?).map_err(|e| FnError::new(format!("{e}.")))
}

// ----- YAML -----

fn yamlencode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let v = args
        .first()
        .ok_or_else(|| FnError::new("missing argument"))?;
    yaml_emit::encode(v)
        .map(Value::string)
        .map_err(|e| FnError::new(format!("{e}.")))
}

fn yamldecode(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    yaml_decode::decode(str_arg(args, 0)?).map_err(|e| FnError::new(format!("{e}.")))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;
    use crate::number::Number;

    fn s(x: &str) -> Value {
        Value::string(x)
    }
    fn ok_str(name: &str, args: Vec<Value>) -> String {
        call_fn(name, args)
            .expect("call succeeds")
            .as_str()
            .expect("string")
            .to_string()
    }
    fn err(name: &str, args: Vec<Value>) -> String {
        call_fn(name, args).expect_err("call fails").message
    }
    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn base64_functions() {
        assert_eq!(ok_str("base64encode", vec![s("hé")]), "aMOp");
        assert_eq!(ok_str("base64decode", vec![s("aGk=\n")]), "hi");
        assert_eq!(
            err("base64decode", vec![s("aGk")]),
            "failed to decode base64 data \"aGk\"."
        );
        assert_eq!(
            err("base64decode", vec![s("x").mark_sensitive()]),
            "failed to decode base64 data (sensitive value)."
        );
        assert_eq!(
            err("base64decode", vec![s("/w==")]),
            "the result of decoding the provided string is not valid UTF-8."
        );
        let v = call_fn("base64decode", vec![s("aGk=").mark_sensitive()]).expect("ok");
        assert!(v.is_sensitive());
        assert_eq!(go_b64_decode(b"a!=="), Err(1));
        assert_eq!(go_b64_decode(b"aGk"), Err(0));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let out = ok_str("base64gzip", vec![s("test")]);
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(out.as_bytes())
            .expect("base64");
        assert_eq!(&raw[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut d = flate2::read::GzDecoder::new(&raw[..]);
        let mut text = String::new();
        d.read_to_string(&mut text).expect("gunzip");
        assert_eq!(text, "test");
        assert_eq!(
            ok_str("base64gzip", vec![s("")]),
            "H4sIAAAAAAAA/wAAAP//AQAA//8AAAAAAAAAAA=="
        );
    }

    #[test]
    fn urlencode_cases() {
        assert_eq!(
            ok_str("urlencode", vec![s("a b&c=d/é~*!")]),
            "a+b%26c%3Dd%2F%C3%A9~%2A%21"
        );
        assert_eq!(ok_str("urlencode", vec![s("")]), "");
        assert_eq!(ok_str("urlencode", vec![s("A-z_0.9")]), "A-z_0.9");
    }

    #[test]
    fn text_encodings() {
        let e = |t: &str, enc: &str| ok_str("textencodebase64", vec![s(t), s(enc)]);
        assert_eq!(e("hi€", "UTF-16"), "/v8AaABpIKw=");
        assert_eq!(e("hi", "utf-16le"), "aABpAA==");
        assert_eq!(e("hi", "UTF-16BE"), "AGgAaQ==");
        assert_eq!(e("hié", "latin1"), "aGnp");
        assert_eq!(e("hi€", "windows-1252"), "aGmA");
        assert_eq!(e("😀", "UTF-16LE"), "PdgA3g==");
        assert_eq!(
            err("textencodebase64", vec![s("hi€"), s("latin1")]),
            "Invalid value for \"string\" parameter: the given string contains characters that cannot be represented in ISO_8859-1:1987."
        );
        assert_eq!(
            err("textencodebase64", vec![s("hi"), s("UTF-32")]),
            "Invalid value for \"encoding\" parameter: \"UTF-32\" is not a supported IANA encoding name or alias in this Terraform version."
        );
        let d = |t: &str, enc: &str| ok_str("textdecodebase64", vec![s(t), s(enc)]);
        assert_eq!(d("aABpAA==", "UTF-16LE"), "hi");
        assert_eq!(d("//5oAGkA", "UTF-16"), "hi");
        assert_eq!(d("gA==", "windows-1252"), "€");
        assert_eq!(d("6Q==", "ISO-8859-1"), "é");
        assert_eq!(
            err("textdecodebase64", vec![s("gQ=="), s("windows-1252")]),
            "Invalid value for \"source\" parameter: the given string contains symbols that are not defined for windows-1252."
        );
        assert_eq!(
            err("textdecodebase64", vec![s("aGk"), s("UTF-8")]),
            "Invalid value for \"source\" parameter: the given value is has an invalid base64 symbol at offset 0."
        );
    }

    #[test]
    fn csv_cases() {
        let v = call_fn("csvdecode", vec![s("a,b\n1,2\n3,4")]).expect("ok");
        assert_eq!(v.length(), Some(2));
        assert_eq!(
            v.as_seq().expect("seq")[1]
                .get_attr("b")
                .and_then(Value::as_str),
            Some("4")
        );
        let v = call_fn("csvdecode", vec![s("a,\"b\nc\"\n1,\"x\"\"y\"\n")]).expect("ok");
        assert_eq!(
            v.as_seq().expect("seq")[0]
                .get_attr("b\nc")
                .and_then(Value::as_str),
            Some("x\"y")
        );
        let v = call_fn("csvdecode", vec![s("a,b")]).expect("ok");
        assert_eq!(v.length(), Some(0));
        assert_eq!(
            v.ty(),
            Type::list(Type::object(
                [
                    ("a".to_string(), Type::String),
                    ("b".to_string(), Type::String)
                ]
                .into_iter()
                .collect()
            ))
        );
        let v = call_fn("csvdecode", vec![s("a,b\r\n1,2\r\n\n3,4")]).expect("ok");
        assert_eq!(v.length(), Some(2));
        assert_eq!(
            err("csvdecode", vec![s("a,b\n1,2,3")]),
            "CSV parse error on line 2: wrong number of fields."
        );
        assert_eq!(err("csvdecode", vec![s("")]), "missing header line.");
        assert_eq!(
            err("csvdecode", vec![s("a,a\n1,2")]),
            "duplicate column name \"a\"."
        );
        assert_eq!(
            err("csvdecode", vec![s("a\n\"x")]),
            "CSV parse error on line 2: extraneous or missing \" in quoted-field."
        );
        assert_eq!(
            err("csvdecode", vec![s("a\nx\"y")]),
            "CSV parse error on line 2: bare \" in non-quoted-field."
        );
    }

    #[test]
    fn jsonencode_cases() {
        let v = obj(&[
            ("b", Value::int(2)),
            (
                "a",
                Value::tuple(vec![Value::bool(true), Value::null(Type::String)]),
            ),
            ("s", s("<>&\u{2028}\u{8}\u{c}\u{1}é")),
        ]);
        assert_eq!(
            ok_str("jsonencode", vec![v]),
            "{\"a\":[true,null],\"b\":2,\"s\":\"\\u003c\\u003e\\u0026\\u2028\\b\\f\\u0001é\"}"
        );
        assert_eq!(ok_str("jsonencode", vec![Value::dynamic_null()]), "null");
        let n = Value::number(Number::parse("1e30").expect("n"));
        assert_eq!(
            ok_str("jsonencode", vec![n]),
            "1000000000000000000000000000000"
        );
        let v = call_fn(
            "jsonencode",
            vec![Value::tuple(vec![Value::unknown(Type::String)])],
        )
        .expect("ok");
        assert!(!v.is_known());
    }

    #[test]
    fn jsondecode_cases() {
        let v = call_fn("jsondecode", vec![s("{\"a\":1,\"a\":[2,\"x\",null]}")]).expect("ok");
        let a = v.get_attr("a").expect("a");
        assert_eq!(a.length(), Some(3));
        assert!(matches!(a.ty(), Type::Tuple(_)));
        let e = |x: &str| err("jsondecode", vec![s(x)]);
        assert_eq!(e(""), "EOF.");
        assert_eq!(
            e("x"),
            "invalid character 'x' looking for beginning of value."
        );
        assert_eq!(e("{"), "EOF.");
        assert_eq!(
            e("[1,]"),
            "invalid character ']' looking for beginning of value."
        );
        assert_eq!(e("1 2"), "extraneous data after JSON object.");
        assert_eq!(
            e("é"),
            "invalid character 'Ã' looking for beginning of value."
        );
        assert_eq!(e("tru"), "unexpected EOF.");
        assert_eq!(
            e("trux"),
            "invalid character 'x' in literal true (expecting 'e')."
        );
        assert_eq!(e("\"\\q\""), "invalid character 'q' in string escape code.");
        assert_eq!(e("{1:2}"), "invalid character '1'.");
        assert_eq!(e("[1 2]"), "invalid character '2' after array element.");
        assert_eq!(e("{\"a\" 1}"), "invalid character '1' after object key.");
        assert_eq!(
            e("{\"a\":1 \"b\":2}"),
            "invalid character '\"' after object key:value pair."
        );
        assert_eq!(e("01"), "extraneous data after JSON object.");
        assert_eq!(e("-"), "unexpected EOF.");
        assert_eq!(e("[01]"), "invalid character '1' after array element.");
        let v = call_fn("jsondecode", vec![s("\"\\ud800x\"")]).expect("ok");
        assert_eq!(v.as_str(), Some("\u{FFFD}x"));
        let v = call_fn("jsondecode", vec![s("\"\\ud83d\\ude00\"")]).expect("ok");
        assert_eq!(v.as_str(), Some("😀"));
        let deep = "[".repeat(5000);
        assert_eq!(e(&deep), "exceeded max depth.");
    }

    #[test]
    fn yamlencode_cases() {
        let y = |v: Value| ok_str("yamlencode", vec![v]);
        assert_eq!(
            y(obj(&[
                ("a", Value::int(1)),
                ("b", Value::tuple(vec![s("x")]))
            ])),
            "\"a\": 1\n\"b\":\n- \"x\"\n"
        );
        assert_eq!(y(s("a\nb")), "|-\n  a\n  b\n");
        assert_eq!(y(s("a\nb\n")), "|\n  a\n  b\n");
        assert_eq!(y(s("a\nb\n\n")), "|+\n  a\n  b\n\n");
        assert_eq!(y(s(" a\nb")), "|2-\n   a\n  b\n");
        assert_eq!(y(obj(&[("a\nb", Value::int(1))])), "? |-\n  a\n  b\n: 1\n");
        assert_eq!(y(Value::empty_tuple()), "[]\n");
        assert_eq!(y(Value::empty_object()), "{}\n");
        assert_eq!(y(Value::dynamic_null()), "null\n...\n");
        assert_eq!(
            y(Value::tuple(vec![
                Value::tuple(vec![Value::int(1), Value::int(2)]),
                obj(&[("a", Value::empty_tuple())])
            ])),
            "- - 1\n  - 2\n- \"a\": []\n"
        );
        assert_eq!(
            y(s("é\u{1}\t\u{a0}\u{2028}\u{feff}")),
            "\"é\\x01\\t\u{a0}\\L\\uFEFF\"\n"
        );
        let long = vec!["word"; 30].join(" ");
        assert_eq!(
            y(s(&long)),
            "\"word word word word word word word word word word word word word word word word word\n  word word word word word word word word word word word word word\"\n"
        );
        assert_eq!(
            y(obj(&[("x", obj(&[("y", obj(&[("z", Value::int(1))]))]))])),
            "\"x\":\n  \"y\":\n    \"z\": 1\n"
        );
        assert_eq!(y(Value::bool(true)), "true\n...\n");
        assert_eq!(y(s("a\nb ")), "\"a\\nb \"\n");
        assert_eq!(
            y(Value::tuple(vec![s("a\nb"), obj(&[("k", s("l1\nl2"))])])),
            "- |-\n  a\n  b\n- \"k\": |-\n    l1\n    l2\n"
        );
    }

    #[test]
    fn yamlencode_terraform_fixtures() {
        let y = |v: Value| ok_str("yamlencode", vec![v]);
        let key = "k".repeat(130);
        assert_eq!(
            y(obj(&[(key.as_str(), Value::int(1))])),
            format!("? \"{key}\"\n: 1\n")
        );
        let items = [
            "a \nb",
            "x\ty\nz",
            "line1\n  indented\n",
            "\nlead",
            "trail\n\n\n",
            "c:\\\\path",
            "-1",
            "",
            " ",
            "#x",
            "🙂",
            "a\u{85}b\nc",
        ];
        assert_eq!(
            y(Value::tuple(items.iter().map(|x| s(x)).collect())),
            "- \"a \\nb\"\n- \"x\\ty\\nz\"\n- |\n  line1\n    indented\n- |2-\n\n  lead\n- |+\n  trail\n\n\n- \"c:\\\\\\\\path\"\n- \"-1\"\n- \"\"\n- \" \"\n- \"#x\"\n- \"\\U0001F642\"\n- \"a\\Nb\\nc\"\n"
        );
        let n = |x: &str| Value::number(Number::parse(x).expect("n"));
        assert_eq!(
            y(Value::tuple(vec![
                n("1e30"),
                n("-1.5"),
                n("0.1"),
                obj(&[("a b", Value::empty_object())]),
                Value::tuple(vec![Value::empty_tuple()]),
                Value::tuple(vec![Value::empty_object()]),
            ])),
            "- 1000000000000000000000000000000\n- -1.5\n- 0.1\n- \"a b\": {}\n- - []\n- - {}\n"
        );
        let ab = vec!["ab"; 40].join(" ");
        assert_eq!(
            y(obj(&[("a", s(&ab))])),
            "\"a\": \"ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n  ab ab ab ab ab ab ab ab ab ab ab ab ab ab\"\n"
        );
        assert_eq!(
            y(Value::tuple(vec![s(&ab)])),
            "- \"ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n  ab ab ab ab ab ab ab ab ab ab ab ab ab\"\n"
        );
        let ab2 = format!("long {}", vec!["ab"; 40].join("  "));
        assert_eq!(
            y(s(&ab2)),
            "\"long ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab\n  \\ ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab  ab\"\n"
        );
        assert_eq!(
            y(obj(&[(
                "a",
                obj(&[(
                    "b",
                    Value::tuple(vec![obj(&[
                        ("c", Value::int(1)),
                        ("d", Value::tuple(vec![Value::int(2)]))
                    ])])
                )])
            )])),
            "\"a\":\n  \"b\":\n  - \"c\": 1\n    \"d\":\n    - 2\n"
        );
    }

    #[test]
    fn yamldecode_cases() {
        let v = call_fn(
            "yamldecode",
            vec![s("a: 1\nb: [x, \"y\"]\ng: ~\nh: 0x1F\ni: 1.10\nk:\n")],
        )
        .expect("ok");
        assert_eq!(
            v.get_attr("a")
                .and_then(Value::as_number)
                .map(ToString::to_string),
            Some("1".into())
        );
        assert_eq!(
            v.get_attr("b").map(Value::ty),
            Some(Type::tuple(vec![Type::String, Type::String]))
        );
        assert!(v.get_attr("g").expect("g").is_null());
        assert_eq!(
            v.get_attr("h")
                .and_then(Value::as_number)
                .map(ToString::to_string),
            Some("31".into())
        );
        assert_eq!(
            v.get_attr("i")
                .and_then(Value::as_number)
                .map(ToString::to_string),
            Some("1.1".into())
        );
        let v = call_fn("yamldecode", vec![s("a: &x 1\nb: *x\n<<: {c: 2}")]).expect("ok");
        assert_eq!(v.length(), Some(3));
        assert!(
            err("yamldecode", vec![s("---\na: 1\n---\nb: 2")]).contains("unexpected extra content")
        );
        assert_eq!(
            err("yamldecode", vec![s("")]),
            "on line 1, column 1: missing start of document."
        );
        assert_eq!(
            err("yamldecode", vec![s("a: .nan")]),
            "floating point NaN is not supported."
        );
        assert_eq!(
            err("yamldecode", vec![s("!foo 1")]),
            "unsupported tag \"!foo\"."
        );
    }

    /// Expectations recorded from Terraform 1.11 (`yamldecode` then `jsonencode`, or the
    /// error message).
    #[test]
    fn yamldecode_matches_terraform() {
        let json = |src: &str| {
            let v = call_fn("yamldecode", vec![s(src)]).expect("decodes");
            let mut out = String::new();
            json_marshal(&mut out, &v).expect("json");
            out
        };
        assert_eq!(
            json("[y, Y, yes, Yes, YES, n, NO, on, On, ON, off, OFF, true, True, TRUE, yEs, tRUE, oN]"),
            "[true,true,true,true,true,false,false,true,true,true,false,false,true,true,true,\"yEs\",\"tRUE\",\"oN\"]"
        );
        assert_eq!(
            json("[\"yes\", 'no', !!str yes, !!bool yes, ~, null, Null, NULL, nUll, \"\"]"),
            "[\"yes\",\"no\",\"yes\",true,null,null,null,null,\"nUll\",\"\"]"
        );
        assert_eq!(
            json("[.5, -.5, +12, -0, 0x1F, 0o17, 017, 0b101, 1_000, 0x_1F, 1., 02472256, -0x1F, 1e, 0.]"),
            "[0.5,-0.5,12,-0,31,15,17,\"0b101\",\"1_000\",\"0x_1F\",1,2472256,\"-0x1F\",\"1e\",0]"
        );
        assert_eq!(
            json("[2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5, 2002-12-14, \"2024-01-02\", 2024-02-30]"),
            "[\"2001-12-14T21:59:43-05:00\",\"2001-12-14 21:59:43.10 -5\",\"2002-12-14T00:00:00Z\",\"2024-01-02\",\"2024-02-30\"]"
        );
        assert_eq!(
            json("[!!int 0b101, !!int 1_000, !!int -0x1F, !!int \"12\", !!null x, !!int 0xFFFFFFFFFFFFFFFF]"),
            "[5,1000,-31,\"12\",null,18446744073709551615]"
        );
        assert_eq!(
            json("base: &b {a: 1, b: 2}\nx:\n  b: 0\n  <<: *b\n  c: 4\ny:\n  \"<<\": {q: 1}\n"),
            // The key `y` is the boolean true, as a string.
            "{\"base\":{\"a\":1,\"b\":2},\"true\":{\"q\":1},\"x\":{\"a\":1,\"b\":2,\"c\":4}}"
        );
        assert_eq!(
            json("{1: a, true: b, 1.50: c, 0x10: d, 2024-01-02: e, yes: f}"),
            "{\"1\":\"a\",\"1.5\":\"c\",\"16\":\"d\",\"2024-01-02T00:00:00Z\":\"e\",\"true\":\"f\"}"
        );
        assert_eq!(
            json("a: |-\n  yes\nb: >-\n  123\nc: |-\n  .inf\n"),
            "{\"a\":\"true\",\"b\":\"123\",\"c\":\"+Inf\"}"
        );
        let inf = call_fn("yamldecode", vec![s("[.inf, -.Inf]")]).expect("decodes");
        let nums: Vec<String> = inf
            .as_seq()
            .expect("tuple")
            .iter()
            .filter_map(Value::as_number)
            .map(ToString::to_string)
            .collect();
        assert_eq!(nums, ["+Inf", "-Inf"]);
        let e = |src: &str| err("yamldecode", vec![s(src)]);
        assert_eq!(
            e("a: 1\nb: [1"),
            "on line 2, column 1: did not find expected ',' or ']'."
        );
        assert_eq!(
            e("a: b: c"),
            "mapping values are not allowed in this context."
        );
        assert_eq!(
            e("a: 1\n  b: 2"),
            "on line 2, column 1: mapping values are not allowed in this context."
        );
        assert_eq!(
            e("a: 1\nb: .nan"),
            "on line 1, column 4: floating point NaN is not supported."
        );
        assert_eq!(
            e("a: 1\nb"),
            "on line 3, column 1: could not find expected ':'."
        );
        assert_eq!(
            e("a: 1\n\tb: 2"),
            "on line 2, column 1: found a tab character that violates indentation."
        );
        assert_eq!(
            e("a: &x [*x]"),
            "cannot refer to anchor \"x\" from inside its own definition."
        );
        assert_eq!(
            e("a: 1\nb: *x"),
            "on line 1, column 4: reference to undefined anchor \"x\"."
        );
        assert_eq!(
            e("a: 1\n<<: [1]"),
            "on line 1, column 1: cannot merge tuple into mapping."
        );
        assert_eq!(
            e("a: 1\n~: 1"),
            "on line 1, column 1: mapping key cannot be null."
        );
        assert_eq!(
            e("a: 1\n[1]: 2"),
            "on line 1, column 1: only strings are allowed as mapping keys."
        );
        assert_eq!(e("!!int x"), "cannot parse \"x\" as tag:yaml.org,2002:int.");
        assert_eq!(
            e("!!seq {a: 1}"),
            "can't interpret mapping as tag:yaml.org,2002:seq."
        );
        assert_eq!(
            e("x\n---\ny"),
            "on line 1, column 1: unexpected extra content after value."
        );
        assert_eq!(
            e("%YAML 1.2\n---\na: 1"),
            "found incompatible YAML document."
        );
        assert_eq!(e("a: \"\\/\""), "found unknown escape character.");
        assert_eq!(e("a: \u{1}"), "control characters are not allowed.");
        assert_eq!(
            e("- ? \na\n  : b"),
            "on line 3, column 1: could not find expected ':'."
        );
    }
}
