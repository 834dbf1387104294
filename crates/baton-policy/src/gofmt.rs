//! Go's `fmt.Sprintf`, as OPA's `sprintf` uses it: flags (`+ - # 0` and space), widths and
//! precisions (also `*` and `[n]` argument indexes), the verbs Go applies to the values OPA
//! passes (`int`, `*big.Int`, `float64` and `string`), and Go's error forms in the output
//! (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`, `%!(NOVERB)`, `%!v(BADINDEX)`).
//!
//! Also the text OPA gives a Rego value that is not a number or string (`["a", 1]`,
//! `{"k": true}`, `{1, 2}`, `set()`), which is what `%v` of an array, object or set prints.
//!
//! Pure functions over text: nothing here knows the engine beyond `regorus::Value`. Messages
//! built here are what a denied user reads, so Go's output is the specification. Differences
//! from Go: `%b`, `%x` and `%X` of a non-integer number, and `#` on float verbs, are not
//! supported (printed as a bad verb).

use regorus::Value;

/// One `sprintf` argument as OPA hands it to Go: numbers that fit become `int`, other
/// integers `*big.Int`, other numbers `float64`; strings stay strings and any other value is
/// passed as its Rego text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Int(i64),
    /// A big integer: its sign and its magnitude's digits in bases 10, 2, 8 and 16.
    Big {
        negative: bool,
        digits: Box<BigDigits>,
    },
    Float(f64),
    Str(String),
}

/// The digits of a big integer's magnitude.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BigDigits {
    dec: String,
    bin: String,
    oct: String,
    /// Lower case.
    hex: String,
}

impl Arg {
    /// The argument OPA makes of a Rego value.
    pub(crate) fn from_value(v: &Value) -> Arg {
        match v {
            Value::String(s) => Arg::Str(s.to_string()),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    return Arg::Int(i);
                }
                if n.is_integer() {
                    let m = n.abs();
                    return Arg::Big {
                        negative: !n.is_positive(),
                        digits: Box::new(BigDigits {
                            dec: m.format_decimal(),
                            bin: m.format_bin(),
                            oct: m.format_octal(),
                            hex: m.format_hex(),
                        }),
                    };
                }
                match n.as_f64() {
                    Some(f) => Arg::Float(f),
                    None => Arg::Str(n.format_decimal()),
                }
            }
            other => Arg::Str(rego_text(other)),
        }
    }

    /// Go's `reflect.TypeOf(arg).String()`.
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int",
            Arg::Big { .. } => "*big.Int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }
}

/// The text OPA prints for a Rego value (`ast.Value.String()`): strings quoted, arrays
/// `[a, b]`, objects `{"k": v}` and sets `{a, b}` (`set()` when empty), in sorted order.
pub(crate) fn rego_text(v: &Value) -> String {
    let mut out = String::new();
    push_rego_text(&mut out, v);
    out
}

fn push_rego_text(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.format_decimal()),
        Value::String(s) => out.push_str(&go_quote(s, false)),
        Value::Array(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_rego_text(out, it);
            }
            out.push(']');
        }
        Value::Set(items) => {
            if items.is_empty() {
                out.push_str("set()");
                return;
            }
            out.push('{');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_rego_text(out, it);
            }
            out.push('}');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, val)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_rego_text(out, k);
                out.push_str(": ");
                push_rego_text(out, val);
            }
            out.push('}');
        }
        Value::Undefined => out.push_str("undefined"),
    }
}

/// The flags, width and precision of one verb (Go's `fmtFlags` with `wid`/`prec`).
#[derive(Clone, Debug, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    /// `%+v` and `%#v`: the flags `v` took over (seen by `*big.Int`, which asks for them).
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(format: &str, args: &[Arg]) -> String {
    let b = format.as_bytes();
    let end = b.len();
    let mut out = String::with_capacity(format.len() + 16);
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    while i < end {
        let mut good_arg_num = true;
        let last = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        if i > last {
            out.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        let mut f = Flags::default();
        while i < end {
            match b[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus,
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut idx = ArgIndex {
            args: args.len(),
            good: &mut good_arg_num,
            reordered: &mut reordered,
        };
        let mut after_index;
        (arg_num, i, after_index) = idx.number(arg_num, b, i);
        if i < end && b[i] == b'*' {
            i += 1;
            let (w, ok, next) = int_from_arg(args, arg_num);
            arg_num = next;
            if !ok {
                out.push_str("%!(BADWIDTH)");
            } else if w < 0 {
                f.wid = Some(usize::try_from(w.unsigned_abs()).unwrap_or(0));
                f.minus = true;
                f.zero = false;
            } else {
                f.wid = usize::try_from(w).ok();
            }
            after_index = false;
        } else {
            let (n, is_num, next) = parse_num(b, i, end);
            i = next;
            if is_num {
                f.wid = Some(n);
                if after_index {
                    *idx.good = false;
                }
            }
        }
        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                *idx.good = false;
            }
            (arg_num, i, after_index) = idx.number(arg_num, b, i);
            if i < end && b[i] == b'*' {
                i += 1;
                let (p, ok, next) = int_from_arg(args, arg_num);
                arg_num = next;
                match usize::try_from(p) {
                    Ok(p) if ok => f.prec = Some(p),
                    _ => out.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (n, is_num, next) = parse_num(b, i, end);
                i = next;
                f.prec = Some(if is_num { n } else { 0 });
            }
        }
        if !after_index {
            (arg_num, i, _) = idx.number(arg_num, b, i);
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('\u{FFFD}');
        i += verb.len_utf8();
        match verb {
            '%' => out.push('%'),
            _ if !good_arg_num => {
                out.push_str("%!");
                out.push(verb);
                out.push_str("(BADINDEX)");
            }
            _ if arg_num >= args.len() => {
                out.push_str("%!");
                out.push(verb);
                out.push_str("(MISSING)");
            }
            _ => {
                if verb == 'v' {
                    f.sharp_v = f.sharp;
                    f.sharp = false;
                    f.plus_v = f.plus;
                    f.plus = false;
                }
                print_arg(&mut out, &args[arg_num], verb, &f);
                arg_num += 1;
            }
        }
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            out.push_str(a.type_name());
            out.push('=');
            print_arg(&mut out, a, 'v', &Flags::default());
        }
        out.push(')');
    }
    out
}

/// Go's `argNumber`: an explicit `[n]` argument index.
struct ArgIndex<'a> {
    args: usize,
    good: &'a mut bool,
    reordered: &'a mut bool,
}

impl ArgIndex<'_> {
    fn number(&mut self, arg_num: usize, b: &[u8], i: usize) -> (usize, usize, bool) {
        if i >= b.len() || b[i] != b'[' {
            return (arg_num, i, false);
        }
        *self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&b[i..]);
        if let Some(index) = index.filter(|n| ok && *n < self.args) {
            return (index, i + wid, true);
        }
        *self.good = false;
        (arg_num, i + wid, ok)
    }
}

/// `[n]` at the start of `s`: the zero-based index (`None` for `[0]`), the bytes it takes
/// and whether it was well formed.
fn parse_arg_number(s: &[u8]) -> (Option<usize>, usize, bool) {
    if s.len() < 3 {
        return (None, 1, false);
    }
    for k in 1..s.len() {
        if s[k] == b']' {
            let (n, ok, next) = parse_num(s, 1, k);
            if !ok || next != k {
                return (None, k + 1, false);
            }
            return (n.checked_sub(1), k + 1, true);
        }
    }
    (None, 1, false)
}

/// Go's `parsenum`: digits from `start`, giving up (as not a number) beyond a million.
fn parse_num(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let (mut num, mut is_num, mut i) = (0usize, false, start);
    while i < end && s[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (0, false, end);
        }
        num = num * 10 + usize::from(s[i] - b'0');
        is_num = true;
        i += 1;
    }
    (num, is_num, i)
}

/// Go's `intFromArg`: a `*` width or precision.
fn int_from_arg(args: &[Arg], arg_num: usize) -> (i64, bool, usize) {
    match args.get(arg_num) {
        Some(Arg::Int(n)) if n.unsigned_abs() <= 1_000_000 => (*n, true, arg_num + 1),
        Some(_) => (0, false, arg_num + 1),
        None => (0, false, arg_num),
    }
}

fn print_arg(out: &mut String, arg: &Arg, verb: char, f: &Flags) {
    match verb {
        'T' => return pad(out, arg.type_name(), f),
        'p' => return bad_verb(out, arg, verb, f),
        _ => {}
    }
    match arg {
        Arg::Int(n) => fmt_integer(out, arg, *n, verb, f),
        Arg::Big { negative, digits } => fmt_big(out, *negative, digits, verb, f),
        Arg::Float(x) => fmt_float(out, arg, *x, verb, f),
        Arg::Str(s) => fmt_string(out, arg, s, verb, f),
    }
}

/// `%!d(string=abc)`: a verb that does not apply to the argument.
fn bad_verb(out: &mut String, arg: &Arg, verb: char, f: &Flags) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    out.push_str(arg.type_name());
    out.push('=');
    print_arg(out, arg, 'v', f);
    out.push(')');
}

/// Go's `fmt.pad`: to the width in runes, zeros or spaces on the left, spaces on the right.
fn pad(out: &mut String, s: &str, f: &Flags) {
    let n = f.wid.unwrap_or(0).saturating_sub(s.chars().count());
    if n == 0 {
        out.push_str(s);
    } else if f.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', n));
    } else {
        let c = if f.zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(c, n));
        out.push_str(s);
    }
}

/// Padding with spaces even when `0` was given (Go's numbers pad with zeros themselves).
fn pad_spaces(out: &mut String, s: &str, f: &Flags) {
    let f = Flags {
        zero: false,
        ..f.clone()
    };
    pad(out, s, &f)
}

fn fmt_string(out: &mut String, arg: &Arg, s: &str, verb: char, f: &Flags) {
    match verb {
        'v' if f.sharp_v => fmt_q(out, s, f),
        'v' | 's' => pad(out, truncate(s, f), f),
        'x' => fmt_sx(out, s, false, f),
        'X' => fmt_sx(out, s, true, f),
        'q' => fmt_q(out, s, f),
        _ => bad_verb(out, arg, verb, f),
    }
}

/// The string cut to the precision, in runes.
fn truncate<'a>(s: &'a str, f: &Flags) -> &'a str {
    match f.prec.and_then(|p| s.char_indices().nth(p)) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn fmt_q(out: &mut String, s: &str, f: &Flags) {
    let s = truncate(s, f);
    let q = if f.sharp && can_backquote(s) {
        format!("`{s}`")
    } else {
        go_quote(s, f.plus)
    };
    pad(out, &q, f)
}

/// Go's `fmtSbx`: hexadecimal bytes, `% x` spaced, `%#x` prefixed.
fn fmt_sx(out: &mut String, s: &str, upper: bool, f: &Flags) {
    let bytes = s.as_bytes();
    let length = f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
    let x = if upper { 'X' } else { 'x' };
    let mut width = 2 * length;
    if width == 0 {
        pad(out, "", f);
        return;
    }
    if f.space {
        if f.sharp {
            width *= 2;
        }
        width += length - 1;
    } else if f.sharp {
        width += 2;
    }
    let padding = f.wid.unwrap_or(0).saturating_sub(width);
    if !f.minus {
        out.extend(std::iter::repeat_n(if f.zero { '0' } else { ' ' }, padding));
    }
    if f.sharp {
        out.push('0');
        out.push(x);
    }
    for (i, byte) in bytes[..length].iter().enumerate() {
        if f.space && i > 0 {
            out.push(' ');
            if f.sharp {
                out.push('0');
                out.push(x);
            }
        }
        if upper {
            out.push_str(&format!("{byte:02X}"));
        } else {
            out.push_str(&format!("{byte:02x}"));
        }
    }
    if f.minus {
        out.extend(std::iter::repeat_n(' ', padding));
    }
}

fn fmt_integer(out: &mut String, arg: &Arg, n: i64, verb: char, f: &Flags) {
    let (base, upper) = match verb {
        'v' | 'd' => (10, false),
        'b' => (2, false),
        'o' | 'O' => (8, false),
        'x' => (16, false),
        'X' => (16, true),
        'c' => {
            let c = u32::try_from(n).ok().and_then(char::from_u32);
            return pad_spaces(out, &c.unwrap_or('\u{FFFD}').to_string(), f);
        }
        'q' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            let q = if f.sharp && c != '`' && c != '\'' && is_print(c) {
                format!("`{c}`")
            } else {
                let mut s = String::from("'");
                push_escaped(&mut s, c, '\'', f.plus);
                s.push('\'');
                s
            };
            return pad_spaces(out, &q, f);
        }
        'U' => {
            let u = n as u64;
            let mut s = format!("U+{:0width$X}", u, width = f.prec.unwrap_or(4));
            if f.sharp {
                if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32) {
                    if is_print(c) {
                        s.push_str(&format!(" '{c}'"));
                    }
                }
            }
            return pad_spaces(out, &s, f);
        }
        _ => return bad_verb(out, arg, verb, f),
    };
    let negative = n < 0;
    let u = n.unsigned_abs();
    let mut prec = 0usize;
    if let Some(p) = f.prec {
        prec = p;
        if p == 0 && u == 0 {
            return pad_spaces(out, "", f);
        }
    } else if f.zero && !f.minus {
        if let Some(w) = f.wid {
            prec = w;
            if negative || f.plus || f.space {
                prec = prec.saturating_sub(1);
            }
        }
    }
    let digits = match (base, upper) {
        (2, _) => format!("{u:b}"),
        (8, _) => format!("{u:o}"),
        (16, false) => format!("{u:x}"),
        (16, true) => format!("{u:X}"),
        _ => u.to_string(),
    };
    let mut s = String::new();
    if negative {
        s.push('-');
    } else if f.plus {
        s.push('+');
    } else if f.space {
        s.push(' ');
    }
    if verb == 'O' {
        s.push_str("0o");
    } else if f.sharp {
        match base {
            2 => s.push_str("0b"),
            8 if prec <= digits.len() && !digits.starts_with('0') => s.push('0'),
            16 => s.push_str(if upper { "0X" } else { "0x" }),
            _ => {}
        }
    }
    s.extend(std::iter::repeat_n('0', prec.saturating_sub(digits.len())));
    s.push_str(&digits);
    pad_spaces(out, &s, f)
}

/// `(*big.Int).Format`.
fn fmt_big(out: &mut String, negative: bool, d: &BigDigits, verb: char, f: &Flags) {
    let digits = match verb {
        'b' => d.bin.clone(),
        'o' | 'O' => d.oct.clone(),
        'd' | 's' | 'v' => d.dec.clone(),
        'x' => d.hex.clone(),
        'X' => d.hex.to_ascii_uppercase(),
        _ => {
            let sign = if negative { "-" } else { "" };
            out.push_str(&format!("%!{verb}(big.Int={sign}{})", d.dec));
            return;
        }
    };
    let sign = if negative {
        "-"
    } else if f.plus || f.plus_v {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    let prefix = match verb {
        'O' => "0o",
        'b' if f.sharp || f.sharp_v => "0b",
        'o' if f.sharp || f.sharp_v => "0",
        'x' if f.sharp || f.sharp_v => "0x",
        'X' if f.sharp || f.sharp_v => "0X",
        _ => "",
    };
    let mut zeros = 0usize;
    if let Some(p) = f.prec {
        if digits.len() < p {
            zeros = p - digits.len();
        } else if digits == "0" && p == 0 {
            return;
        }
    }
    let length = sign.len() + prefix.len() + zeros + digits.len();
    let (mut left, mut right) = (0usize, 0usize);
    if let Some(w) = f.wid.filter(|w| length < *w) {
        let d = w - length;
        if f.minus {
            right = d;
        } else if f.zero && f.prec.is_none() {
            zeros = d;
        } else {
            left = d;
        }
    }
    out.extend(std::iter::repeat_n(' ', left));
    out.push_str(sign);
    out.push_str(prefix);
    out.extend(std::iter::repeat_n('0', zeros));
    out.push_str(&digits);
    out.extend(std::iter::repeat_n(' ', right));
}

fn fmt_float(out: &mut String, arg: &Arg, x: f64, verb: char, f: &Flags) {
    let (verb, default_prec) = match verb {
        'v' => ('g', None),
        'g' | 'G' => (verb, None),
        'e' | 'E' | 'f' | 'F' => (verb, Some(6)),
        _ => return bad_verb(out, arg, verb, f),
    };
    let prec = f.prec.or(default_prec);
    let text = format_float(x, verb, prec);
    // `num` always starts with a sign, as in Go's `fmtFloat`.
    let mut num = if text.starts_with(['-', '+']) {
        text
    } else {
        format!("+{text}")
    };
    if f.space && num.starts_with('+') && !f.plus {
        num.replace_range(0..1, " ");
    }
    let rest = &num[1..];
    if rest.starts_with('I') || rest.starts_with('N') {
        let shown = if rest.starts_with('N') && !f.space && !f.plus {
            rest
        } else {
            num.as_str()
        };
        return pad_spaces(out, shown, f);
    }
    if f.plus || !num.starts_with('+') {
        if f.zero && !f.minus && f.wid.is_some_and(|w| w > num.len()) {
            out.push_str(&num[..1]);
            let w = f.wid.unwrap_or(0);
            out.extend(std::iter::repeat_n('0', w - num.len()));
            out.push_str(&num[1..]);
            return;
        }
        return pad(out, &num, f);
    }
    pad(out, &num[1..], f)
}

/// Go's `strconv.FormatFloat(x, verb, prec, 64)` (`prec` `None` is -1, the shortest form).
fn format_float(x: f64, verb: char, prec: Option<usize>) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let neg = x.is_sign_negative();
    let a = x.abs();
    let body = match verb {
        'f' | 'F' => match prec {
            Some(p) => format!("{a:.p$}"),
            None => format!("{a}"),
        },
        _ => {
            // Decimal digits (no trailing zeros) and the decimal point's position.
            let digits_for = |sig: Option<usize>| -> (Vec<u8>, i64) {
                if a == 0.0 {
                    return (Vec::new(), 0);
                }
                let s = match sig {
                    Some(n) => format!("{:.*e}", n.saturating_sub(1), a),
                    None => format!("{a:e}"),
                };
                let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
                let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
                while d.last() == Some(&b'0') {
                    d.pop();
                }
                (d, exp.parse::<i64>().unwrap_or(0) + 1)
            };
            let upper = verb.is_ascii_uppercase();
            match verb {
                'e' | 'E' => {
                    let (d, dp) = digits_for(prec.map(|p| p + 1));
                    let p = prec.unwrap_or(d.len().saturating_sub(1));
                    fmt_e(&d, dp, p, upper)
                }
                _ => {
                    let (d, dp, mut p, eprec) = match prec {
                        None => {
                            let (d, dp) = digits_for(None);
                            let n = d.len();
                            (d, dp, n, 6)
                        }
                        Some(p) => {
                            let p = p.max(1);
                            let (d, dp) = digits_for(Some(p));
                            let nd = i64::try_from(d.len()).unwrap_or(0);
                            let eprec = if p > d.len() && nd >= dp { d.len() } else { p };
                            (d, dp, p, eprec)
                        }
                    };
                    let exp = dp - 1;
                    if exp < -4 || exp >= i64::try_from(eprec).unwrap_or(i64::MAX) {
                        p = p.min(d.len());
                        fmt_e(&d, dp, p.saturating_sub(1), upper)
                    } else {
                        if i64::try_from(p).unwrap_or(i64::MAX) > dp {
                            p = d.len();
                        }
                        let frac = (i64::try_from(p).unwrap_or(0) - dp).max(0);
                        fmt_f(&d, dp, usize::try_from(frac).unwrap_or(0))
                    }
                }
            }
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's `fmtE`: `d.ddde±dd`.
fn fmt_e(d: &[u8], dp: i64, prec: usize, upper: bool) -> String {
    let mut s = String::new();
    s.push(char::from(d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        s.push('.');
        for k in 1..=prec {
            s.push(char::from(d.get(k).copied().unwrap_or(b'0')));
        }
    }
    s.push(if upper { 'E' } else { 'e' });
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.unsigned_abs()));
    s
}

/// Go's `fmtF`: `ddd.ddd` with `prec` fraction digits.
fn fmt_f(d: &[u8], dp: i64, prec: usize) -> String {
    let digit = |k: i64| -> char {
        usize::try_from(k)
            .ok()
            .and_then(|k| d.get(k))
            .map_or('0', |c| char::from(*c))
    };
    let mut s = String::new();
    if dp > 0 {
        for k in 0..dp {
            s.push(digit(k));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for k in 1..=i64::try_from(prec).unwrap_or(0) {
            s.push(digit(dp + k - 1));
        }
    }
    s
}

/// Go's `strconv.Quote` (or `QuoteToASCII` when `ascii`).
pub(crate) fn go_quote(s: &str, ascii: bool) -> String {
    if ascii {
        baton_core::gotext::quote_ascii(s)
    } else {
        baton_core::gotext::quote(s)
    }
}

use baton_core::gotext::{is_print, push_escaped};

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\t' || (c != '`' && c != '\u{FEFF}' && !c.is_control()))
}
