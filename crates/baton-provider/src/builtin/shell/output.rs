//! How a `shell_script` command's stdout becomes its `output` map, by the community shell
//! provider's rule (scottwinkler/shell `getOutputMap`):
//!
//! 1. stdout is taken line by line and the lines are joined *without* their line breaks;
//! 2. of every suffix of that text that starts at a `{`, the shortest one that is a valid JSON
//!    document (trailing whitespace allowed) wins — so the object must end the output, and when
//!    several objects are printed the last one counts;
//! 3. the object is flattened to strings like gjson's `Result.String()`: strings as they are,
//!    `true`/`false`, `null` as `""`, integers as written, other numbers in shortest decimal
//!    form, nested objects and arrays as their raw JSON text.
//!
//! No object at the end of stdout means "no output" (`None`), which callers interpret.
//! Pure functions over text; nothing here runs commands or knows about values.

use std::collections::BTreeMap;

/// The output map a command's stdout carries, if any.
pub(crate) fn output_map(stdout: &str) -> Option<BTreeMap<String, String>> {
    let joined: String = stdout.lines().collect();
    // A valid candidate ends with `}` (then only whitespace): cheap rejection of the common
    // case of trailing non-JSON text.
    if !joined.trim_end().ends_with('}') {
        return None;
    }
    let starts: Vec<usize> = joined.match_indices('{').map(|(i, _)| i).collect();
    for &i in starts.iter().rev() {
        let Some(candidate) = joined.get(i..) else {
            continue;
        };
        if serde_json::from_str::<serde_json::Value>(candidate).is_err() {
            continue;
        }
        if let Some(m) = flatten_object(candidate) {
            return Some(m);
        }
    }
    None
}

/// The members of a valid JSON object text, each value as gjson's `String()` renders it.
fn flatten_object(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key_raw, value_raw) in members(text)? {
        let key: String = serde_json::from_str(key_raw).ok()?;
        out.insert(key, gjson_string(value_raw)?);
    }
    Some(out)
}

/// gjson's `Result.String()` of one raw JSON value.
fn gjson_string(raw: &str) -> Option<String> {
    match raw.as_bytes().first()? {
        b'"' => serde_json::from_str::<String>(raw).ok(),
        b'{' | b'[' => Some(raw.to_string()),
        b't' => Some("true".to_string()),
        b'f' => Some("false".to_string()),
        b'n' => Some(String::new()),
        _ => Some(number_string(raw)),
    }
}

/// Integers as written; other numbers in Go's `FormatFloat(f, 'f', -1, 64)` form.
fn number_string(raw: &str) -> String {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return raw.to_string();
    }
    match raw.parse::<f64>() {
        Ok(f) if f.is_infinite() && f > 0.0 => "+Inf".to_string(),
        Ok(f) if f.is_infinite() => "-Inf".to_string(),
        Ok(f) => format!("{f}"),
        Err(_) => raw.to_string(),
    }
}

/// The raw key and value texts of a valid JSON object's top-level members, in order.
fn members(text: &str) -> Option<Vec<(&str, &str)>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let key_end = end_of_string(b, i)?;
        let key = text.get(i..key_end)?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let value_end = end_of_value(b, i)?;
        out.push((key, text.get(i..value_end)?));
        i = skip_ws(b, value_end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just after the string starting at `i`.
fn end_of_string(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The index just after the value starting at `i`.
fn end_of_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => end_of_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = end_of_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while let Some(c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            Some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_lone_object_is_the_output() {
        assert_eq!(
            output_map("{\"a\": \"1\", \"b\": \"two\"}\n"),
            Some(map(&[("a", "1"), ("b", "two")]))
        );
    }

    #[test]
    fn the_last_object_wins_and_log_lines_before_it_are_ignored() {
        let out = "starting\n{\"a\": \"old\"}\nworking... {not json}\n{\"a\": \"new\"}\n";
        assert_eq!(output_map(out), Some(map(&[("a", "new")])));
        // Two objects on one line: the shortest valid suffix is the last one.
        assert_eq!(
            output_map("{\"x\":\"1\"} {\"y\":\"2\"}"),
            Some(map(&[("y", "2")]))
        );
    }

    #[test]
    fn an_object_must_end_the_output() {
        assert_eq!(output_map("{\"a\": \"1\"}\ndone\n"), None);
        assert_eq!(output_map(""), None);
        assert_eq!(output_map("no json here"), None);
        assert_eq!(output_map("[1, 2]"), None);
        assert_eq!(output_map("{broken}"), None);
    }

    #[test]
    fn a_multi_line_object_is_joined_without_line_breaks() {
        let out = "log\n{\n  \"a\": \"1\",\n  \"nested\": {\"k\": [1, 2]}\n}\n";
        assert_eq!(
            output_map(out),
            Some(map(&[("a", "1"), ("nested", "{\"k\": [1, 2]}")]))
        );
    }

    #[test]
    fn nested_objects_are_tried_from_the_inside_out() {
        // The innermost `{` starts an invalid suffix; the whole object is the valid one.
        assert_eq!(
            output_map("{\"a\":{\"b\":\"c\"}}"),
            Some(map(&[("a", "{\"b\":\"c\"}")]))
        );
    }

    #[test]
    fn values_are_flattened_like_gjson() {
        let out = r#"{"s":"x\"y","i":42,"neg":-7,"f":1.50,"e":1e3,"t":true,"f2":false,"n":null,"arr":[1, "a"],"big":123456789012345678901234567890}"#;
        assert_eq!(
            output_map(out),
            Some(map(&[
                ("s", "x\"y"),
                ("i", "42"),
                ("neg", "-7"),
                ("f", "1.5"),
                ("e", "1000"),
                ("t", "true"),
                ("f2", "false"),
                ("n", ""),
                ("arr", "[1, \"a\"]"),
                ("big", "123456789012345678901234567890"),
            ]))
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_empty_objects_are_output() {
        assert_eq!(
            output_map("{\"a\":\"1\",\"a\":\"2\"}"),
            Some(map(&[("a", "2")]))
        );
        assert_eq!(output_map("{}"), Some(BTreeMap::new()));
        assert_eq!(output_map("text {}  \n\n"), Some(BTreeMap::new()));
    }

    #[test]
    fn braces_inside_strings_do_not_confuse_the_scan() {
        assert_eq!(
            output_map("{\"a\":\"}{\",\"b\":\"{\\\"x\\\":1}\"}"),
            Some(map(&[("a", "}{"), ("b", "{\"x\":1}")]))
        );
    }

    #[test]
    fn pathological_output_does_not_panic() {
        for s in [
            "{",
            "}",
            "{{{{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":\"\\",
            "\u{00e9}{\"é\":\"ü\"}",
        ] {
            let _ = output_map(s);
        }
        assert_eq!(
            output_map("\u{00e9}{\"é\":\"ü\"}"),
            Some(map(&[("é", "ü")]))
        );
        // The shortest valid suffix is the final `{}`.
        let many = "{".repeat(10_000) + "}";
        assert_eq!(output_map(&many), Some(BTreeMap::new()));
        let many = "{".repeat(10_000) + "x}";
        assert_eq!(output_map(&many), None);
    }
}
