//! The one duration grammar of Baton: Go's `time.ParseDuration`, which Terraform's `timeouts`
//! blocks, the `time` provider's durations and the `timeadd` function all use. An optional sign,
//! then one or more decimal numbers, each with an optional fraction and a unit (`ns`, `us`,
//! `µs`, `ms`, `s`, `m`, `h`): `300ms`, `1.5h`, `2h45m`, `-90s`. A bare number is an error,
//! except `0`. Error texts are Go's, word for word.
//!
//! Everything that reads a duration (the CLI's flags, the configuration's `retry` and
//! `timeouts` blocks, providers, functions) parses through here. Pure text: no I/O.

use std::time::Duration;

/// Why a text is not a duration. `Display` is Go's message (`time: invalid duration "x"`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a sequence of numbers with units, or beyond ±2⁶³ ns (about 292 years).
    #[error("time: invalid duration {}", quote(.input))]
    Invalid { input: String },
    /// A number without a unit (`10`).
    #[error("time: missing unit in duration {}", quote(.input))]
    MissingUnit { input: String },
    /// A unit other than ns, us, µs, ms, s, m, h (`10d`).
    #[error("time: unknown unit {} in duration {}", quote(.unit), quote(.input))]
    UnknownUnit { unit: String, input: String },
    /// A valid Go duration below zero where only zero or more makes sense (a timeout, a delay).
    #[error("negative duration {}: it must be zero or more", quote(.input))]
    Negative { input: String },
}

/// Go's `time.ParseDuration`: the duration in nanoseconds (negative allowed).
pub fn parse_nanos(input: &str) -> Result<i64, DurationError> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || DurationError::Invalid {
        input: input.to_string(),
    };
    let mut s = input;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        // The integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut v: u64 = 0;
        for c in s[..int_len].bytes() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        let pre = int_len > 0;
        s = &s[int_len..];
        // The fraction: digits past what fits are ignored, as Go does.
        let (mut frac, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for c in rest[..n].bytes() {
                if overflow {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            post = n > 0;
            s = &rest[n..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // The unit.
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit {
                input: input.to_string(),
            });
        }
        let unit_name = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match unit_name {
            "ns" => 1,
            // U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU, as Go accepts both.
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: unit_name.to_string(),
                    input: input.to_string(),
                })
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if frac > 0 {
            // Go: v += uint64(float64(f) * (float64(unit) / scale)).
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let part = (frac as f64 * (unit as f64 / scale)) as u64;
            v += part;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        #[allow(clippy::cast_possible_wrap)]
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// A duration that must be zero or more (a timeout, a backoff, a lock wait), in Go's grammar.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let n = parse_nanos(input)?;
    u64::try_from(n)
        .map(Duration::from_nanos)
        .map_err(|_| DurationError::Negative {
            input: input.to_string(),
        })
}

/// Go's `time` package quoting in its errors: `"` and `\` escaped, every byte of a non-ASCII
/// or control character as `\xNN`.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if (c as u32) >= 0x80 || c < ' ' {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case: the input and Go's answer, in nanoseconds or as Go's error text (checked
    /// against Go 1.22's `time.ParseDuration`).
    #[test]
    fn go_grammar() {
        let ok: &[(&str, i64)] = &[
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("0s", 0),
            ("5s", 5_000_000_000),
            ("30s", 30_000_000_000),
            ("1478s", 1_478_000_000_000),
            ("-5s", -5_000_000_000),
            ("+5s", 5_000_000_000),
            ("-0s", 0),
            ("5.0s", 5_000_000_000),
            ("5.6s", 5_600_000_000),
            ("5.s", 5_000_000_000),
            (".5s", 500_000_000),
            ("1.0s", 1_000_000_000),
            ("1.00s", 1_000_000_000),
            ("1.004s", 1_004_000_000),
            ("1.0040s", 1_004_000_000),
            ("100.00100s", 100_001_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000), // U+00B5
            ("12μs", 12_000), // U+03BC
            ("13ms", 13_000_000),
            ("14s", 14_000_000_000),
            ("15m", 900_000_000_000),
            ("16h", 57_600_000_000_000),
            ("3h30m", 12_600_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("90s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("300ms", 300_000_000),
            ("10.5s4m", 250_500_000_000),
            ("-2m3.4s", -123_400_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("0.100000000000000000000h", 360_000_000_000),
            ("0.830103483285477580700h", 2_988_372_539_827),
        ];
        for (input, want) in ok {
            assert_eq!(parse_nanos(input), Ok(*want), "{input}");
        }
        let bad: &[(&str, &str)] = &[
            ("", r#"time: invalid duration """#),
            ("3", r#"time: missing unit in duration "3""#),
            ("10", r#"time: missing unit in duration "10""#),
            ("-", r#"time: invalid duration "-""#),
            ("s", r#"time: invalid duration "s""#),
            (".", r#"time: invalid duration ".""#),
            ("-.", r#"time: invalid duration "-.""#),
            (".s", r#"time: invalid duration ".s""#),
            ("+.s", r#"time: invalid duration "+.s""#),
            ("1d", r#"time: unknown unit "d" in duration "1d""#),
            (
                "5 minutes",
                r#"time: unknown unit " minutes" in duration "5 minutes""#,
            ),
            ("30 s", r#"time: unknown unit " s" in duration "30 s""#),
            (" 30s", r#"time: invalid duration " 30s""#),
            ("1..5s", r#"time: missing unit in duration "1..5s""#),
            ("three", r#"time: invalid duration "three""#),
            (
                "1µ",
                r#"time: unknown unit "\xc2\xb5" in duration "1\xc2\xb5""#,
            ),
            (
                "9223372036854775810ns",
                r#"time: invalid duration "9223372036854775810ns""#,
            ),
            (
                "9223372036854775808ns",
                r#"time: invalid duration "9223372036854775808ns""#,
            ),
            (
                "-9223372036854775809ns",
                r#"time: invalid duration "-9223372036854775809ns""#,
            ),
            (
                "9223372036854776us",
                r#"time: invalid duration "9223372036854776us""#,
            ),
            ("3000000h", r#"time: invalid duration "3000000h""#),
        ];
        for (input, want) in bad {
            match parse_nanos(input) {
                Ok(n) => panic!("{input:?} parsed as {n}"),
                Err(e) => assert_eq!(e.to_string(), *want, "{input:?}"),
            }
        }
    }

    #[test]
    fn settings_are_never_negative() {
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("1.5us"), Ok(Duration::from_nanos(1500)));
        assert_eq!(
            parse("-1s").map_err(|e| e.to_string()),
            Err(r#"negative duration "-1s": it must be zero or more"#.to_string())
        );
        assert!(matches!(
            parse("30"),
            Err(DurationError::MissingUnit { .. })
        ));
    }
}
