//! The language's operators over values: arithmetic, comparison, equality and logic, with
//! HCL's conversion of operands and propagation of unknown and sensitive marks.
//!
//! Errors carry which operand was unsuitable so the evaluator can point at it. Nothing here
//! knows about spans or configuration.

use crate::convert::convert;
use crate::number::{ArithError, Number};
use crate::types::Type;
use crate::value::{Kind, Value};
use baton_config::BinaryOp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
    Whole,
}

#[derive(Clone, Debug)]
pub struct OpError {
    pub message: String,
    pub side: Side,
}

fn operand(v: &Value, t: &Type, side: Side) -> Result<Value, OpError> {
    if v.is_null() {
        return Err(OpError {
            message: "a non-null value is required".into(),
            side,
        });
    }
    convert(v, t).map_err(|e| OpError {
        message: e.message,
        side,
    })
}

pub fn negate(v: &Value) -> Result<Value, String> {
    let n = operand(v, &Type::Number, Side::Whole).map_err(|e| e.message)?;
    let (n, s) = n.unmark();
    match n.as_number() {
        Some(x) => Ok(Value::number(x.neg()).with_sensitive(s)),
        None => Ok(Value::unknown(Type::Number).with_sensitive(s)),
    }
}

pub fn not(v: &Value) -> Result<Value, String> {
    let b = operand(v, &Type::Bool, Side::Whole).map_err(|e| e.message)?;
    let (b, s) = b.unmark();
    match b.as_bool() {
        Some(x) => Ok(Value::bool(!x).with_sensitive(s)),
        None => Ok(Value::unknown(Type::Bool).with_sensitive(s)),
    }
}

pub fn binary(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, OpError> {
    match op {
        BinaryOp::Eq | BinaryOp::NotEq => {
            let s = l.contains_sensitive() || r.contains_sensitive();
            let (l, _) = l.clone().unmark_deep();
            let (r, _) = r.clone().unmark_deep();
            let eq = equals(&l, &r);
            let out = match (eq, op) {
                (Some(b), BinaryOp::Eq) => Value::bool(b),
                (Some(b), _) => Value::bool(!b),
                (None, _) => Value::unknown(Type::Bool),
            };
            Ok(out.with_sensitive(s))
        }
        BinaryOp::And | BinaryOp::Or => {
            let lv = operand(l, &Type::Bool, Side::Left)?;
            let rv = operand(r, &Type::Bool, Side::Right)?;
            let s = lv.is_sensitive() || rv.is_sensitive();
            let out = match (lv.as_bool(), rv.as_bool(), op) {
                (Some(a), Some(b), BinaryOp::And) => Value::bool(a && b),
                (Some(a), Some(b), _) => Value::bool(a || b),
                // go-cty's `And`/`Or` are unknown when either operand is, even when the other
                // one alone would decide (`false && x`, `true || x`), as in Terraform 1.11.
                _ => Value::unknown(Type::Bool),
            };
            Ok(out.with_sensitive(s))
        }
        _ => {
            let lv = operand(l, &Type::Number, Side::Left)?;
            let rv = operand(r, &Type::Number, Side::Right)?;
            let s = lv.is_sensitive() || rv.is_sensitive();
            let comparison = matches!(
                op,
                BinaryOp::Less | BinaryOp::LessEq | BinaryOp::Greater | BinaryOp::GreaterEq
            );
            let (Some(a), Some(b)) = (lv.as_number(), rv.as_number()) else {
                let t = if comparison { Type::Bool } else { Type::Number };
                return Ok(Value::unknown(t).with_sensitive(s));
            };
            let out = match op {
                BinaryOp::Less => Value::bool(a < b),
                BinaryOp::LessEq => Value::bool(a <= b),
                BinaryOp::Greater => Value::bool(a > b),
                BinaryOp::GreaterEq => Value::bool(a >= b),
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                    Value::number(arithmetic(op, a, b)?)
                }
                _ => Value::unknown(Type::Dynamic),
            };
            Ok(out.with_sensitive(s))
        }
    }
}

/// `a op b` for `+ - * / %` (`op` is one of them), as HCL's operator functions compute it:
/// infinities included (`1 / 0` is `+Inf`), and the operations without a result, where Go
/// panics, as HCL reports them ("Error during operation: ..."): each operator has its own
/// message for a NaN (HCL recovers Go's `big.ErrNaN` into it); any other panic is reported by
/// go-cty's function machinery (Terraform follows it with a Go stack trace, which Baton has
/// none of).
fn arithmetic(op: BinaryOp, a: &Number, b: &Number) -> Result<Number, OpError> {
    let (result, nan) = match op {
        BinaryOp::Add => (a.checked_add(b), "can't compute sum of opposing infinities"),
        BinaryOp::Sub => (a.checked_sub(b), "can't subtract infinity from itself"),
        BinaryOp::Mul => (a.checked_mul(b), "can't multiply zero by infinity"),
        BinaryOp::Div => (
            a.div(b),
            "can't divide zero by zero or infinity by infinity",
        ),
        // `%`: go-cty returns the dividend for a modulo by zero, and has special cases for
        // infinities (see `Number::rem`).
        _ => (a.rem(b), "can't use modulo with zero and infinity"),
    };
    result.map_err(|e| {
        let message = match e {
            ArithError::NaN => format!("Error during operation: {nan}."),
            ArithError::NilInt => {
                format!("Error during operation: panic in function implementation: {e}.")
            }
        };
        OpError {
            message,
            side: Side::Whole,
        }
    })
}

/// go-cty's `Equals`: `None` when unknowns make the answer unknown. Values of different types
/// are never equal (`1 == "1"` is false), except that nulls compare by nullness.
pub fn equals(a: &Value, b: &Value) -> Option<bool> {
    if !a.is_known() || !b.is_known() {
        return None;
    }
    match (a.is_null(), b.is_null()) {
        (true, true) => return Some(true),
        (true, false) | (false, true) => return Some(false),
        _ => {}
    }
    match (a.kind(), b.kind()) {
        (Kind::Bool(x), Kind::Bool(y)) => Some(x == y),
        (Kind::Number(x), Kind::Number(y)) => Some(x.cty_equal(y)),
        (Kind::String(x), Kind::String(y)) => Some(x == y),
        (Kind::List(ta, x), Kind::List(tb, y)) | (Kind::Set(ta, x), Kind::Set(tb, y)) => {
            if ta != tb && !x.is_empty() && !y.is_empty() {
                return Some(false);
            }
            seq_equals(x, y)
        }
        (Kind::Tuple(x), Kind::Tuple(y)) => seq_equals(x, y),
        (Kind::Map(ta, x), Kind::Map(tb, y)) => {
            if ta != tb && !x.is_empty() && !y.is_empty() {
                return Some(false);
            }
            map_equals(x, y)
        }
        (Kind::Object(x), Kind::Object(y)) => {
            if x.keys().ne(y.keys()) {
                return Some(false);
            }
            map_equals(x, y)
        }
        _ => Some(false),
    }
}

fn seq_equals(x: &[Value], y: &[Value]) -> Option<bool> {
    if x.len() != y.len() {
        return Some(false);
    }
    let mut unknown = false;
    for (p, q) in x.iter().zip(y.iter()) {
        match equals(p, q) {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown {
        None
    } else {
        Some(true)
    }
}

fn map_equals(x: &crate::Entries, y: &crate::Entries) -> Option<bool> {
    if x.len() != y.len() || x.keys().ne(y.keys()) {
        return Some(false);
    }
    let mut unknown = false;
    for (p, q) in x.values().zip(y.values()) {
        match equals(p, q) {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown {
        None
    } else {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    //! Expected results are those of Terraform 1.11 (infinities shown through `tostring`,
    //! since Terraform cannot output them).

    use crate::eval::{EmptyScope, Evaluator};
    use crate::FnCtx;
    use baton_core::{FileId, Sources};

    fn run(src: &str) -> Result<String, String> {
        let sources = Sources::new();
        let dir = std::env::temp_dir();
        let expr = baton_config::syntax::parse_expr(FileId(0), src).map_err(|d| d.detail)?;
        let ctx = FnCtx {
            base_dir: &dir,
            sources: &sources,
            planning: false,
            plan_timestamp: None,
        };
        let v = Evaluator::new(&EmptyScope, ctx)
            .eval(&expr)
            .map_err(|d| d.detail)?;
        Ok(format!("{} {}", v.ty().to_json(), v.to_json()))
    }

    #[track_caller]
    fn check(src: &str, want: &str) {
        assert_eq!(run(src), Ok(want.to_string()), "{src}");
    }

    #[track_caller]
    fn check_err(src: &str, want: &str) {
        match run(src) {
            Ok(v) => panic!("{src}: expected an error, got {v}"),
            Err(e) => assert_eq!(e, want, "{src}"),
        }
    }

    const MOD_NAN: &str = "Error during operation: can't use modulo with zero and infinity.";
    const NIL_INT: &str = "Error during operation: panic in function implementation: runtime error: invalid memory address or nil pointer dereference.";

    #[test]
    fn division_by_zero_is_infinite() {
        check("tostring(1/0)", r#""string" "+Inf""#);
        check("tostring(-1/0)", r#""string" "-Inf""#);
        check("tostring(1 / -0)", r#""string" "-Inf""#);
        check("tostring(-(1/0))", r#""string" "-Inf""#);
        check("tostring(1/0 * -1)", r#""string" "-Inf""#);
        check("tostring(1/0 + 5)", r#""string" "+Inf""#);
        check("tostring(1/0 + -0)", r#""string" "+Inf""#);
        check("tostring(1/(1/0))", r#""string" "0""#);
        check("tostring(0/(1/0))", r#""string" "0""#);
        check("tostring(-0/(1/0))", r#""string" "-0""#);
    }

    #[test]
    fn infinities_compare() {
        check("1 / 0 > 1e308", r#""bool" true"#);
        check("-1 / 0 < -1e308", r#""bool" true"#);
        check("1 / 0 == 2 / 0", r#""bool" true"#);
        check("1/0 == 1/0", r#""bool" true"#);
        check("1/0 != -1/0", r#""bool" true"#);
        check("-1/0 < 1/0", r#""bool" true"#);
        check("1/0 >= 1/0", r#""bool" true"#);
        check("1/0 > 1/0", r#""bool" false"#);
    }

    #[test]
    fn nan_is_an_error() {
        check_err(
            "0/0",
            "Error during operation: can't divide zero by zero or infinity by infinity.",
        );
        check_err(
            "(1/0)/(1/0)",
            "Error during operation: can't divide zero by zero or infinity by infinity.",
        );
        check_err(
            "-0 / -1/0",
            "Error during operation: can't divide zero by zero or infinity by infinity.",
        );
        check_err(
            "1/0 - 1/0",
            "Error during operation: can't subtract infinity from itself.",
        );
        check_err(
            "-1/0 + 1/0",
            "Error during operation: can't compute sum of opposing infinities.",
        );
        check_err(
            "1/0 * 0",
            "Error during operation: can't multiply zero by infinity.",
        );
        check_err(
            "0 * (1/0)",
            "Error during operation: can't multiply zero by infinity.",
        );
    }

    #[test]
    fn modulo_with_zero_and_infinities() {
        check("tostring(5 % 0)", r#""string" "5""#);
        check("tostring((1/0) % 0)", r#""string" "+Inf""#);
        check("tostring((-1/0) % 0)", r#""string" "-Inf""#);
        check("tostring(tonumber(\"-Inf\") % 0)", r#""string" "-Inf""#);
        check_err("5 % (1/0)", MOD_NAN);
        check_err("-5 % (1/0)", MOD_NAN);
        check_err("0 % (1/0)", MOD_NAN);
        check_err("(1/0) % (1/0)", MOD_NAN);
        // go-cty takes the integer part of the infinite quotient: a nil pointer.
        check_err("1/0 % 2", NIL_INT);
    }

    #[test]
    fn exponent_overflow_and_underflow() {
        // Beyond Go's exponent range (2^±2147483647) results are ±Inf or ±0. (The literals
        // go through tonumber: Baton's HCL parser takes no literal beyond the f64 range.)
        let n = |s: &str| format!("tonumber(\"{s}\")");
        let (huge, tiny) = (n("1e600000000"), n("1e-600000000"));
        check(
            &format!("tostring({})", n("1e-700000000")),
            r#""string" "0""#,
        );
        check(&format!("tostring({huge} * {huge})"), r#""string" "+Inf""#);
        check(&format!("tostring(-{huge} * {huge})"), r#""string" "-Inf""#);
        check(&format!("tostring({tiny} * {tiny})"), r#""string" "0""#);
        check(&format!("tostring(-{tiny} * {tiny})"), r#""string" "-0""#);
        check(&format!("tostring({huge} / {tiny})"), r#""string" "+Inf""#);
        check(&format!("tostring({tiny} / {huge})"), r#""string" "0""#);
        // the quotient overflows, and go-cty takes its integer part
        check_err(&format!("{huge} % {tiny}"), NIL_INT);
    }

    #[test]
    fn strings_convert_to_infinities() {
        check(r#"tostring(tonumber("Inf"))"#, r#""string" "+Inf""#);
        check(r#"tostring(tonumber("+Inf"))"#, r#""string" "+Inf""#);
        check(r#"tostring(tonumber("-inf"))"#, r#""string" "-Inf""#);
        check(r#"tostring(tonumber("1e700000000"))"#, r#""string" "+Inf""#);
        check(
            r#"tostring(tonumber("-1e700000000"))"#,
            r#""string" "-Inf""#,
        );
        assert!(run(r#"tonumber("infinity")"#).is_err());
        assert!(run(r#"tonumber("+INF")"#).is_err());
        assert!(run(r#"tonumber("1p2147483647")"#).is_err());
    }
}
