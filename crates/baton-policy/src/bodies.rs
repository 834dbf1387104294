//! A workaround for two regorus bugs with rules written with more than one body, which OPA
//! treats as separate definitions of the same rule:
//!
//! - a complete rule or a function (`f(x) = y { ... } { ... }`, `p = 5 { a } { b }`) loses its
//!   head's value in every body after the first — `p` is `true` instead of `5`, `f(x)`
//!   undefined. Regula's library writes functions this way. [`rewrite`] works on the AST.
//! - a partial set (`s[x] { ... } { ... }`, `deny[msg] { ... } { ... }`) does not even parse
//!   ("else cannot be used with set rules"), so the policy does not load and the gate denies
//!   every run. [`split_unparsed`] works on the text alone, for a file that failed to parse.
//!
//! Both blank every body after the first where it stands (spaces, newlines kept) and append a
//! copy of the head with that body after the end of the file: every byte offset, line and
//! column of the text the user wrote is unchanged, so errors still point at their source;
//! only an error inside a moved body is reported past the end of the file.
//!
//! Never evaluates anything. Remove when regorus gives later bodies the head's value and
//! parses several bodies of partial sets (see ARCHITECTURE.md).

use serde_json::Value as Json;

/// The source of one module with its extra rule bodies moved into rules of their own, or
/// `None` when it has none.
pub(crate) fn rewrite(text: &str, module_ast: &Json) -> Option<String> {
    let mut blanked: Vec<(usize, usize)> = Vec::new();
    let mut appended = String::new();
    for rule in module_ast["rules"].as_array().into_iter().flatten() {
        let Some(spec) = rule.get("Spec") else {
            continue;
        };
        let Some(bodies) = spec["bodies"].as_array() else {
            continue;
        };
        if bodies.len() < 2 || !bodies.iter().all(independent) {
            continue;
        }
        if complete_or_function_head(&spec["head"]).is_none() {
            continue;
        }
        // The head as written, up to the first body (with `if` in Rego v1): regorus's span of
        // the head itself stops short of a closing quote.
        let (Some((rule_start, _)), Some((first_body, _))) =
            (span_range(&spec["span"]), span_range(&bodies[0]["span"]))
        else {
            continue;
        };
        let Some(head_text) = text.get(rule_start..first_body).map(str::trim_end) else {
            continue;
        };
        for body in &bodies[1..] {
            let (start, end) = span_range(&body["span"])?;
            let body_text = text.get(start..end)?;
            if !body_text.starts_with('{') || !body_text.ends_with('}') {
                return None;
            }
            blanked.push((start, end));
            appended.push('\n');
            appended.push_str(head_text);
            appended.push(' ');
            appended.push_str(body_text);
        }
    }
    blank_and_append(text, &blanked, &appended)
}

/// The source of a file that failed to parse with every rule of several bodies split as
/// [`rewrite`] does, found by scanning the text (strings, raw strings, comments and nested
/// brackets skipped): a rule is what starts a line outside any bracket, and its bodies are
/// the `{ … }` blocks that follow its head with nothing but space and comments between them.
/// Rules with `else` are left alone. `None` when no rule has several bodies.
pub(crate) fn split_unparsed(text: &str) -> Option<String> {
    let mut blanked: Vec<(usize, usize)> = Vec::new();
    let mut appended = String::new();
    for rule in top_level_rules(text) {
        if rule.has_else || rule.bodies.len() < 2 {
            continue;
        }
        let head = text.get(rule.start..rule.bodies[0].0)?.trim_end();
        if head.is_empty() {
            continue;
        }
        for &(start, end) in &rule.bodies[1..] {
            blanked.push((start, end));
            appended.push('\n');
            appended.push_str(head);
            appended.push(' ');
            appended.push_str(text.get(start..end)?);
        }
    }
    blank_and_append(text, &blanked, &appended)
}

/// `text` with the `blanked` byte ranges turned into spaces (line breaks kept, so every line
/// and column stays) and `appended` after its end; `None` when nothing is blanked.
fn blank_and_append(text: &str, blanked: &[(usize, usize)], appended: &str) -> Option<String> {
    if blanked.is_empty() {
        return None;
    }
    let mut out: Vec<u8> = text.as_bytes().to_vec();
    for &(start, end) in blanked {
        for b in out.get_mut(start..end)? {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    }
    let mut out = String::from_utf8(out).ok()?;
    out.push('\n');
    out.push_str(appended);
    out.push('\n');
    Some(out)
}

/// A statement at the top level of a file: where it starts, its consecutive `{ … }` blocks
/// (byte ranges, braces included), and whether `else` follows its head.
#[derive(Debug, Default)]
struct TopLevel {
    start: usize,
    bodies: Vec<(usize, usize)>,
    /// Something other than space and comments came after the last block.
    after_block: bool,
    has_else: bool,
}

fn top_level_rules(text: &str) -> Vec<TopLevel> {
    let b = text.as_bytes();
    let mut rules: Vec<TopLevel> = Vec::new();
    let mut depth = 0usize;
    let mut block_start: Option<usize> = None;
    let mut line_start = true;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                if depth == 0 {
                    line_start = true;
                }
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            let starts_rule = line_start && c != b'{' && !is_word(text, i, "else");
            line_start = false;
            if starts_rule {
                rules.push(TopLevel {
                    start: i,
                    ..TopLevel::default()
                });
            }
            if let Some(rule) = rules.last_mut() {
                if c == b'{' {
                    // The first body follows the head; a `{` after `=` or `contains` is the
                    // head's value or key. Later bodies follow a body directly.
                    let before = text[..i].trim_end();
                    let body = if rule.bodies.is_empty() {
                        !(before.ends_with('=') || ends_with_word(before, "contains"))
                    } else {
                        !rule.after_block
                    };
                    block_start = body.then_some(i);
                    if !body && !rule.bodies.is_empty() {
                        rule.after_block = true;
                    }
                } else if is_word(text, i, "else") {
                    rule.has_else = true;
                } else if !rule.bodies.is_empty() {
                    rule.after_block = true;
                }
            }
        }
        match c {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && c == b'}' {
                    if let (Some(rule), Some(start)) = (rules.last_mut(), block_start.take()) {
                        rule.bodies.push((start, i + 1));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    rules
}

/// Whether the word `word` starts at byte `i` (not as the start of a longer name).
fn is_word(text: &str, i: usize, word: &str) -> bool {
    text.get(i..).is_some_and(|t| {
        t.starts_with(word)
            && !t[word.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    })
}

/// Whether `text` ends with the word `word`.
fn ends_with_word(text: &str, word: &str) -> bool {
    text.strip_suffix(word)
        .is_some_and(|rest| !rest.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.'))
}

/// A body that is not an `else` and sets no value of its own.
fn independent(body: &Json) -> bool {
    body["is_else"] == Json::Bool(false) && body["assign"].is_null()
}

/// The head of a function, or of a complete rule (`p = v`, `a.b = v`: no `[key]`, which
/// would make it a partial set or object, evaluated correctly by regorus).
fn complete_or_function_head(head: &Json) -> Option<&Json> {
    if let Some(f) = head.get("Func") {
        return Some(f);
    }
    let c = head.get("Compr")?;
    (!c["assign"].is_null() && !has_bracket(&c["refr"])).then_some(c)
}

fn has_bracket(refr: &Json) -> bool {
    match refr {
        Json::Object(map) => {
            map.contains_key("RefBrack")
                || map.get("RefDot").is_some_and(|d| has_bracket(&d["refr"]))
        }
        _ => false,
    }
}

fn span_range(span: &Json) -> Option<(usize, usize)> {
    let start = usize::try_from(span["start"].as_u64()?).ok()?;
    let end = usize::try_from(span["end"].as_u64()?).ok()?;
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str) -> Option<String> {
        // As `load` does: Rego v1 first, then the older syntax.
        let mut e = regorus::Engine::new();
        if e.add_policy("p.rego".into(), text.into()).is_err() {
            e = regorus::Engine::new();
            e.set_rego_v0(true);
            e.add_policy("p.rego".into(), text.into()).expect("parses");
        }
        let ast: Json = serde_json::from_str(&e.get_ast_as_json().expect("ast")).expect("json");
        rewrite(text, &ast[0]["ast"])
    }

    #[test]
    fn moves_later_bodies_of_functions_and_complete_rules_keeping_offsets() {
        let text = "package p\n\nf(x) = y { y = 1 } {\n  y = 2\n}\nc = 5 { false } { true }\n";
        let out = rewritten(text).expect("rewritten");
        assert_eq!(
            out,
            "package p\n\nf(x) = y { y = 1 }  \n       \n \nc = 5 { false }         \n\n\nf(x) = y {\n  y = 2\n}\nc = 5 { true }\n"
        );
        assert_eq!(out[..text.len()].lines().count(), text.lines().count());
    }

    #[test]
    fn leaves_partial_rules_single_bodies_and_else_alone() {
        assert_eq!(
            rewritten("package p\n\no[k] = 1 { k = 1 } { k = 2 }\n"),
            None
        );
        assert_eq!(
            rewritten("package p\n\nc = 1 { false } else = 2 { true }\n"),
            None
        );
        assert_eq!(rewritten("package p\n\nc = 5 { true }\n"), None);
    }

    #[test]
    fn splits_partial_sets_by_text_keeping_offsets() {
        let text = "package p\n\ns[x] { x := \"}{\" } # a { comment }\n{\n  x := `{`\n}\n";
        let out = split_unparsed(text).expect("split");
        assert_eq!(
            out,
            "package p\n\ns[x] { x := \"}{\" } # a { comment }\n \n          \n \n\n\ns[x] {\n  x := `{`\n}\n"
        );
        assert_eq!(&out[..14], &text[..14]);
    }

    #[test]
    fn split_finds_heads_bodies_and_values() {
        let split = |t: &str| split_unparsed(t).map(|o| o[t.len()..].to_string());
        // A value or key written as an object is not a body; nested braces stay in theirs.
        assert_eq!(
            split("package p\n\np = {1} { true } { false }\n").as_deref(),
            Some("\n\np = {1} { false }\n")
        );
        assert_eq!(
            split("package p\n\nq contains {\"a\": x} if { x := 1 } { x := [{2}][0] }\n")
                .as_deref(),
            Some("\n\nq contains {\"a\": x} if { x := [{2}][0] }\n")
        );
        assert_eq!(
            split("package p\n\ndeny[{\n  \"m\": m,\n}] {\n  m := 1\n}\n{\n  m := 2\n}\n")
                .as_deref(),
            Some("\n\ndeny[{\n  \"m\": m,\n}] {\n  m := 2\n}\n")
        );
        // `else` chains, single bodies and rules apart are left alone.
        assert_eq!(
            split("package p\n\nc = 1 { false } else = 2 { true }\n"),
            None
        );
        assert_eq!(split("package p\n\na { true }\nb { true }\n"), None);
        assert_eq!(split("package p\n\nx := {1}\ny := {2}\n"), None);
    }
}
