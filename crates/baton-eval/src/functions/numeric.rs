//! The numeric functions of Terraform's library: `abs`, `ceil`, `floor`, `log`, `max`, `min`,
//! `parseint`, `pow` and `signum`.
//!
//! Numbers keep Terraform's arbitrary precision wherever Terraform does (`abs`, `ceil`,
//! `floor`, `max`, `min`, `parseint`); `log` and `pow` go through `f64` as go-cty does, using
//! ports of Go's `math.Log`, `math.Exp` (the amd64 versions, FMA variant) and `math.Pow` so the
//! last digit matches too.
//!
//! Implementations receive known, unmarked, already-converted arguments (see the call
//! machinery in `functions/mod.rs`; only `parseint` opts out, as in Terraform) and must never
//! log argument values, nor put a sensitive value into an error message.

use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::number::Number;
use crate::types::Type;
use crate::value::Value;
use num_bigint::{BigInt, BigUint, Sign};

pub(super) fn register(r: &mut Registry) {
    let num = |name: &'static str| Param::new(name, Type::Number);
    let ret = || Ret::Fixed(Type::Number);
    r.add(Function::new("abs", vec![num("num")], ret(), abs));
    r.add(Function::new("ceil", vec![num("num")], ret(), ceil));
    r.add(Function::new("floor", vec![num("num")], ret(), floor));
    r.add(Function::new(
        "log",
        vec![num("num"), num("base")],
        ret(),
        log,
    ));
    r.add(Function::new("max", vec![], ret(), max).variadic(num("numbers")));
    r.add(Function::new("min", vec![], ret(), min).variadic(num("numbers")));
    r.add(Function::new(
        "parseint",
        vec![
            Param::new("number", Type::Dynamic).unknowns().marked(),
            Param::new("base", Type::Number).unknowns().marked(),
        ],
        ret(),
        parseint,
    ));
    r.add(Function::new(
        "pow",
        vec![num("num"), num("power")],
        ret(),
        pow,
    ));
    r.add(Function::new("signum", vec![num("num")], ret(), signum));
}

// ----- errors and conversions -----

/// A failure not tied to one argument; Terraform prints it followed by a period.
fn fail(msg: impl std::fmt::Display) -> FnError {
    FnError::new(format!("{msg}."))
}

/// A failure blamed on argument `i`, in Terraform's wording.
fn arg_fail(i: usize, param: &str, msg: impl std::fmt::Display) -> FnError {
    FnError::arg(
        i,
        format!("Invalid value for \"{param}\" parameter: {msg}."),
    )
}

fn arity() -> FnError {
    FnError::new("wrong number of arguments.")
}

/// gocty's message when a number does not fit a Go `int`.
const WHOLE_NUMBER: &str =
    "value must be a whole number, between -9223372036854775808 and 9223372036854775807";

fn number(v: &Value) -> Result<&Number, FnError> {
    v.as_number().ok_or_else(|| fail("a number is required"))
}

/// A number as a Go `int`, as `gocty.FromCtyValue` converts it.
fn go_int(v: &Value) -> Result<i64, FnError> {
    number(v)?.to_i64().ok_or_else(|| fail(WHOLE_NUMBER))
}

/// A number as a Go `float64`, as `gocty.FromCtyValue` converts it: rounded to nearest, and
/// an error only when a finite number is beyond the `float64` range (the infinities convert
/// exactly to the `float64` infinities).
fn go_f64(v: &Value) -> Result<f64, FnError> {
    let n = number(v)?;
    let f = n.to_f64();
    if f.is_infinite() && n.is_finite() {
        let max = Number::from_f64(f64::MAX)
            .map(|m| m.text('f', 6))
            .unwrap_or_default();
        return Err(fail(format!(
            "value must be between -{max} and {max} inclusive"
        )));
    }
    Ok(f)
}

/// go-cty's `NumberFloatVal`: a number of precision 53, infinite for the `float64`
/// infinities (Terraform keeps them, until it fails to save them). Go panics on NaN, which
/// go-cty's function machinery reports (followed by a Go stack trace, which Baton has none of).
fn from_go_f64(f: f64) -> FnResult {
    Number::from_f64(f)
        .map(Value::number)
        .ok_or_else(|| fail("panic in function implementation: Float.SetFloat64(NaN)"))
}

// ----- abs, ceil, floor, signum -----

fn abs(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [n] = args else { return Err(arity()) };
    Ok(Value::number(number(n)?.abs()))
}

fn ceil(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [n] = args else { return Err(arity()) };
    Ok(Value::number(number(n)?.ceil()))
}

fn floor(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [n] = args else { return Err(arity()) };
    Ok(Value::number(number(n)?.floor()))
}

fn signum(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [n] = args else { return Err(arity()) };
    Ok(Value::int(go_int(n)?.signum()))
}

// ----- max, min -----

fn max(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    extreme(args, true, |candidate, best| candidate > best)
}

fn min(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    extreme(args, false, |candidate, best| candidate < best)
}

/// The first of the numbers that no later one beats, keeping its precision. go-cty starts
/// from its own infinity value (`cty.NegativeInfinity` for `max`, `cty.PositiveInfinity` for
/// `min`) and replaces it only by a number that beats it: when every argument is that infinity
/// the result is go-cty's value itself, which `%` treats specially (see `Number::rem`).
/// `from_negative` picks the starting infinity.
fn extreme(args: &[Value], from_negative: bool, beats: fn(&Number, &Number) -> bool) -> FnResult {
    let mut best: Option<&Number> = None;
    for a in args {
        let n = number(a)?;
        if best.is_none_or(|b| beats(n, b)) {
            best = Some(n);
        }
    }
    let best = best.ok_or_else(|| fail("must pass at least one number"))?;
    let start = Number::cty_infinity(from_negative);
    if !beats(best, &start) {
        return Ok(Value::number(start));
    }
    Ok(Value::number(best.clone()))
}

// ----- log, pow -----

fn log(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [num, base] = args else {
        return Err(arity());
    };
    let num = go_f64(num)?;
    let base = go_f64(base)?;
    from_go_f64(go_log(num) / go_log(base))
}

fn pow(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [num, power] = args else {
        return Err(arity());
    };
    let num = go_f64(num)?;
    let power = go_f64(power)?;
    from_go_f64(go_pow(num, power))
}

// ----- parseint -----

fn parseint(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let [num, base] = args else {
        return Err(arity());
    };
    let (num, ns) = num.clone().unmark_deep();
    let (base, bs) = base.clone().unmark_deep();
    let s = ns || bs;
    let ty = num.ty();
    if !num.is_known() && ty == Type::Dynamic {
        return Ok(Value::dynamic_unknown().with_sensitive(s));
    }
    if ty != Type::String {
        return Err(arg_fail(
            0,
            "number",
            format!(
                "first argument must be a string, not {}",
                ty.friendly_name()
            ),
        ));
    }
    if !num.is_known() || !base.is_known() {
        return Ok(Value::unknown(Type::Number).with_sensitive(s));
    }
    let text = num.as_str().unwrap_or_default();
    let radix = number(&base)?
        .to_i64()
        .ok_or_else(|| arg_fail(1, "base", WHOLE_NUMBER))?;
    let radix = u32::try_from(radix)
        .ok()
        .filter(|r| (2..=62).contains(r))
        .ok_or_else(|| {
            arg_fail(
                1,
                "base",
                "base must be a whole number between 2 and 62 inclusive",
            )
        })?;
    let parsed = parse_go_int(text, radix).ok_or_else(|| {
        let shown = if ns {
            "(sensitive value)".to_string()
        } else {
            go_quote(text)
        };
        let radix = if bs {
            "(sensitive value)".to_string()
        } else {
            radix.to_string()
        };
        arg_fail(
            0,
            "number",
            format!("cannot parse {shown} as a base {radix} integer"),
        )
    })?;
    Ok(Value::number(Number::from_bigint(&parsed)).with_sensitive(s))
}

/// Go's `big.Int.SetString(s, base)` for a base in 2..=62: an optional sign, then at least one
/// digit and nothing else. Letters are case-insensitive up to base 36; above it, lowercase
/// letters are 10..35 and uppercase ones 36..61.
fn parse_go_int(s: &str, base: u32) -> Option<BigInt> {
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (Sign::Minus, rest),
        None => (Sign::Plus, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() {
        return None;
    }
    let mut vals = Vec::with_capacity(digits.len());
    for c in digits.bytes() {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' => c - b'a' + 10,
            b'A'..=b'Z' if base <= 36 => c - b'A' + 10,
            b'A'..=b'Z' => c - b'A' + 36,
            _ => return None,
        };
        if u32::from(d) >= base {
            return None;
        }
        vals.push(d);
    }
    let magnitude = BigUint::from_radix_be(&vals, base)?;
    Some(BigInt::from_biguint(sign, magnitude))
}

use baton_core::gotext::quote as go_quote;

// ----- ports of Go's math package (amd64) -----

/// Go's `math.Frexp`: `f = frac × 2^exp` with `frac` in [0.5, 1).
fn frexp(f: f64) -> (f64, i64) {
    if f == 0.0 || !f.is_finite() {
        return (f, 0);
    }
    let (f, mut exp) = if f.abs() < f64::MIN_POSITIVE {
        (f * (1u64 << 52) as f64, -52)
    } else {
        (f, 0)
    };
    let bits = f.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i64 - 1023 + 1;
    let bits = (bits & !(0x7ff << 52)) | (1022 << 52);
    (f64::from_bits(bits), exp)
}

/// Go's `math.Ldexp`: `frac × 2^exp`, with Go's handling of overflow and denormals.
fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || !frac.is_finite() {
        return frac;
    }
    let (frac, e) = if frac.abs() < f64::MIN_POSITIVE {
        (frac * (1u64 << 52) as f64, -52)
    } else {
        (frac, 0)
    };
    let mut exp = exp.saturating_add(e);
    let bits = frac.to_bits();
    exp = exp.saturating_add(((bits >> 52) & 0x7ff) as i64 - 1023);
    if exp < -1075 {
        return 0.0_f64.copysign(frac);
    }
    if exp > 1023 {
        return f64::INFINITY.copysign(frac);
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    let bits = (bits & !(0x7ff << 52)) | (((exp + 1023) as u64) << 52);
    m * f64::from_bits(bits)
}

/// Go's `math.Log` as its amd64 assembly computes it (the FreeBSD algorithm, with a simpler
/// split of the argument than `Frexp`).
fn go_log(x: f64) -> f64 {
    // Go's constants, by their bits (as the assembly comments give them).
    let hsqrt2 = f64::from_bits(0x3fe6_a09e_667f_3bcd);
    let ln2_hi = f64::from_bits(0x3fe6_2e42_fee0_0000);
    let ln2_lo = f64::from_bits(0x3dea_39ef_3579_3c76);
    let l1 = f64::from_bits(0x3fe5_5555_5555_5593);
    let l2 = f64::from_bits(0x3fd9_9999_9997_fa04);
    let l3 = f64::from_bits(0x3fd2_4924_9422_9359);
    let l4 = f64::from_bits(0x3fcc_71c5_1d8e_78af);
    let l5 = f64::from_bits(0x3fc7_4664_96cb_03de);
    let l6 = f64::from_bits(0x3fc3_9a09_d078_c69f);
    let l7 = f64::from_bits(0x3fc2_f112_df3e_5244);
    let bits = x.to_bits();
    if bits & !(1 << 63) == 0 {
        return f64::NEG_INFINITY;
    }
    if (bits as i64) < 0 {
        return f64::NAN;
    }
    if bits >= 0x7ff0_0000_0000_0000 {
        return x;
    }
    let mut f1 = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3fe0_0000_0000_0000);
    let mut k = (((bits >> 52) & 0x7ff) as i64 - 0x3fe) as f64;
    if f1 <= hsqrt2 {
        k -= 1.0;
        f1 *= 2.0;
    }
    let f = f1 - 1.0;
    let s = f / (2.0 + f);
    let s2 = s * s;
    let s4 = s2 * s2;
    let t1 = s2 * (l1 + s4 * (l3 + s4 * (l5 + s4 * l7)));
    let t2 = s4 * (l2 + s4 * (l4 + s4 * l6));
    let r = t1 + t2;
    let hfsq = 0.5 * f * f;
    k * ln2_hi - ((hfsq - (s * (hfsq + r) + k * ln2_lo)) - f)
}

/// Go's `math.Exp` as its amd64 assembly computes it on CPUs with FMA (Shibata's method).
fn go_exp(x: f64) -> f64 {
    // Go's constants, by their bits.
    let log2e = f64::from_bits(0x3ff7_1547_652b_82fe);
    let ln2u = f64::from_bits(0x3fe6_2e42_fefa_3000);
    let ln2l = f64::from_bits(0x3d53_de6a_f278_ece6);
    let overflow = f64::from_bits(0x4086_2e42_fefa_39ef);
    // The Taylor coefficients 1/8! .. 1/3!, then 1/2.
    let c: [f64; 7] = [
        f64::from_bits(0x3efa_01a0_1a01_a01a),
        f64::from_bits(0x3f2a_01a0_1a01_a01a),
        f64::from_bits(0x3f56_c16c_16c1_6c17),
        f64::from_bits(0x3f81_1111_1111_1111),
        f64::from_bits(0x3fa5_5555_5555_5555),
        f64::from_bits(0x3fc5_5555_5555_5555),
        0.5,
    ];
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == f64::NEG_INFINITY {
        return 0.0;
    }
    if x > overflow {
        return f64::INFINITY;
    }
    let t = log2e * x;
    // CVTSD2SL: round to nearest even; out of range gives the "integer indefinite" value.
    let e = if t.is_finite() && t.abs() < 2_147_483_647.0 {
        t.round_ties_even() as i32
    } else {
        i32::MIN
    };
    let ef = f64::from(e);
    let mut r = (-ef).mul_add(ln2u, x);
    r = (-ef).mul_add(ln2l, r);
    r *= 0.0625;
    let mut p = c[0];
    for k in c.iter().skip(1) {
        p = p.mul_add(r, *k);
    }
    p = p.mul_add(r, 1.0);
    let mut y = r * p;
    for _ in 0..3 {
        y *= y + 2.0;
    }
    y = y.mul_add(y + 2.0, 1.0);
    let biased = i64::from(e) + 0x3ff;
    if biased <= 0 {
        return 0.0;
    }
    if biased >= 0x7ff {
        return f64::INFINITY;
    }
    y * f64::from_bits((biased as u64) << 52)
}

/// Go's `math.Pow` (pure Go, using the amd64 `Log` and `Exp`).
fn go_pow(x: f64, y: f64) -> f64 {
    let is_odd_int = |v: f64| {
        if v.abs() >= (1u64 << 53) as f64 {
            return false;
        }
        v.fract() == 0.0 && (v.trunc() as i64) & 1 == 1
    };
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        if y < 0.0 {
            if x.is_sign_negative() && is_odd_int(y) {
                return f64::NEG_INFINITY;
            }
            return f64::INFINITY;
        }
        if x.is_sign_negative() && is_odd_int(y) {
            return x;
        }
        return 0.0;
    }
    if y.is_infinite() {
        if x == -1.0 {
            return 1.0;
        }
        if (x.abs() < 1.0) == (y > 0.0) {
            return 0.0;
        }
        return f64::INFINITY;
    }
    if x.is_infinite() {
        if x < 0.0 {
            return go_pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let ay = y.abs();
    let mut yi = ay.trunc();
    let mut yf = ay - yi;
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= 2f64.powi(63) {
        if x == -1.0 {
            return 1.0;
        }
        if (x.abs() < 1.0) == (y > 0.0) {
            return 0.0;
        }
        return f64::INFINITY;
    }
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = go_exp(yf * go_log(x));
    }
    let (mut x1, mut xe) = frexp(x);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

#[cfg(test)]
mod tests {
    //! Expected results are those of Terraform 1.11 (`terraform output -json`).

    use crate::eval::{EmptyScope, Evaluator};
    use crate::types::Type;
    use crate::value::Value;
    use crate::FnCtx;
    use baton_core::{FileId, Sources};

    fn run(src: &str) -> Result<Value, String> {
        let sources = Sources::new();
        let dir = std::env::temp_dir();
        let expr = baton_config::syntax::parse_expr(FileId(0), src).map_err(|d| d.detail)?;
        let ctx = FnCtx {
            base_dir: &dir,
            sources: &sources,
            planning: false,
            plan_timestamp: None,
        };
        let symbols = vec![
            ("u".to_string(), Value::unknown(Type::String)),
            ("d".to_string(), Value::dynamic_unknown()),
            ("s".to_string(), Value::string("ff").mark_sensitive()),
            ("sn".to_string(), Value::int(-3).mark_sensitive()),
        ];
        Evaluator::new(&EmptyScope, ctx)
            .with_symbols(symbols)
            .eval(&expr)
            .map_err(|d| d.detail)
    }

    /// The result's type and value as JSON, with its marks.
    #[track_caller]
    fn check(src: &str, want: &str) {
        let got = match run(src) {
            Ok(v) => {
                let mut out = format!("{} {}", v.ty().to_json(), v.to_json());
                if !v.is_known() {
                    out.push_str(" (unknown)");
                }
                if v.is_sensitive() {
                    out.push_str(" (sensitive)");
                }
                out
            }
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, want, "{src}");
    }

    /// The call fails with Terraform's message `want` (Baton may prefix it).
    #[track_caller]
    fn check_err(src: &str, want: &str) {
        match run(src) {
            Ok(v) => panic!("{src}: expected an error, got {v:?}"),
            Err(e) => assert!(e.ends_with(want), "{src}: {e:?} does not end with {want:?}"),
        }
    }

    /// Go's panic in `NumberFloatVal` (`SetFloat64(NaN)`), as go-cty reports it (Terraform
    /// follows it with a stack trace).
    const NAN: &str = "panic in function implementation: Float.SetFloat64(NaN).";
    const WHOLE: &str =
        "value must be a whole number, between -9223372036854775808 and 9223372036854775807.";
    const FLOAT_RANGE: &str = "value must be between -179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368.000000 and 179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368.000000 inclusive.";

    #[test]
    fn abs() {
        check("abs(-1.5)", r#""number" 1.5"#);
        check(
            "abs(-12345678901234567890123)",
            r#""number" 12345678901234567890123"#,
        );
        check("abs(0)", r#""number" 0"#);
        check("abs(sn)", r#""number" 3 (sensitive)"#);
        check_err(
            "abs(null)",
            r#"Invalid value for "num" parameter: argument must not be null."#,
        );
    }

    #[test]
    fn ceil_and_floor() {
        check("ceil(1.2)", r#""number" 2"#);
        check("ceil(-1.2)", r#""number" -1"#);
        check("ceil(-0.5)", r#""number" 0"#);
        check("ceil(1e30)", r#""number" 1000000000000000000000000000000"#);
        check("ceil(1.0000000000000000000001)", r#""number" 2"#);
        check("floor(-1.5)", r#""number" -2"#);
        check("floor(0.1)", r#""number" 0"#);
        check("floor(1e30)", r#""number" 1000000000000000000000000000000"#);
        check("floor(1.0000000000000000000001)", r#""number" 1"#);
        check(
            "floor(12345678901234567890123.5)",
            r#""number" 12345678901234567890123"#,
        );
        check_err(
            "ceil(null)",
            r#"Invalid value for "num" parameter: argument must not be null."#,
        );
        check_err(
            r#"floor("x")"#,
            r#"Invalid value for "num" parameter: a number is required."#,
        );
    }

    #[test]
    fn log() {
        check("log(8,2)", r#""number" 3"#);
        check("log(100,10)", r#""number" 2"#);
        check("log(2,10)", r#""number" 0.30102999566398114"#);
        check("log(7,3)", r#""number" 1.7712437491614224"#);
        check("log(1000,10)", r#""number" 2.9999999999999996"#);
        check("log(123456789,7)", r#""number" 9.57464648365859"#);
        check_err("log(1e300*1e300,10)", FLOAT_RANGE);
        check_err("log(-1,10)", NAN);
        check_err("log(1,1)", NAN);
    }

    #[test]
    fn log_infinities() {
        // An infinite argument converts exactly to a float64 infinity (only finite numbers
        // beyond the float64 range are refused), and infinite results are numbers.
        check("tostring(log(0, 10))", r#""string" "-Inf""#);
        check("tostring(log(1/0, 10))", r#""string" "+Inf""#);
        check("tostring(log(10, 1/0))", r#""string" "0""#);
        check("log(0, 10) < -1e308", r#""bool" true"#);
        check_err("log(1/0, 1/0)", NAN);
    }

    #[test]
    fn abs_ceil_floor_signum_of_infinities() {
        check("tostring(abs(-1/0))", r#""string" "+Inf""#);
        check("tostring(floor(-1/0))", r#""string" "-Inf""#);
        check("tostring(floor(1/0))", r#""string" "+Inf""#);
        check("tostring(ceil(1/0))", r#""string" "+Inf""#);
        check_err("signum(1/0)", &format!("failed: {WHOLE}"));
        check_err("signum(-1/0)", &format!("failed: {WHOLE}"));
    }

    #[test]
    fn max_and_min_of_infinities() {
        check("tostring(max(1/0))", r#""string" "+Inf""#);
        check("tostring(max(1/0, 1))", r#""string" "+Inf""#);
        check("tostring(min(-1/0, 1))", r#""string" "-Inf""#);
        check("tostring(min(2, 1/0))", r#""string" "2""#);
        check("tostring(max(-1/0, 5))", r#""string" "5""#);
        check("tostring(max(-1/0, -1/0))", r#""string" "-Inf""#);
        check("max(-1/0) == -1/0", r#""bool" true"#);
        // When every argument is the starting infinity, go-cty returns its own
        // cty.NegativeInfinity (max) or cty.PositiveInfinity (min), which `%` recognizes.
        check("tostring(max(-1/0) % 2)", r#""string" "-Inf""#);
        check("tostring(min(1/0) % 2)", r#""string" "+Inf""#);
        check("tostring(min(1/0, 1/0) % 3)", r#""string" "+Inf""#);
        check("tostring(min(1/0) % -2)", r#""string" "-Inf""#);
        check("tostring(5 % min(1/0))", r#""string" "+Inf""#);
        check("tostring(-5 % max(-1/0))", r#""string" "+Inf""#);
        check("tostring(min(1/0) % min(1/0))", r#""string" "+Inf""#);
        check("tostring(max(-1/0) + 1)", r#""string" "-Inf""#);
        check_err(
            "0 % min(1/0)",
            "Error during operation: can't use modulo with zero and infinity.",
        );
        check_err(
            "max(-1/0) % 0",
            "Error during operation: can't use modulo with zero and infinity.",
        );
        // An ordinary infinity (here the argument itself) is not recognized.
        check_err(
            "max(1/0, 1/0) % 3",
            "Error during operation: panic in function implementation: runtime error: invalid memory address or nil pointer dereference.",
        );
    }

    #[test]
    fn max_and_min() {
        check("max(1,2,3.5)", r#""number" 3.5"#);
        check(
            "max(12345678901234567890123, 1)",
            r#""number" 12345678901234567890123"#,
        );
        check("max([1,2]...)", r#""number" 2"#);
        check(r#"max("3", 2)"#, r#""number" 3"#);
        check("min(-5, 1e40)", r#""number" -5"#);
        check("min(1)", r#""number" 1"#);
        check("min(0.1, 0.10000000000000000001)", r#""number" 0.1"#);
        check_err("max()", "failed: must pass at least one number.");
        check_err("min()", "failed: must pass at least one number.");
        check_err(
            "max(1,null)",
            r#"Invalid value for "numbers" parameter: argument must not be null."#,
        );
    }

    #[test]
    fn parseint() {
        check(r#"parseint("ff",16)"#, r#""number" 255"#);
        check(r#"parseint("-101",2)"#, r#""number" -5"#);
        check(r#"parseint("+12",10)"#, r#""number" 12"#);
        check(r#"parseint("zz",36)"#, r#""number" 1295"#);
        check(r#"parseint("ZZ",62)"#, r#""number" 3843"#);
        check(r#"parseint("zz",62)"#, r#""number" 2205"#);
        check(r#"parseint("FF",16)"#, r#""number" 255"#);
        check(
            r#"parseint("123456789012345678901234567890",10)"#,
            r#""number" 123456789012345678901234567890"#,
        );
        check("parseint(u, 10)", r#""number" null (unknown)"#);
        check("parseint(d, 10)", r#""dynamic" null (unknown)"#);
        check("parseint(s, 16)", r#""number" 255 (sensitive)"#);
        check_err(
            r#"parseint("12",1)"#,
            r#"Invalid value for "base" parameter: base must be a whole number between 2 and 62 inclusive."#,
        );
        check_err(
            r#"parseint("12",63)"#,
            r#"Invalid value for "base" parameter: base must be a whole number between 2 and 62 inclusive."#,
        );
        check_err(
            r#"parseint("12",10.5)"#,
            &format!(r#"Invalid value for "base" parameter: {WHOLE}"#),
        );
        check_err(
            r#"parseint("1g",16)"#,
            r#"Invalid value for "number" parameter: cannot parse "1g" as a base 16 integer."#,
        );
        check_err(
            r#"parseint("0x1f",16)"#,
            r#"Invalid value for "number" parameter: cannot parse "0x1f" as a base 16 integer."#,
        );
        check_err(
            r#"parseint("",10)"#,
            r#"Invalid value for "number" parameter: cannot parse "" as a base 10 integer."#,
        );
        check_err(
            r#"parseint("1_000",10)"#,
            r#"Invalid value for "number" parameter: cannot parse "1_000" as a base 10 integer."#,
        );
        check_err(
            r#"parseint("-",10)"#,
            r#"Invalid value for "number" parameter: cannot parse "-" as a base 10 integer."#,
        );
        check_err(
            "parseint(s, 10)",
            r#"Invalid value for "number" parameter: cannot parse (sensitive value) as a base 10 integer."#,
        );
        check_err(
            "parseint(12,10)",
            r#"Invalid value for "number" parameter: first argument must be a string, not number."#,
        );
        check_err(
            "parseint(true,10)",
            r#"Invalid value for "number" parameter: first argument must be a string, not bool."#,
        );
    }

    #[test]
    fn pow() {
        check("pow(2,100)", r#""number" 1267650600228229400000000000000"#);
        check("pow(2,0.5)", r#""number" 1.4142135623730951"#);
        check("pow(3,2)", r#""number" 9"#);
        check("pow(10,20)", r#""number" 100000000000000000000"#);
        check("pow(1.1,2)", r#""number" 1.2100000000000002"#);
        check("pow(1.1,10)", r#""number" 2.593742460100002"#);
        check("pow(2,0.3)", r#""number" 1.2311444133449163"#);
        check("pow(10,-2)", r#""number" 0.01"#);
        check("pow(2.5,3.7)", r#""number" 29.67413253642086"#);
        check("pow(-2,-3)", r#""number" -0.125"#);
        check("pow(1.0001, 10000)", r#""number" 2.718145926824356"#);
        check("pow(3, 40)", r#""number" 12157665459056929000"#);
        check_err("pow(-8, 1/3)", NAN);
        check_err("pow(2, 1e300*1e300)", FLOAT_RANGE);
    }

    #[test]
    fn pow_infinities() {
        check("tostring(pow(2, 10000))", r#""string" "+Inf""#);
        check("tostring(pow(10, 400))", r#""string" "+Inf""#);
        check("tostring(pow(0, -1))", r#""string" "+Inf""#);
        check("tostring(pow(1/0, 0))", r#""string" "1""#);
        check("tostring(pow(-1/0, 3))", r#""string" "-Inf""#);
        check("tostring(pow(2, -1/0))", r#""string" "0""#);
    }

    #[test]
    fn signum() {
        check("signum(-3)", r#""number" -1"#);
        check("signum(0)", r#""number" 0"#);
        check("signum(5)", r#""number" 1"#);
        check("signum(sn)", r#""number" -1 (sensitive)"#);
        check_err("signum(0.5)", &format!("failed: {WHOLE}"));
        check_err("signum(1e30)", &format!("failed: {WHOLE}"));
    }
}
