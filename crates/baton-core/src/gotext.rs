//! Go's conventions for quoting text, which Terraform's and OPA's messages and functions follow
//! (`%q`, `strconv.Quote`, `QuoteToASCII`, `QuoteRune`, `unicode.IsPrint`). One place for them:
//! the function library, the formatter, the plan renderer and the policy engine all quote
//! through here.
//!
//! Pure text functions: no I/O, nothing else of Baton.

use std::sync::OnceLock;

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
/// (Unicode's categories as this build's `regex` tables know them, which may be a version
/// apart from Go's.)
pub fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return c == ' ' || c.is_ascii_graphic();
    }
    static PRINT: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let re = PRINT.get_or_init(|| regex::Regex::new(r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$").ok());
    let mut buf = [0u8; 4];
    match re {
        Some(re) => re.is_match(c.encode_utf8(&mut buf)),
        // Unreachable in practice (the pattern is fixed); the conservative answer.
        None => !c.is_control() && !c.is_whitespace(),
    }
}

/// Appends `c` as Go writes it inside a quoted literal delimited by `quote`; with
/// `ascii_only`, every non-ASCII character is escaped too (`QuoteToASCII`).
pub fn push_escaped(out: &mut String, c: char, quote: char, ascii_only: bool) {
    use std::fmt::Write as _;
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c.is_ascii() || !ascii_only) && is_print(c) => out.push(c),
        c if u32::from(c) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if u32::from(c) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\U{:08x}", u32::from(c));
        }
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// Go's `strconv.QuoteToASCII` (`%+q`).
pub fn quote_ascii(s: &str) -> String {
    quote_with(s, true)
}

fn quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (what `%q` prints for a rune).
pub fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'', false);
    out.push('\'');
    out
}

/// Go's `strconv.Quote` of a byte string that may not be UTF-8: invalid bytes become `\xNN`.
pub fn quote_bytes(s: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut rest = s;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(valid) => (valid, &[][..]),
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                let n = e.error_len().unwrap_or(bad.len()).max(1).min(bad.len());
                (std::str::from_utf8(good).unwrap_or_default(), &bad[..n])
            }
        };
        for c in valid.chars() {
            push_escaped(&mut out, c, '"', false);
        }
        for b in bad {
            let _ = write!(out, "\\x{b:02x}");
        }
        rest = &rest[valid.len() + bad.len()..];
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        let cases: &[(&str, &str)] = &[
            ("plain", "\"plain\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("\u{7}\u{8}\u{c}\n\r\t\u{b}", "\"\\a\\b\\f\\n\\r\\t\\v\""),
            ("\u{1}\u{7f}", "\"\\x01\\x7f\""),
            ("é\u{a0}\u{ad}\u{200b}", "\"é\\u00a0\\u00ad\\u200b\""),
            ("\u{e000}\u{1f600}", "\"\\ue000😀\""),
            ("\u{f0000}", "\"\\U000f0000\""),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), *want, "{input:?}");
        }
        assert_eq!(quote_ascii("é😀"), "\"\\u00e9\\U0001f600\"");
        assert_eq!(quote_rune('\''), "'\\''");
        assert_eq!(quote_rune('"'), "'\"'");
        assert_eq!(quote_bytes(b"a\xffb\xe2\x82"), "\"a\\xffb\\xe2\\x82\"");
    }
}
