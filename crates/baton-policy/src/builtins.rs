//! Built-in functions Baton adds to regorus (as engine extensions) so that policies written
//! for OPA run unchanged: `sprintf` with Go's `fmt` (regorus's own ignores flags and widths),
//! `crypto.md5`/`sha1`/`sha256` and `crypto.hmac.*`, `io.jwt.decode`, `urlquery.*`
//! (regorus's need a URL library far larger than these four functions), and `yaml.marshal`
//! (regorus's serializes numbers through `serde_json`, whose `arbitrary_precision` feature —
//! enabled in this workspace — turns each into a `$serde_json::private::Number` map),
//! `net.cidr_intersects` (regorus lacks it), `json.match_schema` (regorus returns `null`
//! instead of OPA's empty error list on a match, and a string instead of error objects), and
//! the built-ins OPA deprecated but still runs for policies in the older syntax (`any`, `all`,
//! `re_match`, `set_diff`, `net.cidr_overlap`, `cast_*`), which older libraries call.
//!
//! Also `net.cidr_merge`, `net.cidr_contains_matches`, `regex.globs_match`,
//! `strings.render_template` (field references only) and `io.jwt.decode_verify` (HMAC
//! algorithms only), which regorus lacks.
//!
//! Each follows OPA's semantics, including its default for errors: a call whose arguments are
//! of the wrong type or cannot be decoded is *undefined*, never a failure of the evaluation.
//! Nothing here reads the network, the environment or files; only `io.jwt.decode_verify`
//! reads the clock (for `exp`/`nbf` when the constraints give no `time`), as OPA's does.

use crate::gofmt::{sprintf, Arg};
use regorus::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A hash function: its digest of some bytes.
type Hash = fn(&[u8]) -> Vec<u8>;

/// A built-in over its arguments (as many as its table entry says); `None` is undefined.
type Builtin = fn(&[Value]) -> Option<Value>;

/// Every extension: its name, its number of arguments and what it computes.
const EXTENSIONS: &[(&str, u8, Builtin)] = &[
    ("yaml.marshal", 1, |a| yaml_marshal(&a[0])),
    ("crypto.md5", 1, |a| hash_hex(&a[0], md5)),
    ("crypto.sha1", 1, |a| hash_hex(&a[0], sha1)),
    ("crypto.sha256", 1, |a| hash_hex(&a[0], sha256)),
    ("io.jwt.decode", 1, |a| jwt_decode(&a[0])),
    ("urlquery.encode", 1, |a| {
        Some(Value::from(query_escape(a[0].as_string().ok()?)))
    }),
    ("urlquery.decode", 1, |a| {
        query_unescape(a[0].as_string().ok()?).map(Value::from)
    }),
    ("urlquery.encode_object", 1, |a| {
        urlquery_encode_object(&a[0])
    }),
    ("urlquery.decode_object", 1, |a| {
        urlquery_decode_object(&a[0])
    }),
    ("any", 1, |a| all_or_any(&a[0], false)),
    ("all", 1, |a| all_or_any(&a[0], true)),
    ("cast_array", 1, |a| cast_array(&a[0])),
    ("cast_set", 1, |a| cast_set(&a[0])),
    ("cast_string", 1, |a| {
        matches!(a[0], Value::String(_)).then(|| a[0].clone())
    }),
    ("cast_boolean", 1, |a| {
        matches!(a[0], Value::Bool(_)).then(|| a[0].clone())
    }),
    ("cast_null", 1, |a| {
        matches!(a[0], Value::Null).then(|| a[0].clone())
    }),
    ("cast_object", 1, |a| {
        matches!(a[0], Value::Object(_)).then(|| a[0].clone())
    }),
    ("sprintf", 2, |a| sprintf_value(&a[0], &a[1])),
    ("crypto.hmac.md5", 2, |a| hmac_hex(&a[0], &a[1], 64, md5)),
    ("crypto.hmac.sha1", 2, |a| hmac_hex(&a[0], &a[1], 64, sha1)),
    ("crypto.hmac.sha256", 2, |a| {
        hmac_hex(&a[0], &a[1], 64, sha256)
    }),
    ("crypto.hmac.sha512", 2, |a| {
        hmac_hex(&a[0], &a[1], 128, sha512)
    }),
    ("crypto.hmac.equal", 2, |a| hmac_equal(&a[0], &a[1])),
    ("net.cidr_intersects", 2, |a| {
        let (x, y) = (cidr(a[0].as_string().ok()?)?, cidr(a[1].as_string().ok()?)?);
        Some(Value::from(x.intersects(&y)))
    }),
    ("net.cidr_overlap", 2, |a| {
        let (x, y) = (
            cidr(a[0].as_string().ok()?)?,
            cidr_or_ip(a[1].as_string().ok()?)?,
        );
        Some(Value::from(x.contains(&y)))
    }),
    ("re_match", 2, |a| {
        let re = regex::Regex::new(a[0].as_string().ok()?).ok()?;
        Some(Value::from(re.is_match(a[1].as_string().ok()?)))
    }),
    ("set_diff", 2, |a| {
        let (x, y) = (a[0].as_set().ok()?, a[1].as_set().ok()?);
        Some(x.difference(y).into_value())
    }),
    ("json.match_schema", 2, |a| json_match_schema(&a[0], &a[1])),
    ("net.cidr_merge", 1, |a| cidr_merge(&a[0])),
    ("net.cidr_contains_matches", 2, |a| {
        cidr_contains_matches(&a[0], &a[1])
    }),
    ("regex.globs_match", 2, |a| {
        let (x, y) = (
            glob_tokens(a[0].as_string().ok()?)?,
            glob_tokens(a[1].as_string().ok()?)?,
        );
        Some(Value::from(globs_intersect(&x, &y)))
    }),
    ("strings.render_template", 2, |a| {
        render_template(&a[0], &a[1])
    }),
    ("io.jwt.decode_verify", 2, |a| {
        jwt_decode_verify(&a[0], &a[1])
    }),
];

/// Registers every extension on a fresh engine.
pub(crate) fn register(engine: &mut regorus::Engine) -> Result<(), String> {
    for &(name, nargs, f) in EXTENSIONS {
        add(engine, name, nargs, f)?;
    }
    Ok(())
}

/// The number of arguments of a Baton extension (`None` for any other name).
pub(crate) fn arity(name: &str) -> Option<usize> {
    EXTENSIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, nargs, _)| usize::from(*nargs))
}

/// Adds one extension; `None` from `f` is an undefined result.
fn add(
    engine: &mut regorus::Engine,
    name: &str,
    nargs: u8,
    f: impl Fn(&[Value]) -> Option<Value> + Clone + Send + Sync + 'static,
) -> Result<(), String> {
    engine
        .add_extension(
            name.to_string(),
            nargs,
            Box::new(move |args: Vec<Value>| Ok(f(&args).unwrap_or(Value::Undefined))),
        )
        .map_err(|e| format!("cannot add the built-in {name}: {e}"))
}

/// OPA's `yaml.marshal(x)`: the value as a YAML document.
fn yaml_marshal(v: &Value) -> Option<Value> {
    serde_yaml::to_string(&to_yaml(v)?).ok().map(Value::from)
}

fn to_yaml(v: &Value) -> Option<serde_yaml::Value> {
    use serde_yaml::Value as Y;
    Some(match v {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => {
            let text = n.format_decimal();
            if let Ok(i) = text.parse::<i64>() {
                Y::Number(i.into())
            } else if let Ok(u) = text.parse::<u64>() {
                Y::Number(u.into())
            } else {
                Y::Number(text.parse::<f64>().ok()?.into())
            }
        }
        Value::String(s) => Y::String(s.to_string()),
        Value::Array(items) => Y::Sequence(items.iter().map(to_yaml).collect::<Option<_>>()?),
        Value::Set(items) => Y::Sequence(items.iter().map(to_yaml).collect::<Option<_>>()?),
        Value::Object(fields) => {
            let mut m = serde_yaml::Mapping::new();
            for (k, x) in fields.iter() {
                m.insert(to_yaml(k)?, to_yaml(x)?);
            }
            Y::Mapping(m)
        }
        Value::Undefined => return None,
    })
}

/// OPA's `sprintf(format, values)`.
fn sprintf_value(format: &Value, values: &Value) -> Option<Value> {
    let format = format.as_string().ok()?;
    let args: Vec<Arg> = values
        .as_array()
        .ok()?
        .iter()
        .map(Arg::from_value)
        .collect();
    Some(Value::from(sprintf(format, &args)))
}

fn md5(data: &[u8]) -> Vec<u8> {
    use md5::Digest as _;
    md5::Md5::digest(data).to_vec()
}

fn sha1(data: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(data).to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).to_vec()
}

fn sha384(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha384::digest(data).to_vec()
}

fn sha512(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha512::digest(data).to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_hex(v: &Value, h: fn(&[u8]) -> Vec<u8>) -> Option<Value> {
    Some(Value::from(hex(&h(v.as_string().ok()?.as_bytes()))))
}

/// HMAC (RFC 2104) over a hash with the given block size.
fn hmac(key: &[u8], msg: &[u8], block: usize, h: fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut k = if key.len() > block {
        h(key)
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(msg);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&h(&inner));
    h(&outer)
}

fn hmac_hex(x: &Value, key: &Value, block: usize, h: fn(&[u8]) -> Vec<u8>) -> Option<Value> {
    let x = x.as_string().ok()?;
    let key = key.as_string().ok()?;
    Some(Value::from(hex(&hmac(
        key.as_bytes(),
        x.as_bytes(),
        block,
        h,
    ))))
}

/// `crypto.hmac.equal`: compares in time independent of where the MACs differ.
fn hmac_equal(a: &Value, b: &Value) -> Option<Value> {
    let (a, b) = (
        a.as_string().ok()?.as_bytes(),
        b.as_string().ok()?.as_bytes(),
    );
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    Some(Value::from(same))
}

/// `io.jwt.decode(token)`: `[header, payload, signature]` — the header and payload decoded
/// from base64url JSON, the signature as hex. Signatures are not verified (as in OPA).
fn jwt_decode(token: &Value) -> Option<Value> {
    use base64::Engine as _;
    let token = token.as_string().ok()?;
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode =
        |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='));
    let object = |s: &str| -> Option<Value> {
        let bytes = decode(s).ok()?;
        let v = Value::from_json_str(std::str::from_utf8(&bytes).ok()?).ok()?;
        matches!(v, Value::Object(_)).then_some(v)
    };
    let header = object(header)?;
    let payload = object(payload)?;
    let signature = hex(&decode(signature).ok()?);
    Some(Value::from(vec![header, payload, Value::from(signature)]))
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.QueryUnescape`; `None` for a bad `%` escape (or bytes that are not UTF-8).
fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = char::from(*b.get(i + 1)?).to_digit(16)?;
                let lo = char::from(*b.get(i + 2)?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `urlquery.encode_object({"a": "1", "b": ["2", "3"]})` is `a=1&b=2&b=3`: keys sorted,
/// values strings or arrays or sets of strings.
fn urlquery_encode_object(obj: &Value) -> Option<Value> {
    let Value::Object(map) = obj else {
        return None;
    };
    let mut pairs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in map.iter() {
        let key = k.as_string().ok()?.to_string();
        let values: Vec<String> = match v {
            Value::String(s) => vec![s.to_string()],
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_string().ok().map(|s| s.to_string()))
                .collect::<Option<_>>()?,
            Value::Set(items) => items
                .iter()
                .map(|i| i.as_string().ok().map(|s| s.to_string()))
                .collect::<Option<_>>()?,
            _ => return None,
        };
        pairs.entry(key).or_default().extend(values);
    }
    let mut out = Vec::new();
    for (k, vs) in &pairs {
        for v in vs {
            out.push(format!("{}={}", query_escape(k), query_escape(v)));
        }
    }
    Some(Value::from(out.join("&")))
}

/// Go's `url.ParseQuery` as an object of arrays: `a=1&b=2&b=3` is
/// `{"a": ["1"], "b": ["2", "3"]}`. A `;` or a bad escape makes it undefined.
fn urlquery_decode_object(s: &Value) -> Option<Value> {
    let s = s.as_string().ok()?;
    let mut map: BTreeMap<Value, Vec<Value>> = BTreeMap::new();
    for part in s.split('&').filter(|p| !p.is_empty()) {
        if part.contains(';') {
            return None;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        map.entry(Value::from(query_unescape(k)?))
            .or_default()
            .push(Value::from(query_unescape(v)?));
    }
    let obj: BTreeMap<Value, Value> = map.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    Some(Value::from(obj))
}

/// OPA's deprecated `any(collection)`/`all(collection)`: whether any (or every) element of an
/// array or set is `true`.
fn all_or_any(v: &Value, all: bool) -> Option<Value> {
    let is_true = |x: &Value| matches!(x, Value::Bool(true));
    Some(Value::from(match v {
        Value::Array(items) if all => items.iter().all(is_true),
        Value::Array(items) => items.iter().any(is_true),
        Value::Set(items) if all => items.iter().all(is_true),
        Value::Set(items) => items.iter().any(is_true),
        _ => return None,
    }))
}

fn cast_array(v: &Value) -> Option<Value> {
    match v {
        Value::Array(_) => Some(v.clone()),
        Value::Set(items) => Some(Value::from(
            items.iter_sorted().cloned().collect::<Vec<_>>(),
        )),
        _ => None,
    }
}

fn cast_set(v: &Value) -> Option<Value> {
    match v {
        Value::Set(_) => Some(v.clone()),
        Value::Array(items) => Some(Value::from(items.iter().cloned().collect::<BTreeSet<_>>())),
        _ => None,
    }
}

/// An IP network: its address as a 128-bit number (IPv4 kept apart from IPv6) and prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cidr {
    v6: bool,
    addr: u128,
    prefix: u32,
}

impl Cidr {
    fn bits(&self) -> u32 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    /// The network address with the host bits cleared to `prefix` bits.
    fn masked(&self, prefix: u32) -> u128 {
        let host = self.bits() - prefix;
        if host >= 128 {
            0
        } else {
            (self.addr >> host) << host
        }
    }

    /// Whether `other` (a network or an address) lies within this network.
    fn contains(&self, other: &Cidr) -> bool {
        self.v6 == other.v6
            && other.prefix >= self.prefix
            && other.masked(self.prefix) == self.masked(self.prefix)
    }

    /// Whether the two networks share an address: one contains the other.
    fn intersects(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }
}

fn ip(s: &str) -> Option<(bool, u128)> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some((false, u128::from(u32::from(a)))),
        IpAddr::V6(a) => Some((true, u128::from(a))),
    }
}

/// `10.0.0.0/8` or `2001:db8::/32` (as Go's `net.ParseCIDR`: the address need not be the
/// network's first).
fn cidr(s: &str) -> Option<Cidr> {
    let (addr, prefix) = s.split_once('/')?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return None;
    }
    let (v6, addr) = ip(addr)?;
    let prefix: u32 = prefix.parse().ok()?;
    let c = Cidr { v6, addr, prefix };
    (prefix <= c.bits()).then_some(c)
}

/// A network, or one address as the network of just that address.
fn cidr_or_ip(s: &str) -> Option<Cidr> {
    if s.contains('/') {
        return cidr(s);
    }
    let (v6, addr) = ip(s)?;
    Some(Cidr {
        v6,
        addr,
        prefix: if v6 { 128 } else { 32 },
    })
}

/// OPA's `json.match_schema(document, schema)`: `[true, []]` on a match, `[false, errors]`
/// otherwise, each error an object with `error`, `type`, `field` and `desc` (the field as
/// gojsonschema names it: `(root)` or dotted; the type is the failing keyword, where
/// gojsonschema has its own names). The document and schema may be JSON strings or values;
/// a schema that does not compile is undefined.
fn json_match_schema(document: &Value, schema: &Value) -> Option<Value> {
    let as_json = |v: &Value| -> Option<serde_json::Value> {
        match v {
            Value::String(s) => serde_json::from_str(s).ok(),
            v => serde_json::from_str(&v.to_json_str().ok()?).ok(),
        }
    };
    let (document, schema) = (as_json(document)?, as_json(schema)?);
    let validator = jsonschema::validator_for(&schema).ok()?;
    let errors: Vec<Value> = validator
        .iter_errors(&document)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            let field = if pointer.is_empty() {
                "(root)".to_string()
            } else {
                pointer.trim_start_matches('/').replace('/', ".")
            };
            let keyword = e
                .schema_path()
                .to_string()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            let desc = e.to_string();
            let mut o = BTreeMap::new();
            o.insert(
                Value::from("error"),
                Value::from(format!("{field}: {desc}")),
            );
            o.insert(Value::from("type"), Value::from(keyword));
            o.insert(Value::from("field"), Value::from(field));
            o.insert(Value::from("desc"), Value::from(desc));
            Value::from(o)
        })
        .collect();
    Some(Value::from(vec![
        Value::from(errors.is_empty()),
        Value::from(errors),
    ]))
}

/// The first and last address of a network, as numbers.
fn cidr_range(c: &Cidr) -> (u128, u128) {
    let start = c.masked(c.prefix);
    let host = c.bits() - c.prefix;
    let span = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    (start, start | span)
}

fn format_ip(v6: bool, addr: u128) -> Option<String> {
    Some(if v6 {
        std::net::Ipv6Addr::from(addr).to_string()
    } else {
        std::net::Ipv4Addr::from(u32::try_from(addr).ok()?).to_string()
    })
}

/// OPA's `net.cidr_merge(addrs)`: the smallest set of networks covering the given networks
/// and addresses (an array or set of strings).
fn cidr_merge(addrs: &Value) -> Option<Value> {
    let items: Vec<&Value> = match addrs {
        Value::Array(a) => a.iter().collect(),
        Value::Set(s) => s.iter().collect(),
        _ => return None,
    };
    let mut ranges: BTreeMap<bool, Vec<(u128, u128)>> = BTreeMap::new();
    for item in items {
        let c = cidr_or_ip(item.as_string().ok()?)?;
        ranges.entry(c.v6).or_default().push(cidr_range(&c));
    }
    let mut out = BTreeSet::new();
    for (v6, mut rs) in ranges {
        rs.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::new();
        for (start, end) in rs {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let bits: u32 = if v6 { 128 } else { 32 };
        for (mut start, end) in merged {
            loop {
                // The largest network that starts at `start` and ends by `end`.
                let mut host = start.trailing_zeros().min(bits);
                while host > 0 {
                    let last = if host >= 128 {
                        u128::MAX
                    } else {
                        start | ((1u128 << host) - 1)
                    };
                    if last <= end {
                        break;
                    }
                    host -= 1;
                }
                out.insert(Value::from(format!(
                    "{}/{}",
                    format_ip(v6, start)?,
                    bits - host
                )));
                let last = if host >= 128 {
                    u128::MAX
                } else {
                    start | ((1u128 << host) - 1)
                };
                if last >= end {
                    break;
                }
                start = last + 1;
            }
        }
    }
    Some(Value::from(out))
}

/// The networks of one operand of `net.cidr_contains_matches`, each with its key: a string is
/// its own key; an array's elements are keyed by index, a set's by themselves, an object's
/// by their key; an element is a string or an array whose first element is one.
fn cidr_operand(v: &Value) -> Option<Vec<(Value, String)>> {
    fn cidr_of(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.to_string()),
            Value::Array(a) => Some(a.first()?.as_string().ok()?.to_string()),
            _ => None,
        }
    }
    Some(match v {
        Value::String(s) => vec![(v.clone(), s.to_string())],
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| Some((Value::from(u64::try_from(i).ok()?), cidr_of(x)?)))
            .collect::<Option<_>>()?,
        Value::Set(s) => s
            .iter()
            .map(|x| Some((x.clone(), cidr_of(x)?)))
            .collect::<Option<_>>()?,
        Value::Object(o) => o
            .iter()
            .map(|(k, x)| Some((k.clone(), cidr_of(x)?)))
            .collect::<Option<_>>()?,
        _ => return None,
    })
}

/// OPA's `net.cidr_contains_matches(cidrs, cidrs_or_ips)`: the set of `[key1, key2]` pairs
/// where the network keyed `key1` contains the network or address keyed `key2`.
fn cidr_contains_matches(a: &Value, b: &Value) -> Option<Value> {
    let nets: Vec<(Value, Cidr)> = cidr_operand(a)?
        .into_iter()
        .map(|(k, s)| Some((k, cidr(&s)?)))
        .collect::<Option<_>>()?;
    let others: Vec<(Value, Cidr)> = cidr_operand(b)?
        .into_iter()
        .map(|(k, s)| Some((k, cidr_or_ip(&s)?)))
        .collect::<Option<_>>()?;
    let mut out = BTreeSet::new();
    for (k1, n) in &nets {
        for (k2, o) in &others {
            if n.contains(o) {
                out.insert(Value::from(vec![k1.clone(), k2.clone()]));
            }
        }
    }
    Some(Value::from(out))
}

/// One element of a `regex.globs_match` pattern: a set of characters (ranges, maybe
/// negated; `None` is `.`) and whether it repeats (`*`: any number, `+`: at least one).
#[derive(Clone, Debug)]
struct GlobToken {
    class: Option<(bool, Vec<(char, char)>)>,
    star: bool,
}

/// The restricted regex of `regex.globs_match`: only `.`, `*`, `+`, `[`, `-`, `]` and `\` are
/// special (as in OPA). `x+` becomes `x` then `x*`. `None` for a malformed pattern.
fn glob_tokens(pattern: &str) -> Option<Vec<GlobToken>> {
    let mut out: Vec<GlobToken> = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let class = match c {
            '.' => None,
            '\\' => {
                let l = chars.next()?;
                Some((false, vec![(l, l)]))
            }
            '[' => {
                let negated = chars.peek() == Some(&'^');
                if negated {
                    chars.next();
                }
                let mut ranges = Vec::new();
                loop {
                    let mut lo = chars.next()?;
                    if lo == ']' && !ranges.is_empty() {
                        break;
                    }
                    if lo == '\\' {
                        lo = chars.next()?;
                    }
                    let mut hi = lo;
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        match chars.next()? {
                            ']' => {
                                ranges.push((lo, lo));
                                ranges.push(('-', '-'));
                                break;
                            }
                            '\\' => hi = chars.next()?,
                            h => hi = h,
                        }
                    }
                    if hi < lo {
                        return None;
                    }
                    ranges.push((lo, hi));
                }
                Some((negated, ranges))
            }
            '*' | '+' => {
                let last = out.last_mut()?;
                if last.star {
                    return None;
                }
                if c == '*' {
                    last.star = true;
                } else {
                    let mut again = last.clone();
                    again.star = true;
                    out.push(again);
                }
                continue;
            }
            l => Some((false, vec![(l, l)])),
        };
        out.push(GlobToken { class, star: false });
    }
    Some(out)
}

/// Whether two character sets share a character.
fn classes_intersect(
    a: &Option<(bool, Vec<(char, char)>)>,
    b: &Option<(bool, Vec<(char, char)>)>,
) -> bool {
    let (Some((na, ra)), Some((nb, rb))) = (a, b) else {
        return true;
    };
    let overlap = |x: &(char, char), y: &(char, char)| x.0 <= y.1 && y.0 <= x.1;
    match (na, nb) {
        (false, false) => ra.iter().any(|x| rb.iter().any(|y| overlap(x, y))),
        (true, true) => true,
        (false, true) | (true, false) => {
            let (pos, neg) = if *na { (rb, ra) } else { (ra, rb) };
            // Some character of a positive range that no negated range excludes.
            pos.iter().any(|&(lo, hi)| {
                let mut c = lo;
                loop {
                    match neg.iter().find(|n| n.0 <= c && c <= n.1) {
                        None => return true,
                        Some(n) => match char::from_u32(u32::from(n.1) + 1) {
                            Some(next) if next <= hi => c = next,
                            _ => return false,
                        },
                    }
                }
            })
        }
    }
}

/// Whether some string matches both patterns.
fn globs_intersect(a: &[GlobToken], b: &[GlobToken]) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        if !seen.insert((i, j)) {
            continue;
        }
        if i == a.len() && j == b.len() {
            return true;
        }
        if i < a.len() && a[i].star {
            stack.push((i + 1, j));
        }
        if j < b.len() && b[j].star {
            stack.push((i, j + 1));
        }
        if i < a.len() && j < b.len() && classes_intersect(&a[i].class, &b[j].class) {
            let ni = if a[i].star { i } else { i + 1 };
            let nj = if b[j].star { j } else { j + 1 };
            stack.push((ni, nj));
        }
    }
    false
}

/// OPA's `strings.render_template(template, vars)` for the templates policies write: text
/// with `{{.name}}` or `{{ .a.b }}` (and `{{-`/`-}}` trimming) replaced by the value (a
/// missing key prints `<no value>`, as Go does). Any other action (`if`, `range`, pipes,
/// functions), or an array or object to print, is undefined rather than a guess.
fn render_template(template: &Value, vars: &Value) -> Option<Value> {
    let mut rest = template.as_string().ok()?.to_string();
    if !matches!(vars, Value::Object(_)) {
        return None;
    }
    let mut out = String::new();
    while let Some(open) = rest.find("{{") {
        let mut text = rest[..open].to_string();
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let mut action = &after[..close];
        let mut next = after[close + 2..].to_string();
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end().to_string();
            action = a;
        }
        if let Some(a) = action.strip_suffix('-') {
            next = next.trim_start().to_string();
            action = a;
        }
        out.push_str(&text);
        let action = action.trim();
        if action.starts_with("/*") && action.ends_with("*/") {
            rest = next;
            continue;
        }
        let path = action.strip_prefix('.')?;
        let mut v = vars;
        let mut missing = false;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            if !part.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            match v {
                Value::Object(o) => match o.get(&Value::from(part)) {
                    Some(x) => v = x,
                    None => {
                        missing = true;
                        break;
                    }
                },
                _ => return None,
            }
        }
        match v {
            _ if missing => out.push_str("<no value>"),
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&n.format_decimal()),
            Value::Bool(b) => out.push_str(&b.to_string()),
            Value::Null => out.push_str("<nil>"),
            _ => return None,
        }
        rest = next;
    }
    out.push_str(&rest);
    Some(Value::from(out))
}

/// OPA's `io.jwt.decode_verify(token, constraints)`: `[true, header, payload]` when the
/// signature verifies with the constraints' `secret` (HS256, HS384, HS512) and the `alg`,
/// `iss`, `aud`, `exp` and `nbf` checks pass (at `time`, in nanoseconds, or now), otherwise
/// `[false, {}, {}]`. Tokens signed with public-key algorithms (RS*, PS*, ES*, EdDSA: the
/// `cert` constraint) are undefined: Baton does not verify them.
fn jwt_decode_verify(token: &Value, constraints: &Value) -> Option<Value> {
    use base64::Engine as _;
    let Value::Object(c) = constraints else {
        return None;
    };
    for k in c.keys() {
        if !matches!(
            k.as_string().ok()?.as_ref(),
            "secret" | "cert" | "alg" | "iss" | "aud" | "time"
        ) {
            return None;
        }
    }
    let get = |k: &str| c.get(&Value::from(k));
    let decoded = jwt_decode(token)?;
    let (header, payload) = (decoded[0].clone(), decoded[1].clone());
    let token = token.as_string().ok()?;
    let (signed, signature) = token.rsplit_once('.')?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .ok()?;
    let alg = header[&Value::from("alg")].as_string().ok()?.to_string();
    let unverified = || {
        Some(Value::from(vec![
            Value::from(false),
            Value::new_object(),
            Value::new_object(),
        ]))
    };
    let (block, hash): (usize, Hash) = match alg.as_str() {
        "HS256" => (64, sha256),
        "HS384" => (128, sha384),
        "HS512" => (128, sha512),
        _ => return None,
    };
    if get("alg").is_some_and(|a| a.as_string().ok().map(|s| s.as_ref()) != Some(alg.as_str())) {
        return unverified();
    }
    let Some(secret) = get("secret") else {
        return unverified();
    };
    let mac = hmac(
        secret.as_string().ok()?.as_bytes(),
        signed.as_bytes(),
        block,
        hash,
    );
    let same = mac.len() == signature.len()
        && mac
            .iter()
            .zip(&signature)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0;
    if !same {
        return unverified();
    }
    let now_ns: f64 = match get("time") {
        Some(t) => t.as_f64().ok()?,
        None => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs_f64()
                * 1e9
        }
    };
    let claim = |k: &str| match &payload[&Value::from(k)] {
        Value::Undefined => None,
        v => Some(v.clone()),
    };
    if let Some(exp) = claim("exp") {
        if now_ns >= exp.as_f64().ok()? * 1e9 {
            return unverified();
        }
    }
    if let Some(nbf) = claim("nbf") {
        if now_ns < nbf.as_f64().ok()? * 1e9 {
            return unverified();
        }
    }
    if let Some(iss) = get("iss") {
        if claim("iss").as_ref() != Some(iss) {
            return unverified();
        }
    }
    match (claim("aud"), get("aud")) {
        (None, None) => {}
        (Some(Value::String(a)), Some(Value::String(want))) if a == *want => {}
        (Some(Value::Array(a)), Some(want)) if a.contains(want) => {}
        _ => return unverified(),
    }
    Some(Value::from(vec![Value::from(true), header, payload]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?", 64, sha256);
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn query_escaping_follows_go() {
        assert_eq!(query_escape("a b&c=d/é~"), "a+b%26c%3Dd%2F%C3%A9~");
        assert_eq!(query_unescape("a+b%26c%3d").as_deref(), Some("a b&c="));
        assert_eq!(query_unescape("%zz"), None);
        assert_eq!(query_unescape("%4"), None);
    }
}
