//! The date and time functions of Terraform's library: `formatdate`, `timeadd`, `timecmp`,
//! `timestamp` and `plantimestamp`.
//!
//! Timestamps are RFC 3339 strings. Two parsers are reproduced, because Terraform uses both:
//! go-cty's strict one (`formatdate`, `timeadd`) and Go's more lenient `time.Parse` (Terraform's
//! own `timecmp`), each with the error messages Terraform derives from Go's `ParseError`.
//! Durations follow Go's `time.ParseDuration`. Arithmetic goes through `chrono` on a UTC
//! instant plus the fixed offset the timestamp was written with, which is kept for output.
//!
//! `timestamp` is impure: unknown while planning (the call machinery does that), the current
//! UTC time otherwise. `plantimestamp` is known while planning and keeps its value through
//! the apply: the plan's timestamp, which the caller passes in `FnCtx::plan_timestamp`.
//! Implementations receive known, unmarked, already-converted arguments and must never log
//! argument values.

use super::filesystem::gocompat::go_quote;
use super::util::str_arg;
use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::types::Type;
use crate::value::Value;
use chrono::{Datelike, NaiveDate, Timelike};

pub(super) fn register(r: &mut Registry) {
    r.add(Function::new(
        "formatdate",
        vec![
            Param::new("format", Type::String),
            Param::new("time", Type::String),
        ],
        Ret::Fixed(Type::String),
        formatdate,
    ));
    r.add(Function::new(
        "timeadd",
        vec![
            Param::new("timestamp", Type::String),
            Param::new("duration", Type::String),
        ],
        Ret::Fixed(Type::String),
        timeadd,
    ));
    r.add(Function::new(
        "timecmp",
        vec![
            Param::new("timestamp_a", Type::String),
            Param::new("timestamp_b", Type::String),
        ],
        Ret::Fixed(Type::Number),
        timecmp,
    ));
    r.add(Function::new("timestamp", vec![], Ret::Fixed(Type::String), now).impure());
    // Not impure: Terraform knows the plan's timestamp while planning.
    r.add(Function::new(
        "plantimestamp",
        vec![],
        Ret::Fixed(Type::String),
        plan_timestamp,
    ));
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

fn formatdate(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let format = str_arg(args, 0)?;
    let t = parse_strict(str_arg(args, 1)?).map_err(|e| arg_fail(1, "time", e))?;
    let out = format_date(format.as_bytes(), &t).map_err(|e| arg_fail(0, "format", e))?;
    Ok(Value::string(out))
}

fn timeadd(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let t = parse_strict(str_arg(args, 0)?).map_err(fail)?;
    let d = baton_core::duration::parse_nanos(str_arg(args, 1)?).map_err(fail)?;
    let secs = t.unix + d.div_euclid(1_000_000_000);
    let nsec = i64::from(t.nsec) + d.rem_euclid(1_000_000_000);
    let moved = Time {
        unix: secs + nsec.div_euclid(1_000_000_000),
        nsec: u32::try_from(nsec.rem_euclid(1_000_000_000)).unwrap_or(0),
        offset: t.offset,
    };
    Ok(Value::string(format_rfc3339(&moved)))
}

fn timecmp(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let a = parse_lenient(str_arg(args, 0)?).map_err(|e| arg_fail(0, "timestamp_a", e))?;
    let b = parse_lenient(str_arg(args, 1)?).map_err(|e| arg_fail(1, "timestamp_b", e))?;
    let ord = (a.unix, a.nsec).cmp(&(b.unix, b.nsec));
    Ok(Value::int(ord as i64))
}

fn now(_: &FnCtx<'_>, _: &[Value]) -> FnResult {
    let n = chrono::Utc::now();
    let t = Time {
        unix: n.timestamp(),
        nsec: 0,
        offset: 0,
    };
    Ok(Value::string(format_rfc3339(&t)))
}

/// `plantimestamp()`: Terraform records the plan's start time (UTC, whole seconds) in the
/// plan and returns it, during planning and again while applying that plan — also when the
/// plan was saved to a file and is applied by a later process. The engine passes the plan's
/// timestamp in the context; without one (validate, constants) the value is unknown, as
/// Terraform's validate walk has no plan time.
fn plan_timestamp(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    Ok(match ctx.plan_timestamp {
        Some(t) => Value::string(t),
        None => Value::unknown(Type::String),
    })
}

/// An instant (Unix seconds and nanoseconds) with the UTC offset it was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Time {
    unix: i64,
    nsec: u32,
    offset: i32,
}

/// The wall-clock fields of a [`Time`] in its own offset.
struct Civil {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: chrono::Weekday,
}

impl Time {
    /// Go's `time.Date(...)` in a fixed zone.
    #[allow(clippy::too_many_arguments)]
    fn from_fields(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        min: u32,
        sec: u32,
        nsec: u32,
        offset: i32,
    ) -> Option<Time> {
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        let local = date.and_hms_opt(hour, min, sec)?.and_utc().timestamp();
        Some(Time {
            unix: local - i64::from(offset),
            nsec,
            offset,
        })
    }

    fn civil(&self) -> Option<Civil> {
        let local = chrono::DateTime::from_timestamp(self.unix + i64::from(self.offset), 0)?;
        Some(Civil {
            year: local.year(),
            month: local.month(),
            day: local.day(),
            hour: local.hour(),
            minute: local.minute(),
            second: local.second(),
            weekday: local.weekday(),
        })
    }
}

/// Go's `appendInt(b, x, width)`: zero-padded, with a leading '-' for negatives.
fn pad(x: i64, width: usize) -> String {
    if x < 0 {
        format!("-{:0width$}", x.unsigned_abs())
    } else {
        format!("{x:0width$}")
    }
}

/// Go's `Format("Z07:00")` / `"-07:00"` / `"-0700"` of an offset.
fn format_offset(offset: i32, z_for_utc: bool, colon: bool) -> String {
    if offset == 0 && z_for_utc {
        return "Z".into();
    }
    let minutes = offset / 60;
    let (sign, m) = if minutes < 0 {
        ('-', -minutes)
    } else {
        ('+', minutes)
    };
    let sep = if colon { ":" } else { "" };
    format!("{sign}{:02}{sep}{:02}", m / 60, m % 60)
}

/// Go's `t.Format(time.RFC3339)`.
fn format_rfc3339(t: &Time) -> String {
    match t.civil() {
        Some(c) => format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            pad(i64::from(c.year), 4),
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            format_offset(t.offset, true, true)
        ),
        None => String::new(),
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn weekday_name(d: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match d {
        Mon => "Monday",
        Tue => "Tuesday",
        Wed => "Wednesday",
        Thu => "Thursday",
        Fri => "Friday",
        Sat => "Saturday",
        Sun => "Sunday",
    }
}

fn is_verb(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

/// go-cty's `splitDateFormat`, run over the whole format at once (as `bufio.Scanner` does
/// for any format shorter than its 64 KiB token limit).
fn split_date_format(data: &[u8]) -> Vec<&[u8]> {
    const ESC: u8 = b'\'';
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = if rest[0] == ESC {
            if rest.len() > 1 && rest[1] == ESC {
                2
            } else {
                let mut end = rest.len();
                let mut i = 1;
                while i < rest.len() {
                    if rest[i] == ESC {
                        if i + 1 == rest.len() {
                            end = rest.len();
                            break;
                        }
                        if rest[i + 1] == ESC {
                            i += 2;
                            continue;
                        }
                        end = i + 1;
                        break;
                    }
                    i += 1;
                }
                end
            }
        } else if is_verb(rest[0]) {
            rest.iter()
                .position(|b| *b != rest[0])
                .unwrap_or(rest.len())
        } else {
            rest.iter()
                .skip(1)
                .position(|b| *b == ESC || is_verb(*b))
                .map_or(rest.len(), |p| p + 1)
        };
        let (tok, tail) = rest.split_at(n);
        out.push(tok);
        rest = tail;
    }
    out
}

fn put(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(s.as_bytes());
}

/// go-cty's `formatdate` over a parsed timestamp.
fn format_date(format: &[u8], t: &Time) -> Result<String, String> {
    const ESC: u8 = b'\'';
    let c = t
        .civil()
        .ok_or_else(|| "timestamp out of range".to_string())?;
    let mut buf: Vec<u8> = Vec::new();
    for tok in split_date_format(format) {
        let verb = || go_quote(tok);
        let n = tok.len();
        match tok[0] {
            ESC => {
                if tok[n - 1] != ESC || n == 1 {
                    return Err("unterminated literal '".into());
                }
                if n == 2 {
                    put(&mut buf, "'");
                } else {
                    let raw = &tok[1..n - 1];
                    let mut i = 0;
                    let mut lit = Vec::new();
                    while i < raw.len() {
                        lit.push(raw[i]);
                        if raw[i] == ESC {
                            i += 1;
                        }
                        i += 1;
                    }
                    put(&mut buf, &String::from_utf8_lossy(&lit));
                }
            }
            b'Y' => match n {
                2 => put(&mut buf, &format!("{:02}", c.year % 100)),
                4 => put(&mut buf, &format!("{:04}", c.year)),
                _ => {
                    return Err(format!(
                        "invalid date format verb {}: year must either be \"YY\" or \"YYYY\"",
                        verb()
                    ))
                }
            },
            b'M' => match n {
                1 => put(&mut buf, &c.month.to_string()),
                2 => put(&mut buf, &format!("{:02}", c.month)),
                3 | 4 => {
                    let name = MONTHS
                        .get(c.month.saturating_sub(1) as usize)
                        .copied()
                        .unwrap_or("");
                    put(&mut buf, if n == 3 { name.get(..3).unwrap_or(name) } else { name });
                }
                _ => {
                    return Err(format!(
                        "invalid date format verb {}: month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"",
                        verb()
                    ))
                }
            },
            b'D' => match n {
                1 => put(&mut buf, &c.day.to_string()),
                2 => put(&mut buf, &format!("{:02}", c.day)),
                _ => {
                    return Err(format!(
                        "invalid date format verb {}: day of month must either be \"D\" or \"DD\"",
                        verb()
                    ))
                }
            },
            b'E' => {
                let name = weekday_name(c.weekday);
                match n {
                    3 => put(&mut buf, name.get(..3).unwrap_or(name)),
                    4 => put(&mut buf, name),
                    _ => {
                        return Err(format!(
                            "invalid date format verb {}: day of week must either be \"EEE\" or \"EEEE\"",
                            verb()
                        ))
                    }
                }
            }
            b'h' => match n {
                1 => put(&mut buf, &c.hour.to_string()),
                2 => put(&mut buf, &format!("{:02}", c.hour)),
                _ => {
                    return Err(format!(
                        "invalid date format verb {}: 24-hour must either be \"h\" or \"hh\"",
                        verb()
                    ))
                }
            },
            b'H' => {
                let h = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                match n {
                    1 => put(&mut buf, &h.to_string()),
                    2 => put(&mut buf, &format!("{h:02}")),
                    _ => {
                        return Err(format!(
                            "invalid date format verb {}: 12-hour must either be \"H\" or \"HH\"",
                            verb()
                        ))
                    }
                }
            }
            b'A' | b'a' => {
                if n != 2 {
                    let l = tok[0] as char;
                    return Err(format!(
                        "invalid date format verb {}: must be \"{l}{l}\"",
                        verb()
                    ));
                }
                let pm = c.hour >= 12;
                put(&mut buf, match (tok[0] == b'A', pm) {
                    (true, false) => "AM",
                    (true, true) => "PM",
                    (false, false) => "am",
                    (false, true) => "pm",
                });
            }
            b'm' => match n {
                1 => put(&mut buf, &c.minute.to_string()),
                2 => put(&mut buf, &format!("{:02}", c.minute)),
                _ => {
                    return Err(format!(
                        "invalid date format verb {}: minute must either be \"m\" or \"mm\"",
                        verb()
                    ))
                }
            },
            b's' => match n {
                1 => put(&mut buf, &c.second.to_string()),
                2 => put(&mut buf, &format!("{:02}", c.second)),
                _ => {
                    return Err(format!(
                        "invalid date format verb {}: second must either be \"s\" or \"ss\"",
                        verb()
                    ))
                }
            },
            b'Z' => match n {
                1 => put(&mut buf, &format_offset(t.offset, true, true)),
                3 => {
                    let s = format_offset(t.offset, false, false);
                    put(&mut buf, if s == "+0000" { "UTC" } else { &s });
                }
                4 => put(&mut buf, &format_offset(t.offset, false, false)),
                5 => put(&mut buf, &format_offset(t.offset, false, true)),
                _ => {
                    return Err(format!(
                        "invalid date format verb {}: timezone must be Z, ZZZZ, or ZZZZZ",
                        verb()
                    ))
                }
            },
            b if is_verb(b) => return Err(format!("invalid date format verb {}", verb())),
            _ => buf.extend_from_slice(tok),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Go's `time.ParseError`, reduced to what Terraform looks at.
#[derive(Debug)]
struct ParseError {
    layout_elem: &'static str,
    value_elem: Vec<u8>,
    message: String,
}

fn perr(layout_elem: &'static str, value_elem: &[u8], message: &str) -> ParseError {
    ParseError {
        layout_elem,
        value_elem: value_elem.to_vec(),
        message: message.to_string(),
    }
}

/// The message Terraform derives from a `ParseError`. `strict` selects go-cty's newer
/// wording (with its special cases for hours and minutes) over Terraform's own.
fn describe(e: &ParseError, strict: bool) -> String {
    const P: &str = "not a valid RFC3339 timestamp";
    if e.layout_elem.is_empty() && e.value_elem.is_empty() && !e.message.is_empty() {
        return format!("{P}{}", e.message);
    }
    let what = match e.layout_elem {
        "2006" => "year",
        "01" => "month",
        "02" => "day of month",
        "15" => "hour",
        "04" => "minute",
        "05" => "second",
        "Z07:00" => "UTC offset",
        "T" => return format!("{P}: missing required time introducer 'T'"),
        ":" | "-" => {
            let want = go_quote(e.layout_elem.as_bytes());
            return if e.value_elem.is_empty() {
                format!("{P}: end of string where {want} is expected")
            } else {
                format!(
                    "{P}: found {} where {want} is expected",
                    go_quote(&e.value_elem)
                )
            };
        }
        _ => "timestamp segment",
    };
    if e.value_elem.is_empty() {
        return format!("{P}: end of string before {what}");
    }
    if strict {
        if what == "hour" && e.value_elem.contains(&b':') {
            return format!("{P}: hour must be between 0 and 23 inclusive");
        }
        if what == "hour" && e.value_elem.len() != 2 {
            return format!("{P}: hour must have exactly two digits");
        }
        if what == "minute" && e.value_elem.len() != 2 {
            return format!("{P}: minute must have exactly two digits");
        }
    }
    format!("{P}: cannot use {} as {what}", go_quote(&e.value_elem))
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `getnum`: one or two leading digits (exactly two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(u32, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    let d0 = u32::from(s[0] - b'0');
    if !is_digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((d0, &s[1..]));
    }
    Some((d0 * 10 + u32::from(s[1] - b'0'), &s[2..]))
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: u32, year: i32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `parseNanoseconds` for a run of digits after the separator at `v[0]`.
fn nanoseconds(v: &[u8], n: usize) -> u32 {
    let digits = &v[1..n.min(10)];
    let mut ns: u32 = 0;
    for d in digits {
        ns = ns * 10 + u32::from(d - b'0');
    }
    for _ in digits.len()..9 {
        ns *= 10;
    }
    ns
}

/// Go 1.23's general `time.parse` for the layout `time.RFC3339` (lenient: one-digit hours, a
/// comma before fractional seconds, offsets up to 24:60).
fn parse_go(value: &[u8]) -> Result<Time, ParseError> {
    let mut v = value;
    let skip = |v: &mut &[u8], c: u8| -> Result<(), ParseError> {
        if v.first() != Some(&c) {
            return Err(ParseError {
                layout_elem: match c {
                    b'-' => "-",
                    b'T' => "T",
                    _ => ":",
                },
                value_elem: v.to_vec(),
                message: String::new(),
            });
        }
        *v = &v[1..];
        Ok(())
    };
    // Year: four digits.
    let hold = v;
    if v.len() < 4 || !is_digit(v, 0) || !v[..4].iter().all(u8::is_ascii_digit) {
        return Err(perr("2006", hold, ""));
    }
    let year = v[..4]
        .iter()
        .fold(0i32, |a, d| a * 10 + i32::from(d - b'0'));
    v = &v[4..];
    skip(&mut v, b'-')?;
    let hold = v;
    let (month, rest) = getnum(v, true).ok_or_else(|| perr("01", hold, ""))?;
    v = rest;
    if month == 0 || month > 12 {
        return Err(perr("01", v, ": month out of range"));
    }
    skip(&mut v, b'-')?;
    let hold = v;
    let (day, rest) = getnum(v, true).ok_or_else(|| perr("02", hold, ""))?;
    v = rest;
    skip(&mut v, b'T')?;
    let hold = v;
    let (hour, rest) = getnum(v, false).ok_or_else(|| perr("15", hold, ""))?;
    v = rest;
    if hour >= 24 {
        return Err(perr("15", v, ": hour out of range"));
    }
    skip(&mut v, b':')?;
    let hold = v;
    let (minute, rest) = getnum(v, true).ok_or_else(|| perr("04", hold, ""))?;
    v = rest;
    if minute >= 60 {
        return Err(perr("04", v, ": minute out of range"));
    }
    skip(&mut v, b':')?;
    let hold = v;
    let (second, rest) = getnum(v, true).ok_or_else(|| perr("05", hold, ""))?;
    v = rest;
    if second >= 60 {
        return Err(perr("05", v, ": second out of range"));
    }
    let mut nsec = 0;
    if v.len() >= 2 && (v[0] == b'.' || v[0] == b',') && is_digit(v, 1) {
        let mut n = 2;
        while is_digit(v, n) {
            n += 1;
        }
        nsec = nanoseconds(v, n);
        v = &v[n..];
    }
    // Offset: "Z" or ±hh:mm.
    let hold = v;
    let offset: i32 = if v.first() == Some(&b'Z') {
        v = &v[1..];
        0
    } else {
        let bad = || perr("Z07:00", hold, "");
        if v.len() < 6 || v[3] != b':' {
            return Err(bad());
        }
        let sign = v[0];
        let (hr, _) = getnum(&v[1..3], true).ok_or_else(bad)?;
        let (mm, _) = getnum(&v[4..6], true).ok_or_else(bad)?;
        v = &v[6..];
        let mut range = "";
        if hr > 24 {
            range = ": time zone offset hour out of range";
        }
        if mm > 60 {
            range = ": time zone offset minute out of range";
        }
        if !range.is_empty() {
            return Err(perr("Z07:00", v, range));
        }
        let secs = i32::try_from((hr * 60 + mm) * 60).unwrap_or(0);
        match sign {
            b'+' => secs,
            b'-' => -secs,
            _ => return Err(bad()),
        }
    };
    if !v.is_empty() {
        return Err(ParseError {
            layout_elem: "",
            value_elem: v.to_vec(),
            message: format!(": extra text: {}", go_quote(v)),
        });
    }
    if day < 1 || day > days_in(month, year) {
        return Err(perr("", v, ": day out of range"));
    }
    Time::from_fields(year, month, day, hour, minute, second, nsec, offset)
        .ok_or_else(|| perr("", b"", ": day out of range"))
}

/// The strict RFC 3339 fast path (go-cty's `parseRFC3339`, also Go's).
fn parse_fast(s: &[u8]) -> Option<Time> {
    if s.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>, min: u32, max: u32| -> Option<u32> {
        let mut x: u32 = 0;
        for c in &s[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            x = x * 10 + u32::from(c - b'0');
        }
        (min..=max).contains(&x).then_some(x)
    };
    let year = i32::try_from(num(0..4, 0, 9999)?).ok()?;
    let month = num(5..7, 1, 12)?;
    let day = num(8..10, 1, days_in(month, year))?;
    let hour = num(11..13, 0, 23)?;
    let min = num(14..16, 0, 59)?;
    let sec = num(17..19, 0, 59)?;
    if !(s[4] == b'-' && s[7] == b'-' && s[10] == b'T' && s[13] == b':' && s[16] == b':') {
        return None;
    }
    let mut rest = &s[19..];
    let mut nsec = 0;
    if rest.len() >= 2 && rest[0] == b'.' && is_digit(rest, 1) {
        let mut n = 2;
        while is_digit(rest, n) {
            n += 1;
        }
        nsec = nanoseconds(rest, n);
        rest = &rest[n..];
    }
    let offset = if rest == b"Z" {
        0
    } else {
        if rest.len() != 6 {
            return None;
        }
        let hr = i32::try_from(num_in(rest, 1..3, 0, 23)?).ok()?;
        let mm = i32::try_from(num_in(rest, 4..6, 0, 59)?).ok()?;
        if !((rest[0] == b'-' || rest[0] == b'+') && rest[3] == b':') {
            return None;
        }
        let secs = (hr * 60 + mm) * 60;
        if rest[0] == b'-' {
            -secs
        } else {
            secs
        }
    };
    Time::from_fields(year, month, day, hour, min, sec, nsec, offset)
}

fn num_in(s: &[u8], r: std::ops::Range<usize>, min: u32, max: u32) -> Option<u32> {
    let mut x: u32 = 0;
    for c in s.get(r)? {
        if !c.is_ascii_digit() {
            return None;
        }
        x = x * 10 + u32::from(c - b'0');
    }
    (min..=max).contains(&x).then_some(x)
}

/// go-cty's `parseStrictRFC3339` with its error messages (`formatdate`, `timeadd`).
fn parse_strict(s: &str) -> Result<Time, String> {
    let b = s.as_bytes();
    if let Some(t) = parse_fast(b) {
        return Ok(t);
    }
    if let Err(e) = parse_go(b) {
        return Err(describe(&e, true));
    }
    // Go accepted what RFC 3339 does not: find out why, as go-cty does.
    let num2 = |x: &[u8]| -> u8 {
        let d = |c: u8| c.wrapping_sub(b'0');
        d(x[0]).wrapping_mul(10).wrapping_add(d(x[1]))
    };
    let err = if b.get(12) == Some(&b':') {
        Some(perr("15", &b[11..12], ": hour must have two digits"))
    } else if b.get(19) == Some(&b',') {
        Some(perr(".", b",", ": sub-second separator must be a period"))
    } else if b.last() != Some(&b'Z') && b.len() >= 6 {
        let tail = &b[b.len() - 6..];
        if num2(&tail[1..3]) >= 24 {
            Some(perr("Z07:00", tail, ": timezone hour out of range"))
        } else if num2(&tail[4..6]) >= 60 {
            Some(perr("Z07:00", tail, ": timezone minute out of range"))
        } else {
            None
        }
    } else if b.last() == Some(&b'Z') {
        Some(ParseError {
            layout_elem: "2006-01-02T15:04:05Z07:00",
            value_elem: b.to_vec(),
            message: String::new(),
        })
    } else {
        None
    };
    match err {
        Some(e) => Err(describe(&e, true)),
        // go-cty returns Go's zero time here.
        None => Ok(Time {
            unix: -62_135_596_800,
            nsec: 0,
            offset: 0,
        }),
    }
}

/// Go's `time.Parse(time.RFC3339, s)` with Terraform's error messages (`timecmp`).
fn parse_lenient(s: &str) -> Result<Time, String> {
    let b = s.as_bytes();
    if let Some(t) = parse_fast(b) {
        return Ok(t);
    }
    parse_go(b).map_err(|e| describe(&e, false))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn ok(name: &str, args: Vec<Value>) -> String {
        match call_fn(name, args) {
            Ok(v) => v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}", v.to_json())),
            Err(e) => format!("ERR: {}", e.message),
        }
    }

    fn fd(format: &str, time: &str) -> String {
        ok("formatdate", vec![s(format), s(time)])
    }

    #[test]
    fn formatdate_verbs() {
        assert_eq!(
            fd(
                "YYYY-MM-DD hh:mm:ss ZZZZZ ZZZZ ZZZ Z",
                "2023-01-02T15:04:05+05:30"
            ),
            "2023-01-02 15:04:05 +05:30 +0530 +0530 +05:30"
        );
        assert_eq!(
            fd(
                "YY M D h H HH AA aa m s EEE EEEE MMM MMMM",
                "2023-01-02T00:04:05Z"
            ),
            "23 1 2 0 12 12 AM am 4 5 Mon Monday Jan January"
        );
        assert_eq!(fd("HH AA", "2023-01-02T12:03:05Z"), "12 PM");
        assert_eq!(fd("HH aa", "2023-01-02T23:03:05Z"), "11 pm");
        assert_eq!(fd("Z ZZZ", "2023-01-02T10:03:05-00:00"), "Z UTC");
        assert_eq!(
            fd("Z ZZZ ZZZZ", "2023-01-02T10:03:05-09:59"),
            "-09:59 -0959 -0959"
        );
        assert_eq!(fd("EEEE YY", "0000-01-01T00:00:00Z"), "Saturday 00");
        assert_eq!(fd("", "2023-01-02T10:03:05Z"), "");
        assert_eq!(fd("-:/ 123 é", "2023-01-02T10:03:05Z"), "-:/ 123 é");
        assert_eq!(
            fd("YYYY-MM-DD", "2023-01-02T10:03:05.123456789123Z"),
            "2023-01-02"
        );
    }

    #[test]
    fn formatdate_literals() {
        assert_eq!(fd("YYYY'abc'", "2023-01-02T00:04:05Z"), "2023abc");
        assert_eq!(fd("'abc' YYYY", "2023-01-02T00:04:05Z"), "abc 2023");
        assert_eq!(fd("h'h'mm", "2023-01-02T10:03:05Z"), "10h03");
        assert_eq!(fd("''", "2023-01-02T10:03:05Z"), "'");
        assert_eq!(fd("''''", "2023-01-02T10:03:05Z"), "''");
        assert_eq!(fd("'it''s' ", "2023-01-02T10:03:05Z"), "it's ");
        assert_eq!(fd("'abc''", "2023-01-02T10:03:05Z"), "abc'");
        let t = "2023-01-02T10:03:05Z";
        assert_eq!(
            fd("'abc", t),
            "ERR: Invalid value for \"format\" parameter: unterminated literal '."
        );
        assert_eq!(
            fd("'", t),
            "ERR: Invalid value for \"format\" parameter: unterminated literal '."
        );
    }

    #[test]
    fn formatdate_bad_verbs() {
        let t = "2023-01-02T10:03:05Z";
        let cases = [
            ("YYY", "invalid date format verb \"YYY\": year must either be \"YY\" or \"YYYY\""),
            ("MMMMM", "invalid date format verb \"MMMMM\": month must be \"M\", \"MM\", \"MMM\", or \"MMMM\""),
            ("DDD", "invalid date format verb \"DDD\": day of month must either be \"D\" or \"DD\""),
            ("EE", "invalid date format verb \"EE\": day of week must either be \"EEE\" or \"EEEE\""),
            ("hhh", "invalid date format verb \"hhh\": 24-hour must either be \"h\" or \"hh\""),
            ("HHH", "invalid date format verb \"HHH\": 12-hour must either be \"H\" or \"HH\""),
            ("A", "invalid date format verb \"A\": must be \"AA\""),
            ("aaa", "invalid date format verb \"aaa\": must be \"aa\""),
            ("mmm", "invalid date format verb \"mmm\": minute must either be \"m\" or \"mm\""),
            ("sss", "invalid date format verb \"sss\": second must either be \"s\" or \"ss\""),
            ("ZZ", "invalid date format verb \"ZZ\": timezone must be Z, ZZZZ, or ZZZZZ"),
            ("ZZZZZZ", "invalid date format verb \"ZZZZZZ\": timezone must be Z, ZZZZ, or ZZZZZ"),
            ("q", "invalid date format verb \"q\""),
        ];
        for (f, want) in cases {
            assert_eq!(
                fd(f, t),
                format!("ERR: Invalid value for \"format\" parameter: {want}."),
                "{f}"
            );
        }
        // The timestamp is checked before the format.
        assert_eq!(
            fd("YYY", "bad"),
            "ERR: Invalid value for \"time\" parameter: not a valid RFC3339 timestamp: cannot use \"bad\" as year."
        );
    }

    #[test]
    fn strict_timestamp_errors() {
        let cases = [
            (
                "2000-01-01T00:00:00+25:00",
                "end of string before UTC offset",
            ),
            (
                "2000-01-01T00:00:00+24:00",
                "cannot use \"+24:00\" as UTC offset",
            ),
            (
                "2000-01-01T00:00:00+23:60",
                "cannot use \"+23:60\" as UTC offset",
            ),
            (
                "2000-01-01T00:00:00+23:61",
                "end of string before UTC offset",
            ),
            (
                "2000-01-01T24:00:00Z",
                "hour must be between 0 and 23 inclusive",
            ),
            (
                "2000-01-01T00:60:00Z",
                "minute must have exactly two digits",
            ),
            ("2000-01-01T00:00:60Z", "cannot use \"Z\" as second"),
            ("2000-02-30T00:00:00Z", "day out of range"),
            (
                "2000-00-01T00:00:00Z",
                "cannot use \"-01T00:00:00Z\" as month",
            ),
            ("2000-01-01T00:00:00", "end of string before UTC offset"),
            ("2000-01-01", "missing required time introducer 'T'"),
            (
                "2000-01-01T00:00:00Zx",
                "cannot use \"x\" as timestamp segment",
            ),
            ("2000-01-01T00:00:00.Z", "cannot use \".Z\" as UTC offset"),
            (
                "2000-01-01T00:00:00 00:00",
                "cannot use \" 00:00\" as UTC offset",
            ),
            (
                "2000/01/01T00:00:00Z",
                "found \"/01/01T00:00:00Z\" where \"-\" is expected",
            ),
            (
                "2000-1-01T00:00:00Z",
                "cannot use \"1-01T00:00:00Z\" as month",
            ),
            ("", "end of string before year"),
            (
                "2000-01-01T00:00:00+0100",
                "cannot use \"+0100\" as UTC offset",
            ),
            ("2000-01-01T00", "end of string where \":\" is expected"),
            (
                "2000-01-01T00:00:00+01:00:00",
                "cannot use \":00\" as timestamp segment",
            ),
            (
                "2000-01-01T00:00:00+-1:00",
                "cannot use \"+-1:00\" as UTC offset",
            ),
            ("2000-01-01T00:00:00é", "cannot use \"é\" as UTC offset"),
            (
                "2000-01-01 00:00:00Z",
                "missing required time introducer 'T'",
            ),
            ("2000-01-0", "cannot use \"0\" as day of month"),
            (
                "2000-01-01T00:00:00,5+01:00",
                "cannot use \",\" as timestamp segment",
            ),
            ("2000-01-01T1:00:00Z", "hour must have exactly two digits"),
            (
                "2-12-02T00:00:00Z",
                "cannot use \"2-12-02T00:00:00Z\" as year",
            ),
        ];
        for (ts, want) in cases {
            assert_eq!(
                parse_strict(ts).err().as_deref(),
                Some(format!("not a valid RFC3339 timestamp: {want}").as_str()),
                "{ts}"
            );
        }
    }

    #[test]
    fn timeadd_like_terraform() {
        let ta = |t: &str, d: &str| ok("timeadd", vec![s(t), s(d)]);
        assert_eq!(
            ta("2023-01-02T10:03:05.999Z", "1.5h"),
            "2023-01-02T11:33:05Z"
        );
        assert_eq!(
            ta("2023-01-02T10:03:05+05:00", "-10s"),
            "2023-01-02T10:02:55+05:00"
        );
        assert_eq!(
            ta("0000-01-01T00:00:00Z", "-2562047h"),
            "-0293-09-22T01:00:00Z"
        );
        assert_eq!(
            ta("9999-12-31T23:59:59Z", "2562047h"),
            "10292-04-10T22:59:59Z"
        );
        assert_eq!(
            ta("2023-01-02T10:03:05Z", "1h2m3s4ms5us6µs7ns"),
            "2023-01-02T11:05:08Z"
        );
        assert_eq!(ta("2023-01-02T10:03:05Z", "0"), "2023-01-02T10:03:05Z");
        assert_eq!(ta("2023-01-02T10:03:05Z", "+.5s"), "2023-01-02T10:03:05Z");
        assert_eq!(
            ta("2023-01-02T10:03:05+00:00", "1s"),
            "2023-01-02T10:03:06Z"
        );
        assert_eq!(
            ta("2000-01-01T00:00:00Z", "-9223372036854775808ns"),
            "1707-09-22T00:12:43Z"
        );
        assert_eq!(ta("2000-01-01T00:00:00Z", "1.h"), "2000-01-01T01:00:00Z");
        assert_eq!(ta("2000-01-01T00:00:00Z", "1μs"), "2000-01-01T00:00:00Z");
        let errs = [
            (
                "bad",
                "1h",
                "not a valid RFC3339 timestamp: cannot use \"bad\" as year",
            ),
            (
                "2000-01-01T1:00:00Z",
                "1s",
                "not a valid RFC3339 timestamp: hour must have exactly two digits",
            ),
            ("2000-01-01T00:00:00Z", "", "time: invalid duration \"\""),
            (
                "2000-01-01T00:00:00Z",
                "1",
                "time: missing unit in duration \"1\"",
            ),
            (
                "2000-01-01T00:00:00Z",
                "1x",
                "time: unknown unit \"x\" in duration \"1x\"",
            ),
            (
                "2000-01-01T00:00:00Z",
                "1 h",
                "time: unknown unit \" h\" in duration \"1 h\"",
            ),
            ("2000-01-01T00:00:00Z", "-", "time: invalid duration \"-\""),
            (
                "2000-01-01T00:00:00Z",
                ".h",
                "time: invalid duration \".h\"",
            ),
            (
                "2000-01-01T00:00:00Z",
                "9999999999999999999h",
                "time: invalid duration \"9999999999999999999h\"",
            ),
            (
                "2000-01-01T00:00:00Z",
                "2562048h",
                "time: invalid duration \"2562048h\"",
            ),
            (
                "2000-01-01T00:00:00Z",
                "1hé",
                "time: unknown unit \"h\\xc3\\xa9\" in duration \"1h\\xc3\\xa9\"",
            ),
            (
                "2000-01-01T00:00:00Z",
                "9223372036854775808ns",
                "time: invalid duration \"9223372036854775808ns\"",
            ),
            (
                "2000-01-01T00:00:00Z",
                "\"",
                "time: invalid duration \"\\\"\"",
            ),
        ];
        for (t, d, want) in errs {
            assert_eq!(ta(t, d), format!("ERR: {want}."), "{t} {d}");
        }
    }

    #[test]
    fn timecmp_uses_the_lenient_parser() {
        let tc = |a: &str, b: &str| ok("timecmp", vec![s(a), s(b)]);
        assert_eq!(tc("2023-01-02T10:03:05+01:00", "2023-01-02T09:03:05Z"), "0");
        assert_eq!(tc("2023-01-02T10:03:05.1Z", "2023-01-02T10:03:05Z"), "1");
        assert_eq!(
            tc("2023-01-02T10:03:05Z", "2023-01-02T10:03:05.000001Z"),
            "-1"
        );
        assert_eq!(tc("2000-01-01T1:00:00Z", "2000-01-01T00:00:00Z"), "1");
        assert_eq!(tc("2000-01-01T00:00:00,5Z", "2000-01-01T00:00:00Z"), "1");
        assert_eq!(
            tc("2000-01-01T00:00:00+24:00", "2000-01-01T00:00:00Z"),
            "-1"
        );
        assert_eq!(tc("2000-01-01T00:00:00-24:00", "2000-01-02T00:00:00Z"), "0");
        assert_eq!(
            tc("2000-01-01T00:00:00+23:60", "2000-01-01T00:00:00Z"),
            "-1"
        );
        assert_eq!(
            tc("bad", "2000-01-01T00:00:00Z"),
            "ERR: Invalid value for \"timestamp_a\" parameter: not a valid RFC3339 timestamp: cannot use \"bad\" as year."
        );
        assert_eq!(
            tc("2000-01-01T00:00:00Z", "2000-01-01T00:60:00Z"),
            "ERR: Invalid value for \"timestamp_b\" parameter: not a valid RFC3339 timestamp: cannot use \":00Z\" as minute."
        );
        assert_eq!(
            tc("2000-01-01T00:00:00+-1:00", "2000-01-01T00:00:00Z"),
            "ERR: Invalid value for \"timestamp_a\" parameter: not a valid RFC3339 timestamp: cannot use \"+-1:00\" as UTC offset."
        );
    }

    #[test]
    fn timestamp_is_impure() {
        let t = ok("timestamp", vec![]);
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z'));
        assert!(parse_strict(&t).is_ok());
        let sources = baton_core::Sources::new();
        let dir = std::env::temp_dir();
        let ctx = FnCtx {
            base_dir: &dir,
            sources: &sources,
            planning: true,
            plan_timestamp: None,
        };
        let f = super::super::registry()
            .get("timestamp")
            .expect("registered");
        let v = super::super::call(f, &ctx, vec![]).expect("unknown");
        assert!(!v.is_known());
        assert_eq!(v.ty(), Type::String);
    }

    #[test]
    fn plantimestamp_is_the_plans_timestamp_while_planning_and_applying() {
        let sources = baton_core::Sources::new();
        let dir = std::env::temp_dir();
        let f = super::super::registry()
            .get("plantimestamp")
            .expect("registered");
        let at = |planning: bool, plan_timestamp: Option<&str>| {
            let ctx = FnCtx {
                base_dir: &dir,
                sources: &sources,
                planning,
                plan_timestamp,
            };
            super::super::call(f, &ctx, vec![]).expect("a value")
        };
        let t = "2021-02-03T04:05:06Z";
        assert_eq!(at(true, Some(t)).as_str(), Some(t));
        assert_eq!(at(false, Some(t)).as_str(), Some(t));
        let other = "2030-01-01T00:00:00Z";
        assert_eq!(at(false, Some(other)).as_str(), Some(other));
        let none = at(true, None);
        assert!(!none.is_known());
        assert_eq!(none.ty(), Type::String);
        assert_eq!(
            ok("plantimestamp", vec![]),
            super::super::testutil::TEST_PLAN_TIMESTAMP
        );
    }
}
