//! The IP network functions of Terraform's library: `cidrhost`, `cidrnetmask`, `cidrsubnet`
//! and `cidrsubnets`, for IPv4 and IPv6.
//!
//! Terraform computes these with Go's `net` types (through its own copy of Go's address
//! parser, which still accepts leading zeros in IPv4 octets) and go-cidr v1.1.0. Their
//! results and messages depend on details of those types, quirks included: 4- and 16-byte
//! addresses, IPv4-mapped IPv6 addresses printed in dotted form, big-integer arithmetic on
//! negative numbers. This module reproduces them over byte vectors and `num-bigint`, with
//! Go's canonical text forms; where Go would panic, the error is go-cty's "panic in function
//! implementation" message. Implementations receive known, unmarked, already-converted
//! arguments and must never log argument values.

use super::util::str_arg;
use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::number::Number;
use crate::types::Type;
use crate::value::Value;
use num_bigint::{BigInt, Sign};
use num_traits::{One, Signed, Zero};

pub(super) fn register(r: &mut Registry) {
    let prefix = || Param::new("prefix", Type::String);
    r.add(Function::new(
        "cidrhost",
        vec![prefix(), Param::new("hostnum", Type::Number)],
        Ret::Fixed(Type::String),
        cidrhost,
    ));
    r.add(Function::new(
        "cidrnetmask",
        vec![prefix()],
        Ret::Fixed(Type::String),
        cidrnetmask,
    ));
    r.add(Function::new(
        "cidrsubnet",
        vec![
            prefix(),
            Param::new("newbits", Type::Number),
            Param::new("netnum", Type::Number),
        ],
        Ret::Fixed(Type::String),
        cidrsubnet,
    ));
    r.add(
        Function::new(
            "cidrsubnets",
            vec![prefix()],
            Ret::Fixed(Type::list(Type::String)),
            cidrsubnets,
        )
        .variadic(Param::new("newbits", Type::Number)),
    );
}

/// A failure that Terraform reports as "Call to function ... failed: {msg}."
fn fail(msg: impl std::fmt::Display) -> FnError {
    FnError::new(format!("{msg}."))
}

/// A failure that Terraform attributes to a parameter.
fn arg_fail(i: usize, param: &str, msg: impl std::fmt::Display) -> FnError {
    FnError::arg(
        i,
        format!("Invalid value for \"{param}\" parameter: {msg}."),
    )
}

/// go-cty's message when a Go function panics.
fn panic_msg(what: &str) -> String {
    format!("panic in function implementation: runtime error: {what}")
}

const INDEX_PANIC: &str = "index out of range [-1]";

/// gocty's conversion of a number to a Go `int`.
fn go_int(n: &Number) -> Result<i64, String> {
    n.to_i64().ok_or_else(|| {
        "value must be a whole number, between -9223372036854775808 and 9223372036854775807"
            .to_string()
    })
}

/// gocty's conversion of a number to a `*big.Int` (bounded here: absurdly large numbers are
/// refused rather than expanded).
fn go_big(n: &Number) -> Result<BigInt, String> {
    if !n.is_integer() {
        return Err("value must be a whole number".into());
    }
    let (_, e) = n.to_parts();
    if e > 1 << 16 {
        return Err("value is too large".into());
    }
    n.to_bigint()
        .ok_or_else(|| "value must be a whole number".to_string())
}

fn cidrhost(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let num = go_big(super::util::num_arg(args, 1)?).map_err(fail)?;
    let net = parse_cidr(str_arg(args, 0)?).map_err(fail)?;
    let ip = host_big(&net, num).map_err(fail)?;
    Ok(Value::string(ip_string(&ip)))
}

fn cidrnetmask(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let prefix = str_arg(args, 0)?;
    let net = parse_cidr(prefix).map_err(fail)?;
    if to4(&net.ip).is_none() {
        return Err(fail(format!(
            "IPv6 addresses cannot have a netmask: {prefix}"
        )));
    }
    Ok(Value::string(ip_string(&net.mask)))
}

fn cidrsubnet(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let newbits = go_int(super::util::num_arg(args, 1)?).map_err(fail)?;
    let num = go_big(super::util::num_arg(args, 2)?).map_err(fail)?;
    let net = parse_cidr(str_arg(args, 0)?).map_err(fail)?;
    let sub = subnet_big(&net, newbits, num).map_err(fail)?;
    Ok(Value::string(ipnet_string(&sub)))
}

fn cidrsubnets(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let net = parse_cidr(str_arg(args, 0)?).map_err(|e| arg_fail(0, "prefix", e))?;
    let (start_len, _) = mask_size(&net.mask);
    let lengths = args.get(1..).unwrap_or_default();
    if lengths.is_empty() {
        return Ok(Value::list(Type::String, vec![]));
    }
    let bad = |i: usize, e: String| arg_fail(i + 1, "newbits", e);
    let first = go_int(super::util::num_arg(args, 1)?).map_err(|e| bad(0, e))?;
    let first = first.wrapping_add(start_len);
    let addr_bits = (net.ip.len() * 8) as i64;
    let mut current = previous_subnet(&net, first).map_err(|e| bad(0, e))?;
    let mut out = Vec::with_capacity(lengths.len());
    for (i, arg) in lengths.iter().enumerate() {
        let n = arg
            .as_number()
            .ok_or_else(|| FnError::arg(i + 1, "a number is required"))?;
        let mut length = go_int(n).map_err(|e| bad(i, e))?;
        if length < 1 {
            return Err(bad(i, "must extend prefix by at least one bit".into()));
        }
        if length > 32 {
            return Err(bad(i, "may not extend prefix by more than 32 bits".into()));
        }
        length += start_len;
        if length > addr_bits {
            let protocol = match addr_bits {
                32 => "IPv4",
                128 => "IPv6",
                _ => "IP",
            };
            return Err(bad(
                i,
                format!(
                    "would extend prefix to {length} bits, which is too long for an {protocol} address"
                ),
            ));
        }
        let (next, rollover) = next_subnet(&current, length).map_err(|e| bad(i, e))?;
        if rollover || !contains(&net, &next.ip) {
            return Err(bad(
                i,
                format!(
                    "not enough remaining address space for a subnet with a prefix of {length} bits after {}",
                    ipnet_string(&current)
                ),
            ));
        }
        current = next;
        out.push(Value::string(ipnet_string(&current)));
    }
    Ok(Value::list(Type::String, out))
}

// ----- Go's net.IP / net.IPNet -----

/// Go's `net.IPNet`: an address (0, 4 or 16 bytes; empty is Go's nil) and a mask.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IpNet {
    ip: Vec<u8>,
    mask: Vec<u8>,
}

const V4_IN_V6_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// Go's `net.IPv4(a, b, c, d)`: the 16-byte form.
fn ipv4(p: [u8; 4]) -> Vec<u8> {
    let mut v = V4_IN_V6_PREFIX.to_vec();
    v.extend_from_slice(&p);
    v
}

fn ipv4_zero() -> Vec<u8> {
    ipv4([0, 0, 0, 0])
}

/// Go's `IP.To4`.
fn to4(ip: &[u8]) -> Option<Vec<u8>> {
    match ip.len() {
        4 => Some(ip.to_vec()),
        16 if ip[..12] == V4_IN_V6_PREFIX => Some(ip[12..].to_vec()),
        _ => None,
    }
}

/// go-cidr's `checkIPv4`.
fn check_ipv4(ip: &[u8]) -> Vec<u8> {
    to4(ip).unwrap_or_else(|| ip.to_vec())
}

/// Go's `net.CIDRMask`: empty (nil) when out of range.
fn cidr_mask(ones: i64, bits: i64) -> Vec<u8> {
    if bits != 32 && bits != 128 {
        return Vec::new();
    }
    if ones < 0 || ones > bits {
        return Vec::new();
    }
    let mut m = vec![0u8; (bits / 8) as usize];
    let mut n = ones;
    for b in m.iter_mut() {
        if n >= 8 {
            *b = 0xff;
            n -= 8;
            continue;
        }
        *b = !(0xffu8.checked_shr(n as u32).unwrap_or(0));
        n = 0;
    }
    m
}

/// Go's `simpleMaskLength`: the number of leading ones, or -1 if not a prefix mask.
fn simple_mask_length(mask: &[u8]) -> i64 {
    let mut n = 0;
    for (i, v) in mask.iter().enumerate() {
        if *v == 0xff {
            n += 8;
            continue;
        }
        let mut v = *v;
        while v & 0x80 != 0 {
            n += 1;
            v <<= 1;
        }
        if v != 0 || mask[i + 1..].iter().any(|b| *b != 0) {
            return -1;
        }
        break;
    }
    n
}

/// Go's `IPMask.Size`.
fn mask_size(mask: &[u8]) -> (i64, i64) {
    let ones = simple_mask_length(mask);
    if ones == -1 {
        return (0, 0);
    }
    (ones, (mask.len() * 8) as i64)
}

/// Go's `IP.Mask`.
fn ip_mask(ip: &[u8], mask: &[u8]) -> Vec<u8> {
    let mut mask = mask;
    let mut ip = ip;
    if mask.len() == 16 && ip.len() == 4 && mask[..12].iter().all(|b| *b == 0xff) {
        mask = &mask[12..];
    }
    if mask.len() == 4 && ip.len() == 16 && ip[..12] == V4_IN_V6_PREFIX {
        ip = &ip[12..];
    }
    if ip.len() != mask.len() {
        return Vec::new();
    }
    ip.iter().zip(mask).map(|(a, b)| a & b).collect()
}

/// Go's `IP.Equal`.
fn ip_equal(a: &[u8], b: &[u8]) -> bool {
    match (a.len(), b.len()) {
        (x, y) if x == y => a == b,
        (4, 16) => b[..12] == V4_IN_V6_PREFIX && a == &b[12..],
        (16, 4) => a[..12] == V4_IN_V6_PREFIX && &a[12..] == b,
        _ => false,
    }
}

/// Go's `networkNumberAndMask`.
fn network_number_and_mask(n: &IpNet) -> Option<(Vec<u8>, Vec<u8>)> {
    let ip = match to4(&n.ip) {
        Some(v4) => v4,
        None if n.ip.len() == 16 => n.ip.clone(),
        None => return None,
    };
    let m = match n.mask.len() {
        4 if ip.len() == 4 => n.mask.clone(),
        4 => return None,
        16 if ip.len() == 4 => n.mask[12..].to_vec(),
        16 => n.mask.clone(),
        _ => return None,
    };
    Some((ip, m))
}

/// Go's `IPNet.Contains`.
fn contains(n: &IpNet, ip: &[u8]) -> bool {
    let (nn, m) = network_number_and_mask(n).unwrap_or_default();
    let ip = to4(ip).unwrap_or_else(|| ip.to_vec());
    if ip.len() != nn.len() {
        return false;
    }
    (0..ip.len()).all(|i| nn[i] & m[i] == ip[i] & m[i])
}

/// Go's `IP.String`.
fn ip_string(ip: &[u8]) -> String {
    if ip.is_empty() {
        return "<nil>".into();
    }
    if ip.len() != 4 && ip.len() != 16 {
        return format!("?{}", hex::encode(ip));
    }
    if let Some(p) = to4(ip) {
        return format!("{}.{}.{}.{}", p[0], p[1], p[2], p[3]);
    }
    let groups: Vec<u16> = ip
        .chunks(2)
        .map(|c| (u16::from(c[0]) << 8) | u16::from(c[1]))
        .collect();
    // The first longest run of two or more zero groups becomes "::".
    let (mut zs, mut ze) = (usize::MAX, usize::MAX);
    let mut i = 0;
    while i < 8 {
        let mut j = i;
        while j < 8 && groups[j] == 0 {
            j += 1;
        }
        let len = j - i;
        let best = if zs == usize::MAX { 0 } else { ze - zs };
        if len >= 2 && len > best {
            zs = i;
            ze = j;
        }
        i = j.max(i + 1);
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if i == zs {
            out.push_str("::");
            i = ze;
            if i >= 8 {
                break;
            }
        } else if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{:x}", groups[i]));
        i += 1;
    }
    out
}

/// Go's `IPNet.String`.
fn ipnet_string(n: &IpNet) -> String {
    let Some((nn, m)) = network_number_and_mask(n) else {
        return "<nil>".into();
    };
    let l = simple_mask_length(&m);
    if l == -1 {
        return format!("{}/{}", ip_string(&nn), hex::encode(&m));
    }
    format!("{}/{l}", ip_string(&nn))
}

// ----- Terraform's ipaddr parser (Go's, keeping leading zeros) -----

const BIG: i64 = 0xFF_FFFF;

fn dtoi(s: &[u8]) -> (i64, usize, bool) {
    let mut n: i64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        n = n * 10 + i64::from(s[i] - b'0');
        if n >= BIG {
            return (BIG, i, false);
        }
        i += 1;
    }
    if i == 0 {
        return (0, 0, false);
    }
    (n, i, true)
}

fn xtoi(s: &[u8]) -> (i64, usize, bool) {
    let mut n: i64 = 0;
    let mut i = 0;
    while i < s.len() {
        let Some(d) = (s[i] as char).to_digit(16) else {
            break;
        };
        n = n * 16 + i64::from(d);
        if n >= BIG {
            return (0, i, false);
        }
        i += 1;
    }
    if i == 0 {
        return (0, i, false);
    }
    (n, i, true)
}

fn parse_ipv4(mut s: &[u8]) -> Option<Vec<u8>> {
    let mut p = [0u8; 4];
    for (i, slot) in p.iter_mut().enumerate() {
        if s.is_empty() {
            return None;
        }
        if i > 0 {
            if s[0] != b'.' {
                return None;
            }
            s = &s[1..];
        }
        let (n, c, ok) = dtoi(s);
        if !ok || n > 0xFF {
            return None;
        }
        s = &s[c..];
        *slot = n as u8;
    }
    if !s.is_empty() {
        return None;
    }
    Some(ipv4(p))
}

fn parse_ipv6(mut s: &[u8]) -> Option<Vec<u8>> {
    let mut ip = vec![0u8; 16];
    let mut ellipsis: Option<usize> = None;
    if s.len() >= 2 && s[0] == b':' && s[1] == b':' {
        ellipsis = Some(0);
        s = &s[2..];
        if s.is_empty() {
            return Some(ip);
        }
    }
    let mut i = 0;
    while i < 16 {
        let (n, c, ok) = xtoi(s);
        if !ok || n > 0xFFFF {
            return None;
        }
        if c < s.len() && s[c] == b'.' {
            if ellipsis.is_none() && i != 12 {
                return None;
            }
            if i + 4 > 16 {
                return None;
            }
            let ip4 = parse_ipv4(s)?;
            ip[i..i + 4].copy_from_slice(&ip4[12..16]);
            s = &[];
            i += 4;
            break;
        }
        ip[i] = (n >> 8) as u8;
        ip[i + 1] = n as u8;
        i += 2;
        s = &s[c..];
        if s.is_empty() {
            break;
        }
        if s[0] != b':' || s.len() == 1 {
            return None;
        }
        s = &s[1..];
        if s[0] == b':' {
            if ellipsis.is_some() {
                return None;
            }
            ellipsis = Some(i);
            s = &s[1..];
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return None;
    }
    if i < 16 {
        let e = ellipsis?;
        let n = 16 - i;
        for j in (e..i).rev() {
            ip[j + n] = ip[j];
        }
        for b in ip.iter_mut().skip(e).take(n) {
            *b = 0;
        }
    } else if ellipsis.is_some() {
        return None;
    }
    Some(ip)
}

/// Terraform's `ipaddr.ParseCIDR`, returning the network, with the message Terraform adds.
fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let bad = || format!("invalid CIDR expression: invalid CIDR address: {s}");
    let b = s.as_bytes();
    let slash = b.iter().position(|c| *c == b'/').ok_or_else(bad)?;
    let (addr, mask) = (&b[..slash], &b[slash + 1..]);
    let (ip, iplen) = match parse_ipv4(addr) {
        Some(ip) => (ip, 4),
        None => (parse_ipv6(addr).ok_or_else(bad)?, 16),
    };
    let (n, i, ok) = dtoi(mask);
    if !ok || i != mask.len() || n < 0 || n > 8 * iplen {
        return Err(bad());
    }
    let m = cidr_mask(n, 8 * iplen);
    Ok(IpNet {
        ip: ip_mask(&ip, &m),
        mask: m,
    })
}

// ----- go-cidr v1.1.0 -----

fn ip_to_int(ip: &[u8]) -> Option<(BigInt, i64)> {
    let bits = match ip.len() {
        4 => 32,
        16 => 128,
        _ => return None,
    };
    Some((BigInt::from_bytes_be(Sign::Plus, ip), bits))
}

fn int_to_ip(v: &BigInt, bits: i64) -> Result<Vec<u8>, String> {
    let (_, bytes) = v.to_bytes_be();
    let bytes: &[u8] = if v.is_zero() { &[] } else { &bytes };
    let len = usize::try_from(bits / 8).unwrap_or(0);
    if bytes.len() > len {
        return Err(panic_msg(INDEX_PANIC));
    }
    let mut out = vec![0u8; len];
    out[len - bytes.len()..].copy_from_slice(bytes);
    Ok(out)
}

fn nil_panic() -> String {
    panic_msg("invalid memory address or nil pointer dereference")
}

fn insert_num_into_ip(ip: &[u8], num: &BigInt, prefix_len: i64) -> Result<Vec<u8>, String> {
    let (ip_int, total_bits) = ip_to_int(ip).ok_or_else(nil_panic)?;
    // Go converts the shift to uint: a negative difference is a huge shift.
    let shift = total_bits.wrapping_sub(prefix_len);
    let shifted = if num.is_zero() {
        BigInt::zero()
    } else if !(0..=1024).contains(&shift) {
        return Err(panic_msg(INDEX_PANIC));
    } else {
        num << (shift as usize)
    };
    int_to_ip(&(ip_int | shifted), total_bits)
}

/// The low 64 bits of |x| (Go's `Int.Uint64`).
fn low_u64(x: &BigInt) -> u64 {
    x.magnitude().iter_u64_digits().next().unwrap_or(0)
}

fn host_big(base: &IpNet, mut num: BigInt) -> Result<Vec<u8>, String> {
    let (parent_len, addr_len) = mask_size(&base.mask);
    let host_len = addr_len - parent_len;
    let max_host = (BigInt::one() << host_len.max(0) as usize) - 1;
    let mut num_u64 = BigInt::from(low_u64(&num) as i64);
    if num.is_negative() {
        num_u64 = -&num - 1;
        num = &max_host - &num_u64;
    }
    if num_u64 > max_host {
        return Err(format!(
            "prefix of {parent_len} does not accommodate a host numbered {num}"
        ));
    }
    let bitlength = if to4(&base.ip).is_some() { 32 } else { 128 };
    insert_num_into_ip(&base.ip, &num, bitlength)
}

fn subnet_big(base: &IpNet, new_bits: i64, num: BigInt) -> Result<IpNet, String> {
    let (parent_len, addr_len) = mask_size(&base.mask);
    let new_prefix_len = parent_len.wrapping_add(new_bits);
    if new_prefix_len > addr_len {
        return Err(format!(
            "insufficient address space to extend prefix of {parent_len} by {new_bits}"
        ));
    }
    let max_net_num = match u32::try_from(new_bits) {
        Ok(b) if b < 64 => (1u64 << b) - 1,
        _ => u64::MAX,
    };
    if low_u64(&num) > max_net_num {
        return Err(format!(
            "prefix extension of {new_bits} does not accommodate a subnet numbered {num}"
        ));
    }
    Ok(IpNet {
        ip: insert_num_into_ip(&base.ip, &num, new_prefix_len)?,
        mask: cidr_mask(new_prefix_len, addr_len),
    })
}

/// go-cidr's `Inc` / `Dec`.
fn step(ip: &[u8], up: bool) -> Vec<u8> {
    let mut v = check_ipv4(ip);
    for b in v.iter_mut().rev() {
        if up {
            *b = b.wrapping_add(1);
            if *b > 0 {
                break;
            }
        } else {
            *b = b.wrapping_sub(1);
            if *b < 255 {
                break;
            }
        }
    }
    v
}

/// go-cidr's `AddressRange` (v1.1.0: the network address is taken as it is).
fn address_range(n: &IpNet) -> Result<(Vec<u8>, Vec<u8>), String> {
    let first = n.ip.clone();
    let (prefix_len, bits) = mask_size(&n.mask);
    if prefix_len == bits {
        return Ok((first.clone(), first));
    }
    let (first_int, bits) = ip_to_int(&first).ok_or_else(nil_panic)?;
    let host_len = bits - prefix_len;
    if !(0..=1024).contains(&host_len) {
        return Err(panic_msg("makeslice: len out of range"));
    }
    let last = ((BigInt::one() << host_len as usize) - 1) | first_int;
    Ok((first, int_to_ip(&last, bits)?))
}

/// go-cidr's `PreviousSubnet` (the rollover flag is not used by Terraform).
fn previous_subnet(n: &IpNet, prefix_len: i64) -> Result<IpNet, String> {
    let start = check_ipv4(&n.ip);
    let mask = cidr_mask(prefix_len, (start.len() * 8) as i64);
    let prev = step(&start, false);
    Ok(IpNet {
        ip: ip_mask(&prev, &mask),
        mask,
    })
}

/// go-cidr's `NextSubnet`.
fn next_subnet(n: &IpNet, prefix_len: i64) -> Result<(IpNet, bool), String> {
    let (_, current_last) = address_range(n)?;
    let mask = cidr_mask(prefix_len, (current_last.len() * 8) as i64);
    let current = IpNet {
        ip: ip_mask(&current_last, &mask),
        mask: mask.clone(),
    };
    let (_, last) = address_range(&current)?;
    let last = step(&last, true);
    let next = IpNet {
        ip: ip_mask(&last, &mask),
        mask,
    };
    let rollover = ip_equal(&last, &ipv4_zero()) || ip_equal(&last, &[0u8; 16]);
    Ok((next, rollover))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn n(v: &str) -> Value {
        Value::number(Number::parse(v).expect("number"))
    }

    fn ok(name: &str, args: Vec<Value>) -> String {
        match call_fn(name, args) {
            Ok(v) => v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_json().to_string()),
            Err(e) => format!("ERR: {}", e.message),
        }
    }

    #[test]
    fn go_ip_text() {
        let p = |t: &str| parse_ipv6(t.as_bytes()).map(|ip| ip_string(&ip));
        assert_eq!(p("::").as_deref(), Some("::"));
        assert_eq!(p("1:0:0:1:0:0:0:1").as_deref(), Some("1:0:0:1::1"));
        assert_eq!(p("1:0:0:2:0:0:3:4").as_deref(), Some("1::2:0:0:3:4"));
        assert_eq!(p("1:0:2:3:4:5:6:7").as_deref(), Some("1:0:2:3:4:5:6:7"));
        assert_eq!(p("::ffff:1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(p("::1.2.3.4").as_deref(), Some("::102:304"));
        assert_eq!(p("FD00::ABCD").as_deref(), Some("fd00::abcd"));
        assert_eq!(p("1::2::3"), None);
        assert_eq!(p("1:2:3:4:5:6:7:8:9"), None);
        assert_eq!(p("1:2:3:4:5:6:7::"), Some("1:2:3:4:5:6:7:0".into()));
    }

    #[test]
    fn cidrhost_like_terraform() {
        let h = |p: &str, x: &str| ok("cidrhost", vec![s(p), n(x)]);
        assert_eq!(h("10.0.0.0/8", "2"), "10.0.0.2");
        assert_eq!(h("10.0.0.0/24", "-1"), "10.0.0.255");
        assert_eq!(h("10.0.0.0/24", "-256"), "10.0.0.0");
        assert_eq!(h("10.1.2.3/32", "0"), "10.1.2.3");
        assert_eq!(h("fd00::/64", "5"), "fd00::5");
        assert_eq!(h("fd00::/64", "-1"), "fd00::ffff:ffff:ffff:ffff");
        assert_eq!(h("::ffff:0:0/96", "1"), "0:1::ffff:0:0");
        assert_eq!(h("::ffff:10.0.0.0/120", "5"), "0:5::ffff:a00:0");
        assert_eq!(h("::/0", "18446744073709551616"), "0:0:0:1::");
        assert_eq!(h("::/64", "18446744073709551616"), "0:0:0:1::");
        assert_eq!(h("010.001.0.0/16", "3"), "10.1.0.3");
        assert_eq!(h("2001:db8::/32", "4294967295"), "2001:db8::ffff:ffff");
        assert_eq!(h("0.0.0.0/0", "-1"), "255.255.255.255");
        assert_eq!(h("10.0.0.5/24", "1"), "10.0.0.1");
        assert_eq!(h("::/0", "-1"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(h("::ffff:1.2.3.4/8", "1"), "::1");
        assert_eq!(h("10.0.0.0/08", "1"), "10.0.0.1");
        let errs = [
            (
                "10.0.0.0/24",
                "-300",
                "prefix of 24 does not accommodate a host numbered -44",
            ),
            (
                "10.0.0.0/24",
                "256",
                "prefix of 24 does not accommodate a host numbered 256",
            ),
            ("10.0.0.0/8", "1.5", "value must be a whole number"),
            (
                "10.0.0.0",
                "1",
                "invalid CIDR expression: invalid CIDR address: 10.0.0.0",
            ),
            (
                "10.0.0.0/33",
                "1",
                "invalid CIDR expression: invalid CIDR address: 10.0.0.0/33",
            ),
            (
                "256.0.0.0/8",
                "1",
                "invalid CIDR expression: invalid CIDR address: 256.0.0.0/8",
            ),
            (
                " 10.0.0.0/8",
                "1",
                "invalid CIDR expression: invalid CIDR address:  10.0.0.0/8",
            ),
            (
                "10.0.0.0/8",
                "9223372036854775808",
                "panic in function implementation: runtime error: index out of range [-1]",
            ),
            (
                "10.0.0.0/8",
                "16777216",
                "prefix of 8 does not accommodate a host numbered 16777216",
            ),
        ];
        for (p, x, want) in errs {
            assert_eq!(h(p, x), format!("ERR: {want}."), "{p} {x}");
        }
    }

    #[test]
    fn cidrnetmask_like_terraform() {
        let m = |p: &str| ok("cidrnetmask", vec![s(p)]);
        assert_eq!(m("10.0.0.0/8"), "255.0.0.0");
        assert_eq!(m("10.0.0.0/0"), "0.0.0.0");
        assert_eq!(m("10.0.0.0/32"), "255.255.255.255");
        assert_eq!(m("172.16.0.0/12"), "255.240.0.0");
        assert_eq!(
            m("::ffff:10.0.0.0/120"),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00"
        );
        assert_eq!(
            m("fd00::/8"),
            "ERR: IPv6 addresses cannot have a netmask: fd00::/8."
        );
        assert_eq!(
            m("x"),
            "ERR: invalid CIDR expression: invalid CIDR address: x."
        );
    }

    #[test]
    fn cidrsubnet_like_terraform() {
        let c = |p: &str, b: &str, x: &str| ok("cidrsubnet", vec![s(p), n(b), n(x)]);
        assert_eq!(c("10.0.0.0/8", "8", "3"), "10.3.0.0/16");
        assert_eq!(c("fd00::/48", "16", "65535"), "fd00:0:0:ffff::/64");
        assert_eq!(c("10.0.0.0/16", "-8", "0"), "10.0.0.0/8");
        assert_eq!(c("10.0.0.0/16", "8", "-1"), "0.0.1.0/24");
        assert_eq!(c("::ffff:10.0.0.0/104", "8", "1"), "10.1.0.0/16");
        assert_eq!(c("::/0", "100", "1"), "::1000:0/100");
        assert_eq!(c("10.0.0.0/8", "0", "0"), "10.0.0.0/8");
        assert_eq!(c("10.0.0.0/16", "-20", "0"), "<nil>");
        let errs = [
            ("10.0.0.0/8", "1.5", "0", "value must be a whole number, between -9223372036854775808 and 9223372036854775807"),
            ("10.0.0.0/8", "8", "1.5", "value must be a whole number"),
            ("10.0.0.0/8", "30", "0", "insufficient address space to extend prefix of 8 by 30"),
            ("10.0.0.0/16", "4", "16", "prefix extension of 4 does not accommodate a subnet numbered 16"),
            ("10.0.0.0/8", "8", "256", "prefix extension of 8 does not accommodate a subnet numbered 256"),
            ("10.0.0.0/8", "8", "-256", "prefix extension of 8 does not accommodate a subnet numbered -256"),
            ("10.0.0.0/16", "-16", "1", "panic in function implementation: runtime error: index out of range [-1]"),
        ];
        for (p, b, x, want) in errs {
            assert_eq!(c(p, b, x), format!("ERR: {want}."), "{p} {b} {x}");
        }
    }

    #[test]
    fn cidrsubnets_like_terraform() {
        let c = |p: &str, bits: &[&str]| {
            let mut args = vec![s(p)];
            args.extend(bits.iter().map(|b| n(b)));
            ok("cidrsubnets", args)
        };
        assert_eq!(
            c("10.0.0.0/16", &["4", "4", "8", "4"]),
            r#"["10.0.0.0/20","10.0.16.0/20","10.0.32.0/24","10.0.48.0/20"]"#
        );
        assert_eq!(c("10.0.0.0/16", &[]), "[]");
        let empty = call_fn("cidrsubnets", vec![s("10.0.0.0/16")]).expect("list");
        assert_eq!(empty.ty(), Type::list(Type::String));
        assert_eq!(
            c("fd00::/48", &["16", "16", "1"]),
            r#"["fd00::/64","fd00:0:0:1::/64","fd00:0:0:8000::/49"]"#
        );
        assert_eq!(
            c("fd00::/120", &["8", "1"]),
            r#"["fd00::/128","fd00::80/121"]"#
        );
        let bad = |p: &str, bits: &[&str], want: &str| {
            assert_eq!(
                c(p, bits),
                format!("ERR: Invalid value for \"newbits\" parameter: {want}."),
                "{p} {bits:?}"
            );
        };
        bad(
            "10.0.0.0/16",
            &["0"],
            "must extend prefix by at least one bit",
        );
        bad(
            "10.0.0.0/16",
            &["33"],
            "may not extend prefix by more than 32 bits",
        );
        bad(
            "10.0.0.0/16",
            &["17"],
            "would extend prefix to 33 bits, which is too long for an IPv4 address",
        );
        bad(
            "10.0.0.0/16",
            &["1", "1", "1"],
            "not enough remaining address space for a subnet with a prefix of 17 bits after 10.0.128.0/17",
        );
        bad(
            "10.0.0.0/16",
            &["1.5"],
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807",
        );
        bad(
            "::ffff:10.0.0.0/104",
            &["4"],
            "not enough remaining address space for a subnet with a prefix of 108 bits after <nil>",
        );
        bad(
            "0.0.0.0/0",
            &["1", "1"],
            "not enough remaining address space for a subnet with a prefix of 1 bits after 128.0.0.0/1",
        );
        assert_eq!(
            c("x", &["1"]),
            "ERR: Invalid value for \"prefix\" parameter: invalid CIDR expression: invalid CIDR address: x."
        );
    }
}
