//! Terraform-compatible arbitrary-precision numbers.
//!
//! Terraform (through go-cty) keeps every number in a Go `math/big.Float`: a
//! sign, a binary mantissa, an exponent and a *precision* in bits, with results
//! rounded half to even. [`Number`] reproduces that model bit for bit, so that
//! Baton computes and prints exactly the digits Terraform does: literal and JSON
//! parsing (`big.ParseFloat(s, 10, 512, ToNearestEven)`, including its
//! power-of-five approximation for long exponents), how precision propagates
//! through `+ - * / %` (go-cty's `Add`, `Subtract`, `Multiply`, `Divide`,
//! `Modulo`), the `floor`/`ceil` functions, conversion to and from integers and
//! `f64`, and `Float.Text` including the shortest-digits mode (`Text('f', -1)`)
//! that `tostring`, string templates and JSON output use.
//!
//! This module must not use `f64` (or any other approximation) for arithmetic or
//! printing, must not "improve" on Go's results (Go's digits, rounding and
//! precision rules are the specification, quirks included), must not panic on
//! any input, and must not allocate for small integers: every number of an
//! evaluation, such as `count.index`, goes through it.
//!
//! Infinities are numbers too, as in Go: `1 / 0` is `+Inf`, results beyond
//! Go's exponent range overflow to ±Inf (and underflow to ±0), `"Inf"` parses,
//! and infinities print as `+Inf` / `-Inf`. The operations that Go cannot
//! answer (NaN: `Inf - Inf`, `0 × Inf`, `0 / 0`, `Inf / Inf`), where Go panics
//! and Terraform reports an error, give [`ArithError`] from the `checked_*`
//! operations, [`Number::div`] and [`Number::rem`]. go-cty's `Modulo` compares
//! its operands with its own `cty.PositiveInfinity` / `cty.NegativeInfinity`
//! *by identity*; [`Number::cty_infinity`] stands for those two values (only
//! `max` and `min` return them) so that `%` can follow it.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops;
use std::str::FromStr;
use std::sync::Arc;

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::Zero;

/// Precision, in bits, of numbers parsed from text (HCL literals, JSON,
/// `tonumber`): go-cty parses with `big.ParseFloat(s, 10, 512, ...)`.
pub const PARSE_PREC: u32 = 512;
/// Precision of numbers made from 64-bit integers (`SetInt64`, `SetUint64`).
pub const INT_PREC: u32 = 64;
/// Precision of numbers made from an `f64` (`SetFloat64`).
pub const FLOAT_PREC: u32 = 53;

/// Go's `big.MaxExp` / `big.MinExp`: the range of the exponent `e` of a value
/// written as `0.mantissa × 2^e`.
const MAX_EXP: i64 = i32::MAX as i64;
const MIN_EXP: i64 = i32::MIN as i64;
/// A precision so large that nothing is ever rounded.
const EXACT: u32 = u32::MAX;

/// The error of parsing a string that is not a number; the message is
/// go-cty's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a number is required")]
pub struct ParseNumberError;

/// Why an operation on numbers has no result: the cases where Go's
/// `math/big` (or go-cty around it) panics, which Terraform reports as errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArithError {
    /// The result would be NaN (Go's `big.ErrNaN`): the sum of opposite
    /// infinities, zero times infinity, `0 / 0`, `Inf / Inf`, and go-cty's
    /// `Modulo` when it runs into one of those.
    #[error("the result is not a number (NaN)")]
    NaN,
    /// go-cty's `Modulo` of an infinite quotient: `big.Float.Int` of the
    /// infinity is a nil `*big.Int`, which `SetInt` then dereferences (the Go
    /// runtime's message).
    #[error("runtime error: invalid memory address or nil pointer dereference")]
    NilInt,
}

/// Whether a number is finite or infinite (Go's `Float.form`, zero being
/// finite here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// Zero or a finite nonzero value.
    Finite,
    /// An infinity; the sign is `neg`, the mantissa zero.
    Inf,
    /// go-cty's own `cty.PositiveInfinity` / `cty.NegativeInfinity` value:
    /// numerically an infinity like [`Form::Inf`], but go-cty's `Modulo`
    /// recognizes it by identity.
    CtyInf,
}

/// An odd mantissa (or zero), stored inline while it fits 64 bits.
///
/// Invariant: `Small(0)` is zero, any other `Small(m)` has `m` odd, and
/// `Big(b)` holds an odd `b` that does not fit 64 bits.
#[derive(Clone)]
enum Mant {
    Small(u64),
    Big(Arc<BigUint>),
}

impl Mant {
    fn bits(&self) -> u64 {
        match self {
            Mant::Small(v) => u64::from(64 - v.leading_zeros()),
            Mant::Big(b) => b.bits(),
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Mant::Small(0))
    }

    fn to_big(&self) -> BigUint {
        match self {
            Mant::Small(v) => BigUint::from(*v),
            Mant::Big(b) => (**b).clone(),
        }
    }

    fn wide(&self) -> Wide {
        match self {
            Mant::Small(v) => Wide::U(u128::from(*v)),
            Mant::Big(b) => Wide::B((**b).clone()),
        }
    }
}

/// A non-canonical unsigned integer used for intermediate results.
enum Wide {
    U(u128),
    B(BigUint),
}

impl Wide {
    fn bits(&self) -> u64 {
        match self {
            Wide::U(v) => u64::from(128 - v.leading_zeros()),
            Wide::B(b) => b.bits(),
        }
    }

    fn is_zero(&self) -> bool {
        match self {
            Wide::U(v) => *v == 0,
            Wide::B(b) => b.is_zero(),
        }
    }

    fn into_big(self) -> BigUint {
        match self {
            Wide::U(v) => BigUint::from(v),
            Wide::B(b) => b,
        }
    }

    /// `self << s`, staying inline when the result fits.
    fn shl(self, s: u64) -> Wide {
        match self {
            Wide::U(0) => Wide::U(0),
            Wide::U(v) if u64::from(128 - v.leading_zeros()) + s <= 128 => Wide::U(v << s),
            w => Wide::B(w.into_big() << s),
        }
    }
}

fn shr_mant(m: &Mant, s: u64) -> Wide {
    match m {
        Mant::Small(v) => Wide::U(if s >= 64 { 0 } else { u128::from(v >> s) }),
        Mant::Big(b) => Wide::B(&**b >> s),
    }
}

fn canon_u64(v: u64, exp: i64) -> (Mant, i64) {
    if v == 0 {
        return (Mant::Small(0), 0);
    }
    let tz = v.trailing_zeros();
    (Mant::Small(v >> tz), exp + i64::from(tz))
}

fn canon_u128(v: u128, exp: i64) -> (Mant, i64) {
    if v == 0 {
        return (Mant::Small(0), 0);
    }
    let tz = v.trailing_zeros();
    let v = v >> tz;
    let exp = exp + i64::from(tz);
    match u64::try_from(v) {
        Ok(s) => (Mant::Small(s), exp),
        Err(_) => (Mant::Big(Arc::new(BigUint::from(v))), exp),
    }
}

fn canon_big(v: BigUint, exp: i64) -> (Mant, i64) {
    let Some(tz) = v.trailing_zeros() else {
        return (Mant::Small(0), 0);
    };
    let v = if tz > 0 { v >> tz } else { v };
    let exp = exp + tz as i64;
    if v.bits() <= 64 {
        (Mant::Small(v.iter_u64_digits().next().unwrap_or(0)), exp)
    } else {
        (Mant::Big(Arc::new(v)), exp)
    }
}

fn canon_wide(w: Wide, exp: i64) -> (Mant, i64) {
    match w {
        Wide::U(v) => canon_u128(v, exp),
        Wide::B(b) => canon_big(b, exp),
    }
}

/// Rounds `w × 2^exp` to `prec` bits, half to even (Go's `Float.round`).
///
/// `sticky` says that the exact value has further nonzero bits below the last
/// bit of `w`; callers that set it supply at least `prec + 1` bits.
fn round_wide(w: Wide, exp: i64, sticky: bool, prec: u32) -> (Mant, i64) {
    if prec == 0 {
        return (Mant::Small(0), 0);
    }
    let bl = w.bits();
    let prec = u64::from(prec);
    if bl <= prec {
        debug_assert!(!sticky, "sticky rounding without a rounding bit");
        return canon_wide(w, exp);
    }
    let s = bl - prec;
    let new_exp = exp + s as i64;
    match w {
        Wide::U(v) => {
            let s = s as u32; // s < 128
            let rbit = (v >> (s - 1)) & 1 == 1;
            let below = s >= 2 && v & ((1u128 << (s - 1)) - 1) != 0;
            let mut q = v >> s;
            if rbit && (sticky || below || q & 1 == 1) {
                q += 1;
            }
            canon_u128(q, new_exp)
        }
        Wide::B(v) => {
            let rbit = v.bit(s - 1);
            let below = v.trailing_zeros().is_some_and(|tz| tz < s - 1);
            let mut q = v >> s;
            if rbit && (sticky || below || q.bit(0)) {
                q += 1u32;
            }
            canon_big(q, new_exp)
        }
    }
}

/// `x << sx ± y << sy`, exactly (for subtraction the first is the larger).
fn exact_addsub(x: Wide, sx: u64, y: Wide, sy: u64, sub: bool) -> Wide {
    if let (Wide::U(a), Wide::U(b)) = (&x, &y) {
        let (a, b) = (*a, *b);
        let ba = u64::from(128 - a.leading_zeros());
        let bb = u64::from(128 - b.leading_zeros());
        if ba + sx <= 126 && bb + sy <= 126 {
            let (a, b) = (a << sx, b << sy);
            return Wide::U(if sub { a - b } else { a + b });
        }
    }
    let a = x.into_big() << sx;
    let b = y.into_big() << sy;
    Wide::B(if sub { a - b } else { a + b })
}

/// Go's `setExpAndRound` (with the exponent check of `round`): the nonzero
/// `w × 2^exp` rounded to `prec` bits, a zero of the same sign when its
/// exponent is below Go's range and an infinity when it is (or, rounded,
/// becomes) above it. `sticky` as for [`round_wide`].
fn finish(neg: bool, w: Wide, exp: i64, sticky: bool, prec: u32) -> Number {
    let e = exp.saturating_add(w.bits() as i64);
    if w.is_zero() || e < MIN_EXP {
        return Number::zero_with(neg, prec);
    }
    if e > MAX_EXP {
        return Number::inf_with(neg, prec);
    }
    let r = Number::from_parts(neg, round_wide(w, exp, sticky, prec), prec);
    if !r.is_zero() && r.go_exp() > MAX_EXP {
        return Number::inf_with(neg, prec);
    }
    r
}

/// `|a| + |b|`, or `|a| - |b|` when `sub` (then `|a| > |b|`), before
/// rounding to `prec` bits: `(w, e)` with the result `w × 2^e` (exact, or
/// rounding exactly like it). Both are finite, nonzero and canonical.
fn addsub_mag(a: &Number, b: &Number, sub: bool, prec: u32) -> (Wide, i64) {
    let (big, small) = if sub || a.go_exp() >= b.go_exp() {
        (a, b)
    } else {
        (b, a)
    };
    let hb = big.go_exp();
    let hs = small.go_exp();
    let mut small_w = small.mant.wide();
    let mut small_e = small.exp;
    // When the smaller operand lies entirely far below the rounding position
    // of the result, its low bits only matter as a sticky bit. Replace them by
    // a half unit so that huge exponent gaps cost nothing; this never changes
    // the rounded result (both values lie strictly inside the same interval
    // between neighbouring multiples of 2^q, and every rounding boundary is
    // such a multiple), nor the exponent Go checks before rounding (every
    // power of two above 2^q is such a multiple too).
    if hs <= hb - 2 {
        let q = big.exp.min(hb - 2 - i64::from(prec));
        if small.exp < q - 1 {
            let t = shr_mant(&small.mant, (q - small.exp) as u64);
            small_w = exact_addsub(t, 1, Wide::U(1), 0, false);
            small_e = q - 1;
        }
    }
    let e = big.exp.min(small_e);
    let w = exact_addsub(
        big.mant.wide(),
        (big.exp - e) as u64,
        small_w,
        (small_e - e) as u64,
        sub,
    );
    (w, e)
}

/// Compares `|a|` and `|b|`; both finite and nonzero.
fn cmp_mag(a: &Number, b: &Number) -> Ordering {
    let (ga, gb) = (a.go_exp(), b.go_exp());
    if ga != gb {
        return ga.cmp(&gb);
    }
    // Same magnitude class: the exponent difference is bounded by the lengths.
    let e = a.exp.min(b.exp);
    let (sa, sb) = ((a.exp - e) as u64, (b.exp - e) as u64);
    if let (Mant::Small(x), Mant::Small(y)) = (&a.mant, &b.mant) {
        // Same bit length class and shifts below 64: fits in u128.
        return (u128::from(*x) << sa).cmp(&(u128::from(*y) << sb));
    }
    (a.mant.to_big() << sa).cmp(&(b.mant.to_big() << sb))
}

/// Go's `z.Add(x, y)` (or `z.Sub(x, y)` when `negate_y`) with `z.prec =
/// prec`; `NaN` for the sum of opposite infinities.
fn add_prec(x: &Number, y: &Number, negate_y: bool, prec: u32) -> Result<Number, ArithError> {
    let yneg = y.neg != negate_y;
    match (x.is_infinite(), y.is_infinite()) {
        (true, true) if x.neg != yneg => Err(ArithError::NaN),
        (true, _) => Ok(Number::inf_with(x.neg, prec)),
        (false, true) => Ok(Number::inf_with(yneg, prec)),
        (false, false) => Ok(add_finite(x, y, negate_y, prec)),
    }
}

/// [`add_prec`] of two finite numbers.
fn add_finite(x: &Number, y: &Number, negate_y: bool, prec: u32) -> Number {
    let yneg = y.neg != negate_y;
    match (x.is_zero(), y.is_zero()) {
        (true, true) => Number::zero_with(x.neg && yneg, prec),
        (false, true) => x.rounded(prec),
        (true, false) => {
            let mut r = y.rounded(prec);
            r.neg = yneg;
            r
        }
        (false, false) => {
            if x.neg == yneg {
                let (w, e) = addsub_mag(x, y, false, prec);
                finish(x.neg, w, e, false, prec)
            } else {
                match cmp_mag(x, y) {
                    Ordering::Greater => {
                        let (w, e) = addsub_mag(x, y, true, prec);
                        finish(x.neg, w, e, false, prec)
                    }
                    Ordering::Less => {
                        let (w, e) = addsub_mag(y, x, true, prec);
                        finish(yneg, w, e, false, prec)
                    }
                    Ordering::Equal => Number::zero_with(false, prec),
                }
            }
        }
    }
}

/// Go's `z.Mul(x, y)` with `z.prec = prec`; `NaN` for zero times infinity.
fn mul_any(x: &Number, y: &Number, prec: u32) -> Result<Number, ArithError> {
    let neg = x.neg != y.neg;
    match (x.is_infinite(), y.is_infinite()) {
        (false, false) => Ok(mul_prec(x, y, prec)),
        _ if x.is_zero() || y.is_zero() => Err(ArithError::NaN),
        _ => Ok(Number::inf_with(neg, prec)),
    }
}

/// Go's `z.Mul(x, y)` with `z.prec = prec` for finite operands.
fn mul_prec(x: &Number, y: &Number, prec: u32) -> Number {
    let neg = x.neg != y.neg;
    if x.is_zero() || y.is_zero() {
        return Number::zero_with(neg, prec);
    }
    let exp = x.exp + y.exp;
    let w = match (&x.mant, &y.mant) {
        (Mant::Small(a), Mant::Small(b)) => Wide::U(u128::from(*a) * u128::from(*b)),
        _ => Wide::B(x.mant.to_big() * y.mant.to_big()),
    };
    finish(neg, w, exp, false, prec)
}

/// Go's `z.Quo(x, y)` with `z.prec = prec`: an infinity when dividing a
/// nonzero number by zero, `NaN` for `0 / 0` and `Inf / Inf`.
fn quo_any(x: &Number, y: &Number, prec: u32) -> Result<Number, ArithError> {
    let neg = x.neg != y.neg;
    let (xz, yz) = (x.is_zero(), y.is_zero());
    let (xi, yi) = (x.is_infinite(), y.is_infinite());
    if (xz && yz) || (xi && yi) {
        return Err(ArithError::NaN);
    }
    if xz || yi {
        return Ok(Number::zero_with(neg, prec));
    }
    if xi || yz {
        return Ok(Number::inf_with(neg, prec));
    }
    Ok(quo_prec(x, y, prec))
}

/// Go's `z.Quo(x, y)` with `z.prec = prec` for finite operands and a nonzero
/// divisor (a zero one, which callers exclude, gives zero rather than a
/// panic).
fn quo_prec(x: &Number, y: &Number, prec: u32) -> Number {
    let neg = x.neg != y.neg;
    if x.is_zero() || y.is_zero() {
        return Number::zero_with(neg, prec);
    }
    let (bx, by) = (x.mant.bits(), y.mant.bits());
    // Scale the dividend so that the quotient has at least prec + 2 bits; the
    // remainder then only contributes a sticky bit.
    let k = (u64::from(prec) + 2 + by).saturating_sub(bx);
    let exp = x.exp - y.exp - k as i64;
    let (q, sticky) = match (&x.mant, &y.mant) {
        (Mant::Small(a), Mant::Small(b)) if bx + k <= 127 => {
            let n = u128::from(*a) << k;
            let d = u128::from(*b);
            (Wide::U(n / d), n % d != 0)
        }
        _ => {
            let n = x.mant.to_big() << k;
            let (q, r) = n.div_rem(&y.mant.to_big());
            (Wide::B(q), !r.is_zero())
        }
    };
    finish(neg, q, exp, sticky, prec)
}

/// Result of Go's `Float.pow5` at the precisions `ParseFloat` uses.
enum Pow5 {
    Finite(Number),
    Inf,
}

/// `5^n` exactly as `math/big`'s `(*Float).pow5` computes it for
/// `ParseFloat` with precision 512: the result at 576 bits, the running
/// power of five at 640 bits, rounding after every multiplication (and
/// overflowing to infinity like Go's).
fn pow5_go(mut n: u64) -> Pow5 {
    const TAB_MAX: u64 = 27; // 5^27 is the largest power of five in a u64
    const Z_PREC: u32 = PARSE_PREC + 64;
    const F_PREC: u32 = Z_PREC + 64;
    if n <= TAB_MAX {
        return Pow5::Finite(Number::from_u64(5u64.pow(n as u32)));
    }
    let mut z = Number::from_u64(5u64.pow(TAB_MAX as u32));
    n -= TAB_MAX;
    // `None` once the running power has overflowed to infinity.
    let mut f = Some(Number::from_u64(5));
    let mut z_inf = false;
    while n > 0 {
        if n & 1 != 0 && !z_inf {
            match &f {
                Some(fv) => {
                    z = mul_prec(&z, fv, Z_PREC);
                    z_inf = z.is_infinite();
                }
                None => z_inf = true,
            }
        }
        if let Some(fv) = &f {
            let sq = mul_prec(fv, fv, F_PREC);
            f = (!sq.is_infinite()).then_some(sq);
        }
        n >>= 1;
    }
    if z_inf {
        Pow5::Inf
    } else {
        Pow5::Finite(z)
    }
}

/// A number: `(-1)^neg × mant × 2^exp`, or `±Inf`, carrying a precision in
/// bits, like Go's `big.Float`.
///
/// Equality, ordering and hashing look at the numeric value only: precision
/// is ignored, `-0 == 0`, and the two infinities are equal to themselves
/// (whether or not they are go-cty's own infinity values).
#[derive(Clone)]
pub struct Number {
    mant: Mant,
    exp: i64,
    prec: u32,
    neg: bool,
    form: Form,
}

impl Number {
    fn from_parts(neg: bool, (mant, exp): (Mant, i64), prec: u32) -> Number {
        Number {
            mant,
            exp,
            prec,
            neg,
            form: Form::Finite,
        }
    }

    fn zero_with(neg: bool, prec: u32) -> Number {
        Number {
            mant: Mant::Small(0),
            exp: 0,
            prec,
            neg,
            form: Form::Finite,
        }
    }

    /// An infinity of precision `prec` (Go's `SetInf` into a `prec`-bit
    /// receiver).
    fn inf_with(neg: bool, prec: u32) -> Number {
        Number {
            mant: Mant::Small(0),
            exp: 0,
            prec,
            neg,
            form: Form::Inf,
        }
    }

    /// The exponent `e` of the value written as `0.mantissa × 2^e` (Go's
    /// `Float.exp`); only meaningful for finite nonzero numbers.
    fn go_exp(&self) -> i64 {
        self.exp + self.mant.bits() as i64
    }

    /// The value rounded to `prec` bits (Go's `Set` into a `prec`-bit
    /// receiver, overflowing to infinity when rounding up leaves Go's
    /// exponent range); `prec` becomes the precision. The result is a new
    /// value: never go-cty's own infinity.
    fn rounded(&self, prec: u32) -> Number {
        if self.is_infinite() {
            return Number::inf_with(self.neg, prec);
        }
        if self.is_zero() || self.mant.bits() <= u64::from(prec) {
            let mut r = self.clone();
            r.prec = prec;
            return r;
        }
        let r = Number::from_parts(
            self.neg,
            round_wide(self.mant.wide(), self.exp, false, prec),
            prec,
        );
        if !r.is_zero() && r.go_exp() > MAX_EXP {
            return Number::inf_with(self.neg, prec);
        }
        r
    }

    /// A new infinity, like `new(big.Float).SetInf(negative)`: precision 0.
    /// (`1 / 0` gives an infinity with the operands' precision instead.)
    pub fn infinity(negative: bool) -> Number {
        Number::inf_with(negative, 0)
    }

    /// go-cty's `cty.NegativeInfinity` (`negative`) or `cty.PositiveInfinity`
    /// itself: an infinity of precision 0 that go-cty's `Modulo` recognizes
    /// by identity (see [`Number::rem`]). go-cty's `max` and `min` return
    /// these when every argument is that infinity. Operations on it give new
    /// values; clones stay the same value, as copies of a `cty.Value` do.
    pub fn cty_infinity(negative: bool) -> Number {
        Number {
            form: Form::CtyInf,
            ..Number::inf_with(negative, 0)
        }
    }

    /// Whether the value is `+Inf` or `-Inf` (Go's `Float.IsInf`).
    pub fn is_infinite(&self) -> bool {
        self.form != Form::Finite
    }

    /// Whether the value is neither `+Inf` nor `-Inf`.
    pub fn is_finite(&self) -> bool {
        self.form == Form::Finite
    }

    /// Whether this is go-cty's own `cty.PositiveInfinity` or
    /// `cty.NegativeInfinity` value (see [`Number::cty_infinity`]).
    pub fn is_cty_infinity(&self) -> bool {
        self.form == Form::CtyInf
    }

    /// Positive zero with precision 64, like `cty.NumberIntVal(0)`.
    pub fn zero() -> Number {
        Number::zero_with(false, INT_PREC)
    }

    /// Like `new(big.Float).SetInt64(v)` (go-cty's `NumberIntVal`):
    /// precision 64.
    pub fn from_i64(v: i64) -> Number {
        Number::from_parts(v < 0, canon_u64(v.unsigned_abs(), 0), INT_PREC)
    }

    /// Like `new(big.Float).SetUint64(v)` (go-cty's `NumberUIntVal`):
    /// precision 64.
    pub fn from_u64(v: u64) -> Number {
        Number::from_parts(false, canon_u64(v, 0), INT_PREC)
    }

    /// Like `new(big.Float).SetFloat64(v)` (go-cty's `NumberFloatVal`):
    /// precision 53; the infinities give infinities. `None` for NaN (where
    /// Go panics).
    pub fn from_f64(v: f64) -> Option<Number> {
        if v.is_nan() {
            return None;
        }
        if v.is_infinite() {
            return Some(Number::inf_with(v < 0.0, FLOAT_PREC));
        }
        let bits = v.to_bits();
        let neg = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let parts = if biased == 0 {
            canon_u64(frac, -1074)
        } else {
            canon_u64(frac | (1u64 << 52), biased - 1075)
        };
        Some(Number::from_parts(neg, parts, FLOAT_PREC))
    }

    /// Like `new(big.Float).SetInt(v)`: precision `max(64, bit length)`, so
    /// the value is exact.
    pub fn from_bigint(v: &BigInt) -> Number {
        let prec = u32::try_from(v.bits()).unwrap_or(u32::MAX).max(INT_PREC);
        let neg = v.sign() == Sign::Minus;
        Number::from_parts(neg, canon_big(v.magnitude().clone(), 0), prec)
    }

    /// Parses a decimal number like `big.ParseFloat(s, 10, 512,
    /// big.ToNearestEven)`, which is how go-cty reads HCL number literals,
    /// JSON numbers and strings converted to numbers.
    ///
    /// Accepted: an optional sign, digits with at most one `.` (`1`, `1.`,
    /// `.5`), then optionally `e`/`E` (power of ten) or `p`/`P` (power of
    /// two), an optional sign and digits. Nothing else, not even surrounding
    /// spaces or `_` separators. Also Go's infinity words, exactly `Inf` or
    /// `inf` with an optional sign. Values beyond Go's exponent range become
    /// ±Inf (or ±0 when tiny), as in Go, except that a binary exponent
    /// itself out of range (`1p2147483647`) is an error there and `None`
    /// here. The result has precision 512.
    pub fn parse(s: &str) -> Option<Number> {
        // Go's Float.Parse checks for these before scanning.
        match s {
            "Inf" | "inf" | "+Inf" | "+inf" => return Some(Number::inf_with(false, PARSE_PREC)),
            "-Inf" | "-inf" => return Some(Number::inf_with(true, PARSE_PREC)),
            _ => {}
        }
        let b = s.as_bytes();
        let mut i = 0usize;
        let mut neg = false;
        match b.first() {
            Some(b'+') => i = 1,
            Some(b'-') => {
                neg = true;
                i = 1;
            }
            Some(_) => {}
            None => return None,
        }

        // Mantissa: digits with at most one radix point.
        let mant_start = i;
        let mut count: i64 = 0;
        let mut dp: Option<i64> = None;
        let mut small: u64 = 0;
        let mut small_ok = true;
        while let Some(&c) = b.get(i) {
            if c == b'.' && dp.is_none() {
                dp = Some(count);
            } else if c.is_ascii_digit() {
                count += 1;
                if small_ok {
                    match small
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(c - b'0')))
                    {
                        Some(v) => small = v,
                        None => small_ok = false,
                    }
                }
            } else {
                break;
            }
            i += 1;
        }
        let mant_end = i;
        if count == 0 {
            return None;
        }
        let fcount = dp.map_or(0, |dp| dp - count);

        // Exponent.
        let mut exp: i64 = 0;
        let mut base2 = false;
        if let Some(&c) = b.get(i) {
            if matches!(c, b'e' | b'E' | b'p' | b'P') {
                base2 = matches!(c, b'p' | b'P');
                i += 1;
                let mut eneg = false;
                if let Some(&sc) = b.get(i) {
                    if sc == b'+' || sc == b'-' {
                        eneg = sc == b'-';
                        i += 1;
                    }
                }
                let digits_start = i;
                // Accumulate negatively so that i64::MIN is representable,
                // like strconv.ParseInt.
                let mut acc: i64 = 0;
                let mut overflow = false;
                while let Some(&dc) = b.get(i) {
                    if !dc.is_ascii_digit() {
                        break;
                    }
                    match acc
                        .checked_mul(10)
                        .and_then(|v| v.checked_sub(i64::from(dc - b'0')))
                    {
                        Some(v) => acc = v,
                        None => overflow = true,
                    }
                    i += 1;
                }
                if i == digits_start || overflow {
                    return None;
                }
                exp = if eneg { acc } else { acc.checked_neg()? };
            }
        }
        if i != b.len() {
            return None;
        }

        let m = if small_ok {
            Wide::U(u128::from(small))
        } else {
            let digits: Vec<u8> = b[mant_start..mant_end]
                .iter()
                .copied()
                .filter(u8::is_ascii_digit)
                .collect();
            Wide::B(BigUint::parse_bytes(&digits, 10)?)
        };
        if m.is_zero() {
            return Some(Number::zero_with(neg, PARSE_PREC));
        }

        // Go: exp2 = bit length + fraction digits + exponent, checked against
        // the exponent range; exp5 = the decimal part of the scaling.
        let bits = i128::from(m.bits());
        let exp2 = bits + i128::from(fcount) + i128::from(exp);
        let exp5 = i128::from(fcount) + if base2 { 0 } else { i128::from(exp) };
        if exp2 < i128::from(MIN_EXP) || exp2 > i128::from(MAX_EXP) {
            return None;
        }
        let lsb = (exp2 - bits) as i64;
        let exp5 = exp5 as i64;

        let r = if exp5 == 0 {
            finish(neg, m, lsb, false, PARSE_PREC)
        } else {
            // Fast exact case: the mantissa is a multiple of 5^-exp5.
            if let Wide::U(v) = m {
                if (-27..0).contains(&exp5) {
                    let p = u128::from(5u64.pow((-exp5) as u32));
                    if v % p == 0 {
                        return Some(finish(neg, Wide::U(v / p), lsb, false, PARSE_PREC));
                    }
                }
            }
            let x = Number::from_parts(neg, canon_wide(m, lsb), PARSE_PREC);
            // x × Inf is an infinity and x / Inf a zero, as in Go.
            if exp5 > 0 {
                match pow5_go(exp5 as u64) {
                    Pow5::Inf => Number::inf_with(neg, PARSE_PREC),
                    Pow5::Finite(p) => mul_prec(&x, &p, PARSE_PREC),
                }
            } else {
                match pow5_go(exp5.unsigned_abs()) {
                    Pow5::Inf => Number::zero_with(neg, PARSE_PREC),
                    Pow5::Finite(p) => quo_prec(&x, &p, PARSE_PREC),
                }
            }
        };
        Some(r)
    }

    /// The precision in bits (Go's `Float.Prec`).
    pub fn prec(&self) -> u32 {
        self.prec
    }

    /// The fewest bits that represent the value exactly (Go's
    /// `Float.MinPrec`); 0 for zero and the infinities.
    pub fn min_prec(&self) -> u32 {
        if self.is_infinite() {
            return 0;
        }
        u32::try_from(self.mant.bits()).unwrap_or(u32::MAX)
    }

    /// The value rounded half to even to `prec` bits, with that precision
    /// (Go's `SetPrec`; precision 0 turns every finite value into a zero of
    /// the same sign and leaves infinities infinite).
    pub fn with_prec(&self, prec: u32) -> Number {
        if prec == 0 && self.is_finite() {
            return Number::zero_with(self.neg, 0);
        }
        self.rounded(prec)
    }

    /// Whether the value is zero (either sign).
    pub fn is_zero(&self) -> bool {
        self.is_finite() && self.mant.is_zero()
    }

    /// Whether the value is a whole number (Go's `Float.IsInt`: not for the
    /// infinities).
    pub fn is_integer(&self) -> bool {
        self.is_finite() && (self.is_zero() || self.exp >= 0)
    }

    /// go-cty's number equality (`==`, `Equals`, `RawEquals`): two whole numbers are equal when
    /// their values are; otherwise two numbers are equal when they print the same with
    /// `Text('f', -1)` (the JSON form), `-0` and `0` alike. So `pow(0.1, 1) == 0.1` although
    /// the two differ in their last binary digits.
    pub fn cty_equal(&self, other: &Number) -> bool {
        if self.signum() != other.signum() {
            return false;
        }
        match (self.is_integer(), other.is_integer()) {
            (true, true) => self == other,
            (false, false) => {
                let norm = |s: String| if s == "-0" { "0".to_string() } else { s };
                norm(self.text('f', -1)) == norm(other.text('f', -1))
            }
            _ => false,
        }
    }

    /// -1, 0 or 1 by the sign of the value (0 for both zeros, ±1 for the
    /// infinities), like Go's `Float.Sign`.
    pub fn signum(&self) -> i32 {
        if self.is_zero() {
            0
        } else if self.neg {
            -1
        } else {
            1
        }
    }

    /// Whether the sign bit is set, which includes negative zero (Go's
    /// `Signbit`). Terraform prints negative zero as `-0`.
    pub fn is_sign_negative(&self) -> bool {
        self.neg
    }

    /// The number with a negative zero turned into a positive one; other
    /// values unchanged. Terraform's plan and state encodings (msgpack) lose
    /// the sign of zero, so values read back from them are never `-0`.
    pub fn without_negative_zero(&self) -> Number {
        let mut r = self.clone();
        if r.is_zero() {
            r.neg = false;
        }
        r
    }

    /// Sum, like go-cty's `Add`: precision is the larger operand precision,
    /// the exact sum rounded half to even to it (±Inf when it overflows Go's
    /// exponent range; an infinity plus anything finite is that infinity).
    /// `NaN` for `+Inf + -Inf`, where Go panics and Terraform fails with
    /// "can't compute sum of opposing infinities".
    pub fn checked_add(&self, other: &Number) -> Result<Number, ArithError> {
        add_prec(self, other, false, self.prec.max(other.prec))
    }

    /// Difference, like go-cty's `Subtract` (which adds the negation). `NaN`
    /// for the difference of equal infinities (Terraform: "can't subtract
    /// infinity from itself").
    pub fn checked_sub(&self, other: &Number) -> Result<Number, ArithError> {
        add_prec(self, other, true, self.prec.max(other.prec))
    }

    /// Product, like go-cty's `Multiply`: computed at 512 bits, then given
    /// the larger of the operand precisions and the bits the product needs.
    /// `NaN` for zero times an infinity (Terraform: "can't multiply zero by
    /// infinity").
    pub fn checked_mul(&self, other: &Number) -> Result<Number, ArithError> {
        let mut r = mul_any(self, other, PARSE_PREC)?;
        r.prec = self.prec.max(other.prec).max(r.min_prec());
        Ok(r)
    }

    /// [`Number::checked_add`] for callers that know the sum is defined; for
    /// opposite infinities it gives `+0`, the value Go leaves in the receiver
    /// before panicking.
    pub fn add(&self, other: &Number) -> Number {
        self.checked_add(other)
            .unwrap_or_else(|_| Number::zero_with(false, self.prec.max(other.prec)))
    }

    /// [`Number::checked_sub`], giving `+0` for equal infinities (as
    /// [`Number::add`] does).
    pub fn sub(&self, other: &Number) -> Number {
        self.checked_sub(other)
            .unwrap_or_else(|_| Number::zero_with(false, self.prec.max(other.prec)))
    }

    /// [`Number::checked_mul`], giving `+0` for zero times an infinity (as
    /// [`Number::add`] does).
    pub fn mul(&self, other: &Number) -> Number {
        self.checked_mul(other)
            .unwrap_or_else(|_| Number::zero_with(false, self.prec.max(other.prec)))
    }

    /// Quotient, like go-cty's `Divide` (`big.Float.Quo` at the larger
    /// operand precision): a nonzero number divided by zero is an infinity
    /// with the sign of the operands (`-1 / 0` is `-Inf`, `1 / -0` too), a
    /// finite number divided by an infinity a zero. `NaN` for `0 / 0` and
    /// `Inf / Inf` (Terraform: "can't divide zero by zero or infinity by
    /// infinity").
    pub fn div(&self, other: &Number) -> Result<Number, ArithError> {
        quo_any(self, other, self.prec.max(other.prec))
    }

    /// Remainder of Terraform's `%`, exactly like go-cty's `Value.Modulo`:
    /// the quotient truncated toward zero, then `self - other × quotient`
    /// rounded to `self`'s precision; the sign follows `self` (`-7 % 3 ==
    /// -1`). Its special cases, in go-cty's order:
    ///
    /// - when either operand is go-cty's own infinity value
    ///   ([`Number::cty_infinity`], e.g. from `max(-1/0)`), the *product*
    ///   (`NaN` for a zero operand);
    /// - a zero divisor gives `self` unchanged (`5 % 0 == 5`, `(1/0) % 0` is
    ///   `+Inf`);
    /// - any other infinite divisor, or an infinite dividend divided by an
    ///   infinite divisor, is `NaN` (Go's `Inf × 0` or `Inf / Inf`; Terraform:
    ///   "can't use modulo with zero and infinity");
    /// - an infinite quotient otherwise (an infinite dividend, or a finite
    ///   one whose quotient overflows) is [`ArithError::NilInt`]: go-cty
    ///   dereferences the nil integer part of the infinity.
    pub fn rem(&self, other: &Number) -> Result<Number, ArithError> {
        if self.is_cty_infinity() || other.is_cty_infinity() {
            return self.checked_mul(other);
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        let rat = self.div(other)?;
        if rat.is_infinite() {
            return Err(ArithError::NilInt);
        }
        if other.is_infinite() {
            // The quotient is zero, and work.Mul(other, 0) is Inf × 0.
            return Err(ArithError::NaN);
        }
        let i = rat.trunc_exact();
        // new(big.Float).Copy(v).SetInt(i): v's precision, or SetInt's own
        // choice when that is 0.
        let wprec = if self.prec == 0 {
            i.int_prec()
        } else {
            self.prec
        };
        let work = i.rounded(wprec);
        let work = mul_prec(other, &work, wprec);
        Ok(add_finite(self, &work, true, wprec))
    }

    /// The negated value, same precision (go-cty's `Negate`; `-0` from `0`,
    /// `-Inf` from `+Inf`).
    pub fn neg(&self) -> Number {
        let mut r = self.unshared();
        r.neg = !r.neg;
        r
    }

    /// The absolute value, same precision (go-cty's `Absolute`).
    pub fn abs(&self) -> Number {
        let mut r = self.unshared();
        r.neg = false;
        r
    }

    /// A copy that is a new value: go-cty's own infinity becomes an ordinary
    /// one.
    fn unshared(&self) -> Number {
        let mut r = self.clone();
        if r.form == Form::CtyInf {
            r.form = Form::Inf;
        }
        r
    }

    /// The integer part (toward zero) as an exact number; zero is positive,
    /// like a `big.Int`. Precision is left for the caller to set.
    fn trunc_exact(&self) -> Number {
        if self.is_zero() {
            return Number::zero_with(false, self.prec);
        }
        if self.exp >= 0 {
            return self.clone();
        }
        let k = self.exp.unsigned_abs();
        if k >= self.mant.bits() {
            return Number::zero_with(false, self.prec);
        }
        Number::from_parts(self.neg, canon_wide(shr_mant(&self.mant, k), 0), self.prec)
    }

    /// The precision `new(big.Float).SetInt(i)` picks for this integer.
    fn int_prec(&self) -> u32 {
        let bits = if self.is_zero() { 0 } else { self.go_exp() };
        u32::try_from(bits).unwrap_or(u32::MAX).max(INT_PREC)
    }

    /// `big.Float.SetInt(i)` into a receiver of precision `prec` (0 meaning
    /// SetInt's own choice).
    fn set_int(i: &Number, prec: u32) -> Number {
        let prec = if prec == 0 { i.int_prec() } else { prec };
        i.rounded(prec)
    }

    /// Like go-cty's `floor` function: the greatest integer not above the
    /// value, rounded to the value's own precision (which is kept).
    /// An infinity is returned as it is (go-cty checks for it).
    pub fn floor(&self) -> Number {
        if self.is_infinite() {
            return self.unshared();
        }
        let t = self.trunc_exact();
        let i = if !self.is_integer() && self.neg {
            add_finite(&t, &Number::from_i64(1), true, EXACT)
        } else {
            t
        };
        Number::set_int(&i, self.prec)
    }

    /// Like go-cty's `ceil` function: the least integer not below the value,
    /// rounded to the value's own precision (which is kept).
    /// An infinity is returned as it is (go-cty checks for it).
    pub fn ceil(&self) -> Number {
        if self.is_infinite() {
            return self.unshared();
        }
        let t = self.trunc_exact();
        let i = if !self.is_integer() && !self.neg {
            add_finite(&t, &Number::from_i64(1), false, EXACT)
        } else {
            t
        };
        Number::set_int(&i, self.prec)
    }

    /// The value without its fractional part, like go-cty's `IntFunc`:
    /// unchanged when already an integer, otherwise a new number of precision
    /// `max(64, bit length)`. An infinity is returned unchanged (go-cty's
    /// `IntFunc` would fail on the nil integer part).
    pub fn trunc(&self) -> Number {
        if self.is_integer() || self.is_infinite() {
            return self.clone();
        }
        Number::set_int(&self.trunc_exact(), 0)
    }

    /// The value as an `i64` when it is an integer in range (never for the
    /// infinities).
    pub fn to_i64(&self) -> Option<i64> {
        if self.is_infinite() {
            return None;
        }
        if self.is_zero() {
            return Some(0);
        }
        let v = self.small_int_magnitude()?;
        if self.neg {
            if v <= 1u128 << 63 {
                i64::try_from(-(v as i128)).ok()
            } else {
                None
            }
        } else {
            i64::try_from(v).ok()
        }
    }

    /// The value as a `u64` when it is a non-negative integer in range.
    pub fn to_u64(&self) -> Option<u64> {
        if self.is_infinite() {
            return None;
        }
        if self.is_zero() {
            return Some(0);
        }
        if self.neg {
            return None;
        }
        u64::try_from(self.small_int_magnitude()?).ok()
    }

    /// `|value|` as an integer when it is one below 2^64.
    fn small_int_magnitude(&self) -> Option<u128> {
        if self.is_infinite() || self.exp < 0 || self.go_exp() > 64 {
            return None;
        }
        match self.mant {
            Mant::Small(m) => Some(u128::from(m) << self.exp),
            Mant::Big(_) => None,
        }
    }

    /// The value as a `BigInt` when it is an integer.
    pub fn to_bigint(&self) -> Option<BigInt> {
        if !self.is_integer() {
            return None;
        }
        if self.is_zero() {
            return Some(BigInt::zero());
        }
        let sign = if self.neg { Sign::Minus } else { Sign::Plus };
        Some(BigInt::from_biguint(
            sign,
            self.mant.to_big() << self.exp.unsigned_abs(),
        ))
    }

    /// The exact value as `(m, e)` with `value == m × 2^e` and `m` odd, or
    /// `(0, 0)` for zero. Only for finite values: the infinities have no such
    /// form and also give `(0, 0)`, so check [`Number::is_finite`] first.
    pub fn to_parts(&self) -> (BigInt, i64) {
        if self.is_zero() || self.is_infinite() {
            return (BigInt::zero(), 0);
        }
        let sign = if self.neg { Sign::Minus } else { Sign::Plus };
        (BigInt::from_biguint(sign, self.mant.to_big()), self.exp)
    }

    /// The nearest `f64` (ties to even, with subnormals; ±infinity beyond
    /// range and for the infinities), like Go's `Float.Float64`.
    pub fn to_f64(&self) -> f64 {
        let sign = |f: f64| if self.neg { -f } else { f };
        if self.is_infinite() {
            return sign(f64::INFINITY);
        }
        if self.is_zero() {
            return sign(0.0);
        }
        let e = self.go_exp() - 1;
        let mut p: i64 = 53;
        if e < -1022 {
            p = 53 + 1022 + e;
            let exactly_half = matches!(self.mant, Mant::Small(1));
            if p < 0 || (p == 0 && exactly_half) {
                return sign(0.0);
            }
            if p == 0 {
                return sign(f64::from_bits(1));
            }
        }
        let (m, ex) = round_wide(self.mant.wide(), self.exp, false, p as u32);
        let m = match m {
            Mant::Small(m) => m,
            Mant::Big(_) => return sign(f64::INFINITY), // cannot happen: p <= 53
        };
        if ex + i64::from(64 - m.leading_zeros()) - 1 > 1023 {
            return sign(f64::INFINITY);
        }
        sign(ldexp_exact(m, ex))
    }

    /// The value as an `f64` when that is exact (the infinities are).
    pub fn to_f64_exact(&self) -> Option<f64> {
        let f = self.to_f64();
        (Number::from_f64(f)? == *self).then_some(f)
    }

    /// Go's `(*big.Float).Text(format, prec)` for the formats `'e'`, `'E'`,
    /// `'f'`, `'g'` and `'G'`: `prec` digits after the point (`'e'`, `'f'`) or
    /// significant digits (`'g'`), and a negative `prec` for the fewest digits
    /// that read back to the same value at the number's own precision. Other
    /// formats give `%` and the format character, as Go does for unknown
    /// ones (Go's binary formats `'b'`, `'p'`, `'x'` are not supported). The
    /// infinities are `+Inf` and `-Inf` in every format, as in Go.
    pub fn text(&self, format: char, prec: i32) -> String {
        let mut buf = String::new();
        self.append_text(&mut buf, format, prec);
        buf
    }

    fn append_text(&self, buf: &mut String, fmt: char, prec: i32) {
        if self.is_infinite() {
            buf.push_str(if self.neg { "-Inf" } else { "+Inf" });
            return;
        }
        if !matches!(fmt, 'e' | 'E' | 'f' | 'g' | 'G') {
            buf.push('%');
            buf.push(fmt);
            return;
        }
        if self.neg {
            buf.push('-');
        }
        let mut d = Decimal::of(self.mant.wide(), self.exp);
        let mut prec = i64::from(prec);
        let shortest = prec < 0;
        if shortest {
            round_shortest(&mut d, self);
            let len = d.mant.len() as i64;
            prec = match fmt {
                'e' | 'E' => len - 1,
                'f' => (len - d.exp).max(0),
                _ => len,
            };
        } else {
            match fmt {
                'e' | 'E' => d.round(1 + prec),
                'f' => d.round(d.exp + prec),
                _ => {
                    if prec == 0 {
                        prec = 1;
                    }
                    d.round(prec);
                }
            }
        }
        match fmt {
            'e' | 'E' => fmt_e(buf, fmt, prec, &d),
            'f' => fmt_f(buf, prec, &d),
            _ => {
                let len = d.mant.len() as i64;
                let mut eprec = prec;
                if eprec > len && len >= d.exp {
                    eprec = len;
                }
                if shortest {
                    eprec = 6;
                }
                let exp = d.exp - 1;
                if exp < -4 || exp >= eprec {
                    if prec > len {
                        prec = len;
                    }
                    let efmt = if fmt == 'g' { 'e' } else { 'E' };
                    fmt_e(buf, efmt, prec - 1, &d);
                } else {
                    if prec > d.exp {
                        prec = len;
                    }
                    fmt_f(buf, (prec - d.exp).max(0), &d);
                }
            }
        }
    }

    /// The integer value when it needs no rounding in shortest `'f'` form and
    /// fits a `u64` (the allocation-free path of `Display`).
    fn display_fast(&self) -> Option<u64> {
        if self.is_infinite() {
            return None;
        }
        if let Mant::Small(m) = self.mant {
            if self.exp >= 0 {
                let g = self.exp + i64::from(64 - m.leading_zeros());
                if g <= 64 && g <= i64::from(self.prec) {
                    return Some(if m == 0 { 0 } else { m << self.exp });
                }
            }
        }
        None
    }
}

/// `m × 2^e` as an `f64`, for values that are exactly representable.
fn ldexp_exact(m: u64, mut e: i64) -> f64 {
    let pow2 = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    let mut f = m as f64;
    while e > 0 {
        let k = e.min(1000);
        f *= pow2(k);
        e -= k;
    }
    while e < 0 {
        let k = e.max(-1000);
        f *= pow2(k);
        e -= k;
    }
    f
}

/// A decimal `0.mant × 10^exp` with ASCII digits and no trailing zeros (Go's
/// `math/big` `decimal`); zero has no digits and exponent 0.
struct Decimal {
    mant: Vec<u8>,
    exp: i64,
}

fn pow5_big(mut k: u64) -> BigUint {
    let mut result = BigUint::from(1u32);
    let mut base = BigUint::from(5u32);
    while k > 0 {
        if k & 1 == 1 {
            result *= &base;
        }
        k >>= 1;
        if k > 0 {
            base = &base * &base;
        }
    }
    result
}

impl Decimal {
    /// The exact decimal value of `w × 2^shift`.
    fn of(w: Wide, shift: i64) -> Decimal {
        let (w, shift) = match canon_wide(w, shift) {
            (Mant::Small(0), _) => {
                return Decimal {
                    mant: Vec::new(),
                    exp: 0,
                }
            }
            (m, s) => (m.wide(), s),
        };
        let (digits, exp_adjust) = if shift >= 0 {
            let v = w.shl(shift as u64);
            let s = match v {
                Wide::U(u) => u.to_string(),
                Wide::B(b) => b.to_string(),
            };
            (s, 0)
        } else {
            // m × 2^-k == m × 5^k / 10^k
            let k = shift.unsigned_abs();
            let mut small = None;
            if let Wide::U(u) = w {
                let mut acc = Some(u);
                for _ in 0..k.min(64) {
                    acc = acc.and_then(|a| a.checked_mul(5));
                }
                if k <= 64 {
                    small = acc;
                }
            }
            let s = match small {
                Some(v) => v.to_string(),
                None => (w.into_big() * pow5_big(k)).to_string(),
            };
            (s, k as i64)
        };
        let mut mant = digits.into_bytes();
        let exp = mant.len() as i64 - exp_adjust;
        while mant.last() == Some(&b'0') {
            mant.pop();
        }
        Decimal { mant, exp }
    }

    fn at(&self, i: i64) -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.mant.get(i).copied())
            .unwrap_or(b'0')
    }

    fn trim(&mut self) {
        while self.mant.last() == Some(&b'0') {
            self.mant.pop();
        }
        if self.mant.is_empty() {
            self.exp = 0;
        }
    }

    /// The index `n` when `0 <= n < len`.
    fn index(&self, n: i64) -> Option<usize> {
        usize::try_from(n).ok().filter(|&n| n < self.mant.len())
    }

    fn should_round_up(&self, n: usize) -> bool {
        if self.mant[n] == b'5' && n + 1 == self.mant.len() {
            // exactly halfway: round to even
            return n > 0 && (self.mant[n - 1] - b'0') & 1 != 0;
        }
        self.mant[n] >= b'5'
    }

    fn round(&mut self, n: i64) {
        let Some(n) = self.index(n) else { return };
        if self.should_round_up(n) {
            self.round_up_at(n);
        } else {
            self.round_down_at(n);
        }
    }

    fn round_up(&mut self, n: i64) {
        if let Some(n) = self.index(n) {
            self.round_up_at(n);
        }
    }

    fn round_down(&mut self, n: i64) {
        if let Some(n) = self.index(n) {
            self.round_down_at(n);
        }
    }

    fn round_up_at(&mut self, mut n: usize) {
        while n > 0 && self.mant[n - 1] >= b'9' {
            n -= 1;
        }
        if n == 0 {
            // all nines: becomes 1 with a larger exponent
            self.mant[0] = b'1';
            self.mant.truncate(1);
            self.exp += 1;
            return;
        }
        self.mant[n - 1] += 1;
        self.mant.truncate(n);
    }

    fn round_down_at(&mut self, n: usize) {
        self.mant.truncate(n);
        self.trim();
    }
}

/// Go's `roundShortest`: the fewest digits that still lie within half an ulp
/// (at `x`'s precision) of `x`.
fn round_shortest(d: &mut Decimal, x: &Number) {
    if d.mant.is_empty() {
        return;
    }
    let bits = x.mant.bits();
    let prec = u64::from(x.prec).max(bits);
    // Shortcut (not in Go, same result): when half an ulp is below one unit
    // of the last exact digit, lower and upper bound share every digit but
    // the last one, and Go's walk below keeps all digits.
    let half_ulp_log2 = x.go_exp() - prec as i64 - 1;
    let last_digit_log10 = d.exp - d.mant.len() as i64;
    if (half_ulp_log2 as f64) < (last_digit_log10 as f64) * std::f64::consts::LOG2_10 - 1.0 {
        return;
    }

    // The mantissa with prec + 1 bits, so that its last bit is half an ulp.
    let shift = prec + 1 - bits;
    let exp2 = x.exp - shift as i64;
    let mant2 = x.mant.wide().shl(shift);
    let (lower, upper, inclusive) = match mant2 {
        Wide::U(m) => (
            Decimal::of(Wide::U(m - 1), exp2),
            Decimal::of(Wide::U(m + 1), exp2),
            m & 2 == 0,
        ),
        Wide::B(m) => (
            Decimal::of(Wide::B(&m - 1u32), exp2),
            Decimal::of(Wide::B(&m + 1u32), exp2),
            !m.bit(1),
        ),
    };
    // The bounds are possible outputs only when the mantissa is even (then
    // rounding to nearest even maps them back to x).
    for i in 0..d.mant.len() {
        let m = d.mant[i];
        let l = lower.at(i as i64);
        let u = upper.at(i as i64);
        let okdown = l != m || (inclusive && i + 1 == lower.mant.len());
        let okup = m != u && (inclusive || m + 1 < u || i + 1 < upper.mant.len());
        let n = i as i64 + 1;
        match (okdown, okup) {
            (true, true) => return d.round(n),
            (true, false) => return d.round_down(n),
            (false, true) => return d.round_up(n),
            (false, false) => {}
        }
    }
}

/// Go's `fmtE`: `d.ddddde±dd`.
fn fmt_e(buf: &mut String, fmt: char, prec: i64, d: &Decimal) {
    buf.push(char::from(d.mant.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        buf.push('.');
        let mut i: i64 = 1;
        let m = (d.mant.len() as i64).min(prec + 1);
        if i < m {
            for &c in &d.mant[1..m as usize] {
                buf.push(char::from(c));
            }
            i = m;
        }
        while i <= prec {
            buf.push('0');
            i += 1;
        }
    }
    buf.push(fmt);
    let mut exp = if d.mant.is_empty() { 0 } else { d.exp - 1 };
    if exp < 0 {
        buf.push('-');
        exp = -exp;
    } else {
        buf.push('+');
    }
    if exp < 10 {
        buf.push('0');
    }
    buf.push_str(&exp.to_string());
}

/// Go's `fmtF`: `ddddd.ddddd`.
fn fmt_f(buf: &mut String, prec: i64, d: &Decimal) {
    if d.exp > 0 {
        let m = (d.mant.len() as i64).min(d.exp);
        for &c in &d.mant[..m as usize] {
            buf.push(char::from(c));
        }
        for _ in m..d.exp {
            buf.push('0');
        }
    } else {
        buf.push('0');
    }
    if prec > 0 {
        buf.push('.');
        for i in 0..prec {
            buf.push(char::from(d.at(d.exp + i)));
        }
    }
}

impl Default for Number {
    fn default() -> Number {
        Number::zero()
    }
}

impl fmt::Display for Number {
    /// `Text('f', -1)`: how Terraform prints numbers (`tostring`, templates,
    /// JSON output).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() {
            return f.pad(&self.text('f', -1));
        }
        match self.display_fast() {
            Some(v) => {
                if self.neg {
                    f.write_str("-")?;
                }
                write!(f, "{v}")
            }
            None => f.write_str(&self.text('f', -1)),
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self}, prec {})", self.prec)
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        if self.is_infinite() || other.is_infinite() {
            return self.is_infinite() && other.is_infinite() && self.neg == other.neg;
        }
        if self.is_zero() || other.is_zero() {
            return self.is_zero() && other.is_zero();
        }
        self.neg == other.neg
            && self.exp == other.exp
            && match (&self.mant, &other.mant) {
                (Mant::Small(a), Mant::Small(b)) => a == b,
                (Mant::Big(a), Mant::Big(b)) => a == b,
                _ => false,
            }
    }
}

impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.is_zero() {
            0u8.hash(state);
            return;
        }
        if self.is_infinite() {
            3u8.hash(state);
            self.neg.hash(state);
            return;
        }
        self.neg.hash(state);
        self.exp.hash(state);
        match &self.mant {
            Mant::Small(m) => {
                1u8.hash(state);
                m.hash(state);
            }
            Mant::Big(b) => {
                2u8.hash(state);
                b.hash(state);
            }
        }
    }
}

impl Ord for Number {
    /// Go's `Float.Cmp`: `-Inf` below every finite number, `+Inf` above.
    fn cmp(&self, other: &Number) -> Ordering {
        let rank = |n: &Number| {
            if n.is_infinite() {
                2 * n.signum()
            } else {
                n.signum()
            }
        };
        let (a, b) = (rank(self), rank(other));
        if a != b || a == 0 || a.abs() == 2 {
            return a.cmp(&b);
        }
        let m = cmp_mag(self, other);
        if a > 0 {
            m
        } else {
            m.reverse()
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Number {
    type Err = ParseNumberError;

    fn from_str(s: &str) -> Result<Number, ParseNumberError> {
        Number::parse(s).ok_or(ParseNumberError)
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Number {
        Number::from_i64(v)
    }
}

impl From<i32> for Number {
    fn from(v: i32) -> Number {
        Number::from_i64(i64::from(v))
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        Number::from_u64(v)
    }
}

impl From<u32> for Number {
    fn from(v: u32) -> Number {
        Number::from_u64(u64::from(v))
    }
}

impl From<usize> for Number {
    fn from(v: usize) -> Number {
        Number::from_u64(v as u64)
    }
}

impl ops::Add for &Number {
    type Output = Number;
    fn add(self, other: &Number) -> Number {
        Number::add(self, other)
    }
}

impl ops::Sub for &Number {
    type Output = Number;
    fn sub(self, other: &Number) -> Number {
        Number::sub(self, other)
    }
}

impl ops::Mul for &Number {
    type Output = Number;
    fn mul(self, other: &Number) -> Number {
        Number::mul(self, other)
    }
}

impl ops::Neg for &Number {
    type Output = Number;
    fn neg(self) -> Number {
        Number::neg(self)
    }
}

impl ops::Neg for Number {
    type Output = Number;
    fn neg(mut self) -> Number {
        self.neg = !self.neg;
        if self.form == Form::CtyInf {
            self.form = Form::Inf;
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn p(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|| panic!("{s:?} should parse"))
    }

    fn i(v: i64) -> Number {
        Number::from_i64(v)
    }

    fn u(v: u64) -> Number {
        Number::from_u64(v)
    }

    fn f(v: f64) -> Number {
        Number::from_f64(v).unwrap()
    }

    fn hash(n: &Number) -> u64 {
        let mut h = DefaultHasher::new();
        n.hash(&mut h);
        h.finish()
    }

    fn is_small(n: &Number) -> bool {
        matches!(n.mant, Mant::Small(_))
    }

    // ---- outputs observed from Terraform 1.11 ----

    #[test]
    fn terraform_division_digits() {
        assert_eq!(
            p("1").div(&p("3")).unwrap().to_string(),
            "0.33333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333335"
        );
        assert_eq!(
            p("2").div(&p("3")).unwrap().to_string(),
            "0.6666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666667"
        );
        assert_eq!(
            p("3").div(&p("7")).unwrap().to_string(),
            "0.42857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142856"
        );
        assert_eq!(
            i(3).div(&i(7)).unwrap().to_string(),
            "0.42857142857142857144"
        );
        assert_eq!(
            i(1).div(&i(3)).unwrap().to_string(),
            "0.33333333333333333334"
        );
        assert_eq!(
            p("100").div(&p("7")).unwrap().to_string(),
            "14.285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714285714286"
        );
        // length([1,2,3]) / 7: a 64-bit integer over a literal gives 512 bits
        assert_eq!(
            i(3).div(&p("7")).unwrap().to_string(),
            "0.42857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142857142856"
        );
    }

    #[test]
    fn terraform_arithmetic_digits() {
        assert_eq!(p("0.1").add(&p("0.2")).to_string(), "0.3");
        assert_eq!(i(3).mul(&p("0.1")).to_string(), "0.3");
        assert_eq!(p("0.1").mul(&p("3")).sub(&p("0.3")).to_string(), "0");
        assert_eq!(
            p("12345678901234567890123").mul(&p("10")).to_string(),
            "123456789012345678901230"
        );
        let big = p("1e300").mul(&p("1e300")).to_string();
        assert_eq!(big, format!("1{}", "0".repeat(600)));
        assert_eq!(
            p("9007199254740993").add(&i(1)).to_string(),
            "9007199254740994"
        );
        assert_eq!(p("2").div(&p("3")).unwrap().mul(&p("3")).to_string(), "2");
        assert_eq!(p("10").div(&p("3")).unwrap().mul(&p("3")).to_string(), "10");
        let third = p("1").div(&p("3")).unwrap();
        assert_eq!(third.add(&third).add(&third).to_string(), "1");
        assert_eq!(third.mul(&p("3")).to_string(), "1");
        assert_eq!(
            p("1.1").mul(&p("1.1")).to_string(),
            "1.2100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"
        );
        assert_eq!(
            p("0.1").mul(&p("0.1")).to_string(),
            "0.010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"
        );
        assert_eq!(
            p("1").sub(&p("0.9")).to_string(),
            "0.10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003"
        );
        assert_eq!(
            p("123456789012345678901234567890")
                .mul(&p("987654321098765432109876543210"))
                .to_string(),
            "121932631137021795226185032733622923332237463801111263526900"
        );
        assert_eq!(i(3).mul(&p("0.1")).to_string(), "0.3");
        assert_eq!(i(3).div(&p("0.1")).unwrap().to_string(), "30");
        assert_eq!(i(3).sub(&p("0.1")).to_string(), "2.9");
        assert_eq!(
            p("1e30").div(&p("7")).unwrap().floor().to_string(),
            "142857142857142857142857142857"
        );
        // -1 * 0 is negative zero, and Terraform's tostring prints it so
        assert_eq!(p("1").neg().mul(&p("0")).to_string(), "-0");
        assert_eq!(p("123.456e-2").neg().to_string(), "-1.23456");
    }

    #[test]
    fn terraform_modulo() {
        assert_eq!(p("7").neg().rem(&p("3")).unwrap().to_string(), "-1");
        assert_eq!(p("7.5").rem(&p("2")).unwrap().to_string(), "1.5");
        assert_eq!(p("5").rem(&p("3")).unwrap().to_string(), "2");
        assert_eq!(p("5.5").rem(&p("2.5")).unwrap().to_string(), "0.5");
        assert_eq!(p("7.5").neg().rem(&p("2")).unwrap().to_string(), "-1.5");
        assert_eq!(p("7").rem(&p("3").neg()).unwrap().to_string(), "1");
        // the quotient 1e300/7 is rounded to 512 bits first, as in go-cty
        assert_eq!(p("1e300").rem(&p("7")).unwrap().to_string(), "0");
        assert_eq!(i(-7).rem(&i(3)).unwrap().to_string(), "-1");
        assert_eq!(i(7).rem(&i(3)).unwrap().prec(), 64);
        assert_eq!(p("7.5").rem(&i(2)).unwrap().prec(), 512);
        assert_eq!(i(7).rem(&p("2")).unwrap().prec(), 64);
        // -1 % 1 is +0 (x - x), -0.5 % 3 keeps the sign of zero rules
        let r = p("1").neg().rem(&p("1")).unwrap();
        assert!(r.is_zero() && !r.is_sign_negative());
        // go-cty returns the dividend for a modulo by zero (either sign)
        assert_eq!(p("5").rem(&p("0")).unwrap().to_string(), "5");
        assert_eq!(p("5").rem(&p("0").neg()).unwrap().to_string(), "5");
    }

    #[test]
    fn terraform_parse_and_print() {
        assert_eq!(
            p("100000000000000000000").to_string(),
            "100000000000000000000"
        );
        assert_eq!(p("123456789.123456789").to_string(), "123456789.123456789");
        assert_eq!(p("2e-5").to_string(), "0.00002");
        assert_eq!(p("1.5e3").to_string(), "1500");
        assert_eq!(p("1e25").to_string(), "10000000000000000000000000");
        assert_eq!(p("1e-7").to_string(), "0.0000001");
        assert_eq!(p("1e-10").to_string(), "0.0000000001");
        assert_eq!(p("0.000001").to_string(), "0.000001");
        assert_eq!(p("1.0").to_string(), "1");
        assert_eq!(p("1e21").to_string(), "1000000000000000000000");
        assert_eq!(p("-1e21").to_string(), "-1000000000000000000000");
        assert_eq!(p("1e-20").to_string(), "0.00000000000000000001");
        assert_eq!(
            p("123456789e-30").to_string(),
            "0.000000000000000000000123456789"
        );
        // Go's ParseFloat keeps the sign of zero; Terraform prints it as
        // "-0" (tostring(jsondecode("-0.0"))). Outputs read back from the plan
        // lose it, which is why `output "x" { value = -0.0 }` shows 0.
        let z = p("-0.0");
        assert_eq!(z.to_string(), "-0");
        assert_eq!(z.without_negative_zero().to_string(), "0");
        assert_eq!(z, p("0"));
        assert_eq!(p("+0").to_string(), "0");
    }

    #[test]
    fn terraform_float_results() {
        assert_eq!(
            f(2f64.powi(100)).to_string(),
            "1267650600228229400000000000000"
        );
        assert_eq!(f(2f64.sqrt()).to_string(), "1.4142135623730951");
        assert_eq!(f(3.0).to_string(), "3");
        assert_eq!(f(0.1).to_string(), "0.1");
        assert_eq!(f(1e23).to_string(), "100000000000000000000000");
        assert_eq!(f(0.1).prec(), 53);
        assert_eq!(f(0.1).text('f', 20), "0.10000000000000000555");
        // big.Float has no subnormals: 5e-324 keeps 53 bits of precision
        assert_eq!(
            f(5e-324).to_string(),
            format!("0.{}4940656458412465", "0".repeat(323))
        );
        assert_eq!(f(-0.0).to_string(), "-0");
        assert!(Number::from_f64(f64::NAN).is_none());
        // SetFloat64(±Inf) is an infinity of precision 53
        let inf = Number::from_f64(f64::INFINITY).unwrap();
        assert!(inf.is_infinite() && !inf.is_sign_negative() && inf.prec() == 53);
        assert_eq!(f(f64::NEG_INFINITY).to_string(), "-Inf");
    }

    #[test]
    fn terraform_format_verbs() {
        // cty's format() hands numbers to big.Float.Format: %f and %e default
        // to 6 digits, %g and %v to the shortest.
        assert_eq!(p("3.14159").text('f', 2), "3.14");
        assert_eq!(p("12345.678").text('e', 6), "1.234568e+04");
        assert_eq!(p("0.000012345").text('g', -1), "1.2345e-05");
        assert_eq!(p("2.675").text('f', 2), "2.67");
        assert_eq!(p("1234567").text('g', 3), "1.23e+06");
        assert_eq!(p("1e20").text('f', 6), "100000000000000000000.000000");
        assert_eq!(p("0.5").text('f', 0), "0");
        assert_eq!(p("1.5").text('f', 0), "2");
        assert_eq!(p("2.5").text('f', 0), "2");
        assert_eq!(p("1e21").text('g', -1), "1e+21");
        assert_eq!(p("100000").text('g', -1), "100000");
        assert_eq!(p("1000000").text('g', -1), "1e+06");
        assert_eq!(p("1").div(&p("3")).unwrap().text('f', 6), "0.333333");
        assert_eq!(p("2").div(&p("3")).unwrap().text('e', 3), "6.667e-01");
        assert_eq!(
            p("1").div(&p("3")).unwrap().text('e', 10),
            "3.3333333333e-01"
        );
        assert_eq!(p("1e-10").text('G', -1), "1E-10");
        assert_eq!(p("0.1").text('f', 30), "0.100000000000000000000000000000");
        // Go's String() is Text('g', 10)
        assert_eq!(p("1").div(&p("3")).unwrap().text('g', 10), "0.3333333333");
    }

    // ---- formatting details ----

    #[test]
    fn text_formats() {
        let x = p("-1234.5678");
        assert_eq!(x.text('e', -1), "-1.2345678e+03");
        assert_eq!(x.text('E', 2), "-1.23E+03");
        assert_eq!(x.text('f', 1), "-1234.6");
        assert_eq!(x.text('g', 5), "-1234.6");
        assert_eq!(x.text('G', 2), "-1.2E+03");
        assert_eq!(x.text('g', 0), "-1e+03");
        assert_eq!(x.text('e', 0), "-1e+03");
        assert_eq!(p("0").text('e', -1), "0e+00");
        assert_eq!(p("0").text('e', 2), "0.00e+00");
        assert_eq!(p("0").text('g', -1), "0");
        assert_eq!(p("0").text('f', 3), "0.000");
        assert_eq!(p("1e100").text('e', -1), "1e+100");
        assert_eq!(p("1e-5000").text('e', -1), "1e-5000");
        assert_eq!(p("0.0001").text('f', 2), "0.00");
        assert_eq!(p("0.006").text('f', 1), "0.0");
        assert_eq!(p("0.06").text('f', 1), "0.1");
        assert_eq!(p("0.9").text('f', 0), "1");
        assert_eq!(p("999.5").text('f', 0), "1000");
        assert_eq!(p("25").text('e', 0), "2e+01");
        assert_eq!(p("35").text('e', 0), "4e+01");
        assert_eq!(p("0.000099999").text('g', -1), "9.9999e-05");
        assert_eq!(p("0.0001").text('g', -1), "0.0001");
        assert_eq!(p("1.5").text('b', -1), "%b");
        assert_eq!(format!("{:>6}", p("1.5")), "   1.5");
        assert_eq!(format!("{:?}", i(7)), "Number(7, prec 64)");
    }

    #[test]
    fn shortest_depends_on_precision() {
        // prec 64 product of 2^40 and 2^40+1: 81 significant bits do not fit
        let x = i(1 << 40).mul(&i((1 << 40) + 1));
        assert_eq!(x.prec(), 64);
        assert_eq!(x.min_prec(), 41);
        assert_eq!(x.to_string(), "1208925819615728686300000");
        assert_eq!(x.text('f', 0), "1208925819615728686333952");
        // The same value at 512 bits prints all its digits.
        assert_eq!(x.with_prec(512).to_string(), "1208925819615728686333952");
        assert_eq!(p("0.1").with_prec(53).to_string(), "0.1");
        assert_eq!(
            p("0.1").with_prec(53).text('f', 20),
            "0.10000000000000000555"
        );
        assert_eq!(
            p("1e23").with_prec(53).text('f', 0),
            "99999999999999991611392"
        );
    }

    // ---- precision tracking ----

    #[test]
    fn constructor_precisions() {
        assert_eq!(i(5).prec(), 64);
        assert_eq!(u(5).prec(), 64);
        assert_eq!(f(5.0).prec(), 53);
        assert_eq!(p("5").prec(), 512);
        assert_eq!(p("-0").prec(), 512);
        assert_eq!(Number::zero().prec(), 64);
        assert_eq!(Number::from_bigint(&BigInt::from(5)).prec(), 64);
        let big: BigInt = "1".repeat(100).parse().unwrap();
        assert_eq!(Number::from_bigint(&big).prec(), 330);
        assert_eq!(Number::from_bigint(&big).to_string(), "1".repeat(100));
        assert_eq!(Number::from_bigint(&-big.clone()).to_bigint(), Some(-big));
    }

    #[test]
    fn operation_precisions() {
        assert_eq!(i(1).add(&i(2)).prec(), 64);
        assert_eq!(i(1).add(&p("2")).prec(), 512);
        assert_eq!(f(1.0).sub(&i(2)).prec(), 64);
        assert_eq!(i(3).div(&f(2.0)).unwrap().prec(), 64);
        assert_eq!(f(3.0).div(&f(7.0)).unwrap().prec(), 53);
        assert_eq!(
            f(3.0).div(&f(7.0)).unwrap().to_string(),
            "0.42857142857142855"
        );
        // Multiply grows precision up to the bits the (512-bit) product needs
        let m = u(u64::MAX).mul(&u(u64::MAX));
        assert_eq!(m.prec(), 128);
        assert_eq!(m.to_string(), "340282366920938463426481119284349108225");
        assert_eq!(i(6).mul(&i(7)).prec(), 64);
        assert_eq!(i(6).mul(&i(7)).to_string(), "42");
        let wide = Number::from_bigint(&(BigInt::from(1) << 600usize));
        assert_eq!(wide.prec(), 601);
        assert_eq!(wide.mul(&p("3")).prec(), 601);
        assert_eq!(p("1.5").neg().prec(), 512);
        assert_eq!(p("1.5").abs().prec(), 512);
        assert_eq!(p("1.5").floor().prec(), 512);
        assert_eq!(f(1.5).ceil().prec(), 53);
        assert_eq!(p("2.5").trunc().prec(), 64);
        assert_eq!(p("2").trunc().prec(), 512);
    }

    // ---- rounding ----

    #[test]
    fn rounding_ties_to_even() {
        // 2^64 - 1 + 2 = 2^64 + 1 needs 65 bits: a tie, rounded to even 2^64
        assert_eq!(u(u64::MAX).add(&u(2)).to_string(), "18446744073709551616");
        // 2^64 + 3: a tie rounded up to 2^64 + 4
        assert_eq!(u(u64::MAX).add(&u(4)).to_string(), "18446744073709551620");
        assert_eq!(u(u64::MAX).add(&u(4)).text('f', 0), "18446744073709551620");
        assert_eq!(u(u64::MAX).add(&u(1)).to_string(), "18446744073709551616");
        assert_eq!(p("2.5").with_prec(2).to_string(), "2");
        assert_eq!(p("3.5").with_prec(2).to_string(), "4");
        assert_eq!(p("-2.5").with_prec(2).to_string(), "-2");
        assert_eq!(p("-3.5").with_prec(2).to_string(), "-4");
        assert_eq!(p("0.75").with_prec(1).to_string(), "1");
        assert_eq!(p("0.625").with_prec(2).text('f', -1), "0.5");
        // parsing: 2^512 + 1 is a tie at 512 bits, 2^512 + 3 is not
        let two512 = BigInt::from(1) << 512usize;
        let tie = (&two512 + 1u32).to_string();
        assert_eq!(p(&tie), Number::from_bigint(&two512));
        let up = (&two512 + 3u32).to_string();
        assert_eq!(p(&up), Number::from_bigint(&(&two512 + 4u32)));
        assert_eq!(
            p(&up).to_string(),
            "13407807929942597099574024998205846127479365820592393377723561443721764030073546976801874298166903427690031858186486050853753882811946569946433649006084100"
        );
        // decimal rounding in Text is half to even too
        assert_eq!(p("0.125").text('f', 2), "0.12");
        assert_eq!(p("0.375").text('f', 2), "0.38");
        assert_eq!(with_prec_sum(), "1");
    }

    fn with_prec_sum() -> String {
        // 1 - 2^-60 at 53 bits rounds back to 1
        let tiny = Number::from_bigint(&BigInt::from(1))
            .div(&Number::from_bigint(&(BigInt::from(1) << 60usize)));
        i(1).with_prec(53)
            .sub(&tiny.unwrap_or_default().with_prec(53))
            .to_string()
    }

    #[test]
    fn huge_exponent_gaps() {
        assert_eq!(
            p("1e300").add(&p("1e-300")),
            p("1e300").add(&p("1e-300")).with_prec(512)
        );
        // far below half an ulp: the result is the larger operand
        assert_eq!(p("1").add(&p("1e-5000")), p("1"));
        assert_eq!(p("1").sub(&p("1e-5000")), p("1"));
        assert_eq!(i(2).sub(&p("1e-100000")).prec(), 512);
        assert_eq!(i(2).sub(&p("1e-100000")), i(2));
        // at a precision wide enough the tiny operand is kept exactly
        let wide = p("1").with_prec(20000).sub(&p("1e-5000"));
        assert!(wide < p("1"));
        assert_eq!(wide.text('e', 3), "1.000e+00");
        // 2^k - tiny just below a power of two rounds back up to it
        let pow = Number::from_bigint(&(BigInt::from(1) << 600usize));
        assert_eq!(pow.sub(&p("1e-300")), pow);
        assert_eq!(pow.neg().add(&p("1e-300")), pow.neg());
    }

    #[test]
    fn large_and_small_exponents() {
        let x = p("1e5000");
        assert_eq!(x.to_string(), format!("1{}", "0".repeat(5000)));
        assert_eq!(p("1e-5000").text('g', 3), "1e-5000");
        let tiny = p("1e-400000000");
        assert!(!tiny.is_zero() && tiny > Number::zero());
        assert!(tiny < p("1e-399999999"));
        assert!(p("1e-700000000").is_zero()); // Go underflows to zero
                                              // Go overflows to +Inf: tostring(1e700000000) is "+Inf" in Terraform
        assert_eq!(p("1e700000000").to_string(), "+Inf");
        assert_eq!(p("-1e700000000").to_string(), "-Inf");
        assert!(Number::parse("1p2147483647").is_none()); // exponent overflow
        assert_eq!(p("1p2147483646").to_f64(), f64::INFINITY);
        assert_eq!(p("1p-100000").to_f64(), 0.0);
        assert!(Number::parse("1e99999999999999999999").is_none());
        assert!(Number::parse("0e99999999999999999999").is_none());
        assert!(p("0e9999999999").is_zero());
    }

    // ---- parsing syntax ----

    #[test]
    fn parse_syntax() {
        for ok in [
            "1",
            "+1",
            "-1",
            "1.",
            ".5",
            "-.5",
            "1.5e3",
            "1E3",
            "1e+05",
            "1e-0",
            "1.e3",
            "00012",
            "0.000",
            "1p3",
            "1P-3",
            "1.5p1",
            "1e0000000000000000000000005",
        ] {
            assert!(Number::parse(ok).is_some(), "{ok:?} should parse");
        }
        for bad in [
            "", "+", "-", ".", "1..2", "1e", "1e+", "1e-", "1e5x", " 1", "1 ", "1_000", "0x10",
            "0b1", "NaN", "１", "1,5", "1.5.", "e5", "1ee5", "1e5.5", "--1", "+-1", "infinity",
            "INF", "+INF", "Infinity", "iNF", " Inf", "Inf ", "--Inf", "+-inf", "1Inf",
        ] {
            assert!(Number::parse(bad).is_none(), "{bad:?} should not parse");
        }
        assert_eq!(p("1p3").to_string(), "8");
        assert_eq!(p("1.5p1").to_string(), "3");
        assert_eq!(p(".5").to_string(), "0.5");
        assert_eq!(p("00012").to_string(), "12");
        // 400 nines need more than 512 bits: rounded, then printed shortest
        assert_eq!(
            p(&"9".repeat(400)).to_string(),
            format!("1{}", "0".repeat(400))
        );
        assert_eq!("2.5".parse::<Number>(), Ok(p("2.5")));
        assert_eq!(
            "x".parse::<Number>().map_err(|e| e.to_string()),
            Err("a number is required".to_string())
        );
    }

    #[test]
    fn parse_long_exponents_follow_go() {
        // Beyond 5^248 Go's pow5 rounds at 576 bits; these digits are Go's.
        assert_eq!(p("1e-300").text('e', -1), "1e-300");
        assert_eq!(p("7e-400").to_string(), format!("0.{}7", "0".repeat(399)));
        assert_eq!(p("1.7976931348623157e308").to_f64(), f64::MAX);
        assert_eq!(p("2.2250738585072014e-308").to_f64(), f64::MIN_POSITIVE);
        assert_eq!(p("4.9e-324").to_f64(), 5e-324);
        assert_eq!(p("2.4703282292062327e-324").to_f64(), 0.0);
        assert_eq!(p("2.4703282292062328e-324").to_f64(), 5e-324);
    }

    // ---- floor, ceil, trunc ----

    #[test]
    fn floor_ceil_trunc() {
        assert_eq!(p("2.5").floor().to_string(), "2");
        assert_eq!(p("-2.5").floor().to_string(), "-3");
        assert_eq!(p("2.1").ceil().to_string(), "3");
        assert_eq!(p("-2.5").ceil().to_string(), "-2");
        assert_eq!(p("-0.5").ceil().to_string(), "0"); // SetInt gives +0
        assert_eq!(p("-0.5").floor().to_string(), "-1");
        assert_eq!(p("0").neg().floor().to_string(), "0");
        assert_eq!(p("-5").floor().to_string(), "-5");
        assert_eq!(
            p("1e30").add(&p("0.5")).ceil().to_string(),
            "1000000000000000000000000000001"
        );
        assert_eq!(
            p("12345678901234567890.5").floor().to_string(),
            "12345678901234567890"
        );
        assert_eq!(p("-2.5").trunc().to_string(), "-2");
        assert_eq!(p("0.5").neg().trunc().to_string(), "0");
        assert!(!p("0.5").neg().trunc().is_sign_negative());
        assert!(p("0").neg().trunc().is_sign_negative()); // integers are returned as-is
        assert!(p("2.5").floor().is_integer());
        assert!(!p("2.5").is_integer());
        assert!(p("1e100").is_integer());
        assert!(!p("1e-100").is_integer());
    }

    // ---- comparison and hashing ----

    #[test]
    fn equality_ignores_precision() {
        assert_eq!(p("1"), i(1));
        assert_eq!(hash(&p("1")), hash(&i(1)));
        assert_eq!(p("0.5"), f(0.5));
        assert_eq!(hash(&p("0.5")), hash(&f(0.5)));
        assert_eq!(p("0"), p("-0"));
        assert_eq!(hash(&p("0")), hash(&p("-0")));
        assert_eq!(p("-0").cmp(&p("0")), Ordering::Equal);
        assert_ne!(p("0.1"), f(0.1));
        let big = "123456789012345678901234567890";
        assert_eq!(p(big), Number::from_bigint(&big.parse().unwrap()));
        assert_eq!(
            hash(&p(big)),
            hash(&Number::from_bigint(&big.parse().unwrap()))
        );
        assert_eq!(p("1e20"), p("100000000000000000000.000"));
        assert_eq!(hash(&p("1e20")), hash(&p("100000000000000000000.000")));
    }

    #[test]
    fn ordering() {
        let mut v = vec![
            p("1e300"),
            p("-1e300"),
            p("0"),
            p("-0.5"),
            p("0.5"),
            i(-3),
            u(u64::MAX),
            p("18446744073709551616"),
            p("1e-300"),
            p("-1e-300"),
            f(0.1),
            p("0.1"),
            i(i64::MIN),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(|n| n.text('g', 3)).collect();
        assert_eq!(
            s,
            [
                "-1e+300",
                "-9.22e+18",
                "-3",
                "-0.5",
                "-1e-300",
                "0",
                "1e-300",
                "0.1",
                "0.1",
                "0.5",
                "1.84e+19",
                "1.84e+19",
                "1e+300"
            ]
        );
        assert!(p("0.1") < f(0.1)); // 0.1 as f64 is slightly above 0.1
        assert!(u(u64::MAX) < p("18446744073709551616"));
        assert!(p("1.5") > i(1) && i(-2) < p("-1.5"));
        assert_eq!(p("-7").signum(), -1);
        assert_eq!(p("-0").signum(), 0);
        assert_eq!(p("7").signum(), 1);
    }

    // ---- conversions ----

    #[test]
    fn integer_conversions() {
        assert_eq!(i(i64::MIN).to_i64(), Some(i64::MIN));
        assert_eq!(i(i64::MAX).to_i64(), Some(i64::MAX));
        assert_eq!(p("9223372036854775808").to_i64(), None);
        assert_eq!(p("-9223372036854775808").to_i64(), Some(i64::MIN));
        assert_eq!(p("-9223372036854775809").to_i64(), None);
        assert_eq!(p("1.5").to_i64(), None);
        assert_eq!(p("-0").to_i64(), Some(0));
        assert_eq!(p("1e3").to_i64(), Some(1000));
        assert_eq!(u(u64::MAX).to_u64(), Some(u64::MAX));
        assert_eq!(p("18446744073709551616").to_u64(), None);
        assert_eq!(p("-1").to_u64(), None);
        assert_eq!(p("-0").to_u64(), Some(0));
        assert_eq!(p("1.5").to_u64(), None);
        assert_eq!(p("1e30").to_bigint(), Some(BigInt::from(10).pow(30)));
        assert_eq!(p("-2").to_bigint(), Some(BigInt::from(-2)));
        assert_eq!(p("2.5").to_bigint(), None);
        assert_eq!(p("0").to_bigint(), Some(BigInt::zero()));
        assert_eq!(p("-6.5").to_parts(), (BigInt::from(-13), -1));
        assert_eq!(p("0").to_parts(), (BigInt::zero(), 0));
    }

    #[test]
    fn float_conversions() {
        assert_eq!(p("0.1").to_f64(), 0.1);
        assert_eq!(p("-2.5").to_f64(), -2.5);
        assert_eq!(p("1e400").to_f64(), f64::INFINITY);
        assert_eq!(p("-1e400").to_f64(), f64::NEG_INFINITY);
        assert_eq!(p("1e-400").to_f64(), 0.0);
        assert!(p("-1e-400").to_f64().is_sign_negative());
        assert_eq!(p("9007199254740993").to_f64(), 9007199254740992.0);
        assert_eq!(p("9007199254740995").to_f64(), 9007199254740996.0);
        assert_eq!(p("0.5").to_f64_exact(), Some(0.5));
        assert_eq!(p("0.1").to_f64_exact(), None);
        assert_eq!(f(0.1).to_f64_exact(), Some(0.1));
        for v in [
            0.1,
            1e-310,
            5e-324,
            f64::MAX,
            123.456,
            -7.0,
            2f64.powi(-1074),
        ] {
            assert_eq!(f(v).to_f64(), v);
        }
    }

    #[test]
    fn negation_and_zero_signs() {
        assert!(p("0").neg().is_sign_negative());
        assert_eq!(p("0").neg().to_string(), "-0");
        assert_eq!((-&p("1.5")).to_string(), "-1.5");
        assert_eq!((-p("1.5")).to_string(), "-1.5");
        assert_eq!(p("-1.5").abs().to_string(), "1.5");
        // -0 + 0 = 0, -0 + -0 = -0, x - x = +0
        assert!(!p("-0").add(&p("0")).is_sign_negative());
        assert!(p("-0").add(&p("-0")).is_sign_negative());
        assert!(!p("-3").sub(&p("-3")).is_sign_negative());
        assert!(p("0").mul(&p("-3")).is_sign_negative());
        assert!(p("-0").div(&p("3")).unwrap().is_sign_negative());
        assert_eq!(p("1").div(&p("0")).unwrap().to_string(), "+Inf");
        assert_eq!(p("1").div(&p("-0")).unwrap().to_string(), "-Inf");
        assert_eq!(p("0").div(&p("-0")), Err(ArithError::NaN));
        assert_eq!((&p("1") + &p("2")).to_string(), "3");
        assert_eq!((&p("1") - &p("2")).to_string(), "-1");
        assert_eq!((&p("1.5") * &p("2")).to_string(), "3");
    }

    #[test]
    fn with_prec_zero_and_growth() {
        let z = p("3").with_prec(0);
        assert!(z.is_zero() && z.prec() == 0);
        assert_eq!(p("-3").with_prec(0).to_string(), "-0");
        assert_eq!(p("3").with_prec(1000).prec(), 1000);
        assert_eq!(p("3").with_prec(1000), p("3"));
        assert_eq!(z.add(&i(2)).prec(), 64);
    }

    // ---- infinities ----

    fn inf() -> Number {
        p("1").div(&p("0")).unwrap()
    }

    fn ninf() -> Number {
        p("-1").div(&p("0")).unwrap()
    }

    #[test]
    fn infinities_parse_and_print() {
        // Go's Float.Parse takes exactly these words (tonumber("Inf") is +Inf in Terraform,
        // tonumber("infinity") an error).
        for (s, neg) in [
            ("Inf", false),
            ("inf", false),
            ("+Inf", false),
            ("+inf", false),
            ("-Inf", true),
            ("-inf", true),
        ] {
            let n = p(s);
            assert!(n.is_infinite() && n.is_sign_negative() == neg, "{s}");
            assert_eq!(n.prec(), 512);
        }
        assert_eq!(inf().to_string(), "+Inf");
        assert_eq!(ninf().to_string(), "-Inf");
        // every format, even unknown ones, prints Go's +Inf / -Inf
        assert_eq!(inf().text('f', -1), "+Inf");
        assert_eq!(ninf().text('e', 3), "-Inf");
        assert_eq!(inf().text('g', 10), "+Inf");
        assert_eq!(ninf().text('b', -1), "-Inf");
        assert_eq!(format!("{:>6}", inf()), "  +Inf");
        assert_eq!(format!("{:?}", inf()), "Number(+Inf, prec 512)");
        assert_eq!(inf().display_fast(), None);
    }

    #[test]
    fn division_by_zero_and_by_infinity() {
        // Quo: the sign is the exclusive or of the signs, the precision the larger one
        assert_eq!(inf().prec(), 512);
        assert_eq!(i(1).div(&i(0)).unwrap().prec(), 64);
        assert_eq!(p("1").div(&p("-0")).unwrap().to_string(), "-Inf");
        assert_eq!(p("-2.5").div(&p("-0")).unwrap().to_string(), "+Inf");
        assert_eq!(p("1").div(&inf()).unwrap().to_string(), "0");
        assert_eq!(p("-0").div(&inf()).unwrap().to_string(), "-0");
        assert_eq!(p("1").div(&ninf()).unwrap().to_string(), "-0");
        assert_eq!(inf().div(&p("-2")).unwrap().to_string(), "-Inf");
        assert_eq!(inf().div(&p("0")).unwrap().to_string(), "+Inf");
        assert_eq!(p("0").div(&p("0")), Err(ArithError::NaN));
        assert_eq!(inf().div(&ninf()), Err(ArithError::NaN));
    }

    #[test]
    fn infinite_sums_and_products() {
        assert_eq!(inf().add(&p("5")).to_string(), "+Inf");
        assert_eq!(p("5").sub(&inf()).to_string(), "-Inf");
        assert_eq!(inf().add(&p("-0")).to_string(), "+Inf");
        assert_eq!(inf().add(&inf()).to_string(), "+Inf");
        assert_eq!(ninf().sub(&inf()).to_string(), "-Inf");
        assert_eq!(i(1).div(&i(0)).unwrap().add(&p("1")).prec(), 512);
        assert_eq!(inf().checked_add(&ninf()), Err(ArithError::NaN));
        assert_eq!(inf().checked_sub(&inf()), Err(ArithError::NaN));
        assert_eq!(ninf().checked_sub(&ninf()), Err(ArithError::NaN));
        // the total forms give Go's placeholder, +0
        let z = inf().add(&ninf());
        assert!(z.is_zero() && !z.is_sign_negative());
        assert_eq!(inf().mul(&p("-2")).to_string(), "-Inf");
        assert_eq!(ninf().mul(&ninf()).to_string(), "+Inf");
        assert_eq!(i(1).div(&i(0)).unwrap().mul(&i(3)).prec(), 64);
        assert_eq!(inf().checked_mul(&p("0")), Err(ArithError::NaN));
        assert_eq!(p("-0").checked_mul(&ninf()), Err(ArithError::NaN));
        assert!(inf().mul(&p("0")).is_zero());
    }

    #[test]
    fn infinite_modulo() {
        // go-cty's Modulo: a zero divisor returns the dividend, infinite
        // divisors run into Inf × 0, infinite quotients into a nil big.Int
        assert_eq!(inf().rem(&p("0")).unwrap().to_string(), "+Inf");
        assert_eq!(ninf().rem(&p("-0")).unwrap().to_string(), "-Inf");
        assert_eq!(p("5").rem(&inf()), Err(ArithError::NaN));
        assert_eq!(p("0").rem(&ninf()), Err(ArithError::NaN));
        assert_eq!(inf().rem(&inf()), Err(ArithError::NaN));
        assert_eq!(inf().rem(&p("2")), Err(ArithError::NilInt));
        // a finite quotient that overflows is an infinity too
        assert_eq!(
            p("1e600000000").rem(&p("1e-600000000")),
            Err(ArithError::NilInt)
        );
        // go-cty's own infinities give the product instead
        let cpos = Number::cty_infinity(false);
        let cneg = Number::cty_infinity(true);
        assert_eq!(cneg.rem(&p("2")).unwrap().to_string(), "-Inf");
        assert_eq!(cpos.rem(&p("-2")).unwrap().to_string(), "-Inf");
        assert_eq!(p("5").rem(&cpos).unwrap().to_string(), "+Inf");
        assert_eq!(p("-5").rem(&cneg).unwrap().to_string(), "+Inf");
        assert_eq!(cpos.rem(&cpos).unwrap().to_string(), "+Inf");
        assert_eq!(cpos.rem(&i(3)).unwrap().prec(), 64);
        assert_eq!(p("0").rem(&cpos), Err(ArithError::NaN));
        assert_eq!(cneg.rem(&p("0")), Err(ArithError::NaN));
    }

    #[test]
    fn cty_infinity_identity() {
        let c = Number::cty_infinity(true);
        assert!(c.is_cty_infinity() && c.is_infinite() && c.is_sign_negative());
        assert_eq!(c.prec(), 0);
        assert!(c.clone().is_cty_infinity());
        // numerically an ordinary infinity
        assert_eq!(c, ninf());
        assert_eq!(hash(&c), hash(&ninf()));
        assert!(!Number::infinity(true).is_cty_infinity());
        // operations give new values
        for n in [
            c.neg(),
            -c.clone(),
            c.abs(),
            c.floor(),
            c.ceil(),
            c.add(&p("1")),
            c.mul(&p("2")),
            c.with_prec(10),
        ] {
            assert!(n.is_infinite() && !n.is_cty_infinity(), "{n:?}");
        }
        assert!(!inf().is_cty_infinity());
    }

    #[test]
    fn infinities_compare_and_hash() {
        assert_eq!(inf(), p("Inf"));
        assert_eq!(i(1).div(&i(0)).unwrap(), inf()); // precision is ignored
        assert_eq!(hash(&i(1).div(&i(0)).unwrap()), hash(&inf()));
        assert_ne!(inf(), ninf());
        assert_ne!(hash(&inf()), hash(&ninf()));
        assert_ne!(inf(), p("0"));
        assert_ne!(hash(&inf()), hash(&p("0")));
        assert!(inf() > p("1e5000") && ninf() < p("-1e5000"));
        assert!(ninf() < inf() && inf() >= inf());
        assert_eq!(inf().cmp(&inf()), Ordering::Equal);
        let mut v = [inf(), p("0"), ninf(), p("-1"), p("1e300"), ninf()];
        v.sort();
        let s: Vec<String> = v.iter().map(|n| n.text('g', 3)).collect();
        assert_eq!(s, ["-Inf", "-Inf", "-1", "0", "1e+300", "+Inf"]);
    }

    #[test]
    fn infinities_are_not_integers() {
        for n in [inf(), ninf()] {
            assert!(!n.is_zero() && !n.is_integer() && !n.is_finite());
            assert_eq!(n.to_i64(), None);
            assert_eq!(n.to_u64(), None);
            assert_eq!(n.to_bigint(), None);
            assert_eq!(n.to_parts(), (BigInt::zero(), 0));
            assert_eq!(n.min_prec(), 0);
            assert_eq!(n.floor(), n);
            assert_eq!(n.ceil(), n);
            assert_eq!(n.trunc(), n);
            assert_eq!(n.floor().prec(), 512);
            assert_eq!(n.without_negative_zero(), n);
        }
        assert_eq!(inf().signum(), 1);
        assert_eq!(ninf().signum(), -1);
        assert_eq!(ninf().abs().to_string(), "+Inf");
        assert_eq!(inf().neg().to_string(), "-Inf");
        // SetPrec keeps an infinity, even at precision 0
        let z = inf().with_prec(0);
        assert!(z.is_infinite() && z.prec() == 0);
        assert_eq!(inf().with_prec(8).prec(), 8);
    }

    #[test]
    fn infinities_and_f64() {
        assert_eq!(inf().to_f64(), f64::INFINITY);
        assert_eq!(ninf().to_f64(), f64::NEG_INFINITY);
        assert_eq!(inf().to_f64_exact(), Some(f64::INFINITY));
        assert_eq!(f(f64::INFINITY), inf());
        assert_eq!(f(f64::NEG_INFINITY).prec(), 53);
    }

    #[test]
    fn exponent_overflow_and_underflow() {
        // Go's exponent range ends at 2^2147483647: beyond it, results are
        // ±Inf (also when rounding carries past it), below 2^-2147483648 ±0.
        let top = p("7p2147483644"); // 0.111 × 2^MaxExp, the largest 3-bit value
        assert!(top.is_finite());
        assert_eq!(top.add(&p("1p2147483644")).to_string(), "+Inf");
        assert_eq!(top.neg().sub(&p("1p2147483644")).to_string(), "-Inf");
        assert_eq!(top.with_prec(2).to_string(), "+Inf"); // rounds up to 2^(MaxExp+1)
        assert!(top.with_prec(3).is_finite());
        assert_eq!(top.mul(&p("2")).to_string(), "+Inf");
        assert_eq!(top.div(&p("0.5")).unwrap().to_string(), "+Inf");
        let bottom = p("1p-2147483640");
        let u = bottom.div(&p("1p100")).unwrap();
        assert!(u.is_zero() && !u.is_sign_negative());
        let u = bottom.neg().mul(&p("1p-100"));
        assert!(u.is_zero() && u.is_sign_negative());
        // Terraform: 1e600000000 * 1e600000000 is +Inf, 1e-600000000 squared 0
        let (huge, tiny) = (p("1e600000000"), p("1e-600000000"));
        assert_eq!(huge.mul(&huge).to_string(), "+Inf");
        assert_eq!(huge.neg().mul(&huge).to_string(), "-Inf");
        assert!(tiny.mul(&tiny).is_zero());
        assert_eq!(tiny.neg().mul(&tiny).to_string(), "-0");
        assert_eq!(huge.div(&tiny).unwrap().to_string(), "+Inf");
        assert!(tiny.div(&huge).unwrap().is_zero());
    }

    // ---- the allocation-free path ----

    #[test]
    fn small_integers_stay_inline() {
        for n in [
            i(0),
            i(1),
            i(-1),
            i(i64::MAX),
            i(i64::MIN),
            u(u64::MAX),
            p("12345"),
            p("-7"),
            p("1e3"),
            p("2.5"),
            p("12.75"),
        ] {
            assert!(is_small(&n), "{n:?}");
        }
        let s = i(41).add(&p("1"));
        assert!(is_small(&s));
        assert_eq!(s.display_fast(), Some(42));
        assert_eq!(i(-5).display_fast(), Some(5));
        assert_eq!(i(0).display_fast(), Some(0));
        assert_eq!(u(u64::MAX).display_fast(), Some(u64::MAX));
        assert!(is_small(&i(6).mul(&i(7))));
        assert!(is_small(&i(7).sub(&i(9))));
        assert!(is_small(&i(84).div(&i(2)).unwrap()));
        assert_eq!(i(-5).to_string(), "-5");
        // the shortest form of an integer larger than its precision is not
        // the integer itself, so it must not take the fast path
        let f100 = f(2f64.powi(100));
        assert_eq!(f100.display_fast(), None);
        let wide = u(u64::MAX).add(&u(4));
        assert_eq!(wide.display_fast(), None);
        assert_eq!(f(2f64.powi(60) + 2f64.powi(8)).display_fast(), None);
    }
}
